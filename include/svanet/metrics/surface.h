#pragma once
/// @file
/// Boundary distances between a predicted and a ground-truth region: the
/// 95th-percentile Hausdorff distance (HD95) and the average symmetric
/// surface distance (ASSD), in pixels or, with a pixel spacing, in mm.
///
/// Definitions (as MONAI's `compute_hausdorff_distance(percentile=95)` and
/// `compute_average_surface_distance(symmetric=True)`): a region's boundary
/// is its pixels with a 4-neighbour outside it (the image border counts as
/// outside); d(A -> B) are the Euclidean distances from every boundary pixel
/// of A to the nearest boundary pixel of B. HD95 = max(P95(d(P -> G)),
/// P95(d(G -> P))) with linear interpolation between ranks; ASSD = the mean
/// of d(P -> G) and d(G -> P) taken together. The normalised surface Dice
/// (NSD, Nikolov et al., J Med Internet Res 2021; MONAI's
/// `compute_surface_dice`) at a tolerance t is the share of both boundaries'
/// pixels within t of the other boundary: (#{d(P -> G) <= t} + #{d(G -> P)
/// <= t}) / (|P's boundary| + |G's boundary|). Boundaries are counted in
/// pixels (as MONAI's default), not in surface length.
///
/// Empty regions (written rules, unlike MONAI's NaN/inf, see MONAI #9095):
/// both empty gives NaN (the case is excluded from means); exactly one empty
/// — a missed object or a false alarm — gives the worst case, the image
/// diagonal, for every distance, and a surface Dice of 0.

#include <torch/types.h>

#include <array>

namespace svanet::metrics {

/// Pixel spacing (row, column), in mm; {1, 1} measures in pixels.
using Spacing = std::array<double, 2>;

struct SurfaceDistance {
  double hd95 = 0.0;
  double assd = 0.0;
  /// The plain (100th percentile) Hausdorff distance.
  double hausdorff = 0.0;
  /// The normalised surface Dice at the tolerance asked for.
  double surface_dice = 0.0;
};

/// Distances between two (H, W) masks (non-zero = inside).
/// `tolerance` (in the spacing's unit) is the surface Dice's.
SurfaceDistance surface_distance(const torch::Tensor& pred, const torch::Tensor& gt,
                                 const Spacing& spacing = {1.0, 1.0}, double tolerance = 1.0);

/// Exact Euclidean distance from every pixel of an (H, W) mask to the
/// nearest non-zero pixel (0 on them; +inf everywhere when there are none),
/// with anisotropic spacing (Felzenszwalb and Huttenlocher's separable
/// algorithm). (H, W) float64.
torch::Tensor distance_transform(const torch::Tensor& mask, const Spacing& spacing = {1.0, 1.0});

}  // namespace svanet::metrics
