#!/usr/bin/env bash
# valley's command line: help, JSON keys, the trajectory file, and bad input (one line naming the
# flag, exit status 2, no output file).  usage: test_cli.sh VALLEY_BINARY PYTHON3
set -u
valley=$1
py=${2:-/usr/bin/python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "ok  : $1"; pass=$((pass + 1)); }
bad() { echo "FAIL: $1"; fail=$((fail + 1)); }

"$valley" help | grep -q theorem2 && ok "valley help lists theorem2" || bad "valley help"
"$valley" theorem2 --help | grep -q -- "--a-plus" && ok "theorem2 --help lists flags" || bad "theorem2 --help"
"$valley" help theorem2 | grep -q -- "--trajectory" && ok "valley help theorem2" || bad "valley help theorem2"
"$valley" nosuch >/dev/null 2>&1; [ $? -eq 2 ] && ok "unknown command: exit 2" || bad "unknown command"

small="--chains 8 --steps 20000 --burn-in 100"
"$valley" theorem2 $small --json > "$tmp/out.json" 2> "$tmp/err"
rc=$?
[ $rc -eq 0 ] && ok "theorem2 --json runs" || bad "theorem2 --json exit $rc: $(cat "$tmp/err")"
"$py" - "$tmp/out.json" <<'PY' && ok "JSON parses and has the issue's keys" || bad "JSON keys"
import json, sys
d = json.load(open(sys.argv[1]))
for k in ["p_min", "p_max", "tau_star", "T_min", "T_max", "c0", "c", "c_prime"]:
    assert k in d["constants"], k
assert all({"name", "holds", "detail"} <= set(p) for p in d["preconditions"])
mc = d["monte_carlo"]
for k in ["chains", "steps", "burn_in", "seed", "rounds", "E_wbar", "E_wbar_ci",
          "trajectory_mean", "round_length", "events"]:
    assert k in mc, k
assert {"mean", "max"} <= set(mc["round_length"])
assert len(mc["E_wbar_ci"]) == 2 and mc["E_wbar_ci"][0] <= mc["E_wbar"] <= mc["E_wbar_ci"][1]
for e in mc["events"]:
    assert {"name", "claimed_probability", "observed_frequency", "verdict"} <= set(e), e
    assert e["verdict"] in ("holds", "fails", "inconclusive", "not applicable")
assert abs(d["constants"]["tau_star"] - 54.42264542497316) < 1e-9
PY
# same seed, same output, whatever the thread count
"$valley" theorem2 $small --json --threads 1 > "$tmp/t1.json"
"$valley" theorem2 $small --json --threads 2 > "$tmp/t2.json"
cmp -s "$tmp/t1.json" "$tmp/t2.json" && ok "--threads 1 and 2 print identical JSON" || bad "thread dependence"
"$valley" theorem2 $small > "$tmp/out.txt" && grep -q "E\[w_bar\]" "$tmp/out.txt" && ok "text report" || bad "text report"

"$valley" theorem2 $small --trajectory "$tmp/traj.csv" --trajectory-steps 500 > /dev/null
if [ -f "$tmp/traj.csv" ] && [ "$(grep -vc '^#' "$tmp/traj.csv")" -eq 501 ] && grep -q '^t,w,running_mean$' "$tmp/traj.csv"; then
  ok "--trajectory writes header + 500 rows"
else
  bad "--trajectory file"
fi
ls "$tmp" | grep -q '\.tmp\.' && bad "temporary file left behind" || ok "no temporary file left"

# Bad input: one line on stderr naming the flag, exit 2, no output file, nothing on stdout.
check_bad() {
  local flag=$1; shift
  rm -f "$tmp/bad.csv"
  "$valley" theorem2 "$@" --trajectory "$tmp/bad.csv" > "$tmp/so" 2> "$tmp/se"
  local rc=$?
  local lines; lines=$(wc -l < "$tmp/se")
  if [ $rc -eq 2 ] && [ "$lines" -eq 1 ] && grep -q -- "$flag" "$tmp/se" && [ ! -s "$tmp/so" ] \
     && [ ! -e "$tmp/bad.csv" ] && ! ls "$tmp" | grep -q 'bad\.csv\.tmp'; then
    ok "bad $* -> $(cat "$tmp/se")"
  else
    bad "bad $*: rc=$rc lines=$lines stderr='$(cat "$tmp/se")'"
  fi
}
check_bad --eta --eta abc
check_bad --eta --eta nan
check_bad --eta --eta inf
check_bad --eta --eta 0
check_bad --eta --eta -1
check_bad --nu --nu -0.5
check_bad --a-minus --a-minus 1
check_bad --a-plus --a-plus 0
check_bad --c --c -3
check_bad --c --c 5 --a-minus -3
check_bad --chains --chains 0
check_bad --chains --chains -4
check_bad --steps --steps 1.5
check_bad --burn-in --burn-in 5000 --steps 100
check_bad --valley --valley bumpy
check_bad --noise --noise cauchy
check_bad --b-plus --b-plus 3
check_bad --b-minus --b-minus -1
check_bad --sigma --noise truncated-normal --sigma 0
check_bad --threads --threads x
check_bad --bogus --bogus 1
check_bad --seed --seed
check_bad --trajectory-steps --trajectory-steps 0
rm -f "$tmp/nodir"
"$valley" theorem2 $small --trajectory "$tmp/nodir/x.csv" > "$tmp/so" 2> "$tmp/se"
[ $? -eq 2 ] && [ "$(wc -l < "$tmp/se")" -eq 1 ] && grep -q -- "--trajectory" "$tmp/se" \
  && ok "unwritable --trajectory: exit 2 before running" || bad "unwritable --trajectory"

# A violated precondition is reported, not an error: the simulation still runs.
"$valley" theorem2 --chains 4 --steps 5000 --burn-in 10 --a-minus -1.5 --json > "$tmp/pre.json"
rc=$?
"$py" -c "
import json,sys; d=json.load(open('$tmp/pre.json'))
p={x['name']:x['holds'] for x in d['preconditions']}
assert p['p_min_positive'] is False
assert d['monte_carlo']['rounds'] > 0
assert all(e['verdict']=='not applicable' for e in d['monte_carlo']['events'])
" && [ $rc -eq 0 ] && ok "violated precondition reported; simulation runs; verdicts not applicable" || bad "violated precondition run"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
