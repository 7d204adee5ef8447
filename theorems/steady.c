/* The SGD steady state by quadrature (shift-curvature paper, eqs. (4)-(8), Appendix B).
 *
 * v(theta, T) = F(theta) + (T/2) log(D(theta)/D(lo)), F = int_lo^theta U'/D: F is tabulated once
 * per landscape on a grid (closed form, or GSL adaptive quadrature cell by cell, completed inside
 * a cell by 20-point Gauss-Legendre), so a temperature sweep only re-evaluates the cheap part.
 * Critical points of v: sign changes of v' = (U' + (T/2) D')/D on the grid, refined by Brent's
 * method.  Basin integrals: GSL QAGP between the adjacent maxima, split at the minimum, with the
 * integrand exp(-2 (v - v(mu_k)) / T) <= 1, and the weights combined as logs. */
#include "valley/steady.h"

#include "valley/pcg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_min.h>
#include <gsl/gsl_roots.h>

#ifdef VALLEY_HAVE_OPENMP
#include <omp.h>
#endif

#define QLIMIT 4000
#define GL_POINTS 20

void valley_steady_config_default(valley_steady_config_t *cfg) {
  cfg->grid = 6000;
  cfg->epsrel = 1e-12;
}

static void eval_at(const valley_steady_ctx_t *ctx, double x, valley_fp1d_eval_t *e) {
  ctx->problem.eval(x, ctx->problem.params, e);
}

static double u_over_d(double x, void *p) {
  const valley_steady_ctx_t *ctx = p;
  valley_fp1d_eval_t e;
  eval_at(ctx, x, &e);
  return e.dU / e.D;
}

static double u_prime(double x, void *p) {
  const valley_steady_ctx_t *ctx = p;
  valley_fp1d_eval_t e;
  eval_at(ctx, x, &e);
  return e.dU;
}

static double utest_prime(double x, void *p) {
  const valley_steady_ctx_t *ctx = p;
  double u[3];
  ctx->utest(x, ctx->utest_params, u);
  return u[1];
}

/* Brent root of f on [a, b] (f(a), f(b) of opposite signs); the final bracket in lo/hi.  NaN
 * when the search fails (no sign change, f not finite inside, no convergence in 300 steps):
 * the callers report it, never use it. */
static double brent_root(gsl_function *F, double a, double b, double *lo, double *hi) {
  gsl_root_fsolver *s = gsl_root_fsolver_alloc(gsl_root_fsolver_brent);
  if (s == NULL) return NAN;
  double r = NAN;
  if (lo) *lo = a;
  if (hi) *hi = b;
  if (gsl_root_fsolver_set(s, F, a, b) == GSL_SUCCESS) {
    for (int it = 0; it < 300; it++) {
      if (gsl_root_fsolver_iterate(s) != GSL_SUCCESS) break;
      double xl = gsl_root_fsolver_x_lower(s), xh = gsl_root_fsolver_x_upper(s);
      if (gsl_root_test_interval(xl, xh, 1e-15, 2e-16) == GSL_SUCCESS) {
        r = gsl_root_fsolver_root(s);
        break;
      }
    }
    if (lo) *lo = gsl_root_fsolver_x_lower(s);
    if (hi) *hi = gsl_root_fsolver_x_upper(s);
  }
  gsl_root_fsolver_free(s);
  return isfinite(r) ? r : NAN;
}

/* Sign changes of y[0..n] (zeros skipped): the brackets [x[p], x[i]] with their direction
 * (+1: - to +, a minimum of the antiderivative; -1: + to -).  Returns the count (<= max). */
static size_t sign_changes(const double *x, const double *y, size_t n, size_t max, double *blo,
                           double *bhi, int *dir) {
  size_t m = 0, p = 0;
  int have = 0;
  for (size_t i = 0; i <= n; i++) {
    if (y[i] == 0.0 || isnan(y[i])) continue;
    if (have && (y[i] > 0) != (y[p] > 0)) {
      if (m == max) return m + 1;
      blo[m] = x[p];
      bhi[m] = x[i];
      dir[m] = y[i] > 0 ? 1 : -1;
      m++;
    }
    p = i;
    have = 1;
  }
  return m;
}

/* The test minimum nearest theta in [a, b]: - to + sign change of U_test' on the grid. */
static double test_minimum(const valley_steady_ctx_t *ctx, double theta, double a, double b) {
  gsl_function f = {utest_prime, (void *)ctx};
  double best = NAN, prev_x = a, u[3];
  ctx->utest(a, ctx->utest_params, u);
  double prev = u[1];
  size_t steps = (size_t)ceil((b - a) / ctx->h);
  if (steps < 16) steps = 16;
  for (size_t i = 1; i <= steps; i++) {
    double x = i == steps ? b : a + (b - a) * (double)i / (double)steps;
    ctx->utest(x, ctx->utest_params, u);
    if (prev < 0 && u[1] > 0) {
      double r = brent_root(&f, prev_x, x, NULL, NULL);
      if (!isnan(r) && (isnan(best) || fabs(r - theta) < fabs(best - theta))) best = r;
    }
    if (u[1] != 0.0) {
      prev = u[1];
      prev_x = x;
    }
  }
  return best;
}

