#pragma once
/// @file
/// Evaluation of a trained run, or of prediction masks against ground-truth
/// masks, with every reduction of svanet/metrics and the outputs:
///
///     summary.json     top-level keys reference, per_class, size_bins, objects
///     per_case.csv     one row per case and foreground class
///     per_object.csv   one row per ground-truth object and predicted component
///     size_bins.csv    image-level size bins (cumulative and disjoint), both modes
///     report.html      one self-contained page: tables, charts, overlays
///     predictions/     the predicted masks (palette PNGs), for `--run`

#include "svanet/common/log.h"
#include "svanet/metrics/reduce.h"

#include <optional>
#include <string>
#include <vector>

namespace svanet::engine {

struct EvaluateOptions {
  /// best, last, or a checkpoint file.
  std::string checkpoint = "best";
  /// test, val or train (of the run's splits.json).
  std::string split = "test";
  /// Output folder; empty = RUN/eval_<split> (or eval_<split>_<checkpoint>
  /// for a checkpoint other than the config's).
  std::string out;
  /// auto, cpu, cuda or cuda:N.
  std::string device = "auto";
  /// Another dataset root than the run's (data.root of its config.yaml),
  /// with the same classes: its split is chosen by the run's split rules
  /// (its test/ folder, ...) instead of read from the run's splits.json.
  std::string data_root;
  /// Replace an existing non-empty output folder (refused otherwise).
  /// Either way the evaluation is written to OUT.partial and moved into
  /// place when complete, so a failure leaves nothing behind.
  bool overwrite = false;
  /// Handle SIGINT and SIGTERM while the evaluation is written: it stops
  /// between batches, removes OUT.partial and throws svanet::Interrupted
  /// (the previous handlers come back after). Off, the program's own
  /// handling stays as it is.
  bool handle_signals = false;
  /// A live progress bar on stderr while the split is predicted; without
  /// it, a progress line every few seconds goes to `log` (when set).
  bool progress_bar = false;
  LogSink log;
  /// Overrides of the run config's evaluate section (unset = keep).
  /// mode: resize, sliding or auto; tta: none, flip or flip4 (as predict's).
  std::optional<std::string> mode, tta;
  /// auto, fp32, bf16 or fp16 (evaluate.precision's forms).
  std::optional<std::string> precision;
  /// argmax, calibrated, auto or a probability (evaluate.threshold's
  /// forms); a choice other than the config's adds _<choice> to the
  /// default folder name (eval_test_calibrated).
  std::optional<std::string> threshold;
  std::optional<double> overlap;
  std::optional<int64_t> overlays;
  std::optional<bool> save_predictions;
  /// The matching rule (the config's evaluate.match when unset).
  std::optional<metrics::MatchRule> match;
  std::optional<bool> surface_distances;
  /// The surface Dice's tolerance in pixels (the config's when unset).
  std::optional<double> surface_tolerance;
  std::optional<std::vector<double>> object_bins_pct, object_bins_px;
};

struct EvaluationResult {
  metrics::Summary summary;
  std::string out_dir;
};

/// The checkpoint file `checkpoint` names in a run: best and last are the
/// run's checkpoints/best.pt and last.pt, anything else a file. A missing
/// file is an error naming it.
std::string run_checkpoint_file(const std::string& run_dir, const std::string& checkpoint);

/// Where evaluate_run writes when options.out is empty: RUN/eval_<split>, or
/// RUN/eval_<split>_<checkpoint stem> for a checkpoint other than the one
/// the run's config evaluates (so the training's own evaluation is reused
/// only for the checkpoint it scored); with options.data_root,
/// RUN/eval_<split>_<data folder name>; with a threshold other than the
/// config's, RUN/eval_<split>_<threshold>.
std::string run_evaluation_dir(const std::string& run_dir, const EvaluateOptions& options = {});

/// The summary.json files a folder stands for: an evaluation folder
/// (DIR/summary.json), a run (DIR/eval_<split>/summary.json) or a run with
/// repeats (each repeat's). None is an error naming the folder.
std::vector<std::string> run_summaries(const std::string& dir, const std::string& split = "test");

/// Predicts the split of a trained run with its checkpoint and scores it,
/// through the same svanet::Predictor as `svanet predict`. In resize mode
/// reference metrics are scored at the model's resolution (as the official
/// code), everything else at each image's native resolution; in sliding
/// mode, all at native resolution.
EvaluationResult evaluate_run(const std::string& run_dir, const EvaluateOptions& options = {});

struct FolderEvaluateOptions {
  std::string pred_dir, gt_dir, out;
  /// As EvaluateOptions::overwrite and handle_signals.
  bool overwrite = false;
  bool handle_signals = false;
  /// A built-in dataset definition for the masks' classes and encoding...
  std::string dataset;
  /// ... or the class names (background first); masks hold class indices.
  std::vector<std::string> classes;
  /// Images for the report's overlays (matched by stem); optional.
  std::string images_dir;
  metrics::MetricOptions metrics;
  int64_t overlays = 6;
  /// Warnings (a prediction without ground truth, which is ignored).
  LogSink log;
};

/// Scores prediction masks against ground-truth masks, matched by file stem.
/// A ground-truth mask without a prediction is an error naming the file.
EvaluationResult evaluate_folders(const FolderEvaluateOptions& options);

}  // namespace svanet::engine
