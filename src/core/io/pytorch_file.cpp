#include "svanet/io/pytorch_file.h"

#include "svanet/common/error.h"
#include "svanet/utils/paths.h"
#include "svanet/utils/text.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/torch.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <unordered_map>

namespace svanet::io {

const PyObject* PyObject::find(const std::string& key) const {
  for (const auto& [k, v] : entries) {
    if (k->kind == Kind::kString && k->text == key) {
      return v.get();
    }
  }
  return nullptr;
}

std::string PyObject::type_name() const {
  switch (kind) {
    case Kind::kNone:
      return "None";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kFloat:
      return "float";
    case Kind::kString:
      return "str";
    case Kind::kBytes:
      return "bytes";
    case Kind::kTuple:
      return "tuple";
    case Kind::kList:
      return "list";
    case Kind::kSet:
      return "set";
    case Kind::kDict:
      return "dict";
    case Kind::kTensor:
      return "tensor";
    case Kind::kStorage:
      return "storage";
    case Kind::kGlobal:
      return "global " + text;
    case Kind::kObject:
      return text;
  }
  return "?";
}

namespace {

using Kind = PyObject::Kind;

PyObjectPtr make(Kind kind) {
  auto o = std::make_shared<PyObject>();
  o->kind = kind;
  return o;
}

PyObjectPtr make_int(int64_t v) {
  auto o = make(Kind::kInt);
  o->integer = v;
  return o;
}

PyObjectPtr make_text(Kind kind, std::string text) {
  auto o = make(kind);
  o->text = std::move(text);
  return o;
}

/// Storage class name (torch.FloatStorage, ...) -> element type.
c10::ScalarType storage_dtype(const std::string& name, const std::string& path) {
  static const std::map<std::string, c10::ScalarType> types = {
      {"torch.FloatStorage", torch::kFloat},
      {"torch.DoubleStorage", torch::kDouble},
      {"torch.HalfStorage", torch::kHalf},
      {"torch.BFloat16Storage", torch::kBFloat16},
      {"torch.LongStorage", torch::kLong},
      {"torch.IntStorage", torch::kInt},
      {"torch.ShortStorage", torch::kShort},
      {"torch.CharStorage", torch::kChar},
      {"torch.ByteStorage", torch::kByte},
      {"torch.BoolStorage", torch::kBool},
      {"torch.ComplexFloatStorage", torch::kComplexFloat},
      {"torch.ComplexDoubleStorage", torch::kComplexDouble},
      {"torch.UntypedStorage", torch::kByte},
  };
  auto it = types.find(name);
  SVANET_CHECK(it != types.end(), path, ": unsupported storage type '", name, "'");
  return it->second;
}

/// A pickle reader for the opcodes of protocols 2 to 5 that torch.save and
/// Python's pickle emit for plain data. GLOBAL only names things; REDUCE and
/// NEWOBJ rebuild the few torch callables below and record everything else.
class Unpickler {
 public:
  using PersistentLoad = std::function<PyObjectPtr(const PyObjectPtr&)>;

  Unpickler(const char* data, size_t size, std::string path, PersistentLoad persistent_load)
      : data_(data),
        size_(size),
        path_(std::move(path)),
        persistent_load_(std::move(persistent_load)) {}

