#pragma once
/// @file
/// A training config: the `model:`, `data:`, `train:` and `evaluate:`
/// sections of one YAML file, parsed into typed structs. Unknown keys are
/// errors naming the file, line and the valid keys; `--set key=value`
/// overrides (dotted paths, YAML values) are applied before parsing and
/// checked against the same keys, and errors in what they set name the
/// `--set`.
///
///     model: {name: svanet_r18_tiny, image_size: 256}
///     data: {root: demo_data, dataset: demo, batch_size: 8}
///     train:
///       epochs: 40
///       device: auto                # auto | cpu | cuda | cuda:N
///       precision: fp32             # fp32 | bf16 | fp16 (CUDA)
///       optimizer: {name: adamw, weight_decay: 0.03}
///       schedule: {name: official_cosine, min_lr: 1e-6, warmup_init_lr: 5e-5, max_lr: 5e-4}
///       loss: {name: cross_entropy}
///       freeze_encoder_epochs: first_cycle   # or a number; 0 = never
///     evaluate: {split: test, checkpoint: best}
///
/// The optimizer, schedule and loss are registered components: `name:`
/// picks one (`svanet list optimizers|schedules|losses`) and the other keys
/// are its options, so a loss registered by your own code is configured the
/// same way.
///
/// A config may start from another: `base: ../paper/_recipe.yaml` (a path
/// relative to the file) is read first and this file's keys are merged over
/// it, section by section.
///
/// to_yaml writes the resolved config back with every key, so a run folder's
/// config.yaml repeats the run exactly.

#include "svanet/config/data_config.h"
#include "svanet/losses/loss.h"
#include "svanet/models/segmentation_model.h"
#include "svanet/optim/optimizer.h"
#include "svanet/optim/schedule.h"
#include "svanet/registry/registry.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace svanet::config {

struct TrainSection {
  int64_t epochs = 100;
  /// auto (CUDA when available), cpu, cuda or cuda:N.
  std::string device = "auto";
  /// fp32, bf16 (autocast) or fp16 (autocast with loss scaling, CUDA).
  std::string precision = "fp32";
  bool channels_last = false;
  uint64_t seed = 0;
  /// Deterministic algorithms only (slower on CUDA).
  bool deterministic = false;
  /// The optimizer (adamw with weight decay 0.03 in the paper).
  ComponentSpec optimizer = default_component(optim::optimizer_registry(), "adamw");
  /// The learning-rate schedule (the paper's official_cosine).
  ComponentSpec schedule = default_component(optim::schedule_registry(), "official_cosine");
  /// The loss (the paper's cross_entropy).
  ComponentSpec loss = default_component(losses::loss_registry(), "cross_entropy");
  /// Epochs trained with a frozen encoder; empty = the schedule's first
  /// cycle (the official recipe, written `first_cycle` in YAML).
  std::optional<int64_t> freeze_encoder_epochs;
  /// Keep frozen BatchNorm statistics fixed (the official recipe updates them).
  bool fix_norm_statistics = false;
  /// Validate every N epochs (and after the last).
  int64_t validate_every = 1;
  /// What selects the best checkpoint: any registered metric (`svanet list
  /// metrics`; ref_miou is the official recipe's, object_f1 or object_pq
  /// aim at small objects), in its direction, or val_loss.
  std::string select_metric = "ref_miou";
  /// Clip the gradients' global norm; 0 = off.
  double grad_clip = 0.0;
  /// Independent runs with seeds seed, seed + 1, ... (official --num_repeat).
  int64_t repeats = 1;
  /// Multi-process runs: BatchNorm statistics over every process's batch
  /// (SyncBatchNorm), so that a batch split over GPUs normalises as one.
  bool sync_batchnorm = false;
  /// Steps between two reads of the losses (a GPU computes ahead of the
  /// host until then): a non-finite loss, a stop request and the progress
  /// line are seen at that interval. Empty = auto (written `auto`): every
  /// step on the CPU, where a read costs nothing, every 20 on a GPU.
  std::optional<int64_t> check_every;
  /// none, encoder, guide or all: the parts of the model whose activations
  /// are recomputed in the backward pass instead of kept (less memory, one
  /// more forward pass of those parts; the same gradients).
  std::string activation_checkpointing = "none";
  /// Update each parameter inside the backward pass as soon as its gradient
  /// is complete and free that gradient (svanet/optim/step_in_backward.h):
  /// the same updates, without the whole model's gradients in memory at
  /// once. One process, no grad_clip, not with fp16.
  bool optimizer_in_backward = false;
};

