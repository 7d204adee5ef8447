/* One-dimensional Fokker-Planck problems (shift-curvature paper, eqs. (5), (10), (11)):
 *   d_t rho = d_theta ( U'(theta) rho + (T/2) d_theta (D(theta) rho) )   on [lo, hi],
 * zero flux at both ends (reflecting walls).  Its zero-current steady state is
 *   rho(theta) = exp(-2 v(theta, T) / T) / Z,  v(theta, T) = int (U' + (T/2) D') / D,
 * and the matching Langevin equation is d theta = -U' dt + sqrt(T D) dW.
 *
 * A problem is a callback that returns U, D and their first two derivatives at a point; every
 * solver (quadrature steady state, finite volumes, SDE and SGD ensembles) reads only this. */
#ifndef VALLEY_FP1D_H
#define VALLEY_FP1D_H

#include "valley/error.h"

typedef struct {
  double U, dU, d2U; /* training loss and its first two derivatives */
  double D, dD, d2D; /* gradient-noise variance (> 0) and its first two derivatives */
} valley_fp1d_eval_t;

typedef void (*valley_fp1d_fn)(double theta, const void *params, valley_fp1d_eval_t *out);

typedef struct {
  valley_fp1d_fn eval;
  const void *params;
  double lo, hi; /* the domain, lo < hi, reflecting ends */
  /* Optional closed form of F(theta) = int U'/D dtheta (any additive constant); NULL when there
   * is none, and the steady state then integrates U'/D by adaptive quadrature.  With it,
   * v(theta, T) = F(theta) + (T/2) log D(theta) + const. */
  double (*antideriv)(double theta, const void *params);
} valley_fp1d_t;

/* V(theta) = (U' + (T/2) D') / D, the derivative of the effective potential. */
static inline double valley_fp1d_vprime(const valley_fp1d_eval_t *e, double T) {
  return (e->dU + 0.5 * T * e->dD) / e->D;
}

/* v''(theta) = (U'' + (T/2) D'') / D - (U' + (T/2) D') D' / D^2. */
static inline double valley_fp1d_vsecond(const valley_fp1d_eval_t *e, double T) {
  return (e->d2U + 0.5 * T * e->d2D) / e->D - (e->dU + 0.5 * T * e->dD) * e->dD / (e->D * e->D);
}

/* Checks lo < hi (finite) and that D is finite and > 0 and U finite at n+1 points spread over
 * the domain; EDOM naming the point otherwise. */
valley_status_t valley_fp1d_check(const valley_fp1d_t *p, int n, valley_error_t *err);

#endif
