#pragma once
/// @file
/// The config-driven trainer: `svanet train` as a library call.
///
///     auto config = svanet::config::load_train_config("configs/demo.yaml", {"train.epochs=5"});
///     auto result = svanet::engine::train(config, "runs/demo");
///     // later, after an interruption:
///     result = svanet::engine::resume("runs/demo");
///
/// A run folder holds:
///
///     config.yaml        the resolved config (every key)
///     splits.json        the train/val/test stems
///     train.log          the log (also on the console)
///     metrics.csv        one row per epoch
///     progress.png       loss, validation metrics and learning rate per epoch
///     checkpoints/last.pt, checkpoints/best.pt     svanet checkpoints (best on validation)
///     checkpoints/last.state                      everything needed to resume
///     eval_<split>/      the evaluation after training (svanet/engine/evaluate.h)
///
/// Every file is written atomically. A stop request (RunOptions: SIGINT or
/// SIGTERM when the run handles signals, or the caller's should_stop)
/// finishes the current step, saves `checkpoints/interrupted.state` and
/// returns; after a crash or `kill
/// -9`, resume continues from the last completed epoch, and on the CPU ends
/// with the same weights as an uninterrupted run. A non-finite loss stops
/// the run and keeps the last good checkpoint. With `train.repeats` > 1 the
/// runs go to `repeat_<i>/` (seeds seed + i) and `repeats.json` holds the
/// mean and standard deviation of their test metrics.
///
/// A run changes nothing in the calling process that outlives it, except
/// LibTorch's random generators, which it seeds with train.seed: its
/// messages go to train.log and to RunOptions::log, ATen's determinism and
/// cuDNN switches are set for the run only (runtime::DeterminismGuard), and
/// signal handlers are installed only on request.

#include "svanet/common/log.h"
#include "svanet/config/train_config.h"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace svanet::engine {

/// One epoch of a run.
struct EpochRecord {
  int64_t epoch = 0;
  double lr = 0.0;
  double train_loss = 0.0;
  /// Validation (NaN on epochs without it).
  double val_loss = 0.0;
  /// Validation metrics by name (metrics::headline: dice, iou, precision,
  /// recall, hd95, assd as foreground means; ref_miou, ref_mdice, ...).
  std::map<std::string, double> val;
  double seconds = 0.0;
  double images_per_second = 0.0;
  bool frozen_encoder = false;
  /// This epoch's checkpoint became the best.
  bool best = false;
};

struct RunOptions {
  /// Replace an existing run folder (its contents are deleted first). With
  /// resume(): a run folder without its saved state (checkpoints/last.state
  /// or interrupted.state) but with checkpoints, metrics.csv or evaluations
  /// trains again from the first epoch (they are removed first); without
  /// overwrite such a folder is refused, naming the missing file.
  bool overwrite = false;
  /// A live progress bar on stderr (the CLI sets it for terminals).
  bool progress_bar = false;
  /// Without the bar: a progress line every this many seconds.
  double log_interval_s = 30.0;
  /// Called on rank 0 after every epoch.
  std::function<void(const EpochRecord&)> on_epoch;
  /// The run's messages (progress, epochs, warnings), as they go to
  /// train.log; rank 0 reports from info up, the other ranks warnings and
  /// errors. Empty: train.log only.
  LogSink log;
  /// Handle SIGINT and SIGTERM for the run's duration as a request to stop
  /// (the previous handlers come back after; a second signal ends the
  /// process). Off, the program's own signal handling stays as it is.
  bool handle_signals = false;
  /// Polled between steps (from the training thread): true stops the run
  /// as a signal would, with TrainResult::interrupted set.
  std::function<bool()> should_stop;
  /// With resume(): train up to this many epochs in all, extending a
  /// finished or interrupted run (and each of its repeats). config.yaml
  /// records the new total; the remaining epochs get the learning rate an
  /// N-epoch run has at those epochs (the schedule is a function of the
  /// epoch and the total), the epochs already trained keep theirs, and the
  /// training's own evaluation is redone (the old one is kept as
  /// eval_<split>_epoch<K>, K the epochs it had). Fewer epochs than were
  /// trained is an error.
  std::optional<int64_t> epochs;
};

struct TrainResult {
  std::string run_dir;
  /// Every epoch trained (and the evaluation after training done).
  bool completed = false;
  /// Stopped by a signal or should_stop; resume continues.
  bool interrupted = false;
  int64_t epochs_completed = 0;
  std::string select_metric;
  double best_value = 0.0;
  int64_t best_epoch = -1;
  std::vector<EpochRecord> history;
  /// Test metrics of the evaluation after training, by name (see
  /// metrics::headline); empty when it did not run.
  std::map<std::string, double> test;
  /// With repeats: each repeat's folder.
  std::vector<std::string> repeat_dirs;
};

/// Trains `config` into `run_dir`, which must not exist or be empty unless
/// options.overwrite. Throws svanet::Error naming the problem (bad data, a
/// non-finite loss, ...).
TrainResult train(const config::TrainConfig& config, const std::string& run_dir,
                  const RunOptions& options = {});

/// Continues the run in `run_dir` from its last saved state (the
/// interrupted state when it is newer), repeats included. A finished run
/// only completes what is missing (the evaluation after training).
TrainResult resume(const std::string& run_dir, const RunOptions& options = {});

/// The folder of repeat `index` (from 0) of a run: RUN/repeat_<index>.
std::string repeat_dir(const std::string& run_dir, int64_t index);

/// The repeat folders a run holds (repeat_<number>), in repeat order
/// (repeat_2 before repeat_10); empty for a run without repeats.
std::vector<std::string> repeat_dirs(const std::string& run_dir);

}  // namespace svanet::engine