valley_status_t valley_steady_prepare(valley_steady_ctx_t *ctx, const valley_fp1d_t *problem,
                                      valley_utest_fn utest, const void *utest_params,
                                      const valley_steady_config_t *cfg, int use_closed_form,
                                      valley_error_t *err) {
  memset(ctx, 0, sizeof *ctx);
  valley_status_t st = valley_fp1d_check(problem, 200, err);
  if (st != VALLEY_OK) return st;
  ctx->problem = *problem;
  ctx->utest = utest;
  ctx->utest_params = utest_params;
  if (cfg)
    ctx->cfg = *cfg;
  else
    valley_steady_config_default(&ctx->cfg);
  if (ctx->cfg.grid < 16 || ctx->cfg.grid > 100000000)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "grid must be in 16..1e8 intervals (got %zu)",
                        ctx->cfg.grid);
  if (!(ctx->cfg.epsrel >= 1e-15 && ctx->cfg.epsrel <= 1e-3))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "epsrel must be in [1e-15, 1e-3] (got %g)",
                        ctx->cfg.epsrel);
  size_t n = ctx->cfg.grid;
  ctx->n = n;
  ctx->h = (problem->hi - problem->lo) / (double)n;
  ctx->closed_form = use_closed_form && problem->antideriv != NULL;
  double *buf = malloc(5 * (n + 1) * sizeof *buf);
  if (buf == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "steady-state grid of %zu", n);
  ctx->x = buf;
  ctx->F = buf + (n + 1);
  ctx->dU = buf + 2 * (n + 1);
  ctx->D = buf + 3 * (n + 1);
  ctx->dD = buf + 4 * (n + 1);
  for (size_t i = 0; i <= n; i++) {
    double x = i == n ? problem->hi : problem->lo + (double)i * ctx->h;
    valley_fp1d_eval_t e;
    eval_at(ctx, x, &e);
    ctx->x[i] = x;
    ctx->dU[i] = e.dU;
    ctx->D[i] = e.D;
    ctx->dD[i] = e.dD;
    if (!isfinite(e.U) || !isfinite(e.dU) || !(e.D > 0) || !isfinite(e.D) || !isfinite(e.dD)) {
      valley_steady_ctx_free(ctx);
      return VALLEY_ERROR(err, VALLEY_EDOM, "U, U', D or D' is not finite (or D <= 0) at %g", x);
    }
  }
  ctx->logD_lo = log(ctx->D[0]);

  gsl_error_handler_t *old = gsl_set_error_handler_off();
  st = VALLEY_OK;
  if (ctx->closed_form) {
    ctx->F_lo = problem->antideriv(problem->lo, problem->params);
    for (size_t i = 0; i <= n; i++)
      ctx->F[i] = problem->antideriv(ctx->x[i], problem->params) - ctx->F_lo;
  } else {
    gsl_integration_workspace *ws = gsl_integration_workspace_alloc(QLIMIT);
    if (ws == NULL) st = VALLEY_ERROR(err, VALLEY_ENOMEM, "quadrature workspace");
    gsl_function f = {u_over_d, ctx};
    double sum = 0.0, comp = 0.0; /* Neumaier */
    ctx->F[0] = 0.0;
    for (size_t i = 0; i < n && st == VALLEY_OK; i++) {
      double r, e;
      int s = gsl_integration_qag(&f, ctx->x[i], ctx->x[i + 1], 0.0, ctx->cfg.epsrel, QLIMIT,
                                  GSL_INTEG_GAUSS21, ws, &r, &e);
      if (s != GSL_SUCCESS && !(e <= 1e-10 * fabs(r) + 1e-300))
        st = VALLEY_ERROR(err, VALLEY_EDOM, "quadrature of U'/D on [%g, %g] failed: %s",
                          ctx->x[i], ctx->x[i + 1], gsl_strerror(s));
      double t = sum + r;
      comp += fabs(sum) >= fabs(r) ? (sum - t) + r : (r - t) + sum;
      sum = t;
      ctx->F[i + 1] = sum + comp;
    }
    if (ws) gsl_integration_workspace_free(ws);
  }
  /* U_tr's minima: - to + sign changes of U' at the nodes, refined. */
  if (st == VALLEY_OK) {
    double blo[VALLEY_STEADY_MAXB + 1], bhi[VALLEY_STEADY_MAXB + 1];
    int dir[VALLEY_STEADY_MAXB + 1];
    size_t m = sign_changes(ctx->x, ctx->dU, n, VALLEY_STEADY_MAXB, blo, bhi, dir);
    if (m > VALLEY_STEADY_MAXB)
      st = VALLEY_ERROR(err, VALLEY_EDOM, "more than %d critical points of U_tr",
                        VALLEY_STEADY_MAXB);
    gsl_function f = {u_prime, ctx};
    for (size_t j = 0; j < m && st == VALLEY_OK; j++)
      if (dir[j] > 0) {
        double r = brent_root(&f, blo[j], bhi[j], NULL, NULL);
        if (isnan(r))
          st = VALLEY_ERROR(err, VALLEY_ENUMERIC, "the root search for a minimum of U_tr in [%.17g, "
                            "%.17g] did not converge (U' not finite there?); numerical failure",
                            blo[j], bhi[j]);
        ctx->theta_tr[ctx->ntr++] = r;
      }
    /* U_tr, its curvature and D' at each; the test minimum within the training minimum's half of
     * the way to its neighbours, widened by half again (the shift is small against that). */
    for (size_t k = 0; k < ctx->ntr && st == VALLEY_OK; k++) {
      valley_fp1d_eval_t e;
      eval_at(ctx, ctx->theta_tr[k], &e);
      ctx->U_tr[k] = e.U;
      ctx->C_tr[k] = e.d2U;
      ctx->dD_tr[k] = e.dD;
      ctx->theta_test[k] = ctx->U_test[k] = ctx->C_test[k] = NAN;
      if (utest == NULL) continue;
      double lo = k == 0 ? problem->lo : 0.5 * (ctx->theta_tr[k - 1] + ctx->theta_tr[k]);
      double hi = k + 1 == ctx->ntr ? problem->hi : 0.5 * (ctx->theta_tr[k] + ctx->theta_tr[k + 1]);
      double half = 0.5 * (hi - lo);
      double tt = test_minimum(ctx, ctx->theta_tr[k], lo - half, hi + half);
      if (isnan(tt)) continue;
      double u[3];
      utest(tt, utest_params, u);
      ctx->theta_test[k] = tt;
      ctx->U_test[k] = u[0];
      ctx->C_test[k] = u[2];
    }
  }
  gsl_set_error_handler(old);
  if (st != VALLEY_OK) valley_steady_ctx_free(ctx);
  return st;
}

