#include "data/convert_sources.h"

#include "svanet/common/error.h"
#include "svanet/utils/parallel.h"
#include "svanet/utils/text.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

namespace svanet::data {

namespace {

namespace fs = std::filesystem;

/// cv::imread with errors that name the file.
cv::Mat read_checked(const fs::path& path, int flags, const char* what) {
  cv::Mat mat;
  try {
    mat = cv::imread(path.string(), flags);
  } catch (const cv::Exception& e) {
    SVANET_FAIL(path.string(), ": cannot decode the ", what, ": ", e.msg);
  }
  SVANET_CHECK(!mat.empty(), path.string(), ": cannot decode the ", what,
               " (unsupported or corrupt file)");
  return mat;
}

/// The entries of `dir`, sorted by name (directory order differs between
/// file systems).
std::vector<fs::path> sorted_entries(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

bool has_extension(const fs::path& path, std::initializer_list<const char*> extensions) {
  const std::string ext = utils::to_lower(path.extension().string());
  return std::any_of(extensions.begin(), extensions.end(), [&](const char* e) { return ext == e; });
}

/// Folders under `root` (itself included, at most `depth` levels down)
/// for which `match` holds, sorted.
template <typename Match>
std::vector<fs::path> find_folders(const fs::path& root, int depth, Match match) {
  std::vector<fs::path> out;
  if (match(root)) out.push_back(root);
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    if (it.depth() >= depth) it.disable_recursion_pending();
    if (it->is_directory() && match(it->path())) out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// ---------------------------------------------------------------- dsb2018

struct Dsb2018Options {
  double test_fraction = 0.2;
  int64_t seed = 0;
  bool separate_touching = true;
};

const Fields<Dsb2018Options>& dsb2018_fields() {
  static const auto fields =
      Fields<Dsb2018Options>()
          .add(SVANET_FIELD(test_fraction,
                            "images held out as images_test/ (a fixed hashed split; the set "
                            "has no public test masks of its own)"))
          .add(SVANET_FIELD(seed, "seed of the hashed test split"))
          .add(SVANET_FIELD(separate_touching,
                            "leave a one-pixel background border where two nuclei touch, so "
                            "each nucleus stays its own 8-connected object"));
  return fields;
}

/// A DSB 2018 sample folder: ID/images/ID.png.
bool is_dsb_sample(const fs::path& dir) {
  const fs::path image = dir / "images" / (dir.filename().string() + ".png");
  std::error_code ec;
  return fs::is_regular_file(image, ec);
}

void convert_dsb2018(const OptionMap& values, const std::string& src, DatasetWriter& out) {
  const auto o = dsb2018_fields().parse(values, {}, "converter 'dsb2018'");
  const auto samples = find_folders(src, 3, is_dsb_sample);
  SVANET_CHECK(!samples.empty(), src,
               ": no sample folder ID/images/ID.png (the layout of stage1_train/ and "
               "stage1_test/ of the Data Science Bowl 2018)");
  std::vector<fs::path> usable;
  std::vector<std::string> stems;
  for (const auto& dir : samples) {
    std::error_code ec;
    if (!fs::is_directory(dir / "masks", ec)) {
      out.skip((dir / "images").string() + ": no masks/ folder (a test image without its masks)");
      continue;
    }
    usable.push_back(dir);
    stems.push_back(dir.filename().string());
  }
  SVANET_CHECK(!usable.empty(), src, ": no sample folder has masks/");
  const auto test = hashed_test_split(stems, o.test_fraction, static_cast<uint64_t>(o.seed));
  utils::parallel_for(static_cast<int64_t>(usable.size()), [&](int64_t i) {
    const fs::path& dir = usable[static_cast<size_t>(i)];
    const std::string& id = stems[static_cast<size_t>(i)];
    const cv::Mat image =
        read_checked(dir / "images" / (id + ".png"), cv::IMREAD_UNCHANGED, "image");
    cv::Mat instances = cv::Mat::zeros(image.size(), CV_32SC1);
    int next = 0;
    for (const auto& file : sorted_entries(dir / "masks")) {
      if (!has_extension(file, {".png", ".tif", ".tiff", ".bmp"})) continue;
      const cv::Mat mask = read_checked(file, cv::IMREAD_GRAYSCALE, "nucleus mask");
      SVANET_CHECK(mask.size() == image.size(), file.string(), ": mask of ", mask.cols, "x",
                   mask.rows, " for an image of ", image.cols, "x", image.rows);
      instances.setTo(++next, mask > 0);
    }
    const cv::Mat indices =
        o.separate_touching ? semantic_from_instances(instances, 1) : cv::Mat(instances > 0) / 255;
    out.add(test[static_cast<size_t>(i)] ? "test" : "train", id, image, indices);
  });
}

// ---------------------------------------------------------------- idrid

struct IdridOptions {
  std::vector<std::string> lesions{"ma", "he", "ex", "se"};
  double scale = 0.25;
};

const Fields<IdridOptions>& idrid_fields() {
  static const auto fields =
      Fields<IdridOptions>()
          .add(SVANET_FIELD(lesions,
                            "lesions to segment, in class order: ma (microaneurysms), he "
                            "(haemorrhages), ex (hard exudates), se (soft exudates), od (optic "
                            "disc); where two overlap the one listed first wins"))
          .add(SVANET_FIELD(scale,
                            "resize factor for images and masks (the photographs are "
                            "4288x2848); an object the resize would erase keeps its centre pixel"));
  return fields;
}

const std::map<std::string, std::pair<std::string, std::string>>& idrid_lesions() {
  // code -> (file suffix, class name)
  static const std::map<std::string, std::pair<std::string, std::string>> lesions = {
      {"ma", {"MA", "microaneurysm"}},
      {"he", {"HE", "haemorrhage"}},
      {"ex", {"EX", "hard_exudate"}},
      {"se", {"SE", "soft_exudate"}},
      {"od", {"OD", "optic_disc"}}};
  return lesions;
}

void check_idrid(const OptionMap& values) {
  const auto o = idrid_fields().parse(values);
  SVANET_CHECK(o.scale > 0.0 && o.scale <= 1.0, "option 'scale': expected a factor in (0, 1], got ",
               o.scale);
  SVANET_CHECK(!o.lesions.empty(), "option 'lesions': name at least one lesion");
  std::set<std::string> seen;
  for (const auto& l : o.lesions) {
    SVANET_CHECK(idrid_lesions().count(l) > 0, "option 'lesions': unknown lesion '", l,
                 "' (valid: ma, he, ex, se, od)");
    SVANET_CHECK(seen.insert(l).second, "option 'lesions': '", l, "' is listed twice");
  }
}

std::vector<std::string> idrid_classes(const OptionMap& values) {
  const auto o = idrid_fields().parse(values);
  std::vector<std::string> classes{"background"};
  for (const auto& l : o.lesions) classes.push_back(idrid_lesions().at(l).second);
  return classes;
}

/// The one folder under `root` whose name ends with `suffix`.
fs::path one_folder_ending(const fs::path& root, const std::string& suffix, const char* what) {
  const auto found = find_folders(root, 4, [&](const fs::path& p) {
    return utils::strip_suffix(p.filename().string(), suffix).has_value();
  });
  SVANET_CHECK(!found.empty(), root.string(), ": no folder '... ", suffix, "' (", what,
               " of IDRiD's 'A. Segmentation')");
  SVANET_CHECK(found.size() == 1, root.string(), ": ", found.size(), " folders end with '", suffix,
               "'; give the 'A. Segmentation' folder itself");
  return found.front();
}

/// The split folders of an IDRiD folder: "... Training Set" -> train,
/// "... Testing Set" -> test.
std::map<std::string, fs::path> idrid_splits(const fs::path& dir) {
  std::map<std::string, fs::path> out;
  for (const auto& p : sorted_entries(dir)) {
    if (!fs::is_directory(p)) continue;
    const std::string name = p.filename().string();
    if (name.find("Training") != std::string::npos) out["train"] = p;
    if (name.find("Testing") != std::string::npos) out["test"] = p;
  }
  SVANET_CHECK(out.count("train") > 0, dir.string(), ": no '... Training Set' folder");
  return out;
}

void convert_idrid(const OptionMap& values, const std::string& src, DatasetWriter& out) {
  const auto o = idrid_fields().parse(values, {}, "converter 'idrid'");
  const auto image_splits = idrid_splits(one_folder_ending(src, "Original Images", "the images"));
  const auto truth_splits =
      idrid_splits(one_folder_ending(src, "Segmentation Groundtruths", "the masks"));
  struct Job {
    std::string split, stem;
    fs::path image;
    std::map<std::string, fs::path> masks;  // suffix -> file
  };
  std::vector<Job> jobs;
  for (const auto& [split, dir] : image_splits) {
    SVANET_CHECK(truth_splits.count(split) > 0, src, ": no ground-truth folder for the ", split,
                 " images");
    // The masks of this split, by "<stem>_<SUFFIX>".
    std::map<std::string, fs::path> truth;
    for (auto it = fs::recursive_directory_iterator(truth_splits.at(split));
         it != fs::recursive_directory_iterator(); ++it) {
      if (it->is_regular_file() && has_extension(it->path(), {".tif", ".tiff", ".png"})) {
        truth[it->path().stem().string()] = it->path();
      }
    }
    for (const auto& file : sorted_entries(dir)) {
      if (!has_extension(file, {".jpg", ".jpeg", ".png", ".tif", ".tiff"})) continue;
      Job job{split, file.stem().string(), file, {}};
      for (const auto& l : o.lesions) {
        const std::string& suffix = idrid_lesions().at(l).first;
        auto it = truth.find(job.stem + "_" + suffix);
        if (it != truth.end()) job.masks[suffix] = it->second;
      }
      jobs.push_back(std::move(job));
    }
  }
  SVANET_CHECK(!jobs.empty(), src, ": no IDRiD photographs found");
  utils::parallel_for(static_cast<int64_t>(jobs.size()), [&](int64_t i) {
    const Job& job = jobs[static_cast<size_t>(i)];
    cv::Mat image = read_checked(job.image, cv::IMREAD_COLOR, "photograph");
    cv::Mat indices = cv::Mat::zeros(image.size(), CV_8UC1);
    // Painted last to first, so the lesion listed first wins an overlap. A
    // lesion without a file is absent from the image (IDRiD ships masks
    // only for the lesions present).
    for (size_t k = o.lesions.size(); k-- > 0;) {
      const std::string& suffix = idrid_lesions().at(o.lesions[k]).first;
      auto it = job.masks.find(suffix);
      if (it == job.masks.end()) continue;
      // Gray, not the first channel: one mask (IDRiD_81_EX) is RGBA with
      // the lesion in red.
      const cv::Mat mask = read_checked(it->second, cv::IMREAD_GRAYSCALE, "lesion mask");
      SVANET_CHECK(mask.size() == image.size(), it->second.string(), ": mask of ", mask.cols, "x",
                   mask.rows, " for a photograph of ", image.cols, "x", image.rows);
      indices.setTo(static_cast<int>(k + 1), mask > 0);
    }
    if (o.scale < 1.0) {
      int64_t kept = 0;
      indices = resize_indices(indices, o.scale, static_cast<int>(o.lesions.size() + 1), &kept);
      cv::Mat small;
      cv::resize(image, small, indices.size(), 0, 0, cv::INTER_AREA);
      image = small;
      out.count_kept_as_centre(kept);
    }
    out.add(job.split, job.stem, image, indices);
  });
}

// ---------------------------------------------------------------- kvasir

struct KvasirOptions {
  double test_fraction = 0.2;
  int64_t seed = 0;
  int64_t min_object_pixels = 16;
};

const Fields<KvasirOptions>& kvasir_fields() {
  static const auto fields =
      Fields<KvasirOptions>()
          .add(SVANET_FIELD(test_fraction,
                            "images held out as images_test/ (a fixed hashed split; the set "
                            "is published without one)"))
          .add(SVANET_FIELD(seed, "seed of the hashed test split"))
          .add(SVANET_FIELD(min_object_pixels,
                            "polyp components smaller than this many pixels are JPEG speckle "
                            "of the masks and become background (0 keeps them)"));
  return fields;
}

void check_kvasir(const OptionMap& values) {
  const auto o = kvasir_fields().parse(values);
  SVANET_CHECK(o.min_object_pixels >= 0, "option 'min_object_pixels': expected >= 0, got ",
               o.min_object_pixels);
}

void convert_kvasir(const OptionMap& values, const std::string& src, DatasetWriter& out) {
  const auto o = kvasir_fields().parse(values, {}, "converter 'kvasir'");
  // SRC is Kvasir-SEG/ (images/ and masks/) or a folder above it; the
  // shallowest pair wins (some copies add train/val/test copies below).
  const auto roots = find_folders(src, 2, [](const fs::path& p) {
    std::error_code ec;
    return fs::is_directory(p / "images", ec) && fs::is_directory(p / "masks", ec);
  });
  SVANET_CHECK(!roots.empty(), src, ": no folder holding images/ and masks/ (Kvasir-SEG's layout)");
  const fs::path root =
      *std::min_element(roots.begin(), roots.end(), [](const auto& a, const auto& b) {
        return std::distance(a.begin(), a.end()) < std::distance(b.begin(), b.end());
      });
  std::vector<fs::path> images;
  std::vector<fs::path> masks;
  std::vector<std::string> stems;
  std::map<std::string, fs::path> by_stem;
  for (const auto& m : sorted_entries(root / "masks")) {
    if (has_extension(m, {".jpg", ".jpeg", ".png"})) by_stem[m.stem().string()] = m;
  }
  for (const auto& file : sorted_entries(root / "images")) {
    if (!has_extension(file, {".jpg", ".jpeg", ".png"})) continue;
    auto it = by_stem.find(file.stem().string());
    if (it == by_stem.end()) {
      out.skip(file.string() + ": no mask of the same name in masks/");
      continue;
    }
    images.push_back(file);
    masks.push_back(it->second);
    stems.push_back(file.stem().string());
  }
  SVANET_CHECK(!images.empty(), root.string(), ": no image with a mask");
  const auto test = hashed_test_split(stems, o.test_fraction, static_cast<uint64_t>(o.seed));
  utils::parallel_for(static_cast<int64_t>(images.size()), [&](int64_t i) {
    const auto k = static_cast<size_t>(i);
    const cv::Mat image = read_checked(images[k], cv::IMREAD_COLOR, "image");
    const cv::Mat mask = read_checked(masks[k], cv::IMREAD_GRAYSCALE, "mask");
    SVANET_CHECK(mask.size() == image.size(), masks[k].string(), ": mask of ", mask.cols, "x",
                 mask.rows, " for an image of ", image.cols, "x", image.rows);
    // The masks are lossy JPEGs: polyp near 255, background near 0.
    cv::Mat indices = cv::Mat(mask > 127) / 255;
    int64_t removed = 0;
    if (o.min_object_pixels > 0) {
      cv::Mat labels;
      cv::Mat stats;
      cv::Mat centroids;
      const int n = cv::connectedComponentsWithStats(indices, labels, stats, centroids, 8, CV_32S);
      for (int c = 1; c < n; ++c) {
        if (stats.at<int>(c, cv::CC_STAT_AREA) >= o.min_object_pixels) continue;
        indices.setTo(0, labels == c);
        ++removed;
      }
    }
    out.count_removed(removed);
    out.add(test[k] ? "test" : "train", stems[k], image, indices);
  });
}

/// A converter's entry: what every one declares.
ConverterRegistry::Entry converter(std::string name, std::string description, OptionSchema schema,
                                   std::vector<std::string> classes, DatasetSource source,
                                   ConverterFactory factory) {
  ConverterRegistry::Entry e;
  e.name = std::move(name);
  e.description = std::move(description);
  e.schema = std::move(schema);
  e.traits.classes = std::move(classes);
  e.traits.source = std::move(source);
  e.factory = std::move(factory);
  return e;
}

}  // namespace

void register_builtin_converters(ConverterRegistry& registry) {
  registry.add(converter(
      "dsb2018",
      "nuclei (fluorescence and brightfield), Data Science Bowl 2018 / BBBC038: ID/images/ID.png "
      "+ ID/masks/*.png, one mask per nucleus (CC0)",
      dsb2018_fields().schema(), {"background", "nucleus"},
      {"Nuclei of the 2018 Data Science Bowl (BBBC038v1), converted to semantic masks",
       "CC0 1.0 (Broad Bioimage Benchmark Collection, BBBC038)",
       "Caicedo et al., Nucleus segmentation across imaging experiments: the 2018 Data Science "
       "Bowl, Nature Methods 16:1247-1253 (2019)",
       "https://bbbc.broadinstitute.org/BBBC038"},
      convert_dsb2018));

  auto idrid = converter(
      "idrid",
      "fundus lesions (microaneurysms, haemorrhages, exudates), IDRiD part A: 81 photographs "
      "with one TIFF mask per lesion type (CC BY 4.0)",
      idrid_fields().schema(), idrid_classes({}),
      {"Indian Diabetic Retinopathy Image Dataset (IDRiD), part A: lesion segmentation",
       "CC BY 4.0, (c) Prasanna Porwal, Samiksha Pachade, Manesh Kokare",
       "Porwal et al., Indian Diabetic Retinopathy Image Dataset (IDRiD): a database for "
       "diabetic retinopathy screening research, Data 3(3):25 (2018)",
       "https://ieee-dataport.org/open-access/indian-diabetic-retinopathy-image-dataset-idrid"},
      convert_idrid);
  idrid.check = check_idrid;
  idrid.traits.classes_for = idrid_classes;
  registry.add(std::move(idrid));

  auto kvasir = converter(
      "kvasir",
      "colonoscopy polyps, Kvasir-SEG: 1000 images/*.jpg with masks/*.jpg of the same name "
      "(research and education use only)",
      kvasir_fields().schema(), {"background", "polyp"},
      {"Kvasir-SEG, segmented polyps of colonoscopy frames",
       "research and education only, citing the paper; commercial use needs Simula's permission "
       "(datasets.simula.no/kvasir-seg)",
       "Jha et al., Kvasir-SEG: a segmented polyp dataset, MultiMedia Modeling (MMM) 2020, "
       "LNCS 11962:451-462",
       "https://datasets.simula.no/kvasir-seg/"},
      convert_kvasir);
  kvasir.check = check_kvasir;
  registry.add(std::move(kvasir));
}

}  // namespace svanet::data
