#include "commands.h"

#include "svanet/common/error.h"
#include "svanet/data/check.h"
#include "svanet/data/convert.h"
#include "svanet/data/demo.h"
#include "svanet/data/stats.h"
#include "svanet/data/volumes.h"
#include "svanet/utils/text.h"

#include <map>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>

namespace svanet::cli {

namespace {

struct CheckArgs {
  std::string root;
  std::string dataset;
};

int run_check(const CheckArgs& args) {
  const auto index = data::index_dataset(
      args.root, args.dataset.empty() ? std::nullopt : std::optional<std::string>(args.dataset));
  const auto report = data::check_dataset(index);
  for (const auto& p : report.problems) {
    std::printf("%s: %s: %s\n", p.severity == data::Problem::Severity::kError ? "error" : "warning",
                p.file.c_str(), p.message.c_str());
  }
  std::string splits;
  int64_t total = 0;
  for (const auto& [split, count] : report.images_per_split) {
    splits += (splits.empty() ? "" : ", ") + split + " " + std::to_string(count);
    total += count;
  }
  std::string kinds;
  for (const auto& [kind, count] : report.mask_kinds) {
    kinds += (kinds.empty() ? "" : ", ") + kind + " " + std::to_string(count);
  }
  std::printf("dataset %s (%s layout, %s): %lld images (%s); classes: %zu; masks: %s\n",
              index.definition.name.c_str(), index.layout.c_str(), index.root.c_str(),
              static_cast<long long>(total), splits.c_str(), index.definition.classes.size(),
              kinds.empty() ? "none readable" : kinds.c_str());
  std::printf("%lld error(s), %lld warning(s); %zu of %zu samples usable\n",
              static_cast<long long>(report.errors()), static_cast<long long>(report.warnings()),
              report.good.size(), index.samples.size());
  return report.errors() > 0 ? 1 : 0;
}

struct StatsArgs {
  std::string root;
  std::string dataset;
  std::string out;
  bool overwrite = false;
};

int run_stats(const StatsArgs& args) {
  check_output_folder(args.out, args.overwrite);
  const auto index = data::index_dataset(
      args.root, args.dataset.empty() ? std::nullopt : std::optional<std::string>(args.dataset));
  const auto stats = data::compute_stats(index);
  data::write_stats(stats, args.out);
  const auto labels = data::official_bin_labels();
  const auto bins = data::images_per_size_bin(stats);
  std::printf("%zu images, %zu objects; images by largest-object ratio (%% of image, official):",
              stats.images.size(), stats.objects.size());
  for (size_t b = 0; b < bins.size(); ++b) {
    std::printf(" %s: %lld%s", labels[b].c_str(), static_cast<long long>(bins[b]),
                b + 1 < bins.size() ? "," : "");
  }
  std::printf("\nwrote objects.csv, images.csv, summary.json and size_histogram.png to %s\n",
              args.out.c_str());
  return 0;
}

struct SliceArgs {
  std::string in, out;
  std::string selection = "official", intensity = "official", window;
  bool jpg = false;
  data::SliceOptions options;
};

int run_slice(SliceArgs args) {
  static const std::map<std::string, data::SliceSelection> selections = {
      {"official", data::SliceSelection::kOfficial},
      {"all", data::SliceSelection::kAll},
      {"foreground", data::SliceSelection::kForeground},
      {"stride", data::SliceSelection::kStride},
      {"random", data::SliceSelection::kRandom}};
  args.options.selection = selections.at(args.selection);
  args.options.intensity = data::parse_intensity(args.intensity);
  if (!args.window.empty()) data::parse_window(args.window, args.options);
  if (args.jpg) args.options.image_extension = ".jpg";
  const auto s = data::slice_volumes(args.in, args.out, args.options);
  std::printf("wrote %s: %lld slices (%lld with labels) from %lld cases (%lld train, %lld test)\n",
              s.folder.c_str(), static_cast<long long>(s.slices),
              static_cast<long long>(s.slices_with_foreground), static_cast<long long>(s.cases),
              static_cast<long long>(s.train_cases), static_cast<long long>(s.test_cases));
  return 0;
}

struct DemoArgs {
  std::string out, kind = "standard";
  data::DemoOptions options;
};

int run_demo_data(const DemoArgs& args) {
  const auto start = std::chrono::steady_clock::now();
  data::DemoOptions options = args.options;
  options.kind = data::parse_demo_kind(args.kind);
  const auto summary = data::generate_demo_dataset(args.out, options);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "wrote %s: train %lld, val %lld, test %lld images of %lldx%lld; %lld objects, %lld "
      "images without any (%.1f s)\n",
      summary.folder.c_str(), static_cast<long long>(summary.train),
      static_cast<long long>(summary.val), static_cast<long long>(summary.test),
      static_cast<long long>(args.options.size), static_cast<long long>(args.options.size),
      static_cast<long long>(summary.objects), static_cast<long long>(summary.empty_images),
      seconds);
  return 0;
}

struct ConvertDatasetArgs {
  std::string name, src, out;
  std::vector<std::string> options;
  bool overwrite = false;
};

int run_convert_dataset(const ConvertDatasetArgs& args) {
  const auto start = std::chrono::steady_clock::now();
  OptionMap options;
  for (const auto& item : args.options) {
    const auto eq = item.find('=');
    SVANET_CHECK(eq != std::string::npos && eq > 0, "--param '", item,
                 "': expected KEY=VALUE (svanet list converters shows each converter's options)");
    options[item.substr(0, eq)] = item.substr(eq + 1);
  }
  data::ConvertOptions how;
  how.overwrite = args.overwrite;
  const auto s = data::convert_dataset(args.name, args.src, args.out, options, how);
  std::string images;
  for (const auto& [split, n] : s.images) {
    images += (images.empty() ? "" : ", ") + split + " " + std::to_string(n);
  }
  std::string objects;
  for (const auto& [name, n] : s.objects) {
    objects += (objects.empty() ? "" : ", ") + name + " " + std::to_string(n);
  }
  std::printf("wrote %s: images %s; objects %s (%lld under 0.1 %% of their image)",
              s.folder.c_str(), images.c_str(), objects.c_str(),
              static_cast<long long>(s.small_objects));
  if (s.kept_as_centre > 0) {
    std::printf("; %lld kept as their centre pixel by the resize",
                static_cast<long long>(s.kept_as_centre));
  }
  if (s.removed_specks > 0) {
    std::printf("; %lld mask specks removed", static_cast<long long>(s.removed_specks));
  }
  std::printf(" (%.1f s)\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  for (const auto& what : s.skipped) std::printf("skipped %s\n", what.c_str());
  return 0;
}

}  // namespace

Command register_check_data(CLI::App& app) {
  auto args = std::make_shared<CheckArgs>();
  auto* sub = app.add_subcommand(
      "check-data", "Check a dataset: every image and mask is opened, decoded and matched");
  sub->add_option("root", args->root, "Dataset folder (official, dataset.yaml or nnU-Net layout)")
      ->required();
  add_dataset_flag(sub, args->dataset);
  add_examples(
      sub,
      {"svanet check-data demo_data/Demo", "svanet check-data /data/svanet --dataset polypgen"},
      "One line per problem naming the file; exits with 1 when there are errors.");
  return {sub, [args] { return run_check(*args); }};
}

Command register_data_stats(CLI::App& app) {
  auto args = std::make_shared<StatsArgs>();
  auto* sub = app.add_subcommand(
      "data-stats",
      "Object sizes of a dataset: per-object CSV, per-image CSV, JSON summary, histogram");
  sub->add_option("root", args->root, "Dataset folder")->required();
  add_out_flag(sub, args->out)->required();
  add_dataset_flag(sub, args->dataset);
  add_overwrite_flag(sub, args->overwrite);
  add_examples(sub, {"svanet data-stats demo_data/Demo -o stats/demo"});
  return {sub, [args] { return run_stats(*args); }};
}

Command register_slice_volumes(CLI::App& app) {
  auto args = std::make_shared<SliceArgs>();
  auto* sub = app.add_subcommand(
      "slice-volumes",
      "Turn NIfTI volumes and label volumes into 2D slices in the official layout");
  sub->add_option("in", args->in,
                  "Folder of volumes (case_*/imaging.nii.gz + segmentation.nii.gz, or "
                  "imagesTr/ + labelsTr/)")
      ->required();
  add_out_flag(sub, args->out, "folder: <Dataset>/train, test and mask are written into it")
      ->required();
  add_dataset_flag(sub, args->options.dataset);
  sub->add_option("--selection", args->selection,
                  "Slices to keep: official, all, foreground, stride, random")
      ->check(CLI::IsMember({"official", "all", "foreground", "stride", "random"}))
      ->capture_default_str();
  add_intensity_flag(sub, args->intensity)->capture_default_str();
  add_window_flag(sub, args->window);
  add_axis_flag(sub, args->options.axis);
  sub->add_option("--stride", args->options.stride, "Keep every N-th slice (stride selection)")
      ->check(positive_number())
      ->capture_default_str();
  sub->add_option("--fraction", args->options.fraction, "Fraction of slices (random selection)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  sub->add_option("--test-fraction", args->options.test_fraction, "Cases held out as test/")
      ->check(CLI::Range(0.0, 0.95))
      ->capture_default_str();
  add_seed_flag(sub, args->options.seed);
  sub->add_flag("--jpg", args->jpg,
                "Write JPEG images, as the official extractor does (default PNG)");
  add_overwrite_flag(sub, args->options.overwrite);
  add_examples(
      sub,
      {"svanet slice-volumes kits23/dataset -o data --dataset kits23",
       "svanet slice-volumes atlas/train -o data --dataset atlas",
       "svanet slice-volumes Task08/ -o data --selection foreground --intensity window "
       "--window 40,400"},
      "Official rules: atlas keeps every 4th slice along k and divides each slice by its maximum; "
      "kits23 keeps a random 2 % of the central 70 % of slices along i and clips to 0..255.");
  return {sub, [args] { return run_slice(*args); }};
}

Command register_demo_data(CLI::App& app) {
  auto args = std::make_shared<DemoArgs>();
  auto* sub = app.add_subcommand(
      "demo-data", "Write the built-in demo dataset of small medical-looking objects");
  add_out_flag(sub, args->out, "folder: Demo/ is written into it")->required();
  add_seed_flag(sub, args->options.seed);
  sub->add_option("--count", args->options.count, "Number of images")
      ->check(CLI::Range(3, 100000))
      ->capture_default_str();
  sub->add_option("--size", args->options.size, "Side of the square images in pixels")
      ->check(CLI::Range(32, 4096))
      ->capture_default_str();
  sub->add_option("--kind", args->kind,
                  "standard (objects of every size, mostly small) or tiny (every object under "
                  "0.1 % of the image, 8-65 pixels at 256 px)")
      ->check(CLI::IsMember({"standard", "tiny"}))
      ->capture_default_str();
  add_overwrite_flag(sub, args->options.overwrite);
  add_examples(sub,
               {"svanet demo-data -o demo_data", "svanet demo-data -o tiny_data --kind tiny",
                "svanet demo-data -o small --count 30 --size 64 --seed 3"},
               "An existing non-empty OUT/Demo is refused; --overwrite replaces it. Both kinds "
               "write the demo dataset's layout and classes (dataset: demo).");
  return {sub, [args] { return run_demo_data(*args); }};
}

Command register_convert_dataset(CLI::App& app) {
  auto args = std::make_shared<ConvertDatasetArgs>();
  auto* sub = app.add_subcommand(
      "convert-dataset",
      "Convert a public dataset from the layout it is published in to svanet's generic layout");
  sub->add_option("name", args->name, "Converter: dsb2018, idrid, kvasir (svanet list converters)")
      ->required();
  sub->add_option("src", args->src, "The dataset as downloaded and extracted")->required();
  add_out_flag(sub, args->out, "folder: dataset.yaml, images/, masks/, images_test/, masks_test/")
      ->required();
  sub->add_option("--param", args->options,
                  "A converter option: --param scale=0.5 (repeatable; svanet list converters "
                  "shows each converter's options)");
  add_overwrite_flag(sub, args->overwrite);
  add_examples(
      sub,
      {"svanet convert-dataset dsb2018 stage1_train -o data/dsb2018",
       "svanet convert-dataset idrid \"A. Segmentation\" -o data/idrid_ma --param lesions=ma "
       "--param scale=0.25",
       "svanet convert-dataset kvasir Kvasir-SEG -o data/kvasir"},
      "Masks become palette PNGs of class indices; dataset.yaml records the source, "
      "licence and options. docs/datasets.md describes each converter.");
  return {sub, [args] { return run_convert_dataset(*args); }};
}

}  // namespace svanet::cli
