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
# 3. runs the *_CUDA tests, then every other core test;
# 4. times svanet_r50 at 512x512 with bench_forward: a batch-1 forward and a
#    batch-4 training step, in fp32 and under bf16 autocast;
# 5. prints one summary table (also in $build_dir/gpu_check/summary.md).
#
# Environment: SVANET_GPU_BUILD_DIR (default build-gpu), SVANET_GPU_DEVICE
# (default cuda:0), SVANET_GPU_REPEATS (timed runs, default 10),
# SVANET_GPU_MODEL and SVANET_GPU_SIZE (default svanet_r50, 512),
# SVANET_TORCH_PREFIX (LibTorch's CMake prefix instead of asking Python),
# SVANET_GPU_CMAKE_ARGS (more configure arguments, split at spaces).
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
  root=$PWD/$build_dir/cuda-root
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
say "building svanet_core_tests and bench_forward with $(nproc) jobs ($(elapsed) s)"
if ! cmake --build "$build_dir" --parallel "$(nproc)" --target svanet_core_tests bench_forward \
  >"$logs/build.log" 2>&1; then
  grep -E 'error|Error' "$logs/build.log" | head -30 >&2
  die "the build failed (whole log: $logs/build.log)"
fi
build_seconds=$(elapsed)

# --- 3. Tests -----------------------------------------------------------------
tests=$build_dir/tests/svanet_core_tests
status=0
# "passed failed skipped" from a GoogleTest run's summary.
counts() {
  local log=$1 passed failed skipped
  passed=$(sed -nE 's/^\[  PASSED  \] ([0-9]+) tests?.*/\1/p' "$log" | tail -1)
  failed=$(sed -nE 's/^\[  FAILED  \] ([0-9]+) tests?, listed below.*/\1/p' "$log" | tail -1)
  skipped=$(sed -nE 's/^\[  SKIPPED \] ([0-9]+) tests?, listed below.*/\1/p' "$log" | tail -1)
  echo "${passed:-0} ${failed:-0} ${skipped:-0}"
}
say "running the _CUDA tests ($(elapsed) s)"
"$tests" --gtest_filter='*_CUDA' >"$logs/cuda_tests.log" 2>&1 || status=1
read -r cuda_passed cuda_failed cuda_skipped < <(counts "$logs/cuda_tests.log")
grep -E '^\[  FAILED  \] [A-Za-z]|^parity ' "$logs/cuda_tests.log" >&2
say "running the other core tests ($(elapsed) s)"
"$tests" --gtest_filter='-*_CUDA:*Slow.*' >"$logs/core_tests.log" 2>&1 || status=1
read -r core_passed core_failed core_skipped < <(counts "$logs/core_tests.log")
grep -E '^\[  FAILED  \] [A-Za-z]' "$logs/core_tests.log" >&2
if [[ $cuda_passed -eq 0 || $cuda_skipped -gt 0 ]]; then
  say "_CUDA tests skipped or none passed: is the GPU visible to LibTorch? (see $logs/cuda_tests.log)"
  status=1
fi

# --- 4. Benchmarks ------------------------------------------------------------
bench=$build_dir/benchmarks/bench_forward
rows=()
for run in "forward 1" "train 4"; do
  read -r mode batch <<<"$run"
  for precision in fp32 bf16; do
    name=${mode}_${precision}
    args=(--model "$model" --size "$size" --batch "$batch" --device "$device" --precision "$precision"
      --repeats "$repeats" --warmup 3 --threads "$(nproc)")
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
done

# --- 5. Summary ---------------------------------------------------------------
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
  echo "| $model ${size}x$size | batch | precision | median s | min-max s | images/s | peak CUDA MiB | TFLOP/s |"
  echo "|---|---|---|---|---|---|---|---|"
  for row in "${rows[@]}"; do
    if [[ -n $(field failed "$row") ]]; then
      echo "| $(field mode "$row") | $(field batch "$row") | $(field precision "$row") | failed | | | | |"
      continue
    fi
    echo "| $(field mode "$row") | $(field batch "$row") | $(field precision "$row") |" \
      "$(field median_s "$row") | $(field min_s "$row")-$(field max_s "$row") |" \
      "$(field images_per_s "$row") | $(field peak_cuda_mib "$row") | $(field tflops "$row") |"
  done
  echo
  echo "TFLOP/s = 2 x counted MACs (forward; x3 for a training step) / median time."
  [[ $status -eq 0 ]] && echo "result: PASSED" || echo "result: FAILED (logs in $logs)"
} | tee "$logs/summary.md"
exit $status
