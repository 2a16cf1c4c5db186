#pragma once
// Small charts drawn with OpenCV for PNG outputs (progress.png, the size
// histogram, the evaluation report's bar charts). Private to the library.

#include <opencv2/core.hpp>

#include <optional>
#include <string>
#include <vector>

namespace svanet::utils::plot {

/// Colours (BGR) used across svanet's charts.
namespace colour {
inline const cv::Scalar kBlue{180, 119, 31};
inline const cv::Scalar kOrange{14, 127, 255};
inline const cv::Scalar kGreen{44, 160, 44};
inline const cv::Scalar kRed{40, 39, 214};
inline const cv::Scalar kPurple{189, 103, 148};
inline const cv::Scalar kGray{127, 127, 127};
}  // namespace colour

struct Series {
  std::string label;
  std::vector<double> x, y;  // NaN y values leave gaps
  cv::Scalar colour = colour::kBlue;
  /// Plot against the right-hand axis.
  bool right_axis = false;
  bool dashed = false;
  /// Draw a dot at every point (for sparse series).
  bool markers = false;
};

struct Axes {
  std::string title, x_label, y_label, y2_label;
  bool log_y = false;
  /// Whole-number ticks on the x axis (epochs).
  bool integer_x = false;
  /// Names of the x positions 0, 1, ...: a categorical axis (object-size
  /// bins) instead of numeric ticks.
  std::vector<std::string> x_categories;
  /// The legend as a column right of the plot (for many series) instead
  /// of one row above it.
  bool legend_right = false;
  std::optional<double> y_min, y_max, y2_min, y2_max;
};

/// The i-th of ten distinct colours (matplotlib's tab10), cycling.
cv::Scalar series_colour(size_t i);

/// A line chart of one or two y axes with a legend.
cv::Mat line_chart(const Axes& axes, const std::vector<Series>& series, int width = 900,
                   int height = 300);

struct BarGroup {
  std::string label;
  std::vector<double> values;  // one per category; NaN draws no bar
  cv::Scalar colour = colour::kBlue;
};

/// Grouped vertical bars: one cluster per category, one bar per group,
/// values written above the bars with `value_format` (printf, e.g. "%.2f").
cv::Mat bar_chart(const std::string& title, const std::string& y_label,
                  const std::vector<std::string>& categories, const std::vector<BarGroup>& groups,
                  int width = 560, int height = 370, std::optional<double> y_max = std::nullopt,
                  const std::string& value_format = "%.0f");

/// Images one below the other (widths padded to the widest, white).
cv::Mat stack_vertical(const std::vector<cv::Mat>& images);

/// About `count` round tick values covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int count = 5);

}  // namespace svanet::utils::plot
