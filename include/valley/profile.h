/* 1-D profiles: the train and test losses (and optionally accuracies) sampled along a line
 * w* + l u through a solution w* (l = 0 is w*), the common currency between valley and any
 * framework that trains networks.  CSV format in docs/profiles.md.  On a profile:
 *  - Definition 1 of He, Huang, Yuan (2019) (asymmetric direction), by a window search over
 *    finite-difference slopes;
 *  - the (delta, R)-shift gap of their Definition 3 as a function of delta (Sec. 4.2, Figure 3);
 *  - the symmetrized quadratic curvature fit of the shift-curvature paper (Appendix F, Figure 1),
 *    the shift s and the shift-curvature s^2 c_test / 2.
 * docs/profiles.md gives every formula. */
#ifndef VALLEY_PROF_H
#define VALLEY_PROF_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "valley/error.h"

#define VALLEY_PROF_MIN_POINTS 5

typedef struct {
  size_t n;
  double *l;                    /* strictly increasing; l = 0 is w* */
  double *train, *test;         /* train loss Lhat(l), test loss L(l) */
  double *train_acc, *test_acc; /* NULL when the profile has no accuracy columns */
} valley_prof_t;

/* Reads a profile CSV: a header line naming the columns l, train_loss, test_loss and optionally
 * train_acc, test_acc (both or neither), in any order; other columns are ignored; '#' lines and
 * blank lines are skipped.  Every error is VALLEY_EINVAL (or ENOMEM) with a message
 * "PATH:LINE: what is wrong" (PATH alone for whole-file problems).  On error *p is empty. */
valley_status_t valley_prof_read(const char *path, valley_prof_t *p, valley_error_t *err);

/* Copies arrays into *p (train_acc and test_acc both NULL or both given), with the reader's
 * checks: n >= VALLEY_PROF_MIN_POINTS, finite values, l strictly increasing. */
valley_status_t valley_prof_from_arrays(size_t n, const double *l, const double *train,
                                        const double *test, const double *train_acc,
                                        const double *test_acc, valley_prof_t *p,
                                        valley_error_t *err);

void valley_prof_free(valley_prof_t *p);

/* Writes the profile as CSV (header, %.17g values) after a '#' comment line when comment is not
 * NULL.  Atomic files: the caller opens f with valley_outfile_open. */
void valley_prof_write(FILE *f, const char *comment, const valley_prof_t *p);

/* Linear interpolation of y on the profile's l; NaN outside [l_0, l_{n-1}]. */
double valley_prof_interp(const double *l, const double *y, size_t n, double x);

/* ---- Definition 1 on a sampled curve -------------------------------------------------------
 * The slope at sample i is the least-squares slope of y over samples i-K..i+K (K = smooth; for
 * K = 1 on a uniform grid, the central difference).  For a window [r, rbar] (its ends are sample
 * distances |l_i|) and the flat side on +l: p = max slope over flat samples l_i in [r, rbar],
 * cp = min outward slope -y'(l_i) over sharp samples -l_i in [r, rbar], c = cp / p: the tightest
 * (rbar, r, p, c) of Definition 1 with its strict inequalities relaxed to their closure.  The
 * flat side on -l is the mirror image.  Windows are ranked by the conservative c, the same with
 * every slope moved z standard errors against the claim (z = 0: the estimate itself). */
typedef struct {
  size_t smooth;     /* K >= 1 */
  double min_width;  /* rbar - r >= min_width; 0: auto, 4 median sample spacings */
  double r_min;      /* r >= r_min >= 0 */
  size_t min_points; /* slopes on each side inside the window, >= 1 */
  double z;          /* standard errors against the claim in the ranking, >= 0 */
  double tie;        /* ranks within this relative distance are equal: the wider window wins */
} valley_prof_def1_config_t;

void valley_prof_def1_config_default(valley_prof_def1_config_t *cfg);

typedef struct {
  int valid;          /* 0: no window (then every number below is NaN) */
  int flat_side;      /* +1: flat for l > 0, sharp for l < 0; -1: the mirror image */
  double r, rbar;     /* the window */
  double p;           /* max slope on the flat side (outward) */
  double cp;          /* min outward slope on the sharp side */
  double c;           /* cp / p; +inf when p <= 0 < cp (Definition 1 then holds for every c) */
  double p_hi, cp_lo; /* with slopes moved z standard errors: max(g + z se), min(g - z se) */
  double c_conservative; /* cp_lo / p_hi, +inf when p_hi <= 0 < cp_lo; the ranking key */
  int asymmetric;     /* c > 1 (and cp > 0): Definition 1 holds with (rbar, r, p, c), closure */
  int asymmetric_conservative; /* c_conservative > 1 */
  size_t n_flat, n_sharp;      /* slopes inside the window on each side */
} valley_prof_window_t;

