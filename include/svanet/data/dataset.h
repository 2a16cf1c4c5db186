#pragma once
/// @file
/// Datasets on disk: the paper's seven datasets and the demo set by name,
/// and three layouts — the official one, a generic one described by a
/// `dataset.yaml`, and nnU-Net's raw 2D layout.
///
/// Official layout (what the official SvANet code reads):
///
///     ROOT/<Folder>/train/<stem>.jpg|png|tif|bmp
///     ROOT/<Folder>/val/... or test/...
///     ROOT/<Folder>/mask/<stem>.png
///
/// Generic layout: `ROOT/dataset.yaml` naming the classes (and optionally
/// their mask values or colours) with `ROOT/images/` and `ROOT/masks/`
/// (optionally `images_test/`, `masks_test/`). nnU-Net raw layout:
/// `ROOT/dataset.json`, `imagesTr/<case>_0000.png`, `labelsTr/<case>.png`.

#include "svanet/data/image_io.h"
#include "svanet/registry/registry.h"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace svanet::data {

/// What a dataset is: its classes and how its masks encode them.
struct DatasetDefinition {
  /// Short name (`fives`, `isic2018t1`, ..., `demo`, or the folder's name).
  std::string name;
  /// Folder name in the official layout (`FIVES`, `ISIC2018T1`, ...).
  std::string folder;
  /// Class names, background first.
  std::vector<std::string> classes;
  MaskEncoding encoding;
  /// When set and a mask is binary, its foreground takes the class named by
  /// this file-name code: FIVES's `_A`/`_D`/`_G`/`_N` disease suffix (pairs of
  /// code and class index).
  std::vector<std::pair<std::string, int64_t>> stem_classes;
  /// Where the definition's facts come from, for `check-data` reports.
  std::string description;
};

/// Makes a dataset's definition (datasets take no options).
using DatasetFactory = std::function<DatasetDefinition(const OptionMap& options)>;
using DatasetRegistry = Registry<DatasetFactory>;

/// The registry of named dataset definitions: the paper's datasets
/// (`fives`, `isic2018t1`, `polypgen`, `atlas`, `kits23`, `tissuenet`,
/// `spermhealth`) and `demo` on first use, then any a program adds. A
/// registered dataset is found by `data.dataset: NAME` and, in the official
/// layout, by its folder name.
DatasetRegistry& dataset_registry();

/// Every registered definition, in registration order.
std::vector<DatasetDefinition> builtin_datasets();

/// Whether `name` names a registered definition (its name or its folder,
/// case-insensitively).
bool has_dataset(const std::string& name);

/// A registered definition by name (case-insensitive; the official folder
/// name works too). Throws svanet::Error listing the known names.
DatasetDefinition builtin_dataset(const std::string& name);

/// One image and its mask.
struct Sample {
  std::string stem;
  std::string image;
  /// Empty when the image has no mask.
  std::string mask;
  /// The folder's split: "train", "val", "test", or "" when the layout has none.
  std::string split;
};

/// Everything found under a dataset root, problems included.
struct DatasetIndex {
  DatasetDefinition definition;
  /// The folder holding the splits.
  std::string root;
  /// "official", "generic" or "nnunet".
  std::string layout;
  std::vector<Sample> samples;
  /// Each split's image folder, empty ones included.
  std::map<std::string, std::string> split_folders;
  /// Masks with no image of the same stem.
  std::vector<std::string> orphan_masks;
  /// Stems that occur more than once within a split (their files).
  std::vector<std::vector<std::string>> duplicate_stems;
  /// Files in image folders that are not images.
  std::vector<std::string> ignored_files;
};

/// Finds the dataset under `root`. `dataset` names a built-in definition
/// (and, for the official layout, which folder under `root` to use); without
/// it the layout's own description decides (dataset.yaml, dataset.json), or,
/// for an official folder, a built-in whose folder name matches. Throws
/// svanet::Error naming the path when no layout fits.
DatasetIndex index_dataset(const std::string& root, const std::optional<std::string>& dataset = {});

/// An image with its mask decoded onto the dataset's classes.
struct LoadedSample {
  /// (3, H, W) float32 RGB in [0, 1].
  torch::Tensor image;
  /// (H, W) uint8 class indices, 255 = ignore.
  torch::Tensor mask;
  MaskKind mask_kind = MaskKind::kIndex;
};

/// Reads one sample (image and mask), applying the definition's mask rules.
/// A size mismatch between image and mask is an error naming both files.
LoadedSample load_sample(const DatasetDefinition& definition, const Sample& sample);

}  // namespace svanet::data
