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

/// The table of `metrics` (registered names, svanet/metrics/registry.h)
/// over `rows`, each with its decimals; an unknown name is an error listing
/// the registered ones. A value a summary lacks (a metric it predates) is
/// n/a. When the rows' objects were matched by different rules, a `match`
/// column says by which (the CSV always has it).
CompareTables compare(const std::vector<CompareRow>& rows, const std::vector<std::string>& metrics);

/// The featured metrics: `svanet compare`'s default columns.
std::vector<std::string> default_compare_metrics();

}  // namespace svanet::evaluation
