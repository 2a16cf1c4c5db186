// Prediction on files (svanet predict): a folder of mixed formats, bit
// depths and sizes with one corrupt file; resuming; names; outputs at the
// inputs' sizes.

#include "support/nifti_volume.h"
#include "support/test_support.h"

#include "svanet/common/error.h"
#include "svanet/data/image_io.h"
#include "svanet/data/opencv.h"
#include "svanet/data/volumes.h"
#include "svanet/engine/predict.h"
#include "svanet/io/checkpoint.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace svanet::test {
namespace {

namespace fs = std::filesystem;

class PredictFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(0);
    auto model = create_model("svanet_test", tiny_options("svanet_test", 3).image_size(64));
    io::CheckpointMeta meta;
    meta.classes = {"background", "lesion", "nucleus"};
    checkpoint_ = (dir_.path() / "model.pt").string();
    io::save_checkpoint(checkpoint_, *model, meta);
    images_ = dir_.path() / "images";
    fs::create_directories(images_ / "sub");
    cv::RNG rng(1);
    auto random = [&](int h, int w, int type) {
      cv::Mat m(h, w, type);
      rng.fill(m, cv::RNG::UNIFORM, 0, CV_MAT_DEPTH(type) == CV_16U ? 65535 : 255);
      return m;
    };
    cv::imwrite((images_ / "gray8.png").string(), random(64, 64, CV_8UC1));
    cv::imwrite((images_ / "rgb.jpg").string(), random(50, 70, CV_8UC3));
    cv::imwrite((images_ / "rgba.png").string(), random(33, 47, CV_8UC4));
    cv::imwrite((images_ / "deep16.tif").string(), random(40, 90, CV_16UC1));
    cv::imwrite((images_ / "wide.bmp").string(), random(45, 150, CV_8UC3));
    cv::imwrite((images_ / "sub" / "nested.png").string(), random(20, 30, CV_8UC3));
    // A PNG cut short: the decoder would fill it with gray.
    std::vector<uchar> bytes;
    cv::imencode(".png", random(64, 64, CV_8UC3), bytes);
    std::ofstream((images_ / "corrupt.png").string(), std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size() / 2));
    std::ofstream((images_ / "notes.txt").string()) << "not an image";
    out_ = dir_.path() / "preds";
  }

  engine::PredictFilesOptions options() const {
    engine::PredictFilesOptions o;
    o.model = checkpoint_;
    o.inputs = {images_.string()};
    o.out = out_.string();
    o.predictor.batch = 2;
    return o;
  }

  static std::string read(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  TempDir dir_;
  std::string checkpoint_;
  fs::path images_, out_;
};

TEST_F(PredictFiles, EveryInputFailingLeavesNoFolderAndNamesEachFileOnce) {
  const fs::path bad = dir_.path() / "bad";
  fs::create_directories(bad);
  fs::copy_file(images_ / "corrupt.png", bad / "corrupt.png");
  std::ofstream((bad / "empty.png").string());
  auto o = options();
  o.inputs = {bad.string()};
  const auto r = engine::predict_files(o);
  EXPECT_EQ(r.predicted, 0);
  ASSERT_EQ(r.failures.size(), 2u);
  for (const auto& failure : r.failures) {
    const auto name = failure.find("empty.png") != std::string::npos ? "empty.png" : "corrupt.png";
    const auto first = failure.find(name);
    ASSERT_NE(first, std::string::npos) << failure;
    EXPECT_EQ(failure.find(name, first + 1), std::string::npos) << "named twice: " << failure;
  }
  EXPECT_TRUE(r.csv.empty());
  EXPECT_FALSE(fs::exists(out_)) << "a command that predicted nothing left its output folder";
}

