/* Finite-volume Fokker-Planck solvers (fv.h), the 2-D examples (fp2d.h) and the 2-D formula
 * comparison (curl2d.h), against closed forms written here, exact moments, and the scheme's own
 * algebra.  Every tolerance is derived in the comment beside it; docs/fokker_planck_fv.md has
 * the measured numbers. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "check.h"
#include "valley/curl2d.h"
#include "valley/fv.h"

#define EPS DBL_EPSILON

/* ---- 1-D test problems with closed-form steady states ------------------------------------ */

/* (a) D = 1, a tilted double well: rho ∝ exp(-2U/T). */
static void prob_a(double x, const void *params, valley_fp1d_eval_t *e) {
  (void)params;
  e->U = (x * x - 1) * (x * x - 1) + 0.3 * x;
  e->dU = 4 * x * (x * x - 1) + 0.3;
  e->d2U = 12 * x * x - 4;
  e->D = 1;
  e->dD = e->d2D = 0;
}
static double v_a(double x, double T) {
  (void)T;
  return (x * x - 1) * (x * x - 1) + 0.3 * x;
}

/* (b) Appendix B.1 example 1, D = U > 0: v = (1 + T/2) log U, rho ∝ U^-(1 + 2/T). */
static void prob_b(double x, const void *params, valley_fp1d_eval_t *e) {
  (void)params;
  e->U = 1 + x * x / 2 + x * x * x * x / 8 - 0.2 * x;
  e->dU = x + x * x * x / 2 - 0.2;
  e->d2U = 1 + 1.5 * x * x;
  e->D = e->U;
  e->dD = e->dU;
  e->d2D = e->d2U;
}
static double v_b(double x, double T) {
  return (1 + T / 2) * log(1 + x * x / 2 + x * x * x * x / 8 - 0.2 * x);
}

/* (c) D = 1/f'(U) with f(u) = u + u^2/2, U = (x^2 - 1)^2 / 4 >= 0: v = f(U) - (T/2) log f'(U). */
static void prob_c(double x, const void *params, valley_fp1d_eval_t *e) {
  (void)params;
  double w = x * x - 1;
  e->U = w * w / 4;
  e->dU = x * w;
  e->d2U = 3 * x * x - 1;
  e->D = 1 / (1 + e->U);
  e->dD = -e->dU * e->D * e->D;
  e->d2D = 2 * e->dU * e->dU * e->D * e->D * e->D - e->d2U * e->D * e->D;
}
static double v_c(double x, double T) {
  double w = x * x - 1, u = w * w / 4;
  return u + u * u / 2 - (T / 2) * log(1 + u);
}

/* (e) the steep end of the brief: U = 25 x^2 (|U'| <= 100 on [-2, 2]), D = 10 e^{c x} with
 * c = 1.5 log 10 (D from 1e-2 to 1e4): F = int U'/D = -5 e^{-cx} (x/c + 1/c^2). */
#define C_E (1.5 * 2.302585092994045684)
static void prob_e(double x, const void *params, valley_fp1d_eval_t *e) {
  (void)params;
  e->U = 25 * x * x;
  e->dU = 50 * x;
  e->d2U = 50;
  e->D = 10 * exp(C_E * x);
  e->dD = C_E * e->D;
  e->d2D = C_E * C_E * e->D;
}
static double v_e(double x, double T) {
  return -5 * exp(-C_E * x) * (x / C_E + 1 / (C_E * C_E)) + (T / 2) * (log(10.0) + C_E * x);
}

typedef struct {
  const char *name;
  valley_fp1d_fn eval;
  double (*v)(double x, double T);
  double lo, hi;
} prob1d_t;

static const prob1d_t PROBS[] = {
    {"(a) D = 1 double well", prob_a, v_a, -2.5, 2.5},
    {"(b) D = U", prob_b, v_b, -3, 3},
    {"(c) D = 1/(1 + U)", prob_c, v_c, -2.5, 2.5},
};
static const prob1d_t PROB_E = {"(e) |U'| <= 100, D in [1e-2, 1e4]", prob_e, v_e, -2, 2};

static valley_fp1d_t fp1d_of(const prob1d_t *p) {
  valley_fp1d_t f = {p->eval, NULL, p->lo, p->hi, NULL};
  return f;
}

/* The exact density exp(-2 (v - vref) / T) / Z, Z by GSL adaptive quadrature (QAGP with a
 * break at the minimum of v, where a narrow peak sits at small T). */
typedef struct {
  const prob1d_t *p;
  double T, vref, logZ;
} exact1d_t;

static double exact_unnorm(double x, void *params) {
  const exact1d_t *e = params;
  return exp(-2 * (e->p->v(x, e->T) - e->vref) / e->T);
}

static void exact_init(exact1d_t *e, const prob1d_t *p, double T) {
  e->p = p;
  e->T = T;
  size_t n = 200000;
  double xmin = p->lo, vmin = INFINITY;
  for (size_t k = 0; k <= n; k++) {
    double x = p->lo + (p->hi - p->lo) * (double)k / (double)n, v = p->v(x, T);
    if (v < vmin) {
      vmin = v;
      xmin = x;
    }
  }
  e->vref = vmin;
  gsl_integration_workspace *ws = gsl_integration_workspace_alloc(1000);
  gsl_function f = {exact_unnorm, e};
  double pts[3] = {p->lo, xmin, p->hi}, Z = 0, abserr;
  if (xmin <= p->lo || xmin >= p->hi)
    gsl_integration_qags(&f, p->lo, p->hi, 0, 1e-13, 1000, ws, &Z, &abserr);
  else
    gsl_integration_qagp(&f, pts, 3, 0, 1e-13, 1000, ws, &Z, &abserr);
  gsl_integration_workspace_free(ws);
  e->logZ = log(Z);
}

