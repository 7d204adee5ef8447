/* 1-D finite volumes for the Fokker-Planck equation (shift-curvature paper, eq. (5)): the
 * Scharfetter-Gummel flux on equal cells, implicit Euler by subtraction-free elimination, and the
 * steady state as the dt -> infinity limit.  docs/fokker_planck_fv.md. */
#include "valley/fv.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

#define SERIES_Z 1e-5   /* |z| below which B and log B use their Taylor series */
#define MARCH_GROWTH 10 /* dt grows tenfold per step of the steady-state march */
#define MARCH_DT_CAP 1e200 /* the march stops once dt * (largest total rate) passes this */

double valley_fv_bernoulli(double z) {
  if (fabs(z) < SERIES_Z) return 1.0 - z / 2.0 + z * z / 12.0;
  if (z > 0) return z * exp(-z) / -expm1(-z); /* exp(-z) underflows to 0 for large z: fine */
  return z / expm1(z);                        /* expm1(z) -> -1 for z -> -inf: B -> |z| */
}

double valley_fv_log_bernoulli(double z) {
  if (fabs(z) < SERIES_Z) return -z / 2.0 + z * z / 24.0;
  if (z > 0) return log(z / -expm1(-z)) - z; /* z / (1 - e^-z) lies in [1, z + 1] */
  return log(z / expm1(z));                 /* in [1, |z| + 1] */
}

/* The chain on the cells: rates r[i] (i -> i+1, r[n-1] = 0) and l[i] (i -> i-1, l[0] = 0), in
 * units of c = T / (2 h^2), and their logarithms (without log c), for the dt = infinity step. */
typedef struct {
  size_t n;
  double h, lo, rate_max;
  double *r, *l, *lr, *ll;
  double *sig, *u, *y; /* elimination work */
} chain_t;

static void chain_free(chain_t *c) {
  free(c->r);
  free(c->l);
  free(c->lr);
  free(c->ll);
  free(c->sig);
  free(c->u);
  free(c->y);
}

static int ok_eval(const valley_fp1d_eval_t *e) {
  return isfinite(e->dU) && isfinite(e->D) && e->D > 0;
}

static valley_status_t check_args(const valley_fp1d_t *p, double T, size_t cells,
                                  valley_error_t *err) {
  if (p == NULL || p->eval == NULL)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "the problem or its eval callback is NULL");
  if (cells < 3) return VALLEY_ERROR(err, VALLEY_EINVAL, "cells = %zu: need at least 3", cells);
  if (!(T > 0) || !isfinite(T))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "temperature T = %g: need a finite T > 0", T);
  if (!(p->lo < p->hi) || !isfinite(p->lo) || !isfinite(p->hi))
    return VALLEY_ERROR(err, VALLEY_EDOM, "domain [%g, %g]: need finite lo < hi", p->lo, p->hi);
  return VALLEY_OK;
}

