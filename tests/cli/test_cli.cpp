// The svanet program end to end, and its parser's consistency.

#include "support/official_fill.h"
#include "support/test_support.h"

#include "commands.h"
#include "svanet/config/train_config.h"
#include "svanet/data/image_io.h"
#include "svanet/io/checkpoint.h"
#include "svanet/io/pytorch_file.h"
#include "svanet/metrics/registry.h"
#include "svanet/utils/atomic_file.h"
#include "svanet/utils/text.h"

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

namespace svanet::test {
namespace {

CommandResult run(const std::string& args) {
  return run_command(std::string(SVANET_CLI_PATH) + " " + args + " 2>&1");
}

TEST(Cli, PrintsItsVersion) {
  const auto r = run("version");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("svanet 0.1.0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("LibTorch"), std::string::npos) << r.output;
}

TEST(Cli, ListsModelsWithParametersAndMacs) {
  auto r = run("models --no-macs --filter svanet_test");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("svanet_test"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("367198"), std::string::npos) << r.output;
  r = run("models --filter unet_small --image-size 64 --num-classes 3 --options");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("GMACs@64"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("base_channels"), std::string::npos) << r.output;
}

TEST(Cli, ListsEveryKindOfRegisteredComponentWithItsOptions) {
  auto r = run("list");
  EXPECT_EQ(r.status, 0) << r.output;
  for (const char* text :
       {"models (17)", "losses (7)", "optimizers (3)", "schedules (4)", "datasets (8)",
        "converters (3)", "svanet_r50_no_svattn", "pretrained_backbone", "focal_gamma", "nesterov",
        "official_cosine", "kits23"}) {
    EXPECT_NE(r.output.find(text), std::string::npos) << text << "\n" << r.output;
  }
  r = run("list losses");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("class_weights"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("float list = []"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("svanet_r50"), std::string::npos) << r.output;
  r = run("list schedules --names");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("official_cosine\ncosine\npoly\nconstant\n"), std::string::npos)
      << r.output;
  r = run("list gadgets");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("unknown kind 'gadgets'; kinds: models, losses"), std::string::npos)
      << r.output;
}

/// Runs `args`, expecting exit status `status` and `text` in the output.
void expect_failure(const std::string& args, int status, const std::string& text) {
  const auto r = run(args);
  EXPECT_EQ(r.status, status) << args << "\n" << r.output;
  EXPECT_NE(r.output.find(text), std::string::npos) << args << "\n" << r.output;
}

TEST(Cli, ConvertDatasetWritesADatasetSvanetReadsAndRefusesToReplaceIt) {
  TempDir tmp;
  const auto src = tmp.path() / "Kvasir-SEG";
  std::filesystem::create_directories(src / "images");
  std::filesystem::create_directories(src / "masks");
  for (int i = 0; i < 5; ++i) {
    cv::Mat mask = cv::Mat::zeros(40, 48, CV_8UC1);
    mask(cv::Rect(10 + i, 10, 12, 12)).setTo(255);
    ASSERT_TRUE(cv::imwrite((src / "images" / ("p" + std::to_string(i) + ".jpg")).string(),
                            cv::Mat(40, 48, CV_8UC3, cv::Scalar(20, 60, 180))));
    ASSERT_TRUE(cv::imwrite((src / "masks" / ("p" + std::to_string(i) + ".jpg")).string(), mask));
  }
  const auto dst = tmp.path() / "kvasir";
  auto r = run("convert-dataset kvasir " + src.string() + " -o " + dst.string() +
               " --param test_fraction=0.4");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("images test 2, train 3; objects polyp 5"), std::string::npos)
      << r.output;
  r = run("check-data " + dst.string());
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("5 of 5 samples usable"), std::string::npos) << r.output;
  expect_failure("convert-dataset kvasir " + src.string() + " -o " + dst.string(), 1,
                 "already exists and is not empty; --overwrite replaces it");
  expect_failure("convert-dataset kvasir " + src.string() + " -o " + (tmp.path() / "x").string() +
                     " --param test_fraction",
                 1, "--param 'test_fraction': expected KEY=VALUE");
  expect_failure("convert-dataset kvasir " + src.string() + " -o " + (tmp.path() / "x").string() +
                     " --param lesions=ma",
                 1, "unknown option 'lesions' for converter 'kvasir'");
  expect_failure("convert-dataset kvasr " + src.string() + " -o " + (tmp.path() / "x").string(), 1,
                 "unknown converter 'kvasr'");
  EXPECT_FALSE(std::filesystem::exists(tmp.path() / "x"));
  r = run("list converters");
  EXPECT_EQ(r.status, 0) << r.output;
  for (const char* text : {"dsb2018", "idrid", "kvasir", "lesions", "min_object_pixels"}) {
    EXPECT_NE(r.output.find(text), std::string::npos) << text << "\n" << r.output;
  }
}