/* The exact average of rho over [a, b], 5-point Gauss-Legendre (error ~ (b - a)^10). */
static double exact_avg(const exact1d_t *e, double a, double b) {
  static const double gx[5] = {-0.9061798459386640, -0.5384693101056831, 0.0,
                               0.5384693101056831, 0.9061798459386640};
  static const double gw[5] = {0.2369268850561891, 0.4786286704993665, 0.5688888888888889,
                               0.4786286704993665, 0.2369268850561891};
  double c = (a + b) / 2, r = (b - a) / 2, s = 0;
  for (int q = 0; q < 5; q++)
    s += gw[q] * exp(-2 * (e->p->v(c + r * gx[q], e->T) - e->vref) / e->T - e->logZ);
  return s / 2;
}

static double l1_exact(const exact1d_t *e, const valley_fv1d_result_t *r) {
  double s = 0;
  for (size_t i = 0; i < r->cells; i++)
    s += fabs(r->rho[i] - exact_avg(e, r->x[i] - r->h / 2, r->x[i] + r->h / 2));
  return s * r->h;
}

/* ---- 1. the Bernoulli function --------------------------------------------------------- */

static void test_bernoulli(check_t *t) {
  check(t, valley_fv_bernoulli(0) == 1 && valley_fv_log_bernoulli(0) == 0, "B(0) = 1");
  /* against the plain formula where that is accurate (expm1 is within 1 ulp; the quotient and
   * our own form each add a rounding or two: 8 ulps) */
  double zs[] = {1e-3, -1e-3, 0.1, -0.1, 1, -1, 7.5, -7.5, 30, -30};
  int ok = 1;
  for (size_t k = 0; k < sizeof zs / sizeof zs[0]; k++)
    ok &= close_rel(valley_fv_bernoulli(zs[k]), zs[k] / expm1(zs[k]), 8 * EPS);
  check(t, ok, "B(z) = z/(e^z - 1) to 8 ulps for 1e-3 <= |z| <= 30");
  /* the series near 0: B(z) = 1 - z/2 + z^2/12 - z^4/720, the z^4 term below 1e-23 there */
  check(t, close_rel(valley_fv_bernoulli(3e-6), 1 - 1.5e-6 + 9e-12 / 12, EPS),
        "B(3e-6) by its series");
  /* B(-z) = B(z) + z exactly in exact arithmetic; log B(-z) - log B(z) = z */
  ok = 1;
  double big[] = {1e-7, 0.3, 3, 40, 700, 800, 3e4, 1e6};
  for (size_t k = 0; k < sizeof big / sizeof big[0]; k++) {
    double z = big[k], lb = valley_fv_log_bernoulli(z), lm = valley_fv_log_bernoulli(-z);
    /* each log has a few ulps of its own size (|lm| <= log(z + 1), |lb| <= z + log(z + 1)) */
    ok &= isfinite(lb) && isfinite(lm) &&
          fabs((lm - lb) - z) <= 8 * EPS * (z + 2 * log(z + 1) + 1);
    ok &= valley_fv_bernoulli(z) >= 0 && isfinite(valley_fv_bernoulli(-z));
  }
  check(t, ok, "log B(-z) - log B(z) = z, finite, for z up to 1e6 (B(z) underflows to >= 0)");
  check(t, valley_fv_bernoulli(800) == 0 || valley_fv_bernoulli(800) < 1e-300,
        "B(800) underflows without NaN: %g", valley_fv_bernoulli(800));
  check(t, close_rel(valley_fv_bernoulli(-800), 800, EPS), "B(-800) = 800");
}

/* ---- 2. the steady state against the scheme's product formula and the closed form -------- */

/* The product formula q_{i+1}/q_i = exp(-a_{i+1/2} h), rho_i = q_i / D_i, computed here from the
 * problem directly, against the solver; returns the max relative difference and the bound
 * 8 eps (n + sum_f |a h| + sum_i |log D_i|): each log increment the solver sums carries a few
 * roundings of its own size (compensated sum, so no growth beyond that), and exp turns an
 * absolute error in log rho into the same relative error. */
static double product_formula_diff(const valley_fp1d_t *p, double T,
                                   const valley_fv1d_result_t *r, double *bound) {
  size_t n = r->cells;
  double h = r->h, *lq = malloc(n * sizeof *lq), s = 0, S = (double)n, mx = -INFINITY;
  /* log q_i = sum_{f > i} a_f h, Neumaier's compensated sum from the right wall (from the left,
   * a steep left end would make the partial sums ~1e6 and cost their last bits) */
  double acc = 0, comp = 0;
  lq[n - 1] = 0;
  for (size_t i = n - 1; i-- > 0;) {
    valley_fp1d_eval_t e;
    p->eval(p->lo + (double)(i + 1) * h, p->params, &e);
    double z = 2 * e.dU / (T * e.D) * h, u = acc + z;
    comp += fabs(acc) >= fabs(z) ? (acc - u) + z : (z - u) + acc;
    acc = u;
    lq[i] = acc + comp;
    S += fabs(z);
  }
  for (size_t i = 0; i < n; i++) {
    valley_fp1d_eval_t e;
    p->eval(r->x[i], p->params, &e);
    lq[i] -= log(e.D); /* now log rho_i */
    S += fabs(log(e.D));
    if (lq[i] > mx) mx = lq[i];
  }
  for (size_t i = 0; i < n; i++) s += exp(lq[i] - mx);
  double worst = 0;
  for (size_t i = 0; i < n; i++) {
    double want = exp(lq[i] - mx) / (s * h);
    if (want > 1e-250) { /* below that the solver's value may be subnormal or zero */
      double d = fabs(r->rho[i] / want - 1);
      if (d > worst) worst = d;
    }
  }
  free(lq);
  *bound = 8 * EPS * S;
  return worst;
}

