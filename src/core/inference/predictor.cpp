#include "svanet/inference/predictor.h"

#include "svanet/common/error.h"
#include "svanet/inference/sliding_window.h"
#include "svanet/models/layers.h"
#include "svanet/runtime/precision.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstddef>
#include <utility>

namespace svanet::inference {

namespace F = torch::nn::functional;

const char* to_string(Mode mode) {
  switch (mode) {
    case Mode::kAuto:
      return "auto";
    case Mode::kResize:
      return "resize";
    case Mode::kSliding:
      return "sliding";
  }
  return "?";
}

const char* to_string(Tta tta) {
  switch (tta) {
    case Tta::kNone:
      return "none";
    case Tta::kFlip:
      return "flip";
    case Tta::kFlip4:
      return "flip4";
  }
  return "?";
}

Mode parse_mode(const std::string& text) {
  for (Mode m : {Mode::kAuto, Mode::kResize, Mode::kSliding}) {
    if (text == to_string(m)) return m;
  }
  SVANET_FAIL("unknown inference mode '", text, "' (valid: auto, resize, sliding)");
}

Tta parse_tta(const std::string& text) {
  for (Tta t : {Tta::kNone, Tta::kFlip, Tta::kFlip4}) {
    if (text == to_string(t)) return t;
  }
  SVANET_FAIL("unknown test-time augmentation '", text, "' (valid: none, flip, flip4)");
}

Predictor::Predictor(const std::string& checkpoint, PredictorOptions options)
    : Predictor(io::load_checkpoint(checkpoint, runtime::resolve_device(options.device)), options,
                checkpoint) {}

Predictor::Predictor(io::LoadedCheckpoint loaded, PredictorOptions options,
                     const std::string& source)
    : Predictor(std::move(loaded.model), std::move(loaded.meta), std::move(options), source) {}

Predictor::Predictor(models::SegmentationModel model, io::CheckpointMeta meta,
                     PredictorOptions options)
    : Predictor(std::move(model), std::move(meta), std::move(options), "predictor") {}

Predictor::Predictor(models::SegmentationModel model, io::CheckpointMeta meta,
                     PredictorOptions options, const std::string& source)
    : model_(std::move(model)), meta_(std::move(meta)), options_(std::move(options)) {
  SVANET_CHECK(model_, "predictor: no model");
  SVANET_CHECK(options_.batch >= 1, "predictor: batch must be >= 1, got ", options_.batch);
  SVANET_CHECK(options_.overlap >= 0.0 && options_.overlap < 1.0,
               "predictor: overlap must be in [0, 1), got ", options_.overlap);
  SVANET_CHECK(model_->in_channels() == 1 || model_->in_channels() == 3, "predictor: models with ",
               model_->in_channels(), " input channels are not supported (1 or 3)");
  meta_.normalization.validate();
  training_size_ = meta_.model.options.image_size();
  thresholds_ = resolve_thresholds(options_.threshold, meta_, model_->num_classes(), source);
  SVANET_CHECK(training_size_ >= 16, "predictor: the checkpoint records no training size (",
               training_size_, ")");
  device_ = runtime::resolve_device(options_.device);
  precision_ = runtime::resolve_inference_precision(options_.precision, device_);
  try {
    autocast_ = runtime::autocast_dtype(precision_, device_);
  } catch (const Error& e) {
    SVANET_FAIL("predictor: precision ", precision_, " on ", device_.str(), ": ", e.what());
  }
  channels_last_ = options_.channels_last.value_or(!device_.is_cuda() && precision_ == "bf16");
  model_->to(device_);
  model_->eval();
  if (options_.fold_batchnorm) models::fold_batchnorm(*model_);
  {
    // Both ways: a model another predictor made channels-last comes back.
    torch::NoGradGuard no_grad;
    const auto format =
        channels_last_ ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
    for (auto& p : model_->parameters()) {
      if (p.dim() == 4 && !p.is_contiguous(format)) p.set_data(p.contiguous(format));
    }
  }
  const auto& n = meta_.normalization;
  if (n.mode != "reference") {
    const auto c = model_->in_channels();
    auto channels = [&](const auto& values) {
      return torch::tensor(std::vector<double>(values.begin(), values.begin() + c))
          .to(device_, torch::kFloat)
          .view({c, 1, 1});
    };
    mean_ = channels(n.mean);
    std_ = channels(n.std);
  }
}

Mode Predictor::mode_for(int64_t height, int64_t width) const {
  if (options_.mode != Mode::kAuto) return options_.mode;
  const auto longer = static_cast<double>(std::max(height, width));
  return longer > kAutoSlidingFactor * static_cast<double>(training_size_) ? Mode::kSliding
                                                                           : Mode::kResize;
}

torch::Tensor Predictor::prepare(const torch::Tensor& image) const {
  SVANET_CHECK(image.dim() == 3 && image.size(0) >= 1 && image.size(0) <= 4,
               "predictor: an image must be (C, H, W) with 1 to 4 channels, got ", image.sizes());
  SVANET_CHECK(image.size(1) >= 1 && image.size(2) >= 1, "predictor: the image is empty");
  auto x = image.to(device_, torch::kFloat);
  if (x.size(0) == 4) x = x.narrow(0, 0, 3);  // alpha carries no image content
  if (x.size(0) == 2) x = x.narrow(0, 0, 1);  // gray + alpha
  if (model_->in_channels() == 3 && x.size(0) == 1) x = x.expand({3, -1, -1});
  if (model_->in_channels() == 1 && x.size(0) == 3) {
    // ITU-R BT.601 luma, as OpenCV's RGB-to-gray conversion.
    x = (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]).unsqueeze(0);
  }
  if (mean_.defined()) x = (x - mean_) / std_;
  return x.contiguous();
}

