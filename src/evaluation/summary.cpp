#include "svanet/evaluation/summary.h"

#include "svanet/common/error.h"
#include "svanet/metrics/registry.h"
#include "svanet/utils/atomic_file.h"
#include "svanet/utils/text.h"
#include "svanet/version.h"
#include "utils/json_number.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>

namespace svanet::evaluation {

// This file writes and reads the reductions of svanet/metrics.
using namespace metrics;  // NOLINT(google-build-using-namespace)

namespace {

using nlohmann::json;
using utils::json_number;

constexpr const char* kFormat = "svanet.evaluation";
constexpr double kInf = std::numeric_limits<double>::infinity();

/// An upper bin edge: +inf is written as null.
double upper_edge(const json& j) {
  const double v = json_number(j);
  return std::isnan(v) ? kInf : v;
}

json stat_json(const Stat& s) {
  return {{"mean", json_number(s.mean)}, {"std", json_number(s.std)}, {"n", s.n}};
}

Stat stat_from_json(const json& j) {
  return {json_number(j.at("mean")), json_number(j.at("std")), j.at("n").get<int64_t>()};
}

json class_json(const ClassSummary& c) {
  json j = {{"class", c.class_index}, {"name", c.name}, {"cases_with_class", c.cases_with_class}};
  for (const auto& [name, stat] : c.values) j[name] = stat_json(stat);
  return j;
}

ClassSummary class_from_json(const json& j) {
  ClassSummary c;
  c.class_index = j.at("class").get<int64_t>();
  c.name = j.at("name").get<std::string>();
  c.cases_with_class = j.at("cases_with_class").get<int64_t>();
  for (const auto& [key, value] : j.items()) {
    if (value.is_object() && value.contains("mean")) c.values[key] = stat_from_json(value);
  }
  return c;
}

/// per_class: the foreground classes, then their mean (class 0).
json default_json(const DefaultMetrics& d) {
  json out = json::array();
  for (const auto& c : d.classes) out.push_back(class_json(c));
  out.push_back(class_json(d.mean));
  return out;
}

DefaultMetrics default_from_json(const json& j) {
  DefaultMetrics d;
  for (const auto& c : j) {
    ClassSummary s = class_from_json(c);
    (s.class_index == 0 ? d.mean : d.classes.emplace_back()) = std::move(s);
  }
  return d;
}

/// The values of every registered metric of `scope`, `value` giving each.
template <typename Value>
json metric_values(MetricScope scope, const Value& value) {
  json out = json::object();
  for (const Metric* m : metrics_of(scope)) out[m->name] = json_number(value(*m));
  return out;
}

json reference_json(const ReferenceMetrics& r, const MetricOptions& o) {
  json classes = json::array();
  for (size_t c = 0; c < r.iou.size(); ++c) {
    classes.push_back({{"class", c},
                       {"name", o.class_name(static_cast<int64_t>(c))},
                       {"images_with_class", r.images_with_class[c]},
                       {"iou", json_number(r.iou[c])},
                       {"dice", json_number(r.dice[c])},
                       {"recall", json_number(r.recall[c])},
                       {"precision", json_number(r.precision[c])},
                       {"f2", json_number(r.f2[c])}});
  }
  const json pooled = {{"miou", json_number(r.miou)},
                       {"mdice", json_number(r.mdice)},
                       {"avg_recall", json_number(r.avg_recall)},
                       {"avg_precision", json_number(r.avg_precision)},
                       {"avg_f2", json_number(r.avg_f2)},
                       {"mem", json_number(r.mem)},
                       {"mae", json_number(r.mae)}};
  return {{"images", r.images},
          {"pooled", pooled},
          {"metrics", metric_values(MetricScope::kReference,
                                    [&](const Metric& m) { return m.factory.pooled(r); })},
          {"per_class", classes}};
}

ReferenceMetrics reference_from_json(const json& j, int64_t version) {
  ReferenceMetrics r;
  r.images = j.at("images").get<int64_t>();
  if (version >= 2) {
    const json& p = j.at("pooled");
    r.miou = json_number(p.at("miou"));
    r.mdice = json_number(p.at("mdice"));
    r.avg_recall = json_number(p.at("avg_recall"));
    r.avg_precision = json_number(p.at("avg_precision"));
    r.avg_f2 = json_number(p.at("avg_f2"));
    r.mem = json_number(p.at("mem"));
    r.mae = json_number(p.at("mae"));
  } else {
    // svanet 0.1: the official names, x 100 but for the MAE.
    r.miou = json_number(j.at("mIoU")) / 100.0;
    r.mdice = json_number(j.at("mDice")) / 100.0;
    r.avg_recall = json_number(j.at("AvgRecall")) / 100.0;
    r.avg_precision = json_number(j.at("AvgPrecision")) / 100.0;
    r.avg_f2 = json_number(j.at("AvgF2Score")) / 100.0;
    r.mem = json_number(j.at("mEM")) / 100.0;
    r.mae = json_number(j.at("mAE"));
  }
  for (const auto& c : j.at("per_class")) {
    r.images_with_class.push_back(c.at("images_with_class").get<int64_t>());
    r.iou.push_back(json_number(c.at("iou")));
    r.dice.push_back(json_number(c.at("dice")));
    r.recall.push_back(json_number(c.at("recall")));
    r.precision.push_back(json_number(c.at("precision")));
    r.f2.push_back(json_number(c.at("f2")));
  }
  return r;
}

json counts_json(const ObjectCounts& c) {
  return {{"gt_objects", c.gt_objects},
          {"detected", c.detected},
          {"missed", c.missed},
          {"split", c.split},
          {"predicted", c.predicted},
          {"true_positives", c.true_positives},
          {"false_positives", c.false_positives},
          {"merged", c.merged},
          {"dice_sum", json_number(c.dice_sum)},
          {"iou_sum", json_number(c.iou_sum)}};
}

void counts_from_json(const json& j, int64_t version, ObjectCounts& c) {
  const json& n = version >= 2 ? j.at("counts") : j;
  c.gt_objects = n.at("gt_objects").get<int64_t>();
  c.detected = n.at("detected").get<int64_t>();
  c.missed = n.at("missed").get<int64_t>();
  c.split = n.at("split").get<int64_t>();
  c.predicted = n.at("predicted").get<int64_t>();
  c.false_positives = n.at("false_positives").get<int64_t>();
  c.merged = n.at("merged").get<int64_t>();
  if (version >= 2) {
    c.true_positives = n.at("true_positives").get<int64_t>();
    c.dice_sum = json_number(n.at("dice_sum"));
    c.iou_sum = json_number(n.at("iou_sum"));
  } else {
    // svanet 0.1 kept the mean per-object Dice, not the IoU.
    c.true_positives = c.predicted - c.false_positives;
    const double dice = json_number(n.at("dice"));
    c.dice_sum = std::isnan(dice) ? 0.0 : dice * static_cast<double>(c.gt_objects);
    c.iou_sum = std::numeric_limits<double>::quiet_NaN();
  }
}

json object_bin_json(const ObjectBin& b) {
  return {{"class", b.class_index},
          {"class_name", b.class_name},
          {"bin", b.label},
          {"unit", b.unit},
          {"lower", b.lower},
          {"upper", json_number(b.upper)},
          {"counts", counts_json(b)},
          {"metrics", metric_values(MetricScope::kObjects,
                                    [&](const Metric& m) { return m.factory.per_bin(b); })}};
}

ObjectBin object_bin_from_json(const json& j, int64_t version) {
  ObjectBin b;
  b.class_index = j.at("class").get<int64_t>();
  b.class_name = j.at("class_name").get<std::string>();
  b.label = j.at("bin").get<std::string>();
  b.unit = j.at("unit").get<std::string>();
  b.lower = json_number(j.at("lower"));
  b.upper = upper_edge(j.at("upper"));
  counts_from_json(j, version, b);
  return b;
}

json coverage_json(const Coverage& c) {
  return {{"pixels", c.pixels},
          {"gt_pixels", c.gt_pixels},
          {"predicted_pixels", c.predicted_pixels},
          {"flooded_cases", c.flooded_cases},
          {"empty_cases", c.empty_cases}};
}

Coverage coverage_from_json(const json& j) {
  Coverage c;
  c.pixels = j.at("pixels").get<int64_t>();
  c.gt_pixels = j.at("gt_pixels").get<int64_t>();
  c.predicted_pixels = j.at("predicted_pixels").get<int64_t>();
  c.flooded_cases = j.at("flooded_cases").get<int64_t>();
  c.empty_cases = j.at("empty_cases").get<int64_t>();
  return c;
}

json options_json(const MetricOptions& o, const Summary& s) {
  return {{"match", s.match()},
          {"distance_unit", o.distance_unit},
          {"spacing", {o.spacing[0], o.spacing[1]}},
          {"surface_distances", o.surface_distances},
          {"surface_tolerance", o.tolerance()},
          {"objects", o.objects},
          {"image_bins_pct", o.image_bins_pct},
          {"object_bins", o.object_bin_edges()},
          {"object_bins_unit", o.object_bin_unit()}};
}

/// The options of a summary.json, its class names and, for svanet 0.1's
/// files, the rule its objects were matched with.
void options_from_json(const json& j, Summary& s) {
  MetricOptions& o = s.options;
  o.class_names = j.at("classes").get<std::vector<std::string>>();
  o.num_classes = static_cast<int64_t>(o.class_names.size());
  const json& opts = j.at("options");
  o.distance_unit = opts.at("distance_unit").get<std::string>();
  const auto spacing = opts.at("spacing").get<std::vector<double>>();
  SVANET_CHECK(spacing.size() == 2, "'spacing' holds ", spacing.size(), " values, not 2");
  o.spacing = {spacing[0], spacing[1]};
  o.surface_distances = opts.at("surface_distances").get<bool>();
  if (opts.contains("surface_tolerance")) {
    o.surface_tolerance = opts.at("surface_tolerance").get<double>();
  }
  o.objects = opts.value("objects", true);
  o.image_bins_pct = opts.at("image_bins_pct").get<std::vector<double>>();
  const auto edges = opts.at("object_bins").get<std::vector<double>>();
  if (opts.value("object_bins_unit", "%") == "px") {
    o.object_bins_px = edges;
  } else {
    o.object_bins_pct = edges;
  }
  if (opts.contains("match")) {
    const auto rule = opts.at("match").get<std::string>();
    // A version 1 file converted and written again keeps its rule's name.
    if (rule.rfind("union-iou:", 0) == 0) {
      o.match = MatchRule::parse("overlap");
      s.legacy_match = rule;
    } else {
      o.match = MatchRule::parse(rule);
    }
  } else {
    // svanet 0.1: any overlap, or the union of the overlapping components
    // at IoU >= T, a rule this svanet does not have.
    const double t = json_number(opts.at("match_iou_threshold"));
    o.match = MatchRule::parse("overlap");
    if (t > 0) s.legacy_match = "union-iou:" + utils::format_number(t);
  }
}

}  // namespace

std::string summary_to_json(const Summary& s) {
  const auto& o = s.options;
  json classes = json::array();
  for (int64_t c = 0; c < o.num_classes; ++c) classes.push_back(o.class_name(c));
  json described = json::object();
  for (const Metric* m : metric_registry().entries()) {
    json d = {{"label", m->traits.label},
              {"scope", scope_name(m->traits.scope)},
              {"unit", m->traits.unit == MetricUnit::kDistance ? o.distance_unit : "fraction"},
              {"higher_is_better", m->traits.higher_is_better},
              {"digits", m->traits.digits},
              {"description", m->description},
              {"reference", m->traits.reference}};
    if (!m->traits.official_name.empty()) d["official_name"] = m->traits.official_name;
    described[m->name] = d;
  }
  json head = json::object();
  for (const auto& [name, value] : headline(s)) head[name] = json_number(value);
  json bins = json::array();
  for (const auto& b : s.size_bins) {
    bins.push_back({{"label", b.label},
                    {"lower_pct", b.lower},
                    {"upper_pct", json_number(b.upper)},
                    {"cumulative", b.cumulative},
                    {"images", b.images},
                    {"complete", b.complete},
                    {"reference", reference_json(b.reference, o)},
                    {"per_class", default_json(b.metrics)}});
  }
  json objects = json::array();
  for (const auto& b : s.objects) objects.push_back(object_bin_json(b));
  const json j = {{"format", kFormat},
                  {"version", kSummaryVersion},
                  {"svanet_version", SVANET_VERSION},
                  {"cases", s.cases},
                  {"classes", classes},
                  {"options", options_json(o, s)},
                  {"metrics", described},
                  {"headline", head},
                  {"coverage", coverage_json(s.coverage)},
                  {"warnings", coverage_warnings(s)},
                  {"reference", reference_json(s.reference, o)},
                  {"per_class", default_json(s.per_class)},
                  {"size_bins", bins},
                  {"objects", objects}};
  return j.dump(1) + "\n";
}

Summary summary_from_json(const std::string& text, const std::string& path) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    SVANET_FAIL(path, ": not JSON (", e.what(), ")");
  }
  SVANET_CHECK(j.is_object(), path, ": not an svanet evaluation summary (not a JSON object)");
  // svanet 0.1 wrote no format and no version.
  int64_t version = 1;
  if (j.contains("version")) {
    const auto& v = j["version"];
    SVANET_CHECK(v.is_number() && v.get<double>() == std::floor(v.get<double>()), path,
                 ": 'version' must be a whole number, got ", v.dump());
    version = static_cast<int64_t>(v.get<double>());
  }
  SVANET_CHECK(version >= 1 && version <= kSummaryVersion, path, ": summary version ", version,
               " is not supported by svanet ", SVANET_VERSION, " (reads 1 to ", kSummaryVersion,
               ")");
  const std::string format =
      j.contains("format") && j["format"].is_string() ? j["format"].get<std::string>() : "";
  SVANET_CHECK(version == 1 || format == kFormat, path,
               ": not an svanet evaluation summary (format '", format, "')");
  Summary s;
  // The entry being read, for the message when it is missing or malformed.
  std::string entry = "options";
  try {
    options_from_json(j, s);
    entry = "cases";
    s.cases = j.at("cases").get<int64_t>();
    // svanet 0.1 did not record it: unknown (no warnings).
    entry = "coverage";
    if (version >= 2) s.coverage = coverage_from_json(j.at("coverage"));
    entry = "reference";
    s.reference = reference_from_json(j.at("reference"), version);
    entry = "per_class";
    s.per_class = default_from_json(j.at("per_class"));
    entry = "size_bins";
    for (const auto& b : j.at("size_bins")) {
      ImageBin bin;
      bin.label = b.at("label").get<std::string>();
      bin.lower = json_number(b.at("lower_pct"));
      bin.upper = upper_edge(b.at("upper_pct"));
      bin.cumulative = b.at("cumulative").get<bool>();
      bin.complete = b.at("complete").get<bool>();
      bin.images = b.at("images").get<int64_t>();
      bin.reference = reference_from_json(b.at("reference"), version);
      bin.metrics = default_from_json(b.at("per_class"));
      s.size_bins.push_back(std::move(bin));
    }
    entry = "objects";
    for (const auto& b : j.at("objects")) s.objects.push_back(object_bin_from_json(b, version));
  } catch (const json::exception& e) {
    SVANET_FAIL(path, ": not an svanet evaluation summary ('", entry, "': ", e.what(), ")");
  } catch (const Error& e) {
    SVANET_FAIL(path, ": '", entry, "': ", e.what());
  }
  return s;
}

Summary read_summary(const std::string& path) {
  return summary_from_json(utils::read_file(path), path);
}

}  // namespace svanet::evaluation
