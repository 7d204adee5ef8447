#!/usr/bin/env python3
"""NumPy-vectorised references of valley's simulators, for bench/run: each runs the same process
as valley's (same update, same noise law, same start), vectorised over chains or particles, one
NumPy step per time step, with np.random.Generator(PCG64) for its random numbers (so its draws
differ from valley's PCG32 streams: agreement is statistical, checked by bench/run).

  thm2 CHAINS STEPS [canonical|saturating]
      Theorem 2 Monte Carlo: w <- w - eta (g(w) + omega), omega ~ Uniform(-nu, nu), eta 0.01,
      nu 0.5, a+ 1, a- -20 (saturating: b+ 0.5, b- -30, scale 0.1); rounds (a step from the sharp
      side w < 0 to the flat side w >= 0 starts one) after a burn-in of STEPS / 100, each finished
      round's mean iterate; E[w_bar] as sum of round means / rounds, its standard error from the
      chains (ratio estimator).
  thm1 SAMPLES
      Theorem 1 Monte Carlo, d 8, k 2, the linear profile (p 0.5, c 3), dbar 1, l 0.5, rotation
      seed 0 (P the identity's first k columns): signs s ~ +-1, zeta = P^T (s dbar),
      gain = mean of Lhat(-zeta) - Lhat(l - zeta), Lhat(z) = sum_i h(z_i), its standard error.
  em1d PARTICLES STEPS, sgd1d PARTICLES STEPS
      fig4-left (minima -1, 1, weights 0.021, 0.1, sigmas 0.1, 0.5, c 0.001, L 1, D 1), T 0.1,
      step 1e-4, uniform start on [-3, 3], theta <- theta - h U' + sqrt(h T) eta, eta ~ N(0, 1)
      (em1d) or Uniform(-sqrt 3, sqrt 3) (sgd1d), mirror walls; moments of the final theta.
  em2d PARTICLES STEPS
      the curl example (U = (x^2 + y^2) / 2, d1 = 1 + a y^2, d2 = 1, a 1), T 0.5, dt 1e-3, box
      [-4, 4]^2, uniform start, x <- x - dt x + sqrt(dt T d1) Z1, y <- y - dt y + sqrt(dt T) Z2,
      mirror walls; moments of the final x and y.
  probe IMAGES POINTS
      the direction probe's layers (784-256-256-10, batch norm in evaluation mode) at POINTS
      points of a line, each on IMAGES images, float32 (random weights: timing only).

usage: numpy_refs.py NAME ARGS...   prints one JSON line: seconds (best of --reps N, default 1),
work (steps, samples or particle-steps), rate, and the statistics named above with their
standard errors."""
import json
import math
import sys
import time

import numpy as np


def _ratio_se(a, b):
    """sum a / sum b and its standard error over independent chains (delta method)."""
    r = a.sum() / b.sum()
    n = len(a)
    if n < 2 or b.sum() == 0:
        return r, float("nan")
    dev = a - r * b
    return r, math.sqrt((dev * dev).sum() * n / (n - 1)) / b.sum()


def thm2(chains, steps, valley="canonical", seed=1):
    eta, nu, ap, am = 0.01, 0.5, 1.0, -20.0
    bp, bm, scale = 0.5, -30.0, 0.1
    burn = steps // 100
    rng = np.random.Generator(np.random.PCG64(seed))
    w = np.zeros(chains)
    prev_sharp = np.zeros(chains, dtype=bool)
    open_ = np.zeros(chains, dtype=bool)
    rsum = np.zeros(chains)
    rlen = np.zeros(chains)
    mean_sum = np.zeros(chains)
    rounds = np.zeros(chains)
    for t in range(steps):
        omega = nu * (2.0 * rng.random(chains) - 1.0)
        flat = w >= 0
        if valley == "saturating":
            th = np.tanh(np.abs(w) / scale)
            g = np.where(flat, bp + (ap - bp) * th, am + (bm - am) * th)
        else:
            g = np.where(flat, ap, am)
        w -= eta * (g + omega)
        flat = w >= 0
        if t >= burn:
            start = flat & prev_sharp
            ended = start & open_
            mean_sum += np.where(ended, rsum / np.maximum(rlen, 1), 0.0)
            rounds += ended
            open_ |= start
            rsum[start] = 0.0
            rlen[start] = 0.0
            rsum += np.where(open_, w, 0.0)
            rlen += open_
        prev_sharp = ~flat
    est, se = _ratio_se(mean_sum, rounds)
    return chains * steps, {"E_wbar": est, "E_wbar_se": se}


