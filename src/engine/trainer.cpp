#include "svanet/engine/trainer.h"

#include "engine/progress.h"
#include "engine/run_files.h"
#include "engine/signals.h"
#include "engine/split_prediction.h"
#include "svanet/common/error.h"
#include "svanet/common/interrupted.h"
#include "svanet/data/check.h"
#include "svanet/data/loader.h"
#include "svanet/data/splits.h"
#include "svanet/engine/calibrate.h"
#include "svanet/engine/distributed.h"
#include "svanet/engine/evaluate.h"
#include "svanet/engine/inference.h"
#include "svanet/engine/predict.h"
#include "svanet/evaluation/summary.h"
#include "svanet/inference/thresholds.h"
#include "svanet/io/checkpoint.h"
#include "svanet/io/pretrained.h"
#include "svanet/losses/loss.h"
#include "svanet/metrics/registry.h"
#include "svanet/models/batch_norm.h"
#include "svanet/models/registry.h"
#include "svanet/optim/optimizer.h"
#include "svanet/optim/schedule.h"
#include "svanet/optim/step_in_backward.h"
#include "svanet/runtime/determinism.h"
#include "svanet/runtime/precision.h"
#include "svanet/utils/atomic_file.h"
#include "svanet/utils/paths.h"
#include "svanet/utils/text.h"
#include "svanet/version.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>
#include <torch/cuda.h>
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <mutex>
#include <optional>

namespace svanet::engine {

namespace fs = std::filesystem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

/// Whether a larger value of the selection metric is better (the loss:
/// lower; a metric: as registered).
bool higher_is_better(const std::string& metric) {
  return metric != "val_loss" && metrics::metric(metric).traits.higher_is_better;
}

/// Forwards a logger's records to the caller's LogSink.
class ForwardingSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit ForwardingSink(LogSink sink) : sink_(std::move(sink)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    LogLevel level = LogLevel::kInfo;
    if (msg.level <= spdlog::level::debug) {
      level = LogLevel::kDebug;
    } else if (msg.level == spdlog::level::warn) {
      level = LogLevel::kWarning;
    } else if (msg.level >= spdlog::level::err) {
      level = LogLevel::kError;
    }
    sink_(level, std::string(msg.payload.data(), msg.payload.size()));
  }
  void flush_() override {}

 private:
  LogSink sink_;
};

/// The run's logger: the run's train.log (rank 0 only) and the caller's
/// sink; registered nowhere, so it touches no process-wide logging state.
std::shared_ptr<spdlog::logger> run_logger(const fs::path& run_dir, bool rank0,
                                           const LogSink& sink) {
  std::vector<spdlog::sink_ptr> sinks;
  if (sink) sinks.push_back(std::make_shared<ForwardingSink>(sink));
  if (rank0) {
    auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>((run_dir / kTrainLog).string());
    file->set_pattern("%Y-%m-%d %H:%M:%S %l: %v");
    sinks.push_back(file);
  }
  auto logger = std::make_shared<spdlog::logger>("svanet.train", sinks.begin(), sinks.end());
  logger->set_level(rank0 ? spdlog::level::info : spdlog::level::warn);
  logger->flush_on(spdlog::level::info);
  return logger;
}

class Trainer {
 public:
  Trainer(config::TrainConfig config, fs::path run_dir, RunOptions options, const StopRequest& stop,
          bool resuming)
      : config_(std::move(config)),
        run_dir_(std::move(run_dir)),
        options_(std::move(options)),
        stop_(stop),
        resuming_(resuming) {}

  TrainResult run();

 private:
  void setup();
  void restore();
  /// Trains one epoch from batch `first`; false when stopped by a signal.
  bool train_epoch(int64_t epoch, int64_t first, PartialEpoch& partial);
  /// Validation loss and metrics.
  std::pair<double, std::map<std::string, double>> validate();
  void save_state(const fs::path& path, const Position& next, const PartialEpoch& partial);
  io::CheckpointMeta meta(int64_t epoch, const std::map<std::string, double>& metrics) const;
  void write_history() const;
  /// With evaluate.threshold: calibrated, chooses the thresholds of the
  /// evaluated checkpoint on the validation split unless it has them.
  void calibrate_if_asked();
  bool rank0() const { return env_.rank == 0; }
  /// The run's log (train.log and the caller's sink) as a LogSink.
  LogSink log_sink() const {
    return [log = log_](LogLevel level, const std::string& message) {
      log->log(level == LogLevel::kWarning ? spdlog::level::warn : spdlog::level::info, message);
    };
  }
  /// What stopped the run, for its log line.
  std::string stop_reason() const {
    const auto reason = stop_.reason();
    return reason.empty() ? "another process stopped" : reason;
  }
  std::vector<torch::Tensor> trainable() const;
  /// Any rank's flag, on every rank (one collective).
  std::pair<bool, bool> agree(bool stop, bool non_finite);
  /// Fails when the processes' parameters differ (they must not: every
  /// rank applies the same averaged gradients).
  void check_in_sync(int64_t epoch);

  config::TrainConfig config_;
  fs::path run_dir_;
  RunOptions options_;
  const StopRequest& stop_;
  bool resuming_;

  std::shared_ptr<spdlog::logger> log_;
  DistributedEnv env_;
  std::shared_ptr<ProcessGroup> group_;
  torch::Device device_{torch::kCPU};
  torch::ScalarType autocast_ = torch::kFloat;
  data::DatasetIndex index_;
  data::Splits splits_;
  models::SegmentationModel model_{nullptr};
  std::unique_ptr<optim::Schedule> schedule_;
  std::unique_ptr<torch::optim::Optimizer> optimizer_;
  /// train.optimizer_in_backward: made after the optimizer and gone before it.
  std::optional<optim::StepInBackward> step_in_backward_;
  std::unique_ptr<losses::Loss> loss_;
  std::unique_ptr<data::DataLoader> train_loader_, val_loader_;
  std::unique_ptr<runtime::GradScaler> scaler_;
  std::optional<runtime::DeterminismGuard> determinism_;
  int64_t freeze_epochs_ = 0;

  Position position_;
  PartialEpoch partial_;
  std::vector<EpochRecord> history_;
  double best_value_ = kNaN;
  int64_t best_epoch_ = -1;
};

