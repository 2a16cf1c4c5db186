#include "svanet/optim/schedule.h"

#include "svanet/common/error.h"
#include "svanet/utils/text.h"

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

/// The epoch range every schedule is asked about.
void check_epoch(int64_t epoch, int64_t epochs) {
  SVANET_CHECK(epoch >= 0 && epoch < epochs, "learning_rate: epoch ", epoch, " outside 0..",
               epochs - 1);
}

/// One of svanet's schedules: `rate` of the options, the epoch and the count.
class Builtin : public Schedule {
 public:
  using Rate = double (*)(const ScheduleOptions&, int64_t, int64_t);
  Builtin(ScheduleOptions options, Rate rate) : options_(std::move(options)), rate_(rate) {}
  double learning_rate(int64_t epoch, int64_t epochs) const override {
    check_epoch(epoch, epochs);
    return rate_(options_, epoch, epochs);
  }
  int64_t first_cycle_epochs(int64_t epochs) const override {
    return optim::first_cycle_epochs(options_, epochs);
  }

 private:
  ScheduleOptions options_;
  Rate rate_;
};

double official_rate(const ScheduleOptions& o, int64_t epoch, int64_t epochs) {
  return epoch == 0 ? o.min_lr : official_value(o, epoch - 1, epochs);
}
double cosine_rate(const ScheduleOptions& o, int64_t epoch, int64_t epochs) {
  return warmup_then(o, epoch, epochs, false);
}
double poly_rate(const ScheduleOptions& o, int64_t epoch, int64_t epochs) {
  return warmup_then(o, epoch, epochs, true);
}
double constant_rate(const ScheduleOptions& o, int64_t /*epoch*/, int64_t /*epochs*/) {
  return o.max_lr;
}

void add_builtin(ScheduleRegistry& registry, std::string name, std::string description,
                 Builtin::Rate rate) {
  registry.add(
      {name,
       std::move(description),
       schedule_option_fields().schema(),
       {},
       [name, rate](const OptionMap& values) -> std::unique_ptr<Schedule> {
         ScheduleOptions o = schedule_option_fields().parse(values);
         o.name = name;
         o.validate();
         return std::make_unique<Builtin>(o, rate);
       },
       [](const OptionMap& values) { schedule_option_fields().parse(values).validate(); }});
}

void register_builtin_schedules(ScheduleRegistry& r) {
  add_builtin(r, "official_cosine",
              "the paper's MyCosineScheduler: warm-up and cosine, restarted after the first cycle",
              official_rate);
  add_builtin(r, "cosine", "linear warm-up (warmup_epochs), then a cosine from max_lr to min_lr",
              cosine_rate);
  add_builtin(r, "poly", "linear warm-up, then (1 - t)^power from max_lr to min_lr", poly_rate);
  add_builtin(r, "constant", "max_lr throughout", constant_rate);
}

}  // namespace

const Fields<ScheduleOptions>& schedule_option_fields() {
  static const auto fields =
      Fields<ScheduleOptions>()
          .add(SVANET_FIELD(min_lr, "the floor (and official_cosine's first epoch)"))
          .add(SVANET_FIELD(warmup_init_lr, "where the warm-up starts"))
          .add(SVANET_FIELD(max_lr, "the peak"))
          .add(SVANET_FIELD(milestones, "official_cosine: first cycle length; 0 = epochs / 10"))
          .add(SVANET_FIELD(restart, "official_cosine: restart after the first cycle"))
          .add(SVANET_FIELD(warmup_epochs, "cosine, poly: warm-up epochs"))
          .add(SVANET_FIELD(power, "poly: the decay exponent"));
  return fields;
}

void ScheduleOptions::validate() const {
  SVANET_CHECK(schedule_registry().contains(name), "unknown schedule '", name,
               "'; registered schedules: ", utils::join(schedule_registry().names(), ", "));
  SVANET_CHECK(min_lr >= 0 && warmup_init_lr >= 0 && max_lr > 0,
               "learning rates must be non-negative and max_lr positive");
  SVANET_CHECK(milestones >= 0, "milestones must be >= 0, got ", milestones);
  SVANET_CHECK(warmup_epochs >= 0, "warmup_epochs must be >= 0, got ", warmup_epochs);
  SVANET_CHECK(power > 0, "power must be positive, got ", power);
}

ScheduleRegistry& schedule_registry() {
  static ScheduleRegistry registry("schedule", "schedules");
  static const bool builtins = (register_builtin_schedules(registry), true);
  (void)builtins;
  return registry;
}

std::unique_ptr<Schedule> create_schedule(const std::string& name, const OptionMap& options) {
  auto schedule = schedule_registry().create(name, options);
  SVANET_CHECK(schedule != nullptr, "schedule '", name, "': its factory returned none");
  return schedule;
}

int64_t first_cycle_epochs(const ScheduleOptions& options, int64_t epochs) {
  if (options.milestones > 0) return options.milestones;
  return (epochs + 9) / 10;  // ceil(0.1 * epochs)
}

double learning_rate(const ScheduleOptions& options, int64_t epoch, int64_t epochs) {
  return create_schedule(options.name, schedule_option_fields().values(options))
      ->learning_rate(epoch, epochs);
}

}  // namespace svanet::optim
