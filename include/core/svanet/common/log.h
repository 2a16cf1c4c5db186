#pragma once
/// @file
/// Where a library call's messages go. svanet's libraries log through no
/// global logger: a call that reports progress or warnings takes a LogSink
/// from its caller (RunOptions::log, FolderEvaluateOptions::log), and an
/// empty sink means that nothing is reported beyond the files the call
/// writes (a run's train.log, say).
///
///     options.log = [](svanet::LogLevel level, const std::string& message) {
///       std::fprintf(stderr, "%s: %s\n", svanet::log_level_name(level), message.c_str());
///     };

#include <functional>
#include <string>

namespace svanet {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

/// One message, without a trailing newline.
using LogSink = std::function<void(LogLevel level, const std::string& message)>;

/// "debug", "info", "warning", "error".
inline const char* log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

}  // namespace svanet
