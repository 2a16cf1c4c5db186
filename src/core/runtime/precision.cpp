#include "svanet/runtime/precision.h"

#include "svanet/common/error.h"
#include "svanet/utils/text.h"

#include <ATen/autocast_mode.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <torch/cuda.h>
#include <torch/torch.h>
#include <torch/version.h>

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
  SVANET_CHECK(precision == "fp16", "train.precision is fp32, bf16 or fp16, got '", precision, "'");
  SVANET_CHECK(device.is_cuda(), "train.precision fp16 needs a CUDA device (use bf16 on the CPU)");
  return torch::kHalf;
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
