#pragma once
/// @file
/// The second stage of evaluation: reductions of case records. Each is a
/// function of a set of records, so a size-stratified or per-object
/// breakdown is the same reduction over a subset.
///
/// - Reference mode (`reference_metrics`): the official SvANet definitions
///   (OFFICIAL.md section c), what compares with the paper's tables. Pixel
///   counts are pooled over all cases per class, background included; the
///   class values are averaged with weights = the number of images whose
///   ground truth contains the class. Every value is a fraction (the paper
///   prints them x 100). The official code's 1e-7 guards are kept, so an
///   empty denominator gives 0. mEM and
///   mAE are corrected: computed per image and averaged over images (the
///   official code averages the E-measure per batch, divides the training
///   MAE by the epoch number and the tiny-object MAE by N twice).
/// - Default mode (`default_metrics`): every per-case metric of the
///   registry (svanet/metrics/registry.h) per case and per foreground
///   class, averaged over cases; NaN values (the rules of counts.h and
///   surface.h) are left out and the number of cases behind each mean is
///   given.
/// - Size bins (`image_size_bins`): the paper's image-level grouping by the
///   official largest-object ratio, cumulative (`ratio < r`, empty images
///   included, as the official tool) and disjoint, in both modes.
/// - Objects (`object_bins`): lesion-wise detection per class and object
///   size (objects.h has the matching rule).

#include "svanet/metrics/case.h"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace svanet::metrics {

/// Mean, standard deviation (sample, n - 1) and count of the non-NaN values.
struct Stat {
  double mean = 0.0;
  double std = 0.0;
  int64_t n = 0;
};
Stat summarize_values(const std::vector<double>& values);

struct ReferenceMetrics {
  int64_t images = 0;
  /// Weighted class means (the paper's numbers / 100).
  double miou = 0.0, mdice = 0.0, avg_recall = 0.0, avg_precision = 0.0, avg_f2 = 0.0;
  /// Mean E-measure.
  double mem = 0.0;
  /// Mean absolute error of the binary foreground.
  double mae = 0.0;
  /// Per class, background first, as fractions.
  std::vector<double> iou, dice, recall, precision, f2;
  /// Images whose ground truth contains each class (the weights).
  std::vector<int64_t> images_with_class;
};

ReferenceMetrics reference_metrics(const std::vector<const CaseRecord*>& cases,
                                   int64_t num_classes);

/// Default-mode metrics of one foreground class (fractions; distances in
/// the options' unit).
struct ClassSummary {
  int64_t class_index = 0;
  std::string name;
  /// Cases whose ground truth contains the class.
  int64_t cases_with_class = 0;
  /// Every per-case metric over the cases, by its registered name.
  std::map<std::string, Stat> values;

  /// The metric's statistics; n = 0 (and NaN) when it was not computed.
  Stat stat(const std::string& metric) const;
};

struct DefaultMetrics {
  /// One per foreground class.
  std::vector<ClassSummary> classes;
  /// The mean over foreground classes of each class mean (n = classes).
  ClassSummary mean;
};

DefaultMetrics default_metrics(const std::vector<const CaseRecord*>& cases,
                               const MetricOptions& options);

/// One image-level size bin.
struct ImageBin {
  std::string label;
  /// Largest-object ratio range (% of the image): [lower, upper).
  double lower = 0.0, upper = 0.0;
  /// Cumulative (`ratio < upper`) or disjoint.
  bool cumulative = true;
  int64_t images = 0;
  /// Cumulative bins: whether the bin holds every case (the official tool
  /// stops after the first such bin).
  bool complete = false;
  ReferenceMetrics reference;
  DefaultMetrics metrics;
};

/// The cumulative bins, then the disjoint ones; the last disjoint bin also
/// holds ratios at or above the last edge.
std::vector<ImageBin> image_size_bins(const std::vector<const CaseRecord*>& cases,
                                      const MetricOptions& options);

/// What every per-object metric is computed from: the objects and
/// components of a set of records, counted under the matching rule that
/// paired them (objects.h). Evaluation, calibration and validation add up
/// the same counts.
struct ObjectCounts {
  /// Ground-truth objects, those detected and missed, and those covered by
  /// several predicted components.
  int64_t gt_objects = 0, detected = 0, missed = 0, split = 0;
  /// Predicted components, true and false positives among them, and those
  /// overlapping several objects.
  int64_t predicted = 0, true_positives = 0, false_positives = 0, merged = 0;
  /// The summed Dice and IoU of the detected objects (each against its
  /// partner, or the union of its partners under `overlap`).
  double dice_sum = 0.0, iou_sum = 0.0;

