#include "svanet/models/link_decoder.h"

#include "svanet/models/activation_checkpointing.h"

#include <torch/torch.h>

namespace svanet::models {

UpLinkImpl::UpLinkImpl(int64_t in_channels, int64_t out_channels) {
  TORCH_CHECK(in_channels >= 4, "UpLink: in_channels must be >= 4, got ", in_channels);
  const int64_t mid = in_channels / 4;
  reduce = register_module(
      "reduce",
      ConvNormAct(
          ConvNormActOptions(in_channels, mid, 1).batch_norm(true).activation(Activation::kReLU)));
  deconv = register_module("deconv", ConvNormAct(ConvNormActOptions(mid, mid, 3)
                                                     .stride(2)
                                                     .transposed(true)
                                                     .batch_norm(true)
                                                     .activation(Activation::kReLU)));
  expand = register_module(
      "expand",
      ConvNormAct(
          ConvNormActOptions(mid, out_channels, 1).batch_norm(true).activation(Activation::kReLU)));
}

torch::Tensor UpLinkImpl::forward(const torch::Tensor& x) {
  return expand(deconv(reduce(x)));
}

LinkDecoderImpl::LinkDecoderImpl(const LinkDecoderOptions& options_) : options(options_) {
  const auto& ch = options.channels();
  TORCH_CHECK(ch.size() >= 2, "LinkDecoder: needs at least one branch and the deepest stage");
  TORCH_CHECK(options.mode() != LinkMode::kNone, "LinkDecoder: mode must be add or concat");
  up = register_module("up", torch::nn::ModuleList());
  former = register_module("former", torch::nn::ModuleList());
  if (options.mode() == LinkMode::kConcat) {
    fuse = register_module("fuse", torch::nn::ModuleList());
  }
  int64_t in = ch.back();
  for (auto it = ch.rbegin() + 1; it != ch.rend(); ++it) {
    const int64_t out = *it;
    up_.emplace_back(in, out);
    up->push_back(up_.back());
    if (options.mode() == LinkMode::kConcat) {
      fuse_.emplace_back(2 * out, out);
      fuse->push_back(fuse_.back());
    }
    if (options.former_blocks() > 0) {
      former_.emplace_back(AssembleFormerOptions(out).num_blocks(options.former_blocks()));
      former->push_back(former_.back());
    }
    in = out;
  }
}

torch::Tensor LinkDecoderImpl::decode_step(size_t step, const torch::Tensor& y,
                                           const torch::Tensor& branch) {
  torch::Tensor out = up_[step](y);
  if (options.mode() == LinkMode::kAdd) {
    out = out + branch;
  } else {
    // (B, C, H, W) ++ (B, C, H, W) -> (B, 2C, H, W) -> (B, C, H, W)
    out = fuse_[step](torch::cat({out, branch}, 1));
  }
  if (!former_.empty()) {
    out = former_[step](out);
  }
  return out;
}

std::vector<torch::Tensor> LinkDecoderImpl::forward(const std::vector<torch::Tensor>& branches,
                                                    const torch::Tensor& deepest) {
  TORCH_CHECK(branches.size() == up_.size(), "LinkDecoder: expected ", up_.size(),
              " branches, got ", branches.size());
  std::vector<torch::Tensor> decoded(branches.size());
  torch::Tensor y = deepest;
  for (size_t step = 0; step < up_.size(); ++step) {
    const size_t branch = branches.size() - 1 - step;
    if (checkpoint_steps) {
      std::vector<torch::nn::Module*> modules{up_[step].get()};
      if (!fuse_.empty()) modules.push_back(fuse_[step].get());
      if (!former_.empty()) modules.push_back(former_[step].get());
      y = checkpointed(
          [this, step](const std::vector<torch::Tensor>& in) {
            return std::vector<torch::Tensor>{decode_step(step, in[0], in[1])};
          },
          {y, branches[branch]}, modules)[0];
    } else {
      y = decode_step(step, y, branches[branch]);
    }
    decoded[branch] = y;
  }
  return decoded;
}

}  // namespace svanet::models
