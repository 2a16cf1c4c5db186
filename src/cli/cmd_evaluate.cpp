// svanet evaluate, svanet calibrate, svanet compare and svanet study.

#include "commands.h"
#include "program.h"

#include "svanet/common/error.h"
#include "svanet/engine/calibrate.h"
#include "svanet/engine/evaluate.h"
#include "svanet/engine/trainer.h"
#include "svanet/evaluation/compare.h"
#include "svanet/evaluation/study.h"
#include "svanet/metrics/registry.h"
#include "svanet/utils/atomic_file.h"
#include "svanet/utils/paths.h"
#include "svanet/utils/text.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>

namespace svanet::cli {

namespace {

namespace fs = std::filesystem;

struct EvaluateArgs {
  std::string run, checkpoint = "best", split = "test", out, device = "auto";
  std::string pred, gt, data, dataset, classes, images, spacing, object_bins, object_bins_px;
  std::string match;
  std::optional<double> surface_tolerance;
  std::string mode, tta, threshold, precision, progress = "auto";
  double overlap = -1.0;  // < 0: the run config's
  bool flip = false, no_surface = false, overwrite = false;
  std::optional<int64_t> overlays;
};

void print_summary(const metrics::Summary& s, const std::string& out_dir) {
  const auto h = metrics::headline(s);
  // Every registered metric, by what it is computed from.
  const std::pair<metrics::MetricScope, const char*> groups[] = {
      {metrics::MetricScope::kCase, "per case (foreground means)"},
      {metrics::MetricScope::kReference, "paper's definitions"},
      {metrics::MetricScope::kObjects, "objects"}};
  std::printf("%lld cases\n", static_cast<long long>(s.cases));
  for (const auto& [scope, title] : groups) {
    std::string line;
    for (const metrics::Metric* m : metrics::metrics_of(scope)) {
      line += (line.empty() ? "" : ", ") + metrics::metric_title(*m, s.options.distance_unit) +
              " " + metrics::format_metric(*m, h.at(m->name));
    }
    std::printf("%s: %s\n", title, line.c_str());
  }
  std::printf("objects by size (%s), matched %s:\n",
              s.options.object_bin_unit() == "%" ? "% of the image" : "pixels", s.match().c_str());
  const auto objects = metrics::featured_metrics(metrics::MetricScope::kObjects);
  for (const auto& b : s.objects) {
    if (b.class_index != 0) continue;
    std::string values;
    for (const metrics::Metric* m : objects) {
      values += ", " + m->traits.label + " " + metrics::format_metric(*m, m->factory.per_bin(b));
    }
    std::printf("  %-9s %5lld objects, %5lld found, %5lld false positives%s\n", b.label.c_str(),
                static_cast<long long>(b.gt_objects), static_cast<long long>(b.detected),
                static_cast<long long>(b.false_positives), values.c_str());
  }
  for (const auto& warning : metrics::coverage_warnings(s)) spdlog::warn("{}", warning);
  std::printf(
      "wrote summary.json, per_case.csv, per_object.csv, size_bins.csv and report.html to "
      "%s\n",
      out_dir.c_str());
}

/// Bin edges given as "0.1,0.5,1,5".
std::vector<double> edges(const std::string& text) {
  std::vector<double> out;
  for (const auto& part : utils::split(text, ',')) out.push_back(utils::parse_double(part));
  return out;
}

int run_evaluate(const EvaluateArgs& a) {
  const bool run_mode = !a.run.empty();
  const bool folder_mode = !a.pred.empty() || !a.gt.empty();
  SVANET_CHECK(run_mode != folder_mode,
               "give either --run RUN_DIR, or --pred PRED_DIR --gt GT_DIR --out DIR");
  engine::EvaluationResult result;
  if (run_mode) {
    SVANET_CHECK(a.dataset.empty() && a.classes.empty() && a.images.empty() && a.spacing.empty(),
                 "--dataset, --class-names, --images and --spacing are for --pred/--gt; a run "
                 "knows its data (--data evaluates it on another dataset root)");
    engine::EvaluateOptions o;
    o.checkpoint = a.checkpoint;
    o.split = a.split;
    o.out = a.out;
    o.device = a.device;
    o.data_root = a.data;
    o.overwrite = a.overwrite;
    o.handle_signals = true;
    o.progress_bar = want_progress_bar(a.progress);
    o.log = console_log();
    SVANET_CHECK(!(a.flip && !a.tta.empty()), "--flip is --tta flip; give one of them");
    if (!a.mode.empty()) o.mode = a.mode;
    if (!a.tta.empty()) o.tta = a.tta;
    if (a.flip) o.tta = "flip";
    if (!a.threshold.empty()) o.threshold = a.threshold;
    if (!a.precision.empty()) o.precision = a.precision;
    if (a.overlap >= 0.0) o.overlap = a.overlap;
    o.overlays = a.overlays;
    if (!a.match.empty()) o.match = metrics::MatchRule::parse(a.match);
    if (a.no_surface) o.surface_distances = false;
    o.surface_tolerance = a.surface_tolerance;
    if (!a.object_bins.empty()) o.object_bins_pct = edges(a.object_bins);
    if (!a.object_bins_px.empty()) o.object_bins_px = edges(a.object_bins_px);
    result = engine::evaluate_run(a.run, o);
  } else {
    SVANET_CHECK(!a.pred.empty() && !a.gt.empty() && !a.out.empty(),
                 "--pred, --gt and --out go together");
    SVANET_CHECK(a.data.empty(),
                 "--data is for --run (another dataset root for the run); "
                 "with --pred/--gt the masks are the data");
    SVANET_CHECK(
        a.mode.empty() && a.tta.empty() && a.overlap < 0.0 && !a.flip && a.threshold.empty(),
        "--mode, --tta, --overlap, --flip and --threshold are for --run; with --pred the "
        "masks are already predicted");
    engine::FolderEvaluateOptions o;
    o.log = console_log();
    o.pred_dir = a.pred;
    o.gt_dir = a.gt;
    o.out = a.out;
    o.overwrite = a.overwrite;
    o.handle_signals = true;
    o.dataset = a.dataset;
    if (!a.classes.empty()) {
      for (const auto& c : utils::split(a.classes, ',')) o.classes.push_back(utils::trim(c));
    }
    o.images_dir = a.images;
    if (!a.match.empty()) o.metrics.match = metrics::MatchRule::parse(a.match);
    o.metrics.surface_distances = !a.no_surface;
    o.metrics.surface_tolerance = a.surface_tolerance;
    if (!a.spacing.empty()) {
      const auto parts = utils::split(a.spacing, ',');
      SVANET_CHECK(parts.size() == 2, "--spacing expects ROW,COLUMN in mm, got '", a.spacing, "'");
      o.metrics.spacing = {utils::parse_double(parts[0]), utils::parse_double(parts[1])};
      SVANET_CHECK(o.metrics.spacing[0] > 0 && o.metrics.spacing[1] > 0,
                   "--spacing must be positive, got '", a.spacing, "'");
      o.metrics.distance_unit = "mm";
    }
    if (a.overlays) o.overlays = *a.overlays;
    if (!a.object_bins.empty()) o.metrics.object_bins_pct = edges(a.object_bins);
    if (!a.object_bins_px.empty()) o.metrics.object_bins_px = edges(a.object_bins_px);
    o.metrics.validate();
    result = engine::evaluate_folders(o);
  }
  print_summary(result.summary, result.out_dir);
  return 0;
}

/// A row label per folder: its name, or --labels.
std::vector<std::string> row_labels(const std::vector<std::string>& dirs,
                                    const std::string& labels) {
  std::vector<std::string> out;
  if (!labels.empty()) {
    for (const auto& l : utils::split(labels, ',')) out.push_back(utils::trim(l));
    SVANET_CHECK(out.size() == dirs.size(), "--labels: ", out.size(), " label(s) for ", dirs.size(),
                 " folder(s)");
    return out;
  }
  for (const auto& dir : dirs) {
    std::string label = fs::path(dir).lexically_normal().filename().string();
    if (label.empty()) label = fs::path(dir).lexically_normal().parent_path().filename().string();
    out.push_back(label.empty() || label == "." ? dir : label);
  }
  return out;
}

// calibrate

struct CalibrateArgs {
  std::string run, checkpoint = "best", metric = "object_f1", device = "auto", grid, match;
  std::string progress = "auto";
  bool dry_run = false;
};

int run_calibrate(const CalibrateArgs& a) {
  engine::CalibrateOptions o;
  o.checkpoint = a.checkpoint;
  o.metric = a.metric;
  if (!a.match.empty()) o.match = metrics::MatchRule::parse(a.match);
  o.device = a.device;
  if (!a.grid.empty()) o.grid = edges(a.grid);
  o.write = !a.dry_run;
  o.log = console_log();
  o.progress_bar = want_progress_bar(a.progress);
  const auto r = engine::calibrate_run(a.run, o);
  std::printf(
      "%s on the val split (%lld images), checkpoint %s\n",
      (r.metric == "dice" ? r.metric : r.metric + " (match " + r.match.to_string() + ")").c_str(),
      static_cast<long long>(r.images), r.checkpoint.c_str());
  for (const auto& c : r.classes) {
    std::printf("\n%s:\n  %-9s %8s %7s %9s %6s %6s %5s\n", c.name.c_str(), "threshold", "objects",
                "found", "predicted", "recall", "prec.", "F1");
    const auto row = [](const std::string& label, const engine::ThresholdScore& s,
                        const char* mark) {
      const auto v = [](const char* name, double value) {
        return metrics::format_metric(metrics::metric(name), value, "-");
      };
      std::printf("  %-9s %8lld %7lld %9lld %6s %6s %5s  Dice %s%s\n", label.c_str(),
                  static_cast<long long>(s.gt_objects), static_cast<long long>(s.detected),
                  static_cast<long long>(s.predicted), v("object_recall", s.recall).c_str(),
                  v("object_precision", s.precision).c_str(), v("object_f1", s.f1).c_str(),
                  v("dice", s.dice).c_str(), mark);
    };
    row("argmax", c.argmax, "");
    for (size_t i = 0; i < c.curve.size(); ++i) {
      row(utils::format_number(c.curve[i].threshold), c.curve[i],
          i == c.chosen ? "  <- chosen" : "");
    }
  }
  if (a.dry_run) {
    std::printf("\n--dry-run: nothing written\n");
  } else {
    std::printf(
        "\nwrote the thresholds into %s and the curves to %s\nuse them with `svanet evaluate -r "
        "%s --threshold calibrated` and `svanet predict -m %s ...` (predict's default, auto, "
        "takes them)\n",
        r.checkpoint.c_str(), r.curves_file.c_str(), a.run.c_str(), a.run.c_str());
  }
  return 0;
}

// compare

struct CompareArgs {
  std::vector<std::string> dirs;
  bool overwrite = false;
  std::string out, split = "test", metrics;
};

int run_compare(const CompareArgs& a) {
  std::vector<std::string> names;
  for (const auto& m : utils::split(a.metrics, ',')) names.push_back(utils::trim(m));
  if (a.metrics.empty()) names = evaluation::default_compare_metrics();
  std::vector<evaluation::CompareRow> rows;
  for (const auto& dir : a.dirs) {
    evaluation::CompareRow row;
    row.label = row_labels({dir}, "").front();
    row.summaries = engine::run_summaries(dir, a.split);
    rows.push_back(std::move(row));
  }
  const auto tables = evaluation::compare(rows, names);
  std::printf("%s", tables.markdown.c_str());
  if (!a.out.empty()) {
    const fs::path out(a.out);
    check_output_file((out / "compare.md").string(), a.overwrite);
    utils::create_folders(a.out);
    utils::write_file_atomic((out / "compare.md").string(), tables.markdown);
    utils::write_file_atomic((out / "compare.csv").string(), tables.csv);
    utils::write_file_atomic((out / "compare.tex").string(), tables.latex);
    std::printf("wrote compare.md, compare.csv and compare.tex to %s\n", a.out.c_str());
  }
  return 0;
}

// study

struct StudyArgs {
  std::vector<std::string> dirs;
  std::string out, split = "test", reference, labels, ultra_small_bin = "<1";
  bool overwrite = false, no_cost = false;
};

int run_study(const StudyArgs& a) {
  if (!a.out.empty()) check_output_file((fs::path(a.out) / "study.md").string(), a.overwrite);
  const auto labels = row_labels(a.dirs, a.labels);
  std::vector<evaluation::StudyRun> runs;
  for (size_t i = 0; i < a.dirs.size(); ++i) {
    runs.push_back({labels[i], engine::run_summaries(a.dirs[i], a.split)});
  }
  evaluation::StudyOptions options;
  options.split = a.split;
  options.reference = a.reference;
  options.ultra_small_bin = a.ultra_small_bin;
  options.model_cost = !a.no_cost;
  const auto study = evaluation::make_study(runs, options);
  std::printf("%s", study.markdown().c_str());
  if (!a.out.empty()) {
    evaluation::write_study(study, a.out);
    std::printf("wrote study.md, study.csv, study.tex and study.png to %s\n", a.out.c_str());
  }
  return 0;
}

}  // namespace

Command register_evaluate(CLI::App& app) {
  auto a = std::make_shared<EvaluateArgs>();
  auto* sub = app.add_subcommand(
      "evaluate",
      "Score a trained run on a split, or prediction masks against ground truth: "
      "per class, per object size, per object, with an HTML report");
  sub->add_option("-r,--run", a->run, "Run folder to evaluate (predicts, then scores)");
  add_data_flag(sub, a->data);  // with --run: another dataset to score the run on
  add_checkpoint_flag(sub, a->checkpoint)->capture_default_str();
  sub->add_option("--split", a->split, "Split to evaluate: test, val or train")
      ->check(CLI::IsMember({"test", "val", "train"}))
      ->capture_default_str();
  add_out_flag(sub, a->out);
  add_overwrite_flag(sub, a->overwrite);
  add_progress_flag(sub, a->progress);
  add_device_flag(sub, a->device)->capture_default_str();
  add_mode_flag(sub, a->mode);
  add_overlap_flag(sub, a->overlap)->default_str("run config's");
  add_tta_flag(sub, a->tta);
  sub->add_flag("--flip", a->flip, "Same as --tta flip");
  add_threshold_flag(sub, a->threshold)->default_str("run config's");
  add_precision_flag(sub, a->precision)->default_str("run config's");
  sub->add_option("--pred", a->pred, "Folder of predicted masks (class indices), by file stem");
  sub->add_option("--gt", a->gt, "Folder of ground-truth masks, by file stem");
  add_dataset_flag(sub, a->dataset);
  add_class_names_flag(sub, a->classes);
  sub->add_option("--images", a->images, "Folder of the images, for the report's overlays");
  sub->add_option("--spacing", a->spacing, "Pixel spacing ROW,COLUMN in mm for HD95 and ASSD");
  add_match_flag(sub, a->match)->default_str("run config's, else iou:0.1");
  add_retired_flag(sub, "--iou-threshold", "--match (iou:T pairs objects one to one)");
  sub->add_flag("--no-surface", a->no_surface, "Skip HD95, ASSD and the surface Dice");
  sub->add_option_function<double>(
         "--surface-tolerance", [a](double v) { a->surface_tolerance = v; },
         "The surface Dice's tolerance, in pixels (mm with --spacing)")
      ->check(non_negative_number())
      ->default_str("one pixel");
  sub->add_option("--object-bins", a->object_bins,
                  "Object-size bin edges in % of the image (default 0.1,0.5,1,5)");
  sub->add_option("--object-bins-px", a->object_bins_px,
                  "Object-size bin edges in pixels, instead of % (e.g. 10,100,1000)");
  sub->add_option_function<int64_t>(
         "--overlays", [a](int64_t v) { a->overlays = v; }, "Overlays per gallery in the report")
      ->check(non_negative_number());
  add_examples(
      sub,
      {"svanet evaluate -r runs/demo --mode sliding -o runs/demo/eval_sliding",
       "svanet evaluate -r runs/demo --threshold argmax",
       "svanet evaluate -r runs/demo --data other_data -o eval_other",
       "svanet evaluate --pred preds/ --gt masks/ --class-names background,lesion -o eval/"},
      "Writes summary.json, per_case.csv, per_object.csv, size_bins.csv and report.html "
      "(default folder RUN/eval_<split>; an existing one is refused without --overwrite). --data "
      "scores the run on another dataset root with the same classes (its own test/ or val/ "
      "split; default folder RUN/eval_<split>_<data folder>); a --threshold other than the "
      "config's evaluate.threshold writes RUN/eval_<split>_<threshold>. With "
      "--run, --mode, --tta and --overlap default to the run config's evaluate section (resize: "
      "the paper's evaluation).");
  return {sub, [a] { return run_evaluate(*a); }};
}

Command register_calibrate(CLI::App& app) {
  auto a = std::make_shared<CalibrateArgs>();
  auto* sub = app.add_subcommand(
      "calibrate",
      "Choose per-class probability thresholds on a run's validation split (never the test "
      "split) and store them in its checkpoint, for --threshold calibrated");
  sub->add_option("run", a->run, "Run folder")->required();
  add_checkpoint_flag(sub, a->checkpoint)->capture_default_str();
  sub->add_option("--metric", a->metric,
                  "What to maximise per class: object_f1 (per-object detection) or dice (pixels)")
      ->check(CLI::IsMember({"object_f1", "dice"}))
      ->capture_default_str();
  add_match_flag(sub, a->match)->default_str("run config's evaluate.match");
  add_retired_flag(sub, "--iou", "--match iou:T");
  sub->add_option("--grid", a->grid, "Candidate thresholds, e.g. 0.2,0.3,0.4,0.5")
      ->default_str("0.05,0.10,...,0.95");
  add_device_flag(sub, a->device)->capture_default_str();
  sub->add_flag("--dry-run", a->dry_run, "Print the curves; write nothing");
  add_progress_flag(sub, a->progress);
  add_examples(sub,
               {"svanet calibrate runs/demo", "svanet calibrate runs/demo --metric dice --dry-run",
                "svanet evaluate -r runs/demo --threshold calibrated"},
               "Predicts the validation split as the run's evaluate section does, scores every "
               "threshold per class (per-object recall, precision and F1, pixel Dice), writes "
               "the best into the checkpoint and the curves to RUN/calibration_<checkpoint>.json. "
               "A config with evaluate.threshold: calibrated does this after training.");
  return {sub, [a] { return run_calibrate(*a); }};
}

Command register_compare(CLI::App& app) {
  auto a = std::make_shared<CompareArgs>();
  auto* sub = app.add_subcommand(
      "compare",
      "One table across runs, repeats and evaluations (mean ± std): Markdown, CSV and LaTeX");
  sub->add_option("dirs", a->dirs, "Run folders, runs with repeats, or evaluation folders")
      ->required();
  add_out_flag(sub, a->out);
  sub->add_option("--split", a->split, "Split to evaluate: test, val or train")
      ->check(CLI::IsMember({"test", "val", "train"}))
      ->capture_default_str();
  sub->add_option("--metrics", a->metrics,
                  "Comma-separated metrics (registered names; `svanet list metrics` lists them)")
      ->default_str("the featured ones");
  add_overwrite_flag(sub, a->overwrite);
  add_examples(sub,
               {"svanet compare runs/demo runs/demo_deeplab",
                "svanet compare runs/fives_* -o tables --metrics dice,object_recall"},
               "Prints the Markdown table; -o also writes compare.md, compare.csv and "
               "compare.tex.");
  return {sub, [a] { return run_compare(*a); }};
}

Command register_study(CLI::App& app) {
  auto a = std::make_shared<StudyArgs>();
  auto* sub = app.add_subcommand(
      "study",
      "A study's runs side by side (mean ± std over repeats): overall, ultra-small images, "
      "per-object recall and Dice by object size, parameters, MACs, training speed; "
      "Markdown, CSV, LaTeX and a chart");
  sub->add_option("dirs", a->dirs, "Run folders, runs with repeats, or evaluation folders")
      ->required();
  add_out_flag(sub, a->out);
  add_overwrite_flag(sub, a->overwrite);
  sub->add_option("--split", a->split, "Split to evaluate: test, val or train")
      ->check(CLI::IsMember({"test", "val", "train"}))
      ->capture_default_str();
  sub->add_option("--reference", a->reference,
                  "Row (label) the differences are taken to, e.g. the full model");
  sub->add_option("--labels", a->labels, "Comma-separated row labels (default: folder names)");
  sub->add_option("--ultra-small-bin", a->ultra_small_bin,
                  "Cumulative image-size bin of the ultra-small columns (summary.json's label)")
      ->capture_default_str();
  sub->add_flag("--no-cost", a->no_cost,
                "Skip parameters and MACs (which build each run's model once)");
  add_examples(sub,
               {"svanet study runs/ablation/spermhealth/* --reference full -o tables/ablation",
                "svanet study runs/a runs/b --labels baseline,new -o study"},
               "Prints the Markdown; -o also writes study.md, study.csv (full precision, "
               "differences as *_difference), study.tex and study.png (per-object recall and Dice "
               "by object size, one line per run). shell/ablation.sh and the other study scripts "
               "call it on their complete runs.");
  return {sub, [a] { return run_study(*a); }};
}

}  // namespace svanet::cli
