#pragma once
/// @file
/// Converting checkpoints of the official SvANet code into svanet checkpoints.

#include "svanet/io/checkpoint.h"
#include "svanet/io/state_dict.h"
#include "svanet/models/segmentation_model.h"

#include <optional>
#include <string>
#include <vector>

namespace svanet::official {

/// The registered model an official state dict belongs to, read from its
/// keys and shapes: encoder depth and width, which feature-guide parts exist,
/// the link mode, stage 5, ASPP width and the number of classes. What the
/// weights cannot tell (the nominal image size, Monte Carlo pool sizes) takes
/// the paper's defaults; `image_size` overrides the former.
models::ModelSpec spec_from_official_state_dict(const io::StateDict& official,
                                                int64_t image_size = 0);

/// Options of convert_official_checkpoint.
struct ConvertOptions {
  /// The model to convert into; detected from the weights when unset.
  std::optional<models::ModelSpec> spec;
  /// Nominal image size when `spec` is unset (0 = the variant's default).
  int64_t image_size = 0;
  /// Class names, background first (default: background, class_1, ...).
  std::vector<std::string> classes;
};

/// What convert_official_checkpoint did.
struct ConvertReport {
  models::ModelSpec spec;
  size_t tensors = 0;
};

/// Reads an official checkpoint (any torch.save format, DataParallel prefix
/// or not), maps every key onto the model strictly and writes an svanet
/// checkpoint. Unknown, missing or mis-shaped tensors throw svanet::Error
/// listing them. The normalisation recorded is `reference` ([0, 1] scaling),
/// which is what the official code effectively trains with.
ConvertReport convert_official_checkpoint(const std::string& input, const std::string& output,
                                          const ConvertOptions& options = {});

/// What export_official_checkpoint wrote.
struct ExportReport {
  std::string model;
  size_t tensors = 0;
};

/// The reverse of convert_official_checkpoint: writes the weights of an
/// svanet checkpoint as a state dict in the official SvANet key layout
/// (torch.save's zip format), so that the authors' code loads them with
/// `model.load_state_dict(torch.load(path))`. Only SvANet and DeepLabv3
/// models have an official layout; others throw svanet::Error naming the
/// model. Written atomically.
ExportReport export_official_checkpoint(const std::string& checkpoint, const std::string& output);

}  // namespace svanet::official
