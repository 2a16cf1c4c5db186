#include "utils/plot.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace svanet::utils::plot {

namespace {

const cv::Scalar kText{30, 30, 30};
const cv::Scalar kGrid{225, 225, 225};
const cv::Scalar kAxis{90, 90, 90};
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

void text(cv::Mat& img, const std::string& s, cv::Point at, double scale = 0.42,
          const cv::Scalar& colour = kText) {
  cv::putText(img, s, at, kFont, scale, colour, 1, cv::LINE_AA);
}

int text_width(const std::string& s, double scale = 0.42) {
  int baseline = 0;
  return cv::getTextSize(s, kFont, scale, 1, &baseline).width;
}

std::string tick_label(double v, bool log) {
  char buffer[32];
  const double a = std::fabs(v);
  if (log || (a != 0 && (a < 1e-3 || a >= 1e5))) {
    std::snprintf(buffer, sizeof(buffer), "%.0e", v);
  } else if (a >= 100 || std::fabs(v - std::round(v)) < 1e-9) {
    std::snprintf(buffer, sizeof(buffer), "%.0f", v);
  } else if (a >= 1) {
    std::snprintf(buffer, sizeof(buffer), "%.1f", v);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%.3g", v);
  }
  return buffer;
}

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return lo > hi; }
  void pad() {
    if (empty()) {
      lo = 0;
      hi = 1;
    } else if (hi - lo < 1e-12) {
      const double d = std::max(std::fabs(hi) * 0.1, 1e-12);
      lo -= d;
      hi += d;
    }
  }
};

void dashed_line(cv::Mat& img, cv::Point a, cv::Point b, const cv::Scalar& c, int thickness) {
  const double length = std::hypot(b.x - a.x, b.y - a.y);
  const int dashes = std::max(1, static_cast<int>(length / 8));
  for (int i = 0; i < dashes; i += 2) {
    const double t0 = static_cast<double>(i) / dashes, t1 = static_cast<double>(i + 1) / dashes;
    cv::line(img, a + (b - a) * t0, a + (b - a) * t1, c, thickness, cv::LINE_AA);
  }
}

}  // namespace

cv::Scalar series_colour(size_t i) {
  // tab10, BGR.
  static const cv::Scalar kTab10[] = {
      {180, 119, 31}, {14, 127, 255},  {44, 160, 44},   {40, 39, 214},  {189, 103, 148},
      {75, 86, 140},  {194, 119, 227}, {127, 127, 127}, {34, 189, 188}, {207, 190, 23}};
  return kTab10[i % 10];
}

std::vector<double> nice_ticks(double lo, double hi, int count) {
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / std::max(1, count);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (const double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    step = m * magnitude;
    if (step >= raw) break;
  }
  std::vector<double> ticks;
  for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) {
    ticks.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
  }
  return ticks;
}

