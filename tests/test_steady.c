/* The SGD steady state (theorems/steady.c, synthetic/basin1d.c) against independent
 * computations: the mpmath reference (tests/reference/basins_ref.py), Appendix B.1's closed
 * forms, a different quadrature of the Gauss-Hermite test loss; the paper's statements about
 * its examples, each citing its sentence; and bad input.
 * usage: test_steady reference/basins_ref.txt */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>

#include "check.h"
#include "valley/basin1d.h"
#include "valley/fv.h"
#include "valley/steady.h"

/* ---- helpers -------------------------------------------------------------------------------- */

typedef struct {
  valley_basin1d_t b;
  valley_fp1d_t p;
  valley_steady_ctx_t ctx;
} land_t;

static int land_open(land_t *L, const char *preset, int closed_form) {
  valley_error_t err;
  if (valley_basin1d_preset(preset, &L->b, &err) != VALLEY_OK) return -1;
  valley_basin1d_problem(&L->b, &L->p);
  if (valley_steady_prepare(&L->ctx, &L->p, valley_basin1d_utest3, &L->b, NULL, closed_form,
                            &err) != VALLEY_OK) {
    printf("prepare %s: %s\n", preset, err.message);
    return -1;
  }
  return 0;
}

/* Weight of the basin that holds theta. */
static double weight_at(const valley_steady_t *s, double theta) {
  for (size_t k = 0; k < s->nbasins; k++)
    if (theta >= s->basin[k].a && theta <= s->basin[k].b) return s->basin[k].weight;
  return NAN;
}

static double logaddexp(double a, double b) {
  double m = a > b ? a : b;
  if (m == -INFINITY) return m;
  return m + log(exp(a - m) + exp(b - m));
}

/* ---- 1. against the mpmath reference ------------------------------------------------------- */

/* Relative 1e-8 (the bar) for values; minima and maxima to 1e-9 absolute; log weights to
 * 1e-8 relative (they stand in for weights below 1e-300).  The reference is accurate to >= 12
 * digits (its header says how that was checked). */
