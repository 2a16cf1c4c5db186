#pragma once
// The svanet command-line interface: one register_<cmd> / run_<cmd> pair per
// subcommand. register_<cmd> adds the subcommand and its flags to the app and
// returns the subcommand; main() runs the one that was selected.

#include "program.h"
#include "svanet/registry/options.h"

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace svanet::cli {

/// A registered subcommand and what runs it once parsing succeeded.
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

/// Flags that several subcommands take are defined once, so they mean the
/// same everywhere (tests/cli/test_cli.cpp checks it).
CLI::Option* add_num_classes_flag(CLI::App* sub, int64_t& value);
CLI::Option* add_image_size_flag(CLI::App* sub, int64_t& value);
CLI::Option* add_dataset_flag(CLI::App* sub, std::string& value);
CLI::Option* add_seed_flag(CLI::App* sub, uint64_t& value);
/// -o/--out: where a command writes (a folder, or a file where the command
/// writes one file: `what` says which).
CLI::Option* add_out_flag(CLI::App* sub, std::string& value, const std::string& what = "folder");
CLI::Option* add_class_names_flag(CLI::App* sub, std::string& value);
CLI::Option* add_device_flag(CLI::App* sub, std::string& value);
CLI::Option* add_config_flag(CLI::App* sub, std::string& value);
CLI::Option* add_set_flag(CLI::App* sub, std::vector<std::string>& value);
CLI::Option* add_data_flag(CLI::App* sub, std::string& value);
/// --overwrite, the one way to replace what an earlier run wrote; without
/// it a command refuses an existing non-empty output (train, demo and
/// predict continue what is there instead).
CLI::Option* add_overwrite_flag(CLI::App* sub, bool& value);
/// Fails unless output folder `path` is missing or empty or `overwrite`
/// is set, saying how to proceed.
void check_output_folder(const std::string& path, bool overwrite);
/// Fails unless output file `path` is missing or `overwrite` is set.
void check_output_file(const std::string& path, bool overwrite);
CLI::Option* add_progress_flag(CLI::App* sub, std::string& value);
/// --mode, --overlap and --tta of predict and evaluate.
CLI::Option* add_mode_flag(CLI::App* sub, std::string& value);
CLI::Option* add_overlap_flag(CLI::App* sub, double& value);
CLI::Option* add_tta_flag(CLI::App* sub, std::string& value);
/// --precision of predict and evaluate (inference: auto, fp32, bf16, fp16).
CLI::Option* add_precision_flag(CLI::App* sub, std::string& value);
/// --checkpoint of evaluate and calibrate: best, last or a file.
CLI::Option* add_checkpoint_flag(CLI::App* sub, std::string& value);
/// --threshold of predict, evaluate (argmax, calibrated, auto or P).
CLI::Option* add_threshold_flag(CLI::App* sub, std::string& value);
/// --match of evaluate and calibrate: the matching rule (iou:T or
/// overlap[:D], svanet/metrics/objects.h), checked when parsed.
CLI::Option* add_match_flag(CLI::App* sub, std::string& value);
/// A flag an older svanet had: hidden from --help; giving it is a usage
/// error that says what replaced it.
void add_retired_flag(CLI::App* sub, const std::string& name, const std::string& replacement);
/// --axis, --intensity and --window of slice-volumes and predict (volumes).
CLI::Option* add_axis_flag(CLI::App* sub, int& value);
CLI::Option* add_intensity_flag(CLI::App* sub, std::string& value);
CLI::Option* add_window_flag(CLI::App* sub, std::string& value);

/// Prints a component's options, one per line, indented: name, type (or
/// its choices) with the default, and the help line.
void print_schema(const OptionSchema& schema, int indent);

/// Whether to draw a live progress bar for --progress auto|bar|lines.
bool want_progress_bar(const std::string& mode);

/// What `svanet version` and `svanet --version` print.
std::string version_text();

/// Adds every subcommand to `app` (what main() and the CLI tests use).
std::vector<Command> register_all(CLI::App& app);

Command register_check_data(CLI::App& app);
Command register_compare(CLI::App& app);
Command register_study(CLI::App& app);
Command register_demo(CLI::App& app);
Command register_evaluate(CLI::App& app);
Command register_calibrate(CLI::App& app);
Command register_predict(CLI::App& app);
Command register_train(CLI::App& app);
Command register_checkpoint_info(CLI::App& app);
Command register_data_stats(CLI::App& app);
Command register_init_config(CLI::App& app);
Command register_demo_data(CLI::App& app);
Command register_slice_volumes(CLI::App& app);
Command register_convert_dataset(CLI::App& app);
Command register_convert(CLI::App& app);
Command register_export(CLI::App& app);
Command register_version(CLI::App& app);
Command register_models(CLI::App& app);
Command register_list(CLI::App& app);

}  // namespace svanet::cli
