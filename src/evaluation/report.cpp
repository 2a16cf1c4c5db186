#include "svanet/evaluation/report.h"

#include "svanet/evaluation/summary.h"
#include "svanet/metrics/registry.h"

#include "svanet/common/error.h"
#include "svanet/utils/atomic_file.h"
#include "svanet/utils/text.h"
#include "svanet/version.h"
#include "utils/plot.h"

#include <torch/torch.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <sstream>

namespace svanet::evaluation {

// This file writes the reductions of svanet/metrics, by their names.
using namespace metrics;  // NOLINT(google-build-using-namespace)

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

using utils::csv_field;
using utils::csv_number;

std::string fmt(double v, int digits) {
  if (!std::isfinite(v)) return "&ndash;";
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << v;
  return out.str();
}

std::string stat_cell(const Stat& s, const Metric& m) {
  if (s.n == 0) return "<td>&ndash;</td>";
  return "<td>" + format_metric(m, s.mean) + " <span class=sd>&plusmn; " + format_metric(m, s.std) +
         "</span> <span class=n>(" + std::to_string(s.n) + ")</span></td>";
}

std::string png_data_url(const cv::Mat& image) {
  std::vector<uchar> bytes;
  cv::imencode(".png", image, bytes);
  return "data:image/png;base64," + utils::base64_encode(std::string(bytes.begin(), bytes.end()));
}

/// The class palette for contours: ground truth green, prediction magenta.
const cv::Scalar kGtColour{60, 200, 60};
const cv::Scalar kPredColour{255, 60, 255};

cv::Mat to_bgr(const CaseImages& c) {
  const int h = static_cast<int>(c.gt.size(0)), w = static_cast<int>(c.gt.size(1));
  if (c.image.defined() && c.image.size(1) == h && c.image.size(2) == w) {
    auto hwc = (c.image.clamp(0, 1) * 255).round().to(torch::kByte).permute({1, 2, 0}).contiguous();
    cv::Mat rgb(h, w, CV_8UC3, hwc.data_ptr<uint8_t>());
    cv::Mat bgr;
    cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
    return bgr;
  }
  // No image: the ground truth as light gray on dark.
  cv::Mat out(h, w, CV_8UC3, cv::Scalar(40, 40, 40));
  const auto g = c.gt.contiguous();
  const cv::Mat gm(h, w, CV_8UC1, g.data_ptr<uint8_t>());
  out.setTo(cv::Scalar(110, 110, 110), (gm > 0) & (gm != 255));
  return out;
}

/// Marks for missed objects: yellow rings.
const cv::Scalar kMissColour{0, 215, 255};

/// The image with ground-truth and predicted contours, scaled by `scale`,
/// and a ring around each box of `missed` (image coordinates).
cv::Mat overlay(const CaseImages& c, cv::Rect crop, double scale,
                const std::vector<cv::Rect>& missed = {}) {
  cv::Mat image = to_bgr(c)(crop).clone();
  const auto g = c.gt.contiguous(), p = c.pred.contiguous();
  const int h = static_cast<int>(c.gt.size(0)), w = static_cast<int>(c.gt.size(1));
  cv::Mat gm = cv::Mat(h, w, CV_8UC1, g.data_ptr<uint8_t>())(crop).clone();
  cv::Mat pm = cv::Mat(h, w, CV_8UC1, p.data_ptr<uint8_t>())(crop).clone();
  const cv::Size size(std::max(1, static_cast<int>(std::lround(crop.width * scale))),
                      std::max(1, static_cast<int>(std::lround(crop.height * scale))));
  cv::resize(image, image, size, 0, 0, cv::INTER_LINEAR);
  cv::resize(gm, gm, size, 0, 0, cv::INTER_NEAREST_EXACT);
  cv::resize(pm, pm, size, 0, 0, cv::INTER_NEAREST_EXACT);
  auto draw = [&](const cv::Mat& labels, const cv::Scalar& colour) {
    for (int v = 1; v < 255; ++v) {
      const cv::Mat binary = labels == v;
      if (cv::countNonZero(binary) == 0) continue;
      std::vector<std::vector<cv::Point>> contours;
      cv::findContours(binary, contours, cv::RETR_LIST, cv::CHAIN_APPROX_NONE);
      cv::drawContours(image, contours, -1, colour, scale >= 3 ? 2 : 1, cv::LINE_8);
    }
  };
  draw(gm, kGtColour);
  draw(pm, kPredColour);
  for (const auto& box : missed) {
    const cv::Point2d centre((box.x + box.width / 2.0 - crop.x) * scale,
                             (box.y + box.height / 2.0 - crop.y) * scale);
    const double radius = std::max(7.0, 0.75 * std::max(box.width, box.height) * scale + 5.0);
    cv::circle(image, centre, static_cast<int>(radius), kMissColour, 1, cv::LINE_AA);
  }
  return image;
}

/// The boxes of the ground-truth objects a case missed.
std::vector<cv::Rect> missed_boxes(const CaseRecord& r) {
  std::vector<cv::Rect> boxes;
  for (const auto& o : r.objects) {
    if (o.ground_truth && !o.matched) {
      boxes.emplace_back(static_cast<int>(o.x), static_cast<int>(o.y), static_cast<int>(o.width),
                         static_cast<int>(o.height));
    }
  }
  return boxes;
}

double mean_foreground_dice(const CaseRecord& r) {
  double sum = 0;
  int n = 0;
  for (size_t c = 1; c < r.classes.size(); ++c) {
    const double d = dice(r.classes[c].counts);
    if (std::isnan(d)) continue;
    sum += d;
    ++n;
  }
  return n > 0 ? sum / n : kNaN;
}

const char* kStyle = R"(
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1180px;color:#222;padding:0 16px}
h1{font-size:24px;margin-bottom:4px}h2{font-size:19px;margin-top:34px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#666;font-size:13px}.cards{display:flex;flex-wrap:wrap;gap:12px;margin:18px 0}
.card{border:1px solid #ddd;border-radius:8px;padding:10px 16px;min-width:120px}
.card .v{font-size:24px;font-weight:600}.card .k{font-size:12px;color:#666}
table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{border:1px solid #e2e2e2;padding:4px 8px;text-align:right}
th{background:#f5f5f5}td:first-child,th:first-child{text-align:left}.sd{color:#888;font-size:11px}.n{color:#aaa;font-size:11px}
.grid{display:flex;flex-wrap:wrap;gap:14px}.grid figure{margin:0;font-size:12px;color:#444}
figure img{display:block;border:1px solid #ccc;max-width:100%}.note{font-size:12px;color:#555;max-width:900px}
.key span{display:inline-block;width:12px;height:12px;margin:0 4px -1px 12px}
.key span:first-child{margin-left:0}
.warn{border:2px solid #d33;background:#fff3f3;border-radius:8px;padding:10px 16px;margin:14px 0;font-size:14px}
)";

}  // namespace

std::string per_case_csv(const std::vector<CaseRecord>& cases, const MetricOptions& o) {
  const auto per_case = metrics_of(MetricScope::kCase);
  std::ostringstream out;
  out << "case,height,width,object_ratio_pct,class,class_name,gt_pixels,pred_pixels,tp,fp,fn,tn";
  for (const Metric* m : per_case) out << ',' << csv_field(m->name);
  out << ",e_measure,mae\n";
  for (const auto& r : cases) {
    for (int64_t c = 1; c < o.num_classes; ++c) {
      const auto& cls = r.classes[static_cast<size_t>(c)];
      const auto& n = cls.counts;
      out << csv_field(r.id) << ',' << r.height << ',' << r.width << ','
          << csv_number(r.object_ratio) << ',' << c << ',' << csv_field(o.class_name(c)) << ','
          << n.ground_truth() << ',' << n.predicted() << ',' << n.tp << ',' << n.fp << ',' << n.fn
          << ',' << n.tn;
      for (const Metric* m : per_case) out << ',' << csv_number(m->factory.per_case(cls));
      out << ',' << csv_number(r.e_measure) << ',' << csv_number(r.mae) << '\n';
    }
  }
  return out.str();
}

std::string per_object_csv(const std::vector<CaseRecord>& cases, const MetricOptions& o) {
  const auto labels = bin_labels(o.object_bin_edges());
  std::ostringstream out;
  out << "case,class,class_name,kind,area_px,area_pct,size_bin,x,y,width,height,matched,dice,iou,"
         "partners\n";
  for (const auto& r : cases) {
    for (const auto& ob : r.objects) {
      out << csv_field(r.id) << ',' << ob.class_index << ','
          << csv_field(o.class_name(ob.class_index)) << ',' << (ob.ground_truth ? "gt" : "pred")
          << ',' << ob.area_px << ',' << csv_number(ob.area_pct) << ',' << labels[o.object_bin(ob)]
          << ',' << ob.x << ',' << ob.y << ',' << ob.width << ',' << ob.height << ','
          << (ob.matched ? 1 : 0) << ',' << csv_number(ob.dice) << ',' << csv_number(ob.iou) << ','
          << ob.partners << '\n';
    }
  }
  return out.str();
}

std::string size_bins_csv(const Summary& s) {
  std::vector<const Metric*> columns = metrics_of(MetricScope::kReference);
  for (const Metric* m : metrics_of(MetricScope::kCase)) columns.push_back(m);
  std::ostringstream out;
  out << "kind,bin,lower_pct,upper_pct,images,complete";
  for (const Metric* m : columns) out << ',' << csv_field(m->name);
  out << '\n';
  for (const auto& b : s.size_bins) {
    out << (b.cumulative ? "cumulative" : "disjoint") << ',' << b.label << ','
        << csv_number(b.lower) << ',' << csv_number(b.upper) << ',' << b.images << ','
        << (b.complete ? 1 : 0);
    for (const Metric* m : columns) out << ',' << csv_number(metric_value(*m, b));
    out << '\n';
  }
  return out.str();
}

std::string report_html(const Summary& s, const std::vector<CaseRecord>& cases,
                        const ReportOptions& options, const CaseLoader& load) {
  namespace plot = utils::plot;
  const auto& o = s.options;
  const std::string unit = utils::html_escape(o.distance_unit);
  std::ostringstream h;
  const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char date[32];
  std::strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  h << "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>"
    << utils::html_escape(options.title) << "</title><style>" << kStyle
    << "</style></head><body>\n";
  h << "<h1>" << utils::html_escape(options.title) << "</h1>\n<div class=meta>"
    << utils::html_escape(options.subject) << "<br>" << s.cases << " cases, classes: ";
  for (int64_t c = 0; c < o.num_classes; ++c) {
    h << (c ? ", " : "") << utils::html_escape(o.class_name(c));
  }
  for (const auto& [k, v] : options.details) {
    h << "<br>" << utils::html_escape(k) << ": " << utils::html_escape(v);
  }
  h << "<br>svanet " << SVANET_VERSION << ", " << date
    << "<br>beside this report: <a href=\"summary.json\">summary.json</a>, <a "
       "href=\"per_case.csv\">per_case.csv</a>, <a href=\"per_object.csv\">per_object.csv</a>, "
       "<a href=\"size_bins.csv\">size_bins.csv</a></div>\n";

  // What the coverage says first: a flood or an empty prediction makes
  // every number below mean something else.
  for (const auto& warning : coverage_warnings(s)) {
    h << "<div class=warn><b>Warning.</b> " << utils::html_escape(warning) << "</div>\n";
  }

  // Headline cards: the featured metrics.
  h << "<div class=cards>";
  for (const Metric* m : featured_metrics()) {
    h << "<div class=card><div class=v>" << format_metric(*m, metric_value(*m, s), "&ndash;")
      << "</div><div class=k>" << utils::html_escape(metric_title(*m, o.distance_unit))
      << "</div></div>";
  }
  h << "</div>\n";

  // The small-object story first: per class, the smallest size bin next to
  // all sizes (an overall recall hides a smallest bin that is never found),
  // led by the scores a flood or a scatter of false alarms cannot inflate.
  if (!s.objects.empty()) {
    const std::string unit_text = o.object_bin_unit() == "%" ? " % of the image" : " px";
    const Metric* scores[] = {&metric("object_f1"), &metric("object_pq"), &metric("object_recall"),
                              &metric("object_precision")};
    h << "<h2>Small objects first</h2>\n<table><tr><th rowspan=2>class</th><th colspan=6>the "
         "smallest objects</th><th colspan=5>all sizes</th></tr>\n<tr><th>size</th>";
    for (int part = 0; part < 2; ++part) {
      for (const Metric* m : scores) h << "<th>" << utils::html_escape(m->traits.label) << "</th>";
      h << "<th>found</th>";
    }
    h << "</tr>\n";
    for (size_t i = 0; i < s.objects.size(); ++i) {
      const ObjectBin& first = s.objects[i];
      // Each class's bins start with its smallest and end with "all".
      if (i > 0 && s.objects[i - 1].class_index == first.class_index) continue;
      size_t last = i;
      while (last + 1 < s.objects.size() && s.objects[last + 1].class_index == first.class_index)
        ++last;
      const ObjectBin& all = s.objects[last];
      const std::string name = first.class_index != 0 ? first.class_name
                               : o.num_classes == 2   ? o.class_name(1)
                                                      : "all classes";
      h << "<tr><td>" << utils::html_escape(name) << "</td><td>" << utils::html_escape(first.label)
        << utils::html_escape(unit_text) << "</td>";
      for (const ObjectBin* bin : {&first, &all}) {
        for (const Metric* m : scores) {
          h << "<td>" << format_metric(*m, m->factory.per_bin(*bin), "-") << "</td>";
        }
        h << "<td>" << bin->detected << " of " << bin->gt_objects << "</td>";
      }
      h << "</tr>\n";
    }
    h << "</table><p class=note>F1 and panoptic quality (PQ) fall with every false positive, "
         "recall does not: a prediction that scatters false alarms can have a high recall, "
         "not a high F1 or PQ. Objects matched by "
      << utils::html_escape(s.match()) << " (below)"
      << (s.matched_by_any_overlap()
              ? ": under this rule one component that floods the image finds every object it "
                "touches and is no false positive, so it can score well here too"
              : ": under this rule a component that floods the image pairs with no small "
                "object and is a false positive")
      << ".</p>\n";
  }

  // Default mode per class: every per-case metric.
  const auto per_case = metrics_of(MetricScope::kCase);
  h << "<h2>Per class (each case scored, then averaged)</h2>\n<table><tr><th>class</th>"
       "<th>cases with it</th>";
  for (const Metric* m : per_case) {
    h << "<th>" << utils::html_escape(metric_title(*m, o.distance_unit)) << "</th>";
  }
  h << "</tr>\n";
  auto class_row = [&](const ClassSummary& c) {
    h << "<tr><td>" << utils::html_escape(c.name) << "</td><td>"
      << (c.name == "mean" ? std::string("") : std::to_string(c.cases_with_class)) << "</td>";
    for (const Metric* m : per_case) h << stat_cell(c.stat(m->name), *m);
    h << "</tr>\n";
  };
  for (const auto& c : s.per_class.classes) class_row(c);
  if (s.per_class.classes.size() > 1) class_row(s.per_class.mean);
  h << "</table><p class=note>Mean &plusmn; standard deviation over cases (how many in "
       "brackets). A case without the class in prediction and ground truth is left out; a missed "
       "object or a false alarm scores Dice 0 and the image diagonal as HD95/ASSD.</p>\n";

  // Objects.
  if (!s.objects.empty()) {
    const auto per_bin = metrics_of(MetricScope::kObjects);
    h << "<h2>Objects, by size (lesion-wise)</h2>\n";
    const std::string unit_label = o.object_bin_unit() == "%" ? "% of image" : "pixels";
    std::vector<std::string> bins;
    std::vector<double> gt_counts;
    std::vector<plot::BarGroup> groups;
    const auto charted = featured_metrics(MetricScope::kObjects);
    groups.reserve(charted.size());
    for (const Metric* m : charted) {
      groups.push_back({m->traits.label, {}, plot::series_colour(groups.size())});
    }
    for (const auto& b : s.objects) {
      if (b.class_index != 0 || b.label == "all") continue;
      bins.push_back(b.label + (b.unit == "%" ? "%" : ""));
      gt_counts.push_back(static_cast<double>(b.gt_objects));
      for (size_t g = 0; g < charted.size(); ++g) {
        groups[g].values.push_back(charted[g]->factory.per_bin(b));
      }
    }
    const cv::Mat detection =
        plot::bar_chart("Objects by size (" + unit_label + "), matched " + s.match(), "", bins,
                        groups, 720, 360, 1.0, "%.2f");
    const cv::Mat counts =
        plot::bar_chart("Ground-truth objects by size (" + unit_label + ")", "objects", bins,
                        {{"", gt_counts, plot::colour::kGray}}, 420, 360);
    h << "<div class=grid><figure><img src=\"" << png_data_url(detection)
      << "\"></figure><figure><img src=\"" << png_data_url(counts) << "\"></figure></div>\n";
    h << "<table><tr><th>class</th><th>size (" << unit_label
      << ")</th><th>objects</th><th>found</th>"
         "<th>missed</th><th>split</th><th>predicted</th><th>false positives</th><th>merged</th>";
    for (const Metric* m : per_bin) h << "<th>" << utils::html_escape(m->traits.label) << "</th>";
    h << "</tr>\n";
    for (const auto& b : s.objects) {
      h << "<tr><td>" << utils::html_escape(b.class_name) << "</td><td>"
        << utils::html_escape(b.label) << "</td><td>" << b.gt_objects << "</td><td>" << b.detected
        << "</td><td>" << b.missed << "</td><td>" << b.split << "</td><td>" << b.predicted
        << "</td><td>" << b.false_positives << "</td><td>" << b.merged << "</td>";
      for (const Metric* m : per_bin) {
        h << "<td>" << format_metric(*m, m->factory.per_bin(b), "&ndash;") << "</td>";
      }
      h << "</tr>\n";
    }
    h << "</table><p class=note>An object is an 8-connected component of one class. Matching "
         "rule <b>"
      << utils::html_escape(s.match()) << "</b>"
      << (s.legacy_match.empty() ? ": " + utils::html_escape(o.match.describe()) : std::string())
      << ". Split: an object overlapped by several predicted components; merged: a component "
         "overlapping several objects. Objects are binned by their own size, predicted "
         "components by theirs. Lesion-wise Dice (BraTS 2023) divides the summed per-object Dice "
         "by objects + false positives.</p>\n";
  }

  // Image-level size bins.
  h << "<h2>Images by their largest object (the paper's tiny-object grouping)</h2>\n";
  std::vector<std::string> disjoint_labels;
  std::vector<double> disjoint_counts;
  for (const auto& b : s.size_bins) {
    if (b.cumulative) continue;
    disjoint_labels.push_back(b.label);
    disjoint_counts.push_back(static_cast<double>(b.images));
  }
  const cv::Mat images_chart =
      plot::bar_chart("Images by largest-object ratio (% of image)", "images", disjoint_labels,
                      {{"", disjoint_counts, plot::colour::kPurple}}, 560, 320);
  h << "<figure><img src=\"" << png_data_url(images_chart) << "\"></figure>\n";
  // The paper's metrics, then the featured per-case ones.
  std::vector<const Metric*> bin_columns = metrics_of(MetricScope::kReference);
  for (const Metric* m : featured_metrics(MetricScope::kCase)) bin_columns.push_back(m);
  for (const bool cumulative : {true, false}) {
    h << "<h3>" << (cumulative ? "Cumulative (ratio &lt; r, as the official tool)" : "Disjoint")
      << "</h3><table><tr><th>ratio (%)</th><th>images</th>";
    for (const Metric* m : bin_columns) {
      h << "<th>" << utils::html_escape(metric_title(*m, o.distance_unit)) << "</th>";
    }
    h << "</tr>\n";
    for (const auto& b : s.size_bins) {
      if (b.cumulative != cumulative) continue;
      h << "<tr><td>" << utils::html_escape(b.label) << "</td><td>" << b.images << "</td>";
      for (const Metric* m : bin_columns) {
        h << "<td>" << format_metric(*m, metric_value(*m, b), "&ndash;") << "</td>";
      }
      h << "</tr>\n";
    }
    h << "</table>\n";
  }
  h << "<p class=note>The official ratio: per class, the mask closed with a 2&times;2 kernel "
       "twice, the largest external contour's area over the image area; the image's ratio is "
       "the largest over classes (0 without objects, so empty images are in every cumulative "
       "bin). The metrics marked (paper) follow the paper's definitions, as fractions (the "
       "paper prints them &times;100): pixel counts pooled over the images, every class "
       "including background, weighted by the number of images containing it; the E-measure "
       "and MAE are per image, averaged. The others are the per-case foreground means above.</p>\n";

  // Reference mode, per class.
  h << "<h2>The paper's metrics (reference mode)</h2>\n<table><tr><th>class</th><th>images with "
       "it</th><th>IoU</th><th>Dice</th><th>recall</th><th>precision</th><th>F2</th></tr>\n";
  const auto& ref = s.reference;
  for (size_t c = 0; c < ref.iou.size(); ++c) {
    h << "<tr><td>" << utils::html_escape(o.class_name(static_cast<int64_t>(c))) << "</td><td>"
      << ref.images_with_class[c] << "</td>";
    for (const double v : {ref.iou[c], ref.dice[c], ref.recall[c], ref.precision[c], ref.f2[c]}) {
      h << "<td>" << fmt(v, 3) << "</td>";
    }
    h << "</tr>\n";
  }
  h << "<tr><th>weighted mean</th><th></th>";
  for (const char* name : {"ref_miou", "ref_mdice", "ref_recall", "ref_precision", "ref_f2"}) {
    const Metric& m = metric(name);
    h << "<th>" << format_metric(m, metric_value(m, s), "&ndash;") << "</th>";
  }
  h << "</tr></table>\n";

  // Every registered metric, described.
  h << "<h2>Every metric</h2>\n<table><tr><th>metric</th><th>name</th><th>value</th><th>better"
       "</th><th>computed from</th><th>what it is</th><th>reference</th></tr>\n";
  for (const Metric* m : metric_registry().entries()) {
    h << "<tr><td>" << utils::html_escape(metric_title(*m, o.distance_unit)) << "</td><td>"
      << utils::html_escape(m->name) << "</td><td>"
      << format_metric(*m, metric_value(*m, s), "&ndash;") << "</td><td>"
      << (m->traits.higher_is_better ? "higher" : "lower") << "</td><td>"
      << scope_name(m->traits.scope) << "</td><td>" << utils::html_escape(m->description)
      << "</td><td>" << utils::html_escape(m->traits.reference) << "</td></tr>\n";
  }
  h << "</table><p class=note>Fractions in [0, 1]; distances in " << unit
    << ". summary.json keeps the exact values and describes each metric under "
       "<code>metrics</code>.</p>\n";

  // Overlays.
  if (load && options.overlays > 0) {
    std::vector<const CaseRecord*> ranked;
    for (const auto& r : cases) {
      if (!std::isnan(mean_foreground_dice(r))) ranked.push_back(&r);
    }
    h << "<h2>Worst cases</h2><div class=key><span style=\"background:#3cc83c\"></span>ground "
         "truth<span style=\"background:#ff3cff\"></span>prediction<span "
         "style=\"border:1px solid #ffd700;border-radius:6px\"></span>missed object</div><p "
         "class=note>The "
      << std::min<size_t>(ranked.size(), static_cast<size_t>(options.overlays)) << " of "
      << ranked.size() << " cases with the lowest Dice.</p><div class=grid>\n";
    std::stable_sort(ranked.begin(), ranked.end(), [](const CaseRecord* a, const CaseRecord* b) {
      return mean_foreground_dice(*a) < mean_foreground_dice(*b);
    });
    for (size_t i = 0; i < ranked.size() && static_cast<int64_t>(i) < options.overlays; ++i) {
      const CaseRecord& r = *ranked[i];
      const CaseImages images = load(r.id);
      const int w = static_cast<int>(images.gt.size(1)), hgt = static_cast<int>(images.gt.size(0));
      const double scale = std::min(2.0, 320.0 / std::max(w, hgt));
      h << "<figure><img src=\""
        << png_data_url(overlay(images, {0, 0, w, hgt}, scale, missed_boxes(r)))
        << "\"><figcaption>" << utils::html_escape(r.id) << ": Dice "
        << fmt(mean_foreground_dice(r), 3) << "</figcaption></figure>\n";
    }
    h << "</div>\n";
    std::vector<std::pair<const CaseRecord*, const ObjectRecord*>> missed;
    for (const auto& r : cases) {
      for (const auto& ob : r.objects) {
        if (ob.ground_truth && !ob.matched) missed.emplace_back(&r, &ob);
      }
    }
    std::stable_sort(missed.begin(), missed.end(), [](const auto& a, const auto& b) {
      return a.second->area_px < b.second->area_px;
    });
    h << "<h2>Missed objects, smallest first</h2><p class=note>" << missed.size()
      << " ground-truth objects were not found; the gallery shows "
      << std::min<size_t>(missed.size(), static_cast<size_t>(options.overlays)) << " of them"
      << (missed.size() > static_cast<size_t>(options.overlays) ? " (all are in per_object.csv)"
                                                                : "")
      << ".</p><div class=grid>\n";
    for (size_t i = 0; i < missed.size() && static_cast<int64_t>(i) < options.overlays; ++i) {
      const auto& [r, ob] = missed[i];
      const CaseImages images = load(r->id);
      const int w = static_cast<int>(images.gt.size(1)), hgt = static_cast<int>(images.gt.size(0));
      const int side = std::min(
          {std::max<int>(48, static_cast<int>(4 * std::max(ob->width, ob->height))), w, hgt});
      const int cx = static_cast<int>(ob->x + ob->width / 2),
                cy = static_cast<int>(ob->y + ob->height / 2);
      const cv::Rect crop(std::clamp(cx - side / 2, 0, w - side),
                          std::clamp(cy - side / 2, 0, hgt - side), side, side);
      const cv::Rect box(static_cast<int>(ob->x), static_cast<int>(ob->y),
                         static_cast<int>(ob->width), static_cast<int>(ob->height));
      h << "<figure><img src=\"" << png_data_url(overlay(images, crop, 192.0 / side, {box}))
        << "\"><figcaption>" << utils::html_escape(r->id) << ", "
        << utils::html_escape(o.class_name(ob->class_index)) << ": " << ob->area_px << " px ("
        << fmt(ob->area_pct, 3) << " %)</figcaption></figure>\n";
    }
    h << "</div>\n";
  }
  h << "</body></html>\n";
  return h.str();
}

void write_evaluation(const Summary& summary, const std::vector<CaseRecord>& cases,
                      const std::string& out_dir, const ReportOptions& options,
                      const CaseLoader& load) {
  namespace fs = std::filesystem;
  fs::create_directories(out_dir);
  const fs::path out(out_dir);
  utils::write_file_atomic((out / "summary.json").string(), summary_to_json(summary));
  utils::write_file_atomic((out / "per_case.csv").string(), per_case_csv(cases, summary.options));
  utils::write_file_atomic((out / "per_object.csv").string(),
                           per_object_csv(cases, summary.options));
  utils::write_file_atomic((out / "size_bins.csv").string(), size_bins_csv(summary));
  utils::write_file_atomic((out / "report.html").string(),
                           report_html(summary, cases, options, load));
}

}  // namespace svanet::evaluation
