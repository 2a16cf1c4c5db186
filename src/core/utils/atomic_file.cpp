#include "svanet/utils/atomic_file.h"

#include "svanet/utils/paths.h"

#include "svanet/common/error.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace svanet::utils {

namespace {

std::string errno_text() {
  return std::strerror(errno);
}

// TARGET + kTempMarker + PID + "." + N is a temporary file.
constexpr const char* kTempMarker = ".tmp.";

bool all_digits(const std::string& s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c) != 0; });
}

bool is_temporary_name(const std::string& name) {
  const auto at = name.rfind(kTempMarker);
  if (at == std::string::npos || at == 0) return false;
  const std::string tail = name.substr(at + std::strlen(kTempMarker));
  const auto dot = tail.find('.');
  return dot != std::string::npos && all_digits(tail.substr(0, dot)) &&
         all_digits(tail.substr(dot + 1));
}

/// Removes the temporary files of earlier writes of `target` whose process
/// has ended (killed while it wrote): TARGET.tmp.PID.N with no process PID.
/// A live process's, another target's and every other file stay.
void remove_dead_writers_temporaries(const std::string& target) {
  namespace fs = std::filesystem;
  std::error_code error;
  const fs::path path(target);
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  const std::string prefix = path.filename().string() + kTempMarker;
  for (auto it = fs::directory_iterator(dir, error); !error && it != fs::directory_iterator();
       it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(prefix, 0) != 0 || !is_temporary_name(name)) continue;
    const std::string tail = name.substr(prefix.size());
    const long pid = std::strtol(tail.substr(0, tail.find('.')).c_str(), nullptr, 10);
    if (pid <= 0 || ::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;
    std::error_code removed;
    fs::remove(it->path(), removed);
  }
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  remove_dead_writers_temporaries(path_);
  static std::atomic<unsigned> counter{0};
  temp_path_ = path_ + kTempMarker + std::to_string(::getpid()) + "." + std::to_string(counter++);
  fd_ = ::open(temp_path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  SVANET_CHECK(fd_ >= 0, path_, ": cannot create ", temp_path_, ": ", errno_text());
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) {
    ::close(fd_);
  }
  if (!committed_) {
    ::unlink(temp_path_.c_str());
  }
}

void AtomicFile::write(const void* data, size_t size) {
  SVANET_CHECK(fd_ >= 0 && !committed_, path_, ": write after commit");
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd_, p, size);
    if (n < 0 && errno == EINTR) continue;
    SVANET_CHECK(n > 0, path_, ": write failed: ", errno_text());
    p += n;
    size -= static_cast<size_t>(n);
  }
}

void AtomicFile::commit() {
  SVANET_CHECK(fd_ >= 0 && !committed_, path_, ": already committed");
  SVANET_CHECK(::fsync(fd_) == 0, path_, ": fsync failed: ", errno_text());
  SVANET_CHECK(::close(fd_) == 0, path_, ": close failed: ", errno_text());
  fd_ = -1;
  SVANET_CHECK(::rename(temp_path_.c_str(), path_.c_str()) == 0, path_,
               ": cannot rename the temporary file into place: ", errno_text());
  committed_ = true;
  // Make the rename itself durable.
  auto dir = std::filesystem::path(path_).parent_path();
  if (dir.empty()) dir = ".";
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

void write_file_atomic(const std::string& path, const std::string& contents) {
  AtomicFile file(path);
  file.write(contents);
  file.commit();
}

void copy_file_atomic(const std::string& from, const std::string& to) {
  require_file(from);
  std::ifstream in(from, std::ios::binary);
  SVANET_CHECK(in.good(), from, ": cannot open the file");
  AtomicFile out(to);
  std::vector<char> chunk(size_t{8} << 20);
  while (in) {
    in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
    if (in.gcount() > 0) out.write(chunk.data(), static_cast<size_t>(in.gcount()));
  }
  SVANET_CHECK(in.eof(), from, ": read failed");
  out.commit();
}

int64_t remove_stale_temporaries(const std::string& dir) {
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error)) return 0;
  int64_t removed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    if (entry.is_regular_file(error) && is_temporary_name(entry.path().filename().string())) {
      removed += std::filesystem::remove(entry.path(), error) ? 1 : 0;
    }
  }
  return removed;
}

std::string read_file(const std::string& path) {
  require_file(path);
  std::ifstream in(path, std::ios::binary);
  SVANET_CHECK(in.good(), path, ": cannot open the file");
  std::ostringstream out;
  out << in.rdbuf();
  SVANET_CHECK(!in.bad(), path, ": read failed");
  return out.str();
}

}  // namespace svanet::utils
