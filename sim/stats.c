/* Ratio estimators with replicate (per-chain) standard errors. */
#include "valley/stats.h"

#include <math.h>
#include <stdint.h>

static double get(const void *base, size_t i, size_t stride, int is_u64) {
  const char *p = (const char *)base + i * stride;
  return is_u64 ? (double)*(const uint64_t *)p : *(const double *)p;
}

valley_ratio_t valley_ratio_estimate(const void *y, const void *x, size_t n, size_t stride,
                                     int y_is_u64, int x_is_u64) {
  valley_ratio_t r = {NAN, NAN, 0};
  double sy = 0, sx = 0;
  for (size_t i = 0; i < n; i++) {
    double xi = get(x, i, stride, x_is_u64);
    sy += get(y, i, stride, y_is_u64);
    sx += xi;
    r.n += xi > 0;
  }
  if (!(sx > 0)) return r;
  r.estimate = sy / sx;
  if (n < 2) return r;
  double ss = 0;
  for (size_t i = 0; i < n; i++) {
    double d = get(y, i, stride, y_is_u64) - r.estimate * get(x, i, stride, x_is_u64);
    ss += d * d;
  }
  double xbar = sx / (double)n;
  r.stderr_ = sqrt(ss / ((double)n * (double)(n - 1))) / xbar;
  return r;
}
