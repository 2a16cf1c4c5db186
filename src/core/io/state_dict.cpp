#include "svanet/io/state_dict.h"

#include "svanet/common/error.h"
#include "svanet/utils/text.h"

#include <torch/torch.h>

#include <set>
#include <sstream>

namespace svanet::io {

StateDict state_dict(const torch::nn::Module& module) {
  StateDict out;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    out.emplace_back(item.key(), item.value());
  }
  for (const auto& item : module.named_buffers(/*recurse=*/true)) {
    out.emplace_back(item.key(), item.value());
  }
  return out;
}

namespace {

std::string shape_string(const torch::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

std::string list_keys(const std::vector<std::string>& keys, size_t limit = 20) {
  std::vector<std::string> shown(
      keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(std::min(limit, keys.size())));
  std::string out = utils::join(shown, ", ");
  if (keys.size() > limit) {
    out += ", ... (" + std::to_string(keys.size() - limit) + " more)";
  }
  return out;
}

}  // namespace

LoadReport load_state_dict(torch::nn::Module& module,
                           const std::map<std::string, torch::Tensor>& tensors,
                           const LoadOptions& options) {
  LoadReport report;
  std::set<std::string> used;
  torch::NoGradGuard no_grad;
  for (auto& [name, target] : state_dict(module)) {
    auto it = tensors.find(name);
    if (it == tensors.end()) {
      if (!options.allow_missing() || !options.allow_missing()(name)) {
        report.missing.push_back(name);
      }
      continue;
    }
    const torch::Tensor& source = it->second;
    SVANET_CHECK(source.sizes() == target.sizes(), options.source(), ": tensor '", name,
                 "' has shape ", shape_string(source), " but the model expects ",
                 shape_string(target));
    target.copy_(source.to(target.device(), target.scalar_type()));
    used.insert(name);
    report.loaded.push_back(name);
  }
  for (const auto& [name, tensor] : tensors) {
    if (used.count(name) == 0) {
      report.unexpected.push_back(name);
    }
  }
  if (options.strict()) {
    SVANET_CHECK(report.missing.empty() && report.unexpected.empty(), options.source(),
                 ": does not match the model: ", report.missing.size(), " missing key(s) [",
                 list_keys(report.missing), "], ", report.unexpected.size(), " unexpected key(s) [",
                 list_keys(report.unexpected), "]");
  }
  return report;
}

}  // namespace svanet::io
