#include "svanet/data/dataset.h"

#include "data/cv_io.h"
#include "svanet/common/error.h"
#include "svanet/data/image_io.h"
#include "svanet/utils/atomic_file.h"
#include "svanet/utils/text.h"
#include "utils/yaml.h"

#include <torch/torch.h>
#include <yaml-cpp/yaml.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>
#include <set>

namespace svanet::data {

namespace fs = std::filesystem;

namespace {

DatasetDefinition define(std::string name, std::string folder, std::vector<std::string> classes,
                         std::string description) {
  DatasetDefinition d;
  d.name = std::move(name);
  d.folder = std::move(folder);
  d.classes = std::move(classes);
  d.encoding.num_classes = static_cast<int64_t>(d.classes.size());
  d.description = std::move(description);
  return d;
}

bool is_image_file(const fs::path& p) {
  return has_image_extension(p.string());
}

std::vector<fs::path> sorted_files(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

bool is_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

/// Masks of a folder by stem; non-PNG masks are used only when no PNG exists.
std::map<std::string, fs::path> masks_by_stem(const fs::path& dir, const std::string& suffix) {
  std::map<std::string, fs::path> masks;
  if (!is_dir(dir)) return masks;
  for (const auto& file : sorted_files(dir)) {
    if (!is_image_file(file)) continue;
    std::string stem = file.stem().string();
    if (!suffix.empty()) {
      auto base = utils::strip_suffix(stem, suffix);
      if (!base) continue;
      stem = *base;
    }
    auto it = masks.find(stem);
    if (it == masks.end() || utils::to_lower(file.extension().string()) == ".png")
      masks[stem] = file;
  }
  return masks;
}

/// Adds a folder of images to the index, pairing each with its mask.
void add_split(DatasetIndex& index, const fs::path& images, const std::string& split,
               const std::map<std::string, fs::path>& masks, std::set<std::string>& used_masks) {
  index.split_folders[split] = images.string();
  std::map<std::string, std::vector<std::string>> seen;
  for (const auto& file : sorted_files(images)) {
    if (!is_image_file(file)) {
      if (file.filename().string().front() != '.') index.ignored_files.push_back(file.string());
      continue;
    }
    Sample s;
    s.stem = file.stem().string();
    s.image = file.string();
    s.split = split;
    if (auto it = masks.find(s.stem); it != masks.end()) {
      s.mask = it->second.string();
      used_masks.insert(s.mask);
    }
    seen[s.stem].push_back(s.image);
    index.samples.push_back(std::move(s));
  }
  for (auto& [stem, files] : seen) {
    if (files.size() > 1) index.duplicate_stems.push_back(files);
  }
}

void collect_orphans(DatasetIndex& index, const std::map<std::string, fs::path>& masks,
                     const std::set<std::string>& used) {
  for (const auto& [stem, path] : masks) {
    if (used.count(path.string()) == 0) index.orphan_masks.push_back(path.string());
  }
}

/// dataset.yaml: the classes and mask rules of a user's dataset.
struct YamlDescription {
  DatasetDefinition definition;
  std::string images = "images";
  std::string masks = "masks";
  std::string mask_suffix;
};

YamlDescription read_dataset_yaml(const fs::path& path, const std::string& fallback_name) {
  const std::string source = path.string();
  const YAML::Node root = utils::load_yaml(utils::read_file(source), source);
  SVANET_CHECK(root.IsMap(), source, ": expected a mapping");
  utils::check_keys(root, {"name", "classes", "binary_threshold", "images", "masks", "mask_suffix"},
                    source, "dataset");
  YamlDescription d;
  d.definition.name =
      root["name"] ? utils::scalar<std::string>(root, "name", source, "dataset") : fallback_name;
  d.definition.folder = fallback_name;
  d.definition.description = "described by " + source;
  const YAML::Node classes = root["classes"];
  SVANET_CHECK(classes && classes.IsSequence() && classes.size() >= 2,
               utils::where(classes ? classes : root, source),
               ": 'classes' must list at least two classes, background first");
  bool any_value = false;
  for (const auto& c : classes) {
    if (c.IsScalar()) {
      d.definition.classes.push_back(c.Scalar());
      continue;
    }
    SVANET_CHECK(c.IsMap(), utils::where(c, source),
                 ": a class is a name or {name, value, colour}");
    utils::check_keys(c, {"name", "value", "colour"}, source, "classes[]");
    d.definition.classes.push_back(utils::scalar<std::string>(c, "name", source, "classes[]"));
    if (c["value"]) {
      any_value = true;
      d.definition.encoding.values.push_back(
          utils::scalar<int64_t>(c, "value", source, "classes[]"));
    }
    if (c["colour"]) {
      const YAML::Node colour = c["colour"];
      SVANET_CHECK(colour.IsSequence() && colour.size() == 3, utils::where(colour, source),
                   ": a colour is [r, g, b]");
      d.definition.encoding.colours.push_back({static_cast<uint8_t>(colour[0].as<int>()),
                                               static_cast<uint8_t>(colour[1].as<int>()),
                                               static_cast<uint8_t>(colour[2].as<int>())});
    }
  }
  const auto k = d.definition.classes.size();
  SVANET_CHECK(!any_value || d.definition.encoding.values.size() == k, source,
               ": give a 'value' for every class or for none");
  SVANET_CHECK(d.definition.encoding.colours.empty() || d.definition.encoding.colours.size() == k,
               source, ": give a 'colour' for every class or for none");
  d.definition.encoding.num_classes = static_cast<int64_t>(k);
  if (root["binary_threshold"]) {
    d.definition.encoding.binary_threshold =
        utils::scalar<int64_t>(root, "binary_threshold", source, "dataset");
  }
  if (root["images"]) d.images = utils::scalar<std::string>(root, "images", source, "dataset");
  if (root["masks"]) d.masks = utils::scalar<std::string>(root, "masks", source, "dataset");
  if (root["mask_suffix"])
    d.mask_suffix = utils::scalar<std::string>(root, "mask_suffix", source, "dataset");
  return d;
}

DatasetIndex index_official(const fs::path& set, DatasetDefinition definition) {
  DatasetIndex index;
  index.definition = std::move(definition);
  index.root = set.string();
  index.layout = "official";
  const auto masks = masks_by_stem(set / "mask", "");
  SVANET_CHECK(is_dir(set / "mask"), set.string(),
               ": no 'mask' folder (official layout: train/, val/ or test/, mask/)");
  std::set<std::string> used;
  bool any = false;
  for (const char* split : {"train", "val", "test"}) {
    if (is_dir(set / split)) {
      add_split(index, set / split, split, masks, used);
      any = true;
    }
  }
  // k-fold folders split1..splitK, as the official code's path mode 1.
  for (int k = 1; is_dir(set / ("split" + std::to_string(k))); ++k) {
    add_split(index, set / ("split" + std::to_string(k)), "split" + std::to_string(k), masks, used);
    any = true;
  }
  SVANET_CHECK(any, set.string(), ": no train/, val/, test/ or split<k>/ folder");
  collect_orphans(index, masks, used);
  return index;
}

DatasetIndex index_generic(const fs::path& root, const YamlDescription& d) {
  DatasetIndex index;
  index.definition = d.definition;
  index.root = root.string();
  index.layout = "generic";
  std::set<std::string> used;
  bool any = false;
  for (const auto& [suffix, split] : std::vector<std::pair<std::string, std::string>>{
           {"", "train"}, {"_val", "val"}, {"_test", "test"}}) {
    const fs::path images = root / (d.images + suffix);
    if (!is_dir(images)) continue;
    const auto masks = masks_by_stem(root / (d.masks + suffix), d.mask_suffix);
    add_split(index, images, split, masks, used);
    collect_orphans(index, masks, used);
    any = true;
  }
  SVANET_CHECK(any, root.string(), ": no '", d.images, "' folder beside dataset.yaml");
  return index;
}

DatasetIndex index_nnunet(const fs::path& root, const std::optional<std::string>& name) {
  const fs::path json_path = root / "dataset.json";
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(utils::read_file(json_path.string()));
  } catch (const nlohmann::json::exception& e) {
    SVANET_FAIL(json_path.string(), ": invalid JSON: ", e.what());
  }
  SVANET_CHECK(json.contains("labels") && json["labels"].is_object(), json_path.string(),
               ": missing the 'labels' mapping");
  std::vector<std::pair<int64_t, std::string>> labels;
  for (const auto& [label, value] : json["labels"].items()) {
    SVANET_CHECK(value.is_number_integer(), json_path.string(), ": label '", label,
                 "' is a region (a list of values); svanet needs one value per class");
    labels.emplace_back(value.get<int64_t>(), label);
  }
  std::sort(labels.begin(), labels.end());
  DatasetIndex index;
  index.definition.name = name.value_or(root.filename().string());
  index.definition.folder = root.filename().string();
  index.definition.description = "nnU-Net raw dataset " + json_path.string();
  for (const auto& [value, label] : labels) {
    index.definition.classes.push_back(label);
    index.definition.encoding.values.push_back(value);
  }
  SVANET_CHECK(labels.size() >= 2 && labels.front().first == 0, json_path.string(),
               ": labels must include background = 0 and at least one class");
  index.definition.encoding.num_classes = static_cast<int64_t>(labels.size());
  index.root = root.string();
  index.layout = "nnunet";
  const std::string ending = json.value("file_ending", std::string(".png"));
  std::map<std::string, fs::path> masks;
  if (is_dir(root / "labelsTr")) {
    for (const auto& file : sorted_files(root / "labelsTr")) {
      if (auto base = utils::strip_suffix(file.filename().string(), ending)) masks[*base] = file;
    }
  }
  SVANET_CHECK(is_dir(root / "imagesTr"), root.string(), ": no imagesTr folder");
  std::set<std::string> used;
  const std::regex channel("^(.*)_(\\d{4})$");
  for (const auto& file : sorted_files(root / "imagesTr")) {
    const auto base = utils::strip_suffix(file.filename().string(), ending);
    std::smatch m;
    if (!base || !std::regex_match(*base, m, channel)) {
      index.ignored_files.push_back(file.string());
      continue;
    }
    SVANET_CHECK(m[2] == "0000", file.string(),
                 ": multi-file channels are not supported (only _0000; store RGB in one file)");
    Sample s;
    s.stem = m[1];
    s.image = file.string();
    s.split = "train";
    if (auto it = masks.find(s.stem); it != masks.end()) {
      s.mask = it->second.string();
      used.insert(s.mask);
    }
    index.samples.push_back(std::move(s));
  }
  index.split_folders["train"] = (root / "imagesTr").string();
  collect_orphans(index, masks, used);
  return index;
}

bool is_official_set(const fs::path& p) {
  return is_dir(p / "mask");
}

}  // namespace

namespace {

void add_definition(DatasetRegistry& registry, DatasetDefinition d) {
  std::string name = d.name;
  std::string description = d.description;
  registry.add(
      {std::move(name), std::move(description), {}, {}, [d = std::move(d)](const OptionMap&) {
         return d;
       }});
}

void register_builtin_datasets(DatasetRegistry& r) {
  auto fives = define("fives", "FIVES", {"background", "amd", "dr", "glaucoma", "health"},
                      "FIVES fundus vessels; binary vessel masks take the disease of the "
                      "file-name code (_A, _D, _G, _N) as the official class list implies");
  fives.stem_classes = {{"A", 1}, {"D", 2}, {"G", 3}, {"N", 4}};
  add_definition(r, fives);
  add_definition(r, define("isic2018t1", "ISIC2018T1", {"background", "symptoms"},
                           "ISIC 2018 task 1 skin lesions; 0/255 masks"));
  auto polyp = define("polypgen", "PolypGen", {"background", "symptoms"},
                      "PolypGen polyps; lossy masks thresholded at 127");
  polyp.encoding.binary_threshold = 127;
  add_definition(r, polyp);
  add_definition(r, define("atlas", "ATLAS", {"background", "liver", "tumour"},
                           "ATLAS 2023 liver and tumour MRI slices; palette masks 0/1/2"));
  add_definition(r, define("kits23", "KiTS23", {"background", "kidney", "tumor", "cyst"},
                           "KiTS23 kidney CT slices; palette masks 0/1/2/3"));
  add_definition(r, define("tissuenet", "TissueNet", {"background", "cell", "nucleus"},
                           "TissueNet cells and nuclei; masks 0/1/2"));
  add_definition(r, define("spermhealth", "SpermHealth", {"background", "normal", "abnormal"},
                           "SpermHealth sperm cells; masks 0/1/2"));
  add_definition(r, define("demo", "Demo", {"background", "lesion", "nucleus"},
                           "svanet's generated demo set (svanet demo-data)"));
}

/// The registered name that `name` (or a folder name) means, if any.
std::optional<std::string> find_dataset(const std::string& name) {
  const std::string key = utils::to_lower(name);
  for (const auto* e : dataset_registry().entries()) {
    if (utils::to_lower(e->name) == key) return e->name;
  }
  for (const auto* e : dataset_registry().entries()) {
    if (utils::to_lower(e->factory({}).folder) == key) return e->name;
  }
  return std::nullopt;
}

}  // namespace

DatasetRegistry& dataset_registry() {
  static DatasetRegistry registry("dataset", "datasets");
  static const bool builtins = (register_builtin_datasets(registry), true);
  (void)builtins;
  return registry;
}

std::vector<DatasetDefinition> builtin_datasets() {
  std::vector<DatasetDefinition> out;
  for (const auto* e : dataset_registry().entries()) out.push_back(e->factory({}));
  return out;
}

bool has_dataset(const std::string& name) {
  return find_dataset(name).has_value();
}

DatasetDefinition builtin_dataset(const std::string& name) {
  if (const auto found = find_dataset(name)) return dataset_registry().get(*found).factory({});
  SVANET_FAIL("unknown dataset '", name, "'", utils::did_you_mean(name, dataset_registry().names()),
              "; built-in datasets: ", utils::join(dataset_registry().names(), ", "),
              " (or describe your own with a dataset.yaml)");
}

DatasetIndex index_dataset(const std::string& root_text,
                           const std::optional<std::string>& dataset) {
  const fs::path root(root_text);
  SVANET_CHECK(is_dir(root), root_text, ": no such folder");
  if (fs::exists(root / "dataset.json") && is_dir(root / "imagesTr")) {
    auto index = index_nnunet(root, dataset);
    if (dataset) {
      // A built-in definition overrides the json's classes when named.
      const auto& builtin = builtin_dataset(*dataset);
      index.definition = builtin;
    }
    return index;
  }
  // The set folder: root itself, root/<folder of the named dataset>, or the
  // only official-layout subfolder.
  fs::path set = root;
  if (!is_official_set(root) && !fs::exists(root / "dataset.yaml")) {
    std::vector<fs::path> candidates;
    if (dataset) {
      const auto& d = builtin_dataset(*dataset);
      for (const auto& name : {d.folder, d.name, *dataset}) {
        if (is_official_set(root / name)) candidates.push_back(root / name);
      }
    } else {
      for (const auto& entry : fs::directory_iterator(root)) {
        if (entry.is_directory() &&
            (is_official_set(entry.path()) || fs::exists(entry.path() / "dataset.yaml"))) {
          candidates.push_back(entry.path());
        }
      }
    }
    SVANET_CHECK(!candidates.empty(), root_text,
                 ": no dataset found (expected an official layout with train/ and mask/, a "
                 "dataset.yaml, or an nnU-Net dataset.json)");
    SVANET_CHECK(candidates.size() == 1 || dataset, root_text, ": several datasets found (",
                 candidates.size(), "); choose one with --dataset");
    set = candidates.front();
  }
  const std::string folder = set.filename().string();
  if (fs::exists(set / "dataset.yaml")) {
    const auto description = read_dataset_yaml(set / "dataset.yaml", folder);
    if (is_official_set(set) && !is_dir(set / description.images)) {
      return index_official(set, description.definition);
    }
    return index_generic(set, description);
  }
  DatasetDefinition definition;
  if (dataset) {
    definition = builtin_dataset(*dataset);
  } else {
    try {
      definition = builtin_dataset(folder);
    } catch (const Error&) {
      SVANET_FAIL(set.string(), ": '", folder,
                  "' is not a built-in dataset; pass --dataset NAME or add a dataset.yaml listing "
                  "its classes");
    }
  }
  return index_official(set, definition);
}

Mask decode_sample_mask(const DatasetDefinition& definition, const Sample& sample) {
  SVANET_CHECK(!sample.mask.empty(), sample.image, ": no mask for this image");
  Mask mask = decode_mask(sample.mask, definition.encoding);
  if (!definition.stem_classes.empty()) {
    // A binary mask whose foreground takes the class of the file-name code.
    const auto max_value =
        mask.indices.masked_fill(mask.indices == kIgnoreIndex, 0).max().item<int64_t>();
    if (max_value <= 1) {
      int64_t cls = -1;
      for (const auto& [code, index] : definition.stem_classes) {
        const std::regex pattern("(^|_)" + code + "(_|$)");
        if (std::regex_search(sample.stem, pattern)) cls = index;
      }
      SVANET_CHECK(cls >= 0 || max_value == 0, sample.mask, ": binary mask, but the file name '",
                   sample.stem, "' carries none of the class codes of dataset '", definition.name,
                   "'");
      if (cls > 0) mask.indices.masked_fill_(mask.indices == 1, cls);
    }
  }
  return mask;
}

Mask load_mask_for(const DatasetDefinition& definition, const Sample& sample, int64_t height,
                   int64_t width) {
  Mask mask = decode_sample_mask(definition, sample);
  SVANET_CHECK(mask.indices.size(0) == height && mask.indices.size(1) == width, sample.mask,
               ": mask is ", mask.indices.size(1), "x", mask.indices.size(0), " but its image ",
               sample.image, " is ", width, "x", height);
  return mask;
}

LoadedSample load_sample(const DatasetDefinition& definition, const Sample& sample) {
  SVANET_CHECK(!sample.mask.empty(), sample.image, ": no mask for this image");
  const cv::Mat image = read_image_mat(sample.image);
  const Mask mask = load_mask_for(definition, sample, image.rows, image.cols);
  LoadedSample out;
  out.image = cv_to_tensor_chw(image);
  out.mask = mask.indices;
  out.mask_kind = mask.kind;
  return out;
}

}  // namespace svanet::data
