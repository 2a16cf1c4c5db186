#pragma once
/// @file
/// The writer a dataset converter fills (svanet/data/convert.h), and the
/// mask helpers the built-in converters share. Like svanet/data/opencv.h,
/// this header includes OpenCV: a program that adds a converter needs
/// OpenCV's headers (find_package(OpenCV)).
#include "svanet/data/convert.h"

#include <opencv2/core.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace svanet::data {

/// Writes one converted dataset (the generic layout) into a folder.
class DatasetWriter {
 public:
  DatasetWriter(std::string folder, std::vector<std::string> classes, DatasetSource source);
  ~DatasetWriter();
  DatasetWriter(const DatasetWriter&) = delete;
  DatasetWriter& operator=(const DatasetWriter&) = delete;

  const std::vector<std::string>& classes() const { return classes_; }
  /// One image (8- or 16-bit; gray, BGR or BGRA as cv::imread gives; alpha
  /// is dropped) and its mask of class indices (CV_8UC1, same size) into
  /// `split` ("train" or "test"), as `stem`.png. Thread-safe.
  void add(const std::string& split, const std::string& stem, const cv::Mat& image,
           const cv::Mat& indices);
  /// A source file left out, with the reason.
  void skip(const std::string& what);
  /// Counts an object a downscale kept as its centre pixel.
  void count_kept_as_centre(int64_t n);
  /// Counts mask specks turned to background.
  void count_removed(int64_t n);
  /// Writes dataset.yaml (with `options`, the converter's resolved options,
  /// and `converter`, its name, in its header) and returns the summary.
  ConvertSummary finish(const std::string& converter, const OptionMap& options);

 private:
  struct State;
  std::string folder_;
  std::vector<std::string> classes_;
  DatasetSource source_;
  std::unique_ptr<State> state_;
};

/// Class indices (CV_8UC1) from instance masks: pixels of instance k get
/// `label`, except where an 8-neighbour belongs to another instance, which
/// stay background, so touching instances stay separate 8-connected
/// objects (the evaluation's objects). `instances` is CV_32SC1 (0 =
/// background, 1..N instances).
cv::Mat semantic_from_instances(const cv::Mat& instances, uint8_t label);

/// `indices` resized by `scale` (< 1 shrinks): a pixel takes the class that
/// covers at least half of it (area interpolation per class; the later
/// class wins a tie), and every 8-connected object that would vanish is
/// kept as the pixel at its centre. Returns the resized mask; `kept` counts
/// the objects kept that way.
cv::Mat resize_indices(const cv::Mat& indices, double scale, int num_classes, int64_t* kept);

}  // namespace svanet::data
