#!/usr/bin/python3
# -*- coding: utf-8 -*-
#
# basins_ref.py -- independent high-precision reference for the 1-D basin /
# steady-state computations (basin weights, Laplace weights, E_train, E_test,
# E_test_eq8, optimal temperature).
#
# HOW IT WAS RUN (from the repository root):
#     /usr/bin/python3 tests/reference/basins_ref.py > tests/reference/basins_ref.txt
# (Debian python3 3.11, mpmath 1.2.1 with the pure-Python backend, no numpy.)
# Run time: about 3.5 minutes wall clock (2.7 min CPU) on one
# core of a 2-core machine.  Progress goes to stderr.
#
# Self-check (run separately: `/usr/bin/python3 tests/reference/basins_ref.py
# --check`, about 10 minutes).  It recomputes fig4-left (T = 1e-4, 0.1, 1 and the
# optimal T), fig6-three (1e-4, 0.01), fig4-left-grad1 (0.01, 0.5),
# fig4-left-exp1 (0.01, 0.5), fig6-three-loss5 (0.1), fig4-right (0.3),
# fig6-one (1e-4) and fig4-left-loss1 (0.5) with dps 45, 48-point GL, initial
# grid 0.013, tolerances 1e-38/1e-35, Chebyshev degree 64 and a 37000-interval
# scan, and compares with the production settings.  Observed max relative
# differences: weights 2.1e-27, Laplace weights 4.3e-27, E_train / E_test
# 1.2e-27, E_test_eq8 9e-30, critical points 3e-30, optimal_T 1.2e-27,
# E_test(T*) 6e-31 (log weights: 9e-30, absolute where |log W| < 1).  An
# independent integrator (mpmath.quad, tanh-sinh, with breakpoints) agrees on
# W_0 and E_test to <= 1.4e-27 for 5 (preset, T) cases, and the Chebyshev
# antiderivative A agrees with mpmath.quad at 7 points to <= 1.7e-30.  So all
# printed values should be good to ~25 significant digits (20 are printed).
#
# Findings worth knowing (also in the output header as NOTE lines):
#  * grad noise (w = 1): v' = U'(1 + T w U'')/D, so v has extra critical points
#    where U'' = -1/(T w): 4 minima / 3 maxima at T = 0.01 and 0.1, 5 / 4 at
#    T = 0.5 (the U maximum at -0.6237 becomes a v minimum for T >= 0.1); all
#    of them are treated as ordinary basins.
#  * exp noise (w = 1): v' = U' e^{-w th} + T w/2 > 0 in the flat left tail, so
#    v has an extra maximum left of the first minimum (-1.61, -1.51, -1.47 for
#    T = 0.01, 0.1, 0.5); it bounds no basin (basin 0 starts at -3), and
#    th = -3 is then a boundary minimum of v (not a critical point).
#  * fig4-left: E_test(T) is not unimodal on [1e-3, 1]; it rises slowly from
#    2.9595 at T = 1e-3 to a local maximum 2.9616 at T ~ 0.01095, then falls to
#    the minimum 2.68842628812945 at T* = 0.177575703929477.
#  * Weights that underflow a double (down to ~1e-438) are printed as they
#    are; the matching log_weight of the dominant basin is then a tiny
#    negative number such as -1.96e-421 (computed as -log1p(sum of others)).
#
# Written from the task statement only (no C code or docs were read).
#
# ---------------------------------------------------------------------------
# Mathematics (see also the output header)
#   g(th) = c + sum_k w_k N(th; m_k, s_k^2),  U = -L log g.
#   D(th): "flat" (wscale = 0): 1;  "loss": 1 + w (U - Umin);
#          "grad": 1 + w U'^2;       "exp": exp(w th).
#   v(th,T) = int_{-3}^{th} (U' + T/2 D')/D dx, computed (up to an additive
#   constant, which cancels everywhere) as
#          flat: U
#          loss: (1/w + T/2) log D            (closed form)
#          grad: A(th) + T/2 log D,  A = int_{-3}^{th} U'/(1 + w U'^2) dx
#          exp : A(th) + T/2 w th,   A = int_{-3}^{th} U' exp(-w x) dx
#   For grad/exp, A is T independent and is tabulated once per preset as a
#   piecewise Chebyshev antiderivative (adaptive panels, degree 48, built at
#   dps+10 digits, panels split until the last 3 Chebyshev coefficients of the
#   integrand are < 1e-(dps+4) relative).
#   rho = exp(-2 v/T)/Z on [-3, 3].
#   Critical points of v: all sign changes of v' on a 30000-interval grid of
#   [-3, 3] (plus a check at every grid-local extremum of v' that v' really
#   does not cross zero there), each refined by a bracketing root finder on the
#   exact v'.  A sign change with |v'| < 1e-30 on both grid points would be
#   ignored (tail noise); the script counts such cases -- in these presets
#   there are none (the count is printed in the output header).
#   Basins: with minima mu_0 < mu_1 < ..., basin k = [b_k, b_{k+1}], where
#   b_0 = -3, b_n = 3 and b_k (0<k<n) is the (unique) maximum of v between
#   mu_{k-1} and mu_k.  Maxima of v that lie outside [mu_0, mu_{n-1}] (they
#   occur for the "exp" noise, left of the first minimum) are listed as
#   "maximum" lines but do not bound a basin: the first basin still starts at
#   -3 (and the last ends at 3), so the weights sum to 1.
#   Laplace: W^L_k ~ exp(-2 v(mu_k)/T) |v''(mu_k)|^(-1/2), normalised.
#   E_train = <U>, E_test = <U(th + s)>, E_test_eq8 = sum_k P_k (U_k + s^2 C_k/2),
#   P_k ~ exp(-2 U_k/T) C_k^(-1/2) over the local minima of U.
#   Optimal T (fig4-left): d E_test/dT = (2/T^2) Cov_rho(U, U(.+s)) when
#   wscale = 0, so T* is the root (sign - to +) of that covariance in
#   log T on [1e-3, 1]; found with an Illinois (safeguarded regula falsi)
#   iteration on y = log T to |dy| < 1e-20 and checked by E_test(T*(1 +- 1e-4))
#   > E_test(T*).  This is the same point a bracketing minimiser of E_test(T)
#   converges to.
#
# Quadrature: every integral is a composite adaptive 24-point Gauss-Legendre
# rule on each basin, with initial breakpoints at the basin ends, at every
# critical point of v, at mu_k +- j*sigma_k (sigma_k = sqrt(T/(2 v''(mu_k))),
# j = 0.5,1,2,3,4,6,8,12,16,24,32,48,64) and on a grid of spacing <= 0.02;
# a panel is accepted when the 24-point value and the sum of the two
# 24-point half-panel values agree to 1e-28*(width) + 1e-25*|value| for each
# of the integrands exp(-2(v - vref_k)/T) * {1, U, U(.+s), U U(.+s)}
# (vref_k = min of v over basin k), and the half-panel sum is kept.
# ---------------------------------------------------------------------------