void valley_steady_ctx_free(valley_steady_ctx_t *ctx) {
  if (ctx == NULL) return;
  free(ctx->x);
  ctx->x = ctx->F = ctx->dU = ctx->D = ctx->dD = NULL;
}

/* Gauss-Legendre 20-point nodes and weights on [-1, 1] (positive half). */
static const double gl_x[10] = {
    0.0765265211334973337546404093988382, 0.2277858511416450780804961953685746,
    0.3737060887154195606725481770249272, 0.5108670019508270980043640509552510,
    0.6360536807265150254528366962262859, 0.7463319064601507926143050703556416,
    0.8391169718222188233945290617015207, 0.9122344282513259058677524412032981,
    0.9639719272779137912676661311972772, 0.9931285991850949247861223884713203};
static const double gl_w[10] = {
    0.1527533871307258506980843319550976, 0.1491729864726037467878287370019694,
    0.1420961093183820513292983250671649, 0.1316886384491766268984944997481631,
    0.1181945319615184173123773777113823, 0.1019301198172404350367501354803499,
    0.0832767415767047487247581432220463, 0.0626720483341090635695065351870417,
    0.0406014298003869413310399522749321, 0.0176140071391521183118619623518528};

double valley_steady_F(const valley_steady_ctx_t *ctx, double theta) {
  const valley_fp1d_t *p = &ctx->problem;
  if (ctx->closed_form)
    return p->antideriv(theta, p->params) - ctx->F_lo;
  double t = (theta - p->lo) / ctx->h;
  size_t j = t <= 0 ? 0 : (size_t)t;
  if (j >= ctx->n) j = ctx->n - 1;
  double a = ctx->x[j], half = 0.5 * (theta - a), mid = a + half;
  if (half == 0.0) return ctx->F[j];
  double s = 0.0;
  for (int i = 0; i < GL_POINTS / 2; i++) {
    double dx = half * gl_x[i];
    s += gl_w[i] * (u_over_d(mid - dx, (void *)ctx) + u_over_d(mid + dx, (void *)ctx));
  }
  return ctx->F[j] + half * s;
}

double valley_steady_v(const valley_steady_ctx_t *ctx, double theta, double T) {
  valley_fp1d_eval_t e;
  eval_at(ctx, theta, &e);
  return valley_steady_F(ctx, theta) + 0.5 * T * (log(e.D) - ctx->logD_lo);
}

typedef struct {
  const valley_steady_ctx_t *ctx;
  double T, vref;
  int what; /* 0: 1, 1: U_tr, 2: U_test */
} basin_integrand_t;

static double basin_f(double x, void *p) {
  const basin_integrand_t *b = p;
  const valley_steady_ctx_t *ctx = b->ctx;
  valley_fp1d_eval_t e;
  eval_at(ctx, x, &e);
  double v = valley_steady_F(ctx, x) + 0.5 * b->T * (log(e.D) - ctx->logD_lo);
  double w = exp(-2.0 * (v - b->vref) / b->T);
  if (b->what == 0 || w == 0.0) return w;
  if (b->what == 1) return w * e.U;
  double u[3];
  ctx->utest(x, ctx->utest_params, u);
  return w * u[0];
}

