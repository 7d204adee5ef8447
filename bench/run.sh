#!/usr/bin/env bash
# bench/run (the table of every simulator against its NumPy reference and its in-run machine
# limit: docs/performance.md), then the benchmarks that are not simulators: Theorem 1's exact
# enumeration (docs/theorem1.md) and the steady-state sweeps (docs/steady_state.md).
# usage: bench/run.sh [BUILD_DIR]     (builds first; needs python3-numpy: scripts/setup.sh --tests)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
bench/run --build "$build"
cmake --build "$build" --target bench_thm1 bench_steady >/dev/null
py=/usr/bin/python3
[ -x "$py" ] || py=python3

# Theorem 1: exact enumeration of 2^d sign patterns (bar: d = 20 under 1 s on 2 cores), beside a
# direct enumeration without the Gray code, in the same run.
echo
for args in "20 20" "20 10" "24 12" "20 20 0 coupled axes"; do
  "$build/bench/bench_thm1" $args
done | "$py" -c '
import json, sys
for line in sys.stdin:
    b = json.loads(line)
    bar = "  (bar d = 20 < 1 s: %s)" % ("met" if b["seconds"] < 1 else "NOT met") if b["d"] == 20 else ""
    print("theorem1 enumerate d=%d k=%d %s/%s: %.4f s, %.3g patterns/s; Gray code %.2fx the direct sum%s"
          % (b["d"], b["k"], b["profile"], b["frame"], b["seconds"], b["patterns_per_second"],
             b["speedup_vs_direct"], bar))'

# Steady state: a 200-temperature sweep per preset (bar of issue 4: under 0.5 s), 1 thread and
# all threads, measured side by side.
echo
for p in fig4-left fig6-three fig6-three-grad1; do
  for t in 1 0; do "$build/bench/bench_steady" "$p" 200 "$t"; done
done | "$py" -c '
import json, sys
for line in sys.stdin:
    b = json.loads(line)
    bar = "  (bar < 0.5 s: %s)" % ("met" if b["seconds"] < 0.5 else "NOT met") if not b["preset"].endswith("grad1") else "  (quadrature path, not a paper preset)"
    print("steady-state sweep %-17s %d temperatures, %s: %.3f s%s"
          % (b["preset"], b["temperatures"], "1 thread" if b["threads"] == 1 else "all threads", b["seconds"], bar))'
