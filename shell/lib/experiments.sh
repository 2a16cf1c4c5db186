# Shared by the study scripts (main.sh, ablation.sh, ablation_extra.sh,
# demo_ablation.sh); sourced, not run. A script declares its runs with
# `add_run`, then calls `run_all` and `aggregate`:
#
#   experiments_init "$@"                 # flags and environment (below)
#   add_run spermhealth/full configs/ablation/full.yaml --set data.dataset=spermhealth
#   run_all                               # this shard's runs: skip, resume or train
#   aggregate spermhealth full spermhealth/full spermhealth/no_svattn ...
#
# Every run is a folder OUT/NAME trained by `svanet train`: a complete one
# (its test evaluation written) is skipped, one with a config.yaml is
# resumed, any other is trained from its config. Only svanet commands run.
#
# Flags (or environment variables) every script takes:
#   --data ROOT     (SVANET_DATA)    the dataset root the configs train on
#   --out ROOT      (SVANET_OUT)     where the runs and the tables go
#   --shard I/N     (SVANET_SHARD)   run only every N-th run, from the I-th
#                                    (1-based), so N machines share a study
#   --dry-run                        list the runs, their state and shard
#   --light                          (ablation scripts) configs/ablation/light/
#   -- FLAGS...                      more `svanet train` flags for new runs
# and SVANET (the svanet program; default BUILD/src/svanet with BUILD from
# SVANET_BUILD_DIR or build) and SVANET_TINY_OBJECTS (the tiny-objects tool).

set -euo pipefail

experiments_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
svanet_bin="${SVANET:-$experiments_root/${SVANET_BUILD_DIR:-build}/src/svanet}"
tiny_bin="${SVANET_TINY_OBJECTS:-$experiments_root/${SVANET_BUILD_DIR:-build}/tools/svanet-tiny-objects}"

data_root="${SVANET_DATA:-}"
out_root="${SVANET_OUT:-}"
shard="${SVANET_SHARD:-1/1}"
dry_run=0
light=0
accepts_light=${accepts_light:-0}
positional=()
extra=()
run_names=()
run_configs=()
run_flags=()
run_data=()
failed=()

experiments_die() {
  echo "$(basename "$0"): $*" >&2
  exit 2
}

# The flags above; anything else positional is left in `positional`.
experiments_init() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --data) [ $# -ge 2 ] || experiments_die "--data needs a folder"; data_root=$2; shift 2 ;;
      --data=*) data_root=${1#--data=}; shift ;;
      --out | -o) [ $# -ge 2 ] || experiments_die "$1 needs a folder"; out_root=$2; shift 2 ;;
      --out=*) out_root=${1#--out=}; shift ;;
      --shard) [ $# -ge 2 ] || experiments_die "--shard needs I/N"; shard=$2; shift 2 ;;
      --shard=*) shard=${1#--shard=}; shift ;;
      --dry-run) dry_run=1; shift ;;
      --light)
        [ "$accepts_light" = 1 ] || experiments_die "unknown flag '--light' (--help lists the flags)"
        light=1; shift ;;
      -h | --help) usage; exit 0 ;;
      --) shift; extra=("$@"); break ;;
      -*) experiments_die "unknown flag '$1' (--help lists the flags)" ;;
      *) positional+=("$1"); shift ;;
    esac
  done
  [ -n "$data_root" ] || experiments_die "no dataset root: --data ROOT or SVANET_DATA (--help)"
  [ -n "$out_root" ] || experiments_die "no output root: --out ROOT or SVANET_OUT (--help)"
  if ! [[ "$shard" =~ ^([0-9]+)/([0-9]+)$ ]] || [ "${BASH_REMATCH[2]}" -lt 1 ] ||
     [ "${BASH_REMATCH[1]}" -lt 1 ] || [ "${BASH_REMATCH[1]}" -gt "${BASH_REMATCH[2]}" ]; then
    experiments_die "--shard '$shard': expected I/N with 1 <= I <= N, e.g. 1/2"
  fi
  shard_index=$((BASH_REMATCH[1] - 1))
  shard_count=${BASH_REMATCH[2]}
  [ -x "$svanet_bin" ] || experiments_die "no svanet program at $svanet_bin (build it: bash shell/build.sh, or set SVANET)"
  ablation_configs=configs/ablation
  [ "$light" = 0 ] || ablation_configs=configs/ablation/light
}

require_data() {
  [ -d "$data_root" ] || experiments_die "--data '$data_root' is not a folder"
}

# add_run NAME CONFIG [svanet train flags...]: one run, trained into
# OUT/NAME on --data ROOT. The same NAME in two scripts is the same run
# (trained once).
add_run() {
  add_run_on "$data_root" "$@"
}

