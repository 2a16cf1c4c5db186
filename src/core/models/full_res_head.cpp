#include "svanet/models/full_res_head.h"

#include <torch/torch.h>

namespace svanet::models {

namespace {

/// Scale of the last convolution's default initialisation.
constexpr double kOutScale = 0.01;

ConvNormAct conv3x3_bn_relu(int64_t in, int64_t out) {
  return ConvNormAct(
      ConvNormActOptions(in, out, 3).batch_norm(true).activation(Activation::kReLU));
}

}  // namespace

FullResHeadImpl::FullResHeadImpl(const FullResHeadOptions& options_) : options(options_) {
  TORCH_CHECK(options.in_channels() >= 1 && options.stem_channels() >= 1 &&
                  options.num_classes() >= 1,
              "FullResHead: channel counts must be positive, got in ", options.in_channels(),
              ", stem ", options.stem_channels(), ", classes ", options.num_classes());
  TORCH_CHECK(options.channels() >= 1, "FullResHead: channels must be >= 1, got ",
              options.channels());
  const int64_t c = options.channels();
  const int64_t k = options.num_classes();
  half = register_module("half", conv3x3_bn_relu(options.stem_channels() + k, c));
  image = register_module("image", conv3x3_bn_relu(options.in_channels(), c));
  fuse = register_module("fuse", conv3x3_bn_relu(2 * c + k, c));
  out = register_module("out", torch::nn::Conv2d(torch::nn::Conv2dOptions(c, k, 1)));
  // A near-zero correction: the untrained head is about the plain
  // upsampling (exactly zero would leave the layers before `out` without a
  // gradient in the first step).
  torch::NoGradGuard no_grad;
  out->weight.mul_(kOutScale);
  out->bias.zero_();
}

torch::Tensor FullResHeadImpl::forward(const torch::Tensor& input, const torch::Tensor& stem,
                                       const torch::Tensor& logits) {
  TORCH_CHECK(input.dim() == 4 && stem.dim() == 4 && logits.dim() == 4,
              "FullResHead: expected 4-D input, stem features and logits");
  TORCH_CHECK(stem.size(2) == logits.size(2) && stem.size(3) == logits.size(3),
              "FullResHead: stem features ", stem.sizes(), " and logits ", logits.sizes(),
              " must have one size");
  const int64_t height = input.size(2);
  const int64_t width = input.size(3);
  // (B, C_stem + K, h, w) -> (B, c, h, w) -> (B, c, H, W)
  auto coarse = resize_bilinear(half(torch::cat({stem, logits}, 1)), height, width,
                                /*align_corners=*/true);
  auto upsampled = resize_bilinear(logits, height, width, /*align_corners=*/true);
  // (B, 2c + K, H, W) -> (B, c, H, W) -> (B, K, H, W)
  auto correction = out(fuse(torch::cat({coarse, image(input), upsampled}, 1)));
  return upsampled + correction;
}

}  // namespace svanet::models
