#pragma once
/// @file
/// Atrous spatial pyramid pooling, the DeepLabv3 head (Chen et al., 2017);
/// the official class is `ASPP` (heads/module/deeplabModules.py).

#include "svanet/models/layers.h"

#include <torch/nn/modules/container/modulelist.h>

#include <vector>

namespace svanet::models {

/// Options of ASPP.
struct ASPPOptions {
  ASPPOptions(int64_t in_channels, int64_t out_channels)
      : in_channels_(in_channels), out_channels_(out_channels) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  /// Dilation rates of the three 3x3 branches ((12, 24, 36) in the official code).
  TORCH_ARG(std::vector<int64_t>, rates) = std::vector<int64_t>({12, 24, 36});
  /// Dropout2d after the projection, training only.
  TORCH_ARG(double, dropout) = 0.1;
};

/// A 1x1 branch, one 3x3 branch per rate, and image pooling (global average,
/// 1x1 conv, bilinear back to the input size), concatenated and projected by
/// a 1x1 conv; every conv has BN and ReLU. Parameters: `branches.<i>.*`,
/// `pooling.*`, `project.*`.
///
/// The official model cannot train at batch size 1: BatchNorm of the pooled
/// 1x1 map then sees one value per channel. Here that single call normalises
/// with the running statistics instead (and leaves them untouched); eval mode
/// and every batch size above 1 are unchanged.
struct ASPPImpl : torch::nn::Module {
  explicit ASPPImpl(const ASPPOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

  ASPPOptions options;
  torch::nn::ModuleList branches;
  ConvNormAct pooling{nullptr}, project{nullptr};

 private:
  torch::Tensor pool_branch(const torch::Tensor& x);
  std::vector<ConvNormAct> branches_;
};
TORCH_MODULE(ASPP);

}  // namespace svanet::models
