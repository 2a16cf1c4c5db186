#include "svanet/data/convert_writer.h"

#include "data/convert_sources.h"
#include "data/cv_io.h"
#include "svanet/common/error.h"
#include "svanet/data/stats.h"
#include "svanet/utils/atomic_file.h"
#include "svanet/utils/paths.h"
#include "svanet/utils/text.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <numeric>
#include <sstream>

namespace svanet::data {

namespace fs = std::filesystem;

struct DatasetWriter::State {
  std::mutex mutex;
  ConvertSummary summary;
  std::map<std::string, std::vector<std::string>> stems;  // per split, to refuse duplicates
};

DatasetWriter::DatasetWriter(std::string folder, std::vector<std::string> classes,
                             DatasetSource source)
    : folder_(std::move(folder)),
      classes_(std::move(classes)),
      source_(std::move(source)),
      state_(std::make_unique<State>()) {
  SVANET_CHECK(classes_.size() >= 2 && classes_.size() <= 255,
               "a converted dataset needs 2..255 classes, got ", classes_.size());
  state_->summary.folder = folder_;
  state_->summary.classes = classes_;
  for (size_t c = 1; c < classes_.size(); ++c) state_->summary.objects[classes_[c]] = 0;
}

DatasetWriter::~DatasetWriter() = default;

namespace {

/// The folder of `split`'s images or masks in the generic layout.
std::string layout_folder(const std::string& kind, const std::string& split) {
  return split == "train" ? kind : kind + "_" + split;
}

/// `image` as 8- or 16-bit gray or BGR (alpha dropped), as PNG stores it.
cv::Mat without_alpha(const cv::Mat& image) {
  if (image.channels() == 4) {
    cv::Mat bgr;
    cv::cvtColor(image, bgr, cv::COLOR_BGRA2BGR);
    return bgr;
  }
  if (image.channels() == 2) {
    cv::Mat first;
    cv::extractChannel(image, first, 0);
    return first;
  }
  return image;
}

}  // namespace

void DatasetWriter::add(const std::string& split, const std::string& stem, const cv::Mat& image,
                        const cv::Mat& indices) {
  SVANET_CHECK(split == "train" || split == "test", "convert: unknown split '", split, "'");
  SVANET_CHECK(!image.empty() && image.depth() <= CV_16U, stem, ": the image must be 8- or 16-bit");
  SVANET_CHECK(indices.type() == CV_8UC1 && indices.size() == image.size(), stem,
               ": the mask must be 8-bit class indices of the image's size (", image.cols, "x",
               image.rows, "), got ", indices.cols, "x", indices.rows);
  double top = 0;
  cv::minMaxLoc(indices, nullptr, &top);
  SVANET_CHECK(top < static_cast<double>(classes_.size()), stem, ": class index ", top, " for ",
               classes_.size(), " classes");
  const std::string images = (fs::path(folder_) / layout_folder("images", split)).string();
  const std::string masks = (fs::path(folder_) / layout_folder("masks", split)).string();
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    auto& seen = state_->stems[split];
    SVANET_CHECK(std::find(seen.begin(), seen.end(), stem) == seen.end(),
                 "convert: two images named '", stem, "' in split ", split);
    // A split's folders are made with its first image: an empty split
    // folder would be a problem for check-data.
    if (seen.empty()) {
      utils::create_folders(images);
      utils::create_folders(masks);
    }
    seen.push_back(stem);
  }
  write_mat((fs::path(images) / (stem + ".png")).string(), without_alpha(image));
  write_palette_png((fs::path(masks) / (stem + ".png")).string(), indices, voc_palette());

  // The objects data-stats lists (and the per-object metrics count).
  std::map<std::string, int64_t> objects;
  int64_t small = 0;
  for (const auto& o : find_objects(cv_to_tensor_u8(indices))) {
    objects[classes_[static_cast<size_t>(o.class_index)]] += 1;
    small += o.area_pct < 0.1 ? 1 : 0;
  }
  std::lock_guard<std::mutex> lock(state_->mutex);
  auto& s = state_->summary;
  s.images[split] += 1;
  for (const auto& [name, n] : objects) s.objects[name] += n;
  s.small_objects += small;
}

