// The `model:` section of YAML configs.

#include "support/test_support.h"

#include "svanet/config/model_config.h"
#include "svanet/models/profile.h"

#include <filesystem>

namespace svanet::test {
namespace {

TEST(ModelConfig, ParsesNameSizesAndOptions) {
  const auto spec = config::parse_model_spec(R"(
model:
  name: svanet_test
  num_classes: 3
  in_channels: 1
  image_size: 96
  options:
    link: add
    mc_pool_sizes: [1, 2]
    scale_variant_attention: false
)");
  EXPECT_EQ(spec.name, "svanet_test");
  EXPECT_EQ(spec.options.num_classes(), 3);
  EXPECT_EQ(spec.options.in_channels(), 1);
  EXPECT_EQ(spec.options.image_size(), 96);
  const OptionMap expected{
      {"link", "add"}, {"mc_pool_sizes", "1,2"}, {"scale_variant_attention", "false"}};
  EXPECT_EQ(spec.options.overrides(), expected);
  auto model = create_model(spec);
  EXPECT_EQ(model->in_channels(), 1);
  EXPECT_EQ(model->forward(torch::randn({1, 1, 64, 64})).size(1), 3);
}

TEST(ModelConfig, ErrorsNameTheSourceLineAndKey) {
  ASSERT_THROWS_WITH(
      config::parse_model_spec("model:\n  name: svanet_test\n  clases: 2\n", "a.yaml"),
      "a.yaml:3:3: unknown key 'model.clases'; valid keys: name, num_classes");
  ASSERT_THROWS_WITH(config::parse_model_spec(
                         "model:\n  name: svanet_test\n  options:\n    svattn: off\n", "b.yaml"),
                     "b.yaml:4:5: unknown option 'model.options.svattn' for model 'svanet_test'");
  ASSERT_THROWS_WITH(config::parse_model_spec("model:\n  name: svanet_r99\n", "c.yaml"),
                     "c.yaml:2:9: unknown model 'svanet_r99'");
  ASSERT_THROWS_WITH(
      config::parse_model_spec("model:\n  name: svanet_test\n  num_classes: two\n", "d.yaml"),
      "d.yaml:3:16: 'model.num_classes' has an invalid value 'two'");
  ASSERT_THROWS_WITH(config::parse_model_spec("model: [\n", "e.yaml"), "e.yaml:");
  ASSERT_THROWS_WITH(config::parse_model_spec("train: {}\n", "f.yaml"),
                     "f.yaml: missing the 'model:' section");
  ASSERT_THROWS_WITH(config::load_model_spec("/nonexistent/model.yaml"),
                     "/nonexistent/model.yaml: cannot open the config file");
}

TEST(ModelConfig, EveryCommittedModelConfigIsValid) {
  const auto dir = data_dir().parent_path().parent_path() / "configs" / "models";
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    SCOPED_TRACE(entry.path().string());
    const auto spec = config::load_model_spec(entry.path().string());
    // Option values are checked by building the tiny form with the same overrides.
    auto tiny = tiny_options(spec.name, spec.options.num_classes());
    for (const auto& [key, value] : spec.options.overrides()) {
      if (tiny.overrides().count(key) == 0) tiny.set(key, value);
    }
    EXPECT_GT(models::count_parameters(*create_model(spec.name, tiny)), 0);
    ++count;
  }
  EXPECT_GE(count, 4);
}

}  // namespace
}  // namespace svanet::test
