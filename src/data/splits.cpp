#include "svanet/data/splits.h"

#include "svanet/common/error.h"
#include "svanet/utils/atomic_file.h"
#include "utils/rng.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <map>

namespace svanet::data {

namespace {

/// Moves a seeded random `fraction` (at least one sample when there are two
/// or more) of `from` into `to`; order within each is kept sorted by stem.
void hold_out(std::vector<Sample>& from, std::vector<Sample>& to, double fraction,
              utils::Rng& rng) {
  if (from.size() < 2 || fraction <= 0.0) return;
  auto count = static_cast<size_t>(std::lround(fraction * static_cast<double>(from.size())));
  count = std::clamp<size_t>(count, 1, from.size() - 1);
  std::vector<size_t> order(from.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  rng.shuffle(order);
  std::vector<bool> chosen(from.size(), false);
  for (size_t i = 0; i < count; ++i) chosen[order[i]] = true;
  std::vector<Sample> kept;
  for (size_t i = 0; i < from.size(); ++i) (chosen[i] ? to : kept).push_back(from[i]);
  from = std::move(kept);
}

bool by_stem(const Sample& a, const Sample& b) {
  return a.stem < b.stem || (a.stem == b.stem && a.image < b.image);
}

}  // namespace

Splits make_splits(const DatasetIndex& index, const SplitOptions& options) {
  SVANET_CHECK(options.val_fraction >= 0.0 && options.val_fraction < 1.0,
               "val_fraction must be in [0, 1)");
  SVANET_CHECK(options.test_fraction > 0.0 && options.test_fraction < 1.0,
               "test_fraction must be in (0, 1)");
  SVANET_CHECK(options.folds == 0 ||
                   (options.folds > 1 && options.fold >= 0 && options.fold < options.folds),
               "k-fold needs folds > 1 and 0 <= fold < folds, got fold ", options.fold, " of ",
               options.folds);
  Splits s;
  s.options = options;
  std::map<std::string, std::vector<Sample>> by_folder;
  for (const auto& sample : index.samples) {
    if (!sample.mask.empty()) by_folder[sample.split].push_back(sample);
  }
  for (auto& [folder, samples] : by_folder) std::sort(samples.begin(), samples.end(), by_stem);
  utils::Rng rng(options.seed * 0x2545F4914F6CDD1DULL + 1);
  std::vector<Sample> pool;
  const bool has_test = by_folder.count("test") > 0, has_val = by_folder.count("val") > 0;
  std::vector<std::string> kfold_folders;
  for (const auto& [folder, samples] : by_folder) {
    if (folder.rfind("split", 0) == 0) kfold_folders.push_back(folder);
  }
  if (!kfold_folders.empty() && options.folds > 0) {
    // The official k-fold folders: fold k is held out as test.
    SVANET_CHECK(options.folds == static_cast<int64_t>(kfold_folders.size()), index.root,
                 ": the dataset has ", kfold_folders.size(), " split folders but ", options.folds,
                 " folds were asked for");
    const std::string held = "split" + std::to_string(options.fold + 1);
    for (auto& [folder, samples] : by_folder) {
      auto& target = folder == held ? s.test : pool;
      target.insert(target.end(), samples.begin(), samples.end());
    }
    s.train = pool;
    hold_out(s.train, s.val, options.val_fraction, rng);
    s.rule = "test = folder " + held + " of the dataset's folds; validation = a random " +
             std::to_string(options.val_fraction) + " of the rest";
  } else {
    for (auto& [folder, samples] : by_folder) {
      if ((has_test && folder == "test") || (!has_test && folder == "val")) {
        s.test.insert(s.test.end(), samples.begin(), samples.end());
      } else if (has_test && has_val && folder == "val") {
        s.val.insert(s.val.end(), samples.begin(), samples.end());
      } else {
        pool.insert(pool.end(), samples.begin(), samples.end());
      }
    }
    std::sort(pool.begin(), pool.end(), by_stem);
    if (s.test.empty()) {
      hold_out(pool, s.test, options.test_fraction, rng);
      s.rule = "test = a random " + std::to_string(options.test_fraction) +
               " of the images (no held-out folder)";
    } else {
      s.rule = std::string("test = the dataset's ") + (has_test ? "test/" : "val/") + " folder";
    }
    if (options.folds > 0) {
      // Fold k of the non-test images is validation.
      std::vector<Sample> all = pool;
      all.insert(all.end(), s.val.begin(), s.val.end());
      std::sort(all.begin(), all.end(), by_stem);
      std::vector<size_t> order(all.size());
      for (size_t i = 0; i < order.size(); ++i) order[i] = i;
      rng.shuffle(order);
      s.train.clear();
      s.val.clear();
      for (size_t i = 0; i < order.size(); ++i) {
        const auto fold =
            static_cast<int64_t>(i * static_cast<size_t>(options.folds) / order.size());
        (fold == options.fold ? s.val : s.train).push_back(all[order[i]]);
      }
      s.rule += "; validation = fold " + std::to_string(options.fold) + " of " +
                std::to_string(options.folds);
    } else if (s.val.empty()) {
      s.train = pool;
      hold_out(s.train, s.val, options.val_fraction, rng);
      s.rule += "; validation = a random " + std::to_string(options.val_fraction) +
                " of the training images";
    } else {
      s.train = pool;
      s.rule += "; validation = the dataset's val/ folder";
    }
  }
  for (auto* part : {&s.train, &s.val, &s.test}) std::sort(part->begin(), part->end(), by_stem);
  SVANET_CHECK(!s.train.empty(), index.root, ": no training images with masks");
  return s;
}

void write_splits(const std::string& path, const Splits& splits) {
  nlohmann::json json;
  json["format"] = "svanet.splits";
  json["version"] = 1;
  json["seed"] = splits.options.seed;
  json["val_fraction"] = splits.options.val_fraction;
  json["test_fraction"] = splits.options.test_fraction;
  json["folds"] = splits.options.folds;
  json["fold"] = splits.options.fold;
  json["rule"] = splits.rule;
  for (const auto& [name, part] : std::vector<std::pair<std::string, const std::vector<Sample>*>>{
           {"train", &splits.train}, {"val", &splits.val}, {"test", &splits.test}}) {
    auto& list = json[name] = nlohmann::json::array();
    for (const auto& sample : *part) {
      list.push_back({{"stem", sample.stem}, {"image", sample.image}, {"mask", sample.mask}});
    }
  }
  utils::write_file_atomic(path, json.dump(1) + "\n");
}

Splits read_splits(const std::string& path, const DatasetIndex& index) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(utils::read_file(path));
  } catch (const nlohmann::json::exception& e) {
    SVANET_FAIL(path, ": invalid JSON: ", e.what());
  }
  SVANET_CHECK(json.value("format", "") == "svanet.splits", path, ": not an svanet splits file");
  // Images are found by their path as written, by their absolute path (the
  // dataset given relative to another folder), or by their last two path
  // components (the dataset moved as a whole).
  namespace fs = std::filesystem;
  auto absolute = [](const std::string& p) { return fs::absolute(p).lexically_normal().string(); };
  auto tail = [](const std::string& p) {
    const fs::path path(p);
    return (path.parent_path().filename() / path.filename()).string();
  };
  std::map<std::string, const Sample*> by_image, by_absolute;
  std::map<std::string, std::vector<const Sample*>> by_tail;
  for (const auto& sample : index.samples) {
    by_image[sample.image] = &sample;
    by_absolute[absolute(sample.image)] = &sample;
    by_tail[tail(sample.image)].push_back(&sample);
  }
  auto find = [&](const std::string& image) -> const Sample* {
    if (auto it = by_image.find(image); it != by_image.end()) return it->second;
    if (auto it = by_absolute.find(absolute(image)); it != by_absolute.end()) return it->second;
    if (auto it = by_tail.find(tail(image)); it != by_tail.end() && it->second.size() == 1) {
      return it->second.front();
    }
    return nullptr;
  };
  Splits s;
  s.options.seed = json.value("seed", uint64_t{0});
  s.options.val_fraction = json.value("val_fraction", 0.2);
  s.options.test_fraction = json.value("test_fraction", 0.2);
  s.options.folds = json.value("folds", int64_t{0});
  s.options.fold = json.value("fold", int64_t{0});
  s.rule = json.value("rule", "");
  for (const auto& [name, part] : std::vector<std::pair<std::string, std::vector<Sample>*>>{
           {"train", &s.train}, {"val", &s.val}, {"test", &s.test}}) {
    SVANET_CHECK(json.contains(name) && json[name].is_array(), path, ": missing the '", name,
                 "' list");
    for (const auto& item : json[name]) {
      const std::string image = item.value("image", "");
      const Sample* sample = find(image);
      SVANET_CHECK(sample != nullptr, path, ": image ", image, " of the '", name,
                   "' split is no longer in the dataset");
      part->push_back(*sample);
    }
  }
  return s;
}

}  // namespace svanet::data
