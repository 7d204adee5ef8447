/* The 1-D SGD process of Theorem 2 (He, Huang, Yuan 2019, Sec. 5.1): configuration, noise, the
 * generic kernel (any valley, any noise), and the driver that runs blocks of chains in parallel.
 * The canonical valley with uniform noise goes to the vectorised kernel in sgd1d_fast.c. */
#include "valley/sgd1d.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#ifdef VALLEY_HAVE_OPENMP
#include <omp.h>
#endif

#include "sgd1d_block.h"
#include "valley/pcg.h"
#ifdef VALLEY_HAVE_CUDA
#include "sgd1d_cuda_engine.h"
#endif

static const char *const noise_names[] = {"uniform", "two-point", "truncated-normal"};

VALLEY_NAME_FUNCS(valley_noise_kind_parse, valley_noise_kind_name, valley_noise_kind_t,
                  noise_names)

void valley_sgd1d_config_default(valley_sgd1d_config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->valley.kind = VALLEY_VALLEY1D_CANONICAL;
  cfg->valley.a_plus = cfg->valley.b_plus = 1.0;
  cfg->valley.a_minus = cfg->valley.b_minus = -20.0;
  cfg->valley.scale = 0.1;
  cfg->eta = 0.01;
  cfg->nu = 0.5;
  cfg->noise = VALLEY_NOISE_UNIFORM;
  cfg->sigma = 0.5;
  cfg->w_init = 0.0;
  cfg->seed = 1;
  cfg->chains = 1024;
  cfg->steps = 1000000;
  cfg->burn_in = 10000;
}

/* Largest number of chains: bounds the block-state memory (about 4 KiB per 16 chains). */
#define VALLEY_SGD1D_MAX_CHAINS ((size_t)1 << 26)

valley_status_t valley_sgd1d_config_check(const valley_sgd1d_config_t *cfg, valley_error_t *err) {
  valley_status_t st = valley_valley1d_check(&cfg->valley, err);
  if (st != VALLEY_OK) return st;
  if (!isfinite(cfg->eta) || !(cfg->eta > 0))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "--eta must be a finite number > 0 (got %g)",
                        cfg->eta);
  if (!isfinite(cfg->nu) || !(cfg->nu >= 0))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "--nu must be a finite number >= 0 (got %g)",
                        cfg->nu);
  if (cfg->noise == VALLEY_NOISE_TRUNC_NORMAL && (!isfinite(cfg->sigma) || !(cfg->sigma > 0)))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "--sigma must be a finite number > 0 (got %g)",
                        cfg->sigma);
  if ((unsigned)cfg->noise > VALLEY_NOISE_TRUNC_NORMAL)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "unknown noise kind %d", (int)cfg->noise);
  if (!isfinite(cfg->w_init))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "--w-init must be a finite number");
  if (cfg->chains == 0 || cfg->chains > VALLEY_SGD1D_MAX_CHAINS)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "--chains must be in [1, %zu] (got %zu)",
                        VALLEY_SGD1D_MAX_CHAINS, cfg->chains);
  if (cfg->steps == 0)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "--steps must be >= 1");
  if (cfg->burn_in >= cfg->steps)
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "--burn-in must be smaller than --steps (got %llu >= %llu)",
                        (unsigned long long)cfg->burn_in, (unsigned long long)cfg->steps);
  if (cfg->threads < 0)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "--threads must be >= 0 (got %d)", cfg->threads);
  if ((unsigned)cfg->device > VALLEY_DEVICE_CUDA)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "unknown device %d", (int)cfg->device);
  if (cfg->device == VALLEY_DEVICE_CUDA) {
    if (cfg->valley.kind == VALLEY_VALLEY1D_TABLE)
      return VALLEY_ERROR(err, VALLEY_EINVAL,
                          "--device cuda runs the canonical and saturating valleys, not a table");
    if (cfg->noise == VALLEY_NOISE_TRUNC_NORMAL)
      return VALLEY_ERROR(err, VALLEY_EINVAL,
                          "--device cuda runs uniform and two-point noise, not truncated-normal");
    if (cfg->cuda_device < 0)
      return VALLEY_ERROR(err, VALLEY_EINVAL, "--gpu must be >= 0 (got %d)", cfg->cuda_device);
  }
  return VALLEY_OK;
}

valley_sgd1d_result_t *valley_sgd1d_result_alloc(size_t chains) {
  valley_sgd1d_result_t *r = calloc(1, sizeof *r);
  if (r == NULL) return NULL;
  r->chain = calloc(chains > 0 ? chains : 1, sizeof *r->chain);
  if (r->chain == NULL) {
    free(r);
    return NULL;
  }
  r->chains = chains;
  return r;
}

