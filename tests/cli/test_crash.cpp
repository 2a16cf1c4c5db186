// Crash consistency, as SQLite and PostgreSQL test it: every command that
// writes is killed (SIGKILL or SIGINT) at seeded random moments of its run.
// After each kill, no file is half written under its final name (each file
// the command writes is the uninterrupted run's, byte for byte, where the
// command is deterministic, and complete otherwise); the command's own
// rerun (train: --resume) finishes; and then the result equals the
// uninterrupted run's, with no temporary or .partial file left.
//
// Crash.*: two kill points per command (default suite). CrashSlow.*: 25 per
// command, 200 in all (label slow). A failure names its seed and kill
// point; SVANET_CRASH_SEED=N replays from seed N, SVANET_CRASH_POINTS=K sets
// the number of kill points per command.

#include "support/child_process.h"
#include "support/nifti_volume.h"
#include "support/test_support.h"

#include "svanet/config/train_config.h"
#include "svanet/data/demo.h"
#include "svanet/engine/trainer.h"
#include "svanet/io/checkpoint.h"
#include "svanet/io/state_dict.h"
#include "svanet/official/convert.h"

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <thread>

namespace svanet::test {
namespace {

namespace fs = std::filesystem;
using Args = std::vector<std::string>;

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool ends_with(const std::string& text, const std::string& tail) {
  return text.size() >= tail.size() &&
         text.compare(text.size() - tail.size(), tail.size(), tail) == 0;
}

/// Whether two files written by the command hold the same: an svanet
/// checkpoint's tensors and classes (its header records when it was
/// written), any other file's bytes. Empty when they do, else how not.
std::string differ(const fs::path& got, const fs::path& want) {
  if (ends_with(got.string(), ".pt")) {
    const auto a = io::load_checkpoint(got.string());
    const auto b = io::load_checkpoint(want.string());
    if (a.meta.classes != b.meta.classes) return "other classes";
    if (a.meta.thresholds != b.meta.thresholds) return "other thresholds";
    const auto wa = io::state_dict(*a.model);
    const auto wb = io::state_dict(*b.model);
    if (wa.size() != wb.size()) return "other tensors";
    for (size_t i = 0; i < wa.size(); ++i) {
      if (wa[i].first != wb[i].first || !torch::equal(wa[i].second, wb[i].second)) {
        return wa[i].first + " differs";
      }
    }
    return {};
  }
  return read_bytes(got) == read_bytes(want) ? "" : "other bytes";
}

/// Whether `file` is complete for its kind; empty when it is, else why not.
std::string incomplete(const fs::path& file) {
  const std::string name = file.filename().string();
  const std::string bytes = read_bytes(file);
  if (ends_with(name, ".log")) return {};  // appended line by line
  if (bytes.empty()) return "empty";
  if (ends_with(name, ".png") || ends_with(name, ".jpg")) {
    return cv::imread(file.string(), cv::IMREAD_UNCHANGED).empty() ? "not a readable image" : "";
  }
  if (ends_with(name, ".pt") || ends_with(name, ".pth") || ends_with(name, ".state")) {
    // A PyTorch zip ends with its end-of-central-directory record.
    const auto at = bytes.rfind(std::string("PK\x05\x06", 4));
    return at == std::string::npos || bytes.size() - at > 22 + 65535 ? "zip without its end" : "";
  }
  if (ends_with(name, ".json")) {
    return nlohmann::json::accept(bytes) ? "" : "not valid JSON";
  }
  if (ends_with(name, ".html"))
    return bytes.find("</html>") == std::string::npos ? "cut short" : "";
  if (ends_with(name, ".csv") || ends_with(name, ".md") || ends_with(name, ".yaml") ||
      ends_with(name, ".txt")) {
    return bytes.back() == '\n' ? "" : "last line cut short";
  }
  return {};
}

/// The files under `path` (itself, if a file), relative to `path`'s parent.
std::map<std::string, fs::path> files_of(const fs::path& path) {
  std::map<std::string, fs::path> files;
  if (fs::is_regular_file(path)) {
    files[path.filename().string()] = path;
  } else if (fs::is_directory(path)) {
    for (const auto& e : fs::recursive_directory_iterator(path)) {
      if (e.is_regular_file())
        files[e.path().lexically_relative(path.parent_path()).string()] = e.path();
    }
  }
  return files;
}

/// Temporary files and staging folders anywhere under `dir`.
std::vector<std::string> leftovers(const fs::path& dir) {
  std::vector<std::string> found;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.find(".tmp.") != std::string::npos || ends_with(name, ".partial")) {
      found.push_back(e.path().string());
    }
  }
  return found;
}

