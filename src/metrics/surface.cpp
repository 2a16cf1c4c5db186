#include "svanet/metrics/surface.h"

#include "metrics/kernels.h"
#include "svanet/common/error.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace svanet::metrics {

namespace detail {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

/// One dimension of Felzenszwalb and Huttenlocher's distance transform:
/// d[i] = min_j ((i - j) s)^2 + f[j] over the j with finite f[j], for samples
/// `stride` apart in memory. `v` and `z` are scratch of n and n + 1.
void transform_1d(double* f, int n, int stride, double s, std::vector<int>& v,
                  std::vector<double>& z, std::vector<double>& copy) {
  for (int i = 0; i < n; ++i) copy[static_cast<size_t>(i)] = f[static_cast<ptrdiff_t>(i) * stride];
  int k = -1;
  for (int q = 0; q < n; ++q) {
    const double fq = copy[static_cast<size_t>(q)];
    if (fq == kInf) continue;
    const double xq = q * s;
    if (k < 0) {
      k = 0;
      v[0] = q;
      z[0] = -kInf;
      z[1] = kInf;
      continue;
    }
    double x = 0.0;
    while (true) {
      const int p = v[static_cast<size_t>(k)];
      const double xp = p * s;
      // Where the parabolas rooted at p and q intersect.
      x = ((fq + xq * xq) - (copy[static_cast<size_t>(p)] + xp * xp)) / (2.0 * (xq - xp));
      if (x > z[static_cast<size_t>(k)] || k == 0) break;
      --k;
    }
    if (x <= z[static_cast<size_t>(k)]) {
      // k == 0 and q's parabola dominates from the start.
      v[0] = q;
      z[1] = kInf;
      continue;
    }
    ++k;
    v[static_cast<size_t>(k)] = q;
    z[static_cast<size_t>(k)] = x;
    z[static_cast<size_t>(k) + 1] = kInf;
  }
  if (k < 0) {
    for (int i = 0; i < n; ++i) f[static_cast<ptrdiff_t>(i) * stride] = kInf;
    return;
  }
  k = 0;
  for (int q = 0; q < n; ++q) {
    const double xq = q * s;
    while (z[static_cast<size_t>(k) + 1] < xq) ++k;
    const int p = v[static_cast<size_t>(k)];
    const double dx = xq - p * s;
    f[static_cast<ptrdiff_t>(q) * stride] = dx * dx + copy[static_cast<size_t>(p)];
  }
}

/// Boundary pixels (in the set, with a 4-neighbour outside it or on the
/// plane's border) of the non-zero pixels of a rows x cols window of a plane
/// with row stride `stride`.
std::vector<uint8_t> boundary(const uint8_t* plane, int stride, int rows, int cols) {
  std::vector<uint8_t> edge(static_cast<size_t>(rows) * static_cast<size_t>(cols), 0);
  for (int r = 0; r < rows; ++r) {
    const uint8_t* row = plane + static_cast<ptrdiff_t>(r) * stride;
    for (int c = 0; c < cols; ++c) {
      if (row[c] == 0) continue;
      const bool inside = r > 0 && r + 1 < rows && c > 0 && c + 1 < cols && row[c - 1] != 0 &&
                          row[c + 1] != 0 && row[c - stride] != 0 && row[c + stride] != 0;
      edge[static_cast<size_t>(r) * static_cast<size_t>(cols) + static_cast<size_t>(c)] =
          inside ? 0 : 1;
    }
  }
  return edge;
}

}  // namespace

void squared_distance_transform(const uint8_t* set, int rows, int cols, const Spacing& spacing,
                                std::vector<double>& out) {
  out.assign(static_cast<size_t>(rows) * static_cast<size_t>(cols), kInf);
  for (size_t i = 0; i < out.size(); ++i) {
    if (set[i] != 0) out[i] = 0.0;
  }
  const int longest = std::max(rows, cols);
  std::vector<int> v(static_cast<size_t>(longest));
  std::vector<double> z(static_cast<size_t>(longest) + 1), copy(static_cast<size_t>(longest));
  for (int c = 0; c < cols; ++c) transform_1d(out.data() + c, rows, cols, spacing[0], v, z, copy);
  for (int r = 0; r < rows; ++r) {
    transform_1d(out.data() + static_cast<ptrdiff_t>(r) * cols, cols, 1, spacing[1], v, z, copy);
  }
}

double percentile(std::vector<double>& values, double q) {
  SVANET_CHECK(!values.empty(), "percentile of no values");
  const double rank = q * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(rank));
  std::nth_element(values.begin(), values.begin() + static_cast<ptrdiff_t>(lo), values.end());
  const double low = values[lo];
  if (lo + 1 >= values.size()) return low;
  // The next order statistic is the smallest value above position lo.
  const double high =
      *std::min_element(values.begin() + static_cast<ptrdiff_t>(lo) + 1, values.end());
  return low + (rank - static_cast<double>(lo)) * (high - low);
}

