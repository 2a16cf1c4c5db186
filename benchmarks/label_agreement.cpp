// Label agreement of two folders of predicted label maps (palette or gray
// PNGs of class indices, matched by file name): the share of pixels that
// got the same class, and per class how many pixels each side gave it.
// What measures how far bf16 inference moves the labels from fp32's:
//
//   svanet evaluate -r runs/demo --precision fp32 -o eval_fp32
//   svanet evaluate -r runs/demo --precision bf16 -o eval_bf16
//   build/benchmarks/label_agreement eval_fp32/predictions eval_bf16/predictions

#include "svanet/data/image_io.h"

#include <torch/torch.h>

#include <cstdio>
#include <exception>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 3 || std::string(argv[1]) == "--help") {
    std::fprintf(stderr, "usage: label_agreement DIR_A DIR_B  (PNG label maps, matched by name)\n");
    return argc == 2 ? 0 : 2;
  }
  namespace fs = std::filesystem;
  try {
    const fs::path a(argv[1]), b(argv[2]);
    svanet::data::MaskEncoding indices;
    indices.num_classes = 255;  // class indices as stored
    int64_t images = 0, pixels = 0, same = 0, images_identical = 0;
    std::map<int64_t, std::pair<int64_t, int64_t>> per_class;  // class -> (pixels in A, in B)
    for (const auto& entry : fs::directory_iterator(a)) {
      if (entry.path().extension() != ".png") continue;
      const fs::path other = b / entry.path().filename();
      if (!fs::exists(other)) {
        std::fprintf(stderr, "label_agreement: %s has no counterpart in %s\n", entry.path().c_str(),
                     b.c_str());
        return 1;
      }
      const auto la =
          svanet::data::read_mask(entry.path().string(), indices).indices.to(torch::kLong);
      const auto lb = svanet::data::read_mask(other.string(), indices).indices.to(torch::kLong);
      if (la.sizes() != lb.sizes()) {
        std::fprintf(stderr, "label_agreement: %s and %s differ in size\n", entry.path().c_str(),
                     other.c_str());
        return 1;
      }
      const auto equal = (la == lb).sum().item<int64_t>();
      ++images;
      pixels += la.numel();
      same += equal;
      images_identical += equal == la.numel() ? 1 : 0;
      const auto count = [](const torch::Tensor& labels) {
        return torch::bincount(labels.flatten());
      };
      const auto ca = count(la), cb = count(lb);
      for (int64_t c = 0; c < std::max(ca.numel(), cb.numel()); ++c) {
        auto& [in_a, in_b] = per_class[c];
        if (c < ca.numel()) in_a += ca[c].item<int64_t>();
        if (c < cb.numel()) in_b += cb[c].item<int64_t>();
      }
    }
    if (images == 0) {
      std::fprintf(stderr, "label_agreement: no PNG files in %s\n", a.c_str());
      return 1;
    }
    std::printf(
        "%lld images, %lld pixels: %.4f %% of the pixels agree (%lld differ); %lld images "
        "identical\n",
        static_cast<long long>(images), static_cast<long long>(pixels),
        100.0 * static_cast<double>(same) / static_cast<double>(pixels),
        static_cast<long long>(pixels - same), static_cast<long long>(images_identical));
    for (const auto& [c, counts] : per_class) {
      if (counts.first == 0 && counts.second == 0) continue;
      std::printf("  class %lld: %lld pixels in A, %lld in B\n", static_cast<long long>(c),
                  static_cast<long long>(counts.first), static_cast<long long>(counts.second));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "label_agreement: %s\n", e.what());
    return 1;
  }
  return 0;
}
