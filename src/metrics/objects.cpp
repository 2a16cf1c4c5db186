#include "svanet/metrics/objects.h"

#include "metrics/kernels.h"
#include "svanet/common/error.h"
#include "svanet/utils/text.h"

#include <torch/torch.h>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <tuple>
#include <unordered_map>

namespace svanet::metrics {

MatchRule MatchRule::parse(const std::string& text) {
  const auto parts = utils::split(utils::trim(text), ':');
  const std::string kind = parts.empty() ? "" : utils::trim(parts[0]);
  const auto bad = [&](const std::string& why) {
    SVANET_FAIL("matching rule '", text, "': ", why,
                "; the rules are iou:T (one to one at IoU >= T in (0, 1], default iou:0.1) and "
                "overlap[:D] (any overlap after a dilation of D pixels, BraTS's)");
  };
  if (parts.size() > 2) bad("too many ':'");
  MatchRule rule;
  const std::string value = parts.size() == 2 ? utils::trim(parts[1]) : "";
  if (kind == "iou") {
    rule.kind = Kind::kIou;
    if (parts.size() == 2) {
      try {
        rule.iou = utils::parse_double(value);
      } catch (const Error&) {
        bad("'" + value + "' is not a number");
      }
    }
  } else if (kind == "overlap") {
    rule.kind = Kind::kOverlap;
    if (parts.size() == 2) {
      try {
        rule.dilation = utils::parse_int(value);
      } catch (const Error&) {
        bad("'" + value + "' is not a whole number of pixels");
      }
    }
  } else {
    bad("unknown rule '" + kind + "'");
  }
  try {
    rule.validate();
  } catch (const Error& e) {
    bad(e.what());
  }
  return rule;
}

void MatchRule::validate() const {
  if (kind == Kind::kIou) {
    SVANET_CHECK(iou > 0.0 && iou <= 1.0, "the IoU must be in (0, 1], got ",
                 utils::format_number(iou));
  } else {
    SVANET_CHECK(dilation >= 0 && dilation <= 64, "the dilation must be 0..64 pixels, got ",
                 dilation);
  }
}

std::string MatchRule::to_string() const {
  if (kind == Kind::kIou) return "iou:" + utils::format_number(iou);
  return dilation == 0 ? "overlap" : "overlap:" + std::to_string(dilation);
}

std::string MatchRule::describe() const {
  if (kind == Kind::kIou) {
    return "one to one: an object is found when a predicted component of its class, not paired "
           "with another object, reaches IoU " +
           utils::format_number(iou) +
           " with it (pairs taken in decreasing IoU); every unpaired component is a false "
           "positive";
  }
  return std::string("any overlap (BraTS's lesion-wise rule") +
         (dilation > 0 ? ", objects dilated by " + std::to_string(dilation) + " px" : "") +
         "): an object is found when a predicted component of its class touches it, scored "
         "against the union of those components; a component touching no object is a false "
         "positive";
}

namespace detail {

namespace {

struct Components {
  cv::Mat labels;  // CV_32S, 0 = background
  cv::Mat stats;   // CV_32S, one row per label (OpenCV's CC_STAT_* columns)
  int count = 0;   // labels including background
};

/// The 8-connected components of a binary mask, labelled in raster order
/// of their first pixel (as utils::label_objects numbers objects; OpenCV's
/// block-based labelling orders them otherwise), so that records and ties
/// follow one order.
Components components(const cv::Mat& binary) {
  Components c;
  cv::Mat stats, centroids;
  c.count = cv::connectedComponentsWithStats(binary, c.labels, stats, centroids, 8, CV_32S);
  std::vector<int> order(static_cast<size_t>(c.count), 0);
  int next = 1;
  for (int r = 0; r < c.labels.rows && next < c.count; ++r) {
    const int* row = c.labels.ptr<int>(r);
    for (int col = 0; col < c.labels.cols; ++col) {
      if (row[col] != 0 && order[static_cast<size_t>(row[col])] == 0) {
        order[static_cast<size_t>(row[col])] = next++;
      }
    }
  }
  for (int r = 0; r < c.labels.rows; ++r) {
    int* row = c.labels.ptr<int>(r);
    for (int col = 0; col < c.labels.cols; ++col) row[col] = order[static_cast<size_t>(row[col])];
  }
  c.stats = cv::Mat(stats.size(), stats.type());
  stats.row(0).copyTo(c.stats.row(0));
  for (int k = 1; k < c.count; ++k) stats.row(k).copyTo(c.stats.row(order[static_cast<size_t>(k)]));
  return c;
}

/// Area and bounding box of every label of `labels`, as connectedComponentsWithStats.
cv::Mat label_stats(const cv::Mat& labels, int count) {
  cv::Mat stats(count, cv::CC_STAT_MAX, CV_32S, cv::Scalar(0));
  std::vector<int> left(static_cast<size_t>(count), labels.cols), top(left.size(), labels.rows),
      right(left.size(), -1), bottom(left.size(), -1);
  for (int r = 0; r < labels.rows; ++r) {
    const int* row = labels.ptr<int>(r);
    for (int c = 0; c < labels.cols; ++c) {
      const auto k = static_cast<size_t>(row[c]);
      if (k == 0) continue;
      ++stats.at<int>(static_cast<int>(k), cv::CC_STAT_AREA);
      left[k] = std::min(left[k], c);
      right[k] = std::max(right[k], c);
      top[k] = std::min(top[k], r);
      bottom[k] = std::max(bottom[k], r);
    }
  }
  for (int k = 1; k < count; ++k) {
    const auto i = static_cast<size_t>(k);
    stats.at<int>(k, cv::CC_STAT_LEFT) = left[i];
    stats.at<int>(k, cv::CC_STAT_TOP) = top[i];
    stats.at<int>(k, cv::CC_STAT_WIDTH) = right[i] - left[i] + 1;
    stats.at<int>(k, cv::CC_STAT_HEIGHT) = bottom[i] - top[i] + 1;
  }
  return stats;
}

int area_of(const Components& c, int label) {
  return c.stats.at<int>(label, cv::CC_STAT_AREA);
}

ObjectRecord record(const Components& c, int label, int64_t class_index, bool ground_truth,
                    double pixels) {
  ObjectRecord r;
  r.class_index = class_index;
  r.ground_truth = ground_truth;
  r.area_px = area_of(c, label);
  r.area_pct = 100.0 * static_cast<double>(r.area_px) / pixels;
  r.x = c.stats.at<int>(label, cv::CC_STAT_LEFT);
  r.y = c.stats.at<int>(label, cv::CC_STAT_TOP);
  r.width = c.stats.at<int>(label, cv::CC_STAT_WIDTH);
  r.height = c.stats.at<int>(label, cv::CC_STAT_HEIGHT);
  return r;
}

/// Pixel counts of label pairs where both label maps are non-zero:
/// (a label) * b_count + (b label) -> pixels.
std::unordered_map<int64_t, int64_t> pair_counts(const cv::Mat& a, const cv::Mat& b, int b_count) {
  std::unordered_map<int64_t, int64_t> out;
  for (int r = 0; r < a.rows; ++r) {
    const int* al = a.ptr<int>(r);
    const int* bl = b.ptr<int>(r);
    for (int c = 0; c < a.cols; ++c) {
      if (al[c] != 0 && bl[c] != 0) ++out[static_cast<int64_t>(al[c]) * b_count + bl[c]];
    }
  }
  return out;
}

/// Dice and IoU of a region of `area` against one of `other_area` sharing `inter` pixels.
void score(ObjectRecord& r, int64_t inter, int64_t other_area) {
  const auto i = static_cast<double>(inter);
  const auto both = static_cast<double>(r.area_px + other_area);
  r.dice = both > 0 ? 2.0 * i / both : 0.0;
  r.iou = both - i > 0 ? i / (both - i) : 0.0;
}

/// One to one at IoU >= rule.iou, in decreasing IoU.
void match_by_iou(const Components& g, const Components& p, int64_t class_index,
                  const MatchRule& rule, double pixels, std::vector<ObjectRecord>& gt_out,
                  std::vector<ObjectRecord>& pred_out) {
  const auto overlap = pair_counts(g.labels, p.labels, p.count);
  struct Pair {
    double iou;
    int gt, pred;
    int64_t inter;
  };
  std::vector<Pair> pairs;
  pairs.reserve(overlap.size());
  std::vector<int64_t> g_partners(static_cast<size_t>(g.count), 0),
      p_partners(static_cast<size_t>(p.count), 0);
  for (const auto& [key, inter] : overlap) {
    const auto gi = static_cast<int>(key / p.count), pi = static_cast<int>(key % p.count);
    const auto both = static_cast<double>(area_of(g, gi) + area_of(p, pi));
    pairs.push_back(
        {static_cast<double>(inter) / (both - static_cast<double>(inter)), gi, pi, inter});
    ++g_partners[static_cast<size_t>(gi)];
    ++p_partners[static_cast<size_t>(pi)];
  }
  // Decreasing IoU; ties in raster order of the objects, then the components.
  std::sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) {
    return std::tie(b.iou, a.gt, a.pred) < std::tie(a.iou, b.gt, b.pred);
  });
  // The chosen pair of each object and component: its matched partner, or
  // (first in that order) the partner it overlaps most.
  std::vector<const Pair*> g_pair(static_cast<size_t>(g.count), nullptr),
      p_pair(static_cast<size_t>(p.count), nullptr);
  std::vector<bool> g_matched(g_pair.size(), false), p_matched(p_pair.size(), false);
  for (const Pair& pair : pairs) {
    const auto gi = static_cast<size_t>(pair.gt), pi = static_cast<size_t>(pair.pred);
    if (pair.iou >= rule.iou && !g_matched[gi] && !p_matched[pi]) {
      g_matched[gi] = p_matched[pi] = true;
      g_pair[gi] = p_pair[pi] = &pair;
    }
  }
  for (const Pair& pair : pairs) {
    const auto gi = static_cast<size_t>(pair.gt), pi = static_cast<size_t>(pair.pred);
    if (g_pair[gi] == nullptr) g_pair[gi] = &pair;
    if (p_pair[pi] == nullptr) p_pair[pi] = &pair;
  }
  for (int label = 1; label < g.count; ++label) {
    const auto i = static_cast<size_t>(label);
    ObjectRecord r = record(g, label, class_index, true, pixels);
    if (const Pair* pair = g_pair[i]) score(r, pair->inter, area_of(p, pair->pred));
    r.matched = g_matched[i];
    r.partners = g_partners[i];
    gt_out.push_back(r);
  }
  for (int label = 1; label < p.count; ++label) {
    const auto i = static_cast<size_t>(label);
    ObjectRecord r = record(p, label, class_index, false, pixels);
    if (const Pair* pair = p_pair[i]) score(r, pair->inter, area_of(g, pair->gt));
    r.matched = p_matched[i];
    r.partners = p_partners[i];
    pred_out.push_back(r);
  }
}

/// Any overlap with an object's reach (`reach` labels the dilated objects,
/// `g` the objects' own pixels with the same labels).
void match_by_overlap(const Components& g, const cv::Mat& reach, const Components& p,
                      int64_t class_index, double pixels, std::vector<ObjectRecord>& gt_out,
                      std::vector<ObjectRecord>& pred_out) {
  const auto inter = pair_counts(g.labels, p.labels, p.count);
  const auto touch = pair_counts(reach, p.labels, p.count);
  const auto ng = static_cast<size_t>(g.count), np = static_cast<size_t>(p.count);
  // Per side: pixels shared with its partners, their summed area, how many.
  std::vector<int64_t> g_inter(ng, 0), g_area(ng, 0), g_partners(ng, 0);
  std::vector<int64_t> p_inter(np, 0), p_area(np, 0), p_partners(np, 0);
  for (const auto& [key, count] : inter) {
    g_inter[static_cast<size_t>(key / p.count)] += count;
    p_inter[static_cast<size_t>(key % p.count)] += count;
  }
  for (const auto& [key, count] : touch) {
    const auto gi = static_cast<int>(key / p.count), pi = static_cast<int>(key % p.count);
    g_area[static_cast<size_t>(gi)] += area_of(p, pi);
    ++g_partners[static_cast<size_t>(gi)];
    p_area[static_cast<size_t>(pi)] += area_of(g, gi);
    ++p_partners[static_cast<size_t>(pi)];
  }
  for (int label = 1; label < g.count; ++label) {
    const auto i = static_cast<size_t>(label);
    ObjectRecord r = record(g, label, class_index, true, pixels);
    score(r, g_inter[i], g_area[i]);
    r.matched = g_partners[i] > 0;
    r.partners = g_partners[i];
    gt_out.push_back(r);
  }
  for (int label = 1; label < p.count; ++label) {
    const auto i = static_cast<size_t>(label);
    ObjectRecord r = record(p, label, class_index, false, pixels);
    score(r, p_inter[i], p_area[i]);
    r.matched = p_partners[i] > 0;
    r.partners = p_partners[i];
    pred_out.push_back(r);
  }
}

}  // namespace

