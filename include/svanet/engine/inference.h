#pragma once
/// @file
/// From logits to label maps, shared by validation during training and by
/// evaluation: the model runs at its training resolution (the official
/// evaluation resizes every image to it), reference-mode metrics are taken
/// there, and the logits are resized back (bilinear) to each image's native
/// size for everything else.

#include "svanet/data/loader.h"
#include "svanet/metrics/evaluator.h"
#include "svanet/models/segmentation_model.h"

#include <torch/types.h>

#include <vector>

namespace svanet::engine {

/// Logits (B, K, h, w) -> one (1, K, H_i, W_i) float map of scores per
/// sample at its native size (from batch.native_sizes, bilinear), on the
/// logits' device.
std::vector<torch::Tensor> native_scores(const torch::Tensor& logits, const data::Batch& batch);

/// Logits (B, K, h, w) -> one (H_i, W_i) uint8 label map per sample at its
/// native size, on the CPU: the argmax, or with per-class `thresholds` the
/// rule of svanet/inference/thresholds.h.
std::vector<torch::Tensor> native_labels(const torch::Tensor& logits, const data::Batch& batch,
                                         const std::vector<double>& thresholds = {});

/// Scores a batch: reference counts at the model's resolution against the
/// resized masks, everything else at native resolution against
/// batch.native_masks (the loader must keep them). Returns the native label
/// maps.
std::vector<torch::Tensor> add_batch(metrics::Evaluator& evaluator, const torch::Tensor& logits,
                                     const data::Batch& batch,
                                     const std::vector<double>& thresholds = {});

}  // namespace svanet::engine
