// Augmentation keeps image and mask aligned and is reproducible; the loader
// batches deterministically whatever its threads.

#include "support/cuda.h"
#include "support/test_support.h"

#include "svanet/data/augment.h"
#include "svanet/data/demo.h"
#include "svanet/data/loader.h"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <set>

namespace svanet::test {
namespace {

/// An image whose first channel encodes its mask: blocks of class 1 (value
/// 0.8) and class 2 (value 0.4) on a 0.1 background.
std::pair<torch::Tensor, torch::Tensor> labelled_image(int64_t h, int64_t w) {
  auto mask = torch::zeros({h, w}, torch::kByte);
  mask.slice(0, h / 8, h / 2).slice(1, w / 8, w / 3).fill_(1);
  mask.slice(0, h / 2, h - h / 6).slice(1, w / 2, w - w / 10).fill_(2);
  mask.slice(0, h / 10, h / 5).slice(1, w - w / 4, w - w / 8).fill_(1);
  auto value = torch::full({h, w}, 0.1f);
  value.masked_fill_(mask == 1, 0.8f);
  value.masked_fill_(mask == 2, 0.4f);
  auto image = torch::stack({value, torch::full({h, w}, 0.5f), torch::full({h, w}, 0.3f)});
  return {image, mask};
}

Normalization reference() {
  Normalization n;
  n.mode = "reference";
  return n;
}

TEST(Augment, GeometryKeepsImageAndMaskAligned) {
  data::AugmentOptions o;
  o.size = 96;
  o.blur = 0;
  o.photometric = 0;
  o.channel_shuffle = 0;  // colours must still encode the classes
  const auto transform = data::Transform::train(o, reference());
  const auto [image, mask] = labelled_image(120, 160);
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const auto [img, m] = transform(image, mask, seed);
    ASSERT_EQ(img.sizes(), torch::IntArrayRef({3, 96, 96}));
    ASSERT_EQ(m.sizes(), torch::IntArrayRef({96, 96}));
    const auto v = img[0];
    auto derived = torch::zeros_like(m);
    derived.masked_fill_((v - 0.8f).abs() < 0.15f, 1);
    derived.masked_fill_((v - 0.4f).abs() < 0.15f, 2);
    // Away from label edges (where interpolation blends values), the mask
    // derived from the image equals the transformed mask. Padding (white)
    // and rotation corners (black) are ignore in the mask, and excluded.
    const auto mf = m.to(torch::kFloat).unsqueeze(0);
    const auto hi = torch::max_pool2d(mf, 3, 1, 1);
    const auto lo = -torch::max_pool2d(-mf, 3, 1, 1);
    auto interior = (hi == lo).squeeze(0).logical_and(m != 255);
    // The window is cut at the image border, so the border itself is not interior.
    interior.slice(0, 0, 2).fill_(false);
    interior.slice(0, 94, 96).fill_(false);
    interior.slice(1, 0, 2).fill_(false);
    interior.slice(1, 94, 96).fill_(false);
    ASSERT_GT(interior.sum().item<int64_t>(), 1000);
    const auto agree =
        (derived == m).logical_and(interior).sum().item<double>() / interior.sum().item<double>();
    EXPECT_GT(agree, 0.999) << "seed " << seed;
  }
}

TEST(Augment, SameSeedSameSampleOtherSeedOther) {
  data::AugmentOptions o;
  o.size = 64;
  const auto transform = data::Transform::train(o, Normalization{});
  const auto [image, mask] = labelled_image(80, 100);
  const auto a = transform(image, mask, 7);
  const auto b = transform(image, mask, 7);
  const auto c = transform(image, mask, 8);
  EXPECT_TRUE(torch::equal(a.first, b.first));
  EXPECT_TRUE(torch::equal(a.second, b.second));
  EXPECT_FALSE(torch::equal(a.first, c.first));
}

TEST(Augment, SmallImagesArePaddedWithIgnore) {
  data::AugmentOptions o;
  o.size = 64;
  o.resize_max_scale = 0;  // keep the small size
  o.hflip = o.blur = o.photometric = o.channel_shuffle = o.rotation_p = 0;
  const auto transform = data::Transform::train(o, reference());
  const auto [image, mask] = labelled_image(20, 30);
  const auto [img, m] = transform(image, mask, 1);
  EXPECT_EQ(m.sizes(), torch::IntArrayRef({64, 64}));
  EXPECT_EQ((m != 255).sum().item<int64_t>(), 20 * 30);  // the whole image is inside the crop
  EXPECT_EQ((m == 255).sum().item<int64_t>(), 64 * 64 - 20 * 30);
  EXPECT_TRUE(torch::allclose(img.masked_select((m == 255).unsqueeze(0).expand({3, 64, 64})),
                              torch::ones({1})));
}

TEST(Augment, ObjectCropsDrawObjectsWithTheirWeights) {
  // A 128 x 128 image with three objects far apart, one class each: 30 x 30
  // (900 px), 3 x 3 (9 px) and 2 x 2 (4 px). Every crop placed on an object
  // holds exactly one of them, which its classes tell.
  auto mask = torch::zeros({128, 128}, torch::kByte);
  using torch::indexing::Slice;
  mask.index_put_({Slice(10, 40), Slice(10, 40)}, 1);
  mask.index_put_({Slice(100, 103), Slice(20, 23)}, 2);
  mask.index_put_({Slice(60, 62), Slice(110, 112)}, 3);
  const auto image = torch::full({3, 128, 128}, 0.5f);
  data::AugmentOptions o;
  o.size = 32;
  o.resize_max_scale = 0;
  o.hflip = o.blur = o.photometric = o.channel_shuffle = o.rotation_p = 0;
  o.sampling.object_share = 1.0;
  const std::vector<int64_t> areas{900, 9, 4};
  const int draws = 3000;
  for (const auto& [weighting, cap] : std::vector<std::pair<std::string, double>>{
           {"inverse_area", 1000}, {"inverse_area", 10}, {"uniform", 100}}) {
    o.sampling.weighting = weighting;
    o.sampling.weight_cap = cap;
    const auto transform = data::Transform::train(o, Normalization{});
    std::vector<int> seen(3, 0);
    for (uint64_t seed = 0; seed < draws; ++seed) {
      const auto m = transform(image, mask, seed).second;
      int found = 0;
      for (int c = 1; c <= 3; ++c) {
        if ((m == c).any().item<bool>()) {
          ++seen[static_cast<size_t>(c - 1)];
          ++found;
        }
      }
      ASSERT_EQ(found, 1) << weighting << " seed " << seed;
    }
    const auto w = data::object_weights(areas, o.sampling);
    const double total = w[0] + w[1] + w[2];
    for (size_t k = 0; k < 3; ++k) {
      const double p = w[k] / total;
      // Within 4 binomial standard deviations.
      const double tolerance = 4 * std::sqrt(p * (1 - p) / draws);
      EXPECT_NEAR(seen[k] / static_cast<double>(draws), p, tolerance)
          << weighting << " cap " << cap << " object " << k;
    }
  }
  // The weights themselves: 1 / area, floored at the largest area / cap.
  data::ObjectSampling s;
  s.weight_cap = 10;
  EXPECT_EQ(data::object_weights(areas, s), (std::vector<double>{1.0 / 900, 1.0 / 90, 1.0 / 90}));
  s.weighting = "uniform";
  EXPECT_EQ(data::object_weights(areas, s), (std::vector<double>{1, 1, 1}));
  s.weighting = "largest";
  ASSERT_THROWS_WITH(data::object_weights(areas, s), "sampling.weighting must be uniform");
}

TEST(Augment, ObjectCropsFallBackToUniformCropsWithoutObjects) {
  // An image without objects still gets crops, at varying places.
  const auto image = torch::rand({3, 80, 80});
  const auto empty = torch::zeros({80, 80}, torch::kByte);
  data::AugmentOptions o;
  o.size = 32;
  o.hflip = o.blur = o.photometric = o.channel_shuffle = o.rotation_p = 0;
  o.resize_max_scale = 0;
  o.sampling.object_share = 1.0;
  const auto transform = data::Transform::train(o, Normalization{});
  std::set<float> corners;
  for (uint64_t seed = 0; seed < 10; ++seed) {
    const auto crop = transform(image, empty, seed).first;
    ASSERT_EQ(crop.sizes(), torch::IntArrayRef({3, 32, 32}));
    corners.insert(crop[0][0][0].item<float>());
  }
  EXPECT_GT(corners.size(), 5u);
  o.crop = false;
  ASSERT_THROWS_WITH(data::Transform::train(o, Normalization{}), "needs augment.crop");
}

TEST(Augment, EvaluationResizesAndNormalises) {
  const auto [image, mask] = labelled_image(50, 70);
  const auto [img, m] = data::Transform::eval(32, Normalization{})(image, mask, 0);
  EXPECT_EQ(img.sizes(), torch::IntArrayRef({3, 32, 32}));
  std::set<int> values;
  for (int64_t i = 0; i < m.numel(); ++i) values.insert(m.flatten()[i].item<int>());
  EXPECT_EQ(values, (std::set<int>{0, 1, 2}));  // nearest neighbour: no new labels
  // ImageNet normalisation of the constant second channel 0.5.
  EXPECT_NEAR(img[1][0][0].item<float>(), (0.5 - 0.456) / 0.224, 1e-4);
  const auto [same, m2] = data::Transform::eval(0, reference())(image, mask, 0);
  EXPECT_TRUE(torch::allclose(same, image));
  EXPECT_TRUE(torch::equal(m2, mask));
  Normalization bad;
  bad.mode = "zscore";
  ASSERT_THROWS_WITH(data::Transform::eval(32, bad),
                     "normalisation mode must be imagenet, reference or custom");
}

class LoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data::DemoOptions options;
    options.count = 14;
    options.size = 48;
    const auto summary = data::generate_demo_dataset(dir_.path().string(), options);
    index_ = data::index_dataset(summary.folder);
    for (const auto& s : index_.samples) {
      if (s.split == "train") train_.push_back(s);
    }
  }
  data::DataLoader make(int workers, data::LoaderOptions o = {}) {
    o.workers = workers;
    data::AugmentOptions a;
    a.size = 32;
    return data::DataLoader(index_.definition, train_, data::Transform::train(a, Normalization{}),
                            o);
  }
  TempDir dir_;
  data::DatasetIndex index_;
  std::vector<data::Sample> train_;
};

