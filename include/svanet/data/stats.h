#pragma once
/// @file
/// Object statistics of a dataset: every object (8-connected component of a
/// class) with its area, and each image's largest-object ratio as the
/// official SvANet code defines it for its size-stratified evaluation.

#include "svanet/data/dataset.h"

#include <string>
#include <vector>

namespace svanet::data {

/// The official size bins (% of the image) of the paper's tiny-object study.
const std::vector<double>& official_size_bins();

/// Labels of the disjoint official bins: "<0.5", "0.5-1", ..., ">=10".
std::vector<std::string> official_bin_labels();

/// The largest object of an (H, W) uint8 class-index mask as a percentage of
/// the image, as the official `measureMaskArea` defines it: for each class
/// present (ignore excluded), close the class's binary mask with a 2x2
/// kernel twice, take the external contours and the largest contour area
/// (OpenCV's polygon area, so a one-pixel object has area 0); the image's
/// ratio is the maximum over classes, 0 for an empty mask.
///
/// The official code works on gray levels of the mask file and thresholds
/// them at > 1, so in a mask storing class 1 as the value 1 its objects get
/// area 0 there; it also counts 255 as an object. svanet applies the
/// definition to decoded class indices and leaves ignore out.
double official_object_ratio(const torch::Tensor& mask);

struct ObjectStats {
  std::string stem;
  std::string split;
  int64_t class_index = 0;
  int64_t area_px = 0;
  double area_pct = 0.0;
  /// Bounding box: x, y, width, height.
  int64_t x = 0, y = 0, width = 0, height = 0;
};

struct ImageStats {
  std::string stem;
  std::string split;
  int64_t height = 0, width = 0;
  int64_t objects = 0;
  /// Labelled foreground as % of the image.
  double foreground_pct = 0.0;
  /// official_object_ratio of the mask.
  double largest_object_ratio = 0.0;
};

struct DatasetStats {
  std::string dataset;
  std::vector<std::string> classes;
  std::vector<ImageStats> images;
  std::vector<ObjectStats> objects;
};

/// The 8-connected components of every class of one mask.
std::vector<ObjectStats> find_objects(const torch::Tensor& mask);

/// Statistics of every sample with a mask (in parallel). Unreadable samples
/// throw svanet::Error naming the file; run check-data first.
DatasetStats compute_stats(const DatasetIndex& index);

/// Images per disjoint official bin (by largest-object ratio), in the order
/// of official_bin_labels(); empty images count in the first bin.
std::vector<int64_t> images_per_size_bin(const DatasetStats& stats);

/// Writes `objects.csv`, `images.csv`, `summary.json` and
/// `size_histogram.png` into `out_dir` (created if needed), atomically.
void write_stats(const DatasetStats& stats, const std::string& out_dir);

}  // namespace svanet::data
