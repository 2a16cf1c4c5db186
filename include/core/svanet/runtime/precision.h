#pragma once
/// @file
/// Devices and mixed precision: resolving `train.device`, an autocast scope
/// (bf16 on CUDA or CPU, fp16 on CUDA) and dynamic loss scaling for fp16
/// (the rule of PyTorch's GradScaler), written against the LibTorch 1.13
/// and 2.x autocast APIs alike.

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace svanet::runtime {

/// The device of process `local_rank` (its index on this machine) of a run
/// of `world_size` processes, on a machine with `cuda_devices` GPUs:
/// - "cpu": the CPU;
/// - "auto": GPU `local_rank` when there is a GPU, else the CPU;
/// - "cuda": GPU `local_rank`;
/// - "cuda:N": GPU N, for a run of one process only (with more, every
///   process would share GPU N: "cuda" gives each its own).
/// More processes on this machine than GPUs, asking for CUDA where there is
/// none, or an unknown spec throw svanet::Error naming the setting. A pure
/// function, so that the rules can be tested on any machine.
torch::Device place_process(const std::string& spec, int64_t local_rank, int64_t world_size,
                            int64_t cuda_devices);

/// place_process() with this machine's CUDA device count.
torch::Device resolve_device(const std::string& spec, int64_t local_rank = 0,
                             int64_t world_size = 1);

/// Makes `device` the calling thread's current CUDA device (what CUDA
/// allocations, streams and NCCL communicators without an explicit device
/// use), so that a process never opens a context on GPU 0 that it does not
/// use; nothing for a CPU device.
void use_device(const torch::Device& device);

/// The autocast dtype of `precision` (fp32, bf16, fp16) on `device`; kFloat
/// means no autocast. fp16 on the CPU throws svanet::Error.
torch::ScalarType autocast_dtype(const std::string& precision, const torch::Device& device);

/// Whether this CPU computes bf16 natively: AVX512_BF16 (with AVX-512) or
/// AMX-BF16, their registers saved by the operating system (CPUID and
/// XGETBV), and LibTorch built with oneDNN, which has the kernels. Where it
/// does not, bf16 arithmetic is emulated and slower than fp32. Read once;
/// the environment variable SVANET_CPU_BF16=0 or 1 overrides it. False on
/// other architectures than x86.
bool cpu_has_native_bf16();

/// What the CPU offers for `cpu_has_native_bf16`, for logs and benchmarks:
/// e.g. "avx512_bf16 (oneDNN)", "no native bf16", "avx512_bf16, amx_bf16
/// (oneDNN), overridden by SVANET_CPU_BF16=0".
std::string cpu_bf16_description();

/// The precision `spec` means for inference on `device`: fp32, bf16 and
/// fp16 as given; "auto" is bf16 on a CPU with native bf16
/// (cpu_has_native_bf16), fp32 otherwise (on a GPU too). Anything else
/// throws svanet::Error.
std::string resolve_inference_precision(const std::string& spec, const torch::Device& device);

/// Autocast for the scope of a forward pass (nothing for kFloat).
class AutocastGuard {
 public:
  AutocastGuard(const torch::Device& device, torch::ScalarType dtype);
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  bool active_ = false;
  bool cuda_ = false;
  bool previous_enabled_ = false;
  torch::ScalarType previous_dtype_ = torch::kFloat;
};

/// The calling thread's autocast settings for the CPU and CUDA, captured
/// to replay a forward pass outside its scope (activation checkpointing
/// recomputes a segment in the backward pass, after the scope has ended).
struct AutocastState {
  bool cpu_enabled = false;
  torch::ScalarType cpu_dtype = torch::kBFloat16;
  bool cuda_enabled = false;
  torch::ScalarType cuda_dtype = torch::kHalf;
};

/// The calling thread's autocast settings now.
AutocastState current_autocast();

/// Applies an AutocastState for a scope and puts the previous one back.
class AutocastRestore {
 public:
  explicit AutocastRestore(const AutocastState& state);
  ~AutocastRestore();
  AutocastRestore(const AutocastRestore&) = delete;
  AutocastRestore& operator=(const AutocastRestore&) = delete;

 private:
  AutocastState previous_;
};

/// Dynamic loss scaling: gradients of a scaled loss are unscaled before the
/// step; a step with non-finite gradients is skipped and the scale halved;
/// after `growth_interval` finite steps the scale doubles.
class GradScaler {
 public:
  explicit GradScaler(bool enabled, double init_scale = 65536.0, int64_t growth_interval = 2000);

  bool enabled() const { return enabled_; }
  /// loss * scale (the loss itself when disabled).
  torch::Tensor scale(const torch::Tensor& loss) const;
  /// Divides the gradients of `parameters` by the scale; whether all are finite.
  bool unscale(const std::vector<torch::Tensor>& parameters) const;
  /// Adjusts the scale after a step (finite) or a skipped step.
  void update(bool finite);

  double value() const { return scale_; }
  int64_t growth_tracker() const { return growth_tracker_; }
  void restore(double scale, int64_t growth_tracker);

 private:
  bool enabled_;
  double scale_;
  int64_t growth_interval_;
  int64_t growth_tracker_ = 0;
};

}  // namespace svanet::runtime
