#include "svanet/losses/loss.h"

#include "svanet/common/error.h"
#include "svanet/utils/components.h"

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

/// Soft true positives, false positives and false negatives per class,
/// summed over the batch and the labelled pixels: three (C,) tensors.
struct SoftCounts {
  torch::Tensor tp, fp, fn;
};

SoftCounts soft_counts(const torch::Tensor& logits, const torch::Tensor& target,
                       int64_t ignore_index) {
  check_shapes(logits, target);
  const int64_t classes = logits.size(1);
  const auto [clean, valid] = labelled(target, ignore_index);
  // (B, C, H, W) probabilities and one-hot targets, zero on ignored pixels.
  const auto mask = valid.unsqueeze(1).to(torch::kFloat);
  const auto probs = torch::softmax(logits.to(torch::kFloat), 1) * mask;
  const auto onehot = F::one_hot(clean, classes).permute({0, 3, 1, 2}).to(torch::kFloat) * mask;
  const std::vector<int64_t> dims{0, 2, 3};
  const auto tp = (probs * onehot).sum(dims);
  return {tp, probs.sum(dims) - tp, onehot.sum(dims) - tp};
}

/// Per-class values without the background unless asked (or only one class).
torch::Tensor foreground(const torch::Tensor& per_class, bool include_background) {
  return include_background || per_class.size(0) == 1 ? per_class : per_class.slice(0, 1);
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

class Tversky : public Loss {
 public:
  explicit Tversky(const LossOptions& o) : options_(o) {}
  torch::Tensor operator()(const torch::Tensor& logits, const torch::Tensor& target) override {
    return tversky_loss(logits, target, options_.tversky_alpha, options_.tversky_beta,
                        options_.tversky_gamma, options_.ignore_index, options_.dice_smooth,
                        options_.dice_background);
  }
  void to(const torch::Device&) override {}

 private:
  LossOptions options_;
};

class BlobDice : public Loss {
 public:
  explicit BlobDice(const LossOptions& o) : options_(o) {}
  torch::Tensor operator()(const torch::Tensor& logits, const torch::Tensor& target) override {
    return blob_dice_loss(logits, target, options_.ignore_index, options_.dice_smooth);
  }
  void to(const torch::Device&) override {}

 private:
  LossOptions options_;
};

/// The weighted sum of registered losses.
class Compound : public Loss {
 public:
  Compound(const LossOptions& o, const OptionMap& values, const LossContext& context) {
    for (size_t i = 0; i < o.terms.size(); ++i) {
      const std::string& name = o.terms[i];
      // Each term takes the compound's values of the options it declares.
      OptionMap mine;
      for (const auto& option : loss_registry().schema(name)) {
        const auto it = values.find(option.name);
        if (it != values.end()) mine[option.name] = it->second;
      }
      const double weight = o.term_weights.empty() ? 1.0 : o.term_weights[i];
      terms_.emplace_back(weight, create_loss(name, mine, context));
    }
  }
  torch::Tensor operator()(const torch::Tensor& logits, const torch::Tensor& target) override {
    torch::Tensor total;
    for (auto& [weight, loss] : terms_) {
      const auto value = weight * (*loss)(logits, target);
      total = total.defined() ? total + value : value;
    }
    return total;
  }
  void to(const torch::Device& device) override {
    for (auto& term : terms_) term.second->to(device);
  }

 private:
  std::vector<std::pair<double, std::unique_ptr<Loss>>> terms_;
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
  SVANET_CHECK(o.tversky_alpha >= 0 && o.tversky_beta >= 0 && o.tversky_alpha + o.tversky_beta > 0,
               "tversky_alpha and tversky_beta must be >= 0 and not both 0, got ", o.tversky_alpha,
               " and ", o.tversky_beta);
  SVANET_CHECK(o.tversky_gamma > 0, "tversky_gamma must be > 0, got ", o.tversky_gamma);
}

/// The checks of a compound loss's terms.
void check_terms(const LossOptions& o) {
  SVANET_CHECK(!o.terms.empty(), "terms: a compound loss needs at least one term");
  SVANET_CHECK(o.term_weights.empty() || o.term_weights.size() == o.terms.size(),
               "term_weights: ", o.term_weights.size(), " weights for ", o.terms.size(), " terms");
  for (const double w : o.term_weights) {
    SVANET_CHECK(w >= 0, "term_weights must be non-negative, got ", w);
  }
  for (const auto& name : o.terms) {
    SVANET_CHECK(name != "compound", "terms: a compound loss cannot hold another compound loss");
    try {
      (void)loss_registry().get(name);
    } catch (const Error& e) {
      SVANET_FAIL("terms: ", e.what());
    }
  }
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
  add_builtin<Tversky>(r, "tversky",
                       "(focal) Tversky: mean_c (1 - TP / (TP + alpha FP + beta FN))^gamma");
  add_builtin<BlobDice>(r, "blob_dice",
                        "instance-aware Dice: 1 - mean over ground-truth objects of each "
                        "object's Dice, so small objects count as much as large ones");
  r.add({"compound",
         "a weighted sum of losses: terms [cross_entropy, blob_dice], term_weights [1, 1]",
         loss_option_fields().schema(),
         {},
         [](const OptionMap& values, const LossContext& context) -> std::unique_ptr<Loss> {
           LossOptions o = loss_option_fields().parse(values);
           o.ignore_index = context.ignore_index;
           o.validate(context.num_classes);
           check_terms(o);
           return std::make_unique<Compound>(o, values, context);
         },
         [](const OptionMap& values) {
           const LossOptions o = loss_option_fields().parse(values);
           check_values(o);
           check_terms(o);
         }});
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
          .add(SVANET_FIELD(dice_weight, "dice_ce: weight of the Dice term"))
          .add(SVANET_FIELD(tversky_alpha, "tversky: weight of false positives"))
          .add(SVANET_FIELD(tversky_beta, "tversky: weight of false negatives"))
          .add(SVANET_FIELD(tversky_gamma, "tversky: exponent of (1 - TI); 1 = plain Tversky"))
          .add(SVANET_FIELD(terms, "compound: the losses to add up"))
          .add(SVANET_FIELD(term_weights, "compound: one weight per term; [] = all 1"));
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
  const auto c = soft_counts(logits, target, ignore_index);
  const auto dice = (2 * c.tp + smooth) / (2 * c.tp + c.fp + c.fn + smooth).clamp_min(1e-8);
  return 1 - foreground(dice, include_background).mean();
}

torch::Tensor tversky_loss(const torch::Tensor& logits, const torch::Tensor& target, double alpha,
                           double beta, double gamma, int64_t ignore_index, double smooth,
                           bool include_background) {
  const auto c = soft_counts(logits, target, ignore_index);
  const auto index = (c.tp + smooth) / (c.tp + alpha * c.fp + beta * c.fn + smooth).clamp_min(1e-8);
  auto miss = 1 - foreground(index, include_background);
  // (1 - TI)^gamma with gamma < 1 has an infinite slope at 0.
  if (gamma != 1.0) miss = miss.clamp_min(1e-6).pow(gamma);
  return miss.mean();
}

torch::Tensor blob_dice_loss(const torch::Tensor& logits, const torch::Tensor& target,
                             int64_t ignore_index, double smooth) {
  check_shapes(logits, target);
  const int64_t classes = logits.size(1);
  const auto objects = utils::label_objects(target, classes, ignore_index);
  const auto [clean, valid] = labelled(target, ignore_index);
  const auto probs =
      torch::softmax(logits.to(torch::kFloat), 1) * valid.unsqueeze(1).to(torch::kFloat);
  // No object: 0, still a function of the logits (a graph to go back through).
  if (objects.count() == 0) return probs.sum() * 0;
  const auto onehot = F::one_hot(clean, classes).permute({0, 3, 1, 2}).to(torch::kFloat);
  // Per image and class: p summed over the image and over the class's objects.
  const auto image_sum = probs.sum({2, 3}).flatten();
  const auto objects_sum = (probs * onehot).sum({2, 3}).flatten();
  // Per object: p of its class summed over its pixels (slot 0 collects the
  // pixels outside every object).
  const auto device = logits.device();
  const auto ids = objects.ids.to(device).flatten();
  const auto own = probs.gather(1, clean.unsqueeze(1)).flatten();
  const auto inside =
      torch::zeros({objects.count() + 1}, own.options()).index_add(0, ids, own).slice(0, 1);
  auto as_tensor = [&](const std::vector<int64_t>& v) {
    return torch::tensor(v, torch::kLong).to(device);
  };
  const auto slot = as_tensor(objects.image) * classes + as_tensor(objects.label);
  const auto area = as_tensor(objects.area).to(torch::kFloat);
  // Over the image without the other objects of the class.
  const auto predicted =
      image_sum.index_select(0, slot) - objects_sum.index_select(0, slot) + inside;
  const auto dice = (2 * inside + smooth) / (predicted + area + smooth).clamp_min(1e-8);
  return 1 - dice.mean();
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
