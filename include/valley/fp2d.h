/* Two-dimensional Fokker-Planck problems with diagonal noise (shift-curvature paper, Appendix
 * B.1, Assumption 1):
 *   d_t rho = div( grad U rho + (T/2) div(D rho) ),  D = diag(d1(x, y), d2(x, y)),
 * on the box [xlo, xhi] x [ylo, yhi] with zero flux through its walls.  The paper's formula
 * rho ∝ exp(-2 v / T) needs V = D^{-1} (grad U + (T/2) div D) to be a gradient (zero curl);
 * Langevin form: dx = -U_x dt + sqrt(T d1) dW1, dy = -U_y dt + sqrt(T d2) dW2. */
#ifndef VALLEY_FP2D_H
#define VALLEY_FP2D_H

#include <stddef.h>

#include "valley/error.h"

typedef struct {
  double U, Ux, Uy;  /* the loss and its gradient */
  double d1, d2;     /* the diagonal of D, both > 0 */
  double d1x, d2y;   /* d(d1)/dx and d(d2)/dy: (div D)_x = d1x, (div D)_y = d2y */
} valley_fp2d_eval_t;

typedef void (*valley_fp2d_fn)(double x, double y, const void *params, valley_fp2d_eval_t *out);

typedef struct {
  valley_fp2d_fn eval;
  const void *params;
  double xlo, xhi, ylo, yhi;
} valley_fp2d_t;

/* The examples of issue 4 (parameters in docs/fokker_planck_fv.md; fill `params` storage that must
 * outlive the problem):
 *  - separable (Appendix B.1, example 3): U = U1(x) + U2(y) with U1 a double well and U2 a
 *    quadratic, d_i = 1 / f'(U_i) with f(u) = log(1 + u), so v = (1 + T/2) sum log(1 + U_i) and
 *    the formula holds;
 *  - curl: U = (x^2 + y^2)/2 with d1 = 1 + a y^2, d2 = 1, whose V has curl
 *    -2 a x y / (1 + a y^2)^2 != 0, so no zero-current steady state exists. */
typedef struct {
  double a;      /* curl strength (curl example) or the quadratic's curvature (separable) */
  double L;      /* the box is [-L, L]^2 */
} valley_fp2d_example_t;

/* The separable example's double well (docs/fokker_planck_fv.md):
 *   U1(x) = (x^2 - 1)^2 / 4 + TILT x + SHIFT,  U2(y) = a y^2 / 2  (a >= 0),
 * SHIFT chosen so that min U1 = 0.0226 > 0 (min of the first two terms: -0.10239 at x = -1.0467),
 * so U_i >= 0 and d_i = 1 + U_i >= 1 everywhere. */
#define VALLEY_FP2D_SEP_TILT 0.1
#define VALLEY_FP2D_SEP_SHIFT 0.125

/* The checks every 2-D solver makes first: a problem with a callback, an nx x ny grid of at
 * least 3 x 3, finite T > 0 (EINVAL), and a finite box with lo < hi (EDOM). */
valley_status_t valley_fp2d_check_args(const valley_fp2d_t *p, double T, size_t nx, size_t ny,
                                       valley_error_t *err);

void valley_fp2d_separable(valley_fp2d_example_t *params, valley_fp2d_t *out);
void valley_fp2d_curl(valley_fp2d_example_t *params, valley_fp2d_t *out);

#endif
