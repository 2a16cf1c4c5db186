#include "engine/signals.h"

#include <unistd.h>
#include <atomic>
#include <csignal>
#include <cstdlib>

namespace svanet::engine {

namespace {

std::atomic<int> g_signal{0};
struct sigaction g_previous_int, g_previous_term;

void on_signal(int sig) {
  if (g_signal.exchange(sig) != 0) {
    // Asked twice: stop now (async-signal-safe calls only).
    const char message[] = "\nsvanet: second signal, exiting without saving\n";
    (void)!write(STDERR_FILENO, message, sizeof(message) - 1);
    _exit(128 + sig);
  }
}

}  // namespace

StopRequest::StopRequest() {
  g_signal.store(0);
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;
  sigaction(SIGINT, &action, &g_previous_int);
  sigaction(SIGTERM, &action, &g_previous_term);
}

StopRequest::~StopRequest() {
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGTERM, &g_previous_term, nullptr);
}

bool StopRequest::requested() const {
  return g_signal.load() != 0;
}

int StopRequest::signal() const {
  return g_signal.load();
}

}  // namespace svanet::engine
