#pragma once
/// @file
/// The model registry: every network svanet can build, by name.
///
///     auto model = svanet::create_model("svanet_r50", svanet::ModelOptions().num_classes(3));
///     auto ablation = svanet::create_model(
///         "svanet_r50", svanet::ModelOptions().set("scale_variant_attention", "false"));
///
/// A model of your own registers from your own file, and the trainer and
/// every command then build it by name like svanet's (docs/architecture.md,
/// "How to add a model"):
///
///     svanet::model_registry().add({"my_net", "my network", my_fields().schema(),
///                                   {"mine", 256, false},
///                                   [](const svanet::ModelOptions& o) {
///                                     return svanet::SegmentationModel(
///                                         std::make_shared<MyNetImpl>(o));
///                                   }});

#include "svanet/models/segmentation_model.h"
#include "svanet/registry/registry.h"

#include <functional>
#include <string>
#include <vector>

namespace svanet {

using models::ModelOptions;
using models::ModelSpec;
using models::SegmentationModel;

/// What the model registry records beside the factory.
struct ModelTraits {
  /// Model family: "svanet", "deeplabv3", "unet", or a user's own.
  std::string family;
  /// The nominal image size used when ModelOptions::image_size is 0.
  int64_t default_image_size = 512;
  /// Whether the encoder takes torchvision ResNet weights (the
  /// `pretrained_backbone` option that io::build_model loads).
  bool pretrained_encoder = false;
};

/// Builds a model from the common options (num_classes, in_channels, a
/// resolved image_size) and its overrides, already checked against the
/// entry's schema.
using ModelFactory = std::function<SegmentationModel(const ModelOptions& options)>;
using ModelRegistry = Registry<ModelFactory, ModelTraits>;

/// The registry of models, with svanet's own registered on first use (the
/// paper model, its ablations, the baselines and the light variants).
ModelRegistry& model_registry();

/// One registered model, as listings show it.
struct ModelInfo {
  std::string name;
  std::string family;
  std::string description;
  int64_t default_image_size = 512;
};

/// All registered models, in registration order (svanet's: paper model,
/// ablations, baselines, light variants; then any added later).
std::vector<ModelInfo> list_models();

/// Whether `name` is registered.
bool has_model(const std::string& name);

/// Builds a registered model. Unknown names and unknown or malformed
/// override keys throw svanet::Error listing what is valid.
SegmentationModel create_model(const std::string& name, const ModelOptions& options = {});

/// Builds the model a spec describes (the form checkpoints store).
SegmentationModel create_model(const ModelSpec& spec);

}  // namespace svanet
