#include "svanet/models/registry.h"

#include "svanet/common/error.h"
#include "svanet/models/svanet.h"
#include "svanet/models/unet.h"

#include <torch/torch.h>

#include <algorithm>
#include <functional>

namespace svanet {

namespace {

using models::LinkMode;
using models::SvANetOptions;
using models::UNetOptions;

/// Adds a variant of SvANet (or DeepLabv3, which is SvANet without feature
/// guidance): a preset of SvANetOptions. Its schema shows the preset's
/// values as the defaults.
ModelRegistry::Entry entry(std::string name, std::string description, OptionSchema schema,
                           std::string family, int64_t image_size, bool pretrained_encoder,
                           ModelFactory factory) {
  // Filled member by member: GCC 12 warns about nested aggregate
  // initialisation of strings (a false -Wmaybe-uninitialized).
  ModelRegistry::Entry e;
  e.name = std::move(name);
  e.description = std::move(description);
  e.schema = std::move(schema);
  e.traits.family = std::move(family);
  e.traits.default_image_size = image_size;
  e.traits.pretrained_encoder = pretrained_encoder;
  e.factory = std::move(factory);
  return e;
}

/// Adds a variant of SvANet (or DeepLabv3, which is SvANet without feature
/// guidance): a preset of SvANetOptions. Its schema shows the preset's
/// values as the defaults.
void add_svanet(ModelRegistry& registry, std::string name, std::string family,
                std::string description, int64_t image_size, const SvANetOptions& preset) {
  registry.add(entry(std::move(name), std::move(description),
                     models::svanet_option_fields().schema(preset), std::move(family), image_size,
                     /*pretrained_encoder=*/true, [preset](const ModelOptions& o) {
                       SvANetOptions options = preset;
                       options.num_classes(o.num_classes())
                           .in_channels(o.in_channels())
                           .image_size(o.image_size());
                       models::svanet_option_fields().apply(o.overrides(), options);
                       return models::make_model<models::SvANetImpl>(options);
                     }));
}

void add_unet(ModelRegistry& registry, std::string name, std::string description,
              int64_t image_size, const UNetOptions& preset) {
  registry.add(entry(std::move(name), std::move(description),
                     models::unet_option_fields().schema(preset), "unet", image_size,
                     /*pretrained_encoder=*/false, [preset](const ModelOptions& o) {
                       UNetOptions options = preset;
                       options.num_classes(o.num_classes()).in_channels(o.in_channels());
                       models::unet_option_fields().apply(o.overrides(), options);
                       return models::make_model<models::UNetImpl>(options);
                     }));
}

SvANetOptions svanet(int64_t depth) {
  return SvANetOptions().encoder_depth(depth);
}

void register_builtin_models(ModelRegistry& r) {
  add_svanet(r, "svanet_r50", "svanet", "SvANet, the paper's full model (ResNet-50)", 512,
             svanet(50));
  add_svanet(r, "svanet_r50_no_mcattn", "svanet", "ablation: no Monte Carlo attention", 512,
             svanet(50).monte_carlo_attention(false));
  add_svanet(r, "svanet_r50_no_svattn", "svanet", "ablation: no scale-variant attention", 512,
             svanet(50).scale_variant_attention(false));
  add_svanet(r, "svanet_r50_no_vit", "svanet", "ablation: no AssembleFormer blocks", 512,
             svanet(50).bottleneck_former(false).link_former(false));
  add_svanet(r, "svanet_r50_no_link", "svanet", "ablation: no link decoder", 512,
             svanet(50).link(LinkMode::kNone));
  add_svanet(r, "svanet_r50_add_link", "svanet", "ablation: additive link decoder", 512,
             svanet(50).link(LinkMode::kAdd));
  add_svanet(r, "svanet_r50_no_guide", "svanet", "ablation: no cross-scale guidance", 512,
             svanet(50).cross_scale_guidance(false));
  add_svanet(r, "svanet_r50_no_stage5", "svanet", "ablation: encoder without stage 5", 512,
             svanet(50).stage5(false));
  add_svanet(r, "deeplabv3_r50", "deeplabv3", "baseline: DeepLabv3 on ResNet-50", 512,
             svanet(50).feature_guide(false));
  add_svanet(r, "svanet_r34", "svanet", "light: SvANet on ResNet-34", 512, svanet(34));
  add_svanet(r, "svanet_r18", "svanet", "light: SvANet on ResNet-18", 512, svanet(18));
  add_svanet(r, "svanet_r18_slim", "svanet", "light: ResNet-18 at half width, ASPP 128", 512,
             svanet(18).encoder_width(32).aspp_channels(128));
  add_svanet(r, "svanet_r18_tiny", "svanet", "light: ResNet-18 at quarter width, ASPP 64", 256,
             svanet(18).encoder_width(16).aspp_channels(64));
  add_svanet(r, "svanet_r18_tiny_fr", "svanet",
             "small objects: svanet_r18_tiny with the full-resolution head", 256,
             svanet(18).encoder_width(16).aspp_channels(64).full_res_head(true));
  add_svanet(r, "svanet_test", "svanet", "tiny model for tests (width 8)", 64,
             svanet(18).encoder_width(8).aspp_channels(16).former_blocks(1));
  add_unet(r, "unet", "baseline: classic U-Net (base width 64)", 512, UNetOptions());
  add_unet(r, "unet_small", "baseline: U-Net with base width 16", 256,
           UNetOptions().base_channels(16));
}

}  // namespace

ModelRegistry& model_registry() {
  static ModelRegistry registry("model", "models");
  static const bool builtins = (register_builtin_models(registry), true);
  (void)builtins;
  return registry;
}

std::vector<ModelInfo> list_models() {
  std::vector<ModelInfo> out;
  for (const auto* e : model_registry().entries()) {
    out.push_back({e->name, e->traits.family, e->description, e->traits.default_image_size});
  }
  return out;
}

bool has_model(const std::string& name) {
  return model_registry().contains(name);
}

SegmentationModel create_model(const std::string& name, const ModelOptions& options) {
  const auto& registry = model_registry();
  const auto& entry = registry.get(name);
  SVANET_CHECK(options.num_classes() >= 1, "model '", name, "': num_classes must be >= 1, got ",
               options.num_classes());
  SVANET_CHECK(options.in_channels() >= 1, "model '", name, "': in_channels must be >= 1, got ",
               options.in_channels());
  SVANET_CHECK(options.image_size() == 0 || options.image_size() >= 32, "model '", name,
               "': image_size must be >= 32, got ", options.image_size());
  // The pretrained encoder is loaded after construction, above the registry.
  SVANET_CHECK(options.overrides().count("pretrained_backbone") == 0, "model '", name,
               "': the pretrained_backbone option is loaded by svanet::io::build_model, not by "
               "create_model");
  ModelOptions checked = options;
  checked.overrides(registry.resolve(name, options.overrides(), /*fill_defaults=*/false));
  ModelOptions network = checked;
  if (network.image_size() == 0) network.image_size(entry.traits.default_image_size);
  SegmentationModel model{nullptr};
  try {
    model = entry.factory(network);
  } catch (const c10::Error& e) {
    // Option values that parse but fail a module's own checks.
    SVANET_FAIL("model '", name, "': ", e.what_without_backtrace());
  } catch (const Error& e) {
    SVANET_FAIL("model '", name, "': ", e.what());
  }
  SVANET_CHECK(!model.is_empty(), "model '", name, "': its factory returned no model");
  model->set_spec(ModelSpec{name, checked});
  return model;
}

SegmentationModel create_model(const ModelSpec& spec) {
  return create_model(spec.name, spec.options);
}

}  // namespace svanet
