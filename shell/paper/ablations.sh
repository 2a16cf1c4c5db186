#!/usr/bin/env bash
# The paper's ablation study on one dataset: the full model, each component
# removed, and the DeepLabv3 baseline, all with the official recipe. Usage:
#   bash shell/paper/ablations.sh DATA_ROOT DATASET [-- extra svanet train flags]
# Runs go to runs/ablations/<dataset>/<model>; existing runs are resumed.
set -euo pipefail
cd "$(dirname "$0")/../.."
svanet="${SVANET_BUILD_DIR:-build}/src/svanet"
tiny="${SVANET_BUILD_DIR:-build}/tools/svanet-tiny-objects"
[ $# -ge 2 ] || { echo "usage: $0 DATA_ROOT DATASET [-- flags]" >&2; exit 2; }
data=$1; ds=$2; shift 2
extra=()
if [ $# -gt 0 ] && [ "$1" = "--" ]; then shift; extra=("$@"); fi
models=(svanet_r50 svanet_r50_no_mcattn svanet_r50_no_svattn svanet_r50_no_vit svanet_r50_no_link
        svanet_r50_add_link deeplabv3_r50)
runs=()
for m in "${models[@]}"; do
  out="runs/ablations/$ds/$m"
  if [ -f "$out/config.yaml" ]; then
    "$svanet" train --resume "$out"
  else
    "$svanet" train --config "configs/paper/$ds.yaml" --data "$data" --out "$out" \
      --set "model.name=$m" "${extra[@]}"
  fi
  runs+=("$out")
done
"$svanet" compare "${runs[@]}" --out "runs/ablations/$ds/summary" --overwrite
"$tiny" "${runs[@]}" --out "runs/ablations/$ds/tiny_objects" --overwrite
