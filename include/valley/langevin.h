/* Langevin and SGD ensembles on Fokker-Planck problems (shift-curvature paper, eqs. (5), (10),
 * (11); Appendix A for the non-Gaussian minibatch noise; Appendix B.1 for the 2-D problems):
 *   Euler-Maruyama   theta <- theta - dt U'(theta) + sqrt(dt T D(theta)) Z,   Z ~ N(0, 1)
 *   discrete SGD     theta <- theta - lambda (U'(theta) + xi),  E xi = 0, Var xi = T D / lambda,
 * i.e. both take the step theta - h U' + sqrt(h T D) eta with eta of mean 0 and variance 1
 * (Gaussian for Euler-Maruyama, Gaussian, uniform or two-point for SGD), so SGD with Gaussian
 * noise is Euler-Maruyama with dt = lambda, bit for bit.  A step that leaves [lo, hi] is folded
 * back in (mirror reflection at the walls, repeated; the symmetrized Euler scheme).
 *
 * Particle i draws from PCG32 stream i of the given seed (valley/pcg.h), so every number is the
 * same whatever the thread count.  Details, accuracy and benchmarks: docs/langevin.md. */
#ifndef VALLEY_LANGEVIN_H
#define VALLEY_LANGEVIN_H

#include <stddef.h>
#include <stdint.h>

#include "valley/basin1d.h"
#include "valley/device.h"
#include "valley/error.h"
#include "valley/fp1d.h"
#include "valley/fp2d.h"
#include "valley/pcg.h"

typedef enum {
  VALLEY_LANGEVIN_EM = 0, /* Euler-Maruyama, step dt, Gaussian increments */
  VALLEY_LANGEVIN_SGD = 1 /* discrete SGD, learning rate lambda, noise distribution `noise` */
} valley_langevin_scheme_t;

typedef enum {
  VALLEY_LNOISE_GAUSSIAN = 0, /* eta ~ N(0, 1) */
  VALLEY_LNOISE_UNIFORM = 1,  /* eta ~ Uniform(-sqrt 3, sqrt 3) */
  VALLEY_LNOISE_TWO_POINT = 2 /* eta = +-1, each with probability 1/2 */
} valley_lnoise_t;

/* Names: "em", "sgd"; "gaussian", "uniform", "two-point". */
valley_status_t valley_langevin_scheme_parse(const char *name, valley_langevin_scheme_t *out);
const char *valley_langevin_scheme_name(valley_langevin_scheme_t v);
valley_status_t valley_lnoise_parse(const char *name, valley_lnoise_t *out);
const char *valley_lnoise_name(valley_lnoise_t v);

typedef struct {
  valley_langevin_scheme_t scheme;
  valley_lnoise_t noise; /* SGD: the law of xi; Euler-Maruyama needs VALLEY_LNOISE_GAUSSIAN */
  double T;              /* temperature, >= 0 */
  double step;           /* dt (Euler-Maruyama) or lambda (SGD), > 0 */
  size_t particles;
  uint64_t steps;
  uint64_t seed;
  /* Initial positions [particles], inside [lo, hi], caller-owned; NULL: particle i starts at
   * lo + (hi - lo) u with u = valley_pcg32_double of its stream (its first two outputs). */
  const double *theta0;
  size_t bins; /* equal histogram bins on [lo, hi] */
  /* Path histogram: the positions after steps burn_in + k record_every, k = 1, 2, ... (all of
   * them <= steps; burn_in + record_every <= steps); record_every = 0 records nothing. */
  uint64_t burn_in, record_every;
  int threads;       /* 0: OpenMP's default */
  int force_generic; /* valley_langevin1d_run_basin: 1 never uses the vectorised kernel */
  /* VALLEY_DEVICE_CPU (default) or VALLEY_DEVICE_CUDA: valley_langevin1d_run_basin on a mixture
   * landscape runs one GPU thread per particle (sim/langevin_cuda.cu), which repeats the
   * vectorised kernel bit for bit (docs/cuda.md); EINVAL for other landscapes and for
   * valley_langevin1d_run's callback problems, EIO without a usable GPU. */
  valley_device_t device;
  int cuda_device; /* the CUDA device's index (default 0) */
  /* Called from one thread with the fraction done, min(100, steps) times; may be NULL.  Nonzero
   * return cancels (the run then returns VALLEY_ECANCEL). */
  int (*progress)(double fraction, void *arg);
  void *progress_arg;
  /* A range of a larger ensemble (0: the whole ensemble): the run's particle i is the
   * ensemble's particle first_particle + i, draws from its stream and is named by that index in
   * errors; theta0, when given, holds the run's `particles` positions.  Runs of consecutive
   * ranges give, particle for particle, the final positions of the whole run bit for bit, and
   * histograms that sum to its histograms (cli/mpi.c splits ensembles this way). */
  size_t first_particle;
} valley_langevin1d_config_t;

