#include "svanet/io/checkpoint.h"

#include "io/pickle_writer.h"
#include "svanet/common/error.h"
#include "svanet/io/pretrained.h"
#include "svanet/io/pytorch_file.h"
#include "svanet/models/registry.h"
#include "svanet/version.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <mutex>
#include <sstream>
#include <type_traits>

namespace svanet::io {

namespace {

using Kind = PyObject::Kind;

constexpr const char* kCheckpointFormat = "svanet.checkpoint";
constexpr const char* kTrainingStateFormat = "svanet.training_state";
constexpr const char* kThresholds = "thresholds";
constexpr const char* kCalibration = "calibration";

std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

PyObjectPtr doubles(const std::vector<double>& values) {
  std::vector<PyObjectPtr> items;
  items.reserve(values.size());
  for (double v : values) items.push_back(py_float(v));
  return py_list(std::move(items));
}

/// Typed access to a loaded dict, with errors naming the file and the entry.
class Reader {
 public:
  Reader(const PyObject& dict, std::string path, std::string where)
      : dict_(dict), path_(std::move(path)), where_(std::move(where)) {
    SVANET_CHECK(dict.kind == Kind::kDict, path_, ": ", where_, " is a ", dict.type_name(),
                 ", expected a dict");
  }
  const PyObject& at(const std::string& key, Kind kind) const {
    const PyObject* v = dict_.find(key);
    SVANET_CHECK(v != nullptr, path_, ": missing '", where_, key, "'");
    SVANET_CHECK(v->kind == kind || (kind == Kind::kFloat && v->kind == Kind::kInt), path_, ": '",
                 where_, key, "' is a ", v->type_name());
    return *v;
  }
  bool has(const std::string& key) const { return dict_.find(key) != nullptr; }
  std::string text(const std::string& key) const { return at(key, Kind::kString).text; }
  int64_t integer(const std::string& key) const { return at(key, Kind::kInt).integer; }
  double number(const std::string& key) const {
    const auto& v = at(key, Kind::kFloat);
    return v.kind == Kind::kInt ? static_cast<double>(v.integer) : v.number;
  }
  std::vector<double> numbers(const std::string& key) const {
    std::vector<double> out;
    for (const auto& item : at(key, Kind::kList).items) {
      SVANET_CHECK(item->kind == Kind::kFloat || item->kind == Kind::kInt, path_, ": '", where_,
                   key, "' must hold numbers");
      out.push_back(item->kind == Kind::kInt ? static_cast<double>(item->integer) : item->number);
    }
    return out;
  }
  Reader child(const std::string& key) const {
    return Reader(at(key, Kind::kDict), path_, where_ + key + ".");
  }
  const PyObject& dict() const { return dict_; }

