/* Checks of the SGD steady state (shift-curvature-paper.txt: eqs. (5)-(8), Figure 4 and
 * G.2.6, Appendix A's validity conditions, Appendix B.1's examples and Assumption 1, Appendix
 * C's reparametrization invariance) for `valley check`, group "steady".  The computations are
 * valley's own (theorems/steady.c, sim/fv1d.c, sim/fv2d.c, theorems/curl2d.c, sim/langevin.c);
 * this file picks the cases, calls the decision rules of check_steady.h and draws the figures.
 * docs/check_steady.md describes each check. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "valley/basin1d.h"
#include "valley/curl2d.h"
#include "valley/fp2d.h"
#include "valley/fv.h"
#include "valley/langevin.h"
#include "valley/steady.h"
#include "check_steady.h"
#include "checks_internal.h"

/* ---- decision rules ------------------------------------------------------------------------ */

valley_check_verdict_t valley_steady_decide_fv(double l1_coarse, double l1_fine, double bar,
                                               double *order) {
  double ratio = l1_coarse / l1_fine;
  if (order != NULL) *order = log2(ratio);
  if (!isfinite(l1_coarse) || !isfinite(l1_fine) || !(l1_fine >= 0) || !(bar > 0))
    return VALLEY_CHECK_INCONCLUSIVE;
  if (l1_fine <= bar && (ratio >= 3 || l1_fine <= 1e-3 * bar)) return VALLEY_CHECK_PASS;
  if (l1_fine > bar && !(ratio >= 1.5)) return VALLEY_CHECK_FAIL;
  return VALLEY_CHECK_INCONCLUSIVE;
}

static valley_check_verdict_t decide_within(size_t n, const double *obs, const double *ref,
                                            double floor, size_t *worst) {
  if (worst != NULL) *worst = 0;
  if (n == 0 || !(floor >= 0)) return VALLEY_CHECK_INCONCLUSIVE;
  double wr = -1;
  int ok = 1;
  for (size_t i = 0; i < n; i++) {
    if (isnan(obs[i]) || isnan(ref[i])) return VALLEY_CHECK_INCONCLUSIVE;
    double tol = 2 * fabs(ref[i]) + floor;
    double q = fabs(obs[i]) / tol;
    if (!(q <= 1)) ok = 0;
    if (q > wr || isnan(q)) {
      wr = q;
      if (worst != NULL) *worst = i;
    }
  }
  return ok ? VALLEY_CHECK_PASS : VALLEY_CHECK_FAIL;
}

valley_check_verdict_t valley_steady_decide_laplace(size_t n, const double *obs,
                                                    const double *pred, double floor,
                                                    size_t *worst) {
  return decide_within(n, obs, pred, floor, worst);
}

valley_check_verdict_t valley_steady_decide_leading(size_t n, const double *gap, const double *oT,
                                                    double floor, size_t *worst) {
  return decide_within(n, gap, oT, floor, worst);
}

int valley_steady_trend(size_t n, const double *y, double tol) {
  double m = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(y[i])) return 0;
    if (fabs(y[i]) > m) m = fabs(y[i]);
  }
  int up = 1, down = 1;
  for (size_t i = 1; i < n; i++) {
    double d = y[i] - y[i - 1];
    if (d < -tol * m) up = 0;
    if (d > tol * m) down = 0;
  }
  if (up && down) return 2;
  return up ? 1 : down ? -1 : 0;
}

int valley_steady_interior_min(size_t n, const double *y) {
  if (n < 3) return 0;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(y[i])) return 0;
    if (y[i] < y[k]) k = i;
  }
  return k > 0 && k + 1 < n && y[k] < y[0] && y[k] < y[n - 1];
}

valley_check_verdict_t valley_steady_decide_statements(size_t n, const int *ok) {
  if (n == 0) return VALLEY_CHECK_INCONCLUSIVE;
  for (size_t i = 0; i < n; i++)
    if (!ok[i]) return VALLEY_CHECK_NOT_REPRODUCED;
  return VALLEY_CHECK_PASS;
}

