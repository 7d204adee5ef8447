#!/usr/bin/env python3
"""Checks of the swa-vs-sgd report (docs/exp_swa-vs-sgd.md): the CSVs agree with the JSON, the
flat-side analysis recomputed here from the CSV curves agrees with the report, the counts,
fractions, Wilson intervals, means and standard errors are consistent, l = 0 of every curve is
the evaluated model, and the verdict follows the stated rule."""
import csv, json, math, os, sys

import expcheck
from expcheck import wilson

rep, files, rows = expcheck.report(sys.argv[1])
res = rep["results"]
S = res["settings"]
assert set(files) == {"table1", "interp", "dirs", "dirs_sides"}, files


def close(a, b, tol, what):
    assert abs(a - b) <= tol * max(1.0, abs(a), abs(b)), f"{what}: {a} vs {b}"


ns = S["seeds"]
per = res["per_seed"]
assert len(per) == ns >= 1
assert S["sgd_from_swa_lr"] < S["lr"] and S["random_directions"] == 10
assert 0 < S["probe_n_train"] <= S["n_train"]
for p in per:
    for name in ("swa", "sgd"):
        close(p[name + "_probe_data"]["test_loss"], p[name]["test_loss"], 1e-12, "probe test set")
        if S["probe_n_train"] == S["n_train"]:
            close(p[name + "_probe_data"]["train_loss"], p[name]["train_loss"], 1e-12, "probe train")

# ---- Table 1: CSV == JSON, ranges, paired differences ----------------------------------------
t1 = rows("table1")
assert len(t1) == 3 * ns
for r in t1:
    m = per[int(r["seed"])][r["model"]]
    for k in ("train_loss", "test_loss", "train_acc", "test_acc"):
        close(float(r[k]), m[k], 1e-12, f"table1 {r['seed']} {r['model']} {k}")
    assert 0 <= m["train_acc"] <= 1 and 0 <= m["test_acc"] <= 1 and m["train_loss"] > 0
    assert m["test_acc"] > 0.5, "a network that did not learn"


def mean_se(x):
    m = sum(x) / len(x)
    se = math.sqrt(sum((v - m) ** 2 for v in x) / (len(x) - 1) / len(x)) if len(x) > 1 else None
    return m, se


T = res["table1"]
for key, a, b, field in (("test_loss_sgd_minus_swa", "sgd", "swa", "test_loss"),
                         ("train_loss_sgd_minus_swa", "sgd", "swa", "train_loss"),
                         ("test_acc_swa_minus_sgd", "swa", "sgd", "test_acc"),
                         ("train_acc_swa_minus_sgd", "swa", "sgd", "train_acc")):
    m, se = mean_se([p[a][field] - p[b][field] for p in per])
    close(T[key + "_mean"], m, 1e-9, key)
    if se is None:
        assert T[key + "_se"] is None
    else:
        close(T[key + "_se"], se, 1e-9, key + " se")
assert T["seeds_swa_higher_train_loss"] == sum(p["swa"]["train_loss"] > p["sgd"]["train_loss"]
                                               for p in per)


# ---- the flat-side analysis, recomputed ------------------------------------------------------
def interp(l, y, x):
    if x < l[0] or x > l[-1]:
        return float("nan")
    for i in range(len(l) - 1):
        if l[i] <= x <= l[i + 1]:
            t = (x - l[i]) / (l[i + 1] - l[i])
            return y[i] + t * (y[i + 1] - y[i])
    return y[-1]


def sides(l, y):
    im = min(range(len(y)), key=lambda i: (y[i], i))
    if im == 0 or im == len(y) - 1:
        return {"valid": False}
    lm = l[im]
    x0, x1, x2 = l[im - 1:im + 2]
    y0, y1, y2 = y[im - 1:im + 2]
    den = (x0 - x1) * (x0 - x2) * (x1 - x2)
    A = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / den
    B = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / den
    if A > 0 and x0 < -B / (2 * A) < x2:
        lm = -B / (2 * A)
    H = min(lm - l[0], l[-1] - lm)
    area = {}
    for side in (-1, 1):
        a = sum((0.5 if k in (0, 128) else 1.0) * (interp(l, y, lm + side * H * k / 128) - y[im])
                for k in range(129))
        area[side] = a * H / 128
    flat = 1 if area[1] < area[-1] else -1
    return {"valid": True, "l_min": lm, "flat_side": flat, "solution_on_flat_side": -lm * flat > 0}


def same_sides(mine, theirs, what):
    assert mine["valid"] == theirs["valid"], what
    if not mine["valid"]:
        assert not theirs["solution_on_flat_side"], what
        return
    close(mine["l_min"], theirs["l_min"], 1e-9, what + " l_min")
    assert mine["flat_side"] == theirs["flat_side"], what
    assert mine["solution_on_flat_side"] == theirs["solution_on_flat_side"], what


