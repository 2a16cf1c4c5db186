// Losses against values computed by hand.

#include "support/test_support.h"

#include "svanet/losses/loss.h"

#include <cmath>

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
  for (const std::string name : {"cross_entropy", "dice", "dice_ce", "focal"}) {
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
}

}  // namespace
}  // namespace svanet::test