TEST(Cli, UsageErrorsExitWithTwoAndNameTheWord) {
  expect_failure("evalute --run x", 2, "unknown command 'evalute' (did you mean 'evaluate'?)");
  expect_failure("", 2, "give a command: train, demo, evaluate");
  expect_failure("evaluate --chekpoint best", 2,
                 "svanet evaluate: unknown flag '--chekpoint' (did you mean '--checkpoint'?)");
  expect_failure("evaluate --chekpoint best", 2, "(svanet evaluate --help lists what it takes)");
  expect_failure("--threads -1 models", 2, "svanet: --threads: must be 0 or more, got -1");
  expect_failure("--threads -1 models", 2, "(svanet --help lists what it takes)");
  // Far more threads than the machine has are capped, not started.
  const auto capped = run("--threads 100000 version");
  EXPECT_EQ(capped.status, 0) << capped.output;
  EXPECT_NE(capped.output.find("--threads 100000 is more than this machine's"), std::string::npos)
      << capped.output;
  expect_failure("train --repeats -4", 2, "--repeats: must be positive, got -4");
  expect_failure("models --image-size 7", 2, "--image-size");
  expect_failure("predict -m x -i y", 2, "svanet predict: --out is required");
  // A bad matching rule, and flags of an older svanet, say what is accepted.
  expect_failure("evaluate --pred a --gt b -o c --match iou:2", 2,
                 "--match: matching rule 'iou:2': the IoU must be in (0, 1]");
  expect_failure("evaluate --pred a --gt b -o c --iou-threshold 0.5", 2,
                 "svanet evaluate: --iou-threshold: was replaced by --match");
  expect_failure("calibrate runs/x --iou 0.2", 2, "--iou: was replaced by --match iou:T");
  // Defaults are shown for every flag, sentinels by what they stand for.
  auto help = run("slice-volumes --help");
  EXPECT_NE(help.output.find("=dataset's"), std::string::npos) << help.output;
  EXPECT_NE(help.output.find("--stride INT:NUMBER > 0=4"), std::string::npos) << help.output;
  help = run("evaluate --help");
  EXPECT_NE(help.output.find("=run config's"), std::string::npos) << help.output;
  // --version and `svanet version` print the same.
  const auto a = run("--version");
  const auto b = run("version");
  EXPECT_EQ(a.status, 0);
  EXPECT_EQ(a.output, b.output);
}

TEST(Cli, BadFilesAndFoldersAreNamedWithTheProblem) {
  TempDir dir;
  expect_failure("convert-official " + (data_dir() / "pytorch" / "not_pytorch.pth").string() +
                     " -o " + (dir.path() / "x.pt").string(),
                 1, "not_pytorch.pth: not a PyTorch file");
  expect_failure("convert-official " + (dir.path() / "missing.pth").string() + " -o " +
                     (dir.path() / "x.pt").string(),
                 1, "missing.pth: no such file");
  expect_failure("checkpoint-info " + (data_dir() / "pytorch" / "zip_ordered.pth").string(), 1,
                 "not an svanet file");
  expect_failure("checkpoint-info " + dir.path().string(), 1,
                 "neither a checkpoint nor a run folder");
  expect_failure("train -c " + dir.path().string(), 1, ": is a folder, expected a config file");
  expect_failure("evaluate --gt " + (data_dir() / "pytorch" / "zip_ordered.pth").string() +
                     " --pred " + dir.path().string() + " --class-names a,b -o " +
                     (dir.path() / "e").string(),
                 1, "zip_ordered.pth: is a file, expected a ground-truth folder");
  expect_failure("evaluate --gt " + (dir.path() / "gone").string() + " --pred " +
                     dir.path().string() + " --class-names a,b -o " + (dir.path() / "e").string(),
                 1, "gone: no such ground-truth folder");
  expect_failure("demo-data --count 3 --size 32 -o /proc/svanet_demo", 1,
                 "cannot create /proc/svanet_demo");
  expect_failure("evaluate -r " + dir.path().string() + " --device cuda:9", 1, "not a run folder");
}

TEST(Cli, ConvertsAnOfficialCheckpointAndDescribesIt) {
  std::ifstream in(data_dir() / "parity" / "official_state_dicts.json");
  const auto variants = nlohmann::json::parse(in);
  io::StateDict sd;
  for (const auto& entry : variants.at("deeplabv3_baseline").at("state_dict")) {
    sd.emplace_back(entry.at(0),
                    torch::zeros(entry.at(1).get<std::vector<int64_t>>(),
                                 entry.at(2) == "float32" ? torch::kFloat : torch::kLong));
  }
  TempDir dir;
  const auto official = (dir.path() / "official.pth").string();
  const auto ours = (dir.path() / "converted.pt").string();
  io::write_pytorch_state_dict(official, sd);
  auto r = run("convert-official " + official + " -o " + ours + " --class-names background,polyp");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("model deeplabv3_r50 (2 classes"), std::string::npos) << r.output;
  r = run("checkpoint-info " + ours);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("classes:       background, polyp"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("normalization: reference"), std::string::npos) << r.output;
  // And back to the official layout: the same keys, in any order.
  const auto back = (dir.path() / "back.pth").string();
  r = run("export " + ours + " -o " + back);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("in the official layout to " + back), std::string::npos) << r.output;
  std::set<std::string> expected_keys, exported_keys;
  for (const auto& [k, t] : sd) expected_keys.insert(k);
  for (const auto& [k, t] : io::read_pytorch_state_dict(back)) exported_keys.insert(k);
  EXPECT_EQ(exported_keys, expected_keys);
  // Output files are not replaced unless asked.
  r = run("export " + ours + " -o " + back);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find(back + " already exists; --overwrite replaces it"), std::string::npos)
      << r.output;
  EXPECT_EQ(run("export " + ours + " -o " + back + " --overwrite").status, 0);
  // An explicit model that does not fit the weights is refused, naming tensors.
  r = run("convert-official " + official + " -o " + ours +
          " --architecture svanet_r18 --overwrite");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("official.pth: "), std::string::npos) << r.output;
}

