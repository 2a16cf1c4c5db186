#include "svanet/engine/calibrate.h"

#include "engine/run_files.h"
#include "engine/split_prediction.h"
#include "svanet/common/error.h"
#include "svanet/data/splits.h"
#include "svanet/engine/evaluate.h"
#include "svanet/engine/inference.h"
#include "svanet/inference/thresholds.h"
#include "svanet/io/checkpoint.h"
#include "svanet/metrics/objects.h"
#include "svanet/metrics/reduce.h"
#include "svanet/utils/atomic_file.h"
#include "svanet/utils/parallel.h"
#include "svanet/utils/text.h"
#include "utils/json_number.h"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <limits>

namespace svanet::engine {

namespace fs = std::filesystem;

namespace {

/// Counts of one class at one threshold, summed over images: the
/// evaluation's object counts and pixel counts, scored by its functions.
struct Tally {
  metrics::ObjectCounts objects;
  metrics::Counts pixels;

  void add(const Tally& o) {
    objects += o.objects;
    pixels += o.pixels;
  }

  ThresholdScore score(double threshold) const {
    ThresholdScore s;
    s.threshold = threshold;
    s.gt_objects = objects.gt_objects;
    s.detected = objects.detected;
    s.predicted = objects.predicted;
    s.false_positives = objects.false_positives;
    s.recall = metrics::object_recall(objects);
    s.precision = metrics::object_precision(objects);
    s.f1 = metrics::object_f1(objects);
    s.dice = metrics::dice(pixels);
    return s;
  }
};

/// One class's binary prediction against its binary ground truth (1 =
/// the class, 255 = ignored, 0 = anything else).
Tally tally(const torch::Tensor& pred, const torch::Tensor& gt, const metrics::MatchRule& rule) {
  Tally t;
  t.objects = metrics::count_objects(metrics::match_objects(pred, gt, 2, rule));
  t.pixels = metrics::class_counts(pred, gt, 2)[1];
  return t;
}

/// Whether `v` beats `best` (NaN, an undefined score, beats nothing), and
/// whether the two are tied.
std::pair<bool, bool> compare_scores(double v, double best) {
  const bool v_nan = std::isnan(v), best_nan = std::isnan(best);
  return {!v_nan && (best_nan || v > best), (v_nan && best_nan) || v == best};
}

nlohmann::json score_json(const ThresholdScore& s) {
  return {{"threshold", utils::json_number(s.threshold)},
          {"gt_objects", s.gt_objects},
          {"detected", s.detected},
          {"predicted", s.predicted},
          {"false_positives", s.false_positives},
          {"recall", s.recall},
          {"precision", s.precision},
          {"f1", s.f1},
          {"dice", s.dice}};
}

}  // namespace

ThresholdScore score_objects(const torch::Tensor& pred, const torch::Tensor& gt,
                             const metrics::MatchRule& rule) {
  return tally(pred.to(torch::kUInt8).contiguous(), gt.to(torch::kUInt8).contiguous(), rule)
      .score(0.0);
}

std::vector<double> default_threshold_grid() {
  std::vector<double> grid;
  for (int i = 5; i <= 95; i += 5) grid.push_back(static_cast<double>(i) / 100.0);
  return grid;
}

CalibrationResult calibrate_run(const std::string& run_dir, const CalibrateOptions& options) {
  const fs::path run(run_dir);
  const auto config = load_run_config(run);
  SVANET_CHECK(options.metric == "object_f1" || options.metric == "dice",
               "calibration metric is object_f1 or dice, got '", options.metric, "'");
  const metrics::MatchRule rule =
      options.match ? *options.match : metrics::MatchRule::parse(config.evaluate.match);
  rule.validate();
  const std::vector<double> grid = options.grid.empty() ? default_threshold_grid() : options.grid;
  for (double t : grid) {
    SVANET_CHECK(std::isfinite(t) && t > 0.0 && t < 1.0,
                 "calibration thresholds must be in (0, 1), got ", t);
  }
  const std::string checkpoint = run_checkpoint_file(run_dir, options.checkpoint);
  const auto index = index_run_data(run, config);
  // The validation split only: thresholds tuned on the test split would
  // make the test scores optimistic.
  const auto splits = data::read_splits((run / kSplits).string(), index);
  SVANET_CHECK(!splits.val.empty(), run_dir,
               ": the run has no validation split; calibration never uses the test split "
               "(give data.splits a val_fraction and train again)");

  const Predictor predictor(checkpoint,
                            evaluation_predictor_options(config, options.device, "argmax"));
  const auto& classes = predictor.meta().classes;
  const auto k = static_cast<int64_t>(classes.size());
  SVANET_CHECK(k >= 2, checkpoint, ": calibration needs a foreground class");
  if (options.log) {
    options.log(LogLevel::kInfo, "calibrating " + checkpoint + " on the val split (" +
                                     std::to_string(splits.val.size()) + " images, " +
                                     options.metric + ")");
  }

  // tallies[c][g]: class c at grid threshold g; the argmax's at the end.
  const size_t n_grid = grid.size();
  std::vector<std::vector<Tally>> tallies(static_cast<size_t>(k), std::vector<Tally>(n_grid + 1));
  int64_t images = 0;
  const auto add_case = [&](const torch::Tensor& probabilities, const torch::Tensor& mask) {
    // probabilities (K, H, W) float, mask (H, W) uint8 with 255 = ignore.
    const auto argmax = probabilities.argmax(0);
    for (int64_t c = 1; c < k; ++c) {
      const auto gt = torch::where(mask == 255, mask, (mask == c).to(torch::kUInt8)).contiguous();
      const auto p = probabilities[c];
      auto& row = tallies[static_cast<size_t>(c)];
      std::vector<Tally> found(n_grid + 1);
      utils::parallel_for(static_cast<int64_t>(n_grid) + 1, [&](int64_t g) {
        const auto i = static_cast<size_t>(g);
        const auto pred = i < n_grid ? (p >= grid[i]) : (argmax == c);
        found[i] = tally(pred.to(torch::kUInt8).contiguous(), gt, rule);
      });
      for (size_t i = 0; i <= n_grid; ++i) row[i].add(found[i]);
    }
    ++images;
  };
  predict_split(predictor, index.definition, splits.val, config.data,
                [&](const PredictedBatch& p) {
                  if (p.batch != nullptr) {
                    const auto scores = native_scores(p.scores, *p.batch);
                    for (size_t i = 0; i < scores.size(); ++i) {
                      add_case(torch::softmax(scores[i], 1)[0].cpu(), p.batch->native_masks[i]);
                    }
                    return;
                  }
                  for (size_t i = 0; i < p.predictions.size(); ++i) {
                    add_case(p.predictions[i].probabilities, p.samples[i].mask);
                  }
                },
                {"calibrate", options.progress_bar, options.log});

  CalibrationResult result;
  result.checkpoint = checkpoint;
  result.metric = options.metric;
  result.match = rule;
  result.images = images;
  result.thresholds.assign(static_cast<size_t>(k), 0.0);
  const auto value = [&](const ThresholdScore& s) {
    return options.metric == "dice" ? s.dice : s.f1;
  };
  for (int64_t c = 1; c < k; ++c) {
    ClassCalibration cc;
    cc.class_index = c;
    cc.name = classes[static_cast<size_t>(c)];
    const auto& row = tallies[static_cast<size_t>(c)];
    for (size_t i = 0; i < n_grid; ++i) cc.curve.push_back(row[i].score(grid[i]));
    cc.argmax = row[n_grid].score(std::numeric_limits<double>::quiet_NaN());
    for (size_t i = 1; i < n_grid; ++i) {
      const auto [better, tied] = compare_scores(value(cc.curve[i]), value(cc.curve[cc.chosen]));
      const bool nearer = std::abs(grid[i] - 0.5) < std::abs(grid[cc.chosen] - 0.5);
      if (better || (tied && nearer)) cc.chosen = i;
    }
    result.thresholds[static_cast<size_t>(c)] = grid[cc.chosen];
    result.classes.push_back(std::move(cc));
  }
  result.description =
      (options.metric == "dice" ? "dice" : "object_f1 (match " + rule.to_string() + ")") +
      " on the val split (" + std::to_string(images) +
      " images): " + inference::describe_thresholds(result.thresholds, classes);
  if (options.write) {
    nlohmann::json j;
    j["checkpoint"] = fs::absolute(checkpoint).lexically_normal().string();
    j["split"] = "val";
    j["images"] = images;
    j["metric"] = options.metric;
    j["match"] = rule.to_string();
    j["thresholds"] = result.thresholds;
    for (const auto& cc : result.classes) {
      nlohmann::json curve = nlohmann::json::array();
      for (const auto& s : cc.curve) curve.push_back(score_json(s));
      j["classes"].push_back({{"class_index", cc.class_index},
                              {"name", cc.name},
                              {"threshold", grid[cc.chosen]},
                              {"argmax", score_json(cc.argmax)},
                              {"curve", curve}});
    }
    result.curves_file =
        (run / ("calibration_" + fs::path(checkpoint).stem().string() + ".json")).string();
    utils::write_file_atomic(result.curves_file, j.dump(2) + "\n");
    io::set_checkpoint_thresholds(checkpoint, result.thresholds, result.description);
  }
  if (options.log) options.log(LogLevel::kInfo, "calibrated: " + result.description);
  return result;
}

}  // namespace svanet::engine
