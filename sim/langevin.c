/* Langevin (Euler-Maruyama) and discrete-SGD ensembles on 1-D and 2-D Fokker-Planck problems
 * (shift-curvature paper, eqs. (5), (10), (11); Appendix A for non-Gaussian minibatch noise,
 * Appendix B.1 for 2-D): what the ensembles share (walls, bins, configuration checks, the
 * per-particle state and the segment driver), the 1-D runners with their generic callback
 * kernel, and the multinomial L1 noise level.  The vectorised kernel for basin1d mixtures is
 * sim/langevin_vec.c, the 2-D ensembles sim/langevin2d.c, their shared helpers
 * sim/langevin_internal.h.  docs/langevin.md describes the schemes, the streams and the
 * accuracy. */
#include "valley/langevin.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "langevin_internal.h"
#ifdef VALLEY_HAVE_CUDA
#include "langevin_cuda_engine.h"
#endif

#ifdef VALLEY_HAVE_OPENMP
#include <omp.h>
#endif

static const char *const scheme_names[] = {"em", "sgd"};
static const char *const lnoise_names[] = {"gaussian", "uniform", "two-point"};

VALLEY_NAME_FUNCS(valley_langevin_scheme_parse, valley_langevin_scheme_name,
                  valley_langevin_scheme_t, scheme_names)
VALLEY_NAME_FUNCS(valley_lnoise_parse, valley_lnoise_name, valley_lnoise_t, lnoise_names)

/* ---------------------------------------------------------------------------------------- */
/* Shared by 1-D and 2-D: walls, bins, checks, the ensemble state and the segment driver.     */

double valley_langevin_reflect(double x, double lo, double hi) { return fold(x, lo, hi); }

size_t valley_langevin_bin(double theta, double lo, double hi, size_t bins) {
  return bin_of(theta, lo, (double)bins / (hi - lo), bins);
}

valley_status_t valley_langevin_check_common(double T, double step, const char *step_name,
                                             size_t particles, uint64_t steps, uint64_t burn_in,
                                             uint64_t record_every, int threads,
                                             valley_error_t *err) {
  if (!isfinite(T) || !(T >= 0))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "temperature T must be a finite number >= 0 (got %g)",
                        T);
  if (!isfinite(step) || !(step > 0))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%s must be a finite number > 0 (got %g)", step_name,
                        step);
  if (particles == 0 || particles > MAX_PARTICLES)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "particles must be in [1, %zu] (got %zu)",
                        MAX_PARTICLES, particles);
  if (steps == 0) return VALLEY_ERROR(err, VALLEY_EINVAL, "steps must be >= 1");
  if (record_every > 0 && (burn_in >= steps || record_every > steps - burn_in))
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "recording needs burn_in + record_every <= steps (got %llu + %llu > %llu)",
                        (unsigned long long)burn_in, (unsigned long long)record_every,
                        (unsigned long long)steps);
  if (threads < 0)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "threads must be >= 0 (got %d)", threads);
  return VALLEY_OK;
}

valley_status_t valley_langevin_ens_init(valley_langevin_ens_t *E, size_t n, int dim,
                                         size_t cells, uint64_t seed, uint64_t burn_in,
                                         uint64_t record_every, int threads,
                                         valley_error_t *err) {
  memset(E, 0, sizeof *E);
  E->n = n;
  E->nblocks = (n + LANES - 1) / LANES;
  E->dim = dim;
  E->cells = cells;
  E->burn = burn_in;
  E->rec = record_every;
#ifdef VALLEY_HAVE_OPENMP
  E->nthreads = threads > 0 ? threads : omp_get_max_threads();
#else
  (void)threads;
  E->nthreads = 1;
#endif
  size_t np = E->nblocks * LANES;
  E->st = alloc64(np, sizeof *E->st);
  E->inc = alloc64(np, sizeof *E->inc);
  E->dead = alloc64(np, sizeof *E->dead);
  E->dead_from = alloc64(np * (size_t)dim, sizeof *E->dead_from);
  E->hrows = calloc((size_t)E->nthreads * cells, sizeof *E->hrows);
  if (E->st == NULL || E->inc == NULL || E->dead == NULL || E->dead_from == NULL ||
      E->hrows == NULL) {
    valley_langevin_ens_free(E);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "cannot allocate the state of %zu particles", n);
  }
  for (size_t i = 0; i < np; i++) {
    valley_pcg32_t rng;
    valley_pcg32_seed(&rng, seed, (uint64_t)i);
    E->st[i] = rng.state;
    E->inc[i] = rng.inc;
  }
  return VALLEY_OK;
}

