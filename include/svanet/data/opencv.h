#pragma once
/// @file
/// OpenCV images in and out of svanet, for programs that already hold a
/// cv::Mat (a camera frame, a slide tile). This is the one public header
/// that includes OpenCV: a program that uses it needs OpenCV's headers
/// (find_package(OpenCV)); the rest of svanet's headers expose tensors only.
///
///     cv::Mat image = cv::imread("fundus.png", cv::IMREAD_UNCHANGED);
///     auto result = svanet::data::predict(predictor, image);
///     cv::imwrite("labels.png", svanet::data::to_mat(result.labels));

#include "svanet/inference/predictor.h"

#include <torch/types.h>
#include <opencv2/core.hpp>

namespace svanet::data {

/// A cv::Mat as cv::imread gives it (8- or 16-bit or float; gray, gray +
/// alpha, BGR or BGRA) as a (3, H, W) float32 RGB tensor in [0, 1], exactly
/// as read_image would read the same pixels from a file. Throws
/// svanet::Error on an empty matrix or an unsupported pixel type.
torch::Tensor image_from_mat(const cv::Mat& image);

/// An (H, W) uint8 tensor (labels) as a CV_8UC1 matrix, copied.
cv::Mat to_mat(const torch::Tensor& labels);

/// Predictor::predict on a cv::Mat (see image_from_mat).
inference::Prediction predict(const inference::Predictor& predictor, const cv::Mat& image);

}  // namespace svanet::data
