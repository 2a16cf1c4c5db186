// svanet's checkpoint and training-state files.

#include "support/test_support.h"

#include "svanet/common/error.h"
#include "svanet/io/checkpoint.h"
#include "svanet/io/pytorch_file.h"
#include "svanet/models/registry.h"

#include <torch/torch.h>

#include <filesystem>

namespace svanet::test {
namespace {

using Checkpoints = SeedingFixture;

SegmentationModel trained_tiny_model() {
  auto model = create_model("svanet_test", ModelOptions().num_classes(3).set("link", "add"));
  model->train();
  torch::NoGradGuard no_grad;
  model->forward(torch::randn({2, 3, 64, 64}));  // move BatchNorm statistics
  model->eval();
  return model;
}

TEST_F(Checkpoints, RoundTripIsBitExactAndRebuildsTheModelWithoutFlags) {
  TempDir dir;
  const auto path = (dir.path() / "best.pt").string();
  auto model = trained_tiny_model();
  io::CheckpointMeta meta;
  meta.classes = {"background", "lesion", "vessel"};
  meta.normalization = Normalization::reference();
  meta.epoch = 41;
  meta.metrics = {{"val_dice", 0.8125}, {"val_loss", 0.25}};
  meta.note = "unit test";
  io::save_checkpoint(path, *model, meta);

  auto loaded = io::load_checkpoint(path);
  EXPECT_EQ(loaded.meta.model.name, "svanet_test");
  EXPECT_EQ(loaded.meta.model.options.num_classes(), 3);
  EXPECT_EQ(loaded.meta.model.options.image_size(), 64);  // the variant's default, recorded
  EXPECT_EQ(loaded.meta.model.options.overrides(), (OptionMap{{"link", "add"}}));
  EXPECT_EQ(loaded.meta.classes, meta.classes);
  EXPECT_EQ(loaded.meta.normalization.mode, "reference");
  EXPECT_EQ(loaded.meta.normalization.std, (std::vector<double>{1.0, 1.0, 1.0}));
  EXPECT_EQ(loaded.meta.epoch, 41);
  EXPECT_EQ(loaded.meta.metrics, meta.metrics);
  EXPECT_EQ(loaded.meta.note, "unit test");
  EXPECT_FALSE(loaded.meta.created.empty());
  EXPECT_FALSE(loaded.model->is_training());

  const auto a = io::state_dict(*model);
  const auto b = io::state_dict(*loaded.model);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;
  }
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({1, 3, 48, 80});
  EXPECT_TRUE(torch::equal(model->forward(x), loaded.model->forward(x)));
}

TEST_F(Checkpoints, IsAPlainPyTorchFileWithAStateDict) {
  TempDir dir;
  const auto path = (dir.path() / "model.pt").string();
  auto model = trained_tiny_model();
  io::save_checkpoint(path, *model, {});
  auto root = io::read_pytorch_file(path);
  EXPECT_EQ(root->find("format")->text, "svanet.checkpoint");
  EXPECT_EQ(root->find("version")->integer, io::kCheckpointVersion);
  EXPECT_EQ(io::read_pytorch_state_dict(path).size(), io::state_dict(*model).size());
  // Default class names, and no temporary file left behind.
  EXPECT_EQ(io::read_checkpoint_meta(path).classes,
            (std::vector<std::string>{"background", "class_1", "class_2"}));
  int files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir.path()))
    ++files;
  EXPECT_EQ(files, 1);
}

TEST_F(Checkpoints, SavingReplacesAnExistingFileWhole) {
  TempDir dir;
  const auto path = (dir.path() / "last.pt").string();
  auto model = trained_tiny_model();
  io::CheckpointMeta meta;
  meta.epoch = 1;
  io::save_checkpoint(path, *model, meta);
  meta.epoch = 2;
  io::save_checkpoint(path, *model, meta);
  EXPECT_EQ(io::read_checkpoint_meta(path).epoch, 2);
}

