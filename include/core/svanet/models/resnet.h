#pragma once
/// @file
/// ResNet encoders (He et al., 2016) returning every stage's features, as the
/// official `ResNet.forwardTuple` does.

#include "svanet/models/layers.h"

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>

#include <string>
#include <vector>

namespace svanet::models {

/// Options of ResNetEncoder.
struct ResNetEncoderOptions {
  /// `depth` is 18, 34 or 50.
  explicit ResNetEncoderOptions(int64_t depth = 50) : depth_(depth) {}
  TORCH_ARG(int64_t, depth);
  TORCH_ARG(int64_t, in_channels) = 3;
  /// Width of the stem and of the first stage's blocks (64 in the paper); the
  /// stages use width, 2x, 4x, 8x. Smaller widths make light variants.
  TORCH_ARG(int64_t, width) = 64;
  /// Number of stages to build, 4 or 5 (stage 1 is the 7x7 stem; 5 keeps
  /// layer4, the official `--fg_nostage5` drops it).
  TORCH_ARG(int64_t, num_stages) = 5;
};

/// A residual block: BasicBlock (ResNet-18/34) or Bottleneck (ResNet-50).
/// The stride sits on the 3x3 convolution (torchvision's v1.5).
struct ResidualBlockImpl : torch::nn::Module {
  ResidualBlockImpl(int64_t in_channels, int64_t planes, int64_t stride, bool bottleneck);
  torch::Tensor forward(const torch::Tensor& x);

  ConvNormAct conv1{nullptr}, conv2{nullptr}, conv3{nullptr}, downsample{nullptr};
  int64_t out_channels = 0;
};
TORCH_MODULE(ResidualBlock);

/// ResNet encoder: `forward` returns the output of each stage, stage 1 (stem,
/// stride 2) to stage 5 (layer4, stride 32). Parameters: `stem.*`,
/// `layer<k>.<i>.conv<j>.*`, `layer<k>.<i>.downsample.*`.
struct ResNetEncoderImpl : torch::nn::Module {
  explicit ResNetEncoderImpl(const ResNetEncoderOptions& options);
  std::vector<torch::Tensor> forward(const torch::Tensor& x);

  /// Output channels of each stage, stage 1 first.
  const std::vector<int64_t>& stage_channels() const { return channels_; }

  ResNetEncoderOptions options;
  ConvNormAct stem{nullptr};
  std::vector<torch::nn::Sequential> layers;
  /// Recompute each stage's activations in the backward pass
  /// (models/activation_checkpointing.h).
  bool checkpoint_stages = false;

 private:
  std::vector<int64_t> channels_;
};
TORCH_MODULE(ResNetEncoder);

}  // namespace svanet::models
