#include "svanet/io/pretrained.h"

#include "svanet/common/error.h"
#include "svanet/io/pytorch_file.h"
#include "svanet/models/registry.h"
#include "svanet/utils/paths.h"
#include "svanet/utils/text.h"

#include <torch/torch.h>

#include <regex>
#include <set>

namespace svanet::io {

std::string torchvision_to_svanet_key(const std::string& key) {
  static const std::regex stem(R"(^(conv1|bn1)\.(\w+)$)");
  static const std::regex block(R"(^layer([1-4])\.(\d+)\.(conv|bn)([1-3])\.(\w+)$)");
  static const std::regex downsample(R"(^layer([1-4])\.(\d+)\.downsample\.([01])\.(\w+)$)");
  static const std::regex classifier(R"(^fc\.(weight|bias)$)");
  std::smatch m;
  if (std::regex_match(key, m, stem)) {
    return std::string("stem.") + (m[1] == "conv1" ? "conv." : "bn.") + m[2].str();
  }
  if (std::regex_match(key, m, block)) {
    return "layer" + m[1].str() + "." + m[2].str() + ".conv" + m[4].str() +
           (m[3] == "conv" ? ".conv." : ".bn.") + m[5].str();
  }
  if (std::regex_match(key, m, downsample)) {
    return "layer" + m[1].str() + "." + m[2].str() + ".downsample" +
           (m[3] == "0" ? ".conv." : ".bn.") + m[4].str();
  }
  if (std::regex_match(key, classifier)) {
    return {};
  }
  SVANET_FAIL("'", key, "' is not a key of a torchvision ResNet checkpoint");
}

size_t load_pretrained_backbone(models::SegmentationModelImpl& model, const std::string& path) {
  auto encoder = model.encoder();
  SVANET_CHECK(encoder != nullptr, path, ": model '", model.spec().name,
               "' has no pretrained-compatible encoder");
  std::set<std::string> ours;
  bool has_stage5 = false;
  for (const auto& [name, tensor] : state_dict(*encoder)) {
    ours.insert(name);
    has_stage5 = has_stage5 || name.rfind("layer4.", 0) == 0;
  }
  std::map<std::string, torch::Tensor> mapped;
  std::vector<std::string> unknown;
  for (const auto& [key, tensor] : read_pytorch_state_dict(path)) {
    std::string name;
    try {
      name = torchvision_to_svanet_key(key);
    } catch (const Error&) {
      unknown.push_back(key);
      continue;
    }
    if (name.empty() || (!has_stage5 && name.rfind("layer4.", 0) == 0)) {
      continue;  // the classifier, or stage 5 of an encoder without it
    }
    SVANET_CHECK(ours.count(name) == 1, path, ": '", key,
                 "' has no place in the encoder (a deeper ResNet than the model's?)");
    mapped[name] = tensor;
  }
  SVANET_CHECK(unknown.empty(), path, ": not a torchvision ResNet checkpoint; unexpected keys: ",
               utils::join(unknown, ", "));
  load_state_dict(*encoder, mapped, LoadOptions().source(path));
  return mapped.size();
}

OptionInfo pretrained_backbone_option() {
  OptionInfo info;
  info.name = kPretrainedBackbone;
  info.type = OptionType::kText;
  info.help = "torchvision ResNet checkpoint to initialise the encoder";
  return info;
}

models::SegmentationModel build_model(const models::ModelSpec& spec) {
  auto overrides = spec.options.overrides();
  const auto it = overrides.find(kPretrainedBackbone);
  if (it == overrides.end()) return create_model(spec);
  const std::string backbone = it->second;
  overrides.erase(it);
  auto network = spec.options;
  network.overrides(overrides);
  auto model = create_model(spec.name, network);
  SVANET_CHECK(model->encoder() != nullptr, "model '", spec.name,
               "' has no pretrained-compatible encoder (option ", kPretrainedBackbone, ")");
  try {
    utils::require_file(backbone);
  } catch (const Error& e) {
    SVANET_FAIL("model.options.", kPretrainedBackbone, ": ", e.what(),
                " (the ImageNet weights are not downloaded: give the file, or train from "
                "scratch with --set model.options.",
                kPretrainedBackbone, "=null)");
  }
  load_pretrained_backbone(*model, backbone);
  model->set_spec(spec);
  return model;
}

}  // namespace svanet::io