void match_class_objects(const cv::Mat& pred, const cv::Mat& gt, int64_t class_index,
                         const MatchRule& rule, std::vector<ObjectRecord>& gt_out,
                         std::vector<ObjectRecord>& pred_out) {
  const double pixels = static_cast<double>(gt.rows) * gt.cols;
  const Components p = components(pred);
  if (rule.kind == MatchRule::Kind::kIou) {
    const Components g = components(gt);
    if (g.count > 1 || p.count > 1) match_by_iou(g, p, class_index, rule, pixels, gt_out, pred_out);
    return;
  }
  if (rule.dilation == 0) {
    const Components g = components(gt);
    if (g.count > 1 || p.count > 1) {
      match_by_overlap(g, g.labels, p, class_index, pixels, gt_out, pred_out);
    }
    return;
  }
  // BraTS: the dilated objects' components; the objects are their
  // ground-truth pixels, so objects whose dilations touch become one.
  cv::Mat dilated;
  cv::dilate(gt, dilated, cv::Mat::ones(3, 3, CV_8U), cv::Point(-1, -1),
             static_cast<int>(rule.dilation), cv::BORDER_CONSTANT, cv::Scalar(0));
  const Components reach = components(dilated);
  Components g;
  g.count = reach.count;
  g.labels = reach.labels.clone();
  g.labels.setTo(0, gt == 0);
  g.stats = label_stats(g.labels, g.count);
  if (g.count > 1 || p.count > 1) {
    match_by_overlap(g, reach.labels, p, class_index, pixels, gt_out, pred_out);
  }
}

}  // namespace detail

