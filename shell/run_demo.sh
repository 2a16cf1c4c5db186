#!/usr/bin/env bash
# The main job on built-in data: installs the dependencies, builds svanet and
# runs `svanet demo`, which generates the demo dataset into demo_data/,
# trains a light SvANet on it into runs/demo/ (about 7 minutes on 2 CPU
# cores) and evaluates it on the test split: runs/demo/eval_test/report.html.
# Then `svanet predict` segments the test images with the trained model as
# new images: runs/demo/predict_test/ (label maps, overlays, predictions.csv).
# Running it again continues or reports the existing run (`svanet demo
# --overwrite` starts over) and skips images already predicted. Arguments go to
# `svanet demo`; predict runs when they leave the default folders.
set -euo pipefail
cd "$(dirname "$0")/.."
bash shell/install_deps.sh
bash shell/build.sh
svanet="${SVANET_BUILD_DIR:-build}/src/svanet"
"$svanet" demo "$@"
if [[ $# -eq 0 ]]; then
  "$svanet" predict -m runs/demo -i demo_data/Demo/test -o runs/demo/predict_test --overlay
fi
