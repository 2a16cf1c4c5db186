// The dataset converters on small synthetic stand-ins of the layouts the
// datasets are published in (Data Science Bowl 2018, IDRiD part A,
// Kvasir-SEG), and the helpers they share.

#include "support/test_support.h"

#include "svanet/common/error.h"
#include "svanet/data/check.h"
#include "svanet/data/convert.h"
#include "svanet/data/convert_writer.h"
#include "svanet/data/dataset.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace svanet::test {
namespace {

namespace fs = std::filesystem;

void write(const fs::path& path, const cv::Mat& mat) {
  fs::create_directories(path.parent_path());
  ASSERT_TRUE(cv::imwrite(path.string(), mat)) << path;
}

std::string text_of(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// 8-connected objects of class `c` in a decoded mask.
int objects_of(const torch::Tensor& mask, int c) {
  cv::Mat m(static_cast<int>(mask.size(0)), static_cast<int>(mask.size(1)), CV_8UC1,
            mask.contiguous().data_ptr<uint8_t>());
  cv::Mat labels;
  return cv::connectedComponents(m == c, labels, 8) - 1;
}

/// The samples of a converted dataset, by stem, decoded as svanet reads them.
std::map<std::string, data::LoadedSample> load_all(const fs::path& root,
                                                   std::map<std::string, std::string>* splits) {
  const auto index = data::index_dataset(root.string());
  EXPECT_EQ(index.layout, "generic");
  const auto report = data::check_dataset(index);
  EXPECT_EQ(report.errors(), 0);
  std::map<std::string, data::LoadedSample> out;
  for (const auto& s : index.samples) {
    out[s.stem] = data::load_sample(index.definition, s);
    if (splits != nullptr) (*splits)[s.stem] = s.split;
  }
  return out;
}

// ------------------------------------------------------------- helpers

TEST(ConvertHelpers, TouchingInstancesStaySeparateObjects) {
  cv::Mat instances = cv::Mat::zeros(20, 20, CV_32SC1);
  instances(cv::Rect(2, 2, 6, 6)).setTo(1);
  instances(cv::Rect(8, 2, 6, 6)).setTo(2);  // touches instance 1 along a column
  instances(cv::Rect(2, 12, 4, 4)).setTo(3);
  const cv::Mat semantic = data::semantic_from_instances(instances, 1);
  cv::Mat labels;
  EXPECT_EQ(cv::connectedComponents(semantic, labels, 8) - 1, 3);
  // Only the touching columns are given up; a lone instance keeps every pixel.
  EXPECT_EQ(cv::countNonZero(semantic(cv::Rect(2, 12, 4, 4))), 16);
  EXPECT_EQ(cv::countNonZero(semantic), 36 - 6 + 36 - 6 + 16);
}

TEST(ConvertHelpers, ResizeKeepsObjectsTheAreaRuleWouldErase) {
  cv::Mat indices = cv::Mat::zeros(40, 40, CV_8UC1);
  indices(cv::Rect(0, 0, 20, 20)).setTo(1);  // large: kept by coverage
  indices.at<uint8_t>(30, 30) = 2;           // one pixel: under half of any output pixel
  indices(cv::Rect(33, 5, 2, 2)).setTo(2);   // 4 pixels straddling output pixels
  int64_t kept = -1;
  const cv::Mat out = data::resize_indices(indices, 0.25, 3, &kept);
  ASSERT_EQ(out.size(), cv::Size(10, 10));
  EXPECT_EQ(cv::countNonZero(out == 1), 25);
  EXPECT_EQ(out.at<uint8_t>(7, 7), 2);  // the centre of (30, 30)
  EXPECT_EQ(kept, 2);
  cv::Mat labels;
  EXPECT_EQ(cv::connectedComponents(out == 2, labels, 8) - 1, 2);
  EXPECT_THROW(data::resize_indices(indices, 1.5, 3, nullptr), Error);
  // Scale 1 is a copy.
  EXPECT_EQ(cv::countNonZero(data::resize_indices(indices, 1.0, 3, &kept) != indices), 0);
  EXPECT_EQ(kept, 0);
}

TEST(ConvertHelpers, TheHashedTestSplitDependsOnlyOnStemsFractionAndSeed) {
  std::vector<std::string> stems;
  for (int i = 0; i < 50; ++i) stems.push_back("case_" + std::to_string(i));
  const auto a = data::hashed_test_split(stems, 0.2, 0);
  EXPECT_EQ(std::count(a.begin(), a.end(), true), 10);
  // Another order of the same stems puts the same stems in test.
  std::vector<std::string> reversed(stems.rbegin(), stems.rend());
  const auto b = data::hashed_test_split(reversed, 0.2, 0);
  for (size_t i = 0; i < stems.size(); ++i) EXPECT_EQ(a[i], b[stems.size() - 1 - i]) << stems[i];
  EXPECT_NE(a, data::hashed_test_split(stems, 0.2, 1));
  const auto none = data::hashed_test_split(stems, 0.0, 0);
  EXPECT_EQ(std::count(none.begin(), none.end(), true), 0);
  EXPECT_THROW(data::hashed_test_split(stems, 1.0, 0), Error);
}

// ------------------------------------------------------------- dsb2018

/// A Data Science Bowl sample: an RGBA image with two touching square nuclei
/// and one apart, one mask file per nucleus.
void write_dsb_sample(const fs::path& root, const std::string& id, bool with_masks = true) {
  cv::Mat image(32, 40, CV_8UC4, cv::Scalar(10, 20, 30, 255));
  write(root / id / "images" / (id + ".png"), image);
  if (!with_masks) return;
  const cv::Rect boxes[] = {{4, 4, 6, 6}, {10, 4, 6, 6}, {25, 20, 5, 5}};
  int k = 0;
  for (const auto& box : boxes) {
    cv::Mat mask = cv::Mat::zeros(32, 40, CV_8UC1);
    mask(box).setTo(255);
    write(root / id / "masks" / (id + "_" + std::to_string(k++) + ".png"), mask);
  }
}

TEST(ConvertDataset, Dsb2018TurnsOneMaskPerNucleusIntoSeparateObjects) {
  TempDir tmp;
  const fs::path src = tmp.path() / "stage1_train";
  for (int i = 0; i < 6; ++i) write_dsb_sample(src, "id" + std::to_string(i));
  write_dsb_sample(src, "nomasks", false);
  const fs::path dst = tmp.path() / "out";
  const auto s = data::convert_dataset("dsb2018", tmp.path().string(), dst.string(),
                                       {{"test_fraction", "0.5"}});
  EXPECT_EQ(s.images.at("train"), 3);
  EXPECT_EQ(s.images.at("test"), 3);
  EXPECT_EQ(s.objects.at("nucleus"), 18);
  ASSERT_EQ(s.skipped.size(), 1U);
  EXPECT_NE(s.skipped[0].find("nomasks"), std::string::npos);
  const std::string yaml = text_of(dst / "dataset.yaml");
  EXPECT_NE(yaml.find("classes: [background, nucleus]"), std::string::npos);
  EXPECT_NE(yaml.find("CC0"), std::string::npos);
  EXPECT_NE(yaml.find("test_fraction=0.5"), std::string::npos);

  std::map<std::string, std::string> splits;
  const auto samples = load_all(dst, &splits);
  ASSERT_EQ(samples.size(), 6U);
  for (const auto& [stem, sample] : samples) {
    EXPECT_EQ(sample.image.size(0), 3);  // alpha dropped
    EXPECT_EQ(objects_of(sample.mask, 1), 3) << stem;
  }
  EXPECT_EQ(std::count_if(splits.begin(), splits.end(),
                          [](const auto& kv) { return kv.second == "test"; }),
            3);
  // The same source converts to the same split.
  const fs::path again = tmp.path() / "again";
  data::convert_dataset("dsb2018", src.string(), again.string(), {{"test_fraction", "0.5"}});
  for (const auto& [stem, split] : splits) {
    EXPECT_TRUE(fs::exists(again / (split == "test" ? "images_test" : "images") / (stem + ".png")))
        << stem;
  }
}

TEST(ConvertDataset, ExistingOutputIsRefusedAndAFailureLeavesNothing) {
  TempDir tmp;
  const fs::path src = tmp.path() / "src";
  write_dsb_sample(src, "a");
  write_dsb_sample(src, "b");
  const fs::path dst = tmp.path() / "out";
  data::convert_dataset("dsb2018", src.string(), dst.string(), {});
  try {
    data::convert_dataset("dsb2018", src.string(), dst.string(), {});
    FAIL() << "an existing dataset was replaced";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--overwrite"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(data::convert_dataset("dsb2018", src.string(), dst.string(), {}, {true}));

  // A corrupt mask fails the conversion, names the file, and leaves no folder.
  std::ofstream(src / "b" / "masks" / "b_9.png") << "not a png";
  const fs::path failed = tmp.path() / "failed";
  try {
    data::convert_dataset("dsb2018", src.string(), failed.string(), {});
    FAIL() << "a corrupt mask was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("b_9.png"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(failed));
  // Options are checked against the converter's schema.
  EXPECT_THROW(data::convert_dataset("dsb2018", src.string(), failed.string(), {{"scale", "2"}}),
               Error);
  EXPECT_THROW(data::convert_dataset("nosuch", src.string(), failed.string(), {}), Error);
  EXPECT_FALSE(fs::exists(failed));
}

// ------------------------------------------------------------- idrid

/// IDRiD part A's folders (names with spaces and dots) with 64x48
/// photographs: a 4x4 microaneurysm (aligned to the 0.25 grid) inside a haemorrhage, a lone 2x2
/// microaneurysm, and (one image) a hard exudate stored as RGBA red, as
/// IDRiD_81_EX is.
fs::path write_idrid(const fs::path& root) {
  const fs::path a = root / "A. Segmentation";
  const std::pair<const char*, std::vector<int>> splits[] = {{"a. Training Set", {1, 2}},
                                                             {"b. Testing Set", {55}}};
  for (const auto& [split, ids] : splits) {
    for (int id : ids) {
      char stem[16];
      std::snprintf(stem, sizeof(stem), "IDRiD_%02d", id);
      write(a / "1. Original Images" / split / (std::string(stem) + ".jpg"),
            cv::Mat(48, 64, CV_8UC3, cv::Scalar(30, 60, 150)));
      const fs::path truth = a / "2. All Segmentation Groundtruths" / split;
      cv::Mat ma = cv::Mat::zeros(48, 64, CV_8UC1);
      ma(cv::Rect(8, 8, 4, 4)).setTo(76);  // OpenCV reads IDRiD's red masks as 76
      ma(cv::Rect(40, 30, 2, 2)).setTo(76);
      write(truth / "1. Microaneurysms" / (std::string(stem) + "_MA.tif"), ma);
      cv::Mat he = cv::Mat::zeros(48, 64, CV_8UC1);
      he(cv::Rect(4, 4, 20, 20)).setTo(76);
      write(truth / "2. Haemorrhages" / (std::string(stem) + "_HE.tif"), he);
      if (id == 55) {
        cv::Mat ex(48, 64, CV_8UC4, cv::Scalar(0, 0, 0, 0));
        ex(cv::Rect(48, 4, 8, 8)).setTo(cv::Scalar(0, 0, 255, 255));
        write(truth / "3. Hard Exudates" / (std::string(stem) + "_EX.tif"), ex);
      }
    }
  }
  return root;
}

TEST(ConvertDataset, IdridKeepsTheOfficialSplitAndTheListedLesionsInOrder) {
  TempDir tmp;
  const fs::path src = write_idrid(tmp.path() / "download");
  const fs::path dst = tmp.path() / "idrid";
  const auto s = data::convert_dataset("idrid", src.string(), dst.string(),
                                       {{"lesions", "ma,he,ex"}, {"scale", "1"}});
  EXPECT_EQ(s.images.at("train"), 2);
  EXPECT_EQ(s.images.at("test"), 1);
  EXPECT_EQ(s.classes, (std::vector<std::string>{"background", "microaneurysm", "haemorrhage",
                                                 "hard_exudate"}));
  EXPECT_NE(text_of(dst / "dataset.yaml").find("CC BY 4.0"), std::string::npos);
  std::map<std::string, std::string> splits;
  const auto samples = load_all(dst, &splits);
  EXPECT_EQ(splits.at("IDRiD_55"), "test");
  EXPECT_EQ(splits.at("IDRiD_01"), "train");
  const auto& m = samples.at("IDRiD_55").mask;
  EXPECT_EQ(m[9][9].item<int>(), 1);  // the microaneurysm wins inside the haemorrhage
  EXPECT_EQ(m[5][5].item<int>(), 2);
  EXPECT_EQ(m[5][50].item<int>(), 3);  // the RGBA exudate is read
  EXPECT_EQ(objects_of(m, 1), 2);
  EXPECT_EQ(samples.at("IDRiD_01").mask.eq(3).sum().item<int>(), 0);  // no EX file: absent
}

TEST(ConvertDataset, IdridDownscalesWithoutLosingMicroaneurysms) {
  TempDir tmp;
  const fs::path src = write_idrid(tmp.path() / "download");
  const fs::path dst = tmp.path() / "idrid_ma";
  const auto s = data::convert_dataset("idrid", (src / "A. Segmentation").string(), dst.string(),
                                       {{"lesions", "ma"}, {"scale", "0.25"}});
  EXPECT_EQ(s.classes, (std::vector<std::string>{"background", "microaneurysm"}));
  EXPECT_EQ(s.objects.at("microaneurysm"), 6);  // two per image, none lost
  EXPECT_EQ(s.kept_as_centre, 3);               // the 2x2 one of each image
  const auto samples = load_all(dst, nullptr);
  EXPECT_EQ(samples.at("IDRiD_02").image.size(2), 16);
  EXPECT_EQ(samples.at("IDRiD_02").image.size(1), 12);
  // Bad options name the option.
  for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
           {"lesions", "ma,xx"}, {"lesions", "ma,ma"}, {"scale", "0"}}) {
    try {
      data::convert_dataset("idrid", src.string(), (tmp.path() / "bad").string(), {{key, value}});
      FAIL() << key << "=" << value << " was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("'" + key + "'"), std::string::npos) << e.what();
    }
  }
  EXPECT_FALSE(fs::exists(tmp.path() / "bad"));
}

// ------------------------------------------------------------- kvasir

TEST(ConvertDataset, KvasirThresholdsLossyMasksAndDropsJpegSpeckle) {
  TempDir tmp;
  const fs::path root = tmp.path() / "Kvasir-SEG";
  for (int i = 0; i < 5; ++i) {
    const std::string stem = "cju" + std::to_string(i);
    cv::Mat image(60, 80, CV_8UC3, cv::Scalar(40, 80, 200));
    write(root / "images" / (stem + ".jpg"), image);
    cv::Mat mask = cv::Mat::zeros(60, 80, CV_8UC3);
    cv::circle(mask, {30, 30}, 12, cv::Scalar::all(255), cv::FILLED);
    mask(cv::Rect(68, 48, 3, 3)).setTo(cv::Scalar::all(255));  // a 9-pixel speck
    write(root / "masks" / (stem + ".jpg"), mask);
  }
  write(root / "images" / "lonely.jpg", cv::Mat(60, 80, CV_8UC3, cv::Scalar::all(90)));
  // A copy of a split below the main folder (as some mirrors add) is not read twice.
  write(root / "train" / "images" / "cju0.jpg", cv::Mat(60, 80, CV_8UC3, cv::Scalar::all(1)));
  write(root / "train" / "masks" / "cju0.jpg", cv::Mat::zeros(60, 80, CV_8UC3));
  const fs::path dst = tmp.path() / "kvasir";
  const auto s = data::convert_dataset("kvasir", tmp.path().string(), dst.string(), {});
  EXPECT_EQ(s.images.at("train") + s.images.at("test"), 5);
  EXPECT_EQ(s.images.at("test"), 1);  // round(0.2 x 5)
  EXPECT_EQ(s.objects.at("polyp"), 5);
  EXPECT_GE(s.removed_specks, 5);
  ASSERT_EQ(s.skipped.size(), 1U);
  EXPECT_NE(s.skipped[0].find("lonely.jpg"), std::string::npos);
  for (const auto& [stem, sample] : load_all(dst, nullptr)) {
    EXPECT_EQ(objects_of(sample.mask, 1), 1) << stem;
    const int area = sample.mask.eq(1).sum().item<int>();
    EXPECT_NEAR(area, 3.14159 * 12 * 12, 40) << stem;
  }
  const auto kept = data::convert_dataset("kvasir", root.string(), (tmp.path() / "k2").string(),
                                          {{"min_object_pixels", "0"}});
  EXPECT_EQ(kept.removed_specks, 0);
  EXPECT_GE(kept.objects.at("polyp"), 10);
}

TEST(ConvertDataset, TheRegistryListsEachConverterWithItsOptions) {
  const auto names = data::converter_registry().names();
  for (const char* name : {"dsb2018", "idrid", "kvasir"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
  const auto& schema = data::converter_registry().schema("idrid");
  EXPECT_NE(find_option(schema, "lesions"), nullptr);
  EXPECT_NE(find_option(schema, "scale"), nullptr);
  EXPECT_EQ(find_option(schema, "test_fraction"), nullptr);
}

}  // namespace
}  // namespace svanet::test
