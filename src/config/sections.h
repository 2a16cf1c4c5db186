#pragma once
// The sections of svanet's YAML configs and their keys (private to the
// library): one table, so that parsers and `--set` overrides agree on what
// is valid.

#include "svanet/config/data_config.h"
#include "svanet/models/segmentation_model.h"

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

namespace svanet::config {

/// The valid keys of a section ("" is the top level of a training config,
/// "model", "data", "data.splits", "train", "train.optimizer", ...); empty
/// for a path that is not a section with fixed keys (model.options, whose
/// keys depend on the model, or a leaf).
const std::vector<std::string>& section_keys(const std::string& section);

/// Whether `path` is a section whose keys section_keys lists.
bool is_section(const std::string& path);

/// The `model:` mapping.
models::ModelSpec parse_model_section(const YAML::Node& node, const std::string& source);
/// The `data:` mapping.
DataConfig parse_data_section(const YAML::Node& node, const std::string& source);
/// The keys of data.augment.
std::vector<std::string> augment_key_names();

}  // namespace svanet::config
