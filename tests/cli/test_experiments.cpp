// configs/ablation/ and the study scripts (shell/*.sh): every ablation file
// resolves to the model it claims; the scripts skip, resume and shard their
// runs (with a stand-in svanet that records what it is asked).

#include "support/test_support.h"

#include "svanet/config/train_config.h"
#include "svanet/models/registry.h"
#include "svanet/registry/options.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace svanet::test {
namespace {

namespace fs = std::filesystem;

fs::path repository() {
  return data_dir().parent_path().parent_path();
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), {}};
}

/// What one experiment changes, and the registered ResNet-50 variant it
/// must equal (empty: none is registered).
struct Claim {
  OptionMap switches;
  std::string registered;
  int64_t batch_size = 0;  // 0: the base's
};

const std::map<std::string, Claim>& claims() {
  static const std::map<std::string, Claim> table{
      {"full", {{}, "svanet_r50"}},
      {"no_mcattn", {{{"monte_carlo_attention", "false"}}, "svanet_r50_no_mcattn"}},
      {"no_svattn", {{{"scale_variant_attention", "false"}}, "svanet_r50_no_svattn"}},
      {"no_guidance", {{{"cross_scale_guidance", "false"}}, "svanet_r50_no_guide"}},
      {"no_former",
       {{{"bottleneck_former", "false"}, {"link_former", "false"}}, "svanet_r50_no_vit"}},
      {"no_link", {{{"link", "none"}}, "svanet_r50_no_link"}},
      {"add_link", {{{"link", "add"}}, "svanet_r50_add_link"}},
      {"no_stage5", {{{"stage5", "false"}}, "svanet_r50_no_stage5"}},
      {"deeplabv3", {{{"feature_guide", "false"}}, "deeplabv3_r50"}},
      {"cumulative_1_guidance",
       {{{"scale_variant_attention", "false"},
         {"bottleneck_former", "false"},
         {"link_former", "false"},
         {"link", "none"}},
        ""}},
      {"cumulative_2_svattn",
       {{{"bottleneck_former", "false"}, {"link_former", "false"}, {"link", "none"}}, ""}},
      {"cumulative_3_former", {{{"link_former", "false"}, {"link", "none"}}, ""}},
      {"mc_pool_1", {{{"mc_pool_sizes", "1"}}, ""}},
      {"mc_pool_12", {{{"mc_pool_sizes", "1,2"}}, ""}},
      {"mc_pool_23", {{{"mc_pool_sizes", "2,3"}}, ""}},
      {"mc_pool_1234", {{{"mc_pool_sizes", "1,2,3,4"}}, ""}},
      {"batch_2", {{}, "", 2}},
      {"batch_4", {{}, "", 4}},
  };
  return table;
}

/// Every option of `name` with `values` over its defaults, canonically
/// (the pretrained-weights path is not a model option).
OptionMap resolved(const std::string& name, OptionMap values) {
  values.erase("pretrained_backbone");
  return resolve_options(model_registry().schema(name), values, "model '" + name + "'");
}

void check_folder(const fs::path& folder, const std::string& base_model, int64_t base_batch) {
  std::set<std::string> seen;
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (entry.path().extension() != ".yaml") continue;
    const std::string stem = entry.path().stem().string();
    SCOPED_TRACE(entry.path().string());
    const auto claim = claims().find(stem);
    ASSERT_NE(claim, claims().end()) << "no claim in this test for " << entry.path();
    seen.insert(stem);
    const std::string text = read_text(entry.path());
    EXPECT_EQ(text.rfind("# ", 0), 0u) << "starts with a comment saying what it tests";
    if (stem != "full") {
      EXPECT_NE(text.find("\nbase: "), std::string::npos) << "starts from a base";
    }
    const auto config = config::load_train_config(entry.path().string());
    const auto& spec = config.model;
    // The variant the file resolves to: the base model with the switches.
    EXPECT_EQ(resolved(spec.name, spec.options.overrides()),
              resolved(base_model, claim->second.switches));
    // And, for the paper's encoder, the registered variant of that name.
    if (base_model == "svanet_r50" && !claim->second.registered.empty()) {
      EXPECT_EQ(resolved(spec.name, spec.options.overrides()),
                resolved(claim->second.registered, {}));
    }
    EXPECT_EQ(config.data.batch_size,
              claim->second.batch_size > 0 ? claim->second.batch_size : base_batch);
  }
  EXPECT_GE(seen.size(), 17u);
  for (const char* required :
       {"full", "no_mcattn", "no_svattn", "no_guidance", "no_former", "no_link", "add_link",
        "no_stage5", "deeplabv3", "cumulative_1_guidance", "cumulative_2_svattn",
        "cumulative_3_former", "mc_pool_1", "mc_pool_12", "mc_pool_23", "mc_pool_1234",
        "batch_2"}) {
    EXPECT_TRUE(seen.count(required)) << folder << " lacks " << required << ".yaml";
  }
}

