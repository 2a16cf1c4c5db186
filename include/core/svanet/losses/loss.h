#pragma once
/// @file
/// Segmentation losses over logits (B, C, H, W) and targets (B, H, W) int64
/// class indices, where 255 marks ignored pixels (never counted).
///
/// - `cross_entropy`: the paper's loss (official `--loss_name
///   cross_entropy`): mean over labelled pixels, optional class weights
///   (PyTorch's weighted mean) and label smoothing.
/// - `dice`: soft Dice (nnU-Net's SoftDiceLoss, batch Dice): per class,
///   probabilities and one-hot targets summed over the batch and all
///   labelled pixels, dice_c = (2 TP + s) / (2 TP + FP + FN + s), loss =
///   1 - the mean over foreground classes (all classes with
///   `dice_background`).
/// - `dice_ce`: ce_weight * cross_entropy + dice_weight * dice.
/// - `focal`: Lin et al.'s focal loss, -w_c (1 - p_t)^gamma log p_t, mean
///   over labelled pixels (class weights as w_c).

#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

namespace svanet::losses {

struct LossOptions {
  /// cross_entropy, dice, dice_ce or focal.
  std::string name = "cross_entropy";
  /// One weight per class, or empty for none.
  std::vector<double> class_weights;
  double label_smoothing = 0.0;
  double focal_gamma = 2.0;
  double dice_smooth = 1e-5;
  bool dice_background = false;
  double ce_weight = 1.0;
  double dice_weight = 1.0;
  int64_t ignore_index = 255;

  /// Throws svanet::Error naming the field when a value is invalid.
  void validate(int64_t num_classes) const;
};

/// A loss: a callable of logits and targets returning a scalar.
class Loss {
 public:
  virtual ~Loss() = default;
  virtual torch::Tensor operator()(const torch::Tensor& logits, const torch::Tensor& target) = 0;
  /// Moves class weights to the device of the logits.
  virtual void to(const torch::Device& device) = 0;
};

/// Builds a loss by name (the valid names are listed in the error).
std::unique_ptr<Loss> create_loss(const LossOptions& options, int64_t num_classes);

/// The soft Dice loss alone (exposed for tests and custom losses).
torch::Tensor soft_dice_loss(const torch::Tensor& logits, const torch::Tensor& target,
                             int64_t ignore_index = 255, double smooth = 1e-5,
                             bool include_background = false);

/// The focal loss alone; `weights` may be undefined.
torch::Tensor focal_loss(const torch::Tensor& logits, const torch::Tensor& target, double gamma,
                         const torch::Tensor& weights = torch::Tensor(),
                         int64_t ignore_index = 255);

}  // namespace svanet::losses
