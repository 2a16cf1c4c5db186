// Object statistics and the official largest-object ratio on drawn shapes.

#include "support/test_support.h"

#include "svanet/data/demo.h"
#include "svanet/data/stats.h"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <numeric>

namespace svanet::test {
namespace {

torch::Tensor canvas(int64_t h = 100, int64_t w = 100) {
  return torch::zeros({h, w}, torch::kByte);
}

TEST(OfficialRatio, SquaresLinesAndDotsAsOpenCvMeasuresThem) {
  auto m = canvas();
  EXPECT_DOUBLE_EQ(data::official_object_ratio(m), 0.0);  // empty mask
  // A 10x10 square: its contour runs through the border pixel centres, area 9 x 9.
  m.slice(0, 10, 20).slice(1, 10, 20).fill_(1);
  EXPECT_DOUBLE_EQ(data::official_object_ratio(m), 81.0 / 10000.0 * 100.0);
  // A single pixel has contour area 0 under the official definition.
  auto dot = canvas();
  dot[50][50] = 1;
  EXPECT_DOUBLE_EQ(data::official_object_ratio(dot), 0.0);
  // The largest object over all classes counts; ignore (255) never does.
  auto two = canvas();
  two.slice(0, 0, 5).slice(1, 0, 5).fill_(1);
  two.slice(0, 50, 71).slice(1, 50, 71).fill_(2);
  two.slice(0, 80, 100).slice(1, 0, 100).fill_(255);
  EXPECT_DOUBLE_EQ(data::official_object_ratio(two), 400.0 / 10000.0 * 100.0);
}

TEST(OfficialRatio, ClosingBridgesOnePixelGaps) {
  // Two 5x5 squares one pixel apart merge under the 2x2 closing (twice).
  auto m = canvas(40, 40);
  m.slice(0, 10, 15).slice(1, 10, 15).fill_(1);
  m.slice(0, 10, 15).slice(1, 16, 21).fill_(1);
  const double merged = data::official_object_ratio(m);
  EXPECT_GT(merged, 2 * 16.0 / 1600.0 * 100.0);  // more than either square (area 16)
  // Far apart they stay separate: the ratio is one square's.
  auto apart = canvas(40, 40);
  apart.slice(0, 10, 15).slice(1, 10, 15).fill_(1);
  apart.slice(0, 10, 15).slice(1, 30, 35).fill_(1);
  EXPECT_DOUBLE_EQ(data::official_object_ratio(apart), 16.0 / 1600.0 * 100.0);
}

TEST(Objects, EightConnectedComponentsPerClass) {
  auto m = canvas(10, 10);
  m[1][1] = 1;
  m[2][2] = 1;  // diagonal neighbour: same object
  m[5][5] = 1;
  m.slice(0, 7, 9).slice(1, 7, 10).fill_(2);
  const auto objects = data::find_objects(m);
  ASSERT_EQ(objects.size(), 3u);
  EXPECT_EQ(objects[0].class_index, 1);
  EXPECT_EQ(objects[0].area_px, 2);
  EXPECT_EQ(objects[1].area_px, 1);
  EXPECT_EQ(objects[2].class_index, 2);
  EXPECT_EQ(objects[2].area_px, 6);
  EXPECT_DOUBLE_EQ(objects[2].area_pct, 6.0);
  EXPECT_EQ(objects[2].width, 3);
  EXPECT_EQ(objects[2].height, 2);
}

TEST(Stats, WritesCsvJsonAndHistogramForADataset) {
  TempDir dir;
  data::DemoOptions options;
  options.count = 20;
  options.size = 64;
  const auto summary = data::generate_demo_dataset(dir.path().string(), options);
  const auto stats = data::compute_stats(data::index_dataset(summary.folder));
  ASSERT_EQ(stats.images.size(), 20u);
  // demo-data reports the objects data-stats finds.
  EXPECT_EQ(summary.objects, static_cast<int64_t>(stats.objects.size()));
  const auto bins = data::images_per_size_bin(stats);
  EXPECT_EQ(std::accumulate(bins.begin(), bins.end(), int64_t{0}), 20);
  const auto out = dir.path() / "stats";
  data::write_stats(stats, out.string());
  for (const char* file : {"objects.csv", "images.csv", "summary.json", "size_histogram.png"}) {
    EXPECT_TRUE(std::filesystem::exists(out / file)) << file;
  }
  std::ifstream csv(out / "objects.csv");
  std::string header;
  std::getline(csv, header);
  EXPECT_EQ(header, "stem,split,class,class_name,area_px,area_pct,x,y,width,height");
  int64_t rows = 0;
  for (std::string line; std::getline(csv, line);) ++rows;
  EXPECT_EQ(rows, static_cast<int64_t>(stats.objects.size()));
}

}  // namespace
}  // namespace svanet::test
