#pragma once
/// @file
/// The feature-guide bottleneck of each SvANet guide branch; the official
/// class is `FGBottleneck` (lib/model/segmentation/heads/module/fgModules.py).

#include "svanet/models/assemble_former.h"
#include "svanet/models/monte_carlo_attention.h"

#include <vector>

namespace svanet::models {

/// Options of FeatureGuideBottleneck.
struct FeatureGuideBottleneckOptions {
  explicit FeatureGuideBottleneckOptions(int64_t channels) : channels_(channels) {}
  TORCH_ARG(int64_t, channels);
  /// Monte Carlo attention between the 3x3 and the projecting 1x1 convolution
  /// (official `--fg_bottle_se 2`); off is `--fg_bottle_se 0`.
  TORCH_ARG(bool, monte_carlo_attention) = true;
  TORCH_ARG(std::vector<int64_t>, mc_pool_sizes) = std::vector<int64_t>({1, 2, 3});
  TORCH_ARG(bool, mc_shuffle) = true;
  /// AssembleFormer blocks after the residual (official `--fg_vit`); 0 = none.
  TORCH_ARG(int64_t, former_blocks) = 2;
};

/// 1x1 C -> 2C (BN, ReLU), 3x3 2C -> 2C (BN, ReLU), Monte Carlo attention,
/// 1x1 2C -> C (BN), residual add, then an AssembleFormer. Shape-preserving.
/// Parameters: `expand.*`, `spatial.*`, `attention.*`, `project.*`, `former.*`.
struct FeatureGuideBottleneckImpl : torch::nn::Module {
  explicit FeatureGuideBottleneckImpl(const FeatureGuideBottleneckOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

  FeatureGuideBottleneckOptions options;
  ConvNormAct expand{nullptr}, spatial{nullptr}, project{nullptr};
  MonteCarloAttention attention{nullptr};
  AssembleFormer former{nullptr};
};
TORCH_MODULE(FeatureGuideBottleneck);

}  // namespace svanet::models
