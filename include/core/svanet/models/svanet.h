#pragma once
/// @file
/// SvANet (Dai et al., "Exploiting Scale-Variant Attention for Segmenting
/// Small Medical Objects", IEEE TNNLS 2026, arXiv 2407.07720): a ResNet
/// encoder, feature-guide bottlenecks with Monte Carlo attention, cross-scale
/// guidance with scale-variant attention, AssembleFormer blocks, a link
/// decoder and a DeepLabv3 head, fused by one 1x1 classifier. The official
/// model is `SegEncoderDecoder` with the `DeeplabV3` head and
/// `--seg_feature_guide 2`.

#include "svanet/models/aspp.h"
#include "svanet/models/feature_guide_bottleneck.h"
#include "svanet/models/full_res_head.h"
#include "svanet/models/link_decoder.h"
#include "svanet/models/resnet.h"
#include "svanet/models/scale_variant_attention.h"
#include "svanet/models/segmentation_model.h"
#include "svanet/registry/options.h"

#include <vector>

namespace svanet::models {

/// Options of SvANet. The defaults are the paper's full model on ResNet-50;
/// every ablation of the paper is a combination of these switches.
struct SvANetOptions {
  explicit SvANetOptions(int64_t num_classes = 2) : num_classes_(num_classes) {}
  TORCH_ARG(int64_t, num_classes);
  TORCH_ARG(int64_t, in_channels) = 3;
  /// ResNet depth of the encoder: 18, 34 or 50.
  TORCH_ARG(int64_t, encoder_depth) = 50;
  /// Width of the encoder's stem (64 in the paper); stages scale from it.
  TORCH_ARG(int64_t, encoder_width) = 64;
  /// Nominal training resolution (official `resize_shape`); sizes the
  /// scale-variant attention's pooling grids. Inputs may have any size.
  TORCH_ARG(int64_t, image_size) = 512;
  /// Feature guidance as a whole; off gives the plain DeepLabv3 baseline
  /// (official `--seg_feature_guide 0`).
  TORCH_ARG(bool, feature_guide) = true;
  /// Cross-scale guidance between branches (official `--fg_use_guide`).
  TORCH_ARG(bool, cross_scale_guidance) = true;
  /// Scale-variant attention in the cross-scale layers (`--fg_svattn 1`).
  TORCH_ARG(bool, scale_variant_attention) = true;
  /// Divisor of the attention grid (`--fg_svattn_divisor`).
  TORCH_ARG(int64_t, svattn_pool_divisor) = 4;
  /// Monte Carlo attention in the feature-guide bottlenecks (`--fg_bottle_se 2`).
  TORCH_ARG(bool, monte_carlo_attention) = true;
  /// Pooling resolutions MCAttn samples from (`--moc_pool_res`).
  TORCH_ARG(std::vector<int64_t>, mc_pool_sizes) = std::vector<int64_t>({1, 2, 3});
  /// Shuffle pixels before MCAttn pooling (`--moc_order`).
  TORCH_ARG(bool, mc_shuffle) = true;
  /// AssembleFormer after each feature-guide bottleneck (`--fg_vit 1`).
  TORCH_ARG(bool, bottleneck_former) = true;
  /// Link decoder merge mode (`--fg_link 0|1|2`).
  TORCH_ARG(LinkMode, link) = LinkMode::kConcat;
  /// AssembleFormer after each link-decoder step (`--fg_link_vit 1`).
  TORCH_ARG(bool, link_former) = true;
  /// Linear-attention blocks per AssembleFormer.
  TORCH_ARG(int64_t, former_blocks) = 2;
  /// Keep encoder stage 5 (layer4); false is `--fg_nostage5`.
  TORCH_ARG(bool, stage5) = true;
  /// Maximum stochastic-depth rate of the cross-scale additions; branch b of
  /// n adds with rate `guide_drop_path * b / n`.
  TORCH_ARG(double, guide_drop_path) = 0.2;
  TORCH_ARG(int64_t, aspp_channels) = 512;
  TORCH_ARG(std::vector<int64_t>, aspp_rates) = std::vector<int64_t>({12, 24, 36});
  TORCH_ARG(double, aspp_dropout) = 0.1;
  /// Classify the concatenation of all fused maps at stage-1 resolution, as
  /// the official code does. The default applies the 1x1 classifier to each
  /// map at its own resolution and resizes the logits instead: the same
  /// function (bilinear resizing and a 1x1 convolution commute), without the
  /// (B, 2368, H/2, W/2) tensor.
  TORCH_ARG(bool, concat_fusion) = false;
  /// Refine the logits at the input's full resolution from the stem's
  /// features and the input (models/full_res_head.h); not in the paper.
  TORCH_ARG(bool, full_res_head) = false;
  /// Width of the full-resolution head's convolutions.
  TORCH_ARG(int64_t, full_res_channels) = 8;
};

/// The options a registered SvANet variant takes by name: every option above
/// but num_classes, in_channels and image_size, which every model takes.
/// Their names, types, defaults and help lines come from this one table.
const Fields<SvANetOptions>& svanet_option_fields();

/// SvANet and its ablations; `forward` returns logits at the input's size.
/// Inputs whose sides are not multiples of 2^stages are zero-padded on the
/// bottom and right, and the logits cropped back.
/// Parameters: `encoder.*`, `bottlenecks.<b>.*`, `cross_<s>_<t>.*` (source
/// and target stage, 1-based), `link.*`, `aspp.*`, `classifier.*`, and with
/// the full-resolution head `refine.*`.
struct SvANetImpl : SegmentationModelImpl {
  explicit SvANetImpl(const SvANetOptions& options);
  torch::Tensor forward(const torch::Tensor& x) override;

  int64_t num_classes() const override { return options.num_classes(); }
  int64_t in_channels() const override { return options.in_channels(); }
  std::shared_ptr<torch::nn::Module> encoder() override { return encoder_.ptr(); }
  std::vector<std::shared_ptr<torch::nn::Module>> encoder_stages() override;

  /// Side lengths are padded to a multiple of this.
  int64_t size_multiple() const;
  /// Pooling grid side of the cross-scale layer from `source` to `target`
  /// branch (0-based), as the official code computes it.
  int64_t svattn_pool_size(int64_t source, int64_t target) const;

  SvANetOptions options;

 protected:
  /// encoder: each encoder stage; guide: each bottleneck, each cross-scale
  /// attention (with its drop-path) and each link-decoder step; all: both, the
  /// ASPP head and the classifier (with the full-resolution head). Models
  /// without feature guidance (DeepLabv3) refuse guide.
  void apply_activation_checkpointing(ActivationCheckpointing mode) override;

 private:
  torch::Tensor classify(const std::vector<torch::Tensor>& maps);
  /// The logits at the input's (padded) size from the fused maps.
  torch::Tensor head_logits(const std::vector<torch::Tensor>& maps, const torch::Tensor& input,
                            const torch::Tensor& stem);

  ResNetEncoder encoder_{nullptr};
  std::vector<FeatureGuideBottleneck> bottlenecks_;
  /// cross_[b][t - b - 1]: from branch b to branch t.
  std::vector<std::vector<ScaleVariantAttention>> cross_;
  LinkDecoder link_{nullptr};
  ASPP aspp_{nullptr};
  ConvNormAct classifier_{nullptr};
  FullResHead refine_{nullptr};
};
TORCH_MODULE(SvANet);

}  // namespace svanet::models