typedef struct {
  size_t particles, bins;
  double lo, hi;          /* the histograms' range: the problem's domain */
  double *theta;          /* [particles] final positions */
  uint64_t *hist;         /* [bins] final positions */
  uint64_t *path_hist;    /* [bins] recorded positions (zero when record_every = 0) */
  uint64_t path_samples;  /* sum of path_hist */
  int fast;               /* 1 when the vectorised basin1d kernel ran */
} valley_langevin1d_result_t;

/* Defaults: Euler-Maruyama, Gaussian, T = 1, step 1e-3, 1024 particles, 1000 steps, seed 1,
 * uniform start, 100 bins, no path histogram, threads 0, no progress. */
void valley_langevin1d_config_default(valley_langevin1d_config_t *cfg);

/* Input errors only (EINVAL naming the field). */
valley_status_t valley_langevin1d_config_check(const valley_langevin1d_config_t *cfg,
                                               valley_error_t *err);

/* NULL when out of memory. */
valley_langevin1d_result_t *valley_langevin1d_result_alloc(size_t particles, size_t bins);
void valley_langevin1d_result_free(valley_langevin1d_result_t *r);

/* Runs the ensemble on a callback problem.  Errors: EINVAL (configuration, domain, an initial
 * position outside [lo, hi]), ENOMEM, ECANCEL, EDOM when a particle's theta becomes non-finite
 * (blow-up: the message names the particle with the smallest index, its step and its last
 * finite position).  On error the result's contents are unspecified. */
valley_status_t valley_langevin1d_run(const valley_fp1d_t *prob,
                                      const valley_langevin1d_config_t *cfg,
                                      valley_langevin1d_result_t *res, valley_error_t *err);

/* The same on a basin1d landscape (b initialised by valley_basin1d_init; U = U_tr, D by its noise
 * model, domain [b->lo, b->hi]).  Mixture landscapes run the vectorised kernel (its own exp, log
 * and normal generator: statistically equivalent, not bit-identical, to the callback path);
 * other kinds, or force_generic, run valley_langevin1d_run on valley_basin1d_problem(b). */
valley_status_t valley_langevin1d_run_basin(const valley_basin1d_t *b,
                                            const valley_langevin1d_config_t *cfg,
                                            valley_langevin1d_result_t *res,
                                            valley_error_t *err);

/* x folded into [lo, hi] by mirror reflection at both walls (period 2 (hi - lo)); x itself when
 * inside; NaN when x is not finite.  Terminates in O(1) for any x. */
double valley_langevin_reflect(double x, double lo, double hi);

/* The bin of theta among `bins` equal bins on [lo, hi]: floor((theta - lo) bins / (hi - lo)),
 * clamped to [0, bins - 1]. */
size_t valley_langevin_bin(double theta, double lo, double hi, size_t bins);

/* L1 distance of a histogram to bin probabilities, and the distance that pure multinomial
 * sampling noise alone gives. */
