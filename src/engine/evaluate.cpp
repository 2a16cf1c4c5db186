#include "svanet/engine/evaluate.h"

#include "data/cv_io.h"
#include "engine/run_files.h"
#include "svanet/common/error.h"
#include "svanet/config/train_config.h"
#include "svanet/data/dataset.h"
#include "svanet/data/image_io.h"
#include "svanet/data/loader.h"
#include "svanet/data/splits.h"
#include "svanet/engine/inference.h"
#include "svanet/engine/trainer.h"
#include "svanet/evaluation/report.h"
#include "svanet/inference/predict.h"
#include "svanet/io/checkpoint.h"
#include "svanet/runtime/precision.h"
#include "svanet/utils/parallel.h"
#include "svanet/utils/text.h"

#include <torch/torch.h>

#include <filesystem>
#include <map>

namespace svanet::engine {

namespace fs = std::filesystem;

namespace {

metrics::MetricOptions metric_options(const config::EvaluateSection& e,
                                      const std::vector<std::string>& classes) {
  metrics::MetricOptions o;
  o.num_classes = static_cast<int64_t>(classes.size());
  o.class_names = classes;
  o.surface_distances = e.surface_distances;
  o.match.iou_threshold = e.iou_threshold;
  o.image_bins_pct = e.image_bins_pct;
  o.object_bins_pct = e.object_bins_pct;
  o.object_bins_px = e.object_bins_px;
  return o;
}

const std::vector<data::Sample>& split_samples(const data::Splits& splits, const std::string& split,
                                               const std::string& run_dir) {
  if (split == "train") return splits.train;
  if (split == "val") return splits.val;
  SVANET_CHECK(split == "test", "--split is test, val or train, got '", split, "'");
  SVANET_CHECK(!splits.test.empty(), run_dir,
               ": the run has no test split (its dataset has no held-out images)");
  return splits.test;
}

bool is_image_file(const fs::path& p) {
  return fs::is_regular_file(p) && data::has_image_extension(p.string());
}

/// Files of a folder by stem; two files with one stem are an error.
std::map<std::string, fs::path> files_by_stem(const std::string& dir, const char* what) {
  SVANET_CHECK(fs::is_directory(dir), dir, ": the ", what, " folder does not exist");
  std::map<std::string, fs::path> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (!is_image_file(entry.path())) continue;
    const auto stem = entry.path().stem().string();
    const auto [it, inserted] = out.emplace(stem, entry.path());
    SVANET_CHECK(inserted, dir, ": two ", what, " files share the stem '", stem,
                 "': ", it->second.filename().string(), " and ", entry.path().filename().string());
  }
  SVANET_CHECK(!out.empty(), dir, ": no image files (png, jpg, tif, bmp) in the ", what, " folder");
  return out;
}

}  // namespace

namespace {

config::TrainConfig load_run_config(const fs::path& run) {
  const fs::path config_path = run / kConfig;
  SVANET_CHECK(fs::exists(config_path), run.string(), ": not a run folder (no ", kConfig, ")");
  return config::load_train_config(config_path.string());
}

fs::path evaluation_dir(const fs::path& run, const config::TrainConfig& config,
                        const EvaluateOptions& options, const fs::path& checkpoint) {
  if (!options.out.empty()) return options.out;
  if (options.checkpoint == config.evaluate.checkpoint) return run / ("eval_" + options.split);
  return run / ("eval_" + options.split + "_" + checkpoint.stem().string());
}

}  // namespace

std::string run_checkpoint_file(const std::string& run_dir, const std::string& checkpoint) {
  if (checkpoint == "best" || checkpoint == "last") {
    const fs::path file = fs::path(run_dir) / kCheckpointsDir /
                          (checkpoint == "best" ? kBestCheckpoint : kLastCheckpoint);
    SVANET_CHECK(fs::exists(file), file.string(),
                 ": no such checkpoint (has the run finished an epoch?)");
    return file.string();
  }
  SVANET_CHECK(fs::exists(checkpoint), checkpoint, ": no such checkpoint file");
  return checkpoint;
}

