// svanet init-config: a commented training config for a user's dataset.

#include "commands.h"

#include "svanet/common/error.h"
#include "svanet/config/train_config.h"
#include "svanet/data/dataset.h"
#include "svanet/data/stats.h"
#include "svanet/utils/atomic_file.h"
#include "svanet/utils/text.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

namespace svanet::cli {

namespace {

namespace fs = std::filesystem;

struct InitArgs {
  std::string data, dataset, out;
  bool overwrite = false;
};

template <class T>
T median(std::vector<T> values) {
  if (values.empty()) return T{};
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2),
                   values.end());
  return values[values.size() / 2];
}

/// A multiple of 32 near `side`, within [64, 512]: the model's nominal
/// size (SvANet's encoder downsamples 32 times).
int64_t nominal_size(int64_t side) {
  const int64_t rounded = (side + 16) / 32 * 32;
  return std::clamp<int64_t>(rounded, 64, 512);
}

/// `text` as a YAML double-quoted scalar (a path may hold " #" or ": ").
std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string percent(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.3g %%", v);
  return buffer;
}

/// The config text: what was found, as comments, and the choices made
/// from it, each with its reason.
std::string config_text(const InitArgs& a, const data::DatasetIndex& index,
                        const data::DatasetStats& stats) {
  std::map<std::string, int64_t> per_split;
  std::vector<int64_t> short_sides, long_sides;
  for (const auto& image : stats.images) {
    ++per_split[image.split.empty() ? "unsplit" : image.split];
    short_sides.push_back(std::min(image.height, image.width));
    long_sides.push_back(std::max(image.height, image.width));
  }
  std::vector<std::string> splits;
  splits.reserve(per_split.size());
  for (const auto& [split, count] : per_split)
    splits.push_back(split + " " + std::to_string(count));
  std::vector<double> areas;
  int64_t tiny = 0;
  for (const auto& o : stats.objects) {
    areas.push_back(o.area_pct);
    tiny += o.area_pct < 0.1 ? 1 : 0;
  }
  const int64_t short_side = median(short_sides);
  const int64_t long_side = median(long_sides);
  const int64_t size = nominal_size(short_side);
  const int64_t crop = std::min<int64_t>(size, 256);
  const bool large = long_side > 2 * size;
  const std::string root = fs::absolute(a.data).lexically_normal().string();

  std::ostringstream y;
  y << "# Written by `svanet init-config --data " << a.data << "` from what it found:\n"
    << "#   " << index.definition.name << " (" << index.layout << " layout at " << index.root
    << "): " << stats.images.size() << " images with masks (" << utils::join(splits, ", ") << ")\n"
    << "#   classes: " << utils::join(index.definition.classes, ", ") << "\n"
    << "#   image sizes: median short side " << short_side << " px, long side " << long_side
    << " px\n"
    << "#   objects: " << stats.objects.size();
  if (!areas.empty()) {
    y << ", median area " << percent(median(areas)) << " of the image; " << tiny
      << " under 0.1 % (the smallest size bin)";
  }
  y << "\n# Train with `svanet train -c " << (a.out.empty() ? "my.yaml" : a.out)
    << "`; `svanet list` shows every component and option, docs/training.md every key.\n"
    << "model:\n"
    << "  # A light SvANet trained from scratch: no download, minutes to hours on a CPU.\n"
    << "  # The paper's model is svanet_r50 with\n"
    << "  # options: {pretrained_backbone: /path/to/resnet50-11ad3fa6.pth}.\n"
    << "  name: svanet_r18_tiny\n"
    << "  # Validation and evaluation resize each image to this (the median short side,\n"
    << "  # a multiple of 32 within 64..512).\n"
    << "  image_size: " << size << "\n"
    << "data:\n"
    << "  root: " << quoted(root) << "\n";
  if (!a.dataset.empty()) y << "  dataset: " << a.dataset << "\n";
  y << "  normalization: imagenet\n"
    << "  splits: {seed: 0}\n"
    << "  batch_size: 8\n"
    << "  workers: 2\n"
    << "  augment:\n"
    << "    # Random crops of this size at about the native scale.\n"
    << "    size: " << crop << "\n"
    << "    rotation_degrees: 10\n"
    << "train:\n"
    << "  epochs: 50\n"
    << "  device: auto\n"
    << "  seed: 0\n"
    << "  optimizer: {name: adamw, weight_decay: 0.01}\n"
    << "  schedule: {name: cosine, warmup_init_lr: 1e-4, max_lr: 2e-3, min_lr: 2e-5, "
       "warmup_epochs: 1}\n"
    << "  # Dice + cross-entropy: a small object weighs more than under cross-entropy alone.\n"
    << "  loss: {name: dice_ce}\n"
    << "  freeze_encoder_epochs: 0\n"
    << "  select_metric: dice\n"
    << "evaluate:\n"
    << "  split: test\n"
    << "  checkpoint: best\n";
  if (large) {
    y << "  # The images are over twice model.image_size: auto predicts those by sliding\n"
      << "  # window at native resolution, where small objects keep their pixels.\n"
      << "  mode: auto\n";
  }
  return y.str();
}

int run_init_config(const InitArgs& a) {
  check_output_file(a.out, a.overwrite);
  const auto index =
      data::index_dataset(a.data, a.dataset.empty() ? std::nullopt : std::optional(a.dataset));
  std::printf("inspecting %zu samples of %s (%s layout)\n", index.samples.size(),
              index.definition.name.c_str(), index.layout.c_str());
  const auto stats = data::compute_stats(index);
  SVANET_CHECK(!stats.images.empty(), a.data, ": no image has a mask; nothing to train on");
  const std::string text = config_text(a, index, stats);
  // What is written parses, or nothing is written.
  const auto parsed = config::parse_train_config(text, a.out);
  utils::write_file_atomic(a.out, text);
  std::printf(
      "wrote %s: %s, image size %lld, crops of %lld, %lld epochs; train with `svanet train "
      "-c %s`\n",
      a.out.c_str(), parsed.model.name.c_str(),
      static_cast<long long>(parsed.model.options.image_size()),
      static_cast<long long>(parsed.data.augment.size), static_cast<long long>(parsed.train.epochs),
      a.out.c_str());
  return 0;
}

}  // namespace

Command register_init_config(CLI::App& app) {
  auto a = std::make_shared<InitArgs>();
  auto* sub = app.add_subcommand(
      "init-config",
      "Write a commented training config for a dataset: its layout, classes, image and object "
      "sizes, and the choices made from them");
  add_data_flag(sub, a->data)->required();
  add_dataset_flag(sub, a->dataset);
  add_out_flag(sub, a->out, "file: the config to write")->required();
  add_overwrite_flag(sub, a->overwrite);
  add_examples(sub,
               {"svanet init-config --data /data/my_lesions -o my.yaml",
                "svanet train -c my.yaml -o runs/my_lesions"},
               "Reads every mask once (as data-stats does).");
  return {sub, [a] { return run_init_config(*a); }};
}

}  // namespace svanet::cli
