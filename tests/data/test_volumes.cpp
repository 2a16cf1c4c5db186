// NIfTI volumes to 2D slices: the official selection rules, orientation,
// case-level splits, and errors.

#include "support/nifti_volume.h"
#include "support/test_support.h"

#include "svanet/data/dataset.h"
#include "svanet/data/volumes.h"

#include <nifti2_io.h>
#include <torch/torch.h>

#include <filesystem>
#include <functional>
#include <set>

namespace svanet::test {
namespace {

namespace fs = std::filesystem;

TEST(SliceVolumes, AtlasOfficialRuleKeepsEveryFourthSliceAlongK) {
  TempDir dir;
  const auto in = dir.path() / "atlas";
  for (int c = 1; c <= 3; ++c) {
    write_volume(in / "imagesTr" / ("im" + std::to_string(c) + ".nii.gz"), 6, 5, 10, DT_FLOAT32,
                 [](int64_t i, int64_t j, int64_t k) { return 10.0 * (k + 1) + i + j; });
    write_volume(
        in / "labelsTr" / ("lb" + std::to_string(c) + ".nii.gz"), 6, 5, 10, DT_INT16,
        [](int64_t i, int64_t j, int64_t k) { return (i == 3 && j == 2 && k == 8) ? 2 : 0; });
  }
  data::SliceOptions options;
  options.dataset = "atlas";
  options.test_fraction = 0.34;
  const auto summary = data::slice_volumes(in.string(), (dir.path() / "out").string(), options);
  EXPECT_EQ(summary.cases, 3);
  EXPECT_EQ(summary.test_cases, 1);
  EXPECT_EQ(summary.slices, 3 * 4);  // k = 0, 4, 8 and the last, 9
  EXPECT_EQ(summary.slices_with_foreground, 3);
  // The written set is an official-layout atlas dataset.
  const auto index = data::index_dataset((dir.path() / "out").string());
  EXPECT_EQ(index.definition.name, "atlas");
  ASSERT_EQ(index.samples.size(), 12u);
  std::set<std::string> cases_in_test, cases_in_train;
  for (const auto& s : index.samples) {
    (s.split == "test" ? cases_in_test : cases_in_train).insert(s.stem.substr(0, s.stem.find('_')));
    if (s.stem.size() > 2 && s.stem.substr(s.stem.size() - 2) == "_8") {
      const auto loaded = data::load_sample(index.definition, s);
      // Rows are j, columns i: voxel (i=3, j=2, k=8) is pixel (2, 3).
      EXPECT_EQ(loaded.mask[2][3].item<int>(), 2) << s.stem;
      EXPECT_EQ(loaded.mask.sum().item<int>(), 2);
      // Slice-max scaling: the brightest voxel of slice 8 (90 + 5 + 4) is 255.
      EXPECT_NEAR(loaded.image[0][4][5].item<float>(), 1.0f, 1e-6);
    }
  }
  for (const auto& c : cases_in_test)
    EXPECT_EQ(cases_in_train.count(c), 0u) << c << " is in both splits";
}

TEST(SliceVolumes, KitsOfficialRuleSamplesTheCentralSlicesAlongI) {
  TempDir dir;
  const auto in = dir.path() / "kits";
  write_volume(in / "case_00000" / "imaging.nii.gz", 100, 4, 3, DT_INT16,
               [](int64_t i, int64_t, int64_t) { return i < 50 ? -500 : 100; });
  write_volume(in / "case_00000" / "segmentation.nii.gz", 100, 4, 3, DT_INT16,
               [](int64_t, int64_t j, int64_t k) { return j == 1 && k == 2 ? 3 : 0; });
  data::SliceOptions options;
  options.dataset = "kits23";
  options.test_fraction = 0;
  const auto summary = data::slice_volumes(in.string(), (dir.path() / "out").string(), options);
  EXPECT_EQ(summary.slices, 2);  // ceil(2 % of 100) from slices 15..84
  const auto index = data::index_dataset((dir.path() / "out").string());
  for (const auto& s : index.samples) {
    const auto slice = std::stoi(s.stem.substr(s.stem.rfind('_') + 1));
    EXPECT_GE(slice, 15);
    EXPECT_LT(slice, 85);
    const auto loaded = data::load_sample(index.definition, s);
    EXPECT_EQ(loaded.image.sizes(), torch::IntArrayRef({3, 4, 3}));  // rows j, columns k
    EXPECT_EQ(loaded.mask[1][2].item<int>(), 3);
    // Official CT rule: HU clipped to 0..255 without scaling: -500 is black, 100 is 100.
    EXPECT_FLOAT_EQ(loaded.image[0][0][0].item<float>(), slice < 50 ? 0.0f : 100.0f / 255.0f);
  }
  // A CT window instead: 100 HU in a (40, 400) window maps to (100 - (-160)) / 400 * 255.
  options.intensity = data::Intensity::kWindow;
  options.selection = data::SliceSelection::kAll;
  const auto windowed = data::slice_volumes(in.string(), (dir.path() / "out2").string(), options);
  EXPECT_EQ(windowed.slices, 100);
  const auto index2 = data::index_dataset((dir.path() / "out2").string());
  for (const auto& s : index2.samples) {
    if (s.stem == "case_00000_70") {
      EXPECT_NEAR(data::load_sample(index2.definition, s).image[0][0][0].item<float>(),
                  std::round((100.0 + 160.0) / 400.0 * 255.0) / 255.0, 1e-6);
    }
  }
}

TEST(SliceVolumes, MismatchedOrFractionalLabelsNameTheFile) {
  TempDir dir;
  const auto in = dir.path() / "bad";
  write_volume(in / "imagesTr" / "x_0000.nii.gz", 4, 4, 4, DT_FLOAT32,
               [](int64_t, int64_t, int64_t) { return 1.0; });
  write_volume(in / "labelsTr" / "x.nii.gz", 4, 4, 5, DT_INT16,
               [](int64_t, int64_t, int64_t) { return 0; });
  ASSERT_THROWS_WITH(data::slice_volumes(in.string(), (dir.path() / "o").string(), {}),
                     "labelsTr/x.nii.gz: label volume is 4x4x5 but the image");
  write_volume(in / "labelsTr" / "x.nii.gz", 4, 4, 4, DT_FLOAT32,
               [](int64_t, int64_t, int64_t) { return 1.5; });
  ASSERT_THROWS_WITH(data::slice_volumes(in.string(), (dir.path() / "o").string(), {}),
                     "x.nii.gz: label value 1.5 is not a class index");
  // The failed runs left nothing behind that would block the next one.
  EXPECT_FALSE(fs::exists(dir.path() / "o"));
  ASSERT_THROWS_WITH(data::find_volume_pairs((dir.path() / "empty").string()),
                     "empty: no such folder");
}

}  // namespace
}  // namespace svanet::test