static double vprime_f(double x, void *p) {
  const basin_integrand_t *b = p;
  valley_fp1d_eval_t e;
  eval_at(b->ctx, x, &e);
  return valley_fp1d_vprime(&e, b->T);
}

static valley_status_t basin_integral(const valley_steady_ctx_t *ctx, double T, double vref,
                                      int what, double a, double mu, double b,
                                      gsl_integration_workspace *ws, double *res,
                                      valley_error_t *err) {
  basin_integrand_t bi = {ctx, T, vref, what};
  gsl_function f = {basin_f, &bi};
  double pts[3];
  size_t np = 0;
  pts[np++] = a;
  if (mu > a && mu < b) pts[np++] = mu;
  pts[np++] = b;
  double abserr;
  int s = gsl_integration_qagp(&f, pts, np, 0.0, ctx->cfg.epsrel, QLIMIT, ws, res, &abserr);
  if (s != GSL_SUCCESS && !(abserr <= 1e-9 * fabs(*res) + 1e-300))
    return VALLEY_ERROR(err, VALLEY_EDOM,
                        "quadrature of the steady state on [%g, %g] at T = %g failed: %s "
                        "(error estimate %.3g of %.3g)",
                        a, b, T, gsl_strerror(s), abserr, *res);
  return VALLEY_OK;
}

/* log(exp(a_k) / sum_j exp(a_j)) = -log1p(sum_{j != k} exp(a_j - a_k)): accurate also for the
 * dominant term, where log(1 - tiny) would cancel. */
static double log_share(const double *a, size_t n, size_t k) {
  double m = -INFINITY;
  for (size_t j = 0; j < n; j++)
    if (j != k && a[j] > m) m = a[j];
  if (m == -INFINITY) return 0.0;
  if (m > a[k]) { /* not the largest: scale by the largest other term */
    double s = exp(a[k] - m);
    for (size_t j = 0; j < n; j++)
      if (j != k) s += exp(a[j] - m);
    return a[k] - m - log(s);
  }
  double s = 0.0;
  for (size_t j = 0; j < n; j++)
    if (j != k) s += exp(a[j] - a[k]);
  return -log1p(s);
}

static double logsumexp(const double *a, size_t n) {
  double m = -INFINITY, s = 0.0;
  for (size_t i = 0; i < n; i++)
    if (a[i] > m) m = a[i];
  if (!isfinite(m)) return m;
  for (size_t i = 0; i < n; i++) s += exp(a[i] - m);
  return m + log(s);
}

/* The U_tr minimum the basin holds (nearest to mu within [a, b]); -1 when none. */
static int nearest_tr(const valley_steady_ctx_t *ctx, double a, double b, double mu) {
  int best = -1;
  for (size_t k = 0; k < ctx->ntr; k++) {
    double t = ctx->theta_tr[k];
    if (t < a || t > b) continue;
    if (best < 0 || fabs(t - mu) < fabs(ctx->theta_tr[best] - mu)) best = (int)k;
  }
  return best;
}

