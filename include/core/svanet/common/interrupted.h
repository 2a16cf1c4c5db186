#pragma once
/// @file
/// Work stopped by a signal.

#include "svanet/common/error.h"

#include <string>

namespace svanet {

/// Work stopped by SIGINT or SIGTERM before it was complete, after it
/// removed what it had half written (an evaluation's OUT.partial). The
/// command-line program reports the message and exits with status 130.
class Interrupted : public Error {
 public:
  explicit Interrupted(const std::string& message) : Error(message) {}
};

}  // namespace svanet
