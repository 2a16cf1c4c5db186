#include "svanet/config/data_config.h"

#include "config/sections.h"
#include "svanet/common/error.h"
#include "svanet/utils/atomic_file.h"
#include "utils/yaml.h"

#include <yaml-cpp/yaml.h>

#include <functional>
#include <map>

namespace svanet::config {

using utils::check_keys;
using utils::load_yaml;
using utils::scalar;
using utils::scalar_or_list_text;
using utils::where;

namespace {

using Setter = std::function<void(data::AugmentOptions&, const YAML::Node&, const std::string&)>;

template <typename T, typename Field>
Setter field(Field member) {
  return [member](data::AugmentOptions& o, const YAML::Node& node, const std::string& source) {
    try {
      o.*member = node.as<T>();
    } catch (const YAML::Exception&) {
      SVANET_FAIL(where(node, source), ": invalid value '", node.Scalar(), "'");
    }
  };
}

const std::map<std::string, Setter>& augment_keys() {
  using O = data::AugmentOptions;
  static const std::map<std::string, Setter> keys = {
      {"size", field<int64_t>(&O::size)},
      {"resize_min_scale", field<double>(&O::resize_min_scale)},
      {"resize_max_scale", field<double>(&O::resize_max_scale)},
      {"resize_max_long", field<double>(&O::resize_max_long)},
      {"hflip", field<double>(&O::hflip)},
      {"crop", field<bool>(&O::crop)},
      {"blur", field<double>(&O::blur)},
      {"blur_max_radius", field<double>(&O::blur_max_radius)},
      {"photometric", field<double>(&O::photometric)},
      {"brightness", field<double>(&O::brightness)},
      {"contrast", field<double>(&O::contrast)},
      {"saturation", field<double>(&O::saturation)},
      {"hue", field<double>(&O::hue)},
      {"channel_shuffle", field<double>(&O::channel_shuffle)},
      {"rotation_degrees", field<double>(&O::rotation_degrees)},
      {"rotation_p", field<double>(&O::rotation_p)},
  };
  return keys;
}

Normalization parse_normalization(const YAML::Node& node, const std::string& source) {
  Normalization n;
  if (node.IsScalar()) {
    const std::string& mode = node.Scalar();
    SVANET_CHECK(mode == "imagenet" || mode == "reference", where(node, source),
                 ": normalization is imagenet, reference, or {mean: [...], std: [...]}; got '",
                 mode, "'");
    return mode == "reference" ? Normalization::reference() : Normalization::imagenet();
  }
  SVANET_CHECK(node.IsMap(), where(node, source),
               ": normalization is imagenet, reference or {mean, std}");
  check_keys(node, {"mean", "std"}, source, "data.normalization");
  n.mode = "custom";
  try {
    n.mean = node["mean"].as<std::vector<double>>();
    n.std = node["std"].as<std::vector<double>>();
  } catch (const YAML::Exception&) {
    SVANET_FAIL(where(node, source), ": normalization mean and std must be lists of 3 numbers");
  }
  try {
    n.validate();
  } catch (const Error& e) {
    SVANET_FAIL(where(node, source), ": ", e.what());
  }
  return n;
}

}  // namespace

std::vector<std::string> augment_key_names() {
  std::vector<std::string> out;
  for (const auto& item : augment_keys()) out.push_back(item.first);
  return out;
}

DataConfig parse_data_section(const YAML::Node& node, const std::string& source) {
  SVANET_CHECK(node.IsMap(), where(node, source), ": 'data' must be a mapping");
  check_keys(node, section_keys("data"), source, "data");
  DataConfig c;
  if (node["root"]) c.root = scalar<std::string>(node, "root", source, "data");
  if (node["dataset"]) c.dataset = scalar<std::string>(node, "dataset", source, "data");
  if (node["batch_size"]) c.batch_size = scalar<int64_t>(node, "batch_size", source, "data");
  SVANET_CHECK(c.batch_size >= 1, where(node["batch_size"], source),
               ": data.batch_size must be >= 1");
  if (node["workers"]) c.workers = scalar<int>(node, "workers", source, "data");
  if (node["normalization"]) c.normalization = parse_normalization(node["normalization"], source);
  if (const YAML::Node splits = node["splits"]) {
    SVANET_CHECK(splits.IsMap(), where(splits, source), ": data.splits must be a mapping");
    check_keys(splits, section_keys("data.splits"), source, "data.splits");
    if (splits["seed"]) c.splits.seed = scalar<uint64_t>(splits, "seed", source, "data.splits");
    if (splits["val_fraction"])
      c.splits.val_fraction = scalar<double>(splits, "val_fraction", source, "data.splits");
    if (splits["test_fraction"]) {
      c.splits.test_fraction = scalar<double>(splits, "test_fraction", source, "data.splits");
    }
    if (splits["folds"]) c.splits.folds = scalar<int64_t>(splits, "folds", source, "data.splits");
    if (splits["fold"]) c.splits.fold = scalar<int64_t>(splits, "fold", source, "data.splits");
  }
  if (const YAML::Node augment = node["augment"]) {
    SVANET_CHECK(augment.IsMap(), where(augment, source), ": data.augment must be a mapping");
    check_keys(augment, section_keys("data.augment"), source, "data.augment");
    for (const auto& item : augment) {
      augment_keys().at(item.first.as<std::string>())(c.augment, item.second, source);
    }
  }
  return c;
}

DataConfig parse_data_config(const std::string& yaml_text, const std::string& source) {
  const YAML::Node root = load_yaml(yaml_text, source);
  SVANET_CHECK(root.IsMap(), source, ": expected a mapping at the top level");
  const YAML::Node node = root["data"];
  SVANET_CHECK(node.IsDefined() && node.IsMap(), source, ": missing the 'data:' section");
  return parse_data_section(node, source);
}

DataConfig load_data_config(const std::string& path) {
  return parse_data_config(utils::read_file(path), path);
}

}  // namespace svanet::config
