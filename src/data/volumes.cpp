#include "svanet/data/volumes.h"

#include "data/cv_io.h"
#include "svanet/common/error.h"
#include "svanet/data/dataset.h"
#include "svanet/utils/atomic_file.h"
#include "svanet/utils/parallel.h"
#include "svanet/utils/paths.h"
#include "svanet/utils/text.h"
#include "utils/rng.h"

#include <nifti2_io.h>
#include <torch/torch.h>
#include <unistd.h>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <tuple>

namespace svanet::data {

namespace fs = std::filesystem;

namespace {

/// A volume as floats, voxel (i, j, k) at data[i + nx * (j + ny * k)].
struct Volume {
  int64_t nx = 0, ny = 0, nz = 0;
  std::vector<float> data;
  float at(int64_t i, int64_t j, int64_t k) const {
    return data[static_cast<size_t>(i + nx * (j + ny * k))];
  }
};

template <typename T>
void convert(const void* raw, int64_t n, std::vector<float>& out) {
  const auto* p = static_cast<const T*>(raw);
  for (int64_t v = 0; v < n; ++v) out[static_cast<size_t>(v)] = static_cast<float>(p[v]);
}

Volume read_volume(const std::string& path, bool apply_scaling) {
  std::unique_ptr<nifti_image, void (*)(nifti_image*)> nim(nifti_image_read(path.c_str(), 1),
                                                           nifti_image_free);
  SVANET_CHECK(nim != nullptr && nim->data != nullptr, path, ": cannot read the NIfTI volume");
  SVANET_CHECK(nim->nx > 0 && nim->ny > 0 && nim->nz > 0, path, ": not a 3D volume");
  int64_t extra = 1;
  for (int d = 4; d <= 7; ++d) extra *= std::max<int64_t>(1, nim->dim[d]);
  SVANET_CHECK(extra == 1, path,
               ": 4D (or higher) volumes are not supported; extract one time point first");
  Volume v;
  v.nx = nim->nx;
  v.ny = nim->ny;
  v.nz = nim->nz;
  const int64_t n = v.nx * v.ny * v.nz;
  v.data.resize(static_cast<size_t>(n));
  switch (nim->datatype) {
    case DT_UINT8:
      convert<uint8_t>(nim->data, n, v.data);
      break;
    case DT_INT8:
      convert<int8_t>(nim->data, n, v.data);
      break;
    case DT_INT16:
      convert<int16_t>(nim->data, n, v.data);
      break;
    case DT_UINT16:
      convert<uint16_t>(nim->data, n, v.data);
      break;
    case DT_INT32:
      convert<int32_t>(nim->data, n, v.data);
      break;
    case DT_UINT32:
      convert<uint32_t>(nim->data, n, v.data);
      break;
    case DT_INT64:
      convert<int64_t>(nim->data, n, v.data);
      break;
    case DT_UINT64:
      convert<uint64_t>(nim->data, n, v.data);
      break;
    case DT_FLOAT32:
      convert<float>(nim->data, n, v.data);
      break;
    case DT_FLOAT64:
      convert<double>(nim->data, n, v.data);
      break;
    default:
      SVANET_FAIL(path, ": unsupported NIfTI data type ", nim->datatype);
  }
  if (apply_scaling && nim->scl_slope != 0.0 && (nim->scl_slope != 1.0 || nim->scl_inter != 0.0)) {
    for (auto& x : v.data) x = static_cast<float>(x * nim->scl_slope + nim->scl_inter);
  }
  return v;
}

int64_t axis_length(int64_t nx, int64_t ny, int64_t nz, int axis) {
  return axis == 0 ? nx : (axis == 1 ? ny : nz);
}

int64_t axis_length(const Volume& v, int axis) {
  return axis_length(v.nx, v.ny, v.nz, axis);
}

void check_axis(int axis) {
  SVANET_CHECK(axis >= 0 && axis <= 2, "slice axis must be 0, 1 or 2, got ", axis);
}

/// Rows and columns of a slice along `axis` of an (nx, ny, nz) volume.
std::pair<int64_t, int64_t> slice_shape(int64_t nx, int64_t ny, int64_t nz, int axis) {
  return {axis == 1 ? nz : ny, axis == 0 ? nz : nx};
}

/// The voxel index (in data order) of pixel (row, column) of slice `s`
/// along `axis`: the orientation the header describes, shared by reading
/// slices and writing them back.
int64_t voxel_of(int64_t nx, int64_t ny, int axis, int64_t s, int64_t row, int64_t col) {
  const int64_t i = axis == 0 ? s : col;
  const int64_t j = axis == 1 ? s : row;
  const int64_t k = axis == 2 ? s : (axis == 0 ? col : row);
  return i + nx * (j + ny * k);
}

/// Slice `s` along `axis` as a CV_32F matrix (see the header for orientation).
cv::Mat take_slice(const Volume& v, int axis, int64_t s) {
  const auto [rows, cols] = slice_shape(v.nx, v.ny, v.nz, axis);
  cv::Mat m(static_cast<int>(rows), static_cast<int>(cols), CV_32F);
  for (int64_t r = 0; r < rows; ++r) {
    auto* out = m.ptr<float>(static_cast<int>(r));
    for (int64_t c = 0; c < cols; ++c) {
      out[c] = v.data[static_cast<size_t>(voxel_of(v.nx, v.ny, axis, s, r, c))];
    }
  }
  return m;
}

std::string stem_of(const fs::path& p) {
  const std::string name = p.filename().string();
  for (const char* ext : {".nii.gz", ".nii"}) {
    if (auto base = utils::strip_suffix(name, ext)) return *base;
  }
  return p.stem().string();
}

bool is_nifti(const fs::path& p) {
  const std::string name = p.filename().string();
  return utils::strip_suffix(name, ".nii").has_value() ||
         utils::strip_suffix(name, ".nii.gz").has_value();
}

struct Rules {
  SliceSelection selection;
  Intensity intensity;
  int axis;
  std::string folder;
};

Rules rules_for(const SliceOptions& o) {
  Rules r{SliceSelection::kAll, Intensity::kPercentile, 2, "Volumes"};
  const std::string name = utils::to_lower(o.dataset);
  if (!name.empty()) {
    const auto& def = builtin_dataset(name);
    r.folder = def.folder;
    if (def.name == "atlas") r = {SliceSelection::kStride, Intensity::kSliceMax, 2, def.folder};
    if (def.name == "kits23") r = {SliceSelection::kRandom, Intensity::kClip, 0, def.folder};
  }
  if (o.selection != SliceSelection::kOfficial) r.selection = o.selection;
  if (o.intensity != Intensity::kOfficial) r.intensity = o.intensity;
  if (o.axis >= 0) r.axis = o.axis;
  check_axis(r.axis);
  return r;
}

std::vector<int64_t> choose_slices(const Rules& r, const SliceOptions& o, const Volume& label,
                                   uint64_t seed) {
  const int64_t n = axis_length(label, r.axis);
  std::vector<int64_t> keep;
  switch (r.selection) {
    case SliceSelection::kAll:
    case SliceSelection::kOfficial:
      for (int64_t s = 0; s < n; ++s) keep.push_back(s);
      break;
    case SliceSelection::kStride:
      SVANET_CHECK(o.stride >= 1, "stride must be >= 1");
      for (int64_t s = 0; s < n; ++s) {
        if (s % o.stride == 0 || s == n - 1) keep.push_back(s);
      }
      break;
    case SliceSelection::kRandom: {
      const auto begin = static_cast<int64_t>(std::llround(o.range_begin * static_cast<double>(n)));
      const auto end = static_cast<int64_t>(std::llround(o.range_end * static_cast<double>(n)));
      std::vector<int64_t> pool;
      for (int64_t s = begin; s < end; ++s) pool.push_back(s);
      utils::Rng rng(seed);
      rng.shuffle(pool);
      const auto count = std::min<size_t>(
          pool.size(), static_cast<size_t>(std::ceil(o.fraction * static_cast<double>(n))));
      keep.assign(pool.begin(), pool.begin() + static_cast<std::ptrdiff_t>(count));
      std::sort(keep.begin(), keep.end());
      break;
    }
    case SliceSelection::kForeground:
      for (int64_t s = 0; s < n; ++s) {
        if (cv::countNonZero(take_slice(label, r.axis, s) != 0) > 0) keep.push_back(s);
      }
      break;
  }
  return keep;
}

cv::Mat to_pixels(const cv::Mat& slice, const Rules& r, const SliceOptions& o, float lo, float hi) {
  cv::Mat out;
  switch (r.intensity) {
    case Intensity::kWindow: {
      const double low = o.window_centre - o.window_width / 2.0;
      slice.convertTo(out, CV_8U, 255.0 / o.window_width, -low * 255.0 / o.window_width);
      break;
    }
    case Intensity::kSliceMax: {
      double max = 0;
      cv::minMaxLoc(slice, nullptr, &max);
      slice.convertTo(out, CV_8U, max > 0 ? 255.0 / max : 0.0);
      break;
    }
    case Intensity::kClip:
      slice.convertTo(out, CV_8U);
      break;  // saturates at 0 and 255
    case Intensity::kPercentile:
    case Intensity::kOfficial:
      slice.convertTo(out, CV_8U, hi > lo ? 255.0 / (hi - lo) : 0.0,
                      hi > lo ? -lo * 255.0 / (hi - lo) : 0.0);
      break;
  }
  return out;
}

/// Voxel-value range mapped to 0..255 by the percentile rule.
std::pair<float, float> percentile_range(const Volume& image) {
  std::vector<float> sorted = image.data;
  const auto at = [&](double q) {
    auto k = static_cast<size_t>(q * static_cast<double>(sorted.size() - 1));
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(k), sorted.end());
    return sorted[k];
  };
  const float lo = at(0.005);
  return {lo, at(0.995)};
}

using NiftiPtr = std::unique_ptr<nifti_image, void (*)(nifti_image*)>;

}  // namespace

