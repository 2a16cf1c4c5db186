#include "svanet/models/aspp.h"

#include <torch/torch.h>

namespace svanet::models {

ASPPImpl::ASPPImpl(const ASPPOptions& options_) : options(options_) {
  const int64_t in = options.in_channels();
  const int64_t out = options.out_channels();
  TORCH_CHECK(options.dropout() >= 0.0 && options.dropout() < 1.0,
              "ASPP: dropout must be in [0, 1), got ", options.dropout());
  branches = register_module("branches", torch::nn::ModuleList());
  branches_.emplace_back(
      ConvNormActOptions(in, out, 1).batch_norm(true).activation(Activation::kReLU));
  for (int64_t rate : options.rates()) {
    TORCH_CHECK(rate >= 1, "ASPP: dilation rates must be >= 1, got ", rate);
    branches_.emplace_back(ConvNormActOptions(in, out, 3)
                               .dilation(rate)
                               .batch_norm(true)
                               .activation(Activation::kReLU));
  }
  for (auto& branch : branches_) {
    branches->push_back(branch);
  }
  pooling = register_module(
      "pooling",
      ConvNormAct(ConvNormActOptions(in, out, 1).batch_norm(true).activation(Activation::kReLU)));
  const auto num_branches = static_cast<int64_t>(branches_.size()) + 1;
  project = register_module("project", ConvNormAct(ConvNormActOptions(num_branches * out, out, 1)
                                                       .batch_norm(true)
                                                       .activation(Activation::kReLU)));
}

torch::Tensor ASPPImpl::pool_branch(const torch::Tensor& x) {
  // (B, C, H, W) -> (B, C, 1, 1) -> (B, out, 1, 1)
  auto pooled = torch::adaptive_avg_pool2d(x, {1, 1});
  torch::Tensor y;
  // A batch of one has no variance per channel: its running statistics are
  // used instead (the official head's behaviour), unless SyncBatchNorm
  // normalises over the other processes' images too.
  if (is_training() && x.size(0) == 1 && !pooling->bn->synchronised()) {
    auto& bn = pooling->bn;
    y = torch::batch_norm(pooling->conv(pooled), bn->weight, bn->bias, bn->running_mean,
                          bn->running_var, /*training=*/false, bn->options.momentum().value(),
                          bn->options.eps(), /*cudnn_enabled=*/true);
    y = y.relu_();
  } else {
    y = pooling(pooled);
  }
  // Never a no-op: the official head interpolates even a 1x1 map to 1x1.
  namespace F = torch::nn::functional;
  return F::interpolate(y, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{x.size(2), x.size(3)})
                               .mode(torch::kBilinear)
                               .align_corners(false));
}

torch::Tensor ASPPImpl::forward(const torch::Tensor& x) {
  std::vector<torch::Tensor> outs;
  outs.reserve(branches_.size() + 1);
  for (auto& branch : branches_) {
    outs.push_back(branch(x));
  }
  outs.push_back(pool_branch(x));
  auto y = project(torch::cat(outs, 1));
  return torch::feature_dropout(y, options.dropout(), is_training());
}

}  // namespace svanet::models
