#pragma once
/// @file
/// svanet checkpoints out to plain PyTorch: the model's state dict alone
/// (torch.save's zip format, loadable with `torch.load` and
/// `load_state_dict`) and a JSON sidecar with what rebuilds the model.
/// (The official SvANet key layout is official::export_official_checkpoint.)

#include <string>

namespace svanet::io {

/// What export_state_dict wrote.
struct PlainExport {
  std::string weights, sidecar;
  size_t tensors = 0;
};

/// Writes `output` (the state dict) and `output` with extension .json (the
/// model spec: name, classes, input channels, image size, options, classes
/// and normalisation), both atomically.
PlainExport export_state_dict(const std::string& checkpoint, const std::string& output);

}  // namespace svanet::io
