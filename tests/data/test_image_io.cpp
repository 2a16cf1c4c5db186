// Images and masks as medical data arrives, including damaged files.

#include "support/test_support.h"

#include "svanet/common/error.h"
#include "svanet/data/image_io.h"

#include <torch/torch.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <filesystem>
#include <fstream>

namespace svanet::test {
namespace {

using data::MaskKind;

std::string write_cv(const std::filesystem::path& path, const cv::Mat& mat) {
  EXPECT_TRUE(cv::imwrite(path.string(), mat));
  return path.string();
}

void truncate_file(const std::string& path, int64_t remove) {
  const auto size = static_cast<int64_t>(std::filesystem::file_size(path));
  std::filesystem::resize_file(path, static_cast<uintmax_t>(size - remove));
}

data::MaskEncoding classes(int64_t k) {
  data::MaskEncoding e;
  e.num_classes = k;
  return e;
}

TEST(ImageIO, Reads8BitRgbAndGrayAs3ChannelFloats) {
  TempDir dir;
  auto rgb = torch::arange(4 * 5 * 3, torch::kLong).remainder(256).to(torch::kByte).view({4, 5, 3});
  const auto png = (dir.path() / "rgb.png").string();
  data::write_image(png, rgb);
  const auto image = data::read_image(png);
  EXPECT_EQ(image.sizes(), torch::IntArrayRef({3, 4, 5}));
  EXPECT_TRUE(torch::allclose(image, rgb.permute({2, 0, 1}).to(torch::kFloat) / 255.0));
  cv::Mat gray(3, 2, CV_8UC1, cv::Scalar(51));
  const auto g = data::read_image(write_cv(dir.path() / "gray.bmp", gray));
  EXPECT_EQ(g.sizes(), torch::IntArrayRef({3, 3, 2}));
  EXPECT_TRUE(torch::allclose(g, torch::full({3, 3, 2}, 0.2f)));
}

TEST(ImageIO, Reads16BitTiffScaledToUnitRange) {
  TempDir dir;
  cv::Mat deep(2, 3, CV_16UC1);
  deep.setTo(0);
  deep.at<uint16_t>(0, 0) = 65535;
  deep.at<uint16_t>(1, 2) = 13107;  // 0.2
  const auto image = data::read_image(write_cv(dir.path() / "deep.tif", deep));
  EXPECT_FLOAT_EQ(image[0][0][0].item<float>(), 1.0f);
  EXPECT_NEAR(image[2][1][2].item<float>(), 0.2f, 1e-6);
  EXPECT_EQ(data::image_size((dir.path() / "deep.tif").string()), (std::array<int64_t, 2>{2, 3}));
}

TEST(ImageIO, TruncatedAndEmptyFilesNameTheProblem) {
  TempDir dir;
  cv::Mat noise(64, 64, CV_8UC3);
  cv::randu(noise, 0, 255);
  const auto jpg = write_cv(dir.path() / "scan.jpg", noise);
  EXPECT_FALSE(data::integrity_problem(jpg).has_value());
  truncate_file(jpg, 100);
  ASSERT_THROWS_WITH(data::read_image(jpg), "scan.jpg: truncated JPEG (no end-of-image marker)");
  const auto png = write_cv(dir.path() / "scan.png", noise);
  truncate_file(png, 20);
  ASSERT_THROWS_WITH(data::read_image(png), "scan.png: truncated PNG (no IEND chunk)");
  const auto empty = (dir.path() / "empty.png").string();
  std::ofstream(empty).close();
  ASSERT_THROWS_WITH(data::read_image(empty), "empty.png: empty file");
  const auto text = (dir.path() / "notes.png").string();
  std::ofstream(text) << "not an image";
  ASSERT_THROWS_WITH(data::read_image(text), "notes.png: cannot decode the image");
  ASSERT_THROWS_WITH(data::read_image((dir.path() / "absent.png").string()),
                     "absent.png: cannot open");
}

TEST(ImageIO, KnowsTheExtensionsItReads) {
  for (const char* name : {"a.png", "b.JPG", "c.jpeg", "d.tif", "e.TIFF", "f.bmp", "dir.x/g.png"})
    EXPECT_TRUE(data::has_image_extension(name)) << name;
  for (const char* name : {"a.txt", "b.nii.gz", "png", "c.png.bak", "d"})
    EXPECT_FALSE(data::has_image_extension(name)) << name;
}

TEST(ImageIO, ImageSizeFromHeaders) {
  TempDir dir;
  cv::Mat m(37, 53, CV_8UC3, cv::Scalar(1, 2, 3));
  EXPECT_EQ(data::image_size(write_cv(dir.path() / "a.png", m)), (std::array<int64_t, 2>{37, 53}));
  EXPECT_EQ(data::image_size(write_cv(dir.path() / "a.jpg", m)), (std::array<int64_t, 2>{37, 53}));
}

TEST(MaskIO, ClassIndicesAndIgnore) {
  TempDir dir;
  cv::Mat m = (cv::Mat_<uint8_t>(2, 3) << 0, 1, 2, 255, 2, 0);
  const auto mask = data::read_mask(write_cv(dir.path() / "m.png", m), classes(3));
  EXPECT_EQ(mask.kind, MaskKind::kIndex);
  EXPECT_TRUE(
      torch::equal(mask.indices, torch::tensor({0, 1, 2, 255, 2, 0}, torch::kByte).view({2, 3})));
}

TEST(MaskIO, BinaryZeroTo255BecomesClassOne) {
  // The official loader would have ignored every foreground pixel of this mask.
  TempDir dir;
  cv::Mat m = (cv::Mat_<uint8_t>(2, 2) << 0, 255, 255, 0);
  const auto mask = data::read_mask(write_cv(dir.path() / "m.png", m), classes(2));
  EXPECT_EQ(mask.kind, MaskKind::kBinary255);
  EXPECT_TRUE(torch::equal(mask.indices, torch::tensor({0, 1, 1, 0}, torch::kByte).view({2, 2})));
  // With 1 present, 255 keeps meaning ignore.
  cv::Mat labelled = (cv::Mat_<uint8_t>(1, 3) << 0, 1, 255);
  const auto kept = data::read_mask(write_cv(dir.path() / "k.png", labelled), classes(2));
  EXPECT_EQ(kept.kind, MaskKind::kIndex);
  EXPECT_EQ(kept.indices[0][2].item<int>(), 255);
}

TEST(MaskIO, PalettePngKeepsIndices) {
  TempDir dir;
  const auto path = (dir.path() / "p.png").string();
  const auto indices = torch::tensor({0, 1, 2, 3, 3, 0}, torch::kByte).view({2, 3});
  data::write_mask_png(path, indices);
  // OpenCV sees colours ...
  EXPECT_EQ(cv::imread(path, cv::IMREAD_UNCHANGED).channels(), 3);
  // ... svanet sees the indices.
  const auto mask = data::read_mask(path, classes(4));
  EXPECT_EQ(mask.kind, MaskKind::kPalette);
  EXPECT_TRUE(torch::equal(mask.indices, indices));
  ASSERT_THROWS_WITH(data::read_mask(path, classes(3)),
                     "p.png: mask value(s) 3 (2 px) do not fit the dataset's 3 classes");
}

TEST(MaskIO, ColourCodedMasksMapThroughClassColours) {
  TempDir dir;
  const auto& voc = data::voc_palette();
  cv::Mat m(1, 3, CV_8UC3);
  for (int x = 0; x < 3; ++x)
    m.at<cv::Vec3b>(0, x) = cv::Vec3b(voc[x][2], voc[x][1], voc[x][0]);  // BGR
  const auto mask = data::read_mask(write_cv(dir.path() / "c.png", m), classes(3));
  EXPECT_EQ(mask.kind, MaskKind::kColour);
  EXPECT_TRUE(torch::equal(mask.indices, torch::tensor({0, 1, 2}, torch::kByte).view({1, 3})));
  m.at<cv::Vec3b>(0, 1) = cv::Vec3b(10, 200, 30);
  ASSERT_THROWS_WITH(data::read_mask(write_cv(dir.path() / "bad.png", m), classes(3)),
                     "bad.png: mask colour(s) (30,200,10) 1 px are none of the 3 class colours");
}

TEST(MaskIO, DeclaredGrayValuesAnd16BitMasks) {
  TempDir dir;
  data::MaskEncoding enc = classes(3);
  enc.values = {0, 128, 250};
  cv::Mat m = (cv::Mat_<uint8_t>(1, 4) << 0, 128, 250, 255);
  const auto mask = data::read_mask(write_cv(dir.path() / "v.png", m), enc);
  EXPECT_EQ(mask.kind, MaskKind::kGrayValues);
  EXPECT_TRUE(torch::equal(mask.indices, torch::tensor({0, 1, 2, 255}, torch::kByte).view({1, 4})));
  cv::Mat wrong = (cv::Mat_<uint8_t>(1, 2) << 0, 7);
  ASSERT_THROWS_WITH(data::read_mask(write_cv(dir.path() / "w.png", wrong), enc),
                     "w.png: mask value(s) 7 (1 px) do not fit the dataset's 3 classes (expected "
                     "the class values 0, 128, 250");
  cv::Mat deep = (cv::Mat_<uint16_t>(1, 3) << 0, 1, 2);
  EXPECT_TRUE(
      torch::equal(data::read_mask(write_cv(dir.path() / "d.png", deep), classes(3)).indices,
                   torch::tensor({0, 1, 2}, torch::kByte).view({1, 3})));
  cv::Mat instances = (cv::Mat_<uint16_t>(1, 2) << 0, 300);
  ASSERT_THROWS_WITH(data::read_mask(write_cv(dir.path() / "i.png", instances), classes(3)),
                     "300 (1 px)");
}

TEST(MaskIO, LossyBinaryMasksAreThresholdedWhenAsked) {
  TempDir dir;
  cv::Mat m(16, 16, CV_8UC1, cv::Scalar(0));
  cv::rectangle(m, cv::Rect(4, 4, 8, 8), cv::Scalar(255), cv::FILLED);
  const auto jpg = write_cv(dir.path() / "lossy.jpg", m);  // JPEG smears the edge values
  ASSERT_THROWS_WITH(data::read_mask(jpg, classes(2)), "do not fit the dataset's 2 classes");
  data::MaskEncoding enc = classes(2);
  enc.binary_threshold = 127;
  const auto mask = data::read_mask(jpg, enc);
  EXPECT_EQ(mask.kind, MaskKind::kThresholded);
  EXPECT_EQ(mask.indices.sum().item<int64_t>(), 64);
  // A 3-channel lossy mask whose channels differ slightly: thresholded on luminance.
  cv::Mat colour;
  cv::cvtColor(m, colour, cv::COLOR_GRAY2BGR);
  colour.forEach<cv::Vec3b>(
      [](cv::Vec3b& px, const int*) { px[0] = static_cast<uint8_t>(px[0] > 0 ? px[0] - 40 : 30); });
  const auto drifted = data::read_mask(write_cv(dir.path() / "drift.png", colour), enc);
  EXPECT_EQ(drifted.kind, MaskKind::kThresholded);
  EXPECT_EQ(drifted.indices.sum().item<int64_t>(), 64);
}

}  // namespace
}  // namespace svanet::test
