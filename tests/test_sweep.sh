#!/usr/bin/env bash
# Resumable grid sweeps (docs/sweeps.md): valley theorem2 --grid and valley basins --param-grid.
# An uninterrupted sweep is the reference; sweeps killed with SIGKILL or stopped with SIGINT after
# some points, and files with a torn last line, resume to the same bytes; a file from another
# sweep, and bad specs, exit 2 (no file made).  usage: test_sweep.sh VALLEY_BINARY PYTHON3
set -u
valley=$1
py=${2:-/usr/bin/python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "ok  : $1"; pass=$((pass + 1)); }
bad() { echo "FAIL: $1"; fail=$((fail + 1)); }

# 8 points of ~0.2 s each (1 thread), so that a signal lands mid-sweep.
T2="--chains 4 --steps 4e6 --burn-in 100 --threads 1"
GRID='c=2,4;nu=0.5,1;seed=1,2'
run_t2() { "$valley" theorem2 $T2 --grid "$GRID" --out "$@"; }

run_t2 "$tmp/ref.jsonl" 2> "$tmp/ref.err"
rc=$?
[ $rc -eq 0 ] && ok "uninterrupted theorem2 sweep" || bad "uninterrupted sweep exit $rc: $(cat "$tmp/ref.err")"
[ "$(grep -c 'done (' "$tmp/ref.err")" -eq 8 ] && grep -q 'grid point 8/8 done (c=4, nu=1, seed=2)' "$tmp/ref.err" \
  && ok "one progress line per point on stderr" || bad "progress lines: $(cat "$tmp/ref.err")"

# The records: header, then points 0..7 once each, in the documented order (first parameter
# slowest), each with the report's fields.
"$py" - "$tmp/ref.jsonl" <<'PY' && ok "header + 8 records in grid order, each the theorem2 report" || bad "record contents"
import itertools, json, sys
lines = open(sys.argv[1]).read().split("\n")
assert lines[-1] == "", "file ends with a newline"
h = json.loads(lines[0])
assert h["valley_sweep"] == "theorem2" and h["grid"] == "c=2,4;nu=0.5,1;seed=1,2", h
assert h["--steps"] == "4e6" or h["--steps"] == "4000000", h["--steps"]
recs = [json.loads(l) for l in lines[1:-1]]
order = list(itertools.product([2, 4], [0.5, 1], [1, 2]))
assert [r["index"] for r in recs] == list(range(8))
for r, (c, nu, seed) in zip(recs, order):
    assert r["point"] == {"c": c, "nu": nu, "seed": seed}, r["point"]
    assert r["parameters"]["a_minus"] == -c * r["parameters"]["a_plus"]
    assert r["parameters"]["nu"] == nu and r["monte_carlo"]["seed"] == seed
    assert r["monte_carlo"]["steps"] == 4000000
    ev = r["monte_carlo"]["events"]
    assert ev and all(isinstance(e["verdict"], str) for e in ev)
PY

# wait_lines FILE N PID: until FILE has >= N lines or PID has exited.
wait_lines() {
  while kill -0 "$3" 2>/dev/null; do
    [ -f "$1" ] && [ "$(wc -l < "$1")" -ge "$2" ] && return 0
    sleep 0.02
  done
}

# SIGKILL after two records, then resume (with another thread count: not part of the settings).
# (valley itself in the background, not a function: the signal must reach valley, not a subshell)
"$valley" theorem2 $T2 --grid "$GRID" --out "$tmp/kill.jsonl" 2>/dev/null &
pid=$!
wait_lines "$tmp/kill.jsonl" 3 $pid
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
n=$(($(wc -l < "$tmp/kill.jsonl") - 1))
echo "      SIGKILL left $n complete records"
"$valley" theorem2 --chains 4 --steps 4e6 --burn-in 100 --threads 2 --grid "$GRID" \
  --out "$tmp/kill.jsonl" 2> "$tmp/kill.err"
rc=$?
[ $rc -eq 0 ] && cmp -s "$tmp/ref.jsonl" "$tmp/kill.jsonl" \
  && ok "SIGKILL after $n points, resumed: byte-identical to the uninterrupted sweep" \
  || bad "SIGKILL resume (exit $rc): $(cat "$tmp/kill.err")"
if [ "$n" -lt 8 ]; then
  grep -q "resuming: $n of 8 grid points already done" "$tmp/kill.err" && \
    [ "$(grep -c 'done (' "$tmp/kill.err")" -eq $((8 - n)) ] \
    && ok "resume computed only the $((8 - n)) missing points" || bad "resume messages: $(cat "$tmp/kill.err")"
fi

