#pragma once
/// @file
/// Converters from the layouts public datasets are published in to svanet's
/// generic layout (`dataset.yaml`, `images/`, `masks/`, `images_test/`,
/// `masks_test/`): `svanet convert-dataset NAME SRC -o DST`.
///
/// Each converter is a registry entry with its own options, so a program
/// can add one from outside:
///
///     svanet::data::ConverterRegistry::Entry e;
///     e.name = "my_set";
///     e.description = "my lesions (CC BY 4.0)";
///     e.traits.classes = {"background", "lesion"};
///     e.traits.source = {"My lesions", "CC BY 4.0", "Me et al. 2026", "https://..."};
///     e.factory = [](const svanet::OptionMap& options, const std::string& src,
///                    svanet::data::DatasetWriter& out) {
///       ...  // out.add("train" or "test", stem, image, class_indices) per image
///     };
///     svanet::data::converter_registry().add(std::move(e));
///
/// The writer (svanet/data/convert_writer.h, the one header here that
/// needs OpenCV) pairs every image with a palette PNG of class indices, counts
/// the objects, and writes `dataset.yaml` (classes, source, licence and the
/// converter's options) once every image is written; a failed conversion
/// leaves nothing behind.
#include "svanet/registry/registry.h"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace svanet::data {

/// What a conversion wrote.
struct ConvertSummary {
  std::string folder;
  std::vector<std::string> classes;
  /// Images per split ("train", "test").
  std::map<std::string, int64_t> images;
  /// 8-connected objects per foreground class, over every split.
  std::map<std::string, int64_t> objects;
  /// Objects under 0.1 % of their image, over every class and split.
  int64_t small_objects = 0;
  /// Objects a downscale would have erased, kept as their centre pixel.
  int64_t kept_as_centre = 0;
  /// Mask specks (e.g. JPEG artefacts) a converter turned to background.
  int64_t removed_specks = 0;
  /// Source files skipped, with the reason (e.g. an image without masks).
  std::vector<std::string> skipped;
};

/// Facts about a dataset that `dataset.yaml` and docs/datasets.md record.
struct DatasetSource {
  std::string title;
  std::string licence;
  std::string citation;
  std::string url;
};

/// Writes one converted dataset (svanet/data/convert_writer.h, which needs
/// OpenCV's headers).
class DatasetWriter;

/// A converter: reads SRC (the published layout) and adds every image to
/// the writer. Throws svanet::Error naming the file and the problem.
using ConverterFactory =
    std::function<void(const OptionMap& options, const std::string& src, DatasetWriter& out)>;

/// Facts a converter records beside its factory.
struct ConverterTraits {
  /// Background first; `classes_for` gives them for other options.
  std::vector<std::string> classes;
  DatasetSource source;
  /// The classes for the resolved options (e.g. the IDRiD lesions chosen);
  /// empty: `classes`.
  std::function<std::vector<std::string>(const OptionMap&)> classes_for;
};

using ConverterRegistry = Registry<ConverterFactory, ConverterTraits>;

/// The registered converters: `dsb2018` (nuclei, BBBC038 / Data Science
/// Bowl 2018), `idrid` (fundus lesions, IDRiD part A) and `kvasir`
/// (polyps, Kvasir-SEG) on first use, then any a program adds.
ConverterRegistry& converter_registry();

struct ConvertOptions {
  /// Replace an existing non-empty DST.
  bool overwrite = false;
};

/// Runs converter `name` on `src` with `options` (checked against its
/// schema) into `dst`; an existing non-empty `dst` is refused without
/// `overwrite`, and a failed conversion leaves nothing behind.
ConvertSummary convert_dataset(const std::string& name, const std::string& src,
                               const std::string& dst, const OptionMap& options,
                               const ConvertOptions& how = {});

/// A fixed held-out split for a dataset published without one: the stems
/// whose seeded FNV-1a hash ranks in the first round(fraction * n) go to
/// test. Depends only on the stems, the fraction and the seed (not on the
/// standard library's random distributions), so every machine agrees.
std::vector<bool> hashed_test_split(const std::vector<std::string>& stems, double fraction,
                                    uint64_t seed);

}  // namespace svanet::data
