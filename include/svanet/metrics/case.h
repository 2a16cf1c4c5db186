#pragma once
/// @file
/// The first stage of evaluation: everything the reductions need about one
/// case (an image with its prediction), computed once. Pixel counts per
/// class, boundary distances per foreground class, every object matched,
/// the E-measure, the MAE and the official largest-object ratio. The
/// reductions (svanet/metrics/reduce.h) only add and average these records,
/// so validation during training, multi-process validation and offline
/// evaluation share one path.

#include "svanet/metrics/counts.h"
#include "svanet/metrics/objects.h"
#include "svanet/metrics/surface.h"

#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace svanet::metrics {

/// What to compute and how to group it.
struct MetricOptions {
  /// Classes including background.
  int64_t num_classes = 2;
  /// Class names, background first (defaults to "class_<i>").
  std::vector<std::string> class_names;
  /// Pixel spacing (row, column) in mm for HD95 and ASSD; {1, 1} = pixels.
  Spacing spacing{1.0, 1.0};
  /// Units of the distances ("px" or "mm"), for reports.
  std::string distance_unit = "px";
  /// Boundary distances and the surface Dice (the costliest part).
  bool surface_distances = true;
  /// The surface Dice's tolerance, in the distances' unit; unset: one pixel
  /// (the larger spacing).
  std::optional<double> surface_tolerance;
  /// Per-object matching.
  bool objects = true;
  /// How objects are paired (objects.h): one to one at IoU 0.1 by default.
  MatchRule match;
  /// Image-level size bins: upper edges of the official largest-object
  /// ratio, % of the image, cumulative ("< r" includes every smaller bin).
  std::vector<double> image_bins_pct{0.5, 1, 2, 3, 5, 10, 100};
  /// Object-size bins: edges in % of the image (objects below the first
  /// edge, between edges, at or above the last)...
  std::vector<double> object_bins_pct{0.1, 0.5, 1, 5};
  /// ... or, when not empty, edges in pixels (then used instead).
  std::vector<double> object_bins_px;

  /// The object-size edges in use and their unit ("%" or "px").
  const std::vector<double>& object_bin_edges() const;
  std::string object_bin_unit() const;
  /// An object's size in that unit.
  double object_size(const ObjectRecord& object) const;
  /// The index of the object-size bin an object falls in: b with
  /// edges[b-1] <= size < edges[b] (0 below the first edge, edges.size() at
  /// or above the last).
  size_t object_bin(const ObjectRecord& object) const;

  /// The surface Dice's tolerance in use.
  double tolerance() const;

  /// The name of class `c` (class_names, or "class_<c>").
  std::string class_name(int64_t c) const;
  /// Throws svanet::Error naming the problem when options are inconsistent.
  void validate() const;
};

/// One class of one case.
struct ClassRecord {
  Counts counts;
  /// Boundary distances (foreground classes, when computed); NaN when the
  /// class is absent from both sides.
  double hd95 = 0.0;
  double assd = 0.0;
  /// Normalised surface Dice at the options' tolerance (surface.h's rules).
  double nsd = 0.0;
};

/// Everything about one case.
struct CaseRecord {
  std::string id;
  int64_t height = 0, width = 0;
  /// Official largest-object ratio of the ground truth (% of the image).
  double object_ratio = 0.0;
  /// Per class, background first, at native resolution.
  std::vector<ClassRecord> classes;
  /// Per-class counts for reference mode: at the model's resolution when the
  /// case was evaluated there (as the official code does), else the native
  /// counts.
  std::vector<Counts> reference_counts;
  /// E-measure and mean absolute error of the binary foreground (any class
  /// vs background), in reference mode's resolution.
  double e_measure = 0.0;
  double mae = 0.0;
  std::vector<ObjectRecord> objects;

  /// Whether class `c` occurs in the ground truth.
  bool has_class(int64_t c) const;
};

/// Analyses one case. `pred` and `gt` are (H, W) class-index maps (uint8 or
/// any integer type); 255 in `gt` marks ignored pixels. `reference_pred` and
/// `reference_gt`, when defined, are the same case at the model's
/// resolution, for reference mode. Predicted values outside [0,
/// num_classes) and shape mismatches throw svanet::Error naming `id`.
CaseRecord analyze_case(const std::string& id, const torch::Tensor& pred, const torch::Tensor& gt,
                        const MetricOptions& options,
                        const torch::Tensor& reference_pred = torch::Tensor(),
                        const torch::Tensor& reference_gt = torch::Tensor());

/// Per-class confusion counts of two (H, W) label maps (ignore excluded).
std::vector<Counts> class_counts(const torch::Tensor& pred, const torch::Tensor& gt,
                                 int64_t num_classes);

/// The E-measure (Fan et al., IJCAI 2018) of a binary prediction against a
/// binary ground truth over the pixels where `valid` is non-zero (all pixels
/// when undefined): the mean enhanced-alignment value, whose sum the
/// official code divides by (N - 1); an empty ground truth scores 1 - the
/// predicted fraction, a full one the predicted fraction.
double e_measure(const torch::Tensor& pred, const torch::Tensor& gt,
                 const torch::Tensor& valid = torch::Tensor());

}  // namespace svanet::metrics
