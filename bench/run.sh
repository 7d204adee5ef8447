#!/usr/bin/env bash
# SGD steps per second of the Theorem 2 Monte Carlo (canonical valley, round statistics and the
# proof's probes on), beside a NumPy-vectorised reference, measured in the same invocation.
# usage: bench/run.sh [BUILD_DIR]     (builds first; needs python3-numpy: scripts/setup.sh --tests)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cmake --build "$build" --target bench_sgd1d >/dev/null
py=/usr/bin/python3
[ -x "$py" ] || py=python3
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
c1=$("$build/bench/bench_sgd1d" 1024 1000000 1)
c2=$("$build/bench/bench_sgd1d" 1024 1000000 0)
np=$("$py" bench/numpy_ref.py 1024 20000)
echo "valley, 1 thread:    $c1"
echo "valley, all threads: $c2"
echo "numpy reference:     $np"
"$py" - "$c1" "$c2" "$np" <<'PY'
import json, sys
c1, c2, n = (json.loads(a) for a in sys.argv[1:4])
print(f"valley all threads: {c2['steps_per_second']:.3g} steps/s "
      f"(bar 1.5e9: {'met' if c2['steps_per_second'] >= 1.5e9 else 'NOT met'})")
print(f"ratio valley (all threads) / numpy: {c2['steps_per_second'] / n['steps_per_second']:.1f}x "
      f"(bar 20x); valley 1 thread / numpy: {c1['steps_per_second'] / n['steps_per_second']:.1f}x")
PY
