#include "svanet/metrics/case.h"

#include "metrics/kernels.h"
#include "svanet/common/error.h"
#include "svanet/data/stats.h"

#include <torch/torch.h>
#include <opencv2/core.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace svanet::metrics {

namespace {

constexpr uint8_t kIgnore = 255;

/// An (H, W) label map as contiguous uint8 on the CPU.
torch::Tensor as_labels(const torch::Tensor& t, const std::string& id, const char* what) {
  SVANET_CHECK(t.defined() && t.dim() == 2, id, ": the ", what,
               " must be an (H, W) label map, got ", t.defined() ? t.sizes() : c10::IntArrayRef{});
  if (t.scalar_type() == torch::kByte) return t.contiguous().cpu();
  SVANET_CHECK(!t.is_floating_point(), id, ": the ", what, " must hold integer labels");
  const auto cpu = t.cpu();
  SVANET_CHECK(
      cpu.numel() == 0 || (cpu.min().item<int64_t>() >= 0 && cpu.max().item<int64_t>() <= 255), id,
      ": the ", what, " holds labels outside 0..255");
  return cpu.to(torch::kByte).contiguous();
}

/// Joint histogram hist[g * C + p] over labelled pixels, checking values.
std::vector<int64_t> joint_histogram(const uint8_t* pred, const uint8_t* gt, size_t n,
                                     int64_t num_classes, const std::string& id) {
  const auto c = static_cast<size_t>(num_classes);
  // 256 x 256 so that any value can be counted before it is checked.
  std::vector<int64_t> full(size_t{256} * 256, 0);
  for (size_t i = 0; i < n; ++i) ++full[static_cast<size_t>(gt[i]) * 256 + pred[i]];
  std::vector<int64_t> hist(c * c, 0);
  for (size_t g = 0; g < 256; ++g) {
    for (size_t p = 0; p < 256; ++p) {
      const int64_t count = full[g * 256 + p];
      if (count == 0) continue;
      SVANET_CHECK(p < c, id, ": the prediction holds the value ", p, ", but there are only ",
                   num_classes, " classes");
      if (g == kIgnore) continue;
      SVANET_CHECK(g < c, id, ": the ground truth holds the value ", g, ", but there are only ",
                   num_classes, " classes (and 255 = ignore)");
      hist[g * c + p] = count;
    }
  }
  return hist;
}

std::vector<Counts> counts_from_histogram(const std::vector<int64_t>& hist, int64_t num_classes) {
  const auto c = static_cast<size_t>(num_classes);
  int64_t total = 0;
  for (const int64_t v : hist) total += v;
  std::vector<Counts> out(c);
  for (size_t k = 0; k < c; ++k) {
    Counts& r = out[k];
    r.tp = hist[k * c + k];
    for (size_t j = 0; j < c; ++j) {
      if (j == k) continue;
      r.fp += hist[j * c + k];  // ground truth j predicted as k
      r.fn += hist[k * c + j];  // ground truth k predicted as j
    }
    r.tn = total - r.tp - r.fp - r.fn;
  }
  return out;
}

/// E-measure and MAE of the binary foreground over labelled pixels.
std::pair<double, double> binary_scores(const uint8_t* pred, const uint8_t* gt, size_t n) {
  // Both maps are binary, so four counts determine every pixel's value.
  int64_t n11 = 0, n10 = 0, n01 = 0, n00 = 0;  // (pred, gt)
  for (size_t i = 0; i < n; ++i) {
    if (gt[i] == kIgnore) continue;
    const bool p = pred[i] != 0, g = gt[i] != 0;
    if (p && g) {
      ++n11;
    } else if (p) {
      ++n10;
    } else if (g) {
      ++n01;
    } else {
      ++n00;
    }
  }
  const int64_t total = n11 + n10 + n01 + n00;
  if (total == 0) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    return {nan, nan};
  }
  const double mae = static_cast<double>(n10 + n01) / static_cast<double>(total);
  const double denominator = static_cast<double>(total) - 1.0 + 1e-7;
  const int64_t gt_pixels = n11 + n01, pred_pixels = n11 + n10;
  double sum = 0.0;
  if (gt_pixels == 0) {
    sum = static_cast<double>(total - pred_pixels);  // sum of (1 - FM)
  } else if (gt_pixels == total) {
    sum = static_cast<double>(pred_pixels);  // sum of FM
  } else {
    const double mean_p = static_cast<double>(pred_pixels) / static_cast<double>(total);
    const double mean_g = static_cast<double>(gt_pixels) / static_cast<double>(total);
    auto enhanced = [&](double p, double g) {
      const double ap = p - mean_p, ag = g - mean_g;
      const double align = 2.0 * ag * ap / (ag * ag + ap * ap + 1e-7);
      return (align + 1.0) * (align + 1.0) / 4.0;
    };
    sum = static_cast<double>(n11) * enhanced(1, 1) + static_cast<double>(n10) * enhanced(1, 0) +
          static_cast<double>(n01) * enhanced(0, 1) + static_cast<double>(n00) * enhanced(0, 0);
  }
  return {sum / denominator, mae};
}

}  // namespace

