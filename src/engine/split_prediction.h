#pragma once
// Predicting a split of a run as its evaluation does (private to the
// library): shared by evaluate_run and calibrate_run, so thresholds are
// chosen on exactly the scores they are later applied to.

#include "svanet/common/log.h"
#include "svanet/config/train_config.h"
#include "svanet/data/dataset.h"
#include "svanet/data/loader.h"
#include "svanet/inference/predictor.h"
#include "svanet/metrics/case.h"

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace svanet::engine {

/// The run's config.yaml; a folder without one is an error naming it.
config::TrainConfig load_run_config(const std::filesystem::path& run);

/// The run's dataset (its config's data.root), or another root with the
/// same definition rules; a data.root that is no longer a folder is an
/// error saying it came from config.yaml, ending with `missing_hint`.
data::DatasetIndex index_run_data(const std::filesystem::path& run,
                                  const config::TrainConfig& config,
                                  const std::string& other_root = "",
                                  const std::string& missing_hint = "");

/// The metric options of a run's evaluate section for its classes (the
/// matching rule, bins, surface distances): what evaluation, calibration
/// and validation during training all score with.
metrics::MetricOptions evaluation_metric_options(const config::EvaluateSection& evaluate,
                                                 const std::vector<std::string>& classes);

/// Predictor options as the run's evaluate section predicts (mode, TTA,
/// overlap, precision, batch size), on `device`, with `threshold`.
inference::PredictorOptions evaluation_predictor_options(const config::TrainConfig& config,
                                                         const std::string& device,
                                                         const std::string& threshold);

/// One batch of a split, predicted.
struct PredictedBatch {
  /// Resize mode (the paper's evaluation): the loader's batch (images at
  /// the model's size, masks, native sizes and masks) and the model's
  /// scores (B, K, h, w) at that size, on the predictor's device.
  const data::Batch* batch = nullptr;
  torch::Tensor scores;
  /// Native modes: each image's prediction at its size, with its sample.
  std::vector<std::string> stems;
  std::vector<inference::Prediction> predictions;
  std::vector<data::LoadedSample> samples;
};

/// How predict_split shows its progress: a live bar on stderr, or a line
/// every few seconds to `log` (info level); neither when both are unset.
struct SplitProgress {
  std::string title = "predict";
  bool bar = false;
  LogSink log;
};

/// Predicts `samples` in batches of data.batch_size with `predictor`'s mode
/// and calls `visit` with each batch, in sample order. Between batches it
/// stops with svanet::Interrupted when a signal handler is installed and
/// a signal arrived (throw_if_signalled).
void predict_split(const inference::Predictor& predictor, const data::DatasetDefinition& definition,
                   const std::vector<data::Sample>& samples, const config::DataConfig& data,
                   const std::function<void(const PredictedBatch&)>& visit,
                   const SplitProgress& progress = {});

}  // namespace svanet::engine
