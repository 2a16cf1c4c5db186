#include "svanet/models/profile.h"

#include <ATen/record_function.h>
#include <torch/torch.h>

#include <cstring>

namespace svanet::models {

int64_t count_parameters(const torch::nn::Module& module) {
  int64_t total = 0;
  for (const auto& p : module.parameters(/*recurse=*/true)) {
    total += p.numel();
  }
  return total;
}

namespace {

// RecordFunction callbacks are plain function pointers: the tally is
// thread-local, as is the callback registration.
thread_local int64_t tl_macs = 0;
thread_local int tl_depth = 0;  // nesting of counted operators

/// Marks an operator that was counted, so its end callback can unwind the depth.
struct CountedOp : at::ObserverContext {};

int64_t numel(const c10::IValue& v) {
  return v.isTensor() ? v.toTensor().numel() : 0;
}

std::vector<int64_t> int_list(const c10::IValue& v) {
  std::vector<int64_t> out;
  if (v.isIntList()) {
    for (auto x : v.toIntVector()) out.push_back(x);
  }
  return out;
}

/// MACs of aten::convolution(input, weight, bias, stride, padding, dilation,
/// transposed, output_padding, groups).
int64_t convolution_macs(c10::ArrayRef<const c10::IValue> in) {
  if (in.size() < 9 || !in[0].isTensor() || !in[1].isTensor()) return 0;
  const auto& x = in[0].toTensor();
  const auto& w = in[1].toTensor();
  const bool transposed = in[6].toBool();
  const int64_t groups = in[8].toInt();
  int64_t kernel = 1;
  for (int64_t d = 2; d < w.dim(); ++d) kernel *= w.size(d);
  if (transposed) {
    // weight (C_in, C_out / groups, k...): every input element feeds C_out / groups x k outputs.
    return x.numel() * w.size(1) * kernel;
  }
  const auto stride = int_list(in[3]);
  const auto padding = int_list(in[4]);
  const auto dilation = int_list(in[5]);
  int64_t out_elements = x.size(0) * w.size(0);
  for (int64_t d = 2; d < x.dim(); ++d) {
    const auto i = static_cast<size_t>(d - 2);
    const int64_t s = stride.size() > i ? stride[i] : 1;
    const int64_t p = padding.size() > i ? padding[i] : 0;
    const int64_t dl = dilation.size() > i ? dilation[i] : 1;
    out_elements *= (x.size(d) + 2 * p - dl * (w.size(d) - 1) - 1) / s + 1;
  }
  (void)groups;  // weight's second dimension is already C_in / groups
  return out_elements * w.size(1) * kernel;
}

int64_t matmul_macs(const char* name, c10::ArrayRef<const c10::IValue> in) {
  // linear(x, W): x (..., k), W (n, k); addmm(bias, a, b); mm/bmm/matmul(a, b).
  if (std::strcmp(name, "aten::linear") == 0) {
    if (in.size() < 2 || !in[0].isTensor() || !in[1].isTensor()) return 0;
    return numel(in[0]) * in[1].toTensor().size(0);
  }
  const size_t first = std::strcmp(name, "aten::addmm") == 0 ? 1 : 0;
  if (in.size() < first + 2 || !in[first].isTensor() || !in[first + 1].isTensor()) return 0;
  const auto& a = in[first].toTensor();
  const auto& b = in[first + 1].toTensor();
  if (a.dim() == 0 || b.dim() == 0) return 0;
  const int64_t n = b.dim() >= 2 ? b.size(-1) : 1;
  return a.numel() * n;  // (..., m, k) x (k, n): m*k*n per batch
}

std::unique_ptr<at::ObserverContext> on_start(const at::RecordFunction& fn) {
  const char* name = fn.name();
  const bool conv = std::strcmp(name, "aten::convolution") == 0;
  const bool matmul = std::strcmp(name, "aten::linear") == 0 ||
                      std::strcmp(name, "aten::matmul") == 0 ||
                      std::strcmp(name, "aten::mm") == 0 || std::strcmp(name, "aten::bmm") == 0 ||
                      std::strcmp(name, "aten::addmm") == 0;
  if (!conv && !matmul) return nullptr;
  // Only the outermost counted operator counts (linear calls addmm or matmul).
  if (tl_depth++ == 0) {
    tl_macs += conv ? convolution_macs(fn.inputs()) : matmul_macs(name, fn.inputs());
  }
  return std::make_unique<CountedOp>();
}

void on_end(const at::RecordFunction& /*fn*/, at::ObserverContext* ctx) {
  if (ctx != nullptr) {
    --tl_depth;
  }
}

}  // namespace

int64_t count_macs(const std::function<void()>& fn) {
  tl_macs = 0;
  tl_depth = 0;
  auto handle = at::addThreadLocalCallback(at::RecordFunctionCallback(on_start, on_end)
                                               .needsInputs(true)
                                               .scopes({at::RecordScope::FUNCTION}));
  try {
    fn();
  } catch (...) {
    at::removeCallback(handle);
    throw;
  }
  at::removeCallback(handle);
  return tl_macs;
}

}  // namespace svanet::models
