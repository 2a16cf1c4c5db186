#pragma once
/// @file
/// Writing files so that a reader never sees a partial one: data goes to a
/// temporary file beside the target, is flushed to disk, then renamed over
/// the target (atomic on POSIX file systems). A crash at any moment leaves
/// either the old file or the new one.

#include <cstddef>
#include <cstdint>
#include <string>

namespace svanet::utils {

/// A file being written; nothing appears at `path` until commit(). On
/// construction it removes the temporary files an earlier write of the same
/// target left when its process was killed (TARGET.tmp.PID.N whose process
/// PID no longer exists).
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();  // removes the temporary file unless committed
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t size);
  void write(const std::string& text) { write(text.data(), text.size()); }
  /// Flushes to disk and renames onto the target. Throws svanet::Error.
  void commit();

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string temp_path_;
  int fd_ = -1;
  bool committed_ = false;
};

/// Writes `contents` to `path` atomically.
void write_file_atomic(const std::string& path, const std::string& contents);

/// Copies file `from` to `to` atomically, in chunks (for large checkpoints).
void copy_file_atomic(const std::string& from, const std::string& to);

/// Removes from folder `dir` the temporary files (TARGET.tmp.PID.N) of
/// writes that a crash interrupted, keeping every other file; a missing
/// folder has none. Call it only when nothing writes there. Returns how many
/// it removed.
int64_t remove_stale_temporaries(const std::string& dir);

/// Reads a whole file; throws svanet::Error naming it when it cannot.
std::string read_file(const std::string& path);

}  // namespace svanet::utils