void valley_langevin_ens_offset(valley_langevin_ens_t *E, uint64_t seed, size_t first) {
  E->first = first;
  if (first == 0) return;
  for (size_t i = 0; i < E->nblocks * LANES; i++) {
    valley_pcg32_t rng;
    valley_pcg32_seed(&rng, seed, (uint64_t)first + (uint64_t)i);
    E->st[i] = rng.state;
    E->inc[i] = rng.inc;
  }
}

void valley_langevin_ens_free(valley_langevin_ens_t *E) {
  free(E->st);
  free(E->inc);
  free(E->dead);
  free(E->dead_from);
  free(E->hrows);
  E->st = E->inc = E->dead = E->hrows = NULL;
  E->dead_from = NULL;
}

/* Particle i's blow-up as an error. */
static valley_status_t blowup_error(const valley_langevin_ens_t *E, size_t i,
                                    valley_error_t *err) {
  const double *p = E->dead_from + (size_t)E->dim * i;
  char from[64];
  if (E->dim == 1)
    snprintf(from, sizeof from, "theta = %.17g", p[0]);
  else
    snprintf(from, sizeof from, "(%.17g, %.17g)", p[0], p[1]);
  return VALLEY_ERROR(err, VALLEY_ENUMERIC,
                      "blow-up: %s of particle %zu became non-finite at step %llu (from %s): "
                      "the step is too large for the landscape, or %s is not finite there",
                      E->dim == 1 ? "theta" : "(x, y)", E->first + i,
                      (unsigned long long)E->dead[i], from,
                      E->dim == 1 ? "U' or D" : "the gradient or D");
}

valley_status_t valley_langevin_ens_run(valley_langevin_ens_t *E, void *run,
                                        valley_langevin_block_fn block, uint64_t steps,
                                        int (*progress)(double fraction, void *arg),
                                        void *progress_arg, valley_error_t *err) {
  /* at least 100 segments, and none longer than about 2^24 particle steps (a fraction of a
   * second), so that a cancel (a signal, cli/signals.c) is seen soon whatever the run's size;
   * every block carries its state over, so the segmentation changes no number */
  uint64_t nseg = 1;
  if (progress != NULL) {
    uint64_t per = ((uint64_t)1 << 24) / (E->n > 0 ? (uint64_t)E->n : 1u);
    nseg = steps / (per > 0 ? per : 1u);
    if (nseg < 100) nseg = 100;
  }
  if (nseg > steps) nseg = steps;
  uint64_t t0 = 0;
  for (uint64_t seg = 1; seg <= nseg; seg++) {
    uint64_t t1 = seg == nseg ? steps : steps / nseg * seg;
    size_t nblocks = E->nblocks;
#ifdef VALLEY_HAVE_OPENMP
    int nthreads = E->nthreads;
#pragma omp parallel for num_threads(nthreads) schedule(dynamic, 1) default(none) \
    shared(E, run, block, nblocks, t0, t1)
#endif
    for (size_t b = 0; b < nblocks; b++) {
      int tid = 0;
#ifdef VALLEY_HAVE_OPENMP
      tid = omp_get_thread_num();
#endif
      block(run, b, t0, t1, E->hrows + (size_t)tid * E->cells);
    }
    t0 = t1;
    for (size_t i = 0; i < E->n; i++) /* the first (lowest index) blow-up */
      if (E->dead[i] != 0) return blowup_error(E, i, err);
    if (progress != NULL && progress((double)t1 / (double)steps, progress_arg) != 0)
      return VALLEY_ERROR(err, VALLEY_ECANCEL, "run cancelled after %llu of %llu steps",
                          (unsigned long long)t1, (unsigned long long)steps);
  }
  return VALLEY_OK;
}

uint64_t valley_langevin_ens_path(const valley_langevin_ens_t *E, uint64_t *path_hist) {
  memset(path_hist, 0, E->cells * sizeof *path_hist);
  for (int r = 0; r < E->nthreads; r++)
    for (size_t k = 0; k < E->cells; k++) path_hist[k] += E->hrows[(size_t)r * E->cells + k];
  uint64_t total = 0;
  for (size_t k = 0; k < E->cells; k++) total += path_hist[k];
  return total;
}

/* ---------------------------------------------------------------------------------------- */
/* 1-D ensembles: configuration, results, the generic kernel and the runners.               */

