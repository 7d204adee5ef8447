#!/usr/bin/env bash
# Longer fuzzing of valley's parsers (docs/reliability.md).
#
#   scripts/fuzz.sh [--minutes M] [--parallel P] [--build-dir DIR] [--no-build]
#                   [--scratch DIR] [--merge] [NAME...]
#
# Runs each harness fuzz_NAME (default: all of them) for M minutes (default 10) on the committed
# seeds tests/fuzz/corpus/NAME and tests/fuzz/regress/NAME, P harnesses at a time (default 1: one
# after another; each is one libFuzzer process, so P up to the number of cores), nice'd, with
# -timeout=10 (a hang is a crash) and leak detection.  New corpus units go to a scratch directory
# (default $TMPDIR/valley-fuzz-DATE), never into the repository, unless --merge: then the units
# that add coverage are merged into tests/fuzz/corpus/NAME (libFuzzer -merge=1; commit them
# only if the corpus stays small).  Crashes, leaks and hangs are written to SCRATCH/NAME/ as
# crash-*, leak-*, timeout-*, oom-*: fix the parser, then add the input to tests/fuzz/regress/NAME.
# Prints, per harness: executions, coverage (edges "cov" and features "ft"), corpus size, new
# units and crashes; exits 1 when any harness found one.
#
# The binaries come from a clang build with -DVALLEY_FUZZ=ON, by default build-sanitize (the one
# scripts/test.sh makes), configured and built here unless --no-build (use --build-dir DIR
# --no-build to run binaries built elsewhere, e.g. copied to a bigger machine).
set -euo pipefail
cd "$(dirname "$0")/.."
ALL="idx csv checkpoint safetensors profile basin_spec args directions sweep_grid sweep_resume runck"
minutes=10 parallel=1 build=build-sanitize do_build=1 merge=0
scratch="${TMPDIR:-/tmp}/valley-fuzz-$(date +%Y%m%d-%H%M%S)"
names=()
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --parallel) parallel=$2; shift 2 ;;
    --build-dir) build=$2; shift 2 ;;
    --no-build) do_build=0; shift ;;
    --scratch) scratch=$2; shift 2 ;;
    --merge) merge=1; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) names+=("$1"); shift ;;
  esac
done
[ ${#names[@]} -eq 0 ] && read -r -a names <<<"$ALL"
for n in "${names[@]}"; do
  case " $ALL " in *" $n "*) ;; *) echo "fuzz.sh: no harness '$n' (have: $ALL)" >&2; exit 2 ;; esac
done
if ! [[ "$minutes" =~ ^[0-9]+([.][0-9]+)?$ ]] || ! [[ "$parallel" =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz.sh: --minutes needs a number, --parallel a positive integer" >&2
  exit 2
fi
seconds=$(awk -v m="$minutes" 'BEGIN { s = int(m * 60 + 0.5); print (s < 1 ? 1 : s) }')

if [ "$do_build" = 1 ]; then
  if [ ! -f "$build/CMakeCache.txt" ]; then
    CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug \
      -DCMAKE_C_FLAGS_DEBUG="-g -O1" -DVALLEY_CUDA=OFF -DVALLEY_SANITIZE=address,undefined \
      -DVALLEY_FUZZ=ON >/dev/null
  else
    cmake "$build" -DVALLEY_FUZZ=ON >/dev/null
  fi
  targets=()
  for n in "${names[@]}"; do targets+=(--target "fuzz_$n"); done
  cmake --build "$build" -j "$(nproc)" "${targets[@]}" >/dev/null
fi
for n in "${names[@]}"; do
  if [ ! -x "$build/tests/fuzz/fuzz_$n" ]; then
    echo "fuzz.sh: $build/tests/fuzz/fuzz_$n missing (a clang build with -DVALLEY_FUZZ=ON)" >&2
    exit 2
  fi
done
mkdir -p "$scratch"
echo "fuzz.sh: ${#names[@]} harnesses, $minutes min each, $parallel at a time; scratch $scratch"

run_one() {
  local n=$1 dir="$scratch/$1" rc=0
  mkdir -p "$dir/new"
  local files="$dir/tmp" # the harness's temporary input files: in memory when possible
  if [ -d /dev/shm ] && [ -w /dev/shm ]; then files=$(mktemp -d "/dev/shm/valley_fuzz_$n.XXXXXX"); fi
  mkdir -p "$files"
  local seeds=()
  for d in "tests/fuzz/corpus/$n" "tests/fuzz/regress/$n"; do [ -d "$d" ] && seeds+=("$d"); done
  # -close_fd_mask=2: the parsers' error messages stay out of the log (libFuzzer's own report and
  # the sanitizers' go to a copy of stderr)
  TMPDIR="$files" ASAN_OPTIONS="detect_leaks=1:${ASAN_OPTIONS:-}" \
    UBSAN_OPTIONS="print_stacktrace=1:${UBSAN_OPTIONS:-}" OMP_NUM_THREADS=1 \
    OPENBLAS_NUM_THREADS=1 nice "$build/tests/fuzz/fuzz_$n" -max_total_time="$seconds" \
    -timeout=10 -rss_limit_mb=2048 -max_len=65536 -close_fd_mask=2 -print_final_stats=1 \
    -artifact_prefix="$dir/" "$dir/new" "${seeds[@]}" >"$dir/log" 2>&1 || rc=$?
  echo "$rc" >"$dir/rc"
  rm -rf "$files"
}

pids=()
for n in "${names[@]}"; do
  run_one "$n" &
  pids+=($!)
  while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do wait -n || true; done
done
wait || true

status=0
printf '%-13s %12s %8s %8s %8s %6s %8s  %s\n' harness executions cov ft corpus new crashes result
for n in "${names[@]}"; do
  dir="$scratch/$n"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  newu=$(sed -n 's/^stat::new_units_added: *//p' "$dir/log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$dir/log" | tail -1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
  crashes=$(find "$dir" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' \
            -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  rc=$(cat "$dir/rc")
  result=ok
  if [ "$rc" != 0 ] || [ "$crashes" -gt 0 ]; then result="FAILED (exit $rc; see $dir/log)"; status=1; fi
  printf '%-13s %12s %8s %8s %8s %6s %8s  %s\n' "$n" "${execs:-?}" "${cov:-?}" "${ft:-?}" \
    "${corp:-?}" "${newu:-?}" "$crashes" "$result"
  if [ "$merge" = 1 ] && [ "$result" = ok ]; then
    mkdir -p "tests/fuzz/corpus/$n"
    "$build/tests/fuzz/fuzz_$n" -merge=1 -close_fd_mask=2 "tests/fuzz/corpus/$n" "$dir/new" \
      >"$dir/merge.log" 2>&1 && echo "  merged into tests/fuzz/corpus/$n" \
      || echo "  merge failed: $dir/merge.log"
  fi
done
echo "fuzz.sh: new units and logs in $scratch"
exit $status
