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
# check_bad_in SUBCOMMAND OUTPUT_FLAG FLAG ARGS...: ARGS must fail naming FLAG.
check_bad_in() {
  local sub=$1 outflag=$2 flag=$3; shift 3
  rm -f "$tmp/bad.csv"
  "$valley" "$sub" "$@" "$outflag" "$tmp/bad.csv" > "$tmp/so" 2> "$tmp/se"
  local rc=$?
  local lines; lines=$(wc -l < "$tmp/se")
  if [ $rc -eq 2 ] && [ "$lines" -eq 1 ] && grep -q -- "$flag" "$tmp/se" && [ ! -s "$tmp/so" ] \
     && [ ! -e "$tmp/bad.csv" ] && ! ls "$tmp" | grep -q 'bad\.csv\.tmp'; then
    ok "bad $sub $* -> $(cat "$tmp/se")"
  else
    bad "bad $sub $*: rc=$rc lines=$lines stderr='$(cat "$tmp/se")'"
  fi
}
check_bad() { check_bad_in theorem2 --trajectory "$@"; }
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
check_bad --device --device gpu
check_bad "--device cuda" --device cuda --noise truncated-normal
check_bad "--gpu" --device cuda --gpu -1
# --device cuda where no GPU is usable (CI): exit 1, one line saying why, no output file
if ! "$valley" theorem2 --chains 1 --steps 20 --burn-in 1 --device cuda > /dev/null 2>&1; then
  "$valley" theorem2 $small --device cuda --trajectory "$tmp/gpu.csv" > "$tmp/so" 2> "$tmp/se"
  rc=$?
  [ $rc -eq 1 ] && [ "$(wc -l < "$tmp/se")" -eq 1 ] && grep -q -- "--device cuda:" "$tmp/se" \
    && [ ! -s "$tmp/so" ] && [ ! -e "$tmp/gpu.csv" ] \
    && ok "theorem2 --device cuda without a GPU: exit 1, $(cat "$tmp/se")" \
    || bad "theorem2 --device cuda without a GPU: rc=$rc stderr='$(cat "$tmp/se")'"
fi
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

# ---- theorem1 -------------------------------------------------------------------------------
"$valley" help | grep -q theorem1 && ok "valley help lists theorem1" || bad "valley help theorem1"
"$valley" theorem1 --help | grep -q -- "--sweep-l" && ok "theorem1 --help lists flags" || bad "theorem1 --help"
"$valley" theorem1 --json > "$tmp/t1.json" 2> "$tmp/err"
[ $? -eq 0 ] && ok "theorem1 --json runs" || bad "theorem1 --json: $(cat "$tmp/err")"
"$valley" theorem1 --d 30 --k 2 --method monte-carlo --samples 20000 --json > "$tmp/t1mc.json" 2> "$tmp/err"
[ $? -eq 0 ] && ok "theorem1 Monte Carlo runs" || bad "theorem1 monte-carlo: $(cat "$tmp/err")"
"$py" - "$tmp/t1.json" "$tmp/t1mc.json" <<'PY' && ok "theorem1 JSON has the issue's keys" || bad "theorem1 JSON keys"
import json, sys
d = json.load(open(sys.argv[1]))
for k in ["gain", "gain_ci", "bound", "ratio", "method", "conditions"]:
    assert k in d, k
assert d["gain_ci"] is None and d["method"] == "enumerate"
assert all({"name", "holds", "detail"} <= set(c) for c in d["conditions"])
assert abs(d["gain"] - d["bound"]) <= 1e-12 * d["bound"] and d["verdict"] == "holds"
m = json.load(open(sys.argv[2]))
assert m["method"] == "monte-carlo" and len(m["gain_ci"]) == 2
assert m["gain_ci"][0] <= m["gain"] <= m["gain_ci"][1]
PY
"$valley" theorem1 --d 12 --k 3 --l 1.2,0.3,0.3 --shift-frame axes --json --threads 1 > "$tmp/a1.json"
"$valley" theorem1 --d 12 --k 3 --l 1.2,0.3,0.3 --shift-frame axes --json --threads 2 > "$tmp/a2.json"
cmp -s "$tmp/a1.json" "$tmp/a2.json" && ok "theorem1: --threads 1 and 2 print identical JSON" || bad "theorem1 thread dependence"

"$valley" theorem1 --sweep-l "$tmp/sweep.csv" --sweep-points 50 > "$tmp/so" 2> "$tmp/se"
if [ $? -eq 0 ] && [ "$(grep -vc '^#' "$tmp/sweep.csv")" -eq 51 ] && grep -q '^t,l1,gain,bound,' "$tmp/sweep.csv"; then
  ok "--sweep-l writes header + 50 rows"
