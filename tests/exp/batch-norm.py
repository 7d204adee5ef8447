#!/usr/bin/env python3
"""batch-norm: the report's numbers against its CSVs (docs/exp_batch-norm.md)."""
import csv, json, math, os, sys

import expcheck
from expcheck import wilson

rep, files, rows = expcheck.report(sys.argv[1])
res = rep["results"]

T975 = [12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281]
DELTA = 0.002
def close(a, b, tol=1e-9):
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))
def num(x):
    return float(x)  # "nan", "-nan", "inf" and "-inf" parse as floats

S = res["settings"]
G, D, NS = S["grid_points"], S["directions_per_family"], S["seeds"]
assert DELTA == S["delta"]

# ---- part A: directions and profiles (bn-mlp voted, cnn supplementary) ----
dirs_all, profs_all = rows("directions"), rows("profiles")
C = S["cnn"]
assert len(dirs_all) == 2 * D + 2 * C["directions_per_family"]
assert len(profs_all) == 2 * D * G + 2 * C["directions_per_family"] * C["grid_points"]

def part_a(net, A, D, G):
    dirs = [d for d in dirs_all if d["network"] == net]
    profs = [r for r in profs_all if r["network"] == net]
    assert len(dirs) == 2 * D and len(profs) == 2 * D * G
    fam = {f["family"]: f for f in A["families"]}
    assert set(fam) == {"bn", "non-bn"} and A["pairs"] == D
    sol = A["solution"]
    key = {}
    for fname in ("bn", "non-bn"):
        F = fam[fname]
        L = F["half_width"]
        dd = [d for d in dirs if d["family"] == fname]
        assert len(dd) == D == F["n"]
        k2 = valid = 0
        for d in dd:
            i = int(d["index"])
            assert close(float(d["half_width"]), L, 1e-8)
            p = [r for r in profs if r["family"] == fname and int(r["index"]) == i]
            assert len(p) == G
            ls = [float(r["l"]) for r in p]
            # the same relative grid for both families: l / L = (g - m) / m
            m = G // 2
            for g, l in enumerate(ls):
                assert abs(l / L - (g - m) / m) < 1e-6, (net, fname, i, g, l, L)
            z = p[m]
            assert float(z["l"]) == 0.0
            assert close(float(z["train_loss"]), sol["train_loss"], 1e-6)
            assert close(float(z["test_loss"]), sol["test_loss"], 1e-6)
            cc = num(d["c_conservative"])
            if int(d["valid"]):
                valid += 1
                k2 += cc > 2
                key[(fname, i)] = cc
                assert num(d["c"]) >= cc or math.isinf(num(d["c"])) or math.isnan(cc), d
            else:
                key[(fname, i)] = -math.inf
        assert valid == F["valid"] and k2 == F["k_c_cons_gt_2"], (net, fname, valid, k2)
        lo, hi = wilson(k2, D)
        assert close(lo, F["wilson_lo"]) and close(hi, F["wilson_hi"])
        assert close(F["fraction"], k2 / D)
        cs = sorted(key[(fname, i)] for i in range(D) if key[(fname, i)] != -math.inf)
        assert len(cs) == len(F["c_cons_sorted"])
        for a, b in zip(cs, F["c_cons_sorted"]):
            assert (b is None and math.isinf(a)) or close(a, b, 1e-7)
    # ||u|| = ||theta_part||: one norm per family, both positive
    for fname in ("bn", "non-bn"):
        un = [float(d["u_norm"]) for d in dirs if d["family"] == fname]
        assert min(un) > 0 and max(un) - min(un) <= 1e-4 * max(un)
    wins = decided = 0
    for i in range(D):
        a, b = key[("bn", i)], key[("non-bn", i)]
        if a == b: continue
        decided += 1
        wins += a > b
    assert wins == A["bn_wins"] and decided == A["pairs_decided"], (net, wins, decided)
    lo, hi = wilson(wins, decided)
    assert close(lo, A["wilson_lo"]) and close(hi, A["wilson_hi"])
    m = min(wins, decided - wins)
    p = 1.0
    if decided:
        p = min(1.0, 2 * sum(math.comb(decided, i) for i in range(m + 1)) / 2 ** decided)
    assert close(p, A["sign_test_p"], 1e-8), (p, A["sign_test_p"])
    return "reproduced" if lo > 0.5 else "not reproduced" if hi < 0.5 else "inconclusive"

A = res["part_a"]
va = part_a("bn-mlp", A, D, G)
assert A["verdict"] == va
assert A["network"] == "mlp" and res["part_a_cnn"]["network"] == "cnn"
assert "verdict" not in res["part_a_cnn"]
vcnn = part_a("cnn", res["part_a_cnn"], C["directions_per_family"], C["grid_points"])
assert A["n_bn_params"] == 4 * S["widths"][1]
assert res["part_a_cnn"]["n_bn_params"] == 2 * (C["channels_1"] + C["channels_2"])