std::string shape_text(const torch::Tensor& t) {
  std::string out;
  for (const int64_t s : t.sizes()) out += (out.empty() ? "" : "x") + std::to_string(s);
  return out.empty() ? "scalar" : out;
}

/// model.init_from: the weights of an svanet checkpoint (or a run's best)
/// into `model`, all of them (strict) or those that fit by name and shape.
void init_weights(torch::nn::Module& model, const config::TrainConfig& config,
                  spdlog::logger& log) {
  const std::string file = resolve_model(config.init_from);
  const auto loaded = io::load_checkpoint(file);
  std::map<std::string, torch::Tensor> tensors;
  for (auto& [name, tensor] : io::state_dict(*loaded.model)) tensors.emplace(name, tensor);
  if (config.init_strict) {
    try {
      io::load_state_dict(model, tensors, io::LoadOptions().source(file));
    } catch (const Error& e) {
      SVANET_FAIL(config.source, ": model.init_from: ", e.what(),
                  " (model.init_strict: false loads only the tensors that fit)");
    }
    log.info("model.init_from {}: all {} tensors loaded ({}, epoch {})", file, tensors.size(),
             loaded.meta.model.name, loaded.meta.epoch + 1);
    return;
  }
  std::vector<std::string> skipped;
  std::map<std::string, torch::Tensor> fitting;
  for (const auto& [name, mine] : io::state_dict(model)) {
    const auto it = tensors.find(name);
    if (it == tensors.end()) {
      skipped.push_back(name + " (not in the checkpoint)");
    } else if (it->second.sizes() != mine.sizes()) {
      skipped.push_back(name + " (" + shape_text(it->second) + " there, " + shape_text(mine) +
                        " here)");
    } else {
      fitting.emplace(name, it->second);
    }
  }
  io::load_state_dict(model, fitting, io::LoadOptions().strict(false).source(file));
  log.info("model.init_from {}: {} tensors loaded, {} left as initialised{}{}", file,
           fitting.size(), skipped.size(), skipped.empty() ? "" : ": ", utils::join(skipped, ", "));
}

std::vector<torch::Tensor> Trainer::trainable() const {
  std::vector<torch::Tensor> out;
  for (const auto& p : model_->parameters()) {
    if (p.requires_grad()) out.push_back(p);
  }
  return out;
}

