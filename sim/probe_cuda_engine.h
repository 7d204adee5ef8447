/* The C interface between the CUDA probe's wrapper (sim/probe_cuda.c) and its engine
 * (sim/probe_cuda.cu): plain types only, so that the .cu file needs none of valley's headers. */
#ifndef VALLEY_PROBE_CUDA_ENGINE_H
#define VALLEY_PROBE_CUDA_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VCU_MAX_LAYERS 8

typedef struct {
  int arch;                           /* 0 MLP, 1 CNN (VALLEY_ARCH_CNN, sim/cnn.c) */
  size_t in_channels, height, width;  /* CNN input images */
  size_t n_layers;                    /* linear layers (the CNN: conv1, conv2, fc3) */
  size_t widths[VCU_MAX_LAYERS + 1];  /* inputs .. classes */
  int bn;                             /* EVAL-mode BN after every hidden layer */
  size_t n_params;
  size_t w_off[VCU_MAX_LAYERS], b_off[VCU_MAX_LAYERS];
  size_t g_off[VCU_MAX_LAYERS], s_off[VCU_MAX_LAYERS], bn_off[VCU_MAX_LAYERS];
  size_t n_bn;               /* BN features in all */
  const float *running_mean; /* n_bn */
  const float *invstd;       /* n_bn: (float)(1 / sqrt((double)running_var + eps)) */
} vcu_net_t;

typedef struct {
  const float *x;  /* n rows of widths[0] */
  const uint8_t *y;
  size_t n;
} vcu_set_t;

/* Return codes: 0 success, 2 out of (device) memory, 5 a CUDA / cuBLAS failure or no device;
 * msg gets one line. */
int vcu_devices(char *why, size_t why_len, char *name, size_t name_len);

/* loss[k], right[k] (k = d n_grid + g) for sets[0]; loss[np + k], right[np + k] for sets[1]:
 * summed cross-entropy and the number right at theta + (float)grid[g] dirs[d]. */
int vcu_probe(const vcu_net_t *net, const float *theta, size_t n_dirs, const float *const *dirs,
              size_t n_grid, const double *grid, const vcu_set_t sets[2], size_t batch,
              int split_first, size_t mem_limit_mb, size_t chunk_dirs, int device, double *loss,
              size_t *right,
              char *msg, size_t msg_len);

/* The best of reps timed n x n x n cuBLAS SGEMMs (FP32, CUBLAS_DEFAULT_MATH) on device 0, in
 * GFLOP/s, for benchmarks. */
int vcu_sgemm_gflops(size_t n, int reps, double *gflops, char *msg, size_t msg_len);

#ifdef __cplusplus
}
#endif

#endif
