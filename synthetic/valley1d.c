/* One-dimensional asymmetric valleys for Theorem 2 (He, Huang, Yuan 2019, Sec. 5.1):
 * the canonical piecewise-linear valley and a saturating valley whose gradient sweeps
 * [b+, a+] on the flat side and [b-, a-] on the sharp side. */
#include "valley/valley1d.h"

#include <math.h>
#include <string.h>

static const char *const kind_names[] = {"canonical", "saturating"};

VALLEY_NAME_FUNCS(valley_valley1d_kind_parse, valley_valley1d_kind_name,
                  valley_valley1d_kind_t, kind_names)

valley_status_t valley_valley1d_check(const valley_valley1d_t *v, valley_error_t *err) {
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
  if ((unsigned)v->kind > VALLEY_VALLEY1D_SATURATING)
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
  case VALLEY_VALLEY1D_SATURATING:
    if (w >= 0) return v->b_plus + (v->a_plus - v->b_plus) * tanh(w / v->scale);
    return v->a_minus + (v->b_minus - v->a_minus) * tanh(-w / v->scale);
  case VALLEY_VALLEY1D_CANONICAL:
  default:
    return w >= 0 ? v->a_plus : v->a_minus;
  }
}
