#include "svanet/metrics/registry.h"

#include "svanet/common/error.h"

#include <cmath>
#include <cstdio>
#include <limits>

namespace svanet::metrics {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

Metric per_case(std::string name, std::string label, std::string description,
                std::function<double(const ClassRecord&)> f, MetricTraits traits = {}) {
  traits.scope = MetricScope::kCase;
  traits.label = std::move(label);
  return {std::move(name), std::move(description), {}, std::move(traits), {std::move(f), {}, {}}};
}

Metric per_bin(std::string name, std::string label, std::string description,
               std::function<double(const ObjectCounts&)> f, MetricTraits traits = {}) {
  traits.scope = MetricScope::kObjects;
  traits.label = std::move(label);
  return {std::move(name), std::move(description), {}, std::move(traits), {{}, std::move(f), {}}};
}

Metric pooled(std::string name, std::string label, std::string official, std::string description,
              std::function<double(const ReferenceMetrics&)> f, MetricTraits traits = {}) {
  traits.scope = MetricScope::kReference;
  traits.label = std::move(label);
  traits.official_name = std::move(official);
  if (traits.reference.empty()) {
    traits.reference = "Dai et al., IEEE TNNLS 2026 (the official code's statistics.py)";
  }
  return {std::move(name), std::move(description), {}, std::move(traits), {{}, {}, std::move(f)}};
}

MetricTraits featured(MetricTraits t = {}) {
  t.featured = true;
  return t;
}

MetricTraits distance(bool is_featured = false) {
  MetricTraits t;
  t.unit = MetricUnit::kDistance;
  t.higher_is_better = false;
  t.digits = 2;
  t.featured = is_featured;
  return t;
}

MetricTraits digits(int d, MetricTraits t = {}) {
  t.digits = d;
  return t;
}

MetricTraits cited(std::string reference, MetricTraits t = {}) {
  t.reference = std::move(reference);
  return t;
}

/// Refuses an entry whose function does not match its scope.
void check_entry(const Metric& m);

void add(MetricRegistry& r, Metric m) {
  check_entry(m);
  r.add(std::move(m));
}

void add_builtin(MetricRegistry& r) {
  // Per case and class, from pixel counts and boundary distances.
  add(r, per_case(
             "dice", "Dice", "2 TP / (2 TP + FP + FN) per case and class",
             [](const ClassRecord& c) { return dice(c.counts); },
             featured(cited("Dice, Ecology 1945; per case as MONAI's DiceMetric"))));
  add(r, per_case(
             "iou", "IoU", "TP / (TP + FP + FN) per case and class",
             [](const ClassRecord& c) { return iou(c.counts); }, featured(cited("Jaccard 1912"))));
  add(r, per_case("precision", "precision", "TP / (TP + FP) per case and class (pixels)",
                  [](const ClassRecord& c) { return precision(c.counts); }));
  add(r, per_case("recall", "recall", "TP / (TP + FN) per case and class (pixels)",
                  [](const ClassRecord& c) { return recall(c.counts); }));
  add(r, per_case(
             "f2", "F2", "F-beta with beta 2 per case and class (pixels)",
             [](const ClassRecord& c) { return f_beta(c.counts, 2.0); },
             cited("the paper's F2 score, per case")));
  add(r, per_case(
             "specificity", "specificity", "TN / (TN + FP) per case and class (pixels)",
             [](const ClassRecord& c) { return specificity(c.counts); }, digits(4)));
  add(r, per_case(
             "hd95", "HD95",
             "95th-percentile Hausdorff distance between the boundaries, per case and class",
             [](const ClassRecord& c) { return c.hd95; },
             cited("MONAI's compute_hausdorff_distance(percentile=95)", distance(true))));
  add(r, per_case(
             "assd", "ASSD", "average symmetric surface distance, per case and class",
             [](const ClassRecord& c) { return c.assd; },
             cited("MONAI's compute_average_surface_distance(symmetric=True)", distance())));
  add(r, per_case(
             "nsd", "surface Dice",
             "normalised surface Dice: the share of both boundaries within the tolerance "
             "(options.surface_tolerance) of the other, per case and class",
             [](const ClassRecord& c) { return c.nsd; },
             featured(cited("Nikolov et al., J Med Internet Res 2021; MONAI's "
                            "compute_surface_dice; Metrics Reloaded's boundary metric"))));

  // Per object, under the matching rule.
  const std::string objects =
      "objects matched by the evaluation's rule (summary.json options.match)";
  add(r, per_bin("object_recall", "object recall", "detected objects / ground-truth objects",
                 object_recall, featured(cited(objects))));
  add(r, per_bin("object_precision", "object precision",
                 "true-positive components / predicted components", object_precision,
                 featured(cited(objects))));
  add(r, per_bin("object_f1", "object F1", "the harmonic mean of object recall and precision",
                 object_f1, featured(cited(objects))));
  add(r, per_bin("object_dice", "per-object Dice",
                 "the mean Dice of the ground-truth objects (missed ones 0)", object_dice,
                 featured(cited(objects))));
  add(r, per_bin("object_pq", "PQ",
                 "panoptic quality: summed IoU of the detected objects / (detected + missed / 2 + "
                 "false positives / 2)",
                 panoptic_quality,
                 featured(cited("Kirillov et al., CVPR 2019; panoptica (BrainLesion/panoptica)"))));
  add(r, per_bin("object_sq", "SQ", "segmentation quality: the mean IoU of the detected objects",
                 segmentation_quality, cited("Kirillov et al., CVPR 2019")));
  add(r, per_bin("object_rq", "RQ",
                 "recognition quality: detected / (detected + missed / 2 + false positives / 2)",
                 recognition_quality, cited("Kirillov et al., CVPR 2019")));
  add(r, per_bin("object_lesion_dice", "lesion-wise Dice",
                 "summed per-object Dice / (objects + false positives)", lesion_dice,
                 cited("BraTS 2023 lesion-wise Dice")));

  // Reference mode: the paper's definitions.
  add(r, pooled(
             "ref_miou", "mIoU (paper)", "mIoU",
             "IoU of pixel counts pooled over the images, background included, classes "
             "weighted by the images containing them",
             [](const ReferenceMetrics& m) { return m.miou; }, featured()));
  add(r, pooled(
             "ref_mdice", "mDice (paper)", "mDice", "Dice pooled and weighted as ref_miou",
             [](const ReferenceMetrics& m) { return m.mdice; }, featured()));
  add(r,
      pooled("ref_recall", "recall (paper)", "AvgRecall", "recall pooled and weighted as ref_miou",
             [](const ReferenceMetrics& m) { return m.avg_recall; }));
  add(r, pooled("ref_precision", "precision (paper)", "AvgPrecision",
                "precision pooled and weighted as ref_miou",
                [](const ReferenceMetrics& m) { return m.avg_precision; }));
  add(r, pooled("ref_f2", "F2 (paper)", "AvgF2Score", "F2 pooled and weighted as ref_miou",
                [](const ReferenceMetrics& m) { return m.avg_f2; }));
  add(r, pooled(
             "ref_mem", "E-measure (paper)", "mEM",
             "the E-measure of the binary foreground, per image, averaged",
             [](const ReferenceMetrics& m) { return m.mem; },
             cited("Fan et al., IJCAI 2018; averaged per image (the official code per batch)")));
  MetricTraits mae = digits(4);
  mae.higher_is_better = false;
  add(r, pooled(
             "ref_mae", "MAE (paper)", "mAE",
             "mean absolute error of the binary foreground, per image, averaged",
             [](const ReferenceMetrics& m) { return m.mae; }, mae));
}

/// Refuses an entry whose function does not match its scope.
void check_entry(const Metric& m) {
  const auto& f = m.factory;
  const bool ok = m.traits.scope == MetricScope::kCase      ? static_cast<bool>(f.per_case)
                  : m.traits.scope == MetricScope::kObjects ? static_cast<bool>(f.per_bin)
                                                            : static_cast<bool>(f.pooled);
  SVANET_CHECK(ok, "metric '", m.name, "' is registered with the ", scope_name(m.traits.scope),
               " scope but without its function");
  SVANET_CHECK(!m.traits.label.empty(), "metric '", m.name, "' is registered without a label");
}

}  // namespace

