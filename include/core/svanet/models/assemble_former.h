#pragma once
/// @file
/// AssembleFormer: the MobileViTv3-style local + global block of SvANet; the
/// official classes are `AssembleFormer`, `LinearAttnFFN` and
/// `LinearSelfAttention` (lib/model/modules/assemFormer.py).

#include "svanet/models/layers.h"

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/modulelist.h>

#include <vector>

namespace svanet::models {

/// (B, C, H, W) -> (B, C, 4, H*W/4): 2x2 patches in the layout of
/// `F.unfold(x, 2, stride=2).reshape(B, C, 4, -1)`, without the copy to
/// im2col columns. H and W must be even.
torch::Tensor unfold_patches(const torch::Tensor& x);

/// Inverse of unfold_patches: (B, C, 4, H*W/4) -> (B, C, H, W).
torch::Tensor fold_patches(const torch::Tensor& patches, int64_t height, int64_t width);

/// MobileViTv2 linear self-attention over (B, d, P, N) patches: a 1x1
/// projection to 1 + 2d channels (query, key, value), softmax of the query
/// over the N patches, a context vector sum_N(key * softmax), then
/// `out(relu(value) * context)`. Parameters: `qkv.conv.*`, `out.conv.*`.
struct LinearSelfAttentionImpl : torch::nn::Module {
  explicit LinearSelfAttentionImpl(int64_t dim);
  torch::Tensor forward(const torch::Tensor& x);

  int64_t dim;
  ConvNormAct qkv{nullptr}, out{nullptr};
};
TORCH_MODULE(LinearSelfAttention);

/// Pre-norm transformer block: x + attn(bn(x)), then x + ffn(bn(x)) with a
/// 1x1 d -> ffn_dim (SiLU) -> d feed-forward. Parameters: `attn_norm.*`,
/// `attn.*`, `ffn_norm.*`, `ffn_fc1.conv.*`, `ffn_fc2.conv.*`.
struct LinearAttentionBlockImpl : torch::nn::Module {
  LinearAttentionBlockImpl(int64_t dim, int64_t ffn_dim);
  torch::Tensor forward(torch::Tensor x);

  SyncBatchNorm2d attn_norm{nullptr}, ffn_norm{nullptr};
  LinearSelfAttention attn{nullptr};
  ConvNormAct ffn_fc1{nullptr}, ffn_fc2{nullptr};
};
TORCH_MODULE(LinearAttentionBlock);

/// Options of AssembleFormer.
struct AssembleFormerOptions {
  explicit AssembleFormerOptions(int64_t channels) : channels_(channels) {}
  TORCH_ARG(int64_t, channels);
  /// Number of linear-attention blocks in the global branch (2 in the paper).
  TORCH_ARG(int64_t, num_blocks) = 2;
  /// Feed-forward width as a multiple of the attention width (C / 2).
  TORCH_ARG(double, ffn_multiplier) = 2.0;
};

/// Local representation (3x3 conv + BN + SiLU, 1x1 to C/2), 2x2 patches,
/// global representation (linear-attention blocks + BN), fold back,
/// concatenate local and global (C channels), 1x1 projection + BN, residual.
/// The input's height and width must be even. Parameters: `local_conv.*`,
/// `local_proj.*`, `global_blocks.<i>.*`, `global_norm.*`, `fuse_proj.*`.
struct AssembleFormerImpl : torch::nn::Module {
  explicit AssembleFormerImpl(const AssembleFormerOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

  AssembleFormerOptions options;
  ConvNormAct local_conv{nullptr}, local_proj{nullptr}, fuse_proj{nullptr};
  torch::nn::ModuleList global_blocks;
  SyncBatchNorm2d global_norm{nullptr};

 private:
  std::vector<LinearAttentionBlock> blocks_;  // typed views of global_blocks
};
TORCH_MODULE(AssembleFormer);

}  // namespace svanet::models
