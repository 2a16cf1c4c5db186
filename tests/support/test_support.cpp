#include "support/test_support.h"

#include <stdlib.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <utility>

namespace svanet::test {

namespace {

// Inference defaults to bf16 on CPUs that compute it natively (precision
// auto); the tests compare numbers, so they run in fp32 on every machine
// unless they ask for bf16, or SVANET_CPU_BF16 is already set. The
// programs the CLI tests start inherit it.
[[maybe_unused]] const bool kFp32ByDefault = setenv("SVANET_CPU_BF16", "0", /*overwrite=*/0) == 0;

}  // namespace

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
  path_ = std::filesystem::temp_directory_path() /
          ("svanet_test_" + std::to_string(stamp) + "_" + std::to_string(counter++));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

ScopedEnvironment::ScopedEnvironment(std::string name, const std::string& value)
    : name_(std::move(name)) {
  if (const char* old = std::getenv(name_.c_str())) previous_ = old;
  setenv(name_.c_str(), value.c_str(), 1);
}

ScopedEnvironment::~ScopedEnvironment() {
  if (previous_) {
    setenv(name_.c_str(), previous_->c_str(), 1);
  } else {
    unsetenv(name_.c_str());
  }
}

CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t n = 0;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, n);
  const int status = pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

ModelOptions tiny_options(const std::string& name, int64_t num_classes) {
  ModelOptions options;
  options.num_classes(num_classes).image_size(64);
  for (const auto& info : list_models()) {
    if (info.name != name) continue;
    if (info.family == "unet") {
      options.set("base_channels", "4").set("depth", "3");
    } else {
      options.set("encoder_width", "8").set("aspp_channels", "16").set("aspp_rates", "1,2,3");
      if (info.family == "svanet") options.set("former_blocks", "1");
    }
  }
  return options;
}

std::filesystem::path data_dir() {
  return SVANET_TEST_DATA_DIR;
}

uint32_t crc32(const std::string& bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (const char c : bytes) {
    crc ^= static_cast<uint8_t>(c);
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return crc ^ 0xFFFFFFFFu;
}

}  // namespace svanet::test
