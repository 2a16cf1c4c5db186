// The trainer end to end on a tiny generated dataset: the run folder, refusal
// to overwrite, a non-finite loss, repeats, kill -9 and SIGINT followed by
// --resume (the same weights as an uninterrupted run), and a two-process
// Gloo run (label slow).

#include "support/child_process.h"
#include "support/test_support.h"

#include "svanet/config/model_config.h"
#include "svanet/config/train_config.h"
#include "svanet/data/demo.h"
#include "svanet/data/image_io.h"
#include "svanet/engine/calibrate.h"
#include "svanet/engine/distributed.h"
#include "svanet/engine/evaluate.h"
#include "svanet/engine/predict.h"
#include "svanet/engine/trainer.h"
#include "svanet/io/checkpoint.h"
#include "svanet/io/pytorch_file.h"
#include "svanet/optim/schedule.h"
#include "svanet/runtime/determinism.h"

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <unistd.h>
#include <algorithm>
#include <atomic>
#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

namespace svanet::test {
namespace {

namespace fs = std::filesystem;

/// A tiny demo dataset, generated once for the whole test program.
const fs::path& tiny_dataset() {
  static TempDir dir;
  static const fs::path root = [] {
    data::DemoOptions o;
    o.count = 30;
    o.size = 64;
    data::generate_demo_dataset(dir.path().string(), o);
    return dir.path();
  }();
  return root;
}

std::string tiny_config_text(int64_t epochs) {
  std::ostringstream c;
  c << "model: {name: svanet_test, image_size: 64}\n"
    << "data:\n  root: " << tiny_dataset().string() << "\n  dataset: demo\n  batch_size: 4\n"
    << "  workers: 2\n  augment: {size: 64}\n"
    << "train:\n  epochs: " << epochs << "\n  device: cpu\n  seed: 3\n"
    << "  schedule: {name: cosine, warmup_init_lr: 1e-3, max_lr: 2e-3, min_lr: 1e-4, "
       "warmup_epochs: 1}\n"
    << "  loss: {name: dice_ce}\n  freeze_encoder_epochs: 1\n  select_metric: dice\n"
    << "evaluate: {overlays: 2}\n";
  return c.str();
}

config::TrainConfig tiny_config(int64_t epochs, std::vector<std::string> overrides = {}) {
  return config::parse_train_config(tiny_config_text(epochs), "tiny.yaml", overrides);
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

int64_t lines(const fs::path& p) {
  const auto text = read(p);
  return static_cast<int64_t>(std::count(text.begin(), text.end(), '\n'));
}

/// The model weights of a checkpoint, by name.
std::map<std::string, torch::Tensor> weights_of(const fs::path& checkpoint) {
  auto loaded = io::load_checkpoint(checkpoint.string());
  std::map<std::string, torch::Tensor> out;
  for (const auto& item : loaded.model->named_parameters()) out[item.key()] = item.value();
  for (const auto& item : loaded.model->named_buffers()) out[item.key()] = item.value();
  return out;
}

void expect_same_weights(const fs::path& a, const fs::path& b) {
  const auto wa = weights_of(a), wb = weights_of(b);
  ASSERT_EQ(wa.size(), wb.size());
  int64_t different = 0;
  for (const auto& [name, tensor] : wa) {
    if (!torch::equal(tensor, wb.at(name))) {
      ++different;
      ADD_FAILURE() << name << " differs: max |diff| "
                    << (tensor - wb.at(name)).abs().max().item<double>();
      if (different > 3) return;
    }
  }
}

TEST(Trainer, TrainsEvaluatesAndWritesTheRunFolder) {
  TempDir dir;
  const fs::path run = dir.path() / "run";
  std::vector<int64_t> seen;
  engine::RunOptions ro;
  ro.on_epoch = [&](const engine::EpochRecord& r) { seen.push_back(r.epoch); };
  const auto result = engine::train(tiny_config(3), run.string(), ro);
  EXPECT_TRUE(result.completed);
  EXPECT_FALSE(result.interrupted);
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2}));
  ASSERT_EQ(result.history.size(), 3u);
  EXPECT_TRUE(result.history[0].frozen_encoder);  // freeze_encoder_epochs: 1
  EXPECT_FALSE(result.history[1].frozen_encoder);
  for (const char* f : {"config.yaml", "splits.json", "train.log", "metrics.csv", "progress.png",
                        "checkpoints/last.pt", "checkpoints/best.pt", "checkpoints/last.state",
                        "eval_test/summary.json", "eval_test/report.html", "eval_test/per_case.csv",
                        "eval_test/per_object.csv", "eval_test/size_bins.csv"}) {
    EXPECT_TRUE(fs::exists(run / f)) << f;
  }
  EXPECT_EQ(lines(run / "metrics.csv"), 4);  // header + 3 epochs
  EXPECT_NE(read(run / "metrics.csv").find("epoch,lr,train_loss,val_loss,val_dice"),
            std::string::npos);
  EXPECT_NE(read(run / "train.log").find("epoch 3/3"), std::string::npos);
  // The resolved config rebuilds the same run; the best checkpoint rebuilds its model.
  const auto again = config::load_train_config((run / "config.yaml").string());
  EXPECT_EQ(again.model.options.num_classes(), 3);
  EXPECT_EQ(again.train.epochs, 3);
  const auto meta = io::read_checkpoint_meta((run / "checkpoints/best.pt").string());
  EXPECT_EQ(meta.classes, (std::vector<std::string>{"background", "lesion", "nucleus"}));
  EXPECT_EQ(meta.epoch, result.best_epoch);
  EXPECT_TRUE(meta.metrics.count("dice"));
  // The evaluation after training.
  EXPECT_TRUE(result.test.count("dice"));
  EXPECT_TRUE(result.test.count("object_recall"));
  const auto summary = nlohmann::json::parse(read(run / "eval_test/summary.json"));
  for (const char* key : {"reference", "per_class", "size_bins", "objects"}) {
    EXPECT_TRUE(summary.contains(key)) << key;
  }
  const auto splits = nlohmann::json::parse(read(run / "splits.json"));
  EXPECT_EQ(summary.at("cases").get<size_t>(), splits.at("test").size());
  // Resuming a finished run only reports it.
  const auto resumed = engine::resume(run.string());
  EXPECT_TRUE(resumed.completed);
  EXPECT_EQ(resumed.history.size(), 3u);
  EXPECT_DOUBLE_EQ(resumed.test.at("dice"), result.test.at("dice"));
}

