/* One-dimensional asymmetric valleys for Theorem 2 (He, Huang, Yuan 2019, Sec. 5.1):
 * the canonical piecewise-linear valley, a saturating valley whose gradient sweeps
 * [b+, a+] on the flat side and [b-, a-] on the sharp side, and a tabulated (measured) one. */
#include "valley/valley1d.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_interp.h>

static const char *const kind_names[] = {"canonical", "saturating", "table"};

struct valley_valley1d_table {
  size_t n;
  double *w, *loss;    /* n samples, w ascending, min loss 0 at w = 0 */
  gsl_interp *interp;  /* Steffen; evaluated without an accelerator (thread-safe) */
  double g_lo, g_hi;   /* the spline's slopes at the end samples */
};

void valley_valley1d_table_free(valley_valley1d_table_t *t) {
  if (t == NULL) return;
  if (t->interp != NULL) gsl_interp_free(t->interp);
  free(t->w);
  free(t->loss);
  free(t);
}

valley_status_t valley_valley1d_table_alloc(const double *l, const double *loss, size_t n,
                                            int side, valley_valley1d_table_t **out,
                                            double *l_min, double *loss_min, valley_error_t *err) {
  *out = NULL;
  if (n < 3) return VALLEY_ERROR(err, VALLEY_EINVAL, "a table valley needs >= 3 samples (got %zu)", n);
  if (side != 1 && side != -1)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "table valley: side must be +1 or -1 (got %d)", side);
  size_t imin = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(l[i]) || !isfinite(loss[i]))
      return VALLEY_ERROR(err, VALLEY_EINVAL, "table valley: sample %zu is not finite", i);
    if (i > 0 && !(l[i] > l[i - 1]))
      return VALLEY_ERROR(err, VALLEY_EINVAL,
                          "table valley: l must increase strictly (l[%zu] = %g <= %g)", i, l[i],
                          l[i - 1]);
    if (loss[i] < loss[imin]) imin = i;
  }
  valley_valley1d_table_t *t = calloc(1, sizeof *t);
  if (t == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "table valley of %zu samples", n);
  t->n = n;
  t->w = malloc(n * sizeof *t->w);
  t->loss = malloc(n * sizeof *t->loss);
  t->interp = gsl_interp_alloc(gsl_interp_steffen, n);
  if (t->w == NULL || t->loss == NULL || t->interp == NULL) {
    valley_valley1d_table_free(t);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "table valley of %zu samples", n);
  }
  for (size_t i = 0; i < n; i++) {
    size_t k = side > 0 ? i : n - 1 - i;
    t->w[i] = side * (l[k] - l[imin]);
    t->loss[i] = loss[k] - loss[imin];
  }
  t->w[side > 0 ? imin : n - 1 - imin] = 0.0; /* exactly, whatever the rounding */
  gsl_error_handler_t *old = gsl_set_error_handler_off();
  int rc = gsl_interp_init(t->interp, t->w, t->loss, n);
  gsl_set_error_handler(old);
  if (rc != GSL_SUCCESS) {
    valley_valley1d_table_free(t);
    return VALLEY_ERROR(err, VALLEY_EINVAL, "table valley: GSL interpolation failed (%s)",
                        gsl_strerror(rc));
  }
  t->g_lo = gsl_interp_eval_deriv(t->interp, t->w, t->loss, t->w[0], NULL);
  t->g_hi = gsl_interp_eval_deriv(t->interp, t->w, t->loss, t->w[n - 1], NULL);
  if (l_min != NULL) *l_min = l[imin];
  if (loss_min != NULL) *loss_min = loss[imin];
  *out = t;
  return VALLEY_OK;
}

size_t valley_valley1d_table_samples(const valley_valley1d_table_t *t, const double **w,
                                     const double **loss) {
  *w = t->w;
  *loss = t->loss;
  return t->n;
}

