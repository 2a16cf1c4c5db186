// ImageNet encoders from torchvision-layout checkpoints, and freezing.

#include "support/test_support.h"

#include "svanet/common/error.h"
#include "svanet/io/pretrained.h"
#include "svanet/io/pytorch_file.h"
#include "svanet/models/registry.h"

#include <torch/torch.h>

#include <cstdlib>

namespace svanet::test {
namespace {

std::string fixture(const std::string& name) {
  return (data_dir() / "pytorch" / name).string();
}

/// Checks every encoder tensor equals the checkpoint's under torchvision's name.
void expect_encoder_matches(SegmentationModel& model, const std::string& path) {
  std::map<std::string, torch::Tensor> ours;
  for (const auto& [k, v] : io::state_dict(*model->encoder())) ours[k] = v;
  size_t checked = 0;
  for (const auto& [key, tensor] : io::read_pytorch_state_dict(path)) {
    const auto name = io::torchvision_to_svanet_key(key);
    if (name.empty() || ours.count(name) == 0) continue;
    EXPECT_TRUE(torch::equal(ours[name], tensor)) << key << " -> " << name;
    ++checked;
  }
  EXPECT_EQ(checked, ours.size());
}

TEST(Pretrained, MapsTorchvisionNames) {
  EXPECT_EQ(io::torchvision_to_svanet_key("conv1.weight"), "stem.conv.weight");
  EXPECT_EQ(io::torchvision_to_svanet_key("bn1.running_var"), "stem.bn.running_var");
  EXPECT_EQ(io::torchvision_to_svanet_key("layer3.4.bn2.weight"), "layer3.4.conv2.bn.weight");
  EXPECT_EQ(io::torchvision_to_svanet_key("layer2.0.downsample.1.bias"),
            "layer2.0.downsample.bn.bias");
  EXPECT_EQ(io::torchvision_to_svanet_key("fc.weight"), "");
  ASSERT_THROWS_WITH(io::torchvision_to_svanet_key("features.0.weight"), "'features.0.weight'");
}

TEST(Pretrained, LoadsResNet18And50LayoutsByName) {
  for (auto [name, file] : std::vector<std::pair<std::string, std::string>>{
           {"svanet_r18", "torchvision_resnet18_w8.pth"},
           {"svanet_r50", "torchvision_resnet50_w8.pth"}}) {
    SCOPED_TRACE(name);
    auto options =
        ModelOptions().image_size(64).set("encoder_width", "8").set("aspp_channels", "16");
    auto model = create_model(name, options);
    const size_t loaded = io::load_pretrained_backbone(*model, fixture(file));
    EXPECT_EQ(loaded, io::state_dict(*model->encoder()).size());
    expect_encoder_matches(model, fixture(file));
    // The same through the model option, as a YAML config would give it.
    auto via_option = io::build_model({name, options.set(io::kPretrainedBackbone, fixture(file))});
    expect_encoder_matches(via_option, fixture(file));
  }
}

TEST(Pretrained, AnEncoderWithoutStage5IgnoresLayer4) {
  auto model = create_model("svanet_r18", ModelOptions()
                                              .image_size(64)
                                              .set("encoder_width", "8")
                                              .set("aspp_channels", "16")
                                              .set("stage5", "false"));
  io::load_pretrained_backbone(*model, fixture("torchvision_resnet18_w8.pth"));
  expect_encoder_matches(model, fixture("torchvision_resnet18_w8.pth"));
}

TEST(Pretrained, MismatchesNameTheFileAndTheTensor) {
  auto r18 = create_model("svanet_r18",
                          ModelOptions().set("encoder_width", "8").set("aspp_channels", "16"));
  ASSERT_THROWS_WITH(io::load_pretrained_backbone(*r18, fixture("torchvision_resnet50_w8.pth")),
                     "torchvision_resnet50_w8.pth: ");
  ASSERT_THROWS_WITH(io::load_pretrained_backbone(*r18, fixture("torchvision_resnet50_w8.pth")),
                     "'layer1.0.conv3.weight' has no place in the encoder");
  ASSERT_THROWS_WITH(io::load_pretrained_backbone(*r18, fixture("zip_ordered.pth")),
                     "not a torchvision ResNet checkpoint; unexpected keys: conv.weight");
  auto w16 = create_model("svanet_r18",
                          ModelOptions().set("encoder_width", "16").set("aspp_channels", "16"));
  ASSERT_THROWS_WITH(
      io::load_pretrained_backbone(*w16, fixture("torchvision_resnet18_w8.pth")),
      "tensor 'stem.conv.weight' has shape [8, 3, 7, 7] but the model expects [16, 3, 7, 7]");
  auto unet = create_model("unet_small");
  ASSERT_THROWS_WITH(io::load_pretrained_backbone(*unet, fixture("torchvision_resnet18_w8.pth")),
                     "has no pretrained-compatible encoder");
  ASSERT_THROWS_WITH(
      io::build_model({"unet_small", ModelOptions().set(io::kPretrainedBackbone, "x.pth")}),
      "has no pretrained-compatible encoder");
  // A file that is not there says which option named it and how to do without.
  // (Two checks: debug builds put the failed check's location in between.)
  const models::ModelSpec absent{"svanet_r18",
                                 ModelOptions().set(io::kPretrainedBackbone, "absent.pth")};
  ASSERT_THROWS_WITH(io::build_model(absent),
                     "model.options.pretrained_backbone: absent.pth: no such file");
  ASSERT_THROWS_WITH(io::build_model(absent),
                     "(the ImageNet weights are not downloaded: give the file, or train from "
                     "scratch with --set model.options.pretrained_backbone=null)");
  // The registry builds networks only; the weights are loaded above it.
  ASSERT_THROWS_WITH(create_model("svanet_r18", ModelOptions().set(io::kPretrainedBackbone, "x")),
                     "loaded by svanet::io::build_model");
}

TEST(Pretrained, RealTorchvisionCheckpointFromTheEnvironment) {
  // A full-size check, run by hand: SVANET_TORCHVISION_RESNET50=/path/to/resnet50-11ad3fa6.pth
  // (or any torchvision resnet50 state dict).
  const char* path = std::getenv("SVANET_TORCHVISION_RESNET50");
  if (path == nullptr || *path == '\0') GTEST_SKIP() << "SVANET_TORCHVISION_RESNET50 is not set";
  auto model = create_model("svanet_r50", ModelOptions().set("pretrained_backbone", path));
  EXPECT_EQ(io::state_dict(*model->encoder()).size(), 318u);  // 320 tensors minus fc
  expect_encoder_matches(model, path);
}

TEST(Freezing, FreezesEncoderStagesAndOptionallyTheirStatistics) {
  torch::manual_seed(0);
  auto model = create_model("svanet_test");
  auto stages = model->encoder_stages();
  ASSERT_EQ(stages.size(), 5u);
  model->freeze_encoder();  // the official recipe: all stages, statistics updating
  EXPECT_EQ(model->frozen_encoder_stages(), 5);
  for (const auto& p : model->encoder()->parameters()) EXPECT_FALSE(p.requires_grad());
  int64_t trainable = 0;
  for (const auto& p : model->parameters()) trainable += p.requires_grad() ? 1 : 0;
  EXPECT_GT(trainable, 0);
  auto& stem_bn = *model->encoder()->named_modules()["stem.bn"];
  model->train();
  EXPECT_TRUE(stem_bn.is_training());
  auto before = model->encoder()->named_buffers()["stem.bn.running_mean"].clone();
  model->forward(torch::randn({2, 3, 64, 64}));
  EXPECT_FALSE(torch::equal(model->encoder()->named_buffers()["stem.bn.running_mean"], before));

  model->freeze_encoder(2, /*fix_norm_statistics=*/true);  // stem and layer1, statistics fixed
  model->train();
  EXPECT_FALSE(stem_bn.is_training());
  EXPECT_TRUE(model->encoder()->named_modules()["layer2.0.conv1.bn"]->is_training());
  for (const auto& p : stages[1]->parameters()) EXPECT_FALSE(p.requires_grad());
  for (const auto& p : stages[2]->parameters()) EXPECT_TRUE(p.requires_grad());
  before = model->encoder()->named_buffers()["stem.bn.running_mean"].clone();
  model->forward(torch::randn({2, 3, 64, 64}));
  EXPECT_TRUE(torch::equal(model->encoder()->named_buffers()["stem.bn.running_mean"], before));

  model->unfreeze_encoder();
  model->train();
  EXPECT_TRUE(stem_bn.is_training());
  for (const auto& p : model->parameters()) EXPECT_TRUE(p.requires_grad());
  ASSERT_THROWS_WITH(model->freeze_encoder(6), "stages must be -1 or 1..5");
  ASSERT_THROWS_WITH(create_model("unet_small")->freeze_encoder(), "has no encoder to freeze");
}

}  // namespace
}  // namespace svanet::test
