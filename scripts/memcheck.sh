#!/usr/bin/env bash
# The test suite under valgrind memcheck (docs/reliability.md): every C test program,
# and every valley the shell tests start, runs under valgrind; a test fails when its program
# reports an error, and the run fails when any process left a valgrind report (an invalid read or
# write, a use of uninitialised memory, a definitely or indirectly lost block, an invalid free).
#
# usage: scripts/memcheck.sh [--quick] [--jobs N] [--build-dir DIR] [--origins] [--no-build]
#                            [-- CTEST_ARGS...]
#   --quick        the fast subset that scripts/test.sh runs (the parsers' and units' programs,
#                  a dozen small valley commands); without it, every test but bench_run
#   --jobs N       tests at once (default: the number of cores)
#   --build-dir D  the build to test (default build-memcheck).  It is configured, when it has no
#                  CMakeCache.txt, as a Debug build at -O1 -g for the generic x86-64 instruction
#                  set (-DVALLEY_NATIVE=OFF: valgrind cannot run AVX-512) without CUDA; a build
#                  made otherwise works too if it was not built for AVX-512
#   --origins      --track-origins=yes (where uninitialised values came from; about 2x slower)
#   --no-build     test the build as it is (a build directory made elsewhere, e.g. copied)
#   CTEST_ARGS     more arguments for ctest, e.g. -R '^cli$'
# Valgrind's reports are left in DIR/memcheck/logs (one file per process, empty when clean).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
quick=0 jobs=$(nproc) build=build-memcheck origins=0 dobuild=1
ctest_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --jobs) jobs=${2:?--jobs needs a number}; shift ;;
    --build-dir) build=${2:?--build-dir needs a directory}; shift ;;
    --origins) origins=1 ;;
    --no-build) dobuild=0 ;;
    --) shift; ctest_args=("$@"); break ;;
    -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "memcheck.sh: unknown argument '$1' (--help lists them)" >&2; exit 2 ;;
  esac
  shift
done
case $jobs in ''|*[!0-9]*|0) echo "memcheck.sh: --jobs needs a positive number, not '$jobs'" >&2; exit 2 ;; esac
command -v valgrind >/dev/null || { echo "memcheck.sh: valgrind is not installed (scripts/setup.sh --tests)" >&2; exit 2; }

if [ $dobuild -eq 1 ]; then
  if [ ! -f "$build/CMakeCache.txt" ]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-g -O1" \
      -DCMAKE_CXX_FLAGS_DEBUG="-g -O1" -DVALLEY_NATIVE=OFF -DVALLEY_CUDA=OFF >/dev/null
  fi
  t0=$(date +%s)
  cmake --build "$build" -j "$jobs" >/dev/null
  echo "memcheck: build $build: $(($(date +%s) - t0)) s"
fi
[ -f "$build/CTestTestfile.cmake" ] || { echo "memcheck.sh: $build is not a configured build" >&2; exit 2; }
if grep -q '^VALLEY_NATIVE:BOOL=ON' "$build/CMakeCache.txt" && grep -qw avx512f /proc/cpuinfo; then
  echo "memcheck.sh: $build is built with -march=native on a machine with AVX-512, which valgrind" \
       "cannot run; use a build with -DVALLEY_NATIVE=OFF" >&2
  exit 2
fi

# The launcher: the program under valgrind, its report in a file of its own (nothing is added to
# the program's stderr, which the shell tests read).  Exit status 99 when valgrind found an error.
build=$(cd "$build" && pwd)
logs=$build/memcheck/logs
rm -rf "$logs"
mkdir -p "$logs"
# shellcheck disable=SC2054  # the commas are valgrind's, inside single options
vg_opts=(--tool=memcheck -q --error-exitcode=99 --leak-check=full
         --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect
         --num-callers=40 "--suppressions=$src/scripts/valgrind.supp")