import sys
import time
import bisect

import mpmath
from mpmath import mp, mpf, exp, log, log1p, sqrt, pi, nstr, cos, fabs
from mpmath.calculus.quadrature import GaussLegendre

CFG = {
    'dps': 30,
    'gl_degree': 4,          # 3*2^(4-1) = 24 points
    'grid_h': '0.02',
    'tol_abs': '1e-28',
    'tol_rel': '1e-25',
    'cheb_N': 48,
    'cheb_hmax': '0.05',
    'scan_M': 30000,
    'tiny': '1e-30',
}

LO, HI = -3, 3


def log_progress(*a):
    print(*a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# landscape

class Landscape:
    def __init__(self, means, weights, sigmas, c='0.001', L='1'):
        self.spec = (tuple(means), tuple(weights), tuple(sigmas), c, L)
        self.c = mpf(c)
        self.L = mpf(L)
        self.terms = []
        for m, w, s in zip(means, weights, sigmas):
            m, w, s = mpf(m), mpf(w), mpf(s)
            self.terms.append((m, w / (s * sqrt(2 * pi)), 1 / s))

    def g(self, x):
        t = self.c
        for m, a, i in self.terms:
            z = (x - m) * i
            t += a * exp(-z * z / 2)
        return t

    def U(self, x):
        return -self.L * log(self.g(x))

    def U01(self, x):
        g = self.c
        g1 = 0
        for m, a, i in self.terms:
            z = (x - m) * i
            n = a * exp(-z * z / 2)
            g += n
            g1 -= n * z * i
        return -self.L * log(g), -self.L * g1 / g

    def ders(self, x):
        """U, U', U'', U''' at x."""
        g = self.c
        g1 = g2 = g3 = 0
        for m, a, i in self.terms:
            z = (x - m) * i
            n = a * exp(-z * z / 2)
            g += n
            g1 -= n * z * i
            z2 = z * z
            g2 += n * (z2 - 1) * i * i
            g3 += n * z * (3 - z2) * i * i * i
        r1 = g1 / g
        r2 = g2 / g
        r3 = g3 / g
        L = self.L
        return (-L * log(g), -L * r1, -L * (r2 - r1 * r1),
                -L * (r3 - 3 * r1 * r2 + 2 * r1 * r1 * r1))


# ---------------------------------------------------------------------------
# Chebyshev antiderivative (for the grad / exp models)

class ChebAntideriv:
    def __init__(self, f, a, b, N, hmax, reltol):
        self.N = N
        self.f = f
        self.t = [cos(pi * j / N) for j in range(N + 1)]
        self.C = [[cos(pi * ((j * k) % (2 * N)) / N) for k in range(N + 1)]
                  for j in range(N + 1)]
        self.reltol = reltol
        self.starts = []
        self.panels = []   # (a, b, A(a), coeffs)
        a = mpf(a)
        b = mpf(b)
        n0 = int(mpmath.ceil((b - a) / hmax))
        todo = [a + (b - a) * k / n0 for k in range(n0 + 1)]
        queue = [(todo[k], todo[k + 1]) for k in range(n0)][::-1]
        A = mpf(0)
        self.maxdepth_hit = 0
        while queue:
            pa, pb = queue.pop()
            ok, coeffs = self._panel(pa, pb)
            if not ok and pb - pa > mpf('1e-12'):
                m = (pa + pb) / 2
                queue.append((m, pb))
                queue.append((pa, m))
                continue
            if not ok:
                self.maxdepth_hit += 1
            self.starts.append(pa)
            self.panels.append((pa, pb, A, coeffs))
            A = A + sum(coeffs)   # value at t = +1
        self.end = b
        self.total = A

    def _panel(self, a, b):
        N = self.N
        half = (b - a) / 2
        mid = (a + b) / 2
        fv = [self.f(mid + half * tj) for tj in self.t]
        scale = max(1, max(fabs(x) for x in fv))
        ak = []
        for k in range(N + 1):
            s = (fv[0] * self.C[0][k] + fv[N] * self.C[N][k]) / 2
            for j in range(1, N):
                s += fv[j] * self.C[j][k]
            s = s * 2 / N
            if k == 0 or k == N:
                s /= 2
            ak.append(s)
        tail = max(fabs(ak[N]), fabs(ak[N - 1]), fabs(ak[N - 2]))
        ok = tail < self.reltol * scale
        # antiderivative coefficients (in t), times half for x scaling
        Cc = [mpf(0)] * (N + 2)
        ak2 = ak + [mpf(0), mpf(0)]
        Cc[1] = ak2[0] - ak2[2] / 2
        for k in range(2, N + 2):
            Cc[k] = (ak2[k - 1] - ak2[k + 1]) / (2 * k)
        Cc = [x * half for x in Cc]
        # value 0 at t = -1
        Cc[0] = -sum(Cc[k] * (-1 if k % 2 else 1) for k in range(1, N + 2))
        return ok, Cc

    def __call__(self, x):
        i = bisect.bisect_right(self.starts, x) - 1
        if i < 0:
            i = 0
        a, b, A, Cc = self.panels[i]
        t = (2 * x - a - b) / (b - a)
        # Clenshaw
        b1 = b2 = mpf(0)
        t2 = 2 * t
        for k in range(len(Cc) - 1, 0, -1):
            b1, b2 = Cc[k] + t2 * b1 - b2, b1
        return A + Cc[0] + t * b1 - b2


# ---------------------------------------------------------------------------
# presets

FIG4L = dict(means=('-1', '1'), weights=('0.021', '0.1'), sigmas=('0.1', '0.5'))
FIG4R = dict(means=('-1', '1'), weights=('0.019', '0.1'), sigmas=('0.1', '0.5'))
FIG6_1 = dict(means=('0',), weights=('0.1',), sigmas=('0.1',))
FIG6_3 = dict(means=('-1', '0', '1'), weights=('0.1', '0.051', '0.3'),
              sigmas=('0.1', '0.05', '0.3'))

T_FLAT = ('0.0001', '0.01', '0.1', '0.3', '1')
T_NOISE = ('0.01', '0.1', '0.5')

PRESETS = [
    # name, landscape, shift, noise, wscale, temperatures
    ('fig4-left', FIG4L, '0.1', 'flat', '0', T_FLAT),
    ('fig4-right', FIG4R, '0.1', 'flat', '0', T_FLAT),
    ('fig6-one', FIG6_1, '0.03', 'flat', '0', T_FLAT),
    ('fig6-three', FIG6_3, '0.1', 'flat', '0', T_FLAT),
    ('fig4-left-loss1', FIG4L, '0.1', 'loss', '1', T_NOISE),
    ('fig4-left-grad1', FIG4L, '0.1', 'grad', '1', T_NOISE),
    ('fig4-left-exp1', FIG4L, '0.1', 'exp', '1', T_NOISE),
    ('fig6-three-loss5', FIG6_3, '0.1', 'loss', '5', T_NOISE),
]


class Scan:
    """U, U', U'', U''' on a uniform grid of [-3, 3]."""
    def __init__(self, land, M):
        self.M = M
        self.x = [mpf(LO) + mpf(HI - LO) * i / M for i in range(M + 1)]
        self.d = [land.ders(x) for x in self.x]


def bracket_root(f, a, b, fa=None, fb=None, xtol=None):
    """Root of f in [a, b] (sign change); Illinois iteration + bisection guard."""
    if fa is None:
        fa = f(a)
    if fb is None:
        fb = f(b)
    if fa == 0:
        return a
    if fb == 0:
        return b
    assert (fa > 0) != (fb > 0)
    side = 0
    eps = mpf(2) ** (-mp.prec + 4) if xtol is None else xtol
    for it in range(400):
        if it % 4 == 3:          # guaranteed progress
            c = (a + b) / 2
        else:
            c = (a * fb - b * fa) / (fb - fa)
            if not (min(a, b) < c < max(a, b)):
                c = (a + b) / 2
        fc = f(c)
        if fc == 0:
            return c
        if (fc > 0) == (fb > 0):
            b, fb = c, fc
            if side == -1:
                fa /= 2
            side = -1
        else:
            a, fa = c, fc
            if side == 1:
                fb /= 2
            side = 1
        if fabs(b - a) <= eps * max(1, fabs(c)):
            break
    return (a + b) / 2


class Model:
    def __init__(self, name, spec, shift, noise, wscale, temps, scans, lands):
        self.name = name
        key = (spec['means'], spec['weights'], spec['sigmas'])
        if key not in lands:
            lands[key] = Landscape(spec['means'], spec['weights'], spec['sigmas'])
        self.land = lands[key]
        if key not in scans:
            t0 = time.time()
            scans[key] = Scan(self.land, CFG['scan_M'])
            log_progress('  scan of %s: %.1fs' % (name, time.time() - t0))
        self.scan = scans[key]
        self.shift = mpf(shift)
        self.w = mpf(wscale)
        self.noise = noise if self.w != 0 else 'flat'
        self.temps = temps
        self.ignored_tiny = 0
        # critical points of U
        self.U_crit = self.crit_points(lambda x, d: d[1], lambda x: self.land.ders(x)[1],
                                       lambda x: self.land.ders(x)[2])
        self.U_minima = [x for x, kind in self.U_crit if kind == 'min']
        self.Umin = min(self.land.U(x) for x in self.U_minima)
        self.A = None
        if self.noise in ('grad', 'exp'):
            t0 = time.time()
            with mp.workdps(mp.dps + 10):
                w = self.w
                land = self.land
                if self.noise == 'grad':
                    f = lambda x: (lambda u1: u1 / (1 + w * u1 * u1))(land.U01(x)[1])
                else:
                    f = lambda x: land.U01(x)[1] * exp(-w * x)
                self.A = ChebAntideriv(f, LO, HI, CFG['cheb_N'], mpf(CFG['cheb_hmax']),
                                       mpf(10) ** (-(CFG['dps'] + 4)))
            log_progress('  Chebyshev antiderivative for %s: %d panels, %.1fs (unresolved: %d)'
                         % (name, len(self.A.panels), time.time() - t0, self.A.maxdepth_hit))

    # --- noise model ---
    def Dders(self, x, d):
        U, U1, U2, U3 = d
        w = self.w
        if self.noise == 'flat':
            return mpf(1), mpf(0), mpf(0)
        if self.noise == 'loss':
            return 1 + w * (U - self.Umin), w * U1, w * U2
        if self.noise == 'grad':
            return 1 + w * U1 * U1, 2 * w * U1 * U2, 2 * w * (U2 * U2 + U1 * U3)
        if self.noise == 'exp':
            e = exp(w * x)
            return e, w * e, w * w * e
        raise ValueError(self.noise)

    def vp_d(self, x, d, T):
        D, D1, D2 = self.Dders(x, d)
        return (d[1] + T / 2 * D1) / D

    def vpp_d(self, x, d, T):
        D, D1, D2 = self.Dders(x, d)
        return (d[2] + T / 2 * D2) / D - (d[1] + T / 2 * D1) * D1 / (D * D)

    def vp(self, x, T):
        return self.vp_d(x, self.land.ders(x), T)

    def vpp(self, x, T):
        return self.vpp_d(x, self.land.ders(x), T)

    def v(self, x, T):
        """v(x, T) up to a T-dependent additive constant."""
        if self.noise == 'flat':
            return self.land.U(x)
        if self.noise == 'loss':
            D = 1 + self.w * (self.land.U(x) - self.Umin)
            return (1 / self.w + T / 2) * log(D)
        if self.noise == 'grad':
            U, U1 = self.land.U01(x)
            return self.A(x) + T / 2 * log(1 + self.w * U1 * U1)
        if self.noise == 'exp':
            return self.A(x) + T / 2 * self.w * x
        raise ValueError

    # --- critical points from the scan ---
    def crit_points(self, fgrid, fexact, fpexact):
        xs = self.scan.x
        vals = [fgrid(x, d) for x, d in zip(xs, self.scan.d)]
        tiny = mpf(CFG['tiny'])
        roots = []
        M = len(xs) - 1
        for i in range(M):
            a, b = vals[i], vals[i + 1]
            if a == 0 and 0 < i:     # exact zero on a grid point
                l, r = vals[i - 1], vals[i + 1]
                if (l > 0) != (r > 0) and l != 0 and r != 0:
                    roots.append((xs[i], 'up' if l < 0 else 'down'))
                continue
            if (a > 0 and b < 0) or (a < 0 and b > 0):
                if fabs(a) < tiny and fabs(b) < tiny:
                    self.ignored_tiny += 1
                    continue
                r = bracket_root(fexact, xs[i], xs[i + 1])
                roots.append((r, 'up' if a < 0 else 'down'))
        # grid-local extrema of the scanned function that do not cross zero
        for i in range(1, M):
            a, b, c = vals[i - 1], vals[i], vals[i + 1]
            if not ((b > a and b > c) or (b < a and b < c)):
                continue
            if (a > 0) != (b > 0) or (b > 0) != (c > 0):
                continue
            if fabs(b) < tiny:
                continue
            pa, pc = fpexact(xs[i - 1]), fpexact(xs[i + 1])
            if (pa > 0) == (pc > 0):
                continue
            xe = bracket_root(fpexact, xs[i - 1], xs[i + 1], pa, pc)
            fe = fexact(xe)
            if (fe > 0) != (b > 0) and fe != 0:
                log_progress('  !! missed pair of roots near %s in %s' % (nstr(xe, 8), self.name))
                r1 = bracket_root(fexact, xs[i - 1], xe)
                r2 = bracket_root(fexact, xe, xs[i + 1])
                roots.append((r1, 'up' if fexact(xs[i - 1]) < 0 else 'down'))
                roots.append((r2, 'up' if fe < 0 else 'down'))
        roots.sort(key=lambda r: r[0])
        out = []
        for r, kind in roots:
            out.append((r, {'up': 'min', 'down': 'max', None: '?'}[kind]))
        return out

    def v_crit(self, T):
        T = mpf(T)
        if self.noise in ('flat', 'loss'):
            crit = list(self.U_crit)
        else:
            crit = self.crit_points(lambda x, d: self.vp_d(x, d, T),
                                    lambda x: self.vp(x, T),
                                    lambda x: self.vpp(x, T))
        # classify by v''
        out = []
        for x, kind in crit:
            s = self.vpp(x, T)
            k2 = 'min' if s > 0 else 'max'
            if kind != '?' and kind != k2:
                log_progress('  !! classification mismatch at %s' % nstr(x, 10))
            out.append((x, k2))
        for (x1, k1), (x2, k2) in zip(out, out[1:]):
            if k1 == k2:
                log_progress('  !! non-alternating critical points %s %s' % (nstr(x1, 8), nstr(x2, 8)))
        return out


# ---------------------------------------------------------------------------
# quadrature

_GL = {}


def gl_nodes():
    key = (mp.prec, CFG['gl_degree'])
    if key not in _GL:
        _GL[key] = GaussLegendre(mp).calc_nodes(CFG['gl_degree'], mp.prec + 20)
    return _GL[key]


def gl(F, a, b, K):
    nodes = gl_nodes()
    h = (b - a) / 2
    m = (a + b) / 2
    acc = [mpf(0)] * K
    for x, w in nodes:
        vals = F(m + h * x)
        for i in range(K):
            acc[i] += w * vals[i]
    return [h * s for s in acc]


def adaptive(F, pts, K, stats):
    tol_abs = mpf(CFG['tol_abs'])
    tol_rel = mpf(CFG['tol_rel'])
    total = [mpf(0)] * K
    for a0, b0 in zip(pts, pts[1:]):
        stack = [(a0, b0, None, 0)]
        while stack:
            a, b, W, depth = stack.pop()
            if W is None:
                W = gl(F, a, b, K)
            m = (a + b) / 2
            Lv = gl(F, a, m, K)
            Rv = gl(F, m, b, K)
            S = [l + r for l, r in zip(Lv, Rv)]
            ok = all(fabs(W[i] - S[i]) <= tol_abs * (b - a) + tol_rel * fabs(S[i])
                     for i in range(K))
            if ok or depth >= 50:
                if not ok:
                    stats['unresolved'] += 1
                stats['panels'] += 1
                for i in range(K):
                    total[i] += S[i]
            else:
                stack.append((m, b, Rv, depth + 1))
                stack.append((a, m, Lv, depth + 1))
    return total


SIGMA_MULT = ['0.5', '1', '2', '3', '4', '6', '8', '12', '16', '24', '32', '48', '64']


def logsumexp(xs):
    m = max(xs)
    return m + log(sum(exp(x - m) for x in xs))


def log_normalise(xs):
    """log(exp(x_k) / sum_j exp(x_j)) = -log1p(sum_{j != k} exp(x_j - x_k)),
    accurate also when the result is tiny (e.g. -1e-421)."""
    return [-log1p(sum(exp(xj - xk) for j, xj in enumerate(xs) if j != k))
            for k, xk in enumerate(xs)]


def compute(model, Tstr, want_cov=False):
    T = mpf(Tstr)
    land = model.land
    s = model.shift
    crit = model.v_crit(T)
    minima = [x for x, k in crit if k == 'min']
    maxima = [x for x, k in crit if k == 'max']
    n = len(minima)
    bounds = [mpf(LO)]
    for k in range(1, n):
        between = [x for x in maxima if minima[k - 1] < x < minima[k]]
        assert len(between) == 1, (model.name, Tstr, between)
        bounds.append(between[0])
    bounds.append(mpf(HI))
    vpp_min = [model.vpp(x, T) for x in minima]
    v_min = [model.v(x, T) for x in minima]
    # Laplace
    logits = [-2 * vm / T - log(fabs(c2)) / 2 for vm, c2 in zip(v_min, vpp_min)]
    logWL = log_normalise(logits)
    # exact basin integrals
    h = mpf(CFG['grid_h'])
    stats = {'panels': 0, 'unresolved': 0}
    logI = []
    mom = []
    for k in range(n):
        a, b = bounds[k], bounds[k + 1]
        vref = min([v_min[k], model.v(a, T), model.v(b, T)])
        pts = {a, b}
        for x, _ in crit:
            if a < x < b:
                pts.add(x)
        sig = sqrt(T / (2 * vpp_min[k]))
        for j in SIGMA_MULT:
            for sgn in (-1, 1):
                y = minima[k] + sgn * mpf(j) * sig
                if a < y < b:
                    pts.add(y)
        pts = sorted(pts)
        fine = [pts[0]]
        for p, q in zip(pts, pts[1:]):
            nsub = int(mpmath.ceil((q - p) / h))
            for i in range(1, nsub):
                fine.append(p + (q - p) * i / nsub)
            fine.append(q)

        def F(x, vref=vref):
            f0 = exp(-2 * (model.v(x, T) - vref) / T)
            u = land.U(x)
            us = land.U(x + s)
            return (f0, f0 * u, f0 * us, f0 * u * us)

        I = adaptive(F, fine, 4, stats)
        logI.append(log(I[0]) - 2 * vref / T)
        mom.append((I, vref))
    logZ = logsumexp(logI)
    logW = log_normalise(logI)
    Etr = Ete = EUUs = mpf(0)
    for (I, vref), lw, li in zip(mom, logW, logI):
        fac = exp(-2 * vref / T - logZ)
        Etr += fac * I[1]
        Ete += fac * I[2]
        EUUs += fac * I[3]
    res = {
        'minima': minima, 'maxima': maxima,
        'logW': logW, 'logWL': logWL,
        'E_train': Etr, 'E_test': Ete, 'cov': EUUs - Etr * Ete,
        'stats': stats,
    }
    if model.noise == 'flat':
        Uk = [land.ders(x) for x in model.U_minima]
        lg = [-2 * d[0] / T - log(d[2]) / 2 for d in Uk]
        l0 = logsumexp(lg)
        res['E_test_eq8'] = sum(exp(l - l0) * (d[0] + s * s * d[2] / 2) for l, d in zip(lg, Uk))
    return res


def optimal_T(model):
    """Root of Cov(U, U(.+s)) in y = log T on [log 1e-3, 0]."""
    cache = {}

    def hfun(y):
        T = exp(y)
        r = compute(model, T)
        cache[y] = r
        return r['cov']

    ys = [log(mpf('1e-3')) * (1 - mpf(i) / 8) for i in range(9)]
    hs = [hfun(y) for y in ys]
    log_progress('  cov scan: ' + ' '.join(nstr(h, 3) for h in hs))
    Es = [cache[y]['E_test'] for y in ys]
    log_progress('  E_test scan: ' + ' '.join(nstr(e, 8) for e in Es))
    # E_test is not unimodal here: Cov goes + -> - (a local maximum of E_test)
    # before it goes - -> + (the minimum).  Take the unique - -> + change.
    changes = [i for i in range(8) if hs[i] < 0 and hs[i + 1] > 0]
    assert len(changes) == 1, 'not a unique interior minimum'
    i = changes[0]
    others = [i for i in range(8) if hs[i] > 0 and hs[i + 1] < 0]
    for j in others:
        yj = bracket_root(hfun, ys[j], ys[j + 1], hs[j], hs[j + 1], xtol=mpf('1e-7'))
        if yj not in cache:
            hfun(yj)
        log_progress('  local MAXIMUM of E_test(T) at T = %s, E_test = %s'
                     % (nstr(exp(yj), 12), nstr(cache[yj]['E_test'], 12)))
        NOTES_EXTRA.append('E_test(T) of fig4-left has a local maximum at T = %s '
                           '(E_test = %s) inside [1e-3, 1]; optimal_T is the minimum'
                           % (nstr(exp(yj), 8), nstr(cache[yj]['E_test'], 8)))
    a, b, fa, fb = ys[i], ys[i + 1], hs[i], hs[i + 1]
    side = 0
    prev = None
    for it in range(100):
        c = (a * fb - b * fa) / (fb - fa)
        fc = hfun(c)
        if (fc > 0) == (fb > 0):
            b, fb = c, fc
            if side == -1:
                fa /= 2
            side = -1
        else:
            a, fa = c, fc
            if side == 1:
                fb /= 2
            side = 1
        if prev is not None and fabs(c - prev) < mpf('1e-20'):
            break
        prev = c
    ystar = c
    Tstar = exp(ystar)
    E = cache[ystar]['E_test']
    Elo = compute(model, Tstar * (1 - mpf('1e-4')))['E_test']
    Ehi = compute(model, Tstar * (1 + mpf('1e-4')))['E_test']
    log_progress('  T* = %s, E_test = %s, E(T*(1-1e-4)) - E = %s, E(T*(1+1e-4)) - E = %s, iters %d'
                 % (nstr(Tstar, 20), nstr(E, 20), nstr(Elo - E, 5), nstr(Ehi - E, 5), it + 1))
    assert Elo > E and Ehi > E
    assert all(E < e for e in Es), 'interior minimum is not the global one'
    return Tstar, E


def fmt(x):
    return nstr(x, 20)


COUNTS = {'tiny': 0, 'unresolved': 0}
NOTES_EXTRA = []


def run_all(selection=None, do_opt=True):
    """Returns list of output lines (preset, T, quantity, index, value-mpf)."""
    scans, lands = {}, {}
    lines = []
    notes = []
    for name, spec, shift, noise, wscale, temps in PRESETS:
        if selection is not None and name not in selection:
            continue
        t0 = time.time()
        log_progress('preset %s' % name)
        model = Model(name, spec, shift, noise, wscale, temps, scans, lands)
        for Tstr in temps:
            if selection is not None and selection[name] is not None and Tstr not in selection[name]:
                continue
            t1 = time.time()
            r = compute(model, Tstr)
            log_progress('  T=%s: %d minima, %d maxima, %d panels (%d unresolved), %.1fs'
                         % (Tstr, len(r['minima']), len(r['maxima']), r['stats']['panels'],
                            r['stats']['unresolved'], time.time() - t1))
            COUNTS['unresolved'] += r['stats']['unresolved']
            if r['stats']['unresolved']:
                notes.append('%s T=%s: %d unresolved panels' % (name, Tstr, r['stats']['unresolved']))
            if len(r['minima']) != len(model.U_minima) or len(r['maxima']) != len(r['minima']) - 1:
                notes.append('%s T=%s: v has %d minima at %s and %d maxima at %s'
                             % (name, Tstr, len(r['minima']), [nstr(x, 6) for x in r['minima']],
                                len(r['maxima']), [nstr(x, 6) for x in r['maxima']]))
            for i, x in enumerate(r['minima']):
                lines.append((name, Tstr, 'minimum', str(i), x))
            for i, x in enumerate(r['maxima']):
                lines.append((name, Tstr, 'maximum', str(i), x))
            for i, lw in enumerate(r['logW']):
                lines.append((name, Tstr, 'weight', str(i), exp(lw)))
                lines.append((name, Tstr, 'log_weight', str(i), lw))
            for i, lw in enumerate(r['logWL']):
                lines.append((name, Tstr, 'weight_laplace', str(i), exp(lw)))
                lines.append((name, Tstr, 'log_weight_laplace', str(i), lw))
            lines.append((name, Tstr, 'E_train', '-', r['E_train']))
            lines.append((name, Tstr, 'E_test', '-', r['E_test']))
            if 'E_test_eq8' in r:
                lines.append((name, Tstr, 'E_test_eq8', '-', r['E_test_eq8']))
        COUNTS['tiny'] += model.ignored_tiny
        if model.ignored_tiny:
            notes.append('%s: %d sign changes of v\' with |v\'| < 1e-30 ignored'
                         % (name, model.ignored_tiny))
        if do_opt and name == 'fig4-left':
            Ts, E = optimal_T(model)
            lines.append((name, '-', 'optimal_T', '-', Ts))
            lines.append((name, '-', 'E_test_at_optimal_T', '-', E))
        log_progress('  preset %s done in %.1fs' % (name, time.time() - t0))
    return lines, notes


def check():
    """Recompute a subset with different dps / rules / tolerances and compare."""
    sel = {'fig4-left': ('0.0001', '0.1', '1'), 'fig6-three': ('0.0001', '0.01'),
           'fig4-left-grad1': ('0.01', '0.5'), 'fig4-left-exp1': ('0.01', '0.5'),
           'fig6-three-loss5': ('0.1',), 'fig4-right': ('0.3',), 'fig6-one': ('0.0001',),
           'fig4-left-loss1': ('0.5',)}
    t0 = time.time()
    mp.dps = CFG['dps']
    base, _ = run_all(sel, do_opt=True)
    saved = dict(CFG)
    CFG.update({'dps': 45, 'gl_degree': 5, 'grid_h': '0.013', 'tol_abs': '1e-38',
                'tol_rel': '1e-35', 'cheb_N': 64, 'cheb_hmax': '0.031', 'scan_M': 37000})
    mp.dps = CFG['dps']
    _GL.clear()
    alt, _ = run_all(sel, do_opt=True)
    CFG.clear()
    CFG.update(saved)
    mp.dps = CFG['dps']
    worst = {}
    assert len(base) == len(alt)
    for l1, l2 in zip(base, alt):
        assert l1[:4] == l2[:4]
        x, y = l1[4], l2[4]
        rel = fabs(x - y) / max(fabs(y), mpf(10) ** -300) if y != 0 else fabs(x)
        if l1[2].startswith('log_'):   # compare log weights absolutely when tiny
            rel = fabs(x - y) / max(fabs(y), 1) if fabs(y) < 1 else rel
        q = l1[2]
        if q not in worst or rel > worst[q][0]:
            worst[q] = (rel, l1)
    print('# check: dps 30 / GL24 / grid 0.02 / tol 1e-28,1e-25 / cheb 48 vs '
          'dps 45 / GL48 / grid 0.013 / tol 1e-38,1e-35 / cheb 64 / scan 37000')
    for q, (rel, l) in sorted(worst.items()):
        print('#   %-20s max rel diff %s  (%s T=%s idx %s)' % (q, nstr(rel, 3), l[0], l[1], l[3]))
    # independent integrator: mpmath.quad (tanh-sinh) with the same v, for a few weights
    scans, lands = {}, {}
    for name, Tstr in (('fig4-left', '0.0001'), ('fig4-left', '0.1'), ('fig4-left-exp1', '0.01'),
                       ('fig4-left-grad1', '0.5'), ('fig6-three', '0.01')):
        spec = [p for p in PRESETS if p[0] == name][0]
        model = Model(spec[0], spec[1], spec[2], spec[3], spec[4], spec[5], scans, lands)
        T = mpf(Tstr)
        r = compute(model, Tstr)
        mins = r['minima']
        crit = sorted(mins + r['maxima'])
        vmin = min(model.v(x, T) for x in mins)
        pts = [mpf(LO)]
        for x in crit:
            sig = sqrt(T / (2 * fabs(model.vpp(x, T))))
            for j in (-8, -4, -2, -1, 0, 1, 2, 4, 8):
                pts.append(x + j * sig)
        pts += [mpf(LO) + mpf(i) / 20 for i in range(1, 120)]
        pts = sorted(p for p in set(pts) if LO <= p <= HI) + [mpf(HI)]
        pts = sorted(set(pts))
        f = lambda x: exp(-2 * (model.v(x, T) - vmin) / T)
        Z = mp.quad(f, pts)
        Eq = mp.quad(lambda x: f(x) * model.land.U(x + model.shift), pts) / Z
        # weight of basin 0
        b1 = [x for x in r['maxima'] if mins[0] < x][0] if len(mins) > 1 else mpf(HI)
        W0 = mp.quad(f, [p for p in pts if p < b1] + [b1]) / Z
        print('#   mpmath.quad cross-check %s T=%s: W_0 rel diff %s, E_test rel diff %s'
              % (name, Tstr, nstr(fabs(W0 / exp(r['logW'][0]) - 1), 3),
                 nstr(fabs(Eq / r['E_test'] - 1), 3)))
    # Chebyshev antiderivative vs direct mpmath.quad
    for name in ('fig4-left-grad1', 'fig4-left-exp1'):
        spec = [p for p in PRESETS if p[0] == name][0]
        model = Model(spec[0], spec[1], spec[2], spec[3], spec[4], spec[5], scans, lands)
        w = model.w
        land = model.land
        if model.noise == 'grad':
            f = lambda x: (lambda u1: u1 / (1 + w * u1 * u1))(land.U01(x)[1])
        else:
            f = lambda x: land.U01(x)[1] * exp(-w * x)
        worstA = mpf(0)
        for xe in ('-1.2', '-1', '-0.3', '0.7', '1', '2.5', '3'):
            xe = mpf(xe)
            with mp.workdps(40):
                pts = [mpf(LO) + mpf(i) / 100 for i in range(0, 601) if mpf(LO) + mpf(i) / 100 < xe] + [xe]
                Aq = mp.quad(f, pts)
            worstA = max(worstA, fabs(Aq - model.A(xe)))
        print('#   %s: Chebyshev A(x) vs mpmath.quad at 7 points: max abs diff %s'
              % (name, nstr(worstA, 3)))
    print('# check run time %.0fs' % (time.time() - t0))


def main():
    if '--check' in sys.argv:
        check()
        return
    mp.dps = CFG['dps']
    t0 = time.time()
    lines, notes = run_all()
    el = time.time() - t0
    print('# basins_ref.txt -- generated by tests/reference/basins_ref.py')
    print('#   /usr/bin/python3 tests/reference/basins_ref.py > tests/reference/basins_ref.txt')
    print('# mpmath %s, dps %d, run time %.0f s' % (mpmath.__version__, mp.dps, el))
    print('# Landscape g = c + sum w_k N(m_k, s_k^2), U = -L log g on [-3, 3], c = 0.001, L = 1;')
    print('# v(th,T) = int_{-3}^{th} (U\' + T/2 D\')/D, rho = exp(-2v/T)/Z; basins split at the')
    print('# maxima of v between consecutive minima (first basin from -3, last to 3).')
    print('# weight = exact basin mass, weight_laplace = Laplace (eq. 6) weights, logs are natural;')
    print('# E_train = <U>, E_test = <U(th+s)>, E_test_eq8 for wscale = 0 presets only;')
    print('# optimal_T = argmin over [1e-3, 1] of E_test(T) (fig4-left).')
    print('# Indices are 0-based in increasing theta.  Maxima of v lying outside the range of')
    print('# the minima are listed but bound no basin.')
    print('# sign changes of v\' ignored because |v\'| < 1e-30 on both grid points: %d'
          % COUNTS['tiny'])
    print('# quadrature panels not resolved to tolerance: %d' % COUNTS['unresolved'])
    for n in notes + NOTES_EXTRA:
        print('# NOTE: ' + n)
    print('# columns: preset T quantity index value')
    for name, Tstr, q, idx, val in lines:
        print('%s %s %s %s %s' % (name, Tstr, q, idx, fmt(val)))
    log_progress('total %.1fs' % el)


if __name__ == '__main__':
    main()
