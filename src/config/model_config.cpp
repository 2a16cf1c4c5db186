#include "svanet/config/model_config.h"

#include "config/sections.h"
#include "svanet/common/error.h"
#include "svanet/io/pretrained.h"
#include "svanet/models/registry.h"
#include "svanet/utils/atomic_file.h"
#include "svanet/utils/text.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <sstream>

namespace svanet::config {

namespace {

/// The options a model takes in a config: its schema, plus the encoder's
/// pretrained weights where it has a torchvision-compatible encoder.
OptionSchema config_options(const std::string& model) {
  OptionSchema schema = model_registry().schema(model);
  if (model_registry().get(model).traits.pretrained_encoder) {
    schema.push_back(io::pretrained_backbone_option());
  }
  return schema;
}

void decode_options(models::ModelSpec& spec, const YAML::Node& node, const Origins& origins,
                    const std::string& path) {
  SVANET_CHECK(node.IsMap(), origins.where(node, path), ": ", path, " must be a mapping");
  SVANET_CHECK(!spec.name.empty(), origins.where(node, path), ": ", path,
               " needs model.name (the options depend on the model)");
  const OptionSchema schema = config_options(spec.name);
  for (const auto& item : node) {
    const auto key = item.first.as<std::string>();
    const std::string key_path = join_path(path, key);
    const OptionInfo* option = find_option(schema, key);
    SVANET_CHECK(option != nullptr, origins.where(item.first, key_path), ": unknown option '",
                 key_path, "' for model '", spec.name,
                 "'; valid options: ", utils::join(option_names(schema), ", "));
    const bool list = is_list(option->type);
    const std::string text = node_text(item.second, origins, key_path, list);
    try {
      spec.options.set(key, canonical_value(*option, text));
    } catch (const Error& e) {
      SVANET_FAIL(origins.where(item.second, key_path), ": ",
                  invalid_value(key_path, text, e.what()));
    }
  }
}

void encode_options(YAML::Emitter& out, const models::ModelSpec& spec) {
  const OptionSchema schema =
      model_registry().contains(spec.name) ? config_options(spec.name) : OptionSchema{};
  out << YAML::BeginMap;
  for (const auto& [key, value] : spec.options.overrides()) {
    const OptionInfo* option = find_option(schema, key);
    out << YAML::Key << key << YAML::Value;
    emit_option(out, option != nullptr ? option->type : OptionType::kText, value);
  }
  out << YAML::EndMap;
}

}  // namespace

const Section<models::ModelSpec>& model_section() {
  using models::ModelSpec;
  static const auto s =
      Section<ModelSpec>()
          .custom(
              "name", Shape{},
              [](ModelSpec& spec, const YAML::Node& node, const Origins& origins,
                 const std::string& path) {
                const std::string name = node_text(node, origins, path, false);
                SVANET_CHECK(has_model(name), origins.where(node, path), ": unknown model '", name,
                             "'", utils::did_you_mean(name, model_registry().names()),
                             "; registered models: ", utils::join(model_registry().names(), ", "));
                spec.name = name;
              },
              [](YAML::Emitter& out, const ModelSpec& spec) { out << spec.name; })
          .value(
              "num_classes", [](ModelSpec& s) -> int64_t& { return s.options.num_classes(); },
              at_least<int64_t>(1))
          .value(
              "in_channels", [](ModelSpec& s) -> int64_t& { return s.options.in_channels(); },
              at_least<int64_t>(1))
          .value(
              "image_size", [](ModelSpec& s) -> int64_t& { return s.options.image_size(); },
              at_least<int64_t>(0))
          .custom("options", Shape{Shape::Kind::kMap, {}, nullptr, {}}, decode_options,
                  encode_options);
  return s;
}

models::ModelSpec parse_model_section(const YAML::Node& node, const Origins& origins) {
  SVANET_CHECK(node.IsMap(), origins.where(node, "model"), ": 'model' must be a mapping");
  models::ModelSpec spec;
  model_section().decode(node, origins, "model", spec);
  SVANET_CHECK(!spec.name.empty(), origins.where(node, "model"),
               ": model.name is not set (see `svanet list models`)");
  return spec;
}

models::ModelSpec parse_model_spec(const std::string& yaml_text, const std::string& source) {
  const YAML::Node root = utils::load_yaml(yaml_text, source);
  SVANET_CHECK(root.IsMap(), source, ": expected a mapping at the top level");
  YAML::Node node = root["model"];
  SVANET_CHECK(node.IsDefined() && node.IsMap(), source, ": missing the 'model:' section");
  // What a training config's model starts from is not part of the model.
  node.remove("init_from");
  node.remove("init_strict");
  return parse_model_section(node, Origins(source));
}

models::ModelSpec load_model_spec(const std::string& path) {
  std::ifstream in(path);
  SVANET_CHECK(in.good(), path, ": cannot open the config file");
  std::stringstream text;
  text << in.rdbuf();
  return parse_model_spec(text.str(), path);
}

}  // namespace svanet::config
