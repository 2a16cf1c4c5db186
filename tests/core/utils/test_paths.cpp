// The messages for paths a user names, and the output-folder guard.

#include "support/test_support.h"

#include "svanet/utils/paths.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace svanet::test {
namespace {

namespace fs = std::filesystem;

TEST(Paths, NameWhatIsWrongWithAPath) {
  TempDir dir;
  const auto file = dir.path() / "a.yaml";
  std::ofstream(file) << "x";
  EXPECT_NO_THROW(utils::require_file(file.string()));
  EXPECT_NO_THROW(utils::require_folder(dir.path().string()));
  ASSERT_THROWS_WITH(utils::require_file((dir.path() / "b.yaml").string(), "config"),
                     "b.yaml: no such config file");
  ASSERT_THROWS_WITH(utils::require_file(dir.path().string(), "config"),
                     dir.path().string() + ": is a folder, expected a config file");
  ASSERT_THROWS_WITH(utils::require_folder((dir.path() / "none").string()), "none: no such folder");
  ASSERT_THROWS_WITH(utils::require_folder(file.string(), "ground-truth"),
                     "a.yaml: is a file, expected a ground-truth folder");
  ASSERT_THROWS_WITH(utils::create_folders((file / "out").string()),
                     "cannot create " + (file / "out").string() + ": " + file.string() +
                         " is a file, not a folder");
  ASSERT_THROWS_WITH(utils::create_folders(file.string()), "a.yaml: is a file, expected a folder");
  ASSERT_THROWS_WITH(utils::create_folders("/proc/svanet_test/out"),
                     "cannot create /proc/svanet_test/out: no such file or directory");
  EXPECT_TRUE(utils::missing_or_empty((dir.path() / "none").string()));
  EXPECT_FALSE(utils::missing_or_empty(dir.path().string()));
  ASSERT_THROWS_WITH(utils::require_new_output(dir.path().string(), "--overwrite replaces it"),
                     " already exists and is not empty; --overwrite replaces it");
  // replace_or_refuse: refuses a non-empty folder, or removes it when asked.
  const auto full = dir.path() / "full";
  fs::create_directories(full / "x");
  ASSERT_THROWS_WITH(utils::replace_or_refuse(full.string(), false, "say --overwrite"),
                     "full already exists and is not empty; say --overwrite");
  EXPECT_TRUE(fs::exists(full / "x"));
  utils::replace_or_refuse(full.string(), true, "say --overwrite");
  EXPECT_FALSE(fs::exists(full));
  EXPECT_NO_THROW(utils::replace_or_refuse((dir.path() / "none").string(), false, ""));
}

TEST(Paths, AnOutputFolderIsRemovedUnlessKeptAndOnlyWhenItWasCreated) {
  TempDir dir;
  const auto nested = dir.path() / "a" / "b" / "c";
  {
    utils::OutputFolder out(nested.string());
    EXPECT_TRUE(out.created());
    EXPECT_TRUE(fs::is_directory(nested));
    std::ofstream(nested / "partial.csv") << "1";
  }
  // Gone with the parents the guard created.
  EXPECT_FALSE(fs::exists(dir.path() / "a"));
  {
    utils::OutputFolder out(nested.string());
    out.keep();
  }
  EXPECT_TRUE(fs::is_directory(nested));
  // A folder that existed is left as it is, whatever happens.
  std::ofstream(nested / "mine.txt") << "user's";
  {
    utils::OutputFolder out(nested.string());
    EXPECT_FALSE(out.created());
  }
  EXPECT_TRUE(fs::exists(nested / "mine.txt"));
  // One that existed empty is emptied again.
  const auto empty = dir.path() / "empty";
  fs::create_directories(empty);
  {
    utils::OutputFolder out(empty.string());
    std::ofstream(empty / "partial.csv") << "1";
  }
  EXPECT_TRUE(fs::is_directory(empty));
  EXPECT_TRUE(fs::is_empty(empty));
}

TEST(Paths, AStagedFolderAppearsWholeOrNotAtAll) {
  TempDir dir;
  const auto out = dir.path() / "new" / "set";
  const auto partial = dir.path() / "new" / "set.partial";
  {
    utils::StagedFolder staged(out.string() + "/", false, "how");
    EXPECT_EQ(staged.path(), partial.string());
    EXPECT_EQ(staged.out(), out.string());
    std::ofstream(fs::path(staged.path()) / "half.csv") << "1";
    EXPECT_FALSE(fs::exists(out));
  }
  // Not committed: nothing, not even the parent it created.
  EXPECT_FALSE(fs::exists(dir.path() / "new"));
  {
    utils::StagedFolder staged(out.string(), false, "how");
    std::ofstream(fs::path(staged.path()) / "a.csv") << "first";
    staged.commit();
  }
  EXPECT_TRUE(fs::exists(out / "a.csv"));
  EXPECT_FALSE(fs::exists(partial));
  // A non-empty OUT is refused without overwrite, and kept until the new one
  // is complete with it.
  ASSERT_THROWS_WITH(utils::StagedFolder(out.string(), false, "--overwrite replaces it"),
                     "already exists and is not empty; --overwrite replaces it");
  {
    utils::StagedFolder staged(out.string(), true, "how");
    std::ofstream(fs::path(staged.path()) / "b.csv") << "second";
    EXPECT_TRUE(fs::exists(out / "a.csv"));
  }
  EXPECT_TRUE(fs::exists(out / "a.csv"));
  // What a killed command left as OUT.partial does not stop the next one.
  fs::create_directories(partial);
  std::ofstream(partial / "left.csv") << "killed";
  {
    utils::StagedFolder staged(out.string(), true, "how");
    EXPECT_FALSE(fs::exists(partial / "left.csv"));
    std::ofstream(fs::path(staged.path()) / "b.csv") << "second";
    staged.commit();
  }
  EXPECT_FALSE(fs::exists(out / "a.csv"));
  EXPECT_TRUE(fs::exists(out / "b.csv"));
  EXPECT_FALSE(fs::exists(partial));
}

}  // namespace
}  // namespace svanet::test
