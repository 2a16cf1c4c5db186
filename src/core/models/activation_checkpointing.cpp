#include "svanet/models/activation_checkpointing.h"

#include "svanet/common/error.h"
#include "svanet/runtime/precision.h"
#include "svanet/utils/text.h"

#include <ATen/Context.h>
#include <ATen/autocast_mode.h>
#include <ATen/core/Generator.h>
#include <torch/autograd.h>

#include <cstddef>
#include <mutex>
#include <optional>
#include <utility>

namespace svanet::models {

ActivationCheckpointing parse_activation_checkpointing(const std::string& text) {
  const std::string t = utils::to_lower(utils::trim(text));
  if (t == "none") return ActivationCheckpointing::kNone;
  if (t == "encoder") return ActivationCheckpointing::kEncoder;
  if (t == "guide") return ActivationCheckpointing::kGuide;
  if (t == "all") return ActivationCheckpointing::kAll;
  SVANET_FAIL("activation checkpointing is none, encoder, guide or all, got '", text, "'");
}

std::string to_string(ActivationCheckpointing mode) {
  switch (mode) {
    case ActivationCheckpointing::kNone:
      return "none";
    case ActivationCheckpointing::kEncoder:
      return "encoder";
    case ActivationCheckpointing::kGuide:
      return "guide";
    case ActivationCheckpointing::kAll:
      return "all";
  }
  return "none";
}

namespace {

/// The state of one random-number generator.
struct RngState {
  mutable at::Generator generator;
  torch::Tensor state;

  explicit RngState(at::Generator g) : generator(std::move(g)) {
    const std::lock_guard<std::mutex> lock(generator.mutex());
    state = generator.get_state();
  }
  void restore() const {
    const std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(state);
  }
};

/// The generators a segment on `device` draws from: the CPU's (index
/// sampling happens there) and the device's own.
std::vector<RngState> capture_rng(const torch::Device& device) {
  std::vector<RngState> states;
  states.emplace_back(at::globalContext().defaultGenerator(torch::kCPU));
  if (!device.is_cpu()) states.emplace_back(at::globalContext().defaultGenerator(device));
  return states;
}

/// What the backward pass needs to replay a segment.
struct Replay : torch::CustomClassHolder {
  Segment segment;
  std::vector<torch::nn::Module*> modules;
  size_t num_inputs = 0;
  /// The parameters passed to the autograd function after the inputs.
  std::vector<torch::Tensor> parameters;
  std::vector<RngState> rng;
  runtime::AutocastState autocast;
};

/// Puts the generators' states back when the replay ends, however it ends.
class RngSwap {
 public:
  explicit RngSwap(const std::vector<RngState>& replayed) {
    for (const auto& r : replayed) current_.emplace_back(r.generator);
    for (const auto& r : replayed) r.restore();
  }
  ~RngSwap() {
    for (const auto& r : current_) r.restore();
  }
  RngSwap(const RngSwap&) = delete;
  RngSwap& operator=(const RngSwap&) = delete;

 private:
  std::vector<RngState> current_;
};

/// Puts the module's buffers (BatchNorm running statistics) back when the
/// replay ends: the first pass already updated them once.
class BufferSnapshot {
 public:
  explicit BufferSnapshot(const std::vector<torch::nn::Module*>& modules) {
    torch::NoGradGuard no_grad;
    for (auto* module : modules) {
      for (auto& b : module->buffers()) {
        if (!b.defined()) continue;
        buffers_.push_back(b);
        copies_.push_back(b.clone());
      }
    }
  }
  ~BufferSnapshot() {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < buffers_.size(); ++i) buffers_[i].copy_(copies_[i]);
  }
  BufferSnapshot(const BufferSnapshot&) = delete;
  BufferSnapshot& operator=(const BufferSnapshot&) = delete;

 private:
  std::vector<torch::Tensor> buffers_;
  std::vector<torch::Tensor> copies_;
};

/// Autocast's cache of weight casts off for a scope.
class NoAutocastCache {
 public:
  NoAutocastCache() : previous_(at::autocast::is_autocast_cache_enabled()) {
    at::autocast::set_autocast_cache_enabled(false);
  }
  ~NoAutocastCache() { at::autocast::set_autocast_cache_enabled(previous_); }
  NoAutocastCache(const NoAutocastCache&) = delete;
  NoAutocastCache& operator=(const NoAutocastCache&) = delete;

