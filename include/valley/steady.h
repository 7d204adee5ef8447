/* The steady state of the SGD diffusion approximation (shift-curvature paper, eqs. (4)-(8),
 * Appendix B): rho(theta) = exp(-2 v(theta, T) / T) / Z on [lo, hi], v the effective potential,
 * its basins, their exact and Laplace weights, the bias of v's minima, the expected train and
 * test losses exactly and by the paper's approximations, and the temperature that minimises the
 * expected test loss.
 *
 * Everything is computed in log space (weights as logs, densities relative to each basin's
 * minimum), so T down to 1e-4 works: exp(-2 v / T) never overflows and a weight that underflows
 * a double keeps a finite log. */
#ifndef VALLEY_STEADY_H
#define VALLEY_STEADY_H

#include <stddef.h>
#include <stdint.h>

#include "valley/error.h"
#include "valley/fp1d.h"

#define VALLEY_STEADY_MAXB 64 /* basins */

/* The test loss and its first two derivatives: out[0..2]. */
typedef void (*valley_utest_fn)(double theta, const void *params, double out[3]);

typedef struct {
  size_t grid;   /* grid intervals for the F table and the critical-point scan (default 6000) */
  double epsrel; /* relative tolerance of every adaptive quadrature (default 1e-12) */
} valley_steady_config_t;

/* What is prepared once per landscape (T-independent): F = int U'/D on a grid, and U', D, D'
 * at the nodes for the scans.  Owns its arrays; free with valley_steady_ctx_free. */
typedef struct {
  valley_fp1d_t problem;
  valley_utest_fn utest;
  const void *utest_params;
  valley_steady_config_t cfg;
  size_t n;                  /* grid intervals */
  double h;
  double *x, *F, *dU, *D, *dD; /* n + 1 nodes each */
  double logD_lo;            /* log D(lo): v(lo) = 0 */
  int closed_form;           /* 1: F from problem.antideriv; 0: adaptive quadrature */
  double F_lo;               /* the closed-form antiderivative at lo */
  /* The minima of U_tr on (lo, hi) with U_tr, U_tr'' and D' there, and the nearest minimum of
   * U_test (NaN when there is none, or no test loss) with U_test and U_test'' there. */
  size_t ntr;
  double theta_tr[VALLEY_STEADY_MAXB], U_tr[VALLEY_STEADY_MAXB], C_tr[VALLEY_STEADY_MAXB];
  double dD_tr[VALLEY_STEADY_MAXB];
  double theta_test[VALLEY_STEADY_MAXB], U_test[VALLEY_STEADY_MAXB], C_test[VALLEY_STEADY_MAXB];
} valley_steady_ctx_t;

typedef struct {
  double mu;        /* the minimum of v (or a domain end: boundary = 1) */
  int boundary;     /* 1: v has no interior minimum here, the basin's lowest point is an end */
  int kink;         /* 1: v' jumps through zero at mu (a piecewise-linear valley); no v'' */
  double a, b;      /* the basin: between the adjacent maxima of v (or the domain ends) */
  double v_mu;      /* v(mu, T) */
  double v2;        /* v''(mu, T); NaN at a kink or a boundary */
  double log_weight, weight;                 /* exact: int_a^b rho */
  double log_weight_laplace, weight_laplace; /* eq. (6); NaN where there is no v'' */
  double E_train, E_test;                    /* E[U_tr], E[U_test] conditional on the basin */
  /* The nearest minimum of U_tr and the O(T) bias of mu (Appendix B.2). */
  double theta_tr, U_tr, C_tr;
  double bias;      /* mu - theta_tr */
  double bias_pred; /* -T D'(theta_tr) / (2 C_tr): Appendix B.2's b_k = theta_tr - mu, negated */
  /* The matching test minimum, the shift s_k = theta_test - theta_tr, and shift-curvature. */
  double theta_test, U_test, C_test, shift;
  double shift_curvature; /* 1/2 s_k^2 C_test */
  double Sigma;           /* (T/2) / v''(mu): the Laplace variance */
} valley_steady_basin_t;

