#include "svanet/inference/predict.h"

#include <torch/torch.h>

namespace svanet::inference {

torch::Tensor predict_logits(models::SegmentationModelImpl& model, const torch::Tensor& images,
                             bool flip) {
  torch::NoGradGuard no_grad;
  auto logits = model.forward(images);
  if (flip) {
    logits = 0.5 * (logits + model.forward(images.flip({3})).flip({3}));
  }
  return logits;
}

}  // namespace svanet::inference
