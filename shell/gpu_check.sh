#!/usr/bin/env bash
# The GPU check, in one command, from the repository root of a machine with
# a GPU and PyTorch 2.x (CUDA) but none of svanet's other dependencies:
#
#   bash shell/gpu_check.sh
#
# 1. finds PyTorch's LibTorch (python3 -c 'import torch; ...'), the GPU's
#    compute capability, a CUDA toolkit (nvcc, or the headers and libraries
#    of PyTorch's nvidia-* wheels) and GoogleTest (installed, or sources in
#    third_party/googletest or /usr/src/googletest);
# 2. configures svanet::core alone (SVANET_CORE_ONLY=ON) against them and
#    builds only the core tests and bench_forward (ninja, all cores);
# 3. runs the *_CUDA tests, then every other core test (through CTest, in
#    parallel, with the GPU hidden, as on the CPU machines they were written
#    for);
# 4. times svanet_r50 at 512x512 with bench_forward: a batch-1 forward and a
#    batch-4 training step, in fp32, under bf16 autocast and bf16 with
#    channels-last, and the step also with activation checkpointing;
# 5. with SVANET_OFFICIAL_SRC naming a checkout of the official repository,
#    times the official model the same way (benchmarks/official/
#    time_official.py, under the machine's PyTorch) for the ratio;
# 6. prints one summary table (also in $build_dir/gpu_check/summary.md).
#
# Environment: SVANET_GPU_BUILD_DIR (default build-gpu), SVANET_GPU_DEVICE
# (default cuda:0), SVANET_GPU_REPEATS (timed runs, default 10),
# SVANET_GPU_TEST_JOBS (CPU tests run at once, default nproc/2),
# SVANET_GPU_MODEL and SVANET_GPU_SIZE (default svanet_r50, 512),
# SVANET_TORCH_PREFIX (LibTorch's CMake prefix instead of asking Python),
# SVANET_GPU_CMAKE_ARGS (more configure arguments, split at spaces),
# SVANET_OFFICIAL_SRC (the official repository, for step 5).
# A rehearsal on a CPU-only machine (the _CUDA tests skip, so it reports a
# failure): SVANET_GPU_DEVICE=cpu SVANET_TORCH_PREFIX=/usr
# SVANET_GPU_MODEL=svanet_test SVANET_GPU_SIZE=64 bash shell/gpu_check.sh
# Exit status: 0 when every test passed and every benchmark ran, 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
build_dir=${SVANET_GPU_BUILD_DIR:-build-gpu}
device=${SVANET_GPU_DEVICE:-cuda:0}
repeats=${SVANET_GPU_REPEATS:-10}
model=${SVANET_GPU_MODEL:-svanet_r50}
size=${SVANET_GPU_SIZE:-512}
logs=$build_dir/gpu_check
mkdir -p "$logs"
build_path=$(cd "$build_dir" && pwd)
started=$(date +%s)
say() { printf 'gpu_check: %s\n' "$*" >&2; }
die() {
  say "$*"
  exit 1
}
elapsed() { echo $(($(date +%s) - started)); }

# --- 1. What the machine has -------------------------------------------------
python=${PYTHON:-python3}
if [[ -n ${SVANET_TORCH_PREFIX:-} ]]; then
  torch_prefix=$SVANET_TORCH_PREFIX
  torch_about="(LibTorch at $torch_prefix)"
else
  torch_prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>"$logs/python.log") ||
    die "cannot import torch with $python ($(tail -1 "$logs/python.log")): this script needs PyTorch's LibTorch"
  torch_about=$("$python" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda, "available" if torch.cuda.is_available() else "NOT available")')
fi
say "PyTorch $torch_about; LibTorch CMake prefix $torch_prefix"
cuda=1
[[ $device == cpu* ]] && cuda=0
gpu_name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
capability=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' ')
if [[ -z $capability && $cuda -eq 1 ]]; then
  capability=$("$python" -c 'import torch; print("%d.%d" % torch.cuda.get_device_capability())' 2>/dev/null || echo 9.0)
fi
arch=${capability/./}
say "GPU: ${gpu_name:-none found} (compute capability ${capability:-none})"

