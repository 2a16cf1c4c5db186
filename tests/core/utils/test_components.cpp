// Connected ground-truth objects without OpenCV (utils::label_objects).

#include "support/test_support.h"

#include "svanet/utils/components.h"

#include <torch/torch.h>

namespace svanet::test {
namespace {

using torch::indexing::Slice;

TEST(Components, EightConnectedObjectsOfEachClassInRasterOrder) {
  // 0 1 0 0 0 2
  // 1 0 0 0 2 2
  // 0 0 7 0 1 1     7 (no such class) and 255 (ignored) are no object
  // 1 255 1 0 0 0
  auto map = torch::tensor({0, 1,   0, 0, 0, 2,  //
                            1, 0,   0, 0, 2, 2,  //
                            0, 0,   7, 0, 1, 1,  //
                            1, 255, 1, 0, 0, 0},
                           torch::kLong)
                 .view({4, 6});
  const auto objects = utils::label_objects(map, 3);
  // The diagonal pair (0, 1)-(1, 0) is one object; the class-2 L is one; the
  // class-1 pair touching it is another (different class); the ignored
  // pixel splits the bottom row in two.
  ASSERT_EQ(objects.count(), 5);
  EXPECT_EQ(objects.label, (std::vector<int64_t>{1, 2, 1, 1, 1}));
  EXPECT_EQ(objects.area, (std::vector<int64_t>{2, 3, 2, 1, 1}));
  EXPECT_EQ(objects.image, (std::vector<int64_t>{0, 0, 0, 0, 0}));
  const auto expected = torch::tensor({0, 1, 0, 0, 0, 2,  //
                                       1, 0, 0, 0, 2, 2,  //
                                       0, 0, 0, 0, 3, 3,  //
                                       4, 0, 5, 0, 0, 0},
                                      torch::kLong)
                            .view({1, 4, 6});
  EXPECT_TRUE(torch::equal(objects.ids, expected)) << objects.ids;
}

TEST(Components, MergesAUShapeAndNumbersImagesInTurn) {
  // A U whose arms meet only at the bottom: provisional labels that must be
  // merged after the fact. Image 1 holds a single pixel.
  auto batch = torch::zeros({2, 8, 8}, torch::kInt);
  batch.index_put_({0, Slice(0, 6), 1}, 1);
  batch.index_put_({0, Slice(0, 6), 6}, 1);
  batch.index_put_({0, 6, Slice(1, 7)}, 1);
  batch.index_put_({1, 7, 7}, 1);
  const auto objects = utils::label_objects(batch, 2);
  ASSERT_EQ(objects.count(), 2);
  EXPECT_EQ(objects.area, (std::vector<int64_t>{6 + 6 + 6, 1}));
  EXPECT_EQ(objects.image, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(objects.ids[0].max().item<int64_t>(), 1);
  EXPECT_EQ(objects.ids[1][7][7].item<int64_t>(), 2);
  ASSERT_THROWS_WITH(utils::label_objects(torch::zeros({2, 2}), 2), "must be integers");
  ASSERT_THROWS_WITH(utils::label_objects(torch::zeros({2}, torch::kLong), 2),
                     "expected (B, H, W) or (H, W)");
}

}  // namespace
}  // namespace svanet::test
