#pragma once
/// @file
/// Reading an evaluation's summary.json (written by write_evaluation) back
/// into typed records: what `svanet compare`, svanet-tiny-objects and the
/// trainer's reuse of an evaluation read, instead of each parsing keys of
/// its own. Errors name the file and the entry.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace svanet::evaluation {

/// One image-size bin (size_bins[] in summary.json): images whose
/// foreground covers a share of the image in [lower_pct, upper_pct), or
/// below upper_pct for cumulative bins.
struct SizeBinRecord {
  std::string label;
  double lower_pct = 0.0;
  /// NaN for the open last bin.
  double upper_pct = 0.0;
  bool cumulative = false;
  /// Every image falls below this cumulative bin's edge.
  bool complete = false;
  int64_t images = 0;
  /// Reference-mode metrics as the official tool names them: mIoU, mDice,
  /// mEM, mAE, AvgRecall, AvgPrecision, AvgF2Score (NaN where undefined).
  std::map<std::string, double> reference;
  /// svanet's metrics over the bin's images, averaged over the foreground
  /// classes as the headline's are (the class-0 entry of the bin's
  /// per_class): dice, iou, precision, recall, f2, hd95, assd, specificity
  /// (NaN where undefined).
  std::map<std::string, double> foreground;
};

/// One object-size bin of one class (objects[] in summary.json); class 0 is
/// all foreground classes together.
struct ObjectBinRecord {
  int64_t class_index = 0;
  std::string class_name;
  /// "<0.1", "0.1-0.5", ..., "all".
  std::string bin;
  /// gt_objects, detected, missed, split, predicted, false_positives,
  /// merged, recall, precision, f1, dice, lesion_dice (NaN where undefined).
  std::map<std::string, double> values;
};

struct SummaryRecord {
  std::string path;
  int64_t cases = 0;
  std::vector<std::string> classes;
  /// metrics::headline's names: dice, iou, ..., ref_miou, ..., object_dice.
  std::map<std::string, double> headline;
  std::vector<SizeBinRecord> size_bins;
  std::vector<ObjectBinRecord> objects;
  /// The unit of the object-size bins: "%" of the image or "px".
  std::string object_bins_unit = "%";
  /// The matching rule the objects were counted with (options.match):
  /// iou:T or overlap[:D]; a summary of svanet 0.1 (no options.match)
  /// counted with "any overlap" ("overlap") or, with a matching IoU T > 0,
  /// the union of the overlapping components at IoU >= T ("union-iou:T").
  std::string match = "iou:0.1";
};

/// Reads summary.json at `path`.
SummaryRecord read_summary(const std::string& path);

/// The headline numbers of the summary.json at `path`.
std::map<std::string, double> read_headline(const std::string& path);

}  // namespace svanet::evaluation