static valley_status_t solve_inner(const valley_steady_ctx_t *ctx, double T, valley_steady_t *out,
                                   gsl_integration_workspace *ws, valley_error_t *err) {
  memset(out, 0, sizeof *out);
  out->T = T;
  const valley_fp1d_t *p = &ctx->problem;
  size_t n = ctx->n;
  /* v' at the nodes, its sign changes, refined. */
  double *vp = malloc((n + 1) * sizeof *vp);
  if (vp == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "v' table");
  for (size_t i = 0; i <= n; i++) vp[i] = (ctx->dU[i] + 0.5 * T * ctx->dD[i]) / ctx->D[i];
  double blo[2 * VALLEY_STEADY_MAXB + 1], bhi[2 * VALLEY_STEADY_MAXB + 1];
  int dir[2 * VALLEY_STEADY_MAXB + 1];
  size_t m = sign_changes(ctx->x, vp, n, 2 * VALLEY_STEADY_MAXB - 2, blo, bhi, dir);
  free(vp);
  if (m > 2 * VALLEY_STEADY_MAXB - 2)
    return VALLEY_ERROR(err, VALLEY_EDOM, "more than %d critical points of v at T = %g",
                        2 * VALLEY_STEADY_MAXB - 2, T);
  basin_integrand_t bi = {ctx, T, 0.0, 0};
  gsl_function fv = {vprime_f, &bi};
  double crit[2 * VALLEY_STEADY_MAXB];
  int kink[2 * VALLEY_STEADY_MAXB];
  for (size_t j = 0; j < m; j++) {
    double lo, hi;
    crit[j] = brent_root(&fv, blo[j], bhi[j], &lo, &hi);
    if (isnan(crit[j]))
      return VALLEY_ERROR(err, VALLEY_ENUMERIC, "the root search for a critical point of v at T = "
                          "%g in [%.17g, %.17g] did not converge (v' not finite there?); "
                          "numerical failure", T, blo[j], bhi[j]);
    kink[j] = fmin(fabs(vprime_f(lo, &bi)), fabs(vprime_f(hi, &bi))) > 1e-6;
  }
  /* Basins: each minimum between its neighbouring maxima; an end that v falls towards (a
   * leading or trailing maximum, or no critical point at all) is a boundary basin. */
  size_t nb = 0;
  double edges[2 * VALLEY_STEADY_MAXB + 2];
  size_t ne = 0;
  edges[ne++] = p->lo;
  for (size_t j = 0; j < m; j++)
    if (dir[j] < 0) {
      out->maxima[out->nmax++] = crit[j];
      edges[ne++] = crit[j];
    }
  edges[ne++] = p->hi;
  for (size_t e = 0; e + 1 < ne; e++) {
    valley_steady_basin_t *B = &out->basin[nb++];
    B->a = edges[e];
    B->b = edges[e + 1];
    B->mu = NAN;
    for (size_t j = 0; j < m; j++)
      if (dir[j] > 0 && crit[j] > B->a && crit[j] < B->b) {
        B->mu = crit[j];
        B->kink = kink[j];
      }
    if (isnan(B->mu)) {
      B->boundary = 1;
      double va = valley_steady_v(ctx, B->a, T), vb = valley_steady_v(ctx, B->b, T);
      B->mu = va <= vb ? B->a : B->b;
    }
  }
  out->nbasins = nb;
  /* Weights and conditional expectations.  Zeroed although every lw[k], lwl[k] with k < nb is
     written below: gcc 12 at -O1 (scripts/memcheck.sh's build) cannot see that, and warns. */
  double lw[VALLEY_STEADY_MAXB] = {0}, lwl[VALLEY_STEADY_MAXB] = {0};
  size_t nl = 0;
  out->v_star = INFINITY;
  valley_status_t st = VALLEY_OK;
  for (size_t k = 0; k < nb && st == VALLEY_OK; k++) {
    valley_steady_basin_t *B = &out->basin[k];
    B->v_mu = valley_steady_v(ctx, B->mu, T);
    if (B->v_mu < out->v_star) out->v_star = B->v_mu;
    double I0, I1, I2 = NAN;
    st = basin_integral(ctx, T, B->v_mu, 0, B->a, B->mu, B->b, ws, &I0, err);
    if (st == VALLEY_OK) st = basin_integral(ctx, T, B->v_mu, 1, B->a, B->mu, B->b, ws, &I1, err);
    if (st == VALLEY_OK && ctx->utest)
      st = basin_integral(ctx, T, B->v_mu, 2, B->a, B->mu, B->b, ws, &I2, err);
    if (st != VALLEY_OK) break;
    /* The integrand is 1 at mu: a basin integral that is not positive and finite means the
     * quadrature missed the peak (width about sqrt(T / v''), below its resolution at tiny T) or
     * the loss overflowed; never a weight of 0 or NaN. */
    if (!(I0 > 0.0) || !isfinite(I0) || !isfinite(I1) || (ctx->utest && !isfinite(I2))) {
      st = VALLEY_ERROR(err, VALLEY_ENUMERIC,
                        "steady state at T = %g: the integral of exp(-2 (v - v(mu)) / T) over the "
                        "basin [%g, %g] is %g: the peak at mu = %g is too narrow for the "
                        "quadrature (T too small) or the loss overflows; numerical failure",
                        T, B->a, B->b, isfinite(I1) ? I0 : I1, B->mu);
      break;
    }
    lw[k] = -2.0 * B->v_mu / T + log(I0);
    if (!isfinite(lw[k])) {
      st = VALLEY_ERROR(err, VALLEY_ENUMERIC,
                        "steady state at T = %g: the log weight -2 v(mu) / T + log I of the basin "
                        "[%g, %g] is %g (v(mu) = %g): exp(-2 v / T) is out of double range even as "
                        "a log; numerical failure, no result",
                        T, B->a, B->b, lw[k], B->v_mu);
      break;
    }
    B->E_train = I1 / I0;
    B->E_test = I2 / I0;
    valley_fp1d_eval_t e;
    eval_at(ctx, B->mu, &e);
    B->v2 = (B->boundary || B->kink) ? NAN : valley_fp1d_vsecond(&e, T);
    B->Sigma = 0.5 * T / B->v2;
    lwl[k] = (B->v2 > 0) ? -2.0 * B->v_mu / T - 0.5 * log(B->v2) : -INFINITY;
    if (B->v2 > 0) nl++;
    /* The matching minima of U_tr and U_test. */
    int t = nearest_tr(ctx, B->a, B->b, B->mu);
    B->theta_tr = B->U_tr = B->C_tr = B->bias = B->bias_pred = NAN;
    B->theta_test = B->U_test = B->C_test = B->shift = B->shift_curvature = NAN;
    if (t >= 0) {
      B->theta_tr = ctx->theta_tr[t];
      B->U_tr = ctx->U_tr[t];
      B->C_tr = ctx->C_tr[t];
      B->bias = B->mu - B->theta_tr;
      B->bias_pred = B->C_tr > 0 ? -T * ctx->dD_tr[t] / (2.0 * B->C_tr) : NAN;
      B->theta_test = ctx->theta_test[t];
      if (!isnan(B->theta_test)) {
        B->U_test = ctx->U_test[t];
        B->C_test = ctx->C_test[t];
        B->shift = B->theta_test - B->theta_tr;
        B->shift_curvature = 0.5 * B->shift * B->shift * B->C_test;
      }
    }
  }
  if (st != VALLEY_OK) return st;
  out->log_Z = logsumexp(lw, nb);
  out->E_train = out->E_test = out->shift_curvature = out->unmatched_weight = 0.0;
  out->E_test_eq4 = out->E_test_eq7 = out->E_train_laplace = nl ? 0.0 : NAN;
  out->laplace_max_rel = nl ? 0.0 : NAN;
  for (size_t k = 0; k < nb; k++) {
    valley_steady_basin_t *B = &out->basin[k];
    B->log_weight = log_share(lw, nb, k);
    B->weight = exp(B->log_weight);
    out->E_train += B->weight * B->E_train;
    out->E_test += B->weight * B->E_test;
    int matched = !isnan(B->theta_tr);
    if (!matched) out->unmatched_weight += B->weight;
    if (B->weight > 0 && !isnan(B->shift_curvature))
      out->shift_curvature += B->weight * B->shift_curvature;
    if (B->v2 > 0) {
      B->log_weight_laplace = log_share(lwl, nb, k);
      B->weight_laplace = exp(B->log_weight_laplace);
      double wl = B->weight_laplace;
      if (wl > 0 && matched && (ctx->utest == NULL || !isnan(B->theta_test))) {
        double d = B->theta_test - B->mu;
        if (ctx->utest) {
          out->E_test_eq4 +=
              wl * (B->U_test + 0.5 * B->Sigma * B->C_test + 0.5 * d * d * B->C_test);
          out->E_test_eq7 += wl * (B->U_test + B->shift_curvature);
        }
        out->E_train_laplace +=
            wl * (B->U_tr + 0.5 * B->Sigma * B->C_tr + 0.5 * B->bias * B->bias * B->C_tr);
      }
      if (B->weight > 0) {
        double rel = fabs(B->weight_laplace - B->weight) / B->weight;
        if (rel > out->laplace_max_rel) out->laplace_max_rel = rel;
      }
    } else {
      B->log_weight_laplace = B->weight_laplace = NAN;
    }
  }
  if (!ctx->utest) out->E_test = out->E_test_eq4 = out->E_test_eq7 = out->shift_curvature = NAN;
  /* Eq. (8): the minima of U_tr, weights exp(-2 U_k / T) C_k^-1/2, the measured shift. */
  out->E_test_eq8 = NAN;
  if (ctx->ntr > 0 && ctx->utest) {
    double l8[VALLEY_STEADY_MAXB], term[VALLEY_STEADY_MAXB];
    int ok = 1;
    for (size_t k = 0; k < ctx->ntr; k++) {
      if (!(ctx->C_tr[k] > 0) || isnan(ctx->theta_test[k])) ok = 0;
      double s = ctx->theta_test[k] - ctx->theta_tr[k];
      l8[k] = -2.0 * ctx->U_tr[k] / T - 0.5 * log(ctx->C_tr[k]);
      term[k] = ctx->U_tr[k] + 0.5 * s * s * ctx->C_tr[k];
    }
    if (ok) {
      double lz = logsumexp(l8, ctx->ntr);
      out->E_test_eq8 = 0.0;
      for (size_t k = 0; k < ctx->ntr; k++) out->E_test_eq8 += exp(l8[k] - lz) * term[k];
    }
  }
  return VALLEY_OK;
}