void valley_sgd1d_result_free(valley_sgd1d_result_t *r) {
  if (r == NULL) return;
  free(r->chain);
  free(r);
}

double valley_sgd1d_noise(const valley_sgd1d_config_t *cfg, gsl_rng *r) {
  valley_pcg32_t *rng = valley_pcg32_gsl_state(r);
  switch (cfg->noise) {
  case VALLEY_NOISE_TWO_POINT:
    return (valley_pcg32_next(rng) >> 31) ? cfg->nu * (1.0 - 1e-12) : -cfg->nu * (1.0 - 1e-12);
  case VALLEY_NOISE_TRUNC_NORMAL:
    if (cfg->nu == 0) return 0.0;
    for (;;) { /* rejection; acceptance P(|Z| < nu/sigma) */
      double z = gsl_ran_gaussian_ziggurat(r, cfg->sigma);
      if (z > -cfg->nu && z < cfg->nu) return z;
    }
  case VALLEY_NOISE_UNIFORM:
  default: {
    double u = valley_pcg32_open01(rng);
    return cfg->nu * (2.0 * u - 1.0);
  }
  }
}

/* The generic kernel: lane by lane, the same bookkeeping as the fast kernel, scalar. */
static void generic_advance(valley_sgd1d_block_t *b, const valley_sgd1d_config_t *cfg,
                            const valley_sgd1d_kprobes_t *pr, uint64_t until, gsl_rng *r) {
  valley_valley1d_t valley = cfg->valley;
  valley_pcg32_t *rng = valley_pcg32_gsl_state(r);
  for (int l = 0; l < VALLEY_LANES; l++) {
    rng->state = b->st[l];
    rng->inc = b->inc[l];
    for (uint64_t t = b->t; t < until; t++) {
      double omega = valley_sgd1d_noise(cfg, r);
      double w = b->w[l];
      w = w - cfg->eta * (valley_valley1d_grad(w, &valley) + omega);
      b->w[l] = w;
      int flat = w >= 0;
      if (t < cfg->burn_in) {
        b->prev_sharp[l] = !flat;
        continue;
      }
      int start = flat && b->prev_sharp[l];
      if (start && b->in_round[l]) {
        uint64_t F = b->F[l], S = b->S[l], len = F + S;
        double mean = b->sum[l] / (double)len;
        double w0 = b->w0[l];
        b->rounds[l]++;
        b->mean_sum[l] += mean;
        b->len_sum[l] += len;
        if (len > b->len_max[l]) b->len_max[l] = len;
        b->probe[VALLEY_PROBE_W0_RANGE][l] += w0 >= pr->w0_lo && w0 <= pr->w0_hi;
        b->probe[VALLEY_PROBE_ONE_SHARP][l] += S == 1;
        b->probe[VALLEY_PROBE_ENVELOPE][l] += b->env_ok[l];
        b->probe[VALLEY_PROBE_FLAT_RUN][l] += F <= pr->flat_run_max;
        b->probe[VALLEY_PROBE_MEAN_ABOVE][l] += mean >= pr->mean_threshold;
        b->probe[VALLEY_PROBE_MEAN_POSITIVE][l] += mean > 0.0;
        b->probe[VALLEY_PROBE_FLAT_RUN_ALT][l] += F <= pr->flat_run_max_alt;
        b->probe[VALLEY_PROBE_MEAN_ABOVE_ALT][l] += mean >= pr->mean_threshold_alt;
        if (l < b->nactive) b->hist[len < VALLEY_SGD1D_HIST - 1 ? len : VALLEY_SGD1D_HIST - 1]++;
      }
      if (start) {
        b->in_round[l] = 1;
        b->F[l] = b->S[l] = 0;
        b->sum[l] = 0.0;
        b->w0[l] = w;
        b->env_ok[l] = 1;
      }
      if (b->in_round[l]) {
        uint64_t idx = b->F[l] + b->S[l];
        if (idx >= 1 && idx <= pr->K && !(flat && w > b->w0[l] - pr->env[idx]))
          b->env_ok[l] = 0;
        if (flat)
          b->F[l]++;
        else
          b->S[l]++;
        b->sum[l] = b->sum[l] + w;
      }
      b->traj_sum[l] += w;
      b->prev_sharp[l] = !flat;
    }
    b->st[l] = rng->state;
    b->inc[l] = rng->inc;
  }
  b->t = until;
}

/* Block `block` of a run whose local chain 0 is chain `first` (of `count`): lane l is chain
 * first + block * VALLEY_LANES + l and draws from that stream. */
