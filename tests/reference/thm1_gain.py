#!/usr/bin/python3
# thm1_gain.py -- independent high-precision reference values for the
# Theorem 1 landscapes of `valley theorem1` (He, Huang, Yuan (2019),
# "Asymmetric Valleys", Sec. 4.1 and Appendix B): the expected gain of the
# biased point and the Assumption 1 constant xi_A.
#
# This script is independent of the C code in this repository: it shares no
# code, no data and no build step with it.  It was written from the math
# specification in docs/theorem1.md (sections "The model" and "Definition 3
# and Assumption 1") only.  It uses python3 and mpmath (Debian package
# python3-mpmath) at mp.dps = 40, and no numpy.
#
# Regenerate the data file (from the repository root) with exactly:
#
#     /usr/bin/python3 tests/reference/thm1_gain.py > tests/reference/thm1_gain.txt
#
# The data goes to stdout; a cross-check summary goes to stderr, and the
# script exits non-zero if a check fails.
#
# Inputs.  Every input is a double.  The instances are generated here
# (deterministically: random.Random seeded with the case name, plus a
# hand-written table of what each case covers), printed with repr() (which
# round-trips exactly), and the computation then uses float(printed text),
# converted exactly to mpmath (mpf(float) is exact).  In particular the
# basis vectors b_1..b_d are the *printed doubles* of an exactly orthogonal
# rational matrix (a product of two Householder reflections
# I - 2 v v^T / (v^T v) with small integer v, a signed permutation, or the
# identity), so they are orthonormal only to about 1e-16; nothing below
# assumes more than that.  The unit vector a is an integer vector normalised
# in floating point and is used exactly as printed (not renormalised).
#
# What it computes, literally from the definitions, for each instance:
#   u_i = b_i (i = 1..k) are the asymmetric directions;
#   shift basis: frame "u" -> the b_m themselves; frame "axes" -> e_m;
#   delta(s) = sum_m s_m dbar_m (shift basis)_m, for all 2^d sign patterns s;
#   x_l = sum_i l_i u_i;
#   Lhat(x) = sum_i h_i(z_i) + gamma B(z), z_i = <x, u_i>, with
#     linear:  h(t) = p t (t >= 0), -c p t (t < 0)
#     smooth:  h(t) = p t^2/(2r) on [0, r], p r/2 + p (t - r) for t > r,
#              c p t^2/(2r) on [-r, 0], c p r/2 + c p (-t - r) for t < -r
#     coupled: smooth + gamma B, B(z) = sum_{i<j} sin^2 z_i sin^2 z_j / (k-1)
#              (B = 0 for k = 1); for linear and smooth gamma is 0;
#   gain_hat = 2^-d sum_s [Lhat(-delta(s)) - Lhat(x_l - delta(s))];
#   q_part   = xi (q(0) - q(x_l)) with
#     zero: q = 0;
#     sin:  q(w) = sin(omega <a, w>);
#     bump: q(w) = phi(|w - x_l| / rho), phi(t) = (1 - t^2)^2 for t < 1 else 0,
#           rho = min(||l||_2, D), D = min_s |delta(s) - x_l| by brute force
#           over all 2^d patterns (NOT by the closed form of the docs, so that
#           a C implementation of the closed form gets checked);
#   gain     = gain_hat + q_part;
#   xi_A       = the Assumption 1 constant at radius R = ||l||_2:
#     zero: 0;
#     bump: xi phi(max(0, D - R) / rho);
#     sin:  xi (1 + max_s hi_s), hi_s = max of sin on
#           [theta_s - omega R, theta_s + omega R], theta_s = omega <a, delta(s)>;
#           the maximum of sin over an interval is 1 if the interval contains
#           some pi/2 + 2 pi n, else the larger of the two endpoint values;
#   xi_A_proof = the same at radius R' = ||l||_2 + ||dbar||_2.
#
# Conventions (where docs/theorem1.md leaves a choice):
#   * ||l|| is the Euclidean norm of the k-vector l (not |x_l|, which differs
#     from it by rounding of the basis only).
#   * For q = bump, q(0) = phi(|x_l| / rho) is evaluated literally; with
#     rho = ||l|| it is phi(1 +- 1e-16) ~ 1e-32 or 0, i.e. zero at the
#     printed precision.
#   * For q = zero, xi is still an input (sometimes nonzero); it has no effect.
#   * For the coupled profile gamma is also kept below min_i (c_i - 1) p_i / 2,
#     so that Assumption 2's c'_i = (c_i p_i - gamma) / (p_i + gamma) exceed 1.
#   * xi_A for sin is the formula value xi (1 + max_s hi_s) in every case
#     (docs: exact when a has a component outside span(u), an upper bound
#     otherwise, e.g. when d = k).
#
# Cross-checks (summary on stderr; exit status 1 if any fails):
#   (1) tight case: for profile linear, smooth, or coupled with B = 0 (gamma = 0
#       or k = 1), frame u (or the identity basis), and every
#       l_i <= min(rbar - dbar_i, dbar_i - r) (checked exactly), gain_hat equals
#       sum_i (c_i - 1) l_i p_i / 2 to 1e-14 relative (for q = zero this is
#       the gain; the smooth profile is linear outside (-r, r), so it is tight
#       there too);
#   (2) bump: every |delta(s) - x_l| >= rho;
#   (3) the basis is orthonormal to 1e-15 (|<b_i, b_j> - [i = j]|);
#   (4) frame u or identity basis: gain_hat agrees (to 1e-13 of the size of
#       the terms) with a k-dimensional reduction that uses z directly,
#       z(-delta(s)) = -s dbar, z(x_l - delta(s)) = l - s dbar, averaged over
#       the 2^k patterns of the first k signs (no basis involved);
#   (5) bump: the brute-force D agrees with the docs' closed form
#       D^2 = ||dbar||^2 - 2 sum_m dbar_m |<b_m, x_l>| + ||x_l||^2 to 1e-13;
#   (6) sin: max_s hi_s is not below a dense double-precision sampling of
#       sin on each interval, and exceeds it by at most 1e-6.
#
# Output (stdout), one block per instance, whitespace-separated lines whose
# first word is the key, in exactly this order:
#   case NAME / d / k / frame u|axes / profile linear|smooth|coupled /
#   coupling / r / rbar / xi / q zero|sin|bump / omega / p (k values) /
#   c (k values) / l (k values) / dbar (d values) / b (d lines, d values each:
#   b_1 .. b_d) / a (d values) / gain_hat / q_part / gain / xi_A / xi_A_proof /
#   end
# Inputs are printed with repr() of the double; computed values with 25
# significant digits (mpmath.nstr(x, 25)).  omega is 1 unless q = sin, and
# coupling is 0 unless profile = coupled.

