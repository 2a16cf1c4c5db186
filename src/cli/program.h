#pragma once
// Start-up and error handling shared by the programs (svanet and
// svanet-tiny-objects): the console logger, --threads, and one way of
// turning an exception into a message and an exit status.

#include "svanet/common/log.h"

#include <CLI/CLI.hpp>

#include <functional>

namespace svanet::cli {

/// Makes a stderr logger printing "level: message" (coloured on a
/// terminal) spdlog's default; the programs call it first.
void setup_console();

/// The console as the libraries' LogSink (RunOptions::log, ...).
LogSink console_log();

/// Adds --threads to `app`, parses the command line, sets LibTorch's
/// thread count, and runs `body`. A usage error exits as CLI11 reports it;
/// an exception from `body` (svanet::Error, c10::Error, std::exception) is
/// printed as "error: <what>" and exits 1.
int run_program(CLI::App& app, int argc, char** argv, const std::function<int()>& body);

}  // namespace svanet::cli
