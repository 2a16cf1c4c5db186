#include "svanet/models/resnet.h"

#include "svanet/models/activation_checkpointing.h"

#include <torch/torch.h>

#include <array>

namespace svanet::models {

ResidualBlockImpl::ResidualBlockImpl(int64_t in_channels, int64_t planes, int64_t stride,
                                     bool bottleneck) {
  const int64_t expansion = bottleneck ? 4 : 1;
  out_channels = planes * expansion;
  if (bottleneck) {
    conv1 = register_module("conv1", ConvNormAct(ConvNormActOptions(in_channels, planes, 1)
                                                     .batch_norm(true)
                                                     .activation(Activation::kReLU)));
    conv2 = register_module("conv2", ConvNormAct(ConvNormActOptions(planes, planes, 3)
                                                     .stride(stride)
                                                     .batch_norm(true)
                                                     .activation(Activation::kReLU)));
    conv3 = register_module(
        "conv3", ConvNormAct(ConvNormActOptions(planes, out_channels, 1).batch_norm(true)));
  } else {
    conv1 = register_module("conv1", ConvNormAct(ConvNormActOptions(in_channels, planes, 3)
                                                     .stride(stride)
                                                     .batch_norm(true)
                                                     .activation(Activation::kReLU)));
    conv2 = register_module("conv2",
                            ConvNormAct(ConvNormActOptions(planes, planes, 3).batch_norm(true)));
  }
  if (stride != 1 || in_channels != out_channels) {
    downsample = register_module(
        "downsample",
        ConvNormAct(
            ConvNormActOptions(in_channels, out_channels, 1).stride(stride).batch_norm(true)));
  }
}

torch::Tensor ResidualBlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor out = conv2(conv1(x));
  if (conv3) {
    out = conv3(out);
  }
  out += downsample ? downsample(x) : x;
  return out.relu_();
}

ResNetEncoderImpl::ResNetEncoderImpl(const ResNetEncoderOptions& options_) : options(options_) {
  TORCH_CHECK(options.depth() == 18 || options.depth() == 34 || options.depth() == 50,
              "ResNetEncoder: depth must be 18, 34 or 50, got ", options.depth());
  TORCH_CHECK(options.num_stages() == 4 || options.num_stages() == 5,
              "ResNetEncoder: num_stages must be 4 or 5, got ", options.num_stages());
  TORCH_CHECK(options.width() >= 8, "ResNetEncoder: width must be at least 8, got ",
              options.width());
  const bool bottleneck = options.depth() == 50;
  const std::array<int64_t, 4> blocks = options.depth() == 18 ? std::array<int64_t, 4>{2, 2, 2, 2}
                                                              : std::array<int64_t, 4>{3, 4, 6, 3};
  const int64_t w = options.width();
  stem = register_module("stem", ConvNormAct(ConvNormActOptions(options.in_channels(), w, 7)
                                                 .stride(2)
                                                 .batch_norm(true)
                                                 .activation(Activation::kReLU)));
  channels_.push_back(w);
  int64_t in_channels = w;
  for (int64_t stage = 0; stage + 1 < options.num_stages(); ++stage) {
    const int64_t planes = w << stage;
    const int64_t stride = stage == 0 ? 1 : 2;
    torch::nn::Sequential layer;
    for (int64_t i = 0; i < blocks[static_cast<size_t>(stage)]; ++i) {
      ResidualBlock block(in_channels, planes, i == 0 ? stride : 1, bottleneck);
      in_channels = block->out_channels;
      layer->push_back(block);
    }
    layers.emplace_back(register_module("layer" + std::to_string(stage + 1), layer));
    channels_.push_back(in_channels);
  }
}

std::vector<torch::Tensor> ResNetEncoderImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.in_channels(),
              "ResNetEncoder: expected input (B, ", options.in_channels(), ", H, W), got ",
              x.sizes());
  std::vector<torch::Tensor> features;
  features.reserve(layers.size() + 1);
  if (checkpoint_stages) {
    features.push_back(
        checkpointed([s = stem](const torch::Tensor& in) mutable { return s(in); }, x, *stem));
  } else {
    features.push_back(stem(x));
  }
  // layer1 starts with the 3x3/2 max pool, as in the official `Layer1`.
  torch::Tensor y = torch::max_pool2d(features.back(), 3, 2, 1);
  for (auto& layer : layers) {
    if (checkpoint_stages) {
      y = checkpointed([l = layer](const torch::Tensor& in) mutable { return l->forward(in); }, y,
                       *layer);
    } else {
      y = layer->forward(y);
    }
    features.push_back(y);
  }
  return features;
}

}  // namespace svanet::models