void DatasetWriter::skip(const std::string& what) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->summary.skipped.push_back(what);
}

void DatasetWriter::count_kept_as_centre(int64_t n) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->summary.kept_as_centre += n;
}

void DatasetWriter::count_removed(int64_t n) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  state_->summary.removed_specks += n;
}

ConvertSummary DatasetWriter::finish(const std::string& converter, const OptionMap& options) {
  std::lock_guard<std::mutex> lock(state_->mutex);
  auto& s = state_->summary;
  SVANET_CHECK(s.images["train"] > 0, "convert ", converter,
               ": no training image was found (is SRC the dataset's folder?)");
  std::ostringstream yaml;
  yaml << "# " << source_.title << "\n";
  yaml << "# Written by: svanet convert-dataset " << converter << " SRC -o DST";
  for (const auto& [key, value] : options) yaml << " --param " << key << "=" << value;
  yaml << "\n";
  yaml << "# Licence: " << source_.licence << "\n";
  yaml << "# Cite: " << source_.citation << "\n";
  yaml << "# Source: " << source_.url << "\n";
  yaml << "# Images: ";
  std::vector<std::string> parts;
  for (const auto& [split, n] : s.images) parts.push_back(split + " " + std::to_string(n));
  yaml << utils::join(parts, ", ") << "; objects (8-connected): ";
  parts.clear();
  for (const auto& [name, n] : s.objects) parts.push_back(name + " " + std::to_string(n));
  yaml << utils::join(parts, ", ") << "; under 0.1 % of their image: " << s.small_objects << "\n";
  yaml << "name: " << converter << "\n";
  yaml << "classes: [" << utils::join(classes_, ", ") << "]\n";
  yaml << "images: images\nmasks: masks\n";
  utils::write_file_atomic((fs::path(folder_) / "dataset.yaml").string(), yaml.str());
  return s;
}

ConverterRegistry& converter_registry() {
  static ConverterRegistry registry("converter", "converters");
  static const bool builtins = (register_builtin_converters(registry), true);
  (void)builtins;
  return registry;
}

ConvertSummary convert_dataset(const std::string& name, const std::string& src,
                               const std::string& dst, const OptionMap& options,
                               const ConvertOptions& how) {
  const auto& entry = converter_registry().get(name);
  const OptionMap resolved = converter_registry().resolve(name, options);
  SVANET_CHECK(fs::is_directory(src), "convert-dataset ", name, ": SRC '", src,
               "' is not a folder");
  // Written as DST.partial and renamed when complete: a failed or killed
  // conversion leaves nothing under DST.
  utils::StagedFolder staged(dst, how.overwrite,
                             "--overwrite replaces it, or choose another folder");
  std::vector<std::string> classes = entry.traits.classes;
  if (entry.traits.classes_for) classes = entry.traits.classes_for(resolved);
  DatasetWriter writer(staged.path(), classes, entry.traits.source);
  try {
    entry.factory(resolved, src, writer);
  } catch (const Error& e) {
    SVANET_FAIL("convert-dataset ", name, ": ", e.what());
  }
  ConvertSummary summary = writer.finish(name, resolved);
  staged.commit();
  summary.folder = staged.out();
  return summary;
}

std::vector<bool> hashed_test_split(const std::vector<std::string>& stems, double fraction,
                                    uint64_t seed) {
  SVANET_CHECK(fraction >= 0.0 && fraction < 1.0,
               "option 'test_fraction': expected a fraction in [0, 1), got ", fraction);
  auto hash = [seed](const std::string& text) {
    uint64_t h = 1469598103934665603ULL ^ (seed * 0x9E3779B97F4A7C15ULL);
    for (unsigned char ch : text) {
      h ^= ch;
      h *= 1099511628211ULL;
    }
    return h;
  };
  std::vector<size_t> order(stems.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::vector<uint64_t> keys(stems.size());
  for (size_t i = 0; i < stems.size(); ++i) keys[i] = hash(stems[i]);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return keys[a] != keys[b] ? keys[a] < keys[b] : stems[a] < stems[b];
  });
  const auto n_test =
      static_cast<size_t>(std::llround(fraction * static_cast<double>(stems.size())));
  std::vector<bool> test(stems.size(), false);
  for (size_t i = 0; i < n_test && i < order.size(); ++i) test[order[i]] = true;
  return test;
}

