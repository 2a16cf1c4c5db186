#include "data/cv_io.h"

#include "svanet/common/error.h"
#include "svanet/utils/atomic_file.h"

#include <png.h>
#include <torch/torch.h>
#include <opencv2/imgcodecs.hpp>

#include <cstring>
#include <filesystem>

namespace svanet::data {

torch::Tensor cv_to_tensor_u8(const cv::Mat& mat) {
  TORCH_CHECK(mat.type() == CV_8UC1, "cv_to_tensor_u8: expected CV_8UC1");
  cv::Mat contiguous = mat.isContinuous() ? mat : mat.clone();
  return torch::from_blob(contiguous.data, {contiguous.rows, contiguous.cols}, torch::kByte)
      .clone();
}

cv::Mat tensor_to_cv_u8(const torch::Tensor& tensor) {
  TORCH_CHECK(tensor.dim() == 2 && tensor.scalar_type() == torch::kByte && tensor.is_contiguous() &&
                  tensor.device().is_cpu(),
              "tensor_to_cv_u8: expected a contiguous CPU (H, W) uint8 tensor");
  return {static_cast<int>(tensor.size(0)), static_cast<int>(tensor.size(1)), CV_8UC1,
          tensor.data_ptr<uint8_t>()};
}

torch::Tensor cv_to_tensor_chw(const cv::Mat& mat) {
  TORCH_CHECK(mat.type() == CV_32FC3, "cv_to_tensor_chw: expected CV_32FC3");
  cv::Mat contiguous = mat.isContinuous() ? mat : mat.clone();
  // (H, W, 3) -> (3, H, W)
  return torch::from_blob(contiguous.data, {contiguous.rows, contiguous.cols, 3}, torch::kFloat)
      .permute({2, 0, 1})
      .contiguous();
}

void write_mat(const std::string& path, const cv::Mat& mat) {
  std::vector<uchar> bytes;
  const std::string ext = std::filesystem::path(path).extension().string();
  bool ok = false;
  try {
    ok = cv::imencode(ext, mat, bytes);
  } catch (const cv::Exception& e) {
    SVANET_FAIL(path, ": cannot encode the image: ", e.msg);
  }
  SVANET_CHECK(ok, path, ": cannot encode an image as '", ext, "'");
  utils::write_file_atomic(path, std::string(bytes.begin(), bytes.end()));
}

namespace {

struct PngWriteState {
  std::string bytes;
  char error[256] = {0};
};

void png_write_fn(png_structp png, png_bytep data, png_size_t length) {
  auto* state = static_cast<PngWriteState*>(png_get_io_ptr(png));
  state->bytes.append(reinterpret_cast<const char*>(data), length);
}

void png_flush_fn(png_structp /*png*/) {}

void png_error_fn(png_structp png, png_const_charp message) {
  auto* state = static_cast<PngWriteState*>(png_get_error_ptr(png));
  std::snprintf(state->error, sizeof(state->error), "%s", message);
  png_longjmp(png, 1);
}

/// Encodes with libpng; false (and state.error) on failure. Nothing with a
/// destructor is created between setjmp and the end of the function.
bool encode_palette_png(const cv::Mat& indices, const png_color* colours, int num_colours,
                        png_bytep* rows, PngWriteState& state) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &state, png_error_fn, nullptr);
  png_infop info = png != nullptr ? png_create_info_struct(png) : nullptr;
  if (png == nullptr || info == nullptr || setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return false;
  }
  png_set_write_fn(png, &state, png_write_fn, png_flush_fn);
  png_set_IHDR(png, info, static_cast<png_uint_32>(indices.cols),
               static_cast<png_uint_32>(indices.rows), 8, PNG_COLOR_TYPE_PALETTE,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_PLTE(png, info, colours, num_colours);
  png_write_info(png, info);
  png_write_image(png, rows);
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

}  // namespace

void write_palette_png(const std::string& path, const cv::Mat& indices,
                       const std::vector<Rgb>& palette) {
  SVANET_CHECK(indices.type() == CV_8UC1, path, ": palette masks need 8-bit indices");
  std::vector<png_color> colours(256);
  for (size_t i = 0; i < colours.size(); ++i) {
    const Rgb rgb = i < palette.size() ? palette[i] : voc_palette()[i];
    colours[i] = {rgb[0], rgb[1], rgb[2]};
  }
  cv::Mat contiguous = indices.isContinuous() ? indices : indices.clone();
  std::vector<png_bytep> rows(static_cast<size_t>(contiguous.rows));
  for (int y = 0; y < contiguous.rows; ++y)
    rows[static_cast<size_t>(y)] = contiguous.ptr<png_byte>(y);
  PngWriteState state;
  SVANET_CHECK(encode_palette_png(contiguous, colours.data(), 256, rows.data(), state), path,
               ": cannot encode the palette PNG: ", state.error);
  utils::write_file_atomic(path, state.bytes);
}

}  // namespace svanet::data
