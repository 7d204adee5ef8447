/* The C interface between the CUDA path of the Theorem 2 Monte Carlo (sim/sgd1d_cuda.c) and its
 * engine (sim/sgd1d_cuda.cu): plain types only, so that the .cu file needs none of valley's
 * headers.  The kernel repeats the generic kernel of sim/sgd1d.c step by step, one chain per
 * GPU thread. */
#ifndef VALLEY_SGD1D_CUDA_ENGINE_H
#define VALLEY_SGD1D_CUDA_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VCU_SGD1D_NPROBE 8
#define VCU_SGD1D_HIST 256

typedef struct {
  int kind;  /* 0 canonical (piecewise linear), 1 saturating (tanh) */
  double a_plus, a_minus, b_plus, b_minus, scale;
  int noise; /* 0 uniform, 1 two-point */
  double eta, nu, w_init;
  uint64_t seed, steps, burn_in;
  uint64_t first; /* chain `first` + i draws from PCG stream first + i */
  size_t count;   /* chains */
  /* probes, as valley_sgd1d_kprobes_t (sim/sgd1d_block.h) */
  double w0_lo, w0_hi;
  uint64_t K;
  const double *env; /* K + 2 entries, host memory */
  uint64_t flat_run_max, flat_run_max_alt;
  double mean_threshold, mean_threshold_alt;
  int device;        /* CUDA device index */
  size_t segments;   /* kernel launches the steps are cut into (>= 1); progress between them */
  int (*progress)(double fraction, void *arg);
  void *progress_arg;
} vcu_sgd1d_t;

/* One chain's statistics, as valley_sgd1d_chain_t. */
typedef struct {
  uint64_t rounds;
  double mean_sum, traj_sum;
  uint64_t len_sum, len_max;
  uint64_t probe[VCU_SGD1D_NPROBE];
  double final_w;
} vcu_sgd1d_chain_t;

/* Runs p->count chains: out[count], hist[VCU_SGD1D_HIST] (all chains' round lengths, the last
 * bin >= 255).  Return codes: 0 success, 2 out of device memory, 5 a CUDA failure or no device,
 * 6 cancelled by progress (msg then says after how many steps); msg gets one line. */
int vcu_sgd1d_run(const vcu_sgd1d_t *p, vcu_sgd1d_chain_t *out, uint64_t *hist, char *msg,
                  size_t msg_len);

#ifdef __cplusplus
}
#endif

#endif