MetricRegistry& metric_registry() {
  static MetricRegistry registry("metric", "metrics");
  static const bool builtins = (add_builtin(registry), true);
  (void)builtins;
  return registry;
}

void register_metric(Metric m) {
  add(metric_registry(), std::move(m));
}

std::vector<const Metric*> metrics_of(MetricScope scope) {
  std::vector<const Metric*> out;
  for (const Metric* m : metric_registry().entries()) {
    if (m->traits.scope == scope) out.push_back(m);
  }
  return out;
}

std::vector<const Metric*> featured_metrics(std::optional<MetricScope> scope) {
  std::vector<const Metric*> out;
  for (const Metric* m : metric_registry().entries()) {
    if (m->traits.featured && (!scope || m->traits.scope == *scope)) out.push_back(m);
  }
  return out;
}

const Metric& metric(const std::string& name) {
  return metric_registry().get(name);
}

double metric_value(const Metric& m, const Summary& s) {
  switch (m.traits.scope) {
    case MetricScope::kCase:
      return s.per_class.mean.stat(m.name).mean;
    case MetricScope::kObjects: {
      const ObjectBin* all = all_objects(s);
      return all != nullptr && m.factory.per_bin ? m.factory.per_bin(*all) : kNaN;
    }
    case MetricScope::kReference:
      return m.factory.pooled ? m.factory.pooled(s.reference) : kNaN;
  }
  return kNaN;
}