cv::Mat line_chart(const Axes& axes, const std::vector<Series>& series, int width, int height) {
  cv::Mat img(height, width, CV_8UC3, cv::Scalar(255, 255, 255));
  const bool two_axes =
      std::any_of(series.begin(), series.end(), [](const Series& s) { return s.right_axis; });
  const bool legend =
      std::any_of(series.begin(), series.end(), [](const Series& s) { return !s.label.empty(); });
  int legend_width = 0;
  if (axes.legend_right) {
    for (const auto& s : series) legend_width = std::max(legend_width, text_width(s.label) + 44);
  }
  const int left = 70, right = (two_axes ? 70 : 20) + legend_width,
            top = legend && !axes.legend_right ? 52 : 34, bottom = 44;
  const cv::Rect area(left, top, width - left - right, height - top - bottom);
  Range xr, yr, y2r;
  for (const auto& s : series) {
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.y[i])) continue;
      xr.add(s.x[i]);
      const double y =
          axes.log_y && !s.right_axis ? (s.y[i] > 0 ? std::log10(s.y[i]) : NAN) : s.y[i];
      (s.right_axis ? y2r : yr).add(y);
    }
  }
  if (axes.y_min) yr.lo = *axes.y_min;
  if (axes.y_max) yr.hi = *axes.y_max;
  if (axes.y2_min) y2r.lo = *axes.y2_min;
  if (axes.y2_max) y2r.hi = *axes.y2_max;
  xr.pad();
  if (!axes.x_categories.empty()) {
    // A margin of a third of a step either side of the first and last category.
    xr.lo = -0.3;
    xr.hi = static_cast<double>(axes.x_categories.size()) - 0.7;
  }
  yr.pad();
  y2r.pad();
  if (axes.log_y) {
    yr.lo = std::floor(yr.lo);
    yr.hi = std::ceil(yr.hi);
    if (yr.hi == yr.lo) yr.hi += 1;
  }
  auto px = [&](double x) {
    return area.x + static_cast<int>(std::lround((x - xr.lo) / (xr.hi - xr.lo) * area.width));
  };
  auto py = [&](double y, const Range& r) {
    return area.y + area.height -
           static_cast<int>(std::lround((y - r.lo) / (r.hi - r.lo) * area.height));
  };
  // Grid and ticks.
  const auto yticks = axes.log_y ? [&] {
    std::vector<double> t;
    for (double e = yr.lo; e <= yr.hi + 1e-9; e += 1) t.push_back(e);
    return t;
  }()
                                 : nice_ticks(yr.lo, yr.hi);
  for (const double t : yticks) {
    if (t < yr.lo - 1e-12 || t > yr.hi + 1e-12) continue;
    const int y = py(t, yr);
    cv::line(img, {area.x, y}, {area.x + area.width, y}, kGrid, 1);
    const std::string label = tick_label(axes.log_y ? std::pow(10.0, t) : t, axes.log_y);
    text(img, label, {area.x - 6 - text_width(label), y + 4});
  }
  const bool categorical = !axes.x_categories.empty();
  std::vector<double> xticks;
  if (categorical) {
    for (size_t i = 0; i < axes.x_categories.size(); ++i) xticks.push_back(static_cast<double>(i));
  } else {
    xticks = nice_ticks(xr.lo, xr.hi, 8);
  }
  for (const double t : xticks) {
    if (t < xr.lo - 1e-12 || t > xr.hi + 1e-12) continue;
    if (axes.integer_x && std::fabs(t - std::round(t)) > 1e-9) continue;
    const int x = px(t);
    cv::line(img, {x, area.y + area.height}, {x, area.y + area.height + 4}, kAxis, 1);
    const std::string label =
        categorical ? axes.x_categories[static_cast<size_t>(t)] : tick_label(t, false);
    text(img, label, {x - text_width(label) / 2, area.y + area.height + 18});
  }
  if (two_axes) {
    for (const double t : nice_ticks(y2r.lo, y2r.hi)) {
      if (t < y2r.lo - 1e-12 || t > y2r.hi + 1e-12) continue;
      const int y = py(t, y2r);
      cv::line(img, {area.x + area.width, y}, {area.x + area.width + 4, y}, kAxis, 1);
      text(img, tick_label(t, false), {area.x + area.width + 7, y + 4});
    }
  }
  cv::rectangle(img, area, kAxis, 1);
  text(img, axes.title, {left, 22}, 0.55);
  text(img, axes.x_label, {area.x + area.width / 2 - text_width(axes.x_label) / 2, height - 8});
  // Vertical axis labels, rotated.
  auto vertical_label = [&](const std::string& label, int x_centre) {
    if (label.empty()) return;
    const int w = text_width(label) + 4;
    cv::Mat strip(18, w, CV_8UC3, cv::Scalar(255, 255, 255));
    text(strip, label, {2, 13});
    cv::Mat rotated;
    cv::rotate(strip, rotated, cv::ROTATE_90_COUNTERCLOCKWISE);
    const int y0 = std::max(0, area.y + area.height / 2 - rotated.rows / 2);
    const int x0 = std::clamp(x_centre - rotated.cols / 2, 0, width - rotated.cols);
    if (y0 + rotated.rows <= height)
      rotated.copyTo(img(cv::Rect(x0, y0, rotated.cols, rotated.rows)));
  };
  vertical_label(axes.y_label, 12);
  if (two_axes) vertical_label(axes.y2_label, width - 12);
  // Series.
  for (const auto& s : series) {
    const Range& r = s.right_axis ? y2r : yr;
    std::optional<cv::Point> previous;
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      double y = s.y[i];
      if (axes.log_y && !s.right_axis) y = y > 0 ? std::log10(y) : NAN;
      if (!std::isfinite(y)) {
        previous.reset();
        continue;
      }
      const cv::Point p{px(s.x[i]), std::clamp(py(y, r), area.y, area.y + area.height)};
      if (previous) {
        if (s.dashed) {
          dashed_line(img, *previous, p, s.colour, 2);
        } else {
          cv::line(img, *previous, p, s.colour, 2, cv::LINE_AA);
        }
      }
      if (s.markers || s.x.size() == 1) cv::circle(img, p, 3, s.colour, cv::FILLED, cv::LINE_AA);
      previous = p;
    }
  }
  // Legend: one row between the title and the plot, or a column beside it.
  int lx = left, row = 0;
  for (const auto& s : series) {
    if (s.label.empty()) continue;
    int ly = top - 12;
    if (axes.legend_right) {
      lx = area.x + area.width + (two_axes ? 70 : 20) + 4;
      ly = area.y + 12 + 18 * row++;
    }
    if (s.dashed) {
      dashed_line(img, {lx, ly - 4}, {lx + 22, ly - 4}, s.colour, 2);
    } else {
      cv::line(img, {lx, ly - 4}, {lx + 22, ly - 4}, s.colour, 2, cv::LINE_AA);
    }
    text(img, s.label, {lx + 28, ly});
    lx += text_width(s.label) + 50;
  }
  return img;
}

