#include "support/child_process.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

namespace svanet::test {

namespace {

int decode(int status) {
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

int Child::wait() const {
  int status = 0;
  waitpid(pid, &status, 0);
  return decode(status);
}

bool Child::ended(int& status) const {
  int raw = 0;
  if (waitpid(pid, &raw, WNOHANG) != pid) return false;
  status = decode(raw);
  return true;
}

Child spawn(const std::string& program, const std::vector<std::string>& args,
            const std::filesystem::path& log,
            const std::vector<std::pair<std::string, std::string>>& env) {
  Child c;
  c.pid = fork();
  if (c.pid == 0) {
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    std::vector<char*> argv;
    std::string name = program;
    argv.push_back(name.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(name.c_str(), argv.data());
    _exit(127);
  }
  return c;
}

}  // namespace svanet::test
