#pragma once
// SIGINT and SIGTERM as a request to stop (private to the library): the
// trainer polls it between steps, saves its state and returns. A second
// signal while the first is being handled ends the process at once.

namespace svanet::engine {

class StopRequest {
 public:
  /// Installs the handlers; the previous ones come back on destruction.
  StopRequest();
  ~StopRequest();
  StopRequest(const StopRequest&) = delete;
  StopRequest& operator=(const StopRequest&) = delete;

  /// Whether a signal arrived (and which: SIGINT or SIGTERM; 0 if none).
  bool requested() const;
  int signal() const;
};

}  // namespace svanet::engine