void valley_langevin1d_config_default(valley_langevin1d_config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->scheme = VALLEY_LANGEVIN_EM;
  cfg->noise = VALLEY_LNOISE_GAUSSIAN;
  cfg->T = 1.0;
  cfg->step = 1e-3;
  cfg->particles = 1024;
  cfg->steps = 1000;
  cfg->seed = 1;
  cfg->bins = 100;
}

valley_status_t valley_langevin1d_config_check(const valley_langevin1d_config_t *cfg,
                                               valley_error_t *err) {
  if ((unsigned)cfg->scheme > VALLEY_LANGEVIN_SGD)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "unknown scheme %d", (int)cfg->scheme);
  if ((unsigned)cfg->noise > VALLEY_LNOISE_TWO_POINT)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "unknown noise distribution %d", (int)cfg->noise);
  if (cfg->scheme == VALLEY_LANGEVIN_EM && cfg->noise != VALLEY_LNOISE_GAUSSIAN)
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "Euler-Maruyama takes Gaussian increments; %s noise needs scheme sgd",
                        valley_lnoise_name(cfg->noise));
  valley_status_t st = valley_langevin_check_common(
      cfg->T, cfg->step, cfg->scheme == VALLEY_LANGEVIN_EM ? "step dt" : "learning rate",
      cfg->particles, cfg->steps, cfg->burn_in, cfg->record_every, cfg->threads, err);
  if (st != VALLEY_OK) return st;
  if (cfg->bins == 0 || cfg->bins > MAX_BINS)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "bins must be in [1, %zu] (got %zu)", MAX_BINS,
                        cfg->bins);
  if ((unsigned)cfg->device > VALLEY_DEVICE_CUDA)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "unknown device %d", (int)cfg->device);
  if (cfg->device == VALLEY_DEVICE_CUDA && cfg->cuda_device < 0)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "--gpu must be >= 0 (got %d)", cfg->cuda_device);
  return VALLEY_OK;
}

valley_langevin1d_result_t *valley_langevin1d_result_alloc(size_t particles, size_t bins) {
  valley_langevin1d_result_t *r = calloc(1, sizeof *r);
  if (r == NULL) return NULL;
  r->theta = calloc(particles > 0 ? particles : 1, sizeof *r->theta);
  r->hist = calloc(bins > 0 ? bins : 1, sizeof *r->hist);
  r->path_hist = calloc(bins > 0 ? bins : 1, sizeof *r->path_hist);
  if (r->theta == NULL || r->hist == NULL || r->path_hist == NULL) {
    valley_langevin1d_result_free(r);
    return NULL;
  }
  r->particles = particles;
  r->bins = bins;
  return r;
}

void valley_langevin1d_result_free(valley_langevin1d_result_t *r) {
  if (r == NULL) return;
  free(r->theta);
  free(r->hist);
  free(r->path_hist);
  free(r);
}

static void run1d_free(run1d_t *R) {
  valley_langevin_ens_free(&R->e);
  free(R->th);
  free(R->zc);
}

static valley_status_t run1d_init(run1d_t *R, const valley_fp1d_t *prob, const mixture_t *mix,
                                  const valley_langevin1d_config_t *cfg, valley_error_t *err) {
  memset(R, 0, sizeof *R);
  const double lo = prob->lo, hi = prob->hi;
  if (!isfinite(lo) || !isfinite(hi) || !(lo < hi) || !isfinite(hi - lo))
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "the domain [%g, %g] must be finite with lo < hi and a finite width", lo,
                        hi);
  valley_status_t st = valley_langevin_ens_init(&R->e, cfg->particles, 1, cfg->bins, cfg->seed,
                                                cfg->burn_in, cfg->record_every, cfg->threads,
                                                err);
  if (st != VALLEY_OK) return st;
  valley_langevin_ens_offset(&R->e, cfg->seed, cfg->first_particle);
  size_t n = R->e.n, np = R->e.nblocks * LANES;
  R->prob = prob;
  R->mix = mix;
  R->bins = cfg->bins;
  R->lo = lo;
  R->hi = hi;
  R->scale = (double)cfg->bins / (hi - lo);
  R->h = cfg->step;
  R->hT = cfg->step * cfg->T;
  R->noise = cfg->scheme == VALLEY_LANGEVIN_EM ? VALLEY_LNOISE_GAUSSIAN : cfg->noise;
  R->th = alloc64(np, sizeof *R->th);
  R->zc = alloc64(np, sizeof *R->zc);
  if (R->th == NULL || R->zc == NULL) {
    run1d_free(R);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "cannot allocate the state of %zu particles", n);
  }
  for (size_t i = 0; i < np; i++) {
    valley_pcg32_t rng = {R->e.st[i], R->e.inc[i]};
    double x;
    if (i >= n)
      x = 0.5 * (lo + hi);
    else if (cfg->theta0 != NULL)
      x = cfg->theta0[i];
    else
      x = uniform_start(&rng, lo, hi);
    if (!(x >= lo && x <= hi)) {
      run1d_free(R);
      return VALLEY_ERROR(err, VALLEY_EINVAL,
                          "initial position of particle %zu (%g) is outside the domain [%g, %g]",
                          cfg->first_particle + i, x, lo, hi);
    }
    R->th[i] = x;
    R->e.st[i] = rng.state;
  }
  return VALLEY_OK;
}

