#pragma once
/// @file
/// Per-object (lesion-wise) matching between predicted and ground-truth
/// objects. An object is an 8-connected component of one class.
///
/// The rule (after BraTS 2023's lesion-wise metrics, without its dilation of
/// ground-truth lesions, which would merge neighbouring small objects):
/// - A ground-truth object G is compared with the union U of the predicted
///   components of its class that overlap it: its Dice and IoU are those of
///   G and U. It is *detected* when U is not empty and IoU(G, U) reaches the
///   matching threshold (0: any overlap); otherwise it is *missed* (Dice 0).
/// - Splits: several predicted components on one object count as one
///   detection (their union), and none of them is a false positive.
/// - Merges: a predicted component overlapping several objects detects each
///   of them; each object's Dice uses the whole component, so merging costs
///   Dice, not detections.
/// - A predicted component is a true positive when it overlaps a detected
///   object of its class, otherwise a *false positive*.
/// Ignored pixels (255 in the ground truth) belong to no object on either side.

#include <torch/types.h>

#include <cstdint>
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
  /// Against the union of the overlapping components of the other side.
  double dice = 0.0;
  double iou = 0.0;
  /// Number of overlapping components of the other side: more than one is a
  /// split (ground truth) or a merge (prediction).
  int64_t partners = 0;
};

struct MatchOptions {
  /// IoU an object's overlapping prediction must reach to count as
  /// detected; 0 means any overlap.
  double iou_threshold = 0.0;
};

/// Matches the objects of every foreground class (1 .. num_classes - 1) of
/// two (H, W) uint8 label maps; ground-truth records first, then predicted
/// components, each in class order.
std::vector<ObjectRecord> match_objects(const torch::Tensor& pred, const torch::Tensor& gt,
                                        int64_t num_classes, const MatchOptions& options = {});

}  // namespace svanet::metrics
