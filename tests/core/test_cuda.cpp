// What only a GPU can check (every test ends in _CUDA and skips itself
// without one): training steps in fp32, bf16 and fp16 with loss scaling,
// channels-last against contiguous, the GPU against the CPU, and checkpoints
// moving between the two. The model parity on a GPU is in
// models/test_parity.cpp.

#include "support/cuda.h"
#include "support/test_support.h"

#include "svanet/io/checkpoint.h"
#include "svanet/models/registry.h"
#include "svanet/runtime/precision.h"

#include <torch/torch.h>

namespace svanet::test {
namespace {

const torch::Device kGpu(torch::kCUDA, 0);

/// The tiny SvANet for 64-pixel inputs.
models::SegmentationModel tiny_model() {
  torch::manual_seed(0);
  return create_model("svanet_test", ModelOptions().num_classes(3).image_size(64));
}

double relative_error(const torch::Tensor& actual, const torch::Tensor& expected) {
  const auto a = actual.to(torch::kCPU, torch::kDouble),
             e = expected.to(torch::kCPU, torch::kDouble);
  return ((a - e).norm() / e.norm()).item<double>();
}

/// A copy of every parameter, on the CPU.
std::vector<torch::Tensor> snapshot(torch::nn::Module& model) {
  std::vector<torch::Tensor> out;
  for (const auto& p : model.parameters()) out.push_back(p.detach().to(torch::kCPU).clone());
  return out;
}

/// How many parameters differ from `before`.
int64_t changed(torch::nn::Module& model, const std::vector<torch::Tensor>& before) {
  int64_t n = 0;
  size_t i = 0;
  for (const auto& p : model.parameters()) n += torch::equal(p.detach().cpu(), before[i++]) ? 0 : 1;
  return n;
}

TEST(Cuda, ATrainingStepInFp32Bf16AndFp16IsFiniteAndMovesTheWeights_CUDA) {
  SVANET_REQUIRE_CUDA();
  for (const std::string precision : {"fp32", "bf16", "fp16"}) {
    SCOPED_TRACE(precision);
    auto model = tiny_model();
    model->to(kGpu);
    model->train();
    const auto dtype = runtime::autocast_dtype(precision, kGpu);
    runtime::GradScaler scaler(precision == "fp16", 1024.0, 2);
    torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-3));
    std::vector<torch::Tensor> params;
    for (const auto& p : model->parameters()) params.push_back(p);
    const auto x = torch::randn({2, 3, 64, 64}, torch::TensorOptions().device(kGpu));
    const auto y =
        torch::randint(3, {2, 64, 64}, torch::TensorOptions().dtype(torch::kLong).device(kGpu));
    if (dtype != torch::kFloat) {
      // Autocast really computes in the lower precision: the logits (of
      // whatever type the last operator returns) move off fp32's, a little.
      model->eval();
      torch::NoGradGuard no_grad;
      const NoTf32 fp32;
      const auto reference = model->forward(x);
      runtime::AutocastGuard autocast(kGpu, dtype);
      const double error = relative_error(model->forward(x), reference);
      EXPECT_GT(error, 0.0);
      EXPECT_LT(error, 5e-2);
      model->train();
    }
    const auto before = snapshot(*model);
    for (int step = 0; step < 2; ++step) {
      torch::Tensor loss;
      {
        runtime::AutocastGuard autocast(kGpu, dtype);
        loss = torch::nn::functional::cross_entropy(model->forward(x).to(torch::kFloat), y);
      }
      ASSERT_TRUE(std::isfinite(loss.item<double>()));
      optimizer.zero_grad();
      scaler.scale(loss).backward();
      const bool finite = scaler.unscale(params);
      EXPECT_TRUE(finite);
      if (finite) optimizer.step();
      scaler.update(finite);
    }
    EXPECT_GT(changed(*model, before), static_cast<int64_t>(before.size()) / 2);
    if (precision == "fp16") {
      // Two finite steps with growth interval 2: the scale doubled.
      EXPECT_DOUBLE_EQ(scaler.value(), 2048.0);
      // A scale that overflows fp16 gradients: the step is skipped, the
      // weights stay, the scale halves.
      scaler.restore(std::ldexp(1.0, 100), 0);
      const auto kept = snapshot(*model);
      torch::Tensor loss;
      {
        runtime::AutocastGuard autocast(kGpu, dtype);
        loss = torch::nn::functional::cross_entropy(model->forward(x).to(torch::kFloat), y);
      }
      optimizer.zero_grad();
      scaler.scale(loss).backward();
      const bool finite = scaler.unscale(params);
      EXPECT_FALSE(finite);
      if (finite) optimizer.step();
      scaler.update(finite);
      EXPECT_EQ(changed(*model, kept), 0);
      EXPECT_DOUBLE_EQ(scaler.value(), std::ldexp(1.0, 99));
    }
  }
}

TEST(Cuda, ChannelsLastGivesTheLogitsOfContiguousMemory_CUDA) {
  SVANET_REQUIRE_CUDA();
  NoTf32 fp32;
  auto model = tiny_model();
  model->to(kGpu);
  model->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({2, 3, 64, 64}, torch::TensorOptions().device(kGpu));
  const auto contiguous = model->forward(x);
  for (auto& p : model->parameters()) {
    if (p.dim() == 4) p.set_data(p.contiguous(torch::MemoryFormat::ChannelsLast));
  }
  const auto channels_last = model->forward(x.contiguous(torch::MemoryFormat::ChannelsLast));
  EXPECT_LT(relative_error(channels_last, contiguous), 1e-5);
}

TEST(Cuda, TheGpuAndTheCpuComputeTheSameLogits_CUDA) {
  SVANET_REQUIRE_CUDA();
  NoTf32 fp32;
  auto model = tiny_model();
  model->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({2, 3, 64, 64});
  const auto on_cpu = model->forward(x);
  model->to(kGpu);
  const auto on_gpu = model->forward(x.to(kGpu));
  EXPECT_EQ(on_gpu.device(), kGpu);
  EXPECT_LT(relative_error(on_gpu, on_cpu), 1e-5);
}

TEST(Cuda, ACheckpointSavedOnTheGpuLoadsOnTheCpuAndTheReverse_CUDA) {
  SVANET_REQUIRE_CUDA();
  TempDir dir;
  auto model = tiny_model();
  model->to(kGpu);
  const auto gpu_file = (dir.path() / "gpu.pt").string();
  io::save_checkpoint(gpu_file, *model, io::CheckpointMeta{});
  const auto on_cpu = io::load_checkpoint(gpu_file, torch::kCPU);
  const auto cpu_file = (dir.path() / "cpu.pt").string();
  io::save_checkpoint(cpu_file, *on_cpu.model, io::CheckpointMeta{});
  const auto on_gpu = io::load_checkpoint(cpu_file, kGpu);
  const auto a = model->named_parameters(), b = on_cpu.model->named_parameters(),
             c = on_gpu.model->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (const auto& item : a) {
    EXPECT_EQ(b[item.key()].device(), torch::Device(torch::kCPU)) << item.key();
    EXPECT_EQ(c[item.key()].device(), kGpu) << item.key();
    EXPECT_TRUE(torch::equal(item.value().cpu(), b[item.key()])) << item.key();
    EXPECT_TRUE(torch::equal(item.value(), c[item.key()])) << item.key();
  }
  for (const auto& item : model->named_buffers()) {
    EXPECT_TRUE(torch::equal(item.value().cpu(), on_cpu.model->named_buffers()[item.key()]))
        << item.key();
  }
}

}  // namespace
}  // namespace svanet::test
