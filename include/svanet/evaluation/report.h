#pragma once
/// @file
/// Writing an evaluation: summary.json, per_case.csv, per_object.csv,
/// size_bins.csv and report.html (one self-contained page, images embedded,
/// charts of object recall, per-object Dice and precision by object size).
/// svanet/evaluation/summary.h reads summary.json back; compare.h puts
/// several evaluations side by side.

#include "svanet/metrics/reduce.h"

#include <torch/types.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace svanet::evaluation {

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

/// per_case.csv: one row per case and foreground class, every per-case
/// metric of the registry a column.
std::string per_case_csv(const std::vector<metrics::CaseRecord>& cases,
                         const metrics::MetricOptions& options);
std::string per_object_csv(const std::vector<metrics::CaseRecord>& cases,
                           const metrics::MetricOptions& options);
/// size_bins.csv: one row per image-size bin, the reference and per-case
/// metrics of the registry (the latter as foreground means) its columns.
std::string size_bins_csv(const metrics::Summary& summary);
std::string report_html(const metrics::Summary& summary,
                        const std::vector<metrics::CaseRecord>& cases, const ReportOptions& options,
                        const CaseLoader& load);

/// Writes the five files (summary.json by evaluation::summary_to_json) into
/// `out_dir` (created), atomically.
void write_evaluation(const metrics::Summary& summary,
                      const std::vector<metrics::CaseRecord>& cases, const std::string& out_dir,
                      const ReportOptions& options, const CaseLoader& load);

}  // namespace svanet::evaluation