import itertools
import math
import random
import sys
from fractions import Fraction

import mpmath
from mpmath import mp, mpf

mp.dps = 40

DIGITS = 25

# ---------------------------------------------------------------------------
# The instances.  Each row says what the case covers; the numbers are drawn
# from random.Random(name) within the ranges of the brief:
#   r in [0.2, 1], rbar in (r, 5r], dbar_m in [r, rbar], p in [0.05, 5],
#   c in (1, 10], gamma in [0, 0.5 min p], xi in (0, 1] (xi = 0 in a few
#   q = zero cases, where it has no effect), omega in [0.5, 3],
#   l_i in (0, max(rbar - dbar_i, dbar_i - r)].
# Columns:
#   name, d, k, frame, profile, q, basis (id | perm | hh),
#   dbar mode (interior: in (r, rbar), 2% of the width away from the ends;
#              edges: some dbar_m exactly r and some exactly rbar;
#              any: uniform in [r, rbar];
#              low: every dbar_m exactly r),
#   l mode (tight: every l_i <= min(rbar - dbar_i, dbar_i - r);
#           cross: at least one l_i > min(rbar - dbar_i, dbar_i - r);
#           max: every l_i = max(rbar - dbar_i, dbar_i - r), in double arithmetic;
#           any: l_i uniform in (0, max(...)]),
#   extra options ("full": unrounded random doubles; "gamma0": gamma = 0;
#                  "xi0": xi = 0; "wide": rbar in [4r, 4.9r])
# ---------------------------------------------------------------------------
CASES = [
    # linear profile
    ("lin-d1k1-u-zero-tight",      1, 1, "u",    "linear",  "zero", "id",   "interior", "tight", ""),
    ("lin-d2k2-u-zero-tight",      2, 2, "u",    "linear",  "zero", "hh",   "interior", "tight", "xi0"),
    ("lin-d3k1-u-zero-tight-perm", 3, 1, "u",    "linear",  "zero", "perm", "interior", "tight", ""),
    ("lin-d5k3-u-zero-tight-full", 5, 3, "u",    "linear",  "zero", "hh",   "interior", "tight", "full"),
    ("lin-d8k8-u-zero-tight",      8, 8, "u",    "linear",  "zero", "hh",   "interior", "tight", "xi0"),
    ("lin-d4k4-axes-zero-tight-id", 4, 4, "axes", "linear", "zero", "id",   "interior", "tight", ""),
    ("lin-d8k1-axes-zero-tight",   8, 1, "axes", "linear",  "zero", "hh",   "interior", "tight", ""),
    ("lin-d4k2-u-zero-cross",      4, 2, "u",    "linear",  "zero", "hh",   "edges",    "cross", ""),
    ("lin-d2k1-u-sin",             2, 1, "u",    "linear",  "sin",  "id",   "any",      "any",   ""),
    ("lin-d6k4-axes-sin",          6, 4, "axes", "linear",  "sin",  "hh",   "any",      "any",   "full"),
    ("lin-d3k2-u-bump-tight",      3, 2, "u",    "linear",  "bump", "hh",   "interior", "tight", ""),
    ("lin-d3k3-axes-bump",         3, 3, "axes", "linear",  "bump", "hh",   "any",      "any",   ""),
    ("lin-d7k2-u-bump-cross",      7, 2, "u",    "linear",  "bump", "perm", "edges",    "cross", ""),
    ("lin-d2k2-u-bump-lmax",       2, 2, "u",    "linear",  "bump", "hh",   "edges",    "max",   ""),
    # smooth profile
    ("smooth-d1k1-u-zero-cross",   1, 1, "u",    "smooth",  "zero", "id",   "edges",    "cross", ""),
    ("smooth-d1k1-axes-sin",       1, 1, "axes", "smooth",  "sin",  "perm", "edges",    "any",   ""),
    ("smooth-d2k2-u-zero-tight",   2, 2, "u",    "smooth",  "zero", "hh",   "interior", "tight", ""),
    ("smooth-d2k1-axes-sin-id",    2, 1, "axes", "smooth",  "sin",  "id",   "any",      "any",   ""),
    ("smooth-d3k2-u-sin-cross",    3, 2, "u",    "smooth",  "sin",  "hh",   "any",      "cross", ""),
    ("smooth-d4k4-axes-zero-cross", 4, 4, "axes", "smooth", "zero", "hh",   "edges",    "cross", "xi0"),
    ("smooth-d5k1-u-bump",         5, 1, "u",    "smooth",  "bump", "hh",   "any",      "any",   "full"),
    ("smooth-d6k6-axes-bump-cross", 6, 6, "axes", "smooth", "bump", "perm", "edges",    "cross", ""),
    ("smooth-d4k4-axes-bump-lmax", 4, 4, "axes", "smooth",  "bump", "hh",   "low",      "max",   "wide"),
    ("smooth-d7k7-u-sin-cross",    7, 7, "u",    "smooth",  "sin",  "hh",   "edges",    "cross", ""),
    ("smooth-d8k3-axes-sin",       8, 3, "axes", "smooth",  "sin",  "hh",   "any",      "any",   ""),
    # coupled profile
    ("coupled-d1k1-u-zero-cross",  1, 1, "u",    "coupled", "zero", "id",   "edges",    "cross", ""),
    ("coupled-d2k2-u-zero-cross",  2, 2, "u",    "coupled", "zero", "hh",   "any",      "cross", ""),
    ("coupled-d3k3-u-zero-tight-gamma0", 3, 3, "u", "coupled", "zero", "hh", "interior", "tight", "gamma0"),
    ("coupled-d3k1-axes-bump",     3, 1, "axes", "coupled", "bump", "hh",   "any",      "any",   ""),
    ("coupled-d3k3-u-bump-lmax",   3, 3, "u",    "coupled", "bump", "hh",   "edges",    "max",   ""),
    ("coupled-d4k3-u-sin-cross",   4, 3, "u",    "coupled", "sin",  "hh",   "any",      "cross", "full"),
    ("coupled-d5k5-axes-bump",     5, 5, "axes", "coupled", "bump", "hh",   "any",      "any",   ""),
    ("coupled-d6k2-axes-sin",      6, 2, "axes", "coupled", "sin",  "perm", "any",      "any",   ""),
    ("coupled-d7k4-axes-zero-cross", 7, 4, "axes", "coupled", "zero", "hh", "edges",    "cross", ""),
    ("coupled-d8k5-u-bump-cross",  8, 5, "u",    "coupled", "bump", "hh",   "edges",    "cross", ""),
    ("coupled-d8k8-u-sin",         8, 8, "u",    "coupled", "sin",  "hh",   "any",      "any",   ""),
]


