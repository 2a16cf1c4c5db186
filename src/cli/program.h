#pragma once
// Start-up and error handling shared by the programs (svanet and
// svanet-tiny-objects): the console logger, --threads, number checks with
// plain messages, and one way of turning a usage error or an exception into
// a message and an exit status.

#include "svanet/common/log.h"

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace svanet::cli {

/// Exit status of a usage error (an unknown command or flag, a bad flag
/// value): 2, as Unix tools and nnU-Net use.
inline constexpr int kUsageExit = 2;
/// Exit status of interrupted work (128 + SIGINT, as shells report it);
/// run_program returns it for svanet::Interrupted.
inline constexpr int kInterruptedExit = 130;

/// Makes a stderr logger printing "level: message" (coloured on a
/// terminal) spdlog's default; the programs call it first.
void setup_console();

/// The console as the libraries' LogSink (RunOptions::log, ...).
LogSink console_log();

/// Flag checks whose messages quote the value ("must be a positive number,
/// got -4"), unlike CLI11's ranges to the largest double.
CLI::Validator positive_number();
CLI::Validator non_negative_number();

/// Ends a command's help with a note and its examples, one command per
/// line ("Examples:" last, so every --help ends the same way).
void add_examples(CLI::App* app, const std::vector<std::string>& examples,
                  const std::string& note = "");

/// Adds --threads to `app`, parses the command line, sets LibTorch's
/// thread count, and runs `body`. A usage error prints "error: <what>"
/// naming the word or flag (with a "did you mean" for a near miss of a
/// command or flag) and where help is, and exits 2; an exception from
/// `body` (svanet::Error, c10::Error, std::exception) is printed as
/// "error: <what>" and exits 1.
int run_program(CLI::App& app, int argc, char** argv, const std::function<int()>& body);

}  // namespace svanet::cli