/* The generic kernel: particle by particle, any callback problem. */
static void generic_block(run1d_t *R, size_t blk, uint64_t t0, uint64_t t1, uint64_t *hrow) {
  const valley_fp1d_t *prob = R->prob;
  const double lo = R->lo, hi = R->hi, h = R->h, hT = R->hT;
  for (size_t i = blk * LANES; i < (blk + 1) * LANES && i < R->e.n; i++) {
    if (R->e.dead[i]) continue;
    valley_pcg32_t rng = {R->e.st[i], R->e.inc[i]};
    double th = R->th[i], zc = R->zc[i];
    uint64_t next = first_record(t0, R->e.burn, R->e.rec);
    for (uint64_t t = t0; t < t1; t++) {
      double eta = draw_eta(&rng, R->noise, t, &zc);
      valley_fp1d_eval_t e;
      prob->eval(th, prob->params, &e);
      double x = fold(th - h * e.dU + sqrt(hT * e.D) * eta, lo, hi);
      if (isnan(x)) {
        R->e.dead[i] = t + 1;
        R->e.dead_from[i] = th;
        break;
      }
      th = x;
      if (t + 1 == next) {
        hrow[bin_of(th, lo, R->scale, R->bins)]++;
        next += R->e.rec;
      }
    }
    R->th[i] = th;
    R->zc[i] = zc;
    R->e.st[i] = rng.state;
  }
}

/* A block of either kernel (valley_langevin_block_fn). */
static void block1d(void *run, size_t blk, uint64_t t0, uint64_t t1, uint64_t *hrow) {
  run1d_t *R = run;
  if (R->mix != NULL)
    valley_langevin_fast_block(R->mix, R, blk, t0, t1, hrow);
  else
    generic_block(R, blk, t0, t1, hrow);
}

/* The ensemble on the GPU (sim/langevin_cuda.cu): the vectorised kernel's arithmetic, one thread
 * per particle, from the state run1d_init set up; the path histogram goes into row 0. */
static valley_status_t cuda_ens_run(run1d_t *R, const valley_langevin1d_config_t *cfg,
                                    valley_error_t *err) {
#ifndef VALLEY_HAVE_CUDA
  (void)R;
  (void)cfg;
  return VALLEY_ERROR(err, VALLEY_EIO,
                      "--device cuda: valley was built without CUDA (no nvcc, or VALLEY_CUDA=OFF)");
#else
  const mixture_t *M = R->mix;
  _Static_assert(VCU_LV_MAXK >= VALLEY_BASIN1D_MAXK, "the CUDA engine holds every component");
  vcu_lv_t p;
  memset(&p, 0, sizeof p);
  p.K = M->K;
  for (int k = 0; k < M->K; k++) {
    p.m[k] = M->m[k];
    p.a[k] = M->a[k];
    p.b[k] = M->b[k];
    p.b2[k] = M->b2[k];
  }
  p.c = M->c;
  p.L = M->L;
  p.umin = M->umin;
  p.ws = M->ws;
  p.dm = (int)M->dm;
  p.noise = (int)R->noise;
  p.lo = R->lo;
  p.hi = R->hi;
  p.scale = R->scale;
  p.hT = R->hT;
  p.amp0 = sqrt(R->hT); /* as fast_block_impl forms them */
  p.hL = R->h * M->L;
  p.n = R->e.n;
  p.bins = R->bins;
  p.steps = cfg->steps;
  p.burn = R->e.burn;
  p.rec = R->e.rec;
  p.device = cfg->cuda_device;
  p.segments = cfg->progress != NULL ? (cfg->steps < 100 ? cfg->steps : 100) : 1;
  p.progress = cfg->progress;
  p.progress_arg = cfg->progress_arg;
  char msg[200] = "";
  int rc = vcu_lv_run(&p, R->e.st, R->e.inc, R->th, R->zc, R->e.dead, R->e.dead_from,
                      R->e.hrows, msg, sizeof msg);
  if (rc == 7) {
    for (size_t i = 0; i < R->e.n; i++)
      if (R->e.dead[i] != 0) return blowup_error(&R->e, i, err);
  }
  if (rc != 0)
    return VALLEY_ERROR(err, rc == 2 ? VALLEY_ENOMEM : rc == 6 ? VALLEY_ECANCEL : VALLEY_EIO,
                        "--device cuda: %s", msg);
  return VALLEY_OK;
#endif
}

