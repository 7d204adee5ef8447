#!/usr/bin/python3
# thm2_constants.py -- independent high-precision reference values for the
# constants of Theorem 2 of He, Huang, Yuan (2019), "Asymmetric Valleys"
# (proof in Appendix D; paper text in shared/papers/asymmetric-valleys-paper.txt).
#
# This script is independent of the C code in this repository: it shares no
# code, no data and no build step with it.  It uses only python3 and mpmath
# (Debian package python3-mpmath), at mp.dps = 60 (about 60 decimal digits).
#
# Regenerate the data file (from the repository root) with exactly:
#
#     /usr/bin/python3 tests/reference/thm2_constants.py > tests/reference/thm2_constants.txt
#
# The data goes to stdout; a cross-check summary goes to stderr.
#
# What it computes, for each parameter set and each variant, with
# L(tau) = sqrt(log(2 tau)):
#
#   p_min = -eta (a_minus + a_plus + 2 nu)
#   p_max = -eta (b_minus - nu)
#   T_min(tau) = ((-sqrt(2) nu L + sqrt(2 nu^2 L^2 - 4 a_plus (a_minus + a_plus + 2 nu))) / (2 a_plus))^2
#   T_max(tau):
#     variant "printed" (the paper as printed, Appendix D line 512):
#       ((-sqrt(2) nu L + sqrt(2 nu^2 L^2 - 4 b_plus (b_minus - nu))) / (2 b_plus))^2
#     variant "azuma" (the root T of (b_minus - nu) + T b_plus - sqrt(2 T) nu L = 0,
#       which is what Theorem 8's event E'_T, with its "+ sqrt" term, needs):
#       ((+sqrt(2) nu L + sqrt(2 nu^2 L^2 - 4 b_plus (b_minus - nu))) / (2 b_plus))^2
#   tau*  = the smallest tau >= 1 with T_min(tau) + T_max(tau) <= tau / 2
#   and, at tau*: T_min, T_max, c0 = T_min^2 / (2 T_max) * eta * a_plus, L.
#
# Conventions:
#   * T (either) is undefined (nan) where the square-root argument is negative,
#     or where the quantity that is squared, i.e. the root Delta = sqrt(T) of
#     the quadratic in Delta, is negative: Lemma 5's interval [0, Delta] is then
#     empty (the printed square would give a spurious positive value).
#   * If f(1) <= 0, with f(tau) = T_min + T_max - tau/2, then tau* = 1.
#   * If no tau* exists (T undefined at tau = 1, or no crossing found up to
#     tau = 2^400), the tau_star column holds "none" and the columns
#     T_min, T_max, c0, L hold "nan".
#
# Root finding.  In the "printed" variant T_min and T_max both decrease in tau,
# so f is strictly decreasing and has one root.  In the "azuma" variant T_max
# INCREASES with tau (slowly, like log tau), so f need not be monotone; the
# script therefore finds the leftmost crossing by branch and bound: on an
# interval [u, v], because T_min is decreasing and T_max is monotone,
#     f(tau) >= T_min(v) + min(T_max(u), T_max(v)) - v/2,
# and intervals on which this lower bound is > 0 are certified free of
# crossings.  The remaining interval is shrunk to relative width 1e-55, a
# sign change f(a) > 0 >= f(b) is checked, and tau* is obtained from it by
# plain bisection to full working precision.  Every tau* is then cross-checked
# against mpmath.findroot (solver 'anderson' on a sign-change bracket) and,
# for the printed variant, against a plain bisection on the doubling bracket
# [hi/2, hi]; the script aborts if they disagree by more than 1e-45 relative,
# or if T_min, T_max at tau* do not solve their defining equations
#   (a_minus + a_plus + 2 nu) + T a_plus + sqrt(2 T) nu L = 0          (Lemma 5)
#   (b_minus - nu) + T b_plus -/+ sqrt(2 T) nu L = 0   (printed / azuma)
#
# Output columns (one line per case, whitespace separated):
#   name variant eta a_plus a_minus b_plus b_minus nu p_min p_max tau_star T_min T_max c0 L
# Input parameters are printed exactly as given; computed numbers with 25
# significant digits (mpmath.nstr(x, 25)).

import sys

import mpmath
from mpmath import mp, mpf

mp.dps = 60

DIGITS = 25

# name, eta, a_plus, a_minus, b_plus, b_minus, nu (strings, printed verbatim)
CASES = [
    ("orientation",    "0.01",   "1",   "-20",  "1",    "-20",  "0.5"),
    ("c50",            "0.001",  "1",   "-50",  "1",    "-50",  "1"),
    ("gradients-vary", "0.005",  "2",   "-30",  "0.5",  "-45",  "0.8"),
    ("small-noise",    "0.01",   "1",   "-10",  "1",    "-10",  "0.05"),
    ("large-c",        "0.0001", "0.5", "-200", "0.25", "-300", "0.5"),
    ("zero-noise",     "0.01",   "1",   "-20",  "1",    "-20",  "0"),
    # f(1) <= 0, so tau* = 1.  This set does NOT satisfy the hypotheses of
    # Theorem 2 (b_plus > a_plus, c = 1.2 is not large); it only exercises the
    # tau* = 1 branch of the formulas.
    ("tau-one",        "0.01",   "1",   "-1.2", "10",   "-2",   "0.001"),
    # a_minus + a_plus + 2 nu > 0 with nu = 0: square-root argument of T_min is
    # negative for every tau, so there is no tau* ("none").
    ("no-root",        "0.01",   "1",   "-0.5", "1",    "-20",  "0"),
]