TEST(AblationConfigs, EveryFileResolvesToTheModelItClaims) {
  const auto folder = repository() / "configs" / "ablation";
  check_folder(folder, "svanet_r50", 4);
  const auto paper = config::load_train_config((folder / "full.yaml").string());
  EXPECT_EQ(paper.train.epochs, 100);  // the paper's recipe, unchanged
  EXPECT_EQ(paper.train.repeats, 3);
  check_folder(folder / "light", "svanet_r18_tiny", 8);
  const auto light = config::load_train_config((folder / "light" / "full.yaml").string());
  EXPECT_EQ(light.train.repeats, 2);
  EXPECT_EQ(light.data.dataset, "demo");
}

// The study scripts, with a stand-in svanet.

struct Outcome {
  int status = -1;
  std::string output;
};

class StudyScripts : public ::testing::Test {
 protected:
  void SetUp() override {
    stub_ = dir_.path() / "svanet";
    log_ = dir_.path() / "calls.log";
    data_ = dir_.path() / "data";
    fs::create_directories(data_);
    // Records each call; `train` makes the run folder and, unless told to
    // stop at a run (STUB_INTERRUPT, exit 130 like Ctrl-C), its evaluation.
    std::ofstream(stub_) << R"SH(#!/usr/bin/env bash
echo "$*" >> "$STUB_LOG"
case "$1" in
  train)
    if [ "$2" = --resume ]; then dir=$3; else
      while [ $# -gt 0 ]; do [ "$1" = -o ] && dir=$2; shift; done
      mkdir -p "$dir"; printf 'model: {}\nevaluate:\n  threshold: argmax\n' > "$dir/config.yaml"
      if [ "$(basename "$dir")" = "${STUB_INTERRUPT:-}" ]; then exit 130; fi
    fi
    mkdir -p "$dir/eval_test"; echo "{}" > "$dir/eval_test/summary.json" ;;
  demo-data) mkdir -p "$3" ;;
esac
)SH";
    fs::permissions(stub_, fs::perms::owner_all, fs::perm_options::add);
  }

  Outcome script(const std::string& name, const std::string& args,
                 const std::string& environment = "") {
    const std::string command = "SVANET=" + stub_.string() + " SVANET_TINY_OBJECTS=/nonexistent" +
                                " STUB_LOG=" + log_.string() + " " + environment + " bash " +
                                (repository() / "shell" / name).string() + " " + args + " 2>&1";
    const auto r = run_command(command);
    return {r.status, r.output};
  }

  /// The calls recorded since the last take, one per line.
  std::vector<std::string> take_calls() {
    std::vector<std::string> calls;
    std::ifstream in(log_);
    for (std::string line; std::getline(in, line);) calls.push_back(line);
    fs::remove(log_);
    return calls;
  }

  /// The run folder names the calls trained or resumed.
  static std::vector<std::string> trained(const std::vector<std::string>& calls) {
    std::vector<std::string> names;
    for (const auto& c : calls) {
      if (c.rfind("train", 0) != 0) continue;
      const auto at = c.rfind(" -o ");
      const std::string dir = c.rfind("train --resume ", 0) == 0
                                  ? c.substr(15)
                                  : c.substr(at + 4, c.find(' ', at + 4) - at - 4);
      names.push_back(fs::path(dir).filename().string());
    }
    return names;
  }

  TempDir dir_;
  fs::path stub_, log_, data_;
};

