#include "svanet/evaluation/report.h"

#include "svanet/common/error.h"
#include "svanet/utils/atomic_file.h"
#include "svanet/utils/text.h"
#include "svanet/version.h"
#include "utils/json_number.h"
#include "utils/plot.h"

#include <torch/torch.h>
#include <nlohmann/json.hpp>
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

using nlohmann::json;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

using utils::csv_field;
using utils::csv_number;
using utils::json_number;

json stat_json(const Stat& s) {
  return {{"mean", json_number(s.mean)}, {"std", json_number(s.std)}, {"n", s.n}};
}

json class_json(const ClassSummary& c) {
  return {{"class", c.class_index},
          {"name", c.name},
          {"cases_with_class", c.cases_with_class},
          {"dice", stat_json(c.dice)},
          {"iou", stat_json(c.iou)},
          {"precision", stat_json(c.precision)},
          {"recall", stat_json(c.recall)},
          {"f2", stat_json(c.f2)},
          {"specificity", stat_json(c.specificity)},
          {"hd95", stat_json(c.hd95)},
          {"assd", stat_json(c.assd)}};
}

json default_json(const DefaultMetrics& d) {
  json out = json::array();
  for (const auto& c : d.classes) out.push_back(class_json(c));
  out.push_back(class_json(d.mean));
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
  return {{"images", r.images},
          {"mIoU", json_number(r.miou)},
          {"mDice", json_number(r.mdice)},
          {"mEM", json_number(r.mem)},
          {"mAE", json_number(r.mae)},
          {"AvgRecall", json_number(r.avg_recall)},
          {"AvgPrecision", json_number(r.avg_precision)},
          {"AvgF2Score", json_number(r.avg_f2)},
          {"per_class", classes}};
}

std::string fmt(double v, int digits) {
  if (!std::isfinite(v)) return "&ndash;";
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << v;
  return out.str();
}

std::string stat_cell(const Stat& s, int digits) {
  if (s.n == 0) return "<td>&ndash;</td>";
  return "<td>" + fmt(s.mean, digits) + " <span class=sd>&plusmn; " + fmt(s.std, digits) +
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
)";

}  // namespace

std::string summary_json(const Summary& s) {
  const auto& o = s.options;
  json classes = json::array();
  for (int64_t c = 0; c < o.num_classes; ++c) classes.push_back(o.class_name(c));
  json head = json::object();
  for (const auto& [k, v] : headline(s)) head[k] = json_number(v);
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
  for (const auto& b : s.objects) {
    objects.push_back({{"class", b.class_index},
                       {"class_name", b.class_name},
                       {"bin", b.label},
                       {"unit", b.unit},
                       {"lower", b.lower},
                       {"upper", json_number(b.upper)},
                       {"gt_objects", b.gt_objects},
                       {"detected", b.detected},
                       {"missed", b.missed},
                       {"split", b.split},
                       {"predicted", b.predicted},
                       {"false_positives", b.false_positives},
                       {"merged", b.merged},
                       {"recall", json_number(b.recall)},
                       {"precision", json_number(b.precision)},
                       {"f1", json_number(b.f1)},
                       {"dice", json_number(b.dice)},
                       {"lesion_dice", json_number(b.lesion_dice)}});
  }
  const json options = {
      {"distance_unit", o.distance_unit},         {"spacing", {o.spacing[0], o.spacing[1]}},
      {"surface_distances", o.surface_distances}, {"match", o.match.to_string()},
      {"image_bins_pct", o.image_bins_pct},       {"object_bins", o.object_bin_edges()},
      {"object_bins_unit", o.object_bin_unit()}};
  const json j = {{"svanet_version", SVANET_VERSION},
                  {"cases", s.cases},
                  {"classes", classes},
                  {"options", options},
                  {"headline", head},
                  {"reference", reference_json(s.reference, o)},
                  {"per_class", default_json(s.per_class)},
                  {"size_bins", bins},
                  {"objects", objects}};
  return j.dump(1) + "\n";
}