static void test_reference(check_t *t, const char *path) {
  FILE *f = fopen(path, "r");
  check(t, f != NULL, "reference file %s opens", path);
  if (f == NULL) return;
  char line[512], cur_preset[64] = "", cur_T[32] = "";
  land_t L;
  int open = 0;
  valley_steady_t s;
  int have = 0, compared = 0, bad = 0;
  double worst = 0;
  double Tsweep[60];
  valley_steady_t *sweep = NULL;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#' || line[0] == '\n') continue;
    char preset[64], Ts[32], q[64], idx[16];
    double val;
    if (sscanf(line, "%63s %31s %63s %15s %lf", preset, Ts, q, idx, &val) != 5) continue;
    if (strcmp(preset, cur_preset) != 0) {
      if (open) valley_steady_ctx_free(&L.ctx);
      open = land_open(&L, preset, 1) == 0;
      check(t, open, "reference preset %s is known to valley", preset);
      snprintf(cur_preset, sizeof cur_preset, "%s", preset);
      cur_T[0] = '\0';
      have = 0;
    }
    if (!open) continue;
    valley_error_t err;
    if (strcmp(q, "optimal_T") == 0 || strcmp(q, "E_test_at_optimal_T") == 0) {
      if (sweep == NULL) {
        sweep = malloc(60 * sizeof *sweep);
        valley_steady_logspace(1e-3, 1.0, 60, Tsweep);
        if (valley_steady_sweep(&L.ctx, Tsweep, 60, 0, sweep, NULL, NULL, &err) != VALLEY_OK) {
          check(t, 0, "sweep for optimal T: %s", err.message);
          continue;
        }
      }
      double To, Eo;
      int interior;
      valley_steady_optimal_T(&L.ctx, Tsweep, sweep, 60, &To, &Eo, &interior, &err);
      /* Brent on log T stops at a relative width of 1e-12 in log T; E_test is flat there, so T*
       * itself is determined only to ~sqrt(eps) relative: 1e-6. */
      if (q[0] == 'o')
        check(t, interior && close_rel(To, val, 1e-6), "%s optimal T = %.12g (reference %.12g)",
              preset, To, val);
      else
        check(t, close_rel(Eo, val, 1e-8), "%s E_test at optimal T = %.14g (reference %.14g)",
              preset, Eo, val);
      continue;
    }
    if (strcmp(Ts, cur_T) != 0) {
      have = valley_steady_solve(&L.ctx, atof(Ts), &s, &err) == VALLEY_OK;
      check(t, have, "%s T = %s solves%s%s", preset, Ts, have ? "" : ": ", have ? "" : err.message);
      snprintf(cur_T, sizeof cur_T, "%s", Ts);
    }
    if (!have) continue;
    int k = idx[0] == '-' ? -1 : atoi(idx);
    double got = NAN, tol = 1e-8;
    int absolute = 0;
    if (strcmp(q, "minimum") == 0 && k >= 0) {
      /* the reference lists the interior minima of v; valley's basins are in the same order */
      int m = 0;
      for (size_t j = 0; j < s.nbasins; j++)
        if (!s.basin[j].boundary && m++ == k) got = s.basin[j].mu;
      absolute = 1;
      tol = 1e-9;
    } else if (strcmp(q, "maximum") == 0 && k >= 0 && (size_t)k < s.nmax) {
      got = s.maxima[k];
      absolute = 1;
      tol = 1e-9;
    } else if (k >= 0 && (size_t)k < s.nbasins) {
      /* The reference's basin k is the one of the k-th interior minimum, the first and last
       * running to the domain ends; valley splits off a stretch at an end where v has no
       * interior minimum (a boundary basin, e.g. fig4-left-exp1 left of its maximum at -1.5).
       * So compare the reference's weight with valley's k-th interior basin plus any boundary
       * basin at the end it touches. */
      size_t inner[VALLEY_STEADY_MAXB], ni = 0;
      for (size_t j = 0; j < s.nbasins; j++)
        if (!s.basin[j].boundary) inner[ni++] = j;
      if ((size_t)k < ni) {
        const valley_steady_basin_t *B = &s.basin[inner[k]];
        double lw = B->log_weight;
        if (k == 0 && s.basin[0].boundary) lw = logaddexp(lw, s.basin[0].log_weight);
        if ((size_t)k + 1 == ni && s.basin[s.nbasins - 1].boundary)
          lw = logaddexp(lw, s.basin[s.nbasins - 1].log_weight);
        if (strcmp(q, "weight") == 0) got = exp(lw);
        if (strcmp(q, "log_weight") == 0) got = lw;
        if (strcmp(q, "weight_laplace") == 0) got = B->weight_laplace;
        if (strcmp(q, "log_weight_laplace") == 0) got = B->log_weight_laplace;
      }
    } else if (k < 0) {
      if (strcmp(q, "E_train") == 0) got = s.E_train;
      if (strcmp(q, "E_test") == 0) got = s.E_test;
      if (strcmp(q, "E_test_eq8") == 0) got = s.E_test_eq8;
    }
    int ok;
    if (absolute)
      ok = fabs(got - val) <= tol;
    else if (strstr(q, "weight") && !strstr(q, "log") && val < 1e-300)
      ok = got < 1e-290; /* underflows in double: the log weight line carries it */
    else if (strstr(q, "log_weight") && fabs(val) < 1e-6)
      ok = fabs(got - val) <= 1e-12; /* log of a weight next to 1 */
    else {
      ok = close_rel(got, val, tol);
      if (val != 0 && fabs(got - val) / fabs(val) > worst) worst = fabs(got - val) / fabs(val);
    }
    compared++;
    if (!ok) {
      bad++;
      check(t, 0, "%s T = %s %s[%s] = %.15g, reference %.15g", preset, Ts, q, idx, got, val);
    }
  }
  fclose(f);
  if (open) valley_steady_ctx_free(&L.ctx);
  free(sweep);
  check(t, compared > 100 && bad == 0,
        "%d reference values compared, %d outside tolerance (worst relative difference %.2g)",
        compared, bad, worst);
}