 private:
  const PyObject& dict_;
  std::string path_;
  std::string where_;
};

/// Checks the format name and version of a loaded file.
void check_format(const Reader& root, const std::string& path, const std::string& format) {
  SVANET_CHECK(root.has("format"), path, ": not an svanet file (no 'format' entry); ",
               "official or torchvision weights go through `svanet convert-official` or the ",
               "pretrained_backbone option");
  const std::string found = root.text("format");
  SVANET_CHECK(found == format, path, ": is a '", found, "' file, expected '", format, "'");
  const int64_t version = root.integer("version");
  SVANET_CHECK(version >= 1 && version <= kCheckpointVersion, path, ": format version ", version,
               " is not supported by svanet ", SVANET_VERSION, " (reads 1 to ", kCheckpointVersion,
               "); it was written by a newer svanet");
}

/// A loaded svanet file whose format has been checked.
struct OpenedFile {
  OpenedFile(const std::string& path, const char* format)
      : root(read_pytorch_file(path)), reader(*root, path, "") {
    check_format(reader, path, format);
  }
  PyObjectPtr root;
  Reader reader;
};

/// A new file's root dict with its format header.
PyObjectPtr new_file(const char* format) {
  auto root = py_dict();
  py_set(root, "format", py_str(format));
  py_set(root, "version", py_int(kCheckpointVersion));
  py_set(root, "svanet_version", py_str(SVANET_VERSION));
  return root;
}

StateDict tensors_of(const PyObject& dict, const std::string& path, const std::string& name) {
  SVANET_CHECK(dict.kind == Kind::kDict, path, ": '", name, "' is a ", dict.type_name());
  StateDict out;
  for (const auto& [k, v] : dict.entries) {
    SVANET_CHECK(k->kind == Kind::kString && v->kind == Kind::kTensor, path, ": '", name,
                 "' holds a ", v->type_name(), " under ",
                 k->type_name() == "str" ? k->text : k->type_name());
    out.emplace_back(k->text, v->tensor);
  }
  return out;
}

CheckpointMeta parse_meta(const Reader& root, const std::string& path) {
  CheckpointMeta meta;
  meta.version = root.integer("version");
  meta.svanet_version = root.text("svanet_version");
  const Reader model = root.child("model");
  meta.model.name = model.text("name");
  meta.model.options.num_classes(model.integer("num_classes"))
      .in_channels(model.integer("in_channels"))
      .image_size(model.integer("image_size"));
  for (const auto& [k, v] : model.at("options", Kind::kDict).entries) {
    SVANET_CHECK(k->kind == Kind::kString && v->kind == Kind::kString, path,
                 ": 'model.options' must map names to text");
    meta.model.options.set(k->text, v->text);
  }
  for (const auto& item : root.at("classes", Kind::kList).items) {
    SVANET_CHECK(item->kind == Kind::kString, path, ": 'classes' must hold names");
    meta.classes.push_back(item->text);
  }
  const Reader norm = root.child("normalization");
  meta.normalization.mode = norm.text("mode");
  meta.normalization.mean = norm.numbers("mean");
  meta.normalization.std = norm.numbers("std");
  try {
    meta.normalization.validate();
  } catch (const Error& e) {
    SVANET_FAIL(path, ": ", e.what());
  }
  meta.epoch = root.integer("epoch");
  for (const auto& [k, v] : root.at("metrics", Kind::kDict).entries) {
    SVANET_CHECK(k->kind == Kind::kString && (v->kind == Kind::kFloat || v->kind == Kind::kInt),
                 path, ": 'metrics' must map names to numbers");
    meta.metrics[k->text] = v->kind == Kind::kInt ? static_cast<double>(v->integer) : v->number;
  }
  meta.metrics_version = root.has("metrics_version") ? root.integer("metrics_version") : 1;
  meta.created = root.text("created");
  if (root.has("note")) meta.note = root.text("note");
  // Calibrated checkpoints only (files from before calibration lack them).
  if (root.has(kThresholds)) {
    meta.thresholds = root.numbers(kThresholds);
    SVANET_CHECK(
        meta.thresholds.empty() ||
            meta.thresholds.size() == static_cast<size_t>(meta.model.options.num_classes()),
        path, ": ", meta.thresholds.size(), " thresholds for a model with ",
        meta.model.options.num_classes(), " classes");
  }
  if (root.has(kCalibration)) meta.calibration = root.text(kCalibration);
  return meta;
}

}  // namespace

void save_checkpoint(const std::string& path, const models::SegmentationModelImpl& model,
                     CheckpointMeta meta) {
  models::ModelSpec spec = model.spec();
  SVANET_CHECK(!spec.name.empty(), path,
               ": the model was not built by svanet::create_model, so its spec is unknown");
  auto overrides = spec.options.overrides();
  overrides.erase(kPretrainedBackbone);
  const int64_t num_classes = model.num_classes();
  SVANET_CHECK(meta.classes.empty() || static_cast<int64_t>(meta.classes.size()) == num_classes,
               path, ": ", meta.classes.size(), " class names for a model with ", num_classes,
               " outputs");
  meta.normalization.validate();
  if (meta.classes.empty()) {
    meta.classes.emplace_back("background");
    for (int64_t c = 1; c < num_classes; ++c) meta.classes.push_back("class_" + std::to_string(c));
  }

  auto root = new_file(kCheckpointFormat);
  auto model_dict = py_dict();
  py_set(model_dict, "name", py_str(spec.name));
  py_set(model_dict, "num_classes", py_int(num_classes));
  py_set(model_dict, "in_channels", py_int(model.in_channels()));
  const auto& models = model_registry();
  const int64_t image_size = spec.options.image_size() > 0 ? spec.options.image_size()
                             : models.contains(spec.name)
                                 ? models.get(spec.name).traits.default_image_size
                                 : int64_t{0};
  py_set(model_dict, "image_size", py_int(image_size));
  auto options = py_dict();
  for (const auto& [k, v] : overrides) py_set(options, k, py_str(v));
  py_set(model_dict, "options", options);
  py_set(root, "model", model_dict);
  std::vector<PyObjectPtr> classes;
  for (const auto& c : meta.classes) classes.push_back(py_str(c));
  py_set(root, "classes", py_list(std::move(classes)));
  auto norm = py_dict();
  py_set(norm, "mode", py_str(meta.normalization.mode));
  py_set(norm, "mean", doubles(meta.normalization.mean));
  py_set(norm, "std", doubles(meta.normalization.std));
  py_set(root, "normalization", norm);
  py_set(root, "epoch", py_int(meta.epoch));
  auto metrics = py_dict();
  for (const auto& [k, v] : meta.metrics) py_set(metrics, k, py_float(v));
  py_set(root, "metrics", metrics);
  py_set(root, "metrics_version", py_int(meta.metrics_version));
  py_set(root, "created", py_str(utc_now()));
  py_set(root, "note", py_str(meta.note));
  if (!meta.thresholds.empty()) {
    SVANET_CHECK(static_cast<int64_t>(meta.thresholds.size()) == num_classes, path, ": ",
                 meta.thresholds.size(), " thresholds for a model with ", num_classes, " outputs");
    py_set(root, kThresholds, doubles(meta.thresholds));
    py_set(root, kCalibration, py_str(meta.calibration));
  }
  auto weights = py_dict();
  for (const auto& [name, tensor] : state_dict(model)) py_set(weights, name, py_tensor(tensor));
  py_set(root, "state_dict", weights);
  write_pytorch_file(path, root);
}

void set_checkpoint_thresholds(const std::string& path, const std::vector<double>& thresholds,
                               const std::string& calibration) {
  const OpenedFile file(path, kCheckpointFormat);
  const CheckpointMeta meta = parse_meta(file.reader, path);
  SVANET_CHECK(thresholds.empty() ||
                   thresholds.size() == static_cast<size_t>(meta.model.options.num_classes()),
               path, ": ", thresholds.size(), " thresholds for a model with ",
               meta.model.options.num_classes(), " classes");
  auto& entries = file.root->entries;
  entries.erase(std::remove_if(entries.begin(), entries.end(),
                               [](const auto& entry) {
                                 const auto& key = entry.first->text;
                                 return key == kThresholds || key == kCalibration;
                               }),
                entries.end());
  if (!thresholds.empty()) {
    py_set(file.root, kThresholds, doubles(thresholds));
    py_set(file.root, kCalibration, py_str(calibration));
  }
  write_pytorch_file(path, file.root);
}

CheckpointMeta read_checkpoint_meta(const std::string& path) {
  const OpenedFile file(path, kCheckpointFormat);
  return parse_meta(file.reader, path);
}

LoadedCheckpoint load_checkpoint(const std::string& path, const torch::Device& device) {
  const OpenedFile file(path, kCheckpointFormat);
  const Reader& reader = file.reader;
  LoadedCheckpoint out;
  out.meta = parse_meta(reader, path);
  try {
    out.model = create_model(out.meta.model);
  } catch (const Error& e) {
    SVANET_FAIL(path, ": cannot rebuild its model: ", e.what());
  }
  const StateDict weights = tensors_of(reader.at("state_dict", Kind::kDict), path, "state_dict");
  load_state_dict(*out.model, std::map<std::string, torch::Tensor>(weights.begin(), weights.end()),
                  LoadOptions().source(path));
  out.model->to(device);
  out.model->eval();
  return out;
}

void save_training_state(const std::string& path, const TrainingState& state) {
  auto root = new_file(kTrainingStateFormat);
  py_set(root, "epoch", py_int(state.epoch));
  auto values = py_dict();
  for (const auto& [k, v] : state.values) py_set(values, k, py_float(v));
  py_set(root, "values", values);
  auto texts = py_dict();
  for (const auto& [k, v] : state.texts) py_set(texts, k, py_str(v));
  py_set(root, "texts", texts);
  auto tensors = py_dict();
  for (const auto& [k, v] : state.tensors) py_set(tensors, k, py_tensor(v));
  py_set(root, "tensors", tensors);
  write_pytorch_file(path, root);
}

TrainingState load_training_state(const std::string& path) {
  const OpenedFile file(path, kTrainingStateFormat);
  const Reader& reader = file.reader;
  TrainingState state;
  state.epoch = reader.integer("epoch");
  for (const auto& [k, v] : reader.at("values", Kind::kDict).entries) {
    SVANET_CHECK(v->kind == Kind::kFloat || v->kind == Kind::kInt, path, ": value '", k->text,
                 "' is a ", v->type_name());
    state.values[k->text] = v->kind == Kind::kInt ? static_cast<double>(v->integer) : v->number;
  }
  for (const auto& [k, v] : reader.at("texts", Kind::kDict).entries) {
    SVANET_CHECK(v->kind == Kind::kString, path, ": text '", k->text, "' is a ", v->type_name());
    state.texts[k->text] = v->text;
  }
  const auto& tensors = reader.at("tensors", Kind::kDict);
  if (!tensors.entries.empty()) state.tensors = tensors_of(tensors, path, "tensors");
  return state;
}

namespace {

/// The optimizer's state-map key of a parameter: a string in LibTorch 1.x,
/// the TensorImpl pointer in 2.x.
template <typename Map>
typename Map::key_type state_key(const Map& /*map*/, const torch::Tensor& p) {
  using Key = typename Map::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream s;
    s << p.unsafeGetTensorImpl();
    return s.str();
  } else {
    return static_cast<Key>(p.unsafeGetTensorImpl());
  }
}

/// torch::cuda::device_count() as a signed count: it is size_t in LibTorch
/// 1.x and c10::DeviceIndex in 2.x.
int64_t cuda_devices() {
  return static_cast<int64_t>(torch::cuda::device_count());
}

const torch::Tensor* find_tensor(const TrainingState& state, const std::string& name) {
  for (const auto& [k, v] : state.tensors) {
    if (k == name) return &v;
  }
  return nullptr;
}

}  // namespace