TEST(Evaluate, ReusesTheTrainingsFolderOnlyForTheCheckpointItScored) {
  TempDir dir;
  const fs::path& run = dir.path();
  fs::create_directories(run / "checkpoints");
  for (const char* f : {"best.pt", "last.pt"}) std::ofstream(run / "checkpoints" / f) << "x";
  const auto folder = [&](const std::string& scored, const std::string& checkpoint) {
    std::ofstream(run / "config.yaml")
        << config::to_yaml(tiny_config(1, {"evaluate.checkpoint=" + scored}));
    engine::EvaluateOptions o;
    o.checkpoint = checkpoint;
    return fs::path(engine::run_evaluation_dir(run.string(), o)).filename().string();
  };
  EXPECT_EQ(folder("best", "best"), "eval_test");
  EXPECT_EQ(folder("best", "last"), "eval_test_last");
  EXPECT_EQ(folder("last", "last"), "eval_test");
  EXPECT_EQ(folder("last", "best"), "eval_test_best");
  EXPECT_EQ(engine::run_checkpoint_file(run.string(), "last"),
            (run / "checkpoints" / "last.pt").string());
  ASSERT_THROWS_WITH(engine::run_checkpoint_file(run.string(), (run / "missing.pt").string()),
                     "missing.pt: no such checkpoint file");
}

TEST(Evaluate, SlidingModeScoresWhatPredictWrites) {
  TempDir dir;
  const fs::path run = dir.path() / "run";
  auto config = tiny_config(1, {"evaluate.after_training=false"});
  ASSERT_TRUE(engine::train(config, run.string()).completed);
  engine::EvaluateOptions eo;
  eo.mode = "sliding";
  eo.tta = "flip";
  eo.out = (dir.path() / "eval_sliding").string();
  const auto sliding = engine::evaluate_run(run.string(), eo);
  // predict on the test images, the same way: the same masks.
  const auto splits = nlohmann::json::parse(read(run / "splits.json"));
  engine::PredictFilesOptions po;
  po.model = run.string();
  for (const auto& sample : splits.at("test")) {
    po.inputs.push_back((tiny_dataset() / sample.at("image").get<std::string>()).string());
  }
  ASSERT_FALSE(po.inputs.empty());
  po.out = (dir.path() / "predict").string();
  po.predictor.mode = inference::Mode::kSliding;
  po.predictor.tta = inference::Tta::kFlip;
  const auto predicted = engine::predict_files(po);
  ASSERT_TRUE(predicted.failures.empty());
  ASSERT_EQ(predicted.predicted, static_cast<int64_t>(po.inputs.size()));
  data::MaskEncoding indices;
  indices.num_classes = 3;
  int64_t compared = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(eo.out) / "predictions")) {
    const auto other = fs::path(po.out) / entry.path().filename();
    ASSERT_TRUE(fs::exists(other)) << other;
    EXPECT_TRUE(torch::equal(data::read_mask(entry.path().string(), indices).indices,
                             data::read_mask(other.string(), indices).indices))
        << entry.path().filename();
    ++compared;
  }
  EXPECT_EQ(compared, static_cast<int64_t>(po.inputs.size()));
  // The report says how it predicted; at the training size one tile is the
  // whole image, so resize mode scores nearly the same.
  EXPECT_NE(read(fs::path(eo.out) / "report.html").find("sliding window"), std::string::npos);
  eo.mode = "resize";
  eo.out = (dir.path() / "eval_resize").string();
  const auto resized = engine::evaluate_run(run.string(), eo);
  EXPECT_NEAR(resized.summary.reference.mdice, sliding.summary.reference.mdice, 0.02);
  eo.mode = "slide";
  eo.out = (dir.path() / "eval_slide").string();
  ASSERT_THROWS_WITH(engine::evaluate_run(run.string(), eo), "unknown inference mode 'slide'");
}

TEST(Evaluate, RefusesAnExistingOutputAndLeavesNothingBehindWhenItFails) {
  TempDir dir;
  const fs::path data = dir.path() / "data";
  fs::copy(tiny_dataset(), data, fs::copy_options::recursive);
  const fs::path run = dir.path() / "run";
  ASSERT_TRUE(
      engine::train(tiny_config(1, {"evaluate.after_training=false", "data.root=" + data.string()}),
                    run.string())
          .completed);
  engine::EvaluateOptions eo;
  eo.out = (dir.path() / "eval").string();
  engine::evaluate_run(run.string(), eo);
  ASSERT_THROWS_WITH(engine::evaluate_run(run.string(), eo),
                     "eval already exists and is not empty; --overwrite replaces it");
  eo.overwrite = true;
  EXPECT_GT(engine::evaluate_run(run.string(), eo).summary.cases, 0);
  eo.out = (dir.path() / "eval").string() + "/";  // a trailing slash changes nothing
  engine::evaluate_run(run.string(), eo);
  EXPECT_TRUE(fs::exists(dir.path() / "eval" / "summary.json"));
  EXPECT_FALSE(fs::exists(dir.path() / "eval" / ".partial"));
  EXPECT_FALSE(fs::exists(dir.path() / "eval.partial"));
  // --overwrite replaces an earlier evaluation only, never a run or data.
  for (const auto& other_folder : {run, run / "checkpoints", data}) {
    eo.out = other_folder.string();
    ASSERT_THROWS_WITH(engine::evaluate_run(run.string(), eo), "holds more than an evaluation");
  }
  EXPECT_TRUE(fs::exists(run / "checkpoints" / "best.pt"));
  // Another dataset root: its own test split, in a folder named after it.
  engine::EvaluateOptions other;
  other.data_root = tiny_dataset().string();
  const auto elsewhere = engine::evaluate_run(run.string(), other);
  EXPECT_EQ(fs::path(elsewhere.out_dir).filename().string(),
            "eval_test_" + tiny_dataset().filename().string());
  EXPECT_EQ(elsewhere.summary.cases, 5);
  // A damaged test mask stops the evaluation half-way: nothing is left.
  std::ofstream(data / "Demo" / "mask" / "demo_0027.png", std::ios::trunc) << "not a png";
  eo.out = (dir.path() / "eval2").string();
  eo.overwrite = false;
  ASSERT_THROWS_WITH(engine::evaluate_run(run.string(), eo), "demo_0027.png");
  EXPECT_FALSE(fs::exists(eo.out));
  EXPECT_FALSE(fs::exists(eo.out + ".partial"));
  // The same failure replacing an evaluation leaves the earlier one whole.
  eo.out = (dir.path() / "eval").string();
  eo.overwrite = true;
  ASSERT_THROWS_WITH(engine::evaluate_run(run.string(), eo), "demo_0027.png");
  EXPECT_TRUE(fs::exists(dir.path() / "eval" / "summary.json"));
  EXPECT_TRUE(fs::exists(dir.path() / "eval" / "report.html"));
  eo.out = (dir.path() / "eval2").string();
  eo.overwrite = false;
  // Data that moved: the message says where the path came from.
  fs::remove_all(data);
  ASSERT_THROWS_WITH(engine::evaluate_run(run.string(), eo),
                     "config.yaml: data.root '" + data.string());
}