static void test_product_formula(check_t *t) {
  const double Ts[] = {1.0, 0.25, 0.05};
  for (size_t k = 0; k < 3; k++)
    for (size_t ti = 0; ti < 3; ti++) {
      valley_fp1d_t p = fp1d_of(&PROBS[k]);
      valley_fv1d_result_t r;
      valley_error_t err;
      if (valley_fv1d_steady(&p, Ts[ti], 1000, 1e-12, 400, &r, &err) != VALLEY_OK) {
        check(t, 0, "%s: %s", PROBS[k].name, err.message);
        continue;
      }
      double bound, d = product_formula_diff(&p, Ts[ti], &r, &bound);
      double mass = 0, mn = INFINITY;
      for (size_t i = 0; i < r.cells; i++) {
        mass += r.rho[i] * r.h;
        if (r.rho[i] < mn) mn = r.rho[i];
      }
      check(t, d <= bound, "%s, T = %g, 1000 cells: steady state = product formula, max rel. "
            "diff %.2e <= %.2e", PROBS[k].name, Ts[ti], d, bound);
      /* normalised by one division: n additions of rounding each */
      check(t, fabs(mass - 1) <= 2 * (double)r.cells * EPS && mn >= 0,
            "%s, T = %g: h sum rho = 1 (off by %.1e), min rho = %.3g >= 0", PROBS[k].name,
            Ts[ti], mass - 1, mn);
      valley_fv1d_result_free(&r);
    }
}

/* Second order: the flux is exact for constant a, a sits at the face midpoint (midpoint rule for
 * int a), and q at the centres: log rho_i = -(2/T) v(x_i) + O(h^2), and the symmetric stencil has
 * no odd terms, so the error is C h^2 + O(h^4) and the observed order between n and 2n cells is
 * 2 + O(h^2).  At the cell counts below (h <= 0.025) that is within 0.05 of 2, with room for the
 * O(h^4) term to be 20 times larger than C h^2 h^2. */
static void test_convergence(check_t *t) {
  const double T = 0.5;
  /* the bar: L1 < 1e-4 at NBAR cells (found by doubling from 250: the first count that passes
   * for all three problems; docs/fokker_planck_fv.md lists each one's L1) */
  const size_t NBAR = 1000;
  for (size_t k = 0; k < 3; k++) {
    valley_fp1d_t p = fp1d_of(&PROBS[k]);
    exact1d_t ex;
    exact_init(&ex, &PROBS[k], T);
    double l1[4];
    size_t n0 = 250;
    int ok = 1;
    for (int lev = 0; lev < 4; lev++) {
      valley_fv1d_result_t r;
      valley_error_t err;
      ok &= valley_fv1d_steady(&p, T, n0 << lev, 1e-12, 400, &r, &err) == VALLEY_OK;
      l1[lev] = ok ? l1_exact(&ex, &r) : NAN;
      if (ok) valley_fv1d_result_free(&r);
    }
    double p1 = log2(l1[0] / l1[1]), p2 = log2(l1[1] / l1[2]), p3 = log2(l1[2] / l1[3]);
    check(t, ok && fabs(p2 - 2) < 0.05 && fabs(p3 - 2) < 0.05,
          "%s, T = %g: L1 to exact %.3e %.3e %.3e %.3e at 250..2000 cells, orders %.3f %.3f "
          "%.3f (want 2)", PROBS[k].name, T, l1[0], l1[1], l1[2], l1[3], p1, p2, p3);
    check(t, l1[2] < 1e-4, "%s: L1 %.2e < 1e-4 at %zu cells", PROBS[k].name, l1[2], NBAR);
  }
}

/* The march and the dt = infinity step. */
static void test_march(check_t *t) {
  valley_fp1d_t p = fp1d_of(&PROBS[0]);
  valley_fv1d_result_t r;
  valley_error_t err;
  /* T = 1: the barrier (~1) is crossed at rate ~ e^{-2}: once dt passes 1/lambda_2 every step
   * divides the remaining error by >= 10, so the march stops (change < tol) with less than tol
   * left, and the dt = infinity step moves it by less than tol. */
  double tol = 1e-12;
  int ok = valley_fv1d_steady(&p, 1.0, 1000, tol, 400, &r, &err) == VALLEY_OK;
  check(t, ok && r.march_change < tol && r.change < tol && r.steps < 400,
        "T = 1: the march converges (%d steps, last change %.1e) to the dt = inf state "
        "(change %.1e)", ok ? r.steps : -1, ok ? r.march_change : NAN, ok ? r.change : NAN);
  if (ok) valley_fv1d_result_free(&r);
  /* T = 0.03: the inter-basin rate is ~ e^{-2 (barrier) / T} ~ 1e-20, so the march's steps stop
   * changing rho (change < tol) while the basins still hold the uniform start's masses (0.5
   * each): the last step must move mass ~0.5 - 0 from the upper to the lower basin, an L1 change
   * of ~2 x 0.48. */
  ok = valley_fv1d_steady(&p, 0.03, 1000, tol, 400, &r, &err) == VALLEY_OK;
  double left = 0;
  for (size_t i = 0; ok && i < r.cells; i++)
    if (r.x[i] < 0) left += r.rho[i] * r.h;
  /* the exact left-basin mass is 1 - O(e^{-2 (0.6) / 0.03}) = 1 - 4e-18 */
  check(t, ok && r.change > 0.5 && fabs(left - 1) < 1e-12,
        "T = 0.03: the march stalls (frozen inter-basin mode; final step change %.3f) and the "
        "dt = inf step puts mass %.15f in the lower basin", ok ? r.change : NAN, left);
  if (ok) valley_fv1d_result_free(&r);
}

/* The steep end: |U'| up to 100, D from 1e-2 to 1e4, T = 1e-3, 20000 cells: a h reaches 4000 at
 * the left wall (B underflows).  Finite, >= 0, normalised, the product formula, and the closed
 * form; and fast. */
