/* Confidence intervals from independent replicates (one per chain). */
#ifndef VALLEY_STATS_H
#define VALLEY_STATS_H

#include <stddef.h>

#define VALLEY_Z95 1.959963984540054  /* two-sided 95% normal quantile */
#define VALLEY_Z999 3.290526731491926 /* two-sided 99.9% normal quantile */

typedef struct {
  double estimate; /* sum(y) / sum(x) */
  double stderr_;  /* delta-method standard error over replicates */
  size_t n;        /* replicates with x > 0 */
} valley_ratio_t;

/* The ratio estimator R = sum y_i / sum x_i over n replicates (y_i, x_i), with the standard error
 * sqrt(sum (y_i - R x_i)^2 / (n (n - 1))) / mean(x).  Replicates are read with a stride (in
 * bytes) so that fields of an array of structs can be used directly.  NaN estimate when
 * sum x = 0; NaN error when fewer than 2 replicates. */
valley_ratio_t valley_ratio_estimate(const void *y, const void *x, size_t n, size_t stride,
                                     int y_is_u64, int x_is_u64);

#endif
