#pragma once
/// @file
/// svanet's checkpoint files. A checkpoint is a standard PyTorch zip archive
/// (Python's `torch.load` opens it) holding a dict:
///
///     format: "svanet.checkpoint", version: 1, svanet_version: "...",
///     model: {name, num_classes, in_channels, image_size, options: {...}},
///     classes: [...], normalization: {mode, mean, std},
///     epoch: int, metrics: {name: value}, metrics_version: 2,
///     created: ISO-8601 time,
///     state_dict: OrderedDict(name -> tensor)
///
/// so that inference rebuilds the model with no flags. Training state for
/// resuming (optimizer, schedule, scaler, random generators) lives in a
/// separate file of the same format (`format: "svanet.training_state"`).
/// Files are written atomically; loading executes nothing.

#include "svanet/common/normalization.h"
#include "svanet/io/state_dict.h"
#include "svanet/models/segmentation_model.h"

#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <map>
#include <string>
#include <vector>

namespace svanet::io {

/// The newest checkpoint format version this build reads and writes.
inline constexpr int64_t kCheckpointVersion = 1;

/// Everything in a checkpoint except the weights.
struct CheckpointMeta {
  int64_t version = kCheckpointVersion;
  std::string svanet_version;
  models::ModelSpec model;
  /// Class names, background first; one per output channel.
  std::vector<std::string> classes;
  Normalization normalization;
  /// Last completed training epoch (0-based), -1 when not from training.
  int64_t epoch = -1;
  std::map<std::string, double> metrics;
  /// How `metrics` are written: 2, every ratio a fraction; 1 (files
  /// without `metrics_version`, svanet 0.1), the reference metrics (ref_*
  /// but ref_mae) x 100.
  int64_t metrics_version = 2;
  /// When the file was written (UTC, ISO 8601).
  std::string created;
  /// Free-form provenance, e.g. "converted from official checkpoint X".
  std::string note;
  /// Per-class probability thresholds (index 0, the background, unused)
  /// chosen on the validation split by `svanet calibrate`; empty when the
  /// checkpoint was not calibrated (svanet/inference/thresholds.h).
  std::vector<double> thresholds;
  /// How the thresholds were chosen, e.g. "object_f1 on the val split (45
  /// images)".
  std::string calibration;
};

/// Writes the model's weights and `meta` to `path` atomically. The model
/// spec is taken from the model (as the registry built it); the
/// `pretrained_backbone` option is dropped since the weights are saved.
void save_checkpoint(const std::string& path, const models::SegmentationModelImpl& model,
                     CheckpointMeta meta);

/// Writes per-class thresholds and how they were chosen into an existing
/// checkpoint (atomically; weights and everything else unchanged). Empty
/// thresholds remove a calibration.
void set_checkpoint_thresholds(const std::string& path, const std::vector<double>& thresholds,
                               const std::string& calibration);

/// Reads a checkpoint's metadata only.
CheckpointMeta read_checkpoint_meta(const std::string& path);

/// A model rebuilt from a checkpoint.
struct LoadedCheckpoint {
  models::SegmentationModel model{nullptr};
  CheckpointMeta meta;
};

/// Rebuilds the model a checkpoint describes and loads its weights
/// (strictly), on `device`, in eval mode.
LoadedCheckpoint load_checkpoint(const std::string& path,
                                 const torch::Device& device = torch::kCPU);

/// State for resuming training, saved beside a checkpoint.
struct TrainingState {
  /// Last completed epoch (0-based).
  int64_t epoch = -1;
  /// Named numbers (best metric so far, scaler scale, ...).
  std::map<std::string, double> values;
  /// Named text (schedule name, run id, ...).
  std::map<std::string, std::string> texts;
  /// Named tensors (optimizer moments, generator states, ...).
  StateDict tensors;
};

void save_training_state(const std::string& path, const TrainingState& state);
TrainingState load_training_state(const std::string& path);

/// Adds an optimizer's state to `state` under `prefix` (per parameter, in
/// parameter-group order: Adam/AdamW moments and steps, SGD momentum) plus
/// each group's learning rate. Other optimizers throw svanet::Error.
void capture_optimizer(const torch::optim::Optimizer& optimizer, TrainingState& state,
                       const std::string& prefix = "optimizer");
/// Restores what capture_optimizer saved into an optimizer built over the
/// same parameters; mismatches throw svanet::Error naming the entry.
void restore_optimizer(torch::optim::Optimizer& optimizer, const TrainingState& state,
                       const std::string& prefix = "optimizer");

/// Adds the states of LibTorch's default CPU (and every CUDA) generator.
void capture_rng(TrainingState& state);
/// Restores the generator states capture_rng saved.
void restore_rng(const TrainingState& state);

}  // namespace svanet::io
