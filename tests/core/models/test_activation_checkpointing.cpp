// Activation checkpointing: a checkpointed training step computes the same
// gradients, BatchNorm statistics and random stream as a plain one (the
// replay draws the Monte Carlo pooling cells, region masks, drop-path and
// dropout masks again from the same state), in fp32 and under bf16
// autocast, and the recomputation really happens (the graph holds the
// replaying nodes). On a GPU too (the _CUDA test: the replay restores the
// CUDA generator's state).

#include "support/cuda.h"
#include "support/test_support.h"

#include "svanet/common/error.h"
#include "svanet/models/activation_checkpointing.h"
#include "svanet/models/registry.h"
#include "svanet/runtime/precision.h"

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <unordered_set>
#include <vector>

namespace svanet::test {
namespace {

using models::ActivationCheckpointing;

struct Step {
  std::map<std::string, torch::Tensor> grads;
  std::map<std::string, torch::Tensor> buffers;
  torch::Tensor logits;
  /// What the global generator draws after the step.
  torch::Tensor next_draw;
  /// Nodes of the step's graph that replay a segment.
  int64_t replaying_nodes = 0;
  int64_t kept_convolutions = 0;
};

/// Counts the nodes of `y`'s graph whose name contains `part`.
int64_t count_nodes(const torch::Tensor& y, const std::string& part) {
  int64_t count = 0;
  std::unordered_set<torch::autograd::Node*> seen;
  std::vector<torch::autograd::Node*> stack{y.grad_fn().get()};
  while (!stack.empty()) {
    auto* node = stack.back();
    stack.pop_back();
    if (node == nullptr || !seen.insert(node).second) continue;
    if (node->name().find(part) != std::string::npos) ++count;
    for (const auto& edge : node->next_edges()) stack.push_back(edge.function.get());
  }
  return count;
}

Step train_step(const std::string& name, ActivationCheckpointing mode,
                torch::ScalarType autocast = torch::kFloat,
                const torch::Device& device = torch::kCPU) {
  torch::manual_seed(0);
  auto options = tiny_options(name, 3);
  // Stochastic depth on every cross-scale addition, so that a replay with
  // other random numbers would show.
  if (name.rfind("svanet", 0) == 0) options.set("guide_drop_path", "0.6");
  auto model = create_model(name, options);
  model->set_activation_checkpointing(mode);
  model->to(device);
  model->train();
  torch::manual_seed(1);
  const auto x = torch::randn({2, 3, 64, 64}).to(device);
  const auto weights = torch::randn({2, 3, 64, 64}).to(device);
  if (device.is_cuda()) torch::cuda::manual_seed_all(2);
  Step step;
  {
    const runtime::AutocastGuard scope(device, autocast);
    step.logits = model->forward(x);
  }
  step.replaying_nodes = count_nodes(step.logits, "RecomputeFunction");
  // Convolutions whose activations the graph keeps (outside the segments).
  step.kept_convolutions = count_nodes(step.logits, "Conv");
  // The backward pass runs outside the autocast scope, as in the trainer.
  (step.logits.to(torch::kFloat) * weights).sum().backward();
  step.next_draw = torch::rand({8}, torch::TensorOptions().device(device)).cpu();
  for (const auto& p : model->named_parameters()) {
    if (p.value().grad().defined()) step.grads[p.key()] = p.value().grad().cpu().clone();
  }
  for (const auto& b : model->named_buffers()) step.buffers[b.key()] = b.value().cpu().clone();
  step.logits = step.logits.detach().cpu();
  return step;
}

void expect_same_step(const Step& plain, const Step& checkpointed, double rtol, double atol,
                      const std::string& what) {
  EXPECT_TRUE(torch::equal(plain.next_draw, checkpointed.next_draw))
      << what << ": the replay changed the random stream after the step";
  EXPECT_TRUE(torch::allclose(plain.logits.to(torch::kFloat), checkpointed.logits.to(torch::kFloat),
                              rtol, atol))
      << what << ": logits differ";
  ASSERT_EQ(plain.grads.size(), checkpointed.grads.size()) << what;
  for (const auto& [key, g] : plain.grads) {
    ASSERT_EQ(checkpointed.grads.count(key), 1U) << what << ": no gradient for " << key;
    const auto& c = checkpointed.grads.at(key);
    // Against the tensor's scale: gradients that are zero in exact
    // arithmetic (a bias before a normalisation) are rounding noise whose
    // summation order differs between the two graphs.
    const auto largest = g.abs().max().item<double>();
    const auto diff = (g - c).abs().max().item<double>();
    EXPECT_LE(diff, rtol * std::max(largest, 1.0) + atol)
        << what << ": gradient of " << key << " differs by " << diff << " (largest " << largest
        << ")";
  }
  ASSERT_EQ(plain.buffers.size(), checkpointed.buffers.size()) << what;
  for (const auto& [key, b] : plain.buffers) {
    const auto& c = checkpointed.buffers.at(key);
    EXPECT_TRUE(b.is_floating_point() ? torch::allclose(b, c, rtol, atol) : torch::equal(b, c))
        << what << ": buffer " << key << " differs (updated twice?)";
  }
}

TEST(ActivationCheckpointing, ParsesItsModesAndRefusesOthers) {
  EXPECT_EQ(models::parse_activation_checkpointing("none"), ActivationCheckpointing::kNone);
  EXPECT_EQ(models::parse_activation_checkpointing("Encoder"), ActivationCheckpointing::kEncoder);
  EXPECT_EQ(models::parse_activation_checkpointing("guide"), ActivationCheckpointing::kGuide);
  EXPECT_EQ(models::parse_activation_checkpointing("all"), ActivationCheckpointing::kAll);
  for (auto mode : {ActivationCheckpointing::kNone, ActivationCheckpointing::kEncoder,
                    ActivationCheckpointing::kGuide, ActivationCheckpointing::kAll}) {
    EXPECT_EQ(models::parse_activation_checkpointing(models::to_string(mode)), mode);
  }
  ASSERT_THROWS_WITH(models::parse_activation_checkpointing("decoder"),
                     "none, encoder, guide or all, got 'decoder'");
}

class CheckpointedStep : public ::testing::TestWithParam<std::string> {};

TEST_P(CheckpointedStep, GivesThePlainStepsGradientsStatisticsAndRandomStream) {
  const auto plain = train_step(GetParam(), ActivationCheckpointing::kNone);
  EXPECT_EQ(plain.replaying_nodes, 0);
  const bool guided = GetParam().rfind("svanet", 0) == 0;
  int64_t encoder_nodes = 0;
  for (auto mode : {ActivationCheckpointing::kEncoder, ActivationCheckpointing::kGuide,
                    ActivationCheckpointing::kAll}) {
    if (mode == ActivationCheckpointing::kGuide && !guided) continue;
    const auto what = GetParam() + " " + models::to_string(mode);
    const auto step = train_step(GetParam(), mode);
    EXPECT_GT(step.replaying_nodes, 0) << what << ": nothing is recomputed";
    if (mode == ActivationCheckpointing::kEncoder) encoder_nodes = step.replaying_nodes;
    if (mode == ActivationCheckpointing::kAll) {
      EXPECT_GT(step.replaying_nodes, encoder_nodes);
      // Every convolution sits inside a segment: none keeps its input.
      EXPECT_EQ(step.kept_convolutions, 0) << what;
      EXPECT_GT(plain.kept_convolutions, 10) << what;
    }
    expect_same_step(plain, step, 1e-5, 1e-4, what);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, CheckpointedStep,
                         ::testing::Values("svanet_test", "svanet_r18_tiny_fr", "deeplabv3_r50"));

TEST(ActivationCheckpointing, ReplaysUnderTheForwardPassesAutocast) {
  // The backward pass runs after the autocast scope has closed: a replay in
  // fp32 would give fp32 outputs for bf16 output gradients and fail.
  const auto plain = train_step("svanet_test", ActivationCheckpointing::kNone, torch::kBFloat16);
  const auto step = train_step("svanet_test", ActivationCheckpointing::kAll, torch::kBFloat16);
  // The replay's autocast settings were put back.
  EXPECT_FALSE(runtime::current_autocast().cpu_enabled);
  EXPECT_TRUE(at::autocast::is_autocast_cache_enabled());
  EXPECT_TRUE(torch::equal(plain.logits, step.logits));
  EXPECT_TRUE(torch::equal(plain.next_draw, step.next_draw));
  for (const auto& [key, b] : plain.buffers) {
    EXPECT_TRUE(torch::equal(b, step.buffers.at(key))) << "buffer " << key;
  }
  // Where a segment's output has several consumers, their bf16 gradients
  // are summed in another order, so single gradients that nearly cancel
  // (a bias before a normalisation) differ by more than bf16's 2^-8; the
  // gradient as a whole differs by 1.1 % (relative L2, measured).
  double diff = 0.0;
  double norm = 0.0;
  ASSERT_EQ(plain.grads.size(), step.grads.size());
  for (const auto& [key, g] : plain.grads) {
    diff += (g - step.grads.at(key)).pow(2).sum().item<double>();
    norm += g.pow(2).sum().item<double>();
  }
  EXPECT_LE(std::sqrt(diff / norm), 3e-2);
}

TEST(ActivationCheckpointing, GivesThePlainStepsGradientsOnAGpu_CUDA) {
  SVANET_REQUIRE_CUDA();
  const NoTf32 fp32;
  const torch::Device gpu(torch::kCUDA, 0);
  for (const std::string name : {"svanet_test", "deeplabv3_r50"}) {
    const auto plain = train_step(name, ActivationCheckpointing::kNone, torch::kFloat, gpu);
    const auto step = train_step(name, ActivationCheckpointing::kAll, torch::kFloat, gpu);
    EXPECT_GT(step.replaying_nodes, 0) << name;
    // cuDNN's weight gradients sum in an order of their own: rounding only.
    expect_same_step(plain, step, 1e-4, 1e-4, name + " all on CUDA");
  }
  // Under bf16 autocast the replay gives the first pass's logits exactly.
  const auto plain =
      train_step("svanet_test", ActivationCheckpointing::kNone, torch::kBFloat16, gpu);
  const auto step = train_step("svanet_test", ActivationCheckpointing::kAll, torch::kBFloat16, gpu);
  EXPECT_TRUE(torch::equal(plain.logits, step.logits));
  EXPECT_TRUE(torch::equal(plain.next_draw, step.next_draw));
  EXPECT_FALSE(runtime::current_autocast().cuda_enabled);
}

TEST(ActivationCheckpointing, RunsPlainWhenNothingNeedsAGradient) {
  // A checkpointed segment's first pass runs without gradient recording; a
  // plain one (nothing needs a gradient, or none is recorded) runs as it is.
  torch::nn::Linear layer(4, 4);
  const auto x = torch::randn({2, 4});
  std::vector<bool> recording;
  const models::Segment segment = [&layer, &recording](const std::vector<torch::Tensor>& in) {
    recording.push_back(torch::GradMode::is_enabled());
    return std::vector<torch::Tensor>{layer(in[0])};
  };
  EXPECT_TRUE(models::checkpointed(segment, {x}, {layer.get()})[0].requires_grad());
  for (auto& p : layer->parameters()) p.requires_grad_(false);
  EXPECT_FALSE(models::checkpointed(segment, {x}, {layer.get()})[0].requires_grad());
  {
    torch::NoGradGuard no_grad;
    for (auto& p : layer->parameters()) p.requires_grad_(true);
    EXPECT_FALSE(models::checkpointed(segment, {x}, {layer.get()})[0].requires_grad());
  }
  EXPECT_EQ(recording, (std::vector<bool>{false, true, false}));
}

TEST(ActivationCheckpointing, ModelsWithoutThePartRefuseIt) {
  auto deeplab = create_model("deeplabv3_r50", tiny_options("deeplabv3_r50", 2));
  ASSERT_THROWS_WITH(deeplab->set_activation_checkpointing(ActivationCheckpointing::kGuide),
                     "deeplabv3_r50 has no feature-guide branches");
  EXPECT_EQ(deeplab->activation_checkpointing(), ActivationCheckpointing::kNone);
  auto unet = create_model("unet", tiny_options("unet", 2));
  EXPECT_NO_THROW(unet->set_activation_checkpointing(ActivationCheckpointing::kNone));
  ASSERT_THROWS_WITH(unet->set_activation_checkpointing(ActivationCheckpointing::kEncoder),
                     "unet has no activation checkpointing");
}

}  // namespace
}  // namespace svanet::test