torch::Tensor Predictor::scores(const torch::Tensor& inputs) const {
  torch::NoGradGuard no_grad;
  runtime::AutocastGuard autocast(device_, autocast_);
  auto forward = [this](const torch::Tensor& x) {
    const auto input = channels_last_ ? x.contiguous(torch::MemoryFormat::ChannelsLast) : x;
    return model_.ptr()->forward(input).to(torch::kFloat).contiguous();
  };
  if (options_.tta == Tta::kNone) return forward(inputs);
  std::vector<std::vector<int64_t>> flips{{}, {3}};
  if (options_.tta == Tta::kFlip4) {
    flips.push_back({2});
    flips.push_back({2, 3});
  }
  torch::Tensor sum;
  for (const auto& dims : flips) {
    auto p = dims.empty() ? torch::softmax(forward(inputs), 1)
                          : torch::softmax(forward(inputs.flip(dims)), 1).flip(dims);
    sum = sum.defined() ? sum + p : p;
  }
  return torch::log((sum / static_cast<double>(flips.size())).clamp_min(1e-12));
}

Prediction Predictor::finish(const torch::Tensor& scores, Mode mode) const {
  Prediction out;
  out.mode = mode;
  out.probabilities = torch::softmax(scores, 0).cpu().contiguous();
  out.labels = labels(out.probabilities, 0);
  return out;
}

torch::Tensor Predictor::labels(const torch::Tensor& probabilities, int64_t class_dim) const {
  return labels_from_probabilities(probabilities, class_dim, thresholds_);
}

Prediction Predictor::predict(const torch::Tensor& image) const {
  return std::move(predict(std::vector<torch::Tensor>{image}).front());
}

std::vector<Prediction> Predictor::predict(const std::vector<torch::Tensor>& images) const {
  std::vector<Prediction> results(images.size());
  // Images predicted in resize mode: their indices and inputs at the
  // training size, batched after the sliding ones.
  std::vector<size_t> resized;
  std::vector<torch::Tensor> resized_inputs;
  for (size_t i = 0; i < images.size(); ++i) {
    const auto x = prepare(images[i]);
    const int64_t h = x.size(1), w = x.size(2);
    if (mode_for(h, w) == Mode::kResize) {
      resized.push_back(i);
      resized_inputs.push_back(F::interpolate(
          x.unsqueeze(0), F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{training_size_, training_size_})
                              .mode(torch::kBicubic)
                              .align_corners(false)));
      continue;
    }
    SlidingWindowOptions sliding;
    sliding.tile = {training_size_, training_size_};
    sliding.overlap = options_.overlap;
    sliding.batch = options_.batch;
    const auto s = sliding_window([this](const torch::Tensor& t) { return scores(t); },
                                  x.unsqueeze(0), sliding);
    results[i] = finish(s[0], Mode::kSliding);
  }
  const auto batch = static_cast<size_t>(options_.batch);
  for (size_t first = 0; first < resized.size(); first += batch) {
    const size_t last = std::min(resized.size(), first + batch);
    const auto s = scores(torch::cat(
        std::vector<torch::Tensor>(resized_inputs.begin() + static_cast<std::ptrdiff_t>(first),
                                   resized_inputs.begin() + static_cast<std::ptrdiff_t>(last)),
        0));
    for (size_t k = first; k < last; ++k) {
      const auto& image = images[resized[k]];
      const auto native =
          F::interpolate(s.narrow(0, static_cast<int64_t>(k - first), 1),
                         F::InterpolateFuncOptions()
                             .size(std::vector<int64_t>{image.size(1), image.size(2)})
                             .mode(torch::kBilinear)
                             .align_corners(false));
      results[resized[k]] = finish(native[0], Mode::kResize);
    }
  }
  return results;
}

}  // namespace svanet::inference