void Trainer::setup() {
  env_ = DistributedEnv::from_environment();
  const auto& t = config_.train;
  try {
    device_ = runtime::resolve_device(t.device, env_.local_rank, env_.world_size);
  } catch (const Error& e) {
    SVANET_FAIL(config_.source, ": train.device (--device): ", e.what());
  }
  // Before any CUDA work: this process's GPU becomes the current one, so
  // that nothing (NCCL, pinned memory, streams) opens a context on GPU 0.
  runtime::use_device(device_);
  try {
    autocast_ = runtime::autocast_dtype(t.precision, device_);
  } catch (const Error& e) {
    SVANET_FAIL(config_.source, ": train.precision: ", e.what());
  }
  // The evaluation after training runs on the same device: a precision it
  // cannot run fails here, not after the training.
  try {
    runtime::autocast_dtype(
        runtime::resolve_inference_precision(config_.evaluate.precision, device_), device_);
  } catch (const Error& e) {
    SVANET_FAIL(config_.source, ": evaluate.precision: ", e.what());
  }
  if (env_.active()) group_ = std::make_shared<ProcessGroup>(env_, device_);
  if (rank0()) fs::create_directories(run_dir_ / kCheckpointsDir);
  log_ = run_logger(run_dir_, rank0(), options_.log);
  if (group_) {
    log_->info("process group: {} processes ({}), backend {}, this is rank {}", env_.world_size,
               env_.launcher, group_->backend(), env_.rank);
  }
  if (device_.is_cuda()) torch::cuda::manual_seed_all(t.seed);
  torch::manual_seed(t.seed);
  // For the run only: the caller's settings come back with the Trainer.
  determinism_.emplace(t.deterministic, !t.deterministic && device_.is_cuda());

  // Data: the index, its check, the splits.
  const auto& d = config_.data;
  SVANET_CHECK(!d.root.empty(), config_.source, ": data.root is not set (--data ROOT)");
  index_ = data::index_dataset(
      d.root, d.dataset.empty() ? std::nullopt : std::optional<std::string>(d.dataset));
  const fs::path splits_path = run_dir_ / kSplits;
  if (resuming_ && fs::exists(splits_path)) {
    splits_ = data::read_splits(splits_path.string(), index_);
  } else {
    const auto report = data::check_dataset(index_);
    if (report.errors() > 0) {
      std::string listing;
      int64_t shown = 0;
      for (const auto& p : report.problems) {
        if (p.severity != data::Problem::Severity::kError) continue;
        if (shown++ < 5) listing += "\n  " + p.file + ": " + p.message;
      }
      const std::string more =
          shown > 5 ? "\n  ... and " + std::to_string(shown - 5) + " more" : std::string();
      // Nothing goes into the run folder: a refused run leaves none behind.
      SVANET_FAIL("the dataset at ", index_.root, " has ", report.errors(),
                  " error(s); refusing to train on it:", listing, more, "\n(`svanet check-data ",
                  d.root, "` lists them all)");
    }
    for (const auto& p : report.problems) log_->warn("{}: {}", p.file, p.message);
    splits_ = data::make_splits(index_, d.splits);
    if (rank0()) data::write_splits(splits_path.string(), splits_);
  }
  SVANET_CHECK(!splits_.train.empty(), index_.root, ": the training split is empty");
  SVANET_CHECK(!splits_.val.empty(), index_.root,
               ": the validation split is empty (data.splits.val_fraction)");
  log_->info("data: {} ({} layout at {}): {} train, {} val, {} test images; {}",
             index_.definition.name, index_.layout, index_.root, splits_.train.size(),
             splits_.val.size(), splits_.test.size(), splits_.rule);

  // Model.
  const auto classes = static_cast<int64_t>(index_.definition.classes.size());
  auto& spec = config_.model;
  if (config_.num_classes_given) {
    SVANET_CHECK(spec.options.num_classes() == classes, config_.source, ": model.num_classes is ",
                 spec.options.num_classes(), " but the dataset '", index_.definition.name, "' has ",
                 classes, " classes (background included)");
  }
  spec.options.num_classes(classes);
  if (spec.options.image_size() == 0) spec.options.image_size(d.augment.size);
  model_ = io::build_model(spec);
  // A resumed run restores its own weights instead.
  if (!config_.init_from.empty() && !resuming_) init_weights(*model_, config_, *log_);
  model_->to(device_);
  if (t.channels_last) {
    torch::NoGradGuard no_grad;
    for (auto& p : model_->parameters()) {
      if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
    }
  }
  try {
    model_->set_activation_checkpointing(
        models::parse_activation_checkpointing(t.activation_checkpointing));
  } catch (const Error& e) {
    SVANET_FAIL(config_.source, ": train.activation_checkpointing: ", e.what());
  }
  if (model_->activation_checkpointing() != models::ActivationCheckpointing::kNone) {
    log_->info("activation checkpointing: {} (recomputed in the backward pass)",
               t.activation_checkpointing);
  }
  if (group_) broadcast_module(*group_, *model_);
  if (t.sync_batchnorm && group_) {
    std::shared_ptr<runtime::Collective> collective = group_;
    const int64_t layers = models::sync_batchnorm(*model_, collective);
    log_->info("SyncBatchNorm: {} BatchNorm layers normalise over the {} processes' batches",
               layers, env_.world_size);
  } else if (t.sync_batchnorm) {
    log_->info("train.sync_batchnorm: one process, nothing to synchronise");
  }
  // The registered components the config names; their errors name the section.
  auto build = [this](const char* section, auto make) {
    try {
      return make();
    } catch (const Error& e) {
      SVANET_FAIL(config_.source, ": train.", section, ": ", e.what());
    }
  };
  schedule_ = build("schedule",
                    [&] { return optim::create_schedule(t.schedule.name, t.schedule.options); });
  optimizer_ = build("optimizer", [&] {
    return optim::create_optimizer(t.optimizer.name, t.optimizer.options, model_->parameters(),
                                   schedule_->learning_rate(0, t.epochs));
  });
  loss_ = build("loss", [&] {
    return losses::create_loss(t.loss.name, t.loss.options, losses::LossContext{classes, 255});
  });
  loss_->to(device_);
  scaler_ = std::make_unique<runtime::GradScaler>(autocast_ == torch::kHalf);
  if (t.optimizer_in_backward) {
    // What needs every gradient after the backward pass.
    std::string conflict;
    if (t.grad_clip > 0) {
      conflict = "train.grad_clip (clipping reads every gradient at once)";
    } else if (autocast_ == torch::kHalf) {
      conflict =
          "train.precision: fp16 (its loss scaling skips a step when a gradient is not finite, "
          "known only at the end of the backward pass)";
    } else if (group_) {
      conflict = "several processes (their gradients are averaged after the backward pass)";
    }
    SVANET_CHECK(conflict.empty(), config_.source,
                 ": train.optimizer_in_backward cannot be combined with ", conflict);
    step_in_backward_.emplace(*optimizer_);
    log_->info("optimizer step in the backward pass (each parameter's gradient freed once used)");
  }
  freeze_epochs_ = t.freeze_encoder_epochs.value_or(schedule_->first_cycle_epochs(t.epochs));
  if (freeze_epochs_ > 0 && model_->encoder() == nullptr) {
    log_->warn("model '{}' has no encoder to freeze; train.freeze_encoder_epochs is ignored",
               spec.name);
    freeze_epochs_ = 0;
  } else if (freeze_epochs_ > 0 && spec.options.overrides().count(io::kPretrainedBackbone) == 0) {
    log_->warn(
        "the encoder is frozen for {} epoch(s) but starts from random weights (set "
        "model.options.pretrained_backbone, or train.freeze_encoder_epochs: 0)",
        freeze_epochs_);
  }

  // Loaders.
  data::LoaderOptions lo;
  lo.batch_size = d.batch_size;
  lo.workers = d.workers;
  lo.seed = t.seed;
  lo.rank = env_.rank;
  lo.world_size = env_.world_size;
  // On the CPU the model uses every core: decode between steps, not beside them.
  lo.prefetch = device_.is_cuda() ? 2 : 0;
  train_loader_ = std::make_unique<data::DataLoader>(
      index_.definition, splits_.train, data::Transform::train(d.augment, d.normalization), lo);
  lo.shuffle = false;
  lo.drop_single = false;
  lo.keep_native_masks = true;
  lo.even_shards = false;
  // Validation (and evaluation) resize to the model's nominal size, which
  // may differ from the training crop (data.augment.size).
  val_loader_ = std::make_unique<data::DataLoader>(
      index_.definition, splits_.val,
      data::Transform::eval(spec.options.image_size(), d.normalization), lo);

  if (rank0()) {
    config_.data.root = fs::absolute(d.root).lexically_normal().string();
    if (!config_.init_from.empty()) {
      config_.init_from = fs::absolute(config_.init_from).lexically_normal().string();
    }
    utils::write_file_atomic((run_dir_ / kConfig).string(), config::to_yaml(config_));
  }
  const int64_t params = [&] {
    int64_t n = 0;
    for (const auto& p : model_->parameters()) n += p.numel();
    return n;
  }();
  log_->info(
      "model: {} ({} parameters, {} classes, nominal size {}); device {}{}; {} epochs of {} "
      "batches of {}",
      spec.name, params, classes, spec.options.image_size(), device_.str(),
      autocast_ == torch::kFloat ? "" : " with " + t.precision + " autocast", t.epochs,
      train_loader_->batches_per_epoch(), d.batch_size);
}