valley_status_t valley_steady_solve(const valley_steady_ctx_t *ctx, double T, valley_steady_t *out,
                                    valley_error_t *err) {
  if (!(T > 0) || !isfinite(T))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "temperature must be > 0 and finite (got %g)", T);
  gsl_integration_workspace *ws = gsl_integration_workspace_alloc(QLIMIT);
  if (ws == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "quadrature workspace");
  gsl_error_handler_t *old = gsl_set_error_handler_off();
  valley_status_t st = solve_inner(ctx, T, out, ws, err);
  gsl_set_error_handler(old);
  gsl_integration_workspace_free(ws);
  return st;
}

double valley_steady_log_density(const valley_steady_ctx_t *ctx, const valley_steady_t *s,
                                 double theta) {
  if (theta < ctx->problem.lo || theta > ctx->problem.hi) return -INFINITY;
  return -2.0 * valley_steady_v(ctx, theta, s->T) / s->T - s->log_Z;
}

typedef struct {
  const valley_steady_ctx_t *ctx;
  const valley_steady_t *s;
} dens_t;

static double density_f(double x, void *p) {
  const dens_t *d = p;
  return exp(valley_steady_log_density(d->ctx, d->s, x));
}

valley_status_t valley_steady_bin_probs(const valley_steady_ctx_t *ctx, const valley_steady_t *s,
                                        size_t nbins, double *p, valley_error_t *err) {
  if (nbins < 1) return VALLEY_ERROR(err, VALLEY_EINVAL, "need at least one bin");
  gsl_integration_workspace *ws = gsl_integration_workspace_alloc(QLIMIT);
  if (ws == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "quadrature workspace");
  gsl_error_handler_t *old = gsl_set_error_handler_off();
  dens_t d = {ctx, s};
  gsl_function f = {density_f, &d};
  double lo = ctx->problem.lo, w = (ctx->problem.hi - lo) / (double)nbins;
  valley_status_t st = VALLEY_OK;
  for (size_t i = 0; i < nbins && st == VALLEY_OK; i++) {
    double a = lo + w * (double)i, b = i + 1 == nbins ? ctx->problem.hi : lo + w * (double)(i + 1);
    double pts[VALLEY_STEADY_MAXB + 2], r, ae;
    size_t np = 0;
    pts[np++] = a;
    for (size_t k = 0; k < s->nbasins; k++)
      if (s->basin[k].mu > a && s->basin[k].mu < b) pts[np++] = s->basin[k].mu;
    pts[np++] = b;
    int gs = gsl_integration_qagp(&f, pts, np, 1e-300, ctx->cfg.epsrel, QLIMIT, ws, &r, &ae);
    if (gs != GSL_SUCCESS && !(ae <= 1e-9 * fabs(r) + 1e-300))
      st = VALLEY_ERROR(err, VALLEY_EDOM, "quadrature of rho on bin [%g, %g] failed: %s", a, b,
                        gsl_strerror(gs));
    p[i] = r;
  }
  gsl_set_error_handler(old);
  gsl_integration_workspace_free(ws);
  return st;
}

