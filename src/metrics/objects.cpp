#include "svanet/metrics/objects.h"

#include "metrics/kernels.h"
#include "svanet/common/error.h"

#include <torch/torch.h>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <unordered_map>

namespace svanet::metrics {

namespace detail {

namespace {

struct Components {
  cv::Mat labels;  // CV_32S, 0 = background
  cv::Mat stats;   // CV_32S, one row per label
  int count = 0;   // labels including background
};

Components components(const cv::Mat& binary) {
  Components c;
  cv::Mat centroids;
  c.count = cv::connectedComponentsWithStats(binary, c.labels, c.stats, centroids, 8, CV_32S);
  return c;
}

ObjectRecord record(const Components& c, int label, int64_t class_index, bool ground_truth,
                    double pixels) {
  ObjectRecord r;
  r.class_index = class_index;
  r.ground_truth = ground_truth;
  r.area_px = c.stats.at<int>(label, cv::CC_STAT_AREA);
  r.area_pct = 100.0 * static_cast<double>(r.area_px) / pixels;
  r.x = c.stats.at<int>(label, cv::CC_STAT_LEFT);
  r.y = c.stats.at<int>(label, cv::CC_STAT_TOP);
  r.width = c.stats.at<int>(label, cv::CC_STAT_WIDTH);
  r.height = c.stats.at<int>(label, cv::CC_STAT_HEIGHT);
  return r;
}

}  // namespace

void match_class_objects(const cv::Mat& pred, const cv::Mat& gt, int64_t class_index,
                         const MatchOptions& options, std::vector<ObjectRecord>& gt_out,
                         std::vector<ObjectRecord>& pred_out) {
  const double pixels = static_cast<double>(gt.rows) * gt.cols;
  const Components g = components(gt);
  const Components p = components(pred);
  if (g.count <= 1 && p.count <= 1) return;
  // Overlap of every (ground-truth, predicted) label pair that touches:
  // (gt label) * count_p + (pred label) -> pixels.
  std::unordered_map<int64_t, int64_t> overlap;
  for (int r = 0; r < gt.rows; ++r) {
    const int* gl = g.labels.ptr<int>(r);
    const int* pl = p.labels.ptr<int>(r);
    for (int c = 0; c < gt.cols; ++c) {
      if (gl[c] != 0 && pl[c] != 0) ++overlap[static_cast<int64_t>(gl[c]) * p.count + pl[c]];
    }
  }
  // Per ground-truth object: the summed overlap and area of its partners.
  std::vector<int64_t> g_overlap(static_cast<size_t>(g.count), 0),
      g_partner_area(static_cast<size_t>(g.count), 0), g_partners(static_cast<size_t>(g.count), 0);
  std::vector<int64_t> p_overlap(static_cast<size_t>(p.count), 0),
      p_partner_area(static_cast<size_t>(p.count), 0), p_partners(static_cast<size_t>(p.count), 0);
  for (const auto& [key, count] : overlap) {
    const auto gi = static_cast<size_t>(key / p.count), pi = static_cast<size_t>(key % p.count);
    g_overlap[gi] += count;
    g_partner_area[gi] += p.stats.at<int>(static_cast<int>(pi), cv::CC_STAT_AREA);
    ++g_partners[gi];
    p_overlap[pi] += count;
    p_partner_area[pi] += g.stats.at<int>(static_cast<int>(gi), cv::CC_STAT_AREA);
    ++p_partners[pi];
  }
  // Dice and IoU of an object against the union of its partners.
  auto score = [](ObjectRecord& r, int64_t overlap_px, int64_t partner_area, int64_t partners) {
    const auto inter = static_cast<double>(overlap_px);
    const auto both = static_cast<double>(r.area_px + partner_area);
    r.dice = both > 0 ? 2.0 * inter / both : 0.0;
    r.iou = both - inter > 0 ? inter / (both - inter) : 0.0;
    r.partners = partners;
  };
  std::vector<bool> detected(static_cast<size_t>(g.count), false);
  for (int label = 1; label < g.count; ++label) {
    const auto i = static_cast<size_t>(label);
    ObjectRecord r = record(g, label, class_index, true, pixels);
    score(r, g_overlap[i], g_partner_area[i], g_partners[i]);
    r.matched = g_partners[i] > 0 && r.iou >= options.iou_threshold;
    detected[i] = r.matched;
    gt_out.push_back(r);
  }
  // A predicted component is a true positive when it overlaps a detected object.
  std::vector<bool> true_positive(static_cast<size_t>(p.count), false);
  for (const auto& [key, count] : overlap) {
    if (detected[static_cast<size_t>(key / p.count)]) {
      true_positive[static_cast<size_t>(key % p.count)] = true;
    }
  }
  for (int label = 1; label < p.count; ++label) {
    const auto i = static_cast<size_t>(label);
    ObjectRecord r = record(p, label, class_index, false, pixels);
    score(r, p_overlap[i], p_partner_area[i], p_partners[i]);
    r.matched = true_positive[i];
    pred_out.push_back(r);
  }
}

}  // namespace detail

std::vector<ObjectRecord> match_objects(const torch::Tensor& pred, const torch::Tensor& gt,
                                        int64_t num_classes, const MatchOptions& options) {
  TORCH_CHECK(pred.dim() == 2 && gt.dim() == 2 && pred.sizes() == gt.sizes(),
              "match_objects: pred and gt must be (H, W) of one size, got ", pred.sizes(), " and ",
              gt.sizes());
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
    detail::match_class_objects(pc, gc, c, options, gt_records, pred_records);
  }
  gt_records.insert(gt_records.end(), pred_records.begin(), pred_records.end());
  return gt_records;
}

}  // namespace svanet::metrics
