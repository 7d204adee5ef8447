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
  VALLEY_VALLEY1D_SATURATING = 1
} valley_valley1d_kind_t;

typedef struct {
  valley_valley1d_kind_t kind;
  double a_plus, a_minus, b_plus, b_minus;
  double scale; /* s, the length scale of the saturating valley (> 0) */
} valley_valley1d_t;

/* Kind from its name ("canonical", "saturating"); EINVAL for an unknown name. */
valley_status_t valley_valley1d_kind_parse(const char *name, valley_valley1d_kind_t *kind);
const char *valley_valley1d_kind_name(valley_valley1d_kind_t kind);

/* Checks the valley's shape: a_minus < 0 < b_plus <= a_plus, b_minus <= a_minus, scale > 0, all
 * finite. */
valley_status_t valley_valley1d_check(const valley_valley1d_t *v, valley_error_t *err);

/* The loss (zero at w = 0) and its gradient. gsl_function-shaped: params is a valley_valley1d_t. */
double valley_valley1d_loss(double w, void *params);
double valley_valley1d_grad(double w, void *params);

#endif
