#!/usr/bin/env python3
"""thm2-real: the report's numbers against its CSVs (docs/exp_thm2-real.md)."""
import csv, json, math, os, sys

import expcheck

rep, files, rows = expcheck.report(sys.argv[1])
res = rep["results"]

def close(a, b, tol, what):
    assert a is not None and b is not None, what
    assert abs(a - b) <= tol * max(1.0, abs(a), abs(b)), (what, a, b)

def mean_se_sd(x):
    n = len(x); m = sum(x) / n
    if n < 2: return m, float("nan"), float("nan")
    sd = math.sqrt(sum((v - m) ** 2 for v in x) / (n - 1))
    return m, sd / math.sqrt(n), sd

# Student t 0.975 quantiles (dof 1..6), to the precision of the printed tables
T975 = {1: 12.7062047, 2: 4.30265273, 3: 3.18244631, 4: 2.77644511, 5: 2.57058184, 6: 2.44691185}

S = res["settings"]
P = res["per_seed"]
ns = S["seeds"]
assert len(P) == ns >= 2
dirs, tab, noise = rows("directions"), rows("table"), rows("noise")
chains, iters, curves, stab = rows("chains"), rows("iterates"), rows("curves"), rows("stability")
seeds = rows("seeds")
assert len(seeds) == ns
G, F = S["grid_points"], S["fine_points"]
E, swa_start = S["epochs"], S["swa_start"]
late_all = []
for k, q in enumerate(P):
    sr = seeds[k]
    assert int(sr["seed"]) == k == q["seed"]
    # ---- the direction: the largest c_conservative among the valid ones (else 0, fallback)
    d = [r for r in dirs if int(r["seed"]) == k]
    assert len(d) == S["pool"] and sum(int(r["chosen"]) for r in d) == 1
    valid = [r for r in d if int(r["valid"])]
    if valid:
        best = max(valid, key=lambda r: (float(r["c_conservative"]), -int(r["direction"])))
        assert int(best["direction"]) == q["chosen"] and not q["fallback"]
        assert int(best["flat_side"]) == q["eval_flat_side"]
        close(float(best["c_conservative"]), q["c_conservative"], 1e-7, "c_cons")
    else:
        assert q["fallback"] and q["chosen"] == 0
    assert int([r for r in d if int(r["chosen"])][0]["direction"]) == q["chosen"]
    side = q["flat_side"]
    assert side in (1, -1) and int(sr["side"]) == side
    if not q["train_mode_def1_valid"]:
        assert side == q["eval_flat_side"]
    # ---- the table: w = side (l - l_min), loss - loss_min, minimum 0 at the least sample
    t = [r for r in tab if int(r["seed"]) == k]
    assert len(t) == q["table_samples"] == int(sr["n_samples"])
    ls = [float(r["l"]) for r in t]
    assert all(b > a for a, b in zip(ls, ls[1:])), "table l not increasing"
    assert {int(r["level"]) for r in t} == {0, 1, 2}
    assert sum(1 for r in t if int(r["level"]) == 0) <= G
    y = [float(r["train_loss"]) for r in t]
    imin = min(range(len(y)), key=lambda i: (y[i], i))
    l_min = q["l_min"]
    assert ls[imin] == l_min, (ls[imin], l_min)
    close(y[imin], float(sr["loss_min"]), 1e-12, "loss_min")
    for r in t:
        w = side * (float(r["l"]) - l_min)
        close(float(r["w"]), w, 1e-9, "w")
        assert abs(float(r["table_loss"]) - (float(r["train_loss"]) - y[imin])) <= 1e-9, r
        assert float(r["table_loss"]) >= 0
    mic = [float(r["l"]) for r in t if int(r["level"]) == 2]
    assert max(mic) - min(mic) <= 2 * q["micro_half_width"] * (1 + 1e-9)
    # Theorem 2's slopes from the table's gradients at the samples
    gp = [float(r["table_grad"]) for r in t if float(r["w"]) > 0]
    gm = [float(r["table_grad"]) for r in t if float(r["w"]) < 0]
    A = q["theorem2_assumptions"]
    close(A["a_plus"], max(gp), 1e-7, "a+"); close(A["b_plus"], min(gp), 1e-7, "b+")
    close(A["a_minus"], max(gm), 1e-7, "a-"); close(A["b_minus"], min(gm), 1e-7, "b-")
    assert A["flat_side_nonpositive_slopes"] == sum(1 for g in gp if not g > 0)
    assert A["sharp_side_nonnegative_slopes"] == sum(1 for g in gm if not g < 0)
    # ---- the noise: deviations from the mean projected minibatch gradient
    nz = [r for r in noise if int(r["seed"]) == k]
    pg = [float(r["proj_grad"]) for r in nz]
    assert len(nz) == S["noise_batches"] == int(sr["n_noise"])
    pm = sum(pg) / len(pg)
    dev = [float(r["deviation"]) for r in nz]
    assert all(abs(dv - (p - pm)) <= 1e-12 * max(1, abs(p)) for dv, p in zip(dev, pg))
    close(q["noise_sigma"], mean_se_sd(dev)[2], 1e-9, "sigma")
    close(q["noise_nu"], max(abs(v) for v in dev), 1e-12, "nu")
    close(q["drift_minibatch_mean"], side * pm, 1e-6, "drift")
    # ---- the prediction: mean and se over the chains of each chain's averaged iterate
    ch = [r for r in chains if int(r["seed"]) == k]
    assert len(ch) == S["chains"]
    m, se, _ = mean_se_sd([float(r["wbar"]) for r in ch])
    close(q["predicted"], m, 1e-9, "pred"); close(q["predicted_se"], se, 1e-6, "pred se")
    close(q["predicted_spread"], mean_se_sd([float(r["final_w"]) for r in ch])[2], 1e-6, "spread")
    assert q["steps"] == S["steps_per_epoch"] * E and q["burn_in"] == S["steps_per_epoch"] * (swa_start - 1)
    # ---- where SWA landed: b = side (proj - l_min); the mean kept SWA-window iterate agrees
    it = [r for r in iters if int(r["seed"]) == k]
    assert [int(r["epoch"]) for r in it] == list(range(1, E + 1))
    assert float(it[-1]["proj"]) == 0.0
    assert all(int(r["in_swa"]) == (int(r["epoch"]) >= swa_start) for r in it)
    win = [float(r["proj"]) for r in it if int(r["in_swa"])]
    b_iter = side * (sum(win) / len(win) - l_min)
    close(q["b_iterates"], b_iter, 1e-9, "b_iter")
    close(q["b_swa"], side * (q["swa_proj"] - l_min), 1e-12, "b_swa")
    scale = max(abs(v) for v in win) + 1e-9
    assert abs(q["b_swa"] - b_iter) <= 1e-4 * scale + 1e-7, ("SWA != mean iterate", q["b_swa"], b_iter)
    w0 = side * (float(it[swa_start - 2]["proj"]) - l_min)
    close(q["transient_init"], w0, 1e-9, "transient init")
    # ---- stability: recompute every curve's alignment against the final one
    cv = [r for r in curves if int(r["seed"]) == k]
    ep = sorted({int(r["epoch"]) for r in cv}, reverse=True)
    assert ep[0] == E and all(a - b == S["curve_every"] for a, b in zip(ep, ep[1:]))
    cur = {e: [float(r["train_loss"]) for r in cv if int(r["epoch"]) == e] for e in ep}
    grid = [float(r["l"]) for r in cv if int(r["epoch"]) == E]
    assert len(grid) == G and grid[G // 2] == 0.0
    close(cur[E][G // 2], q["sgd_train_loss"], 1e-5, "l = 0 is the final iterate")
    yT = cur[E]; iT = min(range(G), key=lambda i: (yT[i], i))
    st = {int(r["epoch"]): r for r in stab if int(r["seed"]) == k}
    late = []
    for e in ep:
        yc = cur[e]; ia = min(range(G), key=lambda i: (yc[i], i))
        diff, ref = [], []
        for o in range(-G, G + 1):
            a, b = ia + o, iT + o
            if 0 <= a < G and 0 <= b < G:
                diff.append((yc[a] - yc[ia]) - (yT[b] - yT[iT])); ref.append(yT[b] - yT[iT])
        rng = max(ref) - min(ref)
        rms = math.sqrt(sum(x * x for x in diff) / len(diff)) / rng
        r = st[e]
        assert int(r["i_star"]) == ia and float(r["l_star"]) == grid[ia]
        close(float(r["shape_rms_rel"]), rms, 1e-6, "rms")
        close(float(r["shape_max_rel"]), max(abs(x) for x in diff) / rng, 1e-6, "max")
        close(float(r["abs_min"]), float(r["proj"]) + grid[ia], 1e-12, "abs_min")
        assert int(r["late"]) == (e >= swa_start and e != E)
        if e >= swa_start and e != E:
            late.append(rms)
    assert late, "no late curve"
    close(q["late_shape_rms_max"], max(late), 1e-6, "late rms max")
    late_all.append(max(late))

# ---- the verdict rule
stab_v = sum(late_all) / ns
close(res["stability"], stab_v, 1e-6, "stability")
stable = stab_v <= S["stable_threshold"]
assert res["stable"] == stable
tq = T975[ns - 1]
close(res["t_quantile"], tq, 1e-6, "t quantile")
Pm, Pse, _ = mean_se_sd([q["predicted"] for q in P])
Am, Ase, _ = mean_se_sd([q["b_swa"] for q in P])
close(res["predicted_mean"], Pm, 1e-9, "P"); close(res["actual_mean"], Am, 1e-9, "A")
Plo, Alo, Ahi = Pm - tq * Pse, Am - tq * Ase, Am + tq * Ase
band = S["ratio_band"]
if not stable or Ahi < 0 or (Plo > 0 and (Ahi < Pm / band or Alo > band * Pm)):
    want = "not reproduced"
elif Plo > 0 and Alo > 0 and 1 / band <= Am / Pm <= band:
    want = "reproduced"
else:
    want = "inconclusive"
assert rep["verdict"] == want, (rep["verdict"], want)
print(f"ok  : thm2-real checks: {ns} seeds, stability {stab_v:.3f}, P {Pm:.3g}, A {Am:.3g}, "
      f"verdict {want}")
