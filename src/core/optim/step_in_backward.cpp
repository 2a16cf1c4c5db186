#include "svanet/optim/step_in_backward.h"

#include "svanet/common/error.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <utility>

namespace svanet::optim {

namespace {

/// A std::shared_ptr in LibTorch 1.13, a c10::intrusive_ptr in 2.x.
using Accumulator = decltype(torch::autograd::impl::grad_accumulator(
    std::declval<const torch::autograd::Variable&>()));

/// For its lifetime, `optimizer`'s groups hold one parameter: a step then
/// updates that parameter alone, whatever gradients the others hold.
class OneParameter {
 public:
  OneParameter(torch::optim::Optimizer& optimizer, size_t group, const torch::Tensor& parameter)
      : groups_(optimizer.param_groups()), kept_(groups_.size()) {
    for (size_t g = 0; g < groups_.size(); ++g) kept_[g].swap(groups_[g].params());
    groups_[group].params().push_back(parameter);
  }
  ~OneParameter() {
    for (size_t g = 0; g < groups_.size(); ++g) kept_[g].swap(groups_[g].params());
  }
  OneParameter(const OneParameter&) = delete;
  OneParameter& operator=(const OneParameter&) = delete;

 private:
  std::vector<torch::optim::OptimizerParamGroup>& groups_;
  std::vector<std::vector<torch::Tensor>> kept_;
};

/// Runs after a parameter's gradient accumulator: the gradient is complete.
class StepHook final : public torch::autograd::FunctionPostHook {
 public:
  StepHook(torch::optim::Optimizer* optimizer, size_t group, torch::Tensor parameter,
           std::shared_ptr<int64_t> updates)
      : optimizer_(optimizer),
        group_(group),
        parameter_(std::move(parameter)),
        updates_(std::move(updates)) {}

  torch::autograd::variable_list operator()(
      const torch::autograd::variable_list& outputs,
      const torch::autograd::variable_list& /*inputs*/) override {
    if (parameter_.grad().defined()) {
      {
        const OneParameter only(*optimizer_, group_, parameter_);
        optimizer_->step();
      }
      parameter_.mutable_grad().reset();
      ++*updates_;
    }
    return outputs;
  }

 private:
  torch::optim::Optimizer* optimizer_;
  size_t group_;
  torch::Tensor parameter_;
  std::shared_ptr<int64_t> updates_;
};

}  // namespace

struct StepInBackward::Hooked {
  Accumulator accumulator;
  uintptr_t key;
};

StepInBackward::StepInBackward(torch::optim::Optimizer& optimizer) {
  auto& groups = optimizer.param_groups();
  for (size_t g = 0; g < groups.size(); ++g) {
    for (auto& p : groups[g].params()) {
      SVANET_CHECK(p.is_leaf(),
                   "the optimizer step in the backward pass needs parameters that are leaves of "
                   "the autograd graph (a parameter of shape ",
                   p.sizes(), " is computed from others)");
      p.mutable_grad().reset();
      // The accumulator exists only while the parameter needs a gradient;
      // made now and held, it is the one autograd uses once a frozen
      // parameter needs one again.
      const bool frozen = !p.requires_grad();
      if (frozen) p.requires_grad_(true);
      Accumulator accumulator = torch::autograd::impl::grad_accumulator(p);
      if (frozen) p.requires_grad_(false);
      const uintptr_t key =
          accumulator->add_post_hook(std::make_unique<StepHook>(&optimizer, g, p, updates_));
      hooked_.push_back({std::move(accumulator), key});
    }
  }
}

StepInBackward::~StepInBackward() {
  for (auto& h : hooked_) h.accumulator->del_post_hook(h.key);
}

}  // namespace svanet::optim