TEST_F(PredictFiles, EveryReadableImageGetsALabelMapAtItsSizeAndTheCorruptOneIsNamed) {
  auto o = options();
  o.overlay = true;
  o.probabilities = "png";
  const auto r = engine::predict_files(o);
  EXPECT_EQ(r.predicted, 5);
  ASSERT_EQ(r.failures.size(), 1u);
  EXPECT_NE(r.failures[0].find("corrupt.png"), std::string::npos) << r.failures[0];
  EXPECT_FALSE(fs::exists(out_ / "corrupt.png"));
  const std::vector<std::tuple<std::string, int, int>> expected{
      {"gray8", 64, 64}, {"rgb", 50, 70}, {"rgba", 33, 47}, {"deep16", 40, 90}, {"wide", 45, 150}};
  for (const auto& [name, h, w] : expected) {
    // A palette PNG: its indices are the classes.
    const auto file = (out_ / (name + ".png")).string();
    data::MaskEncoding three;
    three.num_classes = 3;
    const auto mask = data::read_mask(file, three);
    EXPECT_EQ(mask.kind, data::MaskKind::kPalette) << name;
    EXPECT_EQ(mask.indices.sizes(), torch::IntArrayRef({h, w})) << name;
    EXPECT_LT(mask.indices.max().item<int>(), 3) << name;
    const auto overlay = cv::imread((out_ / "overlays" / (name + ".png")).string());
    EXPECT_EQ(overlay.size(), cv::Size(w, h)) << name;
    cv::Mat sum(h, w, CV_64FC1, cv::Scalar(0));
    for (const char* c : {"background", "lesion", "nucleus"}) {
      const auto p = cv::imread((out_ / "probabilities" / (name + "_" + c + ".png")).string(),
                                cv::IMREAD_UNCHANGED);
      ASSERT_EQ(p.type(), CV_16UC1) << name << " " << c;
      ASSERT_EQ(p.size(), cv::Size(w, h)) << name;
      cv::Mat p64;
      p.convertTo(p64, CV_64F);
      sum += p64;
    }
    double low = 0, high = 0;
    cv::minMaxLoc(sum, &low, &high);
    EXPECT_NEAR(low, 65535.0, 2.0) << name;  // probabilities sum to 1, give or take rounding
    EXPECT_NEAR(high, 65535.0, 2.0) << name;
  }
  // Without --recursive the subfolder is not an input.
  EXPECT_FALSE(fs::exists(out_ / "sub"));
  const auto csv = read(r.csv);
  EXPECT_EQ(csv.rfind("file,height,width,slices,mode,lesion_pixels,lesion_objects,lesion_largest,"
                      "nucleus_pixels,nucleus_objects,nucleus_largest,seconds\n",
                      0),
            0u)
      << csv;
  EXPECT_NE(csv.find("deep16.tif,40,90,1,resize,"), std::string::npos) << csv;
  EXPECT_NE(csv.find("wide.bmp,45,150,1,sliding,"), std::string::npos) << csv;  // 150 > 2 x 64
  EXPECT_EQ(r.slid, 1);
  EXPECT_EQ(r.resized, 4);
}

TEST_F(PredictFiles, ARerunSkipsFinishedImagesAndOverwriteRedoesThem) {
  auto o = options();
  engine::predict_files(o);
  const auto first = read(out_ / "rgb.png");
  fs::remove(out_ / "wide.png");  // as if interrupted before it
  const auto again = engine::predict_files(o);
  EXPECT_EQ(again.predicted, 1);
  EXPECT_EQ(again.skipped, 4);
  EXPECT_EQ(read(out_ / "rgb.png"), first);
  // Rows of skipped images are rebuilt from their label maps.
  const auto csv = read(again.csv);
  EXPECT_NE(csv.find("rgb.jpg,50,70,1,existing,"), std::string::npos) << csv;
  o.overwrite = true;
  const auto redone = engine::predict_files(o);
  EXPECT_EQ(redone.predicted, 5);
  EXPECT_EQ(redone.skipped, 0);
  EXPECT_EQ(read(out_ / "rgb.png"), first);  // deterministic
}

TEST_F(PredictFiles, FoldersRecurseOnRequestAndPatternsMatchFileNames) {
  const auto all = engine::expand_inputs({images_.string()}, true);
  std::vector<std::string> names;
  for (const auto& i : all) names.push_back(i.name);
  EXPECT_EQ(names, std::vector<std::string>(
                       {"corrupt", "deep16", "gray8", "rgb", "rgba", "sub/nested", "wide"}));
  const auto pngs = engine::expand_inputs({(images_ / "*.png").string()});
  ASSERT_EQ(pngs.size(), 3u);
  EXPECT_EQ(pngs[0].name, "corrupt");
  EXPECT_EQ(pngs[2].name, "rgba");
  ASSERT_THROWS_WITH(engine::expand_inputs({(images_ / "*.jpeg").string()}), "matches no file");
  ASSERT_THROWS_WITH(engine::expand_inputs({(images_ / "missing.png").string()}),
                     "missing.png: no such file or folder");
  cv::imwrite((images_ / "sub" / "rgb.png").string(), cv::Mat(8, 8, CV_8UC3, cv::Scalar(1)));
  ASSERT_THROWS_WITH(engine::expand_inputs({images_.string(), (images_ / "sub").string()}),
                     "would both be written as rgb;");

  auto o = options();
  o.recursive = true;
  const auto r = engine::predict_files(o);
  EXPECT_TRUE(fs::exists(out_ / "sub" / "nested.png"));
  EXPECT_EQ(r.failures.size(), 1u);
}

