#pragma once
// Running a program in a child process, for tests that signal or kill it.

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace svanet::test {

/// A started child process.
struct Child {
  pid_t pid = -1;
  /// Waits for it: its exit status, or 128 + the signal that ended it.
  int wait() const;
  /// Whether it has ended (without waiting); `status` as wait()'s.
  bool ended(int& status) const;
};

/// Starts `program` with `args`, its stdout and stderr into `log`, with the
/// variables `env` set.
Child spawn(const std::string& program, const std::vector<std::string>& args,
            const std::filesystem::path& log,
            const std::vector<std::pair<std::string, std::string>>& env = {});

}  // namespace svanet::test
