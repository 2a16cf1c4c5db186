#pragma once
/// @file
/// The collective operation that model code may need across the processes of
/// a multi-process run, as an interface: svanet::core stays free of c10d
/// (the pipeline library's engine::ProcessGroup implements it over Gloo or
/// NCCL), and a test or another launcher can provide its own.

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace svanet::runtime {

/// Sums tensors over every process of a group.
class Collective {
 public:
  virtual ~Collective() = default;
  /// The number of processes.
  virtual int64_t size() const = 0;
  /// Sums each tensor over all processes, in place (every process calls it
  /// with tensors of the same shapes, in the same order).
  virtual void all_reduce_sum(std::vector<torch::Tensor>& tensors) = 0;
};

}  // namespace svanet::runtime