void capture_optimizer(const torch::optim::Optimizer& optimizer, TrainingState& state,
                       const std::string& prefix) {
  const auto& groups = optimizer.param_groups();
  const auto& map = optimizer.state();
  for (size_t g = 0; g < groups.size(); ++g) {
    const std::string gp = prefix + ".group" + std::to_string(g);
    state.values[gp + ".lr"] = groups[g].options().get_lr();
    const auto& params = groups[g].params();
    for (size_t i = 0; i < params.size(); ++i) {
      auto it = map.find(state_key(map, params[i]));
      if (it == map.end()) continue;  // no step taken for this parameter yet
      const std::string pp = gp + ".param" + std::to_string(i);
      const auto* s = it->second.get();
      if (const auto* adamw = dynamic_cast<const torch::optim::AdamWParamState*>(s)) {
        state.values[pp + ".step"] = static_cast<double>(adamw->step());
        state.tensors.emplace_back(pp + ".exp_avg", adamw->exp_avg());
        state.tensors.emplace_back(pp + ".exp_avg_sq", adamw->exp_avg_sq());
        if (adamw->max_exp_avg_sq().defined()) {
          state.tensors.emplace_back(pp + ".max_exp_avg_sq", adamw->max_exp_avg_sq());
        }
      } else if (const auto* adam = dynamic_cast<const torch::optim::AdamParamState*>(s)) {
        state.values[pp + ".step"] = static_cast<double>(adam->step());
        state.tensors.emplace_back(pp + ".exp_avg", adam->exp_avg());
        state.tensors.emplace_back(pp + ".exp_avg_sq", adam->exp_avg_sq());
        if (adam->max_exp_avg_sq().defined()) {
          state.tensors.emplace_back(pp + ".max_exp_avg_sq", adam->max_exp_avg_sq());
        }
      } else if (const auto* sgd = dynamic_cast<const torch::optim::SGDParamState*>(s)) {
        if (sgd->momentum_buffer().defined()) {
          state.tensors.emplace_back(pp + ".momentum_buffer", sgd->momentum_buffer());
        }
      } else {
        SVANET_FAIL("capture_optimizer: only Adam, AdamW and SGD states can be saved");
      }
    }
  }
}