TEST(Cli, WritesAndChecksTheDemoDataset) {
  TempDir dir;
  auto r = run("demo-data -o " + dir.path().string() + " --count 12 --size 64 --seed 4");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("train 8, val 2, test 2 images of 64x64"), std::string::npos) << r.output;
  // Never mixed into an existing set.
  r = run("demo-data -o " + dir.path().string() + " --count 12 --size 64 --seed 4");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("Demo already exists and is not empty; --overwrite replaces it"),
            std::string::npos)
      << r.output;
  r = run("check-data " + dir.path().string());
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("0 error(s), 0 warning(s); 12 of 12 samples usable"), std::string::npos)
      << r.output;
  const auto mask = dir.path() / "Demo" / "mask" / "demo_0000.png";
  std::filesystem::remove(mask);
  r = run("check-data " + dir.path().string() + " --dataset demo");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("error: " + (dir.path() / "Demo" / "train" / "demo_0000.png").string() +
                          ": no mask with the stem 'demo_0000'"),
            std::string::npos)
      << r.output;
}

TEST(Cli, InitConfigWritesAConfigThatTrains) {
  TempDir dir;
  ASSERT_EQ(run("demo-data -o " + dir.path().string() + " --count 12 --size 64").status, 0);
  const auto config = dir.path() / "my.yaml";
  auto r = run("init-config --data " + dir.path().string() + " -o " + config.string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("image size 64, crops of 64"), std::string::npos) << r.output;
  const std::string text = [&] {
    std::ifstream in(config);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  EXPECT_NE(text.find("classes: background, lesion, nucleus"), std::string::npos) << text;
  EXPECT_NE(text.find("12 images with masks (test 2, train 8, val 2)"), std::string::npos) << text;
  const auto parsed = config::load_train_config(config.string());
  EXPECT_EQ(parsed.data.root, std::filesystem::absolute(dir.path()).lexically_normal().string());
  EXPECT_EQ(parsed.model.options.image_size(), 64);
  // It trains (one epoch here) and is not overwritten unless asked.
  r = run("train -c " + config.string() +
          " --epochs 1 --set train.device=cpu --set "
          "evaluate.after_training=false -o " +
          (dir.path() / "run").string());
  EXPECT_EQ(r.status, 0) << r.output;
  r = run("init-config --data " + dir.path().string() + " -o " + config.string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("already exists; --overwrite replaces it"), std::string::npos);
  // And --fold picks a cross-validation fold of 5 by default.
  r = run("train -c " + config.string() + " --fold 7 -o " + (dir.path() / "fold").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("fold 7 of 5"), std::string::npos) << r.output;
}

TEST(Cli, TrainRejectsBadConfigsAndFlagsWithAMessage) {
  TempDir dir;
  const auto config = dir.path() / "bad.yaml";
  std::ofstream(config) << "model: {name: svanet_test}\ntrain:\n  epocs: 3\n";
  auto r = run("train --config " + config.string() + " --out " + (dir.path() / "run").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find(config.string() +
                          ":3:3: unknown key 'train.epocs' (did you mean 'epochs'?); valid keys: "
                          "epochs"),
            std::string::npos)
      << r.output;
  // A refused run leaves no folder behind, so the same command can be run
  // again (and fails the same way, not with "already exists").
  const auto good = dir.path() / "good.yaml";
  std::ofstream(good) << "model: {name: svanet_test}\ntrain: {epochs: 1, device: cpu}\n";
  for (int i = 0; i < 2; ++i) {
    r = run("train -c " + good.string() + " --data " + (dir.path() / "nowhere").string() + " -o " +
            (dir.path() / "run").string());
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.output.find("nowhere"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("already exists"), std::string::npos) << r.output;
    EXPECT_FALSE(std::filesystem::exists(dir.path() / "run"));
  }
  r = run("train --config " + config.string() + " --set train.epochs");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("expected key=value"), std::string::npos) << r.output;
  r = run("train --resume " + dir.path().string() + " --set train.epochs=3");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--resume continues a run as it was configured"), std::string::npos)
      << r.output;
  r = run("train --resume " + (dir.path() / "nothing").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("not a run folder"), std::string::npos) << r.output;
  r = run("train");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("give --config"), std::string::npos) << r.output;
}

/// Writes an (H, W) mask of class indices as a palette PNG.
void write_mask(const std::filesystem::path& path, const torch::Tensor& m) {
  std::filesystem::create_directories(path.parent_path());
  data::write_mask_png(path.string(), m);
}

