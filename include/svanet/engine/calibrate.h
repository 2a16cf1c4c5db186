#pragma once
/// @file
/// Threshold calibration: per foreground class, the probability threshold
/// that maximises per-object F1 (or pixel Dice) on a run's validation
/// split, stored in the checkpoint so that evaluate and predict can use it
/// (`--threshold calibrated`; svanet/inference/thresholds.h has the rule).
/// The test split is never read.
///
///     auto result = svanet::engine::calibrate_run("runs/demo");
///     // result.thresholds: {0, 0.35, 0.4}; checkpoints/best.pt now holds them
///
/// Each class is calibrated on its own (its probability against its
/// ground truth, the other classes' pixels as background), over a grid of
/// thresholds; a tie goes to the threshold nearest 0.5. The curve of every
/// class is written to RUN/calibration_<checkpoint stem>.json.
///
/// Per-object F1 counts objects as the evaluation does, under the run's
/// matching rule (evaluate.match, svanet/metrics/objects.h; one to one at
/// IoU 0.1 by default), with the evaluation's own counts and functions:
/// the argmax row is what `svanet evaluate` reports on the same split. A
/// low threshold that floods the image pairs with no object under the
/// default rule, so it cannot win.

#include "svanet/common/log.h"
#include "svanet/metrics/objects.h"

#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace svanet::engine {

struct CalibrateOptions {
  /// best, last, or a checkpoint file.
  std::string checkpoint = "best";
  /// object_f1 (per-object detection, objects.h's matching) or dice.
  std::string metric = "object_f1";
  /// The matching rule; unset: the run config's evaluate.match.
  std::optional<metrics::MatchRule> match;
  /// auto, cpu, cuda or cuda:N.
  std::string device = "auto";
  /// Candidate thresholds, each in (0, 1); empty: 0.05, 0.10, ..., 0.95.
  std::vector<double> grid;
  /// Write the thresholds into the checkpoint and the curves beside it;
  /// false only reports them.
  bool write = true;
  /// Progress messages (and, without the bar, a progress line every few
  /// seconds while the validation split is predicted).
  LogSink log;
  /// A live progress bar on stderr while the split is predicted.
  bool progress_bar = false;
};

/// The per-object and pixel scores of one class at one threshold (or with
/// the argmax), pooled over the validation images.
struct ThresholdScore {
  /// The threshold; NaN for the argmax.
  double threshold = 0.0;
  int64_t gt_objects = 0, detected = 0, predicted = 0, false_positives = 0;
  /// As svanet/metrics/reduce.h's object_recall, object_precision and
  /// object_f1 (NaN where undefined: no objects, nothing predicted).
  double recall = 0.0, precision = 0.0, f1 = 0.0;
  /// Pixel Dice of the class, pooled over the images (NaN when the class
  /// is absent from both sides).
  double dice = 0.0;
};

struct ClassCalibration {
  int64_t class_index = 0;
  std::string name;
  /// One score per grid threshold, in grid order.
  std::vector<ThresholdScore> curve;
  /// The chosen entry of `curve`.
  size_t chosen = 0;
  /// The argmax's scores, for comparison.
  ThresholdScore argmax;
};

struct CalibrationResult {
  /// Per class, background first (its entry 0 unused).
  std::vector<double> thresholds;
  std::vector<ClassCalibration> classes;
  std::string checkpoint;
  std::string metric;
  /// The matching rule the objects were counted with.
  metrics::MatchRule match;
  int64_t images = 0;
  /// What the checkpoint records as its calibration.
  std::string description;
  /// The curves' file (empty when not written).
  std::string curves_file;
};

/// Calibrates the checkpoint of a trained run on its validation split (of
/// its splits.json; a run without one is an error: the test split is never
/// used), predicting as the run's evaluate section does.
CalibrationResult calibrate_run(const std::string& run_dir, const CalibrateOptions& options = {});

/// Grid thresholds: 0.05, 0.10, ..., 0.95.
std::vector<double> default_threshold_grid();

/// The scores of one binary prediction (H, W) against one binary ground
/// truth (1 = object, 255 = ignored, 0 = background), objects matched by
/// `rule`: what calibration adds up per image (threshold left 0).
ThresholdScore score_objects(const torch::Tensor& pred, const torch::Tensor& gt,
                             const metrics::MatchRule& rule = {});

}  // namespace svanet::engine