static void test_extreme(check_t *t) {
  valley_fp1d_t p = fp1d_of(&PROB_E);
  const double T = 1e-3;
  valley_fv1d_result_t r;
  valley_error_t err;
  if (valley_fv1d_steady(&p, T, 20000, 1e-12, 400, &r, &err) != VALLEY_OK) {
    check(t, 0, "%s: %s", PROB_E.name, err.message);
    return;
  }
  int fin = 1;
  double mass = 0;
  for (size_t i = 0; i < r.cells; i++) {
    fin &= isfinite(r.rho[i]) && r.rho[i] >= 0;
    mass += r.rho[i] * r.h;
  }
  check(t, fin && fabs(mass - 1) <= 2 * 20000 * EPS, "%s, T = 1e-3, 20000 cells: finite, >= 0, "
        "mass 1 (off by %.1e)", PROB_E.name, mass - 1);
  double bound, d = product_formula_diff(&p, T, &r, &bound);
  check(t, d <= bound, "%s: product formula, max rel. diff %.2e <= %.2e", PROB_E.name, d,
        bound);
  exact1d_t ex;
  exact_init(&ex, &PROB_E, T);
  double l1 = l1_exact(&ex, &r);
  /* the peak at x ~ 0 has width sqrt(T D(0) / (2 * 50)) = 0.01, i.e. 50 cells: the same h^2
   * error as the moderate cases at 50 cells per unit width, below the 1e-4 bar */
  check(t, l1 < 1e-4, "%s: L1 to exact %.2e < 1e-4", PROB_E.name, l1);
  valley_fv1d_result_free(&r);
}

/* ---- 3. time dependence ------------------------------------------------------------------- */

static void test_evolve(check_t *t) {
  valley_fp1d_t p = fp1d_of(&PROBS[1]);
  const double T = 0.5;
  const size_t n = 800;
  double *rho = malloc(n * sizeof *rho), *r2 = malloc(n * sizeof *r2), *r4 = malloc(n * sizeof *r4);
  double h = (p.hi - p.lo) / (double)n, mass0 = 0;
  /* a bump on [1, 2], zero elsewhere */
  for (size_t i = 0; i < n; i++) {
    double x = p.lo + ((double)i + 0.5) * h;
    rho[i] = (x > 1 && x < 2) ? 1 - (2 * x - 3) * (2 * x - 3) : 0;
    mass0 += rho[i];
  }
  for (size_t i = 0; i < n; i++) r2[i] = r4[i] = rho[i];
  valley_error_t err;
  int ok = valley_fv1d_evolve(&p, T, n, rho, 0.5, 0.01, &err) == VALLEY_OK &&
           valley_fv1d_evolve(&p, T, n, r2, 0.5, 0.005, &err) == VALLEY_OK &&
           valley_fv1d_evolve(&p, T, n, r4, 0.5, 0.0025, &err) == VALLEY_OK;
  double mass = 0, mn = INFINITY, d12 = 0, d24 = 0;
  for (size_t i = 0; i < n; i++) {
    mass += r4[i];
    if (r4[i] < mn) mn = r4[i];
    d12 += fabs(rho[i] - r2[i]) * h;
    d24 += fabs(r2[i] - r4[i]) * h;
  }
  /* each step's elimination gives every entry to ~3 n rounding errors of itself (sums of
   * positive terms along chains of length <= n), so the mass to 4 n eps per step */
  check(t, ok && fabs(mass / mass0 - 1) <= 200 * 4 * (double)n * EPS && mn >= 0,
        "evolve: 200 steps keep the mass (rel. change %.1e) and rho >= 0 (min %.3g)",
        mass / mass0 - 1, mn);
  /* implicit Euler is first order: halving dt halves the difference; the ratio is
   * 2 (1 + O(dt)), dt <= 0.01 times rates ~ 1 */
  check(t, ok && fabs(d12 / d24 - 2) < 0.1, "evolve: first order in time, L1 differences "
        "%.3e, %.3e (ratio %.3f, want 2)", d12, d24, d12 / d24);
  /* long times reach the steady state */
  valley_fv1d_result_t r;
  ok = ok && valley_fv1d_evolve(&p, T, n, r4, 200, 1.0, &err) == VALLEY_OK &&
       valley_fv1d_steady(&p, T, n, 1e-12, 400, &r, &err) == VALLEY_OK;
  if (ok) {
    double m = 0, d = 0;
    for (size_t i = 0; i < n; i++) m += r4[i] * h;
    for (size_t i = 0; i < n; i++) d += fabs(r4[i] / m - r.rho[i]) * h;
    /* the slowest rate here is O(1) (one basin, D >= 1): after t = 200 only rounding is left */
    check(t, d < 1e-10, "evolve to t = 200 reaches the steady state (L1 %.1e)", d);
    valley_fv1d_result_free(&r);
  } else {
    check(t, 0, "evolve to t = 200: %s", err.message);
  }
  free(rho);
  free(r2);
  free(r4);
}

/* ---- 4. bad input -------------------------------------------------------------------------- */

static void bad_D(double x, const void *params, valley_fp1d_eval_t *e) {
  (void)params;
  prob_a(x, NULL, e);
  if (x > 0.5) e->D = 0;
}

static void bad_D2(double x, double y, const void *params, valley_fp2d_eval_t *e) {
  (void)params;
  e->U = e->Ux = e->Uy = e->d1x = e->d2y = 0;
  (void)y;
  e->d1 = x > 0 ? -1 : 1;
  e->d2 = 1;
}

static void expect(check_t *t, valley_status_t got, valley_status_t want,
                   const valley_error_t *err, const char *what) {
  check(t, got == want && err->code == want && err->message[0] != '\0',
        "%s -> %s: \"%s\"", what, valley_strerror(got), got != VALLEY_OK ? err->message : "");
}