 private:
  bool previous_;
};

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

struct RecomputeFunction : torch::autograd::Function<RecomputeFunction> {
  // `tensors`: the segment's inputs, then the module's parameters (inputs of
  // the function so that their gradients flow even when no input has one).
  static variable_list forward(AutogradContext* ctx, const c10::intrusive_ptr<Replay>& replay,
                               torch::TensorList tensors) {
    const std::vector<torch::Tensor> inputs(
        tensors.begin(), tensors.begin() + static_cast<std::ptrdiff_t>(replay->num_inputs));
    // Gradient recording is off here: nothing inside the segment is kept.
    // Nor is any autocast cast of a weight: made without gradient
    // recording, a cached cast would have no gradient for later users of
    // the weight in the same autocast scope (the replay included).
    const NoAutocastCache no_cache;
    auto outputs = replay->segment(inputs);
    ctx->save_for_backward(inputs);
    // A capsule: an IValue holding any CustomClassHolder, unregistered
    // (LibTorch 1.13 and 2.x alike).
    ctx->saved_data["replay"] =
        c10::IValue::make_capsule(c10::intrusive_ptr<torch::CustomClassHolder>(replay));
    return outputs;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto replay =
        c10::static_intrusive_pointer_cast<Replay>(ctx->saved_data["replay"].toCapsule());
    const auto saved = ctx->get_saved_variables();
    std::vector<torch::Tensor> inputs;
    inputs.reserve(saved.size());
    for (const auto& x : saved) {
      inputs.push_back(x.defined() ? x.detach().requires_grad_(x.requires_grad()) : x);
    }
    // Restored after the gradients are computed: BatchNorm's backward pass
    // reads the running statistics the replay saved, at their version.
    const BufferSnapshot buffers(replay->modules);
    std::vector<torch::Tensor> outputs;
    {
      const RngSwap rng(replay->rng);
      const runtime::AutocastRestore autocast(replay->autocast);
      const NoAutocastCache no_cache;
      const torch::AutoGradMode grad(true);
      outputs = replay->segment(inputs);
    }
    std::vector<torch::Tensor> roots;
    std::vector<torch::Tensor> root_grads;
    for (size_t i = 0; i < outputs.size() && i < grad_outputs.size(); ++i) {
      if (outputs[i].defined() && outputs[i].requires_grad() && grad_outputs[i].defined()) {
        roots.push_back(outputs[i]);
        root_grads.push_back(grad_outputs[i]);
      }
    }
    // One slot for the Replay argument, then one per tensor.
    variable_list grads(1 + inputs.size() + replay->parameters.size());
    std::vector<torch::Tensor> wrt;
    std::vector<size_t> slots;
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i].defined() && inputs[i].requires_grad()) {
        wrt.push_back(inputs[i]);
        slots.push_back(1 + i);
      }
    }
    for (size_t i = 0; i < replay->parameters.size(); ++i) {
      wrt.push_back(replay->parameters[i]);
      slots.push_back(1 + inputs.size() + i);
    }
    if (roots.empty() || wrt.empty()) return grads;
    const auto computed = torch::autograd::grad(roots, wrt, root_grads, /*retain_graph=*/false,
                                                /*create_graph=*/false, /*allow_unused=*/true);
    for (size_t i = 0; i < computed.size(); ++i) grads[slots[i]] = computed[i];
    return grads;
  }
};

}  // namespace

std::vector<torch::Tensor> checkpointed(const Segment& segment,
                                        const std::vector<torch::Tensor>& inputs,
                                        const std::vector<torch::nn::Module*>& modules) {
  if (!torch::GradMode::is_enabled()) return segment(inputs);
  std::vector<torch::nn::Module*> owners;
  std::vector<torch::Tensor> parameters;
  for (auto* module : modules) {
    if (module == nullptr) continue;
    owners.push_back(module);
    for (auto& p : module->parameters()) {
      if (p.requires_grad()) parameters.push_back(p);
    }
  }
  bool any_input = false;
  for (const auto& x : inputs) any_input = any_input || (x.defined() && x.requires_grad());
  if (parameters.empty() && !any_input) return segment(inputs);

  auto replay = c10::make_intrusive<Replay>();
  replay->segment = segment;
  replay->modules = owners;
  replay->num_inputs = inputs.size();
  replay->parameters = parameters;
  const auto device = inputs.empty() ? torch::Device(torch::kCPU) : inputs.front().device();
  replay->rng = capture_rng(device);
  replay->autocast = runtime::current_autocast();

  std::vector<torch::Tensor> tensors = inputs;
  tensors.insert(tensors.end(), parameters.begin(), parameters.end());
  return RecomputeFunction::apply(replay, torch::TensorList(tensors));
}

torch::Tensor checkpointed(const std::function<torch::Tensor(const torch::Tensor&)>& fn,
                           const torch::Tensor& input, torch::nn::Module& module) {
  return checkpointed(
      [fn](const std::vector<torch::Tensor>& in) { return std::vector<torch::Tensor>{fn(in[0])}; },
      {input}, {&module})[0];
}

}  // namespace svanet::models
