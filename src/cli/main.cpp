// svanet: the command-line front end of the svanet library.

#include "commands.h"
#include "program.h"

#include <string>
#include <vector>

int main(int argc, char** argv) {
  svanet::cli::setup_console();
  CLI::App app{"svanet: small-object medical image segmentation with SvANet (LibTorch)", "svanet"};
  app.require_subcommand(1);
  // Every flag's default in --help, not only where a command asked for it.
  app.option_defaults()->always_capture_default();
  app.set_version_flag("--version", [] { return svanet::cli::version_text(); });
  std::vector<svanet::cli::Command> commands = svanet::cli::register_all(app);
  return svanet::cli::run_program(app, argc, argv, [&] {
    for (auto& command : commands) {
      if (command.app->parsed()) return command.run();
    }
    return 0;
  });
}
