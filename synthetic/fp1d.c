/* One-dimensional Fokker-Planck problems: the sanity check every solver runs first. */
#include "valley/fp1d.h"

#include <math.h>

valley_status_t valley_fp1d_check(const valley_fp1d_t *p, int n, valley_error_t *err) {
  if (p == NULL || p->eval == NULL)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "no Fokker-Planck problem given");
  if (!isfinite(p->lo) || !isfinite(p->hi) || !(p->lo < p->hi))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "domain: need finite lo < hi (got [%g, %g])", p->lo,
                        p->hi);
  if (n < 1) n = 1;
  for (int i = 0; i <= n; i++) {
    double x = i == n ? p->hi : p->lo + (p->hi - p->lo) * i / n;
    valley_fp1d_eval_t e;
    p->eval(x, p->params, &e);
    if (!isfinite(e.U) || !isfinite(e.dU) || !isfinite(e.d2U))
      return VALLEY_ERROR(err, VALLEY_EDOM, "the loss or its derivatives are not finite at %g", x);
    if (!(e.D > 0) || !isfinite(e.D) || !isfinite(e.dD) || !isfinite(e.d2D))
      return VALLEY_ERROR(err, VALLEY_EDOM,
                          "the noise variance D must be finite and > 0 (D(%g) = %g)", x, e.D);
  }
  return VALLEY_OK;
}
