// Dataset layouts, validation, splits and the demo set.

#include "support/test_support.h"

#include "svanet/common/error.h"
#include "svanet/data/check.h"
#include "svanet/data/demo.h"
#include "svanet/data/splits.h"
#include "svanet/data/stats.h"

#include <torch/torch.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <numeric>
#include <set>

namespace svanet::test {
namespace {

namespace fs = std::filesystem;

/// A small official-layout demo set in a temporary folder.
class DemoSet : public ::testing::Test {
 protected:
  void SetUp() override {
    data::DemoOptions options;
    options.seed = 3;
    options.count = 20;
    options.size = 64;
    summary_ = data::generate_demo_dataset(dir_.path().string(), options);
    root_ = fs::path(summary_.folder);
  }
  std::vector<data::Problem> errors_mentioning(const std::string& text) {
    const auto report = data::check_dataset(data::index_dataset(root_.string()));
    std::vector<data::Problem> found;
    for (const auto& p : report.problems) {
      if ((p.file + ": " + p.message).find(text) != std::string::npos) found.push_back(p);
    }
    return found;
  }
  TempDir dir_;
  data::DemoSummary summary_;
  fs::path root_;
};

TEST_F(DemoSet, IndexesTheOfficialLayoutAndChecksClean) {
  const auto index = data::index_dataset(dir_.path().string());  // finds Demo/ below
  EXPECT_EQ(index.layout, "official");
  EXPECT_EQ(index.definition.name, "demo");
  ASSERT_EQ(index.samples.size(), 20u);
  for (const auto& s : index.samples) EXPECT_FALSE(s.mask.empty()) << s.image;
  const auto report = data::check_dataset(index);
  EXPECT_EQ(report.errors(), 0);
  EXPECT_EQ(report.images_per_split.at("train"), 14);
  EXPECT_EQ(report.mask_kinds.at("palette PNG"), 20);
  const auto sample = data::load_sample(index.definition, index.samples[0]);
  EXPECT_EQ(sample.image.sizes(), torch::IntArrayRef({3, 64, 64}));
  EXPECT_EQ(sample.mask.sizes(), torch::IntArrayRef({64, 64}));
  EXPECT_LE(sample.mask.max().item<int>(), 2);
}

TEST_F(DemoSet, MissingAndOrphanMasksAreErrors) {
  fs::rename(root_ / "mask" / "demo_0000.png", dir_.path() / "moved.png");
  auto missing = errors_mentioning("no mask with the stem 'demo_0000'");
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_NE(missing[0].file.find("train/demo_0000.png"), std::string::npos);
  fs::rename(dir_.path() / "moved.png", root_ / "mask" / "stray.png");
  EXPECT_EQ(errors_mentioning("mask/stray.png: mask without an image").size(), 1u);
}

TEST_F(DemoSet, DamagedFilesAreNamed) {
  // A truncated JPEG image, a mask of the wrong size, a 0/255 mask (fine), bad values.
  cv::Mat image = cv::imread((root_ / "train" / "demo_0001.png").string());
  fs::remove(root_ / "train" / "demo_0001.png");
  cv::imwrite((root_ / "train" / "demo_0001.jpg").string(), image);
  const auto jpg = (root_ / "train" / "demo_0001.jpg").string();
  fs::resize_file(jpg, fs::file_size(jpg) / 2);
  cv::imwrite((root_ / "mask" / "demo_0002.png").string(), cv::Mat(32, 48, CV_8UC1, cv::Scalar(0)));
  cv::Mat binary(64, 64, CV_8UC1, cv::Scalar(0));
  cv::circle(binary, {20, 20}, 5, cv::Scalar(255), cv::FILLED);
  cv::imwrite((root_ / "mask" / "demo_0003.png").string(), binary);
  cv::imwrite((root_ / "mask" / "demo_0004.png").string(), cv::Mat(64, 64, CV_8UC1, cv::Scalar(9)));
  const auto report = data::check_dataset(data::index_dataset(root_.string()));
  std::vector<std::string> lines;
  for (const auto& p : report.problems) lines.push_back(p.file + ": " + p.message);
  auto has = [&](const std::string& text) {
    return std::any_of(lines.begin(), lines.end(),
                       [&](const auto& l) { return l.find(text) != std::string::npos; });
  };
  EXPECT_TRUE(has("train/demo_0001.jpg: truncated JPEG")) << ::testing::PrintToString(lines);
  EXPECT_TRUE(has("mask/demo_0002.png: mask is 48x32 but its image"))
      << ::testing::PrintToString(lines);
  EXPECT_TRUE(
      has("mask/demo_0004.png: mask value(s) 9 (4096 px) do not fit the dataset's 3 classes"));
  EXPECT_FALSE(has("demo_0003"));  // a 0/255 mask is understood
  EXPECT_EQ(report.mask_kinds.at("binary 0/255"), 1);
  EXPECT_EQ(report.errors(), 3);
  EXPECT_EQ(report.good.size(), 17u);
}

TEST_F(DemoSet, DuplicateStemsEmptySplitsAndStrayFiles) {
  fs::copy_file(root_ / "train" / "demo_0005.png", root_ / "train" / "demo_0005.bmp");
  std::ofstream(root_ / "train" / "notes.txt") << "scanner settings";
  for (const auto& f : fs::directory_iterator(root_ / "val")) fs::remove(f.path());
  const auto report = data::check_dataset(data::index_dataset(root_.string()));
  int duplicates = 0, empty = 0, warnings = 0;
  for (const auto& p : report.problems) {
    duplicates += p.message.find("duplicate stem") != std::string::npos;
    empty += p.message.find("split 'val' has no images") != std::string::npos;
    warnings += p.severity == data::Problem::Severity::kWarning &&
                p.file.find("notes.txt") != std::string::npos;
  }
  EXPECT_EQ(duplicates, 2);
  EXPECT_EQ(empty, 1);
  EXPECT_EQ(warnings, 1);
}

TEST(Datasets, BuiltinsAndUnknownNames) {
  EXPECT_EQ(data::builtin_dataset("KiTS23").classes.size(), 4u);
  EXPECT_EQ(data::builtin_dataset("fives").classes.size(), 5u);
  EXPECT_EQ(data::builtin_dataset("isic2018t1").folder, "ISIC2018T1");
  ASSERT_THROWS_WITH(data::builtin_dataset("lungs"),
                     "unknown dataset 'lungs'; built-in datasets: fives");
  ASSERT_THROWS_WITH(data::builtin_dataset("kits32"),
                     "unknown dataset 'kits32' (did you mean 'kits23'?); built-in datasets");
  TempDir dir;
  fs::create_directories(dir.path() / "Mystery" / "train");
  fs::create_directories(dir.path() / "Mystery" / "mask");
  ASSERT_THROWS_WITH(
      data::index_dataset(dir.path().string()),
      "'Mystery' is not a built-in dataset; pass --dataset NAME or add a dataset.yaml");
  ASSERT_THROWS_WITH(data::index_dataset((dir.path() / "nothing").string()),
                     "nothing: no such folder");
}

TEST(Datasets, FivesBinaryMasksTakeTheDiseaseFromTheFileName) {
  TempDir dir;
  const fs::path set = dir.path() / "FIVES";
  fs::create_directories(set / "train");
  fs::create_directories(set / "mask");
  cv::Mat image(8, 8, CV_8UC3, cv::Scalar(10, 20, 30));
  cv::Mat vessel(8, 8, CV_8UC1, cv::Scalar(0));
  vessel.row(3).setTo(255);
  for (const char* stem : {"1_A", "train_7_G", "12_N_train"}) {
    cv::imwrite((set / "train" / (std::string(stem) + ".png")).string(), image);
    cv::imwrite((set / "mask" / (std::string(stem) + ".png")).string(), vessel);
  }
  const auto index = data::index_dataset(dir.path().string());
  ASSERT_EQ(index.samples.size(), 3u);
  std::map<std::string, int> classes;
  for (const auto& s : index.samples)
    classes[s.stem] = data::load_sample(index.definition, s).mask.max().item<int>();
  EXPECT_EQ(classes["1_A"], 1);
  EXPECT_EQ(classes["train_7_G"], 3);
  EXPECT_EQ(classes["12_N_train"], 4);
  // Object statistics use the same class rule.
  std::set<int64_t> object_classes;
  for (const auto& o : data::compute_stats(index).objects) object_classes.insert(o.class_index);
  EXPECT_EQ(object_classes, (std::set<int64_t>{1, 3, 4}));
  cv::imwrite((set / "train" / "9.png").string(), image);
  cv::imwrite((set / "mask" / "9.png").string(), vessel);
  ASSERT_THROWS_WITH(
      data::load_sample(index.definition, {"9", (set / "train" / "9.png").string(),
                                           (set / "mask" / "9.png").string(), "train"}),
      "carries none of the class codes of dataset 'fives'");
}

TEST(Datasets, GenericLayoutWithDatasetYaml) {
  TempDir dir;
  fs::create_directories(dir.path() / "images");
  fs::create_directories(dir.path() / "masks");
  std::ofstream(dir.path() / "dataset.yaml") << "name: skin\n"
                                                "mask_suffix: _segmentation\n"
                                                "classes:\n"
                                                "  - {name: background, value: 0}\n"
                                                "  - {name: lesion, value: 200}\n";
  cv::imwrite((dir.path() / "images" / "ISIC_1.jpg").string(),
              cv::Mat(6, 6, CV_8UC3, cv::Scalar(5, 5, 5)));
  cv::imwrite((dir.path() / "masks" / "ISIC_1_segmentation.png").string(),
              cv::Mat(6, 6, CV_8UC1, cv::Scalar(200)));
  const auto index = data::index_dataset(dir.path().string());
  EXPECT_EQ(index.layout, "generic");
  EXPECT_EQ(index.definition.name, "skin");
  ASSERT_EQ(index.samples.size(), 1u);
  EXPECT_EQ(data::load_sample(index.definition, index.samples[0]).mask.min().item<int>(), 1);
  std::ofstream(dir.path() / "dataset.yaml") << "name: skin\nclases: [a, b]\n";
  ASSERT_THROWS_WITH(data::index_dataset(dir.path().string()),
                     "dataset.yaml:2:1: unknown key 'dataset.clases'");
}

TEST(Datasets, NnUNetRawLayout) {
  TempDir dir;
  fs::create_directories(dir.path() / "imagesTr");
  fs::create_directories(dir.path() / "labelsTr");
  std::ofstream(dir.path() / "dataset.json")
      << R"({"channel_names": {"0": "R", "1": "G", "2": "B"}, "labels": {"background": 0, "polyp": 1},)"
      << R"( "numTraining": 2, "file_ending": ".png"})";
  for (const char* c : {"case_001", "case_002"}) {
    cv::imwrite((dir.path() / "imagesTr" / (std::string(c) + "_0000.png")).string(),
                cv::Mat(4, 4, CV_8UC3, cv::Scalar(1, 2, 3)));
    cv::imwrite((dir.path() / "labelsTr" / (std::string(c) + ".png")).string(),
                cv::Mat(4, 4, CV_8UC1, cv::Scalar(1)));
  }
  const auto index = data::index_dataset(dir.path().string());
  EXPECT_EQ(index.layout, "nnunet");
  EXPECT_EQ(index.definition.classes, (std::vector<std::string>{"background", "polyp"}));
  ASSERT_EQ(index.samples.size(), 2u);
  EXPECT_EQ(index.samples[0].stem, "case_001");
  EXPECT_EQ(data::check_dataset(index).errors(), 0);
}

TEST_F(DemoSet, SplitsFollowTheFoldersAndTheSeed) {
  const auto index = data::index_dataset(root_.string());
  const auto splits = data::make_splits(index, {});
  // Both val/ and test/ exist: they are validation and test.
  EXPECT_EQ(splits.train.size(), 14u);
  EXPECT_EQ(splits.val.size(), 3u);
  EXPECT_EQ(splits.test.size(), 3u);
  for (const auto& s : splits.test) EXPECT_EQ(s.split, "test");
  // Without val/: validation comes from train, test stays the folder.
  for (const auto& f : fs::directory_iterator(root_ / "val"))
    fs::rename(f.path(), root_ / "train" / f.path().filename());
  fs::remove(root_ / "val");
  const auto index2 = data::index_dataset(root_.string());
  data::SplitOptions a;
  a.seed = 1;
  const auto s1 = data::make_splits(index2, a);
  EXPECT_EQ(s1.test.size(), 3u);
  EXPECT_EQ(s1.val.size(), 3u);  // round(0.2 * 17)
  EXPECT_EQ(s1.train.size(), 14u);
  const auto again = data::make_splits(index2, a);
  a.seed = 2;
  const auto other = data::make_splits(index2, a);
  auto stems = [](const std::vector<data::Sample>& v) {
    std::vector<std::string> out;
    for (const auto& s : v) out.push_back(s.stem);
    return out;
  };
  EXPECT_EQ(stems(s1.val), stems(again.val));
  EXPECT_NE(stems(s1.val), stems(other.val));
  std::set<std::string> all;
  for (const auto* part : {&s1.train, &s1.val, &s1.test}) {
    for (const auto& s : *part)
      EXPECT_TRUE(all.insert(s.stem).second) << s.stem << " is in two splits";
  }
  EXPECT_EQ(all.size(), 20u);
  // Round trip through splits.json.
  const auto path = (dir_.path() / "splits.json").string();
  data::write_splits(path, s1);
  const auto read = data::read_splits(path, index2);
  EXPECT_EQ(stems(read.val), stems(s1.val));
  EXPECT_EQ(read.rule, s1.rule);
  // k-fold: five folds of the non-test images partition them.
  std::set<std::string> validated;
  for (int64_t k = 0; k < 5; ++k) {
    data::SplitOptions fold;
    fold.folds = 5;
    fold.fold = k;
    for (const auto& s : data::make_splits(index2, fold).val)
      EXPECT_TRUE(validated.insert(s.stem).second);
  }
  EXPECT_EQ(validated.size(), 17u);
  fs::remove(root_ / "train" / (s1.val.front().stem + ".png"));
  ASSERT_THROWS_WITH(data::read_splits(path, data::index_dataset(root_.string())),
                     "is no longer in the dataset");
}

TEST(DemoData, IsDeterministicForASeed) {
  TempDir a, b, c;
  data::DemoOptions options;
  options.count = 6;
  options.size = 48;
  data::generate_demo_dataset(a.path().string(), options);
  data::generate_demo_dataset(b.path().string(), options);
  options.seed = 9;
  data::generate_demo_dataset(c.path().string(), options);
  for (const auto* folder : {"train", "mask"}) {
    for (const auto& f : fs::directory_iterator(a.path() / "Demo" / folder)) {
      const auto name = f.path().filename();
      const cv::Mat x = cv::imread(f.path().string(), cv::IMREAD_UNCHANGED);
      const cv::Mat y =
          cv::imread((b.path() / "Demo" / folder / name).string(), cv::IMREAD_UNCHANGED);
      EXPECT_EQ(cv::norm(x, y, cv::NORM_INF), 0.0) << name;
    }
  }
  const cv::Mat x = cv::imread((a.path() / "Demo" / "train" / "demo_0000.png").string());
  const cv::Mat z = cv::imread((c.path() / "Demo" / "train" / "demo_0000.png").string());
  EXPECT_GT(cv::norm(x, z, cv::NORM_L1), 0.0);
}

TEST(DemoData, TheTinyKindHoldsOnlySeparateObjectsUnderATenthOfAPercent) {
  TempDir dir;
  data::DemoOptions options;
  options.count = 20;
  options.size = 256;
  options.kind = data::DemoKind::kTiny;
  const auto summary = data::generate_demo_dataset(dir.path().string(), options);
  EXPECT_GE(summary.objects, 20 * 4 / 2);  // 4-14 drawn per image, some rejected
  const double limit = 0.001 * 256 * 256;  // 65.5 pixels
  int64_t components = 0;
  int smallest = 1 << 30, largest = 0;
  for (const auto& f : fs::directory_iterator(dir.path() / "Demo" / "mask")) {
    // Palette PNGs: the background's colour is black, the classes' are not.
    const cv::Mat mask = cv::imread(f.path().string(), cv::IMREAD_GRAYSCALE);
    ASSERT_EQ(mask.rows, 256) << f.path();
    // Every 8-connected component of the foreground (classes together):
    // objects never touch, so each is one object of one class.
    cv::Mat labels, stats, centroids;
    const int n = cv::connectedComponentsWithStats(mask > 0, labels, stats, centroids, 8);
    for (int i = 1; i < n; ++i) {
      const int area = stats.at<int>(i, cv::CC_STAT_AREA);
      EXPECT_LT(area, limit) << f.path();
      smallest = std::min(smallest, area);
      largest = std::max(largest, area);
      ++components;
    }
  }
  EXPECT_EQ(components, summary.objects);
  EXPECT_GE(smallest, 1);
  EXPECT_GT(largest, 30);  // the range is covered, not just specks
  ASSERT_THROWS_WITH(data::parse_demo_kind("huge"), "valid: standard, tiny");
}

TEST(DemoData, RefusesAnExistingSetUnlessOverwriting) {
  TempDir dir;
  data::DemoOptions options;
  options.count = 3;
  options.size = 32;
  data::generate_demo_dataset(dir.path().string(), options);
  const auto user_file = dir.path() / "Demo" / "train" / "mine.png";
  std::ofstream(user_file) << "the user's";
  ASSERT_THROWS_WITH(data::generate_demo_dataset(dir.path().string(), options),
                     "Demo already exists and is not empty; --overwrite replaces it");
  EXPECT_TRUE(fs::exists(user_file));
  options.overwrite = true;
  const auto summary = data::generate_demo_dataset(dir.path().string(), options);
  EXPECT_EQ(summary.train + summary.val + summary.test, 3);
  EXPECT_FALSE(fs::exists(user_file));
}

TEST(DemoData, HasTinyToLargeObjectsEmptyImagesAndDefeatsBrightnessThresholds) {
  TempDir dir;
  data::DemoOptions options;
  options.seed = 0;
  options.count = 120;
  options.size = 128;
  const auto summary = data::generate_demo_dataset(dir.path().string(), options);
  EXPECT_GT(summary.empty_images, 0);
  const auto index = data::index_dataset(summary.folder);
  double smallest = 100, largest = 0;
  std::set<int> classes;
  // Brightness thresholding: the best global threshold on gray levels, either
  // polarity, chosen with hindsight on the whole set.
  std::vector<int64_t> fg_hist(256, 0), bg_hist(256, 0);
  for (const auto& s : index.samples) {
    const auto loaded = data::load_sample(index.definition, s);
    cv::Mat mask(128, 128, CV_8UC1, loaded.mask.data_ptr<uint8_t>());
    for (int c : {1, 2}) {
      cv::Mat labels, stats, centroids;
      const int n = cv::connectedComponentsWithStats(mask == c, labels, stats, centroids, 8);
      for (int i = 1; i < n; ++i) {
        const double pct = 100.0 * stats.at<int>(i, cv::CC_STAT_AREA) / (128.0 * 128.0);
        smallest = std::min(smallest, pct);
        largest = std::max(largest, pct);
        classes.insert(c);
      }
    }
    const auto gray = (loaded.image.mean(0) * 255).round().to(torch::kLong).flatten();
    const auto fg = (loaded.mask.flatten() > 0);
    const auto f = torch::bincount(gray.masked_select(fg), {}, 256);
    const auto g = torch::bincount(gray.masked_select(fg.logical_not()), {}, 256);
    for (int64_t v = 0; v < 256; ++v) {
      fg_hist[static_cast<size_t>(v)] += f[v].item<int64_t>();
      bg_hist[static_cast<size_t>(v)] += g[v].item<int64_t>();
    }
  }
  EXPECT_LT(smallest, 0.1);
  EXPECT_GT(largest, 10.0);
  EXPECT_EQ(classes.size(), 2u);
  double best = 0;
  const double fg_total = std::accumulate(fg_hist.begin(), fg_hist.end(), 0.0);
  for (int t = 0; t < 256; ++t) {
    double fg_below = 0, bg_below = 0;
    for (int v = 0; v <= t; ++v) {
      fg_below += static_cast<double>(fg_hist[static_cast<size_t>(v)]);
      bg_below += static_cast<double>(bg_hist[static_cast<size_t>(v)]);
    }
    const double bg_total = std::accumulate(bg_hist.begin(), bg_hist.end(), 0.0);
    // dark = foreground, or bright = foreground
    const double dice_dark = 2 * fg_below / (fg_total + fg_below + bg_below);
    const double dice_bright =
        2 * (fg_total - fg_below) / (fg_total + (fg_total - fg_below) + (bg_total - bg_below));
    best = std::max({best, dice_dark, dice_bright});
  }
  std::cout << "best brightness-threshold Dice on the demo set: " << best << "\n";
  EXPECT_LT(best, 0.4);
}

}  // namespace
}  // namespace svanet::test