  PyObjectPtr load();
  size_t position() const { return pos_; }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    SVANET_FAIL(path_, ": ", what, " (pickle byte ", pos_, ")");
  }
  void need(size_t n) const {
    if (size_ - pos_ < n) fail("truncated file");
  }
  uint8_t u8() {
    need(1);
    return static_cast<uint8_t>(data_[pos_++]);
  }
  template <typename T>
  T little() {
    need(sizeof(T));
    T value;
    std::memcpy(&value, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;  // pickle integers are little-endian, as every LibTorch host
  }
  std::string bytes(size_t n) {
    need(n);
    std::string s(data_ + pos_, n);
    pos_ += n;
    return s;
  }
  std::string line() {
    const void* end = std::memchr(data_ + pos_, '\n', size_ - pos_);
    if (end == nullptr) fail("truncated file");
    const size_t n = static_cast<const char*>(end) - (data_ + pos_);
    std::string s(data_ + pos_, n);
    pos_ += n + 1;
    return s;
  }
  PyObjectPtr pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back()))
      fail("stack underflow");
    auto v = stack_.back();
    stack_.pop_back();
    return v;
  }
  PyObjectPtr& top() {
    if (stack_.empty()) fail("stack underflow");
    return stack_.back();
  }
  std::vector<PyObjectPtr> pop_mark() {
    if (marks_.empty()) fail("MARK missing");
    const size_t mark = marks_.back();
    marks_.pop_back();
    std::vector<PyObjectPtr> items(stack_.begin() + static_cast<std::ptrdiff_t>(mark),
                                   stack_.end());
    stack_.resize(mark);
    return items;
  }
  PyObjectPtr memo_get(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) fail("unknown memo entry " + std::to_string(index));
    return it->second;
  }
  void set_items(const PyObjectPtr& dict, const std::vector<PyObjectPtr>& kv) {
    if (dict->kind != Kind::kDict) fail("SETITEM on a " + dict->type_name());
    if (kv.size() % 2 != 0) fail("odd number of dict items");
    // A pickled dict never repeats a key, so entries are appended in order.
    for (size_t i = 0; i < kv.size(); i += 2) {
      dict->entries.emplace_back(kv[i], kv[i + 1]);
    }
  }
  PyObjectPtr long_value(const std::string& raw);
  PyObjectPtr reduce(const PyObjectPtr& callable, const PyObjectPtr& args);
  PyObjectPtr rebuild_tensor(const std::vector<PyObjectPtr>& args, bool v2);

  const char* data_;
  size_t size_;
  size_t pos_ = 0;
  std::string path_;
  PersistentLoad persistent_load_;
  std::vector<PyObjectPtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PyObjectPtr> memo_;
};

PyObjectPtr Unpickler::long_value(const std::string& raw) {
  if (raw.size() <= 8) {
    int64_t v = 0;
    for (size_t i = 0; i < raw.size(); ++i) {
      v |= static_cast<int64_t>(static_cast<uint8_t>(raw[i])) << (8 * i);
    }
    if (!raw.empty() && raw.size() < 8 && (static_cast<uint8_t>(raw.back()) & 0x80U) != 0U) {
      v -= int64_t{1} << (8 * raw.size());  // two's complement sign
    }
    return make_int(v);
  }
  // Too wide for int64 (e.g. the legacy format's magic number): keep the bytes.
  return make_text(Kind::kInt, raw);
}

int64_t as_int(const PyObjectPtr& o, const std::string& path, const char* what) {
  SVANET_CHECK(o && o->kind == Kind::kInt && o->text.empty(), path, ": expected an integer for ",
               what, ", found ", o ? o->type_name() : "nothing");
  return o->integer;
}

std::vector<int64_t> as_int_tuple(const PyObjectPtr& o, const std::string& path, const char* what) {
  SVANET_CHECK(o && (o->kind == Kind::kTuple || o->kind == Kind::kList), path,
               ": expected a tuple for ", what, ", found ", o ? o->type_name() : "nothing");
  std::vector<int64_t> out;
  for (const auto& item : o->items) out.push_back(as_int(item, path, what));
  return out;
}