typedef struct {
  double T;
  size_t nbasins, nmax;
  valley_steady_basin_t basin[VALLEY_STEADY_MAXB];
  double maxima[VALLEY_STEADY_MAXB];
  double v_star;     /* min of v over the domain (v(lo) = 0) */
  double log_Z;      /* log int exp(-2 v / T) */
  double E_train, E_test;   /* exact expectations under rho */
  double E_test_eq4;        /* eq. (4) with Laplace weights, bias and Sigma */
  double E_test_eq7;        /* eq. (7): sum w_k (U_k^test + 1/2 s_k^2 C_k^test), Laplace w_k */
  double E_test_eq8;        /* eq. (8): U_tr minima, P_k ∝ exp(-2U_k/T) C_k^-1/2 */
  double E_train_laplace;   /* sum w_k (U_k^tr + 1/2 Sigma_k C_k^tr): the train analogue of (4) */
  double shift_curvature;   /* sum_k w_k (exact) 1/2 s_k^2 C_k^test */
  /* Basins of v that hold no minimum of U_tr (minima the noise creates, boundary basins): the
   * paper's sums (4), (7) run over training minima, so they skip these; their exact weight: */
  double unmatched_weight;
  double laplace_max_rel;   /* max_k |w_laplace - w_exact| / w_exact over basins with both */
} valley_steady_t;

void valley_steady_config_default(valley_steady_config_t *cfg);

/* Prepares the landscape: checks the problem, tabulates F (closed form when the problem has an
 * antiderivative and use_closed_form is 1, else adaptive quadrature cell by cell), and finds
 * U_tr's minima.  utest may be NULL (then E_test and the shift terms are NaN). */
valley_status_t valley_steady_prepare(valley_steady_ctx_t *ctx, const valley_fp1d_t *problem,
                                      valley_utest_fn utest, const void *utest_params,
                                      const valley_steady_config_t *cfg, int use_closed_form,
                                      valley_error_t *err);
void valley_steady_ctx_free(valley_steady_ctx_t *ctx);

/* F(theta) - F(lo) and v(theta, T) (with v(lo) = 0). */
double valley_steady_F(const valley_steady_ctx_t *ctx, double theta);
double valley_steady_v(const valley_steady_ctx_t *ctx, double theta, double T);

/* The whole analysis at one temperature (T > 0, finite). */
valley_status_t valley_steady_solve(const valley_steady_ctx_t *ctx, double T, valley_steady_t *out,
                                    valley_error_t *err);

/* log rho(theta) at the solved temperature. */
double valley_steady_log_density(const valley_steady_ctx_t *ctx, const valley_steady_t *s,
                                 double theta);

/* The probabilities of nbins equal bins over [lo, hi] under rho (GSL QAGP per bin, split at the
 * minima of v inside it), for comparisons with histograms and cell averages. */
valley_status_t valley_steady_bin_probs(const valley_steady_ctx_t *ctx, const valley_steady_t *s,
                                        size_t nbins, double *p, valley_error_t *err);

/* L1 distance sum_i |q_i - p_i| between given probabilities q of nbins equal bins over
 * [lo, hi] (finite-volume cell masses, histogram frequencies) and rho's bin probabilities p. */
valley_status_t valley_steady_l1_bins(const valley_steady_ctx_t *ctx, const valley_steady_t *s,
                                      size_t nbins, const double *q, double *l1,
                                      valley_error_t *err);

/* n draws from rho: a bin of `bins` equal bins by its exact probability (inverse CDF on
 * valley_pcg32_double of stream i of `seed` for draw i), then uniform inside the bin.  Exact up to
 * the shape of rho inside one bin. */
valley_status_t valley_steady_sample(const valley_steady_ctx_t *ctx, const valley_steady_t *s,
                                     size_t bins, size_t n, uint64_t seed, double *out,
                                     valley_error_t *err);

/* A sweep over nT temperatures (OpenMP over temperatures, results independent of the thread
 * count).  out has nT entries.  progress may be NULL; nonzero cancels (ECANCEL). */
valley_status_t valley_steady_sweep(const valley_steady_ctx_t *ctx, const double *T, size_t nT,
                                    int threads, valley_steady_t *out,
                                    int (*progress)(double fraction, void *arg), void *arg,
                                    valley_error_t *err);

/* The temperature in [Tlo, Thi] that minimises E_test: the best of the sweep refined by Brent's
 * method on log T between its neighbours.  *interior = 1 when the minimum is not at an end. */
valley_status_t valley_steady_optimal_T(const valley_steady_ctx_t *ctx, const double *T,
                                        const valley_steady_t *sweep, size_t nT, double *T_opt,
                                        double *E_opt, int *interior, valley_error_t *err);

/* Log-spaced temperatures: T[i] = Tmin (Tmax/Tmin)^(i/(n-1)). */
void valley_steady_logspace(double Tmin, double Tmax, size_t n, double *T);

#endif