# add_run_on DATA NAME CONFIG [svanet train flags...]: add_run on another
# dataset root than --data.
add_run_on() {
  local data=$1 name=$2 config=$3
  shift 3
  local i
  for i in "${!run_names[@]}"; do
    [ "${run_names[$i]}" != "$name" ] || return 0
  done
  [ -f "$experiments_root/$config" ] || experiments_die "no config file $config"
  run_names+=("$name")
  run_configs+=("$config")
  run_data+=("$data")
  local flags=""
  [ $# -eq 0 ] || flags=$(printf '%q ' "$@")
  run_flags+=("$flags")
}

# complete | interrupted | new
run_state() {
  local dir="$out_root/$1"
  if [ -f "$dir/repeats.json" ] || [ -f "$dir/eval_test/summary.json" ]; then
    echo complete
  elif [ -f "$dir/config.yaml" ]; then
    echo interrupted
  else
    echo new
  fi
}

# Trains, resumes or skips this shard's runs. A failed run is reported and
# the others go on; an interrupted one (Ctrl-C) stops the script.
run_all() {
  local i name dir state status
  for i in "${!run_names[@]}"; do
    name=${run_names[$i]}
    dir="$out_root/$name"
    state=$(run_state "$name")
    if [ "$dry_run" = 1 ]; then
      printf '%-44s %-11s shard %d/%d%s\n' "$name" "$state" $((i % shard_count + 1)) "$shard_count" \
        "$([ $((i % shard_count)) -eq "$shard_index" ] && echo " (this one)")"
      continue
    fi
    [ $((i % shard_count)) -eq "$shard_index" ] || continue
    status=0
    case "$state" in
      complete) echo "== $name: complete, skipped"; continue ;;
      interrupted)
        echo "== $name: resuming"
        "$svanet_bin" train --resume "$dir" || status=$? ;;
      new)
        echo "== $name: training ${run_configs[$i]}"
        mkdir -p "$(dirname "$dir")"
        eval "local flags=(${run_flags[$i]})"
        "$svanet_bin" train -c "$experiments_root/${run_configs[$i]}" --data "${run_data[$i]}" -o "$dir" \
          ${flags[@]+"${flags[@]}"} ${extra[@]+"${extra[@]}"} || status=$? ;;
    esac
    if [ "$status" -eq 130 ]; then
      echo "== $name: interrupted; run the same command again to resume it" >&2
      exit 130
    fi
    if [ "$status" -ne 0 ]; then
      echo "== $name: failed (exit status $status); the other runs go on" >&2
      failed+=("$name")
    fi
  done
}

# aggregate TABLE REFERENCE RUN...: `svanet study` over the complete runs
# among RUN... into OUT/TABLE (study.md, .csv, .tex, .png), with the
# differences to REFERENCE (when complete). Incomplete runs are listed.
aggregate() {
  local table=$1 reference=$2
  shift 2
  [ "$dry_run" = 0 ] || return 0
  local dirs=() missing=() name have_reference=0
  for name in "$@"; do
    if [ "$(run_state "$name")" = complete ]; then
      dirs+=("$out_root/$name")
      [ "$name" != "$reference" ] || have_reference=1
    else
      missing+=("$name")
    fi
  done
  [ ${#missing[@]} -eq 0 ] || echo "== $table: not complete yet: ${missing[*]}"
  if [ ${#dirs[@]} -eq 0 ]; then
    echo "== $table: no complete run to aggregate"
    return 0
  fi
  local ref=()
  [ "$have_reference" = 0 ] || ref=(--reference "$(basename "$reference")")
  echo "== $table: ${#dirs[@]} run(s) -> $out_root/$table"
  "$svanet_bin" study "${dirs[@]}" ${ref[@]+"${ref[@]}"} -o "$out_root/$table" --overwrite
}

# tiny_tables TABLE RUN...: the official tiny-object tables of the complete
# runs among RUN... into OUT/TABLE.
tiny_tables() {
  local table=$1
  shift
  [ "$dry_run" = 0 ] || return 0
  local dirs=() name
  for name in "$@"; do
    [ "$(run_state "$name")" != complete ] || dirs+=("$out_root/$name")
  done
  [ ${#dirs[@]} -gt 0 ] || return 0
  if [ ! -x "$tiny_bin" ]; then
    echo "== $table: no svanet-tiny-objects at $tiny_bin (built with -DSVANET_BUILD_TOOLS=ON); skipped"
    return 0
  fi
  "$tiny_bin" "${dirs[@]}" -o "$out_root/$table" --overwrite
}

# The exit status of a study: 1 when a run failed.
experiments_finish() {
  if [ ${#failed[@]} -gt 0 ]; then
    echo "failed: ${failed[*]} (their train.log says why; run the same command again to retry)" >&2
    return 1
  fi
  return 0
}