static valley_status_t chain_build(const valley_fp1d_t *p, double T, size_t n, chain_t *c,
                                   valley_error_t *err) {
  c->n = n;
  c->lo = p->lo;
  c->h = (p->hi - p->lo) / (double)n;
  c->r = malloc(n * sizeof *c->r);
  c->l = malloc(n * sizeof *c->l);
  c->lr = malloc(n * sizeof *c->lr);
  c->ll = malloc(n * sizeof *c->ll);
  c->sig = malloc(n * sizeof *c->sig);
  c->u = malloc(n * sizeof *c->u);
  c->y = malloc(n * sizeof *c->y);
  if (!c->r || !c->l || !c->lr || !c->ll || !c->sig || !c->u || !c->y) {
    chain_free(c);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory for %zu cells", n);
  }
  double h = c->h, cfac = T / (2.0 * h * h);
  /* D at the centres: the sig array holds it until the first step needs the space */
  double *D = c->sig;
  for (size_t i = 0; i < n; i++) {
    double x = p->lo + ((double)i + 0.5) * h;
    valley_fp1d_eval_t e;
    p->eval(x, p->params, &e);
    if (!ok_eval(&e)) {
      chain_free(c);
      return VALLEY_ERROR(err, VALLEY_EDOM, "at theta = %g (cell %zu): U' = %g, D = %g; need "
                          "a finite U' and a finite D > 0", x, i, e.dU, e.D);
    }
    D[i] = e.D;
  }
  c->l[0] = 0;
  c->ll[0] = -INFINITY;
  c->r[n - 1] = 0;
  c->lr[n - 1] = -INFINITY;
  for (size_t f = 1; f < n; f++) { /* the face between cells f - 1 and f */
    double x = p->lo + (double)f * h;
    valley_fp1d_eval_t e;
    p->eval(x, p->params, &e);
    double z = 2.0 * e.dU / (T * e.D) * h;
    if (!ok_eval(&e) || !isfinite(z)) {
      chain_free(c);
      return VALLEY_ERROR(err, VALLEY_EDOM, "at theta = %g (face %zu): U' = %g, D = %g, "
                          "a h = %g; need finite values and D > 0", x, f, e.dU, e.D, z);
    }
    c->r[f - 1] = cfac * D[f - 1] * valley_fv_bernoulli(z);
    c->l[f] = cfac * D[f] * valley_fv_bernoulli(-z);
    c->lr[f - 1] = log(D[f - 1]) + valley_fv_log_bernoulli(z);
    c->ll[f] = log(D[f]) + valley_fv_log_bernoulli(-z);
  }
  c->rate_max = 0;
  for (size_t i = 0; i < n; i++)
    if (c->r[i] + c->l[i] > c->rate_max) c->rate_max = c->r[i] + c->l[i];
  if (!(c->rate_max > 0) || !isfinite(c->rate_max)) {
    chain_free(c);
    return VALLEY_ERROR(err, VALLEY_EDOM, "largest transition rate %g: need finite and > 0 "
                        "(T = %g, %zu cells)", c->rate_max, T, n);
  }
  return VALLEY_OK;
}

/* One implicit Euler step x = (I - dt A)^{-1} b, written as (eps I - A) x = eps b with
 * eps = 1/dt > 0, by Gaussian elimination in which every pivot u_i = sig_i + r_i is a sum of
 * positive terms: sig_i = eps + l_i sig_{i-1} / u_{i-1} is what column i keeps after sending
 * r_i on.  x may alias b. */
static void chain_step(chain_t *c, const double *b, double *x, double eps) {
  size_t n = c->n;
  const double *r = c->r, *l = c->l;
  double *sig = c->sig, *u = c->u, *y = c->y;
  sig[0] = eps;
  u[0] = eps + r[0];
  y[0] = eps * b[0];
  for (size_t i = 1; i < n; i++) {
    sig[i] = eps + l[i] * (sig[i - 1] / u[i - 1]);
    u[i] = sig[i] + r[i];
    y[i] = eps * b[i] + r[i - 1] * (y[i - 1] / u[i - 1]);
  }
  x[n - 1] = y[n - 1] / u[n - 1];
  for (size_t i = n - 1; i-- > 0;) x[i] = (y[i] + l[i + 1] * x[i + 1]) / u[i];
}

/* The dt = infinity step: sig = 0, u_i = r_i, and back substitution gives the null vector
 * x_i = x_{i+1} l_{i+1} / r_i, here in logarithms (compensated sum) so that no rate or density
 * under- or overflows; normalised to h sum x = 1. */
static void chain_null(chain_t *c, double *x) {
  size_t n = c->n;
  double s = 0, comp = 0, m = 0; /* log x_{n-1} = 0 */
  x[n - 1] = 0;
  for (size_t i = n - 1; i-- > 0;) {
    double d = c->ll[i + 1] - c->lr[i], t = s + d;
    comp += fabs(s) >= fabs(d) ? (s - t) + d : (d - t) + s;
    s = t;
    x[i] = s + comp;
    if (x[i] > m) m = x[i];
  }
  double tot = 0;
  for (size_t i = 0; i < n; i++) {
    x[i] = exp(x[i] - m);
    tot += x[i];
  }
  for (size_t i = 0; i < n; i++) x[i] /= tot * c->h;
}

static double l1_diff(const double *a, const double *b, size_t n, double h) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += fabs(a[i] - b[i]);
  return s * h;
}

