#include "svanet/config/train_config.h"

#include "config/sections.h"
#include "svanet/common/error.h"
#include "svanet/inference/thresholds.h"
#include "svanet/metrics/objects.h"
#include "svanet/metrics/registry.h"
#include "svanet/utils/atomic_file.h"
#include "svanet/utils/paths.h"
#include "svanet/utils/text.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>

namespace svanet::config {

namespace {

void decode_freeze(TrainSection& t, const YAML::Node& node, const Origins& origins,
                   const std::string& path) {
  const std::string text = node_text(node, origins, path, false);
  if (text == "first_cycle") {
    t.freeze_encoder_epochs.reset();
    return;
  }
  int64_t epochs = -1;
  try {
    epochs = utils::parse_int(text);
  } catch (const Error&) {
  }
  SVANET_CHECK(epochs >= 0, origins.where(node, path), ": ", path,
               " is first_cycle or a number of epochs, got '", text, "'");
  t.freeze_encoder_epochs = epochs;
}

void encode_freeze(YAML::Emitter& out, const TrainSection& t) {
  if (t.freeze_encoder_epochs) {
    out << *t.freeze_encoder_epochs;
  } else {
    out << "first_cycle";
  }
}

void decode_check_every(TrainSection& t, const YAML::Node& node, const Origins& origins,
                        const std::string& path) {
  const std::string text = node_text(node, origins, path, false);
  if (text == "auto") {
    t.check_every.reset();
    return;
  }
  int64_t steps = 0;
  try {
    steps = utils::parse_int(text);
  } catch (const Error&) {
  }
  SVANET_CHECK(steps >= 1, origins.where(node, path), ": ", path,
               " is auto or a number of steps (at least 1), got '", text, "'");
  t.check_every = steps;
}

void decode_surface_tolerance(EvaluateSection& e, const YAML::Node& node, const Origins& origins,
                              const std::string& path) {
  const std::string text = node_text(node, origins, path, false);
  if (text == "auto") {
    e.surface_tolerance.reset();
    return;
  }
  double pixels = -1.0;
  try {
    pixels = utils::parse_double(text);
  } catch (const Error&) {
  }
  SVANET_CHECK(std::isfinite(pixels) && pixels >= 0, origins.where(node, path), ": ", path,
               " is auto or a distance in pixels (0 or more), got '", text, "'");
  e.surface_tolerance = pixels;
}

void encode_surface_tolerance(YAML::Emitter& out, const EvaluateSection& e) {
  if (e.surface_tolerance) {
    out << *e.surface_tolerance;
  } else {
    out << "auto";
  }
}

void encode_check_every(YAML::Emitter& out, const TrainSection& t) {
  if (t.check_every) {
    out << *t.check_every;
  } else {
    out << "auto";
  }
}

}  // namespace

/// val_loss or a registered metric (svanet/metrics/registry.h).
ValueCheck<std::string> a_selection_metric() {
  return ValueCheck<std::string>([](const std::string& v) {
    const auto names = metrics::metric_registry().names();
    if (v == "val_loss" || std::find(names.begin(), names.end(), v) != names.end()) {
      return std::string();
    }
    return "is val_loss or a metric, got '" + v + "'" + utils::did_you_mean(v, names) +
           "; the metrics: " + utils::join(names, ", ");
  });
}

const Section<TrainSection>& train_section() {
  static const auto s =
      Section<TrainSection>()
          .value("epochs", SVANET_MEMBER(epochs), at_least<int64_t>(1))
          .value("device", SVANET_MEMBER(device))
          .choice("precision", SVANET_MEMBER(precision), {"fp32", "bf16", "fp16"})
          .value("channels_last", SVANET_MEMBER(channels_last))
          .value("seed", SVANET_MEMBER(seed))
          .value("deterministic", SVANET_MEMBER(deterministic))
          .component("optimizer", SVANET_MEMBER(optimizer), optim::optimizer_registry(), "adamw")
          .component("schedule", SVANET_MEMBER(schedule), optim::schedule_registry(),
                     "official_cosine")
          .component("loss", SVANET_MEMBER(loss), losses::loss_registry(), "cross_entropy")
          .custom("freeze_encoder_epochs", Shape{}, decode_freeze, encode_freeze)
          .value("fix_norm_statistics", SVANET_MEMBER(fix_norm_statistics))
          .value("validate_every", SVANET_MEMBER(validate_every), at_least<int64_t>(1))
          .value("select_metric", SVANET_MEMBER(select_metric), a_selection_metric())
          .value("grad_clip", SVANET_MEMBER(grad_clip), at_least(0.0))
          .value("repeats", SVANET_MEMBER(repeats), at_least<int64_t>(1))
          .value("sync_batchnorm", SVANET_MEMBER(sync_batchnorm))
          .custom("check_every", Shape{}, decode_check_every, encode_check_every)
          .choice("activation_checkpointing", SVANET_MEMBER(activation_checkpointing),
                  {"none", "encoder", "guide", "all"})
          .value("optimizer_in_backward", SVANET_MEMBER(optimizer_in_backward));
  return s;
}

/// In [0, 1).
ValueCheck<double> a_fraction() {
  return ValueCheck<double>([](const double& v) {
    return v >= 0 && v < 1 ? std::string() : "must be in [0, 1), got " + utils::format_number(v);
  });
}

/// In (0, 1).
ValueCheck<double> an_open_fraction() {
  return ValueCheck<double>([](const double& v) {
    return v > 0 && v < 1 ? std::string() : "must be in (0, 1), got " + utils::format_number(v);
  });
}

/// argmax, calibrated, auto or a probability (inference::ThresholdChoice).
ValueCheck<std::string> a_threshold() {
  return ValueCheck<std::string>([](const std::string& v) {
    try {
      inference::ThresholdChoice::parse(v);
      return std::string();
    } catch (const Error& e) {
      return std::string(e.what());
    }
  });
}

/// A matching rule (metrics::MatchRule::parse).
ValueCheck<std::string> a_match_rule() {
  return ValueCheck<std::string>([](const std::string& v) {
    try {
      metrics::MatchRule::parse(v);
      return std::string();
    } catch (const Error& e) {
      return std::string(e.what());
    }
  });
}

const Section<EvaluateSection>& evaluate_section() {
  static const auto s =
      Section<EvaluateSection>()
          .choice("split", SVANET_MEMBER(split), {"test", "val", "train"})
          .choice("checkpoint", SVANET_MEMBER(checkpoint), {"best", "last"})
          .value("after_training", SVANET_MEMBER(after_training))
          .value("match", SVANET_MEMBER(match), a_match_rule())
          .retired("iou_threshold",
                   [](const std::string& v) {
                     double t = 1.0;
                     try {
                       t = utils::parse_double(v);
                     } catch (const Error&) {
                     }
                     return t == 0.0 ? std::string()
                                     : "was replaced by evaluate.match (iou:T pairs objects one "
                                       "to one at IoU >= T; overlap is the old any-overlap "
                                       "rule), got '" +
                                           v + "'";
                   })
          .value("image_bins_pct", SVANET_MEMBER(image_bins_pct))
          .value("object_bins_pct", SVANET_MEMBER(object_bins_pct))
          .value("object_bins_px", SVANET_MEMBER(object_bins_px))
          .value("surface_distances", SVANET_MEMBER(surface_distances))
          .custom("surface_tolerance", Shape{}, decode_surface_tolerance, encode_surface_tolerance)
          .value("overlays", SVANET_MEMBER(overlays), at_least<int64_t>(0))
          .value("save_predictions", SVANET_MEMBER(save_predictions))
          .choice("mode", SVANET_MEMBER(mode), {"resize", "sliding", "auto"})
          .choice("tta", SVANET_MEMBER(tta), {"none", "flip", "flip4"})
          .value("overlap", SVANET_MEMBER(overlap), a_fraction())
          .choice("precision", SVANET_MEMBER(precision), {"auto", "fp32", "bf16", "fp16"})
          .value("threshold", SVANET_MEMBER(threshold), a_threshold())
          .choice("calibrate_metric", SVANET_MEMBER(calibrate_metric), {"object_f1", "dice"});
  return s;
}

namespace {

/// The model section as a training config has it: the model's keys plus
/// init_from and init_strict (what the model starts from, not what it is).
Shape model_shape() {
  Shape shape = model_section().shape();
  shape.keys.emplace_back("init_from", Shape{});
  shape.keys.emplace_back("init_strict", Shape{});
  return shape;
}

void decode_model(TrainConfig& c, const YAML::Node& node, const Origins& origins,
                  const std::string&) {
  SVANET_CHECK(node.IsMap(), origins.where(node, "model"), ": 'model' must be a mapping");
  YAML::Node model = node;  // the same tree: the two keys leave it here
  if (const YAML::Node from = model["init_from"]; from.IsDefined()) {
    c.init_from = from.IsNull() ? "" : node_text(from, origins, "model.init_from", false);
  }
  if (const YAML::Node strict = model["init_strict"]; strict.IsDefined()) {
    bool value = true;
    SVANET_CHECK(strict.IsScalar() && YAML::convert<bool>::decode(strict, value),
                 origins.where(strict, "model.init_strict"),
                 ": model.init_strict is true or false, got '",
                 node_text(strict, origins, "model.init_strict", false), "'");
    c.init_strict = value;
  }
  model.remove("init_from");
  model.remove("init_strict");
  c.model = parse_model_section(model, origins);
  c.num_classes_given = model["num_classes"].IsDefined();
}

void encode_model(YAML::Emitter& out, const TrainConfig& c) {
  out << YAML::BeginMap;
  model_section().encode_members(out, c.model);
  // Only when set, so that a run's config.yaml stays a plain model section.
  if (!c.init_from.empty()) {
    out << YAML::Key << "init_from" << YAML::Value << c.init_from;
    out << YAML::Key << "init_strict" << YAML::Value << c.init_strict;
  }
  out << YAML::EndMap;
}

}  // namespace

const Section<TrainConfig>& train_config_section() {
  static const auto s = Section<TrainConfig>("config")
                            .custom("model", model_shape(), decode_model, encode_model)
                            .section("data", SVANET_MEMBER(data), data_section())
                            .section("train", SVANET_MEMBER(train), train_section())
                            .section("evaluate", SVANET_MEMBER(evaluate), evaluate_section());
  return s;
}

TrainConfig parse_train_config(const std::string& yaml_text, const std::string& source,
                               const std::vector<std::string>& overrides) {
  YAML::Node root = utils::load_yaml(yaml_text, source);
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  SVANET_CHECK(root.IsMap(), source, ": expected a mapping at the top level");
  const auto& section = train_config_section();
  const Shape shape = section.shape();
  Origins origins(source);
  root = resolve_bases(root, origins, shape);
  for (const auto& o : overrides) apply_override(root, o, shape, origins);
  check_mapping_keys(root, section.keys(), origins, "config");
  SVANET_CHECK(root["model"], source, ": missing the 'model:' section (see `svanet list models`)");
  TrainConfig c;
  c.source = source;
  section.decode(root, origins, "", c);
  return c;
}

TrainConfig load_train_config(const std::string& path, const std::vector<std::string>& overrides) {
  utils::require_file(path, "config");
  return parse_train_config(utils::read_file(path), path, overrides);
}

std::string to_yaml(const TrainConfig& c) {
  YAML::Emitter out;
  train_config_section().encode(out, c);
  return std::string(out.c_str()) + "\n";
}

}  // namespace svanet::config