# ---------------------------------------------------------------------------
# Instance generation (plain Python floats; exact rationals for the bases).
# ---------------------------------------------------------------------------
def rnd(x, full, nd=4):
    """A 'nice' double near x (nd decimals) unless full, then x itself."""
    return x if full else round(x, nd)


def rnd_down(x, full, nd=4):
    """A double <= x, > 0 where possible: x rounded down to nd decimals."""
    if full:
        return x
    v = math.floor(x * 10**nd) / 10**nd
    return v if v > 0 else x


def householder(v):
    """Exact rational I - 2 v v^T / (v^T v)."""
    n = len(v)
    vv = sum(Fraction(x * x) for x in v)
    return [[Fraction(int(i == j)) - Fraction(2 * v[i] * v[j]) / vv for j in range(n)]
            for i in range(n)]


def matmul(A, B):
    n = len(A)
    return [[sum(A[i][t] * B[t][j] for t in range(n)) for j in range(n)] for i in range(n)]


def make_basis(rng, d, kind):
    """Rows of an exactly orthogonal rational matrix, converted to doubles."""
    if kind == "id":
        Q = [[Fraction(int(i == j)) for j in range(d)] for i in range(d)]
    elif kind == "perm":
        perm = list(range(d))
        rng.shuffle(perm)
        Q = [[Fraction(0)] * d for _ in range(d)]
        for i in range(d):
            Q[i][perm[i]] = Fraction(rng.choice((-1, 1)))
    elif kind == "hh":
        def small_vec():
            while True:
                v = [rng.randint(-3, 3) for _ in range(d)]
                if any(v):
                    return v
        v1 = small_vec()
        while True:
            v2 = small_vec()
            # not parallel to v1 (else the product is the identity), if d >= 2
            par = all(v1[i] * v2[j] == v1[j] * v2[i] for i in range(d) for j in range(d))
            if d == 1 or not par:
                break
        Q = matmul(householder(v1), householder(v2))
    else:
        raise ValueError(kind)
    return [[float(x) for x in row] for row in Q]