[ $origins -eq 1 ] && vg_opts+=(--track-origins=yes)
launcher=$build/memcheck/valgrind
# Shell built-ins and absolute paths only: check_runner runs with PATH=/nonexistent.
{
  echo '#!/bin/sh'
  echo "# Written by scripts/memcheck.sh: runs \"\$@\" under valgrind memcheck."
  echo "exec $(command -v valgrind) ${vg_opts[*]} --log-file=$logs/\${1##*/}.%p.log \"\$@\""
} > "$launcher"
chmod +x "$launcher"
export VALLEY_TEST_LAUNCHER=$launcher
# OpenMP's idle threads sleep instead of spinning (valgrind runs one thread at a time).
export OMP_WAIT_POLICY=PASSIVE

# bench_run runs the benchmark programs themselves (not through the launcher), and times them.
exclude='^bench_run$'
if [ $quick -eq 1 ]; then
  # The programs of the parsers and file formats (IDX, checkpoints and .safetensors, profile
  # CSVs, sweep records) and of the pure units; then the valley commands below.
  subset='^(pcg|verdict|idx|profile|checkpoint|sweep|thm2_constants|check_runner)$'
  ctest_args=(-R "$subset" "${ctest_args[@]}")
fi
t0=$(date +%s)
rc=0
ctest --test-dir "$build" --output-on-failure -j "$jobs" --timeout 7200 -E "$exclude" \
  "${ctest_args[@]}" || rc=$?
if [ $quick -eq 1 ]; then
  # A few valley commands, each about a second under valgrind: help, bad flags and a bad spec
  # file (exit 2), small runs of theorem1, theorem2, basins, direction and fp2d, and a grid sweep
  # written and then resumed.  Each must exit with the status given.
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  printf 'minima = -1 1\nweights = 0.021 0.1\nsigmas = 0.1 0.5\nstddev_shift = 0.1\n' > "$tmp/good.spec"
  printf 'minima = -1 1\nweights = 0.021\n' > "$tmp/bad.spec"
  awk 'BEGIN { print "l,train_loss,test_loss"
               for (i = -300; i <= 300; i++) { l = i / 100; m = l - 0.3
                 printf "%.2f,%.17g,%.17g\n", l, (l >= 0 ? 1 : 3) * 0.4 * l * l,
                        (m >= 0 ? 1 : 3) * 0.4 * m * m + 0.1 } }' > "$tmp/prof.csv"
  small='--chains 2 --steps 2000 --burn-in 10'
  while IFS='|' read -r want args; do
    # shellcheck disable=SC2086  # the arguments are split on purpose
    "$build/tests/valley" $args > "$tmp/out" 2> "$tmp/err" && got=0 || got=$?
    if [ "$got" != "$want" ]; then
      echo "memcheck: valley $args: exit $got, not $want: $(head -c 300 "$tmp/err")" >&2
      rc=1
    fi
  done <<EOF
0|help
2|nosuch
2|theorem2 --chains x
2|theorem2 --steps 1e99
0|theorem2 $small --json
0|theorem1 --json
0|basins --spec $tmp/good.spec --T 0.1 --json
2|basins --spec $tmp/bad.spec --T 0.1
0|direction --profile $tmp/prof.csv --json
0|fp2d --example curl --cells 32 --json
0|theorem2 $small --grid c=2,4 --out $tmp/grid.jsonl
0|theorem2 $small --grid c=2,4 --out $tmp/grid.jsonl
EOF
fi
secs=$(($(date +%s) - t0))
nlogs=$(find "$logs" -name '*.log' | wc -l)
bad=$(find "$logs" -name '*.log' -size +0 | sort)
if [ -n "$bad" ]; then
  for f in $bad; do
    echo "== valgrind: $(basename "$f") =="
    cat "$f"
  done
  echo "memcheck: valgrind reported errors in $(echo "$bad" | wc -l) of $nlogs processes" \
       "(reports in $logs)" >&2
  rc=1
fi
echo "memcheck: ctest under valgrind: $secs s, $nlogs processes, $([ -z "$bad" ] && echo clean || echo NOT clean)"
exit $rc
