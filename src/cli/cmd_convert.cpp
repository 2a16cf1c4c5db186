#include "commands.h"

#include "svanet/common/error.h"
#include "svanet/engine/predict.h"
#include "svanet/io/checkpoint.h"
#include "svanet/io/export.h"
#include "svanet/io/pytorch_file.h"
#include "svanet/metrics/registry.h"
#include "svanet/official/convert.h"
#include "svanet/utils/text.h"

#include <spdlog/spdlog.h>

#include <memory>

namespace svanet::cli {

namespace {

struct ConvertArgs {
  std::string input;
  std::string output;
  std::string model;
  int64_t num_classes = 0;
  int64_t image_size = 0;
  std::string classes;
  std::vector<std::string> options;
  bool overwrite = false;
};

int run_convert(const ConvertArgs& args) {
  check_output_file(args.output, args.overwrite);
  official::ConvertOptions options;
  options.image_size = args.image_size;
  if (!args.classes.empty()) {
    for (const auto& c : utils::split(args.classes, ',')) options.classes.push_back(utils::trim(c));
  }
  if (!args.model.empty()) {
    models::ModelSpec spec{args.model, {}};
    int64_t classes = args.num_classes;
    if (classes == 0) {
      // The official classifier's rows are the classes.
      const auto detected = official::spec_from_official_state_dict(
          io::read_pytorch_state_dict(args.input), args.image_size);
      classes = detected.options.num_classes();
    }
    spec.options.num_classes(classes).image_size(args.image_size);
    for (const auto& kv : args.options) {
      const auto eq = kv.find('=');
      SVANET_CHECK(eq != std::string::npos, "--option expects key=value, got '", kv, "'");
      spec.options.set(kv.substr(0, eq), kv.substr(eq + 1));
    }
    options.spec = spec;
  } else {
    SVANET_CHECK(args.options.empty(), "--option needs --architecture");
  }
  const auto report = official::convert_official_checkpoint(args.input, args.output, options);
  const auto meta = io::read_checkpoint_meta(args.output);
  std::vector<std::string> overrides;
  for (const auto& [key, value] : meta.model.options.overrides()) {
    std::string item = key;
    item += '=';
    item += value;
    overrides.push_back(std::move(item));
  }
  spdlog::info("converted {} tensors of {} into {}", report.tensors, args.input, args.output);
  spdlog::info("model {} ({} classes, image size {}){}{}", meta.model.name,
               meta.model.options.num_classes(), meta.model.options.image_size(),
               overrides.empty() ? "" : " with ", utils::join(overrides, ", "));
  return 0;
}

}  // namespace

Command register_convert(CLI::App& app) {
  auto args = std::make_shared<ConvertArgs>();
  auto* sub = app.add_subcommand(
      "convert-official",
      "Convert a checkpoint of the official SvANet code into an svanet checkpoint");
  sub->add_option("input", args->input,
                  "Official checkpoint (torch.save of the model's state dict)")
      ->required();
  add_out_flag(sub, args->output, "file: the svanet checkpoint to write")->required();
  add_overwrite_flag(sub, args->overwrite);
  sub->add_option("--architecture", args->model,
                  "Registered model to convert into (default: detected from the weights)");
  add_num_classes_flag(sub, args->num_classes)->default_str("detected");
  add_image_size_flag(sub, args->image_size)->default_str("model's");
  add_class_names_flag(sub, args->classes);
  sub->add_option("--option", args->options,
                  "Model option key=value (with --architecture; repeatable)");
  add_examples(sub,
               {"svanet convert-official official_best.pth -o svanet_best.pt --image-size 512 "
                "--class-names background,polyp",
                "svanet convert-official model.pth -o r18.pt --architecture svanet_r18"},
               "Without --num-classes the checkpoint's classifier decides; without --image-size, "
               "the model's default.");
  return {sub, [args] { return run_convert(*args); }};
}

Command register_checkpoint_info(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto* sub = app.add_subcommand("checkpoint-info", "Print what an svanet checkpoint holds");
  sub->add_option("checkpoint", *path, "svanet checkpoint, or a run folder (its best)")->required();
  add_examples(sub, {"svanet checkpoint-info runs/demo/checkpoints/best.pt",
                     "svanet checkpoint-info runs/demo"});
  return {sub, [path] {
            const std::string file = engine::resolve_model(*path);
            const auto meta = io::read_checkpoint_meta(file);
            std::printf("file:          %s\n", file.c_str());
            std::printf("format:        svanet.checkpoint v%lld (svanet %s, written %s)\n",
                        static_cast<long long>(meta.version), meta.svanet_version.c_str(),
                        meta.created.c_str());
            std::printf("model:         %s\n", meta.model.name.c_str());
            for (const auto& [k, v] : meta.model.options.overrides()) {
              std::printf("  option:      %s = %s\n", k.c_str(), v.c_str());
            }
            std::printf("classes:       %s\n", utils::join(meta.classes, ", ").c_str());
            std::printf("in channels:   %lld\n",
                        static_cast<long long>(meta.model.options.in_channels()));
            std::printf("image size:    %lld\n",
                        static_cast<long long>(meta.model.options.image_size()));
            std::vector<std::string> mean, stdev;
            for (double m : meta.normalization.mean) mean.push_back(std::to_string(m));
            for (double s : meta.normalization.std) stdev.push_back(std::to_string(s));
            std::printf("normalization: %s (mean %s; std %s)\n", meta.normalization.mode.c_str(),
                        utils::join(mean, ", ").c_str(), utils::join(stdev, ", ").c_str());
            // Counted from 1, as train.log, metrics.csv and the report count.
            if (meta.epoch >= 0) {
              std::printf("epoch:         %lld (of training)\n",
                          static_cast<long long>(meta.epoch) + 1);
            } else {
              std::printf("epoch:         none (not from svanet training)\n");
            }
            // Validation metrics as the registry shows them (svanet 0.1's percentages
            // as fractions); the losses and anything unknown as written.
            auto values = meta.metrics;
            if (meta.metrics_version < 2) metrics::convert_legacy_percentages(values);
            for (const auto& [k, v] : values) {
              const bool known = metrics::metric_registry().contains(k);
              std::printf(
                  "  metric:      %s = %s\n",
                  (known ? metrics::metric_title(metrics::metric(k), "px") + " (" + k + ")" : k)
                      .c_str(),
                  known ? metrics::format_metric(metrics::metric(k), v).c_str()
                        : utils::format_number(v).c_str());
            }
            if (!meta.note.empty()) std::printf("note:          %s\n", meta.note.c_str());
            return 0;
          }};
}

Command register_export(CLI::App& app) {
  struct ExportArgs {
    std::string input, output, format = "official";
    bool overwrite = false;
  };
  auto a = std::make_shared<ExportArgs>();
  auto* sub = app.add_subcommand(
      "export",
      "Write a checkpoint's weights for PyTorch: in the official SvANet key layout (the "
      "reverse of convert-official) or as svanet's plain state dict with a JSON model spec");
  sub->add_option("checkpoint", a->input, "svanet checkpoint, or a run folder (its best)")
      ->required();
  add_out_flag(sub, a->output, "file: the state dict to write (torch.save format)")->required();
  add_overwrite_flag(sub, a->overwrite);
  sub->add_option("--format", a->format,
                  "official (load into the authors' code) or svanet (plain state dict plus "
                  "the model spec in JSON beside it: OUTPUT with its extension replaced by .json)")
      ->check(CLI::IsMember({"official", "svanet"}))
      ->capture_default_str();
  add_examples(sub,
               {"svanet export runs/fives -o official_layout.pth",
                "svanet export best.pt -o weights.pt --format svanet"},
               "In Python: model.load_state_dict(torch.load('official_layout.pth')).");
  return {sub, [a] {
            check_output_file(a->output, a->overwrite);
            const auto checkpoint = engine::resolve_model(a->input);
            if (a->format == "official") {
              const auto r = official::export_official_checkpoint(checkpoint, a->output);
              std::printf("wrote %zu tensors of %s in the official layout to %s\n", r.tensors,
                          r.model.c_str(), a->output.c_str());
            } else {
              const auto r = io::export_state_dict(checkpoint, a->output);
              std::printf("wrote %zu tensors to %s and the model spec to %s\n", r.tensors,
                          r.weights.c_str(), r.sidecar.c_str());
            }
            return 0;
          }};
}

}  // namespace svanet::cli
