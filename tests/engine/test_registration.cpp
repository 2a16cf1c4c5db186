// A model and a loss that exist only in this file, registered from here the
// way a user's program does it (docs/architecture.md, "How to add a model
// or a loss"), listed through the registry API and trained for one epoch by
// the stock trainer from a YAML config.

#include "support/test_support.h"

#include "svanet/config/train_config.h"
#include "svanet/data/demo.h"
#include "svanet/engine/trainer.h"
#include "svanet/io/checkpoint.h"
#include "svanet/losses/loss.h"
#include "svanet/models/registry.h"

#include <torch/torch.h>

#include <fstream>
#include <sstream>

namespace svanet::test {
namespace {

namespace fs = std::filesystem;

// --- the user's model: two convolutions -------------------------------------

struct TwoConvOptions {
  int64_t width = 8;
  double dropout = 0.0;
};

const Fields<TwoConvOptions>& two_conv_fields() {
  static const auto fields = Fields<TwoConvOptions>()
                                 .add(SVANET_FIELD(width, "channels of the hidden layer"))
                                 .add(SVANET_FIELD(dropout, "dropout before the classifier"));
  return fields;
}

struct TwoConvImpl : models::SegmentationModelImpl {
  TwoConvImpl(const ModelOptions& common, const TwoConvOptions& own)
      : classes_(common.num_classes()), channels_(common.in_channels()) {
    hidden_ = register_module(
        "hidden", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels_, own.width, 3).padding(1)));
    dropout_ = register_module("dropout", torch::nn::Dropout2d(own.dropout));
    head_ = register_module("head", torch::nn::Conv2d(own.width, classes_, 1));
  }
  torch::Tensor forward(const torch::Tensor& x) override {
    return head_(dropout_(torch::relu(hidden_(x))));
  }
  int64_t num_classes() const override { return classes_; }
  int64_t in_channels() const override { return channels_; }

 private:
  int64_t classes_, channels_;
  torch::nn::Conv2d hidden_{nullptr}, head_{nullptr};
  torch::nn::Dropout2d dropout_{nullptr};
};

// --- the user's loss: a scaled cross-entropy ---------------------------------

struct ScaledOptions {
  double scale = 1.0;
};

const Fields<ScaledOptions>& scaled_fields() {
  static const auto fields =
      Fields<ScaledOptions>().add(SVANET_FIELD(scale, "factor of the cross-entropy"));
  return fields;
}

class ScaledCrossEntropy : public losses::Loss {
 public:
  ScaledCrossEntropy(ScaledOptions options, const losses::LossContext& context)
      : options_(options), ignore_(context.ignore_index) {}
  torch::Tensor operator()(const torch::Tensor& logits, const torch::Tensor& target) override {
    ++calls;
    namespace F = torch::nn::functional;
    return options_.scale *
           F::cross_entropy(logits, target, F::CrossEntropyFuncOptions().ignore_index(ignore_));
  }
  void to(const torch::Device&) override {}
  static inline int64_t calls = 0;

 private:
  ScaledOptions options_;
  int64_t ignore_;
};

// Registered when the test program starts, as a user's own file would.
const bool kRegistered = [] {
  model_registry().add({"two_conv",
                        "a user's two-layer network",
                        two_conv_fields().schema(),
                        {"user", 64, false},
                        [](const ModelOptions& o) {
                          return models::make_model<TwoConvImpl>(
                              o, two_conv_fields().parse(o.overrides()));
                        }});
  losses::loss_registry().add(
      {"scaled_ce",
       "a user's scaled cross-entropy",
       scaled_fields().schema(),
       {},
       [](const OptionMap& o, const losses::LossContext& c) -> std::unique_ptr<losses::Loss> {
         return std::make_unique<ScaledCrossEntropy>(scaled_fields().parse(o), c);
       },
       [](const OptionMap& o) {
         SVANET_CHECK(scaled_fields().parse(o).scale > 0, "scale must be positive");
       }});
  return true;
}();