/* Runs every block over every step; mixture != NULL picks the vectorised kernel. */
static valley_status_t run1d(const valley_fp1d_t *prob, const mixture_t *mixture,
                             const valley_langevin1d_config_t *cfg,
                             valley_langevin1d_result_t *res, valley_error_t *err) {
  if (res == NULL || res->particles != cfg->particles || res->bins != cfg->bins)
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "result holds %zu particles and %zu bins, configuration %zu and %zu",
                        res != NULL ? res->particles : 0, res != NULL ? res->bins : 0,
                        cfg->particles, cfg->bins);
  run1d_t R;
  valley_status_t st = run1d_init(&R, prob, mixture, cfg, err);
  if (st != VALLEY_OK) return st;
  if (cfg->device == VALLEY_DEVICE_CUDA)
    st = cuda_ens_run(&R, cfg, err);
  else
    st = valley_langevin_ens_run(&R.e, &R, block1d, cfg->steps, cfg->progress,
                                 cfg->progress_arg, err);
  if (st != VALLEY_OK) {
    run1d_free(&R);
    return st;
  }
  res->lo = R.lo;
  res->hi = R.hi;
  res->fast = mixture != NULL;
  memset(res->hist, 0, cfg->bins * sizeof *res->hist);
  for (size_t i = 0; i < R.e.n; i++) {
    res->theta[i] = R.th[i];
    res->hist[bin_of(R.th[i], R.lo, R.scale, R.bins)]++;
  }
  res->path_samples = valley_langevin_ens_path(&R.e, res->path_hist);
  run1d_free(&R);
  return VALLEY_OK;
}

valley_status_t valley_langevin1d_run(const valley_fp1d_t *prob,
                                      const valley_langevin1d_config_t *cfg,
                                      valley_langevin1d_result_t *res, valley_error_t *err) {
  valley_status_t st = valley_langevin1d_config_check(cfg, err);
  if (st != VALLEY_OK) return st;
  if (prob == NULL || prob->eval == NULL)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "the problem has no eval callback");
  if (cfg->device == VALLEY_DEVICE_CUDA)
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "--device cuda runs mixture landscapes only, not a callback problem");
  return run1d(prob, NULL, cfg, res, err);
}

