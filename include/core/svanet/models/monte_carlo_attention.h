#pragma once
/// @file
/// Monte Carlo attention (MCAttn), SvANet paper section III-B; the official
/// class is `MoCAttention` (lib/model/modules/mcattn.py).

#include "svanet/models/layers.h"

#include <vector>

namespace svanet::models {

/// Options of MonteCarloAttention.
struct MonteCarloAttentionOptions {
  explicit MonteCarloAttentionOptions(int64_t channels) : channels_(channels) {}
  TORCH_ARG(int64_t, channels);
  /// Hidden width of the excitation; 0 means the official
  /// `max(make_divisible(channels / 4, 8), 32)`.
  TORCH_ARG(int64_t, hidden_channels) = 0;
  /// Pooling resolutions sampled in training (official `--moc_pool_res`).
  /// `{1}` turns the block into a plain squeeze-and-excitation.
  TORCH_ARG(std::vector<int64_t>, pool_sizes) = std::vector<int64_t>({1, 2, 3});
  /// Shuffle pixels before pooling in training (official `MoCOrder`), so the
  /// sampled cell is a random subset of pixels rather than a fixed region.
  TORCH_ARG(bool, shuffle) = true;
};

/// Channel attention whose descriptor is drawn at random in training: a pool
/// resolution k from `pool_sizes`, then one cell of the k x k average pool of
/// the (pixel-shuffled) map. In eval it is the global average pool, i.e. a
/// deterministic squeeze-and-excitation. Parameters: `reduce.conv.*`,
/// `expand.conv.*` (1x1 convolutions with bias).
struct MonteCarloAttentionImpl : torch::nn::Module {
  explicit MonteCarloAttentionImpl(const MonteCarloAttentionOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

  /// The channel descriptor (B, C, 1, 1): sampled in training, global mean in eval.
  torch::Tensor sample_descriptor(const torch::Tensor& x);

  MonteCarloAttentionOptions options;
  ConvNormAct reduce{nullptr}, expand{nullptr};
};
TORCH_MODULE(MonteCarloAttention);

}  // namespace svanet::models
