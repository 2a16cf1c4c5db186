#pragma once
/// @file
/// Learning-rate schedules as pure functions of the epoch (nanoGPT's
/// `get_lr(it)`): the trainer sets the rate at the start of every epoch, and
/// a resumed run computes the same rates. Schedules are registered by name
/// (schedule_registry()); svanet's are `official_cosine` (the paper's),
/// `cosine`, `poly` and `constant`.

#include "svanet/registry/registry.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace svanet::optim {

/// The options svanet's schedules share (each reads those it uses).
struct ScheduleOptions {
  /// "official_cosine" (the paper's MyCosineScheduler), "cosine" (linear
  /// warm-up, then cosine to min_lr), "poly" (linear warm-up, then
  /// (1 - t)^power decay) or "constant" (max_lr throughout).
  std::string name = "official_cosine";
  /// The floor of the cosine (the official `--lr`, also epoch 0's rate).
  double min_lr = 1e-6;
  /// Where the warm-up starts (official `--warmup_init_lr`).
  double warmup_init_lr = 5e-5;
  /// The peak (official `--max_lr`).
  double max_lr = 5e-4;
  /// official_cosine: the first cycle's length (official `milestones`);
  /// 0 = ceil(epochs / 10).
  int64_t milestones = 0;
  /// official_cosine: two warm-up/cosine cycles, the first `milestones`
  /// long (the official behaviour with pretrained weights); false = one
  /// warm-up of `milestones` epochs and one cosine over all epochs.
  bool restart = true;
  /// cosine and poly: warm-up epochs.
  int64_t warmup_epochs = 0;
  /// poly: the decay exponent.
  double power = 0.9;

  /// Throws svanet::Error naming the field when a value is invalid.
  void validate() const;
};

/// The fields of ScheduleOptions that are options of a schedule (all but
/// name): the schema of svanet's schedules.
const Fields<ScheduleOptions>& schedule_option_fields();

/// A learning-rate schedule.
class Schedule {
 public:
  virtual ~Schedule() = default;
  /// The learning rate of epoch `epoch` (0-based) of `epochs`.
  virtual double learning_rate(int64_t epoch, int64_t epochs) const = 0;
  /// The length of the first cycle: the epochs `freeze_encoder_epochs:
  /// first_cycle` trains with a frozen encoder. The default is the
  /// official rule, ceil(epochs / 10).
  virtual int64_t first_cycle_epochs(int64_t epochs) const { return (epochs + 9) / 10; }
};

using ScheduleFactory = std::function<std::unique_ptr<Schedule>(const OptionMap& options)>;
using ScheduleRegistry = Registry<ScheduleFactory>;

/// The registry of schedules, with svanet's registered on first use.
ScheduleRegistry& schedule_registry();

/// Builds a registered schedule from its options as text.
std::unique_ptr<Schedule> create_schedule(const std::string& name, const OptionMap& options);

/// The learning rate used during epoch `epoch` (0-based) of `epochs`.
///
/// official_cosine reproduces `MyCosineScheduler` as the official trainer
/// uses it: the optimizer starts at min_lr (epoch 0) and the scheduler is
/// stepped after each epoch, so epoch e trains with the scheduler's value
/// for e - 1. With the paper's recipe (100 epochs, 1e-6 / 5e-5 / 5e-4):
/// 1e-6, 5e-5, 1.4e-4, ..., 4.1e-4 (epoch 5), a cosine down to 4.87e-5
/// (epoch 9), 1e-6 at epoch 10, a second warm-up to 5e-4 at epoch 15, then
/// the cosine over 100 epochs down to 1.49e-6 at epoch 99.
double learning_rate(const ScheduleOptions& options, int64_t epoch, int64_t epochs);

/// The length of the first cycle (official `milestones`): the epochs the
/// official recipe trains with a frozen encoder.
int64_t first_cycle_epochs(const ScheduleOptions& options, int64_t epochs);

}  // namespace svanet::optim