valley_status_t valley_langevin1d_run_basin(const valley_basin1d_t *b,
                                            const valley_langevin1d_config_t *cfg,
                                            valley_langevin1d_result_t *res,
                                            valley_error_t *err) {
  valley_status_t st = valley_langevin1d_config_check(cfg, err);
  if (st != VALLEY_OK) return st;
  if (b == NULL) return VALLEY_ERROR(err, VALLEY_EINVAL, "no landscape");
  valley_fp1d_t prob;
  if (cfg->force_generic || b->kind != VALLEY_BLAND_MIXTURE) {
    if (cfg->device == VALLEY_DEVICE_CUDA)
      return VALLEY_ERROR(err, VALLEY_EINVAL,
                          "--device cuda runs mixture landscapes only (the vectorised kernel's)");
    valley_basin1d_problem(b, &prob);
    return run1d(&prob, NULL, cfg, res, err);
  }
  memset(&prob, 0, sizeof prob);
  prob.lo = b->lo;
  prob.hi = b->hi;
  if (b->n < 1 || b->n > VALLEY_BASIN1D_MAXK)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "the mixture has %zu components (1..%d allowed)",
                        b->n, VALLEY_BASIN1D_MAXK);
  if (!(b->c > 0) || !(b->lscale > 0) || !(b->wscale >= 0) || !isfinite(b->c) ||
      !isfinite(b->lscale) || !isfinite(b->wscale) || !isfinite(b->umin))
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "mixture needs c > 0, lscale > 0, wscale >= 0 and umin finite (got c = "
                        "%g, lscale = %g, wscale = %g, umin = %g)",
                        b->c, b->lscale, b->wscale, b->umin);
  mixture_t M;
  memset(&M, 0, sizeof M);
  M.K = (int)b->n;
  for (size_t k = 0; k < b->n; k++) {
    double s = b->sigmas[k];
    if (!(s > 0) || !(b->weights[k] > 0) || !isfinite(b->minima[k]) || !isfinite(s) ||
        !isfinite(b->weights[k]))
      return VALLEY_ERROR(err, VALLEY_EINVAL,
                          "mixture component %zu needs a finite minimum, weight > 0 and sigma > "
                          "0 (got %g, %g, %g)",
                          k, b->minima[k], b->weights[k], s);
    M.m[k] = b->minima[k];
    M.a[k] = b->weights[k] / (s * 2.5066282746310005024); /* w N(m; m, s^2) */
    M.b[k] = 1.0 / (2.0 * s * s);
    M.b2[k] = 1.0 / (s * s);
  }
  M.c = b->c;
  M.L = b->lscale;
  M.umin = b->umin;
  M.ws = b->wscale;
  if (b->wscale == 0)
    M.dm = DM_CONST;
  else if (b->noise == VALLEY_DNOISE_LOSS)
    M.dm = DM_LOSS;
  else if (b->noise == VALLEY_DNOISE_GRAD)
    M.dm = DM_GRAD;
  else if (b->noise == VALLEY_DNOISE_EXP)
    M.dm = DM_EXP;
  else
    return VALLEY_ERROR(err, VALLEY_EINVAL, "unknown noise model %d", (int)b->noise);
  return run1d(&prob, &M, cfg, res, err);
}

/* ---------------------------------------------------------------------------------------- */
/* L1 distance and its multinomial noise level.                                              */

valley_status_t valley_langevin_l1(const double *p, const uint64_t *hist, size_t bins, int reps,
                                   uint64_t seed, valley_langevin_l1_t *out,
                                   valley_error_t *err) {
  if (p == NULL || hist == NULL || out == NULL || bins == 0)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "L1: missing probabilities, histogram or bins");
  if (reps < 2) return VALLEY_ERROR(err, VALLEY_EINVAL, "L1: reps must be >= 2 (got %d)", reps);
  double psum = 0;
  uint64_t n = 0;
  for (size_t i = 0; i < bins; i++) {
    if (!isfinite(p[i]) || !(p[i] >= 0))
      return VALLEY_ERROR(err, VALLEY_EINVAL, "L1: p[%zu] = %g is not a probability", i, p[i]);
    psum += p[i];
    n += hist[i];
  }
  if (!(fabs(psum - 1.0) <= 1e-3))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "L1: the probabilities sum to %.17g, not 1", psum);
  if (n == 0 || n > UINT_MAX)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "L1: the histogram holds %llu samples (1..%u allowed)",
                        (unsigned long long)n, UINT_MAX);
  double *q = malloc(bins * sizeof *q);
  unsigned int *cnt = malloc(bins * sizeof *cnt);
  gsl_rng *r = valley_pcg32_gsl_alloc(seed, 0);
  if (q == NULL || cnt == NULL || r == NULL) {
    free(q);
    free(cnt);
    if (r != NULL) gsl_rng_free(r);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "L1: cannot allocate %zu bins", bins);
  }
  double l1 = 0;
  for (size_t i = 0; i < bins; i++) {
    q[i] = p[i] / psum;
    l1 += fabs((double)hist[i] / (double)n - q[i]);
  }
  double mean = 0, m2 = 0; /* Welford */
  for (int k = 0; k < reps; k++) {
    gsl_ran_multinomial(r, bins, (unsigned int)n, q, cnt);
    double d = 0;
    for (size_t i = 0; i < bins; i++) d += fabs((double)cnt[i] / (double)n - q[i]);
    double delta = d - mean;
    mean += delta / (k + 1);
    m2 += delta * (d - mean);
  }
  out->n = n;
  out->l1 = l1;
  out->noise_mean = mean;
  out->noise_sd = sqrt(m2 / (reps - 1));
  out->reps = reps;
  free(q);
  free(cnt);
  gsl_rng_free(r);
  return VALLEY_OK;
}

