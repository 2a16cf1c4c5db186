#pragma once
/// @file
/// From class probabilities to labels: the argmax, or per-class probability
/// thresholds. A small object often gets a foreground probability of 0.3 to
/// 0.5 at its centre, which the argmax calls background; a threshold chosen
/// on the validation split (`svanet calibrate`, stored in the checkpoint)
/// finds it without flooding larger objects' surroundings.
///
/// The rule with thresholds t_1 .. t_{K-1} (one per foreground class): a
/// pixel whose probability p_c reaches t_c for some foreground class c gets
/// the class whose p_c / t_c is largest; a pixel that reaches none is
/// background. With two classes and t_1 = 0.5 this is the argmax (ties
/// aside).

#include "svanet/io/checkpoint.h"

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace svanet::inference {

/// How labels are chosen, as `--threshold` and `evaluate.threshold` write it:
/// "argmax", "calibrated" (the checkpoint's thresholds), "auto" (calibrated
/// when the checkpoint has thresholds, else argmax) or a probability in
/// (0, 1) for every foreground class.
struct ThresholdChoice {
  enum class Kind { kArgmax, kCalibrated, kAuto, kValue };
  Kind kind = Kind::kArgmax;
  /// The probability of kValue.
  double value = 0.5;

  /// Parses the text form; anything else throws svanet::Error saying what
  /// is valid.
  static ThresholdChoice parse(const std::string& text);
  /// The text form ("argmax", "calibrated", "auto", or the value).
  std::string to_string() const;
};

/// The per-class thresholds a choice gives for a checkpoint's model with
/// `num_classes` outputs (index 0, the background, is unused); empty means
/// the argmax. "calibrated" on a checkpoint without thresholds, or
/// thresholds that do not fit the model, throw svanet::Error naming
/// `source` (and `svanet calibrate`).
std::vector<double> resolve_thresholds(const ThresholdChoice& choice,
                                       const io::CheckpointMeta& meta, int64_t num_classes,
                                       const std::string& source);

/// Throws svanet::Error unless `thresholds` is empty or holds one value per
/// class (num_classes in all), each foreground value in (0, 1).
void check_thresholds(const std::vector<double>& thresholds, int64_t num_classes);

/// Labels (uint8) from probabilities along dimension `class_dim` (its size
/// K), with the rule above; `thresholds` empty gives the argmax.
torch::Tensor labels_from_probabilities(const torch::Tensor& probabilities, int64_t class_dim,
                                        const std::vector<double>& thresholds);

/// The thresholds as text for logs and reports: "argmax", or "lesion 0.35,
/// nucleus 0.4" with the class names (background first).
std::string describe_thresholds(const std::vector<double>& thresholds,
                                const std::vector<std::string>& classes);

}  // namespace svanet::inference
