#!/usr/bin/env python3
"""Checks of the illusions report (tests/test_experiment.sh runs it with the report path)."""
import csv, json, math, os, sys

import expcheck

rep, files, rows = expcheck.report(sys.argv[1])
r = rep["results"]
s = r["settings"]
sols = ["sgd", "swa", "large_batch", "small_batch", "sgd_bn_recomputed"]
N, ng = s["n_rays"], s["n_grid"]


def close(a, b, tol=1e-9):
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def crossing(l, y, mid, side, delta):
    target = y[mid] + delta
    k = 1
    while (side > 0 and mid + k < len(l)) or (side < 0 and k <= mid):
        i = mid + k if side > 0 else mid - k
        h = i - 1 if side > 0 else i + 1
        if y[i] >= target:
            f = (target - y[h]) / (y[i] - y[h])
            return abs(l[h] + f * (l[i] - l[h])), 0
        k += 1
    return (abs(l[-1]) if side > 0 else abs(l[0])), 1


widths = rows("widths")
assert len(widths) == len(sols) * N * len(s["deltas"])
mine = {}
for sol in sols:
    pr = rows("rays_" + sol)
    assert len(pr) == N * ng
    sr = r["solutions"][sol]
    for d in range(N):
        cur = [x for x in pr if int(x["direction"]) == d]
        l = [float(x["l"]) for x in cur]
        y = [float(x["train_loss"]) for x in cur]
        mid = (ng - 1) // 2
        assert l[mid] == 0.0 and close(l[-1], s["l_max"]) and close(l[0], -s["l_max"])
        # l = 0 of every ray is the solution's evaluated loss (EVAL mode, its own BN statistics)
        assert close(y[mid], sr["train_loss"], 1e-6), (sol, y[mid], sr["train_loss"])
        assert close(float(cur[mid]["test_loss"]), sr["test_loss"], 1e-6)
        for delta in s["deltas"]:
            lm, c1 = crossing(l, y, mid, -1, delta)
            lp, c2 = crossing(l, y, mid, +1, delta)
            mine[(sol, d, delta)] = (lm, lp, lm + lp, c1 + c2)
for x in widths:
    key = (x["solution"], int(x["ray"]), float(x["delta"]))
    m = [k for k in mine if k[0] == key[0] and k[1] == key[1] and close(k[2], key[2], 1e-5)]
    assert len(m) == 1
    lm, lp, w, c = mine[m[0]]
    assert close(float(x["l_minus"]), lm) and close(float(x["l_plus"]), lp)
    assert close(float(x["width"]), w) and int(x["censored_sides"]) == c
    assert 0 < float(x["width"]) <= 2 * s["l_max"] + 1e-12
# per-solution means and their widths agree with the CSV; width grows with delta
for sol in sols:
    prev = None
    for wj in r["solutions"][sol]["widths"]:
        ws = [v[2] for k, v in mine.items() if k[0] == sol and close(k[2], wj["delta"], 1e-5)]
        assert len(ws) == N and close(wj["mean"], sum(ws) / N, 1e-9)
        if prev is not None:
            assert wj["mean"] >= prev - 1e-12
        prev = wj["mean"]
# the large-batch solution is the SGD solution (Appendix G's recipe: SGD with batch 128, then
# fine-tuning with batch 32)
assert r["solutions"]["large_batch"] == r["solutions"]["sgd"]

seg = rows("segments")
ns = s["n_segment"]
assert len(seg) == 2 * ns
for q, name in enumerate(["sgd_vs_swa", "large_vs_small_batch"]):
    cur = [x for x in seg if x["pair"] == name]
    t = [float(x["t"]) for x in cur]
    y = [float(x["train_loss"]) for x in cur]
    assert close(t[0], s["segment_t_range"][0]) and close(t[-1], s["segment_t_range"][1])
    assert 0.0 in t and 1.0 in t
    inside = [yy for tt, yy in zip(t, y) if 0 <= tt <= 1]
    e0, e1 = y[t.index(0.0)], y[t.index(1.0)]
    barrier = max(inside) - max(e0, e1)
    p = r["pairs"][name]
    assert close(p["barrier"], barrier, 1e-12) and barrier >= 0
    assert p["same_basin"] == (barrier <= s["barrier_tolerance"])
    assert p["distance"] > 0
# SWA's endpoint: its BN statistics were recomputed over the training set, as on the segment
cur = [x for x in seg if x["pair"] == "sgd_vs_swa"]
at1 = [x for x in cur if float(x["t"]) == 1.0][0]
assert close(float(at1["train_loss"]), r["solutions"]["swa"]["train_loss"], 1e-5)
# and the SGD endpoint with recomputed statistics is the control solution
at0 = [x for x in cur if float(x["t"]) == 0.0][0]
assert close(float(at0["train_loss"]), r["solutions"]["sgd_bn_recomputed"]["train_loss"], 1e-5)

# paired width differences and the verdict rule
passes = {}
for name, (a, b) in {"sgd_vs_swa": ("sgd", "swa"), "large_vs_small_batch": ("large_batch",
                     "small_batch"), "sgd_bn_recomputed_vs_swa": ("sgd_bn_recomputed", "swa")}.items():
    p = r["pairs"][name]
    for wd in p["width_difference_b_minus_a"]:
        dl = [mine[(b, d, k)][2] - mine[(a, d, k)][2] for d in range(N) for k in [x[2] for x in
              mine if x[0] == a and x[1] == d and close(x[2], wd["delta"], 1e-5)]]
        assert len(dl) == N
        m = sum(dl) / N
        sd = math.sqrt(sum((v - m) ** 2 for v in dl) / (N - 1))
        assert close(wd["mean"], m, 1e-9) and close(wd["se"], sd / math.sqrt(N), 1e-9)
        assert wd["rays_b_wider"] == sum(v > 0 for v in dl)
        if close(wd["delta"], s["primary_delta"]):
            want = p["barrier"] <= s["barrier_tolerance"] and m > 2 * sd / math.sqrt(N)
            assert p["illusion"] == want
            passes[name] = want
a, b = passes["sgd_vs_swa"], passes["large_vs_small_batch"]
want = "reproduced" if a and b else ("not reproduced" if not a and not b else "inconclusive")
assert rep["verdict"] == want, (rep["verdict"], want)
print("ok  : illusions checks")