TEST_F(LoaderTest, BatchesAreIdenticalWhateverTheWorkers) {
  ASSERT_EQ(train_.size(), 10u);
  data::LoaderOptions o;
  o.batch_size = 3;
  auto one = make(1, o);
  auto three = make(3, o);
  EXPECT_EQ(one.batches_per_epoch(), 3);  // 10 = 3 + 3 + 3 + 1: the lone last sample is dropped
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    one.start_epoch(epoch);
    three.start_epoch(epoch);
    int batches = 0;
    while (auto a = one.next()) {
      auto b = three.next();
      ASSERT_TRUE(b.has_value());
      EXPECT_EQ(a->stems, b->stems);
      EXPECT_TRUE(torch::equal(a->images, b->images));
      EXPECT_TRUE(torch::equal(a->masks, b->masks));
      EXPECT_EQ(a->images.dim(), 4);
      EXPECT_EQ(a->masks.scalar_type(), torch::kLong);
      ++batches;
    }
    EXPECT_FALSE(three.next().has_value());
    EXPECT_EQ(batches, one.batches_per_epoch());
  }
}

TEST_F(LoaderTest, PinsBatchesForAGpuAndTheyArriveIntact_CUDA) {
  SVANET_REQUIRE_CUDA();
  data::LoaderOptions pinned, pageable;
  pinned.batch_size = pageable.batch_size = 3;
  pageable.pin_memory = false;
  auto a = make(2, pinned);
  auto b = make(2, pageable);
  a.start_epoch(0);
  b.start_epoch(0);
  const torch::Device gpu(torch::kCUDA, 0);
  while (auto x = a.next()) {
    auto y = b.next();
    ASSERT_TRUE(y.has_value());
    EXPECT_TRUE(x->images.is_pinned());
    EXPECT_TRUE(x->masks.is_pinned());
    EXPECT_FALSE(y->images.is_pinned());
    // The trainer's asynchronous copies: the same values on the GPU.
    const auto images = x->images.to(gpu, /*non_blocking=*/true);
    const auto masks = x->masks.to(gpu, /*non_blocking=*/true);
    EXPECT_TRUE(torch::equal(images.cpu(), y->images));
    EXPECT_TRUE(torch::equal(masks.cpu(), y->masks));
  }
}