std::vector<std::string> run_summaries(const std::string& dir_text, const std::string& split) {
  const fs::path dir(dir_text);
  const std::string eval = "eval_" + split;
  if (fs::exists(dir / kSummaryJson)) return {(dir / kSummaryJson).string()};
  if (fs::exists(dir / eval / kSummaryJson)) return {(dir / eval / kSummaryJson).string()};
  std::vector<std::string> repeats;
  for (const auto& repeat : repeat_dirs(dir.string())) {
    const fs::path summary = fs::path(repeat) / eval / kSummaryJson;
    if (fs::exists(summary)) repeats.push_back(summary.string());
  }
  SVANET_CHECK(!repeats.empty(), dir.string(), ": no evaluation found (summary.json, ", eval,
               "/summary.json or repeat_*/", eval, "/summary.json); run `svanet evaluate --run ",
               dir.string(), "` first");
  return repeats;
}

std::string run_evaluation_dir(const std::string& run_dir, const EvaluateOptions& options) {
  const fs::path run(run_dir);
  return evaluation_dir(run, load_run_config(run), options,
                        run_checkpoint_file(run_dir, options.checkpoint))
      .string();
}

EvaluationResult evaluate_run(const std::string& run_dir, const EvaluateOptions& options) {
  const fs::path run(run_dir);
  const auto config = load_run_config(run);
  const fs::path checkpoint = run_checkpoint_file(run_dir, options.checkpoint);
  const fs::path out = evaluation_dir(run, config, options, checkpoint);

  const auto& d = config.data;
  const auto index = data::index_dataset(
      d.root, d.dataset.empty() ? std::nullopt : std::optional<std::string>(d.dataset));
  const auto splits = data::read_splits((run / kSplits).string(), index);
  const auto& samples = split_samples(splits, options.split, run_dir);
  SVANET_CHECK(!samples.empty(), run_dir, ": the run's ", options.split, " split is empty");

  const torch::Device device = runtime::resolve_device(options.device);
  auto loaded = io::load_checkpoint(checkpoint.string(), device);
  auto& model = loaded.model;
  SVANET_CHECK(loaded.meta.classes == index.definition.classes, checkpoint.string(),
               ": the checkpoint's classes (", utils::join(loaded.meta.classes, ", "),
               ") differ from the dataset's (", utils::join(index.definition.classes, ", "), ")");
  const auto autocast = runtime::autocast_dtype(config.train.precision, device);

  data::LoaderOptions lo;
  lo.batch_size = d.batch_size;
  lo.workers = d.workers;
  lo.shuffle = false;
  lo.drop_single = false;
  lo.keep_native_masks = true;
  lo.prefetch = device.is_cuda() ? 2 : 0;
  const int64_t size = loaded.meta.model.options.image_size();
  data::DataLoader loader(index.definition, samples,
                          data::Transform::eval(size, loaded.meta.normalization), lo);
  auto mo = metric_options(config.evaluate, index.definition.classes);
  if (options.iou_threshold) mo.match.iou_threshold = *options.iou_threshold;
  if (options.surface_distances) mo.surface_distances = *options.surface_distances;
  if (options.object_bins_pct) mo.object_bins_pct = *options.object_bins_pct;
  if (options.object_bins_px) mo.object_bins_px = *options.object_bins_px;
  metrics::Evaluator evaluator(mo);
  const bool save = options.save_predictions.value_or(config.evaluate.save_predictions);
  const fs::path predictions = out / "predictions";
  fs::create_directories(predictions);
  loader.start_epoch(0);
  while (auto batch = loader.next()) {
    torch::Tensor logits;
    {
      runtime::AutocastGuard guard(device, autocast);
      logits = inference::predict_logits(*model, batch->images.to(device), options.flip)
                   .to(torch::kFloat);
    }
    const auto labels = add_batch(evaluator, logits, *batch);
    utils::parallel_for(static_cast<int64_t>(labels.size()), [&](int64_t i) {
      const auto k = static_cast<size_t>(i);
      data::write_mask_png((predictions / (batch->stems[k] + ".png")).string(), labels[k]);
    });
  }
  const auto records = evaluator.records();
  EvaluationResult result;
  result.summary = metrics::summarize(records, evaluator.options());
  result.out_dir = out.string();
  std::map<std::string, const data::Sample*> by_stem;
  for (const auto& s : samples) by_stem[s.stem] = &s;
  evaluation::ReportOptions ro;
  ro.title = "svanet evaluation: " + index.definition.name + " " + options.split;
  ro.subject = "run " + fs::absolute(run).lexically_normal().string() + ", checkpoint " +
               checkpoint.filename().string() + " (epoch " + std::to_string(loaded.meta.epoch + 1) +
               ")";
  ro.details = {{"model", loaded.meta.model.name},
                {"input", "resized to " + std::to_string(size) + "x" + std::to_string(size) +
                              "; reference metrics at that size, the rest at native size"},
                {"test-time flip", options.flip ? "yes" : "no"}};
  ro.overlays = options.overlays.value_or(config.evaluate.overlays);
  const auto definition = index.definition;
  evaluation::write_evaluation(
      result.summary, records, out.string(), ro, [&](const std::string& id) {
        const auto sample = data::load_sample(definition, *by_stem.at(id));
        evaluation::CaseImages c;
        c.image = sample.image;
        c.gt = sample.mask;
        data::MaskEncoding indices;
        indices.num_classes = static_cast<int64_t>(definition.classes.size());
        c.pred = data::read_mask((predictions / (id + ".png")).string(), indices).indices;
        return c;
      });
  if (!save) fs::remove_all(predictions);
  return result;
}