valley_check_verdict_t valley_steady_decide_curl(double l1_nocurl, double ref_nocurl,
                                                 double l1_curl, double ref_curl) {
  if (isnan(l1_nocurl) || isnan(ref_nocurl) || isnan(l1_curl) || isnan(ref_curl))
    return VALLEY_CHECK_INCONCLUSIVE;
  if (!(l1_nocurl <= 2 * ref_nocurl)) return VALLEY_CHECK_FAIL;
  if (!(l1_curl >= 10 * ref_curl)) return VALLEY_CHECK_INCONCLUSIVE;
  return VALLEY_CHECK_PASS;
}

valley_check_verdict_t valley_steady_decide_reparam(double exact_diff, double exact_tol,
                                                    double approx_hi, double approx_lo) {
  if (isnan(exact_diff) || isnan(approx_hi) || isnan(approx_lo) || !(exact_tol > 0))
    return VALLEY_CHECK_INCONCLUSIVE;
  if (exact_diff > exact_tol) return VALLEY_CHECK_FAIL;
  double ratio = approx_hi / approx_lo;
  if (approx_hi <= exact_tol && approx_lo <= exact_tol) return VALLEY_CHECK_PASS;
  if (ratio >= 1.5) return VALLEY_CHECK_PASS;
  if (ratio < 1.2) return VALLEY_CHECK_FAIL;
  return VALLEY_CHECK_INCONCLUSIVE;
}

valley_check_verdict_t valley_steady_decide_sgd(size_t n, const double *lamC, const double *z,
                                                double small, double large, double zcrit) {
  int nsmall = 0, nlarge = 0, small_bad = 0, large_departs = 0;
  for (size_t i = 0; i < n; i++) {
    if (isnan(lamC[i]) || isnan(z[i])) return VALLEY_CHECK_INCONCLUSIVE;
    if (lamC[i] <= small) {
      nsmall++;
      if (z[i] > zcrit) small_bad = 1;
    }
    if (lamC[i] >= large) {
      nlarge++;
      if (z[i] > zcrit) large_departs = 1;
    }
  }
  if (nsmall == 0 || nlarge == 0) return VALLEY_CHECK_INCONCLUSIVE;
  if (small_bad || !large_departs) return VALLEY_CHECK_NOT_REPRODUCED;
  return VALLEY_CHECK_PASS;
}

/* ---- shared pieces --------------------------------------------------------------------------- */

/* A preset landscape and its prepared steady state.  Heap-allocated: the problem points at b. */
typedef struct {
  valley_basin1d_t b;
  valley_fp1d_t p;
  valley_steady_ctx_t ctx;
} land_t;

static void land_free(land_t *L) {
  if (L == NULL) return;
  valley_steady_ctx_free(&L->ctx);
  free(L);
}

static valley_status_t land_open(const char *preset, land_t **out, valley_error_t *err) {
  *out = NULL;
  land_t *L = calloc(1, sizeof *L);
  if (L == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "a landscape");
  valley_status_t st = valley_basin1d_preset(preset, &L->b, err);
  if (st != VALLEY_OK) {
    free(L);
    return st;
  }
  valley_basin1d_problem(&L->b, &L->p);
  valley_steady_config_t cfg;
  valley_steady_config_default(&cfg);
  st = valley_steady_prepare(&L->ctx, &L->p, valley_basin1d_utest3, &L->b, &cfg, 1, err);
  if (st != VALLEY_OK) {
    free(L);
    return st;
  }
  *out = L;
  return VALLEY_OK;
}

static const char *const PRESETS[4] = {"fig4-left", "fig4-right", "fig6-one", "fig6-three"};

/* ---- eq. (5): the formula is the steady state of the Fokker-Planck equation --------------- */

