#include "commands.h"

#include "svanet/version.h"

#include <torch/cuda.h>
#include <torch/version.h>

#include <cstdio>

namespace svanet::cli {

Command register_version(CLI::App& app) {
  auto* sub = app.add_subcommand("version", "Print the versions of svanet and LibTorch");
  return {sub, [] {
            std::printf("svanet %s\n", SVANET_VERSION);
            std::printf("LibTorch %s\n", TORCH_VERSION);
            std::printf("CUDA available: %s (%d device(s))\n",
                        torch::cuda::is_available() ? "yes" : "no",
                        static_cast<int>(torch::cuda::device_count()));
            return 0;
          }};
}

}  // namespace svanet::cli