def make_case(row):
    name, d, k, frame, profile, qkind, bkind, dmode, lmode, opts = row
    rng = random.Random(name)
    full = "full" in opts
    basis = make_basis(rng, d, bkind)

    r = rnd(rng.uniform(0.2, 1.0), full)
    rbar = rnd(r * rng.uniform(1.1, 4.9), full)
    if "wide" in opts:
        rbar = rnd(r * rng.uniform(4.0, 4.9), full)
    if dmode == "interior":
        lo, hi = r + 0.02 * (rbar - r), rbar - 0.02 * (rbar - r)
        dbar = [rnd(rng.uniform(lo, hi), full) for _ in range(d)]
    elif dmode == "low":
        dbar = [r] * d
    else:
        dbar = [rnd(rng.uniform(r, rbar), full) for _ in range(d)]
        if dmode == "edges":
            dbar[0] = r
            if d >= 2:
                dbar[-1] = rbar
            if d >= 4:
                dbar[1] = r
    dbar = [min(max(x, r), rbar) for x in dbar]

    p = [rnd(math.exp(rng.uniform(math.log(0.05), math.log(5.0))), full) for _ in range(k)]
    p = [min(max(x, 0.05), 5.0) for x in p]
    c = [rnd(rng.uniform(1.05, 10.0), full, 3) for _ in range(k)]

    # l_i in (0, max(rbar - dbar_i, dbar_i - r)]; lmin = min(...) is the
    # tight limit (the paths z_i = l_i -/+ dbar_i stay outside (-r, r)).
    l = []
    for i in range(k):
        lmin = min(rbar - dbar[i], dbar[i] - r)
        lmax = max(rbar - dbar[i], dbar[i] - r)
        if lmode == "tight":
            l.append(rnd_down(lmin * rng.uniform(0.05, 0.999), full))
        elif lmode == "max":
            l.append(lmax)
        elif lmode == "cross" and i == 0:
            l.append(rnd_down(lmin + (lmax - lmin) * rng.uniform(0.3, 1.0), full))
        else:
            l.append(rnd_down(lmax * rng.uniform(0.02, 1.0), full))

    gamma = 0.0
    if profile == "coupled" and "gamma0" not in opts:
        gmax = min(0.5 * min(p), 0.9 * min((ci - 1) * pi / 2 for ci, pi in zip(c, p)))
        gamma = rnd_down(gmax * rng.uniform(0.1, 1.0), full, 5)
    xi = 0.0 if "xi0" in opts else rnd(rng.uniform(0.05, 1.0), full, 3)
    omega = rnd(rng.uniform(0.5, 3.0), full, 3) if qkind == "sin" else 1.0
    while True:
        av = [rng.randint(-5, 5) for _ in range(d)]
        if any(av):
            break
    na = math.sqrt(sum(x * x for x in av))
    a = [x / na for x in av]

    # Round-trip everything through its printed form (repr) now, so that the
    # computation uses exactly the printed doubles.
    def rt(x):
        return float(repr(float(x)))
    return dict(name=name, d=d, k=k, frame=frame, profile=profile, q=qkind,
                basis_kind=bkind, lmode=lmode,
                coupling=rt(gamma), r=rt(r), rbar=rt(rbar), xi=rt(xi), omega=rt(omega),
                p=[rt(x) for x in p], c=[rt(x) for x in c], l=[rt(x) for x in l],
                dbar=[rt(x) for x in dbar], b=[[rt(x) for x in row] for row in basis],
                a=[rt(x) for x in a])


