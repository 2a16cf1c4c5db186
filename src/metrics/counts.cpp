#include "svanet/metrics/counts.h"

#include <limits>

namespace svanet::metrics {

double ratio(double numerator, double denominator) {
  return denominator == 0.0 ? std::numeric_limits<double>::quiet_NaN() : numerator / denominator;
}

double dice(const Counts& c) {
  return ratio(2.0 * static_cast<double>(c.tp), static_cast<double>(2 * c.tp + c.fp + c.fn));
}

double iou(const Counts& c) {
  return ratio(static_cast<double>(c.tp), static_cast<double>(c.tp + c.fp + c.fn));
}

double precision(const Counts& c) {
  return ratio(static_cast<double>(c.tp), static_cast<double>(c.tp + c.fp));
}

double recall(const Counts& c) {
  return ratio(static_cast<double>(c.tp), static_cast<double>(c.tp + c.fn));
}

double specificity(const Counts& c) {
  return ratio(static_cast<double>(c.tn), static_cast<double>(c.tn + c.fp));
}

double f_beta(const Counts& c, double beta) {
  const double b2 = beta * beta;
  const auto tp = static_cast<double>(c.tp);
  return ratio((1.0 + b2) * tp,
               (1.0 + b2) * tp + b2 * static_cast<double>(c.fn) + static_cast<double>(c.fp));
}

}  // namespace svanet::metrics