double metric_value(const Metric& m, const ImageBin& bin) {
  if (m.traits.scope == MetricScope::kCase) return bin.metrics.mean.stat(m.name).mean;
  if (m.traits.scope == MetricScope::kReference && m.factory.pooled) {
    return m.factory.pooled(bin.reference);
  }
  return kNaN;
}

std::map<std::string, double> headline(const Summary& s) {
  std::map<std::string, double> out;
  for (const Metric* m : metric_registry().entries()) out[m->name] = metric_value(*m, s);
  return out;
}

std::string format_metric(const Metric& m, double value, const std::string& missing) {
  if (!std::isfinite(value)) return missing;
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*f", m.traits.digits, value);
  return buffer;
}

std::string metric_title(const Metric& m, const std::string& distance_unit) {
  return m.traits.unit == MetricUnit::kDistance ? m.traits.label + " (" + distance_unit + ")"
                                                : m.traits.label;
}

std::string featured_text(const std::map<std::string, double>& values,
                          const std::string& distance_unit) {
  std::string out;
  for (const Metric* m : featured_metrics()) {
    const auto it = values.find(m->name);
    out += (out.empty() ? "" : ", ") + metric_title(*m, distance_unit) + " " +
           format_metric(*m, it == values.end() ? kNaN : it->second);
  }
  return out;
}

std::string unit_name(MetricUnit unit) {
  return unit == MetricUnit::kFraction ? "fraction" : "distance";
}

std::string scope_name(MetricScope scope) {
  switch (scope) {
    case MetricScope::kCase:
      return "case";
    case MetricScope::kObjects:
      return "objects";
    case MetricScope::kReference:
      return "reference";
  }
  return "case";
}

void convert_legacy_percentages(std::map<std::string, double>& values) {
  for (auto& [name, value] : values) {
    if (name.rfind("ref_", 0) == 0 && name != "ref_mae") value /= 100.0;
  }
}

}  // namespace svanet::metrics
