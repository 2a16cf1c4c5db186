// Every registered model, in its tiny form: shapes, gradients, determinism,
// serialization, batch-size-1 training (timm's test_models.py, PyTorch's
// test/cpp/api/modules.cpp).

#include "support/test_support.h"

#include "svanet/common/error.h"
#include "svanet/io/state_dict.h"
#include "svanet/models/layers.h"
#include "svanet/models/profile.h"
#include "svanet/models/registry.h"
#include "svanet/models/svanet.h"

#include <torch/torch.h>

namespace svanet::test {
namespace {

std::vector<std::string> registered_names() {
  std::vector<std::string> names;
  for (const auto& info : list_models()) names.push_back(info.name);
  return names;
}

class RegistryModelTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { torch::manual_seed(0); }
  SegmentationModel make(int64_t num_classes = 2) {
    return create_model(GetParam(), tiny_options(GetParam(), num_classes));
  }
};

TEST_P(RegistryModelTest, OutputMatchesInputSizeForOddSizes) {
  auto model = make(3);
  model->eval();
  torch::NoGradGuard no_grad;
  for (auto [h, w] : std::vector<std::pair<int64_t, int64_t>>{{64, 64}, {65, 47}, {33, 96}}) {
    auto y = model->forward(torch::randn({2, 3, h, w}));
    EXPECT_EQ(y.sizes(), torch::IntArrayRef({2, 3, h, w})) << h << "x" << w;
    EXPECT_TRUE(torch::isfinite(y).all().item<bool>()) << h << "x" << w;
  }
}

TEST_P(RegistryModelTest, EveryParameterReceivesAGradient) {
  auto model = make();
  model->train();
  auto x = torch::randn({2, 3, 64, 64});
  auto target = torch::randint(2, {2, 64, 64}, torch::kLong);
  auto loss = torch::nn::functional::cross_entropy(model->forward(x), target);
  loss.backward();
  ASSERT_TRUE(std::isfinite(loss.item<double>()));
  for (const auto& p : model->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key() << " has no gradient";
    EXPECT_TRUE(torch::isfinite(p.value().grad()).all().item<bool>()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key() << " gradient is zero";
  }
}

TEST_P(RegistryModelTest, EvalModeIsDeterministic) {
  auto model = make();
  model->eval();
  torch::NoGradGuard no_grad;
  auto x = torch::randn({1, 3, 64, 64});
  auto a = model->forward(x);
  torch::manual_seed(123);
  auto b = model->forward(x);
  EXPECT_TRUE(torch::equal(a, b));
}

TEST_P(RegistryModelTest, TrainModeIsReproducibleFromTheSeed) {
  auto model = make();
  model->train();
  auto x = torch::randn({2, 3, 64, 64});
  torch::manual_seed(7);
  auto a = model->forward(x).detach();
  torch::manual_seed(7);
  auto b = model->forward(x).detach();
  EXPECT_TRUE(torch::equal(a, b));
}

TEST_P(RegistryModelTest, TrainsAtBatchSizeOne) {
  auto model = make();
  model->train();
  torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-3));
  auto x = torch::randn({1, 3, 64, 64});
  auto target = torch::randint(2, {1, 64, 64}, torch::kLong);
  for (int step = 0; step < 2; ++step) {
    optimizer.zero_grad();
    auto loss = torch::nn::functional::cross_entropy(model->forward(x), target);
    ASSERT_TRUE(std::isfinite(loss.item<double>()));
    loss.backward();
    optimizer.step();
  }
}

TEST_P(RegistryModelTest, SerializationRoundTripIsExact) {
  TempDir dir;
  const auto path = (dir.path() / "model.pt").string();
  auto model = make();
  // Move running statistics away from their initial values first.
  model->train();
  {
    torch::NoGradGuard no_grad;
    model->forward(torch::randn({2, 3, 64, 64}));
  }
  model->eval();
  torch::save(model.ptr(), path);
  torch::manual_seed(99);  // a different initialisation
  auto restored = make();
  std::shared_ptr<torch::nn::Module> restored_module = restored.ptr();
  torch::load(restored_module, path);
  restored->eval();
  auto original = io::state_dict(*model);
  auto loaded = io::state_dict(*restored);
  ASSERT_EQ(original.size(), loaded.size());
  for (size_t i = 0; i < original.size(); ++i) {
    EXPECT_EQ(original[i].first, loaded[i].first);
    EXPECT_TRUE(torch::equal(original[i].second, loaded[i].second)) << original[i].first;
  }
  torch::NoGradGuard no_grad;
  auto x = torch::randn({1, 3, 64, 64});
  EXPECT_TRUE(torch::equal(model->forward(x), restored->forward(x)));
}

/// Gives every BatchNorm non-trivial statistics and affine parameters, as a
/// trained model has (a fresh one has mean 0, variance 1, scale 1, shift 0,
/// under which folding would change nothing whatever it did).
void randomise_batchnorms(torch::nn::Module& model) {
  torch::NoGradGuard no_grad;
  for (const auto& m : model.modules()) {
    if (auto* bn = dynamic_cast<models::SyncBatchNorm2dImpl*>(m.get())) {
      bn->running_mean.uniform_(-0.5, 0.5);
      bn->running_var.uniform_(0.5, 2.0);
      if (bn->options.affine()) {
        bn->weight.uniform_(0.5, 1.5);
        bn->bias.uniform_(-0.5, 0.5);
      }
    }
  }
}

