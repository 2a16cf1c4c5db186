#!/usr/bin/env bash
# Installs svanet's build and runtime dependencies from Debian's packages
# (Debian 12 "bookworm" or newer). Safe to run again.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libtorch-dev            # LibTorch 1.13 (CPU)
  libgloo-dev             # headers of LibTorch's Gloo backend (multi-process training)
  libopenblas0-openmp     # fast BLAS for LibTorch (the reference BLAS is ~4x slower)
  libopencv-dev
  libyaml-cpp-dev
  libspdlog-dev
  libcli11-dev
  nlohmann-json3-dev
  libnifti2-dev           # NIfTI volumes for slice-volumes
  zlib1g-dev
  googletest libgtest-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
echo "install_deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