# SIGINT: stops at once (the current point is dropped), exit 130, says how to resume; whole records stay.
# (bash starts background jobs with SIGINT ignored; valley installs its own handler anyway)
"$valley" theorem2 $T2 --grid "$GRID" --out "$tmp/int.jsonl" 2> "$tmp/int.err" &
pid=$!
wait_lines "$tmp/int.jsonl" 3 $pid
kill -INT $pid 2>/dev/null
wait $pid
rc=$?
n=$(($(wc -l < "$tmp/int.jsonl") - 1))
echo "      SIGINT left $n complete records"
if [ "$n" -lt 8 ]; then
  [ $rc -eq 130 ] && grep -q "interrupted by SIGINT: $n of 8 grid points are in .*run the same command again to resume" "$tmp/int.err" \
    && ok "SIGINT: exit 130 and how to resume" || bad "SIGINT exit $rc: $(cat "$tmp/int.err")"
fi
[ "$(tail -c 1 "$tmp/int.jsonl" | od -An -c | tr -d ' ')" = '\n' ] && \
  cmp -s "$tmp/int.jsonl" <(head -n $((n + 1)) "$tmp/ref.jsonl") \
  && ok "SIGINT leaves whole records, a prefix of the reference" || bad "file after SIGINT"
run_t2 "$tmp/int.jsonl" 2> /dev/null
rc=$?
[ $rc -eq 0 ] && cmp -s "$tmp/ref.jsonl" "$tmp/int.jsonl" \
  && ok "SIGINT, resumed: byte-identical" || bad "SIGINT resume exit $rc"

# A torn last record (a kill mid-write) is cut away; a torn header too.
head -n 4 "$tmp/ref.jsonl" > "$tmp/torn.jsonl"
sed -n 5p "$tmp/ref.jsonl" | head -c 150 >> "$tmp/torn.jsonl"
run_t2 "$tmp/torn.jsonl" 2> "$tmp/torn.err"
rc=$?
[ $rc -eq 0 ] && cmp -s "$tmp/ref.jsonl" "$tmp/torn.jsonl" && grep -q "resuming: 3 of 8" "$tmp/torn.err" \
  && ok "torn last line repaired on resume" || bad "torn line (exit $rc): $(cat "$tmp/torn.err")"
head -c 40 "$tmp/ref.jsonl" > "$tmp/torn2.jsonl"
run_t2 "$tmp/torn2.jsonl" 2> /dev/null && cmp -s "$tmp/ref.jsonl" "$tmp/torn2.jsonl" \
  && ok "torn header repaired" || bad "torn header"

# Another sweep's file: exit 2 naming the difference, the file untouched.
cp "$tmp/ref.jsonl" "$tmp/mis.jsonl"
head -n 3 "$tmp/ref.jsonl" > "$tmp/mis3.jsonl"
cp "$tmp/mis3.jsonl" "$tmp/mis3.orig"
"$valley" theorem2 $T2 --eta 0.02 --grid "$GRID" --out "$tmp/mis3.jsonl" 2> "$tmp/mis.err"
rc=$?
[ $rc -eq 2 ] && [ "$(wc -l < "$tmp/mis.err")" -eq 1 ] && grep -q -- "--eta is '0.01 (default)' there but '0.02'" "$tmp/mis.err" \
  && cmp -s "$tmp/mis3.jsonl" "$tmp/mis3.orig" && ok "other settings: exit 2 naming --eta, file untouched" \
  || bad "settings mismatch (exit $rc): $(cat "$tmp/mis.err")"
"$valley" theorem2 $T2 --grid 'c=2,4;nu=0.5,1' --out "$tmp/mis3.jsonl" 2> "$tmp/mis.err"
rc=$?
[ $rc -eq 2 ] && grep -q "grid is 'c=2,4;nu=0.5,1;seed=1,2' there" "$tmp/mis.err" && cmp -s "$tmp/mis3.jsonl" "$tmp/mis3.orig" \
  && ok "other grid: exit 2 naming the grid" || bad "grid mismatch (exit $rc): $(cat "$tmp/mis.err")"
echo "not a sweep" > "$tmp/foreign.txt"
"$valley" theorem2 $T2 --grid "$GRID" --out "$tmp/foreign.txt" 2> /dev/null
[ $? -eq 2 ] && [ "$(cat "$tmp/foreign.txt")" = "not a sweep" ] && ok "a file that is not a sweep: exit 2, untouched" \
  || bad "foreign file"

