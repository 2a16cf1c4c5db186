#pragma once
/// @file
/// ATen's process-wide algorithm switches (deterministic algorithms, cuDNN's
/// deterministic and benchmark modes) set for a scope and put back as they
/// were when it ends, so that a library call leaves no trace on the program
/// that made it.
///
///     {
///       svanet::runtime::DeterminismGuard guard(/*deterministic=*/true);
///       ...  // train
///     }  // the caller's settings again

namespace svanet::runtime {

/// The switches as one value.
struct AlgorithmFlags {
  bool deterministic_algorithms = false;
  /// With deterministic_algorithms: warn instead of failing on an operator
  /// that has no deterministic kernel.
  bool warn_only = false;
  bool cudnn_deterministic = false;
  bool cudnn_benchmark = false;

  /// The flags ATen holds now.
  static AlgorithmFlags current();
  /// Makes them ATen's.
  void apply() const;
  bool operator==(const AlgorithmFlags& other) const;
  bool operator!=(const AlgorithmFlags& other) const { return !(*this == other); }
};

/// Sets the flags for its lifetime and restores the previous ones after.
class DeterminismGuard {
 public:
  /// `deterministic`: deterministic algorithms everywhere (an operator
  /// without a deterministic kernel throws), cuDNN deterministic, no cuDNN
  /// benchmark. Otherwise cuDNN's benchmark mode is `cudnn_benchmark` and
  /// the rest is left as the caller had it.
  explicit DeterminismGuard(bool deterministic, bool cudnn_benchmark = false);
  ~DeterminismGuard();
  DeterminismGuard(const DeterminismGuard&) = delete;
  DeterminismGuard& operator=(const DeterminismGuard&) = delete;

 private:
  AlgorithmFlags saved_;
};

}  // namespace svanet::runtime
