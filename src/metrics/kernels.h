#pragma once
// Metric kernels on raw row-major uint8 planes (private to the library): the
// public functions wrap these around tensors, and analyze_case calls them
// without converting anything twice.

#include "svanet/metrics/objects.h"
#include "svanet/metrics/surface.h"

#include <opencv2/core.hpp>

#include <cstdint>
#include <vector>

namespace svanet::metrics::detail {

/// Squared Euclidean distance from every pixel of a rows x cols plane to the
/// nearest non-zero pixel of `set`, with spacing (row, column); +inf when the
/// set is empty.
void squared_distance_transform(const uint8_t* set, int rows, int cols, const Spacing& spacing,
                                std::vector<double>& out);

/// HD95, ASSD, Hausdorff and the surface Dice at `tolerance` between the
/// non-zero pixels of two planes, with the empty-region rules of surface.h.
SurfaceDistance surface_distance(const uint8_t* pred, const uint8_t* gt, int rows, int cols,
                                 const Spacing& spacing, double tolerance);

/// Object matching of one class between two binary CV_8UC1 masks (non-zero
/// = the class); records as match_objects.
void match_class_objects(const cv::Mat& pred, const cv::Mat& gt, int64_t class_index,
                         const MatchRule& rule, std::vector<ObjectRecord>& gt_out,
                         std::vector<ObjectRecord>& pred_out);

/// The value at fraction q in [0, 1] of `values` by linear interpolation
/// between order statistics (numpy's default); reorders `values`.
double percentile(std::vector<double>& values, double q);

}  // namespace svanet::metrics::detail
