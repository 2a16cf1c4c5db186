#include "support/official_fill.h"

#include "support/test_support.h"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>

namespace svanet::test {

torch::Tensor official_fill(const std::string& key, const std::vector<int64_t>& shape,
                            const std::string& dtype) {
  const auto seed = crc32(key);
  auto g = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(seed));
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  auto ends_with = [&](const std::string& suffix) {
    return key.size() >= suffix.size() &&
           key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (dtype != "float32") {
    return torch::zeros(shape, torch::kLong);
  }
  if (ends_with("running_var")) {
    return 1.0 + 0.5 * torch::rand(shape, g, f64).to(torch::kFloat32);
  }
  if (ends_with("running_mean")) {
    return 0.1 * torch::randn(shape, g, f64).to(torch::kFloat32);
  }
  if (shape.size() >= 2) {
    int64_t fan_in = 1;
    for (size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
    return (torch::randn(shape, g, f64) / std::sqrt(static_cast<double>(fan_in)))
        .to(torch::kFloat32);
  }
  if (ends_with("weight")) {
    return (1.0 + 0.1 * torch::randn(shape, g, f64)).to(torch::kFloat32);
  }
  return (0.1 * torch::randn(shape, g, f64)).to(torch::kFloat32);
}

}  // namespace svanet::test