# ---------------------------------------------------------------------------
# The computation (mpmath, 40 digits).
# ---------------------------------------------------------------------------
def dot(x, y):
    return mpmath.fsum(xi * yi for xi, yi in zip(x, y))


def norm(x):
    return mpmath.sqrt(dot(x, x))


def vsub(x, y):
    return [xi - yi for xi, yi in zip(x, y)]


def h_profile(t, p, c, r, profile):
    """The one-dimensional profile h(t) of docs/theorem1.md."""
    if profile == "linear":
        return p * t if t >= 0 else -c * p * t
    # smooth (also the h part of coupled)
    if t >= 0:
        return p * t**2 / (2 * r) if t <= r else p * r / 2 + p * (t - r)
    return c * p * t**2 / (2 * r) if t >= -r else c * p * r / 2 + c * p * (-t - r)


def coupling_B(z):
    k = len(z)
    if k < 2:
        return mpf(0)
    s2 = [mpmath.sin(zi)**2 for zi in z]
    tot = mpmath.fsum(s2[i] * s2[j] for i in range(k) for j in range(i + 1, k))
    return tot / (k - 1)


def L_of_z(z, P):
    """Lhat as a function of z = (z_1..z_k)."""
    val = mpmath.fsum(h_profile(z[i], P["p"][i], P["c"][i], P["r"], P["profile"])
                      for i in range(P["k"]))
    if P["profile"] == "coupled":
        val += P["coupling"] * coupling_B(z)
    return val


