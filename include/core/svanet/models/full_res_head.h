#pragma once
/// @file
/// A light full-resolution refinement of a model's logits, for objects a few
/// pixels wide. SvANet (as the paper's DeepLabv3 head) classifies at half the
/// input's resolution and resizes the logits bilinearly, so an object of 3 to
/// 8 pixels is drawn from 2 to 4 logit pixels, blurred by the interpolation.
/// This head looks at the image itself again: it fuses the half-resolution
/// logits with the stem's features (1/2) and with features of the input
/// (1/1), and adds a correction to the upsampled logits at full resolution.
/// Not in the paper (`model.options.full_res_head`, off by default).
///
/// Its last convolution starts at a hundredth of the default initialisation
/// and no bias, so an untrained head returns about the paper model's
/// upsampled logits (a model fine-tuned from a checkpoint without the head
/// starts about where that checkpoint was); training moves it from there.

#include "svanet/models/layers.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace svanet::models {

struct FullResHeadOptions {
  FullResHeadOptions(int64_t in_channels, int64_t stem_channels, int64_t num_classes)
      : in_channels_(in_channels), stem_channels_(stem_channels), num_classes_(num_classes) {}
  /// Channels of the (normalised) input image.
  TORCH_ARG(int64_t, in_channels);
  /// Channels of the half-resolution features (the encoder's stem).
  TORCH_ARG(int64_t, stem_channels);
  TORCH_ARG(int64_t, num_classes);
  /// Width of the refinement's convolutions.
  TORCH_ARG(int64_t, channels) = 8;
};

/// Parameters: `half.*` (3x3 on stem features and logits at 1/2), `image.*`
/// (3x3 on the input at 1/1), `fuse.*` (3x3 at 1/1 on both and the upsampled
/// logits), `out.*` (1x1 to the classes' corrections, initialised near zero).
struct FullResHeadImpl : torch::nn::Module {
  explicit FullResHeadImpl(const FullResHeadOptions& options);
  /// input (B, C_in, H, W), stem (B, C_stem, h, w) and logits (B, K, h, w),
  /// h and w about half of H and W -> logits (B, K, H, W).
  torch::Tensor forward(const torch::Tensor& input, const torch::Tensor& stem,
                        const torch::Tensor& logits);

  FullResHeadOptions options;
  ConvNormAct half{nullptr}, image{nullptr}, fuse{nullptr};
  torch::nn::Conv2d out{nullptr};
};
TORCH_MODULE(FullResHead);

}  // namespace svanet::models