/// Equal, or both NaN (an undefined score on both sides).
bool same_value(double a, double b) {
  return (std::isnan(a) && std::isnan(b)) || a == b;
}

/// The object bin of class `c` and all sizes.
const metrics::ObjectBin& all_sizes(const metrics::Summary& summary, int64_t c) {
  for (const auto& b : summary.objects) {
    if (b.class_index == c && b.label == "all") return b;
  }
  throw std::runtime_error("no 'all' bin for class " + std::to_string(c));
}

TEST(Calibrate, AFloodingPredictionFindsNothingAndAnExactOneEverything) {
  // Four 2x2 objects on a 32x32 image.
  auto gt = torch::zeros({32, 32}, torch::kUInt8);
  for (int64_t i : {2, 10, 18, 26}) gt.slice(0, i, i + 2).slice(1, i, i + 2).fill_(1);
  const auto flood = torch::ones({32, 32}, torch::kUInt8);
  const auto flooded = engine::score_objects(flood, gt);  // the default, iou:0.1
  EXPECT_EQ(flooded.gt_objects, 4);
  EXPECT_EQ(flooded.detected, 0);
  EXPECT_EQ(flooded.predicted, 1);
  EXPECT_EQ(flooded.false_positives, 1);
  EXPECT_DOUBLE_EQ(flooded.recall, 0.0);
  EXPECT_DOUBLE_EQ(flooded.precision, 0.0);
  EXPECT_DOUBLE_EQ(flooded.f1, 0.0);
  EXPECT_NEAR(flooded.dice, 2.0 * 16 / (16 + 1024), 1e-12);
  // With "any overlap" the flood would find all four at precision 1: the
  // reason the default rule asks for an IoU.
  EXPECT_DOUBLE_EQ(engine::score_objects(flood, gt, metrics::MatchRule::parse("overlap")).f1, 1.0);
  const auto exact = engine::score_objects(gt, gt);
  EXPECT_EQ(exact.detected, 4);
  EXPECT_DOUBLE_EQ(exact.f1, 1.0);
  EXPECT_DOUBLE_EQ(exact.dice, 1.0);
  // One pixel too wide on every side (IoU 4/16) still finds an object; a
  // prediction beside it (no overlap) is a false positive.
  auto wide = torch::zeros({32, 32}, torch::kUInt8);
  wide.slice(0, 1, 5).slice(1, 1, 5).fill_(1);
  wide.slice(0, 14, 16).slice(1, 6, 8).fill_(1);
  const auto s = engine::score_objects(wide, gt);
  EXPECT_EQ(s.detected, 1);
  EXPECT_EQ(s.predicted, 2);
  EXPECT_EQ(s.false_positives, 1);
  EXPECT_DOUBLE_EQ(s.recall, 0.25);
  EXPECT_DOUBLE_EQ(s.precision, 0.5);
}

TEST(Calibrate, ChoosesEachClasssBestThresholdOnTheValidationSplitAlone) {
  TempDir dir;
  const fs::path data = dir.path() / "data";
  fs::copy(tiny_dataset(), data, fs::copy_options::recursive);
  const fs::path run = dir.path() / "run";
  ASSERT_TRUE(
      engine::train(tiny_config(2, {"evaluate.after_training=false", "data.root=" + data.string()}),
                    run.string())
          .completed);
  // The test split's images are damaged: calibration cannot have read them.
  auto splits = nlohmann::json::parse(read(run / "splits.json"));
  for (const auto& sample : splits.at("test")) {
    std::ofstream(data / sample.at("image").get<std::string>(), std::ios::trunc) << "not a png";
  }
  engine::CalibrateOptions co;
  co.grid = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};
  const auto r = engine::calibrate_run(run.string(), co);
  EXPECT_EQ(r.images, static_cast<int64_t>(splits.at("val").size()));
  ASSERT_EQ(r.thresholds.size(), 3u);
  ASSERT_EQ(r.classes.size(), 2u);
  for (const auto& c : r.classes) {
    SCOPED_TRACE(c.name);
    ASSERT_EQ(c.curve.size(), co.grid.size());
    double best = 0.0;
    for (size_t i = 0; i < c.curve.size(); ++i) {
      best = std::max(best, c.curve[i].f1);
      // A lower threshold predicts a superset: it never finds fewer objects.
      if (i > 0) {
        EXPECT_GE(c.curve[i - 1].detected, c.curve[i].detected);
      }
      EXPECT_EQ(c.curve[i].gt_objects, c.argmax.gt_objects);
    }
    EXPECT_DOUBLE_EQ(c.curve[c.chosen].f1, best);
    EXPECT_DOUBLE_EQ(r.thresholds[static_cast<size_t>(c.class_index)], c.curve[c.chosen].threshold);
  }
  const auto meta = io::read_checkpoint_meta((run / "checkpoints" / "best.pt").string());
  EXPECT_EQ(meta.thresholds, r.thresholds);
  EXPECT_NE(meta.calibration.find("object_f1 (match iou:0.1) on the val split"), std::string::npos);
  const auto curves = nlohmann::json::parse(read(run / "calibration_best.json"));
  EXPECT_EQ(curves.at("split"), "val");
  EXPECT_EQ(curves.at("classes").size(), 2u);
  // The argmax row is what the evaluation counts on the same split under
  // the same (the run's) matching rule, recall and precision included.
  engine::EvaluateOptions eo;
  eo.split = "val";
  eo.threshold = "argmax";
  eo.out = (dir.path() / "eval_val").string();
  const auto val = engine::evaluate_run(run.string(), eo).summary;
  for (const auto& c : r.classes) {
    const auto& bin = all_sizes(val, c.class_index);
    EXPECT_EQ(c.argmax.gt_objects, bin.gt_objects) << c.name;
    EXPECT_EQ(c.argmax.detected, bin.detected) << c.name;
    EXPECT_EQ(c.argmax.predicted, bin.predicted) << c.name;
    EXPECT_EQ(c.argmax.false_positives, bin.false_positives) << c.name;
    EXPECT_TRUE(same_value(c.argmax.recall, metrics::object_recall(bin))) << c.name;
    EXPECT_TRUE(same_value(c.argmax.precision, metrics::object_precision(bin))) << c.name;
  }
  // Evaluating with the calibrated thresholds uses them (and the test
  // split, whose images were damaged, cannot be evaluated).
  eo.threshold = "calibrated";
  eo.out = (dir.path() / "eval_val_calibrated").string();
  const auto calibrated = engine::evaluate_run(run.string(), eo).summary;
  for (const auto& c : r.classes) {
    const auto& bin = all_sizes(calibrated, c.class_index);
    EXPECT_EQ(bin.gt_objects, c.curve[c.chosen].gt_objects) << c.name;
  }
  EXPECT_NE(read(fs::path(eo.out) / "report.html").find("calibrated: object_f1 (match iou:0.1)"),
            std::string::npos);
  engine::EvaluateOptions test;
  test.out = (dir.path() / "eval_test").string();
  ASSERT_THROWS_WITH(engine::evaluate_run(run.string(), test), "demo_00");
  // Without a validation split calibration refuses rather than use another.
  splits["val"] = nlohmann::json::array();
  std::ofstream(run / "splits.json", std::ios::trunc) << splits.dump();
  ASSERT_THROWS_WITH(engine::calibrate_run(run.string()),
                     "the run has no validation split; calibration never uses the test split");
}

