#include "svanet/models/registry.h"

#include "svanet/common/error.h"
#include "svanet/models/svanet.h"
#include "svanet/models/unet.h"
#include "svanet/utils/text.h"

#include <torch/torch.h>

#include <algorithm>
#include <functional>

namespace svanet {

namespace {

using models::LinkMode;

constexpr const char* kPretrainedBackbone = "pretrained_backbone";
using models::SvANetOptions;
using models::UNetOptions;

template <typename Options>
struct OptionKey {
  std::string key;
  std::string help;
  std::function<void(Options&, const std::string&)> apply;
};

LinkMode parse_link_mode(const std::string& value) {
  const std::string v = utils::to_lower(utils::trim(value));
  if (v == "none") return LinkMode::kNone;
  if (v == "add") return LinkMode::kAdd;
  if (v == "concat") return LinkMode::kConcat;
  SVANET_FAIL("expected one of none, add, concat; got '", value, "'");
}

const std::vector<OptionKey<SvANetOptions>>& svanet_keys() {
  using O = SvANetOptions;
  static const std::vector<OptionKey<O>> keys = {
      {"encoder_depth", "ResNet depth of the encoder: 18, 34 or 50",
       [](O& o, const std::string& v) { o.encoder_depth(utils::parse_int(v)); }},
      {"encoder_width", "width of the encoder stem (64 in the paper)",
       [](O& o, const std::string& v) { o.encoder_width(utils::parse_int(v)); }},
      {"feature_guide", "feature guidance; false = DeepLabv3 baseline",
       [](O& o, const std::string& v) { o.feature_guide(utils::parse_bool(v)); }},
      {"cross_scale_guidance", "cross-scale guidance between branches",
       [](O& o, const std::string& v) { o.cross_scale_guidance(utils::parse_bool(v)); }},
      {"scale_variant_attention", "scale-variant attention in the cross-scale layers",
       [](O& o, const std::string& v) { o.scale_variant_attention(utils::parse_bool(v)); }},
      {"svattn_pool_divisor", "divisor of the scale-variant attention grid (4)",
       [](O& o, const std::string& v) { o.svattn_pool_divisor(utils::parse_int(v)); }},
      {"monte_carlo_attention", "Monte Carlo attention in the bottlenecks",
       [](O& o, const std::string& v) { o.monte_carlo_attention(utils::parse_bool(v)); }},
      {"mc_pool_sizes", "pool resolutions MCAttn samples, e.g. 1,2,3",
       [](O& o, const std::string& v) { o.mc_pool_sizes(utils::parse_int_list(v)); }},
      {"mc_shuffle", "shuffle pixels before MCAttn pooling",
       [](O& o, const std::string& v) { o.mc_shuffle(utils::parse_bool(v)); }},
      {"bottleneck_former", "AssembleFormer after each bottleneck",
       [](O& o, const std::string& v) { o.bottleneck_former(utils::parse_bool(v)); }},
      {"link", "link decoder: none, add or concat",
       [](O& o, const std::string& v) { o.link(parse_link_mode(v)); }},
      {"link_former", "AssembleFormer after each link-decoder step",
       [](O& o, const std::string& v) { o.link_former(utils::parse_bool(v)); }},
      {"former_blocks", "linear-attention blocks per AssembleFormer (2)",
       [](O& o, const std::string& v) { o.former_blocks(utils::parse_int(v)); }},
      {"stage5", "keep encoder stage 5",
       [](O& o, const std::string& v) { o.stage5(utils::parse_bool(v)); }},
      {"guide_drop_path", "maximum stochastic-depth rate of cross-scale additions (0.2)",
       [](O& o, const std::string& v) { o.guide_drop_path(utils::parse_double(v)); }},
      {"aspp_channels", "ASPP width (512)",
       [](O& o, const std::string& v) { o.aspp_channels(utils::parse_int(v)); }},
      {"aspp_rates", "ASPP dilation rates, e.g. 12,24,36",
       [](O& o, const std::string& v) { o.aspp_rates(utils::parse_int_list(v)); }},
      {"aspp_dropout", "ASPP dropout (0.1)",
       [](O& o, const std::string& v) { o.aspp_dropout(utils::parse_double(v)); }},
      {"concat_fusion", "classify the concatenated maps as the official code does",
       [](O& o, const std::string& v) { o.concat_fusion(utils::parse_bool(v)); }},
  };
  return keys;
}

const std::vector<OptionKey<UNetOptions>>& unet_keys() {
  using O = UNetOptions;
  static const std::vector<OptionKey<O>> keys = {
      {"base_channels", "width of the first level (64)",
       [](O& o, const std::string& v) { o.base_channels(utils::parse_int(v)); }},
      {"depth", "number of 2x down-samplings (4)",
       [](O& o, const std::string& v) { o.depth(utils::parse_int(v)); }},
  };
  return keys;
}

template <typename Options>
void apply_overrides(const std::string& model, const std::vector<OptionKey<Options>>& keys,
                     const OptionMap& overrides, Options& options) {
  for (const auto& item : overrides) {
    const std::string& key = item.first;
    const std::string& value = item.second;
    auto it = std::find_if(keys.begin(), keys.end(), [&](const auto& k) { return k.key == key; });
    if (it == keys.end()) {
      std::vector<std::string> valid;
      valid.reserve(keys.size());
      for (const auto& k : keys) valid.push_back(k.key);
      SVANET_FAIL("unknown option '", key, "' for model '", model,
                  "'; valid options: ", utils::join(valid, ", "));
    }
    try {
      it->apply(options, value);
    } catch (const Error& e) {
      SVANET_FAIL("option '", key, "' of model '", model, "': ", e.what());
    }
  }
}

struct Entry {
  ModelInfo info;
  std::function<SvANetOptions()> svanet_preset;  // set for SvANet and DeepLabv3
  std::function<UNetOptions()> unet_preset;      // set for U-Net
};

SvANetOptions svanet(int64_t depth) {
  return SvANetOptions().encoder_depth(depth);
}

const std::vector<Entry>& entries() {
  static const std::vector<Entry> table = [] {
    std::vector<Entry> t;
    auto add_svanet = [&t](std::string name, std::string family, std::string description,
                           int64_t image_size, std::function<SvANetOptions()> preset) {
      t.push_back({{std::move(name), std::move(family), std::move(description), image_size},
                   std::move(preset),
                   nullptr});
    };
    add_svanet("svanet_r50", "svanet", "SvANet, the paper's full model (ResNet-50)", 512,
               [] { return svanet(50); });
    add_svanet("svanet_r50_no_mcattn", "svanet", "ablation: no Monte Carlo attention", 512,
               [] { return svanet(50).monte_carlo_attention(false); });
    add_svanet("svanet_r50_no_svattn", "svanet", "ablation: no scale-variant attention", 512,
               [] { return svanet(50).scale_variant_attention(false); });
    add_svanet("svanet_r50_no_vit", "svanet", "ablation: no AssembleFormer blocks", 512,
               [] { return svanet(50).bottleneck_former(false).link_former(false); });
    add_svanet("svanet_r50_no_link", "svanet", "ablation: no link decoder", 512,
               [] { return svanet(50).link(LinkMode::kNone); });
    add_svanet("svanet_r50_add_link", "svanet", "ablation: additive link decoder", 512,
               [] { return svanet(50).link(LinkMode::kAdd); });
    add_svanet("svanet_r50_no_guide", "svanet", "ablation: no cross-scale guidance", 512,
               [] { return svanet(50).cross_scale_guidance(false); });
    add_svanet("svanet_r50_no_stage5", "svanet", "ablation: encoder without stage 5", 512,
               [] { return svanet(50).stage5(false); });
    add_svanet("deeplabv3_r50", "deeplabv3", "baseline: DeepLabv3 on ResNet-50", 512,
               [] { return svanet(50).feature_guide(false); });
    add_svanet("svanet_r34", "svanet", "light: SvANet on ResNet-34", 512,
               [] { return svanet(34); });
    add_svanet("svanet_r18", "svanet", "light: SvANet on ResNet-18", 512,
               [] { return svanet(18); });
    add_svanet("svanet_r18_slim", "svanet", "light: ResNet-18 at half width, ASPP 128", 512,
               [] { return svanet(18).encoder_width(32).aspp_channels(128); });
    add_svanet("svanet_r18_tiny", "svanet", "light: ResNet-18 at quarter width, ASPP 64", 256,
               [] { return svanet(18).encoder_width(16).aspp_channels(64); });
    add_svanet("svanet_test", "svanet", "tiny model for tests (width 8)", 64,
               [] { return svanet(18).encoder_width(8).aspp_channels(16).former_blocks(1); });
    t.push_back({{"unet", "unet", "baseline: classic U-Net (base width 64)", 512}, nullptr, [] {
                   return UNetOptions();
                 }});
    t.push_back({{"unet_small", "unet", "baseline: U-Net with base width 16", 256}, nullptr, [] {
                   return UNetOptions().base_channels(16);
                 }});
    return t;
  }();
  return table;
}

const Entry& find_entry(const std::string& name) {
  const auto& table = entries();
  auto it =
      std::find_if(table.begin(), table.end(), [&](const Entry& e) { return e.info.name == name; });
  if (it == table.end()) {
    std::vector<std::string> names;
    names.reserve(table.size());
    for (const auto& e : table) names.push_back(e.info.name);
    SVANET_FAIL("unknown model '", name, "'; registered models: ", utils::join(names, ", "));
  }
  return *it;
}

std::shared_ptr<models::SegmentationModelImpl> build(const Entry& entry,
                                                     const ModelOptions& options) {
  if (entry.svanet_preset) {
    SvANetOptions o = entry.svanet_preset();
    o.num_classes(options.num_classes())
        .in_channels(options.in_channels())
        .image_size(options.image_size() > 0 ? options.image_size()
                                             : entry.info.default_image_size);
    apply_overrides(entry.info.name, svanet_keys(), options.overrides(), o);
    return std::make_shared<models::SvANetImpl>(o);
  }
  UNetOptions o = entry.unet_preset();
  o.num_classes(options.num_classes()).in_channels(options.in_channels());
  apply_overrides(entry.info.name, unet_keys(), options.overrides(), o);
  return std::make_shared<models::UNetImpl>(o);
}

}  // namespace

const std::vector<ModelInfo>& list_models() {
  static const std::vector<ModelInfo> infos = [] {
    std::vector<ModelInfo> out;
    for (const auto& e : entries()) out.push_back(e.info);
    return out;
  }();
  return infos;
}

bool has_model(const std::string& name) {
  const auto& table = entries();
  return std::any_of(table.begin(), table.end(),
                     [&](const Entry& e) { return e.info.name == name; });
}

std::vector<std::pair<std::string, std::string>> model_option_keys(const std::string& name) {
  const Entry& entry = find_entry(name);
  std::vector<std::pair<std::string, std::string>> out;
  if (entry.svanet_preset) {
    for (const auto& k : svanet_keys()) out.emplace_back(k.key, k.help);
    out.emplace_back(kPretrainedBackbone,
                     "torchvision ResNet checkpoint to initialise the encoder");
  } else {
    for (const auto& k : unet_keys()) out.emplace_back(k.key, k.help);
  }
  return out;
}

SegmentationModel create_model(const std::string& name, const ModelOptions& options) {
  const Entry& entry = find_entry(name);
  SVANET_CHECK(options.num_classes() >= 1, "model '", name, "': num_classes must be >= 1, got ",
               options.num_classes());
  SVANET_CHECK(options.in_channels() >= 1, "model '", name, "': in_channels must be >= 1, got ",
               options.in_channels());
  SVANET_CHECK(options.image_size() == 0 || options.image_size() >= 32, "model '", name,
               "': image_size must be >= 32, got ", options.image_size());
  // The pretrained encoder is loaded after construction, above the registry.
  SVANET_CHECK(options.overrides().count(kPretrainedBackbone) == 0, "model '", name, "': the ",
               kPretrainedBackbone, " option is loaded by svanet::io::build_model, not by ",
               "create_model");
  std::shared_ptr<models::SegmentationModelImpl> model;
  try {
    model = build(entry, options);
  } catch (const c10::Error& e) {
    // Option values that parse but fail a module's own checks.
    SVANET_FAIL("model '", name, "': ", e.what_without_backtrace());
  }
  model->set_spec(ModelSpec{name, options});
  return SegmentationModel(model);
}

SegmentationModel create_model(const ModelSpec& spec) {
  return create_model(spec.name, spec.options);
}

}  // namespace svanet
