#include "svanet/optim/optimizer.h"

#include "svanet/common/error.h"

#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/sgd.h>
#include <torch/torch.h>

namespace svanet::optim {

namespace {

void check(const OptimizerOptions& o) {
  SVANET_CHECK(o.weight_decay >= 0, "weight_decay must be >= 0, got ", o.weight_decay);
  SVANET_CHECK(
      o.betas.size() == 2 && o.betas[0] >= 0 && o.betas[0] < 1 && o.betas[1] >= 0 && o.betas[1] < 1,
      "betas must be two numbers in [0, 1)");
  SVANET_CHECK(o.eps > 0, "eps must be positive, got ", o.eps);
  SVANET_CHECK(o.momentum >= 0, "momentum must be >= 0, got ", o.momentum);
}

using Build = std::function<std::unique_ptr<torch::optim::Optimizer>(
    const OptimizerOptions&, const std::vector<torch::Tensor>&, double)>;

void add_builtin(OptimizerRegistry& registry, std::string name, std::string description,
                 Build build) {
  registry.add(
      {std::move(name),
       std::move(description),
       optimizer_option_fields().schema(),
       {},
       [build](const OptionMap& values, const std::vector<torch::Tensor>& parameters, double lr) {
         const OptimizerOptions o = optimizer_option_fields().parse(values);
         check(o);
         return build(o, parameters, lr);
       },
       [](const OptionMap& values) { check(optimizer_option_fields().parse(values)); }});
}

void register_builtin_optimizers(OptimizerRegistry& r) {
  add_builtin(r, "adamw", "AdamW (decoupled weight decay): the paper's optimizer",
              [](const OptimizerOptions& o, const std::vector<torch::Tensor>& p, double lr) {
                return std::make_unique<torch::optim::AdamW>(p, torch::optim::AdamWOptions(lr)
                                                                    .betas({o.betas[0], o.betas[1]})
                                                                    .eps(o.eps)
                                                                    .weight_decay(o.weight_decay));
              });
  add_builtin(r, "adam", "Adam (L2 weight decay)",
              [](const OptimizerOptions& o, const std::vector<torch::Tensor>& p, double lr) {
                return std::make_unique<torch::optim::Adam>(p, torch::optim::AdamOptions(lr)
                                                                   .betas({o.betas[0], o.betas[1]})
                                                                   .eps(o.eps)
                                                                   .weight_decay(o.weight_decay));
              });
  add_builtin(r, "sgd", "SGD with momentum (Nesterov optional)",
              [](const OptimizerOptions& o, const std::vector<torch::Tensor>& p, double lr) {
                return std::make_unique<torch::optim::SGD>(p, torch::optim::SGDOptions(lr)
                                                                  .momentum(o.momentum)
                                                                  .nesterov(o.nesterov)
                                                                  .weight_decay(o.weight_decay));
              });
}

}  // namespace

const Fields<OptimizerOptions>& optimizer_option_fields() {
  static const auto fields =
      Fields<OptimizerOptions>()
          .add(SVANET_FIELD(weight_decay, "weight decay (decoupled for adamw)"))
          .add(SVANET_FIELD(betas, "adam, adamw: the two moment decay rates"))
          .add(SVANET_FIELD(eps, "adam, adamw: the denominator's epsilon"))
          .add(SVANET_FIELD(momentum, "sgd: momentum"))
          .add(SVANET_FIELD(nesterov, "sgd: Nesterov momentum"));
  return fields;
}

OptimizerRegistry& optimizer_registry() {
  static OptimizerRegistry registry("optimizer", "optimizers");
  static const bool builtins = (register_builtin_optimizers(registry), true);
  (void)builtins;
  return registry;
}

std::unique_ptr<torch::optim::Optimizer> create_optimizer(
    const std::string& name, const OptionMap& options, const std::vector<torch::Tensor>& parameters,
    double lr) {
  auto optimizer = optimizer_registry().create(name, options, parameters, lr);
  SVANET_CHECK(optimizer != nullptr, "optimizer '", name, "': its factory returned none");
  return optimizer;
}

torch::Tensor clip_grad_norm(const std::vector<torch::Tensor>& parameters, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> norms;
  for (const auto& p : parameters) {
    if (p.grad().defined()) norms.push_back(p.grad().norm(2).to(torch::kFloat));
  }
  if (norms.empty()) return torch::zeros({});
  const auto total = torch::stack(norms).norm(2);
  const auto coefficient = torch::clamp_max(max_norm / (total + 1e-6), 1.0);
  for (const auto& p : parameters) {
    if (!p.grad().defined()) continue;
    auto g = p.grad();
    g.mul_(coefficient.to(g.scalar_type()));
  }
  return total;
}

}  // namespace svanet::optim
