#!/usr/bin/env python3
"""Checks of the assumption2 report (tests/test_experiment.sh runs it with the report path)."""
import csv, json, math, os, sys

import expcheck

rep, files, rows = expcheck.report(sys.argv[1])
r = rep["results"]
s = r["settings"]


def close(a, b, tol=1e-9):
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


assert "candidates" in files
cand = rows("candidates")
n_cand = s["candidates_filter"] + s["candidates_bn"]
ng = s["n_grid"]
assert len(cand) == n_cand * ng and len(r["candidates"]) == n_cand
mid = [x for x in cand if float(x["l"]) == 0.0]
assert len(mid) == n_cand
# l = 0 is w* on every candidate: the same train loss, equal to the report's
for x in mid:
    assert close(float(x["train_loss"]), r["train_loss_w"]), x
grid = sorted({float(x["l"]) for x in cand})
assert len(grid) == ng and close(grid[-1], s["l_max"]) and close(grid[0], -s["l_max"])
assert all(close(a, -b, 0) for a, b in zip(grid, reversed(grid))), "grid not symmetric"
assert r["theta_norm"] > 0

if rep["verdict"] == "inconclusive" and r["direction"] is None:
    assert not any(c["def1"]["asymmetric_conservative"] for c in r["candidates"])
    print("ok  : assumption2 checks (no asymmetric direction)")
    sys.exit(0)

d = r["direction"]
W = d["def1_w"]
best = r["candidates"][d["index"]]["def1"]
assert W == best and W["asymmetric_conservative"] and W["c"] > 1
# the chosen one has the largest conservative c among the asymmetric candidates
for c in r["candidates"]:
    if c["def1"]["asymmetric_conservative"]:
        assert c["def1"]["c_conservative"] <= W["c_conservative"] + 1e-12
# the fixed-window measurement reproduces Definition 1 at w* exactly
fw = r["w_fixed_window"]
assert close(fw["p"], W["p"], 1e-12) and close(fw["cp"], W["cp"], 1e-12), (fw, W)
# and recomputed from the CSV by central differences
cu = [x for x in cand if int(x["direction"]) == d["index"]]
l = [float(x["l"]) for x in cu]
y = [float(x["train_loss"]) for x in cu]
p, cp = -math.inf, math.inf
for i in range(1, ng - 1):
    a = abs(l[i])
    if l[i] == 0 or a < W["r"] or a > W["rbar"]:
        continue
    g = (y[i + 1] - y[i - 1]) / (l[i + 1] - l[i - 1])
    out = g if l[i] > 0 else -g
    if (l[i] > 0) == (W["flat_side"] > 0):
        p = max(p, out)
    else:
        cp = min(cp, out)
assert close(p, W["p"], 1e-9) and close(cp, W["cp"], 1e-9), (p, cp, W)

pts = rows("points")
N = s["n_points"]
nr = len(s["r_over_theta_norm"])
assert len(pts) == N * nr and len(r["radii"]) == nr
fig = rows("figure4")
assert len(fig) == nr * ng
curves = rows("curves")
assert len(curves) == N * nr * ng
for ri, rad in enumerate(r["radii"]):
    frac = rad["r_over_theta_norm"]
    assert close(rad["R"], frac * r["theta_norm"])
    # ||v_perp|| <= R (v in the ball, then projected)
    mine = [x for x in pts if close(float(x["r_over_theta_norm"]), frac, 1e-5)]
    assert len(mine) == N
    for x in mine:
        assert float(x["v_perp_norm"]) <= rad["R"] * (1 + 1e-5)
    k = sum(int(x["fixed_asymmetric"]) for x in mine)
    assert k == rad["same_side_asymmetric"]
    assert close(rad["fraction_same_side_asymmetric"], k / N)
    lo, hi = rad["wilson_same_side_asymmetric"]
    assert 0 <= lo <= k / N + 1e-12 and k / N <= hi + 1e-12 and hi <= 1
    k2 = sum(1 for x in mine if int(x["fixed_asymmetric"]) and float(x["fixed_c"]) > 2)
    assert k2 == rad["same_side_c_gt_2"] <= k
    kf = sum(1 for x in mine if int(x["free_asymmetric_conservative"]) and
             int(x["free_flat_side"]) == W["flat_side"])
    assert kf == rad["free_window_same_side"]
    # c_all: the tightest constants over w* and every point
    p_all = max([fw["p"]] + [float(x["fixed_p"]) for x in mine])
    cp_all = min([fw["cp"]] + [float(x["fixed_cp"]) for x in mine])
    assert close(p_all, rad["p_all"], 1e-9) and close(cp_all, rad["cp_all"], 1e-9)
    # the base point's loss is the curve's l = 0 value
    cv = [x for x in curves if ri * N <= int(x["direction"]) < (ri + 1) * N]
    for x in cv:
        if float(x["l"]) == 0.0:
            i = int(x["direction"]) - ri * N
            assert close(float(x["train_loss"]), float(mine[i]["base_train_loss"]))
    # figure 4: pointwise mean / min / max of the curves
    fr = [x for x in fig if close(float(x["r_over_theta_norm"]), frac, 1e-5)]
    for g, x in enumerate(fr):
        ys = [float(c["train_loss"]) for c in cv if close(float(c["l"]), float(x["l"]), 0)]
        assert len(ys) == N
        assert close(float(x["mean"]), sum(ys) / N, 1e-9)
        assert close(float(x["min"]), min(ys)) and close(float(x["max"]), max(ys))
        assert float(x["min"]) <= float(x["mean"]) <= float(x["max"]) and float(x["sd"]) >= 0
        assert close(float(x["w_train"]), y[g])

# the verdict follows the stated rule at the primary radius
prim = [x for x in r["radii"] if close(x["r_over_theta_norm"], s["primary_r_over_theta_norm"])][0]
f = prim["fraction_same_side_asymmetric"]
lo, hi = prim["wilson_same_side_asymmetric"]
want = "reproduced" if f >= 0.9 and lo >= 0.7 else ("not reproduced" if hi < 0.9 else "inconclusive")
assert rep["verdict"] == want, (rep["verdict"], want)
print("ok  : assumption2 checks")