void restore_optimizer(torch::optim::Optimizer& optimizer, const TrainingState& state,
                       const std::string& prefix) {
  auto& groups = optimizer.param_groups();
  auto& map = optimizer.state();
  map.clear();
  for (size_t g = 0; g < groups.size(); ++g) {
    const std::string gp = prefix + ".group" + std::to_string(g);
    auto lr = state.values.find(gp + ".lr");
    SVANET_CHECK(lr != state.values.end(), "training state: missing ", gp, ".lr (saved with ",
                 "another optimizer layout?)");
    groups[g].options().set_lr(lr->second);
    auto& params = groups[g].params();
    const bool adamw = dynamic_cast<torch::optim::AdamWOptions*>(&groups[g].options()) != nullptr;
    const bool adam = dynamic_cast<torch::optim::AdamOptions*>(&groups[g].options()) != nullptr;
    const bool sgd = dynamic_cast<torch::optim::SGDOptions*>(&groups[g].options()) != nullptr;
    SVANET_CHECK(adamw || adam || sgd, "restore_optimizer: only Adam, AdamW and SGD are supported");
    for (size_t i = 0; i < params.size(); ++i) {
      const std::string pp = gp + ".param" + std::to_string(i);
      auto get = [&](const std::string& name) -> torch::Tensor {
        std::string key = pp;
        key += '.';
        key += name;
        const torch::Tensor* t = find_tensor(state, key);
        if (t == nullptr) return {};
        SVANET_CHECK(t->sizes() == params[i].sizes(), "training state: ", pp, ".", name,
                     " has shape ", t->sizes(), " but the parameter has ", params[i].sizes());
        return t->to(params[i].device(), params[i].scalar_type()).clone();
      };
      const auto step = state.values.find(pp + ".step");
      if (adamw || adam) {
        auto exp_avg = get("exp_avg");
        if (!exp_avg.defined()) continue;  // the parameter had no state
        auto exp_avg_sq = get("exp_avg_sq");
        SVANET_CHECK(exp_avg_sq.defined() && step != state.values.end(), "training state: ", pp,
                     " is incomplete");
        if (adamw) {
          auto s = std::make_unique<torch::optim::AdamWParamState>();
          s->step(static_cast<int64_t>(step->second)).exp_avg(exp_avg).exp_avg_sq(exp_avg_sq);
          if (auto m = get("max_exp_avg_sq"); m.defined()) s->max_exp_avg_sq(m);
          map[state_key(map, params[i])] = std::move(s);
        } else {
          auto s = std::make_unique<torch::optim::AdamParamState>();
          s->step(static_cast<int64_t>(step->second)).exp_avg(exp_avg).exp_avg_sq(exp_avg_sq);
          if (auto m = get("max_exp_avg_sq"); m.defined()) s->max_exp_avg_sq(m);
          map[state_key(map, params[i])] = std::move(s);
        }
      } else if (auto buffer = get("momentum_buffer"); buffer.defined()) {
        auto s = std::make_unique<torch::optim::SGDParamState>();
        s->momentum_buffer(buffer);
        map[state_key(map, params[i])] = std::move(s);
      }
    }
  }
}