TEST_F(LoaderTest, DropsALoneLastSampleAsTheOfficialCodeDoes) {
  data::LoaderOptions o;
  o.batch_size = 3;  // 10 % 3 == 1
  EXPECT_EQ(make(1, o).samples_per_epoch(), 9);
  o.batch_size = 4;  // 10 % 4 == 2: kept
  EXPECT_EQ(make(1, o).samples_per_epoch(), 10);
  o.drop_last = true;
  EXPECT_EQ(make(1, o).samples_per_epoch(), 8);
}

TEST_F(LoaderTest, EpochsReshuffleAndRanksShareTheWork) {
  data::LoaderOptions o;
  o.batch_size = 2;
  auto loader = make(2, o);
  std::vector<std::string> first, second;
  loader.start_epoch(0);
  while (auto b = loader.next()) first.insert(first.end(), b->stems.begin(), b->stems.end());
  loader.start_epoch(1);
  while (auto b = loader.next()) second.insert(second.end(), b->stems.begin(), b->stems.end());
  EXPECT_NE(first, second);
  EXPECT_EQ(std::set<std::string>(first.begin(), first.end()),
            std::set<std::string>(second.begin(), second.end()));
  std::set<std::string> seen;
  for (int64_t rank = 0; rank < 2; ++rank) {
    data::LoaderOptions r = o;
    r.drop_single = false;
    r.rank = rank;
    r.world_size = 2;
    auto shard = make(1, r);
    EXPECT_EQ(shard.samples_per_epoch(), 5);
    shard.start_epoch(0);
    while (auto b = shard.next()) seen.insert(b->stems.begin(), b->stems.end());
  }
  EXPECT_EQ(seen.size(), 10u);
}

