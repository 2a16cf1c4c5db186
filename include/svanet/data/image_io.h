#pragma once
/// @file
/// Reading images and segmentation masks the way medical data arrives:
/// 8- or 16-bit, gray, RGB or RGBA images; masks as class indices, 0/255
/// binary, lossy JPEG, palette PNGs or RGB colour codes. Anything that cannot
/// be mapped onto the dataset's classes is an error naming the file.

#include <torch/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace svanet::data {

/// Mask value meaning "not labelled": excluded from losses and metrics.
inline constexpr int64_t kIgnoreIndex = 255;

using Rgb = std::array<uint8_t, 3>;

/// The Pascal VOC palette (as the official code uses for its palette masks).
const std::vector<Rgb>& voc_palette();

/// How a dataset's mask files encode its classes.
struct MaskEncoding {
  /// Classes including background.
  int64_t num_classes = 2;
  /// Raw gray value of each class, background first (e.g. {0, 128, 255}).
  /// Empty: values are class indices, 255 is ignore, and a mask holding only
  /// 0 and 255 is binary (255 becomes class 1; the official loader would
  /// have ignored it).
  std::vector<int64_t> values;
  /// RGB colour of each class for colour-coded masks; empty: the VOC palette.
  std::vector<Rgb> colours;
  /// For lossy (JPEG) binary masks: gray values above this become class 1.
  /// 0 leaves values exact.
  int64_t binary_threshold = 0;
};

/// Where a mask's values came from, for reports.
enum class MaskKind { kIndex, kBinary255, kGrayValues, kPalette, kColour, kThresholded };
const char* to_string(MaskKind kind);

/// A decoded mask.
struct Mask {
  /// (H, W) uint8 class indices; kIgnoreIndex marks unlabelled pixels.
  torch::Tensor indices;
  MaskKind kind = MaskKind::kIndex;
};

/// Whether a file name has an extension svanet reads as an image or mask:
/// .png, .jpg, .jpeg, .tif, .tiff, .bmp (any case).
bool has_image_extension(const std::string& path);

/// Reads an image as (3, H, W) float32 RGB in [0, 1]: gray images repeat to
/// three channels, 16-bit images scale by 1/65535, alpha is dropped.
/// Unreadable or truncated files throw svanet::Error naming the file.
torch::Tensor read_image(const std::string& path);

/// Reads and decodes a mask (see MaskEncoding). Values that map to no class
/// throw svanet::Error naming the file and the values found.
Mask read_mask(const std::string& path, const MaskEncoding& encoding);

/// Height and width of an image file without decoding all of it when the
/// format allows (PNG, JPEG); otherwise by decoding. Throws on unreadable files.
std::array<int64_t, 2> image_size(const std::string& path);

/// A reason the file is truncated or malformed (JPEG without its end
/// marker, PNG without IEND, an empty file), or nothing. Decoders often
/// paper over truncation with gray pixels; this catches it.
std::optional<std::string> integrity_problem(const std::string& path);

/// Writes (H, W, 3) uint8 RGB or (H, W) uint8 gray as PNG/JPEG/TIFF/BMP by
/// extension, atomically.
void write_image(const std::string& path, const torch::Tensor& pixels);

/// Writes (H, W) uint8 class indices as an 8-bit palette PNG (viewable in
/// colour, read back as indices), atomically.
void write_mask_png(const std::string& path, const torch::Tensor& indices,
                    const std::vector<Rgb>& palette = voc_palette());

}  // namespace svanet::data