valley_status_t valley_check_steady_eq5(valley_check_run_t *r, valley_error_t *err) {
  const valley_check_config_t *cc = valley_check_cfg(r);
  valley_json_t *j = valley_check_json(r);
  size_t cells = cc->scale == VALLEY_CHECK_QUICK ? 3000 : cc->scale == VALLEY_CHECK_FULL ? 48000
                                                                                         : 12000;
  const double T[2] = {0.1, 0.02};
  const double bar = 1e-4;
  valley_check_verdict_t worst_v = VALLEY_CHECK_PASS;
  char summary[1024];
  size_t used = 0;
  summary[0] = 0;
  valley_json_number(j, "bar", bar);
  valley_json_u64(j, "cells_coarse", cells);
  valley_json_u64(j, "cells_fine", 2 * cells);
  valley_json_array(j, "cases");
  valley_status_t st = VALLEY_OK;
  for (int pi = 0; pi < 4 && st == VALLEY_OK; pi++) {
    land_t *L;
    if ((st = land_open(PRESETS[pi], &L, err)) != VALLEY_OK) break;
    for (int ti = 0; ti < 2 && st == VALLEY_OK; ti++) {
      valley_steady_t *s = malloc(sizeof *s);
      if (s == NULL) {
        st = VALLEY_ERROR(err, VALLEY_ENOMEM, "a steady state");
        break;
      }
      st = valley_steady_solve(&L->ctx, T[ti], s, err);
      double l1[2] = {NAN, NAN};
      for (int g = 0; g < 2 && st == VALLEY_OK; g++) {
        valley_fv1d_result_t fr;
        st = valley_fv1d_steady(&L->p, T[ti], cells << g, 1e-12, 400, &fr, err);
        if (st != VALLEY_OK) break;
        for (size_t i = 0; i < fr.cells; i++) fr.rho[i] *= fr.h;
        st = valley_steady_l1_bins(&L->ctx, s, fr.cells, fr.rho, &l1[g], err);
        valley_fv1d_result_free(&fr);
      }
      free(s);
      if (st != VALLEY_OK) break;
      double order;
      valley_check_verdict_t v = valley_steady_decide_fv(l1[0], l1[1], bar, &order);
      valley_json_object(j, NULL);
      valley_json_string(j, "preset", PRESETS[pi]);
      valley_json_number(j, "T", T[ti]);
      valley_json_number(j, "l1_coarse", l1[0]);
      valley_json_number(j, "l1_fine", l1[1]);
      valley_json_number(j, "order", order);
      valley_json_string(j, "verdict", valley_check_verdict_name(v));
      valley_json_object_end(j);
      if (v == VALLEY_CHECK_FAIL || (v == VALLEY_CHECK_INCONCLUSIVE && worst_v == VALLEY_CHECK_PASS))
        worst_v = v;
      if (used < sizeof summary)
        used += (size_t)snprintf(summary + used, sizeof summary - used, "%s%s T=%g: %.2g (order %.2f)",
                                 used ? "; " : "", PRESETS[pi], T[ti], l1[1], order);
    }
    land_free(L);
  }
  valley_json_array_end(j);
  if (st != VALLEY_OK) return st;
  valley_check_verdict(r, worst_v,
                       "L1(FV steady state, eq. (5)) at %zu cells, bar %g, must fall ~4x from %zu "
                       "cells: %s",
                       2 * cells, bar, cells, summary);
  return VALLEY_OK;
}

/* ---- eq. (6): Laplace weights against exact weights ---------------------------------------- */

/* v''' and v'''' at x by central differences of valley_steady_v. */
static void v34(const valley_steady_ctx_t *ctx, double x, double T, double h, double *v3,
                double *v4) {
  double m2 = valley_steady_v(ctx, x - 2 * h, T), m1 = valley_steady_v(ctx, x - h, T);
  double z = valley_steady_v(ctx, x, T);
  double p1 = valley_steady_v(ctx, x + h, T), p2 = valley_steady_v(ctx, x + 2 * h, T);
  *v3 = (p2 - 2 * p1 + 2 * m1 - m2) / (2 * h * h * h);
  *v4 = (p2 - 4 * p1 + 6 * z - 4 * m1 + m2) / (h * h * h * h);
}

