#include "svanet/official/convert.h"

#include "svanet/common/error.h"
#include "svanet/io/pytorch_file.h"
#include "svanet/models/registry.h"
#include "svanet/official/compat.h"
#include "svanet/utils/text.h"

#include <torch/torch.h>

#include <map>
#include <regex>
#include <set>

namespace svanet::official {

namespace {

const torch::Tensor* find(const io::StateDict& sd, const std::string& key) {
  for (const auto& [k, v] : sd) {
    if (k == key) return &v;
  }
  return nullptr;
}

bool any_key(const io::StateDict& sd, const std::string& fragment) {
  for (const auto& [k, v] : sd) {
    if (k.find(fragment) != std::string::npos) return true;
  }
  return false;
}

int64_t count_blocks(const io::StateDict& sd, const std::string& layer_prefix) {
  std::set<int64_t> blocks;
  const std::regex pattern("^" + layer_prefix + R"((\d+)\.)");
  std::smatch m;
  for (const auto& [k, v] : sd) {
    if (std::regex_search(k, m, pattern)) blocks.insert(std::stoll(m[1]));
  }
  return static_cast<int64_t>(blocks.size());
}

}  // namespace

models::ModelSpec spec_from_official_state_dict(const io::StateDict& sd, int64_t image_size) {
  const torch::Tensor* stem = find(sd, "Encoder.Conv1.Conv.weight");
  const torch::Tensor* classifier = find(sd, "SegHead.Classifier.Classifier.Conv.weight");
  SVANET_CHECK(
      stem != nullptr && classifier != nullptr,
      "not an official SvANet/DeepLabv3 state dict (no Encoder.Conv1 or SegHead.Classifier)");
  models::ModelOptions options;
  options.num_classes(classifier->size(0)).in_channels(stem->size(1)).image_size(image_size);
  const bool bottleneck = any_key(sd, "Encoder.Layer1.1.0.Conv3.");
  const int64_t layer3_blocks = count_blocks(sd, R"(Encoder\.Layer3\.)");
  const int64_t depth = bottleneck ? 50 : (layer3_blocks == 2 ? 18 : 34);
  SVANET_CHECK(!bottleneck || layer3_blocks == 6, "unsupported encoder: a bottleneck ResNet with ",
               layer3_blocks, " blocks in layer3 (svanet implements ResNet-18, 34 and 50)");
  if (stem->size(0) != 64) options.set("encoder_width", std::to_string(stem->size(0)));
  if (const auto* aspp = find(sd, "SegHead.Aspp.aspp_layer.Convs.0.Conv.weight");
      aspp != nullptr && aspp->size(0) != 512) {
    options.set("aspp_channels", std::to_string(aspp->size(0)));
  }
  const bool guide = any_key(sd, "SegHead.ConvB1.");
  std::string name = "svanet_r" + std::to_string(depth);
  if (!guide) {
    if (depth == 50) {
      name = "deeplabv3_r50";
    } else {
      options.set("feature_guide", "false");
    }
    return {name, options};
  }
  if (!any_key(sd, ".Bottleneck.2.SELayer.")) options.set("monte_carlo_attention", "false");
  if (!any_key(sd, "SegHead.Convr")) {
    options.set("cross_scale_guidance", "false");
  } else if (!any_key(sd, ".Squeeze1.")) {
    options.set("scale_variant_attention", "false");
  }
  if (!any_key(sd, "SegHead.ConvB1.ViTLayer.")) options.set("bottleneck_former", "false");
  if (!any_key(sd, "SegHead.LinkHead.")) {
    options.set("link", "none");
  } else {
    if (!any_key(sd, "SegHead.LinkHead.CatLinkConv")) options.set("link", "add");
    if (!any_key(sd, "SegHead.LinkHead.ViTLayer")) options.set("link_former", "false");
  }
  if (!any_key(sd, "Encoder.Layer4.")) options.set("stage5", "false");
  const int64_t formers = count_blocks(sd, R"(SegHead\.ConvB1\.ViTLayer\.GlobalRep\.)") - 1;
  if (formers > 0 && formers != 2) options.set("former_blocks", std::to_string(formers));
  return {name, options};
}

ConvertReport convert_official_checkpoint(const std::string& input, const std::string& output,
                                          const ConvertOptions& options) {
  const io::StateDict official = io::read_pytorch_state_dict(input);
  ConvertReport report;
  try {
    report.spec =
        options.spec ? *options.spec : spec_from_official_state_dict(official, options.image_size);
  } catch (const Error& e) {
    SVANET_FAIL(input, ": ", e.what());
  }
  std::map<std::string, torch::Tensor> mapped;
  std::vector<std::string> unknown;
  for (const auto& [key, tensor] : official) {
    try {
      mapped[to_svanet_key(key)] = tensor;
    } catch (const Error&) {
      unknown.push_back(key);
    }
  }
  SVANET_CHECK(unknown.empty(), input, ": ", unknown.size(),
               " key(s) are not part of an official SvANet or DeepLabv3 model: ",
               utils::join(unknown, ", "));
  auto model = create_model(report.spec);
  io::load_state_dict(*model, mapped,
                      io::LoadOptions().allow_missing(is_svanet_only_key).source(input));
  io::CheckpointMeta meta;
  meta.model = report.spec;
  meta.classes = options.classes;
  meta.normalization = Normalization::reference();
  meta.note = "converted from the official SvANet checkpoint " + input;
  io::save_checkpoint(output, *model, meta);
  report.tensors = mapped.size();
  return report;
}

ExportReport export_official_checkpoint(const std::string& checkpoint, const std::string& output) {
  const auto loaded = io::load_checkpoint(checkpoint);
  const auto ours = io::state_dict(*loaded.model);
  std::vector<std::string> keys;
  keys.reserve(ours.size());
  for (const auto& entry : ours) keys.push_back(entry.first);
  std::vector<std::pair<std::string, std::string>> mapping;
  try {
    mapping = svanet_to_official_keys(keys);
  } catch (const Error& e) {
    SVANET_FAIL(checkpoint, ": model '", loaded.meta.model.name, "' has no official layout (",
                e.what(), ")");
  }
  std::map<std::string, torch::Tensor> by_key(ours.begin(), ours.end());
  io::StateDict official;
  official.reserve(mapping.size());
  for (const auto& [key, official_key] : mapping) {
    official.emplace_back(official_key, by_key.at(key));
  }
  io::write_pytorch_state_dict(output, official);
  return {loaded.meta.model.name, official.size()};
}

}  // namespace svanet::official