EvaluationResult evaluate_folders(const FolderEvaluateOptions& options) {
  SVANET_CHECK(!options.out.empty(), "evaluate: --out is required with --pred/--gt");
  data::MaskEncoding encoding;
  std::vector<std::string> classes = options.classes;
  std::optional<data::DatasetDefinition> definition;
  if (!options.dataset.empty()) {
    definition = data::builtin_dataset(options.dataset);
    classes = definition->classes;
    encoding = definition->encoding;
  } else {
    SVANET_CHECK(classes.size() >= 2,
                 "evaluate: give --dataset NAME or --classes with at least two "
                 "names (background first)");
    encoding.num_classes = static_cast<int64_t>(classes.size());
  }
  metrics::MetricOptions mo = options.metrics;
  mo.num_classes = static_cast<int64_t>(classes.size());
  mo.class_names = classes;
  // Predictions hold class indices (or 0/255 for binary), whatever the ground truth's encoding.
  data::MaskEncoding pred_encoding;
  pred_encoding.num_classes = mo.num_classes;
  const auto gts = files_by_stem(options.gt_dir, "ground-truth");
  const auto preds = files_by_stem(options.pred_dir, "prediction");
  for (const auto& [stem, path] : gts) {
    SVANET_CHECK(preds.count(stem) > 0, path.string(), ": no prediction with the stem '", stem,
                 "' in ", options.pred_dir);
  }
  for (const auto& [stem, path] : preds) {
    if (gts.count(stem) == 0 && options.log) {
      options.log(LogLevel::kWarning, path.string() + ": no ground truth with this stem; ignored");
    }
  }
  std::map<std::string, fs::path> images;
  if (!options.images_dir.empty()) images = files_by_stem(options.images_dir, "image");
  std::vector<std::pair<std::string, fs::path>> items(gts.begin(), gts.end());
  auto read_gt = [&](const std::string& stem, const fs::path& path) {
    if (definition) {
      data::Sample s;
      s.stem = stem;
      s.mask = path.string();
      return data::decode_sample_mask(*definition, s).indices;
    }
    return data::read_mask(path.string(), encoding).indices;
  };
  metrics::Evaluator evaluator(mo);
  utils::parallel_for(static_cast<int64_t>(items.size()), [&](int64_t i) {
    const auto& [stem, gt_path] = items[static_cast<size_t>(i)];
    const auto gt = read_gt(stem, gt_path);
    const auto pred = data::read_mask(preds.at(stem).string(), pred_encoding).indices;
    try {
      evaluator.add(stem, pred, gt);
    } catch (const Error& e) {
      SVANET_FAIL(preds.at(stem).string(), " vs ", gt_path.string(), ": ", e.what());
    }
  });
  const auto records = evaluator.records();
  EvaluationResult result;
  result.summary = metrics::summarize(records, evaluator.options());
  result.out_dir = options.out;
  evaluation::ReportOptions ro;
  ro.title = "svanet evaluation";
  ro.subject = "predictions " + options.pred_dir + " against " + options.gt_dir;
  ro.overlays = options.overlays;
  evaluation::write_evaluation(
      result.summary, records, options.out, ro, [&](const std::string& id) {
        evaluation::CaseImages c;
        c.gt = read_gt(id, gts.at(id));
        c.pred = data::read_mask(preds.at(id).string(), pred_encoding).indices;
        if (const auto it = images.find(id); it != images.end()) {
          c.image = data::read_image(it->second.string());
        }
        return c;
      });
  return result;
}

}  // namespace svanet::engine
