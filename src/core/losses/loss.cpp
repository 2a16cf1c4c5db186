#include "svanet/losses/loss.h"

#include "svanet/common/error.h"
#include "svanet/utils/text.h"

#include <torch/torch.h>

namespace svanet::losses {

namespace {

namespace F = torch::nn::functional;

/// Logits and targets must agree; a mismatch is a programming error.
void check_shapes(const torch::Tensor& logits, const torch::Tensor& target) {
  TORCH_CHECK(logits.dim() == 4, "loss: logits must be (B, C, H, W), got ", logits.sizes());
  TORCH_CHECK(target.dim() == 3 && target.size(0) == logits.size(0) &&
                  target.size(1) == logits.size(2) && target.size(2) == logits.size(3),
              "loss: target ", target.sizes(), " does not match logits ", logits.sizes());
}

/// Targets with ignored pixels set to class 0 and the (B, H, W) mask of
/// labelled pixels.
std::pair<torch::Tensor, torch::Tensor> labelled(const torch::Tensor& target,
                                                 int64_t ignore_index) {
  const auto valid = target != ignore_index;
  return {target.masked_fill(~valid, 0), valid};
}

class CrossEntropy : public Loss {
 public:
  CrossEntropy(const LossOptions& o) : options_(o) {
    if (!o.class_weights.empty()) weights_ = torch::tensor(o.class_weights, torch::kFloat);
  }
  torch::Tensor operator()(const torch::Tensor& logits, const torch::Tensor& target) override {
    check_shapes(logits, target);
    auto opts = F::CrossEntropyFuncOptions()
                    .ignore_index(options_.ignore_index)
                    .label_smoothing(options_.label_smoothing);
    if (weights_.defined()) opts.weight(weights_);
    // In float32 whatever the autocast dtype: the log-softmax sums.
    return F::cross_entropy(logits.to(torch::kFloat), target, opts);
  }
  void to(const torch::Device& device) override {
    if (weights_.defined()) weights_ = weights_.to(device);
  }

 private:
  LossOptions options_;
  torch::Tensor weights_;
};

class Dice : public Loss {
 public:
  explicit Dice(const LossOptions& o) : options_(o) {}
  torch::Tensor operator()(const torch::Tensor& logits, const torch::Tensor& target) override {
    return soft_dice_loss(logits, target, options_.ignore_index, options_.dice_smooth,
                          options_.dice_background);
  }
  void to(const torch::Device&) override {}

 private:
  LossOptions options_;
};

class DiceCE : public Loss {
 public:
  explicit DiceCE(const LossOptions& o) : options_(o), ce_(o), dice_(o) {}
  torch::Tensor operator()(const torch::Tensor& logits, const torch::Tensor& target) override {
    return options_.ce_weight * ce_(logits, target) + options_.dice_weight * dice_(logits, target);
  }
  void to(const torch::Device& device) override { ce_.to(device); }

 private:
  LossOptions options_;
  CrossEntropy ce_;
  Dice dice_;
};

class Focal : public Loss {
 public:
  explicit Focal(const LossOptions& o) : options_(o) {
    if (!o.class_weights.empty()) weights_ = torch::tensor(o.class_weights, torch::kFloat);
  }
  torch::Tensor operator()(const torch::Tensor& logits, const torch::Tensor& target) override {
    return focal_loss(logits, target, options_.focal_gamma, weights_, options_.ignore_index);
  }
  void to(const torch::Device& device) override {
    if (weights_.defined()) weights_ = weights_.to(device);
  }

 private:
  LossOptions options_;
  torch::Tensor weights_;
};

const std::vector<std::string>& loss_names() {
  static const std::vector<std::string> names{"cross_entropy", "dice", "dice_ce", "focal"};
  return names;
}

}  // namespace

void LossOptions::validate(int64_t num_classes) const {
  const auto& names = loss_names();
  SVANET_CHECK(std::find(names.begin(), names.end(), name) != names.end(),
               "train.loss.name: unknown loss '", name, "'; valid: ", utils::join(names, ", "));
  SVANET_CHECK(class_weights.empty() || static_cast<int64_t>(class_weights.size()) == num_classes,
               "train.loss.class_weights: ", class_weights.size(), " weights for ", num_classes,
               " classes (background included)");
  for (const double w : class_weights) {
    SVANET_CHECK(w >= 0, "train.loss.class_weights must be non-negative, got ", w);
  }
  SVANET_CHECK(label_smoothing >= 0 && label_smoothing < 1,
               "train.loss.label_smoothing must be in [0, 1), got ", label_smoothing);
  SVANET_CHECK(focal_gamma >= 0, "train.loss.focal_gamma must be >= 0, got ", focal_gamma);
  SVANET_CHECK(dice_smooth >= 0, "train.loss.dice_smooth must be >= 0, got ", dice_smooth);
  SVANET_CHECK(ce_weight >= 0 && dice_weight >= 0, "train.loss: weights must be >= 0");
}

std::unique_ptr<Loss> create_loss(const LossOptions& options, int64_t num_classes) {
  options.validate(num_classes);
  if (options.name == "cross_entropy") return std::make_unique<CrossEntropy>(options);
  if (options.name == "dice") return std::make_unique<Dice>(options);
  if (options.name == "dice_ce") return std::make_unique<DiceCE>(options);
  return std::make_unique<Focal>(options);
}

torch::Tensor soft_dice_loss(const torch::Tensor& logits, const torch::Tensor& target,
                             int64_t ignore_index, double smooth, bool include_background) {
  check_shapes(logits, target);
  const int64_t classes = logits.size(1);
  const auto [clean, valid] = labelled(target, ignore_index);
  // (B, C, H, W) probabilities and one-hot targets, zero on ignored pixels.
  const auto mask = valid.unsqueeze(1).to(torch::kFloat);
  const auto probs = torch::softmax(logits.to(torch::kFloat), 1) * mask;
  const auto onehot = F::one_hot(clean, classes).permute({0, 3, 1, 2}).to(torch::kFloat) * mask;
  // Sums over the batch and pixels: (C,)
  const std::vector<int64_t> dims{0, 2, 3};
  const auto tp = (probs * onehot).sum(dims);
  const auto fp = (probs * (1 - onehot)).sum(dims);
  const auto fn = ((1 - probs) * onehot).sum(dims);
  const auto dice = (2 * tp + smooth) / (2 * tp + fp + fn + smooth).clamp_min(1e-8);
  const auto kept = include_background || classes == 1 ? dice : dice.slice(0, 1);
  return 1 - kept.mean();
}

torch::Tensor focal_loss(const torch::Tensor& logits, const torch::Tensor& target, double gamma,
                         const torch::Tensor& weights, int64_t ignore_index) {
  check_shapes(logits, target);
  const auto [clean, valid] = labelled(target, ignore_index);
  const auto log_p = torch::log_softmax(logits.to(torch::kFloat), 1);
  // (B, H, W): log p of each pixel's true class.
  const auto log_pt = log_p.gather(1, clean.unsqueeze(1)).squeeze(1);
  auto loss = -torch::pow(1 - log_pt.exp(), gamma) * log_pt;
  if (weights.defined()) loss = loss * weights.to(loss.device()).index({clean});
  const auto v = valid.to(torch::kFloat);
  return (loss * v).sum() / v.sum().clamp_min(1);
}

}  // namespace svanet::losses
