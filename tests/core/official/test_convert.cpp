// Converting official checkpoints: detection of the variant from the
// weights, strict mapping, and the whole chain reproducing official logits.

#include "support/json.h"
#include "support/official_fill.h"
#include "support/test_support.h"

#include "svanet/io/checkpoint.h"
#include "svanet/io/export.h"
#include "svanet/io/pytorch_file.h"
#include "svanet/io/state_dict.h"
#include "svanet/models/registry.h"
#include "svanet/official/compat.h"
#include "svanet/official/convert.h"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace svanet::test {
namespace {

Json official_variants() {
  std::ifstream in(data_dir() / "parity" / "official_state_dicts.json");
  return Json::parse(in);
}

TEST(ConvertOfficial, DetectsEveryOfficialVariantFromItsWeights) {
  const auto variants = official_variants();
  for (const auto& [name, variant] : variants.items()) {
    SCOPED_TRACE(name);
    io::StateDict sd;
    for (const auto& entry : variant.at("state_dict")) {
      // Shapes are all detection reads; the memory is never touched.
      sd.emplace_back(entry.at(0), torch::empty(entry.at(1).get<std::vector<int64_t>>()));
    }
    const auto detected = official::spec_from_official_state_dict(sd, 256);
    const auto expected = official::spec_from_official_args(variant.at("official_args"),
                                                            variant.at("num_classes"), 256);
    EXPECT_EQ(detected.name, expected.name);
    EXPECT_EQ(detected.options.overrides(), expected.options.overrides());
    EXPECT_EQ(detected.options.num_classes(), expected.options.num_classes());
  }
}

TEST(ConvertOfficial, ConvertedBaselineReproducesTheOfficialLogits) {
  // The DeepLabv3 baseline through the whole chain: official-format file ->
  // convert (variant detected) -> svanet checkpoint -> load -> official logits.
  const auto variants = official_variants();
  const auto& variant = variants.at("deeplabv3_baseline");
  TempDir dir;
  const auto official_path = (dir.path() / "official.pth").string();
  const auto ours = (dir.path() / "svanet.pt").string();
  io::StateDict sd;
  for (const auto& entry : variant.at("state_dict")) {
    const std::string key = entry.at(0);
    // As saved from DataParallel, which the official training uses.
    sd.emplace_back("module." + key, official_fill(key, entry.at(1).get<std::vector<int64_t>>(),
                                                   entry.at(2).get<std::string>()));
  }
  io::write_pytorch_state_dict(official_path, sd);
  official::ConvertOptions options;
  options.image_size = 256;
  options.classes = {"background", "lesion"};
  const auto report = official::convert_official_checkpoint(official_path, ours, options);
  EXPECT_EQ(report.spec.name, "deeplabv3_r50");
  EXPECT_EQ(report.tensors, sd.size());

  auto loaded = io::load_checkpoint(ours);
  EXPECT_EQ(loaded.meta.classes, options.classes);
  EXPECT_EQ(loaded.meta.normalization.mode, "reference");
  std::ifstream golden_json(data_dir() / "parity" / "official_eval_logits.json");
  const auto golden = Json::parse(golden_json);
  std::ifstream bin(data_dir() / "parity" / "official_eval_logits.bin", std::ios::binary);
  auto read = [&](const Json& entry) {
    auto t = torch::empty(entry.at("shape").get<std::vector<int64_t>>());
    bin.seekg(entry.at("offset").get<std::streamoff>());
    bin.read(reinterpret_cast<char*>(t.data_ptr<float>()),
             static_cast<std::streamsize>(t.nbytes()));
    return t;
  };
  const auto input = read(golden.at("tensors").at("input_256"));
  const auto expected = read(golden.at("tensors").at("deeplabv3_baseline_256"));
  torch::NoGradGuard no_grad;
  const auto actual = loaded.model->forward(input);
  EXPECT_LT(((actual - expected).norm() / expected.norm()).item<double>(), 1e-4);
}

TEST(ConvertOfficial, UnknownAndMissingTensorsAreListed) {
  TempDir dir;
  const auto variants = official_variants();
  io::StateDict sd;
  for (const auto& entry : variants.at("deeplabv3_baseline").at("state_dict")) {
    sd.emplace_back(entry.at(0),
                    torch::zeros(entry.at(1).get<std::vector<int64_t>>(),
                                 entry.at(2) == "float32" ? torch::kFloat : torch::kLong));
  }
  auto extra = sd;
  extra.emplace_back("SegHead.Mystery.Conv.weight", torch::zeros({1}));
  const auto extra_path = (dir.path() / "extra.pth").string();
  io::write_pytorch_state_dict(extra_path, extra);
  ASSERT_THROWS_WITH(
      official::convert_official_checkpoint(extra_path, (dir.path() / "o.pt").string()),
      "1 key(s) are not part of an official SvANet or DeepLabv3 model: "
      "SegHead.Mystery.Conv.weight");
  auto missing = sd;
  missing.erase(missing.begin() + 5);
  const auto missing_path = (dir.path() / "missing.pth").string();
  io::write_pytorch_state_dict(missing_path, missing);
  ASSERT_THROWS_WITH(
      official::convert_official_checkpoint(missing_path, (dir.path() / "o.pt").string()),
      "1 missing key(s) [encoder.stem.bn.num_batches_tracked]");
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "o.pt"));
}

