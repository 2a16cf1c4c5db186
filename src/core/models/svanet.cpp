#include "svanet/models/svanet.h"

#include "svanet/common/error.h"
#include "svanet/models/activation_checkpointing.h"

#include <torch/torch.h>

#include <algorithm>
#include <string>

namespace svanet::models {

const Fields<SvANetOptions>& svanet_option_fields() {
  using O = SvANetOptions;
  static const auto fields =
      Fields<O>()
          .add(SVANET_ARG_FIELD(encoder_depth, "ResNet depth of the encoder: 18, 34 or 50"))
          .add(SVANET_ARG_FIELD(encoder_width, "width of the encoder stem (64 in the paper)"))
          .add(SVANET_ARG_FIELD(feature_guide, "feature guidance; false = DeepLabv3 baseline"))
          .add(SVANET_ARG_FIELD(cross_scale_guidance, "cross-scale guidance between branches"))
          .add(SVANET_ARG_FIELD(scale_variant_attention,
                                "scale-variant attention in the cross-scale layers"))
          .add(SVANET_ARG_FIELD(svattn_pool_divisor, "divisor of the scale-variant attention grid"))
          .add(SVANET_ARG_FIELD(monte_carlo_attention, "Monte Carlo attention in the bottlenecks"))
          .add(SVANET_ARG_FIELD(mc_pool_sizes, "pool resolutions MCAttn samples, e.g. 1,2,3"))
          .add(SVANET_ARG_FIELD(mc_shuffle, "shuffle pixels before MCAttn pooling"))
          .add(SVANET_ARG_FIELD(bottleneck_former, "AssembleFormer after each bottleneck"))
          .add_choice(
              "link", "link decoder: none, add or concat",
              [](O& o) -> LinkMode& { return o.link(); },
              std::vector<std::pair<std::string, LinkMode>>{{"none", LinkMode::kNone},
                                                            {"add", LinkMode::kAdd},
                                                            {"concat", LinkMode::kConcat}})
          .add(SVANET_ARG_FIELD(link_former, "AssembleFormer after each link-decoder step"))
          .add(SVANET_ARG_FIELD(former_blocks, "linear-attention blocks per AssembleFormer"))
          .add(SVANET_ARG_FIELD(stage5, "keep encoder stage 5"))
          .add(SVANET_ARG_FIELD(guide_drop_path,
                                "maximum stochastic-depth rate of the cross-scale additions"))
          .add(SVANET_ARG_FIELD(aspp_channels, "ASPP width"))
          .add(SVANET_ARG_FIELD(aspp_rates, "ASPP dilation rates, e.g. 12,24,36"))
          .add(SVANET_ARG_FIELD(aspp_dropout, "ASPP dropout"))
          .add(SVANET_ARG_FIELD(concat_fusion,
                                "classify the concatenated maps as the official code does"))
          .add(SVANET_ARG_FIELD(full_res_head,
                                "refine the logits at full resolution (not in the paper)"))
          .add(SVANET_ARG_FIELD(full_res_channels, "width of the full-resolution head"));
  return fields;
}

SvANetImpl::SvANetImpl(const SvANetOptions& options_) : options(options_) {
  TORCH_CHECK(options.num_classes() >= 1, "SvANet: num_classes must be >= 1, got ",
              options.num_classes());
  TORCH_CHECK(options.image_size() >= 32, "SvANet: image_size must be >= 32, got ",
              options.image_size());
  TORCH_CHECK(options.svattn_pool_divisor() >= 1, "SvANet: svattn_pool_divisor must be >= 1");
  TORCH_CHECK(options.guide_drop_path() >= 0.0 && options.guide_drop_path() < 1.0,
              "SvANet: guide_drop_path must be in [0, 1), got ", options.guide_drop_path());
  // The official code drops stage 5 only together with feature guidance.
  const bool stage5 = options.stage5() || !options.feature_guide();
  encoder_ = register_module("encoder", ResNetEncoder(ResNetEncoderOptions(options.encoder_depth())
                                                          .in_channels(options.in_channels())
                                                          .width(options.encoder_width())
                                                          .num_stages(stage5 ? 5 : 4)));
  const auto& ch = encoder_->stage_channels();
  aspp_ = register_module("aspp", ASPP(ASPPOptions(ch.back(), options.aspp_channels())
                                           .rates(options.aspp_rates())
                                           .dropout(options.aspp_dropout())));
  int64_t classifier_in = options.aspp_channels();
  if (options.feature_guide()) {
    // One guide branch per stage but the deepest.
    const auto n = static_cast<int64_t>(ch.size()) - 1;
    auto bottlenecks = register_module("bottlenecks", torch::nn::ModuleList());
    for (int64_t b = 0; b < n; ++b) {
      bottlenecks_.emplace_back(
          FeatureGuideBottleneckOptions(ch[b])
              .monte_carlo_attention(options.monte_carlo_attention())
              .mc_pool_sizes(options.mc_pool_sizes())
              .mc_shuffle(options.mc_shuffle())
              .former_blocks(options.bottleneck_former() ? options.former_blocks() : 0));
      bottlenecks->push_back(bottlenecks_.back());
      classifier_in += ch[b];
    }
    if (options.cross_scale_guidance()) {
      cross_.resize(static_cast<size_t>(n));
      for (int64_t b = 0; b < n; ++b) {
        for (int64_t t = b + 1; t < n; ++t) {
          auto layer = ScaleVariantAttention(ScaleVariantAttentionOptions(ch[b], ch[t], t - b)
                                                 .pool_size(svattn_pool_size(b, t))
                                                 .attention(options.scale_variant_attention()));
          cross_[b].push_back(register_module(
              "cross_" + std::to_string(b + 1) + "_" + std::to_string(t + 1), layer));
        }
      }
    }
    if (options.link() != LinkMode::kNone) {
      link_ = register_module(
          "link",
          LinkDecoder(LinkDecoderOptions(ch)
                          .mode(options.link())
                          .former_blocks(options.link_former() ? options.former_blocks() : 0)));
    }
  }
  classifier_ = register_module(
      "classifier", ConvNormAct(ConvNormActOptions(classifier_in, options.num_classes(), 1)));
  if (options.full_res_head()) {
    refine_ = register_module(
        "refine",
        FullResHead(FullResHeadOptions(options.in_channels(), ch.front(), options.num_classes())
                        .channels(options.full_res_channels())));
  }
}

std::vector<std::shared_ptr<torch::nn::Module>> SvANetImpl::encoder_stages() {
  std::vector<std::shared_ptr<torch::nn::Module>> stages{encoder_->stem.ptr()};
  for (auto& layer : encoder_->layers) stages.push_back(layer.ptr());
  return stages;
}

int64_t SvANetImpl::size_multiple() const {
  return options.feature_guide() ? int64_t{1} << encoder_->stage_channels().size() : 1;
}

int64_t SvANetImpl::svattn_pool_size(int64_t source, int64_t target) const {
  // Official: max(resize_shape // 2**(source_stage + blocks) // divisor, 4),
  // with 1-based source_stage = source + 1 and blocks = target - source, so
  // the grid depends on the target only.
  TORCH_CHECK(0 <= source && source < target, "SvANet: invalid cross-scale pair ", source, " -> ",
              target);
  const int64_t res = options.image_size() >> (target + 1);
  return std::max<int64_t>(res / options.svattn_pool_divisor(), 4);
}

torch::Tensor SvANetImpl::classify(const std::vector<torch::Tensor>& maps) {
  const int64_t h = maps.front().size(2);
  const int64_t w = maps.front().size(3);
  if (options.concat_fusion()) {
    std::vector<torch::Tensor> resized;
    resized.reserve(maps.size());
    for (const auto& m : maps) {
      resized.push_back(resize_bilinear(m, h, w, /*align_corners=*/true));
    }
    // (B, sum C_i, H/2, W/2) -> (B, K, H/2, W/2)
    return classifier_(torch::cat(resized, 1));
  }
  const auto& weight = classifier_->conv->weight;
  torch::Tensor logits;
  int64_t offset = 0;
  for (const auto& m : maps) {
    // The classifier's columns for this map: (K, C_i, 1, 1).
    auto part = torch::conv2d(m, weight.narrow(1, offset, m.size(1)));
    part = resize_bilinear(part, h, w, /*align_corners=*/true);
    logits = logits.defined() ? logits + part : part;
    offset += m.size(1);
  }
  return logits + classifier_->conv->bias.view({1, -1, 1, 1});
}

void SvANetImpl::apply_activation_checkpointing(ActivationCheckpointing mode) {
  SVANET_CHECK(mode != ActivationCheckpointing::kGuide || options.feature_guide(), display_name(),
               " has no feature-guide branches to checkpoint (activation checkpointing: "
               "encoder or all)");
  encoder_->checkpoint_stages =
      mode == ActivationCheckpointing::kEncoder || mode == ActivationCheckpointing::kAll;
  if (link_) {
    link_->checkpoint_steps =
        mode == ActivationCheckpointing::kGuide || mode == ActivationCheckpointing::kAll;
  }
}

torch::Tensor SvANetImpl::head_logits(const std::vector<torch::Tensor>& maps,
                                      const torch::Tensor& input, const torch::Tensor& stem) {
  torch::Tensor logits = options.feature_guide() ? classify(maps) : classifier_(maps.front());
  if (refine_) {
    // The head works from the stem's resolution (where SvANet classifies;
    // DeepLabv3's logits come from deeper and are brought up to it first).
    return refine_(input, stem,
                   resize_bilinear(logits, stem.size(2), stem.size(3), /*align_corners=*/true));
  }
  return resize_bilinear(logits, input.size(2), input.size(3), /*align_corners=*/true);
}

torch::Tensor SvANetImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.in_channels(), "SvANet: expected input (B, ",
              options.in_channels(), ", H, W), got ", x.sizes());
  const int64_t height = x.size(2);
  const int64_t width = x.size(3);
  const bool all = activation_checkpointing() == ActivationCheckpointing::kAll;
  const bool guide = all || activation_checkpointing() == ActivationCheckpointing::kGuide;
  const torch::Tensor input = pad_to_multiple(x, size_multiple());
  auto features = encoder_(input);
  auto head = all ? checkpointed([a = aspp_](const torch::Tensor& f) mutable { return a(f); },
                                 features.back(), *aspp_)
                  : aspp_(features.back());
  std::vector<torch::Tensor> branches;
  if (options.feature_guide()) {
    const auto n = static_cast<int64_t>(bottlenecks_.size());
    branches.reserve(static_cast<size_t>(n) + 1);
    for (int64_t b = 0; b < n; ++b) {
      auto& bottleneck = bottlenecks_[static_cast<size_t>(b)];
      branches.push_back(
          guide ? checkpointed([m = bottleneck](const torch::Tensor& f) mutable { return m(f); },
                               features[b], *bottleneck)
                : bottleneck(features[b]));
    }
    // Top-down guidance: each branch, already guided by the shallower ones,
    // guides every deeper branch.
    for (int64_t b = 0; b < static_cast<int64_t>(cross_.size()); ++b) {
      const double rate =
          options.guide_drop_path() * static_cast<double>(b) / static_cast<double>(n);
      for (int64_t t = b + 1; t < n; ++t) {
        auto& layer = cross_[b][t - b - 1];
        auto guided = [layer, rate, training = is_training()](const torch::Tensor& source) mutable {
          return drop_path(layer(source), rate, training);
        };
        branches[t] =
            branches[t] + (guide ? checkpointed(guided, branches[b], *layer) : guided(branches[b]));
      }
    }
    if (link_) {
      branches = link_(branches, features.back());
    }
  }
  branches.push_back(head);
  torch::Tensor logits;
  if (all) {
    // The segment's inputs: the fused maps, then the padded input and the
    // stem's features (used by the full-resolution head).
    auto inputs = branches;
    inputs.push_back(input);
    inputs.push_back(features.front());
    logits = checkpointed(
        [this](const std::vector<torch::Tensor>& in) {
          const std::vector<torch::Tensor> maps(in.begin(), in.end() - 2);
          return std::vector<torch::Tensor>{head_logits(maps, in[in.size() - 2], in.back())};
        },
        inputs, {classifier_.get(), refine_ ? refine_.get() : nullptr})[0];
  } else {
    logits = head_logits(branches, input, features.front());
  }
  return crop_to(logits, height, width);
}

}  // namespace svanet::models
