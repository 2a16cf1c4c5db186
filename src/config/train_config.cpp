#include "svanet/config/train_config.h"

#include "config/sections.h"
#include "svanet/common/error.h"
#include "svanet/utils/atomic_file.h"
#include "svanet/utils/text.h"
#include "utils/yaml.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>

namespace svanet::config {

using utils::check_keys;
using utils::load_yaml;
using utils::scalar;
using utils::scalar_or_list_text;
using utils::where;

namespace {

const std::map<std::string, std::vector<std::string>>& schema() {
  static const std::map<std::string, std::vector<std::string>> table = {
      {"", {"model", "data", "train", "evaluate"}},
      {"model", {"name", "num_classes", "in_channels", "image_size", "options"}},
      {"data", {"root", "dataset", "normalization", "splits", "augment", "batch_size", "workers"}},
      {"data.splits", {"seed", "val_fraction", "test_fraction", "folds", "fold"}},
      {"data.augment", augment_key_names()},
      {"train",
       {"epochs", "device", "precision", "channels_last", "seed", "deterministic", "optimizer",
        "schedule", "loss", "freeze_encoder_epochs", "fix_norm_statistics", "validate_every",
        "select_metric", "grad_clip", "repeats"}},
      {"train.optimizer", {"name", "weight_decay", "betas", "eps", "momentum", "nesterov"}},
      {"train.schedule",
       {"name", "min_lr", "warmup_init_lr", "max_lr", "milestones", "restart", "warmup_epochs",
        "power"}},
      {"train.loss",
       {"name", "class_weights", "label_smoothing", "focal_gamma", "dice_smooth", "dice_background",
        "ce_weight", "dice_weight"}},
      {"evaluate",
       {"split", "checkpoint", "after_training", "iou_threshold", "image_bins_pct",
        "object_bins_pct", "object_bins_px", "surface_distances", "overlays", "save_predictions"}},
  };
  return table;
}

/// Applies one `--set path=value` to the YAML tree, checking the path.
void apply_override(YAML::Node& root, const std::string& text) {
  const auto eq = text.find('=');
  SVANET_CHECK(eq != std::string::npos && eq > 0, "--set '", text,
               "': expected key=value, e.g. train.epochs=20");
  const std::string path = utils::trim(text.substr(0, eq));
  const std::string value = text.substr(eq + 1);
  const auto parts = utils::split(path, '.');
  std::string prefix;
  for (const auto& part : parts) {
    SVANET_CHECK(!part.empty(), "--set '", text, "': empty key in '", path, "'");
    std::string full = prefix;
    if (!full.empty()) full += '.';
    full += part;
    if (is_section(prefix)) {
      const auto& keys = section_keys(prefix);
      SVANET_CHECK(std::find(keys.begin(), keys.end(), part) != keys.end(), "--set '", text,
                   "': unknown key '", full, "'; valid keys",
                   prefix.empty() ? std::string() : " under '" + prefix + "'", ": ",
                   utils::join(keys, ", "));
    } else {
      // Below a leaf only model.options may nest (its keys depend on the model).
      SVANET_CHECK(prefix == "model.options", "--set '", text, "': '", prefix,
                   "' is a value, not a section");
    }
    prefix = full;
  }
  SVANET_CHECK(!is_section(path), "--set '", text, "': '", path,
               "' is a section; set one of its keys: ", utils::join(section_keys(path), ", "));
  YAML::Node parsed;
  try {
    parsed = YAML::Load(value);
  } catch (const YAML::Exception& e) {
    SVANET_FAIL("--set '", text, "': invalid value: ", e.msg);
  }
  SVANET_CHECK(!value.empty() && !parsed.IsNull(), "--set '", text, "': missing value");
  YAML::Node node;
  node.reset(root);
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    YAML::Node child = node[parts[i]];
    if (!child.IsMap()) {
      node[parts[i]] = YAML::Node(YAML::NodeType::Map);
      child = node[parts[i]];
    }
    node.reset(child);
  }
  node[parts.back()] = parsed;
}

template <typename T>
void read(const YAML::Node& node, const char* key, T& out, const std::string& source,
          const std::string& section) {
  if (node[key]) out = scalar<T>(node, key, source, section);
}

std::vector<double> number_list(const YAML::Node& node, const std::string& key,
                                const std::string& source, const std::string& section) {
  const YAML::Node value = node[key];
  SVANET_CHECK(value.IsSequence(), where(value, source), ": '", section, ".", key,
               "' must be a list of numbers");
  try {
    return value.as<std::vector<double>>();
  } catch (const YAML::Exception&) {
    SVANET_FAIL(where(value, source), ": '", section, ".", key, "' must be a list of numbers");
  }
}

/// The mapping at node[key] (checked against the schema), or an undefined node.
YAML::Node section(const YAML::Node& node, const char* key, const std::string& source,
                   const std::string& name) {
  const YAML::Node s = node[key];
  if (!s) return s;
  SVANET_CHECK(s.IsMap(), where(s, source), ": '", name, "' must be a mapping");
  check_keys(s, section_keys(name), source, name);
  return s;
}

TrainSection parse_train(const YAML::Node& node, const std::string& source) {
  TrainSection t;
  const std::string s = "train";
  read(node, "epochs", t.epochs, source, s);
  SVANET_CHECK(t.epochs >= 1, where(node["epochs"], source), ": train.epochs must be >= 1");
  read(node, "device", t.device, source, s);
  read(node, "precision", t.precision, source, s);
  SVANET_CHECK(t.precision == "fp32" || t.precision == "bf16" || t.precision == "fp16",
               where(node["precision"], source), ": train.precision is fp32, bf16 or fp16, got '",
               t.precision, "'");
  read(node, "channels_last", t.channels_last, source, s);
  read(node, "seed", t.seed, source, s);
  read(node, "deterministic", t.deterministic, source, s);
  read(node, "fix_norm_statistics", t.fix_norm_statistics, source, s);
  read(node, "validate_every", t.validate_every, source, s);
  SVANET_CHECK(t.validate_every >= 1, where(node["validate_every"], source),
               ": train.validate_every must be >= 1");
  read(node, "select_metric", t.select_metric, source, s);
  static const std::vector<std::string> metrics{"ref_miou", "ref_mdice", "dice", "iou", "val_loss"};
  SVANET_CHECK(std::find(metrics.begin(), metrics.end(), t.select_metric) != metrics.end(),
               where(node["select_metric"], source), ": train.select_metric '", t.select_metric,
               "' is not one of ", utils::join(metrics, ", "));
  read(node, "grad_clip", t.grad_clip, source, s);
  SVANET_CHECK(t.grad_clip >= 0, where(node["grad_clip"], source),
               ": train.grad_clip must be >= 0");
  read(node, "repeats", t.repeats, source, s);
  SVANET_CHECK(t.repeats >= 1, where(node["repeats"], source), ": train.repeats must be >= 1");
  if (node["freeze_encoder_epochs"]) {
    const auto text = scalar<std::string>(node, "freeze_encoder_epochs", source, s);
    if (text == "first_cycle") {
      t.freeze_encoder_epochs = -1;
    } else {
      try {
        t.freeze_encoder_epochs = utils::parse_int(text);
      } catch (const Error&) {
        t.freeze_encoder_epochs = -2;
      }
      SVANET_CHECK(t.freeze_encoder_epochs >= 0, where(node["freeze_encoder_epochs"], source),
                   ": train.freeze_encoder_epochs is first_cycle or a number of epochs, got '",
                   text, "'");
    }
  }
  if (const YAML::Node o = section(node, "optimizer", source, "train.optimizer")) {
    const std::string so = "train.optimizer";
    read(o, "name", t.optimizer.name, source, so);
    SVANET_CHECK(
        t.optimizer.name == "adamw" || t.optimizer.name == "adam" || t.optimizer.name == "sgd",
        where(o["name"], source), ": train.optimizer.name is adamw, adam or sgd, got '",
        t.optimizer.name, "'");
    read(o, "weight_decay", t.optimizer.weight_decay, source, so);
    if (o["betas"]) {
      const auto betas = number_list(o, "betas", source, so);
      SVANET_CHECK(betas.size() == 2, where(o["betas"], source),
                   ": train.optimizer.betas must be two numbers");
      t.optimizer.beta1 = betas[0];
      t.optimizer.beta2 = betas[1];
    }
    read(o, "eps", t.optimizer.eps, source, so);
    read(o, "momentum", t.optimizer.momentum, source, so);
    read(o, "nesterov", t.optimizer.nesterov, source, so);
  }
  if (const YAML::Node o = section(node, "schedule", source, "train.schedule")) {
    const std::string so = "train.schedule";
    auto& sc = t.schedule;
    read(o, "name", sc.name, source, so);
    read(o, "min_lr", sc.min_lr, source, so);
    read(o, "warmup_init_lr", sc.warmup_init_lr, source, so);
    read(o, "max_lr", sc.max_lr, source, so);
    read(o, "milestones", sc.milestones, source, so);
    read(o, "restart", sc.restart, source, so);
    read(o, "warmup_epochs", sc.warmup_epochs, source, so);
    read(o, "power", sc.power, source, so);
    SVANET_CHECK(optim::schedule_registry().contains(sc.name), where(o["name"], source),
                 ": unknown schedule '", sc.name, "'; registered schedules: ",
                 utils::join(optim::schedule_registry().names(), ", "));
    try {
      sc.validate();
    } catch (const Error& e) {
      SVANET_FAIL(where(o, source), ": ", e.what());
    }
  }
  if (const YAML::Node o = section(node, "loss", source, "train.loss")) {
    const std::string so = "train.loss";
    auto& l = t.loss;
    read(o, "name", l.name, source, so);
    if (o["class_weights"]) l.class_weights = number_list(o, "class_weights", source, so);
    read(o, "label_smoothing", l.label_smoothing, source, so);
    read(o, "focal_gamma", l.focal_gamma, source, so);
    read(o, "dice_smooth", l.dice_smooth, source, so);
    read(o, "dice_background", l.dice_background, source, so);
    read(o, "ce_weight", l.ce_weight, source, so);
    read(o, "dice_weight", l.dice_weight, source, so);
  }
  return t;
}

EvaluateSection parse_evaluate(const YAML::Node& node, const std::string& source) {
  EvaluateSection e;
  const std::string s = "evaluate";
  read(node, "split", e.split, source, s);
  SVANET_CHECK(e.split == "test" || e.split == "val" || e.split == "train",
               where(node["split"], source), ": evaluate.split is test, val or train, got '",
               e.split, "'");
  read(node, "checkpoint", e.checkpoint, source, s);
  SVANET_CHECK(e.checkpoint == "best" || e.checkpoint == "last", where(node["checkpoint"], source),
               ": evaluate.checkpoint is best or last, got '", e.checkpoint, "'");
  read(node, "after_training", e.after_training, source, s);
  read(node, "iou_threshold", e.iou_threshold, source, s);
  if (node["image_bins_pct"]) e.image_bins_pct = number_list(node, "image_bins_pct", source, s);
  if (node["object_bins_pct"]) e.object_bins_pct = number_list(node, "object_bins_pct", source, s);
  if (node["object_bins_px"]) e.object_bins_px = number_list(node, "object_bins_px", source, s);
  read(node, "surface_distances", e.surface_distances, source, s);
  read(node, "overlays", e.overlays, source, s);
  read(node, "save_predictions", e.save_predictions, source, s);
  return e;
}

std::string number(double v) {
  return utils::format_number(v);
}

void emit_numbers(YAML::Emitter& out, const std::vector<double>& values) {
  out << YAML::Flow << YAML::BeginSeq;
  for (const double v : values) out << number(v);
  out << YAML::EndSeq;
}

/// Checks the keys of every section of a (partial) config tree.
void check_tree(const YAML::Node& node, const std::string& section, const std::string& source) {
  check_keys(node, section_keys(section), source, section.empty() ? "config" : section);
  for (const auto& item : node) {
    const auto key = item.first.as<std::string>();
    std::string path = section;
    if (!path.empty()) path += '.';
    path += key;
    if (is_section(path) && item.second.IsMap()) check_tree(item.second, path, source);
  }
}

/// `overlay` on top of `base`: mappings merge key by key, anything else replaces.
YAML::Node merge(const YAML::Node& base, const YAML::Node& overlay) {
  if (!base.IsMap() || !overlay.IsMap()) return YAML::Clone(overlay);
  YAML::Node out = YAML::Clone(base);
  for (const auto& item : overlay) {
    const auto key = item.first.as<std::string>();
    out[key] = out[key] ? merge(out[key], item.second) : YAML::Clone(item.second);
  }
  return out;
}

/// The config tree of a file with its `base:` chain resolved (a base path is
/// relative to the file naming it).
YAML::Node resolve_bases(YAML::Node root, const std::string& source,
                         std::vector<std::string>& chain) {
  SVANET_CHECK(root.IsMap(), source, ": expected a mapping at the top level");
  const YAML::Node base = root["base"];
  if (!base) return root;
  SVANET_CHECK(base.IsScalar(), where(base, source), ": 'base' names another config file");
  namespace fs = std::filesystem;
  const fs::path dir =
      source.empty() || source[0] == '<' ? fs::current_path() : fs::path(source).parent_path();
  const std::string path = (dir / base.Scalar()).lexically_normal().string();
  SVANET_CHECK(std::find(chain.begin(), chain.end(), path) == chain.end(), where(base, source),
               ": the base config ", path, " includes itself");
  SVANET_CHECK(fs::exists(path), where(base, source), ": the base config ", path,
               " does not exist");
  chain.push_back(path);
  YAML::Node parent = load_yaml(utils::read_file(path), path);
  if (parent.IsNull()) parent = YAML::Node(YAML::NodeType::Map);
  parent = resolve_bases(parent, path, chain);
  check_tree(parent, "", path);
  root.remove("base");
  return merge(parent, root);
}

}  // namespace

