#!/usr/bin/env bash
# svanet and the official SvANet code side by side in one sitting on this
# machine: the same ATen (Debian's python3-torch is the LibTorch svanet links
# against), the same threads, alternating runs, ROUNDS rounds (default 2).
#
#   bash benchmarks/compare_official.sh /path/to/official/SvANet [BUILD_DIR]
#
# Rows: svanet_r50 and deeplabv3_r50 forward at 512² (batch 1), svanet_r50
# and svanet_r18 training steps at 256² (batch 4, cross-entropy + AdamW).
# Each is run as the official code (fp32) and as svanet in fp32, with bf16
# autocast and channels-last on both sides where the CPU computes bf16
# natively (svanet's inference default there), and for the training steps
# svanet with train.activation_checkpointing all, alone and with
# train.optimizer_in_backward. svanet's programs keep freed memory in
# glibc's heap for reuse (svanet/runtime/heap.h); the official code is also
# run once per row with the same heap settings (GLIBC_TUNABLES), so that the
# table shows what that part is worth. Prints every run, then a table of
# medians over the rounds (each cell lists the rounds' medians) with
# svanet's speed-up (official time / svanet time) and memory ratio (svanet
# peak RSS / official peak RSS).
#
# Needs Debian's python3-torch (apt install python3-torch) and a checkout of
# github.com/anthonyweidai/SvANet. Its imports of einops, timm, imgviz and
# imageio.v3 are not used on the model's path; stand-ins for them are made in
# a temporary folder. Takes about 35 minutes on a 2-core machine.
set -euo pipefail
official=${1:?usage: compare_official.sh OFFICIAL_SRC [BUILD_DIR]}
build=${2:-build}
rounds=${ROUNDS:-2}
threads=${THREADS:-2}
here=$(cd "$(dirname "$0")" && pwd)
bench="$build/benchmarks/bench_forward"
# shellcheck source=benchmarks/official/stubs.sh
source "$here/official/stubs.sh"
check_official_setup "$bench" "$official"
python=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stubs="$work/stubs"
make_official_stubs "$stubs"
root=$(cd "$official" && pwd)
results="$work/results"
: > "$results"

bf16=no
grep -qE '\b(avx512_bf16|amx_bf16)\b' /proc/cpuinfo && bf16=yes
# svanet's heap settings (svanet/runtime/heap.h) as glibc's tunables.
heap_tunables=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736

# run ROW VARIANT ROUND SIDE ARGS...: one timed process; its human line is
# printed, its result line kept with the row, variant and round.
run() {
  local row=$1 variant=$2 round=$3 side=$4
  shift 4
  local out="$work/out"
  local tunables=
  [ "$variant" = fp32-heap ] && tunables=$heap_tunables
  if [ "$side" = official ]; then
    (cd "$root" && GLIBC_TUNABLES=$tunables PYTHONPATH="$stubs:$root" "$python" \
      "$here/official/time_official.py" --threads "$threads" "$@") > "$out" 2>&1 ||
      { cat "$out"; echo "error: official run failed" >&2; exit 1; }
  else
    "$bench" --threads "$threads" "$@" > "$out" 2>&1 || { cat "$out"; echo "error: $bench failed" >&2; exit 1; }
  fi
  awk '!/^result:/ && !/^  on / { print; exit }' "$out"
  sed -n "s/^result: /row=$row variant=$variant round=$round side=$side /p" "$out" >> "$results"
}

# Each row: NAME|official args|svanet args|repeats
rows=(
  "svanet_r50 forward 512², batch 1|--encoder resnet50 --size 512|--model svanet_r50 --size 512|3"
  "deeplabv3_r50 forward 512², batch 1|--guide 0 --size 512|--model deeplabv3_r50 --size 512|5"
  "svanet_r50 training step 256², batch 4|--encoder resnet50 --size 256 --batch 4 --train|--model svanet_r50 --size 256 --batch 4 --train|3"
  "svanet_r18 training step 256², batch 4|--encoder resnet18 --size 256 --batch 4 --train|--model svanet_r18 --size 256 --batch 4 --train|3"
)

