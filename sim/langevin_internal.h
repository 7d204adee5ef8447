/* Internal to the Langevin ensembles: what sim/langevin.c (common part, 1-D runners),
 * sim/langevin_vec.c (the vectorised mixture kernel) and sim/langevin2d.c (2-D runners) share —
 * walls, bins, draws, the per-particle state every ensemble keeps, and the driver that runs the
 * blocks in progress segments.  Not installed; docs/langevin.md describes the schemes. */
#ifndef VALLEY_LANGEVIN_INTERNAL_H
#define VALLEY_LANGEVIN_INTERNAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "valley/langevin.h"

#define TWO_PI 6.283185307179586476925286766559
#define SQRT3 1.7320508075688772935274463415059
#define LANES 64                        /* particles per work item (eight vectors) */
#define MAX_PARTICLES ((size_t)UINT32_MAX) /* bounds the state memory (48 B a particle) */
#define MAX_BINS ((size_t)1 << 28)

/* ---------------------------------------------------------------------------------------- */
/* Walls, bins, draws: shared by every kernel (the vectorised one calls these per lane).      */

static inline double fold(double x, double lo, double hi) {
  if (x >= lo && x <= hi) return x;
  double y = x > hi ? hi - (x - hi) : lo + (lo - x); /* one reflection: the usual case */
  if (y >= lo && y <= hi) return y;
  if (!isfinite(x)) return NAN;
  double L = hi - lo, P = 2.0 * L;
  double r = fmod(x - lo, P); /* exact; NaN when x - lo overflows */
  if (r < 0) r += P;
  if (r > L) r = P - r;
  y = lo + r;
  return y < lo ? lo : y > hi ? hi : y;
}

static inline size_t bin_of(double theta, double lo, double scale, size_t bins) {
  double f = (theta - lo) * scale;
  if (!(f >= 0)) return 0;
  if (f >= (double)bins) return bins - 1;
  return (size_t)f;
}

/* The Box-Muller pair of three outputs: u1 = 1 - (53-bit double of two outputs) in (0, 1],
 * u2 = third output 2^-32 in [0, 1). */
static inline void normal_pair(valley_pcg32_t *rng, double *z1, double *z2) {
  double u1 = 1.0 - valley_pcg32_double(rng);
  double u2 = (double)valley_pcg32_next(rng) * 0x1p-32;
  double r = sqrt(-2.0 * log(u1));
  *z1 = r * cos(TWO_PI * u2);
  *z2 = r * sin(TWO_PI * u2);
}

/* eta of mean 0 and variance 1 for step t (Gaussian: a pair at even t, its second half at odd
 * t, so *zc carries the cached half between steps). */
static inline double draw_eta(valley_pcg32_t *rng, valley_lnoise_t noise, uint64_t t, double *zc) {
  switch (noise) {
  case VALLEY_LNOISE_UNIFORM:
    return SQRT3 * (2.0 * valley_pcg32_open01(rng) - 1.0);
  case VALLEY_LNOISE_TWO_POINT:
    return (valley_pcg32_next(rng) >> 31) ? 1.0 : -1.0;
  case VALLEY_LNOISE_GAUSSIAN:
  default:
    if (t & 1u) return *zc;
    double z1;
    normal_pair(rng, &z1, zc);
    return z1;
  }
}

/* A uniform start in [lo, hi] from two outputs of the stream. */
static inline double uniform_start(valley_pcg32_t *rng, double lo, double hi) {
  return fmin(hi, lo + (hi - lo) * valley_pcg32_double(rng));
}

/* The first step s > t0 with s = burn_in + k record_every, k >= 1; UINT64_MAX when none. */
static inline uint64_t first_record(uint64_t t0, uint64_t burn, uint64_t rec) {
  if (rec == 0) return UINT64_MAX;
  if (t0 + 1 <= burn + rec) return burn + rec;
  uint64_t k = (t0 + 1 - burn + rec - 1) / rec;
  return burn + k * rec;
}

/* n items of `size` bytes, zeroed, 64-byte aligned; NULL when out of memory. */
static inline void *alloc64(size_t n, size_t size) {
  size_t bytes = (n * size + 63) / 64 * 64;
  void *p = aligned_alloc(64, bytes > 0 ? bytes : 64);
  if (p != NULL) memset(p, 0, bytes > 0 ? bytes : 64);
  return p;
}

/* Input checks that 1-D and 2-D configurations share (EINVAL naming the field). */
valley_status_t valley_langevin_check_common(double T, double step, const char *step_name,
                                             size_t particles, uint64_t steps, uint64_t burn_in,
                                             uint64_t record_every, int threads,
                                             valley_error_t *err);