else
  bad "--sweep-l: $(cat "$tmp/se")"
fi
ls "$tmp" | grep -q '\.tmp\.' && bad "temporary file left behind" || ok "no temporary file left"

# the search pins the finding; its worst command reproduces its ratio exactly
"$valley" theorem1 --search --search-n 3000 --json > "$tmp/search.json"
"$py" - "$tmp/search.json" "$valley" <<'PY' && ok "theorem1 --search: violations found, commands reproduce" || bad "theorem1 --search"
import json, shlex, subprocess, sys
s = json.load(open(sys.argv[1]))["search"]
assert s["evaluated"] > 0 and s["violations"] > 0, s
assert s["violations_breaking"]["no_proof_condition"] == 0
w = s["worst"]
assert {"ratio", "params", "command"} <= set(w) and w["ratio"] < 1
for cls, ww in [("worst", w)] + list(s["worst_breaking_only"].items()):
    assert ww is not None, cls
    cmd = shlex.split(ww["command"])
    cmd[0] = sys.argv[2]
    out = json.loads(subprocess.run(cmd + ["--json"], capture_output=True, text=True, check=True).stdout)
    assert out["ratio"] == ww["ratio"] and out["verdict"] == "fails", (cls, out["ratio"], ww["ratio"])
PY
"$valley" theorem1 --search --search-n 3000 --search-space proof --json > "$tmp/proof.json"
"$py" -c "
import json; s=json.load(open('$tmp/proof.json'))['search']
assert s['violations'] == 0 and s['evaluated'] == 3000
" && ok "theorem1 --search-space proof: no violation" || bad "theorem1 proof-space search"

check_bad1() { check_bad_in theorem1 --sweep-l "$@"; }
printf '1 0 0\n0.6 0.8 0\n' > "$tmp/dirs_bad"
printf '1 0 0\n0 1\n' > "$tmp/dirs_short"
check_bad1 --k --k 5 --d 3
check_bad1 --directions --d 3 --k 2 --directions "$tmp/dirs_bad"
check_bad1 --directions --d 3 --k 2 --directions "$tmp/dirs_short"
check_bad1 --directions --d 3 --k 2 --directions "$tmp/nonexistent"
check_bad1 --p --p -0.5
check_bad1 --p --p 0
check_bad1 --c --c 1
check_bad1 --c --c 3,0.5
check_bad1 --dbar --dbar 5
check_bad1 --dbar --dbar 0.1
check_bad1 --p --p 1,2,3
check_bad1 --l --l 1,2,3
check_bad1 --dbar --dbar 1,1,1
check_bad1 --c --c 2,abc
check_bad1 --r --r 0
check_bad1 --rbar --rbar 0.4
check_bad1 --xi --xi -1
check_bad1 --q --q cosine
check_bad1 --profile --profile cubic
check_bad1 --shift-frame --shift-frame diagonal
check_bad1 --method --method guess
check_bad1 --q-freq --q sin --q-freq 0
check_bad1 --coupling --profile coupled --coupling -1
check_bad1 --d --d 0
check_bad1 --method --d 40 --method enumerate
check_bad1 "--q bump" --q bump --l 0 --xi 1
check_bad1 --search-space --search --search-space nowhere

# ---- basins and steady-state (issue 4) ----
"$valley" basins --preset fig4-left --T 0.1 --json > "$tmp/b.json" 2> "$tmp/err"
rc=$?
[ $rc -eq 0 ] && ok "basins --json runs" || bad "basins --json exit $rc: $(cat "$tmp/err")"
"$py" - "$tmp/b.json" <<'PY' && ok "basins JSON has the issue's keys" || bad "basins JSON keys"
import json, sys
d = json.load(open(sys.argv[1]))
for k in ["minima", "weights_exact", "weights_laplace", "E_train", "E_test", "E_test_eq8"]:
    assert k in d, k