/* ---- 2. Appendix B.1's closed forms ------------------------------------------------------- */

/* Example 1: D = U (isotropic, non-constant): v = (1 + T/2) log U, rho ∝ U^-(1 + 2/T).
 * U = 1 + (theta^2 - 1)^2 > 0. */
static void ex1_eval(double x, const void *p, valley_fp1d_eval_t *e) {
  (void)p;
  double q = x * x - 1;
  e->U = 1 + q * q;
  e->dU = 4 * x * q;
  e->d2U = 12 * x * x - 4;
  e->D = e->U;
  e->dD = e->dU;
  e->d2D = e->d2U;
}

/* The D = 1/f'(U) family with f(u) = u + u^2/2: D = 1/(1 + U), v = f(U) - (T/2) log f'(U). */
static void ex2_eval(double x, const void *p, valley_fp1d_eval_t *e) {
  (void)p;
  double q = x * x - 1;
  e->U = q * q + 0.3 * x;
  e->dU = 4 * x * q + 0.3;
  e->d2U = 12 * x * x - 4;
  double g = 1 + e->U;
  e->D = 1 / g;
  e->dD = -e->dU / (g * g);
  e->d2D = -e->d2U / (g * g) + 2 * e->dU * e->dU / (g * g * g);
}

typedef struct {
  int which;
  double T;
  int moment; /* 0: rho, 1: U rho */
} cf_t;

static double cf_density(double x, void *p) {
  const cf_t *c = p;
  valley_fp1d_eval_t e;
  double v;
  if (c->which == 1) {
    ex1_eval(x, NULL, &e);
    v = (1 + c->T / 2) * log(e.U);
  } else {
    ex2_eval(x, NULL, &e);
    v = e.U + 0.5 * e.U * e.U - 0.5 * c->T * log(1 + e.U);
  }
  double r = exp(-2 * v / c->T);
  return c->moment ? r * e.U : r;
}

static void test_closed_forms(check_t *t) {
  gsl_integration_workspace *ws = gsl_integration_workspace_alloc(2000);
  for (int which = 1; which <= 2; which++) {
    valley_fp1d_t p = {which == 1 ? ex1_eval : ex2_eval, NULL, -2.5, 2.5, NULL};
    valley_steady_ctx_t ctx;
    valley_error_t err;
    int ok = valley_steady_prepare(&ctx, &p, NULL, NULL, NULL, 0, &err) == VALLEY_OK;
    check(t, ok, "B.1 example %d prepares", which);
    if (!ok) continue;
    for (int it = 0; it < 3; it++) {
      double T = it == 0 ? 0.05 : it == 1 ? 0.3 : 1.5;
      /* v by valley's quadrature against the closed form, relative to v(lo) */
      double worst = 0;
      valley_fp1d_eval_t e0;
      p.eval(p.lo, NULL, &e0);
      for (int i = 0; i <= 50; i++) {
        double x = p.lo + (p.hi - p.lo) * i / 50.0, want;
        valley_fp1d_eval_t e;
        p.eval(x, NULL, &e);
        if (which == 1)
          want = (1 + T / 2) * log(e.U / e0.U);
        else
          want = (e.U + 0.5 * e.U * e.U - 0.5 * T * log(1 + e.U)) -
                 (e0.U + 0.5 * e0.U * e0.U - 0.5 * T * log(1 + e0.U));
        double d = fabs(valley_steady_v(&ctx, x, T) - want) / (1 + fabs(want));
        if (d > worst) worst = d;
      }
      check(t, worst < 1e-11, "B.1 example %d, T = %g: v by quadrature = closed form (worst %.2g)",
            which, T, worst);
      /* E[U] from the closed-form density integrated in one piece (QAGS), against valley */
      valley_steady_t s;
      ok = valley_steady_solve(&ctx, T, &s, &err) == VALLEY_OK;
      check(t, ok, "B.1 example %d, T = %g solves", which, T);
      if (!ok) continue;
      double sc = 0;
      cf_t c0 = {which, T, 0}, c1 = {which, T, 1};
      for (size_t k = 0; k < s.nbasins; k++)
        if (s.basin[k].v_mu < sc) sc = s.basin[k].v_mu;
      gsl_function f0 = {cf_density, &c0}, f1 = {cf_density, &c1};
      double I0 = 0, I1 = 0, r, ae;
      double pts[VALLEY_STEADY_MAXB + 2];
      size_t np = 0;
      pts[np++] = p.lo;
      for (size_t k = 0; k < s.nbasins; k++)
        if (!s.basin[k].boundary) pts[np++] = s.basin[k].mu;
      pts[np++] = p.hi;
      gsl_integration_qagp(&f0, pts, np, 0, 1e-13, 2000, ws, &r, &ae);
      I0 = r;
      gsl_integration_qagp(&f1, pts, np, 0, 1e-13, 2000, ws, &r, &ae);
      I1 = r;
      check(t, close_rel(s.E_train, I1 / I0, 1e-9),
            "B.1 example %d, T = %g: E[U] %.13g = closed-form density %.13g", which, T, s.E_train,
            I1 / I0);
    }
    valley_steady_ctx_free(&ctx);
  }
  gsl_integration_workspace_free(ws);
}