cv::Mat semantic_from_instances(const cv::Mat& instances, uint8_t label) {
  SVANET_CHECK(instances.type() == CV_32SC1, "semantic_from_instances: expected CV_32SC1");
  cv::Mat out = cv::Mat::zeros(instances.size(), CV_8UC1);
  const int rows = instances.rows;
  const int cols = instances.cols;
  for (int y = 0; y < rows; ++y) {
    for (int x = 0; x < cols; ++x) {
      const int id = instances.at<int>(y, x);
      if (id == 0) continue;
      bool border = false;
      for (int dy = -1; dy <= 1 && !border; ++dy) {
        for (int dx = -1; dx <= 1; ++dx) {
          const int yy = y + dy;
          const int xx = x + dx;
          if (yy < 0 || yy >= rows || xx < 0 || xx >= cols) continue;
          const int other = instances.at<int>(yy, xx);
          if (other != 0 && other != id) {
            border = true;
            break;
          }
        }
      }
      if (!border) out.at<uint8_t>(y, x) = label;
    }
  }
  return out;
}

cv::Mat resize_indices(const cv::Mat& indices, double scale, int num_classes, int64_t* kept) {
  SVANET_CHECK(indices.type() == CV_8UC1, "resize_indices: expected CV_8UC1");
  SVANET_CHECK(scale > 0.0 && scale <= 1.0, "scale must be in (0, 1], got ", scale);
  if (kept != nullptr) *kept = 0;
  if (scale == 1.0) return indices.clone();
  const cv::Size size(std::max(1, static_cast<int>(std::lround(indices.cols * scale))),
                      std::max(1, static_cast<int>(std::lround(indices.rows * scale))));
  const double sx = static_cast<double>(size.width) / indices.cols;
  const double sy = static_cast<double>(size.height) / indices.rows;
  cv::Mat out = cv::Mat::zeros(size, CV_8UC1);
  for (int c = 1; c < num_classes; ++c) {
    cv::Mat binary;
    cv::Mat(indices == c).convertTo(binary, CV_32F, 1.0 / 255.0);
    cv::Mat coverage;
    cv::resize(binary, coverage, size, 0, 0, cv::INTER_AREA);
    out.setTo(c, coverage >= 0.5F);
  }
  for (int c = 1; c < num_classes; ++c) {
    cv::Mat labels;
    cv::Mat stats;
    cv::Mat centroids;
    const int n =
        cv::connectedComponentsWithStats(indices == c, labels, stats, centroids, 8, CV_32S);
    for (int k = 1; k < n; ++k) {
      const int x0 = static_cast<int>(std::floor(stats.at<int>(k, cv::CC_STAT_LEFT) * sx));
      const int y0 = static_cast<int>(std::floor(stats.at<int>(k, cv::CC_STAT_TOP) * sy));
      const int x1 = std::min(
          size.width,
          static_cast<int>(std::ceil(
              (stats.at<int>(k, cv::CC_STAT_LEFT) + stats.at<int>(k, cv::CC_STAT_WIDTH)) * sx)));
      const int y1 = std::min(
          size.height,
          static_cast<int>(std::ceil(
              (stats.at<int>(k, cv::CC_STAT_TOP) + stats.at<int>(k, cv::CC_STAT_HEIGHT)) * sy)));
      const cv::Rect box(x0, y0, std::max(1, x1 - x0), std::max(1, y1 - y0));
      if (cv::countNonZero(out(box & cv::Rect(0, 0, size.width, size.height)) == c) > 0) continue;
      const int cx =
          std::clamp(static_cast<int>(centroids.at<double>(k, 0) * sx), 0, size.width - 1);
      const int cy =
          std::clamp(static_cast<int>(centroids.at<double>(k, 1) * sy), 0, size.height - 1);
      out.at<uint8_t>(cy, cx) = static_cast<uint8_t>(c);
      if (kept != nullptr) ++*kept;
    }
  }
  return out;
}

}  // namespace svanet::data
