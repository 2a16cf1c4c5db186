#pragma once
/// @file
/// Segmentation losses over logits (B, C, H, W) and targets (B, H, W) int64
/// class indices, where 255 marks ignored pixels (never counted). Losses are
/// registered by name (loss_registry()); svanet's own:
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
/// - `tversky`: Tversky loss (Salehi et al. 2017) and, with
///   `tversky_gamma` != 1, the focal Tversky loss (Abraham & Khan 2019):
///   per foreground class over the batch, TI_c = (TP + s) / (TP + alpha FP
///   + beta FN + s), loss = mean_c (1 - TI_c)^gamma. beta > alpha weighs
///   missed pixels more than false alarms (recall over precision).
/// - `blob_dice`: an instance-aware Dice (after Kofler et al.'s blob loss,
///   2023): for every connected ground-truth object k (8-connected, one
///   class c, see utils::label_objects), the soft Dice of class c on its
///   image with the other objects of class c left out, dice_k = (2 I_k + s)
///   / (P_k + n_k + s), where I_k sums p_c over the object, n_k is its area
///   and P_k sums p_c over the image without the other objects of class c;
///   loss = 1 - the mean over all objects of the batch, so a 5-pixel object
///   weighs as much as a 5000-pixel one. 0 for a batch without objects. The
///   objects are found on the CPU (the targets are read back from a GPU).
/// - `compound`: a weighted sum of other losses, `terms: [cross_entropy,
///   blob_dice]` with `term_weights: [1, 1]` (empty: all 1); each term gets
///   the compound's options that it declares.
///
/// A loss of your own registers from your own file and the trainer uses it
/// from YAML (`train.loss: {name: my_loss, ...}`):
///
///     svanet::losses::loss_registry().add(
///         {"my_loss", "what it does", my_fields().schema(), {},
///          [](const svanet::OptionMap& o, const svanet::losses::LossContext& c) {
///            return std::unique_ptr<svanet::losses::Loss>(new MyLoss(my_fields().parse(o), c));
///          }});

#include "svanet/registry/registry.h"

#include <torch/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace svanet::losses {

/// The options svanet's losses share (each reads those it uses).
struct LossOptions {
  /// cross_entropy, dice, dice_ce, focal, or any registered loss.
  std::string name = "cross_entropy";
  /// One weight per class, or empty for none.
  std::vector<double> class_weights;
  double label_smoothing = 0.0;
  double focal_gamma = 2.0;
  double dice_smooth = 1e-5;
  bool dice_background = false;
  double ce_weight = 1.0;
  double dice_weight = 1.0;
  double tversky_alpha = 0.3;
  double tversky_beta = 0.7;
  double tversky_gamma = 1.0;
  std::vector<std::string> terms{"cross_entropy", "blob_dice"};
  /// One weight per term, or empty for all 1.
  std::vector<double> term_weights;
  int64_t ignore_index = 255;

  /// Throws svanet::Error naming the field when a value is invalid.
  void validate(int64_t num_classes) const;
};

/// The fields of LossOptions that are options of a loss (all but name and
/// ignore_index): the schema of svanet's losses.
const Fields<LossOptions>& loss_option_fields();

/// A loss: a callable of logits and targets returning a scalar.
class Loss {
 public:
  virtual ~Loss() = default;
  virtual torch::Tensor operator()(const torch::Tensor& logits, const torch::Tensor& target) = 0;
  /// Moves what the loss holds (class weights) to `device`.
  virtual void to(const torch::Device& device) = 0;
};

/// What a loss is built for, beside its options.
struct LossContext {
  /// Output classes, background included.
  int64_t num_classes = 2;
  /// The target value of unlabelled pixels.
  int64_t ignore_index = 255;
};

using LossFactory =
    std::function<std::unique_ptr<Loss>(const OptionMap& options, const LossContext& context)>;
using LossRegistry = Registry<LossFactory>;

/// The registry of losses, with svanet's registered on first use.
LossRegistry& loss_registry();

/// Builds a registered loss from its options as text.
std::unique_ptr<Loss> create_loss(const std::string& name, const OptionMap& options,
                                  const LossContext& context);

/// Builds one of svanet's losses from typed options.
std::unique_ptr<Loss> create_loss(const LossOptions& options, int64_t num_classes);

/// The soft Dice loss alone (exposed for tests and custom losses).
torch::Tensor soft_dice_loss(const torch::Tensor& logits, const torch::Tensor& target,
                             int64_t ignore_index = 255, double smooth = 1e-5,
                             bool include_background = false);

/// The (focal) Tversky loss alone.
torch::Tensor tversky_loss(const torch::Tensor& logits, const torch::Tensor& target, double alpha,
                           double beta, double gamma = 1.0, int64_t ignore_index = 255,
                           double smooth = 1e-5, bool include_background = false);

/// The instance-aware (blob) Dice loss alone.
torch::Tensor blob_dice_loss(const torch::Tensor& logits, const torch::Tensor& target,
                             int64_t ignore_index = 255, double smooth = 1e-5);

/// The focal loss alone; `weights` may be undefined.
torch::Tensor focal_loss(const torch::Tensor& logits, const torch::Tensor& target, double gamma,
                         const torch::Tensor& weights = torch::Tensor(),
                         int64_t ignore_index = 255);

}  // namespace svanet::losses