Intensity parse_intensity(const std::string& text) {
  static const std::vector<std::pair<std::string, Intensity>> names = {
      {"official", Intensity::kOfficial},
      {"window", Intensity::kWindow},
      {"slice-max", Intensity::kSliceMax},
      {"clip", Intensity::kClip},
      {"percentile", Intensity::kPercentile}};
  for (const auto& [name, value] : names) {
    if (name == text) return value;
  }
  SVANET_FAIL("unknown intensity rule '", text,
              "' (valid: official, window, slice-max, clip, percentile)");
}

void parse_window(const std::string& text, SliceOptions& options) {
  const auto parts = utils::split(text, ',');
  SVANET_CHECK(parts.size() == 2, "--window expects CENTRE,WIDTH, got '", text, "'");
  options.window_centre = utils::parse_double(parts[0]);
  options.window_width = utils::parse_double(parts[1]);
  SVANET_CHECK(options.window_width > 0, "--window width must be positive, got '", text, "'");
  if (options.intensity == Intensity::kOfficial) options.intensity = Intensity::kWindow;
}

int slice_axis(const SliceOptions& options) {
  return rules_for(options).axis;
}

bool is_nifti_path(const std::string& path) {
  return is_nifti(fs::path(path));
}

std::string nifti_stem(const std::string& path) {
  return stem_of(fs::path(path));
}