assert len(d["minima"]) == 2 and abs(sum(d["weights_exact"]) - 1) < 1e-12
PY
"$valley" basins --preset fig4-left --sweep 0.01:1:12 --json --csv "$tmp/sweep.csv" > "$tmp/s.json" 2> "$tmp/err"
rc=$?
[ $rc -eq 0 ] && ok "basins --sweep runs" || bad "basins --sweep exit $rc: $(cat "$tmp/err")"
"$py" - "$tmp/s.json" "$tmp/sweep.csv" <<'PY' && ok "sweep JSON has optimal_T; CSV has 12 rows" || bad "sweep output"
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["sweep"]) == 12 and d["optimal_T"]["interior"] is True
assert 0.1 < d["optimal_T"]["T"] < 0.3
rows = [l for l in open(sys.argv[2]) if not l.startswith("#")]
assert rows[0].startswith("T,E_train,E_test") and len(rows) == 13
PY
"$valley" basins --preset fig6-three-grad1 --sweep 0.01:1:8 --threads 1 --json > "$tmp/g1.json"
"$valley" basins --preset fig6-three-grad1 --sweep 0.01:1:8 --threads 2 --json > "$tmp/g2.json"
cmp -s "$tmp/g1.json" "$tmp/g2.json" && ok "basins sweep identical with 1 and 2 threads" || bad "basins thread dependence"
"$valley" steady-state --preset fig6-three --T 0.2 --out "$tmp/rho.csv" --points 101 > "$tmp/ss.txt" 2> "$tmp/err"
if [ $? -eq 0 ] && [ "$(grep -vc '^#' "$tmp/rho.csv")" -eq 102 ] && grep -q '^theta,U_train,U_test,D,v,rho,log_rho$' "$tmp/rho.csv"; then
  ok "steady-state --out writes header + 101 rows"
else
  bad "steady-state --out: $(cat "$tmp/err")"
fi
printf 'minima = -1 1\nweights = 0.021 0.1\nsigmas = 0.1 0.5\nstddev_shift = 0.1\n' > "$tmp/good.spec"
"$valley" basins --spec "$tmp/good.spec" --T 0.1 --json > "$tmp/spec.json"
"$py" - "$tmp/spec.json" "$tmp/b.json" <<'PY' && ok "a spec file equal to fig4-left gives its numbers" || bad "spec file"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
assert a["weights_exact"] == b["weights_exact"] and a["E_test"] == b["E_test"]
PY
printf 'minima = -1 1\nweights = 0.1 0.1\nsigmas = 0.1 0.5\n\nc = -2\n' > "$tmp/neg_c.spec"
printf 'minima = -1 1\nweights = 0.1 0.1\nsigmas = 0.1, oops\n' > "$tmp/bad_list.spec"
printf '# a comment\nminima = -1 1\nweights = 0.1 0.1 0.2\nsigmas = 0.1 0.5\n' > "$tmp/len.spec"
check_bb() { check_bad_in basins --csv "$@" --sweep 0.1:1:3; }
check_ss() { check_bad_in steady-state --out "$@"; }
check_bb --sigmas --sigmas 0.1,0,
check_bb sigmas --sigmas 0.1,-0.5
check_bb weights --weights 0,0.1
check_bb --weights --weights 0.1,0.1,0.1
check_bb "3 minima" --minima -1,0,1
check_bb --minima --minima -1,abc
check_bb excludes --hi 0.5
check_bb --preset --preset fig9
check_bb "--preset or --spec" --preset fig4-left --spec "$tmp/good.spec"
check_bb "neg_c.spec:5" --spec "$tmp/neg_c.spec"
check_bb "bad_list.spec:3" --spec "$tmp/bad_list.spec"
check_bb "len.spec:3" --spec "$tmp/len.spec"
check_bb --spec --spec "$tmp/nonexistent.spec"
check_bb --noise --noise loud
check_bb --wscale --wscale -1
check_bb --sweep --sweep 0:1:3
check_bb --sweep --sweep 1:0.1:3
check_bb --sweep --sweep 0.1:1
check_ss --T --T 0
check_ss --device --device gpu --sde
check_ss --gpu --gpu -2 --device cuda --sde
check_ss --T --T -0.1
check_ss --T --T nan
check_ss --points --points 1
check_ss --grid --grid 3
check_ss --test-shift --test-shift sometimes
check_ss --fv --fv 2
check_ss --sgd-lr --sgd-lr 0.01,0
check_ss --sgd-lr --sgd-lr 0.01,x
check_ss --sgd-noise --sgd-lr 0.01 --sgd-noise cauchy
check_ss --start --sde --start somewhere
check_ss --dt --sde --dt 0
check_ss --particles --sde --particles 0