void capture_rng(TrainingState& state) {
  at::Generator cpu = at::detail::getDefaultCPUGenerator();  // a handle sharing the generator
  {
    std::lock_guard<std::mutex> lock(cpu.mutex());
    state.tensors.emplace_back("rng.cpu", cpu.get_state());
  }
  if (torch::cuda::is_available()) {
    for (int64_t d = 0; d < cuda_devices(); ++d) {
      at::Generator gen = at::globalContext().defaultGenerator(
          torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(d)));
      std::lock_guard<std::mutex> lock(gen.mutex());
      state.tensors.emplace_back("rng.cuda" + std::to_string(d), gen.get_state());
    }
  }
}

void restore_rng(const TrainingState& state) {
  const torch::Tensor* cpu_state = find_tensor(state, "rng.cpu");
  SVANET_CHECK(cpu_state != nullptr, "training state: no random generator state saved");
  at::Generator cpu = at::detail::getDefaultCPUGenerator();
  {
    std::lock_guard<std::mutex> lock(cpu.mutex());
    cpu.set_state(*cpu_state);
  }
  if (torch::cuda::is_available()) {
    for (int64_t d = 0; d < cuda_devices(); ++d) {
      if (const torch::Tensor* s = find_tensor(state, "rng.cuda" + std::to_string(d))) {
        at::Generator gen = at::globalContext().defaultGenerator(
            torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(d)));
        std::lock_guard<std::mutex> lock(gen.mutex());
        gen.set_state(*s);
      }
    }
  }
}

}  // namespace svanet::io
