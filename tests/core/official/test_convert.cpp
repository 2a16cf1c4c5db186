// Converting official checkpoints: detection of the variant from the
// weights, strict mapping, and the whole chain reproducing official logits.

#include "support/json.h"
#include "support/official_fill.h"
#include "support/test_support.h"

#include "svanet/io/checkpoint.h"
#include "svanet/io/pytorch_file.h"
#include "svanet/official/compat.h"
#include "svanet/official/convert.h"

#include <torch/torch.h>

#include <fstream>

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

}  // namespace
}  // namespace svanet::test