namespace svanet::test {
namespace {

TEST(LabelVolumes, SlicesAlongEachAxisHaveTheDocumentedOrientationAndWriteBackExactly) {
  TempDir dir;
  const auto in = dir.path() / "labels.nii.gz";
  // Distinct small values: voxel (i, j, k) holds i + 5 j + 20 k (< 255).
  const auto value = [](int64_t i, int64_t j, int64_t k) { return double(i + 5 * j + 20 * k); };
  write_volume(in, 4, 3, 5, DT_INT16, value);
  for (int axis = 0; axis < 3; ++axis) {
    const auto slices = data::read_label_slices(in.string(), axis);
    ASSERT_EQ(slices.size(), static_cast<size_t>(axis == 0 ? 4 : (axis == 1 ? 3 : 5)));
    for (int64_t s = 0; s < static_cast<int64_t>(slices.size()); ++s) {
      const auto& m = slices[static_cast<size_t>(s)];
      // Axis 2: rows j, columns i; axis 0: rows j, columns k; axis 1: rows k, columns i.
      for (int64_t r = 0; r < m.size(0); ++r) {
        for (int64_t c = 0; c < m.size(1); ++c) {
          const double expected = axis == 2   ? value(c, r, s)
                                  : axis == 0 ? value(s, r, c)
                                              : value(c, s, r);
          ASSERT_EQ(m[r][c].item<int>(), static_cast<int>(expected))
              << "axis " << axis << " slice " << s << " (" << r << ", " << c << ")";
        }
      }
    }
    const auto out = dir.path() / ("back_" + std::to_string(axis) + ".nii.gz");
    data::write_label_volume(out.string(), in.string(), axis, slices);
    for (int other = 0; other < 3; ++other) {
      const auto again = data::read_label_slices(out.string(), other);
      const auto original = data::read_label_slices(in.string(), other);
      ASSERT_EQ(again.size(), original.size());
      for (size_t s = 0; s < again.size(); ++s) {
        EXPECT_TRUE(torch::equal(again[s], original[s])) << "written along " << axis;
      }
    }
  }
  ASSERT_THROWS_WITH(data::write_label_volume((dir.path() / "x.nii.gz").string(), in.string(), 2,
                                              data::read_label_slices(in.string(), 0)),
                     "4 label slices for a volume of 5 slices along axis 2");
}

}  // namespace
}  // namespace svanet::test
