#!/usr/bin/env python3
"""NumPy-vectorised reference for the Theorem 2 Monte Carlo (bench/run.sh): the canonical valley,
Uniform(-nu, nu) noise, rounds detected and their means and lengths accumulated per chain, and
the trajectory sum, vectorised over chains, one NumPy step per SGD step.  (valley's kernel also
evaluates eight proof probes per step, so it does more work than this.)
usage: numpy_ref.py CHAINS STEPS   prints one JSON line."""
import json
import sys
import time

import numpy as np


def run(chains, steps, burn, eta=0.01, a_plus=1.0, a_minus=-20.0, nu=0.5, seed=1):
    rng = np.random.Generator(np.random.PCG64(seed))
    w = np.zeros(chains)
    prev_sharp = np.zeros(chains, dtype=bool)
    open_ = np.zeros(chains, dtype=bool)
    rsum = np.zeros(chains)
    rlen = np.zeros(chains)
    mean_sum = np.zeros(chains)
    rounds = np.zeros(chains)
    traj = np.zeros(chains)
    for t in range(steps):
        omega = nu * (2.0 * rng.random(chains) - 1.0)
        w -= eta * (np.where(w >= 0, a_plus, a_minus) + omega)
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
            traj += w
        prev_sharp = ~flat
    return mean_sum.sum() / rounds.sum()


def main():
    chains = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    t0 = time.perf_counter()
    wbar = run(chains, steps, steps // 100)
    dt = time.perf_counter() - t0
    print(json.dumps({"bench": "numpy_reference", "chains": chains, "steps": steps,
                      "seconds": dt, "steps_per_second": chains * steps / dt, "E_wbar": wbar}))


if __name__ == "__main__":
    main()
