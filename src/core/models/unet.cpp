#include "svanet/models/unet.h"

#include <torch/torch.h>

namespace svanet::models {

const Fields<UNetOptions>& unet_option_fields() {
  static const auto fields =
      Fields<UNetOptions>()
          .add(SVANET_ARG_FIELD(base_channels, "width of the first level"))
          .add(SVANET_ARG_FIELD(depth, "number of 2x down-samplings (4 in the original)"));
  return fields;
}

namespace {

torch::nn::Sequential double_conv(int64_t in, int64_t out) {
  return torch::nn::Sequential(
      ConvNormAct(ConvNormActOptions(in, out, 3).batch_norm(true).activation(Activation::kReLU)),
      ConvNormAct(ConvNormActOptions(out, out, 3).batch_norm(true).activation(Activation::kReLU)));
}

}  // namespace

UNetImpl::UNetImpl(const UNetOptions& options_) : options(options_) {
  TORCH_CHECK(options.depth() >= 1 && options.depth() <= 6, "UNet: depth must be in [1, 6], got ",
              options.depth());
  TORCH_CHECK(options.base_channels() >= 1, "UNet: base_channels must be >= 1");
  auto down = register_module("down", torch::nn::ModuleList());
  auto up = register_module("up", torch::nn::ModuleList());
  auto decode = register_module("decode", torch::nn::ModuleList());
  int64_t in = options.in_channels();
  for (int64_t level = 0; level <= options.depth(); ++level) {
    const int64_t out = options.base_channels() << level;
    down_.push_back(double_conv(in, out));
    down->push_back(down_.back());
    in = out;
  }
  for (int64_t level = options.depth() - 1; level >= 0; --level) {
    const int64_t out = options.base_channels() << level;
    up_.emplace_back(torch::nn::ConvTranspose2dOptions(in, out, 2).stride(2));
    up->push_back(up_.back());
    decode_.push_back(double_conv(2 * out, out));
    decode->push_back(decode_.back());
    in = out;
  }
  classifier_ =
      register_module("classifier", ConvNormAct(ConvNormActOptions(in, options.num_classes(), 1)));
}

torch::Tensor UNetImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.in_channels(), "UNet: expected input (B, ",
              options.in_channels(), ", H, W), got ", x.sizes());
  const int64_t height = x.size(2);
  const int64_t width = x.size(3);
  torch::Tensor y = pad_to_multiple(x, int64_t{1} << options.depth());
  std::vector<torch::Tensor> skips;
  for (size_t level = 0; level < down_.size(); ++level) {
    if (level > 0) {
      y = torch::max_pool2d(y, 2);
    }
    y = down_[level]->forward(y);
    skips.push_back(y);
  }
  skips.pop_back();
  for (size_t i = 0; i < up_.size(); ++i) {
    // (B, 2C, H, W) -> (B, C, 2H, 2W), concat the skip -> (B, 2C, 2H, 2W) -> (B, C, 2H, 2W)
    y = up_.at(i)(y);
    y = decode_.at(i)->forward(torch::cat({skips.back(), y}, 1));
    skips.pop_back();
  }
  return crop_to(classifier_(y), height, width);
}

}  // namespace svanet::models