valley_status_t valley_fv1d_evolve(const valley_fp1d_t *p, double T, size_t cells, double *rho,
                                   double t_end, double dt, valley_error_t *err) {
  valley_status_t st = check_args(p, T, cells, err);
  if (st != VALLEY_OK) return st;
  if (!(dt > 0) || !isfinite(dt))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "time step dt = %g: need a finite dt > 0", dt);
  if (!(t_end >= 0) || !isfinite(t_end))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "t_end = %g: need a finite t_end >= 0", t_end);
  if (rho == NULL) return VALLEY_ERROR(err, VALLEY_EINVAL, "rho is NULL");
  for (size_t i = 0; i < cells; i++)
    if (!(rho[i] >= 0) || !isfinite(rho[i]))
      return VALLEY_ERROR(err, VALLEY_EINVAL, "rho[%zu] = %g: need finite and >= 0", i, rho[i]);
  if (t_end == 0) return VALLEY_OK;
  double nsteps = ceil(t_end / dt);
  if (nsteps > 1e15)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "t_end / dt = %g steps: too many", nsteps);
  chain_t c;
  st = chain_build(p, T, cells, &c, err);
  if (st != VALLEY_OK) return st;
  double eps = nsteps / t_end; /* 1 / (t_end / nsteps) */
  for (double k = 0; k < nsteps; k++) chain_step(&c, rho, rho, eps);
  chain_free(&c);
  return VALLEY_OK;
}

void valley_fv1d_result_free(valley_fv1d_result_t *r) {
  if (r == NULL) return;
  free(r->x);
  free(r->rho);
  r->x = r->rho = NULL;
}

valley_status_t valley_fv1d_steady(const valley_fp1d_t *p, double T, size_t cells, double tol,
                                   int max_steps, valley_fv1d_result_t *out,
                                   valley_error_t *err) {
  if (out == NULL) return VALLEY_ERROR(err, VALLEY_EINVAL, "the result pointer is NULL");
  out->x = out->rho = NULL;
  out->cells = 0;
  valley_status_t st = check_args(p, T, cells, err);
  if (st != VALLEY_OK) return st;
  if (!(tol > 0)) return VALLEY_ERROR(err, VALLEY_EINVAL, "tol = %g: need tol > 0", tol);
  if (max_steps < 1)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "max_steps = %d: need at least 1", max_steps);
  chain_t c;
  st = chain_build(p, T, cells, &c, err);
  if (st != VALLEY_OK) return st;
  double *x = malloc(cells * sizeof *x), *rho = malloc(cells * sizeof *rho);
  double *prev = malloc(cells * sizeof *prev);
  if (x == NULL || rho == NULL || prev == NULL) {
    free(x);
    free(rho);
    free(prev);
    chain_free(&c);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory for %zu cells", cells);
  }
  double h = c.h;
  for (size_t i = 0; i < cells; i++) {
    x[i] = p->lo + ((double)i + 0.5) * h;
    rho[i] = 1.0 / (h * (double)cells);
  }
  /* the march: dt = 10^k / rate_max */
  int steps = 0;
  double change = INFINITY;
  for (double dtr = 1; steps < max_steps && change >= tol && dtr <= MARCH_DT_CAP;
       dtr *= MARCH_GROWTH) {
    for (size_t i = 0; i < cells; i++) prev[i] = rho[i];
    chain_step(&c, prev, rho, c.rate_max / dtr);
    double mass = 0;
    for (size_t i = 0; i < cells; i++) mass += rho[i];
    for (size_t i = 0; i < cells; i++) rho[i] /= mass * h; /* only rounding to undo */
    change = l1_diff(rho, prev, cells, h);
    steps++;
  }
  out->march_change = change;
  for (size_t i = 0; i < cells; i++) prev[i] = rho[i];
  chain_null(&c, rho);
  out->change = l1_diff(rho, prev, cells, h);
  out->steps = steps + 1;
  out->cells = cells;
  out->h = h;
  out->x = x;
  out->rho = rho;
  free(prev);
  chain_free(&c);
  return VALLEY_OK;
}
