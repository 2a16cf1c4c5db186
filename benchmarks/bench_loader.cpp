// Training-loader throughput: images per second through decoding, the
// paper's augmentation, normalisation and collation.
//
//   bench_loader --root demo_data --size 256 --batch 4 --workers 2 --epochs 2

#include "svanet/data/loader.h"
#include "svanet/data/splits.h"

#include <torch/torch.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>

int main(int argc, char** argv) {
  CLI::App app{"Measure the data loader's images per second"};
  std::string root, dataset;
  int64_t size = 256, batch = 4;
  int workers = 0, epochs = 2;
  bool eval = false;
  app.add_option("--root", root, "Dataset folder")->required();
  app.add_option("--dataset", dataset, "Built-in dataset name");
  app.add_option("--size", size, "Model input size")->capture_default_str();
  app.add_option("--batch", batch)->capture_default_str();
  app.add_option("--workers", workers, "Decoding threads (0 = all cores)")->capture_default_str();
  app.add_option("--epochs", epochs)->capture_default_str();
  app.add_flag("--eval", eval, "Evaluation transform instead of the training augmentation");
  CLI11_PARSE(app, argc, argv);

  const auto index = svanet::data::index_dataset(
      root, dataset.empty() ? std::nullopt : std::optional<std::string>(dataset));
  const auto splits = svanet::data::make_splits(index);
  svanet::data::AugmentOptions augment;
  augment.size = size;
  const auto transform =
      eval ? svanet::data::Transform::eval(size, {}) : svanet::data::Transform::train(augment, {});
  svanet::data::LoaderOptions options;
  options.batch_size = batch;
  options.workers = workers;
  svanet::data::DataLoader loader(index.definition, splits.train, transform, options);
  double checksum = 0;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    int64_t images = 0;
    loader.start_epoch(epoch);
    while (auto b = loader.next()) {
      images += b->images.size(0);
      checksum += b->images.sum().item<double>();
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("epoch %d: %lld images in %.2f s = %.1f images/s (size %lld, batch %lld, %s)\n",
                epoch, static_cast<long long>(images), seconds,
                static_cast<double>(images) / seconds, static_cast<long long>(size),
                static_cast<long long>(batch), eval ? "eval" : "train augmentation");
  }
  return std::isfinite(checksum) ? 0 : 1;
}
