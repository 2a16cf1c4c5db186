#pragma once
// Shared by the benchmark programs: peak memory, timing summaries and a
// small flag parser (the benchmarks build with LibTorch alone, without CLI11).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace bench {

/// Peak resident memory of this process so far (VmHWM), in MiB.
inline double peak_rss_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0.0;
}

/// "CPU model (threads; ISA flags that matter to ATen)" from /proc/cpuinfo.
inline std::string machine_description() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line, model, flags;
  while (std::getline(cpuinfo, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const auto key = line.substr(0, line.find_last_not_of(" \t", colon - 1) + 1);
    if (key == "model name" && model.empty()) model = line.substr(colon + 2);
    if (key == "flags" && flags.empty()) flags = " " + line.substr(colon + 2) + " ";
  }
  std::string isa;
  for (const char* f : {"avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16"}) {
    if (flags.find(std::string(" ") + f + " ") != std::string::npos) isa += std::string(" ") + f;
  }
  return (model.empty() ? std::string("unknown CPU") : model) +
         " (ISA:" + (isa.empty() ? std::string(" none of avx2/avx512") : isa) + ")";
}

struct Timing {
  double median = 0.0, min = 0.0, max = 0.0;
};

/// Runs `once` `warmup` times untimed, then `repeats` times timed.
inline Timing time_runs(int warmup, int repeats, const std::function<void()>& once) {
  for (int i = 0; i < warmup; ++i) once();
  std::vector<double> seconds;
  for (int i = 0; i < repeats; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    once();
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(seconds.begin(), seconds.end());
  // The middle value, or the mean of the two middle ones (as Python's
  // statistics.median, which benchmarks/official/time_official.py uses).
  const size_t n = seconds.size();
  const double median = n % 2 == 1 ? seconds[n / 2] : (seconds[n / 2 - 1] + seconds[n / 2]) / 2;
  return {median, seconds.front(), seconds.back()};
}

/// `--name value` flags and `--name` switches; exits with status 2 and the
/// usage on anything unknown or malformed.
class Flags {
 public:
  Flags(const char* program, const char* usage, std::set<std::string> switches)
      : program_(program), usage_(usage), switches_(std::move(switches)) {}

  void parse(int argc, char** argv, const std::set<std::string>& valued) {
    for (int i = 1; i < argc; ++i) {
      const std::string flag = argv[i];
      if (flag == "--help" || flag == "-h") {
        std::fputs(usage_, stdout);
        std::exit(0);
      }
      if (switches_.count(flag) != 0) {
        values_[flag].push_back("1");
      } else if (valued.count(flag) != 0) {
        if (i + 1 >= argc) fail(flag + " needs a value");
        values_[flag].push_back(argv[++i]);
      } else {
        fail("unknown flag " + flag);
      }
    }
  }
  bool has(const std::string& flag) const { return values_.count(flag) != 0; }
  std::string text(const std::string& flag, const std::string& fallback) const {
    return has(flag) ? values_.at(flag).back() : fallback;
  }
  std::vector<std::string> all(const std::string& flag) const {
    return has(flag) ? values_.at(flag) : std::vector<std::string>{};
  }
  /// A whole number >= `least`.
  long long number(const std::string& flag, long long fallback, long long least = 1) const {
    if (!has(flag)) return fallback;
    const auto value = values_.at(flag).back();
    char* end = nullptr;
    const long long n = std::strtoll(value.c_str(), &end, 10);
    if (end == value.c_str() || *end != '\0' || n < least) {
      fail(flag + ": '" + value + "' is not a whole number >= " + std::to_string(least));
    }
    return n;
  }
  [[noreturn]] void fail(const std::string& message) const {
    std::fprintf(stderr, "%s: %s\n%s", program_, message.c_str(), usage_);
    std::exit(2);
  }

 private:
  const char* program_;
  const char* usage_;
  std::set<std::string> switches_;
  std::map<std::string, std::vector<std::string>> values_;
};

}  // namespace bench
