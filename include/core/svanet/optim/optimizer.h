#pragma once
/// @file
/// Optimizers by name: `adamw` (the paper's), `adam` and `sgd`, and any
/// registered later. Each is built over a list of parameters at a
/// learning rate (the schedule sets the rate of every epoch after that).
///
///     auto optimizer = svanet::optim::create_optimizer(
///         "adamw", {{"weight_decay", "0.03"}}, model->parameters(), 1e-6);

#include "svanet/registry/registry.h"

#include <torch/optim/optimizer.h>
#include <torch/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace svanet::optim {

/// The options svanet's optimizers share (each reads those it uses).
struct OptimizerOptions {
  double weight_decay = 0.03;
  /// Adam and AdamW: (beta1, beta2).
  std::vector<double> betas{0.9, 0.999};
  double eps = 1e-8;
  /// SGD only.
  double momentum = 0.9;
  bool nesterov = false;
};

/// The schema of svanet's optimizers.
const Fields<OptimizerOptions>& optimizer_option_fields();

using OptimizerFactory = std::function<std::unique_ptr<torch::optim::Optimizer>(
    const OptionMap& options, const std::vector<torch::Tensor>& parameters, double lr)>;
using OptimizerRegistry = Registry<OptimizerFactory>;

/// The registry of optimizers, with svanet's registered on first use.
OptimizerRegistry& optimizer_registry();

/// Builds a registered optimizer over `parameters` at learning rate `lr`.
std::unique_ptr<torch::optim::Optimizer> create_optimizer(
    const std::string& name, const OptionMap& options, const std::vector<torch::Tensor>& parameters,
    double lr);

/// Scales the gradients of `parameters` so that their global L2 norm is at
/// most `max_norm` (PyTorch's clip_grad_norm_, same formula), and returns
/// the norm before clipping as a 0-dim tensor on the gradients' device:
/// unlike torch::nn::utils::clip_grad_norm_, which returns a double, it does
/// not wait for a GPU.
torch::Tensor clip_grad_norm(const std::vector<torch::Tensor>& parameters, double max_norm);

}  // namespace svanet::optim