TEST_F(StudyScripts, AnInterruptedStudyResumesWithoutRedoingFinishedRuns) {
  const auto out = dir_.path() / "runs";
  const std::string args = "--data " + data_.string() + " --out " + out.string();
  auto r = script("demo_ablation.sh", args, "STUB_INTERRUPT=no_svattn");
  EXPECT_EQ(r.status, 130) << r.output;
  EXPECT_NE(r.output.find("no_svattn: interrupted; run the same command again"), std::string::npos)
      << r.output;
  auto calls = take_calls();
  EXPECT_EQ(trained(calls), (std::vector<std::string>{"full", "no_mcattn", "no_svattn"}));
  // New runs get their config, the data root and the flags after --.
  EXPECT_NE(calls[0].find("configs/ablation/light/full.yaml --data " + data_.string()),
            std::string::npos)
      << calls[0];
  // Again: the interrupted run resumes, the finished ones are skipped, and
  // the study aggregates all six with the full model as reference.
  r = script("demo_ablation.sh", args + " -- --set train.epochs=1");
  EXPECT_EQ(r.status, 0) << r.output;
  calls = take_calls();
  ASSERT_EQ(calls.size(), 5u) << r.output;
  EXPECT_EQ(calls[0], "train --resume " + (out / "no_svattn").string());
  EXPECT_EQ(trained(calls),
            (std::vector<std::string>{"no_svattn", "no_guidance", "no_former", "deeplabv3"}));
  EXPECT_NE(calls[1].find(" --set train.epochs=1"), std::string::npos) << calls[1];
  EXPECT_EQ(calls[4].rfind("study ", 0), 0u) << calls[4];
  for (const char* row :
       {"full", "no_mcattn", "no_svattn", "no_guidance", "no_former", "deeplabv3"}) {
    EXPECT_NE(calls[4].find((out / row).string() + " "), std::string::npos) << calls[4];
  }
  EXPECT_NE(calls[4].find("--reference full -o " + (out / "study").string() + " --overwrite"),
            std::string::npos)
      << calls[4];
  EXPECT_NE(r.output.find("full: complete, skipped"), std::string::npos) << r.output;
  // A third time: nothing to train.
  r = script("demo_ablation.sh", args);
  EXPECT_EQ(r.status, 0) << r.output;
  calls = take_calls();
  EXPECT_TRUE(trained(calls).empty()) << r.output;
}

