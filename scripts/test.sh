#!/usr/bin/env bash
# Every test: install what is missing, build with gcc (Release) and run ctest; then build with
# clang under AddressSanitizer and UndefinedBehaviorSanitizer (-O1, debug info), with the fuzz
# harnesses (-DVALLEY_FUZZ=ON, a short libFuzzer session each), and run ctest again; then once
# more with gcc and OpenMP off (the serial build must stay warning-free); then,
# when Open MPI is installed (mpicc), the CLI alone with -DVALLEY_MPI=ON and its MPI test
# (theorem1, theorem2, the Langevin ensembles and grid sweeps under mpirun against the
# single-process run, docs/mpi.md).
# The serial build is also built for the generic x86-64 instruction set (-DVALLEY_NATIVE=OFF), so
# that valgrind can run it: a fast subset runs under valgrind memcheck in it (scripts/memcheck.sh
# --quick; the whole suite under valgrind is scripts/memcheck.sh, docs/reliability.md).
# The CUDA probe is compiled (when nvcc is present) and its test run (skipped without a GPU) in
# the first build only; the experiments' quick runs (issue 6) run in the first two builds.
# Each stage ends with its seconds (build, tests).
set -euo pipefail
cd "$(dirname "$0")/.."
t=$SECONDS
scripts/setup.sh --tests build
jobs=$(nproc)
# stage_time NAME START MIDDLE: the seconds from START to MIDDLE (the build) and to now (the tests).
stage_time() { echo "== $1: build $(($3 - $2)) s, tests $((SECONDS - $3)) s =="; }
# ctest runs two programs at once and each may start OpenMP threads: idle threads sleep instead
# of spinning, so that oversubscribed cores are not burnt waiting.
export OMP_WAIT_POLICY=PASSIVE
echo "== gcc, Release =="
b=$SECONDS
ctest --test-dir build --output-on-failure -j "$jobs"
stage_time "gcc, Release" "$t" "$b"
echo "== clang, AddressSanitizer + UndefinedBehaviorSanitizer =="
# -DVALLEY_FUZZ=ON: also the libFuzzer harnesses of the parsers, each run briefly by ctest
# (fuzz_<name>, deterministic -runs=N -seed=1; docs/reliability.md)
t=$SECONDS
if [ ! -f build-sanitize/CMakeCache.txt ]; then
  CC=clang CXX=clang++ cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_C_FLAGS_DEBUG="-g -O1" -DVALLEY_CUDA=OFF -DVALLEY_SANITIZE=address,undefined \
    -DVALLEY_FUZZ=ON >/dev/null
else
  cmake build-sanitize -DVALLEY_FUZZ=ON >/dev/null
fi
cmake --build build-sanitize -j "$jobs" >/dev/null
b=$SECONDS
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-sanitize --output-on-failure -j "$jobs" -E '^(bench_run|check_browser)$'
stage_time "clang, ASan + UBSan" "$t" "$b"
echo "== gcc, without OpenMP (VALLEY_OPENMP=OFF), generic x86-64 (VALLEY_NATIVE=OFF) =="
t=$SECONDS
if ! grep -qs '^VALLEY_NATIVE:BOOL=OFF' build-noomp/CMakeCache.txt; then
  cmake -S . -B build-noomp -DCMAKE_BUILD_TYPE=Release -DVALLEY_OPENMP=OFF -DVALLEY_NATIVE=OFF \
    -DVALLEY_CUDA=OFF >/dev/null
fi
cmake --build build-noomp -j "$jobs" >/dev/null
b=$SECONDS
# bench_run (the benchmark table's structure) and check_browser (the report opened in chromium)
# check no C code of their own: the Release stage runs them; the ASan stage skips them too.
# cli_sweep and cli_resume (long theorem2 runs, serial) run in the first two stages only: with the
# generic kernels cli_sweep took 106 CPU seconds, against 9 with the AVX-512 ones
# (docs/reliability.md); bad_input and faults test the CLI's handling, the same in every build.
ctest --test-dir build-noomp --output-on-failure -j "$jobs" \
  -E '^(experiment_.*|cli_sweep|cli_resume|bad_input|faults|bench_run|check_browser)$'
stage_time "gcc, without OpenMP" "$t" "$b"
echo "== valgrind memcheck, a fast subset, in the serial build (scripts/memcheck.sh --quick) =="
b=$SECONDS
scripts/memcheck.sh --quick --no-build --build-dir build-noomp --jobs "$jobs"
stage_time "valgrind memcheck subset" "$b" "$b"
if command -v mpicc >/dev/null 2>&1; then
  echo "== gcc with MPI (VALLEY_MPI=ON): valley across ranks against one process =="
  t=$SECONDS
  if [ ! -f build-mpi/CMakeCache.txt ]; then
    cmake -S . -B build-mpi -DCMAKE_BUILD_TYPE=Release -DVALLEY_MPI=ON -DVALLEY_CUDA=OFF >/dev/null
  fi
  cmake --build build-mpi -j "$jobs" --target valley-cli >/dev/null
  b=$SECONDS
  ctest --test-dir build-mpi --output-on-failure -R '^mpi$'
  stage_time "gcc with MPI" "$t" "$b"
else
  echo "== MPI build skipped: no mpicc (scripts/setup.sh --tests installs Open MPI) =="
fi
