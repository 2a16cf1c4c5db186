#pragma once
/// @file
/// Metrics as registered data (torchmetrics' `Metric` with its
/// `higher_is_better`, panoptica's metric enum with name, direction and
/// range). A metric is declared once, here or in a user's own file, with
/// what it is computed from, how it is reduced, its unit and direction, its
/// label and its reference; every writer iterates the registry: the
/// headline, summary.json (its `metrics` entry describes each one), the
/// CSVs, the HTML report, progress.png, `train.select_metric`'s choices,
/// `svanet study` and `svanet compare`.
///
///     svanet::metrics::Metric m;
///     m.name = "balanced_accuracy";
///     m.description = "the mean of recall and specificity per case and class";
///     m.traits.scope = svanet::metrics::MetricScope::kCase;
///     m.traits.label = "balanced accuracy";
///     m.factory.per_case = [](const svanet::metrics::ClassRecord& r) {
///       return (svanet::metrics::recall(r.counts) + svanet::metrics::specificity(r.counts)) / 2;
///     };
///     svanet::metrics::register_metric(m);
///
/// One unit convention: every ratio is a fraction in [0, 1] (the paper's
/// x100 numbers included), shown with three decimals (four for specificity
/// and the MAE, which sit within 0.01 of 1 and 0); distances are in pixels,
/// or in mm with a pixel spacing. JSON and CSV files keep the exact values.

#include "svanet/metrics/reduce.h"
#include "svanet/registry/registry.h"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace svanet::metrics {

/// What a metric is computed from, which also says how it is reduced.
enum class MetricScope {
  /// Per case and foreground class, from its ClassRecord (pixel counts,
  /// boundary distances): the mean over the cases where it is defined (NaN
  /// left out) for each class, then the mean over the classes.
  kCase,
  /// Per object-size bin of each class, from its ObjectCounts (the
  /// matching rule's counts); the headline value is that of the bin of
  /// every foreground class and size.
  kObjects,
  /// From the reference-mode reduction (the paper's definitions: pixel
  /// counts pooled over the images, classes weighted by the images that
  /// contain them).
  kReference,
};

enum class MetricUnit {
  /// A ratio in [0, 1].
  kFraction,
  /// A boundary distance, in pixels or mm (MetricOptions::distance_unit).
  kDistance,
};

/// What an entry records beside its function.
struct MetricTraits {
  MetricScope scope = MetricScope::kCase;
  /// How tables, cards and charts title it ("Dice", "object recall").
  std::string label;
  MetricUnit unit = MetricUnit::kFraction;
  bool higher_is_better = true;
  /// Decimals shown: 3 for a fraction, 4 where it sits near 0 or 1, 2 for a
  /// distance (files keep the exact value).
  int digits = 3;
  /// Shown on the report's cards and in progress.png's validation panel,
  /// `svanet study`'s overall table and `svanet compare`'s default columns.
  bool featured = false;
  /// Where the definition comes from (a paper, a challenge, a library).
  std::string reference;
  /// kReference: the official tool's column name ("mIoU"), for
  /// svanet-tiny-objects' tables in the official layout.
  std::string official_name;
};

/// The function of an entry: the one of its scope.
struct MetricFunctions {
  std::function<double(const ClassRecord&)> per_case;
  std::function<double(const ObjectCounts&)> per_bin;
  std::function<double(const ReferenceMetrics&)> pooled;
  explicit operator bool() const {
    return static_cast<bool>(per_case) || static_cast<bool>(per_bin) || static_cast<bool>(pooled);
  }
};

using MetricRegistry = Registry<MetricFunctions, MetricTraits>;
using Metric = MetricRegistry::Entry;

/// Every metric: svanet's own are added the first time it is used.
MetricRegistry& metric_registry();

/// Adds a metric to the registry; an entry without a label, or without the
/// function of its scope, is refused (svanet::Error naming it), as is a
/// name already taken.
void register_metric(Metric m);

/// The registered metrics of one scope, in registration order.
std::vector<const Metric*> metrics_of(MetricScope scope);
/// The featured metrics, in registration order (of one scope when given).
std::vector<const Metric*> featured_metrics(std::optional<MetricScope> scope = std::nullopt);

/// The entry named `name`; an unknown name throws svanet::Error listing
/// the registered ones.
const Metric& metric(const std::string& name);

/// A metric's headline value in a summary (NaN where it is undefined or
/// was not computed: boundary metrics without surface distances, object
/// metrics without objects).
double metric_value(const Metric& m, const Summary& summary);
/// The value of a kCase or kReference metric over the images of one
/// image-size bin (NaN for kObjects metrics).
double metric_value(const Metric& m, const ImageBin& bin);

/// Every registered metric's headline value, by name.
std::map<std::string, double> headline(const Summary& summary);

/// A value with the metric's decimals; `missing` for NaN or infinity.
std::string format_metric(const Metric& m, double value, const std::string& missing = "n/a");
/// The label with its unit where the unit is not a fraction: "HD95 (px)".
std::string metric_title(const Metric& m, const std::string& distance_unit);
/// The featured metrics of `values` (headline values by name), each as
/// "title value": "Dice 0.812, IoU 0.700, HD95 (px) 3.10, ...".
std::string featured_text(const std::map<std::string, double>& values,
                          const std::string& distance_unit);
/// "fraction" or "distance".
std::string unit_name(MetricUnit unit);
/// "case", "objects" or "reference".
std::string scope_name(MetricScope scope);

/// Values of old files in the unit this svanet writes: svanet 0.1 wrote
/// the reference metrics (ref_*, but ref_mae) as percentages; divides
/// those of `values` by 100.
void convert_legacy_percentages(std::map<std::string, double>& values);

}  // namespace svanet::metrics
