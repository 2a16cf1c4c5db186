#!/usr/bin/env bash
# The paper's main table (the official shell/main.sh): SvANet, DeepLabv3 and
# U-Net with the paper's recipe (configs/paper/<dataset>.yaml, 3 repeats) on
# each dataset, then one study table per dataset and the tiny-object tables.
#   bash shell/main.sh --data DATA --out runs/paper [DATASET ...] [--shard I/N] [-- train flags]
# DATA holds the official layout (FIVES/, ISIC2018T1/, ...: docs/datasets.md);
# with no DATASET, all seven. Runs: OUT/<dataset>/{svanet,deeplabv3,unet};
# tables: OUT/<dataset>/main/study.md and OUT/tiny_objects. Run it again to
# resume; --shard 2/4 runs every 4th run from the 2nd (one machine of four).
usage() { sed -n '2,9s/^# \{0,1\}//p' "$0"; }
source "$(dirname "$0")/lib/experiments.sh"
experiments_init "$@"
require_data
datasets=(${positional[@]+"${positional[@]}"})
[ ${#datasets[@]} -gt 0 ] || datasets=(fives isic2018t1 polypgen atlas kits23 tissuenet spermhealth)
for ds in "${datasets[@]}"; do
  [ -f "$experiments_root/configs/paper/$ds.yaml" ] ||
    experiments_die "no preset configs/paper/$ds.yaml (datasets: fives isic2018t1 polypgen atlas kits23 tissuenet spermhealth)"
  add_run "$ds/svanet" "configs/paper/$ds.yaml"
  add_run "$ds/deeplabv3" "configs/paper/$ds.yaml" --set model.name=deeplabv3_r50
  # U-Net has no ResNet encoder: no ImageNet weights and nothing to freeze.
  add_run "$ds/unet" "configs/paper/$ds.yaml" --set model.name=unet \
    --set model.options.pretrained_backbone=null --set train.freeze_encoder_epochs=0
done
run_all
svanet_runs=()
for ds in "${datasets[@]}"; do
  aggregate "$ds/main" "$ds/svanet" "$ds/svanet" "$ds/deeplabv3" "$ds/unet"
  svanet_runs+=("$ds/svanet")
done
tiny_tables tiny_objects "${svanet_runs[@]}"
experiments_finish
