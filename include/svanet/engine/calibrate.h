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
/// Per-object F1 counts an object as found only when the predicted
/// components overlapping it reach an IoU of `iou` (0.1) with it: with
/// "any overlap" (the evaluation's default rule), a low threshold that
/// floods the image with one component finds every object and scores a
/// high F1.

#include "svanet/common/log.h"

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace svanet::engine {

struct CalibrateOptions {
  /// best, last, or a checkpoint file.
  std::string checkpoint = "best";
  /// object_f1 (per-object detection, objects.h's matching) or dice.
  std::string metric = "object_f1";
  /// object_f1: the IoU an object's overlapping prediction must reach for
  /// the object to count as found, in (0, 1).
  double iou = 0.1;
  /// auto, cpu, cuda or cuda:N.
  std::string device = "auto";
  /// Candidate thresholds, each in (0, 1); empty: 0.05, 0.10, ..., 0.95.
  std::vector<double> grid;
  /// Write the thresholds into the checkpoint and the curves beside it;
  /// false only reports them.
  bool write = true;
  /// Progress messages.
  LogSink log;
};

/// The per-object and pixel scores of one class at one threshold (or with
/// the argmax), pooled over the validation images.
struct ThresholdScore {
  /// The threshold; NaN for the argmax.
  double threshold = 0.0;
  int64_t gt_objects = 0, detected = 0, predicted = 0, false_positives = 0;
  double recall = 0.0, precision = 0.0, f1 = 0.0;
  /// Pixel Dice of the class, pooled over the images.
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
/// truth (1 = object, 255 = ignored, 0 = background), objects matched at
/// `iou`: what calibration adds up per image (threshold left 0).
ThresholdScore score_objects(const torch::Tensor& pred, const torch::Tensor& gt, double iou);

}  // namespace svanet::engine
