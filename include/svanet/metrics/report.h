#pragma once
/// @file
/// Writing an evaluation: summary.json, per_case.csv, per_object.csv,
/// size_bins.csv and report.html (one self-contained page, images embedded).

#include "svanet/metrics/reduce.h"

#include <torch/types.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace svanet::metrics {

/// What the report draws a case's overlay from.
struct CaseImages {
  /// (3, H, W) float RGB in [0, 1]; undefined draws the ground truth alone.
  torch::Tensor image;
  /// (H, W) uint8 label maps.
  torch::Tensor gt, pred;
};
/// Loads a case's images by id (only for the cases the report shows).
using CaseLoader = std::function<CaseImages(const std::string& id)>;

struct ReportOptions {
  std::string title = "svanet evaluation";
  /// What was evaluated, in a few words (run, checkpoint, split).
  std::string subject;
  /// Extra key/value lines shown under the title.
  std::vector<std::pair<std::string, std::string>> details;
  /// Overlays of the worst cases and of missed small objects (each).
  int64_t overlays = 6;
};

/// The headline numbers of a summary by name: dice, iou, precision, recall,
/// hd95, assd (default mode, foreground means), ref_miou, ref_mdice,
/// ref_recall, ref_precision, ref_f2, ref_mem, ref_mae (reference mode),
/// object_recall, object_precision, object_f1, object_dice (all objects).
std::map<std::string, double> headline(const Summary& summary);

/// The object bin of all foreground classes and all sizes.
const ObjectBin* all_objects(const Summary& summary);

/// summary.json: top-level keys svanet_version, cases, classes, options,
/// headline, reference, per_class, size_bins, objects.
std::string summary_json(const Summary& summary);
std::string per_case_csv(const std::vector<CaseRecord>& cases, const MetricOptions& options);
std::string per_object_csv(const std::vector<CaseRecord>& cases, const MetricOptions& options);
std::string size_bins_csv(const Summary& summary);
std::string report_html(const Summary& summary, const std::vector<CaseRecord>& cases,
                        const ReportOptions& options, const CaseLoader& load);

/// Writes the five files into `out_dir` (created), atomically.
void write_evaluation(const Summary& summary, const std::vector<CaseRecord>& cases,
                      const std::string& out_dir, const ReportOptions& options,
                      const CaseLoader& load);

/// The headline numbers of a summary.json written by write_evaluation.
std::map<std::string, double> read_headline(const std::string& summary_json_path);

}  // namespace svanet::metrics