VolumeSlices read_volume_slices(const std::string& path, const SliceOptions& options) {
  const Rules rules = rules_for(options);
  const Volume image = read_volume(path, /*apply_scaling=*/true);
  float lo = 0, hi = 0;
  if (rules.intensity == Intensity::kPercentile) std::tie(lo, hi) = percentile_range(image);
  VolumeSlices out;
  out.axis = rules.axis;
  out.nx = image.nx;
  out.ny = image.ny;
  out.nz = image.nz;
  for (int64_t s = 0; s < axis_length(image, rules.axis); ++s) {
    const cv::Mat pixels = to_pixels(take_slice(image, rules.axis, s), rules, options, lo, hi);
    out.slices.push_back(torch::from_blob(pixels.data, {1, pixels.rows, pixels.cols}, torch::kUInt8)
                             .to(torch::kFloat)
                             .div_(255.0));
  }
  return out;
}

std::vector<torch::Tensor> read_label_slices(const std::string& path, int axis) {
  check_axis(axis);
  const Volume label = read_volume(path, /*apply_scaling=*/false);
  std::vector<torch::Tensor> out;
  for (int64_t s = 0; s < axis_length(label, axis); ++s) {
    cv::Mat classes;
    take_slice(label, axis, s).convertTo(classes, CV_8U);
    out.push_back(
        torch::from_blob(classes.data, {classes.rows, classes.cols}, torch::kUInt8).clone());
  }
  return out;
}

