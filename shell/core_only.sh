#!/usr/bin/env bash
# Builds svanet::core alone (cmake -DSVANET_CORE_ONLY=ON) into
# ${SVANET_CORE_BUILD_DIR:-build-core} and runs its tests, with CMake unable
# to find anything but LibTorch and GoogleTest: what a machine with only
# PyTorch's LibTorch (a GPU machine, say) can build. Extra arguments go to
# CMake's configure step (-DCMAKE_PREFIX_PATH=/path/to/libtorch, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${SVANET_CORE_BUILD_DIR:-build-core}
hidden=()
for package in OpenCV yaml-cpp spdlog nlohmann_json ZLIB PNG CLI11 NIFTI; do
  hidden+=("-DCMAKE_DISABLE_FIND_PACKAGE_${package}=ON")
done
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE:-Release} \
  -DSVANET_CORE_ONLY=ON "${hidden[@]}" "$@"
cmake --build "$build_dir" --parallel "$(nproc)"
ctest --test-dir "$build_dir" --output-on-failure -j "$(nproc)" -L core --no-tests=error
