#pragma once
/// @file
/// How image values are scaled before entering a model. The data pipeline
/// applies it and checkpoints record it, so inference scales images exactly
/// as training did.

#include <string>
#include <vector>

namespace svanet {

struct Normalization {
  /// "imagenet" (ImageNet mean and standard deviation), "reference" ([0, 1]
  /// scaling only: what the official code effectively trains with) or
  /// "custom" (the mean and std below).
  std::string mode = "imagenet";
  std::vector<double> mean{0.485, 0.456, 0.406};
  std::vector<double> std{0.229, 0.224, 0.225};

  static Normalization imagenet() { return {}; }
  static Normalization reference() { return {"reference", {0.0, 0.0, 0.0}, {1.0, 1.0, 1.0}}; }

  /// Throws svanet::Error unless the mode is known and there are three
  /// means and three positive standard deviations.
  void validate() const;
};

}  // namespace svanet
