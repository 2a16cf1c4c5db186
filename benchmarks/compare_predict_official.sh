#!/usr/bin/env bash
# Inference time of svanet and of the official SvANet code, side by side in
# one sitting on this machine (alternating, two rounds, 2 threads):
#
#   bash benchmarks/compare_predict_official.sh /path/to/official/SvANet [BUILD_DIR]
#
# Needs Debian's python3-torch (apt install python3-torch) and a checkout of
# github.com/anthonyweidai/SvANet. Its imports of einops, timm, imgviz and
# imageio.v3 are not used on the model's path; stand-ins for them are made in
# a temporary folder. svanet's side is build/benchmarks/bench_predict
# (normalise, forward, softmax, resize back; BatchNorm folded and not).
set -euo pipefail
official=${1:?usage: compare_predict_official.sh OFFICIAL_SRC [BUILD_DIR]}
build=${2:-build}
here=$(cd "$(dirname "$0")" && pwd)
bench="$build/benchmarks/bench_predict"
# shellcheck source=benchmarks/official/stubs.sh
source "$here/official/stubs.sh"
check_official_setup "$bench" "$official"
python=/usr/bin/python3
stubs=$(mktemp -d)
trap 'rm -rf "$stubs"' EXIT
make_official_stubs "$stubs"
root=$(cd "$official" && pwd)
off() { (cd "$root" && PYTHONPATH="$stubs:$root" "$python" "$here/official/time_official.py" "$@"); }
grep -m1 "model name" /proc/cpuinfo || true
for round in 1 2; do
  echo "== round $round"
  for spec in "resnet50 svanet_r50 512 3" "resnet50 svanet_r50 256 5" "resnet18 svanet_r18 512 5" "resnet18 svanet_r18 256 5"; do
    read -r encoder model size repeats <<< "$spec"
    off --encoder "$encoder" --size "$size" --repeats "$repeats"
    "$bench" --model "$model" --size "$size" --repeats "$repeats" | head -1
    "$bench" --model "$model" --size "$size" --repeats "$repeats" --no-fold | head -1
  done
done