/// One command under test.
struct Command {
  std::string name;
  /// Makes a fresh `work` folder with what the command changes in place.
  std::function<void(const fs::path& work)> prepare = [](const fs::path&) {};
  std::function<Args(const fs::path& work)> args;
  /// The command that completes an interrupted run, or nothing when the
  /// output is already complete; unset: args again.
  std::function<std::optional<Args>(const fs::path& work)> rerun;
  /// What it writes, relative to `work`.
  std::string output;
  /// The files (relative, as files_of names them) written byte for byte as
  /// an uninterrupted run writes them.
  std::function<bool(const std::string& relative)> exact;
};

/// Inputs every command reads, made once.
struct Inputs {
  fs::path data, run, images, official, volumes, config;
};

const Inputs& inputs() {
  static TempDir dir;
  static const Inputs made = [] {
    Inputs in;
    data::DemoOptions o;
    o.count = 20;
    o.size = 64;
    in.data = data::generate_demo_dataset((dir.path() / "data").string(), o).folder;
    in.data = in.data.parent_path();
    in.config = dir.path() / "tiny.yaml";
    std::ofstream(in.config)
        << "model: {name: svanet_test, image_size: 64}\n"
        << "data: {root: " << in.data.string() << ", dataset: demo, batch_size: 4, workers: 2,"
        << " augment: {size: 64}}\n"
        << "train:\n  epochs: 3\n  device: cpu\n  seed: 3\n"
        << "  schedule: {name: cosine, warmup_init_lr: 1e-3, max_lr: 2e-3, min_lr: 1e-4, "
           "warmup_epochs: 1}\n"
        << "  loss: {name: dice_ce}\n  select_metric: dice\n"
        << "evaluate: {overlays: 2, threshold: calibrated}\n";
    in.run = dir.path() / "run";
    engine::train(config::load_train_config(in.config.string()), in.run.string());
    in.images = in.data / "Demo" / "test";
    in.official = dir.path() / "official.pth";
    official::export_official_checkpoint((in.run / "checkpoints" / "best.pt").string(),
                                         in.official.string());
    in.volumes = dir.path() / "atlas";
    for (int c = 1; c <= 3; ++c) {
      write_volume(in.volumes / "imagesTr" / ("im" + std::to_string(c) + ".nii.gz"), 48, 40, 24,
                   DT_FLOAT32, [c](int64_t i, int64_t j, int64_t k) { return c * i + j * k; });
      write_volume(in.volumes / "labelsTr" / ("lb" + std::to_string(c) + ".nii.gz"), 48, 40, 24,
                   DT_INT16, [](int64_t i, int64_t j, int64_t) { return i > 20 && j < 9 ? 1 : 0; });
    }
    return in;
  }();
  return made;
}

bool always(const std::string&) {
  return true;
}

/// A command that writes its output whole or not at all: `prefix` then
/// WORK/output; it is run again only while WORK/written (the output, or
/// the set inside it) is missing.
Command writes_whole(std::string name, Args prefix, const std::string& output,
                     const std::string& written) {
  Command c;
  c.name = std::move(name);
  c.args = [prefix, output](const fs::path& w) {
    auto a = prefix;
    a.push_back((w / output).string());
    return a;
  };
  c.rerun = [args = c.args, written](const fs::path& w) -> std::optional<Args> {
    if (fs::exists(w / written)) return std::nullopt;
    return args(w);
  };
  c.output = output;
  c.exact = always;
  return c;
}

