#pragma once
/// @file
/// Evaluations side by side (`svanet compare`): one row per run (the mean ±
/// sample standard deviation over its repeats), one column per headline
/// metric, as Markdown, CSV and LaTeX.

#include <string>
#include <vector>

namespace svanet::evaluation {

/// One row: a label and the summary.json files it averages (one per repeat).
struct CompareRow {
  std::string label;
  std::vector<std::string> summaries;
};

struct CompareTables {
  std::string markdown, csv, latex;
};

/// The table of `metrics` (headline names) over `rows`. A summary without
/// one of the metrics is an error naming the file and the metric.
CompareTables compare(const std::vector<CompareRow>& rows, const std::vector<std::string>& metrics);

}  // namespace svanet::evaluation