  void add(const ObjectRecord& record);
  ObjectCounts& operator+=(const ObjectCounts& other);
};

/// The counts of the records.
ObjectCounts count_objects(const std::vector<ObjectRecord>& records);

/// detected / gt_objects: NaN without objects.
double object_recall(const ObjectCounts& c);
/// true positives / predicted: NaN without predicted components.
double object_precision(const ObjectCounts& c);
/// The harmonic mean of recall and precision: 0 when either is 0, even if
/// the other is undefined (objects but nothing predicted, or only false
/// positives); NaN when one is undefined and the other is not 0 (a size
/// bin whose components all matched objects of other sizes).
double object_f1(const ObjectCounts& c);
/// The mean per-object Dice over the ground-truth objects (missed = 0).
double object_dice(const ObjectCounts& c);
/// BraTS 2023's lesion-wise Dice: the summed Dice over (objects + false
/// positives).
double lesion_dice(const ObjectCounts& c);
/// Panoptic quality (Kirillov et al., CVPR 2019): the summed IoU of the
/// detected objects over (detected + missed / 2 + false positives / 2),
/// which is SQ x RQ; NaN with neither objects nor components.
double panoptic_quality(const ObjectCounts& c);
/// Segmentation quality: the mean IoU of the detected objects.
double segmentation_quality(const ObjectCounts& c);
/// Recognition quality: detected / (detected + missed / 2 + false
/// positives / 2), the detection F1 when matching is one to one.
double recognition_quality(const ObjectCounts& c);

/// Per-object detection in one object-size bin of one class (0 = all
/// foreground classes). Objects are binned by their own area, predicted
/// components by theirs.
struct ObjectBin : ObjectCounts {
  std::string label;
  /// Object area range, in `unit` (% of the image or pixels): [lower,
  /// upper); upper is +inf for the last bin and the "all" bin.
  double lower = 0.0, upper = 0.0;
  std::string unit = "%";
  int64_t class_index = 0;
  std::string class_name;
};

/// Labels of bins with these edges: "<e0", "e0-e1", ..., ">=e_last".
std::vector<std::string> bin_labels(const std::vector<double>& edges);

/// For every class (all foreground classes first, then each class): the
/// bins of options.object_bin_edges(), then "all" sizes.
std::vector<ObjectBin> object_bins(const std::vector<const CaseRecord*>& cases,
                                   const MetricOptions& options);

/// How much of the images each side labels foreground (any foreground
/// class, ignored pixels left out): what tells a flood or an empty
/// prediction apart from a segmentation, whatever the matching rule.
struct Coverage {
  /// Labelled pixels, and those the ground truth and the prediction label
  /// foreground; 0 pixels when unknown (a summary of svanet 0.1).
  int64_t pixels = 0, gt_pixels = 0, predicted_pixels = 0;
  /// Cases whose prediction labels over half their pixels foreground, and
  /// cases with ground-truth foreground but none predicted.
  int64_t flooded_cases = 0, empty_cases = 0;
};

Coverage coverage(const std::vector<const CaseRecord*>& cases);

/// Every reduction of a set of cases.
struct Summary {
  MetricOptions options;
  int64_t cases = 0;
  ReferenceMetrics reference;
  DefaultMetrics per_class;
  std::vector<ImageBin> size_bins;
  std::vector<ObjectBin> objects;
  Coverage coverage;
  /// Read from a summary.json of svanet 0.1 whose objects were matched by a
  /// rule this svanet no longer has (the union of the overlapping
  /// components at IoU >= T): "union-iou:T"; empty otherwise.
  std::string legacy_match;

  /// The matching rule of the objects: options.match, or legacy_match.
  std::string match() const;
  /// Whether that rule lets one predicted component find every object it
  /// touches (`overlap[:D]`), so that a flood can score well.
  bool matched_by_any_overlap() const;
};

Summary summarize(const std::vector<CaseRecord>& cases, const MetricOptions& options);

/// What the coverage says about the prediction, one sentence each, for the
/// report's warning cards, the console and summary.json: a flood (the
/// prediction covers over 3 times the ground truth's foreground, or over
/// half the pixels), images flooded one by one, nothing predicted. Empty
/// when none applies or the coverage is unknown.
std::vector<std::string> coverage_warnings(const Summary& summary);

/// The object bin of all foreground classes and all sizes.
const ObjectBin* all_objects(const Summary& summary);
/// A pointer into a temporary summary would dangle.
const ObjectBin* all_objects(Summary&& summary) = delete;

}  // namespace svanet::metrics