void Trainer::restore() {
  if (rank0()) {
    // Temporary files of writes that a crash interrupted.
    for (const auto& dir : {run_dir_, run_dir_ / kCheckpointsDir})
      utils::remove_stale_temporaries(dir.string());
  }
  const fs::path last = run_dir_ / kCheckpointsDir / kLastState;
  const fs::path interrupted = run_dir_ / kCheckpointsDir / kInterruptedState;
  std::optional<io::TrainingState> state;
  std::optional<RunState> run;
  std::string from;
  for (const auto& path : {last, interrupted}) {
    if (!fs::exists(path)) continue;
    auto s = io::load_training_state(path.string());
    auto r = RunState::read(s, path.string());
    if (!run || run->next < r.next) {
      state = std::move(s);
      run = std::move(r);
      from = path.string();
    }
  }
  if (!state) {
    log_->info("no saved state in {}: starting from the first epoch", run_dir_.string());
    return;
  }
  const auto own = [&](const std::string& saved, const std::string& configured, const char* what) {
    SVANET_CHECK(saved.empty() || saved == configured, from, ": the state is from a run with ",
                 what, " ", saved, ", but ", (run_dir_ / kConfig).string(), " has ", configured,
                 " (a state copied from another run?); put the run's own state back, or train a "
                 "new run from its config: svanet train -c ",
                 (run_dir_ / kConfig).string(), " --out NEW_FOLDER");
  };
  own(run->model, config_.model.name, "model");
  own(run->seed, std::to_string(config_.train.seed), "seed");
  std::map<std::string, torch::Tensor> weights;
  for (const auto& [name, tensor] : state->tensors) {
    if (name.rfind("model.", 0) == 0) weights.emplace(name.substr(6), tensor);
  }
  io::load_state_dict(*model_, weights, io::LoadOptions().source(from));
  position_ = run->next;
  io::restore_optimizer(*optimizer_, *state);
  io::restore_rng(*state);
  partial_ = run->partial;
  best_value_ = run->best_value;
  best_epoch_ = run->best_epoch;
  scaler_->restore(run->scaler_scale, run->scaler_growth);
  history_ = run->history;
  log_->info("resuming from {}: epoch {}{}", from, position_.epoch,
             position_.batch > 0 ? ", batch " + std::to_string(position_.batch) : "");
}

void Trainer::save_state(const fs::path& path, const Position& next, const PartialEpoch& partial) {
  io::TrainingState state;
  RunState run;
  run.next = next;
  run.partial = partial;
  run.best_value = best_value_;
  run.best_epoch = best_epoch_;
  run.scaler_scale = scaler_->value();
  run.scaler_growth = scaler_->growth_tracker();
  run.history = history_;
  run.select_metric = config_.train.select_metric;
  run.model = config_.model.name;
  run.seed = std::to_string(config_.train.seed);
  run.write(state);
  for (const auto& [name, tensor] : io::state_dict(*model_)) {
    state.tensors.emplace_back("model." + name, tensor);
  }
  io::capture_optimizer(*optimizer_, state);
  io::capture_rng(state);
  io::save_training_state(path.string(), state);
}

io::CheckpointMeta Trainer::meta(int64_t epoch,
                                 const std::map<std::string, double>& metrics) const {
  io::CheckpointMeta m;
  m.classes = index_.definition.classes;
  m.normalization = config_.data.normalization;
  m.epoch = epoch;
  m.metrics = metrics;
  m.note = "trained by svanet " SVANET_VERSION " (" + config_.model.name + ", " +
           index_.definition.name + ")";
  return m;
}

void Trainer::calibrate_if_asked() {
  const auto& e = config_.evaluate;
  if (inference::ThresholdChoice::parse(e.threshold).kind !=
      inference::ThresholdChoice::Kind::kCalibrated) {
    return;
  }
  const auto checkpoint = run_checkpoint_file(run_dir_.string(), e.checkpoint);
  if (!io::read_checkpoint_meta(checkpoint).thresholds.empty()) return;
  CalibrateOptions co;
  co.checkpoint = e.checkpoint;
  co.metric = e.calibrate_metric;
  co.device = device_.str();
  co.log = log_sink();
  calibrate_run(run_dir_.string(), co);
}

void Trainer::write_history() const {
  utils::write_file_atomic((run_dir_ / kMetricsCsv).string(), metrics_csv(history_));
  write_progress_png((run_dir_ / kProgressPng).string(), history_, config_.train.select_metric);
}

std::pair<bool, bool> Trainer::agree(bool stop, bool non_finite) {
  if (!group_) return {stop, non_finite};
  std::vector<torch::Tensor> flags{
      torch::tensor({stop ? 1.0F : 0.0F, non_finite ? 1.0F : 0.0F}).to(device_)};
  group_->all_reduce_sum(flags);
  const auto cpu = flags[0].cpu();
  return {cpu[0].item<float>() > 0, cpu[1].item<float>() > 0};
}

void Trainer::check_in_sync(int64_t epoch) {
  torch::NoGradGuard no_grad;
  double checksum = 0.0;
  int64_t i = 0;
  for (const auto& p : model_->parameters()) {
    checksum += p.to(torch::kDouble).sum().item<double>() * static_cast<double>(++i % 7 + 1);
  }
  char text[64];
  std::snprintf(text, sizeof(text), "%a", checksum);
  const auto all = group_->all_gather_bytes(text);
  for (size_t r = 1; r < all.size(); ++r) {
    SVANET_CHECK(all[r] == all[0], "epoch ", epoch + 1, ": the weights of rank ", r,
                 " differ from rank 0's (checksums ", all[r], " and ", all[0],
                 "): the processes are out of step");
  }
}

