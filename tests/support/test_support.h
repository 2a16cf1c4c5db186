#pragma once
// Shared test helpers: a seeded fixture, substring checks on exceptions,
// temporary folders, tiny forms of registered models.

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "svanet/models/registry.h"

#include <filesystem>
#include <optional>
#include <string>

namespace svanet::test {

/// Seeds LibTorch's generators before every test (PyTorch's SeedingFixture).
class SeedingFixture : public ::testing::Test {
 protected:
  void SetUp() override { torch::manual_seed(0); }
};

/// A fresh empty folder under the system temp folder, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// Sets an environment variable for a scope and puts back what was there.
class ScopedEnvironment {
 public:
  ScopedEnvironment(std::string name, const std::string& value);
  ~ScopedEnvironment();
  ScopedEnvironment(const ScopedEnvironment&) = delete;
  ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;

 private:
  std::string name_;
  std::optional<std::string> previous_;
};

/// Options that shrink a registered model to test size while keeping its
/// structure (every switch of the variant stays as registered).
ModelOptions tiny_options(const std::string& name, int64_t num_classes = 2);

/// What a shell command printed (stdout and stderr, when the command
/// redirects 2>&1) and its exit status (-1 when it did not exit normally).
struct CommandResult {
  int status = -1;
  std::string output;
};

/// Runs `command` through the shell (popen) and collects its output.
CommandResult run_command(const std::string& command);

/// Where the committed test data lives.
std::filesystem::path data_dir();

/// CRC-32 (IEEE 802.3, as zlib's crc32 and Python's zlib.crc32) of `bytes`:
/// the fixtures seed and fill tensors with it.
uint32_t crc32(const std::string& bytes);

}  // namespace svanet::test

/// Asserts that `statement` throws an exception whose what() contains `substring`.
#define ASSERT_THROWS_WITH(statement, substring)                                       \
  do {                                                                                 \
    bool svanet_thrown = false;                                                        \
    try {                                                                              \
      statement;                                                                       \
    } catch (const std::exception& e) {                                                \
      svanet_thrown = true;                                                            \
      ASSERT_NE(std::string(e.what()).find(substring), std::string::npos)              \
          << "message was: " << e.what();                                              \
    }                                                                                  \
    ASSERT_TRUE(svanet_thrown) << "expected an exception containing: " << (substring); \
  } while (false)
