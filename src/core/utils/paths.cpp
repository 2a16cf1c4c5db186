#include "svanet/utils/paths.h"

#include "svanet/common/error.h"

#include <cctype>
#include <filesystem>
#include <system_error>

namespace svanet::utils {

namespace fs = std::filesystem;

namespace {

/// The system's reason in the project's style: "permission denied".
std::string reason(const std::error_code& error) {
  std::string text = error.message();
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

std::string prefixed(const std::string& what) {
  return what.empty() ? "" : what + " ";
}

}  // namespace

void require_file(const std::string& path, const std::string& what) {
  std::error_code error;
  const auto status = fs::status(path, error);
  SVANET_CHECK(!path.empty(), "no ", prefixed(what), "file given");
  SVANET_CHECK(fs::exists(status), path, ": no such ", prefixed(what), "file");
  SVANET_CHECK(!fs::is_directory(status), path, ": is a folder, expected a ", prefixed(what),
               "file");
}

void require_folder(const std::string& path, const std::string& what) {
  std::error_code error;
  const auto status = fs::status(path, error);
  SVANET_CHECK(!path.empty(), "no ", prefixed(what), "folder given");
  SVANET_CHECK(fs::exists(status), path, ": no such ", prefixed(what), "folder");
  SVANET_CHECK(fs::is_directory(status), path, ": is a file, expected a ", prefixed(what),
               "folder");
}

void create_folders(const std::string& path) {
  SVANET_CHECK(!path.empty(), "no output folder given");
  std::error_code error;
  if (fs::is_directory(path, error)) return;
  SVANET_CHECK(!fs::exists(path, error), path, ": is a file, expected a folder");
  fs::create_directories(path, error);
  if (!error) return;
  // Name the part that exists but is not a folder, when that is the reason.
  for (fs::path p = fs::path(path).parent_path(); !p.empty() && p != p.root_path();
       p = p.parent_path()) {
    std::error_code e;
    if (fs::exists(p, e) && !fs::is_directory(p, e)) {
      SVANET_FAIL("cannot create ", path, ": ", p.string(), " is a file, not a folder");
    }
  }
  SVANET_FAIL("cannot create ", path, ": ", reason(error));
}

bool missing_or_empty(const std::string& path) {
  std::error_code error;
  if (!fs::exists(path, error)) return true;
  return fs::is_directory(path, error) && fs::is_empty(path, error);
}

void require_new_output(const std::string& path, const std::string& how) {
  std::error_code error;
  SVANET_CHECK(!fs::exists(path, error) || fs::is_directory(path, error), path,
               ": is a file, expected a folder");
  SVANET_CHECK(missing_or_empty(path), path, " already exists and is not empty; ", how);
}

void replace_or_refuse(const std::string& path, bool overwrite, const std::string& how) {
  if (!overwrite) {
    require_new_output(path, how);
    return;
  }
  std::error_code error;
  fs::remove_all(path, error);
  SVANET_CHECK(!error, "cannot remove ", path, ": ", reason(error));
}

OutputFolder::OutputFolder(std::string path) : path_(std::move(path)) {
  std::error_code error;
  // The outermost folder that does not exist yet: removing it removes all
  // this guard creates, parents included.
  for (fs::path p = fs::absolute(path_, error).lexically_normal(); !p.empty();
       p = p.parent_path()) {
    if (fs::exists(p, error)) break;
    top_ = p.string();
    if (p == p.parent_path()) break;
  }
  created_ = !top_.empty();
  was_empty_ = !created_ && missing_or_empty(path_);
  create_folders(path_);
}

OutputFolder::~OutputFolder() {
  if (keep_) return;
  std::error_code error;
  if (created_) {
    fs::remove_all(top_, error);
  } else if (was_empty_) {
    // Empty before: empty again.
    for (auto it = fs::directory_iterator(path_, error); !error && it != fs::directory_iterator();
         it.increment(error)) {
      std::error_code removed;
      fs::remove_all(it->path(), removed);
    }
  }
}

std::string StagedFolder::prepare(const std::string& out, bool overwrite, const std::string& how) {
  if (!overwrite) require_new_output(out, how);
  std::error_code error;
  SVANET_CHECK(!fs::exists(out, error) || fs::is_directory(out, error), out,
               ": is a file, expected a folder");
  // "set/" is "set": the staging folder is its sibling, never inside it.
  fs::path path = fs::path(out).lexically_normal();
  if (!path.has_filename()) path = path.parent_path();
  fs::path staging = path;
  staging += ".partial";
  fs::remove_all(staging, error);  // what a killed command left
  SVANET_CHECK(!error, "cannot remove ", staging.string(), ": ", reason(error));
  return staging.string();
}

StagedFolder::StagedFolder(const std::string& out, bool overwrite, const std::string& how)
    : staging_(prepare(out, overwrite, how)) {
  const std::string& staging = staging_.path();
  out_ = staging.substr(0, staging.size() - std::string(".partial").size());
}

void StagedFolder::commit() {
  std::error_code error;
  fs::remove_all(out_, error);
  SVANET_CHECK(!error, "cannot replace ", out_, ": ", reason(error));
  fs::rename(staging_.path(), out_, error);
  SVANET_CHECK(!error, "cannot move ", staging_.path(), " to ", out_, ": ", reason(error));
  staging_.keep();
}

}  // namespace svanet::utils
