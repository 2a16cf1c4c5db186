#include "commands.h"

#include "svanet/version.h"

#include <torch/cuda.h>
#include <torch/version.h>

#include <cstdio>
#include <string>

namespace svanet::cli {

std::string version_text() {
  // Debian's libtorch-dev 1.13.1 ships the headers of 1.13.0 (its
  // TORCH_VERSION says 1.13.0): say where the number comes from.
  return std::string("svanet ") + SVANET_VERSION + "\nLibTorch " + TORCH_VERSION +
         " (TORCH_VERSION of the headers svanet was built with)" +
         "\nCUDA available: " + (torch::cuda::is_available() ? "yes" : "no") + " (" +
         std::to_string(torch::cuda::device_count()) + " device(s))";
}

Command register_version(CLI::App& app) {
  auto* sub = app.add_subcommand("version", "Print the versions of svanet and LibTorch");
  add_examples(sub, {"svanet version", "svanet --version"}, "Both print the same.");
  return {sub, [] {
            std::printf("%s\n", version_text().c_str());
            return 0;
          }};
}

}  // namespace svanet::cli
