// Segments an image file with a trained svanet model, as a deployment would:
//
//   predict_image CHECKPOINT|RUN_FOLDER IMAGE OUT.png

#include <svanet/data/image_io.h>
#include <svanet/engine/predict.h>
#include <svanet/inference/predictor.h>

#include <cstdio>

int main(int argc, char** argv) try {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s CHECKPOINT|RUN_FOLDER IMAGE OUT.png\n", argv[0]);
    return 2;
  }
  const svanet::Predictor predictor(svanet::engine::resolve_model(argv[1]));
  const auto result = predictor.predict(svanet::data::read_image(argv[2]));
  svanet::data::write_mask_png(argv[3], result.labels);  // class indices, viewable in colour
  std::printf("%s: %lld x %lld labels (%s mode), %lld foreground pixels\n", argv[3],
              static_cast<long long>(result.labels.size(0)),
              static_cast<long long>(result.labels.size(1)),
              svanet::inference::to_string(result.mode),
              static_cast<long long>(result.labels.gt(0).sum().item<int64_t>()));
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
