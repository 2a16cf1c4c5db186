#pragma once
/// @file
/// Connected ground-truth objects of label maps, without OpenCV: the
/// objects that the per-object evaluation counts (each foreground class on
/// its own, 8-connected, ignored pixels belonging to none), for losses and
/// samplers that treat every object alike.

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace svanet::utils {

/// The objects of a batch of label maps.
struct Objects {
  /// (B, H, W) int64 on the CPU: 0 outside every object, k + 1 on the
  /// pixels of object k.
  torch::Tensor ids;
  /// Per object k: its image in the batch, its class and its area in pixels.
  std::vector<int64_t> image, label, area;

  int64_t count() const { return static_cast<int64_t>(area.size()); }
};

/// The 8-connected objects of every class in 1..num_classes-1 of `target`,
/// (B, H, W) or (H, W) integer class indices on any device (read on the
/// CPU); `ignore_index` and values outside [1, num_classes) belong to no
/// object. Objects are numbered image by image in raster order of their
/// first pixel.
Objects label_objects(const torch::Tensor& target, int64_t num_classes, int64_t ignore_index = 255);

}  // namespace svanet::utils
