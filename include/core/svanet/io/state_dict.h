#pragma once
/// @file
/// Named tensors of a module (parameters and buffers) and strict loading.

#include <torch/nn/module.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace svanet::io {

/// Parameters and buffers by name, in registration order.
using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;

/// A module's parameters followed by its buffers.
StateDict state_dict(const torch::nn::Module& module);

/// How load_state_dict treats keys present on one side only.
struct LoadOptions {
  /// Fail on missing or unexpected keys (after `allow_missing`).
  TORCH_ARG(bool, strict) = true;
  /// Keys of the module that may be absent from the source.
  TORCH_ARG(std::function<bool(const std::string&)>, allow_missing) = nullptr;
  /// Where the tensors came from, for error messages (e.g. a file name).
  TORCH_ARG(std::string, source) = "state dict";
};

/// What load_state_dict did.
struct LoadReport {
  std::vector<std::string> loaded, missing, unexpected;
};

/// Copies `tensors` into the module's parameters and buffers (no autograd).
/// A shape mismatch always throws svanet::Error naming the key and both
/// shapes; in strict mode so do missing and unexpected keys, all listed.
/// Tensors are converted to each parameter's dtype and device.
LoadReport load_state_dict(torch::nn::Module& module,
                           const std::map<std::string, torch::Tensor>& tensors,
                           const LoadOptions& options = {});

}  // namespace svanet::io
