#!/usr/bin/env python3
"""Independent reference for valley_dataset_permutation (sim/idx.c, docs/data.md): PCG32
(pcg-c-basic's pcg32_srandom_r, pcg32_random_r, pcg32_boundedrand_r) written afresh in Python,
and the forward Fisher-Yates shuffle.  Prints the permutations that tests/test_idx.c pins.
usage: python3 tests/data/shuffle_ref.py"""

M64 = (1 << 64) - 1
MULT = 6364136223846793005
STREAM = 0x64617461  # ASCII "data": VALLEY_DATASET_PCG_STREAM


class Pcg32:
    def __init__(self, initstate, initseq):
        self.state = 0
        self.inc = ((initseq << 1) | 1) & M64
        self.next()
        self.state = (self.state + initstate) & M64
        self.next()

    def next(self):
        old = self.state
        self.state = (old * MULT + self.inc) & M64
        xorshifted = (((old >> 18) ^ old) >> 27) & 0xFFFFFFFF
        rot = old >> 59
        return ((xorshifted >> rot) | (xorshifted << ((-rot) & 31))) & 0xFFFFFFFF

    def bounded(self, bound):
        threshold = (2**32 - bound) % bound
        while True:
            r = self.next()
            if r >= threshold:
                return r % bound


def permutation(n, k, seed):
    p = list(range(n))
    rng = Pcg32(seed, STREAM)
    for i in range(k):
        j = i + rng.bounded(n - i)
        p[i], p[j] = p[j], p[i]
    return p


if __name__ == "__main__":
    for n, k, seed in ((10, 10, 42), (10, 3, 42), (20, 20, 0), (20, 20, 2**64 - 1), (1000, 5, 7)):
        p = permutation(n, k, seed)
        print(f"n={n} k={k} seed={seed}: {p[:k] if k < n else p}")
