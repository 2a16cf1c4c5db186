#pragma once
// Applying a Transform to OpenCV matrices (private to the library).

#include "svanet/data/augment.h"
#include "utils/rng.h"

#include <opencv2/core.hpp>

namespace svanet::data {

/// Runs every step of `transform` on a CV_32FC3 RGB image in [0, 1] and its
/// CV_8UC1 mask, in place, drawing from `rng`.
void apply_transform(const Transform& transform, cv::Mat& image, cv::Mat& mask, utils::Rng& rng);

}  // namespace svanet::data
