#pragma once
/// @file
/// The built-in demo dataset: procedurally generated medical-looking images
/// with pixel-exact masks of small objects, so that everything in svanet runs
/// offline with no dataset at all.
///
/// Each image has a textured background of one of two styles — fundus-like
/// (orange-red disc, vignetting, dark branching vessels, bright exudate-like
/// spots) or tissue-like (pink stroma, fibres, purple smudges) — and zero to
/// a dozen objects of two classes: "lesion" (red-brown irregular blobs) and
/// "nucleus" (dark purple granular round cells). Object areas range from
/// under 0.1 % of the image to over 10 %, with varied contrast, blur and
/// shape. Vessels, smudges and spots are distractors as dark or as bright as
/// the objects, so brightness alone does not segment them.

#include <cstdint>
#include <string>

namespace svanet::data {

/// What the demo objects look like.
enum class DemoKind {
  /// Objects from under 0.1 % of the image to over 10 %, mostly small.
  kStandard,
  /// Only tiny objects: each covers 0.012 % to 0.1 % of the image (8 to 65
  /// pixels at 256 px), 4 to 14 per image, none touching another.
  kTiny,
};

/// "standard", "tiny"; anything else throws svanet::Error listing them.
DemoKind parse_demo_kind(const std::string& text);
const char* to_string(DemoKind kind);

/// Options of generate_demo_dataset.
struct DemoOptions {
  uint64_t seed = 0;
  DemoKind kind = DemoKind::kStandard;
  /// Number of images, split 70/15/15 into train/, val/ and test/.
  int64_t count = 300;
  /// Side of the square images.
  int64_t size = 256;
  /// Replace an existing `out/Demo/` (otherwise a non-empty one is refused).
  bool overwrite = false;
};

/// What generate_demo_dataset wrote.
struct DemoSummary {
  std::string folder;
  int64_t train = 0, val = 0, test = 0;
  /// Images with no object at all.
  int64_t empty_images = 0;
  /// The masks' 8-connected objects of each class, as data-stats and
  /// init-config count them (drawn objects that touch are one).
  int64_t objects = 0;
};

/// Writes the demo set in the official layout under `out/Demo/` (train/,
/// val/, test/, mask/ with palette-PNG masks; classes background, lesion,
/// nucleus). The same seed gives the same pixels. A non-empty `out/Demo/`
/// is refused unless options.overwrite; a failed run removes what it wrote.
DemoSummary generate_demo_dataset(const std::string& out, const DemoOptions& options = {});

}  // namespace svanet::data