TEST_F(LoaderTest, ABrokenFileStopsTheEpochNamingIt) {
  std::filesystem::resize_file(train_[4].image, 100);
  data::LoaderOptions o;
  o.batch_size = 2;
  o.shuffle = false;
  auto loader = make(2, o);
  loader.start_epoch(0);
  ASSERT_THROWS_WITH(
      {
        while (loader.next()) {
        }
      },
      train_[4].image + ": truncated PNG");
}

TEST_F(LoaderTest, EvaluationBatchesKeepNativeMasks) {
  data::LoaderOptions o;
  o.batch_size = 4;
  o.shuffle = false;
  o.keep_native_masks = true;
  o.workers = 2;
  data::DataLoader loader(index_.definition, train_, data::Transform::eval(32, Normalization{}), o);
  loader.start_epoch(0);
  auto batch = loader.next();
  ASSERT_TRUE(batch.has_value());
  EXPECT_EQ(batch->images.sizes(), torch::IntArrayRef({4, 3, 32, 32}));
  ASSERT_EQ(batch->native_masks.size(), 4u);
  EXPECT_EQ(batch->native_masks[0].sizes(), torch::IntArrayRef({48, 48}));
  EXPECT_EQ(batch->native_sizes[0], (std::array<int64_t, 2>{48, 48}));
}

}  // namespace
}  // namespace svanet::test