TEST(Calibrate, ATrainingThatAsksForCalibratedThresholdsEvaluatesWithThem) {
  TempDir dir;
  const fs::path run = dir.path() / "run";
  const auto result = engine::train(
      tiny_config(1, {"evaluate.threshold=calibrated", "evaluate.calibrate_metric=dice"}),
      run.string());
  ASSERT_TRUE(result.completed);
  const auto meta = io::read_checkpoint_meta((run / "checkpoints" / "best.pt").string());
  ASSERT_EQ(meta.thresholds.size(), 3u);
  EXPECT_NE(meta.calibration.find("dice on the val split"), std::string::npos);
  EXPECT_NE(read(run / "train.log").find("calibrated: dice on the val split"), std::string::npos);
  EXPECT_NE(read(run / "eval_test" / "report.html").find("calibrated: dice"), std::string::npos);
  // Another choice goes to its own folder; the config's keeps the default one.
  engine::EvaluateOptions eo;
  eo.threshold = "argmax";
  EXPECT_EQ(fs::path(engine::run_evaluation_dir(run.string(), eo)).filename(), "eval_test_argmax");
  eo.threshold = "calibrated";
  EXPECT_EQ(fs::path(engine::run_evaluation_dir(run.string(), eo)).filename(), "eval_test");
  eo.threshold = "0.3";
  EXPECT_EQ(fs::path(engine::run_evaluation_dir(run.string(), eo)).filename(), "eval_test_0.3");
  ASSERT_THROWS_WITH(
      config::parse_train_config(tiny_config_text(1), "tiny.yaml", {"evaluate.threshold=1.5"}),
      "is not argmax, calibrated, auto or a probability");
}

TEST(Trainer, ResumeWithMoreEpochsExtendsAFinishedRun) {
  TempDir dir;
  const fs::path run = dir.path() / "run";
  const auto config = tiny_config(2, {"evaluate.overlays=0"});
  ASSERT_TRUE(engine::train(config, run.string()).completed);
  ASSERT_TRUE(fs::exists(run / "eval_test" / "summary.json"));
  engine::RunOptions ro;
  ro.epochs = 3;
  const auto extended = engine::resume(run.string(), ro);
  ASSERT_TRUE(extended.completed);
  ASSERT_EQ(extended.history.size(), 3u);
  EXPECT_EQ(lines(run / "metrics.csv"), 4);  // header + 3 epochs
  EXPECT_EQ(config::load_train_config((run / "config.yaml").string()).train.epochs, 3);
  // The third epoch has the learning rate a 3-epoch run has there; the old
  // evaluation is kept aside and the new checkpoint evaluated.
  EXPECT_DOUBLE_EQ(extended.history[2].lr,
                   optim::create_schedule(config.train.schedule.name, config.train.schedule.options)
                       ->learning_rate(2, 3));
  EXPECT_TRUE(fs::exists(run / "eval_test_epoch2" / "summary.json"));
  EXPECT_TRUE(fs::exists(run / "eval_test" / "summary.json"));
  ro.epochs = 2;
  ASSERT_THROWS_WITH(engine::resume(run.string(), ro),
                     "the run has trained 3 epoch(s); --epochs must be at least that, got 2");
  EXPECT_EQ(config::load_train_config((run / "config.yaml").string()).train.epochs, 3);
}

TEST(Trainer, ResumeRefusesToRestartOverTrainedWeightsWithoutItsState) {
  TempDir dir;
  const fs::path run = dir.path() / "run";
  const auto config = tiny_config(1, {"evaluate.after_training=false"});
  ASSERT_TRUE(engine::train(config, run.string()).completed);
  const fs::path state = run / "checkpoints" / "last.state";
  const fs::path kept = dir.path() / "last.state";
  fs::rename(state, kept);
  const std::string best = read(run / "checkpoints" / "best.pt");
  const std::string metrics = read(run / "metrics.csv");
  ASSERT_THROWS_WITH(engine::resume(run.string()), state.string() + " is missing");
  ASSERT_THROWS_WITH(engine::resume(run.string()),
                     "replace checkpoints/best.pt, checkpoints/last.pt, metrics.csv");
  EXPECT_EQ(read(run / "checkpoints" / "best.pt"), best);
  EXPECT_EQ(read(run / "metrics.csv"), metrics);

  // Another run's state (another seed) is refused too.
  const fs::path other = dir.path() / "other";
  ASSERT_TRUE(engine::train(tiny_config(1, {"evaluate.after_training=false", "train.seed=4"}),
                            other.string())
                  .completed);
  fs::copy_file(other / "checkpoints" / "last.state", state);
  ASSERT_THROWS_WITH(engine::resume(run.string()), "the state is from a run with seed 4");
  EXPECT_EQ(read(run / "checkpoints" / "best.pt"), best);
  fs::remove(state);

  // --overwrite trains it again from the first epoch.
  engine::RunOptions ro;
  ro.overwrite = true;
  const auto again = engine::resume(run.string(), ro);
  ASSERT_TRUE(again.completed);
  EXPECT_EQ(again.history.size(), 1u);
  EXPECT_EQ(lines(run / "metrics.csv"), 2);
  EXPECT_TRUE(fs::exists(state));

  // A run stopped before it saved anything (only its set-up's files) starts
  // its first epoch again.
  const fs::path fresh = dir.path() / "fresh";
  fs::create_directories(fresh);
  fs::copy_file(run / "config.yaml", fresh / "config.yaml");
  EXPECT_TRUE(engine::resume(fresh.string()).completed);
  EXPECT_TRUE(fs::exists(fresh / "checkpoints" / "last.state"));
}