valley_status_t valley_check_steady_eq6(valley_check_run_t *r, valley_error_t *err) {
  valley_json_t *j = valley_check_json(r);
  const double T[4] = {0.003, 0.01, 0.03, 0.1};
  enum { MAXN = 4 * 4 * 4 };
  double obs[MAXN], pred[MAXN];
  char label[MAXN][48];
  size_t n = 0;
  valley_status_t st = VALLEY_OK;
  valley_json_array(j, "basins");
  for (int pi = 0; pi < 4 && st == VALLEY_OK; pi++) {
    land_t *L;
    if ((st = land_open(PRESETS[pi], &L, err)) != VALLEY_OK) break;
    valley_steady_t *s = malloc(sizeof *s);
    if (s == NULL) st = VALLEY_ERROR(err, VALLEY_ENOMEM, "a steady state");
    for (int ti = 0; ti < 4 && st == VALLEY_OK; ti++) {
      if ((st = valley_steady_solve(&L->ctx, T[ti], s, err)) != VALLEY_OK) break;
      double eps[VALLEY_STEADY_MAXB], wsum = 0;
      for (size_t k = 0; k < s->nbasins; k++) {
        const valley_steady_basin_t *B = &s->basin[k];
        eps[k] = NAN;
        if (!isfinite(B->v2) || B->boundary || B->kink) continue;
        double v3, v4, h = 0.05 / sqrt(B->v2);
        v34(&L->ctx, B->mu, T[ti], h, &v3, &v4);
        /* int exp(-n f) = exp(-n f0) sqrt(2 pi / (n f2)) (1 + (1/n)(5 f3^2/(24 f2^3) -
         * f4/(8 f2^2)) + O(n^-2)), n = 2/T */
        eps[k] = 0.5 * T[ti] * (5 * v3 * v3 / (24 * B->v2 * B->v2 * B->v2) -
                                v4 / (8 * B->v2 * B->v2));
        wsum += B->weight * eps[k];
      }
      for (size_t k = 0; k < s->nbasins && n < MAXN; k++) {
        const valley_steady_basin_t *B = &s->basin[k];
        if (isnan(eps[k])) continue;
        obs[n] = expm1(B->log_weight_laplace - B->log_weight);
        pred[n] = -eps[k] + wsum;
        snprintf(label[n], sizeof label[n], "%s T=%g basin %.3g", PRESETS[pi], T[ti], B->mu);
        valley_json_object(j, NULL);
        valley_json_string(j, "preset", PRESETS[pi]);
        valley_json_number(j, "T", T[ti]);
        valley_json_number(j, "mu", B->mu);
        valley_json_number(j, "weight_exact", B->weight);
        valley_json_number(j, "weight_laplace", B->weight_laplace);
        valley_json_number(j, "rel_error", obs[n]);
        valley_json_number(j, "rel_error_predicted", pred[n]);
        valley_json_object_end(j);
        n++;
      }
    }
    free(s);
    land_free(L);
  }
  valley_json_array_end(j);
  if (st != VALLEY_OK) return st;
  const double floor = 1e-9;
  size_t w;
  valley_check_verdict_t v = valley_steady_decide_laplace(n, obs, pred, floor, &w);
  double maxobs = 0;
  for (size_t i = 0; i < n; i++)
    if (fabs(obs[i]) > maxobs) maxobs = fabs(obs[i]);
  valley_json_number(j, "max_abs_rel_error", maxobs);
  valley_check_verdict(r, v,
                       "%zu basin weights (4 presets, T = 0.003..0.1): |w_laplace/w_exact - 1| <= "
                       "2|leading Laplace correction| + %g %s; max |error| %.3g; tightest %s: "
                       "error %.3g vs predicted %.3g",
                       n, floor, v == VALLEY_CHECK_PASS ? "everywhere" : "FAILS", maxobs,
                       n ? label[w] : "-", n ? obs[w] : NAN, n ? pred[w] : NAN);
  return VALLEY_OK;
}

/* ---- eqs. (7), (8): the leading-order expected test loss ---------------------------------- */

