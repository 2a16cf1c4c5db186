#include "svanet/models/segmentation_model.h"

#include <torch/torch.h>

namespace svanet::models {

torch::Tensor pad_to_multiple(const torch::Tensor& x, int64_t multiple) {
  TORCH_CHECK(multiple >= 1, "pad_to_multiple: multiple must be >= 1");
  const int64_t pad_h = (multiple - x.size(2) % multiple) % multiple;
  const int64_t pad_w = (multiple - x.size(3) % multiple) % multiple;
  if (pad_h == 0 && pad_w == 0) {
    return x;
  }
  // F.pad order: (left, right, top, bottom)
  return torch::constant_pad_nd(x, {0, pad_w, 0, pad_h}, 0.0);
}

torch::Tensor crop_to(const torch::Tensor& x, int64_t height, int64_t width) {
  if (x.size(2) == height && x.size(3) == width) {
    return x;
  }
  return x.narrow(2, 0, height).narrow(3, 0, width);
}

}  // namespace svanet::models
