/* One-dimensional asymmetric valleys (He, Huang, Yuan 2019, Def. 1-3 and Theorem 2): the
 * minimiser is w* = 0, the flat side is w >= 0, the sharp side w < 0. */
#ifndef VALLEY_VALLEY1D_H
#define VALLEY_VALLEY1D_H

#include "valley/error.h"

typedef enum {
  /* g = a_plus for w >= 0, g = a_minus for w < 0 (the canonical valley of Theorem 2) */
  VALLEY_VALLEY1D_CANONICAL = 0,
  /* g = b_plus + (a_plus - b_plus) tanh(w/s) for w >= 0,
   * g = a_minus + (b_minus - a_minus) tanh(-w/s) for w < 0: the gradient sweeps [b+, a+] and
   * [b-, a-] */
  VALLEY_VALLEY1D_SATURATING = 1,
  /* a measured profile (valley_valley1d_table_t): the loss is a Steffen (monotone between
   * samples) interpolating spline of (w, loss) samples, extended linearly with the end slopes
   * beyond them; a_plus ... scale are ignored */
  VALLEY_VALLEY1D_TABLE = 2
} valley_valley1d_kind_t;

/* A tabulated valley (read-only once built, so it may be shared between threads). */
typedef struct valley_valley1d_table valley_valley1d_table_t;

typedef struct {
  valley_valley1d_kind_t kind;
  double a_plus, a_minus, b_plus, b_minus;
  double scale; /* s, the length scale of the saturating valley (> 0) */
  const valley_valley1d_table_t *table; /* the TABLE kind's samples (caller-owned), else unused */
} valley_valley1d_t;

/* A table from n >= 3 samples (l[i], loss[i]) of a measured profile, l strictly increasing,
 * all finite: w = side * (l - l_min) with l_min the sample of least loss (the first on ties)
 * and side = +1 or -1 (the side of l_min that becomes the flat side w >= 0), loss minus the
 * least loss.  *l_min and *loss_min (may be NULL) get the shift.  EINVAL / ENOMEM. */
valley_status_t valley_valley1d_table_alloc(const double *l, const double *loss, size_t n,
                                            int side, valley_valley1d_table_t **out,
                                            double *l_min, double *loss_min, valley_error_t *err);
void valley_valley1d_table_free(valley_valley1d_table_t *t);
/* The table's samples in its own coordinates (w ascending, loss >= 0; valid while t lives). */
size_t valley_valley1d_table_samples(const valley_valley1d_table_t *t, const double **w,
                                     const double **loss);

/* Kind from its name ("canonical", "saturating", "table"); EINVAL for an unknown name. */
valley_status_t valley_valley1d_kind_parse(const char *name, valley_valley1d_kind_t *kind);
const char *valley_valley1d_kind_name(valley_valley1d_kind_t kind);

/* Checks the valley's shape: a_minus < 0 < b_plus <= a_plus, b_minus <= a_minus, scale > 0, all
 * finite; for the TABLE kind only that it has a table (a measured profile need not satisfy
 * Theorem 2's slope bounds; the caller reports them). */
valley_status_t valley_valley1d_check(const valley_valley1d_t *v, valley_error_t *err);

/* The loss (zero at w = 0) and its gradient. gsl_function-shaped: params is a valley_valley1d_t. */
double valley_valley1d_loss(double w, void *params);
double valley_valley1d_grad(double w, void *params);

#endif
