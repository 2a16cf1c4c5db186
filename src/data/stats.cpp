#include "svanet/data/stats.h"

#include "data/cv_io.h"
#include "svanet/common/error.h"
#include "svanet/utils/atomic_file.h"
#include "svanet/utils/parallel.h"
#include "svanet/utils/text.h"
#include "utils/plot.h"

#include <torch/torch.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <filesystem>
#include <iomanip>
#include <sstream>

namespace svanet::data {

const std::vector<double>& official_size_bins() {
  static const std::vector<double> bins{0.5, 1, 2, 3, 5, 10, 100};
  return bins;
}

double official_object_ratio(const torch::Tensor& mask_tensor) {
  const auto contiguous = mask_tensor.contiguous().cpu();
  const cv::Mat mask = tensor_to_cv_u8(contiguous);
  const double pixels = static_cast<double>(mask.rows) * mask.cols;
  const cv::Mat kernel = cv::Mat::ones(2, 2, CV_8U);
  double largest = 0.0;
  for (int c = 1; c < 255; ++c) {
    cv::Mat binary = mask == c;
    if (cv::countNonZero(binary) == 0) continue;
    cv::morphologyEx(binary, binary, cv::MORPH_CLOSE, kernel, cv::Point(-1, -1), 2);
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(binary, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
    for (const auto& contour : contours) largest = std::max(largest, cv::contourArea(contour));
  }
  return largest / pixels * 100.0;
}

std::vector<ObjectStats> find_objects(const torch::Tensor& mask_tensor) {
  const auto contiguous = mask_tensor.contiguous().cpu();
  const cv::Mat mask = tensor_to_cv_u8(contiguous);
  const double pixels = static_cast<double>(mask.rows) * mask.cols;
  std::vector<ObjectStats> objects;
  for (int c = 1; c < 255; ++c) {
    const cv::Mat binary = mask == c;
    if (cv::countNonZero(binary) == 0) continue;
    cv::Mat labels, stats, centroids;
    const int n = cv::connectedComponentsWithStats(binary, labels, stats, centroids, 8, CV_32S);
    for (int i = 1; i < n; ++i) {
      ObjectStats o;
      o.class_index = c;
      o.area_px = stats.at<int>(i, cv::CC_STAT_AREA);
      o.area_pct = 100.0 * static_cast<double>(o.area_px) / pixels;
      o.x = stats.at<int>(i, cv::CC_STAT_LEFT);
      o.y = stats.at<int>(i, cv::CC_STAT_TOP);
      o.width = stats.at<int>(i, cv::CC_STAT_WIDTH);
      o.height = stats.at<int>(i, cv::CC_STAT_HEIGHT);
      objects.push_back(o);
    }
  }
  return objects;
}

DatasetStats compute_stats(const DatasetIndex& index) {
  DatasetStats out;
  out.dataset = index.definition.name;
  out.classes = index.definition.classes;
  std::vector<Sample> samples;
  for (const auto& s : index.samples) {
    if (!s.mask.empty()) samples.push_back(s);
  }
  std::vector<ImageStats> images(samples.size());
  std::vector<std::vector<ObjectStats>> objects(samples.size());
  utils::parallel_for(static_cast<int64_t>(samples.size()), [&](int64_t i) {
    const auto& s = samples[static_cast<size_t>(i)];
    const Mask mask = decode_sample_mask(index.definition, s);
    auto& img = images[static_cast<size_t>(i)];
    img.stem = s.stem;
    img.split = s.split;
    img.height = mask.indices.size(0);
    img.width = mask.indices.size(1);
    const auto labelled = (mask.indices > 0).logical_and(mask.indices != kIgnoreIndex);
    img.foreground_pct =
        100.0 * labelled.sum().item<double>() / static_cast<double>(mask.indices.numel());
    img.largest_object_ratio = official_object_ratio(mask.indices);
    auto found = find_objects(mask.indices);
    for (auto& o : found) {
      o.stem = s.stem;
      o.split = s.split;
    }
    img.objects = static_cast<int64_t>(found.size());
    objects[static_cast<size_t>(i)] = std::move(found);
  });
  out.images = std::move(images);
  for (auto& list : objects) out.objects.insert(out.objects.end(), list.begin(), list.end());
  return out;
}

namespace {

using utils::csv_field;

/// Index of the official bin (ratio < edge) an image falls in.
size_t official_bin(double ratio) {
  const auto& edges = official_size_bins();
  for (size_t b = 0; b < edges.size(); ++b) {
    if (ratio < edges[b]) return b;
  }
  return edges.size() - 1;
}

std::vector<double> as_doubles(const std::vector<int64_t>& counts) {
  return {counts.begin(), counts.end()};
}

}  // namespace

std::vector<std::string> official_bin_labels() {
  const auto& edges = official_size_bins();
  std::vector<std::string> labels;
  for (size_t b = 0; b < edges.size(); ++b) {
    std::ostringstream label;
    if (b == 0) {
      label << "<" << edges[b];
    } else if (b + 1 == edges.size()) {
      label << ">=" << edges[b - 1];
    } else {
      label << edges[b - 1] << "-" << edges[b];
    }
    labels.push_back(label.str());
  }
  return labels;
}

std::vector<int64_t> images_per_size_bin(const DatasetStats& stats) {
  std::vector<int64_t> bins(official_size_bins().size(), 0);
  for (const auto& i : stats.images) ++bins[official_bin(i.largest_object_ratio)];
  return bins;
}

void write_stats(const DatasetStats& stats, const std::string& out_dir) {
  std::filesystem::create_directories(out_dir);
  const std::filesystem::path out(out_dir);
  {
    std::ostringstream csv;
    csv << std::setprecision(8);
    csv << "stem,split,class,class_name,area_px,area_pct,x,y,width,height\n";
    for (const auto& o : stats.objects) {
      const auto name = static_cast<size_t>(o.class_index) < stats.classes.size()
                            ? stats.classes[static_cast<size_t>(o.class_index)]
                            : std::to_string(o.class_index);
      csv << csv_field(o.stem) << ',' << o.split << ',' << o.class_index << ',' << csv_field(name)
          << ',' << o.area_px << ',' << o.area_pct << ',' << o.x << ',' << o.y << ',' << o.width
          << ',' << o.height << '\n';
    }
    utils::write_file_atomic((out / "objects.csv").string(), csv.str());
  }
  {
    std::ostringstream csv;
    csv << std::setprecision(8);
    csv << "stem,split,height,width,objects,foreground_pct,largest_object_ratio_pct\n";
    for (const auto& i : stats.images) {
      csv << csv_field(i.stem) << ',' << i.split << ',' << i.height << ',' << i.width << ','
          << i.objects << ',' << i.foreground_pct << ',' << i.largest_object_ratio << '\n';
    }
    utils::write_file_atomic((out / "images.csv").string(), csv.str());
  }
  // Histograms: images per official bin (disjoint), objects per pixel-area decade.
  const auto& edges = official_size_bins();
  const auto bin_labels = official_bin_labels();
  const auto image_bins = images_per_size_bin(stats);
  int64_t empty = 0;
  for (const auto& i : stats.images) empty += i.objects == 0 ? 1 : 0;
  const std::vector<std::string> pixel_labels{"1-9",     "10-99",   "100-999",
                                              "1e3-1e4", "1e4-1e5", ">=1e5"};
  std::vector<int64_t> pixel_bins(pixel_labels.size(), 0);
  std::map<std::string, int64_t> per_class;
  for (const auto& o : stats.objects) {
    const auto decade = std::min<size_t>(
        pixel_bins.size() - 1,
        static_cast<size_t>(std::floor(std::log10(static_cast<double>(o.area_px)))));
    ++pixel_bins[decade];
    ++per_class[static_cast<size_t>(o.class_index) < stats.classes.size()
                    ? stats.classes[static_cast<size_t>(o.class_index)]
                    : std::to_string(o.class_index)];
  }
  nlohmann::json summary;
  summary["dataset"] = stats.dataset;
  summary["classes"] = stats.classes;
  summary["images"] = stats.images.size();
  summary["images_without_objects"] = empty;
  summary["objects"] = stats.objects.size();
  summary["objects_per_class"] = per_class;
  summary["official_size_bins_pct"] = edges;
  nlohmann::json bins = nlohmann::json::array();
  for (size_t b = 0; b < edges.size(); ++b)
    bins.push_back({{"bin", bin_labels[b]}, {"images", image_bins[b]}});
  summary["images_per_size_bin"] = bins;
  nlohmann::json cumulative = nlohmann::json::array();
  for (const double edge : edges) {
    int64_t n = 0;
    for (const auto& i : stats.images) n += i.largest_object_ratio < edge ? 1 : 0;
    cumulative.push_back({{"ratio_below_pct", edge}, {"images", n}});
  }
  summary["images_below_ratio_cumulative"] = cumulative;
  nlohmann::json pixels = nlohmann::json::array();
  for (size_t b = 0; b < pixel_labels.size(); ++b)
    pixels.push_back({{"area_px", pixel_labels[b]}, {"objects", pixel_bins[b]}});
  summary["objects_per_pixel_area"] = pixels;
  utils::write_file_atomic((out / "summary.json").string(), summary.dump(1) + "\n");

  namespace plot = utils::plot;
  cv::Mat left = plot::bar_chart("Images by largest-object ratio (% of image, official)", "images",
                                 bin_labels, {{"", as_doubles(image_bins), plot::colour::kBlue}});
  cv::Mat right = plot::bar_chart("Objects by area (pixels)", "objects", pixel_labels,
                                  {{"", as_doubles(pixel_bins), plot::colour::kGreen}});
  cv::Mat both;
  cv::hconcat(left, right, both);
  write_mat((out / "size_histogram.png").string(), both);
}

}  // namespace svanet::data
