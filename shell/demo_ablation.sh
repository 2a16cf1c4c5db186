#!/usr/bin/env bash
# The light ablation on the built-in demo data, on a CPU: the full
# SvANet-R18 (tiny width), minus Monte Carlo attention, minus scale-variant
# attention, minus cross-scale guidance, minus AssembleFormer, and DeepLabv3,
# 2 repeats of 12 epochs each (configs/ablation/light/). docs/experiments.md
# shows its table and how long it took.
#   bash shell/demo_ablation.sh [--data demo_data] [--out runs/demo_ablation] [--shard I/N] [-- train flags]
# The demo data is generated when the folder does not exist. Table:
# OUT/study/study.md and study.png. Run it again to resume.
usage() { sed -n '2,9s/^# \{0,1\}//p' "$0"; }
SVANET_DATA=${SVANET_DATA:-demo_data}
SVANET_OUT=${SVANET_OUT:-runs/demo_ablation}
source "$(dirname "$0")/lib/experiments.sh"
experiments_init "$@"
if [ ! -e "$data_root" ] && [ "$dry_run" = 0 ]; then
  echo "== generating the demo data in $data_root"
  "$svanet_bin" demo-data -o "$data_root"
fi
require_data
rows=(full no_mcattn no_svattn no_guidance no_former deeplabv3)
for row in "${rows[@]}"; do
  add_run "$row" "configs/ablation/light/$row.yaml"
done
run_all
aggregate study full "${rows[@]}"
experiments_finish
