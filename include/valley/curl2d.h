/* The zero-current formula against the 2-D Fokker-Planck steady state (shift-curvature paper,
 * Appendix B.1, Assumption 1).  The paper's rho ∝ exp(-2 v / T) takes v as a potential of
 *   V = D^{-1} (grad U + (T/2) div D);
 * when V has curl, no potential exists and a line integral of V depends on its path.  Here v is
 * the integral from a reference point (x0, y0) along two axis-parallel paths, and the densities
 * it gives are compared in L1 with the finite-volume steady state (fv.h), which needs no
 * potential.  docs/fokker_planck_fv.md has the examples and the numbers. */
#ifndef VALLEY_CURL2D_H
#define VALLEY_CURL2D_H

#include <stddef.h>

#include "valley/error.h"
#include "valley/fp2d.h"

typedef enum {
  VALLEY_CURL2D_XY = 0, /* along x at y = y0 to (x, y0), then along y to (x, y) */
  VALLEY_CURL2D_YX = 1, /* along y at x = x0 to (x0, y), then along x to (x, y) */
  VALLEY_CURL2D_AVG = 2 /* the mean of the two */
} valley_curl2d_path_t;

/* v[j * nx + i] at the cell centres (x_i, y_j) of the nx x ny grid on p's box, the line integral
 * of V from (x0, y0) along `path`, each piece between neighbouring centres by 5-point
 * Gauss-Legendre (error ~ h^10: rounding level for smooth V).  EINVAL for nx or ny < 3, T <= 0,
 * an unknown path; EDOM for an empty box, (x0, y0) outside it, or a non-finite V. */
valley_status_t valley_curl2d_potential(const valley_fp2d_t *p, double T, size_t nx, size_t ny,
                                        double x0, double y0, valley_curl2d_path_t path,
                                        double *v, valley_error_t *err);

/* rho[k] = exp(-2 (v[k] - min v) / T) / Z with area * sum rho = 1 (midpoint rule). */
void valley_curl2d_density(const double *v, size_t n, double T, double area, double *rho);

/* max over the grid of |curl V| = |d_x V_y - d_y V_x|, by second-order finite differences of
 * V at the cell centres (one-sided at the walls). */
valley_status_t valley_curl2d_curl_max(const valley_fp2d_t *p, double T, size_t nx, size_t ny,
                                       double *curl_max, valley_error_t *err);

typedef struct {
  size_t nx, ny;
  double hx, hy;
  double *x, *y;          /* cell centres */
  double *rho_fv;         /* the finite-volume steady state, [j * nx + i], hx hy sum = 1 */
  double *rho_xy, *rho_yx, *rho_avg; /* the formula along each path, same normalisation */
  double l1_xy, l1_yx, l1_avg; /* hx hy sum |rho_path - rho_fv| */
  double l1_paths;        /* hx hy sum |rho_xy - rho_yx| */
  double curl_max;        /* valley_curl2d_curl_max */
  double fv_residual;     /* valley_fv2d_result_t.residual */
} valley_curl2d_t;

/* The finite-volume steady state and the formula on the same nx x ny grid, and their L1
 * distances.  Errors as valley_fv2d_steady and valley_curl2d_potential.  Free with
 * valley_curl2d_free. */
valley_status_t valley_curl2d_compare(const valley_fp2d_t *p, double T, size_t nx, size_t ny,
                                      double x0, double y0, valley_curl2d_t *out,
                                      valley_error_t *err);

void valley_curl2d_free(valley_curl2d_t *r);

/* One of r's densities (rho_fv, rho_xy, ...) as the probabilities of bx x by equal bins on the
 * box, p[j * bx + i]: r's cells summed, so bx must divide nx and by divide ny (EINVAL). */
valley_status_t valley_curl2d_bin_probs(const valley_curl2d_t *r, const double *rho, size_t bx,
                                        size_t by, double *p, valley_error_t *err);

#endif