PyObjectPtr Unpickler::rebuild_tensor(const std::vector<PyObjectPtr>& args, bool v2) {
  // _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[,
  // metadata]) _rebuild_tensor(storage, storage_offset, size, stride)
  if (args.size() < 4) fail("a tensor needs storage, offset, size and stride");
  const auto& storage = args[0];
  if (storage->kind != Kind::kStorage) fail("a tensor's storage is a " + storage->type_name());
  const int64_t offset = as_int(args[1], path_, "a tensor offset");
  const auto sizes = as_int_tuple(args[2], path_, "a tensor size");
  const auto strides = as_int_tuple(args[3], path_, "a tensor stride");
  if (sizes.size() != strides.size()) fail("a tensor's size and stride differ in length");
  (void)v2;
  // The furthest element the view reaches must lie inside the storage.
  int64_t last = offset;
  bool empty = false;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] < 0 || strides[i] < 0) fail("negative tensor size or stride");
    if (sizes[i] == 0) empty = true;
    last += (sizes[i] - 1) * strides[i];
  }
  if (offset < 0 || (!empty && last >= storage->tensor.numel())) {
    fail("a tensor reaches beyond its storage");
  }
  auto o = make(Kind::kTensor);
  o->tensor = torch::empty({0}, storage->tensor.options())
                  .set_(storage->tensor.storage(), offset, sizes, strides);
  return o;
}

PyObjectPtr Unpickler::reduce(const PyObjectPtr& callable, const PyObjectPtr& args) {
  if (callable->kind != Kind::kGlobal) fail("REDUCE on a " + callable->type_name());
  if (args->kind != Kind::kTuple) fail("REDUCE arguments are a " + args->type_name());
  const std::string& name = callable->text;
  const auto& a = args->items;
  if (name == "collections.OrderedDict" || name == "builtins.dict") {
    auto dict = make(Kind::kDict);
    if (!a.empty() && (a[0]->kind == Kind::kList || a[0]->kind == Kind::kTuple)) {
      for (const auto& pair : a[0]->items) {
        if (pair->kind != Kind::kTuple || pair->items.size() != 2) fail("malformed dict items");
        dict->entries.emplace_back(pair->items[0], pair->items[1]);
      }
    }
    return dict;
  }
  if (name == "torch._utils._rebuild_tensor_v2") return rebuild_tensor(a, true);
  if (name == "torch._utils._rebuild_tensor") return rebuild_tensor(a, false);
  if (name == "torch._utils._rebuild_parameter" ||
      name == "torch._utils._rebuild_parameter_with_state") {
    if (a.empty() || a[0]->kind != Kind::kTensor) fail("a parameter without tensor data");
    return a[0];
  }
  if (name == "torch.Size") {
    auto t = make(Kind::kTuple);
    if (!a.empty()) t->items = a[0]->items;
    return t;
  }
  if (name.rfind("torch._utils._rebuild", 0) == 0) {
    fail("unsupported tensor kind '" + name + "' (quantized, sparse or device tensors)");
  }
  // Anything else is recorded, never called.
  auto o = make_text(Kind::kObject, name);
  o->items = a;
  return o;
}