/* ---- 3. internal consistency: closed form vs quadrature, Laplace limit, O(T) bias ---------- */

static void test_paths(check_t *t) {
  static const char *const presets[] = {"fig4-left-loss1", "fig6-three-loss5", "fig4-left"};
  for (int i = 0; i < 3; i++) {
    land_t A, B;
    if (land_open(&A, presets[i], 1) || land_open(&B, presets[i], 0)) {
      check(t, 0, "%s opens", presets[i]);
      continue;
    }
    check(t, A.ctx.closed_form && !B.ctx.closed_form, "%s: one closed-form, one quadrature path",
          presets[i]);
    double worst = 0;
    for (int j = 0; j <= 400; j++) {
      double x = -3 + 6.0 * j / 400;
      double d = fabs(valley_steady_F(&A.ctx, x) - valley_steady_F(&B.ctx, x));
      if (d > worst) worst = d;
    }
    /* the quadrature sums 6000 cell integrals, each to 1e-12 relative: 1e-10 absolute */
    check(t, worst < 1e-10, "%s: F by quadrature = closed form (worst %.2g)", presets[i], worst);
    valley_steady_t sa, sb;
    valley_error_t err;
    valley_steady_solve(&A.ctx, 0.1, &sa, &err);
    valley_steady_solve(&B.ctx, 0.1, &sb, &err);
    check(t, sa.nbasins == sb.nbasins && close_rel(sa.E_test, sb.E_test, 1e-10) &&
                 close_rel(sa.basin[0].weight, sb.basin[0].weight, 1e-9),
          "%s T = 0.1: both paths give the same weights and E_test", presets[i]);
    valley_steady_ctx_free(&A.ctx);
    valley_steady_ctx_free(&B.ctx);
  }

  /* Laplace (6) is the leading order in T: its error shrinks with T (fig6-three). */
  land_t L;
  if (land_open(&L, "fig6-three", 1) == 0) {
    double prev = INFINITY;
    int mono = 1;
    double Ts[] = {1.0, 0.3, 0.1, 0.03, 0.01};
    for (int i = 0; i < 5; i++) {
      valley_steady_t s;
      valley_error_t err;
      valley_steady_solve(&L.ctx, Ts[i], &s, &err);
      if (!(s.laplace_max_rel < prev)) mono = 0;
      prev = s.laplace_max_rel;
    }
    check(t, mono && prev < 1e-3, "fig6-three: Laplace weights converge to the exact ones as T "
                                  "falls (last %.2g at T = 0.01)", prev);
    valley_steady_ctx_free(&L.ctx);
  }

  /* Appendix B.2: b_k = (T/2) C_k^-1 D'(mu_k) = O(T).  With D = e^theta the prediction is
   * non-zero; the error of the leading-order formula is O(T^2): halving T quarters it. */
  if (land_open(&L, "fig4-left-exp1", 1) == 0) {
    double e1 = 0, e2 = 0, b1 = 0;
    for (int i = 0; i < 2; i++) {
      valley_steady_t s;
      valley_error_t err;
      valley_steady_solve(&L.ctx, i == 0 ? 0.02 : 0.01, &s, &err);
      for (size_t k = 0; k < s.nbasins; k++)
        if (fabs(s.basin[k].theta_tr + 1) < 0.01) {
          double e = fabs(s.basin[k].bias - s.basin[k].bias_pred);
          if (i == 0) {
            e1 = e;
            b1 = s.basin[k].bias;
          } else {
            e2 = e;
          }
        }
    }
    check(t, b1 < 0 && e1 < 0.01 * fabs(b1) && e1 / e2 > 3.5 && e1 / e2 < 4.5,
          "fig4-left-exp1: bias of v's minimum at -1 is O(T) (%.4g at T = 0.02), its error vs "
          "Appendix B.2 is O(T^2) (ratio %.3f on halving T)", b1, e1 / e2);
    valley_steady_ctx_free(&L.ctx);
  }
}

