#!/usr/bin/env bash
# The paper's further studies (the official shell/ablation_extra.sh), one
# config each in configs/ablation/: the cumulative build-up (DeepLabv3 ->
# + bottleneck guidance -> + scale-variant attention -> + AssembleFormer ->
# + link decoder = full), the Monte Carlo pooling sets {1}, {1,2}, {2,3},
# {1,2,3} (full) and {1,2,3,4}, and batch size 2 against 4 (full).
#   bash shell/ablation_extra.sh --data DATA --out runs/ablation [DATASET ...] [--light] [--shard I/N] [-- train flags]
# DATASET defaults to spermhealth; --light as in shell/ablation.sh. Runs
# shared with shell/ablation.sh (full, deeplabv3) are trained once. Tables:
# OUT/<dataset>/{cumulative,mc_pools,batch_size}/study.md.
usage() { sed -n '2,11s/^# \{0,1\}//p' "$0"; }
accepts_light=1
source "$(dirname "$0")/lib/experiments.sh"
experiments_init "$@"
require_data
datasets=(${positional[@]+"${positional[@]}"})
[ ${#datasets[@]} -gt 0 ] || datasets=(spermhealth)
cumulative=(deeplabv3 cumulative_1_guidance cumulative_2_svattn cumulative_3_former full)
pools=(mc_pool_1 mc_pool_12 mc_pool_23 full mc_pool_1234)
batches=(batch_2 full)
# --light's base batch is the demo's 8: compare 2, 4 and 8 there.
[ "$light" = 0 ] || batches=(batch_2 batch_4 full)
for ds in "${datasets[@]}"; do
  for row in "${cumulative[@]}" "${pools[@]}" "${batches[@]}"; do
    add_run "$ds/$row" "$ablation_configs/$row.yaml" --set "data.dataset=$ds"
  done
done
run_all
for ds in "${datasets[@]}"; do
  aggregate "$ds/cumulative" "$ds/deeplabv3" $(printf "$ds/%s " "${cumulative[@]}")
  aggregate "$ds/mc_pools" "$ds/full" $(printf "$ds/%s " "${pools[@]}")
  aggregate "$ds/batch_size" "$ds/full" $(printf "$ds/%s " "${batches[@]}")
done
experiments_finish
