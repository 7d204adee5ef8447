#!/usr/bin/env python3
"""asym-common: the report's numbers against its CSVs (docs/exp_asym-common.md)."""
import csv, json, math, os, sys

import expcheck
from expcheck import wilson

rep, files, rows = expcheck.report(sys.argv[1])
res = rep["results"]
def num(x):
    return float(x)  # 'nan' and 'inf' parse

dirs, profs, summ = rows("directions"), rows("profiles"), rows("summary")
S = res["settings"]
nd, G = S["directions_per_family"], S["grid_points"]
nets = res["networks"]
assert [n["network"] for n in nets] == ["bn-mlp", "cnn", "mlp"]
checks = 0
for net in nets:
    fams = [f["family"] for f in net["families"]]
    want = ["gaussian", "filter", "whole", "uniform", "sign", "bn", "non-bn"]
    if net["network"] == "mlp": want.remove("bn")
    assert fams == want, fams
    tot_k = tot_n = 0
    for f in net["families"]:
        d = [r for r in dirs if r["network"] == net["network"] and r["family"] == f["family"]]
        assert len(d) == nd == f["n"]
        k = sum(1 for r in d if int(r["valid"]) and num(r["c_conservative"]) > 2)
        kr = sum(1 for r in d if int(r["valid"]) and num(r["c"]) > 2)
        assert k == f["k_cons"] and kr == f["k_raw"], (k, kr, f)
        assert f["fraction"] == k / nd
        lo, hi = wilson(k, nd)
        assert abs(lo - f["wilson_lo"]) < 1e-12 and abs(hi - f["wilson_hi"]) < 1e-12
        assert f["wilson_lo"] <= f["fraction"] <= f["wilson_hi"]
        # c_conservative never above c; c > 1 count includes the c > 2 ones
        for r in d:
            if int(r["valid"]):
                c, cc = num(r["c"]), num(r["c_conservative"])
                assert cc <= c * (1 + 1e-9) or math.isinf(c), r
                assert int(r["flat_side"]) in (-1, 1)
                L = num(r["half_width"])
                assert 0 < num(r["r"]) < num(r["rbar"]) <= L * (1 + 1e-6), r
        assert f["k_asymmetric_c_gt_1"] >= f["k_cons"]
        # quartiles ordered
        q = [x for x in f["c_cons_quartiles"] if x is not None]
        assert q == sorted(q)
        # the pilot chose a half-width where the loss rose on both sides (or the ladder's top)
        assert f["half_width"] > 0
        # profiles: G points per direction, l symmetric in [-L, L], l = 0 is the solution
        for i in range(nd):
            p = [r for r in profs if r["network"] == net["network"] and r["family"] == f["family"]
                 and int(r["index"]) == i]
            assert len(p) == G
            ls = [num(r["l"]) for r in p]
            assert ls == sorted(ls) and abs(ls[0] + f["half_width"]) < 1e-6 * f["half_width"]
            z = [r for r in p if num(r["l"]) == 0.0]
            assert len(z) == 1
            # l = 0 equals the model's evaluated train loss (batch sizes differ: rounding only)
            assert abs(num(z[0]["train_loss"]) - net["train_loss"]) < 1e-5 * max(1, net["train_loss"])
            assert abs(num(z[0]["test_loss"]) - net["test_loss"]) < 1e-5 * max(1, net["test_loss"])
            checks += 1
        sm = [r for r in summ if r["network"] == net["network"] and r["family"] == f["family"]]
        assert len(sm) == 1 and int(sm[0]["k_cons"]) == k
        tot_k += k; tot_n += nd
    assert net["all_families_k_cons"] == tot_k and net["all_families_n"] == tot_n
# pooled per family and the verdict
vr = res["verdict_rule"]
uk = [next(f for f in n["families"] if f["family"] == "uniform")["k_cons"] for n in nets]
assert vr["k_per_network"] == uk and vr["pooled_k"] == sum(uk) and vr["pooled_n"] == 3 * nd
lo, hi = wilson(sum(uk), 3 * nd)
every = all(k > 0 for k in uk)
none_against = any(k == 0 and wilson(k, nd)[1] < 0.30 for k in uk)
v = "reproduced" if every and lo >= 0.10 else \
    "not reproduced" if none_against or hi < 0.10 else "inconclusive"
assert rep["verdict"] == v, (rep["verdict"], v)
for pf in res["families_pooled"]:
    ks = sum(f["k_cons"] for n in nets for f in n["families"] if f["family"] == pf["family"])
    assert pf["k_cons"] == ks
assert res["all_k_cons"] == sum(n["all_families_k_cons"] for n in nets)
print(f"ok  : asym-common: {checks} profiles checked, verdict rule recomputed: {v}")
