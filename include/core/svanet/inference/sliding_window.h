#pragma once
/// @file
/// Sliding-window inference at native resolution, as nnU-Net and MONAI do
/// it: the image is covered by overlapping tiles of the model's input size,
/// each tile's output is weighted by a Gaussian centred on the tile (so tile
/// borders, where a network sees the least context, count the least), and
/// the weighted outputs are averaged. Works over any callable, so a model,
/// a model with test-time augmentation or a test's stand-in all slide alike.

#include <torch/types.h>

#include <array>
#include <cstdint>
#include <functional>
#include <vector>

namespace svanet::inference {

/// Maps a batch (B, C, h, w) to outputs (B, K, h, w) of the same size.
using TileFunction = std::function<torch::Tensor(const torch::Tensor&)>;

struct SlidingWindowOptions {
  /// Tile height and width (the model's training input size).
  std::array<int64_t, 2> tile{512, 512};
  /// Fraction of a tile shared with its neighbour, in [0, 1).
  double overlap = 0.5;
  /// Tiles per call of the function.
  int64_t batch = 4;
  /// Gaussian weighting with sigma = sigma_scale x tile size; false weighs
  /// every pixel of a tile the same.
  bool gaussian = true;
  double sigma_scale = 0.125;
};

/// The start offsets of tiles of `tile` pixels covering `size` pixels with
/// at least `overlap` shared between neighbours: evenly spread from 0 to
/// size - tile (a single 0 when the tile covers everything).
std::vector<int64_t> tile_starts(int64_t size, int64_t tile, double overlap);

/// The (h, w) importance map of a tile: a Gaussian peaking at 1 in the
/// centre, clamped away from 0 so that no covered pixel has weight 0.
torch::Tensor gaussian_importance(int64_t height, int64_t width, double sigma_scale);

/// Applies `function` tile by tile over images (B, C, H, W) and returns the
/// importance-weighted average (B, K, H, W), float32 on the images' device.
/// Images smaller than a tile are padded with zeros (after normalisation:
/// the dataset mean) and the padding cropped from the result. Throws
/// svanet::Error on a bad option or a function whose output has another
/// spatial size than its input.
torch::Tensor sliding_window(const TileFunction& function, const torch::Tensor& images,
                             const SlidingWindowOptions& options);

}  // namespace svanet::inference