/* ---- 4. the Gauss-Hermite test loss against adaptive quadrature ------------------------- */

typedef struct {
  const valley_basin1d_t *b;
  double theta, sd;
} gh_t;

static double gh_f(double s, void *p) {
  const gh_t *g = p;
  double u[4];
  valley_basin1d_utr(g->b, g->theta + s, u);
  return u[0] * exp(-0.5 * s * s / (g->sd * g->sd)) / (g->sd * sqrt(2 * M_PI));
}

static double gh_error(int nodes) {
  valley_basin1d_t b;
  valley_error_t err;
  valley_basin1d_preset("fig4-left", &b, &err);
  b.test_shift = VALLEY_TSHIFT_AVERAGE;
  b.gh_nodes = nodes;
  if (valley_basin1d_init(&b, &err) != VALLEY_OK) return INFINITY;
  gsl_integration_workspace *ws = gsl_integration_workspace_alloc(1000);
  double worst = 0;
  for (int i = 0; i <= 100; i++) {
    gh_t g = {&b, -3 + 0.06 * i, b.shift};
    gsl_function f = {gh_f, &g};
    double r, ae;
    gsl_integration_qagi(&f, 1e-13, 1e-13, 1000, ws, &r, &ae);
    double d = fabs(valley_basin1d_utest(&b, g.theta) - r) / fabs(r);
    if (d > worst) worst = d;
  }
  gsl_integration_workspace_free(ws);
  return worst;
}

/* Gauss-Hermite converges only geometrically here: log(c + w N) bends sharply where the
 * narrow Gaussian meets the floor c (theta ~ -0.7 in fig4-left), a scale comparable to s.
 * Measured (docs/steady_state.md): 16 nodes 6.7e-5, 40 nodes 4.7e-7, 64 nodes 1.2e-8.  The
 * checks: the default (64) is below 1e-7, and the error falls by > 1000x from 16 to 64 nodes. */
static void test_gauss_hermite(check_t *t) {
  double e16 = gh_error(16), e64 = gh_error(64);
  valley_basin1d_t b;
  valley_basin1d_defaults(&b);
  check(t, b.gh_nodes == 64 && e64 < 1e-7 && e16 / e64 > 1000,
        "Gauss-Hermite test loss vs adaptive quadrature: 16 nodes %.2g, 64 nodes (default) %.2g",
        e16, e64);
}

/* ---- 5. the paper's statements about its examples ---------------------------------------- */

