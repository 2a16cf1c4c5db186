// The sliding window over any function (nnU-Net's and MONAI's tiling with
// Gaussian importance): identities that hold whatever the tiling.

#include "support/test_support.h"

#include "svanet/common/error.h"
#include "svanet/inference/sliding_window.h"

#include <torch/torch.h>

namespace svanet::test {
namespace {

using inference::sliding_window;
using inference::SlidingWindowOptions;
using inference::tile_starts;

SlidingWindowOptions tiles_of(int64_t size, double overlap = 0.5, int64_t batch = 3) {
  SlidingWindowOptions o;
  o.tile = {size, size};
  o.overlap = overlap;
  o.batch = batch;
  return o;
}

TEST(SlidingWindow, TileStartsCoverTheImageWithTheAskedOverlap) {
  EXPECT_EQ(tile_starts(64, 64, 0.5), std::vector<int64_t>({0}));
  EXPECT_EQ(tile_starts(40, 64, 0.5), std::vector<int64_t>({0}));
  EXPECT_EQ(tile_starts(128, 64, 0.5), std::vector<int64_t>({0, 32, 64}));
  EXPECT_EQ(tile_starts(100, 64, 0.5), std::vector<int64_t>({0, 18, 36}));
  EXPECT_EQ(tile_starts(100, 64, 0.0), std::vector<int64_t>({0, 36}));
  for (int64_t size : {65, 97, 200, 513}) {
    for (double overlap : {0.0, 0.25, 0.5, 0.75}) {
      const auto starts = tile_starts(size, 32, overlap);
      EXPECT_EQ(starts.front(), 0);
      EXPECT_EQ(starts.back(), size - 32) << size << " " << overlap;
      for (size_t i = 1; i < starts.size(); ++i) {
        EXPECT_LE(starts[i] - starts[i - 1], static_cast<int64_t>(32 * (1.0 - overlap)) + 1)
            << size << " " << overlap;
      }
    }
  }
  ASSERT_THROWS_WITH(tile_starts(100, 64, 1.0), "overlap must be in [0, 1)");
}

TEST(SlidingWindow, ImportanceIsAGaussianPeakingAtOneAndNeverZero) {
  const auto g = inference::gaussian_importance(64, 48, 0.125);
  EXPECT_EQ(g.sizes(), torch::IntArrayRef({64, 48}));
  EXPECT_NEAR(g.max().item<float>(), 1.0F, 1e-6);
  EXPECT_GE(g.min().item<float>(), 1e-3F);
  // Symmetric about the centre, falling towards the borders.
  EXPECT_TRUE(torch::allclose(g, g.flip({0})));
  EXPECT_TRUE(torch::allclose(g, g.flip({1})));
  EXPECT_GT(g[32][24].item<float>(), g[8][24].item<float>());
}

TEST(SlidingWindow, AWindowCoveringTheWholeImageEqualsPlainInference) {
  torch::manual_seed(0);
  auto conv = torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 4, 5).padding(2));
  torch::NoGradGuard no_grad;
  const auto f = [&](const torch::Tensor& x) { return conv(x); };
  const auto x = torch::randn({2, 3, 64, 64});
  EXPECT_TRUE(torch::allclose(sliding_window(f, x, tiles_of(64)), f(x), 1e-5, 1e-6));
}

TEST(SlidingWindow, AConstantModelGivesAConstantMap) {
  const auto f = [](const torch::Tensor& x) {
    return torch::full({x.size(0), 2, x.size(2), x.size(3)}, 0.75);
  };
  const auto out = sliding_window(f, torch::randn({1, 3, 100, 150}), tiles_of(32, 0.5));
  EXPECT_EQ(out.sizes(), torch::IntArrayRef({1, 2, 100, 150}));
  EXPECT_NEAR(out.min().item<float>(), 0.75F, 1e-6);
  EXPECT_NEAR(out.max().item<float>(), 0.75F, 1e-6);
}

TEST(SlidingWindow, NoSeamsOnAModelThatReturnsItsInput) {
  torch::manual_seed(1);
  const auto identity = [](const torch::Tensor& x) { return x.clone(); };
  const auto x = torch::randn({2, 3, 97, 130});
  for (double overlap : {0.0, 0.25, 0.5}) {
    for (bool gaussian : {true, false}) {
      auto o = tiles_of(32, overlap, 4);
      o.gaussian = gaussian;
      EXPECT_TRUE(torch::allclose(sliding_window(identity, x, o), x, 1e-5, 1e-5))
          << overlap << " " << gaussian;
    }
  }
}

TEST(SlidingWindow, ImagesSmallerThanATileArePaddedAndCroppedBack) {
  const auto identity = [](const torch::Tensor& x) { return x.clone(); };
  const auto x = torch::randn({1, 3, 20, 50});
  const auto out = sliding_window(identity, x, tiles_of(32));
  EXPECT_EQ(out.sizes(), x.sizes());
  EXPECT_TRUE(torch::allclose(out, x, 1e-5, 1e-5));
}

TEST(SlidingWindow, AFunctionThatChangesTheTileSizeIsAnError) {
  const auto halve = [](const torch::Tensor& x) {
    return x.narrow(2, 0, x.size(2) / 2).contiguous();
  };
  ASSERT_THROWS_WITH(sliding_window(halve, torch::randn({1, 3, 64, 64}), tiles_of(32)),
                     "the function must return");
}

}  // namespace
}  // namespace svanet::test