configure_args=(-DSVANET_CORE_ONLY=ON -DSVANET_BUILD_EXAMPLES=OFF -DSVANET_INSTALL=OFF
  -DSVANET_BUILD_TOOLS=OFF "-DCMAKE_PREFIX_PATH=$torch_prefix")
if [[ -n $arch ]]; then
  configure_args+=("-DCMAKE_CUDA_ARCHITECTURES=$arch")
  export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-$capability}
fi

# CUDA: LibTorch's CMake files look for a toolkit. Take nvcc where it is;
# without one, assemble a toolkit root from PyTorch's nvidia-* wheels
# (their include/ and lib/ folders), which hold what linking needs.
nvcc=$(command -v nvcc || true)
[[ -z $nvcc && -x /usr/local/cuda/bin/nvcc ]] && nvcc=/usr/local/cuda/bin/nvcc
if [[ $cuda -eq 0 ]]; then
  say "device $device: no CUDA toolkit needed"
elif [[ -n $nvcc ]]; then
  say "CUDA toolkit: $nvcc"
  configure_args+=("-DCMAKE_CUDA_COMPILER=$nvcc" "-DCUDAToolkit_ROOT=$(dirname "$(dirname "$nvcc")")")
else
  wheels=$("$python" -c 'import nvidia, os; print(os.path.dirname(nvidia.__path__[0]) + "/nvidia")' 2>/dev/null || true)
  [[ -n $wheels && -d $wheels ]] ||
    die "no nvcc and no nvidia-* wheels beside PyTorch: install a CUDA toolkit matching PyTorch's CUDA ($torch_about)"
  root=$build_path/cuda-root
  rm -rf "$root"
  mkdir -p "$root/include" "$root/lib64" "$root/bin"
  for package in "$wheels"/*/; do
    [[ -d $package/include ]] && cp -rs "$package/include/." "$root/include/" 2>/dev/null
    if [[ -d $package/lib ]]; then
      for library in "$package"/lib/*.so*; do
        [[ -e $library ]] || continue
        ln -sf "$library" "$root/lib64/$(basename "$library")"
        # libcudart.so.12 -> libcudart.so, as a toolkit has it.
        unversioned=$(basename "$library" | sed -E 's/\.so\..*$/.so/')
        [[ -e $root/lib64/$unversioned ]] || ln -sf "$library" "$root/lib64/$unversioned"
      done
    fi
  done
  say "no nvcc: using the nvidia-* wheels in $wheels as the CUDA toolkit ($root)"
  configure_args+=("-DCUDAToolkit_ROOT=$root" "-DCUDA_TOOLKIT_ROOT_DIR=$root")
  export CUDA_HOME=$root CUDA_PATH=$root
fi

# GoogleTest: tests/CMakeLists.txt builds it from sources when none is
# installed (third_party/googletest or /usr/src/googletest).
if [[ -n ${SVANET_GTEST_SOURCE_DIR:-} ]]; then
  configure_args+=("-DSVANET_GTEST_SOURCE_DIR=$SVANET_GTEST_SOURCE_DIR")
fi
read -r -a extra <<<"${SVANET_GPU_CMAKE_ARGS:-}"
configure_args+=("${extra[@]}")

# --- 2. Configure and build ---------------------------------------------------
say "configuring $build_dir ($(elapsed) s)"
if ! cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "${configure_args[@]}" \
  >"$logs/configure.log" 2>&1; then
  tail -40 "$logs/configure.log" >&2
  die "configuring failed (whole log: $logs/configure.log)"
fi
say "building the core tests and bench_forward with $(nproc) jobs ($(elapsed) s)"
# -k 0: every file that fails is reported in one run, not the first only.
if ! cmake --build "$build_dir" --parallel "$(nproc)" --target svanet_core_tests \
  svanet_linking_tests svanet_linking_control bench_forward -- -k 0 >"$logs/build.log" 2>&1; then
  grep -E -A3 'error:|Error [0-9]|FAILED:' "$logs/build.log" | head -120 >&2
  die "the build failed (whole log: $logs/build.log)"
fi
build_seconds=$(elapsed)

# --- 3. Tests -----------------------------------------------------------------
status=0
# Through CTest, one process per test: a test that crashes is counted and
# named, and the others still run. "passed failed skipped" from its log.
counts() {
  local log=$1 total failed skipped
  total=$(sed -nE 's/.* tests? failed out of ([0-9]+).*/\1/p' "$log" | tail -1)
  failed=$(sed -nE 's/.* ([0-9]+) tests? failed out of .*/\1/p' "$log" | tail -1)
  skipped=$(grep -cE '^[[:space:]]*[0-9]+ - .*\(Skipped\)' "$log")
  total=${total:-0} failed=${failed:-0}
  echo "$((total - failed - skipped)) $failed $skipped"
}
failures() { grep -E '^[[:space:]]*[0-9]+ - .*\((Failed|SEGFAULT|Subprocess|Timeout|Exception|Child|Not Run)' "$1" >&2; }
say "running the _CUDA tests ($(elapsed) s)"
ctest --test-dir "$build_dir" -L core -LE slow -R '_CUDA$' --timeout 600 -V >"$logs/cuda_tests.log" 2>&1 ||
  status=1
