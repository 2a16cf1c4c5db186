#pragma once
/// @file
/// Errors for configuration, I/O and data problems.
///
/// Tensor and option preconditions use `TORCH_CHECK`; everything a user can
/// get wrong from outside the code (a file, a flag, a YAML key) raises an
/// `svanet::Error` whose message names the file or key and the problem.

#include <sstream>
#include <stdexcept>
#include <string>

namespace svanet {

/// An error caused by input the user controls (files, configs, flags).
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

namespace detail {

template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

[[noreturn]] void throw_error(const char* expression, const char* file, int line,
                              const std::string& message);

}  // namespace detail

}  // namespace svanet

/// Throws svanet::Error with the message (streamed arguments) when `cond` is
/// false. Debug builds append the failed expression, file and line.
#define SVANET_CHECK(cond, ...)                                             \
  do {                                                                      \
    if (!(cond)) {                                                          \
      ::svanet::detail::throw_error(#cond, __FILE__, __LINE__,              \
                                    ::svanet::detail::concat(__VA_ARGS__)); \
    }                                                                       \
  } while (false)

/// Unconditionally throws svanet::Error with the streamed message.
#define SVANET_FAIL(...) \
  ::svanet::detail::throw_error(nullptr, __FILE__, __LINE__, ::svanet::detail::concat(__VA_ARGS__))
