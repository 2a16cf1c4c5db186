#include "svanet/runtime/precision.h"

#include "svanet/common/error.h"
#include "svanet/utils/text.h"

#include <ATen/Context.h>
#include <ATen/autocast_mode.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <torch/cuda.h>
#include <torch/torch.h>
#include <torch/version.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <cstdint>
#include <cstdlib>
#include <optional>

namespace svanet::runtime {

namespace {

// LibTorch 2.4 replaced the per-device autocast setters with ones taking a
// device type.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool autocast_enabled(bool cuda) {
  return at::autocast::is_autocast_enabled(cuda ? at::kCUDA : at::kCPU);
}
void set_autocast(bool cuda, bool enabled) {
  at::autocast::set_autocast_enabled(cuda ? at::kCUDA : at::kCPU, enabled);
}
torch::ScalarType get_dtype(bool cuda) {
  return at::autocast::get_autocast_dtype(cuda ? at::kCUDA : at::kCPU);
}
void set_dtype(bool cuda, torch::ScalarType dtype) {
  at::autocast::set_autocast_dtype(cuda ? at::kCUDA : at::kCPU, dtype);
}
#else
bool autocast_enabled(bool cuda) {
  return cuda ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
void set_autocast(bool cuda, bool enabled) {
  if (cuda) {
    at::autocast::set_enabled(enabled);
  } else {
    at::autocast::set_cpu_enabled(enabled);
  }
}
torch::ScalarType get_dtype(bool cuda) {
  return cuda ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}
void set_dtype(bool cuda, torch::ScalarType dtype) {
  if (cuda) {
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
}
#endif

}  // namespace

torch::Device place_process(const std::string& spec, int64_t local_rank, int64_t world_size,
                            int64_t cuda_devices) {
  const std::string s = utils::to_lower(utils::trim(spec));
  if (s == "cpu") return torch::kCPU;
  const bool named = s.rfind("cuda", 0) == 0;
  SVANET_CHECK(s == "auto" || named, "device is auto, cpu, cuda or cuda:N, got '", spec, "'");
  if (s == "auto" && cuda_devices == 0) return torch::kCPU;
  SVANET_CHECK(cuda_devices > 0, "device '", spec,
               "': CUDA is not available (no GPU, or a CPU-only LibTorch); use auto or cpu");
  if (s.size() > 4) {
    SVANET_CHECK(s[4] == ':' && s.size() > 5, "device: expected cuda or cuda:N, got '", spec, "'");
    const int64_t index = utils::parse_int(s.substr(5));
    SVANET_CHECK(world_size <= 1, "device '", spec, "' names one GPU, but this is one of ",
                 world_size,
                 " processes, which would all use it: use device cuda (or auto), with which each "
                 "process takes the GPU of its LOCAL_RANK (CUDA_VISIBLE_DEVICES chooses the GPUs)");
    SVANET_CHECK(index >= 0 && index < cuda_devices, "device '", spec, "': there ",
                 cuda_devices == 1 ? "is 1 CUDA device"
                                   : "are " + std::to_string(cuda_devices) + " CUDA devices",
                 " (cuda:0", cuda_devices > 1 ? "..cuda:" + std::to_string(cuda_devices - 1) : "",
                 ")");
    return {torch::kCUDA, static_cast<c10::DeviceIndex>(index)};
  }
  SVANET_CHECK(local_rank >= 0 && local_rank < cuda_devices, "device '", spec,
               "': this process has LOCAL_RANK ", local_rank, " but this machine has ",
               cuda_devices, " CUDA device", cuda_devices == 1 ? "" : "s",
               ", one per process: start at most ", cuda_devices,
               " processes per machine (torchrun --nproc-per-node ", cuda_devices,
               ") or train on the CPU (device cpu)");
  return {torch::kCUDA, static_cast<c10::DeviceIndex>(local_rank)};
}

torch::Device resolve_device(const std::string& spec, int64_t local_rank, int64_t world_size) {
  const int64_t count =
      torch::cuda::is_available() ? static_cast<int64_t>(torch::cuda::device_count()) : 0;
  return place_process(spec, local_rank, world_size, count);
}

void use_device(const torch::Device& device) {
  if (!device.is_cuda()) return;
  // Through c10's device-guard interface, which every LibTorch has (a CPU
  // build included), so no CUDA header is needed here.
  c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA)->setDevice(device);
}

torch::ScalarType autocast_dtype(const std::string& precision, const torch::Device& device) {
  if (precision == "fp32") return torch::kFloat;
  if (precision == "bf16") return torch::kBFloat16;
  SVANET_CHECK(precision == "fp16", "precision is fp32, bf16 or fp16, got '", precision, "'");
  SVANET_CHECK(device.is_cuda(), "fp16 needs a CUDA device (use bf16 on the CPU)");
  return torch::kHalf;
}

namespace {

/// The CPU's native bf16 instructions, as names (empty: none).
std::vector<std::string> native_bf16_instructions() {
  std::vector<std::string> out;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid(1, &a, &b, &c, &d) == 0 || (c & bit_OSXSAVE) == 0) return out;
  if (__get_cpuid_max(0, nullptr) < 7) return out;
  // XCR0: which register states the operating system saves on a switch.
  uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  const uint64_t xcr0 = (static_cast<uint64_t>(hi) << 32) | lo;
  const bool avx512_state = (xcr0 & 0xE6U) == 0xE6U;             // SSE, AVX, opmask, ZMM
  const bool amx_state = (xcr0 & (3ULL << 17)) == (3ULL << 17);  // tile config and data
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx512f = (b & (1U << 16)) != 0;
  const bool amx_bf16 = (d & (1U << 22)) != 0 && (d & (1U << 24)) != 0;
  __cpuid_count(7, 1, a, b, c, d);
  const bool avx512_bf16 = (a & (1U << 5)) != 0;
  if (avx512_state && avx512f && avx512_bf16) out.emplace_back("avx512_bf16");
  if (amx_state && amx_bf16) out.emplace_back("amx_bf16");
#endif
  return out;
}

/// SVANET_CPU_BF16=0 or 1, or nothing.
std::optional<bool> bf16_override() {
  const char* value = std::getenv("SVANET_CPU_BF16");
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value) != "0";
}

}  // namespace