valley_status_t valley_steady_l1_bins(const valley_steady_ctx_t *ctx, const valley_steady_t *s,
                                      size_t nbins, const double *q, double *l1,
                                      valley_error_t *err) {
  double *p = malloc((nbins ? nbins : 1) * sizeof *p);
  if (p == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "%zu bins", nbins);
  valley_status_t st = valley_steady_bin_probs(ctx, s, nbins, p, err);
  double sum = 0.0;
  for (size_t i = 0; i < nbins && st == VALLEY_OK; i++) sum += fabs(q[i] - p[i]);
  *l1 = sum;
  free(p);
  return st;
}

valley_status_t valley_steady_sample(const valley_steady_ctx_t *ctx, const valley_steady_t *s,
                                     size_t bins, size_t n, uint64_t seed, double *out,
                                     valley_error_t *err) {
  if (bins < 1) return VALLEY_ERROR(err, VALLEY_EINVAL, "need at least one bin");
  double *cdf = malloc((bins + 1) * sizeof *cdf);
  if (cdf == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "%zu bins", bins);
  valley_status_t st = valley_steady_bin_probs(ctx, s, bins, cdf + 1, err);
  if (st == VALLEY_OK) {
    cdf[0] = 0.0;
    for (size_t i = 1; i <= bins; i++) cdf[i] += cdf[i - 1];
    double lo = ctx->problem.lo, w = (ctx->problem.hi - lo) / (double)bins;
    for (size_t i = 0; i < n; i++) {
      valley_pcg32_t rng;
      valley_pcg32_seed(&rng, seed, (uint64_t)i);
      double u = valley_pcg32_double(&rng) * cdf[bins], f = valley_pcg32_double(&rng);
      size_t a = 0, b = bins; /* the bin j with cdf[j] <= u < cdf[j + 1] */
      while (b - a > 1) {
        size_t m = (a + b) / 2;
        if (cdf[m] <= u)
          a = m;
        else
          b = m;
      }
      out[i] = lo + w * ((double)a + f);
      if (out[i] > ctx->problem.hi) out[i] = ctx->problem.hi;
    }
  }
  free(cdf);
  return st;
}

valley_status_t valley_steady_sweep(const valley_steady_ctx_t *ctx, const double *T, size_t nT,
                                    int threads, valley_steady_t *out,
                                    int (*progress)(double fraction, void *arg), void *arg,
                                    valley_error_t *err) {
  for (size_t i = 0; i < nT; i++)
    if (!(T[i] > 0) || !isfinite(T[i]))
      return VALLEY_ERROR(err, VALLEY_EINVAL, "temperature %zu must be > 0 (got %g)", i, T[i]);
  valley_status_t *st = calloc(nT ? nT : 1, sizeof *st);
  valley_error_t *errs = calloc(nT ? nT : 1, sizeof *errs);
  if (st == NULL || errs == NULL) {
    free(st);
    free(errs);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "sweep of %zu temperatures", nT);
  }
  int cancel = 0;
  size_t done = 0;
  gsl_error_handler_t *old = gsl_set_error_handler_off();
  (void)threads;
