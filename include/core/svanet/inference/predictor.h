#pragma once
/// @file
/// A trained model applied to new images: `svanet::Predictor` rebuilds the
/// model, its classes, normalisation and training size from a checkpoint
/// alone and returns labels and probabilities at each image's own size.
///
///     svanet::Predictor predictor("runs/demo/checkpoints/best.pt");
///     auto result = predictor.predict(image);   // (3, H, W) float RGB in [0, 1]
///     // result.labels: (H, W) uint8 class indices; result.probabilities: (K, H, W)
///
/// Two ways to run a model on an image of another size than it was trained
/// on: resize it to the training size and the logits back (the paper's
/// evaluation), or slide a Gaussian-weighted window of the training size
/// over the image at its native resolution (nnU-Net's and MONAI's), which
/// keeps a 10-pixel lesion of a 2,000-pixel photograph 10 pixels wide.
/// This is the tensor path, LibTorch only; reading image files is the full
/// library's (svanet/data/image_io.h).

#include "svanet/inference/thresholds.h"
#include "svanet/io/checkpoint.h"
#include "svanet/models/segmentation_model.h"

#include <torch/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace svanet::inference {

enum class Mode {
  /// Sliding when the image is markedly larger than the training size
  /// (longer side above kAutoSlidingFactor x the training size), else resize.
  kAuto,
  /// The whole image resized (bicubic) to the training size; outputs
  /// resized back (bilinear).
  kResize,
  /// Native resolution, tiles of the training size (see sliding_window.h).
  kSliding,
};

/// Test-time augmentation, averaged as probabilities.
enum class Tta {
  kNone,
  /// The image and its horizontal mirror.
  kFlip,
  /// The image and its horizontal, vertical and double mirrors.
  kFlip4,
};

/// In auto mode, an image whose longer side exceeds this many training
/// sizes is predicted with the sliding window.
inline constexpr double kAutoSlidingFactor = 2.0;

const char* to_string(Mode mode);
const char* to_string(Tta tta);
/// "auto", "resize", "sliding"; anything else throws svanet::Error listing them.
Mode parse_mode(const std::string& text);
/// "none", "flip", "flip4"; anything else throws svanet::Error listing them.
Tta parse_tta(const std::string& text);

struct PredictorOptions {
  /// auto, cpu, cuda or cuda:N.
  std::string device = "cpu";
  /// fp32, bf16 (CPU or CUDA) or fp16 (CUDA): autocast for the forward
  /// pass; auto is bf16 on a CPU that computes it natively (AVX512_BF16 or
  /// AMX: runtime::cpu_has_native_bf16), fp32 elsewhere.
  std::string precision = "auto";
  Mode mode = Mode::kAuto;
  Tta tta = Tta::kNone;
  /// Sliding window: fraction of a tile shared with its neighbour.
  double overlap = 0.5;
  /// Images (resize mode) or tiles (sliding mode) per forward pass.
  int64_t batch = 4;
  /// Fold each BatchNorm into the convolution before it (the same outputs
  /// to float rounding, one pass fewer per layer).
  bool fold_batchnorm = true;
  /// Weights and inputs in channels-last (NHWC) memory layout; unset: on
  /// exactly when bf16 runs on the CPU (oneDNN's fastest layout there; in
  /// fp32 it was slower on the machines measured).
  std::optional<bool> channels_last;
  /// How probabilities become labels (svanet/inference/thresholds.h): by
  /// default the checkpoint's calibrated thresholds when it has them, else
  /// the argmax.
  ThresholdChoice threshold = ThresholdChoice::parse("auto");
};

struct Prediction {
  /// (H, W) uint8 class indices at the input's size, on the CPU (the
  /// argmax or the thresholds' choice: Predictor::thresholds()).
  torch::Tensor labels;
  /// (K, H, W) float32 class probabilities at the input's size, on the CPU.
  torch::Tensor probabilities;
  /// The mode that was used (resize or sliding, never auto).
  Mode mode = Mode::kResize;
};

class Predictor {
 public:
  /// Loads a checkpoint (svanet's format); errors name the file.
  explicit Predictor(const std::string& checkpoint, PredictorOptions options = {});
  /// A model already built, with the metadata a checkpoint would hold
  /// (classes, normalisation, model.options.image_size()). The predictor
  /// prepares the model in place (device, eval mode, folded BatchNorm,
  /// weights' memory format): a model shared with another predictor takes
  /// the later one's preparation.
  Predictor(models::SegmentationModel model, io::CheckpointMeta meta,
            PredictorOptions options = {});

  /// One image (C, H, W), float in [0, 1] (as data::read_image returns;
  /// 1, 3 or 4 channels, converted to what the model takes), any size.
  Prediction predict(const torch::Tensor& image) const;
  /// Several images of any sizes; resize mode batches them.
  std::vector<Prediction> predict(const std::vector<torch::Tensor>& images) const;

  /// The mode used for an image of this size (auto resolved).
  Mode mode_for(int64_t height, int64_t width) const;
  /// Height and width the model was trained at.
  int64_t training_size() const { return training_size_; }
  const io::CheckpointMeta& meta() const { return meta_; }
  const PredictorOptions& options() const { return options_; }
  torch::Device device() const { return device_; }
  /// The precision in use (fp32, bf16 or fp16: auto resolved).
  const std::string& precision() const { return precision_; }
  /// Whether channels-last is in use.
  bool channels_last() const { return channels_last_; }
  /// The per-class thresholds in use (empty: the argmax).
  const std::vector<double>& thresholds() const { return thresholds_; }
  /// Labels (uint8) from probabilities along `class_dim`, as predict()
  /// chooses them.
  torch::Tensor labels(const torch::Tensor& probabilities, int64_t class_dim) const;

  /// Class scores (B, K, h, w) for normalised inputs (B, C, h, w) already on
  /// the device, with the test-time augmentation: logits without it,
  /// log-probabilities (of the averaged probabilities) with it.
  torch::Tensor scores(const torch::Tensor& inputs) const;

 private:
  Predictor(io::LoadedCheckpoint loaded, PredictorOptions options, const std::string& source);
  Predictor(models::SegmentationModel model, io::CheckpointMeta meta, PredictorOptions options,
            const std::string& source);
  torch::Tensor prepare(const torch::Tensor& image) const;
  Prediction finish(const torch::Tensor& scores, Mode mode) const;

  models::SegmentationModel model_{nullptr};
  io::CheckpointMeta meta_;
  PredictorOptions options_;
  torch::Device device_{torch::kCPU};
  std::string precision_;
  bool channels_last_ = false;
  torch::ScalarType autocast_ = torch::kFloat;
  int64_t training_size_ = 0;
  std::vector<double> thresholds_;
  /// Normalisation as (C, 1, 1) tensors on the device; undefined for
  /// "reference" (the official code's, applied by the model).
  torch::Tensor mean_, std_;
};

}  // namespace svanet::inference

namespace svanet {
using inference::Prediction;
using inference::Predictor;
using inference::PredictorOptions;
}  // namespace svanet
