#pragma once
// OpenCV-level image I/O shared by the data pipeline (private to the library;
// public headers expose tensors only).

#include "svanet/data/dataset.h"
#include "svanet/data/image_io.h"

#include <torch/types.h>
#include <opencv2/core.hpp>

#include <string>
#include <vector>

namespace svanet::data {

/// read_image as a CV_32FC3 RGB matrix in [0, 1].
cv::Mat read_image_mat(const std::string& path);
/// A decoded image (8-/16-bit or float; gray, gray + alpha, BGR or BGRA, as
/// cv::imread gives) as CV_32FC3 RGB in [0, 1]; errors name `path`.
cv::Mat to_rgb_float(const cv::Mat& raw, const std::string& path);

/// read_mask; the indices as a tensor.
Mask decode_mask(const std::string& path, const MaskEncoding& encoding);

/// Decodes a sample's mask onto its dataset's classes, file-name class codes
/// (FIVES) included.
Mask decode_sample_mask(const DatasetDefinition& definition, const Sample& sample);

/// decode_sample_mask, checking the mask matches an image of the given size.
Mask load_mask_for(const DatasetDefinition& definition, const Sample& sample, int64_t height,
                   int64_t width);

/// CV_8UC1 (H, W) -> uint8 tensor (H, W), copied.
torch::Tensor cv_to_tensor_u8(const cv::Mat& mat);
/// uint8 tensor (H, W) -> CV_8UC1 sharing memory (the tensor must outlive it).
cv::Mat tensor_to_cv_u8(const torch::Tensor& tensor);
/// CV_32FC3 (H, W, 3) -> float tensor (3, H, W), copied.
torch::Tensor cv_to_tensor_chw(const cv::Mat& mat);

/// Encodes by extension and writes atomically.
void write_mat(const std::string& path, const cv::Mat& mat);
/// Writes CV_8UC1 indices as an 8-bit palette PNG, atomically.
void write_palette_png(const std::string& path, const cv::Mat& indices,
                       const std::vector<Rgb>& palette);

}  // namespace svanet::data