TEST(ExportOfficial, EveryOfficialVariantGetsExactlyTheOfficialKeysAndShapes) {
  const auto variants = official_variants();
  for (const auto& [name, variant] : variants.items()) {
    SCOPED_TRACE(name);
    const auto spec = official::spec_from_official_args(variant.at("official_args"),
                                                        variant.at("num_classes"), 256);
    const auto ours = io::state_dict(*create_model(spec));
    std::vector<std::string> keys;
    std::map<std::string, std::vector<int64_t>> shapes;
    for (const auto& [k, t] : ours) {
      keys.push_back(k);
      shapes[k] = t.sizes().vec();
    }
    std::map<std::string, std::vector<int64_t>> exported, expected;
    for (const auto& [key, official_key] : official::svanet_to_official_keys(keys)) {
      EXPECT_TRUE(exported.emplace(official_key, shapes.at(key)).second) << official_key;
      EXPECT_EQ(official::to_svanet_key(official_key), key);
    }
    for (const auto& entry : variant.at("state_dict")) {
      expected[entry.at(0).get<std::string>()] = entry.at(1).get<std::vector<int64_t>>();
    }
    EXPECT_EQ(exported, expected);
  }
}

TEST(ExportOfficial, ConvertingTheExportBackGivesTheSameWeightsBitForBit) {
  TempDir dir;
  torch::manual_seed(3);
  auto model = create_model("svanet_test", ModelOptions().num_classes(3));
  // Non-trivial BatchNorm statistics, as after training.
  for (auto& b : model->named_buffers()) {
    if (b.value().is_floating_point()) b.value().uniform_(0.5, 1.5);
  }
  const auto original = (dir.path() / "model.pt").string();
  io::CheckpointMeta meta;
  meta.classes = {"background", "a", "b"};
  io::save_checkpoint(original, *model, meta);
  const auto exported = (dir.path() / "official.pth").string();
  const auto report = official::export_official_checkpoint(original, exported);
  EXPECT_EQ(report.model, "svanet_test");

  official::ConvertOptions options;
  options.spec = model->spec();
  const auto back = (dir.path() / "back.pt").string();
  official::convert_official_checkpoint(exported, back, options);
  const auto a = io::state_dict(*io::load_checkpoint(original).model);
  const auto b = io::state_dict(*io::load_checkpoint(back).model);
  ASSERT_EQ(a.size(), b.size());
  size_t compared = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].first, b[i].first);
    if (official::is_svanet_only_key(a[i].first)) continue;
    EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;
    ++compared;
  }
  EXPECT_EQ(compared, report.tensors);
}

TEST(ExportOfficial, ModelsWithoutAnOfficialLayoutAreRefusedByName) {
  TempDir dir;
  const auto path = (dir.path() / "unet.pt").string();
  io::save_checkpoint(path, *create_model("unet_small", ModelOptions()), {});
  ASSERT_THROWS_WITH(official::export_official_checkpoint(path, (dir.path() / "o.pth").string()),
                     "model 'unet_small' has no official layout");
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "o.pth"));
}

TEST(ExportPlain, WritesTheStateDictAndAModelSpecBeside) {
  TempDir dir;
  auto model = create_model("svanet_test", ModelOptions().num_classes(2));
  const auto path = (dir.path() / "model.pt").string();
  io::CheckpointMeta meta;
  meta.classes = {"background", "polyp \"big\""};
  io::save_checkpoint(path, *model, meta);
  const auto r = io::export_state_dict(path, (dir.path() / "weights.pt").string());
  EXPECT_EQ(r.sidecar, (dir.path() / "weights.json").string());
  const auto sd = io::read_pytorch_state_dict(r.weights);
  const auto ours = io::state_dict(*model);
  ASSERT_EQ(sd.size(), ours.size());
  for (size_t i = 0; i < sd.size(); ++i) {
    EXPECT_EQ(sd[i].first, ours[i].first);
    EXPECT_TRUE(torch::equal(sd[i].second, ours[i].second)) << sd[i].first;
  }
  std::ifstream in(r.sidecar);
  const auto spec = Json::parse(in);
  EXPECT_EQ(spec.at("model").at("name"), "svanet_test");
  EXPECT_EQ(spec.at("model").at("num_classes").get<int64_t>(), 2);
  EXPECT_EQ(spec.at("classes").at(1), "polyp \"big\"");
  EXPECT_EQ(spec.at("normalization").at("mode"), "imagenet");
  ASSERT_THROWS_WITH(io::export_state_dict(path, (dir.path() / "w.json").string()),
                     "another extension than .json");
}

}  // namespace
}  // namespace svanet::test
