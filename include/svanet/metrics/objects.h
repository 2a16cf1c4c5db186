#pragma once
/// @file
/// Per-object (lesion-wise) matching between predicted and ground-truth
/// objects. An object is an 8-connected component of one class; ignored
/// pixels (255 in the ground truth) belong to no object on either side.
///
/// Every command that counts objects (evaluate, calibrate, validation
/// during training, study, compare, the report, svanet-tiny-objects) pairs
/// them through match_objects with one MatchRule, named beside every number
/// it produced (summary.json's options.match, the report). Two rules:
///
/// - `iou:T` (the default, T = 0.1): one to one, as panoptic quality
///   (Kirillov et al., CVPR 2019) and panoptica's threshold matching. Every
///   (ground-truth object, predicted component) pair of a class whose IoU
///   reaches T is a candidate; candidates are taken in decreasing IoU (ties
///   in raster order of the objects' first pixels, then the components'),
///   each object and each component at most once. A matched object is
///   *detected*, with the Dice and IoU of its pair; an unmatched one is
///   *missed*. A component left unmatched is a *false positive*, whatever
///   its size: a prediction that floods the image pairs with nothing (its
///   IoU with a small object is tiny) and scores recall 0 and precision 0.
///   A second component on one object (a split) is a false positive; a
///   component over several objects (a merge) finds one of them at most.
/// - `overlap[:D]`: BraTS 2023's lesion-wise rule (rachitsaluja/
///   BraTS-2023-Metrics), any overlap after a dilation of D pixels (0 by
///   default; D = 1 or 3 in BraTS). Ground-truth objects whose D-pixel
///   dilations (3x3 square, D times) touch are one object; an object's
///   partners are the predicted components that touch its dilation. It is
///   detected when it has a partner, scored against the union of its
///   partners, and a component that touches no dilated object is a false
///   positive. A flood touches every object: this rule cannot tell it from
///   a good prediction, which is why it is not the default.

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace svanet::metrics {

/// One ground-truth object or one predicted component.
struct ObjectRecord {
  int64_t class_index = 0;
  /// true: a ground-truth object; false: a predicted component.
  bool ground_truth = true;
  int64_t area_px = 0;
  /// Area as a percentage of the image.
  double area_pct = 0.0;
  /// Bounding box.
  int64_t x = 0, y = 0, width = 0, height = 0;
  /// Ground truth: detected. Prediction: a true positive.
  bool matched = false;
  /// `iou:T`: against its matched partner or, unmatched, the component (or
  /// object) of the other side it has the highest IoU with (0 without one:
  /// how near it came). `overlap`: against the union of its partners.
  double dice = 0.0;
  double iou = 0.0;
  /// Overlapping (`overlap:D`: touching the dilation) components of the
  /// other side: more than one is a split (ground truth) or a merge
  /// (prediction).
  int64_t partners = 0;
};

/// How objects and components are paired (see the file comment).
struct MatchRule {
  enum class Kind { kIou, kOverlap };
  Kind kind = Kind::kIou;
  /// kIou: the IoU a pair must reach, in (0, 1].
  double iou = 0.1;
  /// kOverlap: the dilation of the ground-truth objects, in pixels.
  int64_t dilation = 0;

  /// `iou` (T = 0.1), `iou:T`, `overlap` or `overlap:D`; anything else
  /// throws svanet::Error saying what is accepted.
  static MatchRule parse(const std::string& text);
  /// The canonical text: `iou:0.1`, `overlap`, `overlap:3`.
  std::string to_string() const;
  /// One sentence for reports: when an object counts as found.
  std::string describe() const;
  /// Throws svanet::Error when a value is out of range.
  void validate() const;
  bool operator==(const MatchRule& o) const {
    return kind == o.kind && (kind == Kind::kIou ? iou == o.iou : dilation == o.dilation);
  }
  bool operator!=(const MatchRule& o) const { return !(*this == o); }
};

/// Matches the objects of every foreground class (1 .. num_classes - 1) of
/// two (H, W) label maps (255 in `gt` = ignored); ground-truth records
/// first, then predicted components, each in class order and, within a
/// class, in raster order of their first pixels.
std::vector<ObjectRecord> match_objects(const torch::Tensor& pred, const torch::Tensor& gt,
                                        int64_t num_classes, const MatchRule& rule = {});

}  // namespace svanet::metrics