def thm1(samples, d=8, k=2, p=0.5, c=3.0, dbar=1.0, l=0.5, seed=1, chunk=1 << 20):
    rng = np.random.Generator(np.random.PCG64(seed))
    P = np.zeros((d, k))
    P[:k, :k] = np.eye(k)
    shifts = np.arange(d, dtype=np.uint32)

    def h(z):
        return np.where(z >= 0, p * z, -c * p * z).sum(axis=1)

    s1 = s2 = 0.0
    done = 0
    while done < samples:
        n = min(chunk, samples - done)
        bits = rng.integers(0, 1 << 32, size=n, dtype=np.uint32)
        s = ((bits[:, None] >> shifts) & 1).astype(np.float64) * (2 * dbar) - dbar
        zeta = s @ P
        x = h(-zeta) - h(l - zeta)
        s1 += x.sum()
        s2 += (x * x).sum()
        done += n
    mean = s1 / samples
    var = (s2 / samples - mean * mean) * samples / (samples - 1)
    return samples, {"gain_hat": mean, "gain_hat_se": math.sqrt(max(var, 0.0) / samples)}


def _fold(x, lo, hi):
    """Mirror reflection into [lo, hi] (one reflection, then the periodic fold)."""
    x = np.where(x > hi, 2.0 * hi - x, x)
    x = np.where(x < lo, 2.0 * lo - x, x)
    out = (x < lo) | (x > hi)
    if out.any():
        L = hi - lo
        r = np.mod(x[out] - lo, 2.0 * L)
        x[out] = lo + np.where(r > L, 2.0 * L - r, r)
    return x


def _moments(name, x):
    n = len(x)
    out = {}
    for key, f in ((name + "_mean", x), (name + "_sq", x * x)):
        out[key] = float(f.mean())
        out[key + "_se"] = float(f.std(ddof=1) / math.sqrt(n))
    return out


def ens1d(n, steps, scheme="em", seed=1):
    minima, weights, sigmas = (-1.0, 1.0), (0.021, 0.1), (0.1, 0.5)
    C, T, h, lo, hi = 0.001, 0.1, 1e-4, -3.0, 3.0
    rng = np.random.Generator(np.random.PCG64(seed))
    theta = lo + (hi - lo) * rng.random(n)
    a = [w / (s * math.sqrt(2.0 * math.pi)) for w, s in zip(weights, sigmas)]
    b = [1.0 / (2.0 * s * s) for s in sigmas]
    b2 = [1.0 / (s * s) for s in sigmas]
    amp = math.sqrt(T * h)
    g, gp, d, e = (np.empty(n) for _ in range(4))
    for _ in range(steps):
        g.fill(C)
        gp.fill(0.0)
        for m, ak, bk, b2k in zip(minima, a, b, b2):
            np.subtract(theta, m, out=d)
            np.multiply(d, d, out=e)
            e *= -bk
            np.exp(e, out=e)
            e *= ak
            g += e
            e *= d
            e *= b2k
            gp -= e
        gp /= g  # U' = -gp / g, so theta - h U' = theta + h gp / g
        gp *= h
        theta += gp
        if scheme == "em":
            theta += amp * rng.standard_normal(n)
        else:
            theta += (amp * math.sqrt(3.0)) * (2.0 * rng.random(n) - 1.0)
        if theta.min() < lo or theta.max() > hi:
            theta = _fold(theta, lo, hi)
    return n * steps, _moments("theta", theta)