std::string MetricOptions::class_name(int64_t c) const {
  if (c >= 0 && static_cast<size_t>(c) < class_names.size()) {
    return class_names[static_cast<size_t>(c)];
  }
  return "class_" + std::to_string(c);
}

void MetricOptions::validate() const {
  SVANET_CHECK(num_classes >= 2 && num_classes <= 255,
               "metrics: num_classes must be in 2..255 (background included), got ", num_classes);
  SVANET_CHECK(class_names.empty() || static_cast<int64_t>(class_names.size()) == num_classes,
               "metrics: ", class_names.size(), " class names for ", num_classes, " classes");
  SVANET_CHECK(spacing[0] > 0 && spacing[1] > 0, "metrics: the pixel spacing must be positive");
  SVANET_CHECK(!surface_tolerance || (std::isfinite(*surface_tolerance) && *surface_tolerance >= 0),
               "metrics: the surface Dice's tolerance must be 0 or more");
  try {
    match.validate();
  } catch (const Error& e) {
    SVANET_FAIL("metrics: matching rule ", match.to_string(), ": ", e.what());
  }
  auto increasing = [](const std::vector<double>& v) {
    for (size_t i = 0; i < v.size(); ++i) {
      if (!(v[i] > 0) || (i > 0 && !(v[i] > v[i - 1]))) return false;
    }
    return true;
  };
  SVANET_CHECK(!image_bins_pct.empty() && increasing(image_bins_pct),
               "metrics: image size bins must be positive and increasing");
  SVANET_CHECK(!object_bins_pct.empty() && increasing(object_bins_pct),
               "metrics: object size bins must be positive and increasing");
  SVANET_CHECK(object_bins_px.empty() || increasing(object_bins_px),
               "metrics: object size bins in pixels must be positive and increasing");
}

double MetricOptions::tolerance() const {
  return surface_tolerance.value_or(std::max(spacing[0], spacing[1]));
}

const std::vector<double>& MetricOptions::object_bin_edges() const {
  return object_bins_px.empty() ? object_bins_pct : object_bins_px;
}

std::string MetricOptions::object_bin_unit() const {
  return object_bins_px.empty() ? "%" : "px";
}

double MetricOptions::object_size(const ObjectRecord& object) const {
  return object_bins_px.empty() ? object.area_pct : static_cast<double>(object.area_px);
}

size_t MetricOptions::object_bin(const ObjectRecord& object) const {
  const auto& edges = object_bin_edges();
  const double size = object_size(object);
  size_t b = 0;
  while (b < edges.size() && size >= edges[b]) ++b;
  return b;
}

bool CaseRecord::has_class(int64_t c) const {
  return classes[static_cast<size_t>(c)].counts.ground_truth() > 0;
}

std::vector<Counts> class_counts(const torch::Tensor& pred, const torch::Tensor& gt,
                                 int64_t num_classes) {
  const auto p = as_labels(pred, "class_counts", "prediction");
  const auto g = as_labels(gt, "class_counts", "ground truth");
  SVANET_CHECK(p.sizes() == g.sizes(), "class_counts: prediction ", p.sizes(), " and ground truth ",
               g.sizes(), " differ in size");
  return counts_from_histogram(
      joint_histogram(p.data_ptr<uint8_t>(), g.data_ptr<uint8_t>(), static_cast<size_t>(p.numel()),
                      num_classes, "class_counts"),
      num_classes);
}