bool Trainer::train_epoch(int64_t epoch, int64_t first, PartialEpoch& partial) {
  const auto& t = config_.train;
  model_->train();
  train_loader_->start_epoch(epoch, first);
  const int64_t total = train_loader_->batches_per_epoch();
  Progress progress("epoch " + std::to_string(epoch + 1) + "/" + std::to_string(t.epochs), total,
                    options_.progress_bar && rank0(), options_.log_interval_s,
                    [this](const std::string& line) { log_->info("{}", line); });
  for (int64_t b = 0; b < first; ++b) progress.step(0);
  progress.add_losses(partial.steps, partial.loss_sum);
  const auto start = std::chrono::steady_clock::now();
  const double seconds_before = partial.seconds;
  int64_t batch_index = first;
  // What trains changes only between epochs (the encoder is frozen or not).
  const auto params = trainable();
  // The losses stay on the device until a check every `every` steps (and at
  // the end of the epoch, and at once on a stop request when there is only
  // this process): reading one after each step would make the host wait for
  // a GPU to finish the step. A check reads the steps' summed loss and the
  // first non-finite one in one copy; with several processes, one
  // collective shares the stop requests and non-finite flags, at the same
  // step on every rank.
  const int64_t every = t.check_every.value_or(device_.is_cuda() ? 20 : 1);
  const auto on_device = torch::TensorOptions().dtype(torch::kDouble).device(device_);
  auto loss_sum = torch::zeros({}, on_device);
  auto first_bad = torch::full({}, -1.0, on_device);  // batch index
  auto bad_value = torch::zeros({}, on_device);
  int64_t pending = 0;
  while (auto batch = train_loader_->next()) {
    auto images = batch->images.to(device_, /*non_blocking=*/true);
    const auto masks = batch->masks.to(device_, /*non_blocking=*/true);
    if (t.channels_last) images = images.contiguous(torch::MemoryFormat::ChannelsLast);
    torch::Tensor loss;
    {
      runtime::AutocastGuard autocast(device_, autocast_);
      const auto logits = model_->forward(images);
      loss = (*loss_)(logits, masks);
    }
    {
      torch::NoGradGuard no_grad;
      const auto value = loss.detach().to(torch::kDouble);
      const auto bad = torch::isfinite(value).logical_not().logical_and(first_bad.lt(0));
      first_bad = torch::where(bad, torch::full_like(first_bad, static_cast<double>(batch_index)),
                               first_bad);
      bad_value = torch::where(bad, value, bad_value);
      loss_sum.add_(value);
    }
    optimizer_->zero_grad();
    scaler_->scale(loss).backward();
    if (group_) average_gradients(*group_, params);
    // With fp16 loss scaling, whether to skip the step is read here (as
    // PyTorch's GradScaler.step does); bf16 and fp32 read nothing.
    const bool finite = scaler_->unscale(params);
    if (finite && !step_in_backward_) {
      if (t.grad_clip > 0) optim::clip_grad_norm(params, t.grad_clip);
      optimizer_->step();
    }
    scaler_->update(finite);
    const auto n = static_cast<int64_t>(batch->stems.size());
    partial.images += n * env_.world_size;
    ++pending;
    ++batch_index;
    progress.step(n * env_.world_size);
    const bool stop_here = stop_.requested();
    if (pending < every && batch_index < total && (group_ || !stop_here)) continue;

    // A check.
    std::vector<torch::Tensor> read{loss_sum, first_bad, bad_value};
    if (group_) {
      std::vector<torch::Tensor> flags{torch::stack(
          {torch::full({}, stop_here ? 1.0 : 0.0, on_device), first_bad.ge(0).to(torch::kDouble)})};
      group_->all_reduce_sum(flags);
      read.push_back(flags[0]);
    }
    const auto host = torch::cat({torch::stack({read[0], read[1], read[2]}),
                                  group_ ? read[3] : torch::zeros({0}, on_device)})
                          .cpu();
    const auto* v = host.data_ptr<double>();
    const bool stop = group_ ? v[3] > 0 : stop_here;
    const bool non_finite = group_ ? v[4] > 0 : v[1] >= 0;
    if (non_finite) {
      progress.finish();
      const std::string kept =
          position_.epoch > 0 ? "The last good checkpoint is kept: " +
                                    (run_dir_ / kCheckpointsDir / kLastCheckpoint).string() +
                                    " (epoch " + std::to_string(position_.epoch) + ")"
                              : std::string("No epoch had completed, so there is no checkpoint.");
      const std::string where = v[1] >= 0
                                    ? "batch " + std::to_string(static_cast<int64_t>(v[1]) + 1) +
                                          ": the loss is " + std::to_string(v[2])
                                    : "batches " + std::to_string(batch_index - pending + 1) + "-" +
                                          std::to_string(batch_index) +
                                          ": the loss is not finite on another process";
      SVANET_FAIL("epoch ", epoch + 1, ", ", where,
                  ", so training stopped (a learning rate too high for this model and data, or "
                  "bad input values). ",
                  kept);
    }
    partial.loss_sum += v[0];
    partial.steps += pending;
    progress.add_losses(pending, v[0]);
    loss_sum.zero_();
    pending = 0;
    partial.seconds =
        seconds_before +
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (stop && batch_index < total) {
      progress.finish();
      position_ = {epoch, batch_index};
      if (rank0()) {
        save_state(run_dir_ / kCheckpointsDir / kInterruptedState, position_, partial);
      }
      log_->warn(
          "stopped by {} during epoch {} after batch {}/{}; `svanet train --resume {}` "
          "continues from there",
          stop_reason(), epoch + 1, batch_index, total, run_dir_.string());
      return false;
    }
  }
  progress.finish();
  return true;
}

std::pair<double, std::map<std::string, double>> Trainer::validate() {
  model_->eval();
  // Scored as the evaluation scores, objects matched by the same rule.
  const auto mo = evaluation_metric_options(config_.evaluate, index_.definition.classes);
  metrics::Evaluator evaluator(mo);
  double loss_sum = 0.0, count = 0.0;
  torch::Tensor device_loss;
  val_loader_->start_epoch(0);
  torch::NoGradGuard no_grad;
  while (auto batch = val_loader_->next()) {
    auto images = batch->images.to(device_, true);
    if (config_.train.channels_last) images = images.contiguous(torch::MemoryFormat::ChannelsLast);
    torch::Tensor logits;
    {
      runtime::AutocastGuard autocast(device_, autocast_);
      logits = model_->forward(images).to(torch::kFloat);
    }
    const auto n = static_cast<double>(batch->stems.size());
    // Summed on the device, read once at the end.
    const auto loss = (*loss_)(logits, batch->masks.to(device_)).to(torch::kDouble) * n;
    device_loss = device_loss.defined() ? device_loss + loss : loss;
    count += n;
    add_batch(evaluator, logits, *batch);
  }
  if (device_loss.defined()) loss_sum = device_loss.item<double>();
  if (group_) {
    std::vector<torch::Tensor> sums{torch::tensor({loss_sum, count}, torch::kDouble)};
    if (device_.is_cuda()) sums[0] = sums[0].to(device_);
    group_->all_reduce_sum(sums);
    const auto cpu = sums[0].cpu();
    loss_sum = cpu[0].item<double>();
    count = cpu[1].item<double>();
    metrics::Evaluator all(mo);
    for (const auto& bytes : group_->all_gather_bytes(evaluator.serialize())) {
      all.merge_serialized(bytes);
    }
    return {loss_sum / std::max(1.0, count), metrics::headline(all.aggregate())};
  }
  return {loss_sum / std::max(1.0, count), metrics::headline(evaluator.aggregate())};
}

