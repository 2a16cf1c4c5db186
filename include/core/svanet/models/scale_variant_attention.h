#pragma once
/// @file
/// Cross-scale guidance with scale-variant attention (SvAttn), SvANet paper
/// section III-C; the official class is `CSLayer`
/// (lib/model/segmentation/heads/module/fgModules.py).

#include "svanet/models/layers.h"

#include <torch/nn/modules/container/modulelist.h>

#include <vector>

namespace svanet::models {

/// Options of ScaleVariantAttention.
struct ScaleVariantAttentionOptions {
  ScaleVariantAttentionOptions(int64_t in_channels, int64_t out_channels, int64_t num_blocks)
      : in_channels_(in_channels), out_channels_(out_channels), num_blocks_(num_blocks) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  /// Stride-2 blocks from the source to the target branch (target - source).
  TORCH_ARG(int64_t, num_blocks);
  /// Side of the pooled attention grid; the official value is
  /// `max(image_size / 2^(source_stage + num_blocks) / 4, 4)`.
  TORCH_ARG(int64_t, pool_size) = 4;
  /// Scale-variant attention on (official `--fg_svattn 1`); off (`0`) leaves
  /// the plain stride-2 blocks.
  TORCH_ARG(bool, attention) = true;
};

/// Brings a guide branch to a deeper branch's resolution and width with
/// `num_blocks` stride-2 blocks (3x3/2 conv + BN + ReLU, 1x1 conv + BN + ReLU),
/// then re-weights the result's channels by attention built from every scale
/// it passed through: each intermediate map f_i (input included) is average
/// pooled to pool_size^2 and squeezed by a 1x1 conv to the output width. In
/// training every grid cell takes its value from one randomly chosen scale
/// (fixed random region masks, spatially shuffled and reassigned to scales at
/// every call); in eval the scales are averaged. A global average and a
/// sigmoid give the channel weights.
/// Parameters: `blocks.<i>.conv3x3.*`, `blocks.<i>.conv1x1.*`,
/// `squeeze.<i>.conv.*`; buffer `region_masks` (scales, pool, pool).
struct ScaleVariantAttentionImpl : torch::nn::Module {
  explicit ScaleVariantAttentionImpl(const ScaleVariantAttentionOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

  ScaleVariantAttentionOptions options;
  torch::nn::ModuleList blocks, squeeze;
  /// One-hot assignment of each pooled cell to a scale, drawn at construction
  /// from LibTorch's generator (official `AttnMask`, which was not saved).
  torch::Tensor region_masks;

 private:
  std::vector<ConvBlock> blocks_;
  std::vector<ConvNormAct> squeeze_;
};
TORCH_MODULE(ScaleVariantAttention);

}  // namespace svanet::models
