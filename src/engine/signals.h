#pragma once
// What stops a run between steps (private to the library): the caller's
// own request (RunOptions::should_stop) and, when the run handles signals
// (RunOptions::handle_signals), SIGINT and SIGTERM. The trainer polls it,
// saves its state and returns. A second signal while the first is being
// handled ends the process at once.

#include <functional>
#include <string>

namespace svanet::engine {

class StopRequest {
 public:
  /// With `handle_signals`, installs SIGINT/SIGTERM handlers for the
  /// object's lifetime; the previous ones come back on destruction. One
  /// object at a time may handle signals.
  StopRequest(bool handle_signals, std::function<bool()> caller);
  ~StopRequest();
  StopRequest(const StopRequest&) = delete;
  StopRequest& operator=(const StopRequest&) = delete;

  /// Whether a signal arrived or the caller asked.
  bool requested() const;
  /// What asked: "SIGINT", "SIGTERM" or "the caller" (empty if nothing).
  std::string reason() const;

 private:
  bool handling_signals_ = false;
  std::function<bool()> caller_;
};

/// Throws svanet::Interrupted ("interrupted by SIGINT while <doing>")
/// when a StopRequest handling signals is alive and one arrived: for work
/// that stops rather than saves (an evaluation is redone, not resumed).
void throw_if_signalled(const std::string& doing);

}  // namespace svanet::engine