def Lhat(x, P):
    z = [dot(x, P["u"][i]) for i in range(P["k"])]
    return L_of_z(z, P)


def phi(t):
    return (1 - t**2)**2 if t < 1 else mpf(0)


def sin_max(lo, hi):
    """max of sin on [lo, hi]: 1 if some pi/2 + 2 pi n lies in it, else the
    larger endpoint value (sin has no other interior maxima)."""
    twopi = 2 * mpmath.pi
    n = mpmath.ceil((lo - mpmath.pi / 2) / twopi)
    if mpmath.pi / 2 + twopi * n <= hi:
        return mpf(1)
    return max(mpmath.sin(lo), mpmath.sin(hi))


def compute(C):
    d, k = C["d"], C["k"]
    P = dict(C)
    for key in ("coupling", "r", "rbar", "xi", "omega"):
        P[key] = mpf(C[key])
    for key in ("p", "c", "l", "dbar", "a"):
        P[key] = [mpf(x) for x in C[key]]
    B = [[mpf(x) for x in row] for row in C["b"]]
    P["u"] = B[:k]
    if C["frame"] == "u":
        shift = B
    else:
        shift = [[mpf(int(i == j)) for j in range(d)] for i in range(d)]

    x_l = [mpmath.fsum(P["l"][i] * P["u"][i][m] for i in range(k)) for m in range(d)]
    pats = list(itertools.product((-1, 1), repeat=d))
    deltas = [[mpmath.fsum(s[m] * P["dbar"][m] * shift[m][j] for m in range(d))
               for j in range(d)] for s in pats]

    terms = []
    for dl in deltas:
        L0 = Lhat([-x for x in dl], P)
        L1 = Lhat(vsub(x_l, dl), P)
        terms.append((L0, L1))
    gain_hat = mpmath.fsum(L0 - L1 for L0, L1 in terms) / 2**d

    norm_l = norm(P["l"])
    norm_dbar = norm(P["dbar"])
    xi, omega = P["xi"], P["omega"]
    D = min(norm(vsub(dl, x_l)) for dl in deltas)
    rho = min(norm_l, D)

    if C["q"] == "zero":
        q_part = mpf(0)
    elif C["q"] == "sin":
        q_part = xi * (mpmath.sin(omega * dot(P["a"], [mpf(0)] * d))
                       - mpmath.sin(omega * dot(P["a"], x_l)))
    else:  # bump: q(w) = phi(|w - x_l| / rho)
        q_part = xi * (phi(norm(x_l) / rho) - phi(mpf(0) / rho))
    gain = gain_hat + q_part

    def xiA(R):
        if C["q"] == "zero":
            return mpf(0)
        if C["q"] == "bump":
            return xi * phi(max(mpf(0), D - R) / rho)
        his = []
        for dl in deltas:
            th = omega * dot(P["a"], dl)
            his.append(sin_max(th - omega * R, th + omega * R))
        return xi * (1 + max(his))

    res = dict(gain_hat=gain_hat, q_part=q_part, gain=gain,
               xi_A=xiA(norm_l), xi_A_proof=xiA(norm_l + norm_dbar))
    aux = dict(P=P, B=B, x_l=x_l, pats=pats, deltas=deltas, terms=terms, D=D,
               rho=rho, norm_l=norm_l, norm_dbar=norm_dbar)
    return res, aux


# ---------------------------------------------------------------------------
# Cross-checks.  Each returns a list of notes; failures are raised.
# ---------------------------------------------------------------------------
class CheckFailed(Exception):
    pass


