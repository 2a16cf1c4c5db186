// Forward (and optionally training-step) time of a registered model.
//
//   bench_forward --model svanet_r50 --size 512 --batch 1 --threads 2 --repeats 5
//
// Prints the median, min and max over the timed runs after warm-up runs,
// and checks the output is finite.

#include "svanet/models/profile.h"
#include "svanet/models/registry.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace {

double peak_rss_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      return std::stod(line.substr(6)) / 1024.0;
    }
  }
  return 0.0;
}

constexpr const char* kUsage =
    "Time the forward pass (or a training step) of a registered model.\n"
    "usage: bench_forward [--model NAME] [--size N] [--batch N] [--classes N] [--threads N]\n"
    "                     [--repeats N] [--warmup N] [--device cpu|cuda[:N]] [--train]\n"
    "                     [--set key=value]...\n";

}  // namespace

// Parsed by hand: the benchmark builds with LibTorch alone (SVANET_CORE_ONLY).
int main(int argc, char** argv) {
  std::string model_name = "svanet_r50";
  long long size = 512, batch = 1, classes = 2;
  int threads = 2, repeats = 5, warmup = 1;
  bool train = false;
  std::vector<std::string> overrides;
  std::string device = "cpu";
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (flag == "--train") {
      train = true;
      continue;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "bench_forward: %s needs a value\n%s", flag.c_str(), kUsage);
      return 2;
    }
    const std::string value = argv[++i];
    char* end = nullptr;
    const long long number = std::strtoll(value.c_str(), &end, 10);
    const bool is_number = end != value.c_str() && *end == '\0' && number >= 0;
    auto need_number = [&] {
      if (!is_number)
        std::fprintf(stderr, "bench_forward: %s: '%s' is not a number\n", flag.c_str(),
                     value.c_str());
      return is_number;
    };
    if (flag == "--model") {
      model_name = value;
    } else if (flag == "--device") {
      device = value;
    } else if (flag == "--set") {
      overrides.push_back(value);
    } else if (flag == "--size" || flag == "--batch" || flag == "--classes" ||
               flag == "--threads" || flag == "--repeats" || flag == "--warmup") {
      if (!need_number()) return 2;
      if (flag == "--size") size = number;
      if (flag == "--batch") batch = number;
      if (flag == "--classes") classes = number;
      if (flag == "--threads") threads = static_cast<int>(number);
      if (flag == "--repeats") repeats = static_cast<int>(number);
      if (flag == "--warmup") warmup = static_cast<int>(number);
    } else {
      std::fprintf(stderr, "bench_forward: unknown flag %s\n%s", flag.c_str(), kUsage);
      return 2;
    }
  }
  if (repeats < 1 || size < 32 || batch < 1 || classes < 1 || threads < 1) {
    std::fprintf(stderr,
                 "bench_forward: --repeats, --batch, --classes and --threads must be >= 1 "
                 "and --size >= 32\n");
    return 2;
  }

  torch::set_num_threads(threads);
  torch::manual_seed(0);
  const torch::Device dev(device);
  auto options = svanet::ModelOptions().num_classes(classes).image_size(size);
  for (const auto& o : overrides) {
    const auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::fprintf(stderr, "bench_forward: --set '%s': expected key=value\n", o.c_str());
      return 2;
    }
    options.set(o.substr(0, eq), o.substr(eq + 1));
  }
  svanet::SegmentationModel model{nullptr};
  try {
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
  auto run_once = [&] {
    if (train) {
      model->train();
      optimizer.zero_grad();
      auto loss = torch::nn::functional::cross_entropy(model->forward(x), target);
      loss.backward();
      optimizer.step();
      return loss.detach();
    }
    model->eval();
    torch::NoGradGuard no_grad;
    return model->forward(x);
  };
  auto sync = [&] {
    if (dev.is_cuda()) torch::cuda::synchronize();
  };
  for (int i = 0; i < warmup; ++i) {
    run_once();
  }
  sync();
  std::vector<double> seconds;
  torch::Tensor out;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    out = run_once();
    sync();
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  if (!torch::isfinite(out).all().item<bool>()) {
    std::fprintf(stderr, "output is not finite\n");
    return 1;
  }
  std::sort(seconds.begin(), seconds.end());
  std::printf(
      "%s %s size=%lld batch=%lld threads=%d device=%s: median %.3f s, min %.3f s, max %.3f s "
      "(%d runs), params %lld, peak RSS %.0f MiB\n",
      model_name.c_str(), train ? "train-step" : "forward", static_cast<long long>(size),
      static_cast<long long>(batch), threads, device.c_str(), seconds[seconds.size() / 2],
      seconds.front(), seconds.back(), repeats,
      static_cast<long long>(svanet::models::count_parameters(*model)), peak_rss_mib());
  return 0;
}