std::string per_case_csv(const std::vector<CaseRecord>& cases, const MetricOptions& o) {
  std::ostringstream out;
  out << "case,height,width,object_ratio_pct,class,class_name,gt_pixels,pred_pixels,tp,fp,fn,tn,"
         "dice,iou,precision,recall,f2,specificity,hd95,assd,e_measure,mae\n";
  for (const auto& r : cases) {
    for (int64_t c = 1; c < o.num_classes; ++c) {
      const auto& cls = r.classes[static_cast<size_t>(c)];
      const auto& n = cls.counts;
      out << csv_field(r.id) << ',' << r.height << ',' << r.width << ','
          << csv_number(r.object_ratio) << ',' << c << ',' << csv_field(o.class_name(c)) << ','
          << n.ground_truth() << ',' << n.predicted() << ',' << n.tp << ',' << n.fp << ',' << n.fn
          << ',' << n.tn << ',' << csv_number(dice(n)) << ',' << csv_number(iou(n)) << ','
          << csv_number(precision(n)) << ',' << csv_number(recall(n)) << ','
          << csv_number(f_beta(n, 2.0)) << ',' << csv_number(specificity(n)) << ','
          << csv_number(cls.hd95) << ',' << csv_number(cls.assd) << ',' << csv_number(r.e_measure)
          << ',' << csv_number(r.mae) << '\n';
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
  std::ostringstream out;
  out << "kind,bin,lower_pct,upper_pct,images,complete,mIoU,mDice,mEM,mAE,AvgRecall,AvgPrecision,"
         "AvgF2Score,dice,iou,precision,recall,hd95\n";
  for (const auto& b : s.size_bins) {
    const auto& r = b.reference;
    const auto& m = b.metrics.mean;
    out << (b.cumulative ? "cumulative" : "disjoint") << ',' << b.label << ','
        << csv_number(b.lower) << ',' << csv_number(b.upper) << ',' << b.images << ','
        << (b.complete ? 1 : 0) << ',' << csv_number(r.miou) << ',' << csv_number(r.mdice) << ','
        << csv_number(r.mem) << ',' << csv_number(r.mae) << ',' << csv_number(r.avg_recall) << ','
        << csv_number(r.avg_precision) << ',' << csv_number(r.avg_f2) << ','
        << csv_number(m.dice.mean) << ',' << csv_number(m.iou.mean) << ','
        << csv_number(m.precision.mean) << ',' << csv_number(m.recall.mean) << ','
        << csv_number(m.hd95.mean) << '\n';
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

  // Headline cards.
  const auto head = headline(s);
  auto card = [&](const std::string& key, const std::string& label, int digits) {
    const auto it = head.find(key);
    if (it == head.end()) return;
    h << "<div class=card><div class=v>" << fmt(it->second, digits) << "</div><div class=k>"
      << label << "</div></div>";
  };
  h << "<div class=cards>";
  card("dice", "Dice (foreground mean)", 3);
  card("iou", "IoU (foreground mean)", 3);
  card("hd95", "HD95 (" + unit + ")", 1);
  card("object_recall", "objects found (recall)", 3);
  card("object_precision", "object precision", 3);
  card("object_dice", "per-object Dice", 3);
  card("ref_miou", "mIoU, paper's definition", 2);
  card("ref_mdice", "mDice, paper's definition", 2);
  h << "</div>\n";

  // The small-object story first: per class, the smallest size bin next to
  // all sizes (an overall recall hides a smallest bin that is never found).
  if (!s.objects.empty()) {
    const std::string unit_text = o.object_bin_unit() == "%" ? " % of the image" : " px";
    h << "<h2>Small objects first</h2>\n<table><tr><th>class</th><th>smallest objects</th>"
         "<th>found</th><th>recall</th><th>all sizes found</th><th>recall</th></tr>\n";
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
        << utils::html_escape(unit_text) << "</td><td>" << first.detected << " of "
        << first.gt_objects << "</td><td>"
        << (first.gt_objects > 0 ? fmt(first.recall, 3) : std::string("-")) << "</td><td>"
        << all.detected << " of " << all.gt_objects << "</td><td>"
        << (all.gt_objects > 0 ? fmt(all.recall, 3) : std::string("-")) << "</td></tr>\n";
    }
    h << "</table>\n";
  }

  // Default mode per class.
  h << "<h2>Per class (each case scored, then averaged)</h2>\n<table><tr><th>class</th>"
       "<th>cases with it</th><th>Dice</th><th>IoU</th><th>precision</th><th>recall</th><th>F2</th>"
       "<th>specificity</th><th>HD95 ("
    << unit << ")</th><th>ASSD (" << unit << ")</th></tr>\n";
  auto class_row = [&](const ClassSummary& c) {
    h << "<tr><td>" << utils::html_escape(c.name) << "</td><td>"
      << (c.name == "mean" ? std::string("") : std::to_string(c.cases_with_class)) << "</td>"
      << stat_cell(c.dice, 3) << stat_cell(c.iou, 3) << stat_cell(c.precision, 3)
      << stat_cell(c.recall, 3) << stat_cell(c.f2, 3) << stat_cell(c.specificity, 4)
      << stat_cell(c.hd95, 1) << stat_cell(c.assd, 2) << "</tr>\n";
  };
  for (const auto& c : s.per_class.classes) class_row(c);
  if (s.per_class.classes.size() > 1) class_row(s.per_class.mean);
  h << "</table><p class=note>Mean &plusmn; standard deviation over cases (how many in "
       "brackets). A case without the class in prediction and ground truth is left out; a missed "
       "object or a false alarm scores Dice 0 and the image diagonal as HD95/ASSD.</p>\n";

  // Objects.
  if (!s.objects.empty()) {
    h << "<h2>Objects, by size (lesion-wise)</h2>\n";
    const std::string unit_label = o.object_bin_unit() == "%" ? "% of image" : "pixels";
    std::vector<std::string> bins;
    std::vector<double> recall, dice_values, precision_values, gt_counts;
    for (const auto& b : s.objects) {
      if (b.class_index != 0 || b.label == "all") continue;
      bins.push_back(b.label + (b.unit == "%" ? "%" : ""));
      recall.push_back(b.recall);
      dice_values.push_back(b.dice);
      precision_values.push_back(b.precision);
      gt_counts.push_back(static_cast<double>(b.gt_objects));
    }
    const cv::Mat detection = plot::bar_chart(
        "Objects found and their Dice, by object size (" + unit_label + ")", "", bins,
        {{"recall", recall, plot::colour::kBlue},
         {"per-object Dice", dice_values, plot::colour::kGreen},
         {"precision", precision_values, plot::colour::kOrange}},
        620, 360, 1.0, "%.2f");
    const cv::Mat counts =
        plot::bar_chart("Ground-truth objects by size (" + unit_label + ")", "objects", bins,
                        {{"", gt_counts, plot::colour::kGray}}, 480, 360);
    h << "<div class=grid><figure><img src=\"" << png_data_url(detection)
      << "\"></figure><figure><img src=\"" << png_data_url(counts) << "\"></figure></div>\n";
    h << "<table><tr><th>class</th><th>size (" << unit_label
      << ")</th><th>objects</th><th>found</th>"
         "<th>missed</th><th>split</th><th>predicted</th><th>false positives</th><th>merged</th>"
         "<th>recall</th><th>precision</th><th>F1</th><th>per-object Dice</th><th>lesion-wise "
         "Dice</th></tr>\n";
    for (const auto& b : s.objects) {
      h << "<tr><td>" << utils::html_escape(b.class_name) << "</td><td>"
        << utils::html_escape(b.label) << "</td><td>" << b.gt_objects << "</td><td>" << b.detected
        << "</td><td>" << b.missed << "</td><td>" << b.split << "</td><td>" << b.predicted
        << "</td><td>" << b.false_positives << "</td><td>" << b.merged << "</td><td>"
        << fmt(b.recall, 3) << "</td><td>" << fmt(b.precision, 3) << "</td><td>" << fmt(b.f1, 3)
        << "</td><td>" << fmt(b.dice, 3) << "</td><td>" << fmt(b.lesion_dice, 3) << "</td></tr>\n";
    }
    h << "</table><p class=note>An object is an 8-connected component of one class. Matching "
         "rule <b>"
      << utils::html_escape(o.match.to_string())
      << "</b>: " << utils::html_escape(o.match.describe())
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
  for (const bool cumulative : {true, false}) {
    h << "<h3>" << (cumulative ? "Cumulative (ratio &lt; r, as the official tool)" : "Disjoint")
      << "</h3><table><tr><th>ratio (%)</th><th>images</th><th>mIoU</th><th>mDice</th><th>mEM</th>"
         "<th>mAE</th><th>AvgRecall</th><th>AvgPrecision</th><th>AvgF2</th><th>Dice</th>"
         "<th>IoU</th><th>HD95</th></tr>\n";
    for (const auto& b : s.size_bins) {
      if (b.cumulative != cumulative) continue;
      const auto& r = b.reference;
      const auto& m = b.metrics.mean;
      h << "<tr><td>" << utils::html_escape(b.label) << "</td><td>" << b.images << "</td><td>"
        << fmt(r.miou, 2) << "</td><td>" << fmt(r.mdice, 2) << "</td><td>" << fmt(r.mem, 2)
        << "</td><td>" << fmt(r.mae, 4) << "</td><td>" << fmt(r.avg_recall, 2) << "</td><td>"
        << fmt(r.avg_precision, 2) << "</td><td>" << fmt(r.avg_f2, 2) << "</td><td>"
        << fmt(m.dice.mean, 3) << "</td><td>" << fmt(m.iou.mean, 3) << "</td><td>"
        << fmt(m.hd95.mean, 1) << "</td></tr>\n";
    }
    h << "</table>\n";
  }
  h << "<p class=note>The official ratio: per class, the mask closed with a 2&times;2 kernel "
       "twice, the largest external contour's area over the image area; the image's ratio is "
       "the largest over classes (0 without objects, so empty images are in every cumulative "
       "bin). mIoU&hellip;AvgF2 (&times;100) follow the paper: pixel counts pooled over the "
       "images, every class including background, weighted by the number of images containing "
       "it. mEM and mAE are per image, averaged. Dice, IoU and HD95 are the per-case "
       "foreground means above.</p>\n";

  // Reference mode, per class.
  h << "<h2>The paper's metrics (reference mode)</h2>\n<table><tr><th>class</th><th>images with "
       "it</th><th>IoU</th><th>Dice</th><th>recall</th><th>precision</th><th>F2</th></tr>\n";
  for (size_t c = 0; c < s.reference.iou.size(); ++c) {
    h << "<tr><td>" << utils::html_escape(o.class_name(static_cast<int64_t>(c))) << "</td><td>"
      << s.reference.images_with_class[c] << "</td><td>" << fmt(100 * s.reference.iou[c], 2)
      << "</td><td>" << fmt(100 * s.reference.dice[c], 2) << "</td><td>"
      << fmt(100 * s.reference.recall[c], 2) << "</td><td>"
      << fmt(100 * s.reference.precision[c], 2) << "</td><td>" << fmt(100 * s.reference.f2[c], 2)
      << "</td></tr>\n";
  }
  h << "<tr><th>weighted mean</th><th></th><th>" << fmt(s.reference.miou, 2) << "</th><th>"
    << fmt(s.reference.mdice, 2) << "</th><th>" << fmt(s.reference.avg_recall, 2) << "</th><th>"
    << fmt(s.reference.avg_precision, 2) << "</th><th>" << fmt(s.reference.avg_f2, 2)
    << "</th></tr></table><p class=note>mEM " << fmt(s.reference.mem, 2) << ", mAE "
    << fmt(s.reference.mae, 4) << ".</p>\n";

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
  utils::write_file_atomic((out / "summary.json").string(), summary_json(summary));
  utils::write_file_atomic((out / "per_case.csv").string(), per_case_csv(cases, summary.options));
  utils::write_file_atomic((out / "per_object.csv").string(),
                           per_object_csv(cases, summary.options));
  utils::write_file_atomic((out / "size_bins.csv").string(), size_bins_csv(summary));
  utils::write_file_atomic((out / "report.html").string(),
                           report_html(summary, cases, options, load));
}

}  // namespace svanet::evaluation
