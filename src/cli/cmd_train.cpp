// svanet train and svanet demo.

#include "commands.h"
#include "program.h"

#include "svanet/common/error.h"
#include "svanet/config/train_config.h"
#include "svanet/data/demo.h"
#include "svanet/engine/trainer.h"
#include "svanet/metrics/registry.h"
#include "svanet/utils/text.h"
#include "svanet_cli/demo_config.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <optional>

namespace svanet::cli {

namespace {

namespace fs = std::filesystem;

/// The closing lines of a run.
int report(const engine::TrainResult& r, double seconds) {
  if (r.interrupted) {
    spdlog::warn("interrupted; `svanet train --resume {}` continues", r.run_dir);
    return kInterruptedExit;
  }
  if (!r.repeat_dirs.empty()) {
    spdlog::info("{} repeats done in {:.1f} min; mean and std of their test metrics: {}/repeats.md",
                 r.repeat_dirs.size(), seconds / 60.0, r.run_dir);
    return 0;
  }
  spdlog::info("run complete in {:.1f} min: {}", seconds / 60.0, r.run_dir);
  if (r.best_epoch >= 0) {
    spdlog::info("best validation {} {} at epoch {} (checkpoints/best.pt)", r.select_metric,
                 r.select_metric == "val_loss"
                     ? utils::format_number(r.best_value)
                     : metrics::format_metric(metrics::metric(r.select_metric), r.best_value),
                 r.best_epoch + 1);
  }
  if (!r.test.empty()) spdlog::info("test: {}", metrics::featured_text(r.test, "px"));
  return 0;
}

struct TrainArgs {
  std::string config, data, out, resume, device, progress = "auto";
  std::vector<std::string> set;
  int64_t repeats = 0;
  std::optional<int64_t> epochs, fold;
  bool overwrite = false;
};

/// A run as the programs make it: messages on the console (and in
/// train.log), Ctrl-C and SIGTERM as a request to stop.
engine::RunOptions program_run_options(const std::string& progress, bool overwrite) {
  engine::RunOptions ro;
  ro.overwrite = overwrite;
  ro.progress_bar = want_progress_bar(progress);
  ro.log = console_log();
  ro.handle_signals = true;
  return ro;
}

int run_train(const TrainArgs& args) {
  const auto start = std::chrono::steady_clock::now();
  engine::RunOptions ro = program_run_options(args.progress, args.overwrite);
  engine::TrainResult result;
  if (!args.resume.empty()) {
    SVANET_CHECK(args.config.empty() && args.set.empty() && args.data.empty() &&
                     args.device.empty() && args.repeats == 0 && args.out.empty() && !args.fold,
                 "--resume continues a run as it was configured (its config.yaml), --epochs N "
                 "extends it; --config, --set, --data, --device, --repeats, --fold and --out do "
                 "not apply");
    ro.epochs = args.epochs;
    result = engine::resume(args.resume, ro);
  } else {
    SVANET_CHECK(!args.config.empty(),
                 "give --config CONFIG.yaml (e.g. configs/demo.yaml), or "
                 "--resume RUN_DIR");
    std::vector<std::string> overrides = args.set;
    if (!args.data.empty()) overrides.push_back("data.root=" + args.data);
    if (!args.device.empty()) overrides.push_back("train.device=" + args.device);
    if (args.repeats > 0) overrides.push_back("train.repeats=" + std::to_string(args.repeats));
    if (args.epochs) overrides.push_back("train.epochs=" + std::to_string(*args.epochs));
    auto config = config::load_train_config(args.config, overrides);
    if (args.fold) {
      // nnU-Net's convention: 5 folds unless the config says otherwise.
      overrides.push_back("data.splits.fold=" + std::to_string(*args.fold));
      if (config.data.splits.folds == 0) overrides.emplace_back("data.splits.folds=5");
      config = config::load_train_config(args.config, overrides);
    }
    const std::string out =
        args.out.empty() ? (fs::path("runs") / fs::path(args.config).stem()).string() : args.out;
    result = engine::train(config, out, ro);
  }
  return report(result,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

struct DemoArgs {
  std::string data = "demo_data", out = "runs/demo", config, device, progress = "auto";
  std::vector<std::string> set;
  bool overwrite = false;
};

int run_demo(const DemoArgs& args) {
  const auto start = std::chrono::steady_clock::now();
  if (!fs::exists(fs::path(args.data) / "Demo" / "test")) {
    spdlog::info("generating the demo dataset in {}", args.data);
    data::DemoOptions demo;
    demo.overwrite = args.overwrite;  // a half-written set from an older version
    const auto s = data::generate_demo_dataset(args.data, demo);
    spdlog::info("{}: {} train, {} val, {} test images with {} objects", s.folder, s.train, s.val,
                 s.test, s.objects);
  }
  std::vector<std::string> overrides = args.set;
  overrides.push_back("data.root=" + args.data);
  if (!args.device.empty()) overrides.push_back("train.device=" + args.device);
  const engine::RunOptions ro = program_run_options(args.progress, args.overwrite);
  engine::TrainResult result;
  if (fs::exists(fs::path(args.out) / "config.yaml") && !args.overwrite) {
    SVANET_CHECK(args.set.empty() && args.config.empty(), args.out,
                 " holds an earlier demo run, which is continued as configured; --overwrite "
                 "starts a new one with --config/--set");
    spdlog::info("continuing the demo run in {} (--overwrite starts over)", args.out);
    result = engine::resume(args.out, ro);
  } else {
    const auto config =
        args.config.empty()
            ? config::parse_train_config(kDemoConfig, "configs/demo.yaml (built in)", overrides)
            : config::load_train_config(args.config, overrides);
    result = engine::train(config, args.out, ro);
  }
  const int status = report(
      result, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  if (status == 0 && !result.test.empty()) {
    spdlog::info("demo done: open {}/eval_test/report.html for the size-stratified report",
                 result.run_dir);
  }
  return status;
}

}  // namespace

Command register_train(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  auto* sub = app.add_subcommand("train", "Train a model from a YAML config, or resume a run");
  add_config_flag(sub, args->config);
  add_data_flag(sub, args->data);
  add_out_flag(sub, args->out);
  add_set_flag(sub, args->set);
  add_device_flag(sub, args->device);
  sub->add_option("--repeats", args->repeats,
                  "Independent runs with seeds seed, seed+1, ... into repeat_<i>/ (sets "
                  "train.repeats)")
      ->check(positive_number())
      ->default_str("config's");
  sub->add_option("--resume", args->resume, "Continue the run in this folder from its last state");
  sub->add_option_function<int64_t>(
         "--epochs", [args](int64_t n) { args->epochs = n; },
         "Epochs in all (sets train.epochs); with --resume, extends a finished or interrupted run")
      ->check(positive_number());
  sub->add_option_function<int64_t>(
         "--fold", [args](int64_t k) { args->fold = k; },
         "Cross-validation fold K (0-based) of data.splits.folds, 5 unless the config sets it: "
         "the K-th part of the non-test images validates")
      ->check(non_negative_number());
  add_overwrite_flag(sub, args->overwrite);
  add_progress_flag(sub, args->progress);
  add_examples(
      sub,
      {"svanet train -c configs/paper/fives.yaml --data /data/svanet --fold 0 -o runs/fives_f0",
       "svanet train --resume runs/fives_f0 --epochs 150",
       "torchrun --no-python --nproc-per-node 2 svanet train -c configs/demo.yaml"},
      "The run folder (default runs/<config name>) gets config.yaml, splits.json, train.log, "
      "metrics.csv, progress.png, checkpoints/ and, after training, eval_test/ with report.html. "
      "Ctrl-C saves the state; --resume continues.");
  return {sub, [args] { return run_train(*args); }};
}

Command register_demo(CLI::App& app) {
  auto args = std::make_shared<DemoArgs>();
  auto* sub = app.add_subcommand(
      "demo",
      "The main job on built-in data: generate the demo set, train a light SvANet, "
      "evaluate it");
  add_data_flag(sub, args->data)->capture_default_str();
  add_out_flag(sub, args->out)->capture_default_str();
  add_config_flag(sub, args->config);
  add_set_flag(sub, args->set);
  add_device_flag(sub, args->device);
  add_progress_flag(sub, args->progress);
  add_overwrite_flag(sub, args->overwrite);
  add_examples(sub,
               {"svanet demo", "svanet demo --overwrite --set train.epochs=5",
                "svanet predict -m runs/demo -i demo_data/Demo/test -o preds"},
               "Running it again continues (or just reports) the existing demo run.");
  return {sub, [args] { return run_demo(*args); }};
}

}  // namespace svanet::cli
