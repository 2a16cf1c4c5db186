// svanet-tiny-objects: the tiny-objects validation of trained runs, the
// counterpart of the official tools/tinyObjectsValidation.py.
//
// For each run (and each of its repeats) the test split is evaluated with
// the chosen checkpoint (or an existing evaluation is reused), and the
// paper's metrics are written per cumulative size ratio in the official
// `tiny_metrics` columns, one file per repeat (tiny_metrics_valrpt<k>.csv)
// and their average (tiny_metrics_avg.csv), with svanet's per-object table
// averaged over repeats (tiny_objects_avg.csv).
//
// Differences from the official tool, on purpose: the metrics are fractions
// (the official tables print them x 100), as every svanet output; every run's own classes
// and image size come from its checkpoint (the official one crashes on an
// unknown dataset and ignores the trained resize shape); a bin holding only
// the first image is kept (the official `if not KeepIdx.any()` drops it);
// mEM and mAE are per-image means (the official tool divides the MAE by N
// twice). As the official tool, rows stop at the first ratio that holds
// every test image, and empty ground truths count in every bin.

#include "program.h"
#include "svanet/common/error.h"
#include "svanet/config/train_config.h"
#include "svanet/engine/evaluate.h"
#include "svanet/engine/trainer.h"
#include "svanet/evaluation/summary.h"
#include "svanet/io/checkpoint.h"
#include "svanet/metrics/registry.h"
#include "svanet/models/registry.h"
#include "svanet/models/svanet.h"
#include "svanet/utils/atomic_file.h"
#include "svanet/utils/paths.h"
#include "svanet/utils/text.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <filesystem>
#include <map>