std::vector<ObjectRecord> match_objects(const torch::Tensor& pred, const torch::Tensor& gt,
                                        int64_t num_classes, const MatchRule& rule) {
  TORCH_CHECK(pred.dim() == 2 && gt.dim() == 2 && pred.sizes() == gt.sizes(),
              "match_objects: pred and gt must be (H, W) of one size, got ", pred.sizes(), " and ",
              gt.sizes());
  rule.validate();
  const auto p = pred.to(torch::kByte).contiguous().cpu();
  const auto g = gt.to(torch::kByte).contiguous().cpu();
  const cv::Mat pm(static_cast<int>(p.size(0)), static_cast<int>(p.size(1)), CV_8UC1,
                   p.data_ptr<uint8_t>());
  const cv::Mat gm(static_cast<int>(g.size(0)), static_cast<int>(g.size(1)), CV_8UC1,
                   g.data_ptr<uint8_t>());
  const cv::Mat valid = gm != 255;
  std::vector<ObjectRecord> gt_records, pred_records;
  for (int64_t c = 1; c < num_classes; ++c) {
    const cv::Mat pc = (pm == c) & valid;
    const cv::Mat gc = gm == c;
    detail::match_class_objects(pc, gc, c, rule, gt_records, pred_records);
  }
  gt_records.insert(gt_records.end(), pred_records.begin(), pred_records.end());
  return gt_records;
}

}  // namespace svanet::metrics
