#!/usr/bin/env bash
# The main job on built-in data: installs the dependencies, builds svanet and
# runs `svanet demo`, which generates the demo dataset into demo_data/,
# trains a light SvANet on it into runs/demo/ (about 7 minutes on 2 CPU
# cores) and evaluates it on the test split: runs/demo/eval_test/report.html.
# Running it again continues or reports the existing run (`svanet demo
# --fresh` starts over).
set -euo pipefail
cd "$(dirname "$0")/.."
bash shell/install_deps.sh
bash shell/build.sh
"${SVANET_BUILD_DIR:-build}/src/svanet" demo "$@"
