#pragma once
/// @file
/// A streaming evaluator (accumulate, aggregate, reset), the one code path
/// of validation during training, multi-process validation and offline
/// evaluation:
///
///     metrics::Evaluator evaluator(options);
///     for (each case) evaluator.add(id, prediction, ground_truth);
///     metrics::Summary summary = evaluator.aggregate();
///
/// Processes exchange their records as bytes (serialize / merge_serialized)
/// and aggregate the union; a case seen twice (the distributed sampler pads
/// the last shard) counts once.

#include "svanet/metrics/reduce.h"

#include <mutex>
#include <string>
#include <vector>

namespace svanet::metrics {

class Evaluator {
 public:
  explicit Evaluator(MetricOptions options);

  /// Analyses one case (see analyze_case) and keeps its record. Safe to call
  /// from several threads.
  void add(const std::string& id, const torch::Tensor& pred, const torch::Tensor& gt,
           const torch::Tensor& reference_pred = torch::Tensor(),
           const torch::Tensor& reference_gt = torch::Tensor());
  /// Keeps an already analysed case.
  void add_record(CaseRecord record);

  /// Adds another evaluator's records (the same options).
  void merge(const Evaluator& other);
  /// The records as bytes, for sending to another process.
  std::string serialize() const;
  /// Adds records that serialize() produced.
  void merge_serialized(const std::string& bytes);

  /// Every reduction over the records kept so far (in id order, duplicates
  /// dropped, so the result does not depend on arrival order).
  Summary aggregate() const;
  /// The records in id order, duplicates dropped.
  std::vector<CaseRecord> records() const;
  /// Forgets every record.
  void reset();

  int64_t size() const;
  const MetricOptions& options() const { return options_; }

 private:
  MetricOptions options_;
  mutable std::mutex mutex_;
  std::vector<CaseRecord> records_;
};

}  // namespace svanet::metrics
