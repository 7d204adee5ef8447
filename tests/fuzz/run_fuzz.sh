#!/usr/bin/env bash
# ctest's short fuzzing session for one harness (tests/fuzz/CMakeLists.txt):
#   run_fuzz.sh FUZZER RUNS CORPUS_DIR [REGRESS_DIR]
# -runs=RUNS -seed=1 after the seeds: the same inputs every time.  New corpus units and any crash
# artifact go to a temporary directory (never into the repository), removed afterwards unless the
# run failed (then its path is printed).  Leaks and hangs (-timeout=10) fail the test.
set -euo pipefail
fuzzer=$1 runs=$2
shift 2
scratch=$(mktemp -d "${TMPDIR:-/tmp}/valley_fuzz_ctest.XXXXXX")
mkdir -p "$scratch/new"
# the harnesses' temporary input files: in memory when /dev/shm is there (the sweep harness
# fsyncs each record it appends)
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  files=$(mktemp -d /dev/shm/valley_fuzz_files.XXXXXX)
else
  files="$scratch/tmp" && mkdir -p "$files"
fi
dirs=()
for d in "$@"; do [ -d "$d" ] && dirs+=("$d"); done
rc=0
TMPDIR="$files" "$fuzzer" -runs="$runs" -seed=1 -timeout=10 -rss_limit_mb=2048 \
  -max_len=4096 -close_fd_mask=2 -print_final_stats=1 -artifact_prefix="$scratch/" \
  "$scratch/new" "${dirs[@]}" || rc=$?
rm -rf "$files"
if [ "$rc" -ne 0 ]; then
  echo "run_fuzz.sh: $fuzzer failed (exit $rc); artifacts kept in $scratch" >&2
  exit 1
fi
rm -rf "$scratch"
