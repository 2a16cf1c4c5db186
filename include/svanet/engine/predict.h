#pragma once
/// @file
/// Prediction on image files: what `svanet predict` runs. Per input image,
/// in the output folder:
///
///     NAME.png                     label map: palette PNG of class indices at
///                                  the input's size (colours in a viewer,
///                                  indices when read as 8-bit gray)
///     overlays/NAME.png            the image with the labels in colour (--overlay)
///     probabilities/NAME_CLASS.png per-class probability, 16-bit PNG (p x 65535)
///     probabilities/NAME_CLASS.tif or float32 TIFF (--probabilities png|tiff)
///     predictions.csv              one row per image: size, mode, per class
///                                  pixels, objects and largest object, seconds
///
/// NAME is the file name without its extension; inputs found in a folder
/// keep their path below it (a/b.png -> a/b.png). Every file is written
/// atomically. An input whose outputs all exist is skipped unless
/// `overwrite` (so an interrupted folder resumes); an unreadable input is
/// reported by name and skipped, the others are written.

#include "svanet/common/log.h"
#include "svanet/data/volumes.h"
#include "svanet/inference/predictor.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace svanet::engine {

/// One input image and where its label map goes (relative to the output).
struct PredictInput {
  std::string path;
  /// Output name without extension, e.g. "case_01" or "site_a/case_01".
  std::string name;
};

/// Files, folders (their images; below them too with `recursive`) and glob
/// patterns (* and ? in the file name part) as PredictInput, sorted within
/// each argument. A path that matches nothing, or two inputs with the same
/// output name, is an error naming them.
std::vector<PredictInput> expand_inputs(const std::vector<std::string>& arguments,
                                        bool recursive = false);

/// Pixels, 8-connected objects and largest object (pixels) of one class.
struct ClassCounts {
  int64_t pixels = 0, objects = 0, largest = 0;
};

/// Sets the foreground components of (H, W) uint8 `labels` that are
/// smaller than `min_size` pixels to background (none when min_size is 0)
/// and counts what remains, per class (background's objects and largest
/// stay 0).
std::vector<ClassCounts> remove_small_objects(torch::Tensor& labels, int64_t classes,
                                              int64_t min_size);

/// The checkpoint a -m argument names: a checkpoint file, or a run folder
/// (its checkpoints/best.pt). Anything else is an error naming it.
std::string resolve_model(const std::string& model);

struct PredictFilesOptions {
  /// Checkpoint file or run folder.
  std::string model;
  std::vector<std::string> inputs;
  bool recursive = false;
  /// Output folder (created when missing).
  std::string out;
  inference::PredictorOptions predictor;
  bool overlay = false;
  /// "", "png" (16-bit) or "tiff" (float32): per-class probability maps.
  std::string probabilities;
  /// Predicted components smaller than this many pixels become background
  /// (0: keep everything).
  int64_t min_size = 0;
  /// Redo inputs whose outputs exist.
  bool overwrite = false;
  /// NIfTI volumes (.nii, .nii.gz) are predicted slice by slice along the
  /// axis and with the intensity rule these give (the slice-volumes rules:
  /// `dataset` for its official ones, or axis, intensity and window), and
  /// written as a label volume NAME.nii.gz with the input's header.
  data::SliceOptions volumes;
  /// Progress: a bar redrawn on stderr, or a line through `log` every few seconds.
  bool progress_bar = false;
  LogSink log;
};

struct PredictFilesResult {
  int64_t predicted = 0;
  /// Inputs whose outputs existed.
  int64_t skipped = 0;
  /// "FILE: reason", per input that could not be predicted.
  std::vector<std::string> failures;
  /// Inputs predicted in each mode.
  int64_t resized = 0, slid = 0;
  std::string checkpoint;
  /// How labels were chosen: "argmax" or the thresholds per class.
  std::string labels;
  /// The arithmetic used: fp32, bf16 or fp16 (auto resolved).
  std::string precision;
  /// OUT/predictions.csv; empty when every input failed (the output folder
  /// is then removed again if this call created it).
  std::string csv;
  double seconds = 0.0;
};

/// Predicts every input into options.out. Errors that concern the whole
/// command (the model, the output folder, no inputs) throw svanet::Error;
/// a bad input is a failure in the result and the others go on.
PredictFilesResult predict_files(const PredictFilesOptions& options);

}  // namespace svanet::engine