TEST_P(RegistryModelTest, FoldingBatchNormKeepsTheEvalOutputs) {
  auto model = make(3);
  randomise_batchnorms(*model);
  model->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({2, 3, 64, 64});
  const auto before = model->forward(x);
  const auto batchnorms = [&] {
    int64_t n = 0;
    for (const auto& m : model->modules()) n += m->as<models::SyncBatchNorm2d>() != nullptr ? 1 : 0;
    return n;
  };
  const auto total = batchnorms();
  const auto folded = models::fold_batchnorm(*model);
  EXPECT_EQ(batchnorms(), total - folded);
  if (total > 0) {
    EXPECT_GT(folded, 0);
  }
  const auto after = model->forward(x);
  EXPECT_TRUE(torch::allclose(after, before, 1e-4, 1e-4))
      << "largest difference " << (after - before).abs().max().item<double>();
  // Folding is for inference: a model in training mode is refused.
  model->train();
  EXPECT_THROW(models::fold_batchnorm(*model), c10::Error);
}

TEST_P(RegistryModelTest, ChannelsLastGivesTheSameOutputs) {
  auto model = make(3);
  model->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({1, 3, 64, 64});
  const auto before = model->forward(x);
  for (auto& p : model->parameters()) {
    if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
  }
  const auto after = model->forward(x.contiguous(torch::MemoryFormat::ChannelsLast));
  EXPECT_TRUE(torch::allclose(after, before, 1e-4, 1e-5))
      << "largest difference " << (after - before).abs().max().item<double>();
}

TEST_P(RegistryModelTest, RecordsItsSpec) {
  auto model = make();
  EXPECT_EQ(model->spec().name, GetParam());
  EXPECT_EQ(model->num_classes(), 2);
  auto rebuilt = create_model(model->spec());
  EXPECT_EQ(models::count_parameters(*rebuilt), models::count_parameters(*model));
}

INSTANTIATE_TEST_SUITE_P(AllModels, RegistryModelTest, ::testing::ValuesIn(registered_names()),
                         [](const auto& info) { return info.param; });

TEST(Registry, ListsThePaperModelsAndBaselines) {
  for (const char* name :
       {"svanet_r50", "svanet_r50_no_mcattn", "svanet_r50_no_svattn", "svanet_r50_no_vit",
        "svanet_r50_no_link", "svanet_r50_add_link", "svanet_r50_no_guide", "svanet_r50_no_stage5",
        "deeplabv3_r50", "unet", "svanet_r18", "svanet_r34", "svanet_test"}) {
    EXPECT_TRUE(has_model(name)) << name;
  }
}

TEST(Registry, UnknownModelListsTheRegisteredOnes) {
  ASSERT_THROWS_WITH(create_model("svanet_r51"), "unknown model 'svanet_r51'");
  ASSERT_THROWS_WITH(create_model("svanet_r51"), "svanet_r50_no_svattn");
}

TEST(Registry, UnknownOptionListsTheValidOnes) {
  ASSERT_THROWS_WITH(create_model("svanet_test", ModelOptions().set("svattn", "false")),
                     "unknown option 'svattn' for model 'svanet_test'");
  ASSERT_THROWS_WITH(create_model("svanet_test", ModelOptions().set("svattn", "false")),
                     "scale_variant_attention");
}

TEST(Registry, MalformedOptionValuesNameTheKey) {
  ASSERT_THROWS_WITH(create_model("svanet_test", ModelOptions().set("link", "sideways")),
                     "option 'link' of model 'svanet_test'");
  ASSERT_THROWS_WITH(create_model("svanet_test", ModelOptions().set("former_blocks", "two")),
                     "expected an integer, got 'two'");
  ASSERT_THROWS_WITH(create_model("svanet_test", ModelOptions().set("encoder_depth", "42")),
                     "depth must be 18, 34 or 50");
  ASSERT_THROWS_WITH(create_model("svanet_test", ModelOptions().num_classes(0)),
                     "num_classes must be >= 1");
}

TEST(Registry, OverridesReachEveryAblation) {
  // One SvANet with every switch flipped through options alone.
  auto model = create_model("svanet_test", ModelOptions()
                                               .set("monte_carlo_attention", "false")
                                               .set("scale_variant_attention", "false")
                                               .set("link", "add")
                                               .set("stage5", "false")
                                               .set("mc_pool_sizes", "1,2"));
  auto& net = dynamic_cast<models::SvANetImpl&>(*model);
  EXPECT_FALSE(net.options.monte_carlo_attention());
  EXPECT_FALSE(net.options.scale_variant_attention());
  EXPECT_EQ(net.options.link(), models::LinkMode::kAdd);
  EXPECT_FALSE(net.options.stage5());
  EXPECT_EQ(net.options.mc_pool_sizes(), std::vector<int64_t>({1, 2}));
  EXPECT_EQ(net.size_multiple(), 16);
}

}  // namespace
}  // namespace svanet::test