const std::vector<std::string>& section_keys(const std::string& name) {
  static const std::vector<std::string> none;
  const auto it = schema().find(name);
  return it == schema().end() ? none : it->second;
}

bool is_section(const std::string& path) {
  return schema().count(path) > 0;
}

TrainConfig parse_train_config(const std::string& yaml_text, const std::string& source,
                               const std::vector<std::string>& overrides) {
  YAML::Node root = load_yaml(yaml_text, source);
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  SVANET_CHECK(root.IsMap(), source, ": expected a mapping at the top level");
  std::vector<std::string> chain{source};
  root = resolve_bases(root, source, chain);
  for (const auto& o : overrides) apply_override(root, o);
  check_keys(root, section_keys(""), source, "config");
  TrainConfig c;
  c.source = source;
  SVANET_CHECK(root["model"], source, ": missing the 'model:' section (see `svanet models`)");
  c.model = parse_model_section(root["model"], source);
  c.num_classes_given = static_cast<bool>(root["model"]["num_classes"]);
  if (root["data"]) c.data = parse_data_section(root["data"], source);
  if (const YAML::Node t = section(root, "train", source, "train"))
    c.train = parse_train(t, source);
  if (const YAML::Node e = section(root, "evaluate", source, "evaluate")) {
    c.evaluate = parse_evaluate(e, source);
  }
  return c;
}

