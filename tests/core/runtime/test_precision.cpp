// Devices, the autocast scope and dynamic loss scaling.

#include "support/test_support.h"

#include "svanet/runtime/precision.h"

#include <torch/torch.h>

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