bool cpu_has_native_bf16() {
  static const bool detected = !native_bf16_instructions().empty() && at::hasMKLDNN();
  return bf16_override().value_or(detected);
}

std::string cpu_bf16_description() {
  const auto found = native_bf16_instructions();
  std::string text =
      found.empty() ? "no native bf16"
                    : utils::join(found, ", ") + (at::hasMKLDNN() ? " (oneDNN)" : " (no oneDNN)");
  if (const auto forced = bf16_override()) {
    text += std::string(", overridden by SVANET_CPU_BF16=") + (*forced ? "1" : "0");
  }
  return text;
}

std::string resolve_inference_precision(const std::string& spec, const torch::Device& device) {
  if (spec == "fp32" || spec == "bf16" || spec == "fp16") return spec;
  SVANET_CHECK(spec == "auto", "precision is auto, fp32, bf16 or fp16, got '", spec, "'");
  return !device.is_cuda() && cpu_has_native_bf16() ? "bf16" : "fp32";
}

AutocastGuard::AutocastGuard(const torch::Device& device, torch::ScalarType dtype) {
  if (dtype == torch::kFloat) return;
  active_ = true;
  cuda_ = device.is_cuda();
  previous_enabled_ = autocast_enabled(cuda_);
  previous_dtype_ = get_dtype(cuda_);
  set_autocast(cuda_, true);
  set_dtype(cuda_, dtype);
  at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard() {
  if (!active_) return;
  // As Python's autocast: the cast cache lives until the outermost scope ends.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_autocast(cuda_, previous_enabled_);
  set_dtype(cuda_, previous_dtype_);
}

AutocastState current_autocast() {
  AutocastState s;
  s.cpu_enabled = autocast_enabled(false);
  s.cpu_dtype = get_dtype(false);
  s.cuda_enabled = autocast_enabled(true);
  s.cuda_dtype = get_dtype(true);
  return s;
}

namespace {
void apply_autocast(const AutocastState& s) {
  set_autocast(false, s.cpu_enabled);
  set_dtype(false, s.cpu_dtype);
  set_autocast(true, s.cuda_enabled);
  set_dtype(true, s.cuda_dtype);
}
}  // namespace

AutocastRestore::AutocastRestore(const AutocastState& state) : previous_(current_autocast()) {
  apply_autocast(state);
  at::autocast::increment_nesting();
}

AutocastRestore::~AutocastRestore() {
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  apply_autocast(previous_);
}

GradScaler::GradScaler(bool enabled, double init_scale, int64_t growth_interval)
    : enabled_(enabled), scale_(enabled ? init_scale : 1.0), growth_interval_(growth_interval) {}

torch::Tensor GradScaler::scale(const torch::Tensor& loss) const {
  return enabled_ ? loss * scale_ : loss;
}

bool GradScaler::unscale(const std::vector<torch::Tensor>& parameters) const {
  if (!enabled_) return true;
  torch::NoGradGuard no_grad;
  const double inverse = 1.0 / scale_;
  // One flag on the gradients' device, read once (a read per tensor would
  // synchronise a GPU hundreds of times per step).
  torch::Tensor non_finite;
  for (const auto& p : parameters) {
    if (!p.grad().defined()) continue;
    auto g = p.grad();
    g.mul_(inverse);
    const auto bad = torch::isfinite(g).logical_not().any();
    non_finite = non_finite.defined() ? non_finite.logical_or(bad) : bad;
  }
  return !non_finite.defined() || !non_finite.item<bool>();
}

void GradScaler::update(bool finite) {
  if (!enabled_) return;
  if (!finite) {
    scale_ *= 0.5;
    growth_tracker_ = 0;
    return;
  }
  if (++growth_tracker_ >= growth_interval_) {
    scale_ *= 2.0;
    growth_tracker_ = 0;
  }
}

void GradScaler::restore(double scale, int64_t growth_tracker) {
  scale_ = scale;
  growth_tracker_ = growth_tracker;
}

}  // namespace svanet::runtime