TrainResult Trainer::run() {
  setup();
  if (resuming_) restore();
  const auto& t = config_.train;
  TrainResult result;
  result.run_dir = run_dir_.string();
  result.select_metric = t.select_metric;
  const fs::path checkpoints = run_dir_ / kCheckpointsDir;
  while (position_.epoch < t.epochs) {
    const int64_t epoch = position_.epoch;
    if (agree(stop_.requested(), false).first) {
      // Between epochs the saved state is already current.
      log_->warn("stopped before epoch {} ({}); `svanet train --resume {}` continues from there",
                 epoch + 1, stop_reason(), run_dir_.string());
      result.interrupted = true;
      result.epochs_completed = epoch;
      result.history = history_;
      return result;
    }
    const double lr = schedule_->learning_rate(epoch, t.epochs);
    for (auto& group : optimizer_->param_groups()) group.options().set_lr(lr);
    const bool frozen = epoch < freeze_epochs_;
    if (frozen && model_->frozen_encoder_stages() == 0) {
      model_->freeze_encoder(-1, t.fix_norm_statistics);
      log_->info("encoder frozen for epochs 1-{} (BatchNorm statistics {})", freeze_epochs_,
                 t.fix_norm_statistics ? "fixed" : "updating");
    } else if (!frozen && model_->frozen_encoder_stages() != 0) {
      model_->unfreeze_encoder();
      log_->info("encoder unfrozen from epoch {}", epoch + 1);
    }
    if (!train_epoch(epoch, position_.batch, partial_)) {
      result.interrupted = true;
      result.epochs_completed = epoch;
      result.history = history_;
      return result;
    }
    if (group_) {
      check_in_sync(epoch);
      broadcast_module(*group_, *model_, /*buffers_only=*/true);
    }
    EpochRecord record;
    record.epoch = epoch;
    record.lr = lr;
    record.train_loss =
        partial_.steps > 0 ? partial_.loss_sum / static_cast<double>(partial_.steps) : kNaN;
    record.frozen_encoder = frozen;
    record.val_loss = kNaN;
    const bool validate_now = (epoch + 1) % t.validate_every == 0 || epoch + 1 == t.epochs;
    if (validate_now) {
      auto [val_loss, metrics] = validate();
      record.val_loss = val_loss;
      record.val = std::move(metrics);
      const double value =
          t.select_metric == "val_loss" ? val_loss : record.val.at(t.select_metric);
      const bool better =
          std::isfinite(value) &&
          (best_epoch_ < 0 ||
           (higher_is_better(t.select_metric) ? value > best_value_ : value < best_value_));
      if (better) {
        best_value_ = value;
        best_epoch_ = epoch;
        record.best = true;
      }
    }
    record.seconds = partial_.seconds;
    record.images_per_second =
        partial_.seconds > 0 ? static_cast<double>(partial_.images) / partial_.seconds : 0.0;
    history_.push_back(record);
    position_ = {epoch + 1, 0};
    const PartialEpoch done;
    if (rank0()) {
      // The state file is written last: it is what resume trusts.
      std::map<std::string, double> m = record.val;
      m["train_loss"] = record.train_loss;
      m["val_loss"] = record.val_loss;
      io::save_checkpoint((checkpoints / kLastCheckpoint).string(), *model_, meta(epoch, m));
      if (record.best) {
        utils::copy_file_atomic((checkpoints / kLastCheckpoint).string(),
                                (checkpoints / kBestCheckpoint).string());
      }
      save_state(checkpoints / kLastState, position_, done);
      std::error_code ignored;
      fs::remove(checkpoints / kInterruptedState, ignored);
      write_history();
    }
    partial_ = done;
    log_->info("{}", epoch_line(record, t.epochs, t.select_metric, best_value_, best_epoch_));
    if (rank0() && options_.on_epoch) options_.on_epoch(record);
  }
  result.epochs_completed = t.epochs;
  result.history = history_;
  result.best_value = best_value_;
  result.best_epoch = best_epoch_;
  // Every rank is done training; only rank 0 evaluates (the others need not
  // wait for it, which could outlast the group's timeout).
  if (group_) group_->barrier();
  if (rank0() && config_.evaluate.after_training) {
    EvaluateOptions eo;
    eo.checkpoint = config_.evaluate.checkpoint;
    eo.split = config_.evaluate.split;
    eo.device = device_.str();
    eo.log = log_sink();
    // No summary: whatever is in the folder is an unfinished evaluation.
    eo.overwrite = true;
    const fs::path summary = fs::path(run_evaluation_dir(run_dir_.string(), eo)) / kSummaryJson;
    if (fs::exists(summary)) {
      log_->info("the run is complete; its evaluation is in {}", summary.parent_path().string());
      const auto evaluated = evaluation::read_summary(summary.string());
      const std::string rule = metrics::MatchRule::parse(config_.evaluate.match).to_string();
      if (evaluated.match() != rule) {
        log_->warn(
            "its objects were matched by {} (an older evaluation), the run's rule is {}; `svanet "
            "evaluate -r {} --overwrite` scores them again",
            evaluated.match(), rule, run_dir_.string());
      }
      result.test = metrics::headline(evaluated);
    } else {
      // Free the training machinery before predicting the test split.
      train_loader_.reset();
      val_loader_.reset();
      step_in_backward_.reset();
      optimizer_.reset();
      EvaluationResult evaluation;
      try {
        calibrate_if_asked();
        log_->info("evaluating the {} checkpoint on the {} split", eo.checkpoint, eo.split);
        evaluation = evaluate_run(run_dir_.string(), eo);
      } catch (const Interrupted& e) {
        // Trained, not evaluated: --resume evaluates it.
        log_->warn("{}", e.what());
        result.interrupted = true;
        return result;
      }
      result.test = metrics::headline(evaluation.summary);
      log_->info("{}", test_line(evaluation.summary, evaluation.out_dir));
      for (const auto& warning : metrics::coverage_warnings(evaluation.summary)) {
        log_->warn("{}", warning);
      }
    }
  }
  result.completed = true;
  return result;
}