void write_label_volume(const std::string& path, const std::string& like, int axis,
                        const std::vector<torch::Tensor>& labels) {
  SVANET_CHECK(is_nifti_path(path), path, ": a label volume is written as .nii or .nii.gz");
  check_axis(axis);
  NiftiPtr nim(nifti_image_read(like.c_str(), /*read_data=*/0), nifti_image_free);
  SVANET_CHECK(nim != nullptr, like, ": cannot read the NIfTI header");
  const int64_t nx = nim->nx, ny = nim->ny, nz = nim->nz;
  const int64_t count = axis_length(nx, ny, nz, axis);
  const auto [rows, cols] = slice_shape(nx, ny, nz, axis);
  SVANET_CHECK(static_cast<int64_t>(labels.size()) == count, path, ": ", labels.size(),
               " label slices for a volume of ", count, " slices along axis ", axis);
  nim->datatype = DT_UINT8;
  nim->nbyper = 1;
  nim->scl_slope = 1.0;
  nim->scl_inter = 0.0;
  nim->intent_code = NIFTI_INTENT_LABEL;
  nim->data = std::calloc(static_cast<size_t>(nx * ny * nz), 1);  // nifti_image_free releases it
  SVANET_CHECK(nim->data != nullptr, path, ": out of memory for the label volume");
  auto* voxels = static_cast<uint8_t*>(nim->data);
  uint8_t largest = 0;
  for (int64_t s = 0; s < count; ++s) {
    const auto slice = labels[static_cast<size_t>(s)].to(torch::kUInt8).contiguous();
    SVANET_CHECK(slice.dim() == 2 && slice.size(0) == rows && slice.size(1) == cols, path,
                 ": label slice ", s, " is ", slice.sizes(), ", expected ", rows, "x", cols);
    const auto* p = slice.data_ptr<uint8_t>();
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < cols; ++c) {
        const uint8_t value = p[r * cols + c];
        voxels[voxel_of(nx, ny, axis, s, r, c)] = value;
        largest = std::max(largest, value);
      }
    }
  }
  nim->cal_min = 0.0;
  nim->cal_max = largest;
  // niftilib writes the file itself: write to a private temporary file, then
  // move the bytes into place atomically.
  const bool gz = utils::strip_suffix(path, ".gz").has_value();
  const fs::path temp =
      fs::temp_directory_path() /
      ("svanet_label_" + std::to_string(::getpid()) + "_" +
       std::to_string(reinterpret_cast<uintptr_t>(nim.get())) + (gz ? ".nii.gz" : ".nii"));
  SVANET_CHECK(nifti_set_filenames(nim.get(), temp.c_str(), 0, 1) == 0, path,
               ": cannot name the label volume");
  nifti_image_write(nim.get());
  std::string bytes;
  bool written = true;
  try {
    bytes = utils::read_file(temp.string());
  } catch (const std::exception&) {
    written = false;
  }
  std::error_code ec;
  fs::remove(temp, ec);  // also a partial one
  SVANET_CHECK(written, path, ": could not write the label volume");
  utils::write_file_atomic(path, bytes);
}

std::vector<VolumePair> find_volume_pairs(const std::string& in) {
  const fs::path root(in);
  SVANET_CHECK(fs::is_directory(root), in, ": no such folder");
  std::vector<VolumePair> pairs;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (!entry.is_directory()) continue;
    for (const char* ext : {".nii.gz", ".nii"}) {
      const auto image = entry.path() / (std::string("imaging") + ext);
      const auto label = entry.path() / (std::string("segmentation") + ext);
      if (fs::exists(image) && fs::exists(label)) {
        pairs.push_back({entry.path().filename().string(), image.string(), label.string()});
        break;
      }
    }
  }
  if (fs::is_directory(root / "imagesTr")) {
    for (const auto& entry : fs::directory_iterator(root / "imagesTr")) {
      if (!is_nifti(entry.path())) continue;
      std::string stem = stem_of(entry.path());
      std::string case_id = stem, label_stem = stem;
      if (auto base = utils::strip_suffix(stem, "_0000")) {
        case_id = label_stem = *base;
      } else if (stem.rfind("im", 0) == 0) {
        label_stem = "lb" + stem.substr(2);
      }
      fs::path label;
      for (const char* ext : {".nii.gz", ".nii"}) {
        if (fs::exists(root / "labelsTr" / (label_stem + ext)))
          label = root / "labelsTr" / (label_stem + ext);
      }
      SVANET_CHECK(!label.empty(), entry.path().string(), ": no label volume labelsTr/", label_stem,
                   ".nii[.gz]");
      pairs.push_back({case_id, entry.path().string(), label.string()});
    }
  }
  SVANET_CHECK(!pairs.empty(), in,
               ": no volumes found (expected case_*/imaging.nii.gz + segmentation.nii.gz, or "
               "imagesTr/ + labelsTr/)");
  std::sort(pairs.begin(), pairs.end(),
            [](const auto& a, const auto& b) { return a.case_id < b.case_id; });
  return pairs;
}

