#pragma once
/// @file
/// Small building blocks shared by every model: convolution + BatchNorm +
/// activation, stochastic depth and channel rounding.

#include "svanet/models/batch_norm.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace svanet::models {

/// Activation applied after a convolution (and its normalisation).
enum class Activation { kNone, kReLU, kSiLU, kSigmoid };

/// Applies an activation; ReLU, SiLU and sigmoid run in place on `x`.
torch::Tensor apply_activation(torch::Tensor x, Activation act);

/// Rounds `value` to a multiple of `divisor`, never going more than 10 % below
/// it (the MobileNet rule, `makeDivisible` in the official code).
int64_t make_divisible(double value, int64_t divisor);

/// BatchNorm epsilon of the official `BaseConv2d` (not PyTorch's 1e-5).
inline constexpr double kConvBnEps = 1e-3;

/// Options of ConvNormAct.
struct ConvNormActOptions {
  ConvNormActOptions(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, kernel_size);
  TORCH_ARG(int64_t, stride) = 1;
  /// Dilation; the padding is always `(kernel_size - 1) / 2 * dilation`.
  TORCH_ARG(int64_t, dilation) = 1;
  /// Transposed convolution (stride 2 doubles the size: output padding stride - 1).
  TORCH_ARG(bool, transposed) = false;
  /// BatchNorm after the convolution (eps 1e-3, momentum 0.1).
  TORCH_ARG(bool, batch_norm) = false;
  /// Convolution bias; by default only when there is no BatchNorm.
  TORCH_ARG(c10::optional<bool>, bias) = c10::nullopt;
  TORCH_ARG(Activation, activation) = Activation::kNone;
};

/// Convolution, optional BatchNorm, optional activation: the official
/// `BaseConv2d` (and `TransposeConvLayer2d` when transposed).
/// Parameters: `conv.weight`, `conv.bias`, `bn.*`.
struct ConvNormActImpl : torch::nn::Module {
  explicit ConvNormActImpl(const ConvNormActOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

  /// Folds the BatchNorm's running statistics and affine parameters into the
  /// convolution (weight scaled per output channel, bias added) and removes
  /// the BatchNorm: the same eval-mode output in one pass instead of two.
  /// Irreversible (training afterwards would no longer normalise); returns
  /// false, changing nothing, without BatchNorm or for a transposed
  /// convolution.
  bool fold_batchnorm();

  ConvNormActOptions options;
  torch::nn::Conv2d conv{nullptr};
  torch::nn::ConvTranspose2d deconv{nullptr};
  SyncBatchNorm2d bn{nullptr};
};
TORCH_MODULE(ConvNormAct);

/// 3x3 convolution (optionally strided) + BN + ReLU, then 1x1 convolution +
/// BN + ReLU: the official `BasicBlock` of the feature-guide head (not the
/// ResNet one). Parameters: `conv3x3.*`, `conv1x1.*`.
struct ConvBlockImpl : torch::nn::Module {
  ConvBlockImpl(int64_t in_channels, int64_t out_channels, int64_t stride = 1);
  torch::Tensor forward(const torch::Tensor& x);

  ConvNormAct conv3x3{nullptr}, conv1x1{nullptr};
};
TORCH_MODULE(ConvBlock);

/// Folds every ConvNormAct's BatchNorm under `module` into its convolution
/// (see ConvNormActImpl::fold_batchnorm) for inference; returns how many
/// were folded. The module must be in eval mode (it throws otherwise).
int64_t fold_batchnorm(torch::nn::Module& module);

/// Bilinear resize of (B, C, H, W) to (B, C, height, width); a no-op when the
/// size already matches.
torch::Tensor resize_bilinear(const torch::Tensor& x, int64_t height, int64_t width,
                              bool align_corners);

/// Stochastic depth ("row" mode of torchvision): in training, zeroes whole
/// samples with probability `p` and rescales the rest by 1 / (1 - p).
torch::Tensor drop_path(const torch::Tensor& x, double p, bool training);

}  // namespace svanet::models
