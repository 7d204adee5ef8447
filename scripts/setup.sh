#!/usr/bin/env bash
# Installs what valley needs on a Debian machine and builds it.  Idempotent; silent when all is
# present.  Usage: scripts/setup.sh [--tests] [BUILD_DIR]   (default: build)
#   --tests  also installs what only the tests need (clang and its OpenMP runtime, for the
#            second-compiler sanitizer build; chromium, to open valley check's report headless;
#            Open MPI, for the build with -DVALLEY_MPI=ON that scripts/test.sh checks; valgrind,
#            for scripts/memcheck.sh and its subset in scripts/test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."

# Build and run time:  compilers, CMake, GSL, zlib, OpenBLAS (CBLAS for the networks), gnuplot; dataset-fashion-mnist (the
#                      Fashion-MNIST IDX files in /usr/share/datasets/fashion-mnist, 30 MB: the
#                      data of the network experiments, and of tests/test_idx.c's checks).
# Tests:               libpcg-cpp-dev (bit-for-bit PCG reference), python3-mpmath (reference
#                      constants), python3-numpy (benchmark reference), clang (second compiler).
pkgs=(build-essential g++ cmake pkg-config libgsl-dev zlib1g-dev libopenblas-dev gnuplot-nox
      libpcg-cpp-dev python3 python3-mpmath python3-numpy dataset-fashion-mnist)
tests=0
if [ "${1:-}" = "--tests" ]; then
  tests=1
  shift
fi
[ $tests -eq 1 ] && pkgs+=(clang libomp-dev chromium libopenmpi-dev openmpi-bin valgrind)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq >/dev/null
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

build=${1:-build}
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build "$build" -j "$(nproc)" >/dev/null
