#!/usr/bin/env bash
# The real-data benchmark: SvANet-R18-tiny, U-Net small and DeepLabv3 on
# the same quarter-width ResNet-18 encoder, each with the paper's recipe and
# with svanet's small-object recipe, 3 seeds each (configs/real/), on the
# datasets converted under DATA_ROOT; one `svanet study` table per dataset.
#   bash shell/benchmark_real.sh DATA_ROOT OUT [--datasets dsb2018,idrid_ex,kvasir,idrid_ma] [--shard I/N] [--dry-run] [-- train flags]
# DATA_ROOT/NAME is what `svanet convert-dataset` wrote for each dataset
# (docs/datasets.md#public-datasets-converted-by-svanet; idrid_ex is
# `svanet convert-dataset idrid SRC -o DATA_ROOT/idrid_ex --param lesions=ex
# --param scale=0.25`, idrid_ma the same with lesions=ma). Datasets
# missing under DATA_ROOT are skipped with a note. Tables: OUT/study_NAME/
# (study.md, study.csv, study.png); run it again to resume.
# docs/benchmarks.md has the tables and what they took.
usage() { sed -n '2,13s/^# \{0,1\}//p' "$0"; }
datasets=dsb2018,idrid_ex,kvasir,idrid_ma
named=0
args=()
positional_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --datasets) [ $# -ge 2 ] || { echo "$(basename "$0"): --datasets needs a list" >&2; exit 2; }
                datasets=$2; named=1; shift 2 ;;
    --datasets=*) datasets=${1#--datasets=}; named=1; shift ;;
    -h | --help) usage; exit 0 ;;
    --) args+=("$@"); break ;;
    -*) args+=("$1"); shift ;;
    *) positional_args+=("$1"); shift ;;
  esac
done
if [ ${#positional_args[@]} -ne 2 ]; then
  echo "$(basename "$0"): expected DATA_ROOT and OUT (--help)" >&2
  exit 2
fi
source "$(dirname "$0")/lib/experiments.sh"
experiments_init --data "${positional_args[0]}" --out "${positional_args[1]}" ${args[@]+"${args[@]}"}
require_data

# The models, by row name: what --set makes of configs/real/NAME.yaml.
# DeepLabv3 is SvANet without feature guidance on the same encoder.
model_flags() {
  case "$1" in
    svanet) echo "--set model.name=svanet_r18_tiny" ;;
    unet) echo "--set model.name=unet_small" ;;
    deeplabv3)
      echo "--set model.name=deeplabv3_r50 --set model.options.encoder_depth=18" \
           "--set model.options.encoder_width=16 --set model.options.aspp_channels=64" ;;
  esac
}
# The small-object recipe on top: configs/small_objects/all.yaml's features.
# U-Net already predicts at full resolution; the other two get the
# full-resolution head.
small_flags() {
  echo "--set data.sampling.object_share=0.5 --set data.sampling.weighting=inverse_area" \
       "--set data.sampling.weight_cap=100 --set train.loss.name=compound" \
       "--set train.loss.terms=[dice_ce,blob_dice] --set train.loss.term_weights=[1,1]" \
       "--set evaluate.threshold=calibrated"
  case "$1" in
    svanet) echo "--set model.name=svanet_r18_tiny_fr" ;;
    deeplabv3) echo "--set model.options.full_res_head=true" ;;
  esac
}

models=(svanet unet deeplabv3)
recipes=(paper small)
IFS=, read -r -a wanted <<< "$datasets"
present=()
for dataset in "${wanted[@]}"; do
  [ -f "$experiments_root/configs/real/$dataset.yaml" ] ||
    experiments_die "no configs/real/$dataset.yaml (datasets: dsb2018, idrid_ex, kvasir, idrid_ma)"
  if [ ! -f "$data_root/$dataset/dataset.yaml" ]; then
    [ "$named" = 0 ] || experiments_die "no converted dataset at $data_root/$dataset (docs/datasets.md)"
    echo "== $dataset: not under $data_root (convert it first: docs/datasets.md); skipped"
    continue
  fi
  present+=("$dataset")
  for model in "${models[@]}"; do
    for recipe in "${recipes[@]}"; do
      # One KEY=VALUE per line, each passed as --set KEY=VALUE.
      flags=()
      while IFS= read -r line; do
        [ -z "$line" ] || flags+=(--set "$line")
      done < <({ model_flags "$model"; [ "$recipe" = paper ] || small_flags "$model"; } |
               sed 's/ *--set /\n/g')
      add_run_on "$data_root/$dataset" "$dataset/${model}_$recipe" "configs/real/$dataset.yaml" \
        ${flags[@]+"${flags[@]}"}
    done
  done
done
[ ${#present[@]} -gt 0 ] || experiments_die "none of $datasets is under $data_root"
run_all
for dataset in "${present[@]}"; do
  rows=()
  for model in "${models[@]}"; do
    for recipe in "${recipes[@]}"; do rows+=("$dataset/${model}_$recipe"); done
  done
  aggregate "study_$dataset" "$dataset/svanet_paper" "${rows[@]}"
done
experiments_finish
