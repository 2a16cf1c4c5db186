#pragma once
/// @file
/// Checking and creating the paths a user names, with one set of messages
/// ("PATH: no such file", "PATH: is a folder, expected a file", "cannot
/// create PATH: permission denied") instead of std::filesystem's, and a
/// guard that removes an output folder a failed command created.

#include <string>

namespace svanet::utils {

/// Fails unless `path` is an existing file (not a folder): "PATH: no such
/// file" or "PATH: is a folder, expected a file". `what` ("checkpoint",
/// "config", ...) goes into the first message when given.
void require_file(const std::string& path, const std::string& what = "");

/// Fails unless `path` is an existing folder: "PATH: no such folder" or
/// "PATH: is a file, expected a folder".
void require_folder(const std::string& path, const std::string& what = "");

/// Creates folder `path` and its parents; fails as "cannot create PATH:
/// permission denied" (the system's reason, in lower case), or "PATH: is a
/// file, expected a folder".
void create_folders(const std::string& path);

/// Whether `path` is missing or an empty folder.
bool missing_or_empty(const std::string& path);

/// Fails unless output folder `path` is missing or empty:
/// "PATH already exists and is not empty; <how>" (how to proceed, e.g.
/// "--overwrite replaces it").
void require_new_output(const std::string& path, const std::string& how);

/// Makes way for output folder `path`: with `overwrite`, removes it (and
/// what is in it); otherwise require_new_output(path, how).
void replace_or_refuse(const std::string& path, bool overwrite, const std::string& how);

/// An output folder a command is about to fill: created (with its missing
/// parents) on construction; on destruction, unless keep() was called,
/// removed again with the parents this guard created; a folder that existed
/// empty is emptied again, and one that held anything is never touched. So
/// a command that fails before producing its result leaves nothing behind.
class OutputFolder {
 public:
  explicit OutputFolder(std::string path);
  ~OutputFolder();
  OutputFolder(const OutputFolder&) = delete;
  OutputFolder& operator=(const OutputFolder&) = delete;

  /// The result is complete: leave the folder in place.
  void keep() { keep_ = true; }
  /// Whether this guard created the folder (it did not exist before).
  bool created() const { return created_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string top_;  // the outermost folder created
  bool created_ = false;
  bool was_empty_ = false;  // existed, empty: emptied again
  bool keep_ = false;
};

/// An output folder written in one piece. The command fills OUT.partial
/// (path()) and commit() moves it to OUT. Until then OUT is as it was: a
/// command that fails, or is killed, never leaves a half-written OUT under
/// its final name. The guard removes OUT.partial unless committed, and the
/// next command to write OUT removes what a killed one left there, so
/// running the same command again works. A non-empty OUT is refused
/// ("OUT already exists and is not empty; <how>") unless `overwrite`; with
/// it, the old OUT is replaced only once the new one is complete.
class StagedFolder {
 public:
  StagedFolder(const std::string& out, bool overwrite, const std::string& how);
  StagedFolder(const StagedFolder&) = delete;
  StagedFolder& operator=(const StagedFolder&) = delete;

  /// Where to write: OUT.partial.
  const std::string& path() const { return staging_.path(); }
  /// OUT, without a trailing separator.
  const std::string& out() const { return out_; }
  /// Replaces OUT with what was written.
  void commit();

 private:
  static std::string prepare(const std::string& out, bool overwrite, const std::string& how);

  std::string out_;
  OutputFolder staging_;
};

}  // namespace svanet::utils