TEST(Trainer, InitFromStartsFromAnotherRunsWeights) {
  TempDir dir;
  const fs::path source = dir.path() / "source";
  ASSERT_TRUE(
      engine::train(tiny_config(1, {"evaluate.after_training=false"}), source.string()).completed);
  // A learning rate too small to move anything: the weights stay the source's.
  const fs::path tuned = dir.path() / "tuned";
  const auto still =
      tiny_config(1, {"evaluate.after_training=false", "model.init_from=" + source.string(),
                      "train.schedule.warmup_init_lr=0", "train.schedule.max_lr=1e-12",
                      "train.schedule.min_lr=0",
                      // Another seed: without init_from not even the frozen encoder matches.
                      "train.seed=11"});
  EXPECT_EQ(still.init_from, source.string());
  EXPECT_TRUE(still.init_strict);
  ASSERT_TRUE(engine::train(still, tuned.string()).completed);
  EXPECT_NE(read(tuned / "train.log").find("model.init_from"), std::string::npos);
  const auto a = io::load_checkpoint((source / "checkpoints" / "best.pt").string());
  const auto b = io::load_checkpoint((tuned / "checkpoints" / "last.pt").string());
  const auto b_params = b.model->named_parameters();
  int64_t compared = 0;
  for (const auto& p : a.model->named_parameters()) {
    EXPECT_LT((p.value() - b_params[p.key()]).abs().max().item<double>(), 1e-6) << p.key();
    ++compared;
  }
  EXPECT_GT(compared, 10);
  // config.yaml keeps both keys; another architecture is refused strictly
  // and partly loaded otherwise.
  const auto written = config::load_train_config((tuned / "config.yaml").string());
  EXPECT_EQ(written.init_from, fs::absolute(source).lexically_normal().string());
  // The model section alone still reads as a model spec.
  EXPECT_EQ(config::load_model_spec((tuned / "config.yaml").string()).name, "svanet_test");
  EXPECT_EQ(read(source / "config.yaml").find("init_from"), std::string::npos);
  const auto other = tiny_config(1, {"evaluate.after_training=false", "model.name=unet_small",
                                     "model.init_from=" + source.string()});
  ASSERT_THROWS_WITH(engine::train(other, (dir.path() / "strict").string()),
                     "model.init_strict: false loads only the tensors that fit");
  EXPECT_FALSE(fs::exists(dir.path() / "strict"));
  auto loose = other;
  loose.init_strict = false;
  ASSERT_TRUE(engine::train(loose, (dir.path() / "loose").string()).completed);
  EXPECT_NE(read(dir.path() / "loose" / "train.log").find("left as initialised: "),
            std::string::npos);
  ASSERT_THROWS_WITH(tiny_config(1, {"model.init_strict=maybe"}),
                     "model.init_strict is true or false, got 'maybe'");
}

TEST(Trainer, FindsRepeatFoldersInRepeatOrder) {
  TempDir dir;
  const std::string run = dir.path().string();
  EXPECT_TRUE(engine::repeat_dirs(run).empty());
  for (const int i : {10, 0, 2, 1}) fs::create_directories(engine::repeat_dir(run, i));
  fs::create_directories(dir.path() / "repeat_x");
  fs::create_directories(dir.path() / "repeat_");
  std::ofstream(dir.path() / "repeat_3") << "a file";
  std::vector<std::string> names;
  for (const auto& d : engine::repeat_dirs(run)) names.push_back(fs::path(d).filename().string());
  EXPECT_EQ(names, (std::vector<std::string>{"repeat_0", "repeat_1", "repeat_2", "repeat_10"}));
  EXPECT_TRUE(engine::repeat_dirs((dir.path() / "missing").string()).empty());
}

std::atomic<int> g_own_handler_calls{0};
void own_handler(int /*sig*/) {
  ++g_own_handler_calls;
}

/// The SIGINT handler installed now.
void (*sigint_handler())(int) {
  struct sigaction now {};
  sigaction(SIGINT, nullptr, &now);
  return now.sa_handler;
}

TEST(Trainer, ALibraryRunLeavesTheProcessAsItFoundIt) {
  TempDir dir;
  // The calling program's own settings: a SIGINT handler, ATen's switches.
  struct sigaction mine {
  }, previous{};
  mine.sa_handler = own_handler;
  sigemptyset(&mine.sa_mask);
  sigaction(SIGINT, &mine, &previous);
  const auto flags = runtime::AlgorithmFlags::current();
  ASSERT_FALSE(flags.deterministic_algorithms);

  // Messages go to the caller's sink (and train.log); signals stay the
  // program's; deterministic algorithms hold during the run only.
  std::vector<std::pair<LogLevel, std::string>> messages;
  engine::RunOptions ro;
  ro.log = [&](LogLevel level, const std::string& m) { messages.emplace_back(level, m); };
  int epochs_seen = 0;
  ro.on_epoch = [&](const engine::EpochRecord&) {
    ++epochs_seen;
    EXPECT_EQ(sigint_handler(), &own_handler);
    EXPECT_TRUE(at::globalContext().deterministicAlgorithms());
  };
  // The caller stops the run after its first epoch, as a signal would.
  ro.should_stop = [&] { return epochs_seen >= 1; };
  const fs::path run = dir.path() / "run";
  auto config = tiny_config(2, {"train.deterministic=true", "evaluate.after_training=false"});
  auto result = engine::train(config, run.string(), ro);
  EXPECT_TRUE(result.interrupted);
  EXPECT_EQ(result.epochs_completed, 1);
  EXPECT_EQ(epochs_seen, 1);
  EXPECT_EQ(sigint_handler(), &own_handler);
  EXPECT_EQ(runtime::AlgorithmFlags::current(), flags);
  bool epoch_line = false, stop_line = false;
  for (const auto& [level, m] : messages) {
    epoch_line |= level == LogLevel::kInfo && m.find("epoch 1/2") != std::string::npos;
    stop_line |=
        level == LogLevel::kWarning && m.find("stopped before epoch 2") != std::string::npos;
  }
  EXPECT_TRUE(epoch_line && stop_line) << messages.size() << " messages";
  EXPECT_NE(read(run / "train.log").find("stopped before epoch 2"), std::string::npos);

  // Asked to handle signals, the run owns SIGINT while it lasts: Ctrl-C
  // after the first epoch of the resumed run stops it, and the program's
  // handler is back afterwards, never called.
  ro = {};
  ro.handle_signals = true;
  ro.on_epoch = [&](const engine::EpochRecord&) {
    EXPECT_NE(sigint_handler(), &own_handler);
    std::raise(SIGINT);
  };
  config = tiny_config(3, {"train.deterministic=true", "evaluate.after_training=false"});
  const fs::path second = dir.path() / "second";
  result = engine::train(config, second.string(), ro);
  EXPECT_TRUE(result.interrupted);
  EXPECT_EQ(result.epochs_completed, 1);
  EXPECT_EQ(sigint_handler(), &own_handler);
  EXPECT_EQ(g_own_handler_calls.load(), 0);
  // Without a sink nothing is reported, but train.log has it all.
  EXPECT_NE(read(second / "train.log").find("stopped before epoch 2 (SIGINT)"), std::string::npos)
      << read(second / "train.log");
  ro = {};
  EXPECT_TRUE(engine::resume(second.string(), ro).completed);
  sigaction(SIGINT, &previous, nullptr);
}