static void block_init(valley_sgd1d_block_t *b, const valley_sgd1d_config_t *cfg, size_t first,
                       size_t count, size_t block) {
  memset(b, 0, sizeof *b);
  size_t left = count - block * VALLEY_LANES;
  b->nactive = left < VALLEY_LANES ? (int)left : VALLEY_LANES;
  for (int l = 0; l < VALLEY_LANES; l++) {
    valley_pcg32_t rng;
    valley_pcg32_seed(&rng, cfg->seed,
                      (uint64_t)first + (uint64_t)block * VALLEY_LANES + (uint64_t)l);
    b->st[l] = rng.state;
    b->inc[l] = rng.inc;
    b->w[l] = cfg->w_init;
    b->prev_sharp[l] = cfg->w_init < 0;
    b->ts[l] = b->tfail[l] = -1;
  }
}

static void block_collect(const valley_sgd1d_block_t *b, size_t block,
                          valley_sgd1d_result_t *res) {
  for (int l = 0; l < VALLEY_LANES; l++) {
    size_t c = block * VALLEY_LANES + (size_t)l;
    if (c >= res->chains) break;
    valley_sgd1d_chain_t *ch = &res->chain[c];
    ch->rounds = b->rounds[l];
    ch->mean_sum = b->mean_sum[l];
    ch->traj_sum = b->traj_sum[l];
    ch->len_sum = b->len_sum[l];
    ch->len_max = b->len_max[l];
    for (int p = 0; p < VALLEY_SGD1D_NPROBE; p++) ch->probe[p] = b->probe[p][l];
    ch->final_w = b->w[l];
  }
}

/* Converts the caller's probes to the kernels' form; env gets K + 2 entries. */
static valley_status_t kprobes_make(const valley_sgd1d_probes_t *p, valley_sgd1d_kprobes_t *k,
                                    double **env, valley_error_t *err) {
  size_t K = p != NULL ? p->envelope_len : 0;
  if (K > 100000000)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "envelope probe longer than 1e8 steps (%zu)", K);
  *env = calloc(K + 2, sizeof **env);
  if (*env == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "cannot allocate the envelope");
  if (p == NULL) {
    k->w0_lo = -INFINITY;
    k->w0_hi = INFINITY;
    k->flat_run_max = k->flat_run_max_alt = UINT64_MAX;
    k->mean_threshold = k->mean_threshold_alt = -INFINITY;
  } else {
    k->w0_lo = p->w0_lo - p->tol;
    k->w0_hi = p->w0_hi + p->tol;
    k->flat_run_max = p->flat_run_max;
    k->flat_run_max_alt = p->flat_run_max_alt;
    k->mean_threshold = p->mean_threshold;
    k->mean_threshold_alt = p->mean_threshold_alt;
    for (size_t t = 1; t <= K; t++) (*env)[t] = p->envelope[t];
  }
  (*env)[0] = INFINITY; /* the round's first iterate: never fails (the AVX-512 kernel) */
  k->K = K;
  k->env = *env;
  return VALLEY_OK;
}

valley_status_t valley_sgd1d_run(const valley_sgd1d_config_t *cfg,
                                 const valley_sgd1d_probes_t *probes,
                                 valley_sgd1d_result_t *res, valley_error_t *err) {
  if (res == NULL || res->chains != cfg->chains)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "result holds %zu chains, configuration %zu",
                        res != NULL ? res->chains : 0, cfg->chains);
  return valley_sgd1d_run_range(cfg, probes, 0, res, err);
}

