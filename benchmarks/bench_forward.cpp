// Forward (and optionally training-step) time of a registered model.
//
//   bench_forward --model svanet_r50 --size 512 --batch 1 --threads 2 --repeats 5
//   bench_forward --device cuda --precision bf16 --train --batch 4
//   bench_forward --train --size 256 --batch 4 --checkpointing all --optimizer-in-backward
//
// Prints the median, min and max over the timed runs after warm-up runs,
// images/s, the achieved GMAC/s and TFLOP/s from the counted MACs, peak
// memory (RSS; on CUDA the caching allocator's peak) and checks the output
// is finite. The heap is set up as svanet's programs set it
// (svanet/runtime/heap.h; SVANET_MALLOC=system for glibc's defaults). The
// last line, `result: key=value ...`, is for scripts
// (shell/gpu_check.sh).

#include "bench_common.h"
#include "svanet/models/profile.h"
#include "svanet/models/registry.h"
#include "svanet/optim/step_in_backward.h"
#include "svanet/runtime/heap.h"
#include "svanet/runtime/precision.h"

#include <torch/torch.h>

#if SVANET_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include <cstdio>
#include <optional>
#include <string>

namespace {

constexpr const char* kUsage =
    "Time the forward pass (or a training step) of a registered model.\n"
    "usage: bench_forward [--model NAME] [--size N] [--batch N] [--classes N] [--threads N]\n"
    "                     [--repeats N] [--warmup N] [--device cpu|cuda[:N]] [--train]\n"
    "                     [--precision fp32|bf16|fp16] [--channels-last] [--set key=value]...\n"
    "                     [--checkpointing none|encoder|guide|all] [--optimizer-in-backward]\n";

}  // namespace

int main(int argc, char** argv) {
  const std::string heap = svanet::runtime::keep_freed_memory();
  bench::Flags flags("bench_forward", kUsage,
                     {"--train", "--channels-last", "--optimizer-in-backward"});
  flags.parse(argc, argv,
              {"--model", "--size", "--batch", "--classes", "--threads", "--repeats", "--warmup",
               "--device", "--set", "--precision", "--checkpointing"});
  const auto model_name = flags.text("--model", "svanet_r50");
  const auto size = flags.number("--size", 512, 32);
  const auto batch = flags.number("--batch", 1);
  const auto classes = flags.number("--classes", 2);
  const auto threads = static_cast<int>(flags.number("--threads", 2));
  const auto repeats = static_cast<int>(flags.number("--repeats", 5));
  const auto warmup = static_cast<int>(flags.number("--warmup", 1, 0));
  const auto device = flags.text("--device", "cpu");
  const bool train = flags.has("--train");
  const bool channels_last = flags.has("--channels-last");
  const auto precision = flags.text("--precision", "fp32");
  const auto checkpointing = flags.text("--checkpointing", "none");
  const bool in_backward = flags.has("--optimizer-in-backward");
  if (in_backward && (!train || precision == "fp16")) {
    flags.fail("--optimizer-in-backward: needs --train and fp32 or bf16 (fp16 may skip a step)");
  }

  torch::set_num_threads(threads);
  torch::manual_seed(0);
  svanet::SegmentationModel model{nullptr};
  torch::Device dev(torch::kCPU);
  torch::ScalarType autocast = torch::kFloat;
  auto options = svanet::ModelOptions().num_classes(classes).image_size(size);
  try {
    dev = svanet::runtime::resolve_device(device);
    svanet::runtime::use_device(dev);
    autocast = svanet::runtime::autocast_dtype(precision, dev);
    for (const auto& o : flags.all("--set")) {
      const auto eq = o.find('=');
      if (eq == std::string::npos || eq == 0) flags.fail("--set '" + o + "': expected key=value");
      options.set(o.substr(0, eq), o.substr(eq + 1));
    }
    model = svanet::create_model(model_name, options);
    model->set_activation_checkpointing(
        svanet::models::parse_activation_checkpointing(checkpointing));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_forward: %s\n", e.what());
    return 2;
  }
  model->to(dev);
  const auto format =
      channels_last ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
  if (channels_last) {
    torch::NoGradGuard no_grad;
    for (auto& p : model->parameters()) {
      if (p.dim() == 4) p.set_data(p.contiguous(format));
    }
  }
  auto x =
      torch::randn({batch, 3, size, size}, torch::TensorOptions().device(dev)).contiguous(format);
  auto target = torch::randint(classes, {batch, size, size},
                               torch::TensorOptions().dtype(torch::kLong).device(dev));
  // MACs of one forward pass (the operators' observers see what the
  // calling thread dispatches, on any device).
  double macs = 0.0;
  {
    model->eval();
    torch::NoGradGuard no_grad;
    macs = static_cast<double>(svanet::models::count_macs([&] { model->forward(x); }));
  }
  torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-4));
  std::optional<svanet::optim::StepInBackward> stepping;
  if (in_backward) stepping.emplace(optimizer);
  svanet::runtime::GradScaler scaler(autocast == torch::kHalf);
  std::vector<torch::Tensor> params;
  for (const auto& p : model->parameters()) params.push_back(p);
  torch::Tensor out;