/// Removes what is in folder `dir`, failing with the system's reason.
void empty_folder(const fs::path& dir) {
  std::error_code error;
  for (auto it = fs::directory_iterator(dir, error); !error && it != fs::directory_iterator();
       it.increment(error)) {
    std::error_code removed;
    fs::remove_all(it->path(), removed);
    SVANET_CHECK(!removed, "cannot remove ", it->path().string(), ": ", removed.message());
  }
  SVANET_CHECK(!error, "cannot empty ", dir.string(), ": ", error.message());
}

/// Whether `dir` holds only what a training's set-up writes before
/// config.yaml (train.log, splits.json, an empty checkpoints/): a run
/// killed while it set up, which trained nothing.
bool abandoned_setup(const fs::path& dir) {
  std::error_code error;
  if (!fs::is_directory(dir, error) || fs::exists(dir / kConfig, error)) return false;
  bool logged = false;
  for (auto it = fs::directory_iterator(dir, error); !error && it != fs::directory_iterator();
       it.increment(error)) {
    const std::string name = it->path().filename().string();
    logged = logged || name == kTrainLog;
    const bool setup_file = name == kTrainLog || name == kSplits ||
                            (name == kCheckpointsDir && fs::is_empty(it->path(), error)) ||
                            name.find(".tmp.") != std::string::npos;
    if (!setup_file) return false;
  }
  return !error && logged;
}

void prepare_new_run(const fs::path& run_dir, bool overwrite) {
  // Only rank 0 judges and fills the folder; the others touch it only after
  // joining the process group, which rank 0 hosts once it got here.
  if (DistributedEnv::from_environment().rank != 0) return;
  if (!utils::missing_or_empty(run_dir.string()) && abandoned_setup(run_dir)) {
    // The same command again after a kill during set-up: nothing to lose.
    empty_folder(run_dir);
  }
  if (!utils::missing_or_empty(run_dir.string())) {
    SVANET_CHECK(fs::is_directory(run_dir), run_dir.string(), ": is a file, expected a folder");
    SVANET_CHECK(overwrite, run_dir.string(),
                 " already exists and is not empty; `svanet train --resume ", run_dir.string(),
                 "` continues it, --overwrite replaces it, or choose another --out");
    empty_folder(run_dir);
  }
  utils::create_folders(run_dir.string());
}

TrainResult resume_run(const fs::path& dir, const RunOptions& options, const StopRequest& stop);

/// Trains repeat after repeat (resuming those already started) and writes
/// repeats.json / repeats.md.
TrainResult run_repeats(const config::TrainConfig& base, const fs::path& run_dir,
                        const RunOptions& options, const StopRequest& stop) {
  TrainResult all;
  all.run_dir = run_dir.string();
  all.select_metric = base.train.select_metric;
  std::vector<std::map<std::string, double>> tests;
  for (int64_t i = 0; i < base.train.repeats; ++i) {
    const fs::path dir = repeat_dir(run_dir.string(), i);
    config::TrainConfig c = base;
    c.train.repeats = 1;
    c.train.seed = base.train.seed + static_cast<uint64_t>(i);
    TrainResult r;
    if (fs::exists(dir / kConfig)) {
      r = resume_run(dir, options, stop);
    } else {
      fs::create_directories(dir);
      r = Trainer(c, dir, options, stop, false).run();
    }
    all.repeat_dirs.push_back(dir.string());
    if (r.interrupted) {
      all.interrupted = true;
      return all;
    }
    tests.push_back(r.test);
  }
  if (DistributedEnv::from_environment().rank == 0) {
    write_repeats_summary(run_dir, all.repeat_dirs, tests);
  }
  all.completed = true;
  all.epochs_completed = base.train.epochs;
  return all;
}

/// The epochs a run folder has trained (a partly trained one counts), from
/// its saved states; 0 without any.
int64_t epochs_trained(const fs::path& dir) {
  int64_t trained = 0;
  for (const char* name : {kLastState, kInterruptedState}) {
    const fs::path path = dir / kCheckpointsDir / name;
    if (!fs::exists(path)) continue;
    const auto run = RunState::read(io::load_training_state(path.string()), path.string());
    trained = std::max(trained, run.next.epoch + (run.next.batch > 0 ? 1 : 0));
  }
  return trained;
}

/// RunOptions::epochs for one run folder (not a run with repeats): checks
/// the new total, records it in config.yaml and sets the old evaluation
/// aside. Returns the config to resume with.
config::TrainConfig extend_run(const fs::path& dir, config::TrainConfig config, int64_t epochs) {
  SVANET_CHECK(epochs >= 1, "--epochs must be positive, got ", epochs);
  const int64_t trained = epochs_trained(dir);
  SVANET_CHECK(epochs >= trained, dir.string(), ": the run has trained ", trained,
               " epoch(s); --epochs must be at least that, got ", epochs);
  if (epochs == config.train.epochs) return config;
  config.train.epochs = epochs;
  if (DistributedEnv::from_environment().rank == 0) {
    // The folder the training's own evaluation went to (run_evaluation_dir).
    const fs::path eval = dir / ("eval_" + config.evaluate.split);
    if (fs::exists(eval)) {
      fs::path kept = eval;
      kept += "_epoch" + std::to_string(trained);
      std::error_code error;
      fs::remove_all(kept, error);
      fs::rename(eval, kept, error);
      SVANET_CHECK(!error, "cannot move ", eval.string(), " aside: ", error.message());
    }
    utils::write_file_atomic((dir / kConfig).string(), config::to_yaml(config));
  }
  return config;
}

/// What a run folder's training made and a restart from the first epoch
/// would replace: checkpoints, metrics.csv, evaluations. The checkpoints of
/// a first epoch killed before it saved its state (and metrics.csv) do not
/// count: the same epoch trained again writes them again.
std::vector<fs::path> trained_outputs(const fs::path& dir) {
  std::vector<fs::path> found;
  std::error_code error;
  const fs::path metrics = dir / kMetricsCsv;
  const bool recorded = fs::exists(metrics, error);
  for (const fs::path& path :
       {dir / kCheckpointsDir / kBestCheckpoint, dir / kCheckpointsDir / kLastCheckpoint}) {
    if (fs::exists(path, error) &&
        (recorded || io::read_checkpoint_meta(path.string()).epoch > 0)) {
      found.push_back(path);
    }
  }
  if (recorded) found.push_back(metrics);
  for (auto it = fs::directory_iterator(dir, error); !error && it != fs::directory_iterator();
       it.increment(error)) {
    if (it->is_directory() && it->path().filename().string().rfind("eval_", 0) == 0) {
      found.push_back(it->path());
    }
  }
  return found;
}

