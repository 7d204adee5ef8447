#!/usr/bin/env python3
"""shift-curvature: the report's numbers recomputed from its CSVs (docs/exp_shift-curvature.md).
The Appendix F fits are redone here from the line profiles (the sampled minimum refined by the
parabola through its neighbours, the branch -sign(s), the common window, c = 2 sum x^2 dy /
sum x^4), then the per-unit-distance curvatures, the shift-curvature, eq. (3)'s prediction and
its rule, the per-temperature means, the log-log trends, the T-alone ratios and every verdict."""
import csv, json, math, os, sys

import expcheck
from expcheck import wilson

rep, files, rows = expcheck.report(sys.argv[1])
res = rep["results"]
S = res["settings"]
name = "shift-curvature"
assert set(files) == {"lines", "runs", "temperature", "batch", "epochs"}, files


def close(a, b, tol, what):
    assert abs(a - b) <= tol * max(1.0, abs(a), abs(b)), f"{what}: {a} vs {b}"


def mean_se(v):
    m = sum(v) / len(v)
    if len(v) < 2:
        return m, float("nan")
    return m, math.sqrt(sum((x - m) ** 2 for x in v) / (len(v) - 1) / len(v))


def ols(x, y):
    n = len(x)
    mx, my = sum(x) / n, sum(y) / n
    sxx = sum((a - mx) ** 2 for a in x)
    b = sum((a - mx) * (c - my) for a, c in zip(x, y)) / sxx
    a0 = my - b * mx
    if n < 3:
        return b, float("nan")
    ss = sum((c - a0 - b * a) ** 2 for a, c in zip(x, y))
    return b, math.sqrt(ss / (n - 2) / sxx)


def fnum(s):
    return float(s) if s not in ("", "nan", "-nan") else float("nan")


NT, NS = len(S["temperatures"]), S["seeds"]
NR = NT * NS
G = S["line_points"]
Z, FLAT, TOL, RATIO = S["trend_z"], S["trend_flat_slope"], S["eq3_tolerance"], S["t_alone_ratio"]
runs_j = res["runs"]
runs = rows("runs")
assert len(runs) == len(runs_j) == NR
for t, T in enumerate(S["temperatures"]):
    close(T, S["lr"][t] / S["batch"], 1e-12, "T = lr / batch")
assert S["finetune_temperature"] < min(S["temperatures"]) / 4, "fine-tuning is not colder"

# ---- lines: the grid, the evaluated endpoints, and the Appendix F fits redone -------------
lines = rows("lines")
assert len(lines) == NR * G


def refine(l, y):
    i = min(range(len(y)), key=lambda k: (y[k], k))
    if i == 0 or i == len(y) - 1:
        return None
    x0, x1, x2 = l[i - 1], l[i], l[i + 1]
    d1 = (y[i] - y[i - 1]) / (x1 - x0)
    a = ((y[i + 1] - y[i]) / (x2 - x1) - d1) / (x2 - x0)
    if a > 0:
        xs = min(max(0.5 * (x0 + x1) - d1 / (2 * a), x0), x2)
        return xs, y[i - 1] + d1 * (xs - x0) + a * (xs - x0) * (xs - x1)
    return x1, y[i]


def fit(l, y, lm, ym, side, W):
    s4 = s2y = 0.0
    m = 0
    for li, yi in zip(l, y):
        x = side * (li - lm) if side else abs(li - lm)
        if 0 < x <= W:
            s4 += x ** 4; s2y += x * x * (yi - ym); m += 1
    assert m >= 2
    return 2 * s2y / s4


def interp(l, y, x):
    for k in range(len(l) - 1):
        if l[k] <= x <= l[k + 1]:
            return y[k] + (y[k + 1] - y[k]) * (x - l[k]) / (l[k + 1] - l[k])
    return float("nan")


