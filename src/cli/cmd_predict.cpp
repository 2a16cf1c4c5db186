// svanet predict: a trained model on new images.

#include "commands.h"
#include "program.h"

#include "svanet/engine/predict.h"

#include <cstdio>
#include <memory>

namespace svanet::cli {

namespace {

struct PredictArgs {
  std::string model, out, device = "auto", precision = "auto", mode = "auto", tta = "none",
                          threshold = "auto";
  std::string probabilities, progress = "auto";
  std::string intensity = "official", window;
  std::vector<std::string> inputs;
  bool recursive = false, overlay = false, overwrite = false;
  double overlap = 0.5;
  int64_t batch = 4, min_size = 0;
  data::SliceOptions volumes;
};

int run_predict(const PredictArgs& a) {
  engine::PredictFilesOptions o;
  o.model = a.model;
  o.inputs = a.inputs;
  o.recursive = a.recursive;
  o.out = a.out;
  o.predictor.device = a.device;
  o.predictor.precision = a.precision;
  o.predictor.mode = inference::parse_mode(a.mode);
  o.predictor.tta = inference::parse_tta(a.tta);
  o.predictor.threshold = inference::ThresholdChoice::parse(a.threshold);
  o.predictor.overlap = a.overlap;
  o.predictor.batch = a.batch;
  o.overlay = a.overlay;
  o.probabilities = a.probabilities;
  o.min_size = a.min_size;
  o.overwrite = a.overwrite;
  o.volumes.dataset = a.volumes.dataset;
  o.volumes.axis = a.volumes.axis;
  o.volumes.intensity = data::parse_intensity(a.intensity);
  if (!a.window.empty()) data::parse_window(a.window, o.volumes);
  o.progress_bar = want_progress_bar(a.progress);
  o.log = console_log();
  const auto r = engine::predict_files(o);
  std::printf("predicted %lld input(s) with %s (%s; labels: %s) in %.1f s",
              static_cast<long long>(r.predicted), r.checkpoint.c_str(), r.precision.c_str(),
              r.labels.c_str(), r.seconds);
  if (r.predicted > 0) {
    std::printf(" (%lld resized to the training size, %lld by sliding window)",
                static_cast<long long>(r.resized), static_cast<long long>(r.slid));
  }
  std::printf("\n");
  if (r.skipped > 0) {
    std::printf("skipped %lld input(s) whose outputs exist (--overwrite redoes them)\n",
                static_cast<long long>(r.skipped));
  }
  if (!r.csv.empty()) std::printf("wrote label maps and %s\n", r.csv.c_str());
  if (!r.failures.empty()) {
    std::fprintf(stderr, "error: %zu input(s) could not be predicted:\n", r.failures.size());
    for (const auto& f : r.failures) std::fprintf(stderr, "  %s\n", f.c_str());
    return 1;
  }
  return 0;
}

}  // namespace

Command register_predict(CLI::App& app) {
  auto a = std::make_shared<PredictArgs>();
  auto* sub = app.add_subcommand(
      "predict",
      "Segment new images with a trained model: a label map per image (palette PNG of class "
      "indices at the image's size; a NIfTI label volume per volume), predictions.csv, "
      "optional overlays and probabilities");
  sub->add_option("-m,--model", a->model, "Checkpoint file, or a run folder (its best checkpoint)")
      ->required();
  sub->add_option("-i,--input", a->inputs,
                  "Images or NIfTI volumes, folders of them, or patterns such as 'scans/*.png' "
                  "(repeatable)")
      ->required();
  sub->add_option("-o,--out", a->out, "Output folder")->required();
  sub->add_flag("--recursive", a->recursive,
                "Also take images in the folders below an input folder");
  add_mode_flag(sub, a->mode)->capture_default_str();
  add_overlap_flag(sub, a->overlap)->capture_default_str();
  add_tta_flag(sub, a->tta)->capture_default_str();
  add_threshold_flag(sub, a->threshold)->capture_default_str();
  sub->add_option("--min-size", a->min_size,
                  "Remove predicted objects smaller than this many pixels (default 0: keep all)")
      ->check(non_negative_number());
  sub->add_flag("--overlay", a->overlay, "Also write overlays/NAME.png: the image with the labels");
  sub->add_option("--probabilities", a->probabilities,
                  "Also write per-class probabilities: png (16-bit) or tiff (float32)")
      ->check(CLI::IsMember({"png", "tiff"}));
  add_device_flag(sub, a->device)->capture_default_str();
  add_precision_flag(sub, a->precision)->capture_default_str();
  sub->add_option("--batch", a->batch, "Images (resize) or tiles (sliding) per forward pass")
      ->check(positive_number())
      ->capture_default_str();
  add_overwrite_flag(sub, a->overwrite);
  add_progress_flag(sub, a->progress);
  auto* volume_flags =
      "NIfTI volumes: the slice-volumes rules of the training slices (--dataset atlas|kits23 for "
      "their official ones)";
  add_dataset_flag(sub, a->volumes.dataset)->group(volume_flags);
  add_axis_flag(sub, a->volumes.axis)->group(volume_flags);
  add_intensity_flag(sub, a->intensity)->capture_default_str()->group(volume_flags);
  add_window_flag(sub, a->window)->group(volume_flags);
  add_examples(
      sub,
      {"svanet predict -m runs/demo -i demo_data/Demo/test -o preds",
       "svanet predict -m best.pt -i 'scans/*.png' -o preds --mode sliding --tta flip --overlay",
       "svanet predict -m runs/kits -i volumes/ -o preds --dataset kits23"},
      "A NIfTI volume gives NAME.nii.gz. Inputs whose outputs exist are skipped, so an "
      "interrupted folder resumes (--overwrite redoes them); an unreadable image is reported and "
      "skipped (exit status 1 at the end).");
  return {sub, [a] { return run_predict(*a); }};
}

}  // namespace svanet::cli
