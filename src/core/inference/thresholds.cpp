#include "svanet/inference/thresholds.h"

#include "svanet/common/error.h"
#include "svanet/utils/text.h"

#include <torch/torch.h>

#include <cmath>
#include <cstdlib>

namespace svanet::inference {

ThresholdChoice ThresholdChoice::parse(const std::string& text) {
  ThresholdChoice choice;
  if (text == "argmax") return choice;
  if (text == "calibrated" || text == "auto") {
    choice.kind = text == "auto" ? Kind::kAuto : Kind::kCalibrated;
    return choice;
  }
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  SVANET_CHECK(!text.empty() && end == text.c_str() + text.size() && value > 0.0 && value < 1.0,
               "threshold '", text,
               "' is not argmax, calibrated, auto or a probability between 0 and 1 (exclusive)");
  choice.kind = Kind::kValue;
  choice.value = value;
  return choice;
}

std::string ThresholdChoice::to_string() const {
  switch (kind) {
    case Kind::kArgmax:
      return "argmax";
    case Kind::kCalibrated:
      return "calibrated";
    case Kind::kAuto:
      return "auto";
    case Kind::kValue:
      return utils::format_number(value);
  }
  return "?";
}

void check_thresholds(const std::vector<double>& thresholds, int64_t num_classes) {
  if (thresholds.empty()) return;
  SVANET_CHECK(static_cast<int64_t>(thresholds.size()) == num_classes, thresholds.size(),
               " thresholds for ", num_classes, " classes (one per class, background first)");
  for (size_t c = 1; c < thresholds.size(); ++c) {
    SVANET_CHECK(std::isfinite(thresholds[c]) && thresholds[c] > 0.0 && thresholds[c] < 1.0,
                 "the threshold of class ", c, " must be in (0, 1), got ", thresholds[c]);
  }
}

std::vector<double> resolve_thresholds(const ThresholdChoice& choice,
                                       const io::CheckpointMeta& meta, int64_t num_classes,
                                       const std::string& source) {
  const int64_t k = num_classes;
  switch (choice.kind) {
    case ThresholdChoice::Kind::kArgmax:
      return {};
    case ThresholdChoice::Kind::kValue: {
      std::vector<double> out(static_cast<size_t>(k), choice.value);
      out[0] = 0.0;
      return out;
    }
    case ThresholdChoice::Kind::kCalibrated:
      SVANET_CHECK(!meta.thresholds.empty(), source,
                   ": the checkpoint holds no calibrated thresholds; `svanet calibrate RUN` "
                   "chooses them on the run's validation split (or use --threshold argmax)");
      [[fallthrough]];
    case ThresholdChoice::Kind::kAuto:
      try {
        check_thresholds(meta.thresholds, k);
      } catch (const Error& e) {
        SVANET_FAIL(source, ": ", e.what());
      }
      return meta.thresholds;
  }
  return {};
}

torch::Tensor labels_from_probabilities(const torch::Tensor& probabilities, int64_t class_dim,
                                        const std::vector<double>& thresholds) {
  const int64_t k = probabilities.size(class_dim);
  if (thresholds.empty()) return probabilities.argmax(class_dim).to(torch::kUInt8);
  check_thresholds(thresholds, k);
  TORCH_CHECK(k >= 2, "labels_from_probabilities: thresholds need a background and a class");
  // Per class (view `shape`): the threshold (2 for the background, which
  // no probability reaches) and its inverse. Among the classes whose
  // probability reaches its threshold the largest p_c / t_c wins; a pixel
  // where none does is background.
  std::vector<double> limit(static_cast<size_t>(k), 2.0);
  std::vector<double> scale(static_cast<size_t>(k), 0.0);
  for (size_t c = 1; c < limit.size(); ++c) {
    limit[c] = thresholds[c];
    scale[c] = 1.0 / thresholds[c];
  }
  std::vector<int64_t> shape(static_cast<size_t>(probabilities.dim()), 1);
  shape[static_cast<size_t>(class_dim < 0 ? class_dim + probabilities.dim() : class_dim)] = k;
  const auto column = [&](const std::vector<double>& values) {
    return torch::tensor(values, torch::kFloat).to(probabilities.device()).view(shape);
  };
  const auto p = probabilities.to(torch::kFloat);
  const auto passes = p >= column(limit);
  const auto ratio = torch::where(passes, p * column(scale), torch::full_like(p, -1.0F));
  const auto [best, index] = ratio.max(class_dim);
  return torch::where(best >= 0.0F, index, torch::zeros_like(index)).to(torch::kUInt8);
}

std::string describe_thresholds(const std::vector<double>& thresholds,
                                const std::vector<std::string>& classes) {
  if (thresholds.empty()) return "argmax";
  std::string out;
  for (size_t c = 1; c < thresholds.size(); ++c) {
    if (!out.empty()) out += ", ";
    out += (c < classes.size() ? classes[c] : "class_" + std::to_string(c)) + " " +
           utils::format_number(thresholds[c]);
  }
  return out;
}

}  // namespace svanet::inference