TEST_F(StudyScripts, ShardsTogetherRunEveryRunOnce) {
  const auto out = dir_.path() / "runs";
  const std::string args = "--data " + data_.string() + " --out " + out.string() + " --light demo";
  auto r = script("ablation.sh", args + " --shard 1/2");
  EXPECT_EQ(r.status, 0) << r.output;
  const auto first = trained(take_calls());
  EXPECT_NE(r.output.find("not complete yet"), std::string::npos) << r.output;
  r = script("ablation.sh", args + " --shard 2/2");
  EXPECT_EQ(r.status, 0) << r.output;
  const auto calls = take_calls();
  const auto second = trained(calls);
  EXPECT_EQ(first,
            (std::vector<std::string>{"full", "no_svattn", "no_former", "add_link", "deeplabv3"}));
  EXPECT_EQ(second, (std::vector<std::string>{"no_mcattn", "no_guidance", "no_link", "no_stage5"}));
  // The light configs, with the dataset named; the last shard's study has every row.
  EXPECT_NE(calls[0].find("configs/ablation/light/no_mcattn.yaml"), std::string::npos) << calls[0];
  EXPECT_NE(calls[0].find("--set data.dataset=demo"), std::string::npos) << calls[0];
  EXPECT_NE(calls.back().find((out / "demo" / "deeplabv3").string()), std::string::npos);
  EXPECT_NE(calls.back().find((out / "demo" / "no_mcattn").string()), std::string::npos);
  // The extra study reuses full and deeplabv3 (already complete).
  r = script("ablation_extra.sh", args + " --dry-run");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("demo/full"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("complete"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("demo/mc_pool_1234"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("demo/batch_4"), std::string::npos) << r.output;
  EXPECT_TRUE(take_calls().empty());
}

TEST_F(StudyScripts, TheSmallObjectStudyGeneratesTheTinyDataAndDerivesTheCalibratedRow) {
  const auto out = dir_.path() / "runs";
  const auto tiny = dir_.path() / "tiny_data";
  const std::string args =
      "--data " + data_.string() + " --tiny-data " + tiny.string() + " --out " + out.string();
  auto r = script("small_objects.sh", args);
  ASSERT_EQ(r.status, 0) << r.output;
  auto calls = take_calls();
  ASSERT_FALSE(calls.empty());
  // The tiny data is generated (the demo data exists), before any training.
  EXPECT_EQ(calls[0], "demo-data -o " + tiny.string() + " --kind tiny");
  const std::vector<std::string> rows{"baseline",      "sampling", "blob_loss",
                                      "full_res_head", "all",      "blob_head_calibrated"};
  std::vector<std::string> expected = rows;
  expected.insert(expected.end(), rows.begin(), rows.end());
  expected.insert(expected.end(), {"calibrated", "calibrated"});
  EXPECT_EQ(trained(calls), expected) << r.output;
  EXPECT_NE(calls[1].find("configs/small_objects/baseline.yaml --data " + data_.string()),
            std::string::npos)
      << calls[1];
  EXPECT_NE(calls[7].find("configs/small_objects/baseline.yaml --data " + tiny.string()),
            std::string::npos)
      << calls[7];
  // The calibrated row is the baseline's training, resumed with calibrated
  // thresholds; the baseline keeps the argmax.
  EXPECT_EQ(calls[13], "train --resume " + (out / "demo" / "calibrated").string());
  EXPECT_NE(read_text(out / "demo" / "calibrated" / "config.yaml").find("threshold: calibrated"),
            std::string::npos);
  EXPECT_NE(read_text(out / "demo" / "baseline" / "config.yaml").find("threshold: argmax"),
            std::string::npos);
  // One study per dataset, the baseline as reference, every row in it.
  ASSERT_EQ(calls.size(), 17u) << r.output;
  for (const char* name : {"demo", "tiny"}) {
    const auto& study = calls[std::string(name) == "demo" ? 15 : 16];
    EXPECT_EQ(study.rfind("study ", 0), 0u) << study;
    EXPECT_NE(study.find((out / name / "calibrated").string() + " "), std::string::npos) << study;
    EXPECT_NE(
        study.find("--reference baseline -o " + (out / ("study_" + std::string(name))).string()),
        std::string::npos)
        << study;
  }
  // Again: nothing to train or derive.
  r = script("small_objects.sh", args);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(trained(take_calls()).empty()) << r.output;
}

TEST_F(StudyScripts, TheRealDataBenchmarkTrainsEveryModelAndRecipeOnEachConvertedDataset) {
  for (const char* name : {"dsb2018", "kvasir"}) {
    fs::create_directories(data_ / name);
    std::ofstream(data_ / name / "dataset.yaml") << "classes: [background, x]\n";
  }
  const auto out = dir_.path() / "runs";
  auto r = script("benchmark_real.sh", data_.string() + " " + out.string());
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* missing : {"idrid_ex: not under", "idrid_ma: not under"}) {
    EXPECT_NE(r.output.find(missing), std::string::npos) << r.output;
  }
  const auto calls = take_calls();
  ASSERT_EQ(calls.size(), 14u) << r.output;  // 2 datasets x 3 models x 2 recipes, 2 studies
  // Each run's config with its --set flags loads, and is the model and recipe its name says.
  for (size_t i = 0; i < 12; ++i) {
    std::istringstream words(calls[i]);
    std::vector<std::string> sets;
    std::string word, config_path, run;
    while (words >> word) {
      if (word == "-c") words >> config_path;
      if (word == "-o") words >> run;
      if (word == "--set") {
        words >> word;
        sets.push_back(word);
      }
    }
    SCOPED_TRACE(calls[i]);
    const std::string dataset = fs::path(run).parent_path().filename().string();
    EXPECT_EQ(fs::path(config_path).filename(), dataset + ".yaml");
    EXPECT_NE(calls[i].find("--data " + (data_ / dataset).string()), std::string::npos);
    const auto config = config::load_train_config(config_path, sets);
    const std::string row = fs::path(run).filename().string();
    const bool small = row.find("_small") != std::string::npos;
    EXPECT_EQ(config.train.repeats, 3);
    EXPECT_EQ(config.evaluate.split, "test");
    EXPECT_EQ(config.train.loss.name, small ? "compound" : "cross_entropy");
    EXPECT_EQ(config.data.augment.sampling.object_share, small ? 0.5 : 0.0);
    EXPECT_EQ(config.evaluate.threshold, small ? "calibrated" : "argmax");
    const auto overrides = config.model.options.overrides();
    if (row.rfind("svanet", 0) == 0) {
      EXPECT_EQ(config.model.name, small ? "svanet_r18_tiny_fr" : "svanet_r18_tiny");
    } else if (row.rfind("unet", 0) == 0) {
      EXPECT_EQ(config.model.name, "unet_small");
    } else {
      EXPECT_EQ(config.model.name, "deeplabv3_r50");
      // The same encoder as svanet_r18_tiny.
      const auto tiny = resolved("svanet_r18_tiny", {});
      const auto mine = resolved("deeplabv3_r50", overrides);
      for (const char* key : {"encoder_depth", "encoder_width", "aspp_channels"}) {
        EXPECT_EQ(mine.at(key), tiny.at(key)) << key;
      }
      EXPECT_EQ(mine.at("full_res_head"), small ? "true" : "false");
    }
  }
  for (const char* name : {"dsb2018", "kvasir"}) {
    const auto& study = calls[std::string(name) == "dsb2018" ? 12 : 13];
    EXPECT_EQ(study.rfind("study ", 0), 0u) << study;
    EXPECT_NE(study.find((out / name / "deeplabv3_small").string() + " "), std::string::npos)
        << study;
    EXPECT_NE(study.find("--reference svanet_paper -o " +
                         (out / ("study_" + std::string(name))).string()),
              std::string::npos)
        << study;
  }
  // A dataset asked for by name must be there.
  r = script("benchmark_real.sh", data_.string() + " " + out.string() + " --datasets idrid_ma");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("no converted dataset at " + (data_ / "idrid_ma").string()),
            std::string::npos)
      << r.output;
  r = script("benchmark_real.sh", data_.string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("expected DATA_ROOT and OUT"), std::string::npos) << r.output;
  EXPECT_TRUE(take_calls().empty());
}

TEST_F(StudyScripts, BadFlagsAreNamed) {
  auto r = script("ablation.sh", "--data " + data_.string() + " --out x --shard 3/2");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("--shard '3/2': expected I/N"), std::string::npos) << r.output;
  r = script("main.sh", "--data " + data_.string() + " --out x --light");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("unknown flag '--light'"), std::string::npos) << r.output;
  r = script("main.sh", "--data " + data_.string() + " --out x fives5");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("no preset configs/paper/fives5.yaml"), std::string::npos) << r.output;
  r = script("ablation_extra.sh", "--out x");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("no dataset root"), std::string::npos) << r.output;
  r = script("main.sh", "--help");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("bash shell/main.sh --data DATA --out runs/paper"), std::string::npos)
      << r.output;
  EXPECT_TRUE(take_calls().empty());
}

}  // namespace
}  // namespace svanet::test