n_fit = 0
for i, (u, uj) in enumerate(zip(runs, runs_j)):
    assert int(u["run"]) == i and int(u["seed"]) == i // NT and uj["seed"] == i // NT
    close(float(u["T"]), S["temperatures"][i % NT], 1e-12, "run temperature")
    p = [r for r in lines if int(r["run"]) == i]
    assert len(p) == G
    l = [float(r["r"]) for r in p]
    tr = [float(r["train_loss"]) for r in p]
    te = [float(r["test_loss"]) for r in p]
    assert all(b > a for a, b in zip(l, l[1:]))
    assert l[0] == S["r_min"] and l[-1] == S["r_max"]
    k0, k1 = l.index(0.0), l.index(1.0)
    close(tr[k0], uj["train_loss_at_train_min"], 1e-6, "r = 0 is theta_tr (train loss)")
    close(te[k1], uj["test_loss_at_test_min"], 1e-4, "r = 1 is theta_te (test loss)")
    close(float(u["unorm"]), uj["line_norm"], 1e-12, "line norm")
    a, b = refine(l, tr), refine(l, te)
    valid = a is not None and b is not None
    assert int(u["valid"]) == int(valid) == int(uj["valid"]), (i, valid)
    if not valid:
        assert int(u["holds"]) == 0 and "edge" in uj["reason"]
        continue
    n_fit += 1
    s = b[0] - a[0]
    side = 0 if s == 0 else (-1 if s > 0 else 1)
    ext = lambda lm: lm - l[0] if side < 0 else l[-1] - lm if side > 0 else min(lm - l[0], l[-1] - lm)
    W = min(ext(a[0]), ext(b[0]))
    ctr, cte = fit(l, tr, a[0], a[1], side, W), fit(l, te, b[0], b[1], side, W)
    n2 = float(u["unorm"]) ** 2
    close(float(u["l_train"]), a[0], 1e-9, "train minimum")
    close(float(u["l_test"]), b[0], 1e-9, "test minimum")
    close(float(u["shift_r"]), s, 1e-9, "shift")
    close(float(u["window"]), W, 1e-9, "window")
    close(float(u["c_train_r"]), ctr, 1e-7, "c_train along r")
    close(float(u["c_test_r"]), cte, 1e-7, "c_test along r")
    close(float(u["c_train"]), ctr / n2, 1e-7, "c_train per distance")
    close(float(u["c_test"]), cte / n2, 1e-7, "c_test per distance")
    close(float(u["shift_norm"]), abs(s) * math.sqrt(n2), 1e-9, "shift norm")
    close(float(u["U_train"]), a[1], 1e-9, "U_train")
    close(float(u["U_test"]), b[1], 1e-9, "U_test")
    sc = 0.5 * s * s * cte
    close(float(u["shift_curvature"]), sc, 1e-7, "shift-curvature")
    meas = interp(l, te, a[0])
    close(float(u["test_at_train_min"]), meas, 1e-9, "test loss at the train minimum")
    pred = b[1] + sc
    close(float(u["predicted"]), pred, 1e-9, "eq. 3 prediction")
    holds = meas - b[1] > 0 and abs(pred - meas) <= TOL * (meas - b[1])
    assert int(u["holds"]) == int(holds) == int(uj["eq3_holds"]), (i, holds)
    # the fine-tunings went downhill from the SGD solution on their own set
    assert uj["train_loss_at_train_min"] <= uj["sgd_train_loss"] + 1e-9
    assert uj["test_loss_at_test_min"] <= uj["sgd_test_loss"] + 1e-9

# ---- stage 1: one per seed, every epoch's loss, the evaluated model --------------------------
s1 = res["stage1"]
assert len(s1) == NS and [x["seed"] for x in s1] == list(range(NS))
for x in s1:
    assert len(x["epoch_mean_loss"]) == S["stage1_epochs"]
    assert all(math.isfinite(v) and v > 0 for v in x["epoch_mean_loss"])
    assert 0 < x["train_loss"] < x["test_loss"]

# ---- epochs: stage 2 and fine-tuning losses -----------------------------------------------
ep = rows("epochs")
NE = S["stage2_epochs"] + 2 * S["finetune_epochs"]
assert len(ep) == NR * NE
for i, uj in enumerate(runs_j):
    e = [r for r in ep if int(r["run"]) == i]
    last = {ph: float([r for r in e if r["phase"] == ph][-1]["mean_loss"])
            for ph in ("stage2", "finetune_train", "finetune_test")}
    close(last["stage2"], uj["stage2_loss_last_epoch"], 1e-12, "stage-2 last epoch")
    close(last["finetune_train"], uj["finetune_train_loss_last_epoch"], 1e-12, "ft train")
    close(last["finetune_test"], uj["finetune_test_loss_last_epoch"], 1e-12, "ft test")

# ---- per temperature ----------------------------------------------------------------------
Q = ["c_train", "c_test", "shift_curvature", "shift_norm", "U_train", "U_test",
     "test_at_train_min", "sgd_test_loss"]