# ---- interpolation ---------------------------------------------------------------------------
ip = rows("interp")
assert len(ip) == ns * len(S["interp_grid"])
flat_re = flat_fixed = 0
for s in range(ns):
    rs = [r for r in ip if int(r["seed"]) == s]
    l = [float(r["l"]) for r in rs]
    assert all(abs(a - b) < 1e-12 for a, b in zip(l, S["interp_grid"]))
    assert l[0] < 0 < 1 < l[-1]
    i0 = l.index(0.0)
    i1 = l.index(1.0)
    swa = per[s]["swa"]
    # l = 0 is SWA: with its own (recomputed) BN statistics in both columns
    for col, key in (("train_loss_fixed", "train_loss"), ("test_loss_fixed", "test_loss"),
                     ("train_loss_bnre", "train_loss"), ("test_loss_bnre", "test_loss")):
        close(float(rs[i0][col]), swa[key], 2e-5, f"interp seed {s} l=0 {col}")
    close(float(rs[i0]["train_acc_bnre"]), swa["train_acc"], 1e-12, "interp acc l=0")
    # l = 1 with BN recomputed is the SGD solution up to its BN statistics: near its loss
    assert abs(float(rs[i1]["train_loss_bnre"]) - per[s]["sgd"]["train_loss"]) < 0.05
    for suffix, key in (("bnre", "interp_train_bn_recomputed"), ("fixed", "interp_train_bn_fixed")):
        same_sides(sides(l, [float(r["train_loss_" + suffix]) for r in rs]), per[s][key],
                   f"interp seed {s} {suffix}")
    same_sides(sides(l, [float(r["test_loss_bnre"]) for r in rs]),
               per[s]["interp_test_bn_recomputed"], f"interp test seed {s}")
    flat_re += per[s]["interp_train_bn_recomputed"]["solution_on_flat_side"]
    flat_fixed += per[s]["interp_train_bn_fixed"]["solution_on_flat_side"]
I = res["interpolation"]
assert I["seeds_swa_on_flat_bn_recomputed"] == flat_re and I["seeds_swa_on_flat_bn_fixed"] == flat_fixed

# ---- u_inter + u_rand ------------------------------------------------------------------------
dr = rows("dirs")
ds = rows("dirs_sides")
scales = sorted({float(r["rand_scale"]) for r in dr})
assert scales == [1.0, 4.0], scales
ng = len(S["dir_grid"])
assert len(dr) == len(scales) * ns * 10 * 2 * ng and len(ds) == len(scales) * ns * 10 * 2
curves = {}
for r in dr:
    curves.setdefault((float(r["rand_scale"]), int(r["seed"]), int(r["direction"]), int(r["base"])),
                      []).append(r)


summary = {}
for qi, q in enumerate(scales):
    k_swa = k_sgd = k_more = major = 0
    for s in range(ns):
        blk = per[s]["dirs"][qi]
        assert blk["rand_scale"] == q
        ks = kg = 0
        for d in range(10):
            mine = {}
            for b, name in ((0, "swa"), (1, "sgd")):
                rs = curves[(q, s, d, b)]
                l = [float(r["l"]) for r in rs]
                assert all(abs(a - g) < 1e-12 for a, g in zip(l, S["dir_grid"]))
                y = [float(r["train_loss"]) for r in rs]
                i0 = l.index(0.0)
                model = per[s][name + "_probe_data"]  # l = 0: the base model, own BN statistics
                close(y[i0], model["train_loss"], 2e-5, f"dirs {q} {s} {d} {name} l=0")
                close(float(rs[i0]["test_loss"]), model["test_loss"], 2e-5, "dirs test l=0")
                mine[name] = sides(l, y)
                same_sides(mine[name], blk[name][d], f"dirs {q} {s} {d} {name}")
                row = [r for r in ds if float(r["rand_scale"]) == q and int(r["seed"]) == s
                       and int(r["direction"]) == d and int(r["base"]) == b][0]
                assert int(row["on_flat"]) == int(blk[name][d]["solution_on_flat_side"])
            ks += blk["swa"][d]["solution_on_flat_side"]
            kg += blk["sgd"][d]["solution_on_flat_side"]
            a, g = blk["swa"][d], blk["sgd"][d]
            k_more += a["valid"] and g["valid"] and a["offset_to_flat"] > g["offset_to_flat"]
        assert blk["swa_on_flat"] == ks and blk["sgd_on_flat"] == kg
        k_swa += ks
        k_sgd += kg
        major += 2 * ks > 10
    key = "random_directions" if qi == 0 else "random_directions_supplementary"
    R = res[key]
    n = ns * 10
    assert R["pairs"] == n and R["swa_on_flat"] == k_swa and R["sgd_on_flat"] == k_sgd
    assert R["swa_further_to_flat_than_sgd"] == k_more and R["seeds_majority_swa_on_flat"] == major
    close(R["swa_fraction"], k_swa / n, 1e-12, "fraction")
    for kk, pre in ((k_swa, "swa"), (k_sgd, "sgd"), (k_more, "swa_further")):
        lo, hi = wilson(kk, n)
        close(R[pre + "_wilson_lo"], lo, 1e-9, pre + " wilson lo")
        close(R[pre + "_wilson_hi"], hi, 1e-9, pre + " wilson hi")
        assert lo <= kk / n <= hi
    summary[q] = R

# ---- the verdict rule --------------------------------------------------------------------------
m, se = T["test_loss_sgd_minus_swa_mean"], T["test_loss_sgd_minus_swa_se"]
a_yes = ns >= 2 and m > 2 * se
a_no = ns >= 2 and m < -2 * se
b_yes = 2 * flat_re > ns
b_no = ns >= 2 and flat_re == 0
c_yes = summary[1.0]["swa_wilson_lo"] > 0.5
c_no = summary[1.0]["swa_wilson_hi"] < 0.5
C = res["criteria"]
assert (C["a_test_loss_lower_yes"], C["a_test_loss_lower_no"], C["b_interp_flat_yes"],
        C["b_interp_flat_no"], C["c_random_flat_yes"], C["c_random_flat_no"]) == \
    (a_yes, a_no, b_yes, b_no, c_yes, c_no), C
want = ("reproduced" if a_yes and b_yes and c_yes else
        "not reproduced" if a_no or b_no or c_no else "inconclusive")
assert rep["verdict"] == want, (rep["verdict"], want)
assert f"{summary[1.0]['swa_on_flat']}/{ns * 10}" in rep["summary"]
print(f"ok  : swa-vs-sgd checks: {ns} seeds, verdict {want}")
