#include "svanet/metrics/reduce.h"

#include "svanet/metrics/registry.h"

#include <cmath>
#include <limits>
#include <sstream>

namespace svanet::metrics {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
// The official code guards its divisions with 1e-7 (statistics.py).
constexpr double kEps = 1e-7;

std::string format_edge(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

/// The mean over foreground classes, as a Stat with n = contributing classes.
Stat class_mean(const std::vector<ClassSummary>& classes, const std::string& metric) {
  std::vector<double> means;
  for (const auto& c : classes) {
    const Stat s = c.stat(metric);
    if (s.n > 0) means.push_back(s.mean);
  }
  return summarize_values(means);
}

}  // namespace

Stat summarize_values(const std::vector<double>& values) {
  Stat s;
  double sum = 0.0;
  for (const double v : values) {
    if (std::isnan(v)) continue;
    sum += v;
    ++s.n;
  }
  if (s.n == 0) {
    s.mean = s.std = kNaN;
    return s;
  }
  s.mean = sum / static_cast<double>(s.n);
  double squares = 0.0;
  for (const double v : values) {
    if (!std::isnan(v)) squares += (v - s.mean) * (v - s.mean);
  }
  s.std = s.n > 1 ? std::sqrt(squares / static_cast<double>(s.n - 1)) : 0.0;
  return s;
}

ReferenceMetrics reference_metrics(const std::vector<const CaseRecord*>& cases,
                                   int64_t num_classes) {
  const auto c = static_cast<size_t>(num_classes);
  ReferenceMetrics r;
  r.images = static_cast<int64_t>(cases.size());
  std::vector<Counts> pooled(c);
  r.images_with_class.assign(c, 0);
  double em = 0.0, ae = 0.0;
  int64_t scored = 0;
  for (const CaseRecord* record : cases) {
    for (size_t k = 0; k < c; ++k) {
      pooled[k] += record->reference_counts[k];
      // The weight counts images by their native ground truth, as the
      // official UnionCout counts the classes present in each label map.
      if (record->reference_counts[k].ground_truth() > 0) ++r.images_with_class[k];
    }
    if (!std::isnan(record->e_measure)) {
      em += record->e_measure;
      ae += record->mae;
      ++scored;
    }
  }
  r.iou.resize(c);
  r.dice.resize(c);
  r.recall.resize(c);
  r.precision.resize(c);
  r.f2.resize(c);
  double weights = 0.0;
  double miou = 0.0, mdice = 0.0, mrec = 0.0, mprec = 0.0, mf2 = 0.0;
  for (size_t k = 0; k < c; ++k) {
    const auto inter = static_cast<double>(pooled[k].tp);
    const auto pred = static_cast<double>(pooled[k].predicted());
    const auto gt = static_cast<double>(pooled[k].ground_truth());
    const double union_ = gt + pred - inter + kEps;
    r.iou[k] = inter / union_;
    r.dice[k] = 2.0 * inter / (union_ + inter);
    r.precision[k] = inter / (pred + kEps);
    r.recall[k] = inter / (gt + 2 * kEps);
    r.f2[k] = 5.0 * r.precision[k] * r.recall[k] / (4.0 * r.precision[k] + r.recall[k] + kEps);
    const auto w = static_cast<double>(r.images_with_class[k]);
    weights += w;
    miou += w * r.iou[k];
    mdice += w * r.dice[k];
    mrec += w * r.recall[k];
    mprec += w * r.precision[k];
    mf2 += w * r.f2[k];
  }
  const double scale = weights > 0 ? 1.0 / weights : kNaN;
  r.miou = miou * scale;
  r.mdice = mdice * scale;
  r.avg_recall = mrec * scale;
  r.avg_precision = mprec * scale;
  r.avg_f2 = mf2 * scale;
  r.mem = scored > 0 ? em / static_cast<double>(scored) : kNaN;
  r.mae = scored > 0 ? ae / static_cast<double>(scored) : kNaN;
  return r;
}

Stat ClassSummary::stat(const std::string& metric) const {
  const auto it = values.find(metric);
  return it == values.end() ? Stat{kNaN, kNaN, 0} : it->second;
}

DefaultMetrics default_metrics(const std::vector<const CaseRecord*>& cases,
                               const MetricOptions& options) {
  std::vector<const Metric*> per_case;
  for (const Metric* m : metric_registry().entries()) {
    if (m->traits.scope == MetricScope::kCase && m->factory.per_case) per_case.push_back(m);
  }
  DefaultMetrics out;
  for (int64_t k = 1; k < options.num_classes; ++k) {
    ClassSummary s;
    s.class_index = k;
    s.name = options.class_name(k);
    std::vector<std::vector<double>> values(per_case.size());
    for (const CaseRecord* record : cases) {
      const ClassRecord& cls = record->classes[static_cast<size_t>(k)];
      if (cls.counts.ground_truth() > 0) ++s.cases_with_class;
      for (size_t i = 0; i < per_case.size(); ++i) {
        values[i].push_back(per_case[i]->factory.per_case(cls));
      }
    }
    for (size_t i = 0; i < per_case.size(); ++i) {
      s.values[per_case[i]->name] = summarize_values(values[i]);
    }
    out.classes.push_back(s);
  }
  ClassSummary& m = out.mean;
  m.class_index = 0;
  m.name = "mean";
  for (const auto& c : out.classes) m.cases_with_class += c.cases_with_class;
  for (const Metric* metric : per_case)
    m.values[metric->name] = class_mean(out.classes, metric->name);
  return out;
}

std::vector<std::string> bin_labels(const std::vector<double>& edges) {
  std::vector<std::string> labels;
  if (edges.empty()) return labels;
  labels.push_back("<" + format_edge(edges[0]));
  for (size_t b = 1; b < edges.size(); ++b) {
    labels.push_back(format_edge(edges[b - 1]) + "-" + format_edge(edges[b]));
  }
  labels.push_back(">=" + format_edge(edges.back()));
  return labels;
}

std::vector<ImageBin> image_size_bins(const std::vector<const CaseRecord*>& cases,
                                      const MetricOptions& options) {
  std::vector<ImageBin> bins;
  const auto& edges = options.image_bins_pct;
  auto fill = [&](ImageBin bin, const std::vector<const CaseRecord*>& subset) {
    bin.images = static_cast<int64_t>(subset.size());
    bin.reference = reference_metrics(subset, options.num_classes);
    bin.metrics = default_metrics(subset, options);
    bins.push_back(std::move(bin));
  };
  for (const double edge : edges) {
    std::vector<const CaseRecord*> subset;
    for (const CaseRecord* c : cases) {
      if (c->object_ratio < edge) subset.push_back(c);
    }
    ImageBin bin;
    bin.label = "<" + format_edge(edge);
    bin.lower = 0.0;
    bin.upper = edge;
    bin.cumulative = true;
    bin.complete = subset.size() == cases.size();
    fill(std::move(bin), subset);
  }
  // Disjoint: [0, e0), [e0, e1), ..., [e_{k-2}, +inf): the official edges end
  // at 100 %, which only an image-filling object reaches.
  for (size_t b = 0; b < edges.size(); ++b) {
    const double lower = b == 0 ? 0.0 : edges[b - 1];
    const double upper = b + 1 == edges.size() ? kInf : edges[b];
    std::vector<const CaseRecord*> subset;
    for (const CaseRecord* c : cases) {
      if (c->object_ratio >= lower && c->object_ratio < upper) subset.push_back(c);
    }
    ImageBin bin;
    bin.label = b == 0                  ? "<" + format_edge(edges[0])
                : b + 1 == edges.size() ? ">=" + format_edge(lower)
                                        : format_edge(lower) + "-" + format_edge(edges[b]);
    bin.lower = lower;
    bin.upper = upper;
    bin.cumulative = false;
    fill(std::move(bin), subset);
  }
  return bins;
}

void ObjectCounts::add(const ObjectRecord& o) {
  if (o.ground_truth) {
    ++gt_objects;
    if (o.matched) {
      ++detected;
      dice_sum += o.dice;
      iou_sum += o.iou;
    } else {
      ++missed;
    }
    split += o.partners > 1 ? 1 : 0;
  } else {
    ++predicted;
    ++(o.matched ? true_positives : false_positives);
    merged += o.partners > 1 ? 1 : 0;
  }
}

ObjectCounts& ObjectCounts::operator+=(const ObjectCounts& o) {
  gt_objects += o.gt_objects;
  detected += o.detected;
  missed += o.missed;
  split += o.split;
  predicted += o.predicted;
  true_positives += o.true_positives;
  false_positives += o.false_positives;
  merged += o.merged;
  dice_sum += o.dice_sum;
  iou_sum += o.iou_sum;
  return *this;
}

ObjectCounts count_objects(const std::vector<ObjectRecord>& records) {
  ObjectCounts c;
  for (const auto& r : records) c.add(r);
  return c;
}

double object_recall(const ObjectCounts& c) {
  return ratio(static_cast<double>(c.detected), static_cast<double>(c.gt_objects));
}

double object_precision(const ObjectCounts& c) {
  return ratio(static_cast<double>(c.true_positives), static_cast<double>(c.predicted));
}

double object_f1(const ObjectCounts& c) {
  const double r = object_recall(c), p = object_precision(c);
  // A recall or precision of 0 makes the harmonic mean 0 whatever the other
  // is: objects and nothing found (nothing predicted, say), or only false
  // positives. Not NaN, which the means over images would skip.
  if (r == 0.0 || p == 0.0) return 0.0;
  // A bin can hold true-positive components without objects of its size
  // (they matched smaller or larger ones), or the reverse: undefined.
  if (std::isnan(r) || std::isnan(p)) return kNaN;
  return 2.0 * p * r / (p + r);
}

double object_dice(const ObjectCounts& c) {
  return ratio(c.dice_sum, static_cast<double>(c.gt_objects));
}

double lesion_dice(const ObjectCounts& c) {
  return ratio(c.dice_sum, static_cast<double>(c.gt_objects + c.false_positives));
}

double panoptic_quality(const ObjectCounts& c) {
  return ratio(c.iou_sum, static_cast<double>(c.detected) +
                              0.5 * static_cast<double>(c.missed + c.false_positives));
}

double segmentation_quality(const ObjectCounts& c) {
  return ratio(c.iou_sum, static_cast<double>(c.detected));
}

double recognition_quality(const ObjectCounts& c) {
  return ratio(
      static_cast<double>(c.detected),
      static_cast<double>(c.detected) + 0.5 * static_cast<double>(c.missed + c.false_positives));
}

std::vector<ObjectBin> object_bins(const std::vector<const CaseRecord*>& cases,
                                   const MetricOptions& options) {
  const auto& edges = options.object_bin_edges();
  const auto labels = bin_labels(edges);
  std::vector<ObjectBin> out;
  for (int64_t k = 0; k < options.num_classes; ++k) {
    // Bins of this class (k = 0: every foreground class together), then "all".
    std::vector<ObjectBin> bins(labels.size() + 1);
    for (size_t b = 0; b < bins.size(); ++b) {
      ObjectBin& bin = bins[b];
      bin.class_index = k;
      bin.class_name = k == 0 ? "all" : options.class_name(k);
      bin.unit = options.object_bin_unit();
      if (b < labels.size()) {
        bin.label = labels[b];
        bin.lower = b == 0 ? 0.0 : edges[b - 1];
        bin.upper = b < edges.size() ? edges[b] : kInf;
      } else {
        bin.label = "all";
        bin.lower = 0.0;
        bin.upper = kInf;
      }
    }
    for (const CaseRecord* c : cases) {
      for (const ObjectRecord& o : c->objects) {
        if (k != 0 && o.class_index != k) continue;
        bins[options.object_bin(o)].add(o);
        bins.back().add(o);
      }
    }
    for (ObjectBin& bin : bins) {
      out.push_back(bin);
    }
    if (options.num_classes == 2) break;  // "all" is the only foreground class
  }
  return out;
}

Coverage coverage(const std::vector<const CaseRecord*>& cases) {
  Coverage c;
  for (const CaseRecord* r : cases) {
    if (r->classes.empty()) continue;
    const int64_t pixels = r->classes[0].counts.total();
    int64_t gt = 0, predicted = 0;
    for (size_t k = 1; k < r->classes.size(); ++k) {
      gt += r->classes[k].counts.ground_truth();
      predicted += r->classes[k].counts.predicted();
    }
    c.pixels += pixels;
    c.gt_pixels += gt;
    c.predicted_pixels += predicted;
    c.flooded_cases += 2 * predicted > pixels ? 1 : 0;
    c.empty_cases += gt > 0 && predicted == 0 ? 1 : 0;
  }
  return c;
}

std::vector<std::string> coverage_warnings(const Summary& s) {
  const Coverage& c = s.coverage;
  std::vector<std::string> out;
  if (c.pixels == 0) return out;
  const auto pct = [&](int64_t n) {
    std::ostringstream text;
    text.precision(3);
    text << 100.0 * static_cast<double>(n) / static_cast<double>(c.pixels) << " %";
    return text.str();
  };
  const std::string shares =
      pct(c.predicted_pixels) + " of the pixels, the ground truth " + pct(c.gt_pixels);
  const std::string why =
      s.matched_by_any_overlap()
          ? "under the rule in force (" + s.match() +
                ") it finds every object it touches, so the object metrics overstate it "
                "(--match iou:0.1 pairs objects one to one)"
          : "under the rule in force (" + s.match() +
                ") a component that pairs with no object is a false positive, so the "
                "object metrics do not reward it";
  if (2 * c.predicted_pixels > c.pixels) {
    out.push_back("A flood: the prediction labels over half of all pixels foreground (" + shares +
                  "); " + why + ".");
  } else if (c.gt_pixels == 0 && c.predicted_pixels > 0) {
    out.push_back("The prediction labels " + pct(c.predicted_pixels) +
                  " of the pixels foreground where the ground truth has none; " + why + ".");
  } else if (c.predicted_pixels > 3 * c.gt_pixels) {
    std::ostringstream times;
    times.precision(3);
    times << static_cast<double>(c.predicted_pixels) / static_cast<double>(c.gt_pixels);
    out.push_back("The prediction covers " + times.str() +
                  " times the ground truth's foreground (" + shares + "); " + why + ".");
  }
  if (c.flooded_cases > 0) {
    out.push_back(std::to_string(c.flooded_cases) + " of " + std::to_string(s.cases) +
                  " images are over half foreground in the prediction.");
  }
  if (c.predicted_pixels == 0 && c.gt_pixels > 0) {
    out.push_back("Nothing was predicted: every object is missed (the ground truth labels " +
                  pct(c.gt_pixels) + " of the pixels foreground).");
  } else if (c.empty_cases > 0) {
    out.push_back("In " + std::to_string(c.empty_cases) + " of " + std::to_string(s.cases) +
                  " images with ground-truth foreground nothing was predicted.");
  }
  return out;
}

Summary summarize(const std::vector<CaseRecord>& cases, const MetricOptions& options) {
  options.validate();
  std::vector<const CaseRecord*> all;
  all.reserve(cases.size());
  for (const auto& c : cases) all.push_back(&c);
  Summary s;
  s.options = options;
  s.cases = static_cast<int64_t>(cases.size());
  s.reference = reference_metrics(all, options.num_classes);
  s.per_class = default_metrics(all, options);
  s.size_bins = image_size_bins(all, options);
  s.coverage = coverage(all);
  if (options.objects) s.objects = object_bins(all, options);
  return s;
}

const ObjectBin* all_objects(const Summary& s) {
  for (const auto& b : s.objects) {
    if (b.class_index == 0 && b.label == "all") return &b;
  }
  return nullptr;
}

std::string Summary::match() const {
  return legacy_match.empty() ? options.match.to_string() : legacy_match;
}

bool Summary::matched_by_any_overlap() const {
  // svanet 0.1's union rule needed IoU >= T with the union of the
  // overlapping components, which a flood does not reach.
  return legacy_match.empty() && options.match.kind == MatchRule::Kind::kOverlap;
}

}  // namespace svanet::metrics
