#pragma once
/// @file
/// Multi-process data-parallel training on PyTorch's own distributed
/// backend (c10d process groups: Gloo on the CPU, NCCL on CUDA when LibTorch
/// was built with it, Gloo otherwise). Processes find each other through
/// the environment `torchrun` sets (RANK, WORLD_SIZE, LOCAL_RANK,
/// MASTER_ADDR, MASTER_PORT), or SLURM's and Open MPI's variables, so
/// `torchrun --no-python --nproc-per-node N svanet train ...`, `mpirun` or
/// `srun` can start them.

#include "svanet/runtime/collective.h"

#include <torch/nn/module.h>
#include <torch/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace svanet::engine {

/// Where this process sits in a multi-process run.
struct DistributedEnv {
  int64_t rank = 0;
  int64_t world_size = 1;
  int64_t local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int64_t master_port = 29500;
  /// The launcher the values came from: "torchrun", "slurm", "openmpi" or
  /// "" for a single process.
  std::string launcher;

  bool active() const { return world_size > 1; }

  /// Reads RANK/WORLD_SIZE/LOCAL_RANK (torchrun), else SLURM_PROCID/
  /// SLURM_NTASKS/SLURM_LOCALID, else OMPI_COMM_WORLD_*; MASTER_ADDR and
  /// MASTER_PORT (default 127.0.0.1:29500). Inconsistent values throw
  /// svanet::Error naming the variable.
  static DistributedEnv from_environment();
};

/// Whether this build can start process groups (LibTorch's c10d with Gloo).
bool distributed_available();

/// A process group of every process of the run.
class ProcessGroup final : public runtime::Collective {
 public:
  /// Joins the group (rank 0 hosts the rendezvous store at MASTER_ADDR:
  /// MASTER_PORT). NCCL is used for CUDA devices when available. `timeout`
  /// bounds the rendezvous and every collective, with Gloo and NCCL alike
  /// (a process that died or hangs fails the others after it).
  ProcessGroup(const DistributedEnv& env, const torch::Device& device,
               std::chrono::seconds timeout = std::chrono::seconds(600));
  ~ProcessGroup() override;
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int64_t rank() const;
  int64_t size() const override;
  /// "gloo" or "nccl".
  std::string backend() const;
  /// The timeout the group was created with.
  std::chrono::seconds timeout() const;

  /// Sums each tensor over all processes, in place.
  void all_reduce_sum(std::vector<torch::Tensor>& tensors) override;
  /// Copies each tensor from `root` to every process, in place.
  void broadcast(std::vector<torch::Tensor>& tensors, int64_t root = 0);
  /// Every process's bytes, in rank order.
  std::vector<std::string> all_gather_bytes(const std::string& bytes);
  /// Waits until every process arrives.
  void barrier();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Averages the gradients of `parameters` over all processes (a parameter
/// without a gradient contributes zeros), in buckets of about 32 MiB.
void average_gradients(ProcessGroup& group, const std::vector<torch::Tensor>& parameters);

/// Copies a module's parameters and buffers (or only its buffers) from
/// rank 0 to every process.
void broadcast_module(ProcessGroup& group, torch::nn::Module& module, bool buffers_only = false);

}  // namespace svanet::engine