static void test_bad_input(check_t *t) {
  valley_fp1d_t p = fp1d_of(&PROBS[0]);
  valley_fv1d_result_t r;
  valley_error_t err;
  double rho[10] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  expect(t, valley_fv1d_steady(&p, 1, 2, 1e-12, 10, &r, &err), VALLEY_EINVAL, &err, "cells = 2");
  expect(t, valley_fv1d_steady(&p, 0, 100, 1e-12, 10, &r, &err), VALLEY_EINVAL, &err, "T = 0");
  expect(t, valley_fv1d_steady(&p, -1, 100, 1e-12, 10, &r, &err), VALLEY_EINVAL, &err, "T < 0");
  expect(t, valley_fv1d_steady(&p, 1, 100, 0, 10, &r, &err), VALLEY_EINVAL, &err, "tol = 0");
  expect(t, valley_fv1d_steady(&p, 1, 100, 1e-9, 0, &r, &err), VALLEY_EINVAL, &err,
         "max_steps = 0");
  valley_fp1d_t q = p;
  q.lo = 1;
  q.hi = 1;
  expect(t, valley_fv1d_steady(&q, 1, 100, 1e-12, 10, &r, &err), VALLEY_EDOM, &err, "lo = hi");
  q.lo = 2;
  expect(t, valley_fv1d_steady(&q, 1, 100, 1e-12, 10, &r, &err), VALLEY_EDOM, &err, "lo > hi");
  q = p;
  q.eval = bad_D;
  expect(t, valley_fv1d_steady(&q, 1, 100, 1e-12, 10, &r, &err), VALLEY_EDOM, &err, "D = 0");
  expect(t, valley_fv1d_evolve(&p, 1, 2, rho, 1, 0.1, &err), VALLEY_EINVAL, &err,
         "evolve cells = 2");
  expect(t, valley_fv1d_evolve(&p, 0, 10, rho, 1, 0.1, &err), VALLEY_EINVAL, &err, "evolve T = 0");
  expect(t, valley_fv1d_evolve(&p, 1, 10, rho, 1, 0, &err), VALLEY_EINVAL, &err, "evolve dt = 0");
  expect(t, valley_fv1d_evolve(&p, 1, 10, rho, -1, 0.1, &err), VALLEY_EINVAL, &err,
         "evolve t_end < 0");
  rho[3] = -1;
  expect(t, valley_fv1d_evolve(&p, 1, 10, rho, 1, 0.1, &err), VALLEY_EINVAL, &err,
         "evolve rho < 0");
  rho[3] = NAN;
  expect(t, valley_fv1d_evolve(&p, 1, 10, rho, 1, 0.1, &err), VALLEY_EINVAL, &err,
         "evolve rho NaN");
  q.lo = 3;
  expect(t, valley_fv1d_evolve(&q, 1, 10, rho, 1, 0.1, &err), VALLEY_EDOM, &err,
         "evolve lo > hi");

  valley_fp2d_example_t ex = {1, 4};
  valley_fp2d_t p2;
  valley_fp2d_curl(&ex, &p2);
  valley_fv2d_result_t r2;
  expect(t, valley_fv2d_steady(&p2, 1, 2, 10, &r2, &err), VALLEY_EINVAL, &err, "2-D nx = 2");
  expect(t, valley_fv2d_steady(&p2, 1, 10, 2, &r2, &err), VALLEY_EINVAL, &err, "2-D ny = 2");
  expect(t, valley_fv2d_steady(&p2, 0, 10, 10, &r2, &err), VALLEY_EINVAL, &err, "2-D T = 0");
  valley_fp2d_t b2 = p2;
  b2.xhi = b2.xlo;
  expect(t, valley_fv2d_steady(&b2, 1, 10, 10, &r2, &err), VALLEY_EDOM, &err, "2-D empty box");
  b2 = p2;
  b2.eval = bad_D2;
  expect(t, valley_fv2d_steady(&b2, 1, 10, 10, &r2, &err), VALLEY_EDOM, &err, "2-D d1 < 0");
  valley_curl2d_t c;
  expect(t, valley_curl2d_compare(&p2, 1, 10, 10, 5, 0, &c, &err), VALLEY_EDOM, &err,
         "reference point outside the box");
  expect(t, valley_curl2d_compare(&p2, -1, 10, 10, 0, 0, &c, &err), VALLEY_EINVAL, &err,
         "curl2d T < 0");
  double v[100];
  expect(t, valley_curl2d_potential(&p2, 1, 10, 10, 0, 0, (valley_curl2d_path_t)7, v, &err),
         VALLEY_EINVAL, &err, "unknown path");
}

/* ---- 5. 2-D --------------------------------------------------------------------------------- */

/* The separable example's 1-D factors, for the 1-D solver and the closed form. */
typedef struct {
  int axis; /* 0: U1(x), 1: U2(y) = a y^2 / 2 */
  double a;
} factor_t;

static double u_factor(const factor_t *f, double s, double *du) {
  if (f->axis == 0) {
    double w = s * s - 1;
    *du = s * w + VALLEY_FP2D_SEP_TILT;
    return w * w / 4 + VALLEY_FP2D_SEP_TILT * s + VALLEY_FP2D_SEP_SHIFT;
  }
  *du = f->a * s;
  return f->a * s * s / 2;
}

static void factor_eval(double s, const void *params, valley_fp1d_eval_t *e) {
  double du, u = u_factor(params, s, &du);
  e->U = u;
  e->dU = du;
  e->d2U = 0; /* not read by the solvers */
  e->D = 1 + u;
  e->dD = du;
  e->d2D = 0;
}

/* The exact cell averages of the separable density: v = (1 + T/2) sum log(1 + U_i), so
 * rho = prod_i (1 + U_i)^-(1 + 2/T) / Z_i; Z_i by GSL QAGS, averages by 5-point Gauss-Legendre
 * per cell. */
typedef struct {
  const factor_t *f;
  double T;
} factor_exact_t;

static double factor_unnorm(double s, void *params) {
  const factor_exact_t *e = params;
  double du, u = u_factor(e->f, s, &du);
  return pow(1 + u, -(1 + 2 / e->T));
}

static void factor_avgs(const factor_t *f, double T, double L, size_t n, double *avg) {
  factor_exact_t e = {f, T};
  gsl_integration_workspace *ws = gsl_integration_workspace_alloc(1000);
  gsl_function fn = {factor_unnorm, &e};
  double Z, abserr;
  gsl_integration_qags(&fn, -L, L, 0, 1e-13, 1000, ws, &Z, &abserr);
  gsl_integration_workspace_free(ws);
  static const double gx[5] = {-0.9061798459386640, -0.5384693101056831, 0.0,
                               0.5384693101056831, 0.9061798459386640};
  static const double gw[5] = {0.2369268850561891, 0.4786286704993665, 0.5688888888888889,
                               0.4786286704993665, 0.2369268850561891};
  double h = 2 * L / (double)n;
  for (size_t i = 0; i < n; i++) {
    double c = -L + ((double)i + 0.5) * h, s = 0;
    for (int q = 0; q < 5; q++) s += gw[q] * factor_unnorm(c + h / 2 * gx[q], &e);
    avg[i] = s / 2 / Z;
  }
}