# SDE from exact draws stays at rho (z < 5: P(false failure) < 1e-6 for a sum of 60 bins' absolute
# deviations, whose simulated noise distribution is close to normal); SGD with lambda C(-1) ~ 3 > 2
# is unstable in the narrow basin and must be flagged (its L1 is ~0.7 against noise ~0.06).
"$valley" steady-state --preset fig4-left --T 0.1 --sde --sgd-lr 0.03 --particles 2000 --time 0.5 --dt 1e-3 --bins 60 --json > "$tmp/ens.json" 2> "$tmp/err"
"$py" - "$tmp/ens.json" <<'PY' && ok "steady-state --sde matches rho; --sgd-lr 0.03 is flagged" || bad "ensembles: $(cat "$tmp/err")"
import json, sys
d = json.load(open(sys.argv[1]))
em, sgd = d["ensembles"]
assert em["scheme"] == "em" and em["z"] < 5, em
assert sgd["scheme"] == "sgd" and sgd["z"] > 20, sgd
PY

"$valley" fp2d --example curl --cells 64 --json > "$tmp/c.json" && "$valley" fp2d --example separable --cells 64 --json > "$tmp/sep.json" \
  && "$py" - "$tmp/c.json" "$tmp/sep.json" <<'PY' && ok "fp2d: the formula fails with curl (L1 > 0.05), holds without" || bad "fp2d"
import json, sys
c, s = (json.load(open(f)) for f in sys.argv[1:3])
assert c["curl_max"] > 1 and c["L1_formula_xy_vs_fv"] > 0.05 and c["L1_between_paths"] > 0.05
assert s["curl_max"] < 1e-8 and s["L1_between_paths"] < 1e-12 and s["L1_formula_xy_vs_fv"] < 0.02
PY
# The 2-D SDE ensemble is the third witness: it agrees with the finite volumes (z < 5: with 256 bins
# the simulated noise distribution of L1 is close to normal, P(false failure) < 1e-6) and not with
# the formula (z > 5 on both paths: measured z = 10.5 and 7.8 on this seed).
"$valley" fp2d --example curl --sde 10000 --time 6 --cells 64 --bins 16 --json > "$tmp/csde.json" 2> "$tmp/err"
"$py" - "$tmp/csde.json" <<'PY' && ok "fp2d --sde: the ensemble agrees with the finite volumes, not with the formula" || bad "fp2d --sde: $(cat "$tmp/err")"
import json, sys
d = json.load(open(sys.argv[1]))["sde"]
z = lambda l1: (l1 - d["sampling_noise_mean"]) / d["sampling_noise_sd"]
assert z(d["L1_to_fv"]) < 5, d
assert z(d["L1_to_formula_xy"]) > 5 and z(d["L1_to_formula_yx"]) > 5, d
PY
"$valley" fp2d --bins 5 > /dev/null 2> "$tmp/se"; [ $? -eq 2 ] && grep -q -- --bins "$tmp/se" && ok "fp2d --bins not dividing --cells: exit 2" || bad "fp2d bad --bins"
"$valley" fp2d --example spiral > /dev/null 2> "$tmp/se"; [ $? -eq 2 ] && grep -q -- --example "$tmp/se" && ok "fp2d bad --example: exit 2" || bad "fp2d bad --example"

# valley direction: a profile CSV (docs/profiles.md).  The train loss is the piecewise-linear
# asymmetric valley of tests/test_profile.c (p = 0.4, c = 3 beyond r0 = 0.5, quadratic core), the
# test loss the same shifted by 0.3 and raised by 0.1, so delta* = 0.3 and c = 3 exactly.
"$py" - "$tmp/prof.csv" "$tmp/pnan.csv" "$tmp/pmono.csv" "$tmp/pfew.csv" "$tmp/pnocol.csv" "$tmp/pedge.csv" <<'PY'
import sys
def v(x):
    t = abs(x); core = t <= 0.5
    y = 0.4 * t * t / 1.0 if core else 0.1 + 0.4 * (t - 0.5)
    return y if x >= 0 else 3 * y
