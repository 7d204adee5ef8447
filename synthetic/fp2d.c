/* The 2-D Fokker-Planck examples of Appendix B.1 (shift-curvature paper): a separable one whose
 * V = D^{-1}(grad U + (T/2) div D) is a gradient, and one with curl.  docs/fokker_planck_fv.md. */
#include "valley/fp2d.h"

#include <math.h>

/* U = U1(x) + U2(y), d_i = 1 + U_i = 1 / f'(U_i) with f(u) = log(1 + u). */
static void separable_eval(double x, double y, const void *params, valley_fp2d_eval_t *out) {
  const valley_fp2d_example_t *p = params;
  double x2m1 = x * x - 1;
  double u1 = 0.25 * x2m1 * x2m1 + VALLEY_FP2D_SEP_TILT * x + VALLEY_FP2D_SEP_SHIFT;
  double du1 = x * x2m1 + VALLEY_FP2D_SEP_TILT;
  double u2 = 0.5 * p->a * y * y, du2 = p->a * y;
  out->U = u1 + u2;
  out->Ux = du1;
  out->Uy = du2;
  out->d1 = 1 + u1;
  out->d2 = 1 + u2;
  out->d1x = du1;
  out->d2y = du2;
}

/* U = (x^2 + y^2) / 2, d1 = 1 + a y^2, d2 = 1. */
static void curl_eval(double x, double y, const void *params, valley_fp2d_eval_t *out) {
  const valley_fp2d_example_t *p = params;
  out->U = 0.5 * (x * x + y * y);
  out->Ux = x;
  out->Uy = y;
  out->d1 = 1 + p->a * y * y;
  out->d2 = 1;
  out->d1x = 0;
  out->d2y = 0;
}

static void box(const valley_fp2d_example_t *params, valley_fp2d_t *out) {
  out->params = params;
  out->xlo = out->ylo = -params->L;
  out->xhi = out->yhi = params->L;
}

void valley_fp2d_separable(valley_fp2d_example_t *params, valley_fp2d_t *out) {
  out->eval = separable_eval;
  box(params, out);
}

void valley_fp2d_curl(valley_fp2d_example_t *params, valley_fp2d_t *out) {
  out->eval = curl_eval;
  box(params, out);
}

valley_status_t valley_fp2d_check_args(const valley_fp2d_t *p, double T, size_t nx, size_t ny,
                                       valley_error_t *err) {
  if (p == NULL || p->eval == NULL)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "the problem or its eval callback is NULL");
  if (nx < 3 || ny < 3)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "grid %zu x %zu: need at least 3 x 3", nx, ny);
  if (!(T > 0) || !isfinite(T))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "temperature T = %g: need a finite T > 0", T);
  if (!(p->xlo < p->xhi) || !(p->ylo < p->yhi) || !isfinite(p->xlo) || !isfinite(p->xhi) ||
      !isfinite(p->ylo) || !isfinite(p->yhi))
    return VALLEY_ERROR(err, VALLEY_EDOM, "box [%g, %g] x [%g, %g]: need finite lo < hi",
                        p->xlo, p->xhi, p->ylo, p->yhi);
  return VALLEY_OK;
}