static int monotone(const double *v, size_t n, int up) {
  for (size_t i = 1; i < n; i++)
    if (up ? !(v[i] > v[i - 1]) : !(v[i] < v[i - 1])) return 0;
  return 1;
}

static void test_paper_statements(check_t *t) {
  enum { N = 40 };
  double T[N], wtr[N], wte[N], w1[N], w0[N], wm1[N];
  valley_steady_t *s = malloc(N * sizeof *s);
  valley_steady_logspace(0.01, 1.0, N, T);
  static const char *const presets[] = {"fig4-left", "fig4-right", "fig6-one", "fig6-three"};
  for (int p = 0; p < 4; p++) {
    land_t L;
    valley_error_t err;
    if (land_open(&L, presets[p], 1) ||
        valley_steady_sweep(&L.ctx, T, N, 0, s, NULL, NULL, &err) != VALLEY_OK) {
      check(t, 0, "%s sweeps", presets[p]);
      continue;
    }
    for (int i = 0; i < N; i++) {
      wtr[i] = s[i].E_train;
      wte[i] = s[i].E_test;
      w1[i] = weight_at(&s[i], 1.0);
      w0[i] = weight_at(&s[i], 0.0);
      wm1[i] = weight_at(&s[i], -1.0);
    }
    double To, Eo;
    int interior;
    valley_steady_optimal_T(&L.ctx, T, s, N, &To, &Eo, &interior, &err);
    if (p == 0) {
      /* Sec. 3.1 / Figure 4 (left): "As temperature increases, the steady-state distribution
       * transfers weight to the wider minimum which has lower shift-curvature, so that test
       * error decreases and training error increases." ... "there is a non-zero and finite
       * optimal temperature that minimizes test performance." */
      check(t, monotone(w1, N, 1), "fig4-left: weight of the wider minimum (+1) rises with T "
                                   "(%.4f -> %.4f)", w1[0], w1[N - 1]);
      check(t, monotone(wtr, N, 1), "fig4-left: E[U_train] rises with T");
      check(t, interior && Eo < wte[0] - 0.1 && Eo < wte[N - 1] - 0.1,
            "fig4-left: E[U_test] falls then rises: interior optimum T* = %.4g (E %.4f < %.4f "
            "at T = 0.01 and %.4f at T = 1)", To, Eo, wte[0], wte[N - 1]);
    } else if (p == 1 || p == 2) {
      /* Figure 4 (right): "There is no depth/curvature trade-off to explore, so both training
       * and test error worsen as T increases."  Figure 6 (left): "Train and test error both
       * increase as temperature increases." */
      check(t, monotone(wtr, N, 1) && monotone(wte, N, 1) && !interior,
            "%s: E[U_train] and E[U_test] both rise with T (%.4f -> %.4f, %.4f -> %.4f)",
            presets[p], wtr[0], wtr[N - 1], wte[0], wte[N - 1]);
    } else {
      /* Figure 6 (right): "the steady-state distribution moves probability mass from the
       * narrower deeper minimum at 0 toward the wider minima, with a preference for the widest
       * minimum at 1"; "Generalization improves (test error decreases while training error
       * increases) with increasing temperature". */
      int pref = 1;
      for (int i = 0; i < N; i++)
        if (!(w1[i] > wm1[i])) pref = 0;
      check(t, w0[0] > 0.9 && w0[N - 1] < w0[0] - 0.5 && pref,
            "fig6-three: mass leaves 0 (%.3f -> %.3f), +1 always above -1 (%.3f vs %.3f at T = 1)",
            w0[0], w0[N - 1], w1[N - 1], wm1[N - 1]);
      check(t, monotone(wtr, N, 1) && interior && Eo < wte[0] - 0.1,
            "fig6-three: E[U_train] rises while E[U_test] falls to T* = %.4g (%.4f < %.4f)", To,
            Eo, wte[0]);
    }
    valley_steady_ctx_free(&L.ctx);
  }
  free(s);
}

/* ---- 5b. the finite-volume steady state against the quadrature rho ---------------------- */