TEST(Trainer, NeverOverwritesARunUnlessAsked) {
  TempDir dir;
  const fs::path run = dir.path() / "run";
  fs::create_directories(run);
  std::ofstream(run / "notes.txt") << "mine";
  auto config = tiny_config(1, {"evaluate.after_training=false"});
  ASSERT_THROWS_WITH(engine::train(config, run.string()), "already exists and is not empty");
  EXPECT_TRUE(fs::exists(run / "notes.txt"));
  engine::RunOptions ro;
  ro.overwrite = true;
  EXPECT_TRUE(engine::train(config, run.string(), ro).completed);
  EXPECT_FALSE(fs::exists(run / "notes.txt"));
  ASSERT_THROWS_WITH(engine::resume((dir.path() / "nothing").string()), "not a run folder");
}

TEST(Trainer, APrecisionTheDeviceCannotRunIsRefusedBeforeTraining) {
  TempDir dir;
  const fs::path run = dir.path() / "run";
  ASSERT_THROWS_WITH(engine::train(tiny_config(1, {"train.precision=fp16"}), run.string()),
                     "tiny.yaml: train.precision: fp16 needs a CUDA device (use bf16 on the CPU)");
  ASSERT_THROWS_WITH(engine::train(tiny_config(1, {"evaluate.precision=fp16"}), run.string()),
                     "tiny.yaml: evaluate.precision: fp16 needs a CUDA device");
  EXPECT_FALSE(fs::exists(run));
}

/// Two-epoch runs in `dir` ("plain", and "other" with `setting`), without
/// the evaluation; their run folders.
std::pair<fs::path, fs::path> train_plain_and(const TempDir& dir, const std::string& setting) {
  const fs::path plain = dir.path() / "plain";
  const fs::path other = dir.path() / "other";
  EXPECT_TRUE(
      engine::train(tiny_config(2, {"evaluate.after_training=false"}), plain.string()).completed);
  EXPECT_TRUE(
      engine::train(tiny_config(2, {"evaluate.after_training=false", setting}), other.string())
          .completed);
  return {plain, other};
}

TEST(Trainer, ActivationCheckpointingTrainsTheSameModel) {
  // Two epochs: the first with the encoder frozen (its stages run plain:
  // nothing of theirs needs a gradient), the second with all of it.
  TempDir dir;
  const auto [plain, recomputed] = train_plain_and(dir, "train.activation_checkpointing=all");
  ASSERT_FALSE(HasFailure());
  EXPECT_NE(read(recomputed / "train.log").find("activation checkpointing: all"),
            std::string::npos);
  EXPECT_EQ(config::load_train_config((recomputed / "config.yaml").string())
                .train.activation_checkpointing,
            "all");
  const auto a = io::load_checkpoint((plain / "checkpoints" / "last.pt").string());
  const auto b = io::load_checkpoint((recomputed / "checkpoints" / "last.pt").string());
  const auto b_params = b.model->named_parameters();
  double largest = 0.0;
  for (const auto& p : a.model->named_parameters()) {
    largest = std::max(largest, (p.value() - b_params[p.key()]).abs().max().item<double>());
  }
  // A gradient that is rounding noise (a bias before a normalisation)
  // differs with the summation order, and AdamW turns it into a step of up
  // to the learning rate either way: weights may differ by a few steps of
  // 2e-3 (measured 7.8e-3). The losses, epoch by epoch, agree closely.
  EXPECT_LT(largest, 3e-2);
  const auto columns = [](const fs::path& csv) {
    std::vector<std::vector<double>> rows;
    std::istringstream in(read(csv));
    std::string line;
    std::getline(in, line);  // epoch,lr,train_loss,val_loss,...
    while (std::getline(in, line)) {
      std::vector<double> row;
      std::istringstream cells(line);
      std::string cell;
      while (std::getline(cells, cell, ',')) row.push_back(cell.empty() ? 0.0 : std::stod(cell));
      rows.push_back(row);
    }
    return rows;
  };
  const auto plain_rows = columns(plain / "metrics.csv");
  const auto recomputed_rows = columns(recomputed / "metrics.csv");
  ASSERT_EQ(plain_rows.size(), 2U);
  ASSERT_EQ(recomputed_rows.size(), 2U);
  for (size_t e = 0; e < 2; ++e) {
    for (size_t c : {2, 3}) {  // train_loss, val_loss
      EXPECT_NEAR(plain_rows[e][c], recomputed_rows[e][c], 1e-2 * std::abs(plain_rows[e][c]))
          << "epoch " << e + 1 << ", column " << c;
    }
  }
  ASSERT_THROWS_WITH(tiny_config(1, {"train.activation_checkpointing=decoder"}),
                     "train.activation_checkpointing");
}

TEST(Trainer, TheOptimizerStepInTheBackwardPassTrainsTheSameModel) {
  // Two epochs, the first with the encoder frozen: its parameters are
  // hooked while frozen and updated from the second epoch on.
  TempDir dir;
  const auto [plain, inside] = train_plain_and(dir, "train.optimizer_in_backward=true");
  ASSERT_FALSE(HasFailure());
  EXPECT_NE(read(inside / "train.log").find("optimizer step in the backward pass"),
            std::string::npos);
  EXPECT_TRUE(
      config::load_train_config((inside / "config.yaml").string()).train.optimizer_in_backward);
  expect_same_weights(plain / "checkpoints" / "last.pt", inside / "checkpoints" / "last.pt");
  // Resumed for a third epoch: the restored optimizer state is the one the
  // hooks step.
  engine::RunOptions ro;
  ro.epochs = 3;
  ASSERT_TRUE(engine::resume(plain.string(), ro).completed);
  ASSERT_TRUE(engine::resume(inside.string(), ro).completed);
  expect_same_weights(plain / "checkpoints" / "last.pt", inside / "checkpoints" / "last.pt");

  const fs::path refused = dir.path() / "refused";
  ASSERT_THROWS_WITH(
      engine::train(tiny_config(1, {"train.optimizer_in_backward=true", "train.grad_clip=1"}),
                    refused.string()),
      "tiny.yaml: train.optimizer_in_backward cannot be combined with train.grad_clip");
  EXPECT_FALSE(fs::exists(refused));
}

