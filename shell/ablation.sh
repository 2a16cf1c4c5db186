#!/usr/bin/env bash
# The paper's ablation study (the official shell/ablation.sh): the full
# SvANet, each component removed, the link variants and DeepLabv3, one
# config each in configs/ablation/ (3 repeats, the paper's recipe).
#   bash shell/ablation.sh --data DATA --out runs/ablation [DATASET ...] [--light] [--shard I/N] [-- train flags]
# DATASET defaults to spermhealth (as the official script); --light takes
# configs/ablation/light/ (SvANet-R18 at tiny width, the demo's recipe: a
# CPU study). Runs: OUT/<dataset>/<config name>; table: OUT/<dataset>/ablation/study.md
# (differences to the full model). Run it again to resume.
usage() { sed -n '2,9s/^# \{0,1\}//p' "$0"; }
accepts_light=1
source "$(dirname "$0")/lib/experiments.sh"
experiments_init "$@"
require_data
datasets=(${positional[@]+"${positional[@]}"})
[ ${#datasets[@]} -gt 0 ] || datasets=(spermhealth)
rows=(full no_mcattn no_svattn no_guidance no_former no_link add_link no_stage5 deeplabv3)
for ds in "${datasets[@]}"; do
  for row in "${rows[@]}"; do
    add_run "$ds/$row" "$ablation_configs/$row.yaml" --set "data.dataset=$ds"
  done
done
run_all
for ds in "${datasets[@]}"; do
  aggregate "$ds/ablation" "$ds/full" $(printf "$ds/%s " "${rows[@]}")
done
experiments_finish
