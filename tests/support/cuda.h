#pragma once
// For the *_CUDA tests: they skip themselves (with the reason) where there
// is no GPU, so the suite builds and passes on any machine; TF32 is turned
// off for their fp32 comparisons.

#include <ATen/Context.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>

/// Skips the current test without a usable CUDA device.
#define SVANET_REQUIRE_CUDA()                                                          \
  if (torch::cuda::is_available()) {                                                   \
  } else /* NOLINT(readability-braces-around-statements) */                            \
    GTEST_SKIP() << "no CUDA device (no GPU, or a CPU-only LibTorch): this test runs " \
                    "on a GPU machine (shell/gpu_check.sh)"

namespace svanet::test {

/// TF32 off for cuBLAS and cuDNN for the guard's scope: an fp32 comparison
/// on an Ampere-or-later GPU would otherwise see 10-bit mantissas.
class NoTf32 {
 public:
  NoTf32()
      : blas_(at::globalContext().allowTF32CuBLAS()), cudnn_(at::globalContext().allowTF32CuDNN()) {
    at::globalContext().setAllowTF32CuBLAS(false);
    at::globalContext().setAllowTF32CuDNN(false);
  }
  ~NoTf32() {
    at::globalContext().setAllowTF32CuBLAS(blas_);
    at::globalContext().setAllowTF32CuDNN(cudnn_);
  }
  NoTf32(const NoTf32&) = delete;
  NoTf32& operator=(const NoTf32&) = delete;

 private:
  bool blas_, cudnn_;
};

}  // namespace svanet::test
