#include "svanet/models/segmentation_model.h"

#include "svanet/common/error.h"
#include "svanet/models/batch_norm.h"

#include <torch/torch.h>

#include <string>

namespace svanet::models {

namespace {

void set_norm_eval(torch::nn::Module& module) {
  for (auto& child : module.modules(/*include_self=*/true)) {
    if (dynamic_cast<SyncBatchNorm2dImpl*>(child.get()) != nullptr ||
        dynamic_cast<torch::nn::BatchNorm2dImpl*>(child.get()) != nullptr) {
      child->eval();
    }
  }
}

}  // namespace

void SegmentationModelImpl::freeze_encoder(int64_t stages, bool fix_norm_statistics) {
  auto all = encoder_stages();
  SVANET_CHECK(!all.empty(), "model '", spec_.name, "' has no encoder to freeze");
  const auto total = static_cast<int64_t>(all.size());
  SVANET_CHECK(stages == -1 || (stages >= 1 && stages <= total),
               "freeze_encoder: stages must be -1 or 1..", total, ", got ", stages);
  unfreeze_encoder();
  frozen_stages_ = stages == -1 ? total : stages;
  fixed_norm_ = fix_norm_statistics;
  for (int64_t s = 0; s < frozen_stages_; ++s) {
    for (auto& p : all[static_cast<size_t>(s)]->parameters()) p.set_requires_grad(false);
  }
  train(is_training());
}

void SegmentationModelImpl::unfreeze_encoder() {
  for (auto& stage : encoder_stages()) {
    for (auto& p : stage->parameters()) p.set_requires_grad(true);
  }
  frozen_stages_ = 0;
  fixed_norm_ = false;
  train(is_training());
}

void SegmentationModelImpl::train(bool on) {
  torch::nn::Module::train(on);
  if (on && fixed_norm_) {
    auto all = encoder_stages();
    for (int64_t s = 0; s < frozen_stages_ && s < static_cast<int64_t>(all.size()); ++s) {
      set_norm_eval(*all[static_cast<size_t>(s)]);
    }
  }
}

torch::Tensor pad_to_multiple(const torch::Tensor& x, int64_t multiple) {
  TORCH_CHECK(multiple >= 1, "pad_to_multiple: multiple must be >= 1");
  const int64_t pad_h = (multiple - x.size(2) % multiple) % multiple;
  const int64_t pad_w = (multiple - x.size(3) % multiple) % multiple;
  if (pad_h == 0 && pad_w == 0) {
    return x;
  }
  // F.pad order: (left, right, top, bottom)
  return torch::constant_pad_nd(x, {0, pad_w, 0, pad_h}, 0.0);
}

torch::Tensor crop_to(const torch::Tensor& x, int64_t height, int64_t width) {
  if (x.size(2) == height && x.size(3) == width) {
    return x;
  }
  return x.narrow(2, 0, height).narrow(3, 0, width);
}

std::string SegmentationModelImpl::display_name() const {
  return spec_.name.empty() ? std::string("this model") : spec_.name;
}

void SegmentationModelImpl::set_activation_checkpointing(ActivationCheckpointing mode) {
  apply_activation_checkpointing(mode);
  checkpointing_ = mode;
}

void SegmentationModelImpl::apply_activation_checkpointing(ActivationCheckpointing mode) {
  SVANET_CHECK(mode == ActivationCheckpointing::kNone, display_name(),
               " has no activation checkpointing (only 'none'), got '", to_string(mode), "'");
}

}  // namespace svanet::models
