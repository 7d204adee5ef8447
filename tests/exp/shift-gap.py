#!/usr/bin/env python3
"""shift-gap: the report's numbers against its CSVs (docs/exp_shift-gap.md)."""
import csv, json, math, os, sys

import expcheck
from expcheck import wilson

rep, files, rows = expcheck.report(sys.argv[1])
res = rep["results"]

dirs, profs, curves = rows("directions"), rows("profiles"), rows("curves")
S, sol = res["settings"], res["solution"]
G, L, R = S["grid_points"], res["half_width"], res["R"]
assert len(dirs) == S["pool"] == res["n_pool"] == len(res["directions"])
# profiles: l symmetric on [-L, L], l = 0 is the solution's evaluated loss
for i in range(S["pool"]):
    p = [r for r in profs if int(r["direction"]) == i]
    assert len(p) == G
    ls = [float(r["l"]) for r in p]
    assert ls == sorted(ls) and abs(ls[0] + L) < 1e-6 * L and abs(ls[-1] - L) < 1e-6 * L
    z = p[G // 2]
    assert float(z["l"]) == 0.0
    assert abs(float(z["train_loss"]) - sol["train_loss"]) < 1e-5 * max(1, sol["train_loss"])
    assert abs(float(z["test_loss"]) - sol["test_loss"]) < 1e-5 * max(1, sol["test_loss"])
# selection: every c_cons > 2 direction, at least min_selected, the most asymmetric ones
sel = [d for d in res["directions"] if d["selected"]]
asym = [d for d in res["directions"] if d["valid"] and d["c_conservative"] is not None
        and d["c_conservative"] > 2]
assert len(asym) == res["n_asymmetric"] and all(d["selected"] for d in asym)
assert len(sel) == res["n_selected"] == min(S["pool"], max(len(asym), S["min_selected"]))
cmin = min(d["c_conservative"] if d["c_conservative"] is not None else -1e300 for d in sel)
for d in res["directions"]:
    if not d["selected"] and d["valid"] and d["c_conservative"] is not None:
        assert d["c_conservative"] <= cmin
# curves: xi_0 at delta = 0, delta* the argmin, ratio = xi*/xi0 <= 1
ratios = []
for d in sel:
    c = [r for r in curves if int(r["direction"]) == d["index"]]
    assert c, d
    de = [float(r["delta"]) for r in c]; xi = [float(r["xi"]) for r in c]
    assert min(de) >= -R - 1e-9 and max(de) <= R + 1e-9
    k0 = min(range(len(de)), key=lambda k: abs(de[k]))
    assert abs(de[k0]) < 1e-9 and abs(xi[k0] - d["xi0"]) <= 1e-7 * max(1, d["xi0"])
    ks = min(range(len(xi)), key=lambda k: xi[k])
    assert abs(xi[ks] - d["xi_star"]) <= 1e-7 * max(1, d["xi_star"])
    assert abs(de[ks] - d["delta_star"]) <= 1e-6 * L
    assert 0 <= d["ratio"] <= 1 + 1e-12 and abs(d["ratio"] - d["xi_star"] / d["xi0"]) < 1e-9
    if d["delta_star"] != 0 and d["flat_side"] != 0:
        assert d["toward_flat"] == (1 if (d["delta_star"] > 0) == (d["flat_side"] > 0) else -1)
    ratios.append(d["ratio"])
k = sum(1 for x in ratios if x <= 0.5)
assert k == res["n_match"]
lo, hi = wilson(k, len(ratios))
assert abs(lo - res["match_wilson_lo"]) < 1e-12 and abs(hi - res["match_wilson_hi"]) < 1e-12
assert lo <= res["match_fraction"] <= hi
assert abs(sum(ratios) / len(ratios) - res["ratio_mean"]) < 1e-9
assert res["ratio_min"] <= res["ratio_median"] <= res["ratio_max"]
v = "reproduced" if lo >= 0.5 else "not reproduced" if hi < 0.5 else "inconclusive"
assert rep["verdict"] == v, (rep["verdict"], v)
print(f"ok  : shift-gap: {len(sel)} curves checked, verdict rule recomputed: {v}")
