#include "svanet/engine/evaluate.h"

#include "data/cv_io.h"
#include "engine/progress.h"
#include "engine/run_files.h"
#include "engine/signals.h"
#include "engine/split_prediction.h"
#include "svanet/common/error.h"
#include "svanet/config/train_config.h"
#include "svanet/data/dataset.h"
#include "svanet/data/image_io.h"
#include "svanet/data/loader.h"
#include "svanet/data/splits.h"
#include "svanet/engine/inference.h"
#include "svanet/engine/trainer.h"
#include "svanet/evaluation/report.h"
#include "svanet/inference/predictor.h"
#include "svanet/runtime/precision.h"
#include "svanet/utils/parallel.h"
#include "svanet/utils/paths.h"
#include "svanet/utils/text.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

namespace svanet::engine {

namespace fs = std::filesystem;

metrics::MetricOptions evaluation_metric_options(const config::EvaluateSection& e,
                                                 const std::vector<std::string>& classes) {
  metrics::MetricOptions o;
  o.num_classes = static_cast<int64_t>(classes.size());
  o.class_names = classes;
  o.surface_distances = e.surface_distances;
  o.surface_tolerance = e.surface_tolerance;
  o.match = metrics::MatchRule::parse(e.match);
  o.image_bins_pct = e.image_bins_pct;
  o.object_bins_pct = e.object_bins_pct;
  o.object_bins_px = e.object_bins_px;
  return o;
}

namespace {

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
  utils::require_folder(dir, what);
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

fs::path evaluation_dir(const fs::path& run, const config::TrainConfig& config,
                        const EvaluateOptions& options, const fs::path& checkpoint) {
  if (!options.out.empty()) return options.out;
  std::string name = "eval_" + options.split;
  if (options.checkpoint != config.evaluate.checkpoint) name += "_" + checkpoint.stem().string();
  if (!options.data_root.empty()) {
    const auto data = fs::path(options.data_root).lexically_normal();
    name += "_" + (data.has_filename() ? data : data.parent_path()).filename().string();
  }
  if (options.threshold) {
    const auto choice = inference::ThresholdChoice::parse(*options.threshold).to_string();
    if (choice != inference::ThresholdChoice::parse(config.evaluate.threshold).to_string()) {
      name += "_" + choice;
    }
  }
  return run / name;
}

/// Whether folder `dir` holds only what an evaluation writes (what
/// --overwrite may replace): never a run, a dataset or the user's masks.
bool holds_only_an_evaluation(const fs::path& dir) {
  static const std::set<std::string> kOwn = {kSummaryJson,    "per_case.csv", "per_object.csv",
                                             "size_bins.csv", "report.html",  "predictions"};
  std::error_code error;
  for (auto it = fs::directory_iterator(dir, error); !error && it != fs::directory_iterator();
       it.increment(error)) {
    if (kOwn.count(it->path().filename().string()) == 0) return false;
  }
  return !error;
}

/// An existing non-empty `out` is refused unless `overwrite`, and even then
/// unless it holds only an earlier evaluation.
void check_output(const fs::path& out, bool overwrite) {
  if (!overwrite || utils::missing_or_empty(out.string())) {
    utils::require_new_output(out.string(), "--overwrite replaces it, or choose another --out");
    return;
  }
  SVANET_CHECK(fs::is_directory(out), out.string(), ": is a file, expected a folder");
  SVANET_CHECK(holds_only_an_evaluation(out), out.string(), " holds more than an evaluation (",
               kSummaryJson,
               ", the CSVs, report.html, predictions/); --overwrite replaces only an earlier "
               "evaluation: choose another --out");
}

/// Runs `write` on OUT.partial and moves the result to `out` when it
/// returns (check_output first), so a failure or an interruption leaves no
/// half-written evaluation and an earlier one stays as it was.
template <class Write>
void write_staged(const fs::path& given, bool overwrite, bool handle_signals, const Write& write) {
  check_output(given, overwrite);
  // Ctrl-C stops the work between batches (throw_if_signalled), and the
  // staged folder's guard removes OUT.partial on the way out.
  std::optional<StopRequest> stop;
  if (handle_signals) stop.emplace(true, nullptr);
  utils::StagedFolder staged(given.string(), /*overwrite=*/true, "");
  write(fs::path(staged.path()));
  throw_if_signalled("writing " + staged.out() + "; nothing of it was kept");
  staged.commit();
}

}  // namespace

config::TrainConfig load_run_config(const fs::path& run) {
  const fs::path config_path = run / kConfig;
  SVANET_CHECK(fs::exists(config_path), run.string(), ": not a run folder (no ", kConfig, ")");
  return config::load_train_config(config_path.string());
}

data::DatasetIndex index_run_data(const fs::path& run, const config::TrainConfig& config,
                                  const std::string& other_root, const std::string& missing_hint) {
  const auto& d = config.data;
  if (!other_root.empty()) {
    utils::require_folder(other_root, "dataset");
  } else {
    SVANET_CHECK(fs::is_directory(d.root), (run / kConfig).string(), ": data.root '", d.root,
                 "' is not a folder (the data the run was trained on, moved or deleted?)",
                 missing_hint);
  }
  return data::index_dataset(
      other_root.empty() ? d.root : other_root,
      d.dataset.empty() ? std::nullopt : std::optional<std::string>(d.dataset));
}

PredictorOptions evaluation_predictor_options(const config::TrainConfig& config,
                                              const std::string& device,
                                              const std::string& threshold) {
  const auto& e = config.evaluate;
  PredictorOptions po;
  po.device = device;
  po.precision = e.precision;
  po.mode = inference::parse_mode(e.mode);
  po.tta = inference::parse_tta(e.tta);
  po.overlap = e.overlap;
  po.batch = config.data.batch_size;
  po.threshold = inference::ThresholdChoice::parse(threshold);
  return po;
}

constexpr const char* kPredictingSplit =
    "predicting the split; nothing was written (run the command again to redo it)";

void predict_split(const Predictor& predictor, const data::DatasetDefinition& definition,
                   const std::vector<data::Sample>& samples, const config::DataConfig& d,
                   const std::function<void(const PredictedBatch&)>& visit,
                   const SplitProgress& progress) {
  std::optional<Progress> shown;
  if (progress.bar || progress.log) {
    shown.emplace(progress.title, static_cast<int64_t>(samples.size()), progress.bar, 5.0,
                  [&](const std::string& line) {
                    if (progress.log) progress.log(LogLevel::kInfo, line);
                  });
  }
  const auto step = [&](size_t images) {
    if (shown) shown->step(static_cast<int64_t>(images), NAN);
  };
  if (predictor.options().mode == inference::Mode::kResize) {
    // The paper's evaluation: the loader resizes (as in training), the
    // logits are scored at that size and, resized back, at native size.
    data::LoaderOptions lo;
    lo.batch_size = d.batch_size;
    lo.workers = d.workers;
    lo.shuffle = false;
    lo.drop_single = false;
    lo.keep_native_masks = true;
    lo.prefetch = predictor.device().is_cuda() ? 2 : 0;
    data::DataLoader loader(
        definition, samples,
        data::Transform::eval(predictor.training_size(), predictor.meta().normalization), lo);
    loader.start_epoch(0);
    while (auto batch = loader.next()) {
      throw_if_signalled(kPredictingSplit);
      PredictedBatch predicted;
      predicted.batch = &*batch;
      predicted.stems = batch->stems;
      predicted.scores = predictor.scores(batch->images.to(predictor.device()));
      visit(predicted);
      step(batch->stems.size());
    }
    if (shown) shown->finish();
    return;
  }
  // Native resolution: each image as `svanet predict` sees it.
  const auto chunk = static_cast<size_t>(std::max<int64_t>(1, d.batch_size));
  for (size_t first = 0; first < samples.size(); first += chunk) {
    throw_if_signalled(kPredictingSplit);
    const size_t n = std::min(chunk, samples.size() - first);
    PredictedBatch predicted;
    predicted.samples.resize(n);
    utils::parallel_for(static_cast<int64_t>(n), [&](int64_t i) {
      const auto k = static_cast<size_t>(i);
      predicted.samples[k] = data::load_sample(definition, samples[first + k]);
    });
    std::vector<torch::Tensor> images;
    for (size_t k = 0; k < n; ++k) {
      images.push_back(predicted.samples[k].image);
      predicted.stems.push_back(samples[first + k].stem);
    }
    predicted.predictions = predictor.predict(images);
    visit(predicted);
    step(n);
  }
  if (shown) shown->finish();
}

std::string run_checkpoint_file(const std::string& run_dir, const std::string& checkpoint) {
  if (checkpoint == "best" || checkpoint == "last") {
    const fs::path file = fs::path(run_dir) / kCheckpointsDir /
                          (checkpoint == "best" ? kBestCheckpoint : kLastCheckpoint);
    SVANET_CHECK(fs::exists(file), file.string(),
                 ": no such checkpoint (has the run finished an epoch?)");
    return file.string();
  }
  utils::require_file(checkpoint, "checkpoint");
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
  check_output(out, options.overwrite);  // before the work, not after it

  const auto& d = config.data;
  const bool other_data = !options.data_root.empty();
  const std::string root = other_data ? options.data_root : d.root;
  const auto index =
      index_run_data(run, config, options.data_root, "; --data ROOT evaluates on data elsewhere");
  const auto splits = other_data ? data::make_splits(index, d.splits)
                                 : data::read_splits((run / kSplits).string(), index);
  const auto& samples = split_samples(splits, options.split, other_data ? root : run_dir);
  SVANET_CHECK(!samples.empty(), other_data ? root : run_dir, ": the ", options.split,
               " split is empty");

  const auto& e = config.evaluate;
  PredictorOptions po =
      evaluation_predictor_options(config, options.device, options.threshold.value_or(e.threshold));
  if (options.mode) po.mode = inference::parse_mode(*options.mode);
  if (options.tta) po.tta = inference::parse_tta(*options.tta);
  if (options.overlap) po.overlap = *options.overlap;
  if (options.precision) po.precision = *options.precision;
  const Predictor predictor(checkpoint.string(), po);
  const auto& meta = predictor.meta();
  SVANET_CHECK(meta.classes == index.definition.classes, checkpoint.string(),
               ": the checkpoint's classes (", utils::join(meta.classes, ", "),
               ") differ from the dataset's (", utils::join(index.definition.classes, ", "), ")");

  auto mo = evaluation_metric_options(e, index.definition.classes);
  if (options.match) mo.match = *options.match;
  if (options.surface_distances) mo.surface_distances = *options.surface_distances;
  if (options.surface_tolerance) mo.surface_tolerance = *options.surface_tolerance;
  if (options.object_bins_pct) mo.object_bins_pct = *options.object_bins_pct;
  if (options.object_bins_px) mo.object_bins_px = *options.object_bins_px;
  metrics::Evaluator evaluator(mo);
  const bool save = options.save_predictions.value_or(e.save_predictions);
  EvaluationResult result;
  write_staged(out, options.overwrite, options.handle_signals, [&](const fs::path& dir) {
    const fs::path predictions = dir / "predictions";
    utils::create_folders(predictions.string());
    const auto write_labels = [&](const std::vector<std::string>& stems,
                                  const std::vector<torch::Tensor>& labels) {
      utils::parallel_for(static_cast<int64_t>(labels.size()), [&](int64_t i) {
        const auto k = static_cast<size_t>(i);
        data::write_mask_png((predictions / (stems[k] + ".png")).string(), labels[k]);
      });
    };
    const int64_t size = predictor.training_size();
    predict_split(
        predictor, index.definition, samples, d,
        [&](const PredictedBatch& p) {
          if (p.batch != nullptr) {
            write_labels(p.stems, add_batch(evaluator, p.scores, *p.batch, predictor.thresholds()));
            return;
          }
          std::vector<torch::Tensor> labels;
          for (size_t k = 0; k < p.stems.size(); ++k) {
            labels.push_back(p.predictions[k].labels);
            evaluator.add(p.stems[k], p.predictions[k].labels, p.samples[k].mask);
          }
          write_labels(p.stems, labels);
        },
        {"evaluate", options.progress_bar, options.log});
    const auto records = evaluator.records();
    result.summary = metrics::summarize(records, evaluator.options());
    result.out_dir = out.string();
    std::map<std::string, const data::Sample*> by_stem;
    for (const auto& s : samples) by_stem[s.stem] = &s;
    evaluation::ReportOptions ro;
    ro.title = "svanet evaluation: " + index.definition.name + " " + options.split;
    ro.subject = "run " + fs::absolute(run).lexically_normal().string() + ", checkpoint " +
                 checkpoint.filename().string() + " (epoch " + std::to_string(meta.epoch + 1) + ")";
    const auto side = std::to_string(size) + "x" + std::to_string(size);
    ro.details = {
        {"model", meta.model.name},
        {"input",
         po.mode == inference::Mode::kResize
             ? "resized to " + side + "; reference metrics at that size, the rest at native size"
             : std::string("native size, sliding window of ") + side +
                   (po.mode == inference::Mode::kAuto
                        ? " for images over " +
                              utils::format_number(inference::kAutoSlidingFactor) +
                              "x that (the rest resized)"
                        : "") +
                   "; all metrics at native size"},
        {"test-time augmentation", inference::to_string(po.tta)},
        {"precision",
         predictor.precision() + (predictor.channels_last() ? ", channels-last" : "") +
             (po.precision == "auto" ? " (auto; CPU: " + runtime::cpu_bf16_description() + ")"
                                     : "")},
        {"labels", inference::describe_thresholds(predictor.thresholds(), meta.classes) +
                       (po.threshold.kind == inference::ThresholdChoice::Kind::kValue ||
                                predictor.thresholds().empty()
                            ? ""
                            : " (calibrated: " + meta.calibration + ")")}};
    ro.overlays = options.overlays.value_or(config.evaluate.overlays);
    const auto definition = index.definition;
    evaluation::write_evaluation(
        result.summary, records, dir.string(), ro, [&](const std::string& id) {
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
  });
  return result;
}

EvaluationResult evaluate_folders(const FolderEvaluateOptions& options) {
  SVANET_CHECK(!options.out.empty(), "evaluate: --out is required with --pred/--gt");
  check_output(options.out, options.overwrite);
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
  write_staged(options.out, options.overwrite, options.handle_signals, [&](const fs::path& dir) {
    evaluation::write_evaluation(
        result.summary, records, dir.string(), ro, [&](const std::string& id) {
          throw_if_signalled("writing the report; nothing was written");
          evaluation::CaseImages c;
          c.gt = read_gt(id, gts.at(id));
          c.pred = data::read_mask(preds.at(id).string(), pred_encoding).indices;
          if (const auto it = images.find(id); it != images.end()) {
            c.image = data::read_image(it->second.string());
          }
          return c;
        });
  });
  return result;
}

}  // namespace svanet::engine
