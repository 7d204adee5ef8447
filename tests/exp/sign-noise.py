#!/usr/bin/env python3
"""sign-noise: the report's numbers recomputed from its CSVs (docs/exp_sign-noise.md)."""
import csv, json, math, os, sys

import expcheck
from expcheck import wilson

rep, files, rows = expcheck.report(sys.argv[1])
res = rep["results"]

S = res["settings"]
TARGET, RHO = S["target_mean_rise"], S["asymmetric_rise_ratio"]
G = S["grid_points"]; H = G // 2
nets = {(r["network"], int(r["seed"])): r for r in rows("networks")}
assert len(nets) == 3 * S["n_seeds"]
# converged BN scales: the positive fraction of each BN network, none in the plain network
bn = {}
for r in rows("bn_scales"):
    bn.setdefault((r["network"], int(r["seed"])), []).append(float(r["scale"]))
for key, n in nets.items():
    sc = bn.get(key, [])
    assert len(sc) == int(n["bn_scales"]), key
    if key[0] == "plain":
        assert not sc
    else:
        assert len(sc) == 2 * S["widths"][1]
        assert abs(sum(x > 0 for x in sc) / len(sc) - float(n["bn_positive_fraction"])) < 1e-6

# every profile: l = 0 is the trained network, the rises and their crossing recomputed
prof = {}
for r in rows("profiles"):
    prof.setdefault((r["network"], int(r["seed"]), r["family"], int(r["direction"])), []).append(
        (float(r["l"]), float(r["train_loss"])))
dirs = rows("directions")
assert len(dirs) == len(prof) == 3 * 3 * S["n_seeds"] * S["directions_per_family_and_seed"]
cells = {}
for d in dirs:
    key = (d["network"], int(d["seed"]), d["family"], int(d["direction"]))
    p = prof[key]
    assert len(p) == G and [x for x, _ in p] == sorted(x for x, _ in p)
    L = float(d["half_width"])
    assert p[H][0] == 0.0 and abs(p[0][0] + L) < 1e-6 * L and abs(p[-1][0] - L) < 1e-6 * L
    y = [v for _, v in p]
    assert abs(y[H] - float(nets[key[:2]]["train_loss"])) < 1e-5 * max(1.0, y[H])
    mp = rpp = rmp = 0.0
    found = None
    for k in range(1, H + 1):
        rp, rm = y[H + k] - y[H], y[H - k] - y[H]
        m = (rp + rm) / 2
        if m >= TARGET:
            t = (TARGET - mp) / (m - mp)
            found = (rpp + t * (rp - rpp), rmp + t * (rm - rmp),
                     p[H + k - 1][0] + t * (p[H + k][0] - p[H + k - 1][0]))
            break
        mp, rpp, rmp = m, rp, rm
    assert int(d["resolved"]) == (found is not None), key
    asym = 0
    if found:
        rp, rm, ls = found
        assert abs(rp - float(d["rise_plus"])) < 1e-6 and abs(rm - float(d["rise_minus"])) < 1e-6
        assert abs(ls - float(d["l_star"])) < 1e-6 * L
        assert abs((rp + rm) / 2 - TARGET) < 1e-6          # the crossing is at the target
        lo, hi = min(rp, rm), max(rp, rm)
        rho = hi / lo if lo > 0 else math.inf
        asym = int(rho >= RHO)
        if math.isfinite(rho):
            assert abs(rho - float(d["rho"])) < 1e-6 * rho
        assert abs((rp - rm) / (rp + rm) - float(d["A"])) < 1e-6
        assert int(d["flat_side"]) == (1 if rp < rm else -1 if rp > rm else 0)
    assert int(d["asymmetric"]) == asym, key
    c = cells.setdefault((d["network"], d["family"]), [0, 0])
    c[0] += 1; c[1] += asym

frac = {}
for c in res["cells"]:
    n, k = cells[(c["network"], c["family"])]
    assert c["n"] == n and c["n_asymmetric"] == k, c
    lo, hi = wilson(k, n)
    assert abs(lo - c["wilson_lo"]) < 1e-12 and abs(hi - c["wilson_hi"]) < 1e-12
    frac[(c["network"], c["family"])] = (lo, hi)
assert len(frac) == 9

def high(key):
    lo, hi = frac[key]
    return "reproduced" if lo >= 0.5 else "not reproduced" if hi < 0.5 else "inconclusive"
def low(key):
    lo, hi = frac[key]
    return "reproduced" if hi < 0.5 else "not reproduced" if lo >= 0.5 else "inconclusive"
def both(a, b):
    if "not reproduced" in (a, b): return "not reproduced"
    return "reproduced" if a == b == "reproduced" else "inconclusive"
sub = [both(high(("bn-ones", "sign")), high(("plain", "sign"))),
       both(low(("bn-ones", "whole")), low(("plain", "whole"))),
       both(high(("bn-ones", "uniform")), low(("bn-gauss", "uniform"))),
       low(("plain", "uniform"))]
assert list(res["sub_verdicts"].values()) == sub, (res["sub_verdicts"], sub)
v = "reproduced"
for x in sub: v = both(v, x)
assert rep["verdict"] == v, (rep["verdict"], v)
print(f"ok  : sign-noise: {len(dirs)} directions recomputed from their profiles; sub-verdicts "
      f"{sub}; verdict {v}")

# the paired comparison (not voted on): |A| of the sign direction against the whole direction of
# the same Gaussian draw
absA = {}
for d in dirs:
    if int(d["resolved"]):
        absA[(d["network"], d["seed"], d["family"], d["direction"])] = abs(float(d["A"]))
for pc in res["paired_sign_vs_whole"]:
    pairs = [(absA[k], absA[k[:2] + ("whole",) + k[3:]]) for k in absA
             if k[0] == pc["network"] and k[2] == "sign" and k[:2] + ("whole",) + k[3:] in absA]
    k = sum(1 for s_, w_ in pairs if s_ > w_)
    assert pc["n_pairs"] == len(pairs) and pc["n_sign_more_asymmetric"] == k, pc
    lo, hi = wilson(k, len(pairs))
    assert abs(lo - pc["wilson_lo"]) < 1e-12 and abs(hi - pc["wilson_hi"]) < 1e-12
print("ok  : sign-noise: paired sign vs whole comparison recomputed")
