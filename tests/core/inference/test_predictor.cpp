// svanet::Predictor: the checkpoint alone rebuilds what inference needs;
// outputs come back at the input's size; resize, sliding and test-time
// augmentation agree where they must.

#include "support/test_support.h"

#include "svanet/common/error.h"
#include "svanet/inference/predictor.h"
#include "svanet/io/checkpoint.h"
#include "svanet/models/registry.h"

#include <torch/torch.h>

namespace svanet::test {
namespace {

using inference::Mode;
using inference::Tta;
namespace F = torch::nn::functional;

/// A 1x1 convolution: equivariant to every flip.
struct PointwiseImpl : models::SegmentationModelImpl {
  PointwiseImpl() { conv = register_module("conv", torch::nn::Conv2d(3, 2, 1)); }
  torch::Tensor forward(const torch::Tensor& x) override { return conv(x); }
  int64_t num_classes() const override { return 2; }
  int64_t in_channels() const override { return 3; }
  torch::nn::Conv2d conv{nullptr};
};

io::CheckpointMeta meta_for(int64_t image_size, int64_t classes = 2) {
  io::CheckpointMeta meta;
  meta.model.name = "test";
  meta.model.options = ModelOptions().num_classes(classes).image_size(image_size);
  for (int64_t c = 0; c < classes; ++c) meta.classes.push_back("class" + std::to_string(c));
  return meta;
}

SegmentationModel tiny_model(int64_t classes = 2) {
  torch::manual_seed(0);
  return create_model("svanet_test", tiny_options("svanet_test", classes).image_size(64));
}

Predictor make(const SegmentationModel& model, PredictorOptions options = {}, int64_t size = 64) {
  return Predictor(model, meta_for(size, model->num_classes()), std::move(options));
}

torch::Tensor normalised(const torch::Tensor& image) {
  const auto mean = torch::tensor({0.485, 0.456, 0.406}).to(torch::kFloat).view({3, 1, 1});
  const auto std = torch::tensor({0.229, 0.224, 0.225}).to(torch::kFloat).view({3, 1, 1});
  return ((image - mean) / std).unsqueeze(0);
}

TEST(Predictor, AtTheTrainingSizeItIsTheModelOnTheNormalisedImage) {
  auto model = tiny_model();
  const auto image = torch::rand({3, 64, 64});
  torch::Tensor logits;
  {
    torch::NoGradGuard no_grad;
    model->eval();
    logits = model->forward(normalised(image))[0];
  }
  const auto result = make(model).predict(image);
  EXPECT_EQ(result.mode, Mode::kResize);
  EXPECT_TRUE(torch::allclose(result.probabilities, torch::softmax(logits, 0), 1e-4, 1e-5));
  EXPECT_TRUE(torch::equal(result.labels, logits.argmax(0).to(torch::kUInt8)));
}

TEST(Predictor, OutputsComeBackAtTheInputSize) {
  auto predictor = make(tiny_model(3), {}, 64);
  for (auto [h, w] : std::vector<std::pair<int64_t, int64_t>>{{50, 77}, {64, 64}, {131, 40}}) {
    const auto result = predictor.predict(torch::rand({3, h, w}));
    EXPECT_EQ(result.labels.sizes(), torch::IntArrayRef({h, w}));
    EXPECT_EQ(result.labels.scalar_type(), torch::kUInt8);
    EXPECT_EQ(result.probabilities.sizes(), torch::IntArrayRef({3, h, w}));
    EXPECT_TRUE(torch::allclose(result.probabilities.sum(0), torch::ones({h, w}), 1e-4, 1e-5));
    EXPECT_LT(result.labels.max().item<int>(), 3);
  }
}

TEST(Predictor, ResizeModeIsTheModelAtTrainingSizeResizedBack) {
  auto model = tiny_model();
  const auto image = torch::rand({3, 90, 70});
  torch::Tensor expected;
  {
    torch::NoGradGuard no_grad;
    model->eval();
    const auto small = F::interpolate(normalised(image), F::InterpolateFuncOptions()
                                                             .size(std::vector<int64_t>{64, 64})
                                                             .mode(torch::kBicubic)
                                                             .align_corners(false));
    expected = F::interpolate(model->forward(small), F::InterpolateFuncOptions()
                                                         .size(std::vector<int64_t>{90, 70})
                                                         .mode(torch::kBilinear)
                                                         .align_corners(false))[0];
  }
  PredictorOptions o;
  o.mode = Mode::kResize;
  const auto result = make(model, o).predict(image);
  EXPECT_TRUE(torch::allclose(result.probabilities, torch::softmax(expected, 0), 1e-4, 1e-5));
}

TEST(Predictor, SlidingWithOneTileEqualsResizeAtTheTrainingSize) {
  auto model = tiny_model();
  const auto image = torch::rand({3, 64, 64});
  PredictorOptions sliding;
  sliding.mode = Mode::kSliding;
  PredictorOptions resize;
  resize.mode = Mode::kResize;
  const auto a = make(model, sliding).predict(image);
  const auto b = make(model, resize).predict(image);
  EXPECT_EQ(a.mode, Mode::kSliding);
  EXPECT_TRUE(torch::allclose(a.probabilities, b.probabilities, 1e-4, 1e-5));
}

TEST(Predictor, AutoSlidesOnlyOverImagesMarkedlyLargerThanTheTrainingSize) {
  auto predictor = make(tiny_model(), {}, 64);
  EXPECT_EQ(predictor.mode_for(64, 64), Mode::kResize);
  EXPECT_EQ(predictor.mode_for(128, 100), Mode::kResize);
  EXPECT_EQ(predictor.mode_for(64, 129), Mode::kSliding);
  EXPECT_EQ(predictor.predict(torch::rand({3, 40, 200})).mode, Mode::kSliding);
  EXPECT_EQ(predictor.predict(torch::rand({3, 40, 100})).mode, Mode::kResize);
}

TEST(Predictor, FlipAugmentationChangesNothingForAFlipEquivariantModel) {
  torch::manual_seed(2);
  auto model = models::make_model<PointwiseImpl>();
  const auto image = torch::rand({3, 64, 48});
  PredictorOptions plain;
  plain.mode = Mode::kSliding;
  const auto reference = make(model, plain).predict(image);
  for (Tta tta : {Tta::kFlip, Tta::kFlip4}) {
    PredictorOptions o = plain;
    o.tta = tta;
    const auto result = make(model, o).predict(image);
    EXPECT_TRUE(torch::allclose(result.probabilities, reference.probabilities, 1e-5, 1e-6))
        << inference::to_string(tta);
  }
}

TEST(Predictor, FlipAugmentationAveragesTheMirroredProbabilities) {
  auto model = tiny_model();
  const auto image = torch::rand({3, 64, 64});
  torch::Tensor expected;
  {
    torch::NoGradGuard no_grad;
    model->eval();
    const auto x = normalised(image);
    expected = 0.5 * (torch::softmax(model->forward(x), 1) +
                      torch::softmax(model->forward(x.flip({3})), 1).flip({3}));
  }
  PredictorOptions o;
  o.tta = Tta::kFlip;
  const auto result = make(model, o).predict(image);
  EXPECT_TRUE(torch::allclose(result.probabilities, expected[0], 1e-4, 1e-5));
  // Not the unaugmented answer: the tiny model is not flip-equivariant.
  EXPECT_FALSE(torch::allclose(make(model).predict(image).probabilities, expected[0], 1e-4, 1e-5));
}

TEST(Predictor, GrayAndRgbaImagesAreConvertedToTheModelsChannels) {
  auto predictor = make(tiny_model());
  const auto gray = torch::rand({1, 64, 64});
  EXPECT_TRUE(torch::equal(predictor.predict(gray).labels,
                           predictor.predict(gray.expand({3, -1, -1}).contiguous()).labels));
  const auto rgb = torch::rand({3, 64, 64});
  const auto rgba = torch::cat({rgb, torch::ones({1, 64, 64})}, 0);
  EXPECT_TRUE(torch::equal(predictor.predict(rgba).labels, predictor.predict(rgb).labels));
  ASSERT_THROWS_WITH(predictor.predict(torch::rand({64, 64})), "must be (C, H, W)");
}

TEST(Predictor, BatchedImagesOfMixedSizesMatchOneByOne) {
  PredictorOptions o;
  o.batch = 2;
  auto predictor = make(tiny_model(), o);
  std::vector<torch::Tensor> images{torch::rand({3, 64, 64}), torch::rand({3, 50, 30}),
                                    torch::rand({3, 40, 200}), torch::rand({3, 70, 70})};
  const auto batched = predictor.predict(images);
  ASSERT_EQ(batched.size(), images.size());
  for (size_t i = 0; i < images.size(); ++i) {
    const auto single = predictor.predict(images[i]);
    EXPECT_EQ(batched[i].mode, single.mode) << i;
    EXPECT_TRUE(torch::allclose(batched[i].probabilities, single.probabilities, 1e-4, 1e-5)) << i;
  }
}

TEST(Predictor, AFileCheckpointRebuildsEverything) {
  TempDir dir;
  auto model = tiny_model(3);
  io::CheckpointMeta meta;
  meta.classes = {"background", "lesion", "nucleus"};
  const auto path = (dir.path() / "model.pt").string();
  io::save_checkpoint(path, *model, meta);
  Predictor from_file(path);
  EXPECT_EQ(from_file.training_size(), 64);
  EXPECT_EQ(from_file.meta().classes, meta.classes);
  const auto image = torch::rand({3, 80, 60});
  EXPECT_TRUE(torch::allclose(from_file.predict(image).probabilities,
                              make(model).predict(image).probabilities, 1e-5, 1e-6));
  ASSERT_THROWS_WITH(Predictor((dir.path() / "missing.pt").string()), "missing.pt");
}

TEST(Predictor, FoldedBatchNormAndChannelsLastGiveTheSameProbabilities) {
  // Statistics as a trained model has them, so that folding matters; each
  // predictor gets its own copy of the model, as folding changes it.
  const auto make_model = [] {
    auto model = tiny_model();
    torch::NoGradGuard no_grad;
    torch::manual_seed(1);
    for (const auto& m : model->modules()) {
      if (auto* bn = m->as<torch::nn::BatchNorm2d>()) {
        bn->running_mean.uniform_(-0.5, 0.5);
        bn->running_var.uniform_(0.5, 2.0);
      }
    }
    return model;
  };
  const auto image = torch::rand({3, 64, 96});
  PredictorOptions plain;
  plain.fold_batchnorm = false;
  plain.mode = Mode::kSliding;
  const auto want = make(make_model(), plain).predict(image).probabilities;
  for (bool fold : {false, true}) {
    for (bool channels_last : {false, true}) {
      PredictorOptions options = plain;
      options.fold_batchnorm = fold;
      options.channels_last = channels_last;
      const auto got = make(make_model(), options).predict(image).probabilities;
      EXPECT_TRUE(torch::allclose(got, want, 1e-4, 1e-5))
          << "fold " << fold << " channels-last " << channels_last << ": largest difference "
          << (got - want).abs().max().item<double>();
    }
  }
}

TEST(Predictor, AutoPrecisionIsBf16ChannelsLastOnANativeBf16CpuAndStaysClose) {
  auto model = tiny_model();
  const auto image = torch::rand({3, 64, 64});
  PredictorOptions fp32;
  fp32.precision = "fp32";
  const auto reference = make(model, fp32).predict(image);
  {
    const ScopedEnvironment native("SVANET_CPU_BF16", "1");
    const auto predictor = make(model);  // precision auto
    EXPECT_EQ(predictor.precision(), "bf16");
    EXPECT_TRUE(predictor.channels_last());
    const auto r = predictor.predict(image);
    EXPECT_EQ(r.probabilities.scalar_type(), torch::kFloat);
    EXPECT_LT((r.probabilities - reference.probabilities).abs().max().item<double>(), 0.05);
  }
  const ScopedEnvironment emulated("SVANET_CPU_BF16", "0");
  const auto predictor = make(model);
  EXPECT_EQ(predictor.precision(), "fp32");
  EXPECT_FALSE(predictor.channels_last());
  EXPECT_TRUE(torch::equal(predictor.predict(image).probabilities, reference.probabilities));
  PredictorOptions contiguous_bf16;
  contiguous_bf16.precision = "bf16";
  contiguous_bf16.channels_last = false;
  EXPECT_FALSE(make(model, contiguous_bf16).channels_last());
}

TEST(Predictor, OptionsAreCheckedByName) {
  ASSERT_THROWS_WITH(inference::parse_mode("tiles"), "valid: auto, resize, sliding");
  ASSERT_THROWS_WITH(inference::parse_tta("rot90"), "valid: none, flip, flip4");
  EXPECT_EQ(inference::parse_mode("sliding"), Mode::kSliding);
  EXPECT_EQ(inference::parse_tta("flip4"), Tta::kFlip4);
  PredictorOptions o;
  o.overlap = 1.0;
  ASSERT_THROWS_WITH(make(tiny_model(), o), "overlap must be in [0, 1)");
  ASSERT_THROWS_WITH(Predictor(tiny_model(), meta_for(0)), "no training size");
  PredictorOptions half;
  half.precision = "fp16";
  ASSERT_THROWS_WITH(make(tiny_model(), half),
                     "predictor: precision fp16 on cpu: fp16 needs a CUDA device");
}

}  // namespace
}  // namespace svanet::test
