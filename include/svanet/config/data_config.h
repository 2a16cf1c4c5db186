#pragma once
/// @file
/// The `data:` section of a YAML config: where the dataset is, how it is
/// split, normalised and augmented, and how it is loaded.
///
///     data:
///       root: demo_data            # dataset folder (any supported layout)
///       dataset: demo              # built-in definition (optional)
///       normalization: imagenet    # imagenet | reference | {mean: [...], std: [...]}
///       splits: {seed: 0, val_fraction: 0.2, test_fraction: 0.2, folds: 0, fold: 0}
///       batch_size: 4
///       workers: 0                 # 0 = all cores
///       augment:                   # every step of the official recipe
///         size: 512
///         resize_min_scale: 0.5    # 0 for max_scale turns resizing off
///         resize_max_scale: 1.5
///         resize_max_long: 2.0
///         hflip: 0.5
///         crop: true
///         blur: 0.5
///         blur_max_radius: 1.0
///         photometric: 0.5
///         brightness: 0.125
///         contrast: 0.5
///         saturation: 0.5
///         hue: 0.05
///         channel_shuffle: 0.5
///         rotation_degrees: 10
///         rotation_p: 1.0
///       sampling:                  # crops on objects (off: the paper's uniform crops)
///         object_share: 0.0        # share of crops placed on a ground-truth object
///         weighting: inverse_area  # uniform | inverse_area
///         weight_cap: 100          # inverse_area: at most 100x the largest object's weight
///
/// Unknown keys are errors naming the file, line and the valid keys.

#include "svanet/common/normalization.h"
#include "svanet/data/augment.h"
#include "svanet/data/splits.h"

#include <string>

namespace svanet::config {

struct DataConfig {
  std::string root;
  /// Built-in dataset name; empty lets the layout decide.
  std::string dataset;
  Normalization normalization;
  data::SplitOptions splits;
  data::AugmentOptions augment;
  int64_t batch_size = 4;
  int workers = 0;
};

/// Parses the `data:` section of YAML text; `source` names it in errors.
DataConfig parse_data_config(const std::string& yaml_text, const std::string& source = "<string>");
/// Reads the `data:` section of a YAML file.
DataConfig load_data_config(const std::string& path);

}  // namespace svanet::config