typedef struct {
  uint64_t n;        /* samples: the sum of the histogram */
  double l1;         /* sum_i |hist_i / n - p_i| */
  double noise_mean; /* E L1 and its standard deviation for hist ~ Multinomial(n, p), estimated */
  double noise_sd;   /* from `reps` multinomial draws (GSL, PCG32 stream 0 of `seed`) */
  int reps;
} valley_langevin_l1_t;

/* p: bins probabilities, >= 0, summing to 1 within 1e-3 (renormalised).  reps >= 2.
 * EINVAL naming the bad input; ENOMEM. */
valley_status_t valley_langevin_l1(const double *p, const uint64_t *hist, size_t bins, int reps,
                                   uint64_t seed, valley_langevin_l1_t *out,
                                   valley_error_t *err);

/* 2-D Euler-Maruyama ensembles on a diagonal-noise problem (fp2d.h):
 *   x <- x - dt U_x + sqrt(dt T d1) Z1,  y <- y - dt U_y + sqrt(dt T d2) Z2,
 * each coordinate folded back into its side of the box; (Z1, Z2) is one Box-Muller pair of the
 * particle's stream (three outputs a step, as valley_langevin_vnormal, with libm's log, cos and
 * sin). */
typedef struct {
  double T, dt;
  size_t particles;
  uint64_t steps, seed;
  const double *x0, *y0; /* [particles] each, both or neither; NULL: uniform on the box (x from
                            the first two outputs of the stream, y from the next two) */
  size_t nx, ny;         /* histogram bins: hist[iy * nx + ix] */
  uint64_t burn_in, record_every; /* as in 1-D */
  int threads;
  int (*progress)(double fraction, void *arg);
  void *progress_arg;
  size_t first_particle; /* a range of a larger ensemble, as in 1-D (x0, y0: the range's) */
} valley_langevin2d_config_t;

typedef struct {
  size_t particles, nx, ny;
  double xlo, xhi, ylo, yhi;
  double *x, *y;         /* [particles] final positions */
  uint64_t *hist;        /* [nx * ny] final positions, hist[iy * nx + ix] */
  uint64_t *path_hist;   /* [nx * ny] recorded positions */
  uint64_t path_samples;
} valley_langevin2d_result_t;

/* Defaults: T = 1, dt = 1e-3, 1024 particles, 1000 steps, seed 1, uniform start, 50 x 50 bins. */
void valley_langevin2d_config_default(valley_langevin2d_config_t *cfg);
valley_status_t valley_langevin2d_config_check(const valley_langevin2d_config_t *cfg,
                                               valley_error_t *err);
valley_langevin2d_result_t *valley_langevin2d_result_alloc(size_t particles, size_t nx,
                                                           size_t ny);
void valley_langevin2d_result_free(valley_langevin2d_result_t *r);

/* Errors as valley_langevin1d_run. */
valley_status_t valley_langevin2d_run(const valley_fp2d_t *prob,
                                      const valley_langevin2d_config_t *cfg,
                                      valley_langevin2d_result_t *res, valley_error_t *err);

/* The vectorised kernel's elementary functions, on arrays (tests; docs/langevin.md gives the
 * methods).  Measured max errors against long-double libm: exp 1.22 ulp (any x: 0 below
 * -745.2, inf above 709.79; the kernel's mixture factors use the same values, flushed to 0
 * below 2^-1022); log 0.83 ulp (x > 0; -inf at 0, NaN below); sincos2pi 1.83 ulp (sin and cos
 * of 2 pi u for u in [0, 1]). */
void valley_langevin_vexp(const double *x, double *y, size_t n);
void valley_langevin_vlog(const double *x, double *y, size_t n);
void valley_langevin_vsincos2pi(const double *u, double *s, double *c, size_t n);

/* n standard normals from one stream by the kernel's Box-Muller: each pair takes three outputs
 * (two for a 53-bit u1, one for the angle) and gives r cos, r sin with r = sqrt(-2 log(1 - u1)).
 * n even. */
void valley_langevin_vnormal(valley_pcg32_t *rng, double *z, size_t n);

#endif