VARIANTS = ("printed", "azuma")

NAN = mpf("nan")


def Lfun(tau):
    return mpmath.sqrt(mpmath.log(2 * tau))


def quad_T(sign, slope, const, nu, L):
    """((sign*sqrt(2) nu L + sqrt(2 nu^2 L^2 - 4 slope const)) / (2 slope))^2,
    or nan if the square-root argument or the squared quantity is negative."""
    arg = 2 * nu**2 * L**2 - 4 * slope * const
    if arg < 0:
        return NAN
    delta = (sign * mpmath.sqrt(2) * nu * L + mpmath.sqrt(arg)) / (2 * slope)
    if delta < 0:
        return NAN
    return delta**2


class Case:
    def __init__(self, name, variant, eta, a_plus, a_minus, b_plus, b_minus, nu):
        self.name = name
        self.variant = variant
        self.raw = (eta, a_plus, a_minus, b_plus, b_minus, nu)
        self.eta = mpf(eta)
        self.a_plus = mpf(a_plus)
        self.a_minus = mpf(a_minus)
        self.b_plus = mpf(b_plus)
        self.b_minus = mpf(b_minus)
        self.nu = mpf(nu)
        self.sign_max = -1 if variant == "printed" else +1

    def p_min(self):
        return -self.eta * (self.a_minus + self.a_plus + 2 * self.nu)

    def p_max(self):
        return -self.eta * (self.b_minus - self.nu)

    def T_min(self, tau):
        return quad_T(-1, self.a_plus, self.a_minus + self.a_plus + 2 * self.nu,
                      self.nu, Lfun(tau))

    def T_max(self, tau):
        return quad_T(self.sign_max, self.b_plus, self.b_minus - self.nu,
                      self.nu, Lfun(tau))

    def f(self, tau):
        return self.T_min(tau) + self.T_max(tau) - tau / 2

    def f_lower(self, u, v):
        """Lower bound of f on [u, v] (T_min decreasing, T_max monotone)."""
        tmax = min(self.T_max(u), self.T_max(v))
        return self.T_min(v) + tmax - v / 2


def isnan(x):
    return mpmath.isnan(x)


def doubling_bracket(case, max_doublings=400):
    """Return hi = 2^k, the first power of two with f(hi) <= 0, or None."""
    hi = mpf(1)
    for _ in range(max_doublings):
        hi *= 2
        fv = case.f(hi)
        if isnan(fv):
            continue
        if fv <= 0:
            return hi
    return None


def leftmost_crossing(case, u, v, rtol):
    """f(u) > 0 assumed.  Return a small interval [a, b] inside [u, v] such
    that f > 0 is certified on [u, a] and no certificate exists on [a, b];
    or None if f > 0 is certified on all of [u, v]."""
    lb = case.f_lower(u, v)
    if not isnan(lb) and lb > 0:
        return None
    if v - u <= rtol * v:
        return (u, v)
    m = (u + v) / 2
    r = leftmost_crossing(case, u, m, rtol)
    if r is not None:
        return r
    return leftmost_crossing(case, m, v, rtol)


def tau_star(case):
    one = mpf(1)
    f1 = case.f(one)
    if isnan(f1):
        return None
    if f1 <= 0:
        return one
    hi = doubling_bracket(case)
    if hi is None:
        return None
    rtol = mpf(10) ** (-55)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 100000))
    try:
        br = leftmost_crossing(case, one, hi, rtol)
    finally:
        sys.setrecursionlimit(old)
    if br is None:
        raise RuntimeError("%s/%s: f(hi) <= 0 but f > 0 certified on [1, hi]"
                           % (case.name, case.variant))
    a, b = br
    fa, fb = case.f(a), case.f(b)
    if not (fa > 0 and fb <= 0):
        raise RuntimeError("%s/%s: no sign change at leftmost candidate "
                           "(tangency?) f(a)=%s f(b)=%s"
                           % (case.name, case.variant, fa, fb))
    # finish with plain bisection to full working precision inside [a, b]
    return bisect_plain(case.f, a, b)


def bisect_plain(g, lo, hi):
    """Plain bisection to full working precision; g(lo) > 0 >= g(hi)."""
    for _ in range(mp.prec + 20):
        m = (lo + hi) / 2
        if m == lo or m == hi:
            break
        if g(m) > 0:
            lo = m
        else:
            hi = m
    return hi