def checks(C, res, aux):
    P, B = aux["P"], aux["B"]
    d, k = C["d"], C["k"]
    notes = []

    # (3) orthonormality of the printed basis
    err = max(abs(dot(B[i], B[j]) - (1 if i == j else 0))
              for i in range(d) for j in range(d))
    if err > mpf("1e-15"):
        raise CheckFailed("basis not orthonormal: %s" % mpmath.nstr(err, 3))
    notes.append("orth %s" % mpmath.nstr(err, 2))

    is_id = all(C["b"][i][j] == (1.0 if i == j else 0.0) for i in range(d) for j in range(d))
    reducible = C["frame"] == "u" or is_id

    # (4) k-dimensional reduction: z(-delta(s)) = -s dbar, z(x_l - delta(s)) = l - s dbar
    if reducible:
        acc, scale = [], mpf(0)
        for s in itertools.product((-1, 1), repeat=k):
            z0 = [-s[i] * P["dbar"][i] for i in range(k)]
            z1 = [P["l"][i] - s[i] * P["dbar"][i] for i in range(k)]
            L0, L1 = L_of_z(z0, P), L_of_z(z1, P)
            acc.append(L0 - L1)
            scale = max(scale, abs(L0), abs(L1))
        g_red = mpmath.fsum(acc) / 2**k
        diff = abs(g_red - res["gain_hat"])
        if diff > mpf("1e-13") * (1 + scale):
            raise CheckFailed("k-dim reduction %s vs %s" % (g_red, res["gain_hat"]))
        notes.append("reduction diff %s" % mpmath.nstr(diff, 2))

    # (1) tight case
    tight = all(P["l"][i] <= min(P["rbar"] - P["dbar"][i], P["dbar"][i] - P["r"])
                for i in range(k))
    no_B = C["profile"] != "coupled" or C["coupling"] == 0 or k == 1
    if tight and no_B and reducible:
        want = mpmath.fsum((P["c"][i] - 1) * P["l"][i] * P["p"][i] / 2 for i in range(k))
        rel = abs(res["gain_hat"] - want) / abs(want)
        if rel > mpf("1e-14"):
            raise CheckFailed("tight case: gain_hat %s vs %s" % (res["gain_hat"], want))
        notes.append("tight rel %s" % mpmath.nstr(rel, 2))
    elif C["lmode"] == "tight" and not tight:
        raise CheckFailed("generated as tight but the condition fails")
    if C["lmode"] == "cross" and tight:
        raise CheckFailed("generated as crossing but every l_i is tight")

    if C["q"] == "bump":
        # (2) every delta(s) lies outside the bump
        dmin = min(norm(vsub(dl, aux["x_l"])) for dl in aux["deltas"])
        if dmin < aux["rho"]:
            raise CheckFailed("a delta(s) lies inside the bump")
        # (5) closed form of D
        x_l = aux["x_l"]
        shift = B if C["frame"] == "u" else [[mpf(int(i == j)) for j in range(d)]
                                             for i in range(d)]
        D2 = (aux["norm_dbar"]**2
              - 2 * mpmath.fsum(P["dbar"][m] * abs(dot(shift[m], x_l)) for m in range(d))
              + dot(x_l, x_l))
        diff = abs(D2 - aux["D"]**2)
        if diff > mpf("1e-13") * (aux["norm_dbar"]**2 + dot(x_l, x_l)):
            raise CheckFailed("closed-form D^2 %s vs %s" % (D2, aux["D"]**2))
        notes.append("rho=%s (%s) D closed-form diff %s"
                     % (mpmath.nstr(aux["rho"], 6),
                        "||l||" if aux["norm_l"] <= aux["D"] else "D",
                        mpmath.nstr(diff, 2)))

    if C["q"] == "sin":
        # (6) dense sampling of sin on each interval, in double precision
        om = C["omega"]
        for R in (aux["norm_l"], aux["norm_l"] + aux["norm_dbar"]):
            Rf = float(R)
            best_exact = mpf(-2)
            best_sample = -2.0
            for dl in aux["deltas"]:
                th = om * float(dot(P["a"], dl))
                lo, hi = th - om * Rf, th + om * Rf
                best_exact = max(best_exact, sin_max(om * dot(P["a"], dl) - P["omega"] * R,
                                                     om * dot(P["a"], dl) + P["omega"] * R))
                n = 2000
                best_sample = max(best_sample,
                                  max(math.sin(lo + (hi - lo) * j / n) for j in range(n + 1)))
            if not (best_sample - 1e-12 <= best_exact <= best_sample + 1e-6):
                raise CheckFailed("sin max %s vs sampled %s" % (best_exact, best_sample))
        notes.append("sin max sampled ok")
    return notes