TEST(Cli, EvaluatesMaskFoldersAndComparesEvaluations) {
  TempDir dir;
  const auto gt = dir.path() / "gt", pred = dir.path() / "pred";
  for (int i = 0; i < 3; ++i) {
    auto g = torch::zeros({32, 32}, torch::kByte);
    g.slice(0, 4, 12).slice(1, 4 + i, 12 + i).fill_(1);
    g[25][25] = 1;  // a dot nobody finds
    auto p = torch::zeros({32, 32}, torch::kByte);
    p.slice(0, 5, 12).slice(1, 4 + i, 12 + i).fill_(1);
    const std::string name = "case" + std::to_string(i) + ".png";
    write_mask(gt / name, g);
    write_mask(pred / name, p);
  }
  const auto out = dir.path() / "eval";
  auto r = run("evaluate --pred " + pred.string() + " --gt " + gt.string() +
               " --class-names background,lesion --out " + out.string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("3 cases\nper case (foreground means): Dice 0.926"), std::string::npos)
      << r.output;
  for (const char* f :
       {"summary.json", "per_case.csv", "per_object.csv", "size_bins.csv", "report.html"}) {
    EXPECT_TRUE(std::filesystem::exists(out / f)) << f;
  }
  const auto summary = nlohmann::json::parse(std::ifstream(out / "summary.json"));
  const auto& all = summary.at("objects").back();
  EXPECT_EQ(all.at("bin"), "all");
  EXPECT_EQ(all.at("counts").at("gt_objects").get<int>(), 6);
  EXPECT_EQ(all.at("counts").at("detected").get<int>(), 3);
  // Dice of each case: 2 * 56 / (65 + 56) with the dot.
  EXPECT_NEAR(summary.at("per_class").at(0).at("dice").at("mean").get<double>(), 112.0 / 121.0,
              1e-9);
  // The report leads with the smallest objects: the dots (1 px, under 0.1 %
  // of the image) are never found, the squares always.
  const std::string report = [&] {
    std::ifstream in(out / "report.html");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  // Smallest bin: nothing predicted that small (F1 0, no precision), PQ 0,
  // recall 0. All sizes: the squares at IoU 56/64, the dots missed: recall
  // 0.5, precision 1, F1 2/3, PQ 3 * 0.875 / (3 + 3/2).
  EXPECT_NE(
      report.find("<tr><td>lesion</td><td>&lt;0.1 % of the image</td><td>0.000</td><td>0.000</td>"
                  "<td>0.000</td><td>-</td><td>0 of 3</td><td>0.667</td><td>0.583</td>"
                  "<td>0.500</td><td>1.000</td><td>3 of 6</td></tr>"),
      std::string::npos)
      << report.substr(0, 6000);
  EXPECT_EQ(report.find("class=warn"), std::string::npos);
  EXPECT_NE(report.find("3 ground-truth objects were not found; the gallery shows 3 of them."),
            std::string::npos);
  EXPECT_NE(report.find("<a href=\"per_object.csv\">per_object.csv</a>"), std::string::npos);
  EXPECT_NE(report.find("<span style=\"background:#3cc83c\"></span>ground truth"),
            std::string::npos);
  // A second evaluation with an IoU threshold, and the table across both.
  const auto strict = dir.path() / "strict";
  r = run("evaluate --pred " + pred.string() + " --gt " + gt.string() +
          " --class-names background,lesion --match iou:0.9 --out " + strict.string());
  ASSERT_EQ(r.status, 0) << r.output;
  r = run("compare " + out.string() + " " + strict.string() +
          " --metrics dice,object_recall --out " + (dir.path() / "table").string());
  ASSERT_EQ(r.status, 0) << r.output;
  // Each metric with its decimals; the rules differ, so they are a column.
  EXPECT_NE(r.output.find("| run | n | match | dice | object_recall |"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("| eval | 1 | iou:0.1 | 0.926 | 0.500 |"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("| strict | 1 | iou:0.9 | 0.926 | 0.000 |"), std::string::npos)
      << r.output;
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "table" / "compare.tex"));
  // Earlier results are not replaced unless asked.
  r = run("evaluate --pred " + pred.string() + " --gt " + gt.string() +
          " --class-names background,lesion --out " + out.string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("eval already exists and is not empty; --overwrite replaces it"),
            std::string::npos)
      << r.output;
  // A ground truth without its prediction is an error naming the file, and
  // the refused --overwrite leaves the earlier evaluation in place (staging
  // itself is tested in Evaluate.RefusesAnExistingOutput...).
  std::filesystem::remove(pred / "case1.png");
  r = run("evaluate --pred " + pred.string() + " --gt " + gt.string() +
          " --class-names background,lesion --overwrite --out " + out.string());
  EXPECT_EQ(r.status, 1);
  EXPECT_TRUE(std::filesystem::exists(out / "summary.json"));
  EXPECT_NE(r.output.find((gt / "case1.png").string() + ": no prediction with the stem 'case1'"),
            std::string::npos)
      << r.output;
  r = run("compare " + gt.string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("no evaluation found"), std::string::npos) << r.output;
}

/// The cells of a CSV with a header row, by column name, one map per row.
std::vector<std::map<std::string, std::string>> read_csv(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  const auto header = utils::split(line, ',');
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto cells = utils::split(line, ',');
    cells.resize(header.size());
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < header.size(); ++i) row[header[i]] = cells[i];
    rows.push_back(std::move(row));
  }
  return rows;
}