valley_status_t valley_check_steady_eq78(valley_check_run_t *r, valley_error_t *err) {
  valley_json_t *j = valley_check_json(r);
  const double T[3] = {1e-4, 1e-3, 1e-2};
  double gap7[4], gap8[4], oT[4], rem[4], Eex[4];
  valley_status_t st = VALLEY_OK;
  valley_json_array(j, "cases");
  for (int pi = 0; pi < 4 && st == VALLEY_OK; pi++) {
    land_t *L;
    if ((st = land_open(PRESETS[pi], &L, err)) != VALLEY_OK) break;
    valley_steady_t *s = malloc(sizeof *s);
    if (s == NULL) st = VALLEY_ERROR(err, VALLEY_ENOMEM, "a steady state");
    for (int ti = 0; ti < 3 && st == VALLEY_OK; ti++) {
      if ((st = valley_steady_solve(&L->ctx, T[ti], s, err)) != VALLEY_OK) break;
      /* The remainder of the Taylor expansion (3) at the train minima: the T -> 0 limit of
       * E_test minus eq. (7). */
      double R = 0;
      for (size_t k = 0; k < s->nbasins; k++) {
        const valley_steady_basin_t *B = &s->basin[k];
        if (!isfinite(B->theta_tr) || !isfinite(B->U_test)) continue;
        R += B->weight * (valley_basin1d_utest(&L->b, B->theta_tr) - B->U_test -
                          0.5 * B->shift * B->shift * B->C_test);
      }
      double g7 = s->E_test - s->E_test_eq7, g8 = s->E_test - s->E_test_eq8;
      double o = s->E_test_eq4 - s->E_test_eq7;
      valley_json_object(j, NULL);
      valley_json_string(j, "preset", PRESETS[pi]);
      valley_json_number(j, "T", T[ti]);
      valley_json_number(j, "E_test", s->E_test);
      valley_json_number(j, "E_test_eq4", s->E_test_eq4);
      valley_json_number(j, "E_test_eq7", s->E_test_eq7);
      valley_json_number(j, "E_test_eq8", s->E_test_eq8);
      valley_json_number(j, "O_T_terms", o);
      valley_json_number(j, "taylor_remainder", R);
      valley_json_object_end(j);
      if (ti == 0) {
        gap7[pi] = g7;
        gap8[pi] = g8;
        oT[pi] = o;
        rem[pi] = R;
        Eex[pi] = s->E_test;
      }
    }
    free(s);
    land_free(L);
  }
  valley_json_array_end(j);
  if (st != VALLEY_OK) return st;
  /* the floor: the quadrature's relative accuracy (1e-8 of E, docs/steady_state.md) */
  double floor = 1e-8 * Eex[0];
  size_t w7, w8;
  valley_check_verdict_t v7 = valley_steady_decide_leading(4, gap7, oT, floor, &w7);
  valley_check_verdict_t v8 = valley_steady_decide_leading(4, gap8, oT, floor, &w8);
  valley_check_verdict_t v = v7 == VALLEY_CHECK_PASS ? v8 : v7;
  char list[600];
  size_t used = 0;
  list[0] = 0;
  for (int pi = 0; pi < 4; pi++) {
    int ok = fabs(gap7[pi]) <= 2 * fabs(oT[pi]) + floor && fabs(gap8[pi]) <= 2 * fabs(oT[pi]) + floor;
    used += (size_t)snprintf(list + used, sizeof list - used,
                             "%s%s %s: gap(7) %.3g (%.2g%%), gap(8) %.3g, O(T) terms %.2g, "
                             "Taylor remainder of (3) %.3g",
                             pi ? "; " : "", PRESETS[pi], ok ? "ok" : "FAILS", gap7[pi],
                             100 * gap7[pi] / Eex[pi], gap8[pi], oT[pi], rem[pi]);
    if (used >= sizeof list) break;
  }
  valley_check_verdict(r, v,
                       "at T = 1e-4, |E_test exact - eq.| must be <= 2|O(T) terms| (eq. (4) - "
                       "eq. (7)) + %.2g: %s.  A gap that stays as T -> 0 is the O(s^3 U''') "
                       "remainder of the Taylor expansion (3), which '+ O(T)' leaves out",
                       floor, list);
  return VALLEY_OK;
}

/* ---- Figure 4 and G.2.6 ---------------------------------------------------------------- */

typedef struct {
  const char *name, *preset, *fig;
  double Tmin, Tmax;
} figspec_t;

/* The four panels of a figure: objective, steady state at several T, basin probabilities vs T,
 * train/test loss vs T. */
