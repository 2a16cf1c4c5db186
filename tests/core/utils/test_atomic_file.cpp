// Atomic writes: the target holds the old or the new contents, never a part.

#include "support/test_support.h"

#include "svanet/utils/atomic_file.h"

#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <csignal>
#include <fstream>
#include <vector>

namespace svanet::test {
namespace {

std::string contents(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(AtomicFile, ReplacesOnCommitOnly) {
  TempDir dir;
  const auto path = (dir.path() / "state.bin").string();
  utils::write_file_atomic(path, "old");
  {
    utils::AtomicFile f(path);
    f.write("new contents that are never committed");
    EXPECT_EQ(contents(path), "old");  // nothing visible before commit
  }
  EXPECT_EQ(contents(path), "old");
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    files += e.is_regular_file();
  EXPECT_EQ(files, 1) << "the temporary file was left behind";
  utils::write_file_atomic(path, "new");
  EXPECT_EQ(contents(path), "new");
}

TEST(AtomicFile, AProcessKilledWhileWritingLeavesTheOldFile) {
  TempDir dir;
  const auto path = (dir.path() / "checkpoint.pt").string();
  const std::string old(1 << 16, 'a');
  utils::write_file_atomic(path, old);
  const pid_t child = fork();
  if (child == 0) {
    utils::AtomicFile f(path);
    const std::string chunk(1 << 20, 'b');
    for (int i = 0; i < 8; ++i) f.write(chunk);
    raise(SIGKILL);  // dies in the middle, before commit
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(contents(path), old);
  // The dead writer's temporary file is all that a clean-up removes.
  std::ofstream(dir.path() / "notes.tmp.txt") << "mine";
  std::ofstream(dir.path() / "checkpoint.pt.tmp.12") << "mine";
  EXPECT_EQ(utils::remove_stale_temporaries(dir.path().string()), 1);
  std::vector<std::string> left;
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    left.push_back(e.path().filename().string());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left,
            (std::vector<std::string>{"checkpoint.pt", "checkpoint.pt.tmp.12", "notes.tmp.txt"}));
  EXPECT_EQ(utils::remove_stale_temporaries((dir.path() / "missing").string()), 0);
}

TEST(AtomicFile, TheNextWriteOfATargetRemovesWhatADeadWriterLeft) {
  TempDir dir;
  const auto path = dir.path() / "weights.pth";
  const pid_t child = fork();
  if (child == 0) {
    utils::AtomicFile f(path.string());
    f.write(std::string(1 << 16, 'b'));
    raise(SIGKILL);
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  const auto dead = dir.path() / ("weights.pth.tmp." + std::to_string(child) + ".0");
  ASSERT_TRUE(std::filesystem::exists(dead));
  // A live writer's (this process's) and another target's stay.
  const auto live = dir.path() / ("weights.pth.tmp." + std::to_string(getpid()) + ".999");
  const auto other = dir.path() / ("other.pth.tmp." + std::to_string(child) + ".0");
  std::ofstream(live) << "writing";
  std::ofstream(other) << "left";
  utils::write_file_atomic(path.string(), "new");
  EXPECT_EQ(contents(path), "new");
  EXPECT_FALSE(std::filesystem::exists(dead));
  EXPECT_TRUE(std::filesystem::exists(live));
  EXPECT_TRUE(std::filesystem::exists(other));
}

TEST(AtomicFile, CopiesAFileLargerThanOneChunk) {
  TempDir dir;
  std::string data((size_t{8} << 20) * 2 + 123, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 % 251);
  const auto from = (dir.path() / "last.pt").string(), to = (dir.path() / "best.pt").string();
  utils::write_file_atomic(from, data);
  utils::write_file_atomic(to, "older best");
  utils::copy_file_atomic(from, to);
  EXPECT_EQ(contents(to), data);
  ASSERT_THROWS_WITH(utils::copy_file_atomic((dir.path() / "missing.pt").string(), to),
                     "missing.pt: no such file");
  EXPECT_EQ(contents(to), data);
}

TEST(AtomicFile, ErrorsNameTheFile) {
  ASSERT_THROWS_WITH(utils::write_file_atomic("/nonexistent/dir/out.json", "x"),
                     "/nonexistent/dir/out.json: cannot create");
  ASSERT_THROWS_WITH(utils::read_file("/nonexistent/in.json"), "/nonexistent/in.json");
}

}  // namespace
}  // namespace svanet::test
