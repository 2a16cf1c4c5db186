#pragma once
/// @file
/// The interface every segmentation network in svanet implements.

#include "svanet/models/activation_checkpointing.h"
#include "svanet/registry/options.h"

#include <torch/arg.h>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace svanet::models {

/// Model-specific options as text (`key -> value`), the form that YAML
/// configs, the command line and checkpoints share. The registry checks them
/// against the model's schema and rejects unknown ones.
using svanet::OptionMap;

/// Options every registered model takes, plus model-specific overrides.
struct ModelOptions {
  TORCH_ARG(int64_t, num_classes) = 2;
  TORCH_ARG(int64_t, in_channels) = 3;
  /// Nominal training resolution; 0 means the variant's default.
  TORCH_ARG(int64_t, image_size) = 0;
  /// Model-specific overrides of the variant's preset, e.g.
  /// `{"link", "add"}` or `{"mc_pool_sizes", "1,2"}`.
  TORCH_ARG(OptionMap, overrides) = {};

 public:
  /// Adds one override; chainable.
  ModelOptions& set(const std::string& key, const std::string& value) {
    overrides_[key] = value;
    return *this;
  }
};

/// What the registry built a model from: enough to rebuild it exactly.
struct ModelSpec {
  /// Registered name (see svanet::list_models()).
  std::string name;
  ModelOptions options;
};

/// A segmentation network: image batch (B, C, H, W) in, logits
/// (B, num_classes, H, W) out, for any H and W. Logits only: activation,
/// thresholding, test-time augmentation and tiling belong to inference code.
struct SegmentationModelImpl : torch::nn::Module {
  using torch::nn::Module::Module;
  virtual torch::Tensor forward(const torch::Tensor& x) = 0;

  virtual int64_t num_classes() const = 0;
  virtual int64_t in_channels() const = 0;
  /// The pretrained-compatible encoder (for freezing or loading ImageNet
  /// weights), or nullptr when the model has none.
  virtual std::shared_ptr<torch::nn::Module> encoder() { return nullptr; }
  /// The encoder's stages, shallowest first; empty when there is no encoder.
  virtual std::vector<std::shared_ptr<torch::nn::Module>> encoder_stages() { return {}; }

  /// Freezes the first `stages` encoder stages (all of them when -1): their
  /// parameters stop receiving gradients. With `fix_norm_statistics` their
  /// BatchNorm layers also stay in eval mode, so running statistics stay
  /// fixed whatever train() is called with; the official recipe leaves them
  /// updating (false). Throws svanet::Error when the model has no encoder.
  void freeze_encoder(int64_t stages = -1, bool fix_norm_statistics = false);
  /// Undoes freeze_encoder.
  void unfreeze_encoder();
  /// Number of frozen encoder stages (0 when none).
  int64_t frozen_encoder_stages() const { return frozen_stages_; }

  /// Module::train, keeping frozen BatchNorm statistics fixed when asked.
  void train(bool on = true) override;

  /// Recompute the activations of `mode`'s parts in the backward pass
  /// instead of keeping them (models/activation_checkpointing.h): less
  /// memory for a second forward pass of those parts; gradients unchanged.
  /// Every model takes kNone; one without such parts throws svanet::Error.
  void set_activation_checkpointing(ActivationCheckpointing mode);
  ActivationCheckpointing activation_checkpointing() const { return checkpointing_; }

  /// The spec the registry built this model from (name empty when the model
  /// was constructed directly).
  const ModelSpec& spec() const { return spec_; }
  /// The spec's name, or "this model" when it has none (for messages).
  std::string display_name() const;
  void set_spec(ModelSpec spec) { spec_ = std::move(spec); }

 private:
  ModelSpec spec_;
  int64_t frozen_stages_ = 0;
  bool fixed_norm_ = false;
  ActivationCheckpointing checkpointing_ = ActivationCheckpointing::kNone;

 protected:
  /// Makes the model's parts follow `mode` (set_activation_checkpointing
  /// records it afterwards); throws svanet::Error for a mode the model has
  /// no parts for. The default takes kNone only.
  virtual void apply_activation_checkpointing(ActivationCheckpointing mode);
};
TORCH_MODULE(SegmentationModel);

/// A SegmentationModel holding a new `Impl` (a SegmentationModelImpl
/// subclass) built from `args`: what a registered model's factory returns.
template <typename Impl, typename... Args>
SegmentationModel make_model(Args&&... args) {
  return SegmentationModel(
      std::shared_ptr<SegmentationModelImpl>(std::make_shared<Impl>(std::forward<Args>(args)...)));
}

/// Zero-pads (B, C, H, W) on the bottom and right to multiples of `multiple`.
torch::Tensor pad_to_multiple(const torch::Tensor& x, int64_t multiple);

/// Crops (B, C, H', W') back to (B, C, height, width) from the top left.
torch::Tensor crop_to(const torch::Tensor& x, int64_t height, int64_t width);

}  // namespace svanet::models
