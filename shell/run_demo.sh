#!/usr/bin/env bash
# Installs the dependencies, builds svanet and runs the main job on built-in
# data. Until the trainer lands, that is the model zoo: every registered
# network with its parameter count and multiply-accumulates at 256x256.
set -euo pipefail
cd "$(dirname "$0")/.."
bash shell/install_deps.sh
bash shell/build.sh
"${SVANET_BUILD_DIR:-build}"/src/svanet models --image-size 256
