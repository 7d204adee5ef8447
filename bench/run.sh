#!/usr/bin/env bash
# SGD steps per second of the Theorem 2 Monte Carlo (canonical valley, round statistics and the
# proof's probes on), beside a NumPy-vectorised reference, measured in the same invocation.
# usage: bench/run.sh [BUILD_DIR]     (builds first; needs python3-numpy: scripts/setup.sh --tests)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cmake --build "$build" --target bench_sgd1d bench_limit bench_thm1 bench_steady bench_langevin bench_probe >/dev/null
py=/usr/bin/python3
[ -x "$py" ] || py=python3
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
c1=$("$build/bench/bench_sgd1d" 1024 1000000 1)
c2=$("$build/bench/bench_sgd1d" 1024 1000000 0)
np=$("$py" bench/numpy_ref.py 1024 20000)
# the machine limit in the same run: PCG32 + the update alone, hand-vectorised (bench_limit.c)
l1=$("$build/bench/bench_limit" 1024 1000000 1)
l2=$("$build/bench/bench_limit" 1024 1000000 0)
echo "valley, 1 thread:    $c1"
echo "valley, all threads: $c2"
echo "numpy reference:     $np"
echo "limit, 1 thread:     $l1"
echo "limit, all threads:  $l2"
"$py" - "$c1" "$c2" "$np" "$l1" "$l2" <<'PY'
import json, sys
c1, c2, n, l1, l2 = (json.loads(a) for a in sys.argv[1:6])
r = lambda x: x["steps_per_second"]
print(f"valley all threads: {r(c2):.3g} steps/s "
      f"(bar 1.5e9: {'met' if r(c2) >= 1.5e9 else 'NOT met'})")
print(f"ratio valley (all threads) / numpy: {r(c2) / r(n):.1f}x "
      f"(bar 20x); valley 1 thread / numpy: {r(c1) / r(n):.1f}x")
print("| Theorem 2 Monte Carlo | steps/s | / numpy | / machine limit |")
print("|---|---|---|---|")
for name, v, lim in (("valley, 1 thread", c1, l1), ("valley, all threads", c2, l2)):
    print(f"| {name} | {r(v):.3g} | {r(v) / r(n):.1f}x | {r(v) / r(lim):.2f} |")
print(f"| NumPy reference | {r(n):.3g} | 1.0x | {r(n) / r(l1):.3f} (of 1 thread) |")
print(f"| limit (PCG + update), 1 thread | {r(l1):.3g} | {r(l1) / r(n):.1f}x | 1 |")
print(f"| limit (PCG + update), all threads | {r(l2):.3g} | {r(l2) / r(n):.1f}x | 1 |")
frac = r(c2) / r(l2)
print(f"valley at {frac:.0%} of the in-run machine limit (bar 50%: {'met' if frac >= 0.5 else 'NOT met'})")
PY

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

# Langevin ensembles (issue 4 bar: the ensemble >= 10x a NumPy-vectorised Euler-Maruyama of the same
# ensemble, measured in the same run): fig4-left, T = 0.1, dt = 1e-4, 8192 particles.
echo
l1=$("$build/bench/bench_langevin" 8192 20000 1)
l2=$("$build/bench/bench_langevin" 8192 20000 0)
nl=$("$py" bench/numpy_langevin.py 8192 2000)
echo "langevin, 1 thread:    $l1"
echo "langevin, all threads: $l2"
echo "numpy langevin:        $nl"
"$py" - "$l1" "$l2" "$nl" <<'PY'
import json, sys
a, b, n = (json.loads(x) for x in sys.argv[1:4])
r = n["particle_steps_per_second"]
fa, fb = a["fast_particle_steps_per_second"], b["fast_particle_steps_per_second"]
print(f"langevin vectorised, all threads ({b['threads']}) / numpy: {fb / r:.1f}x "
      f"(bar 10x: {'met' if fb >= 10 * r else 'NOT met'}); 1 thread / numpy: {fa / r:.1f}x; "
      f"generic kernel, 1 thread / numpy: {a['generic_particle_steps_per_second'] / r:.2f}x")
PY

# The direction probe (issue 5 bars: the CPU kernel >= 50 % of the same-run OpenBLAS SGEMM rate;
# the CUDA path within 1e-4 relative of the CPU): 784-256-256-10 BN, 4 x 21 points, 10k + 10k
# Fashion-MNIST images (needs dataset-fashion-mnist).  With a GPU, the same run times CUDA too.
echo
if [ -d /usr/share/datasets/fashion-mnist ]; then
  pr=$(OPENBLAS_NUM_THREADS=1 "$build/bench/bench_probe" - train 10000 10000 4 21 both 3)
  echo "probe: $pr"
  "$py" - "$pr" <<'PY'
import json, sys
b = json.loads(sys.argv[1])
print(f"probe CPU ({b['omp_threads']} threads): {b['cpu_seconds']:.2f} s, "
      f"{b['cpu_executed_gflops']:.0f} GFLOP/s executed = {100 * b['cpu_fraction_of_sgemm']:.0f} % of "
      f"the same-run SGEMM rate on as many threads, {b['cpu_sgemm_gflops']:.0f} GFLOP/s "
      f"(bar 50 %: {'met' if b['cpu_fraction_of_sgemm'] >= 0.5 else 'NOT met'})")
if "cuda_seconds" in b:
    print(f"probe CUDA ({b['gpu']}): {b['cuda_seconds']:.4f} s, {b['cpu_seconds'] / b['cuda_seconds']:.0f}x "
          f"the CPU; loss agreement {b['max_rel_loss_diff']:.1e} (bar 1e-4)")
else:
    print(f"probe CUDA: {b.get('cuda', 'not run')}")
PY
fi
