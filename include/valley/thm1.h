/* Theorem 1 of He, Huang, Yuan (2019), Sec. 4.1 and Appendix B: the expected gain of the biased
 * point, the bound, and checkers for Definitions 1 and 3 and Assumptions 1 and 2, on the
 * landscapes of valley/landscape.h.  docs/theorem1.md gives every formula. */
#ifndef VALLEY_THM1_H
#define VALLEY_THM1_H

#include <stdint.h>

#include "valley/landscape.h"

/* Exact enumeration is offered up to this dimension (2^d sign patterns). */
#define VALLEY_THM1_ENUM_MAX_D 32

typedef int (*valley_progress_fn)(double fraction, void *arg); /* nonzero: cancel */

/* The expected gain's Lhat part, G_hat = E_s[Lhat(-delta(s)) - Lhat(x_l - delta(s))]. */
typedef struct {
  double gain_hat;
  double stderr_;          /* Monte Carlo standard error; 0 when exact */
  double abs_mean;         /* E_s[|Lhat(-delta)| + |Lhat(x_l - delta)|]: the rounding scale */
  uint64_t patterns;       /* sign patterns enumerated, or samples drawn */
  int exact;               /* 1: enumeration */
  double sin_hi_max[2];    /* q = sin, enumeration: max_s of max sin over [theta_s -+ omega R_j]
                              for the two radii given; NaN otherwise */
} valley_thm1_gain_t;

/* All 2^d patterns, d <= VALLEY_THM1_ENUM_MAX_D, in Gray-code order within blocks of 2^12 (one
 * O(k) update per pattern; each block restarts from a direct sum, so rounding cannot drift).
 * Compensated sums in a fixed order: the result does not depend on threads (0: all). */
valley_status_t valley_thm1_enumerate(const valley_land_t *L, const double radii[2], int threads,
                                      valley_progress_fn progress, void *progress_arg,
                                      valley_thm1_gain_t *g, valley_error_t *err);

/* `samples` patterns drawn from PCG32 `seed` (block b of 4096 samples uses stream b), paired
 * differences, mean and standard error.  Independent of the thread count. */
valley_status_t valley_thm1_monte_carlo(const valley_land_t *L, uint64_t samples, uint64_t seed,
                                        int threads, valley_progress_fn progress,
                                        void *progress_arg, valley_thm1_gain_t *g,
                                        valley_error_t *err);

/* The two runs above in pieces, for splitting one gain across processes (cli/mpi.c): the run is
 * a sequence of blocks (enumeration: 2^12 patterns each; Monte Carlo: 4096 samples, PCG32
 * stream b), *_blocks computes blocks [first, first + count) into out[0 .. count-1] (the same
 * kernels and threads as the whole run), and *_reduce combines all of them, in block order, into
 * the gain the whole run returns, bit for bit.  The block records are plain doubles. */
typedef struct {
  double sum, comp, abs, hi[2];
} valley_thm1_enum_block_t;
typedef struct {
  double n, mean, m2, abs;
} valley_thm1_mc_block_t;

/* Blocks of the enumeration in dimension d (0 when d > VALLEY_THM1_ENUM_MAX_D). */
uint64_t valley_thm1_enumerate_nblocks(size_t d);
valley_status_t valley_thm1_enumerate_blocks(const valley_land_t *L, const double radii[2],
                                             uint64_t first, uint64_t count, int threads,
                                             valley_progress_fn progress, void *progress_arg,
                                             valley_thm1_enum_block_t *out, valley_error_t *err);
/* blocks: all valley_thm1_enumerate_nblocks(L->d) of them. */
void valley_thm1_enumerate_reduce(const valley_land_t *L, const valley_thm1_enum_block_t *blocks,
                                  valley_thm1_gain_t *g);

/* Blocks of a Monte Carlo of `samples` samples. */
uint64_t valley_thm1_monte_carlo_nblocks(uint64_t samples);
valley_status_t valley_thm1_monte_carlo_blocks(const valley_land_t *L, uint64_t samples,
                                               uint64_t seed, uint64_t first, uint64_t count,
                                               int threads, valley_progress_fn progress,
                                               void *progress_arg, valley_thm1_mc_block_t *out,
                                               valley_error_t *err);
/* blocks: all valley_thm1_monte_carlo_nblocks(samples) of them. */
void valley_thm1_monte_carlo_reduce(const valley_thm1_mc_block_t *blocks, uint64_t samples,
                                    valley_thm1_gain_t *g);

/* xi (q(0) - q(x_l)): the perturbation's share of the gain (it does not depend on s). */
double valley_thm1_q_part(const valley_land_t *L);

/* The Assumption 1 constant at radius R (Definition 3, max over the patterns): exact == 1 when it
 * is the gap itself, 0 when it is an upper bound on it (still a valid xi for Assumption 1).
 * sin_hi_max: from the enumeration at this R, or NaN when not enumerated. */
typedef struct {
  double value;
  int exact;
} valley_thm1_xi_t;
valley_thm1_xi_t valley_thm1_xi_assumption1(const valley_land_t *L, double R, double sin_hi_max);

/* Assumption 2's constants from the construction, valid at every point: p'_i = p_i + gamma,
 * c'_i p'_i = c_i p_i - gamma (gamma = 0 unless coupled).  pp, cc: k values. */
void valley_thm1_assumption2_constants(const valley_land_t *L, double *pp, double *cc);

/* sum_i (c'_i - 1) l_i p'_i / 2 - 2 k xi. */
double valley_thm1_bound(const valley_land_t *L, const double *pp, const double *cc, double xi);

/* Definition 1 along the line x0 + t e, t in [r, rbar] (e a unit vector): p = sup of
 * d/dt Lhat(x0 + t e), cp = inf of d/dt Lhat(x0 - t e), c = cp / p (the largest c and the
 * tightest p the direction satisfies, with Definition 1's strict inequalities relaxed to their
 * closure).  Sampled on `grid` points plus golden-section refinement around the extremes: exact
 * for the piecewise profiles, an estimate otherwise.  scratch: 2k + d doubles. */
typedef struct {
  double p, cp, c;
} valley_thm1_dir_t;
valley_thm1_dir_t valley_thm1_direction_constants(const valley_land_t *L, const double *x0,
                                                  const double *e, int grid, double *scratch);

/* Assumption 2 for direction i (0-based) at ŵ* + v - <v,u_i> u_i, v in B(Rp): the worst (largest
 * p, smallest cp) over v = 0 and `samples` points drawn uniformly in the ball from PCG32
 * (seed, stream i).  An estimate: the supremum over the ball can only be worse. */
valley_status_t valley_thm1_assumption2_sampled(const valley_land_t *L, size_t i, double Rp,
                                                uint64_t samples, uint64_t seed,
                                                valley_thm1_dir_t *worst, valley_error_t *err);

/* Definition 3 numerically, for the pattern `bits` (d <= 64): m_s = min L_s by Nelder-Mead
 * (GSL nmsimplex2) from `restarts` starts, then max over v in B(R) of |xi q(delta + v) - m_s| by
 * Nelder-Mead from the centre and from the best `restarts` of 64 `restarts` random points (half on
 * the sphere, half in the ball).  A lower estimate of the maximum over v (given m_s). */
valley_status_t valley_thm1_shift_gap_numeric(const valley_land_t *L, uint64_t bits, double R,
                                              int restarts, uint64_t seed, double *gap,
                                              double *m_s, valley_error_t *err);

#endif
