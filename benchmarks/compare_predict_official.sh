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
[ -x "$bench" ] || { echo "error: $bench not built (bash shell/build.sh)" >&2; exit 1; }
[ -f "$official/opts.py" ] || { echo "error: $official: not the official SvANet repository (no opts.py)" >&2; exit 1; }
python=/usr/bin/python3
"$python" -c 'import torch' 2>/dev/null || { echo "error: $python has no torch (apt install python3-torch)" >&2; exit 1; }
stubs=$(mktemp -d)
trap 'rm -rf "$stubs"' EXIT
mkdir -p "$stubs/einops" "$stubs/timm/models" "$stubs/imgviz" "$stubs/imageio"
echo "def rearrange(*a, **k): raise NotImplementedError('stand-in')" > "$stubs/einops/__init__.py"
touch "$stubs/timm/__init__.py" "$stubs/timm/models/__init__.py" "$stubs/imageio/__init__.py" "$stubs/imageio/v3.py"
echo "class PatchEmbed: pass" > "$stubs/timm/models/vision_transformer.py"
printf 'import numpy as np\ndef label_colormap(n=256):\n    return np.zeros((n, 3), dtype=np.uint8)\n' > "$stubs/imgviz/__init__.py"
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