TEST(Registration, AUsersModelAndLossAreListedBesideSvanetsOwn) {
  ASSERT_TRUE(kRegistered);
  EXPECT_TRUE(has_model("two_conv"));
  bool listed = false;
  for (const auto& info : list_models()) {
    if (info.name == "two_conv") {
      listed = true;
      EXPECT_EQ(info.family, "user");
      EXPECT_EQ(info.default_image_size, 64);
    }
  }
  EXPECT_TRUE(listed);
  const auto& schema = model_registry().schema("two_conv");
  ASSERT_EQ(schema.size(), 2u);
  EXPECT_EQ(schema[0].name, "width");
  EXPECT_EQ(schema[0].default_value, "8");
  const auto names = losses::loss_registry().names();
  EXPECT_NE(std::find(names.begin(), names.end(), "scaled_ce"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "cross_entropy"), names.end());

  // Built by name like svanet's own, options checked against its schema.
  auto model = create_model("two_conv", ModelOptions().num_classes(3).set("width", "4"));
  EXPECT_EQ(model->forward(torch::zeros({1, 3, 16, 16})).sizes(),
            torch::IntArrayRef({1, 3, 16, 16}));
  EXPECT_EQ(model->spec().name, "two_conv");
  ASSERT_THROWS_WITH(create_model("two_conv", ModelOptions().set("depth", "2")),
                     "unknown option 'depth' for model 'two_conv'; valid options: width, dropout");
  ASSERT_THROWS_WITH(losses::create_loss("scaled_ce", {{"scale", "-1"}}, {}),
                     "loss 'scaled_ce': scale must be positive");
}

TEST(Registration, TheStockTrainerTrainsThemFromYaml) {
  TempDir dir;
  data::DemoOptions demo;
  demo.count = 12;
  demo.size = 64;
  data::generate_demo_dataset((dir.path() / "data").string(), demo);
  std::ostringstream yaml;
  yaml << "model: {name: two_conv, options: {width: 6}}\n"
       << "data: {root: " << (dir.path() / "data").string()
       << ", dataset: demo, batch_size: 4, augment: {size: 64}}\n"
       << "train:\n  epochs: 1\n  device: cpu\n  freeze_encoder_epochs: 0\n"
       << "  loss: {name: scaled_ce, scale: 0.5}\n  select_metric: dice\n"
       << "evaluate: {overlays: 1}\n";
  const auto config = config::parse_train_config(yaml.str(), "user.yaml");
  EXPECT_EQ(config.train.loss.name, "scaled_ce");
  EXPECT_EQ(config.train.loss.options.at("scale"), "0.5");
  ASSERT_THROWS_WITH(config::parse_train_config(yaml.str(), "user.yaml", {"train.loss.gamma=2"}),
                     "--set 'train.loss.gamma=2': unknown key 'train.loss.gamma'; valid keys "
                     "under 'train.loss': name, scale");

  ScaledCrossEntropy::calls = 0;
  const fs::path run = dir.path() / "run";
  const auto result = engine::train(config, run.string());
  EXPECT_TRUE(result.completed);
  EXPECT_EQ(result.epochs_completed, 1);
  EXPECT_GT(ScaledCrossEntropy::calls, 0);  // the trainer used the user's loss
  EXPECT_FALSE(result.test.empty());
  // The run's resolved config names them, and reads back.
  std::ifstream in(run / "config.yaml");
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("name: two_conv"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("name: scaled_ce"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("scale: 0.5"), std::string::npos) << text.str();
  EXPECT_EQ(config::to_yaml(config::load_train_config((run / "config.yaml").string())), text.str());
  // The checkpoint rebuilds the user's model by name, with no flags.
  auto loaded = io::load_checkpoint((run / "checkpoints" / "best.pt").string());
  EXPECT_EQ(loaded.meta.model.name, "two_conv");
  EXPECT_EQ(loaded.meta.model.options.overrides().at("width"), "6");
  EXPECT_EQ(loaded.model->forward(torch::zeros({1, 3, 32, 32})).size(1), 3);
}

}  // namespace
}  // namespace svanet::test