grep -m1 "model name" /proc/cpuinfo || true
echo "threads $threads, rounds $rounds, native bf16: $bf16, $("$python" -c 'import torch; print("torch", torch.__version__)')"
for round in $(seq 1 "$rounds"); do
  echo "== round $round"
  for i in "${!rows[@]}"; do
    IFS='|' read -r _ off_args sva_args repeats <<< "${rows[$i]}"
    # shellcheck disable=SC2086 # the args are word lists
    {
      run "$i" fp32 "$round" official $off_args --repeats "$repeats"
      run "$i" fp32 "$round" svanet $sva_args --repeats "$repeats"
      run "$i" fp32-heap "$round" official $off_args --repeats "$repeats"
      if [ "$bf16" = yes ]; then
        run "$i" bf16-cl "$round" official $off_args --repeats "$repeats" --precision bf16 --channels-last
        run "$i" bf16-cl "$round" svanet $sva_args --repeats "$repeats" --precision bf16 --channels-last
      fi
      case "$sva_args" in
        *--train*)
          run "$i" fp32-ckpt "$round" svanet $sva_args --repeats "$repeats" --checkpointing all
          run "$i" fp32-lean "$round" svanet $sva_args --repeats "$repeats" --checkpointing all \
            --optimizer-in-backward
          ;;
      esac
    }
  done
done

echo
echo "Medians over $rounds rounds (each round's median in brackets); speed-up = official s / svanet s;"
echo "memory = svanet peak RSS / official peak RSS (official: fp32, or bf16 channels-last for the bf16 rows)."
echo "svanet keeps freed memory in its heap (SVANET_MALLOC=system to turn that off); the official code"
echo "runs with glibc's defaults, and once with svanet's heap settings (GLIBC_TUNABLES=$heap_tunables)."
echo
echo "| what | official | svanet | speed-up | memory |"
echo "|---|---|---|---|---|"
names=$(printf '%s\n' "${rows[@]}" | cut -d'|' -f1)
awk -v names="$names" '
  function field(key,   i, n, kv) {
    for (i = 1; i <= NF; i++) { n = split($i, kv, "="); if (kv[1] == key) return kv[2] }
    return ""
  }
  function rounded(list,   a, n, i, out) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) out = out (i > 1 ? " " : "") sprintf("%.2f", a[i])
    return out
  }
  function median(list,   a, n, i, j, t) {
    n = split(list, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  BEGIN {
    split(names, label, "\n")
    description["fp32"] = "fp32"
    description["fp32-heap"] = "fp32, the official code with svanet'"'"'s heap settings"
    description["bf16-cl"] = "bf16 channels-last"
    description["fp32-ckpt"] = "fp32, svanet with activation checkpointing all"
    description["fp32-lean"] = "fp32, svanet with activation checkpointing all and the optimizer step in the backward pass"
  }
  {
    key = field("row") SUBSEP field("variant") SUBSEP field("side")
    t[key] = t[key] (t[key] == "" ? "" : " ") field("median_s")
    m[key] = m[key] (m[key] == "" ? "" : " ") field("peak_rss_mib")
    if (!(field("row") SUBSEP field("variant") in seen)) {
      seen[field("row") SUBSEP field("variant")] = 1
      order[++count] = field("row") SUBSEP field("variant")
    }
  }
  END {
    for (c = 1; c <= count; c++) {
      split(order[c], rv, SUBSEP)
      row = rv[1]; variant = rv[2]
      # The official run and the svanet run each row sets side by side.
      off = variant ~ /^fp32-(ckpt|lean)$/ ? "fp32" : variant
      sva = variant == "fp32-heap" ? "fp32" : variant
      o = row SUBSEP off SUBSEP "official"; s = row SUBSEP sva SUBSEP "svanet"
      if (!(s in t) || !(o in t)) continue
      what = label[row + 1] ", " description[variant]
      ot = median(t[o]); st = median(t[s]); om = median(m[o]); sm = median(m[s])
      printf "| %s | %.2f s [%s], %.1f GiB | %.2f s [%s], %.1f GiB | %.2fx | %.2fx |\n",
        what, ot, rounded(t[o]), om / 1024, st, rounded(t[s]), sm / 1024, ot / st, sm / om
      if (variant == "bf16-cl" && label[row + 1] ~ /forward/) {
        # Each side as it runs by default: the official code in fp32,
        # svanet in bf16 channels-last (on CPUs with native bf16).
        o = row SUBSEP "fp32" SUBSEP "official"
        if (o in t) {
          ot = median(t[o]); om = median(m[o])
          printf "| %s, svanet bf16 channels-last (its default here) vs official fp32 (its default) | %.2f s, %.1f GiB | %.2f s, %.1f GiB | %.2fx | %.2fx |\n",
            label[row + 1], ot, om / 1024, st, sm / 1024, ot / st, sm / om
        }
      }
    }
  }' "$results"
