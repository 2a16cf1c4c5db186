// The `data:` section of YAML configs.

#include "support/test_support.h"

#include "svanet/config/data_config.h"

#include <filesystem>

namespace svanet::test {
namespace {

TEST(DataConfig, ParsesEveryKey) {
  const auto c = config::parse_data_config(R"(
data:
  root: /data/polyps
  dataset: polypgen
  normalization: {mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]}
  splits: {seed: 7, val_fraction: 0.1, test_fraction: 0.3, folds: 5, fold: 2}
  batch_size: 8
  workers: 3
  augment:
    size: 384
    hflip: 0
    crop: false
    rotation_degrees: 15
    hue: 0.1
  sampling: {object_share: 0.5, weighting: uniform, weight_cap: 20}
)");
  EXPECT_EQ(c.root, "/data/polyps");
  EXPECT_EQ(c.dataset, "polypgen");
  EXPECT_EQ(c.normalization.mode, "custom");
  EXPECT_EQ(c.normalization.std, (std::vector<double>{0.25, 0.25, 0.25}));
  EXPECT_EQ(c.splits.seed, 7u);
  EXPECT_DOUBLE_EQ(c.splits.val_fraction, 0.1);
  EXPECT_EQ(c.splits.folds, 5);
  EXPECT_EQ(c.splits.fold, 2);
  EXPECT_EQ(c.batch_size, 8);
  EXPECT_EQ(c.workers, 3);
  EXPECT_EQ(c.augment.size, 384);
  EXPECT_DOUBLE_EQ(c.augment.hflip, 0.0);
  EXPECT_FALSE(c.augment.crop);
  EXPECT_DOUBLE_EQ(c.augment.rotation_degrees, 15.0);
  EXPECT_DOUBLE_EQ(c.augment.hue, 0.1);
  EXPECT_DOUBLE_EQ(c.augment.blur, 0.5);  // untouched keys keep the official defaults
  EXPECT_DOUBLE_EQ(c.augment.sampling.object_share, 0.5);
  EXPECT_EQ(c.augment.sampling.weighting, "uniform");
  EXPECT_DOUBLE_EQ(c.augment.sampling.weight_cap, 20.0);
  // Without a sampling section: the paper's uniform crops.
  EXPECT_DOUBLE_EQ(config::parse_data_config("data: {}\n").augment.sampling.object_share, 0.0);
}

TEST(DataConfig, ErrorsNameTheLineAndTheValidKeys) {
  ASSERT_THROWS_WITH(
      config::parse_data_config("data:\n  augment:\n    hflp: 0.5\n", "a.yaml"),
      "a.yaml:3:5: unknown key 'data.augment.hflp' (did you mean 'hflip'?); valid keys: blur, "
      "blur_max_radius");
  ASSERT_THROWS_WITH(
      config::parse_data_config("data:\n  augment:\n    crop: sometimes\n", "b.yaml"),
      "b.yaml:3:11: 'data.augment.crop' has an invalid value 'sometimes'");
  ASSERT_THROWS_WITH(
      config::parse_data_config("data:\n  normalization: zscore\n", "c.yaml"),
      "c.yaml:2:18: normalization is imagenet, reference, or {mean: [...], std: [...]}");
  ASSERT_THROWS_WITH(
      config::parse_data_config("data:\n  normalization: {mean: [0.5], std: [1]}\n", "d.yaml"),
      "d.yaml:2:18: normalisation needs 3 means and 3 standard deviations");
  ASSERT_THROWS_WITH(config::parse_data_config("data:\n  batch_size: 0\n", "e.yaml"),
                     "data.batch_size must be >= 1");
  ASSERT_THROWS_WITH(
      config::parse_data_config("data:\n  sampling: {weighting: largest}\n", "g.yaml"),
      "must be uniform or inverse_area, got 'largest'");
  ASSERT_THROWS_WITH(config::parse_data_config("data:\n  sampling: {object_share: 2}\n", "h.yaml"),
                     "must be in [0, 1], got 2");
  ASSERT_THROWS_WITH(config::parse_data_config("model: {}\n", "f.yaml"),
                     "f.yaml: missing the 'data:' section");
}

TEST(DataConfig, CommittedDataConfigsAreValid) {
  const auto dir = data_dir().parent_path().parent_path() / "configs" / "data";
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    const auto c = config::load_data_config(entry.path().string());
    EXPECT_FALSE(c.root.empty());
    ++count;
  }
  EXPECT_GE(count, 2);
}

}  // namespace
}  // namespace svanet::test
