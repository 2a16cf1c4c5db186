// Losses against values computed by hand.

#include "support/test_support.h"

#include "svanet/common/error.h"
#include "svanet/losses/loss.h"
#include "svanet/utils/components.h"

#include <algorithm>
#include <cmath>
#include <memory>

namespace svanet::test {
namespace {

using losses::LossOptions;

// Two pixels, two classes: pixel 0 has logits (0, ln 3), so p(class 1) =
// 3/4; pixel 1 has (ln 3, 0), so p(class 0) = 3/4.
torch::Tensor two_pixel_logits() {
  const double l3 = std::log(3.0);
  return torch::tensor({0.0, l3, l3, 0.0}, torch::kFloat).view({2, 2}).t().reshape({1, 2, 1, 2});
}

TEST(Losses, CrossEntropyIgnoresUnlabelledPixelsAndWeighsClasses) {
  const auto logits = two_pixel_logits();
  auto ce = losses::create_loss(LossOptions{}, 2);
  // Pixel 1 is ignored: the loss is pixel 0's -ln(3/4).
  auto target = torch::tensor({1, 255}, torch::kLong).view({1, 1, 2});
  EXPECT_NEAR((*ce)(logits, target).item<double>(), -std::log(0.75), 1e-6);
  // Pixel 1 labelled class 1 (p = 1/4); weights 1 and 3: PyTorch's weighted mean.
  LossOptions weighted;
  weighted.class_weights = {1.0, 3.0};
  auto wce = losses::create_loss(weighted, 2);
  target = torch::tensor({1, 1}, torch::kLong).view({1, 1, 2});
  const double expected = (3 * -std::log(0.75) + 3 * -std::log(0.25)) / 6.0;
  EXPECT_NEAR((*wce)(logits, target).item<double>(), expected, 1e-6);
}

TEST(Losses, HugeBf16LogitsGiveTheLossTheirSignsMeanInEveryLoss) {
  // An eval-mode model early in training can output logits of 1e8-1e10
  // (docs/training.md, "A huge validation loss in the first epochs"), under
  // bf16 autocast too. Every loss computes in fp32 from them: finite, the
  // same as from fp32 logits, near 0 where their signs are right, and the
  // size of the wrong pixels' logits where they are not: the huge
  // validation loss is what the logits say, not an overflow.
  torch::manual_seed(0);
  const auto target = torch::randint(2, {2, 16, 16}, torch::kLong);
  const auto margin = (2 * target - 1).to(torch::kFloat) * 1e10;
  const auto right = torch::stack({-margin / 2, margin / 2}, 1).to(torch::kBFloat16);
  auto wrong = right.clone();
  wrong.index_put_({0, torch::indexing::Slice(), 0, 0},
                   -wrong.index({0, torch::indexing::Slice(), 0, 0}));
  const losses::LossContext context{2, 255};
  int64_t checked = 0;
  for (const auto& name : losses::loss_registry().names()) {
    std::unique_ptr<losses::Loss> loss;
    try {
      loss = losses::create_loss(name, {}, context);
    } catch (const svanet::Error&) {
      continue;  // a loss that needs options (compound)
    }
    ++checked;
    for (const torch::Tensor& logits : {right, wrong}) {
      const auto in_bf16 = (*loss)(logits, target).item<double>();
      const auto in_fp32 = (*loss)(logits.to(torch::kFloat), target).item<double>();
      EXPECT_TRUE(std::isfinite(in_bf16)) << name;
      EXPECT_NEAR(in_bf16, in_fp32, 1e-6 * std::max(1.0, std::abs(in_fp32))) << name;
    }
    EXPECT_LT((*loss)(right, target).item<double>(), 1e-3) << name;
  }
  EXPECT_GE(checked, 5);
  // Cross-entropy: one wrong pixel of 512 costs its logit gap over 512.
  auto ce = losses::create_loss("cross_entropy", {}, context);
  const auto gap = right[0][1][0][0].abs().item<double>() * 2;
  EXPECT_NEAR((*ce)(wrong, target).item<double>(), gap / 512, 1e-3 * gap / 512);
}

TEST(Losses, SoftDiceByHand) {
  // Uniform logits over 2 classes, all 4 pixels class 1: p = 1/2 everywhere.
  // Class 1: TP = 2, FP = 0, FN = 2: Dice 4 / 6, loss 1/3 (background left out).
  const auto logits = torch::zeros({1, 2, 2, 2});
  const auto target = torch::ones({1, 2, 2}, torch::kLong);
  EXPECT_NEAR(losses::soft_dice_loss(logits, target, 255, 0.0).item<double>(), 1.0 / 3.0, 1e-6);
  // With background: class 0 has TP = 0, FP = 2, FN = 0 -> Dice 0; mean (2/3 + 0)/2.
  EXPECT_NEAR(losses::soft_dice_loss(logits, target, 255, 0.0, true).item<double>(),
              1.0 - 1.0 / 3.0, 1e-6);
  // A confident, correct prediction: loss near 0; ignored pixels do not count.
  auto sure = torch::zeros({1, 2, 2, 2});
  sure.select(1, 1).fill_(30.0);
  auto partly = target.clone();
  partly[0][0][0] = 255;
  EXPECT_NEAR(losses::soft_dice_loss(sure, partly).item<double>(), 0.0, 1e-6);
}

TEST(Losses, FocalReducesToCrossEntropyAtGammaZero) {
  const auto logits = two_pixel_logits();
  const auto target = torch::tensor({1, 0}, torch::kLong).view({1, 1, 2});
  // p_t = 3/4 for both pixels.
  EXPECT_NEAR(losses::focal_loss(logits, target, 0.0).item<double>(), -std::log(0.75), 1e-6);
  EXPECT_NEAR(losses::focal_loss(logits, target, 2.0).item<double>(), -0.25 * 0.25 * std::log(0.75),
              1e-6);
  LossOptions combined;
  combined.name = "dice_ce";
  combined.dice_weight = 0.5;
  auto loss = losses::create_loss(combined, 2);
  const auto dice = losses::soft_dice_loss(logits, target).item<double>();
  EXPECT_NEAR((*loss)(logits, target).item<double>(), -std::log(0.75) + 0.5 * dice, 1e-6);
}

TEST(Losses, GradientsFlowAndOptionsAreChecked) {
  auto logits = torch::randn({2, 3, 8, 8}, torch::requires_grad());
  const auto target = torch::randint(0, 3, {2, 8, 8}, torch::kLong);
  for (const std::string name :
       {"cross_entropy", "dice", "dice_ce", "focal", "tversky", "blob_dice", "compound"}) {
    LossOptions o;
    o.name = name;
    auto loss = losses::create_loss(o, 3);
    const auto value = (*loss)(logits, target);
    value.backward();
    EXPECT_TRUE(std::isfinite(value.item<double>())) << name;
    EXPECT_GT(logits.grad().abs().sum().item<double>(), 0.0) << name;
    logits.mutable_grad().zero_();
  }
  LossOptions bad;
  bad.name = "lovasz";
  ASSERT_THROWS_WITH(losses::create_loss(bad, 2), "unknown loss 'lovasz'");
  bad.name = "cross_entropy";
  bad.class_weights = {1.0};
  ASSERT_THROWS_WITH(losses::create_loss(bad, 2), "1 weights for 2 classes");
  bad.class_weights = {};
  bad.tversky_alpha = 0;
  bad.tversky_beta = 0;
  ASSERT_THROWS_WITH(losses::create_loss(bad, 2), "tversky_alpha and tversky_beta");
}

// One image, 4 x 4 pixels, classes 0 and 1. Object A: pixels (0, 0) and
// (0, 1) with p(class 1) = 0.9; object B: pixel (3, 3) with p = 0.2; the 13
// background pixels p = 0.1. Logits (0, logit(p)) give exactly p.
std::pair<torch::Tensor, torch::Tensor> two_objects() {
  auto p = torch::full({4, 4}, 0.1);
  p[0][0] = 0.9;
  p[0][1] = 0.9;
  p[3][3] = 0.2;
  const auto logits = torch::stack({torch::zeros({4, 4}, torch::kDouble), torch::logit(p)})
                          .unsqueeze(0)
                          .to(torch::kFloat);
  auto target = torch::zeros({1, 4, 4}, torch::kLong);
  target[0][0][0] = 1;
  target[0][0][1] = 1;
  target[0][3][3] = 1;
  return {logits, target};
}

TEST(Losses, TverskyByHand) {
  const auto [logits, target] = two_objects();
  // Class 1: TP = 0.9 + 0.9 + 0.2 = 2.0, FP = 13 x 0.1 = 1.3, FN = 0.1 +
  // 0.1 + 0.8 = 1.0. alpha 0.3, beta 0.7: TI = 2 / (2 + 0.39 + 0.7).
  const double ti = 2.0 / (2.0 + 0.3 * 1.3 + 0.7 * 1.0);
  EXPECT_NEAR(losses::tversky_loss(logits, target, 0.3, 0.7, 1.0, 255, 0.0).item<double>(), 1 - ti,
              1e-6);
  // Focal Tversky, gamma 0.75.
  EXPECT_NEAR(losses::tversky_loss(logits, target, 0.3, 0.7, 0.75, 255, 0.0).item<double>(),
              std::pow(1 - ti, 0.75), 1e-6);
  // alpha = beta = 1/2 is the soft Dice.
  EXPECT_NEAR(losses::tversky_loss(logits, target, 0.5, 0.5, 1.0, 255, 0.0).item<double>(),
              losses::soft_dice_loss(logits, target, 255, 0.0).item<double>(), 1e-6);
}

TEST(Losses, BlobDiceCountsEveryObjectAlikeByHand) {
  const auto [logits, target] = two_objects();
  // Over the image p sums to 3.3. A, with B left out: Dice 2 x 1.8 / ((3.3 -
  // 0.2) + 2) = 3.6 / 5.1; B, with A left out: 2 x 0.2 / ((3.3 - 1.8) + 1) =
  // 0.16. The loss is 1 minus their mean.
  const double blob = 1 - (3.6 / 5.1 + 0.16) / 2;
  EXPECT_NEAR(losses::blob_dice_loss(logits, target, 255, 0.0).item<double>(), blob, 1e-6);
  // The plain Dice, 1 - 2 x 2.0 / (3.3 + 3), barely sees the missed B.
  EXPECT_NEAR(losses::soft_dice_loss(logits, target, 255, 0.0).item<double>(), 1 - 4.0 / 6.3, 1e-6);
  // Without objects the loss is 0 and still has a gradient (of zeros).
  auto plain = logits.clone().requires_grad_();
  const auto none = losses::blob_dice_loss(plain, torch::zeros({1, 4, 4}, torch::kLong));
  none.backward();
  EXPECT_EQ(none.item<double>(), 0.0);
  EXPECT_TRUE(plain.grad().defined());
}

/// The blob Dice written as its definition: one masked Dice per object.
double blob_dice_by_definition(const torch::Tensor& logits, const torch::Tensor& target,
                               int64_t classes) {
  const auto objects = utils::label_objects(target, classes);
  const auto probs = torch::softmax(logits.to(torch::kDouble), 1);
  const auto valid = target != 255;
  double sum = 0;
  for (int64_t k = 0; k < objects.count(); ++k) {
    const auto b = objects.image[static_cast<size_t>(k)];
    const auto c = objects.label[static_cast<size_t>(k)];
    const auto mine = objects.ids[b] == k + 1;
    // The image without the other objects of class c.
    const auto others = (target[b] == c) & ~mine;
    const auto region = (valid[b] & ~others).to(torch::kDouble);
    const auto p = probs[b][c] * region;
    const auto g = mine.to(torch::kDouble);
    sum += (2 * (p * g).sum() / (p.sum() + g.sum())).item<double>();
  }
  return 1 - sum / static_cast<double>(objects.count());
}

TEST(Losses, BlobDiceEqualsItsDefinitionOnADrawnBatch) {
  torch::manual_seed(3);
  // Two images, three classes, blobs of several sizes, touching objects of
  // different classes and ignored pixels.
  auto target = torch::zeros({2, 24, 24}, torch::kLong);
  using torch::indexing::Slice;
  target.index_put_({0, Slice(2, 10), Slice(2, 10)}, 1);
  target.index_put_({0, Slice(2, 10), Slice(10, 12)}, 2);
  target.index_put_({0, 20, 20}, 1);
  target.index_put_({0, Slice(15, 17), Slice(3, 5)}, 2);
  target.index_put_({1, Slice(0, 3), Slice(0, 24)}, 1);
  target.index_put_({1, 12, Slice(5, 15)}, 255);
  target.index_put_({1, Slice(20, 22), Slice(20, 22)}, 1);
  const auto objects = utils::label_objects(target, 3);
  ASSERT_EQ(objects.count(), 6);
  const auto logits = torch::randn({2, 3, 24, 24});
  EXPECT_NEAR(losses::blob_dice_loss(logits, target, 255, 0.0).item<double>(),
              blob_dice_by_definition(logits, target, 3), 1e-5);
}

TEST(Losses, CompoundAddsItsWeightedTermsWithTheirOptions) {
  const auto [logits, target] = two_objects();
  LossOptions o;
  o.name = "compound";
  o.terms = {"cross_entropy", "blob_dice", "tversky"};
  o.term_weights = {1.0, 2.0, 0.5};
  o.dice_smooth = 0.0;
  o.tversky_alpha = 0.5;
  o.tversky_beta = 0.5;
  auto loss = losses::create_loss(o, 2);
  LossOptions ce;
  const double expected = (*losses::create_loss(ce, 2))(logits, target).item<double>() +
                          2.0 * (1 - (3.6 / 5.1 + 0.16) / 2) + 0.5 * (1 - 4.0 / 6.3);
  EXPECT_NEAR((*loss)(logits, target).item<double>(), expected, 1e-5);
  // Checked when the config is read: unknown terms, weights that do not
  // match, a compound inside a compound.
  const auto& registry = losses::loss_registry();
  ASSERT_THROWS_WITH(registry.resolve("compound", {{"terms", "cross_entropy,blob"}}),
                     "unknown loss 'blob'");
  ASSERT_THROWS_WITH(registry.resolve("compound", {{"term_weights", "1"}}),
                     "1 weights for 2 terms");
  ASSERT_THROWS_WITH(registry.resolve("compound", {{"terms", "[dice, compound]"}}),
                     "cannot hold another compound");
  EXPECT_EQ(registry.resolve("compound", {{"terms", "[dice, focal]"}}).at("terms"), "dice,focal");
}

}  // namespace
}  // namespace svanet::test