nlohmann::json read_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

/// The value a study cell must hold: the mean of `values` (NaN: empty).
void expect_cell(const std::map<std::string, std::string>& row, const std::string& column,
                 const std::vector<double>& values) {
  SCOPED_TRACE(column);
  ASSERT_TRUE(row.count(column)) << "no column " << column;
  double sum = 0.0;
  for (const double v : values) sum += v;
  const double mean = sum / static_cast<double>(values.size());
  if (!std::isfinite(mean)) {
    EXPECT_EQ(row.at(column), "");
    return;
  }
  ASSERT_NE(row.at(column), "");
  EXPECT_NEAR(std::stod(row.at(column)), mean, 1e-12 * std::max(1.0, std::fabs(mean)));
}

double json_value(const nlohmann::json& v) {
  return v.is_null() ? std::nan("") : v.get<double>();
}

/// 16 demo images of 64² in DIR/data and DIR/tiny.yaml, a one-epoch
/// training of the test model on them with the evaluate section `evaluate`.
std::filesystem::path write_tiny_demo(const TempDir& dir, const std::string& evaluate) {
  const auto data = dir.path() / "data";
  const auto r = run("demo-data -o " + data.string() + " --count 16 --size 64");
  EXPECT_EQ(r.status, 0) << r.output;
  const auto config = dir.path() / "tiny.yaml";
  std::ofstream(config) << "model: {name: svanet_test, image_size: 64}\n"
                        << "data: {root: " << data.string()
                        << ", dataset: demo, batch_size: 4, augment: {size: 64}}\n"
                        << "train: {epochs: 1, device: cpu}\nevaluate: " << evaluate << "\n";
  return config;
}

