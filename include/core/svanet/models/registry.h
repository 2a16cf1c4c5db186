#pragma once
/// @file
/// The model registry: every network svanet can build, by name.
///
///     auto model = svanet::create_model("svanet_r50", svanet::ModelOptions().num_classes(3));
///     auto ablation = svanet::create_model(
///         "svanet_r50", svanet::ModelOptions().set("scale_variant_attention", "false"));

#include "svanet/models/segmentation_model.h"

#include <string>
#include <vector>

namespace svanet {

using models::ModelOptions;
using models::ModelSpec;
using models::OptionMap;
using models::SegmentationModel;

/// One registered model.
struct ModelInfo {
  std::string name;
  /// Model family: "svanet", "deeplabv3" or "unet".
  std::string family;
  std::string description;
  /// The nominal image size used when ModelOptions::image_size is 0.
  int64_t default_image_size = 512;
};

/// All registered models, in a stable order (paper model, ablations,
/// baselines, light variants).
const std::vector<ModelInfo>& list_models();

/// Whether `name` is registered.
bool has_model(const std::string& name);

/// Builds a registered model. Unknown names and unknown or malformed
/// override keys throw svanet::Error listing what is valid.
SegmentationModel create_model(const std::string& name, const ModelOptions& options = {});

/// Builds the model a spec describes (the form checkpoints store).
SegmentationModel create_model(const ModelSpec& spec);

/// The override keys a model accepts, with a one-line description each.
std::vector<std::pair<std::string, std::string>> model_option_keys(const std::string& name);

}  // namespace svanet
