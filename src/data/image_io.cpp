#include "svanet/data/image_io.h"

#include "data/cv_io.h"
#include "svanet/common/error.h"
#include "svanet/utils/atomic_file.h"
#include "svanet/utils/text.h"

#include <png.h>
#include <torch/torch.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <csetjmp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

namespace svanet::data {

const std::vector<Rgb>& voc_palette() {
  // The standard Pascal VOC colour map: bits of the index spread over R, G, B.
  static const std::vector<Rgb> palette = [] {
    std::vector<Rgb> p(256);
    for (int i = 0; i < 256; ++i) {
      int c = i;
      uint8_t r = 0, g = 0, b = 0;
      for (int j = 0; j < 8; ++j) {
        r = static_cast<uint8_t>(r | (((c >> 0) & 1) << (7 - j)));
        g = static_cast<uint8_t>(g | (((c >> 1) & 1) << (7 - j)));
        b = static_cast<uint8_t>(b | (((c >> 2) & 1) << (7 - j)));
        c >>= 3;
      }
      p[static_cast<size_t>(i)] = {r, g, b};
    }
    return p;
  }();
  return palette;
}

const char* to_string(MaskKind kind) {
  switch (kind) {
    case MaskKind::kIndex:
      return "class indices";
    case MaskKind::kBinary255:
      return "binary 0/255";
    case MaskKind::kGrayValues:
      return "gray values";
    case MaskKind::kPalette:
      return "palette PNG";
    case MaskKind::kColour:
      return "colour codes";
    case MaskKind::kThresholded:
      return "thresholded";
  }
  return "?";
}

namespace {

std::string read_head(const std::string& path, size_t n) {
  std::ifstream in(path, std::ios::binary);
  SVANET_CHECK(in.good(), path, ": cannot open the file");
  std::string head(n, '\0');
  in.read(head.data(), static_cast<std::streamsize>(n));
  head.resize(static_cast<size_t>(in.gcount()));
  return head;
}

bool is_png(const std::string& head) {
  return head.size() >= 8 && std::memcmp(head.data(), "\x89PNG\r\n\x1a\n", 8) == 0;
}

bool is_jpeg(const std::string& head) {
  return head.size() >= 3 && static_cast<uint8_t>(head[0]) == 0xFF &&
         static_cast<uint8_t>(head[1]) == 0xD8 && static_cast<uint8_t>(head[2]) == 0xFF;
}

/// libpng error handling: longjmp back with the message.
struct PngError {
  char message[256] = {0};
};

void png_error_fn(png_structp png, png_const_charp message) {
  auto* err = static_cast<PngError*>(png_get_error_ptr(png));
  std::snprintf(err->message, sizeof(err->message), "%s", message);
  png_longjmp(png, 1);
}

void png_warning_fn(png_structp /*png*/, png_const_charp /*message*/) {}

/// Reads a palette PNG's raw indices (OpenCV would expand them to colours).
/// Returns an empty Mat with `error` set on failure. No C++ object with a
/// destructor lives across setjmp.
cv::Mat read_palette_indices(const char* path, PngError& error) {
  FILE* file = std::fopen(path, "rb");
  if (file == nullptr) {
    std::snprintf(error.message, sizeof(error.message), "cannot open the file");
    return {};
  }
  png_structp png =
      png_create_read_struct(PNG_LIBPNG_VER_STRING, &error, png_error_fn, png_warning_fn);
  png_infop info = png != nullptr ? png_create_info_struct(png) : nullptr;
  auto* out = new cv::Mat();  // heap-allocated so the longjmp path can free it
  if (png == nullptr || info == nullptr || setjmp(png_jmpbuf(png))) {
    png_destroy_read_struct(&png, &info, nullptr);
    std::fclose(file);
    delete out;
    if (error.message[0] == '\0') std::snprintf(error.message, sizeof(error.message), "PNG error");
    return {};
  }
  png_init_io(png, file);
  png_read_info(png, info);
  const png_uint_32 width = png_get_image_width(png, info);
  const png_uint_32 height = png_get_image_height(png, info);
  if (png_get_bit_depth(png, info) < 8) png_set_packing(png);
  const int passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  if (png_get_channels(png, info) != 1 || png_get_bit_depth(png, info) != 8) {
    png_error(png, "unexpected palette PNG layout");
  }
  out->create(static_cast<int>(height), static_cast<int>(width), CV_8UC1);
  for (int pass = 0; pass < passes; ++pass) {
    for (png_uint_32 y = 0; y < height; ++y) {
      png_read_row(png, out->ptr<png_byte>(static_cast<int>(y)), nullptr);
    }
  }
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  std::fclose(file);
  cv::Mat result = *out;
  delete out;
  return result;
}

/// Histogram of an 8- or 16-bit single-channel image: value -> pixel count.
std::map<int64_t, int64_t> value_counts(const cv::Mat& gray) {
  std::map<int64_t, int64_t> counts;
  const int bins = gray.depth() == CV_16U ? 65536 : 256;
  std::vector<int64_t> hist(static_cast<size_t>(bins), 0);
  for (int y = 0; y < gray.rows; ++y) {
    if (gray.depth() == CV_16U) {
      const auto* row = gray.ptr<uint16_t>(y);
      for (int x = 0; x < gray.cols; ++x) ++hist[row[x]];
    } else {
      const auto* row = gray.ptr<uint8_t>(y);
      for (int x = 0; x < gray.cols; ++x) ++hist[row[x]];
    }
  }
  for (int v = 0; v < bins; ++v) {
    if (hist[static_cast<size_t>(v)] > 0) counts[v] = hist[static_cast<size_t>(v)];
  }
  return counts;
}

std::string describe_values(const std::map<int64_t, int64_t>& counts, size_t limit = 8) {
  std::vector<std::string> parts;
  for (const auto& [value, count] : counts) {
    if (parts.size() == limit) {
      parts.emplace_back("...");
      break;
    }
    parts.push_back(std::to_string(value) + " (" + std::to_string(count) + " px)");
  }
  return utils::join(parts, ", ");
}

/// Applies a value -> class table (-1 = invalid) to a single-channel mask.
cv::Mat apply_lut(const cv::Mat& gray, const std::vector<int>& lut) {
  cv::Mat out(gray.size(), CV_8UC1);
  for (int y = 0; y < gray.rows; ++y) {
    auto* dst = out.ptr<uint8_t>(y);
    if (gray.depth() == CV_16U) {
      const auto* row = gray.ptr<uint16_t>(y);
      for (int x = 0; x < gray.cols; ++x) dst[x] = static_cast<uint8_t>(lut[row[x]]);
    } else {
      const auto* row = gray.ptr<uint8_t>(y);
      for (int x = 0; x < gray.cols; ++x) dst[x] = static_cast<uint8_t>(lut[row[x]]);
    }
  }
  return out;
}

/// Gray mask (8/16-bit, one channel) to class indices.
Mask decode_gray(const cv::Mat& gray, const MaskEncoding& enc, const std::string& path,
                 bool from_palette) {
  const int64_t k = enc.num_classes;
  const auto counts = value_counts(gray);
  const size_t size = gray.depth() == CV_16U ? 65536 : 256;
  std::vector<int> lut(size, -1);
  MaskKind kind = from_palette ? MaskKind::kPalette : MaskKind::kIndex;
  if (!enc.values.empty() && !from_palette) {
    for (size_t c = 0; c < enc.values.size(); ++c) {
      const int64_t v = enc.values[c];
      if (v >= 0 && static_cast<size_t>(v) < size)
        lut[static_cast<size_t>(v)] = static_cast<int>(c);
    }
    if (lut[kIgnoreIndex] < 0) lut[kIgnoreIndex] = kIgnoreIndex;
    kind = MaskKind::kGrayValues;
  } else {
    const bool binary255 = !from_palette && counts.count(255) > 0 && counts.count(1) == 0 &&
                           std::all_of(counts.begin(), counts.end(), [](const auto& c) {
                             return c.first == 0 || c.first == 255;
                           });
    for (int64_t v = 0; v < k && static_cast<size_t>(v) < size; ++v)
      lut[static_cast<size_t>(v)] = static_cast<int>(v);
    lut[kIgnoreIndex] = binary255 ? 1 : static_cast<int>(kIgnoreIndex);
    if (binary255) kind = MaskKind::kBinary255;
  }
  const bool fits = std::all_of(counts.begin(), counts.end(), [&](const auto& c) {
    return lut[static_cast<size_t>(c.first)] >= 0;
  });
  if (!fits && enc.binary_threshold > 0 && !from_palette && k == 2) {
    // A lossy binary mask (JPEG artefacts): threshold it.
    for (size_t v = 0; v < size; ++v)
      lut[v] = static_cast<int64_t>(v) > enc.binary_threshold ? 1 : 0;
    kind = MaskKind::kThresholded;
  }
  std::map<int64_t, int64_t> bad;
  for (const auto& [value, count] : counts) {
    if (lut[static_cast<size_t>(value)] < 0) bad[value] = count;
  }
  if (!bad.empty()) {
    std::string expected;
    if (!enc.values.empty()) {
      std::vector<std::string> values;
      for (auto v : enc.values) values.push_back(std::to_string(v));
      expected = "the class values " + utils::join(values, ", ");
    } else {
      expected = "class indices 0.." + std::to_string(k - 1) +
                 (from_palette ? "" : " or a 0/255 binary mask");
    }
    SVANET_FAIL(path, ": mask value(s) ", describe_values(bad), " do not fit the dataset's ", k,
                " classes (expected ", expected, ", 255 = ignore)");
  }
  return {cv_to_tensor_u8(apply_lut(gray, lut)), kind};
}

/// Colour mask (BGR) to class indices through the class colours.
Mask decode_colour(const cv::Mat& bgr, const MaskEncoding& enc, const std::string& path) {
  const auto& colours = enc.colours.empty() ? voc_palette() : enc.colours;
  std::map<uint32_t, int> table;
  const auto classes = static_cast<size_t>(enc.num_classes);
  for (size_t c = 0; c < std::min(classes, colours.size()); ++c) {
    const auto& rgb = colours[c];
    table[(uint32_t{rgb[0]} << 16) | (uint32_t{rgb[1]} << 8) | rgb[2]] = static_cast<int>(c);
  }
  if (enc.colours.empty()) {
    const auto& ignore = voc_palette()[kIgnoreIndex];  // VOC's "void" colour
    table.emplace((uint32_t{ignore[0]} << 16) | (uint32_t{ignore[1]} << 8) | ignore[2],
                  static_cast<int>(kIgnoreIndex));
  }
  cv::Mat out(bgr.size(), CV_8UC1);
  std::map<uint32_t, int64_t> unknown;
  for (int y = 0; y < bgr.rows; ++y) {
    const auto* row = bgr.ptr<cv::Vec3b>(y);
    auto* dst = out.ptr<uint8_t>(y);
    for (int x = 0; x < bgr.cols; ++x) {
      const uint32_t key = (uint32_t{row[x][2]} << 16) | (uint32_t{row[x][1]} << 8) | row[x][0];
      auto it = table.find(key);
      if (it == table.end()) {
        ++unknown[key];
        dst[x] = 0;
      } else {
        dst[x] = static_cast<uint8_t>(it->second);
      }
    }
  }
  if (!unknown.empty()) {
    std::vector<std::string> parts;
    for (const auto& [key, count] : unknown) {
      if (parts.size() == 6) {
        parts.emplace_back("...");
        break;
      }
      parts.push_back("(" + std::to_string(key >> 16) + "," + std::to_string((key >> 8) & 0xFF) +
                      "," + std::to_string(key & 0xFF) + ") " + std::to_string(count) + " px");
    }
    SVANET_FAIL(path, ": mask colour(s) ", utils::join(parts, ", "), " are none of the ",
                enc.num_classes, " class colours", enc.colours.empty() ? " (VOC palette)" : "");
  }
  return {cv_to_tensor_u8(out), MaskKind::kColour};
}

/// Decodes a file as stored (depth and channels kept); `what` names it in errors.
cv::Mat decode_file(const std::string& path, const char* what) {
  cv::Mat raw;
  try {
    raw = cv::imread(path, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    SVANET_FAIL(path, ": cannot decode the ", what, ": ", e.msg);
  }
  SVANET_CHECK(!raw.empty(), path, ": cannot decode the ", what, " (unsupported or corrupt file)");
  return raw;
}

}  // namespace

bool has_image_extension(const std::string& path) {
  static const std::set<std::string> extensions = {".jpg", ".jpeg", ".png",
                                                   ".tif", ".tiff", ".bmp"};
  return extensions.count(utils::to_lower(std::filesystem::path(path).extension().string())) > 0;
}

cv::Mat read_image_mat(const std::string& path) {
  if (auto problem = integrity_problem(path)) {
    SVANET_FAIL(path, ": ", *problem);
  }
  return to_rgb_float(decode_file(path, "image"), path);
}

cv::Mat to_rgb_float(const cv::Mat& raw, const std::string& path) {
  SVANET_CHECK(!raw.empty(), path, ": the image is empty");
  cv::Mat scaled;
  switch (raw.depth()) {
    case CV_8U:
      raw.convertTo(scaled, CV_32F, 1.0 / 255.0);
      break;
    case CV_16U:
      raw.convertTo(scaled, CV_32F, 1.0 / 65535.0);
      break;
    case CV_32F:
      scaled = raw;
      break;
    default:
      SVANET_FAIL(path, ": unsupported pixel type (", cv::typeToString(raw.type()),
                  "); use 8- or 16-bit unsigned or 32-bit float images");
  }
  cv::Mat rgb;
  switch (scaled.channels()) {
    case 1:
      cv::cvtColor(scaled, rgb, cv::COLOR_GRAY2RGB);
      break;
    case 2: {
      cv::Mat gray;
      cv::extractChannel(scaled, gray, 0);
      cv::cvtColor(gray, rgb, cv::COLOR_GRAY2RGB);
      break;
    }
    case 3:
      cv::cvtColor(scaled, rgb, cv::COLOR_BGR2RGB);
      break;
    case 4:
      cv::cvtColor(scaled, rgb, cv::COLOR_BGRA2RGB);
      break;
    default:
      SVANET_FAIL(path, ": unsupported number of channels (", scaled.channels(), ")");
  }
  return rgb;
}

Mask decode_mask(const std::string& path, const MaskEncoding& enc) {
  SVANET_CHECK(enc.num_classes >= 2 && enc.num_classes <= 255, path,
               ": a dataset needs 2 to 255 classes, got ", enc.num_classes);
  if (auto problem = integrity_problem(path)) {
    SVANET_FAIL(path, ": ", *problem);
  }
  const std::string head = read_head(path, 26);
  if (is_png(head) && head.size() >= 26 && head[25] == 3) {  // colour type 3: palette
    PngError error;
    cv::Mat indices = read_palette_indices(path.c_str(), error);
    SVANET_CHECK(!indices.empty(), path, ": cannot decode the palette PNG: ", error.message);
    return decode_gray(indices, enc, path, /*from_palette=*/true);
  }
  const cv::Mat raw = decode_file(path, "mask");
  SVANET_CHECK(raw.depth() == CV_8U || raw.depth() == CV_16U, path,
               ": masks must be 8- or 16-bit integer images, got ", cv::typeToString(raw.type()));
  if (raw.channels() == 1) {
    return decode_gray(raw, enc, path, false);
  }
  SVANET_CHECK(raw.channels() == 3 || raw.channels() == 4, path, ": unsupported mask with ",
               raw.channels(), " channels");
  cv::Mat bgr;
  if (raw.channels() == 4) {
    cv::cvtColor(raw, bgr, cv::COLOR_BGRA2BGR);
  } else {
    bgr = raw;
  }
  std::vector<cv::Mat> planes;
  cv::split(bgr, planes);
  const bool gray = cv::countNonZero(planes[0] != planes[1]) == 0 &&
                    cv::countNonZero(planes[1] != planes[2]) == 0;
  if (gray) {
    return decode_gray(planes[0], enc, path, false);
  }
  if (enc.binary_threshold > 0 && enc.num_classes == 2) {
    // A lossy (JPEG) binary mask whose channels drifted apart: threshold its gray level.
    cv::Mat luminance;
    cv::cvtColor(bgr, luminance, cv::COLOR_BGR2GRAY);
    return decode_gray(luminance, enc, path, false);
  }
  SVANET_CHECK(bgr.depth() == CV_8U, path, ": 16-bit colour masks are not supported");
  return decode_colour(bgr, enc, path);
}

torch::Tensor read_image(const std::string& path) {
  cv::Mat rgb = read_image_mat(path);
  return cv_to_tensor_chw(rgb);
}

Mask read_mask(const std::string& path, const MaskEncoding& encoding) {
  return decode_mask(path, encoding);
}

std::array<int64_t, 2> image_size(const std::string& path) {
  const std::string head = read_head(path, size_t{64} * 1024);
  if (is_png(head) && head.size() >= 24) {
    auto be32 = [&](size_t at) {
      return (int64_t{static_cast<uint8_t>(head[at])} << 24) |
             (int64_t{static_cast<uint8_t>(head[at + 1])} << 16) |
             (int64_t{static_cast<uint8_t>(head[at + 2])} << 8) |
             int64_t{static_cast<uint8_t>(head[at + 3])};
    };
    return {be32(20), be32(16)};
  }
  if (is_jpeg(head)) {
    // Walk the markers to the first start-of-frame.
    size_t pos = 2;
    while (pos + 9 < head.size()) {
      if (static_cast<uint8_t>(head[pos]) != 0xFF) break;
      const auto marker = static_cast<uint8_t>(head[pos + 1]);
      const size_t length =
          (size_t{static_cast<uint8_t>(head[pos + 2])} << 8) | static_cast<uint8_t>(head[pos + 3]);
      const bool sof =
          marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
      if (sof) {
        const int64_t h = (int64_t{static_cast<uint8_t>(head[pos + 5])} << 8) |
                          static_cast<uint8_t>(head[pos + 6]);
        const int64_t w = (int64_t{static_cast<uint8_t>(head[pos + 7])} << 8) |
                          static_cast<uint8_t>(head[pos + 8]);
        return {h, w};
      }
      pos += 2 + length;
    }
  }
  cv::Mat raw = cv::imread(path, cv::IMREAD_UNCHANGED);
  SVANET_CHECK(!raw.empty(), path, ": cannot decode the image");
  return {raw.rows, raw.cols};
}

std::optional<std::string> integrity_problem(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in.good()) return "cannot open the file";
  const auto size = static_cast<int64_t>(in.tellg());
  if (size <= 0) return "empty file";
  const int64_t tail_size = std::min<int64_t>(size, 64);
  std::string tail(static_cast<size_t>(tail_size), '\0');
  in.seekg(size - tail_size);
  in.read(tail.data(), tail_size);
  const std::string head = read_head(path, 8);
  if (is_jpeg(head)) {
    // The end-of-image marker, possibly followed by padding.
    std::string trimmed = tail;
    while (!trimmed.empty() && (trimmed.back() == '\0' || trimmed.back() == '\n'))
      trimmed.pop_back();
    if (trimmed.size() < 2 || static_cast<uint8_t>(trimmed[trimmed.size() - 2]) != 0xFF ||
        static_cast<uint8_t>(trimmed.back()) != 0xD9) {
      return "truncated JPEG (no end-of-image marker)";
    }
  } else if (is_png(head)) {
    if (tail.size() < 12 || tail.compare(tail.size() - 8, 4, "IEND") != 0) {
      return "truncated PNG (no IEND chunk)";
    }
  }
  return std::nullopt;
}

void write_image(const std::string& path, const torch::Tensor& pixels) {
  TORCH_CHECK(pixels.scalar_type() == torch::kByte &&
                  (pixels.dim() == 2 || (pixels.dim() == 3 && pixels.size(2) == 3)),
              "write_image: expected (H, W) or (H, W, 3) uint8, got ", pixels.sizes(), " ",
              pixels.scalar_type());
  auto contiguous = pixels.contiguous().cpu();
  cv::Mat mat(static_cast<int>(contiguous.size(0)), static_cast<int>(contiguous.size(1)),
              contiguous.dim() == 2 ? CV_8UC1 : CV_8UC3, contiguous.data_ptr<uint8_t>());
  cv::Mat bgr;
  if (contiguous.dim() == 3) {
    cv::cvtColor(mat, bgr, cv::COLOR_RGB2BGR);
  } else {
    bgr = mat;
  }
  write_mat(path, bgr);
}

void write_mask_png(const std::string& path, const torch::Tensor& indices,
                    const std::vector<Rgb>& palette) {
  TORCH_CHECK(indices.dim() == 2 && indices.scalar_type() == torch::kByte,
              "write_mask_png: expected (H, W) uint8, got ", indices.sizes());
  auto contiguous = indices.contiguous().cpu();
  cv::Mat mat(static_cast<int>(contiguous.size(0)), static_cast<int>(contiguous.size(1)), CV_8UC1,
              contiguous.data_ptr<uint8_t>());
  write_palette_png(path, mat, palette);
}

}  // namespace svanet::data
