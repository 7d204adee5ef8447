/* The 1-D SGD process of Theorem 2 (He, Huang, Yuan 2019, Sec. 5.1):
 *   w_{t+1} = w_t - eta (g(w_t) + omega_t),  |omega_t| < nu,
 * run as many independent chains, each on its own PCG32 stream (stream = chain index), so that
 * every result is the same whatever the number of threads.
 *
 * Rounds (Sec. 5.1): a round starts at a flat-side iterate (w >= 0) whose predecessor was on the
 * sharp side (w < 0) and ends just before the next such iterate: F >= 1 flat iterates, then
 * S >= 1 sharp ones.  Its mean is the arithmetic mean of its F + S iterates.  Only rounds that
 * start after the burn-in and end before the last step count.
 *
 * Round probes: per-round yes/no events, each given by numbers from the caller (theorems/ sets
 * them from the proof's constants; this module does not know what they mean). */
#ifndef VALLEY_SGD1D_H
#define VALLEY_SGD1D_H

#include <stddef.h>
#include <stdint.h>

#include <gsl/gsl_rng.h>

#include "valley/device.h"
#include "valley/error.h"
#include "valley/valley1d.h"

typedef enum {
  VALLEY_NOISE_UNIFORM = 0,   /* Uniform(-nu, nu) */
  VALLEY_NOISE_TWO_POINT = 1, /* +-nu (1 - 1e-12), each with probability 1/2 */
  VALLEY_NOISE_TRUNC_NORMAL = 2 /* N(0, sigma^2) conditioned on (-nu, nu) */
} valley_noise_kind_t;

valley_status_t valley_noise_kind_parse(const char *name, valley_noise_kind_t *kind);
const char *valley_noise_kind_name(valley_noise_kind_t kind);

typedef enum {
  VALLEY_PROBE_W0_RANGE = 0,   /* w0 in [w0_lo - tol, w0_hi + tol] */
  VALLEY_PROBE_ONE_SHARP,      /* S == 1 */
  VALLEY_PROBE_ENVELOPE,       /* for t = 1..K: w_t >= 0 and w_t > w0 - envelope[t] */
  VALLEY_PROBE_FLAT_RUN,       /* F <= flat_run_max */
  VALLEY_PROBE_MEAN_ABOVE,     /* round mean >= mean_threshold */
  VALLEY_PROBE_MEAN_POSITIVE,  /* round mean > 0 */
  VALLEY_PROBE_FLAT_RUN_ALT,   /* F <= flat_run_max_alt */
  VALLEY_PROBE_MEAN_ABOVE_ALT, /* round mean >= mean_threshold_alt */
  VALLEY_SGD1D_NPROBE
} valley_probe_t;

typedef struct {
  double w0_lo, w0_hi, tol;
  size_t envelope_len;    /* K; 0 disables the envelope probe (it then always holds) */
  const double *envelope; /* envelope[t] for t = 0..K (envelope[0] unused); caller-owned */
  uint64_t flat_run_max, flat_run_max_alt;
  double mean_threshold, mean_threshold_alt;
} valley_sgd1d_probes_t;

#define VALLEY_SGD1D_HIST 256 /* round-length histogram bins: lengths 0..255, last bin is >= 255 */

