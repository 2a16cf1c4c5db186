#pragma once
/// @file
/// Model size and cost, counted from the model itself.

#include <torch/nn/module.h>

#include <cstdint>
#include <functional>

namespace svanet::models {

/// Number of scalar parameters (buffers excluded), as PyTorch's
/// `sum(p.numel() for p in model.parameters())`.
int64_t count_parameters(const torch::nn::Module& module);

/// Multiply-accumulates of the convolutions and matrix products that run
/// while `fn` executes on the calling thread, read from the operators'
/// actual arguments (LibTorch's RecordFunction observers). A convolution
/// counts out_elements x (in_channels / groups) x kernel area (transposed:
/// in_elements x (out_channels / groups) x kernel area); `linear`, `matmul`,
/// `mm`, `bmm`, `addmm` count m x n x k. Elementwise work, pooling and
/// normalisation are not counted, as in the official profiler.
int64_t count_macs(const std::function<void()>& fn);

}  // namespace svanet::models
