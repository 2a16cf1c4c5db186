#pragma once
/// @file
/// Tensor-level inference: a model's logits for a batch of images, the way
/// evaluation and deployment run it (eval mode, no gradients, optional
/// flip test-time augmentation). Activation and thresholding happen after.

#include "svanet/models/segmentation_model.h"

#include <torch/types.h>

namespace svanet::inference {

/// Logits (B, num_classes, H, W) of a model for images (B, C, H, W),
/// without gradients, optionally averaged with the horizontally flipped
/// image's (test-time augmentation). The model's train/eval mode is the
/// caller's.
torch::Tensor predict_logits(models::SegmentationModelImpl& model, const torch::Tensor& images,
                             bool flip = false);

}  // namespace svanet::inference
