// Segments a tensor with svanet::core alone: a model of the program's own,
// registered beside svanet's, and one of svanet's built by name; a
// checkpoint written and read back gives the same labels.
//
//   segment_tensor [MODEL] [SIZE]     (defaults: svanet_test 64)

#include <svanet/core.h>

#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace {

// The program's own model: one convolution per class, options declared once.
struct OneConvOptions {
  int64_t kernel = 3;
};

const svanet::Fields<OneConvOptions>& one_conv_fields() {
  static const auto fields =
      svanet::Fields<OneConvOptions>().add(SVANET_FIELD(kernel, "size of the convolution"));
  return fields;
}

struct OneConvImpl : svanet::models::SegmentationModelImpl {
  OneConvImpl(const svanet::ModelOptions& common, const OneConvOptions& own)
      : classes_(common.num_classes()), channels_(common.in_channels()) {
    conv_ = register_module(
        "conv",
        torch::nn::Conv2d(
            torch::nn::Conv2dOptions(channels_, classes_, own.kernel).padding(own.kernel / 2)));
  }
  torch::Tensor forward(const torch::Tensor& x) override { return conv_(x); }
  int64_t num_classes() const override { return classes_; }
  int64_t in_channels() const override { return channels_; }

 private:
  int64_t classes_, channels_;
  torch::nn::Conv2d conv_{nullptr};
};

/// Pixels per class of an argmax label map.
void print_counts(const char* what, const torch::Tensor& labels, int64_t classes) {
  std::printf("%s:", what);
  for (int64_t c = 0; c < classes; ++c) {
    std::printf(" class %lld %lld px", static_cast<long long>(c),
                static_cast<long long>(labels.eq(c).sum().item<int64_t>()));
  }
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) try {
  const std::string name = argc > 1 ? argv[1] : "svanet_test";
  const int64_t size = argc > 2 ? std::atoll(argv[2]) : 64;
  torch::manual_seed(0);

  svanet::model_registry().add({"one_conv",
                                "this program's one-convolution model",
                                one_conv_fields().schema(),
                                {"example", 64, false},
                                [](const svanet::ModelOptions& o) {
                                  return svanet::models::make_model<OneConvImpl>(
                                      o, one_conv_fields().parse(o.overrides()));
                                }});
  std::printf("registered models:");
  for (const auto& info : svanet::list_models()) std::printf(" %s", info.name.c_str());
  std::printf("\n");

  const auto image = torch::rand({1, 3, size, size});
  for (const std::string model_name : {std::string("one_conv"), name}) {
    auto model = svanet::create_model(model_name, svanet::ModelOptions().num_classes(3));
    model->eval();
    const auto labels = svanet::inference::predict_logits(*model, image).argmax(1);
    print_counts(model_name.c_str(), labels, 3);

    // Through a checkpoint and back: the same model, the same labels.
    const auto path =
        (std::filesystem::temp_directory_path() / ("segment_tensor_" + model_name + ".pt"))
            .string();
    svanet::io::CheckpointMeta meta;
    meta.classes = {"background", "lesion", "nucleus"};
    svanet::io::save_checkpoint(path, *model, meta);
    auto loaded = svanet::io::load_checkpoint(path);
    const auto again = svanet::inference::predict_logits(*loaded.model, image).argmax(1);
    if (!torch::equal(labels, again)) {
      std::fprintf(stderr, "%s: the reloaded checkpoint gives other labels\n", model_name.c_str());
      return 1;
    }
    std::printf("%s: checkpoint %s reloads with the same labels\n", model_name.c_str(),
                loaded.meta.model.name.c_str());

    // The deployment path: a Predictor from the file alone, on an image of
    // another size, by sliding window at native resolution.
    svanet::PredictorOptions options;
    options.mode = svanet::inference::Mode::kSliding;
    const svanet::Predictor predictor(path, options);
    const auto result = predictor.predict(torch::rand({3, size + 37, 2 * size + 5}));
    std::filesystem::remove(path);
    std::printf("%s: predictor labels %lld x %lld (%s), %lld classes\n", model_name.c_str(),
                static_cast<long long>(result.labels.size(0)),
                static_cast<long long>(result.labels.size(1)),
                svanet::inference::to_string(result.mode),
                static_cast<long long>(result.probabilities.size(0)));
  }
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
