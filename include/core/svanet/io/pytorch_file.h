#pragma once
/// @file
/// Reading files written by PyTorch's `torch.save` without Python: the zip
/// format (PyTorch >= 1.6) and the legacy one, through a pickle reader for the
/// subset `torch.save` emits for state dicts and training checkpoints.
///
/// Nothing in a file is executed. Tensors, containers and plain values are
/// rebuilt; an object of any other class is kept as a record of its class
/// name and arguments (`PyObject::Kind::kObject`), so that a checkpoint that
/// also holds, say, an `argparse.Namespace` still loads. Malformed or
/// truncated files raise svanet::Error naming the file and the problem.

#include "svanet/io/state_dict.h"

#include <torch/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace svanet::io {

struct PyObject;
using PyObjectPtr = std::shared_ptr<PyObject>;

/// A Python value as unpickled.
struct PyObject {
  enum class Kind {
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kBytes,
    kTuple,
    kList,
    kSet,
    kDict,
    kTensor,
    kStorage,
    kGlobal,  ///< a class or function reference, `text` = "module.name"
    kObject,  ///< an instance of a class svanet does not rebuild, `text` = its class
  };
  Kind kind = Kind::kNone;
  bool boolean = false;
  int64_t integer = 0;
  double number = 0.0;
  /// String, bytes, global name or object class.
  std::string text;
  /// Tuple, list and set items; an object's constructor arguments.
  std::vector<PyObjectPtr> items;
  /// Dict entries in insertion order.
  std::vector<std::pair<PyObjectPtr, PyObjectPtr>> entries;
  /// Tensor value; a storage's flat contents.
  torch::Tensor tensor;
  /// An object's state (pickle BUILD), when it has one.
  PyObjectPtr state;

  /// The value of a dict entry with a string key, or nullptr.
  const PyObject* find(const std::string& key) const;
  /// "dict", "tensor", "argparse.Namespace", ... for messages.
  std::string type_name() const;
};

/// Reads a whole `torch.save` file.
PyObjectPtr read_pytorch_file(const std::string& path);

/// The state dict (names to tensors) inside a `torch.save` file: the
/// top-level mapping itself when all its values are tensors, otherwise the
/// first of "state_dict", "model", "model_state", "model_state_dict", "net",
/// "network", "weights" that holds one (searched recursively). A DataParallel
/// `module.` prefix on every key is removed. Order is preserved.
StateDict read_pytorch_state_dict(const std::string& path);

/// Writes a state dict as `torch.save(OrderedDict(...))` would (zip format),
/// atomically: Python's `torch.load` and `load_state_dict` accept it.
void write_pytorch_state_dict(const std::string& path, const StateDict& state_dict);

}  // namespace svanet::io
