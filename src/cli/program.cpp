#include "program.h"

#include "svanet/common/error.h"

#include <c10/util/Exception.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <torch/utils.h>

#include <thread>

namespace svanet::cli {

void setup_console() {
  auto logger = spdlog::get("svanet");
  if (!logger) logger = spdlog::stderr_color_mt("svanet");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%^%l%$: %v");
}

LogSink console_log() {
  return [](LogLevel level, const std::string& message) {
    auto spd = spdlog::level::info;
    switch (level) {
      case LogLevel::kDebug:
        spd = spdlog::level::debug;
        break;
      case LogLevel::kInfo:
        break;
      case LogLevel::kWarning:
        spd = spdlog::level::warn;
        break;
      case LogLevel::kError:
        spd = spdlog::level::err;
        break;
    }
    spdlog::default_logger_raw()->log(spd, "{}", message);
  };
}

int run_program(CLI::App& app, int argc, char** argv, const std::function<int()>& body) {
  int threads = 0;
  app.add_option("--threads", threads, "CPU threads for tensor operations (0 = all cores)")
      ->check(CLI::NonNegativeNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  const unsigned cores = std::thread::hardware_concurrency();
  torch::set_num_threads(threads > 0 ? threads : static_cast<int>(cores > 0 ? cores : 1));
  try {
    return body();
  } catch (const svanet::Error& e) {
    spdlog::error("{}", e.what());
  } catch (const c10::Error& e) {
    spdlog::error("{}", e.what_without_backtrace());
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
  }
  return 1;
}

}  // namespace svanet::cli
