#include "svanet/models/feature_guide_bottleneck.h"

#include <torch/torch.h>

namespace svanet::models {

FeatureGuideBottleneckImpl::FeatureGuideBottleneckImpl(
    const FeatureGuideBottleneckOptions& options_)
    : options(options_) {
  const int64_t c = options.channels();
  const int64_t hidden = make_divisible(static_cast<double>(c) * 2.0, 8);
  expand = register_module(
      "expand",
      ConvNormAct(ConvNormActOptions(c, hidden, 1).batch_norm(true).activation(Activation::kReLU)));
  spatial = register_module(
      "spatial",
      ConvNormAct(
          ConvNormActOptions(hidden, hidden, 3).batch_norm(true).activation(Activation::kReLU)));
  if (options.monte_carlo_attention()) {
    attention =
        register_module("attention", MonteCarloAttention(MonteCarloAttentionOptions(hidden)
                                                             .pool_sizes(options.mc_pool_sizes())
                                                             .shuffle(options.mc_shuffle())));
  }
  project =
      register_module("project", ConvNormAct(ConvNormActOptions(hidden, c, 1).batch_norm(true)));
  if (options.former_blocks() > 0) {
    former = register_module(
        "former", AssembleFormer(AssembleFormerOptions(c).num_blocks(options.former_blocks())));
  }
}

torch::Tensor FeatureGuideBottleneckImpl::forward(const torch::Tensor& x) {
  auto y = spatial(expand(x));
  if (attention) {
    y = attention(y);
  }
  y = x + project(y);
  return former ? former(y) : y;
}

}  // namespace svanet::models
