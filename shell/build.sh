#!/usr/bin/env bash
# Configures and builds svanet (Release, Ninja, ccache when present) into
# ${SVANET_BUILD_DIR:-build}. Extra arguments go to CMake's configure step,
# e.g. `bash shell/build.sh -DSVANET_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug`.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${SVANET_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE:-Release} "$@"
cmake --build "$build_dir" --parallel "$(nproc)"