col = {q: q for q in Q}
col["sgd_test_loss"] = "sgd_test_loss"
temp = rows("temperature")
assert len(temp) == NT * len(Q)
for t in range(NT):
    pt = res["per_temperature"][t]
    for q in Q:
        v = [fnum(runs[s * NT + t][col[q]]) for s in range(NS)]
        v = [x for x in v if not math.isnan(x)]
        row = [r for r in temp if r["quantity"] == q and abs(float(r["T"]) / S["temperatures"][t] - 1) < 1e-12]
        assert len(row) == 1 and int(row[0]["n"]) == len(v)
        if v:
            m, se = mean_se(v)
            close(float(row[0]["mean"]), m, 1e-9, f"mean {q}")
            close(pt[q + "_mean"], m, 1e-9, f"json mean {q}")
            if not math.isnan(se):
                close(float(row[0]["se"]), se, 1e-9, f"se {q}")

# ---- trends and their verdicts ------------------------------------------------------------
names = {0: "reproduced", 1: "not reproduced", 2: "inconclusive"}
sub = {}
for k, q in enumerate(Q):
    pts = [(math.log(float(u["T"])), fnum(u[col[q]])) for u in runs]
    pts = [(x, math.log(y)) for x, y in pts if not math.isnan(y) and y > 0]
    tr_ = res["trends_log_log"][q]
    assert tr_["n"] == len(pts)
    if len(pts) < 2:
        continue
    b, se = ols([p[0] for p in pts], [p[1] for p in pts])
    close(tr_["slope"], b, 1e-9, f"slope {q}")
    if not math.isnan(se):
        close(tr_["slope_se"], se, 1e-9, f"slope se {q}")
    if k < 3:
        v = ("inconclusive" if math.isnan(se) else "reproduced" if b + Z * se < 0
             else "not reproduced" if b - Z * se > FLAT else "inconclusive")
        assert tr_["verdict"] == v, (q, tr_["verdict"], v)
        sub[k] = v

# ---- eq. (3) ------------------------------------------------------------------------------
nh = sum(int(u["holds"]) for u in runs)
lo, hi = wilson(nh, NR)
e3 = res["eq3"]
assert e3["n_holds"] == nh and e3["n_runs"] == NR and e3["n_valid"] == n_fit
close(e3["wilson_lo"], lo, 1e-12, "eq3 Wilson lo"); close(e3["wilson_hi"], hi, 1e-12, "hi")
sub[3] = "reproduced" if lo >= 0.5 else "not reproduced" if hi < 0.5 else "inconclusive"
assert e3["verdict"] == sub[3]

# ---- T alone ------------------------------------------------------------------------------
bt = rows("batch")
assert len(bt) == 2 * NS * len(S["alt_temperature_index"])
ratios = []
for s in range(NS):
    d_eq, base = [], []
    for k in S["alt_temperature_index"]:
        T = S["temperatures"][int(k)]
        pair = [r for r in bt if int(r["seed"]) == s and abs(float(r["T"]) / T - 1) < 1e-12]
        assert len(pair) == 2
        b0 = [r for r in pair if int(r["batch"]) == S["batch"]][0]
        b1 = [r for r in pair if int(r["batch"]) == S["alt_batch"]][0]
        close(float(b1["lr"]) / S["alt_batch"], T, 1e-12, "equal T")
        close(float(b0["test_loss"]), runs_j[s * NT + int(k)]["sgd_test_loss"], 1e-12, "base run")
        d_eq.append(abs(float(b1["test_loss"]) - float(b0["test_loss"])))
        base.append(float(b0["test_loss"]))
    dac = sum(abs(b - a) for a, b in zip(base, base[1:])) / (len(base) - 1)
    ratios.append(sum(d_eq) / len(d_eq) / dac)
ta = res["t_alone"]
for a, b in zip(ta["ratio_test"], ratios):
    close(a, b, 1e-9, "T-alone ratio")
m, se = mean_se(ratios)
close(ta["ratio_test_mean"], m, 1e-9, "T-alone mean")
sub[4] = ("inconclusive" if math.isnan(se) else "reproduced" if m + Z * se < RATIO
          else "not reproduced" if m - Z * se > RATIO else "inconclusive")
assert ta["verdict"] == sub[4], (ta["verdict"], sub[4])

keys = ["c_train_decreases", "c_test_decreases", "shift_curvature_decreases", "eq3", "t_alone"]
for k, key in enumerate(keys):
    assert res["sub_verdicts"][key] == sub[k], (key, res["sub_verdicts"][key], sub[k])
vs = [sub[k] for k in range(5)]
v = ("reproduced" if all(x == "reproduced" for x in vs)
     else "not reproduced" if "not reproduced" in vs else "inconclusive")
assert rep["verdict"] == v, (rep["verdict"], v)
print(f"ok  : {name}: {NR} runs, {n_fit} Appendix F fits redone, trends, eq. 3, T alone and "
      f"the verdict rule recomputed: {v}")