TEST(Cli, AStudyTabulatesItsRunsAsTheirSummariesSayAndDrawsThem) {
  TempDir dir;
  const auto config = write_tiny_demo(dir, "{overlays: 0}");
  // One run of two repeats, one of one (without Monte Carlo attention).
  const auto two = dir.path() / "runs" / "two", one = dir.path() / "runs" / "one";
  auto r = run("train -c " + config.string() + " --set train.repeats=2 -o " + two.string());
  ASSERT_EQ(r.status, 0) << r.output;
  r = run("train -c " + config.string() + " --set model.options.monte_carlo_attention=false -o " +
          one.string());
  ASSERT_EQ(r.status, 0) << r.output;
  const auto out = dir.path() / "study";
  r = run("study " + two.string() + " " + one.string() + " --reference two -o " + out.string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("| two | 2 |"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("difference to two"), std::string::npos) << r.output;

  const auto rows = read_csv(out / "study.csv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].at("run"), "two");
  EXPECT_EQ(rows[0].at("n"), "2");
  EXPECT_EQ(rows[1].at("n"), "1");
  const std::vector<std::vector<std::filesystem::path>> runs{{two / "repeat_0", two / "repeat_1"},
                                                             {one}};
  for (size_t i = 0; i < runs.size(); ++i) {
    SCOPED_TRACE(rows[i].at("run"));
    std::vector<nlohmann::json> summaries;
    for (const auto& run_dir : runs[i]) {
      summaries.push_back(read_json(run_dir / "eval_test" / "summary.json"));
    }
    auto each = [&](const std::function<double(const nlohmann::json&)>& get) {
      std::vector<double> v;
      for (const auto& s : summaries) v.push_back(get(s));
      return v;
    };
    for (const char* key : {"dice", "iou", "object_recall", "object_precision", "object_f1",
                            "object_dice", "ref_miou", "ref_mdice"}) {
      expect_cell(rows[i], std::string(key) + "_mean",
                  each([&](const nlohmann::json& s) { return json_value(s["headline"][key]); }));
    }
    auto ultra_small = [](const nlohmann::json& s) {
      for (const auto& b : s["size_bins"]) {
        if (b["cumulative"].get<bool>() && b["label"] == "<1") return b;
      }
      ADD_FAILURE() << "no <1 bin";
      return nlohmann::json();
    };
    expect_cell(rows[i], "us_ref_miou_mean", each([&](const nlohmann::json& s) {
                  return json_value(ultra_small(s)["reference"]["metrics"]["ref_miou"]);
                }));
    expect_cell(rows[i], "us_dice_mean", each([&](const nlohmann::json& s) {
                  // A local: a range-for over a member of a temporary reads freed memory.
                  const auto bin = ultra_small(s);
                  for (const auto& c : bin["per_class"]) {
                    if (c["class"] == 0) return json_value(c["dice"]["mean"]);
                  }
                  return std::nan("");
                }));
    int bins = 0;
    for (const auto& o : summaries[0]["objects"]) {
      if (o["class"] != 0 || o["bin"] == "all") continue;
      const std::string bin = o["bin"].get<std::string>();
      ++bins;
      for (const char* metric : {"object_recall", "object_dice"}) {
        expect_cell(rows[i], std::string(metric) + "_" + bin + "_mean",
                    each([&](const nlohmann::json& s) {
                      for (const auto& x : s["objects"]) {
                        if (x["class"] == 0 && x["bin"] == bin) {
                          return json_value(x["metrics"][metric]);
                        }
                      }
                      return std::nan("");
                    }));
      }
    }
    EXPECT_EQ(bins, 5);
    // Training speed: the median of metrics.csv's images_per_s (one epoch here).
    std::vector<double> speeds;
    for (const auto& run_dir : runs[i]) {
      speeds.push_back(std::stod(read_csv(run_dir / "metrics.csv").front().at("images_per_s")));
    }
    expect_cell(rows[i], "train_images_per_s_mean", speeds);
    // Training minutes: the sum of metrics.csv's seconds.
    std::vector<double> minutes;
    for (const auto& run_dir : runs[i]) {
      double total = 0;
      for (const auto& row : read_csv(run_dir / "metrics.csv"))
        total += std::stod(row.at("seconds"));
      minutes.push_back(total / 60.0);
    }
    expect_cell(rows[i], "train_minutes_mean", minutes);
    EXPECT_GT(std::stod(rows[i].at("gmacs_mean")), 0.0);
  }
  // The model without MCAttn is smaller; differences are row minus reference.
  EXPECT_LT(std::stod(rows[1].at("parameters_m_mean")), std::stod(rows[0].at("parameters_m_mean")));
  EXPECT_EQ(rows[0].at("dice_difference"), "0");
  EXPECT_NEAR(std::stod(rows[1].at("dice_difference")),
              std::stod(rows[1].at("dice_mean")) - std::stod(rows[0].at("dice_mean")), 1e-12);
  // The chart: a panel per featured object metric, one line per run.
  int panels = 0;
  for (const auto* m : metrics::metrics_of(metrics::MetricScope::kObjects)) {
    panels += m->traits.featured ? 1 : 0;
  }
  const cv::Mat png = cv::imread((out / "study.png").string());
  ASSERT_FALSE(png.empty());
  EXPECT_EQ(png.cols, 900);
  EXPECT_EQ(png.rows, 330 * panels);
  const std::string tex = [&] {
    std::ifstream in(out / "study.tex");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  EXPECT_NE(tex.find("\\begin{tabular}"), std::string::npos);
  EXPECT_NE(tex.find("recall $<$0.1"), std::string::npos) << tex;
  // Not replaced unless asked; a reference that is no row is named.
  r = run("study " + two.string() + " -o " + out.string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("already exists; --overwrite replaces it"), std::string::npos);
  r = run("study " + two.string() + " " + one.string() + " --reference tow");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--reference 'tow' is not a row (did you mean 'two'?)"),
            std::string::npos)
      << r.output;
  r = run("study " + two.string() + " " + two.string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("two runs are labelled 'two'"), std::string::npos) << r.output;
}

TEST(Cli, AFloodingModelFindsNothingInEvaluateAndCalibrateAndTheReportSaysSo) {
  TempDir dir;
  const auto config = write_tiny_demo(dir, "{overlays: 0, after_training: false, precision: fp32}");
  const auto run_dir = dir.path() / "run";
  auto r = run("train -c " + config.string() + " -o " + run_dir.string());
  ASSERT_EQ(r.status, 0) << r.output;
  // The model made to label every pixel 'lesion' (class 1): its classifier's
  // bias for the class raised far above the others.
  const auto best = (run_dir / "checkpoints" / "best.pt").string();
  auto loaded = io::load_checkpoint(best);
  torch::Tensor bias;
  for (const auto& p : loaded.model->named_parameters()) {
    if (p.value().dim() == 1 && p.value().size(0) == 3) bias = p.value();
  }
  ASSERT_TRUE(bias.defined());
  {
    torch::NoGradGuard no_grad;
    bias[1].add_(1000.0);
  }
  io::save_checkpoint(best, *loaded.model, loaded.meta);

  const auto eval = dir.path() / "eval";
  r = run("evaluate -r " + run_dir.string() + " --split val --threshold argmax -o " +
          eval.string());
  ASSERT_EQ(r.status, 0) << r.output;
  const auto summary = read_json(eval / "summary.json");
  ASSERT_EQ(summary["coverage"]["predicted_pixels"], summary["coverage"]["pixels"]);
  nlohmann::json lesion;
  for (const auto& b : summary["objects"]) {
    if (b["class"] == 1 && b["bin"] == "all") lesion = b;
  }
  ASSERT_FALSE(lesion.is_null());
  // Under the default rule a flood finds nothing and is a false positive.
  EXPECT_GT(lesion["counts"]["gt_objects"].get<int>(), 0);
  EXPECT_EQ(lesion["counts"]["detected"].get<int>(), 0);
  EXPECT_EQ(lesion["metrics"]["object_recall"].get<double>(), 0.0);
  EXPECT_EQ(lesion["metrics"]["object_precision"].get<double>(), 0.0);
  // The console, summary.json and the report say it is a flood.
  EXPECT_NE(r.output.find("warning: A flood: the prediction labels over half of all pixels"),
            std::string::npos)
      << r.output;
  EXPECT_NE(summary["warnings"][0].get<std::string>().find("A flood"), std::string::npos);
  const std::string report = utils::read_file((eval / "report.html").string());
  EXPECT_NE(report.find("<div class=warn><b>Warning.</b> A flood: the prediction labels over "
                        "half of all pixels foreground (100 % of the pixels"),
            std::string::npos);
  // Calibration counts the same on the same split: its argmax row.
  r = run("calibrate " + run_dir.string() + " --dry-run --grid 0.5");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto at = r.output.find("lesion:\n");
  ASSERT_NE(at, std::string::npos) << r.output;
  const auto row_at = r.output.find("  argmax", at);
  std::istringstream row(r.output.substr(row_at, r.output.find('\n', row_at) - row_at));
  std::string label, objects, found, predicted, recall, precision;
  row >> label >> objects >> found >> predicted >> recall >> precision;
  EXPECT_EQ(objects, std::to_string(lesion["counts"]["gt_objects"].get<int>()));
  EXPECT_EQ(found, "0");
  EXPECT_EQ(predicted, std::to_string(lesion["counts"]["predicted"].get<int>()));
  EXPECT_EQ(recall, "0.000") << r.output;
  EXPECT_EQ(precision, "0.000") << r.output;
}

TEST(Cli, TheDemoTrainsEvaluatesAndTheTinyObjectToolReadsIt) {
  TempDir dir;
  const auto data = dir.path() / "demo_data", out = dir.path() / "run";
  // The main job at test size: 1 epoch on 64 px crops.
  auto r = run("--threads 2 demo --data " + data.string() + " --out " + out.string() +
               " --progress lines --set train.epochs=1 --set data.augment.size=64");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("generating the demo dataset"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("demo done: open " + out.string() + "/eval_test/report.html"),
            std::string::npos)
      << r.output;
  EXPECT_TRUE(std::filesystem::exists(out / "eval_test" / "report.html"));
  // Running it again continues (here: only reports) the same run.
  r = run("demo --data " + data.string() + " --out " + out.string() + " --progress lines");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("continuing the demo run"), std::string::npos) << r.output;
  // Its best checkpoint, through the run folder: epochs counted as train.log counts them.
  r = run("checkpoint-info " + out.string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("epoch:         1 (of training)"), std::string::npos) << r.output;
  // One unit everywhere: the paper's mIoU (svanet 0.1 wrote it x 100 in some
  // places) as a fraction with three decimals in metrics.csv and the
  // checkpoint (the validation), and in summary.json and the report of an
  // evaluation of the same checkpoint on the same split.
  {
    const auto& miou = metrics::metric("ref_miou");
    const double validated = std::stod(read_csv(out / "metrics.csv").back().at("val_ref_miou"));
    EXPECT_GT(validated, 0.0);
    EXPECT_LT(validated, 1.0);
    EXPECT_NE(r.output.find("(ref_miou) = " + metrics::format_metric(miou, validated)),
              std::string::npos)
        << r.output;
    const auto val = dir.path() / "eval_val";
    auto e = run("evaluate -r " + out.string() +
                 " --split val --threshold argmax --precision fp32" + " -o " + val.string());
    ASSERT_EQ(e.status, 0) << e.output;
    const double evaluated = read_json(val / "summary.json")["headline"]["ref_miou"].get<double>();
    EXPECT_NEAR(evaluated, validated, 0.01);
    const std::string text = metrics::format_metric(miou, evaluated);
    EXPECT_NE(utils::read_file((val / "report.html").string())
                  .find("<td>ref_miou</td><td>" + text + "</td>"),
              std::string::npos);
    EXPECT_NE(e.output.find("mIoU (paper) " + text), std::string::npos) << e.output;
  }
  // The tiny-objects tool (when built: -DSVANET_BUILD_TOOLS=OFF leaves it out).
  if (!std::string(SVANET_TINY_OBJECTS_PATH).empty()) {
    // The tiny-objects tool: the official columns, one row per cumulative ratio.
    const auto tiny = dir.path() / "tiny";
    auto tool = run_command(std::string(SVANET_TINY_OBJECTS_PATH) + " " + out.string() + " --out " +
                            tiny.string() + " 2>&1");
    ASSERT_EQ(tool.status, 0) << tool.output;
    std::ifstream csv(tiny / "tiny_metrics_valrpt1.csv");
    std::string header, first;
    std::getline(csv, header);
    std::getline(csv, first);
    EXPECT_EQ(header,
              "exp,SegModel,SegHead,Weight,TinyRatio,FeatureGuide,SvAttn,FGViT,FGNoStage5,FGLink,"
              "mIoU,mDice,mEM,mAE,AvgRecall,AvgPrecision,AvgF2Score");
    EXPECT_EQ(first.rfind("run,svanet_r18_tiny_fr,deeplabv3,best,0.5,2,1,1,0,2,", 0), 0u) << first;
    EXPECT_TRUE(std::filesystem::exists(tiny / "tiny_metrics_avg.csv"));
    EXPECT_TRUE(std::filesystem::exists(tiny / "tiny_objects_avg.csv"));
    // A failed run creates no output folder.
    const auto failed = dir.path() / "tiny_failed";
    const std::string bad = std::string(SVANET_TINY_OBJECTS_PATH) + " " + out.string() +
                            " --checkpoint " + (dir.path() / "none.pt").string() + " -o " +
                            failed.string() + " 2>&1";
    EXPECT_NE(std::system(bad.c_str()), 0);
    EXPECT_FALSE(std::filesystem::exists(failed));
    // Its tables are not replaced unless asked.
    tool = run_command(std::string(SVANET_TINY_OBJECTS_PATH) + " " + out.string() + " -o " +
                       tiny.string() + " 2>&1");
    EXPECT_NE(tool.status, 0) << tool.output;
    EXPECT_NE(tool.output.find("already holds tiny-object tables; --overwrite replaces them"),
              std::string::npos)
        << tool.output;
  }

  // The trained run on new images: its test split, plus one file that is
  // not an image, which is named, skipped and makes the exit status 1.
  const auto test_images = data / "Demo" / "test";
  const auto preds = dir.path() / "preds";
  std::ofstream(dir.path() / "broken.png") << "not a png";
  r = run("predict -m " + out.string() + " -i " + test_images.string() + " -i " +
          (dir.path() / "broken.png").string() + " -o " + preds.string() + " --progress lines");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("broken.png"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("predicted 45 input(s)"), std::string::npos) << r.output;
  int masks = 0;
  for (const auto& e : std::filesystem::directory_iterator(test_images)) {
    const auto mask = preds / (e.path().stem().string() + ".png");
    ASSERT_TRUE(std::filesystem::exists(mask)) << mask;
    EXPECT_EQ(data::image_size(mask.string()), data::image_size(e.path().string()));
    ++masks;
  }
  EXPECT_EQ(masks, 45);
  // Again without the broken file: everything is done already.
  r = run("predict -m " + out.string() + " -i " + test_images.string() + " -o " + preds.string());
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("skipped 45 input(s) whose outputs exist"), std::string::npos)
      << r.output;
}

