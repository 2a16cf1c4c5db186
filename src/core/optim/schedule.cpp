#include "svanet/optim/schedule.h"

#include "svanet/common/error.h"

#include <algorithm>
#include <cmath>

namespace svanet::optim {

namespace {

constexpr double kPi = 3.14159265358979323846;

/// MyCosineScheduler.getLr(e) without its hidden state: the restart it makes
/// at e == milestones holds for every later e.
double official_value(const ScheduleOptions& o, int64_t e, int64_t epochs) {
  const int64_t m = first_cycle_epochs(o, epochs);
  int64_t warmup = o.restart ? m / 2 : m;
  int64_t period = o.restart ? m : epochs;
  int64_t offset = 0;
  const double step = warmup > 0 ? (o.max_lr - o.warmup_init_lr) / static_cast<double>(warmup) : 0;
  if (o.restart && e >= m) {
    offset = m - 1;
    warmup += m;
    period = epochs;
  }
  double lr = o.min_lr;
  if (e < warmup) {
    lr = o.warmup_init_lr + static_cast<double>(e - offset) * step;
  } else if (e + 1 < period) {
    lr =
        o.min_lr + 0.5 * (o.max_lr - o.min_lr) *
                       (1.0 + std::cos(kPi * static_cast<double>(e) / static_cast<double>(period)));
  }
  return std::max(0.0, lr);
}

double warmup_then(const ScheduleOptions& o, int64_t e, int64_t epochs, bool poly) {
  if (e < o.warmup_epochs) {
    return o.warmup_init_lr + (o.max_lr - o.warmup_init_lr) * static_cast<double>(e) /
                                  static_cast<double>(o.warmup_epochs);
  }
  const int64_t span = std::max<int64_t>(1, epochs - o.warmup_epochs);
  const double t = static_cast<double>(e - o.warmup_epochs) / static_cast<double>(span);
  if (poly) return o.min_lr + (o.max_lr - o.min_lr) * std::pow(1.0 - t, o.power);
  return o.min_lr + 0.5 * (o.max_lr - o.min_lr) * (1.0 + std::cos(kPi * t));
}

}  // namespace

void ScheduleOptions::validate() const {
  static const char* names[] = {"official_cosine", "cosine", "poly", "constant"};
  SVANET_CHECK(std::find(std::begin(names), std::end(names), name) != std::end(names),
               "train.schedule.name: unknown schedule '", name,
               "'; valid: official_cosine, cosine, poly, constant");
  SVANET_CHECK(min_lr >= 0 && warmup_init_lr >= 0 && max_lr > 0,
               "train.schedule: learning rates must be non-negative and max_lr positive");
  SVANET_CHECK(milestones >= 0, "train.schedule.milestones must be >= 0, got ", milestones);
  SVANET_CHECK(warmup_epochs >= 0, "train.schedule.warmup_epochs must be >= 0, got ",
               warmup_epochs);
  SVANET_CHECK(power > 0, "train.schedule.power must be positive, got ", power);
}

int64_t first_cycle_epochs(const ScheduleOptions& options, int64_t epochs) {
  if (options.milestones > 0) return options.milestones;
  return (epochs + 9) / 10;  // ceil(0.1 * epochs)
}

double learning_rate(const ScheduleOptions& options, int64_t epoch, int64_t epochs) {
  SVANET_CHECK(epoch >= 0 && epoch < epochs, "learning_rate: epoch ", epoch, " outside 0..",
               epochs - 1);
  if (options.name == "constant") return options.max_lr;
  if (options.name == "cosine") return warmup_then(options, epoch, epochs, false);
  if (options.name == "poly") return warmup_then(options, epoch, epochs, true);
  SVANET_CHECK(options.name == "official_cosine", "unknown schedule '", options.name, "'");
  return epoch == 0 ? options.min_lr : official_value(options, epoch - 1, epochs);
}

}  // namespace svanet::optim