def cross_check(case, ts):
    """Independent recomputation of tau*; raise if it disagrees."""
    tol = mpf(10) ** (-45)
    notes = []
    if ts == 1:
        notes.append("f(1)=%s<=0" % mpmath.nstr(case.f(mpf(1)), 8))
        return notes
    # findroot with a bracketing solver on a sign-change bracket around ts
    w = ts * mpf(10) ** (-6)
    lo, hi = ts - w, ts + w
    if not (case.f(lo) > 0 and case.f(hi) < 0):
        raise RuntimeError("%s/%s: bracket around tau* has no sign change"
                           % (case.name, case.variant))
    r1 = mpmath.findroot(case.f, (lo, hi), solver="anderson")
    d1 = abs(r1 - ts) / ts
    if d1 > tol:
        raise RuntimeError("%s/%s: findroot %s vs %s" % (case.name, case.variant, r1, ts))
    notes.append("anderson rel.diff %s" % mpmath.nstr(d1, 3))
    # residuals of the defining quadratics at tau* (Lemma 5 / Lemma 7 / E'_T)
    L = Lfun(ts)
    tmin, tmax = case.T_min(ts), case.T_max(ts)
    rmin = (case.a_minus + case.a_plus + 2 * case.nu) + tmin * case.a_plus \
        + mpmath.sqrt(2 * tmin) * case.nu * L
    rmax = (case.b_minus - case.nu) + tmax * case.b_plus \
        - case.sign_max * mpmath.sqrt(2 * tmax) * case.nu * L
    if max(abs(rmin), abs(rmax)) > tol:
        raise RuntimeError("%s/%s: quadratic residuals %s %s"
                           % (case.name, case.variant, rmin, rmax))
    notes.append("quadratic residuals %s, %s" % (mpmath.nstr(rmin, 3), mpmath.nstr(rmax, 3)))
    if case.variant == "printed":
        # f is monotone here: plain bisection on the doubling bracket
        hi2 = doubling_bracket(case)
        lo2 = hi2 / 2 if hi2 > 2 else mpf(1)
        r2 = bisect_plain(case.f, lo2, hi2)
        d2 = abs(r2 - ts) / ts
        if d2 > tol:
            raise RuntimeError("%s/%s: bisection %s vs %s" % (case.name, case.variant, r2, ts))
        notes.append("plain bisection on [%s, %s] rel.diff %s"
                     % (mpmath.nstr(lo2, 6), mpmath.nstr(hi2, 6), mpmath.nstr(d2, 3)))
    return notes


def fmt(x):
    if x is None:
        return "none"
    if isnan(x):
        return "nan"
    return mpmath.nstr(x, DIGITS)


def main():
    out = sys.stdout
    out.write("# Generated by tests/reference/thm2_constants.py (python3 + mpmath %s, mp.dps = %d), with:\n"
              % (mpmath.__version__, mp.dps))
    out.write("#   /usr/bin/python3 tests/reference/thm2_constants.py > tests/reference/thm2_constants.txt\n")
    out.write("# Independent of the C code.  Constants of Theorem 2, He, Huang, Yuan (2019) \"Asymmetric Valleys\",\n")
    out.write("# Appendix D; L = sqrt(log(2 tau)); see the script header for formulas and conventions.\n")
    out.write("# variant printed: T_max with -sqrt(2) nu L (as printed); azuma: with +sqrt(2) nu L (Theorem 8's E'_T).\n")
    out.write("# tau_star: smallest tau >= 1 with T_min + T_max <= tau/2 (\"none\" if it does not exist).\n")
    out.write("# T_min, T_max, c0 = T_min^2/(2 T_max) eta a_plus, L are evaluated at tau_star; nan = undefined.\n")
    out.write("# Computed values have %d significant digits.\n" % DIGITS)
    out.write("# name variant eta a_plus a_minus b_plus b_minus nu p_min p_max tau_star T_min T_max c0 L\n")
    for (name, eta, ap, am, bp, bm, nu) in CASES:
        for variant in VARIANTS:
            c = Case(name, variant, eta, ap, am, bp, bm, nu)
            ts = tau_star(c)
            if ts is None:
                tmin = tmax = c0 = L = NAN
                notes = ["no tau*"]
            else:
                tmin, tmax, L = c.T_min(ts), c.T_max(ts), Lfun(ts)
                c0 = tmin**2 / (2 * tmax) * c.eta * c.a_plus
                notes = cross_check(c, ts)
            cols = [name, variant, eta, ap, am, bp, bm, nu,
                    fmt(c.p_min()), fmt(c.p_max()), fmt(ts),
                    fmt(tmin), fmt(tmax), fmt(c0), fmt(L)]
            out.write(" ".join(cols) + "\n")
            sys.stderr.write("%-15s %-8s tau*=%s  check: %s\n"
                             % (name, variant, fmt(ts) if ts is not None else "none",
                                "; ".join(notes)))


if __name__ == "__main__":
    main()
