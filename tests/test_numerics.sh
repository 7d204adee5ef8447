#!/usr/bin/env bash
# Numerical trouble from the command line (docs/reliability.md): extreme but legal inputs
# give one error naming the trouble, exit status 1 (a numerical failure found while computing) or
# 2 (refused up front, before any work), nothing on stdout, no output file, and never nan or inf
# printed as a result.  One case per kind of trouble:
#   exp(-2 v / T) at a tiny T (steady state, basin weights), overflow of a landscape's constants,
#   SGD blow-up (theorem2), network training divergence (NaN loss), an evaluation or a probe
#   whose loss overflows a float, finite-volume rates that underflow (fp2d).
# The root search that cannot converge and the Langevin blow-up are not reachable from the
# command line (the scans and the reflecting walls keep them away): tests/test_numerics.c and
# tests/test_langevin.c check them.
# usage: test_numerics.sh VALLEY PYTHON
set -u
valley=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
py=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "ok  : $1"; pass=$((pass + 1)); }
bad() { echo "FAIL: $1"; fail=$((fail + 1)); }

# trouble NAME STATUS PATTERN FILE ARGS...: valley ARGS exits STATUS with one stderr line matching
# PATTERN (the last line: the commands print a start line first), an empty stdout, FILE (relative
# to $tmp, "-" for none) not created, and no nan/inf on stdout or stderr's last line.
trouble() {
  local name=$1 want=$2 pat=$3 file=$4; shift 4
  (cd "$tmp" && "$valley" "$@" > "$tmp/out" 2> "$tmp/err")
  local rc=$? last
  last=$(tail -n 1 "$tmp/err")
  if [ $rc -ne "$want" ]; then bad "$name: exit $rc, want $want: $last"; return; fi
  if ! grep -q -- "$pat" <<< "$last"; then bad "$name: message '$last' lacks '$pat'"; return; fi
  if [ -s "$tmp/out" ]; then bad "$name: stdout not empty: $(head -c 200 "$tmp/out")"; return; fi
  if [ "$file" != "-" ] && ls "$tmp/$file"* > /dev/null 2>&1; then
    bad "$name: $file left behind"; return
  fi
  ok "$name: exit $want, '$pat'"
}

# a tiny Fashion-MNIST-shaped IDX data set (tests/make_fake_fmnist.py)
"$py" "$(dirname "$0")/make_fake_fmnist.py" "$tmp/idx"
data=$tmp/idx

# (a) exp(-2 v / T): the steady state's basin integral underflows at a tiny T
trouble "basins at T = 1e-12" 1 "too narrow for the quadrature" - basins --preset fig4-left --T 1e-12 --json
trouble "steady-state at T = 1e-300" 1 "too narrow for the quadrature" rho.csv \
  steady-state --preset fig6-three --T 1e-300 --out rho.csv
trouble "basins sweep down to T = 1e-12" 1 "numerical failure" sweep.csv \
  basins --preset fig4-left --sweep 1e-12:1:5 --json --csv sweep.csv
# ... in a grid sweep: that point's record is an error naming it, and the sweep goes on
(cd "$tmp" && "$valley" basins --param-grid 'T=1e-12,0.1' --out grid.jsonl > "$tmp/out" 2> "$tmp/err")
rc=$?
[ $rc -eq 0 ] && "$py" - "$tmp/grid.jsonl" <<'PY' && ok "basins --param-grid T=1e-12,0.1: an error record, then T = 0.1" \
  || bad "sweep with a failing point: exit $rc: $(tail -n 1 "$tmp/err")"
import json, sys
r = [json.loads(l) for l in open(sys.argv[1]).read().splitlines()[1:]]
assert len(r) == 2 and "too narrow for the quadrature" in r[0]["error"], r[0]
assert "error" not in r[1] and r[1]["log_Z"] is not None, r[1]
PY
# ... and a D = e^(w theta) that overflows the domain is refused before any work
trouble "steady-state, D = e^(300 theta)" 2 "noise variance D must be finite" - \
  steady-state --preset fig4-left --noise exp --wscale 300 --T 0.1
# (a) constants that would overflow: refused up front
trouble "theorem2 --nu 1e300" 2 "would overflow" - theorem2 --nu 1e300 --chains 2 --steps 100 --burn-in 10 --json
trouble "theorem2 --eta 1e200" 2 "would overflow" - theorem2 --eta 1e200 --chains 2 --steps 100 --burn-in 10 --json
trouble "theorem1 p = c = 1e200" 2 "would overflow" - theorem1 --p 1e200 --c 1e200 --json
# (c) SGD blow-up: the iterates' sums leave the doubles
trouble "theorem2 --w-init 1e308" 1 "SGD blew up" traj.csv \
  theorem2 --w-init 1e308 --chains 4 --steps 2000 --burn-in 10 --json --trajectory traj.csv
# (c) network training divergence: a NaN loss, no checkpoint
trouble "net train --lr 1e20" 1 "training diverged" net.vck \
  net train --widths 784,16,10 --epochs 1 --batch 32 --data "$data" --lr 1e20 --out net.vck --json
trouble "net train: overflowing evaluation" 1 "overflow a float" net.vck \
  net train --widths 784,16,10 --epochs 2 --batch 32 --data "$data" --lr 1e3 --momentum 0.99 \
  --out net.vck --json
trouble "net train --lr 1e300 (not a float)" 2 "the weights are floats" net.vck \
  net train --widths 784,16,10 --epochs 1 --data "$data" --lr 1e300 --out net.vck
# (c) a probe far along a direction: the loss overflows, no profile
(cd "$tmp" && "$valley" net train --widths 784,16,10 --epochs 1 --batch 32 --data "$data" \
  --out good.vck > /dev/null 2>&1) || bad "net train (the probe's checkpoint) failed"
trouble "net probe --grid -1e30:1e30:5" 1 "overflow a float" p_ \
  net probe --checkpoint good.vck --data "$data" --directions 1 --grid -1e30:1e30:5 --out p --json
# (a) a profile whose fits would overflow (loss 1e60) or underflow (steps of 1e-30 in l): refused
"$py" - "$tmp/pbig.csv" "$tmp/ptiny.csv" <<'PY'
import sys
v = lambda x: 0.4 * x * x if x >= 0 else 1.2 * x * x
ls = [(i - 300) / 100 for i in range(601)]
for path, sl, sv in ((sys.argv[1], 1, 1e60), (sys.argv[2], 1e-28, 1)):
    open(path, "w").write("l,train_loss,test_loss\n" + "".join(
        "%r,%r,%r\n" % (l * sl, sv * v(l), sv * (v(l - 0.3) + 0.1)) for l in ls))
PY
trouble "direction: losses of 1e60" 2 "where the fits would overflow" xi.csv \
  direction --profile pbig.csv --json --csv xi.csv
trouble "direction: steps of 1e-30 in l" 2 "where the fits would underflow" xi.csv \
  direction --profile ptiny.csv --json --csv xi.csv
# (a) finite-volume rates that underflow at a small T on a coarse grid
trouble "fp2d --T 1e-6 on 32 cells" 2 "rates underflow" - fp2d --example curl --cells 32 --T 1e-6 --json

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