cv::Mat bar_chart(const std::string& title, const std::string& y_label,
                  const std::vector<std::string>& categories, const std::vector<BarGroup>& groups,
                  int width, int height, std::optional<double> y_max,
                  const std::string& value_format) {
  cv::Mat img(height, width, CV_8UC3, cv::Scalar(255, 255, 255));
  const int left = 56, right = 14, top = groups.size() > 1 ? 58 : 42, bottom = 52;
  const cv::Rect area(left, top, width - left - right, height - top - bottom);
  double hi = 0;
  for (const auto& g : groups) {
    for (const double v : g.values) {
      if (std::isfinite(v)) hi = std::max(hi, v);
    }
  }
  if (y_max) hi = *y_max;
  if (hi <= 0) hi = 1;
  const auto ticks = nice_ticks(0, hi, 4);
  for (const double t : ticks) {
    const int y = area.y + area.height - static_cast<int>(t / hi * area.height);
    if (y < area.y - 1) continue;
    cv::line(img, {area.x, y}, {area.x + area.width, y}, kGrid, 1);
    const std::string label = tick_label(t, false);
    text(img, label, {area.x - 6 - text_width(label), y + 4}, 0.38);
  }
  cv::line(img, {area.x, area.y + area.height}, {area.x + area.width, area.y + area.height}, kAxis,
           1);
  text(img, title, {left, 22}, 0.55);
  if (!y_label.empty()) text(img, y_label, {4, area.y - 8}, 0.38);
  const int n = static_cast<int>(std::max<size_t>(1, categories.size()));
  const int slot = area.width / n;
  const int bars = static_cast<int>(std::max<size_t>(1, groups.size()));
  const int bar_width = std::max(3, (slot - 10) / bars);
  for (int c = 0; c < static_cast<int>(categories.size()); ++c) {
    const int x0 = area.x + c * slot + (slot - bar_width * bars) / 2;
    for (int g = 0; g < bars && g < static_cast<int>(groups.size()); ++g) {
      const auto& values = groups[static_cast<size_t>(g)].values;
      if (static_cast<size_t>(c) >= values.size() ||
          !std::isfinite(values[static_cast<size_t>(c)])) {
        continue;
      }
      const double v = values[static_cast<size_t>(c)];
      const int h = static_cast<int>(std::min(v, hi) / hi * area.height);
      const int x = x0 + g * bar_width;
      cv::rectangle(img, {x + 1, area.y + area.height - h},
                    {x + bar_width - 2, area.y + area.height},
                    groups[static_cast<size_t>(g)].colour, cv::FILLED);
      char buffer[32];
      std::snprintf(buffer, sizeof(buffer), value_format.c_str(), v);
      const double scale = bar_width < 30 ? 0.3 : 0.36;
      text(img, buffer,
           {x + bar_width / 2 - text_width(buffer, scale) / 2, area.y + area.height - h - 4},
           scale);
    }
    const std::string& label = categories[static_cast<size_t>(c)];
    text(img, label,
         {area.x + c * slot + slot / 2 - text_width(label, 0.38) / 2,
          area.y + area.height + 18 + (n > 6 ? 14 * (c % 2) : 0)},
         0.38);
  }
  if (groups.size() > 1) {
    int lx = left;
    for (const auto& g : groups) {
      cv::rectangle(img, {lx, 32}, {lx + 12, 44}, g.colour, cv::FILLED);
      text(img, g.label, {lx + 16, 43}, 0.38);
      lx += text_width(g.label, 0.38) + 34;
    }
  }
  return img;
}

cv::Mat stack_vertical(const std::vector<cv::Mat>& images) {
  int width = 0;
  for (const auto& m : images) width = std::max(width, m.cols);
  std::vector<cv::Mat> padded;
  for (const auto& m : images) {
    if (m.cols == width) {
      padded.push_back(m);
    } else {
      cv::Mat p;
      cv::copyMakeBorder(m, p, 0, 0, 0, width - m.cols, cv::BORDER_CONSTANT,
                         cv::Scalar(255, 255, 255));
      padded.push_back(p);
    }
  }
  cv::Mat out;
  cv::vconcat(padded, out);
  return out;
}

}  // namespace svanet::utils::plot