static valley_status_t fig_panels(valley_check_run_t *r, const figspec_t *F, const land_t *L,
                                  const double *T, const valley_steady_t *sw, size_t nT,
                                  valley_error_t *err) {
  FILE *f;
  char name[96], cap[320];
  const valley_basin1d_t *b = &L->b;
  snprintf(name, sizeof name, "%s-objective", F->name);
  snprintf(cap, sizeof cap, "%s, objective: the train loss U_tr and the test loss "
                            "U_test(theta) = U_tr(theta + s), s = %g.", F->fig, b->shift);
  valley_status_t st = valley_check_figure(r, name, cap, &f, err);
  if (st != VALLEY_OK) return st;
  fprintf(f, "# %s objective (preset %s)\ntheta,U_train,U_test\n", F->fig, F->preset);
  for (int i = 0; i <= 600; i++) {
    double x = -2.5 + 5.0 * i / 600, u[4];
    valley_basin1d_utr(b, x, u);
    fprintf(f, "%.17g,%.17g,%.17g\n", x, u[0], valley_basin1d_utest(b, x));
  }
  valley_check_figure_plot(r, "set xlabel 'theta'\nset ylabel 'loss'\nset grid\n"
                              "plot DATA using 1:2 with lines lw 2, DATA using 1:3 with lines "
                              "lw 2 dt 2");

  /* steady states at four temperatures */
  const double Ts[4] = {0.02, 0.1, 0.3, 1.0};
  valley_steady_t *s = malloc(sizeof *s);
  if (s == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "a steady state");
  double *rho = malloc(4 * 601 * sizeof *rho);
  if (rho == NULL) {
    free(s);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "densities");
  }
  for (int ti = 0; ti < 4 && st == VALLEY_OK; ti++) {
    st = valley_steady_solve(&L->ctx, Ts[ti], s, err);
    for (int i = 0; i <= 600 && st == VALLEY_OK; i++)
      rho[ti * 601 + i] = exp(valley_steady_log_density(&L->ctx, s, -2.5 + 5.0 * i / 600));
  }
  free(s);
  snprintf(name, sizeof name, "%s-steady", F->name);
  snprintf(cap, sizeof cap, "%s, steady state eq. (5) at T = 0.02, 0.1, 0.3, 1 (log scale): mass "
                            "spreads from the deepest minimum as T grows.", F->fig);
  if (st == VALLEY_OK) st = valley_check_figure(r, name, cap, &f, err);
  if (st == VALLEY_OK) {
    fprintf(f, "# %s steady state (preset %s)\ntheta,T=0.02,T=0.1,T=0.3,T=1\n", F->fig, F->preset);
    for (int i = 0; i <= 600; i++)
      fprintf(f, "%.17g,%.17g,%.17g,%.17g,%.17g\n", -2.5 + 5.0 * i / 600, rho[i], rho[601 + i],
              rho[2 * 601 + i], rho[3 * 601 + i]);
    valley_check_figure_plot(r, "set xlabel 'theta'\nset ylabel 'rho(theta)'\nset logscale y\n"
                                "set yrange [1e-4:*]\nset grid\nplot for [c=2:5] DATA using 1:c "
                                "with lines lw 2");
  }
  free(rho);
  if (st != VALLEY_OK) return st;

  /* basin probabilities vs T */
  size_t nb = sw[0].nbasins;
  snprintf(name, sizeof name, "%s-basins", F->name);
  snprintf(cap, sizeof cap, "%s, probability of each basin vs T: exact (lines), eq. (6) (points).",
           F->fig);
  if ((st = valley_check_figure(r, name, cap, &f, err)) != VALLEY_OK) return st;
  fprintf(f, "# %s basin probabilities (preset %s)\nT", F->fig, F->preset);
  for (size_t k = 0; k < nb; k++) fprintf(f, ",basin %.3g", sw[0].basin[k].mu);
  for (size_t k = 0; k < nb; k++) fprintf(f, ",eq6 %.3g", sw[0].basin[k].mu);
  fputc('\n', f);
  for (size_t i = 0; i < nT; i++) {
    fprintf(f, "%.17g", T[i]);
    for (size_t k = 0; k < nb; k++)
      fprintf(f, ",%.17g", sw[i].nbasins == nb ? sw[i].basin[k].weight : NAN);
    for (size_t k = 0; k < nb; k++)
      fprintf(f, ",%.17g", sw[i].nbasins == nb ? sw[i].basin[k].weight_laplace : NAN);
    fputc('\n', f);
  }
  valley_check_figure_plot(r, "set xlabel 'T'\nset ylabel 'basin probability'\nset logscale x\n"
                              "set yrange [0:1.05]\nset grid\nset key outside\n"
                              "plot for [c=2:%zu] DATA using 1:c with lines lw 2 lc c-1, "
                              "for [c=%zu:%zu] DATA using 1:c with points pt 6 lc c-%zu",
                           1 + nb, 2 + nb, 1 + 2 * nb, 1 + nb);

  /* train / test loss vs T */
  snprintf(name, sizeof name, "%s-losses", F->name);
  snprintf(cap, sizeof cap, "%s, expected train and test loss under rho vs T (exact), and eq. (7).",
           F->fig);
  if ((st = valley_check_figure(r, name, cap, &f, err)) != VALLEY_OK) return st;
  fprintf(f, "# %s expected losses (preset %s)\nT,E_train,E_test,E_test eq. (7)\n", F->fig,
          F->preset);
  for (size_t i = 0; i < nT; i++)
    fprintf(f, "%.17g,%.17g,%.17g,%.17g\n", T[i], sw[i].E_train, sw[i].E_test, sw[i].E_test_eq7);
  valley_check_figure_plot(r, "set xlabel 'T'\nset ylabel 'expected loss'\nset logscale x\n"
                              "set grid\nset key left top\nplot DATA using 1:2 with lines lw 2, "
                              "DATA using 1:3 with lines lw 2, DATA using 1:4 with lines dt 2");
  return VALLEY_OK;
}

