#pragma once
/// @file
/// The link decoder of SvANet: from the deepest encoder stage back up to
/// stage 1, merging each guided branch; the official classes are `FGLink`
/// (heads/module/fgModules.py) and `UpLink` (heads/module/resLinkModules.py).

#include "svanet/models/assemble_former.h"

#include <torch/nn/modules/container/modulelist.h>

#include <vector>

namespace svanet::models {

/// How a decoder step merges the guided branch of its stage.
enum class LinkMode {
  kNone,    ///< no link decoder (official `--fg_link 0`)
  kAdd,     ///< up-sampled + branch (official `--fg_link 1`)
  kConcat,  ///< concat, then a 3x3 + 1x1 block halving the width (`--fg_link 2`)
};

/// 1x1 C -> C/4, 3x3 transposed conv stride 2 (C/4 -> C/4), 1x1 C/4 -> out;
/// each with BN and ReLU. Doubles the resolution.
/// Parameters: `reduce.*`, `deconv.*`, `expand.*`.
struct UpLinkImpl : torch::nn::Module {
  UpLinkImpl(int64_t in_channels, int64_t out_channels);
  torch::Tensor forward(const torch::Tensor& x);

  ConvNormAct reduce{nullptr}, deconv{nullptr}, expand{nullptr};
};
TORCH_MODULE(UpLink);

/// Options of LinkDecoder.
struct LinkDecoderOptions {
  /// `channels`: widths of the guided branches, shallowest first, followed by
  /// the width of the deepest encoder stage the decoder starts from.
  explicit LinkDecoderOptions(std::vector<int64_t> channels) : channels_(std::move(channels)) {}
  TORCH_ARG(std::vector<int64_t>, channels);
  TORCH_ARG(LinkMode, mode) = LinkMode::kConcat;
  /// AssembleFormer blocks after each merge (official `--fg_link_vit`); 0 = none.
  TORCH_ARG(int64_t, former_blocks) = 2;
};

/// For each branch from the deepest to the shallowest: up-link the running
/// feature to the branch's resolution and width, merge the branch (add or
/// concat + ConvBlock), then an AssembleFormer. Returns the decoded features
/// shallowest first, one per branch. Parameters: `up.<i>.*`, `fuse.<i>.*`
/// (concat mode), `former.<i>.*`; index 0 is the deepest step.
struct LinkDecoderImpl : torch::nn::Module {
  explicit LinkDecoderImpl(const LinkDecoderOptions& options);
  /// `branches`: the guided branch outputs, shallowest first; `deepest`: the
  /// deepest encoder feature.
  std::vector<torch::Tensor> forward(const std::vector<torch::Tensor>& branches,
                                     const torch::Tensor& deepest);

  LinkDecoderOptions options;
  torch::nn::ModuleList up, fuse, former;
  /// Recompute each step's activations in the backward pass
  /// (models/activation_checkpointing.h).
  bool checkpoint_steps = false;

 private:
  /// One step: up-link `y`, merge `branch`, AssembleFormer.
  torch::Tensor decode_step(size_t step, const torch::Tensor& y, const torch::Tensor& branch);

  std::vector<UpLink> up_;
  std::vector<ConvBlock> fuse_;
  std::vector<AssembleFormer> former_;
};
TORCH_MODULE(LinkDecoder);

}  // namespace svanet::models