/// Every command that writes, on the inputs above.
std::vector<Command> commands() {
  const Inputs& in = inputs();
  std::vector<Command> all;
  all.push_back(writes_whole("demo-data", {"demo-data", "--count", "12", "--size", "96", "-o"},
                             "out", "out/Demo"));
  {
    Command c;
    c.name = "train";
    c.args = [&in](const fs::path& w) {
      return Args{"train",      "-c",   in.config.string(), "--out", (w / "run").string(),
                  "--progress", "lines"};
    };
    c.rerun = [&in](const fs::path& w) -> std::optional<Args> {
      if (fs::exists(w / "run" / "config.yaml"))
        return Args{"train", "--resume", (w / "run").string()};
      return Args{"train", "-c", in.config.string(), "--out", (w / "run").string()};
    };
    c.output = "run";
    // The weights; logs, metrics.csv and plots carry timings.
    c.exact = [](const std::string& f) { return ends_with(f, ".pt"); };
    all.push_back(c);
  }
  {
    Command c =
        writes_whole("evaluate", {"evaluate", "-r", in.run.string(), "--out"}, "eval", "eval");
    c.exact = [](const std::string& f) { return ends_with(f, ".png"); };
    all.push_back(c);
  }
  {
    Command c;
    c.name = "predict";
    c.args = [&in](const fs::path& w) {
      return Args{"predict",          "-m", in.run.string(),       "-i",
                  in.images.string(), "-o", (w / "pred").string(), "--overlay"};
    };
    c.output = "pred";
    c.exact = [](const std::string& f) { return ends_with(f, ".png"); };
    all.push_back(c);
  }
  {
    Command c;
    c.name = "calibrate";
    c.prepare = [&in](const fs::path& w) {
      fs::create_directories(w / "run" / "checkpoints");
      fs::copy_file(in.run / "config.yaml", w / "run" / "config.yaml");
      fs::copy_file(in.run / "splits.json", w / "run" / "splits.json");
      fs::copy_file(in.run / "checkpoints" / "best.pt", w / "run" / "checkpoints" / "best.pt");
    };
    c.args = [](const fs::path& w) { return Args{"calibrate", (w / "run").string()}; };
    c.output = "run/checkpoints";
    c.exact = [](const std::string& f) { return ends_with(f, ".pt"); };
    all.push_back(c);
  }
  all.push_back(
      writes_whole("export", {"export", in.run.string(), "-o"}, "official.pth", "official.pth"));
  {
    Command c = writes_whole(
        "convert-official",
        {"convert-official", in.official.string(), "--architecture", "svanet_test", "-o"},
        "converted.pt", "converted.pt");
    // Complete, not equal: an official checkpoint lacks the Monte Carlo
    // attention's random region masks, which each conversion draws anew.
    c.exact = [](const std::string&) { return false; };
    all.push_back(c);
  }
  all.push_back(writes_whole("slice-volumes",
                             {"slice-volumes", in.volumes.string(), "--dataset", "atlas", "-o"},
                             "sliced", "sliced/ATLAS"));
  return all;
}

const Command& command(const std::string& name) {
  static const std::vector<Command> all = commands();
  for (const auto& c : all) {
    if (c.name == name) return c;
  }
  throw std::runtime_error("no command " + name);
}

Args with_threads(const Args& args) {
  Args a{"--threads", "1"};
  a.insert(a.end(), args.begin(), args.end());
  return a;
}

int run_to_end(const Args& args, const fs::path& log) {
  return spawn(SVANET_CLI_PATH, with_threads(args), log).wait();
}

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

