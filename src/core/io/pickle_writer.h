#pragma once
// Writing PyObject trees as torch.save-compatible zip archives (private to the
// library). Python's `torch.load` reads the result; so does read_pytorch_file.

#include "svanet/io/pytorch_file.h"

#include <string>

namespace svanet::io {

/// Convenience constructors for trees to write.
PyObjectPtr py_none();
PyObjectPtr py_bool(bool value);
PyObjectPtr py_int(int64_t value);
PyObjectPtr py_float(double value);
PyObjectPtr py_str(std::string value);
PyObjectPtr py_list(std::vector<PyObjectPtr> items = {});
PyObjectPtr py_dict();
PyObjectPtr py_tensor(const torch::Tensor& tensor);
/// Adds `key: value` to a dict made by py_dict().
void py_set(const PyObjectPtr& dict, const std::string& key, PyObjectPtr value);

/// Writes `root` to `path` atomically in PyTorch's zip format. Dicts whose
/// values are all tensors are written as collections.OrderedDict (what
/// `load_state_dict` expects); tensors are saved contiguous, on the CPU.
void write_pytorch_file(const std::string& path, const PyObjectPtr& root);

}  // namespace svanet::io
