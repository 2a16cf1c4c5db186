#!/usr/bin/env bash
# The paper's main experiments (the official shell/main.sh): SvANet with the
# official recipe on each dataset, 3 repeats, then the test evaluation and
# the tiny-object tables. Usage:
#   bash shell/paper/main.sh DATA_ROOT [DATASET ...] [-- extra svanet train flags]
# DATA_ROOT holds the official layout (FIVES/, ISIC2018T1/, ...); the runs go
# to runs/paper/<dataset>. A run that exists is resumed, not restarted.
set -euo pipefail
cd "$(dirname "$0")/../.."
svanet="${SVANET_BUILD_DIR:-build}/src/svanet"
tiny="${SVANET_BUILD_DIR:-build}/tools/svanet-tiny-objects"
[ $# -ge 1 ] || { echo "usage: $0 DATA_ROOT [DATASET ...] [-- flags]" >&2; exit 2; }
data=$1; shift
datasets=(); extra=()
while [ $# -gt 0 ]; do
  if [ "$1" = "--" ]; then shift; extra=("$@"); break; fi
  datasets+=("$1"); shift
done
[ ${#datasets[@]} -gt 0 ] || datasets=(fives isic2018t1 polypgen atlas kits23 tissuenet spermhealth)
runs=()
for ds in "${datasets[@]}"; do
  out="runs/paper/$ds"
  if [ -f "$out/config.yaml" ]; then
    "$svanet" train --resume "$out"
  else
    "$svanet" train --config "configs/paper/$ds.yaml" --data "$data" --out "$out" "${extra[@]}"
  fi
  runs+=("$out")
done
"$svanet" compare "${runs[@]}" --out runs/paper/summary --overwrite
"$tiny" "${runs[@]}" --out runs/paper/tiny_objects --overwrite
