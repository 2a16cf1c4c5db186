#include "svanet/inference/sliding_window.h"

#include "svanet/common/error.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace svanet::inference {

std::vector<int64_t> tile_starts(int64_t size, int64_t tile, double overlap) {
  SVANET_CHECK(size > 0 && tile > 0, "sliding window: sizes must be positive, got image ", size,
               " and tile ", tile);
  SVANET_CHECK(overlap >= 0.0 && overlap < 1.0, "sliding window: overlap must be in [0, 1), got ",
               overlap);
  if (size <= tile) return {0};
  // The fewest tiles whose step does not exceed tile x (1 - overlap).
  const double max_step = std::max(1.0, static_cast<double>(tile) * (1.0 - overlap));
  const auto steps =
      static_cast<int64_t>(std::ceil(static_cast<double>(size - tile) / max_step - 1e-9));
  const double step = static_cast<double>(size - tile) / static_cast<double>(steps);
  std::vector<int64_t> starts;
  starts.reserve(static_cast<size_t>(steps + 1));
  for (int64_t i = 0; i <= steps; ++i) {
    starts.push_back(static_cast<int64_t>(std::lround(step * static_cast<double>(i))));
  }
  return starts;
}

torch::Tensor gaussian_importance(int64_t height, int64_t width, double sigma_scale) {
  SVANET_CHECK(height > 0 && width > 0, "sliding window: tile sizes must be positive");
  SVANET_CHECK(sigma_scale > 0.0, "sliding window: sigma_scale must be positive, got ",
               sigma_scale);
  auto axis = [sigma_scale](int64_t n) {
    const auto x = torch::arange(n, torch::kDouble) - static_cast<double>(n - 1) / 2.0;
    const double sigma = sigma_scale * static_cast<double>(n);
    return torch::exp(-x * x / (2.0 * sigma * sigma));
  };
  auto map = axis(height).unsqueeze(1) * axis(width).unsqueeze(0);
  map = map / map.max();
  // Far corners of a large tile underflow towards 0; keep every covered
  // pixel's weight positive so the average is defined everywhere.
  return map.clamp_min(1e-3).to(torch::kFloat);
}

torch::Tensor sliding_window(const TileFunction& function, const torch::Tensor& images,
                             const SlidingWindowOptions& options) {
  SVANET_CHECK(images.dim() == 4, "sliding window: images must be (B, C, H, W), got ", images.dim(),
               " dimensions");
  SVANET_CHECK(options.batch >= 1, "sliding window: batch must be >= 1, got ", options.batch);
  const auto [tile_h, tile_w] = options.tile;
  const int64_t height = images.size(2), width = images.size(3);
  // Pad up to one tile so that every tile has the model's input size.
  const int64_t pad_h = std::max<int64_t>(0, tile_h - height);
  const int64_t pad_w = std::max<int64_t>(0, tile_w - width);
  const auto padded =
      (pad_h > 0 || pad_w > 0) ? torch::constant_pad_nd(images, {0, pad_w, 0, pad_h}, 0.0) : images;
  const int64_t full_h = padded.size(2), full_w = padded.size(3);

  struct Tile {
    int64_t y, x;
  };
  std::vector<Tile> tiles;
  for (int64_t y : tile_starts(full_h, tile_h, options.overlap)) {
    for (int64_t x : tile_starts(full_w, tile_w, options.overlap)) tiles.push_back({y, x});
  }

  const auto float_options = torch::TensorOptions().dtype(torch::kFloat).device(images.device());
  const auto weight =
      options.gaussian ? gaussian_importance(tile_h, tile_w, options.sigma_scale).to(float_options)
                       : torch::ones({tile_h, tile_w}, float_options);
  torch::Tensor sum;  // (B, K, full_h, full_w), allocated once K is known
  auto weights = torch::zeros({full_h, full_w}, float_options);
  const int64_t batch = images.size(0);
  for (size_t first = 0; first < tiles.size(); first += static_cast<size_t>(options.batch)) {
    const size_t last = std::min(tiles.size(), first + static_cast<size_t>(options.batch));
    std::vector<torch::Tensor> crops;
    for (size_t i = first; i < last; ++i) {
      crops.push_back(padded.narrow(2, tiles[i].y, tile_h).narrow(3, tiles[i].x, tile_w));
    }
    // Tiles of all images together: (n_tiles x B, C, tile_h, tile_w).
    const auto out = function(torch::cat(crops, 0));
    SVANET_CHECK(out.dim() == 4 && out.size(0) == static_cast<int64_t>(crops.size()) * batch &&
                     out.size(2) == tile_h && out.size(3) == tile_w,
                 "sliding window: the function must return (N, K, ", tile_h, ", ", tile_w,
                 ") for tiles (N, C, ", tile_h, ", ", tile_w, "), got ", out.sizes());
    if (!sum.defined()) sum = torch::zeros({batch, out.size(1), full_h, full_w}, float_options);
    const auto weighted = out.to(torch::kFloat) * weight;
    for (size_t i = first; i < last; ++i) {
      const auto part = weighted.narrow(0, static_cast<int64_t>(i - first) * batch, batch);
      sum.narrow(2, tiles[i].y, tile_h).narrow(3, tiles[i].x, tile_w).add_(part);
      weights.narrow(0, tiles[i].y, tile_h).narrow(1, tiles[i].x, tile_w).add_(weight);
    }
  }
  return (sum / weights).narrow(2, 0, height).narrow(3, 0, width).contiguous();
}

}  // namespace svanet::inference
