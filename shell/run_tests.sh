#!/usr/bin/env bash
# Installs the dependencies, builds svanet and runs the default test suite
# (every test not labelled "slow"). `ctest --test-dir build -L slow` runs
# the slow ones.
set -euo pipefail
cd "$(dirname "$0")/.."
bash shell/install_deps.sh
bash shell/build.sh
ctest --test-dir "${SVANET_BUILD_DIR:-build}" --output-on-failure -j "$(nproc)" -LE slow --no-tests=error
