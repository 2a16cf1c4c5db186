// The optimizer step inside the backward pass: the same parameters as a
// step after it (AdamW, Adam and SGD; a plain and an activation-checkpointed
// SvANet), no gradient left once the backward pass ends, frozen parameters
// left alone until they need a gradient, and no hook left once the object
// is gone.

#include "support/test_support.h"

#include "svanet/models/activation_checkpointing.h"
#include "svanet/models/registry.h"
#include "svanet/optim/optimizer.h"
#include "svanet/optim/step_in_backward.h"

#include <torch/torch.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace svanet::test {
namespace {

using models::ActivationCheckpointing;

struct Trained {
  std::map<std::string, torch::Tensor> parameters;
  /// Parameters with a gradient in a step.
  int64_t with_gradient = 0;
  int64_t updates = 0;
};

/// `steps` training steps of a tiny SvANet from the same weights and data,
/// the optimizer stepping after the backward pass or inside it.
Trained train(const std::string& optimizer_name, const OptionMap& options,
              ActivationCheckpointing mode, bool in_backward, int steps = 2) {
  torch::manual_seed(0);
  auto model = create_model("svanet_test", tiny_options("svanet_test", 3));
  model->set_activation_checkpointing(mode);
  model->train();
  auto optimizer = optim::create_optimizer(optimizer_name, options, model->parameters(), 1e-2);
  std::optional<optim::StepInBackward> stepping;
  if (in_backward) stepping.emplace(*optimizer);
  Trained trained;
  for (int s = 0; s < steps; ++s) {
    torch::manual_seed(10 + s);
    const auto x = torch::randn({2, 3, 64, 64});
    const auto target = torch::randint(3, {2, 64, 64});
    optimizer->zero_grad();
    torch::nn::functional::cross_entropy(model->forward(x), target).backward();
    int64_t with_gradient = 0;
    for (const auto& p : model->parameters()) with_gradient += p.grad().defined() ? 1 : 0;
    if (in_backward) {
      EXPECT_EQ(with_gradient, 0) << "a gradient was kept after its parameter's update";
    } else {
      optimizer->step();
      trained.with_gradient = with_gradient;
    }
  }
  for (const auto& p : model->named_parameters()) {
    trained.parameters[p.key()] = p.value().detach().clone();
  }
  trained.updates = stepping ? stepping->updates() : 0;
  return trained;
}

void expect_same_parameters(const Trained& after, const Trained& inside, const std::string& what) {
  ASSERT_EQ(after.parameters.size(), inside.parameters.size()) << what;
  for (const auto& [key, p] : after.parameters) {
    EXPECT_TRUE(torch::equal(p, inside.parameters.at(key)))
        << what << ": " << key << " differs by "
        << (p - inside.parameters.at(key)).abs().max().item<double>();
  }
}

TEST(StepInBackward, UpdatesEveryParameterAsAStepAfterTheBackwardPassWould) {
  const std::vector<std::pair<std::string, OptionMap>> optimizers{
      {"adamw", {{"weight_decay", "0.03"}}},
      {"adam", {{"weight_decay", "0.01"}}},
      {"sgd", {{"momentum", "0.9"}, {"nesterov", "true"}}}};
  for (const auto& [name, options] : optimizers) {
    const auto after = train(name, options, ActivationCheckpointing::kNone, false);
    const auto inside = train(name, options, ActivationCheckpointing::kNone, true);
    ASSERT_GT(after.with_gradient, 0);
    // Two steps, each parameter with a gradient updated once per step.
    EXPECT_EQ(inside.updates, 2 * after.with_gradient) << name;
    expect_same_parameters(after, inside, name);
  }
}

TEST(StepInBackward, GoesWithActivationCheckpointing) {
  // The recomputed segments read their parameters in the backward pass,
  // before any of them is updated.
  const OptionMap options{{"weight_decay", "0.03"}};
  const auto after = train("adamw", options, ActivationCheckpointing::kAll, false);
  const auto inside = train("adamw", options, ActivationCheckpointing::kAll, true);
  EXPECT_EQ(inside.updates, 2 * after.with_gradient);
  expect_same_parameters(after, inside, "activation checkpointing all");
}

TEST(StepInBackward, LeavesFrozenParametersAloneAndUnhooksWhenGone) {
  torch::manual_seed(0);
  torch::nn::Sequential net(torch::nn::Linear(4, 8), torch::nn::ReLU(), torch::nn::Linear(8, 2));
  auto parameters = net->parameters();
  torch::optim::SGD optimizer(parameters, torch::optim::SGDOptions(0.1));
  const auto x = torch::randn({16, 4});
  const auto loss = [&] { return net->forward(x).pow(2).sum(); };
  const auto first = parameters[0].detach().clone();
  parameters[0].requires_grad_(false);
  {
    optim::StepInBackward stepping(optimizer);
    auto before = parameters[2].detach().clone();
    loss().backward();
    EXPECT_TRUE(torch::equal(parameters[0], first)) << "a frozen parameter was updated";
    EXPECT_FALSE(torch::equal(parameters[2], before)) << "a trainable parameter was not updated";
    EXPECT_EQ(stepping.updates(), 3);
    // Unfrozen, it is updated too (its accumulator was hooked while frozen).
    parameters[0].requires_grad_(true);
    loss().backward();
    EXPECT_FALSE(torch::equal(parameters[0], first));
    EXPECT_EQ(stepping.updates(), 3 + 4);
    for (const auto& p : parameters) EXPECT_FALSE(p.grad().defined());
  }
  // Without the object, a backward pass accumulates gradients again.
  const auto kept = parameters[1].detach().clone();
  loss().backward();
  EXPECT_TRUE(torch::equal(parameters[1], kept)) << "a hook outlived its StepInBackward";
  for (const auto& p : parameters) EXPECT_TRUE(p.grad().defined());
}

}  // namespace
}  // namespace svanet::test