TEST(CliParser, NoTwoSubcommandsGiveAFlagDifferentMeanings) {
  CLI::App app;
  const auto commands = cli::register_all(app);
  std::map<std::string, std::pair<std::string, std::string>>
      seen;  // flag -> (command, description)
  for (const auto& command : commands) {
    for (const CLI::Option* option : command.app->get_options()) {
      for (const auto& name : option->get_lnames()) {
        if (name == "help") continue;
        const auto it = seen.find(name);
        if (it == seen.end()) {
          seen[name] = {command.app->get_name(), option->get_description()};
        } else {
          // --out says what it writes: a folder or a file.
          if (name == "out") {
            EXPECT_EQ(option->get_description().rfind("Output ", 0), 0u) << command.app->get_name();
            continue;
          }
          EXPECT_EQ(it->second.second, option->get_description())
              << "--" << name << " means different things in '" << it->second.first << "' and '"
              << command.app->get_name() << "'";
        }
      }
    }
  }
  EXPECT_GT(seen.size(), 5u);
}

TEST(CliParser, ShortFlagsMeanOneThingAndEveryHelpEndsWithExamples) {
  CLI::App app{"svanet"};
  const auto commands = cli::register_all(app);
  std::map<std::string, std::string> long_of;  // -o -> out
  for (const auto& command : commands) {
    const std::string name = command.app->get_name();
    for (const CLI::Option* option : command.app->get_options()) {
      if (option->get_snames().empty() || option->get_lnames().empty()) continue;
      for (const auto& s : option->get_snames()) {
        const auto [it, inserted] = long_of.emplace(s, option->get_lnames().front());
        EXPECT_EQ(it->second, option->get_lnames().front())
            << "-" << s << " in '" << name << "' means --" << option->get_lnames().front()
            << ", elsewhere --" << it->second;
      }
    }
    // The help ends with examples that run this command.
    const std::string help = command.app->help();
    const auto examples = help.find("Examples:\n  svanet ");
    ASSERT_NE(examples, std::string::npos) << name << ":\n" << help;
    EXPECT_NE(help.find("svanet " + name, examples), std::string::npos) << name << ":\n" << help;
    // And an output, where a command writes one, is -o/--out.
    for (const char* positional : {"out", "output"}) {
      const CLI::Option* o = command.app->get_option_no_throw(positional);
      EXPECT_TRUE(o == nullptr || !o->get_positional()) << name << " takes its output positionally";
    }
  }
  EXPECT_EQ(long_of.at("o"), "out");
  EXPECT_EQ(long_of.at("c"), "config");
  EXPECT_EQ(long_of.at("m"), "model");
  EXPECT_EQ(long_of.at("i"), "input");
}

}  // namespace
}  // namespace svanet::test