SurfaceDistance surface_distance(const uint8_t* pred, const uint8_t* gt, int rows, int cols,
                                 const Spacing& spacing, double tolerance) {
  // The bounding box of both regions: every boundary pixel and every nearest
  // boundary pixel lies inside it, so the transforms can be cropped to it.
  int top = rows, bottom = -1, left = cols, right = -1;
  bool any_pred = false, any_gt = false;
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      const size_t i = static_cast<size_t>(r) * static_cast<size_t>(cols) + static_cast<size_t>(c);
      const bool p = pred[i] != 0, g = gt[i] != 0;
      if (!p && !g) continue;
      any_pred |= p;
      any_gt |= g;
      top = std::min(top, r);
      bottom = std::max(bottom, r);
      left = std::min(left, c);
      right = std::max(right, c);
    }
  }
  SurfaceDistance out;
  if (!any_pred && !any_gt) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    return {nan, nan, nan, nan};
  }
  if (!any_pred || !any_gt) {
    const double diagonal = std::hypot(rows * spacing[0], cols * spacing[1]);
    return {diagonal, diagonal, diagonal, 0.0};
  }
  const int h = bottom - top + 1, w = right - left + 1;
  const ptrdiff_t origin = static_cast<ptrdiff_t>(top) * cols + left;
  // Pixels at the crop's edge that are not at the image's edge have their
  // outer neighbour outside both regions, so cropping keeps the boundaries.
  const auto edge_pred = boundary(pred + origin, cols, h, w);
  const auto edge_gt = boundary(gt + origin, cols, h, w);
  std::vector<double> to_gt, to_pred;
  squared_distance_transform(edge_gt.data(), h, w, spacing, to_gt);
  squared_distance_transform(edge_pred.data(), h, w, spacing, to_pred);
  std::vector<double> pred_to_gt, gt_to_pred;
  for (size_t i = 0; i < edge_pred.size(); ++i) {
    if (edge_pred[i] != 0) pred_to_gt.push_back(std::sqrt(to_gt[i]));
    if (edge_gt[i] != 0) gt_to_pred.push_back(std::sqrt(to_pred[i]));
  }
  double sum = 0.0;
  // Within the tolerance, with room for the rounding of sqrt (a distance of
  // exactly t, 3 px diagonally say, counts).
  const double reach = tolerance * (1.0 + 1e-12);
  int64_t within = 0;
  for (const double d : pred_to_gt) {
    sum += d;
    within += d <= reach ? 1 : 0;
  }
  for (const double d : gt_to_pred) {
    sum += d;
    within += d <= reach ? 1 : 0;
  }
  out.surface_dice =
      static_cast<double>(within) / static_cast<double>(pred_to_gt.size() + gt_to_pred.size());
  out.assd = sum / static_cast<double>(pred_to_gt.size() + gt_to_pred.size());
  out.hausdorff = std::max(*std::max_element(pred_to_gt.begin(), pred_to_gt.end()),
                           *std::max_element(gt_to_pred.begin(), gt_to_pred.end()));
  out.hd95 = std::max(percentile(pred_to_gt, 0.95), percentile(gt_to_pred, 0.95));
  return out;
}

}  // namespace detail

namespace {

torch::Tensor as_plane(const torch::Tensor& mask, const char* what) {
  TORCH_CHECK(mask.dim() == 2, what, " must be (H, W), got ", mask.sizes());
  return mask.ne(0).to(torch::kByte).contiguous().cpu();
}

}  // namespace

SurfaceDistance surface_distance(const torch::Tensor& pred, const torch::Tensor& gt,
                                 const Spacing& spacing, double tolerance) {
  const auto p = as_plane(pred, "pred");
  const auto g = as_plane(gt, "gt");
  TORCH_CHECK(p.sizes() == g.sizes(), "pred and gt differ in size: ", p.sizes(), " vs ", g.sizes());
  TORCH_CHECK(spacing[0] > 0 && spacing[1] > 0, "spacing must be positive");
  TORCH_CHECK(tolerance >= 0, "the surface Dice's tolerance must be 0 or more");
  return detail::surface_distance(p.data_ptr<uint8_t>(), g.data_ptr<uint8_t>(),
                                  static_cast<int>(p.size(0)), static_cast<int>(p.size(1)), spacing,
                                  tolerance);
}

torch::Tensor distance_transform(const torch::Tensor& mask, const Spacing& spacing) {
  const auto plane = as_plane(mask, "mask");
  TORCH_CHECK(spacing[0] > 0 && spacing[1] > 0, "spacing must be positive");
  std::vector<double> out;
  const int rows = static_cast<int>(plane.size(0)), cols = static_cast<int>(plane.size(1));
  detail::squared_distance_transform(plane.data_ptr<uint8_t>(), rows, cols, spacing, out);
  return torch::from_blob(out.data(), {rows, cols}, torch::kDouble).sqrt().clone();
}

}  // namespace svanet::metrics