ls = [(i - 300) / 100 for i in range(601)]
rows = ["%r,%r,%r,0.9,0.8" % (l, v(l), v(l - 0.3) + 0.1) for l in ls]
good, nan, mono, few, nocol, edge = sys.argv[1:7]
open(good, "w").write("# asymmetric valley\nl,train_loss,test_loss,train_acc,test_acc\n" + "\n".join(rows) + "\n")
bad = rows[:]; bad[10] = "%r,nan,1,0.9,0.8" % ls[10]
open(nan, "w").write("l,train_loss,test_loss,train_acc,test_acc\n" + "\n".join(bad) + "\n")
bad = rows[:]; bad[20], bad[21] = bad[21], bad[20]
open(mono, "w").write("l,train_loss,test_loss,train_acc,test_acc\n" + "\n".join(bad) + "\n")
open(few, "w").write("l,train_loss,test_loss\n-1,1,1\n0,0,0\n1,1,1\n2,2,2\n")
open(nocol, "w").write("l,train_loss\n" + "\n".join("%r,%r" % (l, v(l)) for l in ls) + "\n")
open(edge, "w").write("l,train_loss,test_loss\n" + "\n".join("%r,%r,%r" % (l, v(l), -l) for l in ls) + "\n")
PY
"$valley" help | grep -q direction && ok "valley help lists direction" || bad "valley help: direction"
"$valley" direction --help | grep -q -- "--delta-step" && ok "direction --help lists flags" || bad "direction --help"
"$valley" direction --profile "$tmp/prof.csv" --json --csv "$tmp/xi.csv" > "$tmp/dir.json" 2> "$tmp/err"
rc=$?
[ $rc -eq 0 ] && ok "direction --json runs" || bad "direction --json exit $rc: $(cat "$tmp/err")"
"$py" - "$tmp/dir.json" "$tmp/xi.csv" <<'PY' && ok "direction JSON: keys, c = 3, p = 0.4, delta* = 0.3, the xi CSV" || bad "direction JSON"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["command"] == "direction"
assert d["profile"]["points"] == 601 and d["profile"]["has_accuracy"] is True
d1 = d["definition1"]
for k in ["smooth", "min_width", "r_min", "min_points", "z", "tie", "train"]:
    assert k in d1, k
b = d1["train"]["best"]
for k in ["found", "flat_side", "r", "rbar", "p", "c", "c_conservative", "asymmetric"]:
    assert k in b, k
assert b["found"] and b["flat_side"] == "positive" and b["asymmetric"]
assert abs(b["c"] - 3) < 1e-9 and abs(b["p"] - 0.4) < 1e-9 and 0.5 <= b["r"] <= 0.51 + 1e-12
g = d["shift_gap"]
for k in ["R", "delta_min", "delta_max", "delta_step", "xi_0", "delta_star", "xi_star", "ratio", "delta", "xi"]:
    assert k in g, k
assert abs(g["delta_star"] - 0.3) < 1e-9 and g["xi_star"] < 1e-12 and len(g["delta"]) == len(g["xi"])
c = d["curvature"]
assert c["available"] is True
for k in ["window", "train", "test", "shift", "shift_curvature", "test_at_train_min", "test_predicted"]:
    assert k in c, k
assert abs(c["shift"] - 0.3) < 0.01
lines = [x for x in open(sys.argv[2]) if not x.startswith("#")]
assert lines[0].strip() == "delta,xi,xi_over_xi0" and len(lines) == 1 + len(g["delta"])
PY
"$valley" direction --profile "$tmp/prof.csv" > "$tmp/dir.txt" && grep -q "Definition 3" "$tmp/dir.txt" && grep -q "shift-curvature" "$tmp/dir.txt" \
  && ok "direction text report" || bad "direction text report"
"$valley" direction --profile "$tmp/pedge.csv" --json > "$tmp/edge.json" 2> "$tmp/err" && "$py" - "$tmp/edge.json" <<'PY' \
  && ok "direction: a test minimum at the edge leaves curvature unavailable, exit 0" || bad "direction edge: $(cat "$tmp/err")"
import json, sys
c = json.load(open(sys.argv[1]))["curvature"]
assert c["available"] is False and "edge" in c["reason"]
PY
# Bad profiles and flags: one line naming the file (or flag), exit 2, nothing on stdout, no --csv file.
check_bad_in direction --csv pnan.csv:12 --profile "$tmp/pnan.csv"
check_bad_in direction --csv pmono.csv:23 --profile "$tmp/pmono.csv"
check_bad_in direction --csv "pfew.csv: 4 data points" --profile "$tmp/pfew.csv"
check_bad_in direction --csv "pnocol.csv:1: the header has no 'test_loss'" --profile "$tmp/pnocol.csv"
check_bad_in direction --csv "nosuch.csv: cannot open" --profile "$tmp/nosuch.csv"
check_bad_in direction --csv "prof.csv: Definition 3: R = 4" --profile "$tmp/prof.csv" --R 4
check_bad_in direction --csv --profile --json
check_bad_in direction --csv --smooth --profile "$tmp/prof.csv" --smooth 0
check_bad_in direction --csv --fit-side --profile "$tmp/prof.csv" --fit-side left
check_bad_in direction --csv --delta-max --profile "$tmp/prof.csv" --delta-min -1