static void test_separable(check_t *t) {
  const double T = 0.5, a = 1, L = 4;
  valley_fp2d_example_t ex = {a, L};
  valley_fp2d_t p;
  valley_fp2d_separable(&ex, &p);
  factor_t fx = {0, a}, fy = {1, a};
  valley_error_t err;
  double l1[3], pot_err = 0, pot_bound = 0, l1_pt = 0;
  size_t ns[3] = {32, 64, 128};
  for (int lev = 0; lev < 3; lev++) {
    size_t n = ns[lev];
    valley_fv2d_result_t r;
    if (valley_fv2d_steady(&p, T, n, n, &r, &err) != VALLEY_OK) {
      check(t, 0, "separable %zu^2: %s", n, err.message);
      return;
    }
    double *ax = malloc(n * sizeof *ax), *ay = malloc(n * sizeof *ay);
    factor_avgs(&fx, T, L, n, ax);
    factor_avgs(&fy, T, L, n, ay);
    double s = 0;
    for (size_t j = 0; j < n; j++)
      for (size_t i = 0; i < n; i++) s += fabs(r.rho[j * n + i] - ax[i] * ay[j]);
    l1[lev] = s * r.hx * r.hy;
    if (lev == 1) {
      /* the 2-D chain of a separable problem is the product of two 1-D chains (the x rates
       * depend on x only, the y rates on y only), so its stationary vector is the product of the
       * 1-D solver's: an algebraic identity between two different eliminations.  Bound: the
       * band elimination's entries carry ~ (states on a dependency chain) = n^2 roundings of
       * their own size, the 1-D ones ~ n: 4 (n^2 + 2 n) eps. */
      valley_fp1d_t px = {factor_eval, &fx, -L, L, NULL}, py = {factor_eval, &fy, -L, L, NULL};
      valley_fv1d_result_t rx, ry;
      int ok = valley_fv1d_steady(&px, T, n, 1e-12, 400, &rx, &err) == VALLEY_OK &&
               valley_fv1d_steady(&py, T, n, 1e-12, 400, &ry, &err) == VALLEY_OK;
      double worst = 0;
      for (size_t j = 0; ok && j < n; j++)
        for (size_t i = 0; i < n; i++) {
          double d = fabs(r.rho[j * n + i] / (rx.rho[i] * ry.rho[j]) - 1);
          if (d > worst) worst = d;
        }
      double bound = 4 * (double)(n * n + 2 * n) * EPS;
      check(t, ok && worst <= bound, "separable 64^2: 2-D FV = product of 1-D FV, max rel. diff "
            "%.2e <= %.2e", worst, bound);
      if (ok) {
        valley_fv1d_result_free(&rx);
        valley_fv1d_result_free(&ry);
      }
      /* the formula's line integral against the closed form v = (1 + T/2) sum log(1 + U_i)
       * (zero curl: both paths agree); 5-point Gauss-Legendre over h = 0.125 is exact to
       * rounding for this smooth V, and each v is a sum of <= n + 1 pieces of size <= max |v|:
       * bound 4 (n + 1) eps max|v|, and 0 between the paths up to the same */
      double *v = malloc(n * n * sizeof *v), *w = malloc(n * n * sizeof *w);
      ok = valley_curl2d_potential(&p, T, n, n, 0, 0, VALLEY_CURL2D_XY, v, &err) == VALLEY_OK &&
           valley_curl2d_potential(&p, T, n, n, 0, 0, VALLEY_CURL2D_YX, w, &err) == VALLEY_OK;
      double du, v0 = (1 + T / 2) * (log(1 + u_factor(&fx, 0, &du)) +
                                     log(1 + u_factor(&fy, 0, &du)));
      double vmax = 0, dpath = 0;
      for (size_t j = 0; ok && j < n; j++)
        for (size_t i = 0; i < n; i++) {
          double want = (1 + T / 2) * (log(1 + u_factor(&fx, r.x[i], &du)) +
                                       log(1 + u_factor(&fy, r.y[j], &du))) - v0;
          if (fabs(v[j * n + i] - want) > pot_err) pot_err = fabs(v[j * n + i] - want);
          if (fabs(v[j * n + i] - w[j * n + i]) > dpath) dpath = fabs(v[j * n + i] - w[j * n + i]);
          if (fabs(want) > vmax) vmax = fabs(want);
        }
      pot_bound = 4 * (double)(n + 1) * EPS * vmax;
      check(t, ok && pot_err <= pot_bound && dpath <= 2 * pot_bound,
            "separable 64^2: line-integral v = closed form to %.1e <= %.1e, paths differ by %.1e",
            pot_err, pot_bound, dpath);
      /* the formula's density (point values, midpoint-normalised) against the exact cell
       * averages, for the triangle inequality below */
      valley_curl2d_density(v, n * n, T, r.hx * r.hy, v);
      for (size_t j = 0; ok && j < n; j++)
        for (size_t i = 0; i < n; i++) l1_pt += fabs(v[j * n + i] - ax[i] * ay[j]);
      l1_pt *= r.hx * r.hy;
      free(v);
      free(w);
    }
    free(ax);
    free(ay);
    valley_fv2d_result_free(&r);
  }
  double p1 = log2(l1[0] / l1[1]), p2 = log2(l1[1] / l1[2]);
  /* second order as in 1-D (the 2-D chain is a product of 1-D ones): the error at 128^2 is
   * C h^2 (1 + O(h^2)); predicted from 64^2 with the exact order 2, allowing 10% for the O(h^2)
   * correction (h^2 = 0.004 times the ratio of the h^4 and h^2 constants, < 25) */
  check(t, fabs(p1 - 2) < 0.1 && l1[2] <= 1.1 * l1[1] / 4,
        "separable 2-D FV vs closed form, T = 0.5: L1 %.3e %.3e %.3e at 32^2, 64^2, 128^2 "
        "(orders %.3f %.3f; 128^2 bound %.3e)", l1[0], l1[1], l1[2], p1, p2, 1.1 * l1[1] / 4);

  valley_curl2d_t c;
  if (valley_curl2d_compare(&p, T, 64, 64, 0, 0, &c, &err) != VALLEY_OK) {
    check(t, 0, "separable compare: %s", err.message);
    return;
  }
  /* zero curl: V_x depends on x only and V_y on y only, so the differences vanish exactly.  The
   * paths' v agree to 2 pot_bound, so their densities to a relative (2/T) 2 pot_bound, hence in
   * L1 (mass 1, two normalisations) to 2 (2/T) 2 pot_bound.  Formula vs FV is discretisation
   * error: by the triangle inequality at most (FV vs exact averages) + (formula vs exact
   * averages), both measured above at 64^2, up to rounding.  The FV residual: entries accurate
   * to 4 (n^2 + 2n) eps relative, as in the product check. */
  double pb = 2 * (2 / T) * 2 * pot_bound, rb = 4 * (64.0 * 64 + 128) * EPS;
  check(t, c.curl_max == 0 && c.l1_paths <= pb && c.l1_xy <= l1[1] + l1_pt + 1e-14 &&
               c.fv_residual <= rb,
        "separable 64^2: max |curl V| = %g, L1 formula vs FV %.3e (xy) %.3e (yx) %.3e (avg) "
        "<= %.3e + %.3e, paths %.1e <= %.1e, FV residual %.1e <= %.1e", c.curl_max, c.l1_xy,
        c.l1_yx, c.l1_avg, l1[1], l1_pt, c.l1_paths, pb, c.fv_residual, rb);
  valley_curl2d_free(&c);
}

