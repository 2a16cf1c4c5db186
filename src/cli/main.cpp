// svanet: the command-line front end of the svanet library.

#include "commands.h"

#include "svanet/common/error.h"
#include "svanet/version.h"

#include <c10/util/Exception.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <torch/utils.h>

#include <thread>
#include <vector>

int main(int argc, char** argv) {
  auto logger = spdlog::stderr_color_mt("svanet");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%^%l%$: %v");

  CLI::App app{"svanet: small-object medical image segmentation with SvANet (LibTorch)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", [] { return std::string("svanet ") + SVANET_VERSION; });
  int threads = 0;
  app.add_option("--threads", threads, "CPU threads for tensor operations (0 = all cores)")
      ->check(CLI::NonNegativeNumber);
  std::vector<svanet::cli::Command> commands = svanet::cli::register_all(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  const unsigned cores = std::thread::hardware_concurrency();
  torch::set_num_threads(threads > 0 ? threads : static_cast<int>(cores > 0 ? cores : 1));
  try {
    for (auto& command : commands) {
      if (command.app->parsed()) {
        return command.run();
      }
    }
  } catch (const svanet::Error& e) {
    spdlog::error("{}", e.what());
    return 1;
  } catch (const c10::Error& e) {
    spdlog::error("{}", e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return 1;
  }
  return 0;
}