# valley net: train a tiny MLP, eval it (the same numbers, bit for bit), probe 2 directions and
# read a profile back with valley direction.  Needs Debian's dataset-fashion-mnist.
fm=/usr/share/datasets/fashion-mnist
if [ -d "$fm" ]; then
  net_train="net train --widths 784,32,10 --epochs 1 --batch 32 --train-subset 2000 --seed 3"
  OPENBLAS_NUM_THREADS=1 "$valley" $net_train --out "$tmp/net.vck" --safetensors "$tmp/net.safetensors" --json \
    > "$tmp/ntrain.json" 2> "$tmp/err"
  rc=$?
  [ $rc -eq 0 ] && grep -q '^epoch 1/1 ' "$tmp/err" && [ -s "$tmp/net.vck" ] && [ -s "$tmp/net.safetensors" ] \
    && ok "net train --json runs, one epoch line on stderr, checkpoint + safetensors" || bad "net train exit $rc: $(cat "$tmp/err")"
  OPENBLAS_NUM_THREADS=1 "$valley" net eval --checkpoint "$tmp/net.vck" --train-subset 2000 --json > "$tmp/neval.json" 2> "$tmp/err" \
    || bad "net eval: $(cat "$tmp/err")"
  OPENBLAS_NUM_THREADS=1 "$valley" net eval --safetensors "$tmp/net.safetensors" --widths 784,32,10 --train-subset 2000 --json \
    > "$tmp/neval2.json" 2> "$tmp/err" || bad "net eval --safetensors: $(cat "$tmp/err")"
  "$py" - "$tmp/ntrain.json" "$tmp/neval.json" "$tmp/neval2.json" <<'PY' && ok "net train JSON keys, test accuracy > 0.5; eval (checkpoint and safetensors) reproduces the final report exactly" || bad "net train/eval JSON"
import json, sys
t, e, s = (json.load(open(f)) for f in sys.argv[1:4])
for k in ["widths", "batch_norm", "parameters", "epochs", "batch", "lr", "momentum", "weight_decay",
          "swa", "history", "final", "seconds", "checkpoint", "train_examples", "test_examples"]:
    assert k in t, k
assert t["widths"] == [784, 32, 10] and t["parameters"] == 784 * 32 + 32 + 32 * 10 + 10
assert t["train_examples"] == 2000 and t["test_examples"] == 10000
assert len(t["history"]) == 1
assert {"epoch", "lr", "train_loss", "test_loss", "test_accuracy"} <= set(t["history"][0])
f = t["final"]
assert f["test_accuracy"] > 0.5, f
for k in ["train_loss", "train_accuracy", "test_loss", "test_accuracy"]:
    assert e[k] == f[k] and s[k] == f[k], (k, e[k], s[k], f[k])
PY
  OPENBLAS_NUM_THREADS=1 "$valley" net probe --checkpoint "$tmp/net.vck" --family filter --directions 2 --grid -1:1:5 --seed 7 \
    --train-subset 1000 --test-subset 500 --out "$tmp/nprobe" --json > "$tmp/nprobe.json" 2> "$tmp/err" \
    || bad "net probe: $(cat "$tmp/err")"
  "$py" - "$tmp/nprobe.json" "$tmp/nprobe_0.csv" <<'PY' && ok "net probe JSON lists 2 files; CSV has l,train_loss,test_loss,train_acc,test_acc" || bad "net probe output"
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["files"]) == 2 and d["files"][0].endswith("nprobe_0.csv") and d["files"][1].endswith("nprobe_1.csv")
assert d["grid"] == [-1, -0.5, 0, 0.5, 1]
for r in d["directions"]:
    assert r["at_0"]["l"] == 0 and r["at_lmin"]["l"] == -1 and r["at_lmax"]["l"] == 1
    assert r["at_lmin"]["train_loss"] > r["at_0"]["train_loss"] < r["at_lmax"]["train_loss"]