TEST_F(Checkpoints, RejectsOtherFilesAndNewerVersionsClearly) {
  TempDir dir;
  const auto official = (data_dir() / "pytorch" / "zip_ordered.pth").string();
  ASSERT_THROWS_WITH(io::load_checkpoint(official), "not an svanet file (no 'format' entry)");
  const auto state_path = (dir.path() / "state.pt").string();
  io::TrainingState state;
  state.epoch = 3;
  io::save_training_state(state_path, state);
  ASSERT_THROWS_WITH(io::load_checkpoint(state_path),
                     "is a 'svanet.training_state' file, expected 'svanet.checkpoint'");
  // A checkpoint from a future svanet (written by make_fixtures.py).
  ASSERT_THROWS_WITH(
      io::load_checkpoint((data_dir() / "pytorch" / "future_checkpoint.pt").string()),
      "format version 99 is not supported");
  ASSERT_THROWS_WITH(io::load_checkpoint((data_dir() / "pytorch" / "truncated.pth").string()),
                     "truncated.pth");
  ASSERT_THROWS_WITH(io::read_checkpoint_meta((dir.path() / "absent.pt").string()),
                     "absent.pt: no such file");
  ASSERT_THROWS_WITH(io::read_checkpoint_meta(dir.path().string()),
                     ": is a folder, expected a file");
}

TEST_F(Checkpoints, MismatchedClassNamesAreRefused) {
  TempDir dir;
  auto model = trained_tiny_model();
  io::CheckpointMeta meta;
  meta.classes = {"background", "lesion"};
  ASSERT_THROWS_WITH(io::save_checkpoint((dir.path() / "x.pt").string(), *model, meta),
                     "2 class names for a model with 3 outputs");
}

TEST_F(Checkpoints, OptimizerStateRestoresTheExactNextStep) {
  auto model = create_model("svanet_test");
  model->train();
  const auto x = torch::randn({2, 3, 64, 64});
  const auto y = torch::randint(2, {2, 64, 64}, torch::kLong);
  auto step = [&](torch::optim::Optimizer& opt) {
    torch::manual_seed(5);  // same training-time randomness in both runs
    opt.zero_grad();
    torch::nn::functional::cross_entropy(model->forward(x), y).backward();
    opt.step();
  };
  torch::optim::AdamW first(model->parameters(),
                            torch::optim::AdamWOptions(1e-3).weight_decay(0.03));
  step(first);
  step(first);
  io::TrainingState state;
  state.epoch = 1;
  io::capture_optimizer(first, state);
  const auto weights = io::state_dict(*model);
  std::vector<torch::Tensor> saved;
  for (const auto& [k, v] : weights) saved.push_back(v.clone());

  TempDir dir;
  const auto path = (dir.path() / "state.pt").string();
  io::save_training_state(path, state);
  const auto loaded = io::load_training_state(path);
  EXPECT_EQ(loaded.epoch, 1);

  step(first);  // the reference third step
  std::vector<torch::Tensor> reference;
  for (const auto& [k, v] : io::state_dict(*model)) reference.push_back(v.clone());

  {  // rewind the weights, restore a fresh optimizer, take the third step again
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < weights.size(); ++i) weights[i].second.copy_(saved[i]);
  }
  torch::optim::AdamW second(model->parameters(),
                             torch::optim::AdamWOptions(1.0).weight_decay(0.03));
  io::restore_optimizer(second, loaded);
  EXPECT_DOUBLE_EQ(second.param_groups()[0].options().get_lr(), 1e-3);
  step(second);
  const auto after = io::state_dict(*model);
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_TRUE(torch::equal(after[i].second, reference[i])) << after[i].first;
  }
}

TEST_F(Checkpoints, GeneratorStateRestoresTheSameDraws) {
  io::TrainingState state;
  io::capture_rng(state);
  const auto a = torch::randn({16});
  TempDir dir;
  const auto path = (dir.path() / "rng.pt").string();
  io::save_training_state(path, state);
  torch::randn({100});  // advance
  io::restore_rng(io::load_training_state(path));
  EXPECT_TRUE(torch::equal(torch::randn({16}), a));
}

}  // namespace
}  // namespace svanet::test
