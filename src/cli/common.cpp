#include "commands.h"

#include "svanet/common/error.h"
#include "svanet/inference/thresholds.h"
#include "svanet/metrics/objects.h"
#include "svanet/utils/paths.h"
#include "svanet/utils/text.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <system_error>

namespace svanet::cli {

CLI::Option* add_num_classes_flag(CLI::App* sub, int64_t& value) {
  return sub->add_option("--num-classes", value, "Number of output classes, background included")
      ->check(positive_number());
}

CLI::Option* add_image_size_flag(CLI::App* sub, int64_t& value) {
  return sub
      ->add_option("--image-size", value,
                   "Nominal image size: the training resolution (official resize_shape)")
      ->check(CLI::Range(32, 8192));
}

CLI::Option* add_dataset_flag(CLI::App* sub, std::string& value) {
  return sub->add_option("--dataset", value,
                         "Built-in dataset definition (fives, isic2018t1, polypgen, atlas, kits23, "
                         "tissuenet, spermhealth, demo)");
}

CLI::Option* add_seed_flag(CLI::App* sub, uint64_t& value) {
  return sub->add_option("--seed", value, "Random seed (the same seed gives the same result)")
      ->capture_default_str();
}

CLI::Option* add_out_flag(CLI::App* sub, std::string& value, const std::string& what) {
  return sub->add_option("-o,--out", value, "Output " + what);
}

CLI::Option* add_class_names_flag(CLI::App* sub, std::string& value) {
  return sub->add_option("--class-names", value, "Class names, comma-separated, background first");
}

CLI::Option* add_device_flag(CLI::App* sub, std::string& value) {
  return sub->add_option("--device", value,
                         "Device: auto (CUDA when available), cpu, cuda, cuda:N");
}

CLI::Option* add_mode_flag(CLI::App* sub, std::string& value) {
  return sub
      ->add_option("--mode", value,
                   "resize (the paper's: whole image at the training size), sliding (native "
                   "resolution, Gaussian-weighted tiles of the training size), auto (sliding for "
                   "images over twice the training size)")
      ->check(CLI::IsMember({"auto", "resize", "sliding"}));
}

CLI::Option* add_overlap_flag(CLI::App* sub, double& value) {
  return sub
      ->add_option("--overlap", value, "Sliding window: fraction of a tile shared with the next")
      ->check(CLI::Range(0.0, 0.95));
}

CLI::Option* add_tta_flag(CLI::App* sub, std::string& value) {
  return sub
      ->add_option("--tta", value,
                   "Test-time augmentation averaged as probabilities: none, flip (horizontal), "
                   "flip4 (horizontal, vertical, both)")
      ->check(CLI::IsMember({"none", "flip", "flip4"}));
}

CLI::Option* add_precision_flag(CLI::App* sub, std::string& value) {
  return sub
      ->add_option("--precision", value,
                   "Arithmetic of the forward passes: auto (bf16 on a CPU with AVX512_BF16 or "
                   "AMX, fp32 elsewhere), fp32, bf16 (CPU or CUDA), fp16 (CUDA)")
      ->check(CLI::IsMember({"auto", "fp32", "bf16", "fp16"}));
}

CLI::Option* add_checkpoint_flag(CLI::App* sub, std::string& value) {
  return sub->add_option("--checkpoint", value,
                         "The run's best or last checkpoint, or a checkpoint file");
}

CLI::Option* add_threshold_flag(CLI::App* sub, std::string& value) {
  return sub
      ->add_option("--threshold", value,
                   "How probabilities become labels: argmax, calibrated (the checkpoint's "
                   "thresholds from `svanet calibrate`), auto (calibrated when the checkpoint has "
                   "them) or a probability for every class, e.g. 0.3")
      ->check(CLI::Validator(
          [](std::string& text) {
            try {
              inference::ThresholdChoice::parse(text);
              return std::string();
            } catch (const Error& e) {
              return std::string(e.what());
            }
          },
          "argmax|calibrated|auto|P", "threshold"));
}

CLI::Option* add_match_flag(CLI::App* sub, std::string& value) {
  return sub
      ->add_option("--match", value,
                   "How objects are paired: iou:T (one to one at IoU >= T; a flood matches "
                   "nothing) or overlap[:D] (any overlap after a D-pixel dilation, BraTS's)")
      ->check(CLI::Validator(
          [](std::string& text) {
            try {
              metrics::MatchRule::parse(text);
              return std::string();
            } catch (const Error& e) {
              return std::string(e.what());
            }
          },
          "iou:T|overlap[:D]", "match"));
}

void add_retired_flag(CLI::App* sub, const std::string& name, const std::string& replacement) {
  sub->add_option_function<std::string>(name,
                                        [name, replacement](const std::string&) {
                                          throw CLI::ValidationError(
                                              name, "was replaced by " + replacement);
                                        })
      ->group("");  // hidden from --help
}

CLI::Option* add_axis_flag(CLI::App* sub, int& value) {
  return sub
      ->add_option("--axis", value,
                   "NIfTI axis to slice along: 0 (i), 1 (j), 2 (k); default the dataset's (else 2)")
      ->check(CLI::Range(0, 2))
      ->default_str("dataset's");
}

CLI::Option* add_intensity_flag(CLI::App* sub, std::string& value) {
  return sub
      ->add_option("--intensity", value,
                   "Pixel scaling: official, window, slice-max, clip, percentile")
      ->check(CLI::IsMember({"official", "window", "slice-max", "clip", "percentile"}));
}

CLI::Option* add_window_flag(CLI::App* sub, std::string& value) {
  return sub->add_option("--window", value,
                         "CT window CENTRE,WIDTH in HU (implies --intensity window)");
}

CLI::Option* add_config_flag(CLI::App* sub, std::string& value) {
  return sub->add_option("-c,--config", value, "Training config (YAML; see configs/)");
}

CLI::Option* add_set_flag(CLI::App* sub, std::vector<std::string>& value) {
  return sub->add_option("--set", value,
                         "Override a config key: --set train.epochs=20 (dotted path, YAML value; "
                         "repeatable)");
}

CLI::Option* add_data_flag(CLI::App* sub, std::string& value) {
  return sub->add_option("--data", value, "Dataset folder (sets data.root)");
}

CLI::Option* add_overwrite_flag(CLI::App* sub, bool& value) {
  return sub->add_flag("--overwrite", value,
                       "Replace what an earlier run wrote to the output (without it an existing "
                       "output is refused, or continued where the command can)");
}

void check_output_folder(const std::string& path, bool overwrite) {
  if (overwrite) return;
  utils::require_new_output(path, "--overwrite replaces it, or choose another --out");
}

void check_output_file(const std::string& path, bool overwrite) {
  if (overwrite) return;
  std::error_code error;
  SVANET_CHECK(!std::filesystem::exists(path, error), path,
               " already exists; --overwrite replaces it, or choose another --out");
}

CLI::Option* add_progress_flag(CLI::App* sub, std::string& value) {
  return sub
      ->add_option("--progress", value,
                   "Progress display: auto (a bar on a terminal, lines otherwise), bar, lines")
      ->check(CLI::IsMember({"auto", "bar", "lines"}))
      ->capture_default_str();
}

void print_schema(const OptionSchema& schema, int indent) {
  for (const auto& o : schema) {
    std::string type = o.choices.empty() ? option_type_name(o.type) : utils::join(o.choices, "|");
    const bool list = is_list(o.type);
    std::string value = o.default_value;
    if (list) value.insert(0, "[").append("]");
    if (!list && value.empty()) value = "(none)";
    type += " = ";
    type += value;
    std::printf("%*s%-24s %-24s %s\n", indent, "", o.name.c_str(), type.c_str(), o.help.c_str());
  }
}

bool want_progress_bar(const std::string& mode) {
  if (mode == "bar") return true;
  if (mode == "lines") return false;
  return isatty(STDERR_FILENO) != 0;
}

std::vector<Command> register_all(CLI::App& app) {
  return {register_train(app),       register_demo(app),          register_evaluate(app),
          register_calibrate(app),   register_predict(app),       register_compare(app),
          register_study(app),       register_models(app),        register_list(app),
          register_convert(app),     register_export(app),        register_checkpoint_info(app),
          register_demo_data(app),   register_check_data(app),    register_data_stats(app),
          register_init_config(app), register_slice_volumes(app), register_convert_dataset(app),
          register_version(app)};
}

}  // namespace svanet::cli