# Bad specs and options: one line, exit 2, no file.
t2bad() {
  rm -f "$tmp/bad.jsonl"
  "$valley" theorem2 $T2 "$@" 2> "$tmp/bad.err" > /dev/null
  rc=$?
  if [ $rc -eq 2 ] && [ "$(wc -l < "$tmp/bad.err")" -eq 1 ] && [ ! -e "$tmp/bad.jsonl" ]; then
    ok "theorem2 $* -> exit 2: $(cat "$tmp/bad.err")"
  else
    bad "theorem2 $* (exit $rc): $(cat "$tmp/bad.err")"
  fi
}
O="--out $tmp/bad.jsonl"
t2bad --grid '' $O
t2bad --grid 'c' $O
t2bad --grid 'c=' $O
t2bad --grid 'c=1,,2' $O
t2bad --grid 'c=2;' $O
t2bad --grid 'x=1' $O
t2bad --grid 'c=abc' $O
t2bad --grid 'c=1e999' $O
t2bad --grid 'c=1;c=2' $O
t2bad --grid 'noise=a b' $O
t2bad --grid 'c=2,-1' $O
t2bad --grid 'noise=uniform,gauss' $O
t2bad --grid 'c=2' --c 3 $O
t2bad --grid 'c=2' --a-minus -3 $O
t2bad --grid 'c=2' --json $O
t2bad --grid 'c=2'
t2bad $O
b_bad() {
  rm -f "$tmp/bad.jsonl"
  "$valley" basins "$@" 2> "$tmp/bad.err" > /dev/null
  rc=$?
  [ $rc -eq 2 ] && [ "$(wc -l < "$tmp/bad.err")" -eq 1 ] && [ ! -e "$tmp/bad.jsonl" ] \
    && ok "basins $* -> exit 2: $(cat "$tmp/bad.err")" || bad "basins $* (exit $rc): $(cat "$tmp/bad.err")"
}
b_bad --param-grid 'T=0.1,0' $O
b_bad --param-grid 'preset=fig4-left,nosuch' $O
b_bad --param-grid 'eta=1' $O
b_bad --param-grid 'T=0.1' --sweep 0.1:1:3 $O

# A point the computation rejects (T_min too large to probe) gets an error record; the rest run.
"$valley" theorem2 --chains 2 --steps 1000 --burn-in 10 --grid 'c=2,1e12,0.5' --out "$tmp/err.jsonl" 2> "$tmp/err.err"
rc=$?
[ $rc -eq 0 ] && grep -q 'grid point 2/3 done (c=1e+12; error: T_min' "$tmp/err.err" && "$py" - "$tmp/err.jsonl" <<'PY' \
  && ok "a failing point: an error record, the sweep goes on" || bad "error record (exit $rc): $(cat "$tmp/err.err")"
import json, sys
r = [json.loads(l) for l in open(sys.argv[1]).read().splitlines()[1:]]
assert [x["point"]["c"] for x in r] == [2, 1e12, 0.5]
assert set(r[1]) == {"index", "point", "error"} and "too large" in r[1]["error"], r[1]
assert "monte_carlo" in r[0] and "monte_carlo" in r[2]
PY

# basins: the same engine; a torn record repaired, and each record equals the command's --json.
BG='T=0.05,0.2;preset=fig4-left,fig6-three;wscale=0,1'
"$valley" basins --param-grid "$BG" --out "$tmp/bref.jsonl" 2> /dev/null
rc=$?
[ $rc -eq 0 ] && [ "$(wc -l < "$tmp/bref.jsonl")" -eq 9 ] && ok "uninterrupted basins sweep (8 points)" || bad "basins sweep exit $rc"
"$valley" basins --preset fig6-three --wscale 1 --T 0.2 --json > "$tmp/b7.json"
"$py" - "$tmp/bref.jsonl" "$tmp/b7.json" <<'PY' && ok "basins record 7 = valley basins --json at that point" || bad "basins record vs --json"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1]).read().splitlines()[1:]]
r, j = recs[7], json.load(open(sys.argv[2]))
assert r["point"] == {"T": 0.2, "preset": "fig6-three", "wscale": 1}, r["point"]
for k, v in j.items():
    if k not in ("command", "version", "build"):
        assert r[k] == v, k
PY
head -n 6 "$tmp/bref.jsonl" > "$tmp/btorn.jsonl"
sed -n 7p "$tmp/bref.jsonl" | head -c 300 >> "$tmp/btorn.jsonl"
"$valley" basins --param-grid "$BG" --out "$tmp/btorn.jsonl" 2> /dev/null
[ $? -eq 0 ] && cmp -s "$tmp/bref.jsonl" "$tmp/btorn.jsonl" && ok "basins: torn line repaired, byte-identical" \
  || bad "basins torn line"
"$valley" basins --param-grid "$BG" --lo -2 --out "$tmp/btorn.jsonl" 2> "$tmp/bad.err"
[ $? -eq 2 ] && grep -q -- "--lo" "$tmp/bad.err" && ok "basins: --lo given on resume: exit 2 naming it" \
  || bad "basins mismatch: $(cat "$tmp/bad.err")"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