# ---------------------------------------------------------------------------
# Output.
# ---------------------------------------------------------------------------
def fmt(x):
    return mpmath.nstr(x, DIGITS)


def write_case(out, C, res):
    R = repr
    out.write("case %s\n" % C["name"])
    out.write("d %d\n" % C["d"])
    out.write("k %d\n" % C["k"])
    out.write("frame %s\n" % C["frame"])
    out.write("profile %s\n" % C["profile"])
    out.write("coupling %s\n" % R(C["coupling"]))
    out.write("r %s\n" % R(C["r"]))
    out.write("rbar %s\n" % R(C["rbar"]))
    out.write("xi %s\n" % R(C["xi"]))
    out.write("q %s\n" % C["q"])
    out.write("omega %s\n" % R(C["omega"]))
    for key in ("p", "c", "l", "dbar"):
        out.write("%s %s\n" % (key, " ".join(R(x) for x in C[key])))
    for row in C["b"]:
        out.write("b %s\n" % " ".join(R(x) for x in row))
    out.write("a %s\n" % " ".join(R(x) for x in C["a"]))
    for key in ("gain_hat", "q_part", "gain", "xi_A", "xi_A_proof"):
        out.write("%s %s\n" % (key, fmt(res[key])))
    out.write("end\n")


def main():
    out = sys.stdout
    out.write("# Generated by tests/reference/thm1_gain.py (python3 + mpmath %s, mp.dps = %d), with:\n"
              % (mpmath.__version__, mp.dps))
    out.write("#   /usr/bin/python3 tests/reference/thm1_gain.py > tests/reference/thm1_gain.txt\n")
    out.write("# Independent of the C code.  Theorem 1 landscapes of docs/theorem1.md (He, Huang, Yuan (2019)\n")
    out.write("# \"Asymmetric Valleys\", Sec. 4.1): the exact expected gain over all 2^d sign patterns,\n")
    out.write("#   gain_hat = 2^-d sum_s [Lhat(-delta(s)) - Lhat(x_l - delta(s))], q_part = xi (q(0) - q(x_l)),\n")
    out.write("#   gain = gain_hat + q_part,\n")
    out.write("# and the Assumption 1 constant xi_A at radius ||l||_2 (xi_A_proof: at ||l||_2 + ||dbar||_2).\n")
    out.write("# u_i = b_i (i <= k); shift basis b_m (frame u) or e_m (frame axes); see the script header.\n")
    out.write("# Inputs are doubles printed with repr(); computed values have %d significant digits.\n" % DIGITS)
    out.write("# One block per case, keys in this order: case d k frame profile coupling r rbar xi q omega\n")
    out.write("# p c l dbar b (d lines) a gain_hat q_part gain xi_A xi_A_proof end\n")

    failures = 0
    cov = {}
    for row in CASES:
        C = make_case(row)
        res, aux = compute(C)
        try:
            notes = checks(C, res, aux)
            status = "ok"
        except CheckFailed as e:
            notes = [str(e)]
            status = "FAIL"
            failures += 1
        write_case(out, C, res)
        key = (C["profile"], C["q"], C["frame"])
        cov[key] = cov.get(key, 0) + 1
        sys.stderr.write("%-34s %-4s gain=%s xi_A=%s  %s\n"
                         % (C["name"], status, mpmath.nstr(res["gain"], 10),
                            mpmath.nstr(res["xi_A"], 8), "; ".join(notes)))

    sys.stderr.write("\n%d cases; coverage (profile, q, frame): count\n" % len(CASES))
    for key in sorted(cov):
        sys.stderr.write("  %-8s %-5s %-5s %d\n" % (key + (cov[key],)))
    if failures:
        sys.stderr.write("%d CHECK(S) FAILED\n" % failures)
        sys.exit(1)
    sys.stderr.write("all checks passed\n")


if __name__ == "__main__":
    main()
