#pragma once
/// @file
/// Compatibility with the official SvANet implementation
/// (github.com/anthonyweidai/SvANet): its state-dict keys and its
/// command-line flags.

#include "svanet/models/segmentation_model.h"

#include <string>
#include <utility>
#include <vector>

namespace svanet::official {

/// Our parameter or buffer name for one key of an official SvANet or
/// DeepLabv3 state dict (e.g. `SegHead.Convr12.Squeeze1.Conv.weight` ->
/// `cross_1_2.squeeze.0.conv.weight`). DataParallel's `module.` prefix is
/// accepted. Throws svanet::Error naming the key when it is not one of the
/// official model's.
std::string to_svanet_key(const std::string& official_key);

/// to_svanet_key for every key, in order: (official, ours) pairs.
std::vector<std::pair<std::string, std::string>> official_to_svanet_keys(
    const std::vector<std::string>& official_keys);

/// The inverse of to_svanet_key for a whole state dict of ours, in order:
/// (ours, official) pairs. Keys without an official counterpart
/// (is_svanet_only_key) are left out; any other key that the official
/// models do not have throws svanet::Error naming it. A whole state dict is
/// needed because the official AssembleFormer numbers its final norm after
/// its blocks.
std::vector<std::pair<std::string, std::string>> svanet_to_official_keys(
    const std::vector<std::string>& svanet_keys);

/// Whether one of our state-dict entries has no official counterpart by
/// design: the scale-variant attention's region masks, which the official
/// code keeps outside its state dict and redraws at every construction.
bool is_svanet_only_key(const std::string& key);

/// The registered model and overrides equivalent to an official command
/// line (e.g. `--seg_feature_guide 2 --fg_svattn 0 ...`). `num_classes` and
/// `image_size` (official `resize_shape`) are given separately because the
/// official code derives them from the dataset. Flags that do not change the
/// network are ignored; flags selecting variants svanet does not implement
/// throw svanet::Error naming the flag.
models::ModelSpec spec_from_official_args(const std::string& args, int64_t num_classes,
                                          int64_t image_size);

}  // namespace svanet::official
