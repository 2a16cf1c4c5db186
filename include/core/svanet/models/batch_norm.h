#pragma once
/// @file
/// BatchNorm2d that can normalise over the batch of every process of a
/// multi-process run (PyTorch's SyncBatchNorm): with the paper's batch of 4
/// split over 2-4 GPUs, each GPU would otherwise normalise over 1-2 images.
///
///     models::sync_batchnorm(*model, group);   // every SyncBatchNorm2d syncs
///     models::sync_batchnorm(*model, nullptr); // back to per-process statistics
///
/// It has torch::nn::BatchNorm2dImpl's options, parameters, buffers and
/// state-dict names (so checkpoints do not change), and without a group, in
/// eval mode, or in a group of one it computes exactly what BatchNorm2d does. In training with a
/// group, the per-channel sums of x and x^2 and the element count are summed
/// over the processes in one collective, and the backward pass sums their
/// gradients the same way, so outputs and gradients equal those of one
/// process that holds the whole batch (up to float rounding). The running
/// statistics are updated from the global batch on every process.
///
/// Every model in svanet uses it where the official code has nn.BatchNorm2d;
/// a model of your own gets the same by using SyncBatchNorm2d instead of
/// torch::nn::BatchNorm2d.

#include "svanet/runtime/collective.h"

#include <torch/nn/cloneable.h>
#include <torch/nn/options/batchnorm.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <memory>
#include <ostream>

namespace svanet::models {

class SyncBatchNorm2dImpl : public torch::nn::Cloneable<SyncBatchNorm2dImpl> {
 public:
  explicit SyncBatchNorm2dImpl(const torch::nn::BatchNorm2dOptions& options);
  explicit SyncBatchNorm2dImpl(int64_t num_features)
      : SyncBatchNorm2dImpl(torch::nn::BatchNorm2dOptions(num_features)) {}

  void reset() override;
  /// (B, C, H, W) -> (B, C, H, W).
  torch::Tensor forward(const torch::Tensor& input);
  void pretty_print(std::ostream& stream) const override;

  /// The group whose batches this layer normalises over (nullptr: this
  /// process's batch only).
  void set_collective(std::shared_ptr<runtime::Collective> collective) {
    collective_ = std::move(collective);
  }
  /// Whether the next training forward pass reduces over several processes.
  bool synchronised() const { return collective_ && collective_->size() > 1; }

  /// As torch::nn::BatchNorm2dImpl's members (same names in the state dict).
  torch::nn::BatchNorm2dOptions options;
  torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  torch::Tensor synchronised_forward(const torch::Tensor& input);

  std::shared_ptr<runtime::Collective> collective_;
};
TORCH_MODULE(SyncBatchNorm2d);

/// Gives every SyncBatchNorm2d of `module` the group `collective` (nullptr
/// takes it away); returns how many there are. A plain
/// torch::nn::BatchNorm2d in `module` cannot synchronise: with a collective,
/// that throws svanet::Error naming the layer.
int64_t sync_batchnorm(torch::nn::Module& module,
                       const std::shared_ptr<runtime::Collective>& collective);

}  // namespace svanet::models