read -r cuda_passed cuda_failed cuda_skipped < <(counts "$logs/cuda_tests.log")
sed -nE 's/^[0-9]+: (parity .*)/\1/p' "$logs/cuda_tests.log" >&2
failures "$logs/cuda_tests.log"
# The other tests with the GPU hidden, as on the CPU machines they were
# written for, two threads each: tiny models use few cores.
jobs=${SVANET_GPU_TEST_JOBS:-$(($(nproc) / 2))}
((jobs < 1)) && jobs=1
say "running the other core tests, $jobs at a time ($(elapsed) s)"
CUDA_VISIBLE_DEVICES='' OMP_NUM_THREADS=2 ctest --test-dir "$build_dir" -L core -LE slow -E '_CUDA$' \
  -j "$jobs" --timeout 600 --output-on-failure >"$logs/core_tests.log" 2>&1 || status=1
read -r core_passed core_failed core_skipped < <(counts "$logs/core_tests.log")
failures "$logs/core_tests.log"
if [[ $cuda_passed -eq 0 || $cuda_skipped -gt 0 ]]; then
  say "_CUDA tests skipped or none passed: is the GPU visible to LibTorch? (see $logs/cuda_tests.log)"
  status=1
fi

# --- 4. Benchmarks ------------------------------------------------------------
bench=$build_dir/benchmarks/bench_forward
rows=()
# mode, batch, precision, then bench_forward's flags for the layout and
# activation checkpointing.
for run in "forward 1 fp32" "forward 1 bf16" "forward 1 bf16 --channels-last" \
  "train 4 fp32" "train 4 bf16" "train 4 bf16 --channels-last" \
  "train 4 bf16 --checkpointing all"; do
  read -r mode batch precision more <<<"$run"
  read -r -a more <<<"${more:-}"
  name=$(tr -c 'a-z0-9\n' _ <<<"${mode}_${precision}_${more[*]}" | sed 's/_*$//')
  args=(--model "$model" --size "$size" --batch "$batch" --device "$device" --precision "$precision"
    --repeats "$repeats" --warmup 3 --threads "$(nproc)" "${more[@]}")
  [[ $mode == train ]] && args+=(--train)
  say "bench_forward ${args[*]} ($(elapsed) s)"
  if "$bench" "${args[@]}" >"$logs/bench_$name.log" 2>&1; then
    rows+=("$(grep '^result:' "$logs/bench_$name.log" | tail -1)")
  else
    tail -5 "$logs/bench_$name.log" >&2
    rows+=("result: mode=$mode precision=$precision batch=$batch failed=see_$logs/bench_$name.log")
    status=1
  fi
done

# --- 5. The official code, the same way (optional) ----------------------------
official_rows=()
official=${SVANET_OFFICIAL_SRC:-}
case $model in
  svanet_r*) official_args=(--encoder "resnet${model#svanet_r}" --guide 2) ;;
  deeplabv3_r*) official_args=(--encoder "resnet${model#deeplabv3_r}" --guide 0) ;;
  *) official_args=() ;;
esac
if [[ -n $official && ! -f $official/opts.py ]]; then
  say "SVANET_OFFICIAL_SRC=$official: not the official repository (no opts.py)"
  status=1