lines = [x for x in open(sys.argv[2]) if not x.startswith("#")]
assert lines[0].strip() == "l,train_loss,test_loss,train_acc,test_acc" and len(lines) == 6
PY
  "$valley" direction --profile "$tmp/nprobe_1.csv" > /dev/null 2> "$tmp/err" && ok "valley direction reads a net probe profile" \
    || bad "direction on probe output: $(cat "$tmp/err")"
  # the CNN: train, eval from the checkpoint and from safetensors (same numbers), probe
  cnn_train="net train --arch cnn --channels 4,8 --bn --epochs 1 --batch 32 --train-subset 1000 --test-subset 500 --seed 3"
  OPENBLAS_NUM_THREADS=1 "$valley" $cnn_train --out "$tmp/cnn.vck" --safetensors "$tmp/cnn.safetensors" --json \
    > "$tmp/ctrain.json" 2> "$tmp/err" || bad "net train --arch cnn: $(cat "$tmp/err")"
  OPENBLAS_NUM_THREADS=1 "$valley" net eval --checkpoint "$tmp/cnn.vck" --train-subset 1000 --test-subset 500 --json \
    > "$tmp/ceval.json" 2> "$tmp/err" || bad "net eval (cnn): $(cat "$tmp/err")"
  OPENBLAS_NUM_THREADS=1 "$valley" net eval --safetensors "$tmp/cnn.safetensors" --arch cnn --channels 4,8 --bn \
    --train-subset 1000 --test-subset 500 --json > "$tmp/ceval2.json" 2> "$tmp/err" || bad "net eval --safetensors (cnn): $(cat "$tmp/err")"
  "$py" - "$tmp/ctrain.json" "$tmp/ceval.json" "$tmp/ceval2.json" <<'PY' && ok "net train --arch cnn JSON (arch, channels, image, parameters); eval from checkpoint and safetensors reproduces it exactly" || bad "net train --arch cnn JSON"
import json, sys
t, e, s = (json.load(open(f)) for f in sys.argv[1:4])
assert t["arch"] == "cnn" and t["channels"] == [4, 8] and t["image"] == [1, 28, 28], t
assert t["widths"] == [784, 4, 8, 10] and t["batch_norm"] is True
assert t["parameters"] == 4 * 9 + 2 * 4 + 8 * 4 * 9 + 2 * 8 + 10 * 8 * 7 * 7 + 10, t["parameters"]
assert e["arch"] == "cnn" and s["arch"] == "cnn"
f = t["final"]
assert f["test_accuracy"] > 0.3, f
for k in ["train_loss", "train_accuracy", "test_loss", "test_accuracy"]:
    assert e[k] == f[k] and s[k] == f[k], (k, e[k], s[k], f[k])
PY
  OPENBLAS_NUM_THREADS=1 "$valley" net probe --checkpoint "$tmp/cnn.vck" --family filter --directions 1 --grid -1:1:5 \
    --train-subset 300 --test-subset 200 --out "$tmp/cprobe" > /dev/null 2> "$tmp/err" && [ -s "$tmp/cprobe_0.csv" ] \
    && ok "net probe on a CNN checkpoint" || bad "net probe (cnn): $(cat "$tmp/err")"
  ls "$tmp" | grep -q '\.tmp\.' && bad "net: temporary file left behind" || ok "net: no temporary file left"
  check_bad_in net --out "no such directory" train --widths 784,32,10 --epochs 1 --data "$tmp/nodata"
  check_bad_in net --out "cannot\|nosuch.vck" probe --checkpoint "$tmp/nosuch.vck" --grid -1:1:5
  check_bad_in net --out --grid probe --checkpoint "$tmp/net.vck" --grid 1:2:5
  check_bad_in net --out --device probe --checkpoint "$tmp/net.vck" --grid -1:1:5 --device gpu
  # --device cuda: where no GPU is usable, one line saying why and exit 1 (could not run), no
  # file; where one is, the same profiles as the CPU within 1e-4 relative (docs/cuda.md).
  if "$valley" net probe --checkpoint "$tmp/net.vck" --grid -1:1:5 --directions 1 --train-subset 500 \
       --test-subset 300 --out "$tmp/gprobe" --device cuda > "$tmp/so" 2> "$tmp/se"; then
    OPENBLAS_NUM_THREADS=1 "$valley" net probe --checkpoint "$tmp/net.vck" --grid -1:1:5 --directions 1 \
      --train-subset 500 --test-subset 300 --out "$tmp/cprobe" > /dev/null 2>&1
    "$py" - "$tmp/gprobe_0.csv" "$tmp/cprobe_0.csv" <<'PY' && ok "net probe --device cuda agrees with the CPU" || bad "net probe --device cuda differs"
import sys
g, c = ([[float(v) for v in l.split(",")] for l in open(f) if l[0] not in "#l"] for f in sys.argv[1:3])
assert len(g) == len(c) == 5
for a, b in zip(g, c):
    assert all(abs(a[i] - b[i]) <= 1e-4 * abs(b[i]) for i in (1, 2)), (a, b)
