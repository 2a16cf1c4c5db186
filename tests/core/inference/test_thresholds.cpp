// Probabilities to labels: the argmax, or calibrated per-class thresholds
// (svanet/inference/thresholds.h), by hand on drawn maps; their place in
// checkpoints and in the Predictor.

#include "support/test_support.h"

#include "svanet/common/error.h"
#include "svanet/inference/predictor.h"
#include "svanet/inference/thresholds.h"
#include "svanet/io/checkpoint.h"

#include <torch/torch.h>

namespace svanet::test {
namespace {

using inference::labels_from_probabilities;
using inference::ThresholdChoice;

/// (2, 1, 4) probabilities of background and one class.
torch::Tensor two_class(const std::vector<float>& foreground) {
  const auto p = torch::tensor(foreground).view({1, 1, -1});
  return torch::cat({1 - p, p}, 0);
}

std::vector<int64_t> values(const torch::Tensor& labels) {
  const auto flat = labels.to(torch::kLong).flatten();
  return {flat.data_ptr<int64_t>(), flat.data_ptr<int64_t>() + flat.numel()};
}

TEST(Thresholds, OneHalfIsTheArgmaxAndALowerThresholdFindsMore) {
  const auto p = two_class({0.2F, 0.4F, 0.6F, 0.8F});
  EXPECT_EQ(values(labels_from_probabilities(p, 0, {})), (std::vector<int64_t>{0, 0, 1, 1}));
  EXPECT_EQ(values(labels_from_probabilities(p, 0, {0, 0.5})), (std::vector<int64_t>{0, 0, 1, 1}));
  EXPECT_EQ(values(labels_from_probabilities(p, 0, {0, 0.3})), (std::vector<int64_t>{0, 1, 1, 1}));
  EXPECT_EQ(values(labels_from_probabilities(p, 0, {0, 0.7})), (std::vector<int64_t>{0, 0, 0, 1}));
  // A probability exactly at the threshold reaches it.
  EXPECT_EQ(values(labels_from_probabilities(p, 0, {0, 0.4})), (std::vector<int64_t>{0, 1, 1, 1}));
}

TEST(Thresholds, SeveralClassesPassTheLargestRatioWinsAndNoneIsBackground) {
  // Pixels (columns) of three classes; thresholds lesion 0.5, nucleus 0.3.
  const auto p = torch::tensor({{0.20F, 0.10F, 0.60F, 0.30F},    // background
                                {0.45F, 0.50F, 0.20F, 0.45F},    // lesion
                                {0.35F, 0.40F, 0.20F, 0.25F}});  // nucleus
  const std::vector<double> t{0, 0.5, 0.3};
  // 1: only nucleus passes (0.35 >= 0.3, 0.45 < 0.5) although lesion is the argmax;
  // 2: both pass, nucleus 0.4/0.3 beats lesion 0.5/0.5; 3: none passes; 4: none.
  EXPECT_EQ(values(labels_from_probabilities(p, 0, t)), (std::vector<int64_t>{2, 2, 0, 0}));
  EXPECT_EQ(values(labels_from_probabilities(p, 0, {})), (std::vector<int64_t>{1, 1, 0, 1}));
  // The class dimension may be anywhere: (B, K, N).
  EXPECT_EQ(values(labels_from_probabilities(p.unsqueeze(0), 1, t)),
            (std::vector<int64_t>{2, 2, 0, 0}));
}

TEST(Thresholds, ChoicesParseAndBadOnesSayWhatIsValid) {
  EXPECT_EQ(ThresholdChoice::parse("argmax").kind, ThresholdChoice::Kind::kArgmax);
  EXPECT_EQ(ThresholdChoice::parse("calibrated").kind, ThresholdChoice::Kind::kCalibrated);
  EXPECT_EQ(ThresholdChoice::parse("auto").kind, ThresholdChoice::Kind::kAuto);
  const auto value = ThresholdChoice::parse("0.35");
  EXPECT_EQ(value.kind, ThresholdChoice::Kind::kValue);
  EXPECT_DOUBLE_EQ(value.value, 0.35);
  EXPECT_EQ(value.to_string(), "0.35");
  for (const char* bad : {"", "1", "0", "-0.2", "0.3x", "max"}) {
    ASSERT_THROWS_WITH(ThresholdChoice::parse(bad),
                       "is not argmax, calibrated, auto or a probability");
  }
  ASSERT_THROWS_WITH(labels_from_probabilities(two_class({0.5F}), 0, {0, 1.2}),
                     "the threshold of class 1 must be in (0, 1)");
  ASSERT_THROWS_WITH(labels_from_probabilities(two_class({0.5F}), 0, {0, 0.2, 0.3}),
                     "3 thresholds for 2 classes");
}

TEST(Thresholds, CalibratedNeedsACalibratedCheckpointAndAutoFallsBackToTheArgmax) {
  io::CheckpointMeta meta;
  meta.model.options.num_classes(3);
  ASSERT_THROWS_WITH(
      inference::resolve_thresholds(ThresholdChoice::parse("calibrated"), meta, 3, "best.pt"),
      "best.pt: the checkpoint holds no calibrated thresholds; `svanet calibrate RUN`");
  EXPECT_TRUE(inference::resolve_thresholds(ThresholdChoice::parse("auto"), meta, 3, "x").empty());
  EXPECT_EQ(inference::resolve_thresholds(ThresholdChoice::parse("0.2"), meta, 3, "x"),
            (std::vector<double>{0, 0.2, 0.2}));
  meta.thresholds = {0, 0.35, 0.4};
  for (const char* choice : {"calibrated", "auto"}) {
    EXPECT_EQ(inference::resolve_thresholds(ThresholdChoice::parse(choice), meta, 3, "x"),
              meta.thresholds);
  }
  EXPECT_TRUE(
      inference::resolve_thresholds(ThresholdChoice::parse("argmax"), meta, 3, "x").empty());
  ASSERT_THROWS_WITH(
      inference::resolve_thresholds(ThresholdChoice::parse("calibrated"), meta, 2, "best.pt"),
      "best.pt: 3 thresholds for 2 classes");
  EXPECT_EQ(inference::describe_thresholds(meta.thresholds, {"background", "lesion", "nucleus"}),
            "lesion 0.35, nucleus 0.4");
}

TEST(Thresholds, ACheckpointKeepsItsThresholdsAndThePredictorUsesThem) {
  TempDir dir;
  const auto path = (dir.path() / "model.pt").string();
  torch::manual_seed(0);
  auto model = create_model("svanet_test", tiny_options("svanet_test", 2).image_size(64));
  io::save_checkpoint(path, *model, {});
  EXPECT_TRUE(io::read_checkpoint_meta(path).thresholds.empty());
  io::set_checkpoint_thresholds(path, {0, 0.3}, "object_f1 on the val split (9 images)");
  const auto meta = io::read_checkpoint_meta(path);
  EXPECT_EQ(meta.thresholds, (std::vector<double>{0, 0.3}));
  EXPECT_EQ(meta.calibration, "object_f1 on the val split (9 images)");
  // The weights are untouched.
  const auto loaded = io::load_checkpoint(path);
  const auto original = model->named_parameters();
  for (const auto& p : loaded.model->named_parameters()) {
    EXPECT_TRUE(torch::equal(p.value(), original[p.key()])) << p.key();
  }
  ASSERT_THROWS_WITH(io::set_checkpoint_thresholds(path, {0, 0.3, 0.3}, ""),
                     "3 thresholds for a model with 2 classes");

  const auto image = torch::rand({3, 64, 64});
  PredictorOptions options;
  options.device = "cpu";
  const Predictor calibrated(path, options);  // auto: the checkpoint's
  EXPECT_EQ(calibrated.thresholds(), (std::vector<double>{0, 0.3}));
  const auto r = calibrated.predict(image);
  EXPECT_TRUE(torch::equal(r.labels, (r.probabilities[1] >= 0.3F).to(torch::kUInt8)));
  options.threshold = ThresholdChoice::parse("argmax");
  const auto a = Predictor(path, options).predict(image);
  EXPECT_TRUE(torch::equal(a.labels, a.probabilities.argmax(0).to(torch::kUInt8)));

  // Removing the calibration leaves a plain checkpoint.
  io::set_checkpoint_thresholds(path, {}, "");
  EXPECT_TRUE(io::read_checkpoint_meta(path).thresholds.empty());
  options.threshold = ThresholdChoice::parse("calibrated");
  ASSERT_THROWS_WITH(Predictor(path, options), "model.pt: the checkpoint holds no calibrated");
}

}  // namespace
}  // namespace svanet::test
