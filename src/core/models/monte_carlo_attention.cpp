#include "svanet/models/monte_carlo_attention.h"

#include <torch/torch.h>

#include <algorithm>

namespace svanet::models {

namespace {

/// Rows [begin, end) of cell `i` of an adaptive average pool from `size` to `k`
/// (PyTorch's start = floor(i * size / k), end = ceil((i + 1) * size / k)).
std::pair<int64_t, int64_t> adaptive_cell(int64_t i, int64_t size, int64_t k) {
  return {i * size / k, ((i + 1) * size + k - 1) / k};
}

}  // namespace

MonteCarloAttentionImpl::MonteCarloAttentionImpl(const MonteCarloAttentionOptions& options_)
    : options(options_) {
  TORCH_CHECK(!options.pool_sizes().empty(), "MonteCarloAttention: pool_sizes must not be empty");
  for (int64_t k : options.pool_sizes()) {
    TORCH_CHECK(k >= 1, "MonteCarloAttention: pool sizes must be >= 1, got ", k);
  }
  const int64_t c = options.channels();
  // The official squeeze width rounds C // 4 (integer division) to a multiple of 8.
  const int64_t quarter = c / 4;
  const int64_t hidden =
      options.hidden_channels() > 0
          ? options.hidden_channels()
          : std::max<int64_t>(make_divisible(static_cast<double>(quarter), 8), 32);
  reduce = register_module(
      "reduce", ConvNormAct(ConvNormActOptions(c, hidden, 1).activation(Activation::kReLU)));
  expand = register_module(
      "expand", ConvNormAct(ConvNormActOptions(hidden, c, 1).activation(Activation::kSigmoid)));
}

torch::Tensor MonteCarloAttentionImpl::sample_descriptor(const torch::Tensor& x) {
  if (!is_training()) {
    return torch::adaptive_avg_pool2d(x, {1, 1});
  }
  const auto& sizes = options.pool_sizes();
  const int64_t k = sizes[static_cast<size_t>(
      torch::randint(static_cast<int64_t>(sizes.size()), {1}, torch::kLong).item<int64_t>())];
  if (k == 1) {
    return torch::adaptive_avg_pool2d(x, {1, 1});
  }
  const int64_t h = x.size(2);
  const int64_t w = x.size(3);
  const auto cell = torch::randint(k * k, {1}, torch::kLong).item<int64_t>();
  if (!options.shuffle()) {
    // (B, C, k, k) -> (B, C, k*k) -> one cell (B, C, 1, 1)
    return torch::adaptive_avg_pool2d(x, {k, k}).flatten(2).select(2, cell).view(
        {x.size(0), x.size(1), 1, 1});
  }
  // Pooling one cell of a uniformly shuffled map averages a uniformly random
  // subset of pixels whose size is the cell's; gather just those pixels.
  const auto [r0, r1] = adaptive_cell(cell / k, h, k);
  const auto [c0, c1] = adaptive_cell(cell % k, w, k);
  const int64_t count = (r1 - r0) * (c1 - c0);
  const auto index = torch::randperm(h * w, torch::kLong).narrow(0, 0, count).to(x.device());
  // (B, C, H, W) -> (B, C, H*W) -> (B, C, count) -> (B, C, 1, 1)
  return x.flatten(2).index_select(2, index).mean(-1).view({x.size(0), x.size(1), 1, 1});
}

torch::Tensor MonteCarloAttentionImpl::forward(const torch::Tensor& x) {
  return x * expand(reduce(sample_descriptor(x)));
}

}  // namespace svanet::models