/// A run folder without a saved state (last.state or interrupted.state)
/// resumes from the first epoch only when nothing it trained would be
/// replaced (a run stopped by kill -9 in its first epoch), or the user said
/// --overwrite: then what it made is removed first.
void check_resumable(const fs::path& dir, bool overwrite) {
  const fs::path last = dir / kCheckpointsDir / kLastState;
  if (fs::exists(last) || fs::exists(dir / kCheckpointsDir / kInterruptedState)) return;
  const auto made = trained_outputs(dir);
  if (made.empty()) return;
  if (!overwrite) {
    std::string listed;
    for (const auto& path : made) {
      listed += (listed.empty() ? "" : ", ") + path.lexically_relative(dir).string();
    }
    SVANET_FAIL("cannot resume ", dir.string(), ": ", last.string(),
                " is missing (nor is there an interrupted.state), so the epoch, optimizer and "
                "generators to continue from are unknown, and starting again would replace ",
                listed,
                ". Copy the state file back if the folder was copied without it; --overwrite "
                "trains the run again from the first epoch, replacing them; or train a new run "
                "from its config: svanet train -c ",
                (dir / kConfig).string(), " --out NEW_FOLDER");
  }
  if (DistributedEnv::from_environment().rank != 0) return;
  for (const auto& path : made) {
    std::error_code error;
    fs::remove_all(path, error);
    SVANET_CHECK(!error, "cannot remove ", path.string(), ": ", error.message());
  }
}

TrainResult resume_run(const fs::path& dir, const RunOptions& options, const StopRequest& stop) {
  const fs::path config_path = dir / kConfig;
  SVANET_CHECK(!abandoned_setup(dir), dir.string(),
               ": the run stopped while it was set up, before it trained anything (no ", kConfig,
               "); run the same `svanet train -c CONFIG --out ", dir.string(), "` again");
  SVANET_CHECK(fs::exists(config_path), dir.string(), ": not a run folder (no ", kConfig, ")");
  auto config = config::load_train_config(config_path.string());
  if (config.train.repeats > 1) {
    if (options.epochs && *options.epochs != config.train.epochs) {
      SVANET_CHECK(*options.epochs >= 1, "--epochs must be positive");
      // Every repeat can take the new total, or none is changed.
      for (const auto& repeat : repeat_dirs(dir.string())) {
        const int64_t trained = epochs_trained(repeat);
        SVANET_CHECK(*options.epochs >= trained, repeat, ": the repeat has trained ", trained,
                     " epoch(s); --epochs must be at least that, got ", *options.epochs);
      }
      config.train.epochs = *options.epochs;
      if (DistributedEnv::from_environment().rank == 0) {
        utils::write_file_atomic(config_path.string(), config::to_yaml(config));
      }
    }
    return run_repeats(config, dir, options, stop);
  }
  check_resumable(dir, options.overwrite);
  if (options.epochs) config = extend_run(dir, config, *options.epochs);
  return Trainer(config, dir, options, stop, true).run();
}

/// Whether a run got through its set-up (the trainer writes config.yaml
/// once the data, the model and the optimizer are ready), alone or as one
/// of its repeats: from then on a failure is training's, and the folder,
/// its log and checkpoints stay for `--resume`.
bool has_started(const fs::path& dir, bool repeats) {
  std::error_code error;
  if (!repeats) return fs::exists(dir / kConfig, error);
  for (const auto& repeat : repeat_dirs(dir.string())) {
    if (fs::exists(fs::path(repeat) / kConfig, error)) return true;
  }
  return false;
}

}  // namespace

TrainResult train(const config::TrainConfig& config, const std::string& run_dir,
                  const RunOptions& options) {
  const fs::path dir(run_dir);
  const bool rank0 = DistributedEnv::from_environment().rank == 0;
  // A run refused while it sets up (bad data, a missing file, a bad option)
  // leaves nothing behind: the same command works again once it is fixed.
  std::optional<utils::OutputFolder> created;
  if (rank0 && !fs::exists(dir)) created.emplace(dir.string());
  prepare_new_run(dir, options.overwrite);
  try {
    // One stop request for every repeat, so a signal between two is not lost.
    const StopRequest stop(options.handle_signals, options.should_stop);
    TrainResult result;
    if (config.train.repeats > 1) {
      if (rank0) utils::write_file_atomic((dir / kConfig).string(), config::to_yaml(config));
      result = run_repeats(config, dir, options, stop);
    } else {
      result = Trainer(config, dir, options, stop, false).run();
    }
    if (created) created->keep();
    return result;
  } catch (...) {
    if (rank0 && has_started(dir, config.train.repeats > 1)) {
      if (created) created->keep();  // `svanet train --resume` continues it
    } else if (rank0 && !created) {
      // The folder was there (empty, or emptied by --overwrite): empty again,
      // keeping the error that brought us here.
      try {
        empty_folder(dir);
      } catch (const Error&) {
      }
    }
    throw;
  }
}

TrainResult resume(const std::string& run_dir, const RunOptions& options) {
  const StopRequest stop(options.handle_signals, options.should_stop);
  return resume_run(fs::path(run_dir), options, stop);
}

std::string repeat_dir(const std::string& run_dir, int64_t index) {
  return (fs::path(run_dir) / ("repeat_" + std::to_string(index))).string();
}

std::vector<std::string> repeat_dirs(const std::string& run_dir) {
  std::vector<std::pair<int64_t, std::string>> found;
  std::error_code error;
  if (!fs::is_directory(run_dir, error)) return {};
  for (const auto& entry : fs::directory_iterator(run_dir, error)) {
    const auto name = entry.path().filename().string();
    const std::string prefix = "repeat_";
    if (!entry.is_directory(error) || name.rfind(prefix, 0) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.empty() || digits.size() > 9 ||
        !std::all_of(digits.begin(), digits.end(), [](unsigned char c) { return std::isdigit(c); }))
      continue;
    found.emplace_back(std::stoll(digits), entry.path().string());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  out.reserve(found.size());
  for (auto& [index, dir] : found) out.push_back(std::move(dir));
  return out;
}

}  // namespace svanet::engine
