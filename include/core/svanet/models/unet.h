#pragma once
/// @file
/// The classic U-Net (Ronneberger et al., MICCAI 2015) with BatchNorm, as a
/// baseline for small-object segmentation.

#include "svanet/models/layers.h"
#include "svanet/models/segmentation_model.h"
#include "svanet/registry/options.h"

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

#include <vector>

namespace svanet::models {

/// Options of UNet.
struct UNetOptions {
  explicit UNetOptions(int64_t num_classes = 2) : num_classes_(num_classes) {}
  TORCH_ARG(int64_t, num_classes);
  TORCH_ARG(int64_t, in_channels) = 3;
  /// Width of the first level; each deeper level doubles it.
  TORCH_ARG(int64_t, base_channels) = 64;
  /// Number of 2x down-samplings (4 in the original).
  TORCH_ARG(int64_t, depth) = 4;
};

/// The options a registered U-Net takes by name (all but num_classes and
/// in_channels).
const Fields<UNetOptions>& unet_option_fields();

/// Two (3x3 conv, BN, ReLU) layers per level, 2x2 max pooling down, 2x2
/// transposed convolution up, skip concatenation, 1x1 classifier. Inputs
/// whose sides are not multiples of 2^depth are zero-padded and the logits
/// cropped back. Parameters: `down.<i>.*`, `up.<i>.*`, `decode.<i>.*`,
/// `classifier.*`.
struct UNetImpl : SegmentationModelImpl {
  explicit UNetImpl(const UNetOptions& options);
  torch::Tensor forward(const torch::Tensor& x) override;

  int64_t num_classes() const override { return options.num_classes(); }
  int64_t in_channels() const override { return options.in_channels(); }

  UNetOptions options;

 private:
  std::vector<torch::nn::Sequential> down_, decode_;
  std::vector<torch::nn::ConvTranspose2d> up_;
  ConvNormAct classifier_{nullptr};
};
TORCH_MODULE(UNet);

}  // namespace svanet::models