/* Coarse-grid L1 between a coarse density and a fine one averaged 2 x 2. */
static double l1_restrict(const valley_fv2d_result_t *c, const valley_fv2d_result_t *f) {
  double s = 0;
  for (size_t j = 0; j < c->ny; j++)
    for (size_t i = 0; i < c->nx; i++) {
      size_t k = 2 * j * f->nx + 2 * i;
      double avg = (f->rho[k] + f->rho[k + 1] + f->rho[k + f->nx] + f->rho[k + f->nx + 1]) / 4;
      s += fabs(c->rho[j * c->nx + i] - avg);
    }
  return s * c->hx * c->hy;
}

static void moments(const valley_fv2d_result_t *r, double *mx2, double *mx2y2) {
  double a = 0, b = 0;
  for (size_t j = 0; j < r->ny; j++)
    for (size_t i = 0; i < r->nx; i++) {
      double w = r->rho[j * r->nx + i] * r->hx * r->hy, x2 = r->x[i] * r->x[i];
      a += x2 * w;
      b += x2 * r->y[j] * r->y[j] * w;
    }
  *mx2 = a;
  *mx2y2 = b;
}

static void test_curl(check_t *t) {
  const double T = 0.5, a = 1, L = 4;
  valley_fp2d_example_t ex = {a, L};
  valley_fp2d_t p;
  valley_fp2d_curl(&ex, &p);
  valley_error_t err;
  valley_fv2d_result_t r[3];
  size_t ns[3] = {32, 64, 128};
  for (int lev = 0; lev < 3; lev++)
    if (valley_fv2d_steady(&p, T, ns[lev], ns[lev], &r[lev], &err) != VALLEY_OK) {
      check(t, 0, "curl %zu^2: %s", ns[lev], err.message);
      for (int q = 0; q < lev; q++) valley_fv2d_result_free(&r[q]);
      return;
    }
  /* exact stationary moments of dx = -x dt + sqrt(T (1 + a y^2)) dW1, dy = -y dt + sqrt(T) dW2
   * (Ito on x^2, y^2, x^2 y^2): E y^2 = T/2, E y^4 = 3 T^2 / 4, E x^2 = T (1 + a E y^2) / 2,
   * E x^2 y^2 = T (E x^2 + E y^2 + a E y^4) / 4.  They need no potential. */
  double ey2 = T / 2, ey4 = 3 * ey2 * ey2, ex2 = T * (1 + a * ey2) / 2;
  double ex2y2 = T * (ex2 + ey2 + a * ey4) / 4;
  double m[3], mm[3];
  for (int lev = 0; lev < 3; lev++) moments(&r[lev], &m[lev], &mm[lev]);
  /* second order: Richardson's estimate of the 128^2 error is |m64 - m128| / 3; allow twice it,
   * plus the box: the walls at |x| = 4 cut mass ~ max_y exp(-16 / (T (1 + a y^2)) - y^2 / T) =
   * e^-14 (at 1 + y^2 = 4), worth <= L^2 e^-14 = 1.3e-5 in E x^2 and L^4 e^-14 in E x^2 y^2 */
  double box = exp(-14.0);
  double b1 = 2 * fabs(m[1] - m[2]) / 3 + L * L * box;
  double b2 = 2 * fabs(mm[1] - mm[2]) / 3 + L * L * L * L * box;
  check(t, fabs(m[2] - ex2) <= b1 && fabs(mm[2] - ex2y2) <= b2,
        "curl a = 1, T = 0.5: FV E x^2 = %.8f %.8f %.8f at 32^2..128^2 (exact %.8f, |err| "
        "%.1e <= %.1e); E x^2 y^2 = %.8f (exact %.8f, |err| %.1e <= %.1e)", m[0], m[1], m[2], ex2,
        fabs(m[2] - ex2), b1, mm[2], ex2y2, fabs(mm[2] - ex2y2), b2);
  double o1 = log2(fabs(m[0] - ex2) / fabs(m[1] - ex2));
  double o2 = log2(fabs(m[1] - ex2) / fabs(m[2] - ex2));
  check(t, fabs(o1 - 2) < 0.1 && fabs(o2 - 2) < 0.1,
        "curl: E x^2 converges at order %.3f, %.3f (want 2: same flux as 1-D)", o1, o2);
  /* the FV agrees with itself at refinement (second order: differences drop 4x) */
  double d01 = l1_restrict(&r[0], &r[1]), d12 = l1_restrict(&r[1], &r[2]);
  check(t, fabs(log2(d01 / d12) - 2) < 0.1, "curl: FV refinement L1 %.3e (32 vs 64), %.3e (64 vs "
        "128), order %.3f", d01, d12, log2(d01 / d12));
#ifdef _OPENMP
  {
    /* the same numbers for any thread count */
    valley_fv2d_result_t r1;
    int nt = omp_get_max_threads();
    omp_set_num_threads(1);
    int ok = valley_fv2d_steady(&p, T, 64, 64, &r1, &err) == VALLEY_OK;
    omp_set_num_threads(nt);
    check(t, ok && memcmp(r1.rho, r[1].rho, 64 * 64 * sizeof(double)) == 0,
          "curl 64^2: 1 thread and %d threads give identical densities", nt);
    if (ok) valley_fv2d_result_free(&r1);
  }
#endif
  valley_curl2d_t c;
  if (valley_curl2d_compare(&p, T, 128, 128, 0, 0, &c, &err) != VALLEY_OK) {
    check(t, 0, "curl compare: %s", err.message);
  } else {
    /* not a discretisation artefact: every formula density is at least 10x the FV's own error
     * (the 64-vs-128 refinement L1 is ~3x the 128^2 error for a second-order scheme, so 10x
     * that is ~30x the error), and the FV density of compare is the 128^2 one above */
    double thr = 10 * d12;
    check(t, c.l1_xy > thr && c.l1_yx > thr && c.l1_avg > thr && c.l1_paths > thr,
          "curl a = 1, T = 0.5, L = 4, 128^2: L1 formula vs FV %.4f (xy) %.4f (yx) %.4f (avg), "
          "between paths %.4f, all > %.4f = 10 x FV refinement L1", c.l1_xy, c.l1_yx, c.l1_avg,
          c.l1_paths, thr);
    check(t, memcmp(c.rho_fv, r[2].rho, 128 * 128 * sizeof(double)) == 0 &&
                 c.fv_residual <= 4 * (128.0 * 128 + 256) * EPS,
          "curl compare: its FV density is fv2d's (residual %.1e)", c.fv_residual);
    /* curl V = 2 a x y / (1 + a y^2)^2; central differences err by h^2/6 max|d^3 V_x/dy^3|,
     * and |d^3/dy^3 (x / (1 + y^2))| <= 4.7 |x| <= 19 on the box: <= 0.0122 at h = 1/16 */
    double cm = 0, h = 2 * L / 128;
    for (size_t j = 0; j < 128; j++)
      for (size_t i = 0; i < 128; i++) {
        double x = c.x[i], y = c.y[j], cv = 2 * a * x * y / ((1 + a * y * y) * (1 + a * y * y));
        if (fabs(cv) > cm) cm = fabs(cv);
      }
    check(t, fabs(c.curl_max - cm) <= h * h / 6 * 19, "curl: max |curl V| %.4f (exact on the "
          "centres %.4f)", c.curl_max, cm);
    /* the zero-curl formula along x first is exp(-(x^2 + y^2) / T): E x^2 = T/2, not ex2 */
    double fx2 = 0;
    for (size_t j = 0; j < 128; j++)
      for (size_t i = 0; i < 128; i++) fx2 += c.x[i] * c.x[i] * c.rho_xy[j * 128 + i] * c.hx * c.hy;
    check(t, fabs(fx2 - T / 2) < 1e-6 && fabs(fx2 - ex2) > 100 * b1,
          "curl: the xy-path formula has E x^2 = %.6f (= T/2, truncated Gaussian), the truth "
          "%.6f", fx2, ex2);
    valley_curl2d_free(&c);
  }
  for (int lev = 0; lev < 3; lev++) valley_fv2d_result_free(&r[lev]);
}

