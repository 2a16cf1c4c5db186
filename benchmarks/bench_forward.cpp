// Forward (and optionally training-step) time of a registered model.
//
//   bench_forward --model svanet_r50 --size 512 --batch 1 --threads 2 --repeats 5
//
// Prints the median, min and max over the timed runs after warm-up runs,
// and checks the output is finite.

#include "svanet/models/profile.h"
#include "svanet/models/registry.h"

#include <torch/torch.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Time the forward pass (or a training step) of a registered model"};
  std::string model_name = "svanet_r50";
  int64_t size = 512, batch = 1, classes = 2;
  int threads = 2, repeats = 5, warmup = 1;
  bool train = false;
  std::vector<std::string> overrides;
  std::string device = "cpu";
  app.add_option("--model", model_name)->capture_default_str();
  app.add_option("--size", size)->capture_default_str();
  app.add_option("--batch", batch)->capture_default_str();
  app.add_option("--classes", classes)->capture_default_str();
  app.add_option("--threads", threads, "intra-op threads (CPU)")->capture_default_str();
  app.add_option("--repeats", repeats)->capture_default_str();
  app.add_option("--warmup", warmup)->capture_default_str();
  app.add_option("--device", device, "cpu or cuda")->capture_default_str();
  app.add_flag("--train", train, "time forward + backward + AdamW step instead");
  app.add_option("--set", overrides, "model option override key=value (repeatable)");
  CLI11_PARSE(app, argc, argv);

  torch::set_num_threads(threads);
  torch::manual_seed(0);
  const torch::Device dev(device);
  auto model = svanet::create_model(model_name,
                                    svanet::ModelOptions().num_classes(classes).image_size(size));
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