typedef struct {
  valley_prof_def1_config_t config; /* as used: auto values resolved */
  double noise_sd;   /* estimated noise of y: MAD of normalised third divided differences */
  double slope_se;   /* median standard error of a slope, noise_sd / sqrt(S_xx) */
  double slope_abs;  /* median |slope|: slope_se well below it, or the slopes are noise */
  size_t slopes;     /* samples with a slope (K <= i < n - K, l_i != 0) */
  uint64_t windows;  /* windows evaluated, both orientations */
  valley_prof_window_t best;   /* largest c_conservative (ties: the wider window) */
  valley_prof_window_t widest; /* widest window with c_conservative > 1 (ties: larger c) */
} valley_prof_def1_t;

/* Definition 1 on the curve y(l) (n samples, l strictly increasing, l_0 < 0 < l_{n-1}). */
valley_status_t valley_prof_def1(const double *l, const double *y, size_t n,
                                 const valley_prof_def1_config_t *cfg,
                                 valley_prof_def1_t *out, valley_error_t *err);

/* ---- Definition 3: the (delta, R)-shift gap along the line ---------------------------------
 * xi_delta = max_{|v| <= R} |L'(v + delta) - Lhat(v)|, L' = L - min L + min Lhat, with L and
 * Lhat linearly interpolated and the minima over the profile's samples.  Exact for the
 * interpolants: the maximum of a piecewise-linear |f| is at a breakpoint or an end. */
typedef struct {
  double R;          /* > 0; 0: auto, half of min(-l_0, l_{n-1}) */
  double delta_min, delta_max; /* the grid; both 0: auto, [l_0 + R, l_{n-1} - R] */
  double delta_step; /* > 0; 0: auto, half the median sample spacing */
} valley_prof_gap_config_t;

typedef struct {
  valley_prof_gap_config_t config; /* as used */
  size_t n;
  double *delta, *xi;      /* the grid and xi there; NaN where [delta - R, delta + R] leaves
                              the profile */
  double min_train, min_test;
  double xi0;              /* xi at delta = 0 */
  double delta_star;       /* the grid point with the smallest xi (first of equals) */
  double xi_star, ratio;   /* xi there, and xi_star / xi0 (the paper's Figure 3(b) quantity) */
} valley_prof_gap_t;

valley_status_t valley_prof_shift_gap(const valley_prof_t *p,
                                      const valley_prof_gap_config_t *cfg,
                                      valley_prof_gap_t *out, valley_error_t *err);
void valley_prof_gap_free(valley_prof_gap_t *g);

/* xi_delta for one delta (NaN where [delta - R, delta + R] or [-R, R] leaves the profile). */
double valley_prof_xi(const valley_prof_t *p, double R, double delta);

/* "delta,xi,xi_over_xi0" after a '#' comment line (Figure 3(b)). */
void valley_prof_gap_write(FILE *f, const char *comment, const valley_prof_gap_t *g);

/* ---- Appendix F: symmetrized quadratic fits -------------------------------------------------
 * Each curve's minimum: the sampled minimum refined by the vertex of the parabola through it and
 * its two neighbours.  The curve on one branch x = side (l - l_min) in (0, window] is fitted by
 * y - y_min = c x^2 / 2 (least squares through the minimum value: reflecting the branch about
 * l_min doubles every point and leaves c unchanged).  The paper's branches: the test curve
 * toward the train minimum, the train curve the same way (away from the test minimum), i.e.
 * side = -sign(s), s = l_min(test) - l_min(train); both sides when s = 0 or both_sides. */
typedef struct {
  double window;  /* > 0; 0: auto, the largest |x| both curves have on their branches */
  int both_sides; /* 1: fit both sides of each minimum instead of the paper's branch */
} valley_prof_curv_config_t;

typedef struct {
  size_t index;       /* the sampled minimum */
  double l_min, y_min; /* refined */
  int side;           /* the branch fitted: -1, +1, 0 (both) */
  double c;           /* the fitted curvature */
  double rms;         /* root mean square residual of the fit */
  size_t points;      /* samples in the fit */
} valley_prof_fit_t;

typedef struct {
  valley_prof_curv_config_t config; /* as used */
  valley_prof_fit_t train, test;
  double shift;             /* s = l_min(test) - l_min(train) */
  double shift_curvature;   /* s^2 c_test / 2 (the paper's s^T C_test s / 2 along the line) */
  double test_at_train_min; /* L(l_min(train)), linear interpolation */
  double test_predicted;    /* min L + s^2 c_test / 2 (Figure 2: test loss at the train minimum) */
} valley_prof_curv_t;

/* EDOM when a minimum is at the profile's edge or a branch has fewer than 2 samples. */
valley_status_t valley_prof_curvature(const valley_prof_t *p,
                                      const valley_prof_curv_config_t *cfg,
                                      valley_prof_curv_t *out, valley_error_t *err);

#endif