def em2d(n, steps, a=1.0, T=0.5, dt=1e-3, L=4.0, seed=1):
    rng = np.random.Generator(np.random.PCG64(seed))
    x = -L + 2 * L * rng.random(n)
    y = -L + 2 * L * rng.random(n)
    amp = math.sqrt(dt * T)
    for _ in range(steps):
        z = rng.standard_normal((2, n))
        x += -dt * x + amp * np.sqrt(1.0 + a * y * y) * z[0]
        y += -dt * y + amp * z[1]
        if x.min() < -L or x.max() > L:
            x = _fold(x, -L, L)
        if y.min() < -L or y.max() > L:
            y = _fold(y, -L, L)
    out = _moments("x", x)
    out.update(_moments("y", y))
    return n * steps, out


def probe(images, points, seed=1):
    """The direction probe's work: `points` points w* + t d of a 784-256-256-10 MLP with batch
    norm (evaluation mode: an affine map per unit), each evaluated on `images` images, the mean
    cross-entropy per point; float32, random weights and images (timing only)."""
    rng = np.random.Generator(np.random.PCG64(seed))
    sizes = (784, 256, 256, 10)
    x = rng.random((images, 784), dtype=np.float32)
    y = rng.integers(0, 10, size=images)
    ws = [rng.standard_normal((a, b), dtype=np.float32) / np.float32(math.sqrt(a))
          for a, b in zip(sizes[:-1], sizes[1:])]
    ds = [rng.standard_normal(w.shape, dtype=np.float32) * np.float32(0.01) for w in ws]
    bs = [rng.standard_normal(b, dtype=np.float32) * np.float32(0.1) for b in sizes[1:]]
    scale = [np.ones(b, dtype=np.float32) for b in sizes[1:3]]
    shift = [np.zeros(b, dtype=np.float32) for b in sizes[1:3]]
    losses = []
    for t in np.linspace(-1.0, 1.0, points, dtype=np.float32):
        h = x
        for i in range(3):
            h = h @ (ws[i] + t * ds[i]) + bs[i]
            if i < 2:
                h = np.maximum(h * scale[i] + shift[i], 0)
        h = h - h.max(axis=1, keepdims=True)
        lse = np.log(np.exp(h).sum(axis=1))
        losses.append(float((lse - h[np.arange(images), y]).mean()))
    return images * points, {"loss_mean": float(np.mean(losses))}


def run(name, args, reps=1):
    """(best seconds, work, statistics of the last run) of reference `name` with int args."""
    fns = {
        "thm2": lambda: thm2(int(args[0]), int(args[1]), args[2] if len(args) > 2 else "canonical"),
        "thm1": lambda: thm1(int(args[0])),
        "em1d": lambda: ens1d(int(args[0]), int(args[1]), "em"),
        "sgd1d": lambda: ens1d(int(args[0]), int(args[1]), "sgd"),
        "em2d": lambda: em2d(int(args[0]), int(args[1])),
        "probe": lambda: probe(int(args[0]), int(args[1])),
    }
    if name not in fns:
        raise ValueError(f"unknown reference '{name}' (thm2, thm1, em1d, sgd1d, em2d)")
    best = None
    for _ in range(reps):
        t0 = time.perf_counter()
        work, stats = fns[name]()
        dt = time.perf_counter() - t0
        best = dt if best is None else min(best, dt)
    return best, work, stats


def main():
    argv = sys.argv[1:]
    reps = 1
    if "--reps" in argv:
        i = argv.index("--reps")
        reps = int(argv[i + 1])
        del argv[i:i + 2]
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        sec, work, stats = run(argv[0], argv[1:], reps)
    except (ValueError, IndexError) as e:
        print(f"numpy_refs.py: {e}", file=sys.stderr)
        return 2
    out = {"bench": "numpy_" + argv[0], "args": argv[1:], "seconds": sec, "work": work,
           "rate": work / sec}
    out.update(stats)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
