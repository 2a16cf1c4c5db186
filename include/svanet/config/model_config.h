#pragma once
/// @file
/// The `model:` section of a YAML config:
///
///     model:
///       name: svanet_r50          # see `svanet models`
///       num_classes: 2
///       in_channels: 3
///       image_size: 512
///       options:                  # any option key of the model
///         scale_variant_attention: false
///         mc_pool_sizes: [1, 2, 3]
///
/// Errors name the file, line and key, and list the valid keys.

#include "svanet/models/segmentation_model.h"

#include <string>

namespace svanet::config {

/// Reads the `model:` section of the YAML file at `path`.
models::ModelSpec load_model_spec(const std::string& path);

/// Parses YAML text holding a `model:` section; `source` names it in errors.
models::ModelSpec parse_model_spec(const std::string& yaml_text,
                                   const std::string& source = "<string>");

}  // namespace svanet::config