PY
  else
    rc=$?
    [ $rc -eq 1 ] && [ "$(wc -l < "$tmp/se")" -eq 1 ] && grep -q "CUDA" "$tmp/se" && [ ! -e "$tmp/gprobe_0.csv" ] \
      && ok "net probe --device cuda without a GPU: exit 1, $(cat "$tmp/se")" || bad "net probe --device cuda: rc=$rc $(cat "$tmp/se")"
  fi
  check_bad_in net --out --widths train --widths 100,32,10 --epochs 1 --train-subset 100
else
  echo "skip: net train/eval/probe ($fm absent)"
fi
# valley net bad input that needs no data.
"$valley" net nosuch > "$tmp/so" 2> "$tmp/se"; rc=$?
[ $rc -eq 2 ] && [ "$(wc -l < "$tmp/se")" -eq 1 ] && grep -q nosuch "$tmp/se" && [ ! -s "$tmp/so" ] \
  && ok "net: unknown subcommand -> $(cat "$tmp/se")" || bad "net unknown subcommand: rc=$rc"
"$valley" net > /dev/null 2>&1; [ $? -eq 2 ] && ok "net without a subcommand: exit 2" || bad "net without a subcommand"
"$valley" help net | grep -q probe && ok "valley help net lists probe" || bad "valley help net"
check_bad_in net --out --widths train --widths 784,0,10
check_bad_in net --out --widths train --widths 784
check_bad_in net --out --widths train --widths 784,x,10
check_bad_in net --out --epochs train --widths 784,32,10 --epochs 0
check_bad_in net --out --momentum train --widths 784,32,10 --momentum 1
check_bad_in net --out --bn train --widths 784,10 --bn
check_bad_in net --out --grid probe --checkpoint x.vck --grid -1:1:4
check_bad_in net --out --grid probe --checkpoint x.vck --grid -1:1
check_bad_in net --out --family probe --checkpoint x.vck --grid -1:1:5 --family nope
check_bad_in net --out --directions probe --checkpoint x.vck --grid -1:1:5 --directions 0
check_bad_in net --out --checkpoint probe --checkpoint x.vck --safetensors y --grid -1:1:5
check_bad_in net --out --widths probe --safetensors y --grid -1:1:5
check_bad_in net --out --channels train --arch mlp --widths 784,10 --channels 3,4
check_bad_in net --out --channels train --arch cnn --channels 0,4
check_bad_in net --out --channels train --arch cnn --channels 4
check_bad_in net --out --channels train --arch cnn --channels 4,5000
check_bad_in net --out --channels train --arch cnn
check_bad_in net --out --arch train --arch rnn --widths 784,10
check_bad_in net --out --widths train --arch cnn --channels 4,4 --widths 784,10
check_bad_in net --out --arch probe --checkpoint x.vck --arch cnn --grid -1:1:5
check_bad_in net --out --channels probe --safetensors y --arch cnn --grid -1:1:5

# valley experiment: the list, and bad input (one line naming the problem, exit 2, no output
# directory created).  The experiments themselves run in tests/test_experiment.sh.
"$valley" experiment --list --json > "$tmp/elist.json" && "$py" - "$tmp/elist.json" <<'PY' \
  && ok "experiment --list --json names every experiment with its claim and source" || bad "experiment --list"
import json, sys
e = json.load(open(sys.argv[1]))["experiments"]
assert len(e) >= 5 and all(x["name"] and x["claim"] and x["source"] for x in e)
assert {"asym-common", "shift-gap", "assumption2", "swa-vs-sgd", "illusions"} <= {x["name"] for x in e}
PY
check_exp_bad() {
  local want=$1; shift
  "$valley" experiment "$@" --out "$tmp/eout" > "$tmp/so" 2> "$tmp/se"
  local rc=$?
  if [ $rc -eq 2 ] && [ "$(wc -l < "$tmp/se")" -eq 1 ] && grep -q -- "$want" "$tmp/se" && [ ! -e "$tmp/eout" ]; then
    ok "bad experiment $* -> $(cat "$tmp/se")"
  else
    bad "bad experiment $*: rc=$rc stderr='$(cat "$tmp/se")'"
  fi
}
check_exp_bad "unknown experiment" nosuch
check_exp_bad "name" --seed 3
check_exp_bad "\-\-device" shift-gap --device gpu
check_exp_bad "\-\-data" shift-gap --data "$tmp/nodata"
check_exp_bad "\-\-seed" shift-gap --seed x

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
