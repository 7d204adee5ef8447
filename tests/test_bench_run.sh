#!/usr/bin/env bash
# bench/run --quick --json: the table's structure (no timing is asserted): a row per simulator
# asked for, every column a positive rate or an "n/a (why)" note, the NumPy check's statistics;
# the text table's header and rows; a bad --only is one line and exit 2.  Skipped (exit 77)
# without python3-numpy.
# usage: test_bench_run.sh BUILD_DIR PYTHON3
set -u
build=$1
py=${2:-/usr/bin/python3}
root=$(cd "$(dirname "$0")/.." && pwd)
if ! "$py" -c 'import numpy' 2>/dev/null; then
  echo "SKIP: no NumPy for $py (scripts/setup.sh --tests installs python3-numpy)"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# rows whose code paths differ (Theorem 2, Theorem 1, an ensemble: 1-D ones take the same path)
"$root/bench/run" --quick --json --build "$build" --only thm2,thm1,em2d > "$tmp/out.json" 2> "$tmp/err" ||
  bad "bench/run --quick --json: exit $? ($(tail -1 "$tmp/err"))"
"$py" - "$tmp/out.json" <<'PY' || fail=1
import json, math, sys
r = json.load(open(sys.argv[1]))
errs = []
def need(cond, what):
    if not cond:
        errs.append(what)
need(r["mode"] == "quick" and r["reps"] == 1, "mode/reps")
need(r["machine"]["cores"] >= 1 and r["machine"]["cpu"], "machine")
keys = [row["key"] for row in r["rows"]]
need(keys == ["thm2", "thm1", "em2d"], f"rows {keys}")
pos = lambda x: isinstance(x, (int, float)) and math.isfinite(x) and x > 0
for row in r["rows"]:
    k = row["key"]
    for col in ("threads1", "threads2", "numpy", "limit1", "limit2"):
        need(pos(row.get(col)), f"{k}: {col} = {row.get(col)}")
    for col in ("mpi2", "cuda"):
        need(pos(row.get(col)) or str(row.get(col + "_note", "")).startswith("n/a ("),
             f"{k}: {col} neither a rate nor an n/a note")
    need(row["work"] > 0 and row["unit"].endswith("/s"), f"{k}: work/unit")
    c = row["check"]
    need(len(c["statistics"]) >= 1 and isinstance(c["agrees"], bool), f"{k}: check")
    for s in c["statistics"]:
        need(math.isfinite(s["z"]) and s["valley_se"] >= 0 and s["numpy_se"] > 0,
             f"{k}: check statistic {s['statistic']}")
need(len(r["rows"][0]["check"]["statistics"]) == 1, "thm2: E[w_bar]")
need(len(r["rows"][2]["check"]["statistics"]) == 4, "em2d: the moments of x and y")
for e in errs:
    print("FAIL:", e)
sys.exit(1 if errs else 0)
PY

"$root/bench/run" --quick --build "$build" --only thm1 > "$tmp/out.txt" 2> /dev/null || bad "bench/run --quick (text): exit $?"
grep -q '^| simulator | unit | 1 thread | 2 threads | MPI 2 ranks | CUDA | NumPy |' "$tmp/out.txt" || bad "no table header"
[ "$(grep -c '^| Theorem 1 Monte Carlo' "$tmp/out.txt")" -eq 1 ] || bad "no Theorem 1 row"
grep -q '^machine: ' "$tmp/out.txt" || bad "no machine line"

"$root/bench/run" --quick --build "$build" --only nope > "$tmp/o" 2> "$tmp/e"
rc=$?
[ $rc -eq 2 ] && [ "$(wc -l < "$tmp/e")" -eq 1 ] && [ ! -s "$tmp/o" ] || bad "--only nope: exit $rc, $(wc -l < "$tmp/e") lines"

[ $fail -eq 0 ] && echo "bench/run: structure ok"
exit $fail
