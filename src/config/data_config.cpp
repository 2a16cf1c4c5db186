#include "svanet/config/data_config.h"

#include "config/schema.h"
#include "config/sections.h"
#include "svanet/common/error.h"
#include "svanet/data/dataset.h"
#include "svanet/utils/atomic_file.h"
#include "svanet/utils/text.h"

#include <yaml-cpp/yaml.h>

namespace svanet::config {

namespace {

Normalization decode_normalization(const YAML::Node& node, const Origins& origins,
                                   const std::string& path) {
  if (node.IsScalar()) {
    const std::string& mode = node.Scalar();
    SVANET_CHECK(mode == "imagenet" || mode == "reference", origins.where(node, path),
                 ": normalization is imagenet, reference, or {mean: [...], std: [...]}; got '",
                 mode, "'");
    return mode == "reference" ? Normalization::reference() : Normalization::imagenet();
  }
  SVANET_CHECK(node.IsMap(), origins.where(node, path),
               ": normalization is imagenet, reference or {mean, std}");
  check_mapping_keys(node, {"mean", "std"}, origins, path);
  Normalization n;
  n.mode = "custom";
  try {
    n.mean = node["mean"].as<std::vector<double>>();
    n.std = node["std"].as<std::vector<double>>();
  } catch (const YAML::Exception&) {
    SVANET_FAIL(origins.where(node, path),
                ": normalization mean and std must be lists of 3 numbers");
  }
  try {
    n.validate();
  } catch (const Error& e) {
    SVANET_FAIL(origins.where(node, path), ": ", e.what());
  }
  return n;
}

void encode_normalization(YAML::Emitter& out, const Normalization& n) {
  if (n.mode != "custom") {
    out << n.mode;
    return;
  }
  out << YAML::BeginMap << YAML::Key << "mean" << YAML::Value;
  emit_option(out, OptionType::kFloatList,
              detail::OptionTraits<std::vector<double>>::format(n.mean));
  out << YAML::Key << "std" << YAML::Value;
  emit_option(out, OptionType::kFloatList,
              detail::OptionTraits<std::vector<double>>::format(n.std));
  out << YAML::EndMap;
}

const Section<data::SplitOptions>& splits_section() {
  static const auto s = Section<data::SplitOptions>()
                            .value("seed", SVANET_MEMBER(seed))
                            .value("val_fraction", SVANET_MEMBER(val_fraction))
                            .value("test_fraction", SVANET_MEMBER(test_fraction))
                            .value("folds", SVANET_MEMBER(folds), at_least<int64_t>(0))
                            .value("fold", SVANET_MEMBER(fold), at_least<int64_t>(0));
  return s;
}

/// The steps of the official augmentation, in alphabetical order (as
/// messages list them).
const Section<data::AugmentOptions>& augment_section() {
  static const auto s = Section<data::AugmentOptions>()
                            .value("blur", SVANET_MEMBER(blur))
                            .value("blur_max_radius", SVANET_MEMBER(blur_max_radius))
                            .value("brightness", SVANET_MEMBER(brightness))
                            .value("channel_shuffle", SVANET_MEMBER(channel_shuffle))
                            .value("contrast", SVANET_MEMBER(contrast))
                            .value("crop", SVANET_MEMBER(crop))
                            .value("hflip", SVANET_MEMBER(hflip))
                            .value("hue", SVANET_MEMBER(hue))
                            .value("photometric", SVANET_MEMBER(photometric))
                            .value("resize_max_long", SVANET_MEMBER(resize_max_long))
                            .value("resize_max_scale", SVANET_MEMBER(resize_max_scale))
                            .value("resize_min_scale", SVANET_MEMBER(resize_min_scale))
                            .value("rotation_degrees", SVANET_MEMBER(rotation_degrees))
                            .value("rotation_p", SVANET_MEMBER(rotation_p))
                            .value("saturation", SVANET_MEMBER(saturation))
                            .value("size", SVANET_MEMBER(size), at_least<int64_t>(32));
  return s;
}

const Section<data::ObjectSampling>& sampling_section() {
  static const auto s =
      Section<data::ObjectSampling>()
          .value("object_share", SVANET_MEMBER(object_share),
                 ValueCheck<double>([](const double& v) {
                   return v >= 0 && v <= 1 ? std::string()
                                           : "must be in [0, 1], got " + utils::format_number(v);
                 }))
          .value("weighting", SVANET_MEMBER(weighting),
                 ValueCheck<std::string>([](const std::string& v) {
                   return v == "uniform" || v == "inverse_area"
                              ? std::string()
                              : "must be uniform or inverse_area, got '" + v + "'";
                 }))
          .value("weight_cap", SVANET_MEMBER(weight_cap), at_least(1.0));
  return s;
}

std::string registered_dataset(const std::string& name) {
  if (name.empty() || data::has_dataset(name)) return {};
  return "names no registered dataset ('" + name +
         "'); registered: " + utils::join(data::dataset_registry().names(), ", ");
}

}  // namespace

const Section<DataConfig>& data_section() {
  static const auto s =
      Section<DataConfig>()
          .value("root", SVANET_MEMBER(root))
          .value("dataset", SVANET_MEMBER(dataset), ValueCheck<std::string>(registered_dataset))
          .custom(
              "normalization", Shape{},
              [](DataConfig& c, const YAML::Node& node, const Origins& origins,
                 const std::string& path) {
                c.normalization = decode_normalization(node, origins, path);
              },
              [](YAML::Emitter& out, const DataConfig& c) {
                encode_normalization(out, c.normalization);
              })
          .section("splits", SVANET_MEMBER(splits), splits_section())
          .section("augment", SVANET_MEMBER(augment), augment_section())
          .section(
              "sampling", [](auto& c) -> auto& { return c.augment.sampling; }, sampling_section())
          .value("batch_size", SVANET_MEMBER(batch_size), at_least<int64_t>(1))
          .value("workers", SVANET_MEMBER(workers), at_least(0));
  return s;
}

DataConfig parse_data_config(const std::string& yaml_text, const std::string& source) {
  const YAML::Node root = utils::load_yaml(yaml_text, source);
  SVANET_CHECK(root.IsMap(), source, ": expected a mapping at the top level");
  const YAML::Node node = root["data"];
  SVANET_CHECK(node.IsDefined() && node.IsMap(), source, ": missing the 'data:' section");
  DataConfig c;
  data_section().decode(node, Origins(source), "data", c);
  return c;
}

DataConfig load_data_config(const std::string& path) {
  return parse_data_config(utils::read_file(path), path);
}

}  // namespace svanet::config
