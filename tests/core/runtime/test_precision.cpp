// Devices, the autocast scope and dynamic loss scaling.

#include "support/test_support.h"

#include "svanet/runtime/precision.h"

#include <torch/torch.h>

#include <string>

namespace svanet::test {
namespace {

TEST(Precision, ResolvesDevicesAndRefusesWhatIsNotThere) {
  EXPECT_EQ(runtime::resolve_device("cpu"), torch::Device(torch::kCPU));
  EXPECT_EQ(runtime::resolve_device(" CPU "), torch::Device(torch::kCPU));
  if (!torch::cuda::is_available()) {
    EXPECT_EQ(runtime::resolve_device("auto"), torch::Device(torch::kCPU));
    ASSERT_THROWS_WITH(runtime::resolve_device("cuda:1"), "CUDA is not available");
  }
  ASSERT_THROWS_WITH(runtime::resolve_device("tpu"), "auto, cpu, cuda or cuda:N, got 'tpu'");
  EXPECT_EQ(runtime::autocast_dtype("fp32", torch::kCPU), torch::kFloat);
  EXPECT_EQ(runtime::autocast_dtype("bf16", torch::kCPU), torch::kBFloat16);
  ASSERT_THROWS_WITH(runtime::autocast_dtype("fp16", torch::kCPU), "fp16 needs a CUDA device");
}

TEST(Precision, EachProcessTakesTheGpuOfItsLocalRank) {
  const torch::Device cpu(torch::kCPU);
  auto gpu = [](int index) {
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  };
  // One process, no GPU / 2 GPUs.
  EXPECT_EQ(runtime::place_process("auto", 0, 1, 0), cpu);
  EXPECT_EQ(runtime::place_process("auto", 0, 1, 2), gpu(0));
  EXPECT_EQ(runtime::place_process("cuda", 0, 1, 2), gpu(0));
  EXPECT_EQ(runtime::place_process("cpu", 0, 1, 2), cpu);
  // An explicit GPU wins for one process, whatever LOCAL_RANK says.
  EXPECT_EQ(runtime::place_process("cuda:1", 0, 1, 2), gpu(1));
  EXPECT_EQ(runtime::place_process("CUDA:1", 3, 1, 2), gpu(1));
  // torchrun --nproc-per-node 4 on a 4-GPU machine: rank r on GPU r; on a
  // second machine the local ranks start again at 0.
  for (int r = 0; r < 4; ++r) {
    EXPECT_EQ(runtime::place_process("auto", r, 8, 4), gpu(r));
    EXPECT_EQ(runtime::place_process("cuda", r, 8, 4), gpu(r));
  }
  // Several processes on the CPU are fine.
  EXPECT_EQ(runtime::place_process("auto", 3, 4, 0), cpu);
  EXPECT_EQ(runtime::place_process("cpu", 3, 4, 2), cpu);
  // More processes than GPUs, one explicit GPU for several processes, and
  // devices that are not there.
  ASSERT_THROWS_WITH(runtime::place_process("auto", 2, 4, 2),
                     "LOCAL_RANK 2 but this machine has 2 CUDA devices");
  ASSERT_THROWS_WITH(runtime::place_process("cuda", 1, 2, 1), "torchrun --nproc-per-node 1");
  ASSERT_THROWS_WITH(runtime::place_process("cuda:0", 0, 2, 2),
                     "this is one of 2 processes, which would all use it");
  ASSERT_THROWS_WITH(runtime::place_process("cuda:2", 0, 1, 2),
                     "there are 2 CUDA devices (cuda:0..cuda:1)");
  ASSERT_THROWS_WITH(runtime::place_process("cuda:0", 0, 1, 0), "CUDA is not available");
  ASSERT_THROWS_WITH(runtime::place_process("cuda", 0, 1, 0), "CUDA is not available");
  ASSERT_THROWS_WITH(runtime::place_process("cuda:", 0, 1, 1), "expected cuda or cuda:N");
  ASSERT_THROWS_WITH(runtime::place_process("cuda:x", 0, 1, 1), "x");
  ASSERT_THROWS_WITH(runtime::place_process("gpu", 0, 1, 1), "auto, cpu, cuda or cuda:N");
  // Nothing to do on the CPU.
  EXPECT_NO_THROW(runtime::use_device(cpu));
}

TEST(Precision, AutoInferenceIsBf16OnlyOnACpuThatComputesItNatively) {
  for (const char* given : {"fp32", "bf16", "fp16"}) {
    EXPECT_EQ(runtime::resolve_inference_precision(given, torch::kCPU), given);
  }
  ASSERT_THROWS_WITH(runtime::resolve_inference_precision("half", torch::kCPU),
                     "precision is auto, fp32, bf16 or fp16, got 'half'");
  {
    const ScopedEnvironment native("SVANET_CPU_BF16", "1");
    EXPECT_TRUE(runtime::cpu_has_native_bf16());
    EXPECT_EQ(runtime::resolve_inference_precision("auto", torch::kCPU), "bf16");
    // A GPU is left in fp32 unless asked.
    EXPECT_EQ(runtime::resolve_inference_precision("auto", torch::Device(torch::kCUDA, 0)), "fp32");
    EXPECT_NE(runtime::cpu_bf16_description().find("overridden by SVANET_CPU_BF16=1"),
              std::string::npos);
  }
  const ScopedEnvironment emulated("SVANET_CPU_BF16", "0");
  EXPECT_FALSE(runtime::cpu_has_native_bf16());
  EXPECT_EQ(runtime::resolve_inference_precision("auto", torch::kCPU), "fp32");
}

TEST(Precision, AutocastAppliesInsideTheScopeOnly) {
  const auto a = torch::randn({4, 8}), b = torch::randn({8, 3});
  {
    runtime::AutocastGuard guard(torch::kCPU, torch::kBFloat16);
    EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kBFloat16);
  }
  EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kFloat);
  {
    runtime::AutocastGuard off(torch::kCPU, torch::kFloat);
    EXPECT_EQ(torch::mm(a, b).scalar_type(), torch::kFloat);
  }
}

TEST(Precision, GradScalerUnscalesSkipsNonFiniteStepsAndAdaptsTheScale) {
  runtime::GradScaler scaler(true, 1024.0, 2);
  auto p = torch::zeros({3}, torch::requires_grad());
  auto loss = (p * torch::tensor({1.0F, 2.0F, 3.0F})).sum();
  scaler.scale(loss).backward();
  EXPECT_TRUE(torch::allclose(p.grad(), torch::tensor({1024.0F, 2048.0F, 3072.0F})));
  EXPECT_TRUE(scaler.unscale({p}));
  EXPECT_TRUE(torch::allclose(p.grad(), torch::tensor({1.0F, 2.0F, 3.0F})));
  scaler.update(true);
  EXPECT_DOUBLE_EQ(scaler.value(), 1024.0);
  scaler.update(true);  // two finite steps: the scale doubles
  EXPECT_DOUBLE_EQ(scaler.value(), 2048.0);
  p.mutable_grad() = torch::tensor({1.0F, INFINITY, 0.0F});
  EXPECT_FALSE(scaler.unscale({p}));
  scaler.update(false);  // skipped step: the scale halves
  EXPECT_DOUBLE_EQ(scaler.value(), 1024.0);
  EXPECT_EQ(scaler.growth_tracker(), 0);
  runtime::GradScaler off(false);
  EXPECT_TRUE(off.unscale({p}));
  EXPECT_DOUBLE_EQ(off.value(), 1.0);
}

}  // namespace
}  // namespace svanet::test
