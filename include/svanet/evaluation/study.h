#pragma once
/// @file
/// A study side by side (`svanet study`): one row per run (the mean and
/// sample standard deviation over its repeats), with the featured metrics
/// of the registry (svanet/metrics/registry.h) overall and on the
/// ultra-small images, each featured per-object metric by object size, and
/// each model's parameters, MACs and training speed; the differences to a
/// reference row; as Markdown, CSV and LaTeX, and study.png (each featured
/// per-object metric by object size, one line per run).
///
///     svanet::evaluation::StudyOptions options;
///     options.reference = "full";
///     auto study = svanet::evaluation::make_study(
///         {{"full", svanet::engine::run_summaries("runs/ablation/full")},
///          {"no_svattn", svanet::engine::run_summaries("runs/ablation/no_svattn")}},
///         options);
///     svanet::evaluation::write_study(study, "runs/ablation/study");

#include "svanet/metrics/reduce.h"

#include <string>
#include <vector>

namespace svanet::evaluation {

/// One row: a label and the summary.json files it averages (one per
/// repeat; engine::run_summaries finds them in a run folder). Each file's
/// run folder (the parent of its evaluation folder) gives metrics.csv and
/// config.yaml for the cost columns.
struct StudyRun {
  std::string label;
  std::vector<std::string> summaries;
};

struct StudyOptions {
  /// The split the summaries evaluate (for the titles).
  std::string split = "test";
  /// The label of the row the differences are taken to; empty: none.
  std::string reference;
  /// The cumulative image-size bin (summary.json size_bins[].label) whose
  /// images count as ultra-small: those whose foreground covers under 1 %.
  std::string ultra_small_bin = "<1";
  /// Count each run's parameters and MACs by building its model from the
  /// run's config.yaml (one forward pass at the model's image size).
  bool model_cost = true;
};

/// One column of the tables.
struct StudyColumn {
  /// The CSV name: a metric's ("dice"), on the ultra-small images
  /// ("us_ref_miou"), or by object size ("object_recall_<0.1").
  std::string key;
  /// The header in the Markdown and LaTeX tables.
  std::string title;
  /// Decimals shown (the CSV keeps full precision).
  int digits = 4;
};

/// A titled group of columns: one Markdown and LaTeX table each.
struct StudySection {
  std::string title;
  std::vector<StudyColumn> columns;
  /// A per-object section: the metric its columns give by object-size bin
  /// (charted in study.png); empty for the others.
  std::string object_metric;
};

struct StudyRow {
  std::string label;
  /// The summary.json files averaged (one per repeat).
  std::vector<std::string> summaries;
  /// values[section][column], over the repeats; n = 0 where a value is
  /// missing (an evaluation folder has no training speed or model, a bin
  /// without objects no recall).
  std::vector<std::vector<metrics::Stat>> values;
};

struct Study {
  std::vector<StudySection> sections;
  std::vector<StudyRow> rows;
  /// The object-size bins of the per-object columns, smallest first, and
  /// their unit ("%" of the image or "px").
  std::vector<std::string> object_bins;
  std::string object_bins_unit;
  /// The matching rule every summary counted its objects with.
  std::string match;
  /// Ground-truth objects in each of those bins (first row's first summary).
  std::vector<int64_t> object_counts;
  std::string split;
  std::string ultra_small_bin;
  /// Images in the ultra-small bin (of the first row's first summary).
  int64_t ultra_small_images = 0;
  /// Index of the reference row, or -1.
  int64_t reference = -1;

  std::string markdown() const;
  std::string csv() const;
  std::string latex() const;
};

/// Reads every run's evaluation (and, with model_cost, its model) into a
/// study. Errors name the run and the file: a run without an evaluation,
/// summaries whose object-size bins or matching rules differ, an unknown reference label,
/// two rows with one label, a missing ultra-small bin.
Study make_study(const std::vector<StudyRun>& runs, const StudyOptions& options = {});

/// study.md, study.csv, study.tex and study.png in `out_dir` (created when
/// missing), each written atomically.
void write_study(const Study& study, const std::string& out_dir);

}  // namespace svanet::evaluation