#if SVANET_WITH_CUDA
  if (dev.is_cuda()) {
    torch::cuda::synchronize();
    c10::cuda::CUDACachingAllocator::resetPeakStats(dev.index());
  }
#endif
  const auto timing = bench::time_runs(warmup, repeats, [&] {
    if (train) {
      model->train();
      optimizer.zero_grad();
      torch::Tensor loss;
      {
        svanet::runtime::AutocastGuard guard(dev, autocast);
        loss = torch::nn::functional::cross_entropy(model->forward(x).to(torch::kFloat), target);
      }
      scaler.scale(loss).backward();
      if (!stepping && scaler.unscale(params)) optimizer.step();
      out = loss.detach();
    } else {
      model->eval();
      torch::NoGradGuard no_grad;
      svanet::runtime::AutocastGuard guard(dev, autocast);
      out = model->forward(x);
    }
    if (dev.is_cuda()) torch::cuda::synchronize();
  });
  if (!torch::isfinite(out).all().item<bool>()) {
    std::fprintf(stderr, "output is not finite\n");
    return 1;
  }
  double peak_cuda_mib = 0.0;
#if SVANET_WITH_CUDA
  if (dev.is_cuda()) {
    // Index 0 is the aggregate over pools in every LibTorch version.
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(dev.index());
    peak_cuda_mib = static_cast<double>(stats.allocated_bytes[0].peak) / (1024.0 * 1024.0);
  }
#endif
  // A training step: the forward pass and a backward pass of about twice
  // its work.
  const double step_macs = macs * (train ? 3.0 : 1.0);
  const double gmacs_per_s = step_macs / timing.median / 1e9;
  const double images_per_s = static_cast<double>(batch) / timing.median;
  std::printf(
      "%s %s size=%lld batch=%lld threads=%d device=%s precision=%s%s%s%s: median %.4f s, min %.4f "
      "s, "
      "max %.4f s (%d runs), %.2f images/s, %.1f GMAC/s (%.2f TFLOP/s), params %lld, "
      "peak RSS %.0f MiB",
      model_name.c_str(), train ? "train-step" : "forward", size, batch, threads, dev.str().c_str(),
      precision.c_str(), channels_last ? " channels-last" : "",
      checkpointing == "none" ? "" : (" checkpointing=" + checkpointing).c_str(),
      in_backward ? " optimizer-in-backward" : "", timing.median, timing.min, timing.max, repeats,
      images_per_s, gmacs_per_s, 2.0 * gmacs_per_s / 1e3,
      static_cast<long long>(svanet::models::count_parameters(*model)), bench::peak_rss_mib());
  if (dev.is_cuda()) std::printf(", peak CUDA %.0f MiB", peak_cuda_mib);
  std::printf("\n  on %s; %s\n",
              dev.is_cuda() ? "a CUDA device" : bench::machine_description().c_str(), heap.c_str());
  std::printf(
      "result: model=%s mode=%s size=%lld batch=%lld device=%s precision=%s layout=%s "
      "checkpointing=%s optimizer_in_backward=%d median_s=%.4f "
      "min_s=%.4f max_s=%.4f images_per_s=%.2f gmacs=%.2f tflops=%.3f peak_rss_mib=%.0f "
      "peak_cuda_mib=%.0f\n",
      model_name.c_str(), train ? "train" : "forward", size, batch, dev.str().c_str(),
      precision.c_str(), channels_last ? "channels_last" : "contiguous", checkpointing.c_str(),
      in_backward ? 1 : 0, timing.median, timing.min, timing.max, images_per_s, macs / 1e9,
      2.0 * gmacs_per_s / 1e3, bench::peak_rss_mib(), peak_cuda_mib);
  return 0;
}