/* ---------------------------------------------------------------------------------------- */
/* What every ensemble keeps: the streams, the blow-up marks and the per-thread path
 * histograms.  Per-particle arrays are padded to whole blocks of LANES (np = nblocks LANES)
 * and 64-byte aligned.                                                                       */
typedef struct {
  size_t n, nblocks;  /* particles; blocks of LANES */
  int dim;            /* 1 (theta) or 2 (x, y) */
  size_t cells;       /* path-histogram cells (bins) */
  uint64_t burn, rec; /* path histogram: burn_in, record_every */
  int nthreads;
  uint64_t *st, *inc; /* PCG32 per particle: stream i of the seed */
  uint64_t *dead;     /* step at which the particle became non-finite (0: never) */
  double *dead_from;  /* its last finite position: dead_from[dim i .. dim i + dim - 1] */
  uint64_t *hrows;    /* path-histogram rows, one per thread, `cells` each */
  size_t first;       /* the ensemble index of particle 0 (a range of a larger ensemble) */
} valley_langevin_ens_t;

/* Allocates E for n particles in dim = 1 or 2 dimensions (streams seeded, nothing dead,
 * histograms zero).  ENOMEM. */
valley_status_t valley_langevin_ens_init(valley_langevin_ens_t *E, size_t n, int dim,
                                         size_t cells, uint64_t seed, uint64_t burn_in,
                                         uint64_t record_every, int threads,
                                         valley_error_t *err);

/* Makes E the particles first .. first + n - 1 of a larger ensemble: particle i then draws from
 * stream first + i, and errors name it first + i.  After valley_langevin_ens_init. */
void valley_langevin_ens_offset(valley_langevin_ens_t *E, uint64_t seed, size_t first);
void valley_langevin_ens_free(valley_langevin_ens_t *E);

/* A kernel: advances block blk of `run` over steps [t0, t1), counting into hrow. */
typedef void (*valley_langevin_block_fn)(void *run, size_t blk, uint64_t t0, uint64_t t1,
                                         uint64_t *hrow);

/* Runs every block of E over `steps` steps in progress segments (min(100, steps) when progress
 * is set, else one), in parallel over blocks; after each segment reports the first blow-up
 * (EDOM naming the particle with the smallest index, its step and its last finite position)
 * and calls progress (nonzero: ECANCEL).  Each particle's state carries over, so the
 * segmentation changes no number.  The caller frees on error. */
valley_status_t valley_langevin_ens_run(valley_langevin_ens_t *E, void *run,
                                        valley_langevin_block_fn block, uint64_t steps,
                                        int (*progress)(double fraction, void *arg),
                                        void *progress_arg, valley_error_t *err);

/* The path histogram (the threads' rows summed) into path_hist[cells]; returns its total. */
uint64_t valley_langevin_ens_path(const valley_langevin_ens_t *E, uint64_t *path_hist);

/* ---------------------------------------------------------------------------------------- */
/* 1-D ensembles: the run state and the fast kernel's landscape.                             */

/* The fast kernel's landscape: U = -L log g, g = c + sum_k a_k exp(-(theta - m_k)^2 b_k). */
typedef enum { DM_CONST = 0, DM_LOSS, DM_GRAD, DM_EXP } dmodel_t;
typedef struct {
  int K;
  double m[VALLEY_BASIN1D_MAXK], a[VALLEY_BASIN1D_MAXK];
  double b[VALLEY_BASIN1D_MAXK], b2[VALLEY_BASIN1D_MAXK]; /* 1/(2 s^2), 1/s^2 */
  double c, L, umin, ws;
  dmodel_t dm;
} mixture_t;

/* Everything a 1-D kernel reads and writes.  Padded lanes run like the others but never reach
 * a histogram or an error. */
typedef struct {
  valley_langevin_ens_t e;
  const valley_fp1d_t *prob; /* the generic kernel's problem */
  const mixture_t *mix;      /* != NULL: the vectorised kernel */
  size_t bins;
  double lo, hi, scale; /* scale = bins / (hi - lo) */
  double h, hT;         /* step and step * T */
  valley_lnoise_t noise;
  double *th, *zc; /* positions; cached second normal of a pair */
} run1d_t;

/* The vectorised kernel (sim/langevin_vec.c) on block blk of R over steps [t0, t1). */
void valley_langevin_fast_block(const mixture_t *M, run1d_t *R, size_t blk, uint64_t t0,
                                uint64_t t1, uint64_t *hrow);

#endif