TEST(Trainer, ANonFiniteLossStopsTheRunAndKeepsTheLastGoodCheckpoint) {
  // Read after every step (the CPU's default) and every 4 steps (as a GPU
  // would): the same batch is named, and nothing of the bad epoch is saved.
  std::vector<std::string> where;
  for (const std::string every : {"1", "4"}) {
    SCOPED_TRACE("train.check_every=" + every);
    TempDir dir;
    const fs::path run = dir.path() / "run";
    // The official schedule trains epoch 1 at min_lr and epoch 2 at
    // warmup_init_lr: an absurd one there blows the weights up.
    auto config =
        tiny_config(3, {"train.schedule.name=official_cosine", "train.schedule.min_lr=1e-4",
                        "train.schedule.warmup_init_lr=1e30", "train.schedule.max_lr=1e30",
                        "train.schedule.milestones=2", "train.check_every=" + every});
    std::string message;
    try {
      engine::train(config, run.string());
    } catch (const std::exception& e) {
      message = e.what();
    }
    ASSERT_NE(message.find("epoch 2, batch"), std::string::npos) << message;
    EXPECT_NE(message.find("training stopped"), std::string::npos) << message;
    EXPECT_NE(message.find("checkpoints/last.pt (epoch 1)"), std::string::npos) << message;
    where.push_back(message.substr(0, message.find(", so training stopped")));
    const auto loaded = io::load_checkpoint((run / "checkpoints/last.pt").string());
    EXPECT_EQ(loaded.meta.epoch, 0);
    for (const auto& p : loaded.model->parameters()) {
      ASSERT_TRUE(torch::isfinite(p).all().item<bool>());
    }
    EXPECT_EQ(lines(run / "metrics.csv"), 2);
    EXPECT_FALSE(fs::exists(run / "checkpoints/interrupted.state"));
  }
  EXPECT_EQ(where[0], where[1]);
}

TEST(Trainer, RefusesADatasetWithErrorsAndListsThem) {
  TempDir dir;
  data::DemoOptions o;
  o.count = 12;
  o.size = 64;
  data::generate_demo_dataset((dir.path() / "data").string(), o);
  const auto mask = dir.path() / "data" / "Demo" / "mask" / "demo_0003.png";
  std::ofstream(mask, std::ios::trunc) << "not a png";
  const fs::path run = dir.path() / "run";
  ASSERT_THROWS_WITH(
      engine::train(tiny_config(1, {"data.root=" + (dir.path() / "data").string()}), run.string()),
      "has 1 error(s); refusing to train on it:\n  " + mask.string());
  // Nothing is left that would block the same command once the data is fixed.
  EXPECT_FALSE(fs::exists(run));
  data::generate_demo_dataset((dir.path() / "data").string(), [&] {
    auto again = o;
    again.overwrite = true;
    return again;
  }());
  EXPECT_TRUE(engine::train(tiny_config(1, {"data.root=" + (dir.path() / "data").string(),
                                            "evaluate.after_training=false"}),
                            run.string())
                  .completed);
  // A folder that was there (empty) stays, emptied again after a refusal.
  const fs::path empty = dir.path() / "empty_run";
  fs::create_directories(empty);
  ASSERT_THROWS_WITH(
      engine::train(tiny_config(1, {"data.root=" + (dir.path() / "nowhere").string()}),
                    empty.string()),
      "nowhere");
  EXPECT_TRUE(fs::is_directory(empty));
  EXPECT_TRUE(fs::is_empty(empty));
}

TEST(Trainer, ADamagedOrNewerTrainingStateNamesTheFileAndTheEntry) {
  TempDir dir;
  const fs::path run = dir.path() / "run";
  auto config = tiny_config(2, {"evaluate.after_training=false", "train.select_metric=ref_miou"});
  engine::train(config, run.string());
  const fs::path state = run / "checkpoints" / "last.state";
  const auto saved = io::load_training_state(state.string());
  EXPECT_EQ(saved.values.at("run_state_version"), 2.0);
  auto damaged = saved;
  damaged.values.erase("partial_steps");
  io::save_training_state(state.string(), damaged);
  ASSERT_THROWS_WITH(engine::resume(run.string()),
                     state.string() + ": the training state has no 'partial_steps'");
  auto newer = saved;
  newer.values["run_state_version"] = 7;
  io::save_training_state(state.string(), newer);
  ASSERT_THROWS_WITH(engine::resume(run.string()), "training state version 7 is not supported");
  // A state written before the version entry existed reads as version 1,
  // svanet 0.1's: its reference metrics, x 100 there, become fractions.
  auto older = saved;
  older.values.erase("run_state_version");
  auto history = nlohmann::json::parse(saved.texts.at("history"));
  for (auto& epoch : history) {
    for (auto& [name, value] : epoch["val"].items()) {
      if (name.rfind("ref_", 0) == 0 && name != "ref_mae") value = value.get<double>() * 100;
    }
  }
  older.texts["history"] = history.dump();
  ASSERT_EQ(saved.texts.at("select_metric"), "ref_miou");
  older.values["best_value"] = saved.values.at("best_value") * 100;
  io::save_training_state(state.string(), older);
  const auto resumed = engine::resume(run.string());
  EXPECT_TRUE(resumed.completed);
  const auto original = nlohmann::json::parse(saved.texts.at("history"));
  ASSERT_EQ(resumed.history.size(), original.size());
  for (size_t i = 0; i < original.size(); ++i) {
    EXPECT_NEAR(resumed.history[i].val.at("ref_miou"), original[i]["val"]["ref_miou"].get<double>(),
                1e-12);
    EXPECT_DOUBLE_EQ(resumed.history[i].val.at("dice"), original[i]["val"]["dice"].get<double>());
  }
  EXPECT_NEAR(resumed.best_value, saved.values.at("best_value"), 1e-12);
}

TEST(Trainer, RepeatsWriteMeanAndStd) {
  TempDir dir;
  const fs::path run = dir.path() / "run";
  const auto result = engine::train(tiny_config(1, {"train.repeats=2"}), run.string());
  ASSERT_EQ(result.repeat_dirs.size(), 2u);
  EXPECT_TRUE(result.completed);
  const auto j = nlohmann::json::parse(read(run / "repeats.json"));
  ASSERT_EQ(j.at("repeats").size(), 2u);
  EXPECT_TRUE(j.at("mean").contains("dice"));
  EXPECT_TRUE(j.at("std").contains("dice"));
  EXPECT_NE(read(run / "repeats.md").find("| dice |"), std::string::npos);
  // Different seeds: the repeats differ.
  const auto c0 = config::load_train_config((run / "repeat_0/config.yaml").string());
  const auto c1 = config::load_train_config((run / "repeat_1/config.yaml").string());
  EXPECT_EQ(c1.train.seed, c0.train.seed + 1);
}

