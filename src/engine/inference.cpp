#include "svanet/engine/inference.h"

#include "svanet/common/error.h"
#include "svanet/inference/thresholds.h"

#include <torch/torch.h>

namespace svanet::engine {

namespace F = torch::nn::functional;

namespace {

torch::Tensor labels_of(const torch::Tensor& logits, const std::vector<double>& thresholds) {
  // The argmax needs no softmax; thresholds compare probabilities.
  return thresholds.empty()
             ? logits.argmax(1).to(torch::kByte)
             : inference::labels_from_probabilities(torch::softmax(logits, 1), 1, thresholds);
}

}  // namespace

std::vector<torch::Tensor> native_scores(const torch::Tensor& logits, const data::Batch& batch) {
  SVANET_CHECK(
      logits.dim() == 4 && logits.size(0) == static_cast<int64_t>(batch.native_sizes.size()),
      "native_scores: ", logits.size(0), " logits for ", batch.native_sizes.size(), " samples");
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < logits.size(0); ++i) {
    const auto [h, w] = batch.native_sizes[static_cast<size_t>(i)];
    auto l = logits.slice(0, i, i + 1).to(torch::kFloat);
    if (l.size(2) != h || l.size(3) != w) {
      l = F::interpolate(l, F::InterpolateFuncOptions()
                                .size(std::vector<int64_t>{h, w})
                                .mode(torch::kBilinear)
                                .align_corners(false));
    }
    out.push_back(l);
  }
  return out;
}

std::vector<torch::Tensor> native_labels(const torch::Tensor& logits, const data::Batch& batch,
                                         const std::vector<double>& thresholds) {
  std::vector<torch::Tensor> out;
  for (const auto& scores : native_scores(logits, batch)) {
    out.push_back(labels_of(scores, thresholds).squeeze(0).cpu());
  }
  return out;
}

std::vector<torch::Tensor> add_batch(metrics::Evaluator& evaluator, const torch::Tensor& logits,
                                     const data::Batch& batch,
                                     const std::vector<double>& thresholds) {
  SVANET_CHECK(batch.native_masks.size() == batch.stems.size(),
               "add_batch: the loader did not keep the native masks");
  const auto reference = labels_of(logits.to(torch::kFloat), thresholds).cpu();
  const auto masks = batch.masks.to(torch::kByte).cpu();
  auto labels = native_labels(logits, batch, thresholds);
  for (size_t i = 0; i < labels.size(); ++i) {
    const auto k = static_cast<int64_t>(i);
    evaluator.add(batch.stems[i], labels[i], batch.native_masks[i], reference[k], masks[k]);
  }
  return labels;
}

}  // namespace svanet::engine
