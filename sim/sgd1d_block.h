/* Internal: the state of a block of VALLEY_LANES chains of the 1-D SGD process, shared by the
 * vectorised canonical kernel (sgd1d_fast.c) and the generic kernel (sgd1d.c).  Chain
 * block*VALLEY_LANES + l lives in lane l; every lane is independent. */
#ifndef VALLEY_SGD1D_BLOCK_H
#define VALLEY_SGD1D_BLOCK_H

#include <stdint.h>

#include "valley/sgd1d.h"

#define VALLEY_LANES 32

typedef struct {
  /* process */
  _Alignas(64) uint64_t st[VALLEY_LANES]; /* PCG32 per lane (the kernels load lanes as vectors) */
  uint64_t inc[VALLEY_LANES];
  double w[VALLEY_LANES];
  uint64_t prev_sharp[VALLEY_LANES]; /* 1 when the previous iterate was < 0 */
  /* the round in progress */
  uint64_t in_round[VALLEY_LANES]; /* a round started after the burn-in is open */
  uint64_t F[VALLEY_LANES], S[VALLEY_LANES];
  double sum[VALLEY_LANES], w0[VALLEY_LANES];
  uint64_t env_ok[VALLEY_LANES];
  /* the same round as steps, kept by the AVX-512 kernel instead of in_round, F, S and env_ok:
   * the round's first iterate (-1: no round yet), its first sharp iterate, and the last iterate
   * that failed the envelope comparison (-1: none) */
  int64_t ts[VALLEY_LANES], tsh[VALLEY_LANES], tfail[VALLEY_LANES];
  /* accumulators */
  uint64_t rounds[VALLEY_LANES], len_sum[VALLEY_LANES], len_max[VALLEY_LANES];
  double mean_sum[VALLEY_LANES], traj_sum[VALLEY_LANES];
  uint64_t probe[VALLEY_SGD1D_NPROBE][VALLEY_LANES];
  uint64_t hist[VALLEY_SGD1D_HIST];
  uint64_t t;       /* steps done */
  int nactive;      /* lanes that hold real chains (the last block may be padded) */
} valley_sgd1d_block_t;

/* Probe thresholds in the form the kernels use. */
typedef struct {
  double w0_lo, w0_hi;  /* tolerance already applied */
  uint64_t K;           /* envelope length */
  const double *env;    /* K + 2 entries: env[0] = +inf (checked by no kernel but
                         * passed by every iterate) and env[K+1] = 0 never decide */
  uint64_t flat_run_max, flat_run_max_alt;
  double mean_threshold, mean_threshold_alt;
} valley_sgd1d_kprobes_t;

/* Advances every lane of b from step b->t to step `until` (canonical valley, uniform noise). */
void valley_sgd1d_fast_advance(valley_sgd1d_block_t *b, const valley_sgd1d_config_t *cfg,
                               const valley_sgd1d_kprobes_t *pr, uint64_t until);

#endif
