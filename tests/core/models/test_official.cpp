// The official implementation's state-dict keys and flags.

#include "support/json.h"
#include "support/test_support.h"

#include "svanet/io/state_dict.h"
#include "svanet/models/profile.h"
#include "svanet/models/registry.h"
#include "svanet/official/compat.h"

#include <torch/torch.h>

#include <fstream>
#include <set>

namespace svanet::test {
namespace {

TEST(OfficialKeys, MapsEachKindOfKey) {
  using official::to_svanet_key;
  EXPECT_EQ(to_svanet_key("Encoder.Conv1.Conv.weight"), "encoder.stem.conv.weight");
  EXPECT_EQ(to_svanet_key("Encoder.Layer1.1.2.Conv3.Bn.running_var"),
            "encoder.layer1.2.conv3.bn.running_var");
  EXPECT_EQ(to_svanet_key("Encoder.Layer4.0.Downsample.Conv.weight"),
            "encoder.layer4.0.downsample.conv.weight");
  EXPECT_EQ(to_svanet_key("SegHead.ConvB2.Bottleneck.2.SELayer.1.Conv.bias"),
            "bottlenecks.1.attention.expand.conv.bias");
  EXPECT_EQ(to_svanet_key("SegHead.ConvB1.ViTLayer.GlobalRep.1.PreNormAttn.1.qkv_proj.Conv.weight"),
            "bottlenecks.0.former.global_blocks.1.attn.qkv.conv.weight");
  EXPECT_EQ(to_svanet_key("SegHead.ConvB1.ViTLayer.GlobalRep.2.running_mean"),
            "bottlenecks.0.former.global_norm.running_mean");
  EXPECT_EQ(to_svanet_key("SegHead.Convr13.Conv2.Conv.1.Bn.weight"),
            "cross_1_3.blocks.1.conv1x1.bn.weight");
  EXPECT_EQ(to_svanet_key("SegHead.Convr24.Squeeze3.Conv.bias"), "cross_2_4.squeeze.2.conv.bias");
  EXPECT_EQ(to_svanet_key("SegHead.LinkHead.UpLink3.TPConv.1.Conv.weight"),
            "link.up.2.deconv.conv.weight");
  EXPECT_EQ(to_svanet_key("SegHead.LinkHead.CatLinkConv1.Conv.0.Conv.weight"),
            "link.fuse.0.conv3x3.conv.weight");
  EXPECT_EQ(to_svanet_key("SegHead.Aspp.aspp_layer.Convs.4.AsppPool.conv_1x1.Bn.bias"),
            "aspp.pooling.bn.bias");
  EXPECT_EQ(to_svanet_key("module.SegHead.Classifier.Classifier.Conv.weight"),
            "classifier.conv.weight");
}

TEST(OfficialKeys, UnknownKeysAreNamed) {
  ASSERT_THROWS_WITH(official::to_svanet_key("SegHead.Mystery.weight"),
                     "unrecognised official state-dict key 'SegHead.Mystery.weight'");
  ASSERT_THROWS_WITH(official::to_svanet_key("Encoder.Conv1.Conv.scale"),
                     "Encoder.Conv1.Conv.scale");
}

TEST(OfficialArgs, TranslateToRegisteredModels) {
  const std::string base = "--task segmentation --model_name resnet50 --seg_head_name deeplabv3 ";
  auto full = official::spec_from_official_args(
      base + "--seg_feature_guide 2 --fg_bottle_se 2 --fg_svattn 1 --fg_link 2", 2, 512);
  EXPECT_EQ(full.name, "svanet_r50");
  EXPECT_TRUE(full.options.overrides().empty());
  EXPECT_EQ(full.options.image_size(), 512);
  auto baseline = official::spec_from_official_args(base + "--seg_feature_guide 0", 3, 256);
  EXPECT_EQ(baseline.name, "deeplabv3_r50");
  EXPECT_EQ(baseline.options.num_classes(), 3);
  auto ablation = official::spec_from_official_args(
      base + "--seg_feature_guide 2 --fg_link 1 --fg_use_guide --fg_nostage5 --moc_pool_res 1 2", 2,
      512);
  const OptionMap expected{{"link", "add"},
                           {"cross_scale_guidance", "false"},
                           {"stage5", "false"},
                           {"mc_pool_sizes", "1,2"}};
  EXPECT_EQ(ablation.options.overrides(), expected);
}

TEST(OfficialArgs, UnsupportedVariantsNameTheFlag) {
  ASSERT_THROWS_WITH(
      official::spec_from_official_args("--seg_feature_guide 2 --fg_bottle_se 1", 2, 512),
      "--fg_bottle_se");
  ASSERT_THROWS_WITH(official::spec_from_official_args("--seg_feature_guide 1", 2, 512),
                     "--seg_feature_guide");
  ASSERT_THROWS_WITH(official::spec_from_official_args("--model_name mobilevit", 2, 512),
                     "--model_name");
  ASSERT_THROWS_WITH(official::spec_from_official_args("--seg_feature_guide two", 2, 512),
                     "expected an integer, got 'two'");
}

TEST(OfficialKeys, EveryOfficialVariantMapsStrictlyOntoItsModel) {
  std::ifstream in(data_dir() / "parity" / "official_state_dicts.json");
  ASSERT_TRUE(in.good());
  const auto variants = Json::parse(in);
  ASSERT_EQ(variants.size(), 7u);
  for (const auto& [name, variant] : variants.items()) {
    SCOPED_TRACE(name);
    auto spec = official::spec_from_official_args(variant.at("official_args"),
                                                  variant.at("num_classes"), 256);
    auto model = create_model(spec);
    EXPECT_EQ(models::count_parameters(*model), variant.at("num_parameters").get<int64_t>());
    std::map<std::string, std::vector<int64_t>> ours;
    for (const auto& [key, tensor] : io::state_dict(*model)) {
      ours[key] = tensor.sizes().vec();
    }
    std::set<std::string> mapped;
    for (const auto& entry : variant.at("state_dict")) {
      const std::string key = official::to_svanet_key(entry.at(0));
      ASSERT_TRUE(mapped.insert(key).second) << "two official keys map to " << key;
      ASSERT_EQ(ours.count(key), 1u) << entry.at(0) << " -> " << key << " is not in the model";
      EXPECT_EQ(ours[key], entry.at(1).get<std::vector<int64_t>>()) << key;
    }
    for (const auto& [key, shape] : ours) {
      if (mapped.count(key) == 0) {
        EXPECT_TRUE(official::is_svanet_only_key(key)) << key << " has no official counterpart";
      }
    }
  }
}

}  // namespace
}  // namespace svanet::test
