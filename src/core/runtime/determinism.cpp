#include "svanet/runtime/determinism.h"

#include <ATen/Context.h>

namespace svanet::runtime {

AlgorithmFlags AlgorithmFlags::current() {
  const auto& context = at::globalContext();
  AlgorithmFlags flags;
  flags.deterministic_algorithms = context.deterministicAlgorithms();
  flags.warn_only = context.deterministicAlgorithmsWarnOnly();
  flags.cudnn_deterministic = context.deterministicCuDNN();
  flags.cudnn_benchmark = context.benchmarkCuDNN();
  return flags;
}

void AlgorithmFlags::apply() const {
  auto& context = at::globalContext();
  context.setDeterministicAlgorithms(deterministic_algorithms, warn_only);
  context.setDeterministicCuDNN(cudnn_deterministic);
  context.setBenchmarkCuDNN(cudnn_benchmark);
}

bool AlgorithmFlags::operator==(const AlgorithmFlags& other) const {
  return deterministic_algorithms == other.deterministic_algorithms &&
         warn_only == other.warn_only && cudnn_deterministic == other.cudnn_deterministic &&
         cudnn_benchmark == other.cudnn_benchmark;
}

DeterminismGuard::DeterminismGuard(bool deterministic, bool cudnn_benchmark)
    : saved_(AlgorithmFlags::current()) {
  AlgorithmFlags flags = saved_;
  if (deterministic) {
    flags.deterministic_algorithms = true;
    flags.warn_only = false;
    flags.cudnn_deterministic = true;
    flags.cudnn_benchmark = false;
  } else {
    flags.cudnn_benchmark = cudnn_benchmark;
  }
  flags.apply();
}

DeterminismGuard::~DeterminismGuard() {
  saved_.apply();
}

}  // namespace svanet::runtime
