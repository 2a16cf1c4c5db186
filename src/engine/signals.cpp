#include "engine/signals.h"

#include "svanet/common/error.h"
#include "svanet/common/interrupted.h"

#include <unistd.h>
#include <atomic>
#include <csignal>
#include <cstdlib>

namespace svanet::engine {

namespace {

std::atomic<int> g_signal{0};
std::atomic<bool> g_installed{false};
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

StopRequest::StopRequest(bool handle_signals, std::function<bool()> caller)
    : caller_(std::move(caller)) {
  if (!handle_signals) return;
  SVANET_CHECK(!g_installed.exchange(true),
               "a run that handles SIGINT/SIGTERM is already in progress in this process; "
               "only one run at a time can (RunOptions::handle_signals)");
  handling_signals_ = true;
  g_signal.store(0);
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;
  sigaction(SIGINT, &action, &g_previous_int);
  sigaction(SIGTERM, &action, &g_previous_term);
}

StopRequest::~StopRequest() {
  if (!handling_signals_) return;
  sigaction(SIGINT, &g_previous_int, nullptr);
  sigaction(SIGTERM, &g_previous_term, nullptr);
  g_installed.store(false);
}

bool StopRequest::requested() const {
  if (handling_signals_ && g_signal.load() != 0) return true;
  return caller_ && caller_();
}

std::string StopRequest::reason() const {
  if (handling_signals_) {
    const int sig = g_signal.load();
    if (sig == SIGTERM) return "SIGTERM";
    if (sig != 0) return "SIGINT";
  }
  return caller_ && caller_() ? "the caller" : "";
}

void throw_if_signalled(const std::string& doing) {
  const int sig = g_installed.load() ? g_signal.load() : 0;
  if (sig == 0) return;
  throw Interrupted(std::string("interrupted by ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") +
                    " while " + doing);
}

}  // namespace svanet::engine
