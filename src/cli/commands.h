#pragma once
// The svanet command-line interface: one register_<cmd> / run_<cmd> pair per
// subcommand. register_<cmd> adds the subcommand and its flags to the app and
// returns the subcommand; main() runs the one that was selected.

#include <CLI/CLI.hpp>

#include <functional>

namespace svanet::cli {

/// A registered subcommand and what runs it once parsing succeeded.
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

Command register_version(CLI::App& app);
Command register_models(CLI::App& app);

}  // namespace svanet::cli