TrainConfig load_train_config(const std::string& path, const std::vector<std::string>& overrides) {
  return parse_train_config(utils::read_file(path), path, overrides);
}

std::string to_yaml(const TrainConfig& c) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  // model
  out << YAML::Key << "model" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << c.model.name;
  out << YAML::Key << "num_classes" << YAML::Value << c.model.options.num_classes();
  out << YAML::Key << "in_channels" << YAML::Value << c.model.options.in_channels();
  out << YAML::Key << "image_size" << YAML::Value << c.model.options.image_size();
  out << YAML::Key << "options" << YAML::Value << YAML::BeginMap;
  for (const auto& [key, value] : c.model.options.overrides()) {
    out << YAML::Key << key << YAML::Value << value;
  }
  out << YAML::EndMap << YAML::EndMap;
  // data
  const DataConfig& d = c.data;
  out << YAML::Key << "data" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "root" << YAML::Value << d.root;
  out << YAML::Key << "dataset" << YAML::Value << d.dataset;
  out << YAML::Key << "normalization" << YAML::Value;
  if (d.normalization.mode == "custom") {
    out << YAML::BeginMap << YAML::Key << "mean" << YAML::Value;
    emit_numbers(out, d.normalization.mean);
    out << YAML::Key << "std" << YAML::Value;
    emit_numbers(out, d.normalization.std);
    out << YAML::EndMap;
  } else {
    out << d.normalization.mode;
  }
  out << YAML::Key << "splits" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "seed" << YAML::Value << d.splits.seed;
  out << YAML::Key << "val_fraction" << YAML::Value << number(d.splits.val_fraction);
  out << YAML::Key << "test_fraction" << YAML::Value << number(d.splits.test_fraction);
  out << YAML::Key << "folds" << YAML::Value << d.splits.folds;
  out << YAML::Key << "fold" << YAML::Value << d.splits.fold;
  out << YAML::EndMap;
  out << YAML::Key << "batch_size" << YAML::Value << d.batch_size;
  out << YAML::Key << "workers" << YAML::Value << d.workers;
  const auto& a = d.augment;
  out << YAML::Key << "augment" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "size" << YAML::Value << a.size;
  const std::vector<std::pair<const char*, double>> augment = {
      {"resize_min_scale", a.resize_min_scale},
      {"resize_max_scale", a.resize_max_scale},
      {"resize_max_long", a.resize_max_long},
      {"hflip", a.hflip},
      {"blur", a.blur},
      {"blur_max_radius", a.blur_max_radius},
      {"photometric", a.photometric},
      {"brightness", a.brightness},
      {"contrast", a.contrast},
      {"saturation", a.saturation},
      {"hue", a.hue},
      {"channel_shuffle", a.channel_shuffle},
      {"rotation_degrees", a.rotation_degrees},
      {"rotation_p", a.rotation_p}};
  out << YAML::Key << "crop" << YAML::Value << a.crop;
  for (const auto& [key, value] : augment) out << YAML::Key << key << YAML::Value << number(value);
  out << YAML::EndMap << YAML::EndMap;
  // train
  const TrainSection& t = c.train;
  out << YAML::Key << "train" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "epochs" << YAML::Value << t.epochs;
  out << YAML::Key << "device" << YAML::Value << t.device;
  out << YAML::Key << "precision" << YAML::Value << t.precision;
  out << YAML::Key << "channels_last" << YAML::Value << t.channels_last;
  out << YAML::Key << "seed" << YAML::Value << t.seed;
  out << YAML::Key << "deterministic" << YAML::Value << t.deterministic;
  out << YAML::Key << "optimizer" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << t.optimizer.name;
  out << YAML::Key << "weight_decay" << YAML::Value << number(t.optimizer.weight_decay);
  out << YAML::Key << "betas" << YAML::Value;
  emit_numbers(out, {t.optimizer.beta1, t.optimizer.beta2});
  out << YAML::Key << "eps" << YAML::Value << number(t.optimizer.eps);
  out << YAML::Key << "momentum" << YAML::Value << number(t.optimizer.momentum);
  out << YAML::Key << "nesterov" << YAML::Value << t.optimizer.nesterov;
  out << YAML::EndMap;
  const auto& s = t.schedule;
  out << YAML::Key << "schedule" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << s.name;
  out << YAML::Key << "min_lr" << YAML::Value << number(s.min_lr);
  out << YAML::Key << "warmup_init_lr" << YAML::Value << number(s.warmup_init_lr);
  out << YAML::Key << "max_lr" << YAML::Value << number(s.max_lr);
  out << YAML::Key << "milestones" << YAML::Value << s.milestones;
  out << YAML::Key << "restart" << YAML::Value << s.restart;
  out << YAML::Key << "warmup_epochs" << YAML::Value << s.warmup_epochs;
  out << YAML::Key << "power" << YAML::Value << number(s.power);
  out << YAML::EndMap;
  const auto& l = t.loss;
  out << YAML::Key << "loss" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "name" << YAML::Value << l.name;
  out << YAML::Key << "class_weights" << YAML::Value;
  emit_numbers(out, l.class_weights);
  out << YAML::Key << "label_smoothing" << YAML::Value << number(l.label_smoothing);
  out << YAML::Key << "focal_gamma" << YAML::Value << number(l.focal_gamma);
  out << YAML::Key << "dice_smooth" << YAML::Value << number(l.dice_smooth);
  out << YAML::Key << "dice_background" << YAML::Value << l.dice_background;
  out << YAML::Key << "ce_weight" << YAML::Value << number(l.ce_weight);
  out << YAML::Key << "dice_weight" << YAML::Value << number(l.dice_weight);
  out << YAML::EndMap;
  out << YAML::Key << "freeze_encoder_epochs" << YAML::Value
      << (t.freeze_encoder_epochs < 0 ? std::string("first_cycle")
                                      : std::to_string(t.freeze_encoder_epochs));
  out << YAML::Key << "fix_norm_statistics" << YAML::Value << t.fix_norm_statistics;
  out << YAML::Key << "validate_every" << YAML::Value << t.validate_every;
  out << YAML::Key << "select_metric" << YAML::Value << t.select_metric;
  out << YAML::Key << "grad_clip" << YAML::Value << number(t.grad_clip);
  out << YAML::Key << "repeats" << YAML::Value << t.repeats;
  out << YAML::EndMap;
  // evaluate
  const EvaluateSection& e = c.evaluate;
  out << YAML::Key << "evaluate" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "split" << YAML::Value << e.split;
  out << YAML::Key << "checkpoint" << YAML::Value << e.checkpoint;
  out << YAML::Key << "after_training" << YAML::Value << e.after_training;
  out << YAML::Key << "iou_threshold" << YAML::Value << number(e.iou_threshold);
  out << YAML::Key << "image_bins_pct" << YAML::Value;
  emit_numbers(out, e.image_bins_pct);
  out << YAML::Key << "object_bins_pct" << YAML::Value;
  emit_numbers(out, e.object_bins_pct);
  out << YAML::Key << "object_bins_px" << YAML::Value;
  emit_numbers(out, e.object_bins_px);
  out << YAML::Key << "surface_distances" << YAML::Value << e.surface_distances;
  out << YAML::Key << "overlays" << YAML::Value << e.overlays;
  out << YAML::Key << "save_predictions" << YAML::Value << e.save_predictions;
  out << YAML::EndMap;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace svanet::config
