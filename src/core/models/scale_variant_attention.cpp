#include "svanet/models/scale_variant_attention.h"

#include <torch/torch.h>

namespace svanet::models {

ScaleVariantAttentionImpl::ScaleVariantAttentionImpl(const ScaleVariantAttentionOptions& options_)
    : options(options_) {
  const int64_t in = options.in_channels();
  const int64_t out = options.out_channels();
  const int64_t n = options.num_blocks();
  TORCH_CHECK(n >= 1, "ScaleVariantAttention: num_blocks must be >= 1, got ", n);
  TORCH_CHECK(options.pool_size() >= 1, "ScaleVariantAttention: pool_size must be >= 1, got ",
              options.pool_size());
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < n; ++i) {
    // Intermediate blocks keep the source width; the last one widens to the target's.
    blocks_.emplace_back(in, i + 1 < n ? in : out, 2);
    blocks->push_back(blocks_.back());
  }
  if (options.attention()) {
    squeeze = register_module("squeeze", torch::nn::ModuleList());
    for (int64_t i = 0; i <= n; ++i) {
      squeeze_.emplace_back(ConvNormActOptions(i < n ? in : out, out, 1));
      squeeze->push_back(squeeze_.back());
    }
    // Each cell belongs to one of the n + 1 scales, uniformly at random.
    const int64_t p = options.pool_size();
    auto assignment = torch::randint(n + 1, {p, p}, torch::kLong);
    region_masks = register_buffer(
        "region_masks", torch::one_hot(assignment, n + 1).permute({2, 0, 1}).to(torch::kFloat));
  }
}

torch::Tensor ScaleVariantAttentionImpl::forward(const torch::Tensor& x) {
  std::vector<torch::Tensor> scales{x};
  scales.reserve(blocks_.size() + 1);
  for (auto& block : blocks_) {
    scales.push_back(block(scales.back()));
  }
  if (!options.attention()) {
    return scales.back();
  }
  const int64_t p = options.pool_size();
  const auto num_scales = static_cast<int64_t>(scales.size());
  torch::Tensor masks;
  if (is_training()) {
    // Shuffle the cells of all masks with one permutation, then the masks' order.
    auto cells = torch::randperm(p * p, torch::kLong).to(region_masks.device());
    auto order = torch::randperm(num_scales, torch::kLong).to(region_masks.device());
    // (S, P, P) -> (S, P*P) -> permuted cells -> reordered scales -> (S, P, P)
    masks = region_masks.flatten(1).index_select(1, cells).index_select(0, order).view(
        {num_scales, p, p});
    masks = masks.to(x.dtype());
  }
  torch::Tensor attention;
  for (int64_t i = 0; i < num_scales; ++i) {
    // (B, C_i, H_i, W_i) -> (B, C_i, P, P) -> (B, C_out, P, P)
    auto pooled = squeeze_[static_cast<size_t>(i)](torch::adaptive_avg_pool2d(scales[i], {p, p}));
    if (masks.defined()) {
      pooled = pooled * masks[i];
    }
    attention = attention.defined() ? attention + pooled : pooled;
  }
  if (!is_training()) {
    attention = attention / static_cast<double>(num_scales);
  }
  // (B, C_out, P, P) -> (B, C_out, 1, 1) channel weights
  return scales.back() * torch::adaptive_avg_pool2d(attention, {1, 1}).sigmoid();
}

}  // namespace svanet::models