double e_measure(const torch::Tensor& pred, const torch::Tensor& gt, const torch::Tensor& valid) {
  auto p = pred.ne(0).to(torch::kByte).contiguous().cpu();
  auto g = gt.ne(0).to(torch::kByte).contiguous().cpu();
  TORCH_CHECK(p.sizes() == g.sizes(), "e_measure: pred and gt differ in size");
  if (valid.defined()) {
    TORCH_CHECK(valid.sizes() == g.sizes(), "e_measure: valid differs in size");
    g = g.masked_fill(valid.eq(0).cpu(), kIgnore).contiguous();
  }
  return binary_scores(p.data_ptr<uint8_t>(), g.data_ptr<uint8_t>(), static_cast<size_t>(p.numel()))
      .first;
}

CaseRecord analyze_case(const std::string& id, const torch::Tensor& pred, const torch::Tensor& gt,
                        const MetricOptions& options, const torch::Tensor& reference_pred,
                        const torch::Tensor& reference_gt) {
  const auto p = as_labels(pred, id, "prediction");
  const auto g = as_labels(gt, id, "ground truth");
  SVANET_CHECK(p.sizes() == g.sizes(), id, ": the prediction is ", p.size(1), "x", p.size(0),
               " but the ground truth is ", g.size(1), "x", g.size(0));
  const int rows = static_cast<int>(g.size(0)), cols = static_cast<int>(g.size(1));
  const auto n = static_cast<size_t>(g.numel());
  const uint8_t* pd = p.data_ptr<uint8_t>();
  const uint8_t* gd = g.data_ptr<uint8_t>();

  CaseRecord record;
  record.id = id;
  record.height = rows;
  record.width = cols;
  const auto counts = counts_from_histogram(joint_histogram(pd, gd, n, options.num_classes, id),
                                            options.num_classes);
  record.classes.resize(counts.size());
  for (size_t c = 0; c < counts.size(); ++c) record.classes[c].counts = counts[c];
  record.object_ratio = data::official_object_ratio(g);

  // Per foreground class: binary planes (ignored pixels belong to neither side).
  std::vector<uint8_t> pc(n), gc(n);
  for (int64_t c = 1; c < options.num_classes; ++c) {
    auto& cls = record.classes[static_cast<size_t>(c)];
    if (cls.counts.tp + cls.counts.fp + cls.counts.fn == 0) {
      cls.hd95 = cls.assd = cls.nsd = std::numeric_limits<double>::quiet_NaN();
      continue;
    }
    for (size_t i = 0; i < n; ++i) {
      gc[i] = gd[i] == c ? 1 : 0;
      pc[i] = pd[i] == c && gd[i] != kIgnore ? 1 : 0;
    }
    if (options.surface_distances) {
      const auto d = detail::surface_distance(pc.data(), gc.data(), rows, cols, options.spacing,
                                              options.tolerance());
      cls.hd95 = d.hd95;
      cls.assd = d.assd;
      cls.nsd = d.surface_dice;
    } else {
      cls.hd95 = cls.assd = cls.nsd = std::numeric_limits<double>::quiet_NaN();
    }
    if (options.objects) {
      const cv::Mat pm(rows, cols, CV_8UC1, pc.data());
      const cv::Mat gm(rows, cols, CV_8UC1, gc.data());
      std::vector<ObjectRecord> gt_objects, pred_objects;
      detail::match_class_objects(pm, gm, c, options.match, gt_objects, pred_objects);
      record.objects.insert(record.objects.end(), gt_objects.begin(), gt_objects.end());
      record.objects.insert(record.objects.end(), pred_objects.begin(), pred_objects.end());
    }
  }

  // Reference mode: the model's resolution when given.
  if (reference_pred.defined() || reference_gt.defined()) {
    const auto rp = as_labels(reference_pred, id, "reference prediction");
    const auto rg = as_labels(reference_gt, id, "reference ground truth");
    SVANET_CHECK(rp.sizes() == rg.sizes(), id,
                 ": the reference prediction and ground truth differ in size");
    const auto rn = static_cast<size_t>(rg.numel());
    record.reference_counts =
        counts_from_histogram(joint_histogram(rp.data_ptr<uint8_t>(), rg.data_ptr<uint8_t>(), rn,
                                              options.num_classes, id),
                              options.num_classes);
    std::tie(record.e_measure, record.mae) =
        binary_scores(rp.data_ptr<uint8_t>(), rg.data_ptr<uint8_t>(), rn);
  } else {
    record.reference_counts = counts;
    std::tie(record.e_measure, record.mae) = binary_scores(pd, gd, n);
  }
  return record;
}

}  // namespace svanet::metrics