TEST_F(PredictFiles, ARunFolderMeansItsBestCheckpoint) {
  const auto run = dir_.path() / "run";
  fs::create_directories(run / "checkpoints");
  fs::copy_file(checkpoint_, run / "checkpoints" / "best.pt");
  EXPECT_EQ(engine::resolve_model(run.string()), (run / "checkpoints" / "best.pt").string());
  ASSERT_THROWS_WITH(engine::resolve_model(images_.string()), "neither a checkpoint nor a run");
  ASSERT_THROWS_WITH(engine::resolve_model((dir_.path() / "nope.pt").string()),
                     "nope.pt: no such checkpoint file or run folder");
}

TEST_F(PredictFiles, NeverWritesOverAnInputAndIgnoresItsOwnOutputs) {
  auto o = options();
  o.out = images_.string();
  ASSERT_THROWS_WITH(engine::predict_files(o), "its prediction would replace it");
  // Predictions inside the input folder are not inputs of the next run.
  o.out = (images_ / "preds").string();
  o.recursive = true;
  engine::predict_files(o);
  const auto again = engine::predict_files(o);
  EXPECT_EQ(again.predicted + again.skipped, 6);
  EXPECT_FALSE(fs::exists(images_ / "preds" / "preds"));
}

TEST(PredictCounts, MinSizeRemovesOnlyTheSmallComponents) {
  auto labels = torch::zeros({20, 20}, torch::kUInt8);
  labels.slice(0, 0, 1).slice(1, 0, 3).fill_(1);    // 3 px of class 1
  labels.slice(0, 5, 9).slice(1, 5, 10).fill_(1);   // 20 px of class 1
  labels.slice(0, 15, 16).slice(1, 0, 5).fill_(2);  // 5 px of class 2
  labels[19][19] = 2;                               // 1 px of class 2
  auto kept = labels.clone();
  const auto all = engine::remove_small_objects(kept, 3, 0);
  EXPECT_TRUE(torch::equal(kept, labels));
  EXPECT_EQ(all[1].objects, 2);
  EXPECT_EQ(all[1].pixels, 23);
  EXPECT_EQ(all[1].largest, 20);
  EXPECT_EQ(all[2].objects, 2);
  EXPECT_EQ(all[0].pixels, 400 - 29);
  const auto big = engine::remove_small_objects(labels, 3, 5);
  EXPECT_EQ(big[1].objects, 1);
  EXPECT_EQ(big[1].pixels, 20);
  EXPECT_EQ(big[2].objects, 1);
  EXPECT_EQ(big[2].largest, 5);
  EXPECT_EQ(labels[0][0].item<int>(), 0);
  EXPECT_EQ(labels[19][19].item<int>(), 0);
  EXPECT_EQ(labels[15][4].item<int>(), 2);
  EXPECT_EQ(big[0].pixels, 400 - 25);
}

TEST_F(PredictFiles, MinSizeLargerThanEveryObjectLeavesBackground) {
  auto o = options();
  o.inputs = {(images_ / "gray8.png").string()};
  o.min_size = 1000000;  // larger than any object: everything becomes background
  const auto r = engine::predict_files(o);
  ASSERT_EQ(r.predicted, 1);
  data::MaskEncoding three;
  three.num_classes = 3;
  EXPECT_EQ(
      data::read_mask((out_ / "gray8.png").string(), three).indices.count_nonzero().item<int64_t>(),
      0);
  EXPECT_NE(read(r.csv).find("gray8.png,64,64,1,resize,0,0,0,0,0,0,"), std::string::npos)
      << read(r.csv);
}

TEST_F(PredictFiles, AMatIsReadAsTheSameFileWouldBe) {
  for (const char* name : {"gray8.png", "rgb.jpg", "rgba.png", "deep16.tif"}) {
    const auto path = (images_ / name).string();
    const cv::Mat mat = cv::imread(path, cv::IMREAD_UNCHANGED);
    EXPECT_TRUE(torch::equal(data::image_from_mat(mat), data::read_image(path))) << name;
  }
  const Predictor predictor(checkpoint_);
  const cv::Mat bgr = cv::imread((images_ / "rgb.jpg").string(), cv::IMREAD_UNCHANGED);
  const auto from_mat = data::predict(predictor, bgr);
  const auto from_file = predictor.predict(data::read_image((images_ / "rgb.jpg").string()));
  EXPECT_TRUE(torch::equal(from_mat.labels, from_file.labels));
  const cv::Mat labels = data::to_mat(from_mat.labels);
  EXPECT_EQ(labels.type(), CV_8UC1);
  EXPECT_EQ(labels.size(), bgr.size());
  ASSERT_THROWS_WITH(data::image_from_mat(cv::Mat()), "empty");
}

