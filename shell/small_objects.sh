#!/usr/bin/env bash
# The small-object study: today's demo recipe against each small-object
# feature alone (object-aware crops, the blob loss, the full-resolution
# head, calibrated thresholds) and all of them together, 2 repeats of 22
# epochs each (configs/small_objects/), on the demo data and on the tiny
# demo data (every object under 0.1 % of the image). docs/small-objects.md
# shows its tables and how long it took.
#   bash shell/small_objects.sh [--data demo_data] [--tiny-data tiny_data] [--out runs/small_objects] [--shard I/N] [-- train flags]
# Missing data folders are generated (svanet demo-data, --kind tiny for the
# second). Tables: OUT/study_demo/ and OUT/study_tiny/ (study.md, study.png).
# Run it again to resume.
usage() { sed -n '2,11s/^# \{0,1\}//p' "$0"; }
SVANET_DATA=${SVANET_DATA:-demo_data}
SVANET_OUT=${SVANET_OUT:-runs/small_objects}
tiny_root=${SVANET_TINY_DATA:-tiny_data}
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tiny-data) [ $# -ge 2 ] || { echo "$(basename "$0"): --tiny-data needs a folder" >&2; exit 2; }
                 tiny_root=$2; shift 2 ;;
    --tiny-data=*) tiny_root=${1#--tiny-data=}; shift ;;
    --) args+=("$@"); break ;;
    *) args+=("$1"); shift ;;
  esac
done
source "$(dirname "$0")/lib/experiments.sh"
experiments_init ${args[@]+"${args[@]}"}
rows=(baseline sampling blob_loss full_res_head calibrated all blob_head_calibrated)
trained_rows=(baseline sampling blob_loss full_res_head all blob_head_calibrated)

# The calibrated row trains exactly as the baseline (the same config and
# seeds), so it is the baseline's run folder, copied once the baseline is
# complete, with evaluate.threshold: calibrated in its configs and its
# evaluations removed: `svanet train --resume` then only calibrates and
# evaluates.
derive_calibrated() {
  local from="$out_root/$1/baseline" to="$out_root/$1/calibrated"
  [ "$dry_run" = 0 ] || return 0
  [ ! -e "$to" ] || return 0
  [ "$(run_state "$1/baseline")" = complete ] || return 0
  echo "== $1/calibrated: the baseline's training, evaluated with calibrated thresholds"
  cp -r "$from" "$to.partial"
  rm -rf "$to.partial"/repeats.* "$to.partial"/eval_* "$to.partial"/repeat_*/eval_*
  find "$to.partial" -name config.yaml -exec sed -i 's/^  threshold: argmax$/  threshold: calibrated/' {} +
  mv "$to.partial" "$to"
}
for kind in standard tiny; do
  root=$data_root
  [ "$kind" = standard ] || root=$tiny_root
  if [ ! -e "$root" ] && [ "$dry_run" = 0 ]; then
    echo "== generating the $kind demo data in $root"
    "$svanet_bin" demo-data -o "$root" --kind "$kind"
  fi
  [ "$dry_run" = 1 ] || [ -d "$root" ] || experiments_die "'$root' is not a folder"
  name=demo
  [ "$kind" = standard ] || name=tiny
  for row in "${trained_rows[@]}"; do
    add_run_on "$root" "$name/$row" "configs/small_objects/$row.yaml"
  done
done
run_all
for name in demo tiny; do
  derive_calibrated "$name"
  [ ! -d "$out_root/$name/calibrated" ] || [ "$(run_state "$name/calibrated")" = complete ] ||
    "$svanet_bin" train --resume "$out_root/$name/calibrated" || failed+=("$name/calibrated")
done
for name in demo tiny; do
  aggregate "study_$name" "$name/baseline" "${rows[@]/#/$name/}"
done
experiments_finish
