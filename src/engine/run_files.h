#pragma once
// The files of a run folder and their formats (private to the library).

#include "svanet/engine/trainer.h"
#include "svanet/io/checkpoint.h"
#include "svanet/metrics/reduce.h"

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace svanet::engine {

inline constexpr const char* kConfig = "config.yaml";
inline constexpr const char* kSplits = "splits.json";
inline constexpr const char* kTrainLog = "train.log";
inline constexpr const char* kMetricsCsv = "metrics.csv";
inline constexpr const char* kProgressPng = "progress.png";
inline constexpr const char* kCheckpointsDir = "checkpoints";
inline constexpr const char* kLastCheckpoint = "last.pt";
inline constexpr const char* kBestCheckpoint = "best.pt";
inline constexpr const char* kLastState = "last.state";
inline constexpr const char* kInterruptedState = "interrupted.state";
inline constexpr const char* kSummaryJson = "summary.json";
inline constexpr const char* kRepeatsJson = "repeats.json";
inline constexpr const char* kRepeatsMarkdown = "repeats.md";

/// Where a run stands: the next epoch and batch to train.
struct Position {
  int64_t epoch = 0;
  int64_t batch = 0;
  bool operator<(const Position& o) const {
    return epoch != o.epoch ? epoch < o.epoch : batch < o.batch;
  }
};

/// A partly trained epoch, kept across an interruption.
struct PartialEpoch {
  double loss_sum = 0.0;
  int64_t steps = 0;
  int64_t images = 0;
  double seconds = 0.0;
};

/// The trainer's own part of checkpoints/last.state and interrupted.state
/// (beside the weights, the optimizer and the generators, which io writes).
/// Version 1 is what svanet 0.1 wrote (files without a version too): its
/// history kept the reference metrics x 100, which reading converts.
struct RunState {
  static constexpr int64_t kVersion = 2;
  int64_t version = kVersion;
  Position next;
  PartialEpoch partial;
  double best_value = 0.0;
  int64_t best_epoch = -1;
  double scaler_scale = 65536.0;
  int64_t scaler_growth = 0;
  std::vector<EpochRecord> history;
  std::string select_metric;
  /// The run the state belongs to: its model and seed (empty in states
  /// written before svanet recorded them), checked against config.yaml on
  /// resume so that a state copied from another run is refused.
  std::string model;
  std::string seed;

  /// Adds this state's entries to `out`.
  void write(io::TrainingState& out) const;
  /// The state in `in`, read from `path`; a missing or malformed entry, or
  /// a newer version, is an error naming the file and the entry.
  static RunState read(const io::TrainingState& in, const std::string& path);
};

std::string history_to_json(const std::vector<EpochRecord>& history);
std::vector<EpochRecord> history_from_json(const std::string& text);

/// metrics.csv: epoch (1-based), lr, train_loss, val_loss, every registered
/// metric (val_<name>, in registration order), seconds, images_per_s,
/// frozen_encoder, best.
std::string metrics_csv(const std::vector<EpochRecord>& history);

/// progress.png: losses with the selection metric, the validation metrics,
/// the learning rate and the epoch time, one panel each.
void write_progress_png(const std::string& path, const std::vector<EpochRecord>& history,
                        const std::string& select_metric);

/// The one-line summary of an epoch.
std::string epoch_line(const EpochRecord& record, int64_t epochs, const std::string& select_metric,
                       double best_value, int64_t best_epoch);

/// The one-line summary of an evaluation.
std::string test_line(const metrics::Summary& summary, const std::string& out_dir);

/// repeats.json and repeats.md: each repeat's test metrics and their mean
/// and sample standard deviation.
void write_repeats_summary(const std::filesystem::path& run_dir,
                           const std::vector<std::string>& repeat_dirs,
                           const std::vector<std::map<std::string, double>>& tests);

}  // namespace svanet::engine
