#!/usr/bin/env bash
# Installs the dependencies, builds svanet and runs the main job on built-in
# data. Until the trainer lands, that is: the model zoo (every registered
# network with its parameters and multiply-accumulates at 256x256), then the
# built-in demo dataset generated into demo_data/, checked, and described
# (object statistics and size histogram in demo_data/stats/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash shell/install_deps.sh
bash shell/build.sh
svanet="${SVANET_BUILD_DIR:-build}/src/svanet"
"$svanet" models --image-size 256
"$svanet" demo-data demo_data
"$svanet" check-data demo_data
"$svanet" data-stats demo_data --out demo_data/stats