/* The basin holding the training minimum nearest x. */
static size_t basin_at(const valley_steady_t *s, double x) {
  size_t best = 0;
  for (size_t k = 1; k < s->nbasins; k++)
    if (fabs(s->basin[k].mu - x) < fabs(s->basin[best].mu - x)) best = k;
  return best;
}

static valley_status_t fig_check(valley_check_run_t *r, const figspec_t *F, valley_error_t *err) {
  const valley_check_config_t *cc = valley_check_cfg(r);
  valley_json_t *j = valley_check_json(r);
  size_t nT = cc->scale == VALLEY_CHECK_QUICK ? 24 : cc->scale == VALLEY_CHECK_FULL ? 200 : 40;
  land_t *L;
  valley_status_t st = land_open(F->preset, &L, err);
  if (st != VALLEY_OK) return st;
  double *T = malloc(nT * sizeof *T), *Etr = malloc(nT * sizeof *Etr),
         *Ete = malloc(nT * sizeof *Ete), *w = malloc(3 * nT * sizeof *w);
  valley_steady_t *sw = malloc(nT * sizeof *sw);
  if (T == NULL || Etr == NULL || Ete == NULL || w == NULL || sw == NULL) {
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "a sweep of %zu temperatures", nT);
    goto done;
  }
  valley_steady_logspace(F->Tmin, F->Tmax, nT, T);
  if ((st = valley_steady_sweep(&L->ctx, T, nT, cc->threads, sw, NULL, NULL, err)) != VALLEY_OK)
    goto done;
  double Topt = NAN, Eopt = NAN;
  int interior = 0;
  if ((st = valley_steady_optimal_T(&L->ctx, T, sw, nT, &Topt, &Eopt, &interior, err)) != VALLEY_OK)
    goto done;
  const double at[3] = {-1, 0, 1};
  for (size_t i = 0; i < nT; i++) {
    Etr[i] = sw[i].E_train;
    Ete[i] = sw[i].E_test;
    for (int m = 0; m < 3; m++) w[m * nT + i] = sw[i].basin[basin_at(&sw[i], at[m])].weight;
  }
  const double tol = 1e-12;
  int ok[5];
  size_t nok = 0;
  char what[600];
  int tr_train = valley_steady_trend(nT, Etr, tol), tr_test = valley_steady_trend(nT, Ete, tol);
  int imin = valley_steady_interior_min(nT, Ete);
  if (strcmp(F->preset, "fig4-left") == 0) {
    int tr_w = valley_steady_trend(nT, w + 2 * nT, tol);
    /* the wider minimum (+1) has the lower shift-curvature */
    const valley_steady_basin_t *Bm = &sw[0].basin[basin_at(&sw[0], -1)];
    const valley_steady_basin_t *Bp = &sw[0].basin[basin_at(&sw[0], 1)];
    double scm = 0.5 * Bm->shift * Bm->shift * Bm->C_test, scp = 0.5 * Bp->shift * Bp->shift * Bp->C_test;
    ok[nok++] = tr_w == 1;
    ok[nok++] = scp < scm;
    ok[nok++] = tr_train == 1;
    ok[nok++] = imin && interior;
    snprintf(what, sizeof what,
             "w(+1) %s with T (%.3g -> %.3g); shift-curvature +1: %.3g < -1: %.3g %s; E_train %s "
             "(%.4f -> %.4f); E_test optimum T* = %.4g (interior %d), E_test(T*) = %.5f vs "
             "%.5f (T=%g) and %.5f (T=%g)",
             tr_w == 1 ? "rises" : "does NOT rise monotonically", w[2 * nT], w[3 * nT - 1], scp,
             scm, scp < scm ? "holds" : "FAILS", tr_train == 1 ? "rises" : "does NOT rise",
             Etr[0], Etr[nT - 1], Topt, interior, Eopt, Ete[0], T[0], Ete[nT - 1], T[nT - 1]);
  } else if (strcmp(F->preset, "fig6-three") == 0) {
    int wide_pref = 1;
    for (size_t i = 0; i < nT; i++)
      if (!(w[2 * nT + i] > w[i])) wide_pref = 0;
    int moves = w[nT] > 0.5 && w[2 * nT - 1] < w[3 * nT - 1];
    ok[nok++] = moves;
    ok[nok++] = wide_pref;
    ok[nok++] = tr_train == 1;
    ok[nok++] = imin && interior;
    snprintf(what, sizeof what,
             "w(0) %.3f -> %.3f, w(+1) %.3f -> %.3f (mass moves off 0: %s); w(+1) > w(-1) at "
             "every T: %s; E_train %s (%.4f -> %.4f); E_test optimum T* = %.4g (interior %d), "
             "E_test(T*) = %.5f vs %.5f and %.5f at the ends",
             w[nT], w[2 * nT - 1], w[2 * nT], w[3 * nT - 1], moves ? "yes" : "NO",
             wide_pref ? "yes" : "NO", tr_train == 1 ? "rises" : "does NOT rise", Etr[0],
             Etr[nT - 1], Topt, interior, Eopt, Ete[0], Ete[nT - 1]);
  } else {
    ok[nok++] = tr_train == 1;
    ok[nok++] = tr_test == 1;
    snprintf(what, sizeof what,
             "E_train %s (%.5f -> %.5f), E_test %s (%.5f -> %.5f) over T = %g..%g; best T of "
             "the sweep %.4g (interior %d)",
             tr_train == 1 ? "rises monotonically" : "does NOT rise monotonically", Etr[0],
             Etr[nT - 1], tr_test == 1 ? "rises monotonically" : "does NOT rise monotonically",
             Ete[0], Ete[nT - 1], T[0], T[nT - 1], Topt, interior);
  }
  valley_json_string(j, "preset", F->preset);
  valley_json_numbers(j, "T", T, nT);
  valley_json_numbers(j, "E_train", Etr, nT);
  valley_json_numbers(j, "E_test", Ete, nT);
  valley_json_numbers(j, "weight_minus1", w, nT);
  valley_json_numbers(j, "weight_0", w + nT, nT);
  valley_json_numbers(j, "weight_plus1", w + 2 * nT, nT);
  valley_json_number(j, "T_opt", Topt);
  valley_json_number(j, "E_test_opt", Eopt);
  valley_json_bool(j, "T_opt_interior", interior);
  st = fig_panels(r, F, L, T, sw, nT, err);
  if (st == VALLEY_OK)
    valley_check_verdict(r, valley_steady_decide_statements(nok, ok), "%s: %s", F->fig, what);
done:
  free(T);
  free(Etr);
  free(Ete);
  free(w);
  free(sw);
  land_free(L);
  return st;
}

valley_status_t valley_check_steady_fig4_left(valley_check_run_t *r, valley_error_t *err) {
  const figspec_t F = {"fig4-left", "fig4-left", "Figure 4 left", 0.01, 1};
  return fig_check(r, &F, err);
}
valley_status_t valley_check_steady_fig4_right(valley_check_run_t *r, valley_error_t *err) {
  const figspec_t F = {"fig4-right", "fig4-right", "Figure 4 right", 0.01, 1};
  return fig_check(r, &F, err);
}
valley_status_t valley_check_steady_figG26_left(valley_check_run_t *r, valley_error_t *err) {
  const figspec_t F = {"figG26-left", "fig6-one", "Figure G.2.6 left", 0.001, 1};
  return fig_check(r, &F, err);
}
valley_status_t valley_check_steady_figG26_right(valley_check_run_t *r, valley_error_t *err) {
  const figspec_t F = {"figG26-right", "fig6-three", "Figure G.2.6 right", 0.01, 1};
  return fig_check(r, &F, err);
}
