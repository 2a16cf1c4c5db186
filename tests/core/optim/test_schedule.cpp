// Learning-rate schedules: the official MyCosineScheduler's rate for every
// epoch the reference lists, and the other schedules' shapes; gradient
// clipping.

#include "support/test_support.h"

#include "svanet/optim/optimizer.h"
#include "svanet/optim/schedule.h"

#include <torch/torch.h>

#include <cmath>

namespace svanet::test {
namespace {

using optim::learning_rate;
using optim::ScheduleOptions;

TEST(Schedule, ReproducesTheOfficialLearningRateOfEveryEpoch) {
  // The paper's recipe: 100 epochs, --lr 1e-6 --warmup_init_lr 5e-5
  // --max_lr 5e-4, pretrained (two cycles). Values of the official scheduler
  // as the official trainer steps it (after each epoch).
  const ScheduleOptions paper;
  const std::vector<std::pair<int64_t, double>> expected = {
      {0, 1e-06},
      {1, 5e-05},
      {2, 1.4e-4},
      {3, 2.2999999999999998e-4},
      {4, 3.1999999999999997e-4},
      {5, 4.1e-4},
      {6, 2.505e-4},
      {7, 1.7340025990345064e-4},
      {8, 1.0384757955302797e-4},
      {9, 4.865025990345063e-5},
      {10, 1e-06},
      {11, 1.4e-4},
      {12, 2.2999999999999998e-4},
      {13, 3.1999999999999997e-4},
      {14, 4.1e-4},
      {15, 5e-4},
      {16, 4.728061277849978e-4},
      {17, 4.6913851667094395e-4},
      {18, 4.6525513573748395e-4},
      {19, 4.6115981741275277e-4},
      {20, 4.5685660328150315e-4},
      {50, 2.5833698438999304e-4},
      {99, 1.492331257146246e-06},
  };
  for (const auto& [epoch, lr] : expected) {
    EXPECT_NEAR(learning_rate(paper, epoch, 100), lr, 1e-15) << "epoch " << epoch;
  }
  EXPECT_EQ(optim::first_cycle_epochs(paper, 100), 10);
  EXPECT_EQ(optim::first_cycle_epochs(paper, 35), 4);
}

TEST(Schedule, OfficialWithoutRestartIsOneWarmupAndOneCosine) {
  ScheduleOptions o;
  o.restart = false;
  // Warm-up over all 10 milestone epochs, then the cosine over 100.
  EXPECT_DOUBLE_EQ(learning_rate(o, 0, 100), 1e-6);
  EXPECT_NEAR(learning_rate(o, 1, 100), 5e-5, 1e-18);
  EXPECT_NEAR(learning_rate(o, 10, 100), 5e-5 + 9 * 4.5e-5, 1e-15);
  const double cosine_at_10 = 1e-6 + 0.5 * (5e-4 - 1e-6) * (1 + std::cos(M_PI * 0.10));
  EXPECT_NEAR(learning_rate(o, 11, 100), cosine_at_10, 1e-15);
}

TEST(Schedule, CosinePolyAndConstant) {
  ScheduleOptions o;
  o.name = "cosine";
  o.warmup_epochs = 2;
  o.warmup_init_lr = 0.0;
  o.max_lr = 1e-3;
  o.min_lr = 0.0;
  EXPECT_DOUBLE_EQ(learning_rate(o, 0, 10), 0.0);
  EXPECT_DOUBLE_EQ(learning_rate(o, 1, 10), 5e-4);
  EXPECT_DOUBLE_EQ(learning_rate(o, 2, 10), 1e-3);
  EXPECT_NEAR(learning_rate(o, 6, 10), 5e-4, 1e-15);  // half-way through the cosine
  o.name = "poly";
  o.warmup_epochs = 0;
  EXPECT_DOUBLE_EQ(learning_rate(o, 0, 10), 1e-3);
  EXPECT_NEAR(learning_rate(o, 5, 10), 1e-3 * std::pow(0.5, 0.9), 1e-15);
  o.name = "constant";
  EXPECT_DOUBLE_EQ(learning_rate(o, 7, 10), 1e-3);
  o.name = "step";
  ASSERT_THROWS_WITH(o.validate(), "unknown schedule 'step'");
  ASSERT_THROWS_WITH(learning_rate(ScheduleOptions{}, 100, 100), "epoch 100 outside 0..99");
}

TEST(ClipGradNorm, ClipsAsPyTorchDoesWithoutReadingTheNorm) {
  torch::manual_seed(1);
  for (const double max_norm : {0.5, 1e3}) {
    std::vector<torch::Tensor> mine, theirs;
    for (const auto& shape : std::vector<std::vector<int64_t>>{{3, 4}, {7}, {2, 2, 2}}) {
      auto a = torch::zeros(shape, torch::requires_grad());
      a.mutable_grad() = torch::randn(shape);
      auto b = torch::zeros(shape, torch::requires_grad());
      b.mutable_grad() = a.grad().clone();
      mine.push_back(a);
      theirs.push_back(b);
    }
    // A parameter without a gradient is left alone.
    mine.push_back(torch::zeros({2}, torch::requires_grad()));
    const auto norm = optim::clip_grad_norm(mine, max_norm);
    const double expected = torch::nn::utils::clip_grad_norm_(theirs, max_norm);
    EXPECT_EQ(norm.dim(), 0);
    EXPECT_NEAR(norm.item<double>(), expected, 1e-5);
    for (size_t i = 0; i < theirs.size(); ++i) {
      EXPECT_TRUE(torch::allclose(mine[i].grad(), theirs[i].grad(), 1e-6, 1e-7)) << i;
    }
    EXPECT_FALSE(mine.back().grad().defined());
  }
}

}  // namespace
}  // namespace svanet::test