// The CLI in a child process, for signals.
Child spawn(const std::vector<std::string>& args, const fs::path& log,
            const std::vector<std::pair<std::string, std::string>>& env = {}) {
  return test::spawn(SVANET_CLI_PATH, args, log, env);
}

int run_cli(const std::vector<std::string>& args, const fs::path& log) {
  return spawn(args, log).wait();
}

/// Waits until `file` has at least `n` lines (or the child ends).
bool wait_for_lines(const fs::path& file, int64_t n, const Child& child) {
  for (int i = 0; i < 6000; ++i) {
    if (fs::exists(file) && lines(file) >= n) return true;
    int status = 0;
    if (child.ended(status)) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST(Trainer, KillNineOrCtrlCThenResumeEndsWithTheSameWeights) {
  TempDir dir;
  const fs::path config = dir.path() / "tiny.yaml";
  std::ofstream(config) << tiny_config_text(4) << "\n";
  const std::vector<std::string> common = {"--threads",     "1",          "train", "--config",
                                           config.string(), "--progress", "lines"};
  auto with_out = [&](const std::string& name) {
    auto args = common;
    args.emplace_back("--out");
    args.push_back((dir.path() / name).string());
    return args;
  };
  ASSERT_EQ(run_cli(with_out("whole"), dir.path() / "whole.log"), 0)
      << read(dir.path() / "whole.log");

  // kill -9 once the first epoch is on disk.
  const fs::path killed = dir.path() / "killed";
  Child child = spawn(with_out("killed"), dir.path() / "killed.log");
  ASSERT_TRUE(wait_for_lines(killed / "metrics.csv", 2, child)) << read(dir.path() / "killed.log");
  kill(child.pid, SIGKILL);
  EXPECT_EQ(child.wait(), 128 + SIGKILL);
  EXPECT_FALSE(fs::exists(killed / "eval_test/summary.json")) << "the run ended before the kill";
  ASSERT_EQ(
      run_cli({"--threads", "1", "train", "--resume", killed.string()}, dir.path() / "r1.log"), 0)
      << read(dir.path() / "r1.log");
  EXPECT_NE(read(dir.path() / "r1.log").find("resuming from"), std::string::npos);
  expect_same_weights(dir.path() / "whole/checkpoints/last.pt", killed / "checkpoints/last.pt");
  EXPECT_EQ(lines(killed / "metrics.csv"), 5);
  for (const auto& entry : fs::directory_iterator(killed / "checkpoints")) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos)
        << "a temporary file of the killed write was left behind: " << entry.path();
  }

  // SIGINT during the second epoch: the state is saved mid-epoch, exit 130.
  const fs::path stopped = dir.path() / "stopped";
  child = spawn(with_out("stopped"), dir.path() / "stopped.log");
  ASSERT_TRUE(wait_for_lines(stopped / "metrics.csv", 2, child))
      << read(dir.path() / "stopped.log");
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  kill(child.pid, SIGINT);
  EXPECT_EQ(child.wait(), 130) << read(dir.path() / "stopped.log");
  EXPECT_NE(read(dir.path() / "stopped.log").find("--resume"), std::string::npos);
  ASSERT_EQ(
      run_cli({"--threads", "1", "train", "--resume", stopped.string()}, dir.path() / "r2.log"), 0)
      << read(dir.path() / "r2.log");
  expect_same_weights(dir.path() / "whole/checkpoints/last.pt", stopped / "checkpoints/last.pt");
  EXPECT_FALSE(fs::exists(stopped / "checkpoints/interrupted.state"));
}

TEST(Trainer, CtrlCDuringEvaluateExits130AndLeavesNoPartialFolder) {
  TempDir dir;
  const fs::path run = dir.path() / "run";
  ASSERT_TRUE(
      engine::train(tiny_config(1, {"evaluate.after_training=false"}), run.string()).completed);
  // An evaluation of seconds: the training split, eight flips, slid tiles.
  const fs::path out = dir.path() / "eval";
  fs::path partial = out;
  partial += ".partial";
  Child child = spawn({"--threads", "1", "evaluate", "-r", run.string(), "--split", "train",
                       "--tta", "flip4", "--mode", "sliding", "--out", out.string()},
                      dir.path() / "eval.log");
  bool started = false;
  for (int i = 0; i < 20000 && !started; ++i) {
    started = fs::exists(partial);
    if (!started) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(started) << read(dir.path() / "eval.log");
  kill(child.pid, SIGINT);
  EXPECT_EQ(child.wait(), 130) << read(dir.path() / "eval.log");
  EXPECT_NE(read(dir.path() / "eval.log").find("interrupted by SIGINT"), std::string::npos)
      << read(dir.path() / "eval.log");
  EXPECT_FALSE(fs::exists(partial));
  EXPECT_FALSE(fs::exists(out));
}

TEST(TrainerSlow, TwoProcessGlooRunOnOneMachine) {
  if (!engine::distributed_available()) GTEST_SKIP() << "built without c10d/Gloo";
  TempDir dir;
  const fs::path config = dir.path() / "tiny.yaml";
  std::ofstream(config) << tiny_config_text(2) << "\n";
  const fs::path run = dir.path() / "run";
  const std::string port = std::to_string(30000 + getpid() % 20000);
  std::vector<Child> ranks;
  ranks.reserve(2);
  for (int r = 0; r < 2; ++r) {
    ranks.push_back(spawn({"--threads", "1", "train", "--config", config.string(), "--out",
                           run.string(), "--progress", "lines", "--set",
                           "train.sync_batchnorm=true", "--set", "train.check_every=2"},
                          dir.path() / ("rank" + std::to_string(r) + ".log"),
                          {{"RANK", std::to_string(r)},
                           {"LOCAL_RANK", std::to_string(r)},
                           {"WORLD_SIZE", "2"},
                           {"MASTER_ADDR", "127.0.0.1"},
                           {"MASTER_PORT", port}}));
  }
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(ranks[static_cast<size_t>(r)].wait(), 0)
        << read(dir.path() / ("rank" + std::to_string(r) + ".log"));
  }
  const auto log = read(dir.path() / "rank0.log");
  EXPECT_NE(log.find("2 processes (torchrun), backend gloo"), std::string::npos) << log;
  EXPECT_NE(log.find("BatchNorm layers normalise over the 2 processes' batches"), std::string::npos)
      << log;
  EXPECT_EQ(lines(run / "metrics.csv"), 3);
  EXPECT_TRUE(fs::exists(run / "eval_test/summary.json"));
  // Each rank trains on 11 of the 21 training images per epoch (3 batches of
  // at most 4), and the weights stay in step (the trainer checks it every
  // epoch and fails otherwise).
  EXPECT_NE(log.find("3 batches of 4"), std::string::npos) << log;
}

}  // namespace
}  // namespace svanet::test
