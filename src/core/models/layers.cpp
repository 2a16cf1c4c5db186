#include "svanet/models/layers.h"

#include <torch/torch.h>

#include <algorithm>

namespace svanet::models {

torch::Tensor apply_activation(torch::Tensor x, Activation act) {
  switch (act) {
    case Activation::kNone:
      return x;
    case Activation::kReLU:
      return x.relu_();
    case Activation::kSiLU:
      return torch::silu_(x);
    case Activation::kSigmoid:
      return x.sigmoid_();
  }
  return x;
}

int64_t make_divisible(double value, int64_t divisor) {
  const auto d = static_cast<double>(divisor);
  int64_t rounded =
      std::max<int64_t>(divisor, static_cast<int64_t>(value + d / 2.0) / divisor * divisor);
  if (static_cast<double>(rounded) < 0.9 * value) {
    rounded += divisor;
  }
  return rounded;
}

ConvNormActImpl::ConvNormActImpl(const ConvNormActOptions& options_) : options(options_) {
  TORCH_CHECK(options.in_channels() > 0 && options.out_channels() > 0,
              "ConvNormAct: channel counts must be positive, got ", options.in_channels(), " -> ",
              options.out_channels());
  TORCH_CHECK(options.kernel_size() % 2 == 1, "ConvNormAct: kernel size must be odd, got ",
              options.kernel_size());
  const bool bias = options.bias().value_or(!options.batch_norm());
  const int64_t padding = (options.kernel_size() - 1) / 2 * options.dilation();
  if (options.transposed()) {
    deconv = register_module(
        "conv", torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(options.in_channels(),
                                                                             options.out_channels(),
                                                                             options.kernel_size())
                                               .stride(options.stride())
                                               .padding(padding)
                                               .output_padding(options.stride() - 1)
                                               .dilation(options.dilation())
                                               .bias(bias)));
  } else {
    conv = register_module(
        "conv",
        torch::nn::Conv2d(torch::nn::Conv2dOptions(options.in_channels(), options.out_channels(),
                                                   options.kernel_size())
                              .stride(options.stride())
                              .padding(padding)
                              .dilation(options.dilation())
                              .bias(bias)));
  }
  if (options.batch_norm()) {
    bn = register_module(
        "bn",
        SyncBatchNorm2d(
            torch::nn::BatchNorm2dOptions(options.out_channels()).eps(kConvBnEps).momentum(0.1)));
  }
}

torch::Tensor ConvNormActImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = conv ? conv->forward(x) : deconv->forward(x);
  if (bn) {
    y = bn->forward(y);
  }
  return apply_activation(std::move(y), options.activation());
}

bool ConvNormActImpl::fold_batchnorm() {
  if (!bn || !conv) return false;
  torch::NoGradGuard no_grad;
  const auto& bo = bn->options;
  auto scale = bo.affine() ? bn->weight : torch::ones_like(bn->running_var);
  scale = scale / torch::sqrt(bn->running_var + bo.eps());
  auto shift = bo.affine() ? bn->bias.clone() : torch::zeros_like(bn->running_mean);
  shift -= bn->running_mean * scale;
  if (conv->bias.defined()) shift += conv->bias * scale;
  // In place, so that a large layer's weights exist twice at most briefly.
  conv->weight.mul_(scale.view({-1, 1, 1, 1}));
  const auto& o = conv->options;
  torch::nn::Conv2d fused(
      torch::nn::Conv2dOptions(o.in_channels(), o.out_channels(), o.kernel_size())
          .stride(o.stride())
          .padding(o.padding())
          .dilation(o.dilation())
          .groups(o.groups())
          .padding_mode(o.padding_mode())
          .bias(true));
  fused->weight.set_data(conv->weight);
  fused->bias.set_data(shift.to(conv->weight.scalar_type()));
  fused->train(is_training());
  conv = replace_module("conv", fused);
  unregister_module("bn");
  bn = nullptr;
  return true;
}

int64_t fold_batchnorm(torch::nn::Module& module) {
  TORCH_CHECK(!module.is_training(), "fold_batchnorm: the module must be in eval mode");
  int64_t folded = 0;
  for (const auto& child : module.modules(/*include_self=*/true)) {
    if (auto* layer = dynamic_cast<ConvNormActImpl*>(child.get())) {
      folded += layer->fold_batchnorm() ? 1 : 0;
    }
  }
  return folded;
}

ConvBlockImpl::ConvBlockImpl(int64_t in_channels, int64_t out_channels, int64_t stride) {
  conv3x3 = register_module("conv3x3", ConvNormAct(ConvNormActOptions(in_channels, out_channels, 3)
                                                       .stride(stride)
                                                       .batch_norm(true)
                                                       .activation(Activation::kReLU)));
  conv1x1 = register_module("conv1x1", ConvNormAct(ConvNormActOptions(out_channels, out_channels, 1)
                                                       .batch_norm(true)
                                                       .activation(Activation::kReLU)));
}

torch::Tensor ConvBlockImpl::forward(const torch::Tensor& x) {
  return conv1x1(conv3x3(x));
}

torch::Tensor resize_bilinear(const torch::Tensor& x, int64_t height, int64_t width,
                              bool align_corners) {
  if (x.size(2) == height && x.size(3) == width) {
    return x;
  }
  namespace F = torch::nn::functional;
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{height, width})
                               .mode(torch::kBilinear)
                               .align_corners(align_corners));
}

torch::Tensor drop_path(const torch::Tensor& x, double p, bool training) {
  if (!training || p <= 0.0) {
    return x;
  }
  const double survival = 1.0 - p;
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[0] = x.size(0);
  auto noise = torch::empty(shape, x.options()).bernoulli_(survival);
  if (survival > 0.0) {
    noise.div_(survival);
  }
  return x * noise;
}

}  // namespace svanet::models