TEST_F(PredictFiles, AVolumeGivesALabelVolumeWithTheSameGeometry) {
  const auto volumes = dir_.path() / "volumes";
  // 40 x 36 x 5 voxels of 0.8 x 0.7 x 2.5 mm, an oblique affine, CT-like values.
  write_volume(
      volumes / "case_7.nii.gz", 40, 36, 5, DT_INT16,
      [](int64_t i, int64_t j, int64_t k) { return (i * 7 + j * 3 + k * 50) % 400 - 100; },
      [](nifti_image& nim) {
        nim.dx = nim.pixdim[1] = 0.8;
        nim.dy = nim.pixdim[2] = 0.7;
        nim.dz = nim.pixdim[3] = 2.5;
        nim.sform_code = NIFTI_XFORM_SCANNER_ANAT;
        const double affine[3][4] = {{0.8, 0.1, 0, -20}, {0, 0.7, 0.2, 15}, {0, 0, 2.5, 30}};
        for (int r = 0; r < 3; ++r) {
          for (int c = 0; c < 4; ++c) nim.sto_xyz.m[r][c] = affine[r][c];
        }
        nim.sto_ijk = nifti_dmat44_inverse(nim.sto_xyz);
      });
  auto o = options();
  o.inputs = {volumes.string(), (images_ / "gray8.png").string()};
  o.volumes.intensity = data::Intensity::kWindow;
  o.volumes.window_centre = 40;
  o.volumes.window_width = 400;
  const auto r = engine::predict_files(o);
  EXPECT_TRUE(r.failures.empty());
  EXPECT_EQ(r.predicted, 2);
  const auto written = out_ / "case_7.nii.gz";
  ASSERT_TRUE(fs::exists(written));
  const std::unique_ptr<nifti_image, void (*)(nifti_image*)> in(
      nifti_image_read((volumes / "case_7.nii.gz").c_str(), 0), nifti_image_free);
  const std::unique_ptr<nifti_image, void (*)(nifti_image*)> got(
      nifti_image_read(written.c_str(), 1), nifti_image_free);
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(got->datatype, DT_UINT8);
  for (int d = 0; d < 8; ++d) EXPECT_EQ(got->dim[d], in->dim[d]) << "dim " << d;
  for (int d = 1; d < 4; ++d) EXPECT_FLOAT_EQ(got->pixdim[d], in->pixdim[d]) << "pixdim " << d;
  EXPECT_EQ(got->sform_code, in->sform_code);
  EXPECT_EQ(got->qform_code, in->qform_code);
  for (int row = 0; row < 4; ++row) {
    for (int col = 0; col < 4; ++col) {
      EXPECT_NEAR(got->sto_xyz.m[row][col], in->sto_xyz.m[row][col], 1e-6);
      EXPECT_NEAR(got->qto_xyz.m[row][col], in->qto_xyz.m[row][col], 1e-6);
    }
  }
  // Each slice holds what predicting that slice as an image gives.
  const auto slices = data::read_volume_slices((volumes / "case_7.nii.gz").string(), o.volumes);
  ASSERT_EQ(slices.slices.size(), 5u);
  const auto labels = data::read_label_slices(written.string(), 2);
  const Predictor predictor(checkpoint_, o.predictor);
  for (size_t k = 0; k < 5; ++k) {
    EXPECT_TRUE(torch::equal(labels[k], predictor.predict(slices.slices[k]).labels)) << k;
  }
  const auto* voxels = static_cast<const uint8_t*>(got->data);
  EXPECT_LT(*std::max_element(voxels, voxels + got->nvox), 3);
  // The CSV row counts the slices; a rerun skips the volume.
  EXPECT_NE(read(out_ / "predictions.csv").find("case_7.nii.gz,36,40,5,"), std::string::npos);
  const auto again = engine::predict_files(o);
  EXPECT_EQ(again.skipped, 2);
  EXPECT_EQ(again.predicted, 0);
  // A file named .nii.gz that is not a volume is named and skipped.
  std::ofstream((volumes / "broken.nii.gz").string()) << "not a volume";
  const auto broken = engine::predict_files(o);
  ASSERT_EQ(broken.failures.size(), 1u);
  EXPECT_NE(broken.failures[0].find("broken.nii.gz"), std::string::npos);
  EXPECT_FALSE(fs::exists(out_ / "broken.nii.gz"));
}

TEST_F(PredictFiles, TheExampleProgramSegmentsAnImageFile) {
  if (std::string(SVANET_PREDICT_IMAGE_PATH).empty()) GTEST_SKIP() << "examples not built";
  const auto out = (dir_.path() / "labels.png").string();
  const auto r = run_command(std::string(SVANET_PREDICT_IMAGE_PATH) + " " + checkpoint_ + " " +
                             (images_ / "wide.bmp").string() + " " + out + " 2>&1");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("45 x 150 labels (sliding mode)"), std::string::npos) << r.output;
  EXPECT_EQ(data::image_size(out), (std::array<int64_t, 2>{45, 150}));
}

}  // namespace
}  // namespace svanet::test