#ifdef VALLEY_HAVE_OPENMP
  int nt = threads > 0 ? threads : omp_get_max_threads();
#pragma omp parallel num_threads(nt)
#endif
  {
    gsl_integration_workspace *ws = gsl_integration_workspace_alloc(QLIMIT);
#ifdef VALLEY_HAVE_OPENMP
#pragma omp for schedule(dynamic, 1)
#endif
    for (size_t i = 0; i < nT; i++) {
      int stop;
#ifdef VALLEY_HAVE_OPENMP
#pragma omp atomic read
#endif
      stop = cancel;
      if (stop) {
        st[i] = VALLEY_ECANCEL;
        continue;
      }
      st[i] = ws ? solve_inner(ctx, T[i], &out[i], ws, &errs[i])
                 : VALLEY_ERROR(&errs[i], VALLEY_ENOMEM, "quadrature workspace");
      size_t d;
#ifdef VALLEY_HAVE_OPENMP
#pragma omp atomic capture
#endif
      d = ++done;
      int me = 0;
#ifdef VALLEY_HAVE_OPENMP
      me = omp_get_thread_num();
#endif
      if (progress && me == 0 && progress((double)d / (double)nT, arg)) {
#ifdef VALLEY_HAVE_OPENMP
#pragma omp atomic write
#endif
        cancel = 1;
      }
    }
    if (ws) gsl_integration_workspace_free(ws);
  }
  gsl_set_error_handler(old);
  valley_status_t ret = VALLEY_OK;
  for (size_t i = 0; i < nT && ret == VALLEY_OK; i++)
    if (st[i] != VALLEY_OK && st[i] != VALLEY_ECANCEL) {
      ret = st[i];
      if (err) *err = errs[i];
    }
  if (ret == VALLEY_OK && cancel) ret = VALLEY_ERROR(err, VALLEY_ECANCEL, "sweep cancelled");
  free(st);
  free(errs);
  return ret;
}

typedef struct {
  const valley_steady_ctx_t *ctx;
  valley_status_t st;
  valley_error_t *err;
} opt_arg_t;

static double etest_of_logT(double lt, void *p) {
  opt_arg_t *o = p;
  valley_steady_t s;
  valley_status_t st = valley_steady_solve(o->ctx, exp(lt), &s, o->err);
  if (st != VALLEY_OK) {
    o->st = st;
    return INFINITY;
  }
  return s.E_test;
}

valley_status_t valley_steady_optimal_T(const valley_steady_ctx_t *ctx, const double *T,
                                        const valley_steady_t *sweep, size_t nT, double *T_opt,
                                        double *E_opt, int *interior, valley_error_t *err) {
  if (nT == 0) return VALLEY_ERROR(err, VALLEY_EINVAL, "no temperatures");
  size_t b = 0;
  for (size_t i = 1; i < nT; i++)
    if (sweep[i].E_test < sweep[b].E_test) b = i;
  *T_opt = T[b];
  *E_opt = sweep[b].E_test;
  *interior = b > 0 && b + 1 < nT;
  if (!*interior || !isfinite(*E_opt)) return VALLEY_OK;
  opt_arg_t o = {ctx, VALLEY_OK, err};
  gsl_function f = {etest_of_logT, &o};
  gsl_min_fminimizer *m = gsl_min_fminimizer_alloc(gsl_min_fminimizer_brent);
  if (m == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "minimiser");
  gsl_error_handler_t *old = gsl_set_error_handler_off();
  double lo = log(T[b - 1]), hi = log(T[b + 1]);
  if (gsl_min_fminimizer_set_with_values(m, &f, log(T[b]), sweep[b].E_test, lo,
                                         sweep[b - 1].E_test, hi,
                                         sweep[b + 1].E_test) == GSL_SUCCESS) {
    for (int it = 0; it < 200 && o.st == VALLEY_OK; it++) {
      if (gsl_min_fminimizer_iterate(m) != GSL_SUCCESS) break;
      double a = gsl_min_fminimizer_x_lower(m), c = gsl_min_fminimizer_x_upper(m);
      if (gsl_min_test_interval(a, c, 1e-12, 0.0) == GSL_SUCCESS) break;
    }
    if (gsl_min_fminimizer_f_minimum(m) <= *E_opt) {
      *T_opt = exp(gsl_min_fminimizer_x_minimum(m));
      *E_opt = gsl_min_fminimizer_f_minimum(m);
    }
  }
  gsl_set_error_handler(old);
  gsl_min_fminimizer_free(m);
  return o.st;
}

void valley_steady_logspace(double Tmin, double Tmax, size_t n, double *T) {
  if (n == 1) {
    T[0] = Tmin;
    return;
  }
  double l0 = log(Tmin), l1 = log(Tmax);
  for (size_t i = 0; i < n; i++)
    T[i] = i + 1 == n ? Tmax : exp(l0 + (l1 - l0) * (double)i / (double)(n - 1));
}
