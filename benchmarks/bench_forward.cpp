// Forward (and optionally training-step) time of a registered model.
//
//   bench_forward --model svanet_r50 --size 512 --batch 1 --threads 2 --repeats 5
//
// Prints the median, min and max over the timed runs after warm-up runs,
// and checks the output is finite.

#include "bench_common.h"
#include "svanet/models/profile.h"
#include "svanet/models/registry.h"

#include <torch/torch.h>

#include <cstdio>
#include <string>

namespace {

constexpr const char* kUsage =
    "Time the forward pass (or a training step) of a registered model.\n"
    "usage: bench_forward [--model NAME] [--size N] [--batch N] [--classes N] [--threads N]\n"
    "                     [--repeats N] [--warmup N] [--device cpu|cuda[:N]] [--train]\n"
    "                     [--set key=value]...\n";

}  // namespace

int main(int argc, char** argv) {
  bench::Flags flags("bench_forward", kUsage, {"--train"});
  flags.parse(argc, argv,
              {"--model", "--size", "--batch", "--classes", "--threads", "--repeats", "--warmup",
               "--device", "--set"});
  const auto model_name = flags.text("--model", "svanet_r50");
  const auto size = flags.number("--size", 512, 32);
  const auto batch = flags.number("--batch", 1);
  const auto classes = flags.number("--classes", 2);
  const auto threads = static_cast<int>(flags.number("--threads", 2));
  const auto repeats = static_cast<int>(flags.number("--repeats", 5));
  const auto warmup = static_cast<int>(flags.number("--warmup", 1, 0));
  const auto device = flags.text("--device", "cpu");
  const bool train = flags.has("--train");

  torch::set_num_threads(threads);
  torch::manual_seed(0);
  const torch::Device dev(device);
  auto options = svanet::ModelOptions().num_classes(classes).image_size(size);
  svanet::SegmentationModel model{nullptr};
  try {
    for (const auto& o : flags.all("--set")) {
      const auto eq = o.find('=');
      if (eq == std::string::npos || eq == 0) flags.fail("--set '" + o + "': expected key=value");
      options.set(o.substr(0, eq), o.substr(eq + 1));
    }
    model = svanet::create_model(model_name, options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_forward: %s\n", e.what());
    return 2;
  }
  model->to(dev);
  auto x = torch::randn({batch, 3, size, size}, torch::TensorOptions().device(dev));
  auto target = torch::randint(classes, {batch, size, size},
                               torch::TensorOptions().dtype(torch::kLong).device(dev));
  torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-4));
  torch::Tensor out;
  const auto timing = bench::time_runs(warmup, repeats, [&] {
    if (train) {
      model->train();
      optimizer.zero_grad();
      auto loss = torch::nn::functional::cross_entropy(model->forward(x), target);
      loss.backward();
      optimizer.step();
      out = loss.detach();
    } else {
      model->eval();
      torch::NoGradGuard no_grad;
      out = model->forward(x);
    }
    if (dev.is_cuda()) torch::cuda::synchronize();
  });
  if (!torch::isfinite(out).all().item<bool>()) {
    std::fprintf(stderr, "output is not finite\n");
    return 1;
  }
  std::printf(
      "%s %s size=%lld batch=%lld threads=%d device=%s: median %.3f s, min %.3f s, max %.3f s "
      "(%d runs), params %lld, peak RSS %.0f MiB\n  on %s\n",
      model_name.c_str(), train ? "train-step" : "forward", size, batch, threads, device.c_str(),
      timing.median, timing.min, timing.max, repeats,
      static_cast<long long>(svanet::models::count_parameters(*model)), bench::peak_rss_mib(),
      bench::machine_description().c_str());
  return 0;
}
