// The determinism guard sets ATen's algorithm switches for its scope only.

#include "support/test_support.h"

#include "svanet/runtime/determinism.h"

#include <ATen/Context.h>

namespace svanet::test {
namespace {

TEST(Determinism, GuardSetsTheFlagsForItsScopeAndRestoresTheCallers) {
  const auto before = runtime::AlgorithmFlags::current();
  // A caller with settings of its own: warn-only determinism, cuDNN benchmark.
  runtime::AlgorithmFlags mine;
  mine.deterministic_algorithms = true;
  mine.warn_only = true;
  mine.cudnn_benchmark = true;
  mine.apply();
  {
    runtime::DeterminismGuard guard(true);
    const auto inside = runtime::AlgorithmFlags::current();
    EXPECT_TRUE(inside.deterministic_algorithms);
    EXPECT_FALSE(inside.warn_only);
    EXPECT_TRUE(inside.cudnn_deterministic);
    EXPECT_FALSE(inside.cudnn_benchmark);
    EXPECT_TRUE(at::globalContext().deterministicAlgorithms());
  }
  EXPECT_EQ(runtime::AlgorithmFlags::current(), mine);
  {
    runtime::DeterminismGuard guard(false, false);
    const auto inside = runtime::AlgorithmFlags::current();
    // Not deterministic: only cuDNN's benchmark mode is the guard's.
    EXPECT_TRUE(inside.deterministic_algorithms);
    EXPECT_TRUE(inside.warn_only);
    EXPECT_FALSE(inside.cudnn_benchmark);
  }
  EXPECT_EQ(runtime::AlgorithmFlags::current(), mine);
  before.apply();
  EXPECT_EQ(runtime::AlgorithmFlags::current(), before);
}

}  // namespace
}  // namespace svanet::test