/* Small T in 2-D: at T = 0.01 the density spans e^{-2 * 16 / T} over the box, so the back
 * substitution must rescale (the separator row alone spans e^{-1600}); at T = 0.001 on 64^2 the
 * censored rates underflow to 0 and the solver says so. */
static void test_small_T(check_t *t) {
  valley_fp2d_example_t ex = {1, 4};
  valley_fp2d_t p;
  valley_fp2d_curl(&ex, &p);
  valley_fv2d_result_t r;
  valley_error_t err;
  if (valley_fv2d_steady(&p, 0.01, 64, 64, &r, &err) != VALLEY_OK) {
    check(t, 0, "curl T = 0.01, 64^2: %s", err.message);
  } else {
    int fin = 1;
    double mass = 0;
    for (size_t k = 0; k < 64 * 64; k++) {
      fin &= isfinite(r.rho[k]) && r.rho[k] >= 0;
      mass += r.rho[k] * r.hx * r.hy;
    }
    /* mass: one normalisation, N roundings; residual as in the separable check */
    check(t, fin && fabs(mass - 1) <= 64 * 64 * EPS && r.residual <= 4 * (64.0 * 64 + 128) * EPS,
          "curl T = 0.01, 64^2: finite, >= 0, mass 1 (off by %.1e), residual %.1e", mass - 1,
          r.residual);
    valley_fv2d_result_free(&r);
  }
  expect(t, valley_fv2d_steady(&p, 0.001, 64, 64, &r, &err), VALLEY_EDOM, &err,
         "curl T = 0.001 on 64^2 (rates underflow)");
}

int main(void) {
  check_t t = {0, 0};
  gsl_set_error_handler_off();
  test_bernoulli(&t);
  test_product_formula(&t);
  test_convergence(&t);
  test_march(&t);
  test_extreme(&t);
  test_evolve(&t);
  test_bad_input(&t);
  test_separable(&t);
  test_curl(&t);
  test_small_T(&t);
  return check_done(&t);
}
