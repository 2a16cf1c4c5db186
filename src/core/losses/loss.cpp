#include "svanet/losses/loss.h"

#include "svanet/common/error.h"

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

/// The checks of LossOptions that need no class count.
void check_values(const LossOptions& o) {
  for (const double w : o.class_weights) {
    SVANET_CHECK(w >= 0, "class_weights must be non-negative, got ", w);
  }
  SVANET_CHECK(o.label_smoothing >= 0 && o.label_smoothing < 1,
               "label_smoothing must be in [0, 1), got ", o.label_smoothing);
  SVANET_CHECK(o.focal_gamma >= 0, "focal_gamma must be >= 0, got ", o.focal_gamma);
  SVANET_CHECK(o.dice_smooth >= 0, "dice_smooth must be >= 0, got ", o.dice_smooth);
  SVANET_CHECK(o.ce_weight >= 0 && o.dice_weight >= 0, "ce_weight and dice_weight must be >= 0");
}

template <typename L>
void add_builtin(LossRegistry& registry, std::string name, std::string description) {
  registry.add({std::move(name),
                std::move(description),
                loss_option_fields().schema(),
                {},
                [](const OptionMap& values, const LossContext& context) -> std::unique_ptr<Loss> {
                  LossOptions o = loss_option_fields().parse(values);
                  o.ignore_index = context.ignore_index;
                  o.validate(context.num_classes);
                  return std::make_unique<L>(o);
                },
                [](const OptionMap& values) { check_values(loss_option_fields().parse(values)); }});
}

void register_builtin_losses(LossRegistry& r) {
  add_builtin<CrossEntropy>(r, "cross_entropy",
                            "the paper's loss: cross-entropy over labelled pixels");
  add_builtin<Dice>(r, "dice", "soft Dice over the batch (nnU-Net's batch Dice)");
  add_builtin<DiceCE>(r, "dice_ce", "ce_weight * cross_entropy + dice_weight * dice");
  add_builtin<Focal>(r, "focal", "focal loss, -w_c (1 - p_t)^gamma log p_t");
}

}  // namespace

const Fields<LossOptions>& loss_option_fields() {
  static const auto fields =
      Fields<LossOptions>()
          .add(SVANET_FIELD(class_weights, "one weight per class, background first; [] = none"))
          .add(SVANET_FIELD(label_smoothing, "cross-entropy label smoothing, in [0, 1)"))
          .add(SVANET_FIELD(focal_gamma, "focal: the focusing exponent gamma"))
          .add(SVANET_FIELD(dice_smooth, "dice: the smoothing term s"))
          .add(SVANET_FIELD(dice_background, "dice: include the background class"))
          .add(SVANET_FIELD(ce_weight, "dice_ce: weight of the cross-entropy term"))
          .add(SVANET_FIELD(dice_weight, "dice_ce: weight of the Dice term"));
  return fields;
}

void LossOptions::validate(int64_t num_classes) const {
  SVANET_CHECK(class_weights.empty() || static_cast<int64_t>(class_weights.size()) == num_classes,
               "class_weights: ", class_weights.size(), " weights for ", num_classes,
               " classes (background included)");
  check_values(*this);
}

LossRegistry& loss_registry() {
  static LossRegistry registry("loss", "losses");
  static const bool builtins = (register_builtin_losses(registry), true);
  (void)builtins;
  return registry;
}

std::unique_ptr<Loss> create_loss(const std::string& name, const OptionMap& options,
                                  const LossContext& context) {
  auto loss = loss_registry().create(name, options, context);
  SVANET_CHECK(loss != nullptr, "loss '", name, "': its factory returned no loss");
  return loss;
}

std::unique_ptr<Loss> create_loss(const LossOptions& options, int64_t num_classes) {
  return create_loss(options.name, loss_option_fields().values(options),
                     LossContext{num_classes, options.ignore_index});
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