static double table_loss(const valley_valley1d_table_t *t, double w) {
  if (isnan(w)) return NAN;
  if (w <= t->w[0]) return t->loss[0] + t->g_lo * (w - t->w[0]);
  if (w >= t->w[t->n - 1]) return t->loss[t->n - 1] + t->g_hi * (w - t->w[t->n - 1]);
  return gsl_interp_eval(t->interp, t->w, t->loss, w, NULL);
}

static double table_grad(const valley_valley1d_table_t *t, double w) {
  if (isnan(w)) return NAN;
  if (w <= t->w[0]) return t->g_lo;
  if (w >= t->w[t->n - 1]) return t->g_hi;
  return gsl_interp_eval_deriv(t->interp, t->w, t->loss, w, NULL);
}

VALLEY_NAME_FUNCS(valley_valley1d_kind_parse, valley_valley1d_kind_name,
                  valley_valley1d_kind_t, kind_names)

valley_status_t valley_valley1d_check(const valley_valley1d_t *v, valley_error_t *err) {
  if (v->kind == VALLEY_VALLEY1D_TABLE)
    return v->table != NULL
               ? VALLEY_OK
               : VALLEY_ERROR(err, VALLEY_EINVAL,
                              "a table valley needs measured samples (valley_valley1d_table_alloc)");
  if (!isfinite(v->a_plus) || !isfinite(v->a_minus) || !isfinite(v->b_plus) ||
      !isfinite(v->b_minus) || !isfinite(v->scale))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "valley gradients must be finite numbers");
  if (!(v->a_minus < 0))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "--a-minus must be < 0 (got %g)", v->a_minus);
  if (!(v->b_plus > 0))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "--b-plus must be > 0 (got %g)", v->b_plus);
  if (!(v->b_plus <= v->a_plus))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "--b-plus must be <= --a-plus (got %g > %g)",
                        v->b_plus, v->a_plus);
  if (!(v->b_minus <= v->a_minus))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "--b-minus must be <= --a-minus (got %g > %g)",
                        v->b_minus, v->a_minus);
  if (!(v->scale > 0))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "--scale must be > 0 (got %g)", v->scale);
  if ((unsigned)v->kind > VALLEY_VALLEY1D_TABLE)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "unknown valley kind %d", (int)v->kind);
  return VALLEY_OK;
}

/* log cosh x without overflow: |x| + log1p(exp(-2|x|)) - log 2. */
static double log_cosh(double x) {
  double ax = fabs(x);
  return ax + log1p(exp(-2.0 * ax)) - 0.693147180559945309417232121458176568; /* log 2 */
}

double valley_valley1d_loss(double w, void *params) {
  const valley_valley1d_t *v = params;
  double s = v->scale;
  switch (v->kind) {
  case VALLEY_VALLEY1D_TABLE:
    return table_loss(v->table, w);
  case VALLEY_VALLEY1D_SATURATING:
    if (w >= 0) return v->b_plus * w + (v->a_plus - v->b_plus) * s * log_cosh(w / s);
    return v->a_minus * w - (v->b_minus - v->a_minus) * s * log_cosh(w / s);
  case VALLEY_VALLEY1D_CANONICAL:
  default:
    return w >= 0 ? v->a_plus * w : v->a_minus * w;
  }
}

double valley_valley1d_grad(double w, void *params) {
  const valley_valley1d_t *v = params;
  switch (v->kind) {
  case VALLEY_VALLEY1D_TABLE:
    return table_grad(v->table, w);
  case VALLEY_VALLEY1D_SATURATING:
    if (w >= 0) return v->b_plus + (v->a_plus - v->b_plus) * tanh(w / v->scale);
    return v->a_minus + (v->b_minus - v->a_minus) * tanh(-w / v->scale);
  case VALLEY_VALLEY1D_CANONICAL:
  default:
    return w >= 0 ? v->a_plus : v->a_minus;
  }
}