/* The chains on the GPU (sim/sgd1d_cuda.cu): the same chains, streams and statistics. */
static valley_status_t cuda_run(const valley_sgd1d_config_t *cfg, const valley_sgd1d_kprobes_t *kp,
                                size_t first, valley_sgd1d_result_t *res, valley_error_t *err) {
#ifndef VALLEY_HAVE_CUDA
  (void)cfg;
  (void)kp;
  (void)first;
  (void)res;
  return VALLEY_ERROR(err, VALLEY_EIO,
                      "--device cuda: valley was built without CUDA (no nvcc, or VALLEY_CUDA=OFF)");
#else
  _Static_assert(VCU_SGD1D_NPROBE == VALLEY_SGD1D_NPROBE && VCU_SGD1D_HIST == VALLEY_SGD1D_HIST,
                 "the CUDA engine's probes and histogram match sgd1d.h");
  vcu_sgd1d_t p;
  memset(&p, 0, sizeof p);
  p.kind = cfg->valley.kind == VALLEY_VALLEY1D_SATURATING ? 1 : 0;
  p.a_plus = cfg->valley.a_plus;
  p.a_minus = cfg->valley.a_minus;
  p.b_plus = cfg->valley.b_plus;
  p.b_minus = cfg->valley.b_minus;
  p.scale = cfg->valley.scale;
  p.noise = cfg->noise == VALLEY_NOISE_TWO_POINT ? 1 : 0;
  p.eta = cfg->eta;
  p.nu = cfg->nu;
  p.w_init = cfg->w_init;
  p.seed = cfg->seed;
  p.steps = cfg->steps;
  p.burn_in = cfg->burn_in;
  p.first = first;
  p.count = res->chains;
  p.w0_lo = kp->w0_lo;
  p.w0_hi = kp->w0_hi;
  p.K = kp->K;
  p.env = kp->env;
  p.flat_run_max = kp->flat_run_max;
  p.flat_run_max_alt = kp->flat_run_max_alt;
  p.mean_threshold = kp->mean_threshold;
  p.mean_threshold_alt = kp->mean_threshold_alt;
  p.device = cfg->cuda_device;
  p.segments = cfg->progress != NULL ? (cfg->steps < 100 ? cfg->steps : 100) : 1;
  p.progress = cfg->progress;
  p.progress_arg = cfg->progress_arg;
  vcu_sgd1d_chain_t *out = malloc(res->chains * sizeof *out);
  if (out == NULL)
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "cannot allocate %zu chain records", res->chains);
  char msg[200] = "";
  int rc = vcu_sgd1d_run(&p, out, res->hist, msg, sizeof msg);
  if (rc != 0) {
    free(out);
    return VALLEY_ERROR(err, rc == 2 ? VALLEY_ENOMEM : rc == 6 ? VALLEY_ECANCEL : VALLEY_EIO,
                        "--device cuda: %s", msg);
  }
  res->samples_per_chain = cfg->steps - cfg->burn_in;
  for (size_t i = 0; i < res->chains; i++) {
    valley_sgd1d_chain_t *ch = &res->chain[i];
    ch->rounds = out[i].rounds;
    ch->mean_sum = out[i].mean_sum;
    ch->traj_sum = out[i].traj_sum;
    ch->len_sum = out[i].len_sum;
    ch->len_max = out[i].len_max;
    for (int k = 0; k < VALLEY_SGD1D_NPROBE; k++) ch->probe[k] = out[i].probe[k];
    ch->final_w = out[i].final_w;
  }
  free(out);
  return VALLEY_OK;
#endif
}

valley_status_t valley_sgd1d_run_range(const valley_sgd1d_config_t *cfg,
                                       const valley_sgd1d_probes_t *probes, size_t first,
                                       valley_sgd1d_result_t *res, valley_error_t *err) {
  valley_status_t st = valley_sgd1d_config_check(cfg, err);
  if (st != VALLEY_OK) return st;
  if (res == NULL || res->chains == 0 || first > cfg->chains ||
      res->chains > cfg->chains - first)
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "chains %zu..%zu are not within the configuration's %zu chains", first,
                        first + (res != NULL ? res->chains : 0), cfg->chains);
  size_t count = res->chains;
  valley_sgd1d_kprobes_t kp;
  double *env = NULL;
  st = kprobes_make(probes, &kp, &env, err);
  if (st != VALLEY_OK) return st;
  if (cfg->device == VALLEY_DEVICE_CUDA) {
    st = cuda_run(cfg, &kp, first, res, err);
    free(env);
    return st;
  }

  size_t nblocks = (count + VALLEY_LANES - 1) / VALLEY_LANES;
  valley_sgd1d_block_t *blocks = aligned_alloc(64, nblocks * sizeof *blocks);
  if (blocks == NULL) {
    free(env);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "cannot allocate %zu chain blocks", nblocks);
  }
  for (size_t i = 0; i < nblocks; i++) block_init(&blocks[i], cfg, first, count, i);
  uint64_t t_resume = 0;
  if (cfg->resume != NULL) {
    /* a state of this run: the same blocks, streams and lanes, all at one step */
    const valley_sgd1d_block_t *rb = cfg->resume;
    int fits = cfg->resume_bytes == nblocks * sizeof *blocks;
    for (size_t i = 0; fits && i < nblocks; i++)
      fits = rb[i].nactive == blocks[i].nactive && rb[i].t == rb[0].t &&
             rb[i].t <= cfg->steps && memcmp(rb[i].inc, blocks[i].inc, sizeof rb[i].inc) == 0;
    if (!fits) {
      free(blocks);
      free(env);
      return VALLEY_ERROR(err, VALLEY_EINVAL, "the saved state does not fit this run of %zu "
                          "chains from chain %zu", count, first);
    }
    memcpy(blocks, rb, nblocks * sizeof *blocks);
    t_resume = blocks[0].t;
  }
  int fast = !cfg->force_generic && cfg->valley.kind == VALLEY_VALLEY1D_CANONICAL &&
             cfg->noise == VALLEY_NOISE_UNIFORM;

  /* Time is cut into segments so that progress can be reported and the run cancelled; every
   * block's state carries over, so the segmentation does not change any number. */
  uint64_t nseg = 1;
  if (cfg->progress != NULL || cfg->snapshot != NULL) {
    /* >= 100 segments of at most about 2^24 chain steps each, so that a cancel (a signal,
     * cli/signals.c) is seen soon and a snapshot is never far behind */
    uint64_t per = ((uint64_t)1 << 24) / (count > 0 ? (uint64_t)count : 1u);
    nseg = cfg->steps / (per > 0 ? per : 1u);
    if (nseg < 100) nseg = 100;
  }
  if (nseg > cfg->steps) nseg = cfg->steps;
