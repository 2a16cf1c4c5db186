#pragma once
/// @file
/// The optimizer step taken inside the backward pass, one parameter at a
/// time: as soon as a parameter's gradient is complete, the optimizer
/// updates that parameter and its gradient is freed. The whole model's
/// gradients never exist at once, which takes their size (as much as the
/// weights) off the peak memory of a training step; the update of every
/// parameter is the one a step after the backward pass would make.
///
///     auto optimizer = svanet::optim::create_optimizer("adamw", {}, model->parameters(), 1e-4);
///     svanet::optim::StepInBackward stepping(*optimizer);
///     for (...) {
///       loss_of(model, batch).backward();  // the parameters are updated here
///     }
///
/// What needs every gradient at once cannot be combined with it: clipping
/// by the global norm, skipping a step on a non-finite gradient (fp16 loss
/// scaling), averaging gradients over processes, accumulating gradients
/// over several backward passes. A parameter's update must not change what
/// the rest of the backward pass computes, which holds when no parameter is
/// read by the backward pass after its own gradient is complete (autograd
/// reports it as an in-place modification otherwise).

#include <torch/optim/optimizer.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace svanet::optim {

class StepInBackward {
 public:
  /// Hooks every parameter of `optimizer` (which must outlive this object),
  /// frozen ones included (they are updated once they have a gradient).
  /// Gradients the parameters hold now are dropped.
  explicit StepInBackward(torch::optim::Optimizer& optimizer);
  /// Removes the hooks: backward passes accumulate gradients again.
  ~StepInBackward();
  StepInBackward(const StepInBackward&) = delete;
  StepInBackward& operator=(const StepInBackward&) = delete;

  /// Parameters updated since the object was made.
  int64_t updates() const { return *updates_; }

 private:
  struct Hooked;
  std::vector<Hooked> hooked_;
  std::shared_ptr<int64_t> updates_ = std::make_shared<int64_t>(0);
};

}  // namespace svanet::optim