struct EvaluateSection {
  /// The split evaluated after training (and by `svanet evaluate --run`).
  std::string split = "test";
  /// best or last.
  std::string checkpoint = "best";
  /// Evaluate right after training.
  bool after_training = true;
  /// How predicted components and ground-truth objects are paired, by
  /// evaluation, calibration and validation alike (svanet/metrics/
  /// objects.h): iou:T (one to one at IoU >= T) or overlap[:D] (BraTS's
  /// any-overlap rule after a dilation of D pixels).
  std::string match = "iou:0.1";
  std::vector<double> image_bins_pct{0.5, 1, 2, 3, 5, 10, 100};
  std::vector<double> object_bins_pct{0.1, 0.5, 1, 5};
  /// Object-size bin edges in pixels; when not empty, used instead.
  std::vector<double> object_bins_px;
  bool surface_distances = true;
  /// The surface Dice's tolerance in pixels; empty = auto (written `auto`):
  /// one pixel.
  std::optional<double> surface_tolerance;
  /// Overlays in the HTML report (worst cases and missed small objects, each).
  int64_t overlays = 6;
  /// Write each prediction as a palette PNG.
  bool save_predictions = true;
  /// How images are predicted, as `svanet predict --mode`: resize (the
  /// paper's: the loader resizes to the training size, metrics in reference
  /// mode at that size, the rest with the logits resized back), sliding
  /// (native resolution, Gaussian-weighted tiles of the training size) or
  /// auto (sliding for images over twice the training size).
  std::string mode = "resize";
  /// Test-time augmentation, as `svanet predict --tta`: none, flip, flip4.
  std::string tta = "none";
  /// Sliding window: fraction of a tile shared with its neighbour.
  double overlap = 0.5;
  /// Arithmetic of the evaluation's forward passes, as `svanet evaluate
  /// --precision`: auto (bf16 on a CPU that computes it natively, fp32
  /// elsewhere), fp32, bf16 or fp16 (CUDA).
  std::string precision = "auto";
  /// How probabilities become labels, as `svanet evaluate --threshold`:
  /// argmax (the paper's), calibrated (per-class thresholds chosen on the
  /// validation split after training, stored in the checkpoint), auto
  /// (calibrated when the checkpoint has thresholds) or a probability.
  std::string threshold = "argmax";
  /// What calibration maximises per class on the validation split:
  /// object_f1 (per-object detection) or dice (pixel Dice).
  std::string calibrate_metric = "object_f1";
};

struct TrainConfig {
  models::ModelSpec model;
  /// Whether the config set model.num_classes (otherwise the dataset does).
  bool num_classes_given = false;
  /// model.init_from: an svanet checkpoint (or a run folder: its best)
  /// whose weights the model starts from, after any pretrained_backbone;
  /// the optimizer and the schedule start afresh (fine-tuning). A resumed
  /// run continues from its own state instead.
  std::string init_from;
  /// model.init_strict: every tensor must match by name and shape. false
  /// skips the model's tensors the checkpoint lacks or has in another shape
  /// (a new head for other classes), each listed in train.log.
  bool init_strict = true;
  DataConfig data;
  TrainSection train;
  EvaluateSection evaluate;
  /// Where the config came from (for messages).
  std::string source;
};

/// Parses YAML text, applying `overrides` ("key.path=value") first.
TrainConfig parse_train_config(const std::string& yaml_text, const std::string& source,
                               const std::vector<std::string>& overrides = {});
/// Reads a YAML file (see parse_train_config).
TrainConfig load_train_config(const std::string& path,
                              const std::vector<std::string>& overrides = {});

/// The whole config as YAML, every key written.
std::string to_yaml(const TrainConfig& config);

}  // namespace svanet::config
