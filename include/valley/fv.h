/* Finite-volume Fokker-Planck solvers (shift-curvature paper, eqs. (5), (10) and Appendix B.1):
 * an independent route to the steady states that theorems/ computes from the zero-current
 * formula.  docs/fokker_planck_fv.md has the schemes, their order and the measured errors.
 *
 * 1-D: d_t rho = d_theta ( U' rho + (T/2) d_theta(D rho) ) on equal cells of [lo, hi], zero flux at
 * the walls.  With q = D rho the current is J = -(T/2)(q' + a q), a = 2U'/(T D), and the flux
 * through a face is the exponentially fitted (Scharfetter-Gummel) one, exact for constant a:
 *   J_{i+1/2} = -(T/2)/h [ B(-a h) q_{i+1} - B(a h) q_i ],   B(z) = z / (e^z - 1),
 * with a taken at the face and q at the cell centres.  Its discrete steady state is
 * q_{i+1} / q_i = exp(-a_{i+1/2} h) exactly, second order in h against exp(-2 v / T).
 *
 * 2-D (diagonal D): the same flux in x (U_x, d1) and in y (U_y, d2) on an nx x ny grid.
 *
 * The semi-discrete system is a continuous-time Markov chain on the cells, rho' = A rho with A's
 * off-diagonal entries (the rates) >= 0 and its columns summing to zero.  Every linear solve
 * below is a subtraction-free (Grassmann-Taksar-Heyman) elimination: each pivot is a sum of
 * rates, never a difference, so densities stay >= 0 and every entry of the result is accurate
 * to a small multiple of the rounding unit relative to itself, however small. */
#ifndef VALLEY_FV_H
#define VALLEY_FV_H

#include <stddef.h>

#include "valley/error.h"
#include "valley/fp1d.h"
#include "valley/fp2d.h"

/* B(z) = z / (e^z - 1) (B(0) = 1) and log B(z), without overflow for any finite z. */
double valley_fv_bernoulli(double z);
double valley_fv_log_bernoulli(double z);

/* ---- 1-D ----------------------------------------------------------------------------------- */

typedef struct {
  size_t cells;
  double h;            /* cell width (hi - lo) / cells */
  double *x;           /* cell centres lo + (i + 1/2) h */
  double *rho;         /* cell averages, h sum rho = 1 */
  int steps;           /* implicit Euler steps taken, the final dt = infinity step included */
  double march_change; /* L1 change of the last finite-dt step */
  double change;       /* L1 change of the final (dt = infinity) step: how far the finite-dt
                        * march was from the steady state when it stopped (large at small T,
                        * where the inter-basin mode is frozen; see the docs) */
} valley_fv1d_result_t;

/* Implicit Euler from the cell averages rho[0..cells-1] (>= 0, finite) to time t_end >= 0, in
 * ceil(t_end / dt) equal steps of at most dt > 0.  Mass is conserved to rounding and rho stays
 * >= 0.  First order in time, second in space.  EINVAL for cells < 3, T <= 0, dt <= 0,
 * t_end < 0, a negative or non-finite rho; EDOM for lo >= hi or a non-finite U' or D <= 0 at a
 * face or centre; ENOMEM. */
valley_status_t valley_fv1d_evolve(const valley_fp1d_t *p, double T, size_t cells, double *rho,
                                   double t_end, double dt, valley_error_t *err);

/* The steady state: from the uniform density, implicit Euler steps with dt growing tenfold per
 * step (from 1 / the largest total rate) until the L1 change per step is < tol, max_steps steps
 * were taken, or dt passed 1e200 / that rate; then the dt = infinity step, which is the null
 * vector of A (the limit of one implicit Euler step as dt -> infinity, by the same elimination
 * in logarithms, so it holds for any barrier height).  The returned density is that null
 * vector, normalised to h sum rho = 1.  EINVAL/EDOM as for evolve, plus tol <= 0 or
 * max_steps < 1.  Free the result with valley_fv1d_result_free. */
valley_status_t valley_fv1d_steady(const valley_fp1d_t *p, double T, size_t cells, double tol,
                                   int max_steps, valley_fv1d_result_t *out,
                                   valley_error_t *err);

void valley_fv1d_result_free(valley_fv1d_result_t *r);

/* ---- 2-D ----------------------------------------------------------------------------------- */

typedef struct {
  size_t nx, ny;
  double hx, hy;
  double *x, *y;   /* cell centres, nx and ny of them */
  double *rho;     /* rho[j * nx + i] at (x[i], y[j]), hx hy sum rho = 1 */
  double residual; /* max of |inflow - outflow| / (inflow + outflow) over the cells whose
                    * density exceeds 1e-200 of the peak */
} valley_fv2d_result_t;

/* The steady state of the 2-D scheme: the null vector of A (its stationary vector), by
 * subtraction-free elimination in the band of width nx (cost ~ nx^3 ny, memory
 * 8 nx ny (2 nx + 1) bytes; put the shorter side along x).  OpenMP splits each elimination
 * step's rows; the result is the same for any thread count.  EINVAL for nx or ny < 3, T <= 0;
 * EDOM for an empty box, non-finite gradient or d_i <= 0, or rates that underflow (T too small
 * for the grid); ENOMEM.  Free with valley_fv2d_result_free. */
valley_status_t valley_fv2d_steady(const valley_fp2d_t *p, double T, size_t nx, size_t ny,
                                   valley_fv2d_result_t *out, valley_error_t *err);

void valley_fv2d_result_free(valley_fv2d_result_t *r);

#endif
