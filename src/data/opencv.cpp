#include "svanet/data/opencv.h"

#include "data/cv_io.h"
#include "svanet/common/error.h"

#include <torch/torch.h>

namespace svanet::data {

torch::Tensor image_from_mat(const cv::Mat& image) {
  return cv_to_tensor_chw(to_rgb_float(image, "image_from_mat"));
}

cv::Mat to_mat(const torch::Tensor& labels) {
  SVANET_CHECK(labels.dim() == 2 && labels.scalar_type() == torch::kUInt8,
               "to_mat: labels must be an (H, W) uint8 tensor, got ", labels.sizes());
  return tensor_to_cv_u8(labels.contiguous().cpu()).clone();
}

inference::Prediction predict(const inference::Predictor& predictor, const cv::Mat& image) {
  return predictor.predict(image_from_mat(image));
}

}  // namespace svanet::data
