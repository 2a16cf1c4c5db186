#include "svanet/config/model_config.h"

#include "config/sections.h"
#include "svanet/common/error.h"
#include "svanet/io/pretrained.h"
#include "svanet/models/registry.h"
#include "svanet/utils/text.h"
#include "utils/yaml.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace svanet::config {

using utils::check_keys;
using utils::load_yaml;
using utils::scalar;
using utils::scalar_or_list_text;
using utils::where;

models::ModelSpec parse_model_section(const YAML::Node& node, const std::string& source) {
  SVANET_CHECK(node.IsMap(), where(node, source), ": 'model' must be a mapping");
  check_keys(node, section_keys("model"), source, "model");
  models::ModelSpec spec;
  spec.name = scalar<std::string>(node, "name", source, "model");
  SVANET_CHECK(has_model(spec.name), where(node["name"], source), ": unknown model '", spec.name,
               "'; see `svanet models` for the registered ones");
  if (node["num_classes"]) {
    spec.options.num_classes(scalar<int64_t>(node, "num_classes", source, "model"));
  }
  if (node["in_channels"]) {
    spec.options.in_channels(scalar<int64_t>(node, "in_channels", source, "model"));
  }
  if (node["image_size"]) {
    spec.options.image_size(scalar<int64_t>(node, "image_size", source, "model"));
  }
  if (const YAML::Node options = node["options"]) {
    SVANET_CHECK(options.IsMap(), where(options, source), ": model.options must be a mapping");
    std::vector<std::string> valid;
    valid = option_names(model_registry().schema(spec.name));
    if (model_registry().get(spec.name).traits.pretrained_encoder) {
      valid.emplace_back(io::kPretrainedBackbone);
    }
    for (const auto& item : options) {
      const auto key = item.first.as<std::string>();
      SVANET_CHECK(std::find(valid.begin(), valid.end(), key) != valid.end(),
                   where(item.first, source), ": unknown option 'model.options.", key,
                   "' for model '", spec.name, "'; valid options: ", utils::join(valid, ", "));
      spec.options.set(key, scalar_or_list_text(item.second, source, "model.options." + key));
    }
  }
  return spec;
}

models::ModelSpec parse_model_spec(const std::string& yaml_text, const std::string& source) {
  const YAML::Node root = load_yaml(yaml_text, source);
  SVANET_CHECK(root.IsMap(), source, ": expected a mapping at the top level");
  const YAML::Node node = root["model"];
  SVANET_CHECK(node.IsDefined() && node.IsMap(), source, ": missing the 'model:' section");
  return parse_model_section(node, source);
}

models::ModelSpec load_model_spec(const std::string& path) {
  std::ifstream in(path);
  SVANET_CHECK(in.good(), path, ": cannot open the config file");
  std::stringstream text;
  text << in.rdbuf();
  return parse_model_spec(text.str(), path);
}

}  // namespace svanet::config