#ifdef VALLEY_HAVE_OPENMP
  int nthreads = cfg->threads;
#endif
  int failed = 0;
  for (uint64_t seg = 1; seg <= nseg && !failed; seg++) {
    uint64_t until = seg == nseg ? cfg->steps : cfg->steps / nseg * seg;
    if (until <= t_resume) continue; /* done before the state was saved */
#ifdef VALLEY_HAVE_OPENMP
    if (nthreads <= 0) nthreads = omp_get_max_threads();
#pragma omp parallel for num_threads(nthreads) schedule(dynamic, 1) default(none) \
    shared(blocks, nblocks, cfg, kp, until, fast, failed)
#endif
    for (size_t i = 0; i < nblocks; i++) {
      if (fast) {
        valley_sgd1d_fast_advance(&blocks[i], cfg, &kp, until);
      } else {
        gsl_rng *r = valley_pcg32_gsl_alloc(0, 0);
        if (r == NULL) {
#ifdef VALLEY_HAVE_OPENMP
#pragma omp atomic write
#endif
          failed = 1;
          continue;
        }
        generic_advance(&blocks[i], cfg, &kp, until, r);
        gsl_rng_free(r);
      }
    }
    if (!failed && cfg->snapshot != NULL &&
        cfg->snapshot(until, blocks, nblocks * sizeof *blocks, cfg->snapshot_arg) != 0) {
      free(blocks);
      free(env);
      return VALLEY_ERROR(err, VALLEY_ECANCEL, "run cancelled after %llu of %llu steps",
                          (unsigned long long)until, (unsigned long long)cfg->steps);
    }
    if (!failed && cfg->progress != NULL &&
        cfg->progress((double)until / (double)cfg->steps, cfg->progress_arg) != 0) {
      free(blocks);
      free(env);
      return VALLEY_ERROR(err, VALLEY_ECANCEL, "run cancelled after %llu of %llu steps",
                          (unsigned long long)until, (unsigned long long)cfg->steps);
    }
  }
  if (failed) {
    free(blocks);
    free(env);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "cannot allocate a generator");
  }
  memset(res->hist, 0, sizeof res->hist);
  res->samples_per_chain = cfg->steps - cfg->burn_in;
  for (size_t i = 0; i < nblocks; i++) {
    block_collect(&blocks[i], i, res);
    for (int h = 0; h < VALLEY_SGD1D_HIST; h++) res->hist[h] += blocks[i].hist[h];
  }
  free(blocks);
  free(env);
  return VALLEY_OK;
}

size_t valley_sgd1d_state_bytes(size_t chains) {
  return (chains + VALLEY_LANES - 1) / VALLEY_LANES * sizeof(valley_sgd1d_block_t);
}

valley_status_t valley_sgd1d_path(const valley_sgd1d_config_t *cfg, double *w, size_t n,
                                  valley_error_t *err) {
  valley_status_t st = valley_sgd1d_config_check(cfg, err);
  if (st != VALLEY_OK) return st;
  gsl_rng *r = valley_pcg32_gsl_alloc(cfg->seed, 0);
  if (r == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "cannot allocate a generator");
  valley_valley1d_t valley = cfg->valley;
  double x = cfg->w_init;
  for (size_t i = 0; i < n; i++) {
    w[i] = x;
    double omega = valley_sgd1d_noise(cfg, r);
    x = x - cfg->eta * (valley_valley1d_grad(x, &valley) + omega);
  }
  gsl_rng_free(r);
  return VALLEY_OK;
}