static double fv_l1(land_t *L, double T, size_t cells) {
  valley_steady_t s;
  valley_fv1d_result_t fr;
  valley_error_t err;
  double l1 = INFINITY;
  if (valley_steady_solve(&L->ctx, T, &s, &err) != VALLEY_OK) return l1;
  if (valley_fv1d_steady(&L->p, T, cells, 1e-12, 400, &fr, &err) != VALLEY_OK) return l1;
  for (size_t i = 0; i < fr.cells; i++) fr.rho[i] *= fr.h;
  valley_steady_l1_bins(&L->ctx, &s, fr.cells, fr.rho, &l1, &err);
  valley_fv1d_result_free(&fr);
  return l1;
}

/* Two algorithms that share nothing but the landscape: Scharfetter-Gummel finite volumes run to
 * steady state, and exp(-2v/T) by quadrature.  The bar is L1 < 1e-4; the scheme is second
 * order (docs/fokker_planck_fv.md), so the check is also that doubling the cells divides the L1
 * by 4 +- 0.5 (a discretisation error, not a disagreement). */
static void test_fv_cross(check_t *t) {
  static const char *const presets[] = {"fig4-left", "fig6-three", "fig6-three-grad1",
                                        "fig4-left-exp1"};
  for (int i = 0; i < 4; i++) {
    land_t L;
    if (land_open(&L, presets[i], 1)) continue;
    double a = fv_l1(&L, 0.1, 12000), b = fv_l1(&L, 0.1, 24000), c = fv_l1(&L, 0.01, 64000);
    check(t, b < 1e-4 && c < 1e-4 && a / b > 3.5 && a / b < 4.5,
          "%s: finite volumes vs quadrature rho: L1 %.2g (T = 0.1, 24000 cells), %.2g (T = 0.01, "
          "64000 cells), order ratio %.2f", presets[i], b, c, a / b);
    valley_steady_ctx_free(&L.ctx);
  }
}

/* ---- 6. reproducibility, small T, bad input ---------------------------------------------- */

