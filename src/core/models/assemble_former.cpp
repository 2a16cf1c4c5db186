#include "svanet/models/assemble_former.h"

#include <torch/torch.h>

namespace svanet::models {

namespace {
constexpr int64_t kPatch = 2;  // 2x2 patches, as the official PatchRes
}  // namespace

// P indexes the pixel inside a patch (row-major), N the patch (row-major).
torch::Tensor unfold_patches(const torch::Tensor& x) {
  const int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  // (B, C, H/2, 2, W/2, 2) -> (B, C, 2, 2, H/2, W/2) -> (B, C, 4, H*W/4)
  return x.view({b, c, h / kPatch, kPatch, w / kPatch, kPatch})
      .permute({0, 1, 3, 5, 2, 4})
      .reshape({b, c, kPatch * kPatch, (h / kPatch) * (w / kPatch)});
}

torch::Tensor fold_patches(const torch::Tensor& p, int64_t h, int64_t w) {
  const int64_t b = p.size(0), c = p.size(1);
  // (B, C, 2, 2, H/2, W/2) -> (B, C, H/2, 2, W/2, 2) -> (B, C, H, W)
  return p.view({b, c, kPatch, kPatch, h / kPatch, w / kPatch})
      .permute({0, 1, 4, 2, 5, 3})
      .reshape({b, c, h, w});
}

LinearSelfAttentionImpl::LinearSelfAttentionImpl(int64_t dim_) : dim(dim_) {
  qkv = register_module("qkv", ConvNormAct(ConvNormActOptions(dim, 1 + 2 * dim, 1).bias(true)));
  out = register_module("out", ConvNormAct(ConvNormActOptions(dim, dim, 1).bias(true)));
}

torch::Tensor LinearSelfAttentionImpl::forward(const torch::Tensor& x) {
  // (B, d, P, N) -> (B, 1 + 2d, P, N) -> query (B, 1, P, N), key and value (B, d, P, N)
  auto parts = qkv(x).split_with_sizes({1, dim, dim}, 1);
  // The normalisation and the weighted sum over all N patches in fp32
  // under bf16 or fp16 autocast, where 8 or 11 bits of mantissa would lose
  // small weights (a no-op in fp32).
  auto scores = torch::softmax(parts[0], -1, torch::kFloat);
  // (B, d, P, N) * (B, 1, P, N) summed over N -> (B, d, P, 1)
  auto context = (parts[1].to(torch::kFloat) * scores).sum(-1, /*keepdim=*/true);
  return out(torch::relu(parts[2]) * context.to(parts[2].scalar_type()).expand_as(parts[2]));
}

LinearAttentionBlockImpl::LinearAttentionBlockImpl(int64_t dim, int64_t ffn_dim) {
  attn_norm = register_module("attn_norm", SyncBatchNorm2d(dim));
  attn = register_module("attn", LinearSelfAttention(dim));
  ffn_norm = register_module("ffn_norm", SyncBatchNorm2d(dim));
  ffn_fc1 = register_module(
      "ffn_fc1", ConvNormAct(ConvNormActOptions(dim, ffn_dim, 1).activation(Activation::kSiLU)));
  ffn_fc2 = register_module("ffn_fc2", ConvNormAct(ConvNormActOptions(ffn_dim, dim, 1)));
}

torch::Tensor LinearAttentionBlockImpl::forward(torch::Tensor x) {
  x = x + attn(attn_norm(x));
  return x + ffn_fc2(ffn_fc1(ffn_norm(x)));
}

AssembleFormerImpl::AssembleFormerImpl(const AssembleFormerOptions& options_) : options(options_) {
  const int64_t c = options.channels();
  TORCH_CHECK(c >= 2 && c % 2 == 0, "AssembleFormer: channels must be even, got ", c);
  TORCH_CHECK(options.num_blocks() >= 0, "AssembleFormer: num_blocks must be >= 0");
  const int64_t dim = c / 2;
  local_conv = register_module(
      "local_conv",
      ConvNormAct(ConvNormActOptions(c, c, 3).batch_norm(true).activation(Activation::kSiLU)));
  local_proj =
      register_module("local_proj", ConvNormAct(ConvNormActOptions(c, dim, 1).bias(false)));
  const int64_t ffn_dim = make_divisible(options.ffn_multiplier() * static_cast<double>(dim), 16);
  global_blocks = register_module("global_blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < options.num_blocks(); ++i) {
    blocks_.emplace_back(dim, ffn_dim);
    global_blocks->push_back(blocks_.back());
  }
  global_norm = register_module("global_norm", SyncBatchNorm2d(dim));
  fuse_proj =
      register_module("fuse_proj", ConvNormAct(ConvNormActOptions(2 * dim, c, 1).batch_norm(true)));
}

torch::Tensor AssembleFormerImpl::forward(const torch::Tensor& x) {
  const int64_t h = x.size(2), w = x.size(3);
  TORCH_CHECK(h % kPatch == 0 && w % kPatch == 0,
              "AssembleFormer: height and width must be even, got ", h, "x", w);
  // (B, C, H, W) -> (B, C/2, H, W)
  auto local = local_proj(local_conv(x));
  // (B, C/2, H, W) -> (B, C/2, 4, H*W/4)
  auto patches = unfold_patches(local);
  for (auto& block : blocks_) {
    patches = block(patches);
  }
  patches = global_norm(patches);
  // (B, C/2, 4, N) -> (B, C/2, H, W); concat with the local features -> (B, C, H, W)
  auto global = fold_patches(patches, h, w);
  return x + fuse_proj(torch::cat({global, local}, 1));
}

}  // namespace svanet::models