PyObjectPtr Unpickler::load() {
  while (true) {
    const uint8_t op = u8();
    switch (op) {
      case 0x80:  // PROTO
        if (u8() > 5) fail("unsupported pickle protocol");
        break;
      case 0x95:  // FRAME
        little<uint64_t>();
        break;
      case '.':  // STOP
        if (stack_.size() != 1)
          fail("malformed pickle (stack size " + std::to_string(stack_.size()) + " at STOP)");
        return stack_.back();
      case '(':  // MARK
        marks_.push_back(stack_.size());
        break;
      case '0':  // POP
        pop();
        break;
      case '1':  // POP_MARK
        pop_mark();
        break;
      case '2':  // DUP
        stack_.push_back(top());
        break;
      case 'N':
        stack_.push_back(make(Kind::kNone));
        break;
      case 0x88:
      case 0x89: {  // NEWTRUE, NEWFALSE
        auto b = make(Kind::kBool);
        b->boolean = op == 0x88;
        stack_.push_back(b);
        break;
      }
      case 'J':
        stack_.push_back(make_int(little<int32_t>()));
        break;
      case 'K':
        stack_.push_back(make_int(u8()));
        break;
      case 'M':
        stack_.push_back(make_int(little<uint16_t>()));
        break;
      case 0x8a:  // LONG1
        stack_.push_back(long_value(bytes(u8())));
        break;
      case 0x8b: {  // LONG4
        const auto n = little<int32_t>();
        if (n < 0) fail("negative length");
        stack_.push_back(long_value(bytes(static_cast<size_t>(n))));
        break;
      }
      case 'G': {  // BINFLOAT, big-endian double
        need(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | u8();
        auto f = make(Kind::kFloat);
        std::memcpy(&f->number, &bits, sizeof(bits));
        stack_.push_back(f);
        break;
      }
      case 'X':  // BINUNICODE
        stack_.push_back(make_text(Kind::kString, bytes(little<uint32_t>())));
        break;
      case 0x8c:  // SHORT_BINUNICODE
        stack_.push_back(make_text(Kind::kString, bytes(u8())));
        break;
      case 0x8d:  // BINUNICODE8
        stack_.push_back(make_text(Kind::kString, bytes(little<uint64_t>())));
        break;
      case 'T':  // BINSTRING
        stack_.push_back(make_text(Kind::kString, bytes(little<uint32_t>())));
        break;
      case 'U':  // SHORT_BINSTRING
        stack_.push_back(make_text(Kind::kString, bytes(u8())));
        break;
      case 'B':
        stack_.push_back(make_text(Kind::kBytes, bytes(little<uint32_t>())));
        break;
      case 'C':
        stack_.push_back(make_text(Kind::kBytes, bytes(u8())));
        break;
      case 0x8e:
      case 0x96:  // BINBYTES8, BYTEARRAY8
        stack_.push_back(make_text(Kind::kBytes, bytes(little<uint64_t>())));
        break;
      case ')':
        stack_.push_back(make(Kind::kTuple));
        break;
      case 't': {
        auto t = make(Kind::kTuple);
        t->items = pop_mark();
        stack_.push_back(t);
        break;
      }
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1..3
        const size_t n = op - 0x84;
        if (stack_.size() < n) fail("stack underflow");
        auto t = make(Kind::kTuple);
        t->items.assign(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
        stack_.resize(stack_.size() - n);
        stack_.push_back(t);
        break;
      }
      case ']':
        stack_.push_back(make(Kind::kList));
        break;
      case 'l': {
        auto l = make(Kind::kList);
        l->items = pop_mark();
        stack_.push_back(l);
        break;
      }
      case 'a': {  // APPEND
        auto v = pop();
        auto& list = top();
        if (list->kind != Kind::kList) fail("APPEND to a " + list->type_name());
        list->items.push_back(v);
        break;
      }
      case 'e': {  // APPENDS
        auto items = pop_mark();
        auto& list = top();
        if (list->kind != Kind::kList) fail("APPENDS to a " + list->type_name());
        list->items.insert(list->items.end(), items.begin(), items.end());
        break;
      }
      case '}':
        stack_.push_back(make(Kind::kDict));
        break;
      case 'd': {
        auto d = make(Kind::kDict);
        set_items(d, pop_mark());
        stack_.push_back(d);
        break;
      }
      case 's': {  // SETITEM
        auto value = pop();
        auto key = pop();
        set_items(top(), {key, value});
        break;
      }
      case 'u': {  // SETITEMS
        auto items = pop_mark();
        set_items(top(), items);
        break;
      }
      case 0x8f:
        stack_.push_back(make(Kind::kSet));
        break;
      case 0x90: {  // ADDITEMS
        auto items = pop_mark();
        auto& set = top();
        if (set->kind != Kind::kSet) fail("ADDITEMS to a " + set->type_name());
        set->items.insert(set->items.end(), items.begin(), items.end());
        break;
      }
      case 0x91: {  // FROZENSET
        auto s = make(Kind::kSet);
        s->items = pop_mark();
        stack_.push_back(s);
        break;
      }
      case 'c': {  // GLOBAL "module\nname\n"
        std::string qualified = line();
        qualified += '.';
        qualified += line();
        stack_.push_back(make_text(Kind::kGlobal, std::move(qualified)));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        auto name = pop();
        auto module = pop();
        if (module->kind != Kind::kString || name->kind != Kind::kString)
          fail("malformed STACK_GLOBAL");
        stack_.push_back(make_text(Kind::kGlobal, module->text + "." + name->text));
        break;
      }
      case 'R': {  // REDUCE
        auto args = pop();
        auto callable = pop();
        stack_.push_back(reduce(callable, args));
        break;
      }
      case 0x81: {  // NEWOBJ
        auto args = pop();
        auto cls = pop();
        stack_.push_back(reduce(cls, args));
        break;
      }
      case 0x92: {  // NEWOBJ_EX
        pop();      // kwargs
        auto args = pop();
        auto cls = pop();
        stack_.push_back(reduce(cls, args));
        break;
      }
      case 'b': {  // BUILD
        auto state = pop();
        auto& obj = top();
        // Dicts get their attributes (OrderedDict._metadata) dropped; tensors
        // their Python attributes; other objects keep their state.
        if (obj->kind == Kind::kObject) obj->state = state;
        break;
      }
      case 'q':
        memo_[u8()] = top();
        break;
      case 'r':
        memo_[little<uint32_t>()] = top();
        break;
      case 0x94:  // MEMOIZE
        memo_[memo_.size()] = top();
        break;
      case 'p':  // PUT (text)
        memo_[static_cast<uint64_t>(utils::parse_int(line()))] = top();
        break;
      case 'h':
        stack_.push_back(memo_get(u8()));
        break;
      case 'j':
        stack_.push_back(memo_get(little<uint32_t>()));
        break;
      case 'g':  // GET (text)
        stack_.push_back(memo_get(static_cast<uint64_t>(utils::parse_int(line()))));
        break;
      case 'Q': {  // BINPERSID
        auto pid = pop();
        stack_.push_back(persistent_load_(pid));
        break;
      }
      default: {
        char hex[8];
        std::snprintf(hex, sizeof(hex), "0x%02x", op);
        fail(std::string("unsupported pickle opcode ") + hex);
      }
    }
  }
}

/// Turns a persistent id ('storage', StorageType, key, location, numel, ...)
/// into a storage object, reusing one per key so views share memory.
class StorageTable {
 public:
  explicit StorageTable(std::string path) : path_(std::move(path)) {}

  /// Returns the storage for a persistent id; `fresh` is set when it was created.
  PyObjectPtr get(const PyObjectPtr& pid, bool* fresh) {
    if (pid->kind != Kind::kTuple || pid->items.size() < 5 ||
        pid->items[0]->kind != Kind::kString || pid->items[0]->text != "storage") {
      SVANET_FAIL(path_, ": unsupported persistent id (", pid->type_name(), ")");
    }
    const auto& type = pid->items[1];
    SVANET_CHECK(type->kind == Kind::kGlobal, path_, ": storage type is a ", type->type_name());
    const auto& key = pid->items[2];
    SVANET_CHECK(key->kind == Kind::kString, path_, ": storage key is a ", key->type_name());
    const int64_t numel = as_int(pid->items[4], path_, "a storage size");
    SVANET_CHECK(numel >= 0, path_, ": negative storage size");
    if (pid->items.size() > 5 && pid->items[5]->kind != Kind::kNone) {
      SVANET_FAIL(path_, ": storage views of the pre-1.0 format are not supported");
    }
    auto it = storages_.find(key->text);
    if (it != storages_.end()) {
      *fresh = false;
      return it->second;
    }
    auto storage = make_text(Kind::kStorage, key->text);
    storage->tensor =
        torch::empty({numel}, torch::TensorOptions().dtype(storage_dtype(type->text, path_)));
    storages_[key->text] = storage;
    *fresh = true;
    return storage;
  }

  const std::map<std::string, PyObjectPtr>& storages() const { return storages_; }

 private:
  std::string path_;
  std::map<std::string, PyObjectPtr> storages_;
};

void copy_bytes(const PyObjectPtr& storage, const char* src, size_t size, const std::string& path) {
  const auto expected = static_cast<size_t>(storage->tensor.nbytes());
  SVANET_CHECK(size == expected, path, ": storage '", storage->text, "' holds ", size,
               " bytes, expected ", expected);
  if (size > 0) std::memcpy(storage->tensor.data_ptr(), src, size);
}

PyObjectPtr read_zip(const std::string& path) {
  std::unique_ptr<caffe2::serialize::PyTorchStreamReader> reader;
  try {
    reader = std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const c10::Error& e) {
    SVANET_FAIL(path, ": not a readable PyTorch zip archive (truncated or corrupt?): ",
                e.what_without_backtrace());
  }
  try {
    if (reader->hasRecord("byteorder")) {
      auto [data, size] = reader->getRecord("byteorder");
      const std::string order(static_cast<const char*>(data.get()), size);
      SVANET_CHECK(order == "little", path, ": big-endian tensors are not supported");
    }
    SVANET_CHECK(reader->hasRecord("data.pkl"), path,
                 ": no data.pkl in the archive (a TorchScript module, not a torch.save file?)");
    auto [pickle, pickle_size] = reader->getRecord("data.pkl");
    StorageTable table(path);
    Unpickler unpickler(
        static_cast<const char*>(pickle.get()), pickle_size, path, [&](const PyObjectPtr& pid) {
          bool fresh = false;
          auto storage = table.get(pid, &fresh);
          if (fresh) {
            const std::string record = "data/" + storage->text;
            SVANET_CHECK(reader->hasRecord(record), path, ": missing record ", record);
            auto [bytes, size] = reader->getRecord(record);
            copy_bytes(storage, static_cast<const char*>(bytes.get()), size, path);
          }
          return storage;
        });
    return unpickler.load();
  } catch (const c10::Error& e) {
    SVANET_FAIL(path, ": corrupt PyTorch zip archive: ", e.what_without_backtrace());
  }
}

PyObjectPtr read_legacy(const std::string& path, const std::string& bytes) {
  // pickle(magic) pickle(protocol) pickle(sys_info) pickle(object)
  // pickle(storage keys) then, per key: int64 element count + raw elements.
  static const std::string kMagic("\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19", 10);
  size_t pos = 0;
  auto next_pickle = [&](const Unpickler::PersistentLoad& persistent) {
    Unpickler u(bytes.data() + pos, bytes.size() - pos, path, persistent);
    auto value = u.load();
    pos += u.position();
    return value;
  };
  auto no_persistent = [&](const PyObjectPtr&) -> PyObjectPtr {
    SVANET_FAIL(path, ": unexpected persistent id in the header");
  };
  auto magic = next_pickle(no_persistent);
  SVANET_CHECK(magic->kind == Kind::kInt && magic->text == kMagic, path,
               ": not a PyTorch file (wrong magic number)");
  auto protocol = next_pickle(no_persistent);
  SVANET_CHECK(protocol->kind == Kind::kInt && protocol->integer == 1001, path,
               ": unsupported legacy protocol version");
  auto sys_info = next_pickle(no_persistent);
  if (const PyObject* little = sys_info->find("little_endian")) {
    SVANET_CHECK(little->kind == Kind::kBool && little->boolean, path,
                 ": big-endian tensors are not supported");
  }
  StorageTable table(path);
  auto object = next_pickle([&](const PyObjectPtr& pid) {
    bool fresh = false;
    return table.get(pid, &fresh);
  });
  auto keys = next_pickle(no_persistent);
  SVANET_CHECK(keys->kind == Kind::kList, path, ": malformed storage key list");
  for (const auto& key : keys->items) {
    SVANET_CHECK(key->kind == Kind::kString, path, ": malformed storage key");
    auto it = table.storages().find(key->text);
    SVANET_CHECK(it != table.storages().end(), path, ": storage '", key->text, "' is not used");
    SVANET_CHECK(bytes.size() - pos >= 8, path, ": truncated file (storage '", key->text, "')");
    int64_t count = 0;
    std::memcpy(&count, bytes.data() + pos, sizeof(count));
    pos += 8;
    SVANET_CHECK(count == it->second->tensor.numel(), path, ": storage '", key->text, "' has ",
                 count, " elements, expected ", it->second->tensor.numel());
    const auto nbytes = static_cast<size_t>(it->second->tensor.nbytes());
    SVANET_CHECK(bytes.size() - pos >= nbytes, path, ": truncated file (storage '", key->text,
                 "')");
    copy_bytes(it->second, bytes.data() + pos, nbytes, path);
    pos += nbytes;
  }
  SVANET_CHECK(keys->items.size() == table.storages().size(), path, ": some storages have no data");
  return object;
}

bool all_tensors(const PyObject& dict) {
  if (dict.kind != Kind::kDict || dict.entries.empty()) return false;
  return std::all_of(dict.entries.begin(), dict.entries.end(), [](const auto& e) {
    return e.first->kind == Kind::kString && e.second->kind == Kind::kTensor;
  });
}

const PyObject* find_state_dict(const PyObject& node) {
  if (all_tensors(node)) return &node;
  if (node.kind != Kind::kDict) return nullptr;
  for (const char* key :
       {"state_dict", "model", "model_state", "model_state_dict", "net", "network", "weights"}) {
    if (const PyObject* child = node.find(key)) {
      if (const PyObject* found = find_state_dict(*child)) return found;
    }
  }
  return nullptr;
}

}  // namespace