# ---- parts B and C: the models ----
mods = rows("models")
assert len(mods) == 6 * NS
E = {}
for r in mods:
    E[(int(r["seed"]), r["network"], r["model"])] = {
        k: float(r[k]) for k in ("train_loss", "test_loss", "train_acc", "test_acc")}
for s in range(NS):
    js = res["seeds"][s]
    for name, jk in (("sgd", "sgd"), ("swa-bn", "swa-bn"), ("swa-non-bn", "swa-non-bn"),
                     ("swa-all", "swa-all")):
        for k, v in E[(s, "bn-mlp", name)].items():
            assert close(v, js[jk][k], 1e-12) and (0 <= v <= 1 if "acc" in k else v > 0)
    for name, jk in (("sgd", "mlp_sgd"), ("swa", "mlp_swa")):
        for k, v in E[(s, "mlp", name)].items():
            assert close(v, js[jk][k], 1e-12)
    assert all(k in js["sgd_running_stats"] for k in ("train_loss", "test_loss"))
    # SWA moves the BN coordinates and the chosen non-BN coordinates by less than all of them
    assert 0 <= js["swa_move_bn"] <= js["swa_move_all"] + 1e-9
    assert 0 <= js["swa_move_nonbn_subset"] <= js["swa_move_all"] + 1e-9

# part A's solution is seed 0's SGD iterate with BN statistics recomputed: part B's "sgd" model
assert close(A["solution"]["train_loss"], E[(0, "bn-mlp", "sgd")]["train_loss"], 1e-9)
assert close(A["solution"]["train_acc"], E[(0, "bn-mlp", "sgd")]["train_acc"], 1e-12)

def paired(d):
    n = len(d); mean = sum(d) / n
    se = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1) / n) if n > 1 else float("nan")
    t = T975[n - 2] if 2 <= n <= len(T975) + 1 else float("nan")
    lo, hi = mean - t * se, mean + t * se
    v = "inconclusive" if math.isnan(lo) else "reproduced" if lo > 0 else \
        "not reproduced" if hi < DELTA else "inconclusive"
    return mean, se, v

def check(obj, d):
    mean, se, v = paired(d)
    assert obj["n"] == len(d)
    for a, b in zip(obj["per_seed"], d):
        assert close(a, b, 1e-9)
    assert close(obj["mean"], mean, 1e-9) and (NS < 2 or close(obj["se"], se, 1e-7) or
                                              abs(obj["se"] - se) < 1e-12)
    if "verdict" in obj:
        assert obj["verdict"] == v, (obj["verdict"], v)
    return mean, se, v

acc = lambda s, n, m: E[(s, n, m)]["test_acc"]
loss = lambda s, n, m: E[(s, n, m)]["test_loss"]
dB = [acc(s, "bn-mlp", "swa-bn") - acc(s, "bn-mlp", "swa-non-bn") for s in range(NS)]
_, _, vb = check(res["part_b"]["test_acc_swa_bn_minus_swa_nonbn"], dB)
check(res["part_b"]["test_acc_swa_all_minus_swa_bn"],
      [acc(s, "bn-mlp", "swa-all") - acc(s, "bn-mlp", "swa-bn") for s in range(NS)])
check(res["part_b"]["test_loss_swa_nonbn_minus_swa_bn"],
      [loss(s, "bn-mlp", "swa-non-bn") - loss(s, "bn-mlp", "swa-bn") for s in range(NS)])
assert res["part_b"]["verdict"] == vb
gbn = [acc(s, "bn-mlp", "swa-all") - acc(s, "bn-mlp", "sgd") for s in range(NS)]
gno = [acc(s, "mlp", "swa") - acc(s, "mlp", "sgd") for s in range(NS)]
check(res["part_c"]["test_acc_gain_bn"], gbn)
check(res["part_c"]["test_acc_gain_nobn"], gno)
_, _, vc = check(res["part_c"]["test_acc_gain_bn_minus_gain_nobn"],
                 [a - b for a, b in zip(gbn, gno)])
check(res["part_c"]["test_loss_gain_bn_minus_gain_nobn"],
      [(loss(s, "bn-mlp", "sgd") - loss(s, "bn-mlp", "swa-all")) -
       (loss(s, "mlp", "sgd") - loss(s, "mlp", "swa")) for s in range(NS)])
assert res["part_c"]["verdict"] == vc

V = [va, vb, vc]
v = "reproduced" if all(x == "reproduced" for x in V) else \
    "not reproduced" if any(x == "not reproduced" for x in V) else "inconclusive"
assert res["verdicts"] == {"a": va, "b": vb, "c": vc}
assert rep["verdict"] == v, (rep["verdict"], v)
print(f"ok  : batch-norm: {len(profs_all)} profile points, {NS} seeds checked; verdicts A {va}, "
      f"B {vb}, C {vc} -> {v} (CNN by A's rule, not voted: {vcnn})")
