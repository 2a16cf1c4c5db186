// The svanet program end to end, and its parser's consistency.

#include "support/official_fill.h"
#include "support/test_support.h"

#include "commands.h"
#include "svanet/io/checkpoint.h"
#include "svanet/io/pytorch_file.h"

#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

namespace svanet::test {
namespace {

struct Result {
  int status = -1;
  std::string output;  // stdout and stderr
};

Result run(const std::string& args) {
  const std::string command = std::string(SVANET_CLI_PATH) + " " + args + " 2>&1";
  Result result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n = 0;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
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

TEST(Cli, BadInvocationsExitNonZeroWithAMessage) {
  auto r = run("no-such-command");
  EXPECT_NE(r.status, 0);
  r = run("models --image-size 7");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--image-size"), std::string::npos) << r.output;
  r = run("convert-official " + (data_dir() / "pytorch" / "not_pytorch.pth").string() +
          " /tmp/x.pt");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("not_pytorch.pth: not a PyTorch file"), std::string::npos) << r.output;
  r = run("checkpoint-info " + (data_dir() / "pytorch" / "zip_ordered.pth").string());
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("not an svanet file"), std::string::npos) << r.output;
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
  auto r = run("convert-official " + official + " " + ours + " --classes background,polyp");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("model deeplabv3_r50 (2 classes"), std::string::npos) << r.output;
  r = run("checkpoint-info " + ours);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("classes:       background, polyp"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("normalization: reference"), std::string::npos) << r.output;
  // An explicit model that does not fit the weights is refused, naming tensors.
  r = run("convert-official " + official + " " + ours + " --model svanet_r18");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("official.pth: "), std::string::npos) << r.output;
}

TEST(Cli, WritesAndChecksTheDemoDataset) {
  TempDir dir;
  auto r = run("demo-data " + dir.path().string() + " --count 12 --size 64 --seed 4");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("train 8, val 2, test 2 images of 64x64"), std::string::npos) << r.output;
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
          EXPECT_EQ(it->second.second, option->get_description())
              << "--" << name << " means different things in '" << it->second.first << "' and '"
              << command.app->get_name() << "'";
        }
      }
    }
  }
  EXPECT_GT(seen.size(), 5u);
}

}  // namespace
}  // namespace svanet::test
