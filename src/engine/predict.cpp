#include "svanet/engine/predict.h"

#include "engine/progress.h"
#include "engine/run_files.h"
#include "svanet/common/error.h"
#include "svanet/data/image_io.h"
#include "svanet/engine/trainer.h"
#include "svanet/inference/thresholds.h"
#include "svanet/utils/atomic_file.h"
#include "svanet/utils/components.h"
#include "svanet/utils/paths.h"
#include "svanet/utils/text.h"

#include <c10/util/Exception.h>
#include <torch/torch.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

namespace svanet::engine {

namespace fs = std::filesystem;

namespace {

bool has_wildcard(const std::string& text) {
  return text.find_first_of("*?") != std::string::npos;
}

/// Shell-style match of * and ? against a whole file name.
bool wildcard_match(const std::string& pattern, const std::string& name) {
  size_t p = 0, n = 0, star = std::string::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (star != std::string::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

/// The output name of an input: its path below the input folder without
/// the extension (both of .nii.gz).
std::string without_extension(const fs::path& relative) {
  fs::path p = relative;
  if (data::is_nifti_path(p.string()))
    return (p.parent_path() / data::nifti_stem(p.string())).generic_string();
  p.replace_extension();
  return p.generic_string();
}

bool is_input_file(const fs::directory_entry& entry) {
  const auto path = entry.path().string();
  return entry.is_regular_file() && (data::has_image_extension(path) || data::is_nifti_path(path));
}

/// What an exception says, without LibTorch's backtrace.
std::string message_of(const std::exception& e) {
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) return c10->what_without_backtrace();
  return e.what();
}

/// A class name as a file-name part.
std::string file_safe(const std::string& text) {
  std::string out;
  for (char c : text) {
    out += (std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_') ? c : '_';
  }
  return out.empty() ? "class" : out;
}

}  // namespace

std::vector<ClassCounts> remove_small_objects(torch::Tensor& labels, int64_t classes,
                                              int64_t min_size) {
  SVANET_CHECK(labels.dim() == 2 && labels.scalar_type() == torch::kUInt8,
               "remove_small_objects: labels must be (H, W) uint8");
  labels = labels.contiguous();
  // The objects the evaluation counts: 8-connected, each class on its own.
  const auto objects = utils::label_objects(labels, classes);
  std::vector<ClassCounts> counts(static_cast<size_t>(classes));
  std::vector<uint8_t> removed(static_cast<size_t>(objects.count()), 0);
  bool any_removed = false;
  for (int64_t k = 0; k < objects.count(); ++k) {
    const auto i = static_cast<size_t>(k);
    const int64_t area = objects.area[i];
    if (min_size > 0 && area < min_size) {
      removed[i] = 1;
      any_removed = true;
      continue;
    }
    auto& count = counts[static_cast<size_t>(objects.label[i])];
    ++count.objects;
    count.pixels += area;
    count.largest = std::max(count.largest, area);
  }
  if (any_removed) {
    const auto* id = objects.ids.data_ptr<int64_t>();
    auto* label = labels.data_ptr<uint8_t>();
    for (int64_t p = 0; p < labels.numel(); ++p) {
      if (id[p] > 0 && removed[static_cast<size_t>(id[p] - 1)] != 0) label[p] = 0;
    }
  }
  int64_t foreground = 0;
  for (int64_t c = 1; c < classes; ++c) foreground += counts[static_cast<size_t>(c)].pixels;
  counts[0].pixels = labels.numel() - foreground;
  return counts;
}

namespace {

/// The image with each foreground class tinted in its palette colour.
torch::Tensor overlay_of(const torch::Tensor& image, const torch::Tensor& labels) {
  auto rgb = image.size(0) >= 3 ? image.narrow(0, 0, 3) : image.narrow(0, 0, 1).expand({3, -1, -1});
  auto pixels = (rgb.permute({1, 2, 0}) * 255.0).clamp(0, 255);
  const auto& palette = data::voc_palette();
  std::vector<float> colours;
  for (const auto& c : palette)
    colours.insert(colours.end(),
                   {static_cast<float>(c[0]), static_cast<float>(c[1]), static_cast<float>(c[2])});
  const auto table = torch::tensor(colours).view({static_cast<int64_t>(palette.size()), 3});
  const auto tint = table.index_select(0, labels.flatten().to(torch::kLong)).view(pixels.sizes());
  const auto foreground = labels.gt(0).unsqueeze(2);
  return torch::where(foreground, 0.5 * pixels + 0.5 * tint, pixels).round().to(torch::kUInt8);
}

void write_encoded(const std::string& path, const cv::Mat& mat) {
  std::vector<uchar> bytes;
  const auto extension = fs::path(path).extension().string();
  SVANET_CHECK(cv::imencode(extension, mat, bytes), path, ": could not encode the image");
  utils::write_file_atomic(path, std::string(bytes.begin(), bytes.end()));
}

struct Outputs {
  fs::path mask, overlay;
  std::vector<fs::path> probabilities;
  std::vector<fs::path> all() const {
    std::vector<fs::path> out{mask};
    if (!overlay.empty()) out.push_back(overlay);
    out.insert(out.end(), probabilities.begin(), probabilities.end());
    return out;
  }
};

struct Row {
  std::string file;
  int64_t height = 0, width = 0;
  /// 1 for an image; a volume's slices (its counts are summed over them).
  int64_t slices = 1;
  std::string mode;
  std::vector<ClassCounts> counts;
  double seconds = NAN;
};

std::string csv_of(const std::vector<Row>& rows, const std::vector<std::string>& classes) {
  std::ostringstream out;
  out << "file,height,width,slices,mode";
  for (size_t c = 1; c < classes.size(); ++c) {
    const auto& n = classes[c];
    out << ',' << utils::csv_field(n + "_pixels") << ',' << utils::csv_field(n + "_objects") << ','
        << utils::csv_field(n + "_largest");
  }
  out << ",seconds\n";
  for (const auto& r : rows) {
    out << utils::csv_field(r.file) << ',' << r.height << ',' << r.width << ',' << r.slices << ','
        << r.mode;
    for (size_t c = 1; c < classes.size(); ++c) {
      const auto& k = r.counts[c];
      out << ',' << k.pixels << ',' << k.objects << ',' << k.largest;
    }
    out << ',' << (std::isnan(r.seconds) ? std::string() : utils::csv_number(r.seconds)) << '\n';
  }
  return out.str();
}

bool inside(const fs::path& file, const fs::path& folder) {
  const auto f = fs::weakly_canonical(file);
  const auto d = fs::weakly_canonical(folder);
  auto fi = f.begin();
  for (auto di = d.begin(); di != d.end(); ++di, ++fi) {
    if (di->empty()) continue;  // a trailing separator
    if (fi == f.end() || *fi != *di) return false;
  }
  return true;
}

}  // namespace

std::vector<PredictInput> expand_inputs(const std::vector<std::string>& arguments, bool recursive) {
  std::vector<PredictInput> inputs;
  for (const auto& argument : arguments) {
    const fs::path path(argument);
    std::vector<PredictInput> found;
    if (has_wildcard(path.filename().string())) {
      SVANET_CHECK(!has_wildcard(path.parent_path().string()), argument,
                   ": wildcards are supported in the file name only");
      const fs::path folder = path.has_parent_path() ? path.parent_path() : fs::path(".");
      SVANET_CHECK(fs::is_directory(folder), argument, ": the folder ", folder.string(),
                   " does not exist");
      for (const auto& entry : fs::directory_iterator(folder)) {
        const auto name = entry.path().filename().string();
        if (entry.is_regular_file() && wildcard_match(path.filename().string(), name)) {
          found.push_back({entry.path().string(), without_extension(entry.path().filename())});
        }
      }
      SVANET_CHECK(!found.empty(), argument, ": matches no file");
    } else if (fs::is_directory(path)) {
      auto add = [&](const fs::directory_entry& entry) {
        if (is_input_file(entry)) {
          found.push_back(
              {entry.path().string(), without_extension(fs::relative(entry.path(), path))});
        }
      };
      if (recursive) {
        for (const auto& e : fs::recursive_directory_iterator(path)) add(e);
      } else {
        for (const auto& e : fs::directory_iterator(path)) add(e);
      }
      SVANET_CHECK(!found.empty(), argument, ": the folder holds no image (",
                   recursive ? "" : "without --recursive, not below it; ",
                   "png, jpg, jpeg, tif, tiff, bmp, nii, nii.gz)");
    } else {
      SVANET_CHECK(fs::exists(path), argument, ": no such file or folder");
      found.push_back({path.string(), without_extension(path.filename())});
    }
    std::sort(found.begin(), found.end(),
              [](const PredictInput& a, const PredictInput& b) { return a.path < b.path; });
    inputs.insert(inputs.end(), found.begin(), found.end());
  }
  std::map<std::string, std::string> by_name;
  for (const auto& input : inputs) {
    const auto [it, fresh] = by_name.emplace(input.name, input.path);
    SVANET_CHECK(fresh || it->second == input.path, it->second, " and ", input.path,
                 " would both be written as ", input.name, "; predict them into separate folders");
  }
  // The same file given twice is predicted once.
  std::set<std::string> seen;
  inputs.erase(std::remove_if(inputs.begin(), inputs.end(),
                              [&](const PredictInput& i) { return !seen.insert(i.path).second; }),
               inputs.end());
  return inputs;
}

std::string resolve_model(const std::string& model) {
  const fs::path path(model);
  if (fs::is_directory(path)) {
    const auto best = path / kCheckpointsDir / kBestCheckpoint;
    if (fs::is_regular_file(best)) return best.string();
    const auto repeats = repeat_dirs(model);
    SVANET_CHECK(repeats.empty(), model, ": the run holds ", repeats.size(),
                 " repeats; give one of them, e.g. ", repeats.empty() ? "" : repeats.front());
    SVANET_FAIL(model, ": neither a checkpoint nor a run folder (no ", kCheckpointsDir, "/",
                kBestCheckpoint, ")");
  }
  SVANET_CHECK(fs::is_regular_file(path), model, ": no such checkpoint file or run folder");
  return model;
}

PredictFilesResult predict_files(const PredictFilesOptions& o) {
  SVANET_CHECK(!o.out.empty(), "predict: no output folder (-o)");
  SVANET_CHECK(o.min_size >= 0, "--min-size must be >= 0, got ", o.min_size);
  SVANET_CHECK(o.probabilities.empty() || o.probabilities == "png" || o.probabilities == "tiff",
               "--probabilities must be png or tiff, got '", o.probabilities, "'");
  (void)data::slice_axis(o.volumes);  // an unknown --dataset or --axis fails here, not per volume
  const auto start = std::chrono::steady_clock::now();
  PredictFilesResult result;
  result.checkpoint = resolve_model(o.model);
  auto inputs = expand_inputs(o.inputs, o.recursive);
  SVANET_CHECK(!inputs.empty(), "predict: no input images (-i)");
  const inference::Predictor predictor(result.checkpoint, o.predictor);
  result.labels = inference::describe_thresholds(predictor.thresholds(), predictor.meta().classes);
  result.precision = predictor.precision();
  const auto& classes = predictor.meta().classes;
  const auto num_classes = static_cast<int64_t>(classes.size());
  SVANET_CHECK(num_classes == predictor.meta().model.options.num_classes(), result.checkpoint,
               ": the checkpoint names ", classes.size(), " classes for a model with ",
               predictor.meta().model.options.num_classes(), " outputs");

  const fs::path out(o.out);
  // Removed again (or emptied again, if it was empty) when the command
  // fails or predicts nothing; a folder that held anything stays as it was.
  utils::OutputFolder folder(o.out);
  SVANET_CHECK(fs::is_directory(out), o.out, ": cannot create the output folder");
  utils::remove_stale_temporaries(o.out);

  auto outputs_of = [&](const PredictInput& input) {
    Outputs p;
    if (data::is_nifti_path(input.path)) {
      p.mask = out / (input.name + ".nii.gz");
      return p;  // overlays and probabilities are for 2D images
    }
    p.mask = out / (input.name + ".png");
    if (o.overlay) p.overlay = out / "overlays" / (input.name + ".png");
    if (!o.probabilities.empty()) {
      const auto ext = o.probabilities == "png" ? ".png" : ".tif";
      for (const auto& c : classes) {
        p.probabilities.push_back(out / "probabilities" / (input.name + "_" + file_safe(c) + ext));
      }
    }
    return p;
  };
  // Never write over an input (an output folder that is also the input folder).
  for (const auto& input : inputs) {
    for (const auto& file : outputs_of(input).all()) {
      SVANET_CHECK(!fs::exists(file) || !fs::equivalent(file, input.path), input.path,
                   ": its prediction would replace it; choose another output folder");
    }
  }
  const auto before = inputs.size();
  inputs.erase(std::remove_if(inputs.begin(), inputs.end(),
                              [&](const PredictInput& i) { return inside(i.path, out); }),
               inputs.end());
  if (inputs.size() < before && o.log) {
    o.log(LogLevel::kWarning, "ignored " + std::to_string(before - inputs.size()) +
                                  " input(s) inside the output folder " + o.out);
  }
  SVANET_CHECK(!inputs.empty(), "predict: every input is inside the output folder ", o.out);

  std::vector<Row> rows(inputs.size());
  std::vector<bool> have_row(inputs.size(), false);
  Progress progress("predict", static_cast<int64_t>(inputs.size()), o.progress_bar, 5.0,
                    [&](const std::string& line) {
                      if (o.log) o.log(LogLevel::kInfo, line);
                    });
  auto fail = [&](size_t i, const std::string& why) {
    // Most readers' messages already start with the file.
    const std::string& path = inputs[i].path;
    const std::string line = why.rfind(path + ": ", 0) == 0 ? why : path + ": " + why;
    result.failures.push_back(line);
    if (o.log) o.log(LogLevel::kError, line + " (skipped)");
  };

  const auto batch_size = static_cast<size_t>(std::max<int64_t>(1, o.predictor.batch));
  // The row of a label map, or of a volume's label slices (counts summed,
  // largest object the largest of any slice); removes objects under min_size.
  auto row_of = [&](const std::string& file, std::vector<torch::Tensor>& slices,
                    const std::string& mode, int64_t min_size, double seconds) {
    Row row{file,
            slices.front().size(0),
            slices.front().size(1),
            static_cast<int64_t>(slices.size()),
            mode,
            {},
            seconds};
    row.counts.resize(static_cast<size_t>(num_classes));
    for (auto& slice : slices) {
      const auto counts = remove_small_objects(slice, num_classes, min_size);
      for (size_t c = 0; c < counts.size(); ++c) {
        row.counts[c].pixels += counts[c].pixels;
        row.counts[c].objects += counts[c].objects;
        row.counts[c].largest = std::max(row.counts[c].largest, counts[c].largest);
      }
    }
    return row;
  };

  // Inputs whose outputs exist: their rows come from the label maps written before.
  std::vector<size_t> todo;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto files = outputs_of(inputs[i]).all();
    const bool done = !o.overwrite && std::all_of(files.begin(), files.end(), [](const auto& f) {
      return fs::is_regular_file(f);
    });
    if (done) {
      try {
        const auto mask = outputs_of(inputs[i]).mask.string();
        std::vector<torch::Tensor> slices;
        if (data::is_nifti_path(mask)) {
          slices = data::read_label_slices(mask, data::slice_axis(o.volumes));
        } else {
          data::MaskEncoding encoding;
          encoding.num_classes = num_classes;
          slices.push_back(data::read_mask(mask, encoding).indices);
        }
        rows[i] = row_of(inputs[i].path, slices, "existing", 0, NAN);
        have_row[i] = true;
        ++result.skipped;
        progress.step(1, NAN);
        continue;
      } catch (const std::exception&) {
        // An unreadable earlier output: predict again.
      }
    }
    todo.push_back(i);
  }

  auto run_model = [&](const std::vector<torch::Tensor>& images, const std::string& first) {
    try {
      return predictor.predict(images);
    } catch (const svanet::Error&) {
      throw;
    } catch (const std::exception& e) {
      SVANET_FAIL("predict: the model failed on ", first, ": ", message_of(e));
    }
  };
  // Volumes, one at a time, slice by slice.
  std::vector<size_t> images_todo;
  bool told = false;
  for (const size_t i : todo) {
    if (!data::is_nifti_path(inputs[i].path)) {
      images_todo.push_back(i);
      continue;
    }
    if (!told && (o.overlay || !o.probabilities.empty()) && o.log) {
      o.log(LogLevel::kWarning,
            "overlays and probability maps are written for 2D images, not for volumes");
      told = true;
    }
    data::VolumeSlices volume;
    try {
      volume = data::read_volume_slices(inputs[i].path, o.volumes);
    } catch (const std::exception& e) {
      fail(i, message_of(e));
      progress.step(1, NAN);
      continue;
    }
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<torch::Tensor> labels;
    std::string mode;
    for (size_t first = 0; first < volume.slices.size(); first += batch_size) {
      const size_t last = std::min(volume.slices.size(), first + batch_size);
      auto predictions = run_model(
          std::vector<torch::Tensor>(volume.slices.begin() + static_cast<std::ptrdiff_t>(first),
                                     volume.slices.begin() + static_cast<std::ptrdiff_t>(last)),
          inputs[i].path);
      for (auto& p : predictions) {
        mode = inference::to_string(p.mode);
        labels.push_back(std::move(p.labels));
      }
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    try {
      const auto mask = outputs_of(inputs[i]).mask;
      fs::create_directories(mask.parent_path());
      rows[i] = row_of(inputs[i].path, labels, mode, o.min_size, seconds);
      data::write_label_volume(mask.string(), inputs[i].path, volume.axis, labels);
      have_row[i] = true;
      ++result.predicted;
      (mode == "sliding" ? result.slid : result.resized) += 1;
    } catch (const std::exception& e) {
      fail(i, message_of(e));
    }
    progress.step(1, NAN);
  }
  todo = images_todo;

  for (size_t first = 0; first < todo.size(); first += batch_size) {
    const size_t last = std::min(todo.size(), first + batch_size);
    std::vector<size_t> ok;
    std::vector<torch::Tensor> images;
    for (size_t k = first; k < last; ++k) {
      const size_t i = todo[k];
      try {
        images.push_back(data::read_image(inputs[i].path));
        ok.push_back(i);
      } catch (const std::exception& e) {
        fail(i, message_of(e));
        progress.step(1, NAN);
      }
    }
    if (images.empty()) continue;
    const auto t0 = std::chrono::steady_clock::now();
    auto predictions = run_model(images, inputs[ok.front()].path);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
        static_cast<double>(images.size());
    for (size_t k = 0; k < ok.size(); ++k) {
      const size_t i = ok[k];
      auto& p = predictions[k];
      try {
        const auto files = outputs_of(inputs[i]);
        for (const auto& f : files.all()) fs::create_directories(f.parent_path());
        auto counts = remove_small_objects(p.labels, num_classes, o.min_size);
        data::write_mask_png(files.mask.string(), p.labels);
        if (o.overlay) data::write_image(files.overlay.string(), overlay_of(images[k], p.labels));
        for (int64_t c = 0; c < num_classes; ++c) {
          const auto prob = p.probabilities[c].contiguous();
          cv::Mat mat(static_cast<int>(prob.size(0)), static_cast<int>(prob.size(1)), CV_32FC1,
                      prob.data_ptr<float>());
          if (o.probabilities == "png") {
            cv::Mat scaled;
            mat.convertTo(scaled, CV_16UC1, 65535.0);
            write_encoded(files.probabilities[static_cast<size_t>(c)].string(), scaled);
          } else if (o.probabilities == "tiff") {
            write_encoded(files.probabilities[static_cast<size_t>(c)].string(), mat);
          }
        }
        rows[i] = {
            inputs[i].path,    p.labels.size(0), p.labels.size(1), 1, inference::to_string(p.mode),
            std::move(counts), seconds};
        have_row[i] = true;
        ++result.predicted;
        (p.mode == inference::Mode::kSliding ? result.slid : result.resized) += 1;
      } catch (const std::exception& e) {
        fail(i, message_of(e));
      }
      progress.step(1, NAN);
    }
  }
  progress.finish();

  std::vector<Row> written;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (have_row[i]) written.push_back(std::move(rows[i]));
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (written.empty()) return result;  // every input failed: no folder, no table
  result.csv = (out / "predictions.csv").string();
  utils::write_file_atomic(result.csv, csv_of(written, classes));
  folder.keep();
  return result;
}

}  // namespace svanet::engine
