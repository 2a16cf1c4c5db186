#include "program.h"

#include "svanet/common/error.h"
#include "svanet/common/interrupted.h"
#include "svanet/runtime/heap.h"
#include "svanet/utils/text.h"

#include <c10/util/Exception.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <torch/utils.h>

#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

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

namespace {

CLI::Validator number_check(bool allow_zero) {
  return CLI::Validator(
      [allow_zero](std::string& text) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(text.c_str(), &end);
        if (text.empty() || end == text.c_str() || *end != '\0') {
          return "expected a number, got '" + text + "'";
        }
        if (allow_zero ? v >= 0 : v > 0) return {};
        return std::string(allow_zero ? "must be 0 or more" : "must be positive") + ", got " + text;
      },
      allow_zero ? "NUMBER >= 0" : "NUMBER > 0");
}

/// The subcommand the command line selected (the deepest parsed one).
const CLI::App* selected(const CLI::App& app) {
  for (const CLI::App* sub : app.get_subcommands()) {
    if (sub->parsed()) return selected(*sub);
  }
  return &app;
}

/// "svanet train": the program and the selected subcommand's path.
std::string command_path(const CLI::App* app) {
  std::vector<std::string> names{app->get_name()};
  for (const CLI::App* p = app->get_parent(); p != nullptr; p = p->get_parent()) {
    names.insert(names.begin(), p->get_name());
  }
  return utils::join(names, " ");
}

std::vector<std::string> subcommand_names(CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    names.push_back(sub->get_name());
  }
  return names;
}

int usage_error(const std::string& message, const std::string& help) {
  spdlog::error("{}", message);
  std::fprintf(stderr, "(%s --help lists what it takes)\n", help.c_str());
  return kUsageExit;
}

/// The first word that is not a flag of the program itself, when it is not
/// one of its commands: "unknown command 'evalute' (did you mean
/// 'evaluate'?)". Empty when the command line names a command (or none).
std::string unknown_command(CLI::App& app, int argc, char** argv) {
  const auto names = subcommand_names(app);
  if (names.empty()) return {};
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (word == "--threads") {
      ++i;  // its value
      continue;
    }
    if (!word.empty() && word[0] == '-') continue;
    for (const auto& name : names) {
      if (name == word) return {};
    }
    return "unknown command '" + word + "'" + utils::did_you_mean(word, names) +
           "; commands: " + utils::join(names, ", ");
  }
  return {};
}

/// CLI11's "The following arguments were not expected: ..." as the first
/// unknown flag with the nearest flag of the selected command.
std::string unexpected_arguments(CLI::App& app) {
  const CLI::App* command = selected(app);
  std::vector<std::string> flags;
  for (const CLI::Option* option : command->get_options()) {
    for (const auto& name : option->get_lnames()) flags.push_back("--" + name);
    for (const auto& name : option->get_snames()) flags.push_back("-" + name);
  }
  if (command != &app) {
    for (const CLI::Option* option : app.get_options()) {
      for (const auto& name : option->get_lnames()) flags.push_back("--" + name);
    }
  }
  const std::vector<std::string> extras = app.remaining(true);
  for (const auto& word : extras) {
    if (word.size() > 1 && word[0] == '-') {
      const std::string flag = word.substr(0, word.find('='));
      return command_path(command) + ": unknown flag '" + flag + "'" +
             utils::did_you_mean(flag, flags);
    }
  }
  return command_path(command) + ": unexpected argument" + (extras.size() > 1 ? "s" : "") + " '" +
         utils::join(extras, " ") + "'";
}

}  // namespace

CLI::Validator positive_number() {
  return number_check(false);
}
CLI::Validator non_negative_number() {
  return number_check(true);
}

void add_examples(CLI::App* app, const std::vector<std::string>& examples,
                  const std::string& note) {
  std::string text = note.empty() ? "" : note + "\n\n";
  text += "Examples:";
  for (const auto& e : examples) text += "\n  " + e;
  app->footer(text + "\n");
}

int run_program(CLI::App& app, int argc, char** argv, const std::function<int()>& body) {
  int threads = 0;
  app.add_option("--threads", threads, "CPU threads for tensor operations (0 = all cores)")
      ->check(non_negative_number());
  if (const std::string message = unknown_command(app, argc, argv); !message.empty()) {
    return usage_error(message, app.get_name());
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ExtrasError&) {
    return usage_error(unexpected_arguments(app), command_path(selected(app)));
  } catch (const CLI::RequiredError& e) {
    const CLI::App* command = selected(app);
    if (command == &app && !subcommand_names(app).empty()) {
      return usage_error("give a command: " + utils::join(subcommand_names(app), ", "),
                         app.get_name());
    }
    return usage_error(command_path(command) + ": " + e.what(), command_path(command));
  } catch (const CLI::ParseError& e) {
    // A bad value of the program's own flag is the program's error, not
    // the command's.
    const bool own = std::string(e.what()).find("--threads") != std::string::npos;
    const CLI::App* command = own ? &app : selected(app);
    return usage_error(command_path(command) + ": " + e.what(), command_path(command));
  }
  spdlog::debug("{}", runtime::keep_freed_memory());
  const unsigned reported = std::thread::hardware_concurrency();
  const int cores = reported > 0 ? static_cast<int>(reported) : 1;
  if (threads > cores) {
    // More threads than the machine runs at once only slow every program
    // on it (each OpenMP thread spins waiting for the others).
    spdlog::warn("--threads {} is more than this machine's {} hardware threads; using {}", threads,
                 cores, cores);
    threads = cores;
  }
  torch::set_num_threads(threads > 0 ? threads : cores);
  try {
    return body();
  } catch (const svanet::Interrupted& e) {
    spdlog::warn("{}", e.what());
    return kInterruptedExit;
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