SliceSummary slice_volumes(const std::string& in, const std::string& out,
                           const SliceOptions& options) {
  SVANET_CHECK(options.image_extension == ".png" || options.image_extension == ".jpg",
               "image extension must be .png or .jpg");
  SVANET_CHECK(options.test_fraction >= 0.0 && options.test_fraction < 1.0,
               "test fraction must be in [0, 1)");
  const Rules rules = rules_for(options);
  const auto pairs = find_volume_pairs(in);
  // Whole cases go to test/, so no patient is on both sides.
  std::vector<size_t> order(pairs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  utils::Rng rng(options.seed ^ 0x5EED5EEDULL);
  rng.shuffle(order);
  auto n_test =
      static_cast<size_t>(std::llround(options.test_fraction * static_cast<double>(pairs.size())));
  if (options.test_fraction > 0.0 && pairs.size() >= 2)
    n_test = std::clamp<size_t>(n_test, 1, pairs.size() - 1);
  std::vector<bool> is_test(pairs.size(), false);
  for (size_t i = 0; i < n_test; ++i) is_test[order[i]] = true;

  // Written as OUT/<Dataset>.partial and renamed when complete: a failed
  // run (an unreadable volume, a bad label) or a killed one leaves no
  // partial set.
  utils::StagedFolder staged((fs::path(out) / rules.folder).string(), options.overwrite,
                             "--overwrite replaces it, or choose another --out");
  const fs::path set(staged.path());
  for (const char* dir : {"train", "test", "mask"}) utils::create_folders((set / dir).string());
  std::atomic<int64_t> slices{0}, with_foreground{0};
  // Volumes are large: two at a time at most.
  utils::parallel_for(
      static_cast<int64_t>(pairs.size()),
      [&](int64_t c) {
        const auto& pair = pairs[static_cast<size_t>(c)];
        const Volume image = read_volume(pair.image, /*apply_scaling=*/true);
        const Volume label = read_volume(pair.label, /*apply_scaling=*/false);
        SVANET_CHECK(image.nx == label.nx && image.ny == label.ny && image.nz == label.nz,
                     pair.label, ": label volume is ", label.nx, "x", label.ny, "x", label.nz,
                     " but the image ", pair.image, " is ", image.nx, "x", image.ny, "x", image.nz);
        for (float v : label.data) {
          SVANET_CHECK(v >= 0 && v < 255 && v == std::floor(v), pair.label, ": label value ", v,
                       " is not a class index (0..254)");
        }
        float lo = 0, hi = 0;
        if (rules.intensity == Intensity::kPercentile) std::tie(lo, hi) = percentile_range(image);
        const auto keep =
            choose_slices(rules, options, label, options.seed + static_cast<uint64_t>(c) * 7919ULL);
        const char* split = is_test[static_cast<size_t>(c)] ? "test" : "train";
        for (int64_t s : keep) {
          const std::string stem = pair.case_id + "_" + std::to_string(s);
          const cv::Mat pixels =
              to_pixels(take_slice(image, rules.axis, s), rules, options, lo, hi);
          cv::Mat classes;
          take_slice(label, rules.axis, s).convertTo(classes, CV_8U);
          write_mat((set / split / (stem + options.image_extension)).string(), pixels);
          write_palette_png((set / "mask" / (stem + ".png")).string(), classes, voc_palette());
          ++slices;
          if (cv::countNonZero(classes) > 0) ++with_foreground;
        }
      },
      2);
  SliceSummary summary;
  summary.folder = staged.out();
  summary.cases = static_cast<int64_t>(pairs.size());
  summary.test_cases = static_cast<int64_t>(n_test);
  summary.train_cases = summary.cases - summary.test_cases;
  summary.slices = slices;
  summary.slices_with_foreground = with_foreground;
  staged.commit();
  return summary;
}

}  // namespace svanet::data