namespace {

namespace fs = std::filesystem;

// The official column order; the metric columns are the reference metrics'
// official names (svanet/metrics/registry.h).
const std::vector<std::string> kColumns = {
    "exp",    "SegModel", "SegHead",    "Weight",       "TinyRatio", "FeatureGuide",
    "SvAttn", "FGViT",    "FGNoStage5", "FGLink",       "mIoU",      "mDice",
    "mEM",    "mAE",      "AvgRecall",  "AvgPrecision", "AvgF2Score"};

struct Options {
  std::vector<std::string> runs;
  std::string checkpoint = "best";
  std::string out = "tiny_objects";
  std::string device = "auto";
  bool overwrite = false;    // replace the tables in --out
  bool re_evaluate = false;  // evaluate again where an evaluation exists
};

/// One evaluated repeat of one run.
struct Evaluated {
  std::map<std::string, std::string> model_columns;  // SegModel ... FGLink, Weight
  /// Cumulative ratio -> reference metric (official name) -> value, in
  /// ratio order.
  std::vector<std::pair<double, std::map<std::string, double>>> ratios;
  /// Object bin label -> count or metric (registered name) -> value (all
  /// foreground classes).
  std::vector<std::pair<std::string, std::map<std::string, double>>> objects;
};

/// The reference metrics by their official names.
std::vector<const svanet::metrics::Metric*> official_metrics() {
  std::vector<const svanet::metrics::Metric*> out;
  for (const auto* m : svanet::metrics::metrics_of(svanet::metrics::MetricScope::kReference)) {
    if (!m->traits.official_name.empty()) out.push_back(m);
  }
  return out;
}

/// The counts of the per-object table.
const std::vector<std::string> kObjectCounts = {"gt_objects", "detected", "missed",
                                                "false_positives"};

std::map<std::string, std::string> model_columns(const fs::path& checkpoint) {
  const auto meta = svanet::io::read_checkpoint_meta(checkpoint.string());
  std::map<std::string, std::string> c;
  c["SegModel"] = meta.model.name;
  c["Weight"] = checkpoint.stem().string();
  const auto model = svanet::create_model(meta.model);
  if (const auto* s = dynamic_cast<const svanet::models::SvANetImpl*>(model.get())) {
    const auto& o = s->options;
    c["SegHead"] = "deeplabv3";
    c["FeatureGuide"] = o.feature_guide() ? "2" : "0";
    c["SvAttn"] = o.scale_variant_attention() ? "1" : "0";
    c["FGViT"] = o.bottleneck_former() ? "1" : "0";
    c["FGNoStage5"] = o.stage5() ? "0" : "1";
    c["FGLink"] = std::to_string(static_cast<int>(o.link()));
  } else {
    c["SegHead"] = meta.model.name;
    for (const char* k : {"FeatureGuide", "SvAttn", "FGViT", "FGNoStage5", "FGLink"}) c[k] = "";
  }
  return c;
}

Evaluated evaluate(const fs::path& run, const Options& o) {
  svanet::engine::EvaluateOptions eo;
  eo.checkpoint = o.checkpoint;
  eo.device = o.device;
  const fs::path checkpoint = svanet::engine::run_checkpoint_file(run.string(), o.checkpoint);
  // Where `svanet evaluate --run` puts it, so that an evaluation is reused.
  const fs::path summary_path =
      fs::path(svanet::engine::run_evaluation_dir(run.string(), eo)) / "summary.json";
  // It evaluates only where there is no summary, or asked to: an
  // unfinished or earlier evaluation there is replaced.
  eo.overwrite = true;
  if (o.re_evaluate || !fs::exists(summary_path)) {
    spdlog::info("{}: evaluating {} on the test split", run.string(),
                 checkpoint.filename().string());
    svanet::engine::evaluate_run(run.string(), eo);
  } else {
    spdlog::info("{}: using the evaluation in {}", run.string(),
                 summary_path.parent_path().string());
  }
  Evaluated e;
  e.model_columns = model_columns(checkpoint);
  const auto summary = svanet::evaluation::read_summary(summary_path.string());
  const std::string rule =
      svanet::metrics::MatchRule::parse(
          svanet::config::load_train_config((run / "config.yaml").string()).evaluate.match)
          .to_string();
  SVANET_CHECK(summary.match() == rule, summary_path.string(), ": its objects were matched by ",
               summary.match(), ", the run's rule is ", rule,
               "; --re-evaluate evaluates it again (replacing it)");
  for (const auto& bin : summary.size_bins) {
    if (!bin.cumulative || bin.images == 0) continue;
    std::map<std::string, double> m;
    for (const auto* metric : official_metrics()) {
      m[metric->traits.official_name] = svanet::metrics::metric_value(*metric, bin);
    }
    e.ratios.emplace_back(bin.upper, m);
    if (bin.complete) break;  // the official tool stops here
  }
  for (const auto& b : summary.objects) {
    if (b.class_index != 0) continue;
    const std::map<std::string, double> m = {
        {"gt_objects", static_cast<double>(b.gt_objects)},
        {"detected", static_cast<double>(b.detected)},
        {"missed", static_cast<double>(b.missed)},
        {"false_positives", static_cast<double>(b.false_positives)}};
    auto values = m;
    for (const auto* metric : svanet::metrics::metrics_of(svanet::metrics::MetricScope::kObjects)) {
      values[metric->name] = metric->factory.per_bin(b);
    }
    e.objects.emplace_back(b.label, values);
  }
  return e;
}

using svanet::utils::csv_number;

std::string row(const std::string& exp, const Evaluated& e, double ratio,
                const std::map<std::string, double>& m) {
  std::vector<std::string> cells;
  for (const auto& c : kColumns) {
    if (c == "exp") {
      cells.push_back(exp);
    } else if (c == "TinyRatio") {
      cells.push_back(csv_number(ratio));
    } else if (m.count(c)) {
      cells.push_back(csv_number(m.at(c)));
    } else {
      cells.push_back(e.model_columns.at(c));
    }
  }
  return svanet::utils::join(cells, ",") + "\n";
}

int run(const Options& o) {
  // Refused before the evaluations, not after them.
  SVANET_CHECK(o.overwrite || !fs::exists(fs::path(o.out) / "tiny_metrics_avg.csv"), o.out,
               " already holds tiny-object tables; --overwrite replaces them, or choose another "
               "--out");
  // repeat index (1-based, the official valrpt<k>) -> rows
  std::map<size_t, std::string> per_repeat;
  std::string average = svanet::utils::join(kColumns, ",") + "\n";
  const auto object_metrics = svanet::metrics::metrics_of(svanet::metrics::MetricScope::kObjects);
  std::string objects = "exp,bin,repeats," + svanet::utils::join(kObjectCounts, ",");
  for (const auto* m : object_metrics) objects += "," + m->name + "," + m->name + "_std";
  objects += "\n";
  for (const auto& run_dir : o.runs) {
    const fs::path run(run_dir);
    SVANET_CHECK(fs::is_directory(run), run_dir, ": no such run folder");
    std::vector<fs::path> repeats;
    for (const auto& repeat : svanet::engine::repeat_dirs(run_dir)) repeats.emplace_back(repeat);
    if (repeats.empty()) repeats.push_back(run);
    const std::string exp = run.lexically_normal().filename().string();
    std::vector<Evaluated> results;
    results.reserve(repeats.size());
    for (const auto& r : repeats) results.push_back(evaluate(r, o));
    for (size_t k = 0; k < results.size(); ++k) {
      for (const auto& [ratio, m] : results[k].ratios)
        per_repeat[k + 1] += row(exp, results[k], ratio, m);
    }
    // The average over repeats of each ratio every repeat has.
    for (const auto& entry : results.front().ratios) {
      // A named copy: lambdas cannot capture structured bindings in C++17 (clang).
      const double ratio = entry.first;
      std::map<std::string, double> mean;
      bool everywhere = true;
      for (const auto* metric : official_metrics()) {
        const std::string& key = metric->traits.official_name;
        std::vector<double> values;
        for (const auto& r : results) {
          const auto it = std::find_if(r.ratios.begin(), r.ratios.end(),
                                       [&](const auto& p) { return p.first == ratio; });
          if (it == r.ratios.end()) {
            everywhere = false;
            break;
          }
          values.push_back(it->second.at(key));
        }
        if (!everywhere) break;
        mean[key] = svanet::metrics::summarize_values(values).mean;
      }
      if (everywhere) average += row(exp, results.front(), ratio, mean);
    }
    for (size_t b = 0; b < results.front().objects.size(); ++b) {
      const auto& label = results.front().objects[b].first;
      auto stat = [&](const std::string& key) {
        std::vector<double> values;
        values.reserve(results.size());
        for (const auto& r : results) values.push_back(r.objects.at(b).second.at(key));
        return svanet::metrics::summarize_values(values);
      };
      objects += exp;
      objects += ',';
      objects += label;
      objects += ',';
      objects += std::to_string(results.size());
      for (const auto& k : kObjectCounts) objects += "," + csv_number(stat(k).mean);
      for (const auto* m : object_metrics) {
        const auto s = stat(m->name);
        objects += "," + csv_number(s.mean) + "," + csv_number(s.std);
      }
      objects += "\n";
    }
  }
  const fs::path out(o.out);
  svanet::utils::create_folders(o.out);  // only now: a failed run leaves no empty folder
  for (const auto& [k, rows] : per_repeat) {
    svanet::utils::write_file_atomic(
        (out / ("tiny_metrics_valrpt" + std::to_string(k) + ".csv")).string(),
        svanet::utils::join(kColumns, ",") + "\n" + rows);
  }
  svanet::utils::write_file_atomic((out / "tiny_metrics_avg.csv").string(), average);
  svanet::utils::write_file_atomic((out / "tiny_objects_avg.csv").string(), objects);
  std::printf("%s", average.c_str());
  std::printf(
      "wrote tiny_metrics_valrpt<k>.csv, tiny_metrics_avg.csv and tiny_objects_avg.csv to "
      "%s\n",
      o.out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  svanet::cli::setup_console();
  CLI::App app{"svanet-tiny-objects: the paper's tiny-object validation of trained runs",
               "svanet-tiny-objects"};
  Options o;
  app.add_option("runs", o.runs, "Run folders (a run with repeat_<i>/ counts each repeat)")
      ->required();
  app.add_option("--checkpoint", o.checkpoint, "best, last, or a checkpoint file")
      ->capture_default_str();
  app.add_option("-o,--out", o.out, "Output folder")->capture_default_str();
  app.add_option("--device", o.device, "Device: auto (CUDA when available), cpu, cuda, cuda:N")
      ->capture_default_str();
  app.add_flag("--overwrite", o.overwrite, "Replace the tables an earlier run wrote to --out");
  app.add_flag("--re-evaluate", o.re_evaluate,
               "Evaluate again even where an evaluation exists (replacing it)");
  svanet::cli::add_examples(
      &app,
      {"svanet-tiny-objects runs/demo -o tiny_objects",
       "svanet-tiny-objects runs/fives_svanet runs/fives_deeplab -o tables --checkpoint last",
       "svanet-tiny-objects runs/fives_svanet -o tables --overwrite --re-evaluate"},
      "Reuses each run's evaluation (svanet evaluate --run) where one exists; --re-evaluate "
      "evaluates again.");
  return svanet::cli::run_program(app, argc, argv, [&] { return run(o); });
}
