#pragma once
/// @file
/// ImageNet-pretrained encoders from torchvision checkpoints
/// (`resnet18-f37072fd.pth`, `resnet34-b627a593.pth`,
/// `resnet50-11ad3fa6.pth`, ...), matched by name. The paper initialises its
/// encoder from torchvision's ResNet-50 IMAGENET1K_V2 weights; the official
/// code matches them by order and shape, svanet by name.

#include "svanet/io/state_dict.h"
#include "svanet/models/segmentation_model.h"

#include <string>

namespace svanet::io {

/// Our encoder key for a torchvision ResNet key (`layer2.0.bn1.weight` ->
/// `layer2.0.conv1.bn.weight`), or an empty string for the classifier
/// (`fc.*`). Throws svanet::Error naming keys that are not a torchvision
/// ResNet's.
std::string torchvision_to_svanet_key(const std::string& key);

/// Loads a torchvision ResNet checkpoint into the model's encoder. Every
/// encoder tensor must be present with the right shape (errors name the file
/// and the tensor); the classifier is ignored, as are stages the encoder
/// does not have (SvANet without stage 5). Returns how many tensors loaded.
size_t load_pretrained_backbone(models::SegmentationModelImpl& model, const std::string& path);

/// The model option naming a torchvision ResNet checkpoint for the encoder.
/// It is not an option of the network (the registry rejects it) but of
/// how the model starts: build_model loads it after construction.
inline constexpr const char* kPretrainedBackbone = "pretrained_backbone";

/// That option as listings and configs show it, for models whose registry
/// traits say `pretrained_encoder`.
OptionInfo pretrained_backbone_option();

/// Builds the registered model `spec` describes; when its options set
/// `pretrained_backbone`, that checkpoint is loaded into the encoder. The
/// model's recorded spec keeps the option (checkpoints drop it, since they
/// carry the weights).
models::SegmentationModel build_model(const models::ModelSpec& spec);

}  // namespace svanet::io
