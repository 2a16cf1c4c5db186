// The building blocks, checked against what a reviewer can compute by hand
// or with plain LibTorch operators.

#include "support/test_support.h"

#include "svanet/io/state_dict.h"
#include "svanet/models/aspp.h"
#include "svanet/models/assemble_former.h"
#include "svanet/models/monte_carlo_attention.h"
#include "svanet/models/profile.h"
#include "svanet/models/registry.h"
#include "svanet/models/scale_variant_attention.h"
#include "svanet/models/svanet.h"

#include <torch/torch.h>

#include <bitset>

namespace svanet::test {
namespace {

using namespace svanet::models;
namespace F = torch::nn::functional;

using Blocks = SeedingFixture;

TEST_F(Blocks, MakeDivisibleFollowsTheMobileNetRule) {
  EXPECT_EQ(make_divisible(128, 8), 128);
  EXPECT_EQ(make_divisible(3, 8), 8);    // never below the divisor
  EXPECT_EQ(make_divisible(9, 8), 16);   // 8 would be more than 10 % below 9
  EXPECT_EQ(make_divisible(12, 8), 16);  // rounds half up
  EXPECT_EQ(make_divisible(64, 16), 64);
  EXPECT_EQ(make_divisible(2 * 36, 16), 80);
}

TEST_F(Blocks, PatchLayoutMatchesUnfoldAndFoldInverts) {
  auto x = torch::randn({2, 3, 6, 8});
  auto patches = unfold_patches(x);
  auto reference = F::unfold(x, F::UnfoldFuncOptions({2, 2}).stride(2)).reshape({2, 3, 4, -1});
  EXPECT_TRUE(torch::equal(patches, reference));
  EXPECT_TRUE(torch::equal(fold_patches(patches, 6, 8), x));
}

TEST_F(Blocks, AssembleFormerIsShapePreservingAndRejectsOddSizes) {
  AssembleFormer former(AssembleFormerOptions(8).num_blocks(2));
  former->eval();
  EXPECT_EQ(former->forward(torch::randn({1, 8, 6, 4})).sizes(), torch::IntArrayRef({1, 8, 6, 4}));
  ASSERT_THROWS_WITH(former->forward(torch::randn({1, 8, 5, 4})), "height and width must be even");
}

TEST_F(Blocks, LinearSelfAttentionSquaresTheScaleOfItsInput) {
  // Why an eval-mode SvANet early in training can output logits of 1e8 and
  // more (docs/training.md, "A huge validation loss in the first epochs"):
  // a BatchNorm whose running statistics lag leaves activations of 100+, and
  // the linear self-attention multiplies two linear functions of its input
  // (relu(value) and the key-weighted context), so each AssembleFormer
  // squares their scale. With a constant query (the softmax then ignores the
  // scale) and no biases the law is exact.
  LinearSelfAttention attn(8);
  {
    torch::NoGradGuard no_grad;
    attn->qkv->conv->bias.zero_();
    attn->qkv->conv->weight[0].zero_();
    attn->out->conv->bias.zero_();
  }
  const auto x = torch::randn({2, 8, 4, 16});
  const auto y = attn(x);
  EXPECT_TRUE(torch::allclose(attn(10 * x), 100 * y, 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(attn(1000 * x), 1e6 * y, 1e-4, 1e-2));
}

TEST_F(Blocks, MonteCarloAttentionInEvalIsSqueezeExcitation) {
  MonteCarloAttention attn(MonteCarloAttentionOptions(64));
  attn->eval();
  auto x = torch::randn({2, 64, 5, 7});
  auto& r = attn->reduce->conv;
  auto& e = attn->expand->conv;
  auto s = x.mean({2, 3}, /*keepdim=*/true);
  auto hidden = torch::relu(torch::conv2d(s, r->weight, r->bias));
  auto expected = x * torch::sigmoid(torch::conv2d(hidden, e->weight, e->bias));
  EXPECT_TRUE(torch::allclose(attn->forward(x), expected, 1e-5, 1e-6));
  // Hidden width: max(make_divisible(64 / 4, 8), 32) = 32.
  EXPECT_EQ(attn->reduce->conv->weight.size(0), 32);
}

TEST_F(Blocks, MonteCarloSampleIsTheMeanOfOneRandomCellOfShuffledPixels) {
  // One channel whose 16 pixels are distinct powers of two: 4 x the mean of a
  // 2x2 cell is the sum of 4 distinct pixels, i.e. a number with 4 bits set.
  MonteCarloAttention attn(MonteCarloAttentionOptions(1).pool_sizes({2}));
  attn->train();
  auto x = torch::pow(2.0, torch::arange(16, torch::kDouble)).view({1, 1, 4, 4});
  std::set<int64_t> seen;
  for (int i = 0; i < 50; ++i) {
    const auto sum = static_cast<int64_t>(attn->sample_descriptor(x).item<double>() * 4.0);
    EXPECT_EQ(std::bitset<16>(static_cast<uint64_t>(sum)).count(), 4u);
    seen.insert(sum);
  }
  EXPECT_GT(seen.size(), 10u);  // shuffled: not just the 4 fixed cells
  // Without shuffling the sample is one of the four cells of the 2x2 pool.
  MonteCarloAttention fixed(MonteCarloAttentionOptions(1).pool_sizes({2}).shuffle(false));
  fixed->train();
  auto cells = torch::adaptive_avg_pool2d(x, {2, 2}).flatten();
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(torch::isin(fixed->sample_descriptor(x).flatten(), cells).all().item<bool>());
  }
}

TEST_F(Blocks, ScaleVariantAttentionMasksAssignEachCellToOneScale) {
  ScaleVariantAttention layer(ScaleVariantAttentionOptions(8, 16, 2).pool_size(6));
  ASSERT_TRUE(layer->region_masks.defined());
  EXPECT_EQ(layer->region_masks.sizes(), torch::IntArrayRef({3, 6, 6}));
  EXPECT_TRUE(torch::equal(layer->region_masks.sum(0), torch::ones({6, 6})));
  bool registered = false;
  for (const auto& b : layer->named_buffers()) registered |= b.key() == "region_masks";
  EXPECT_TRUE(registered);
  EXPECT_EQ(layer->forward(torch::randn({2, 8, 16, 16})).sizes(),
            torch::IntArrayRef({2, 16, 4, 4}));
}

TEST_F(Blocks, ScaleVariantAttentionInEvalAveragesTheScales) {
  ScaleVariantAttention layer(ScaleVariantAttentionOptions(4, 8, 1).pool_size(4));
  layer->eval();
  torch::NoGradGuard no_grad;
  auto x = torch::randn({1, 4, 16, 16});
  auto y = layer->blocks[0]->as<ConvBlock>()->forward(x);
  auto sq0 = layer->squeeze[0]->as<ConvNormAct>()->forward(torch::adaptive_avg_pool2d(x, {4, 4}));
  auto sq1 = layer->squeeze[1]->as<ConvNormAct>()->forward(torch::adaptive_avg_pool2d(y, {4, 4}));
  auto expected = y * torch::sigmoid(((sq0 + sq1) / 2).mean({2, 3}, true));
  EXPECT_TRUE(torch::allclose(layer->forward(x), expected, 1e-5, 1e-6));
}

TEST_F(Blocks, SvAttnPoolSizesMatchTheOfficialTable) {
  // OFFICIAL.md: 32, 16, 8, 16, 8, 8 for r12, r13, r14, r23, r24, r34 at 512.
  SvANet net(SvANetOptions().encoder_width(8).aspp_channels(8).image_size(512));
  EXPECT_EQ(net->svattn_pool_size(0, 1), 32);
  EXPECT_EQ(net->svattn_pool_size(0, 2), 16);
  EXPECT_EQ(net->svattn_pool_size(0, 3), 8);
  EXPECT_EQ(net->svattn_pool_size(1, 2), 16);
  EXPECT_EQ(net->svattn_pool_size(1, 3), 8);
  EXPECT_EQ(net->svattn_pool_size(2, 3), 8);
}

TEST_F(Blocks, SplitClassifierFusionEqualsTheOfficialConcatenation) {
  auto split = create_model("svanet_test");
  auto concat = create_model("svanet_test", ModelOptions().set("concat_fusion", "true"));
  std::map<std::string, torch::Tensor> weights;
  for (auto& [name, tensor] : io::state_dict(*split)) weights[name] = tensor;
  io::load_state_dict(*concat, weights);
  torch::NoGradGuard no_grad;
  split->eval();
  concat->eval();
  auto x = torch::randn({2, 3, 64, 96});
  auto a = split->forward(x);
  auto b = concat->forward(x);
  EXPECT_LT(((a - b).norm() / b.norm()).item<double>(), 1e-6);
}

TEST_F(Blocks, FullResHeadStartsNearThePlainUpsamplingAndAddsAFewThousandParameters) {
  torch::manual_seed(0);
  auto plain = create_model("svanet_test");
  torch::manual_seed(0);
  auto refined = create_model("svanet_test", ModelOptions().set("full_res_head", "true"));
  // The head is registered last, so everything else starts the same.
  const auto plain_parameters = plain->named_parameters();
  int64_t head = 0;
  for (const auto& p : refined->named_parameters()) {
    if (p.key().rfind("refine.", 0) == 0) {
      head += p.value().numel();
      continue;
    }
    ASSERT_TRUE(torch::equal(p.value(), plain_parameters[p.key()])) << p.key();
  }
  // Stem 8 channels, 2 classes, width 8: half (8+2)->8, image 3->8 and fuse
  // (8+8+2)->8 3x3 convolutions without bias, each with BatchNorm (2 x 8),
  // and out 8->2 with bias.
  EXPECT_EQ(head, 9 * 8 * 10 + 9 * 8 * 3 + 9 * 8 * 18 + 3 * 16 + 8 * 2 + 2);
  torch::NoGradGuard no_grad;
  plain->eval();
  refined->eval();
  const auto x = torch::randn({2, 3, 37, 53});
  const auto a = plain->forward(x);
  const auto b = refined->forward(x);
  ASSERT_EQ(b.sizes(), a.sizes());
  EXPECT_EQ(b.sizes(), (std::vector<int64_t>{2, 2, 37, 53}));
  EXPECT_LT((a - b).abs().max().item<double>(), 0.05 * a.abs().max().item<double>());
}

TEST_F(Blocks, FullResHeadLearnsSinglePixelObjects) {
  // One image whose objects are isolated pixels (bright in the red
  // channel): smaller than one logit pixel of the half-resolution head.
  auto model = create_model("svanet_test", ModelOptions().set("full_res_head", "true"));
  auto image = 0.1 * torch::randn({1, 3, 64, 64});
  auto target = torch::zeros({1, 64, 64}, torch::kLong);
  for (int64_t i = 0; i < 24; ++i) {
    const int64_t y = 3 + (i * 17) % 58, x = 3 + (i * 29) % 58;
    target[0][y][x] = 1;
    image[0][0][y][x] += 2.0;
  }
  torch::optim::Adam optimizer(model->parameters(), torch::optim::AdamOptions(1e-2));
  model->train();
  double first = 0.0, last = 0.0;
  for (int step = 0; step < 60; ++step) {
    optimizer.zero_grad();
    const auto loss =
        F::cross_entropy(model->forward(image), target,
                         F::CrossEntropyFuncOptions().weight(torch::tensor({1.0F, 50.0F})));
    loss.backward();
    optimizer.step();
    (step == 0 ? first : last) = loss.item<double>();
  }
  EXPECT_LT(last, 0.5 * first);
  torch::NoGradGuard no_grad;
  model->eval();
  const auto labels = model->forward(image).argmax(1);
  const auto found = (labels == 1).logical_and(target == 1).sum().item<int64_t>();
  EXPECT_GE(found, 20) << "of 24 single-pixel objects";
}

TEST_F(Blocks, DropPathDropsWholeSamplesOnlyInTraining) {
  auto x = torch::ones({64, 2, 3, 3});
  EXPECT_TRUE(torch::equal(drop_path(x, 0.5, /*training=*/false), x));
  auto y = drop_path(x, 0.5, /*training=*/true);
  auto per_sample = y.view({64, -1});
  for (int64_t i = 0; i < 64; ++i) {
    const auto lo = per_sample[i].min().item<double>();
    const auto hi = per_sample[i].max().item<double>();
    EXPECT_EQ(lo, hi);
    EXPECT_TRUE(lo == 0.0 || lo == 2.0);
  }
}

TEST_F(Blocks, AsppTrainsAtBatchOneWithoutTouchingPoolingStatistics) {
  ASPP aspp(ASPPOptions(8, 4).rates({1, 2, 3}));
  aspp->train();
  auto before_mean = aspp->pooling->bn->running_mean.clone();
  auto y = aspp->forward(torch::randn({1, 8, 4, 4}));
  y.sum().backward();
  EXPECT_TRUE(torch::equal(aspp->pooling->bn->running_mean, before_mean));
  EXPECT_TRUE(aspp->pooling->conv->weight.grad().defined());
  // At batch 2 the statistics update as usual.
  aspp->forward(torch::randn({2, 8, 4, 4}));
  EXPECT_FALSE(torch::equal(aspp->pooling->bn->running_mean, before_mean));
}

TEST_F(Blocks, CountsParametersAndConvolutionMacs) {
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(3, 8, 3).padding(1));
  EXPECT_EQ(count_parameters(*conv), 8 * 3 * 9 + 8);
  auto x = torch::randn({1, 3, 16, 16});
  EXPECT_EQ(count_macs([&] { conv->forward(x); }), 16 * 16 * 8 * 3 * 9);
  torch::nn::Conv2d strided(torch::nn::Conv2dOptions(3, 8, 3).padding(1).stride(2).groups(1));
  EXPECT_EQ(count_macs([&] { strided->forward(x); }), 8 * 8 * 8 * 3 * 9);
  torch::nn::ConvTranspose2d up(
      torch::nn::ConvTranspose2dOptions(4, 6, 3).stride(2).padding(1).output_padding(1));
  EXPECT_EQ(count_macs([&] { up->forward(torch::randn({1, 4, 5, 5})); }), 4 * 5 * 5 * 6 * 9);
  torch::nn::Linear fc(10, 7);
  EXPECT_EQ(count_macs([&] { fc->forward(torch::randn({3, 10})); }), 3 * 10 * 7);
  EXPECT_EQ(count_macs([&] { torch::relu(x); }), 0);
}

}  // namespace
}  // namespace svanet::test