typedef struct {
  valley_valley1d_t valley;
  double eta, nu;
  valley_noise_kind_t noise;
  double sigma;       /* standard deviation of the truncated normal (> 0) */
  double w_init;      /* every chain's w_0 */
  uint64_t seed;
  size_t chains;
  uint64_t steps;     /* SGD steps per chain, burn-in included */
  uint64_t burn_in;   /* steps before statistics start */
  int threads;        /* 0: OpenMP's default */
  int force_generic;  /* 1: never use the vectorised canonical/uniform kernel (tests) */
  /* VALLEY_DEVICE_CPU (default) or VALLEY_DEVICE_CUDA: one GPU thread per chain
   * (sim/sgd1d_cuda.cu, docs/cuda.md), for the canonical and saturating valleys with uniform or
   * two-point noise.  On the canonical valley every chain's statistics equal the CPU path's bit
   * for bit; on the saturating valley they agree within the device tanh's rounding. */
  valley_device_t device;
  int cuda_device;    /* the CUDA device's index (default 0) */
  /* Progress: called from one thread with the fraction done, roughly every 1/100; may be NULL.
   * Return nonzero to cancel (the run then returns VALLEY_ECANCEL). */
  int (*progress)(double fraction, void *arg);
  void *progress_arg;
  /* Resumable runs (CPU kernels only; ignored with VALLEY_DEVICE_CUDA).  snapshot, when not
   * NULL, is called from one thread after each time segment with the run's whole state: opaque
   * bytes (valley_sgd1d_state_bytes(chains in the run)) and the steps done; nonzero cancels.
   * resume, when not NULL, is such a state (resume_bytes long) of the same configuration and
   * chain range: the run goes on from it instead of step 0, and ends with the numbers of an
   * uninterrupted run.  A state that does not fit is EINVAL. */
  int (*snapshot)(uint64_t steps_done, const void *state, size_t bytes, void *arg);
  void *snapshot_arg;
  const void *resume;
  size_t resume_bytes;
} valley_sgd1d_config_t;

/* Per-chain statistics: each chain is one replicate for the confidence intervals. */
typedef struct {
  uint64_t rounds;                        /* completed rounds */
  double mean_sum;                        /* sum of round means */
  double traj_sum;                        /* sum of post-burn-in iterates */
  uint64_t len_sum, len_max;              /* round lengths F + S */
  uint64_t probe[VALLEY_SGD1D_NPROBE];    /* rounds for which the probe held */
  double final_w;                         /* the last iterate */
} valley_sgd1d_chain_t;

typedef struct {
  size_t chains;
  uint64_t samples_per_chain;             /* steps - burn_in */
  valley_sgd1d_chain_t *chain;            /* [chains] */
  uint64_t hist[VALLEY_SGD1D_HIST];       /* round lengths, all chains */
} valley_sgd1d_result_t;

/* Sets defaults: canonical valley with eta 0.01, a+ = b+ = 1, a- = b- = -20, nu = 0.5, uniform
 * noise, sigma = nu, w_init 0, seed 1, 1024 chains, 10^6 steps, burn-in 10^4. */
void valley_sgd1d_config_default(valley_sgd1d_config_t *cfg);

/* Checks the configuration (input errors only). */
valley_status_t valley_sgd1d_config_check(const valley_sgd1d_config_t *cfg, valley_error_t *err);

valley_sgd1d_result_t *valley_sgd1d_result_alloc(size_t chains);
void valley_sgd1d_result_free(valley_sgd1d_result_t *r);

/* Runs every chain.  probes may be NULL (all probes then count as holding). */
valley_status_t valley_sgd1d_run(const valley_sgd1d_config_t *cfg,
                                 const valley_sgd1d_probes_t *probes,
                                 valley_sgd1d_result_t *res, valley_error_t *err);

/* Runs chains first .. first + res->chains - 1 of the configuration's cfg->chains (chain i on
 * stream i, as in valley_sgd1d_run): res->chain[j] is chain first + j, res->hist counts only these
 * chains' rounds.  Each chain's numbers are the same as in a run of all chains, so runs of
 * disjoint ranges (MPI ranks, docs/mpi.md) together give exactly the full run's results.
 * valley_sgd1d_run is the range 0 .. cfg->chains - 1. */
valley_status_t valley_sgd1d_run_range(const valley_sgd1d_config_t *cfg,
                                       const valley_sgd1d_probes_t *probes, size_t first,
                                       valley_sgd1d_result_t *res, valley_error_t *err);

/* Bytes of a run's state (valley_sgd1d_config_t.snapshot) for a range of `chains` chains. */
size_t valley_sgd1d_state_bytes(size_t chains);

/* One noise draw for the configuration (uniform, two-point or truncated normal) from r, a
 * generator of type valley_gsl_rng_pcg32 (valley/pcg.h). */
double valley_sgd1d_noise(const valley_sgd1d_config_t *cfg, gsl_rng *r);

/* One sample path of chain 0 (same stream as in valley_sgd1d_run): w[0..n-1] = w_0..w_{n-1}. */
valley_status_t valley_sgd1d_path(const valley_sgd1d_config_t *cfg, double *w, size_t n,
                                  valley_error_t *err);

#endif