PyObjectPtr read_pytorch_file(const std::string& path) {
  utils::require_file(path);
  std::ifstream in(path, std::ios::binary);
  SVANET_CHECK(in.good(), path, ": cannot open the file");
  char head[4] = {0, 0, 0, 0};
  in.read(head, sizeof(head));
  const auto got = in.gcount();
  SVANET_CHECK(got > 0, path, ": the file is empty");
  if (got == 4 && std::memcmp(head, "PK\x03\x04", 4) == 0) {
    in.close();
    return read_zip(path);
  }
  SVANET_CHECK(static_cast<uint8_t>(head[0]) == 0x80, path,
               ": not a PyTorch file (neither a zip archive nor a pickle)");
  in.seekg(0);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return read_legacy(path, bytes);
}

StateDict read_pytorch_state_dict(const std::string& path) {
  const auto root = read_pytorch_file(path);
  const PyObject* dict = find_state_dict(*root);
  if (dict == nullptr) {
    std::vector<std::string> found;
    if (root->kind == Kind::kDict) {
      for (const auto& [k, v] : root->entries) {
        found.push_back((k->kind == Kind::kString ? k->text : k->type_name()) + ": " +
                        v->type_name());
      }
    }
    SVANET_FAIL(path, ": no state dict (a mapping of names to tensors) found; the file holds a ",
                root->type_name(),
                found.empty() ? std::string() : " with " + utils::join(found, ", "));
  }
  StateDict out;
  bool prefixed = true;
  for (const auto& [k, v] : dict->entries) {
    out.emplace_back(k->text, v->tensor);
    prefixed = prefixed && k->text.rfind("module.", 0) == 0;
  }
  if (prefixed) {
    for (auto& entry : out) entry.first = entry.first.substr(7);
  }
  return out;
}

}  // namespace svanet::io
