// svanet: the command-line front end of the svanet library.

#include "commands.h"
#include "program.h"

#include "svanet/version.h"

#include <string>
#include <vector>

int main(int argc, char** argv) {
  svanet::cli::setup_console();
  CLI::App app{"svanet: small-object medical image segmentation with SvANet (LibTorch)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", [] { return std::string("svanet ") + SVANET_VERSION; });
  std::vector<svanet::cli::Command> commands = svanet::cli::register_all(app);
  return svanet::cli::run_program(app, argc, argv, [&] {
    for (auto& command : commands) {
      if (command.app->parsed()) return command.run();
    }
    return 0;
  });
}
