// Inference time of svanet::Predictor (model-only: normalise, forward,
// softmax, resize back; no file reading or writing) on a random image.
//
//   bench_predict --model svanet_r50 --size 512 --threads 2 --repeats 3
//   bench_predict --model svanet_r18 --size 256 --image 2048 --mode sliding
//   bench_predict --model svanet_r50 --size 512 --no-fold --channels-last
//
// --size is the training size (the model's input in resize mode, the tile in
// sliding mode), --image the image's side (default: --size). Prints the
// median, min and max seconds per image, images/s, the multiply-accumulates
// of one image and the rate achieved, and peak memory. The heap is set up as
// svanet's programs set it (svanet/runtime/heap.h).

#include "bench_common.h"
#include "svanet/inference/predictor.h"
#include "svanet/models/profile.h"
#include "svanet/models/registry.h"
#include "svanet/runtime/heap.h"
#include "svanet/runtime/precision.h"

#include <torch/torch.h>

#include <cstdio>
#include <optional>
#include <string>

namespace {

constexpr const char* kUsage =
    "Time svanet::Predictor on a random image (model-only inference).\n"
    "usage: bench_predict [--model NAME] [--size N] [--image N] [--classes N]\n"
    "                     [--mode auto|resize|sliding] [--tta none|flip|flip4] [--overlap X]\n"
    "                     [--batch N] [--precision auto|fp32|bf16|fp16] [--no-fold]\n"
    "                     [--channels-last | --contiguous]\n"
    "                     [--threads N] [--repeats N] [--warmup N] [--device cpu|cuda[:N]]\n";

}  // namespace

int main(int argc, char** argv) {
  svanet::runtime::keep_freed_memory();
  bench::Flags flags("bench_predict", kUsage, {"--no-fold", "--channels-last", "--contiguous"});
  flags.parse(argc, argv,
              {"--model", "--size", "--image", "--classes", "--mode", "--tta", "--overlap",
               "--batch", "--precision", "--threads", "--repeats", "--warmup", "--device"});
  const auto model_name = flags.text("--model", "svanet_r50");
  const auto size = flags.number("--size", 512, 32);
  const auto image_side = flags.number("--image", size, 16);
  const auto classes = flags.number("--classes", 2);
  const auto threads = static_cast<int>(flags.number("--threads", 2));
  const auto repeats = static_cast<int>(flags.number("--repeats", 3));
  const auto warmup = static_cast<int>(flags.number("--warmup", 1, 0));

  torch::set_num_threads(threads);
  torch::manual_seed(0);
  svanet::PredictorOptions options;
  std::optional<svanet::Predictor> predictor;
  try {
    options.device = flags.text("--device", "cpu");
    options.precision = flags.text("--precision", "auto");
    options.mode = svanet::inference::parse_mode(flags.text("--mode", "auto"));
    options.tta = svanet::inference::parse_tta(flags.text("--tta", "none"));
    options.overlap = std::stod(flags.text("--overlap", "0.5"));
    options.batch = flags.number("--batch", 4);
    options.fold_batchnorm = !flags.has("--no-fold");
    // Unset: the Predictor's default (channels-last with bf16 on the CPU).
    if (flags.has("--channels-last")) options.channels_last = true;
    if (flags.has("--contiguous")) options.channels_last = false;
    auto model = svanet::create_model(model_name,
                                      svanet::ModelOptions().num_classes(classes).image_size(size));
    svanet::io::CheckpointMeta meta;
    meta.model = model->spec();
    for (long long c = 0; c < classes; ++c) meta.classes.push_back("class" + std::to_string(c));
    predictor.emplace(model, meta, options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_predict: %s\n", e.what());
    return 2;
  }
  const auto image = torch::rand({3, image_side, image_side});
  svanet::Prediction result;
  const auto macs = svanet::models::count_macs([&] { result = predictor->predict(image); });
  const auto timing = bench::time_runs(warmup, repeats, [&] {
    result = predictor->predict(image);
    if (predictor->device().is_cuda()) torch::cuda::synchronize();
  });
  if (!torch::isfinite(result.probabilities).all().item<bool>()) {
    std::fprintf(stderr, "bench_predict: the probabilities are not finite\n");
    return 1;
  }
  std::printf(
      "%s predict %s image=%lld train-size=%lld tta=%s precision=%s fold=%s channels-last=%s "
      "threads=%d device=%s: median %.3f s, min %.3f s, max %.3f s (%d runs), %.2f images/s, "
      "%.1f GMAC/image, %.1f GMAC/s, peak RSS %.0f MiB\n  on %s\n",
      model_name.c_str(), svanet::inference::to_string(result.mode), image_side, size,
      svanet::inference::to_string(options.tta), predictor->precision().c_str(),
      options.fold_batchnorm ? "yes" : "no", predictor->channels_last() ? "yes" : "no", threads,
      options.device.c_str(), timing.median, timing.min, timing.max, repeats, 1.0 / timing.median,
      static_cast<double>(macs) / 1e9, static_cast<double>(macs) / 1e9 / timing.median,
      bench::peak_rss_mib(),
      (bench::machine_description() + "; bf16: " + svanet::runtime::cpu_bf16_description())
          .c_str());
  return 0;
}