/// Runs `name` uninterrupted once, then `points` times killed at a seeded
/// random moment, checking the invariants after each kill and rerun.
void kill_and_check(const std::string& name, int points) {
  const Command& c = command(name);
  points = env_int("SVANET_CRASH_POINTS", points);
  const int seed = env_int("SVANET_CRASH_SEED", 1);
  TempDir dir;
  const fs::path reference = dir.path() / "reference";
  fs::create_directories(reference);
  c.prepare(reference);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(run_to_end(c.args(reference), dir.path() / "reference.log"), 0)
      << read_bytes(dir.path() / "reference.log");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto expected = files_of(reference / c.output);
  ASSERT_FALSE(expected.empty()) << name << " wrote nothing";

  int finished_first = 0;
  for (int point = 0; point < points; ++point) {
    std::mt19937 rng(static_cast<uint32_t>(seed * 7919 + point));
    const double delay = std::uniform_real_distribution<double>(0.0, seconds)(rng);
    const int sig = std::bernoulli_distribution(0.5)(rng) ? SIGKILL : SIGINT;
    SCOPED_TRACE(name + ": kill point " + std::to_string(point) + " of seed " +
                 std::to_string(seed) + ": " + (sig == SIGKILL ? "SIGKILL" : "SIGINT") + " after " +
                 std::to_string(delay) + " s (SVANET_CRASH_SEED=" + std::to_string(seed) +
                 " replays it)");
    const fs::path work = dir.path() / ("point_" + std::to_string(point));
    fs::create_directories(work);
    c.prepare(work);
    const fs::path log = work.parent_path() / ("point_" + std::to_string(point) + ".log");
    const Child child = spawn(SVANET_CLI_PATH, with_threads(c.args(work)), log);
    std::this_thread::sleep_for(std::chrono::duration<double>(delay));
    kill(child.pid, sig);
    const int status = child.wait();
    if (status == 0) {
      ++finished_first;
    } else {
      ASSERT_EQ(status, 128 + sig) << read_bytes(log);
    }
    // Nothing half written under its final name.
    for (const auto& [relative, file] : files_of(work / c.output)) {
      if (relative.find(".tmp.") != std::string::npos ||
          relative.find(".partial") != std::string::npos) {
        continue;
      }
      const auto it = expected.find(relative);
      if (it != expected.end() && c.exact(relative) && !ends_with(relative, "last.pt") &&
          !ends_with(relative, "best.pt")) {
        EXPECT_EQ(differ(file, it->second), "") << relative << " after the kill";
      } else {
        EXPECT_EQ(incomplete(file), "") << relative << " after the kill";
      }
    }
    // The command's own rerun finishes.
    const auto again = c.rerun ? c.rerun(work) : std::optional<Args>(c.args(work));
    if (again) {
      const fs::path rerun_log =
          work.parent_path() / ("point_" + std::to_string(point) + "_rerun.log");
      ASSERT_EQ(run_to_end(*again, rerun_log), 0) << read_bytes(rerun_log);
    }
    // And the result is the uninterrupted run's.
    const auto got = files_of(work / c.output);
    for (const auto& [relative, file] : expected) {
      const auto it = got.find(relative);
      if (it == got.end()) {
        ADD_FAILURE() << relative << " is missing after the rerun";
        continue;
      }
      if (c.exact(relative)) {
        EXPECT_EQ(differ(it->second, file), "") << relative;
      } else {
        EXPECT_EQ(incomplete(it->second), "") << relative;
      }
    }
    for (const auto& [relative, file] : got) {
      EXPECT_TRUE(expected.count(relative) > 0 || ends_with(relative, ".log"))
          << relative << ": not written by an uninterrupted run";
    }
    EXPECT_EQ(leftovers(work), std::vector<std::string>{});
    if (::testing::Test::HasFailure()) return;
    fs::remove_all(work);
  }
  std::printf("%s: %d kill points (seed %d), %d finished before their kill\n", name.c_str(), points,
              seed, finished_first);
}

TEST(Crash, DemoData) {
  kill_and_check("demo-data", 2);
}
TEST(Crash, Train) {
  kill_and_check("train", 2);
}
TEST(Crash, Evaluate) {
  kill_and_check("evaluate", 2);
}
TEST(Crash, Predict) {
  kill_and_check("predict", 2);
}
TEST(Crash, Calibrate) {
  kill_and_check("calibrate", 2);
}
TEST(Crash, Export) {
  kill_and_check("export", 2);
}
TEST(Crash, ConvertOfficial) {
  kill_and_check("convert-official", 2);
}
TEST(Crash, SliceVolumes) {
  kill_and_check("slice-volumes", 2);
}

TEST(CrashSlow, DemoData) {
  kill_and_check("demo-data", 25);
}
TEST(CrashSlow, Train) {
  kill_and_check("train", 25);
}
TEST(CrashSlow, Evaluate) {
  kill_and_check("evaluate", 25);
}
TEST(CrashSlow, Predict) {
  kill_and_check("predict", 25);
}
TEST(CrashSlow, Calibrate) {
  kill_and_check("calibrate", 25);
}
TEST(CrashSlow, Export) {
  kill_and_check("export", 25);
}
TEST(CrashSlow, ConvertOfficial) {
  kill_and_check("convert-official", 25);
}
TEST(CrashSlow, SliceVolumes) {
  kill_and_check("slice-volumes", 25);
}

}  // namespace
}  // namespace svanet::test
