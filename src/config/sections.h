#pragma once
// The sections of svanet's YAML configs (private to the library), each
// declared once in config/schema.h's terms.

#include "config/schema.h"
#include "svanet/config/data_config.h"
#include "svanet/config/train_config.h"
#include "svanet/models/segmentation_model.h"

namespace svanet::config {

/// `model:` name, num_classes, in_channels, image_size, options.
const Section<models::ModelSpec>& model_section();
/// A `model:` mapping: the section plus the check that a name is set.
models::ModelSpec parse_model_section(const YAML::Node& node, const Origins& origins);
/// `data:`.
const Section<DataConfig>& data_section();
/// `train:` and `evaluate:`.
const Section<TrainSection>& train_section();
const Section<EvaluateSection>& evaluate_section();
/// The whole training config: model, data, train, evaluate.
const Section<TrainConfig>& train_config_section();

}  // namespace svanet::config