elif [[ -n $official && ${#official_args[@]} -eq 0 ]]; then
  say "the official code has no $model: its timing skipped"
elif [[ -n $official ]]; then
  # shellcheck source=benchmarks/official/stubs.sh
  source benchmarks/official/stubs.sh
  stubs=$build_path/official-stubs
  make_official_stubs "$stubs"
  timer=$PWD/benchmarks/official/time_official.py
  for run in "forward 1 fp32" "forward 1 bf16" "train 4 fp32" "train 4 bf16"; do
    read -r mode batch precision <<<"$run"
    args=(--device "$device" --size "$size" --batch "$batch" --precision "$precision"
      --repeats "$repeats" --warmup 3 --threads "$(nproc)" "${official_args[@]}")
    [[ $mode == train ]] && args+=(--train)
    say "official: time_official.py ${args[*]} ($(elapsed) s)"
    if (cd "$official" && PYTHONPATH="$stubs:$PWD" "$python" "$timer" "${args[@]}") \
      >"$logs/official_${mode}_$precision.log" 2>&1; then
      official_rows+=("$(grep '^result:' "$logs/official_${mode}_$precision.log" | tail -1)")
    else
      tail -5 "$logs/official_${mode}_$precision.log" >&2
      official_rows+=("result: mode=$mode precision=$precision batch=$batch failed=yes")
      status=1
    fi
  done
fi

# --- 6. Summary ---------------------------------------------------------------
field() { sed -nE "s/.* $1=([^ ]+).*/\1/p" <<<" $2"; }
{
  echo "# svanet GPU check"
  echo
  echo "device $device; GPU: ${gpu_name:-none} (compute capability ${capability:-none}); PyTorch $torch_about"
  echo "build: $build_seconds s (configure + build), whole check: $(elapsed) s"
  echo
  echo "| tests | passed | failed | skipped |"
  echo "|---|---|---|---|"
  echo "| _CUDA | $cuda_passed | $cuda_failed | $cuda_skipped |"
  echo "| core (CPU) | $core_passed | $core_failed | $core_skipped |"
  echo
  echo "| $model ${size}x$size | batch | precision | layout | checkpointing | median s | min-max s | images/s | peak CUDA MiB | TFLOP/s |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for row in "${rows[@]}"; do
    if [[ -n $(field failed "$row") ]]; then
      echo "| $(field mode "$row") | $(field batch "$row") | $(field precision "$row") | | | failed | | | | |"
      continue
    fi
    echo "| $(field mode "$row") | $(field batch "$row") | $(field precision "$row") |" \
      "$(field layout "$row") | $(field checkpointing "$row") |" \
      "$(field median_s "$row") | $(field min_s "$row")-$(field max_s "$row") |" \
      "$(field images_per_s "$row") | $(field peak_cuda_mib "$row") | $(field tflops "$row") |"
  done
  if ((${#official_rows[@]})); then
    echo
    echo "| official $model ${size}x$size | batch | precision | median s | min-max s | images/s | peak CUDA MiB | svanet's speed-up |"
    echo "|---|---|---|---|---|---|---|---|"
    for row in "${official_rows[@]}"; do
      mode=$(field mode "$row") precision=$(field precision "$row")
      if [[ -n $(field failed "$row") ]]; then
        echo "| $mode | $(field batch "$row") | $precision | failed | | | | |"
        continue
      fi
      # Against svanet's row of the same mode and precision, contiguous,
      # without checkpointing.
      ours=""
      for mine in "${rows[@]}"; do
        if [[ $(field mode "$mine") == "$mode" && $(field precision "$mine") == "$precision" &&
          $(field layout "$mine") == contiguous && $(field checkpointing "$mine") == none ]]; then
          ours=$(field median_s "$mine")
        fi
      done
      ratio=$(awk -v o="$(field median_s "$row")" -v s="$ours" 'BEGIN { if (s > 0) printf "%.2fx", o / s }')
      echo "| $mode | $(field batch "$row") | $precision | $(field median_s "$row") |" \
        "$(field min_s "$row")-$(field max_s "$row") | $(field images_per_s "$row") |" \
        "$(field peak_cuda_mib "$row") | $ratio |"
    done
  fi
  echo
  echo "TFLOP/s = 2 x counted MACs (forward; x3 for a training step) / median time."
  [[ $status -eq 0 ]] && echo "result: PASSED" || echo "result: FAILED (logs in $logs)"
} | tee "$logs/summary.md"
exit $status