static void test_misc(check_t *t) {
  land_t L;
  if (land_open(&L, "fig6-three-grad1", 1) == 0) {
    enum { N = 24 };
    double T[N];
    valley_steady_t *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b);
    valley_steady_logspace(1e-4, 2, N, T);
    valley_error_t err;
    int ok = valley_steady_sweep(&L.ctx, T, N, 1, a, NULL, NULL, &err) == VALLEY_OK &&
             valley_steady_sweep(&L.ctx, T, N, 2, b, NULL, NULL, &err) == VALLEY_OK;
    check(t, ok && memcmp(a, b, N * sizeof *a) == 0,
          "sweep results are byte-identical with 1 and 2 threads");
    int finite = ok;
    for (int i = 0; i < N && ok; i++) {
      double sum = 0;
      for (size_t k = 0; k < a[i].nbasins; k++) sum += a[i].basin[k].weight;
      if (!isfinite(a[i].log_Z) || !isfinite(a[i].E_train) || fabs(sum - 1) > 1e-12) finite = 0;
    }
    check(t, finite, "T from 1e-4 to 2: log Z and E finite, weights sum to 1 (log space)");
    free(a);
    free(b);
    valley_steady_ctx_free(&L.ctx);
  }

  /* bin probabilities (each bin its own QAGP) sum to 1: the basins' integrals, independently */
  if (land_open(&L, "fig6-three", 1) == 0) {
    double T[] = {1e-3, 0.1, 1};
    for (int i = 0; i < 3; i++) {
      valley_steady_t s;
      valley_error_t err;
      double p[300], sum = 0;
      int ok = valley_steady_solve(&L.ctx, T[i], &s, &err) == VALLEY_OK &&
               valley_steady_bin_probs(&L.ctx, &s, 300, p, &err) == VALLEY_OK;
      for (int j = 0; j < 300; j++) sum += p[j];
      check(t, ok && fabs(sum - 1) < 1e-10, "fig6-three T = %g: 300 bin probabilities sum to 1 "
                                            "(%.15f)", T[i], sum);
    }
    valley_steady_ctx_free(&L.ctx);
  }

  valley_basin1d_t b;
  valley_error_t err;
  valley_basin1d_preset("fig4-left", &b, &err);
  b.sigmas[1] = 0;
  check(t, valley_basin1d_init(&b, &err) == VALLEY_EINVAL && strstr(err.message, "sigmas[1]"),
        "a zero sigma is rejected: %s", err.message);
  valley_basin1d_preset("fig4-left", &b, &err);
  b.weights[0] = -1;
  check(t, valley_basin1d_init(&b, &err) == VALLEY_EINVAL && strstr(err.message, "weights[0]"),
        "a negative weight is rejected: %s", err.message);
  valley_basin1d_preset("fig4-left", &b, &err);
  b.hi = 0.5;
  check(t, valley_basin1d_init(&b, &err) == VALLEY_EDOM && strstr(err.message, "excludes"),
        "a domain that excludes a minimum is rejected: %s", err.message);
  check(t, valley_basin1d_preset("fig9", &b, &err) == VALLEY_EINVAL, "unknown preset: %s",
        err.message);
  if (land_open(&L, "fig4-left", 1) == 0) {
    valley_steady_t s;
    check(t, valley_steady_solve(&L.ctx, 0, &s, &err) == VALLEY_EINVAL, "T = 0 is rejected: %s",
          err.message);
    check(t, valley_steady_solve(&L.ctx, -1, &s, &err) == VALLEY_EINVAL, "T < 0 is rejected");
    valley_steady_ctx_free(&L.ctx);
  }

  /* spec files: a good one reproduces the preset; bad ones name the line */
  char path[] = "/tmp/valley_spec_XXXXXX";
  int fd = mkstemp(path);
  FILE *f = fdopen(fd, "w");
  fprintf(f, "# fig4-left\nminima = -1 1\nweights = 0.021, 0.1\nsigmas = [0.1 0.5]\n"
             "c = 0.001\nstddev_shift = 0.1\n");
  fclose(f);
  valley_basin1d_t a;
  valley_basin1d_preset("fig4-left", &b, &err);
  int ok = valley_basin1d_read_spec(path, &a, &err) == VALLEY_OK;
  check(t, ok && a.n == 2 && a.umin == b.umin && a.shift == b.shift, "spec file = preset%s%s",
        ok ? "" : ": ", ok ? "" : err.message);
  static const char *const bad[][2] = {
      {"minima = -1 1\nweights = 0.1\nsigmas = 0.1 0.5\n", ":2:"},
      {"minima = -1 1\nweights = 0.1 0.1\nsigmas = 0.1 0.5\nc = abc\n", ":4:"},
      {"minima = -1 1\nweights = 0.1 0.1\nfoo = 1\n", ":3:"},
      {"minima = -1 1\nweights = 0.1 0.1\nsigmas = 0.1 -0.5\n", ":3:"},
      {"minima = -1 1\nweights 0.1 0.1\n", ":2:"},
      {"minima = 1\nweights = 0.1\nsigmas = 0.1\ndomain = 2 3\n", "excludes"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    f = fopen(path, "w");
    fputs(bad[i][0], f);
    fclose(f);
    valley_status_t st = valley_basin1d_read_spec(path, &a, &err);
    check(t, st != VALLEY_OK && strstr(err.message, bad[i][1]) != NULL,
          "bad spec %zu rejected, naming '%s': %s", i, bad[i][1], err.message);
  }
  unlink(path);
}

int main(int argc, char **argv) {
  check_t t = {0, 0};
  gsl_set_error_handler_off();
  if (argc > 1) test_reference(&t, argv[1]);
  test_closed_forms(&t);
  test_paths(&t);
  test_gauss_hermite(&t);
  test_paper_statements(&t);
  test_fv_cross(&t);
  test_misc(&t);
  return check_done(&t);
}
