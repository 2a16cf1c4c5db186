#include "io/pickle_writer.h"

#include "svanet/common/error.h"
#include "svanet/utils/atomic_file.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/torch.h>

#include <cstring>
#include <map>

namespace svanet::io {

using Kind = PyObject::Kind;

PyObjectPtr py_none() {
  return std::make_shared<PyObject>();
}

PyObjectPtr py_bool(bool value) {
  auto o = std::make_shared<PyObject>();
  o->kind = Kind::kBool;
  o->boolean = value;
  return o;
}

PyObjectPtr py_int(int64_t value) {
  auto o = std::make_shared<PyObject>();
  o->kind = Kind::kInt;
  o->integer = value;
  return o;
}

PyObjectPtr py_float(double value) {
  auto o = std::make_shared<PyObject>();
  o->kind = Kind::kFloat;
  o->number = value;
  return o;
}

PyObjectPtr py_str(std::string value) {
  auto o = std::make_shared<PyObject>();
  o->kind = Kind::kString;
  o->text = std::move(value);
  return o;
}

PyObjectPtr py_list(std::vector<PyObjectPtr> items) {
  auto o = std::make_shared<PyObject>();
  o->kind = Kind::kList;
  o->items = std::move(items);
  return o;
}

PyObjectPtr py_dict() {
  auto o = std::make_shared<PyObject>();
  o->kind = Kind::kDict;
  return o;
}

PyObjectPtr py_tensor(const torch::Tensor& tensor) {
  auto o = std::make_shared<PyObject>();
  o->kind = Kind::kTensor;
  o->tensor = tensor;
  return o;
}

void py_set(const PyObjectPtr& dict, const std::string& key, PyObjectPtr value) {
  dict->entries.emplace_back(py_str(key), std::move(value));
}

namespace {

const char* storage_name(c10::ScalarType t) {
  switch (t) {
    case torch::kFloat:
      return "FloatStorage";
    case torch::kDouble:
      return "DoubleStorage";
    case torch::kHalf:
      return "HalfStorage";
    case torch::kBFloat16:
      return "BFloat16Storage";
    case torch::kLong:
      return "LongStorage";
    case torch::kInt:
      return "IntStorage";
    case torch::kShort:
      return "ShortStorage";
    case torch::kChar:
      return "CharStorage";
    case torch::kByte:
      return "ByteStorage";
    case torch::kBool:
      return "BoolStorage";
    default:
      SVANET_FAIL("cannot save tensors of type ", c10::toString(t));
  }
}

/// Protocol-2 pickler for PyObject trees; tensors become persistent storages.
class Pickler {
 public:
  std::string out;
  std::vector<torch::Tensor> storages;

  void dump(const PyObjectPtr& root) {
    op(0x80);
    op(2);
    value(*root);
    op('.');
  }

 private:
  void op(uint8_t b) { out.push_back(static_cast<char>(b)); }
  template <typename T>
  void little(T v) {
    char buf[sizeof(T)];
    std::memcpy(buf, &v, sizeof(T));
    out.append(buf, sizeof(T));
  }
  void unicode(const std::string& s) {
    op('X');
    little<uint32_t>(static_cast<uint32_t>(s.size()));
    out += s;
  }
  void global(const std::string& module, const std::string& name) {
    op('c');
    out += module + "\n" + name + "\n";
  }
  void integer(int64_t v) {
    if (v >= 0 && v < 256) {
      op('K');
      op(static_cast<uint8_t>(v));
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
      op('J');
      little<int32_t>(static_cast<int32_t>(v));
    } else {
      op(0x8a);  // LONG1, 8 bytes two's complement
      op(8);
      little<int64_t>(v);
    }
  }
  void int_tuple(c10::IntArrayRef values) {
    op('(');
    for (auto v : values) integer(v);
    op('t');
  }
  void tensor(const torch::Tensor& t) {
    // _rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())
    const auto data = t.detach().to(torch::kCPU).contiguous();
    const std::string key = std::to_string(storages.size());
    storages.push_back(data);
    global("torch._utils", "_rebuild_tensor_v2");
    op('(');
    op('(');
    unicode("storage");
    global("torch", storage_name(data.scalar_type()));
    unicode(key);
    unicode("cpu");
    integer(data.numel());
    op('t');
    op('Q');  // BINPERSID
    integer(0);
    int_tuple(data.sizes());
    int_tuple(data.strides());
    op(0x89);  // requires_grad False
    global("collections", "OrderedDict");
    op(')');
    op('R');
    op('t');
    op('R');
  }
  void value(const PyObject& v) {
    switch (v.kind) {
      case Kind::kNone:
        op('N');
        break;
      case Kind::kBool:
        op(v.boolean ? 0x88 : 0x89);
        break;
      case Kind::kInt:
        integer(v.integer);
        break;
      case Kind::kFloat: {
        op('G');  // big-endian double
        uint64_t bits = 0;
        std::memcpy(&bits, &v.number, sizeof(bits));
        for (int i = 7; i >= 0; --i) op(static_cast<uint8_t>(bits >> (8 * i)));
        break;
      }
      case Kind::kString:
        unicode(v.text);
        break;
      case Kind::kList:
        op(']');
        if (!v.items.empty()) {
          op('(');
          for (const auto& item : v.items) value(*item);
          op('e');
        }
        break;
      case Kind::kTuple:
        op('(');
        for (const auto& item : v.items) value(*item);
        op('t');
        break;
      case Kind::kDict: {
        const bool state_dict = !v.entries.empty() &&
                                std::all_of(v.entries.begin(), v.entries.end(), [](const auto& e) {
                                  return e.second->kind == Kind::kTensor;
                                });
        if (state_dict) {
          global("collections", "OrderedDict");
          op(')');
          op('R');
        } else {
          op('}');
        }
        if (!v.entries.empty()) {
          op('(');
          for (const auto& [k, item] : v.entries) {
            value(*k);
            value(*item);
          }
          op('u');
        }
        break;
      }
      case Kind::kTensor:
        tensor(v.tensor);
        break;
      default:
        SVANET_FAIL("cannot save a ", v.type_name());
    }
  }
};

}  // namespace

void write_pytorch_file(const std::string& path, const PyObjectPtr& root) {
  Pickler pickler;
  pickler.dump(root);
  utils::AtomicFile file(path);
  try {
    caffe2::serialize::PyTorchStreamWriter writer([&file](const void* data, size_t size) {
      file.write(data, size);
      return size;
    });
    writer.writeRecord("data.pkl", pickler.out.data(), pickler.out.size());
    writer.writeRecord("byteorder", "little", 6);
    for (size_t i = 0; i < pickler.storages.size(); ++i) {
      const auto& s = pickler.storages[i];
      writer.writeRecord("data/" + std::to_string(i), s.data_ptr(),
                         static_cast<size_t>(s.nbytes()));
    }
    writer.writeEndOfFile();
  } catch (const c10::Error& e) {
    SVANET_FAIL(path, ": cannot write the archive: ", e.what_without_backtrace());
  }
  file.commit();
}

}  // namespace svanet::io

namespace svanet::io {

void write_pytorch_state_dict(const std::string& path, const StateDict& state_dict) {
  auto root = py_dict();
  for (const auto& [name, tensor] : state_dict) py_set(root, name, py_tensor(tensor));
  SVANET_CHECK(!root->entries.empty(), path, ": refusing to write an empty state dict");
  write_pytorch_file(path, root);
}

}  // namespace svanet::io
