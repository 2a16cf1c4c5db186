#include "svanet/utils/components.h"

#include "svanet/common/error.h"

#include <torch/torch.h>

namespace svanet::utils {

namespace {

/// Union-find over provisional labels, with path halving.
int64_t find_root(std::vector<int64_t>& parent, int64_t x) {
  while (parent[static_cast<size_t>(x)] != x) {
    auto& p = parent[static_cast<size_t>(x)];
    p = parent[static_cast<size_t>(p)];
    x = p;
  }
  return x;
}

void unite(std::vector<int64_t>& parent, int64_t a, int64_t b) {
  a = find_root(parent, a);
  b = find_root(parent, b);
  if (a == b) return;
  // The smaller label stays the root, so numbering follows raster order.
  if (a < b) {
    parent[static_cast<size_t>(b)] = a;
  } else {
    parent[static_cast<size_t>(a)] = b;
  }
}

}  // namespace

Objects label_objects(const torch::Tensor& target, int64_t num_classes, int64_t ignore_index) {
  SVANET_CHECK(target.dim() == 2 || target.dim() == 3,
               "label_objects: expected (B, H, W) or (H, W) labels, got ", target.dim(),
               " dimensions");
  SVANET_CHECK(!target.is_floating_point() && !target.is_complex(),
               "label_objects: labels must be integers, got ", target.scalar_type());
  const auto labels =
      (target.dim() == 2 ? target.unsqueeze(0) : target).to(torch::kCPU, torch::kLong).contiguous();
  const int64_t batch = labels.size(0), height = labels.size(1), width = labels.size(2);
  Objects out;
  out.ids = torch::zeros({batch, height, width}, torch::kLong);
  const auto* in = labels.data_ptr<int64_t>();
  auto* ids = out.ids.data_ptr<int64_t>();
  auto is_object = [&](int64_t v) { return v != ignore_index && v >= 1 && v < num_classes; };
  std::vector<int64_t> parent;
  std::vector<int64_t> provisional(static_cast<size_t>(height * width));
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t* img = in + b * height * width;
    parent.clear();
    std::fill(provisional.begin(), provisional.end(), -1);
    // Pass 1: provisional labels from the already visited neighbours (W,
    // NW, N, NE) of the same class.
    for (int64_t y = 0; y < height; ++y) {
      for (int64_t x = 0; x < width; ++x) {
        const int64_t i = y * width + x;
        const int64_t v = img[i];
        if (!is_object(v)) continue;
        int64_t mine = -1;
        const int64_t neighbours[4][2] = {{0, -1}, {-1, -1}, {-1, 0}, {-1, 1}};
        for (const auto& d : neighbours) {
          const int64_t ny = y + d[0], nx = x + d[1];
          if (ny < 0 || nx < 0 || nx >= width) continue;
          const int64_t j = ny * width + nx;
          if (img[j] != v) continue;
          const int64_t theirs = provisional[static_cast<size_t>(j)];
          if (mine < 0) {
            mine = theirs;
          } else {
            unite(parent, mine, theirs);
          }
        }
        if (mine < 0) {
          mine = static_cast<int64_t>(parent.size());
          parent.push_back(mine);
        }
        provisional[static_cast<size_t>(i)] = mine;
      }
    }
    // Pass 2: final numbers in raster order of each object's first pixel.
    std::vector<int64_t> number(parent.size(), -1);
    for (int64_t i = 0; i < height * width; ++i) {
      const int64_t p = provisional[static_cast<size_t>(i)];
      if (p < 0) continue;
      const int64_t root = find_root(parent, p);
      auto& n = number[static_cast<size_t>(root)];
      if (n < 0) {
        n = out.count();
        out.image.push_back(b);
        out.label.push_back(img[i]);
        out.area.push_back(0);
      }
      ++out.area[static_cast<size_t>(n)];
      ids[b * height * width + i] = n + 1;
    }
  }
  return out;
}

}  // namespace svanet::utils
