#pragma once
/// @file
/// Per-sample transforms: the paper's training augmentation, the evaluation
/// resize, and normalisation. Image and mask go through the same geometry
/// (masks with nearest-neighbour sampling and the ignore value as fill), and
/// every random draw comes from the generator the caller passes, so a seed
/// reproduces a sample exactly.

#include "svanet/common/normalization.h"

#include <torch/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace svanet::data {

/// Small-object-aware placement of the training crop (`data.sampling`). Off
/// by default: the paper's crops are uniform, and stay exactly so.
struct ObjectSampling {
  /// Share of the training crops placed on a ground-truth object, in [0, 1]:
  /// one of the image's objects (8-connected, one class each, as the
  /// evaluation counts them, after the resize and flip) is drawn, then one of
  /// its pixels uniformly, and the crop is placed so that this pixel falls
  /// at a uniform position in the crop's central half (then moved inside the
  /// image where needed). Images without objects get a uniform crop.
  double object_share = 0.0;
  /// How the object is drawn: "uniform" (every object of the image alike) or
  /// "inverse_area" (weight 1 / area: a 10-pixel object is drawn 100 times
  /// as often as a 1000-pixel one), capped by `weight_cap`.
  std::string weighting = "inverse_area";
  /// inverse_area: no object weighs more than weight_cap times the image's
  /// largest (weight 1 / max(area, largest area / weight_cap)); >= 1.
  double weight_cap = 100.0;
};

/// The official training augmentation (OFFICIAL.md section b), every step
/// switchable. Sizes derive from `size`, the model's nominal input size.
struct AugmentOptions {
  int64_t size = 512;
  /// Random short-side resize: the short side is drawn uniformly in
  /// [min_scale, max_scale] x size, the long side capped at max_long x size
  /// (bicubic for images, nearest for masks). 0 turns it off.
  double resize_min_scale = 0.5;
  double resize_max_scale = 1.5;
  double resize_max_long = 2.0;
  /// Horizontal flip probability.
  double hflip = 0.5;
  /// Random crop to size x size, padding smaller images (image fill 255,
  /// mask fill ignore, as the official RandomCrop with fill 255).
  bool crop = true;
  /// Gaussian blur probability, radius uniform in [0, blur_max_radius].
  double blur = 0.5;
  double blur_max_radius = 1.0;
  /// Photometric distortion: each op applied with this probability.
  double photometric = 0.5;
  double brightness = 0.125;  ///< factor in [1 - b, 1 + b]
  double contrast = 0.5;      ///< factor in [1 - c, 1 + c]
  double saturation = 0.5;    ///< factor in [1 - s, 1 + s]
  double hue = 0.05;          ///< shift in [-h, h] of a full turn
  double channel_shuffle = 0.5;
  /// Rotation by an angle uniform in [-d, d] degrees (image fill 0, mask fill
  /// ignore, nearest for masks); applied with probability `rotation_p`.
  double rotation_degrees = 10.0;
  double rotation_p = 1.0;
  /// Where crops are placed (uniformly unless asked).
  ObjectSampling sampling;
};

/// The weight of each object of areas `areas` under `sampling` (not
/// normalised): what the crop placement draws objects with.
std::vector<double> object_weights(const std::vector<int64_t>& areas,
                                   const ObjectSampling& sampling);

/// A transform of one (image, mask) pair.
class Transform {
 public:
  /// The training augmentation followed by normalisation.
  static Transform train(const AugmentOptions& augment, const Normalization& normalize);
  /// Evaluation: resize to size x size (bicubic image, nearest mask; 0 keeps
  /// the native size) and normalise.
  static Transform eval(int64_t size, const Normalization& normalize);

  /// Applies the transform to an image (3, H, W) float32 in [0, 1] and its
  /// mask (H, W) uint8, drawing from a generator seeded with `seed`.
  /// Returns the new image (3, h, w) float32 and mask (h, w) uint8.
  std::pair<torch::Tensor, torch::Tensor> operator()(const torch::Tensor& image,
                                                     const torch::Tensor& mask,
                                                     uint64_t seed) const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit Transform(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace svanet::data
