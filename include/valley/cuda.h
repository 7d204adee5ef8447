/* The CUDA path of the direction probe: the train and test loss and accuracy along theta + l u,
 * for a grid of l and many directions u, on an NVIDIA GPU through cuBLAS and kernels of
 * valley's own (sim/probe_cuda.cu).  The numbers are those of valley_probe (sim/direction.c)
 * within float rounding: same parameters theta[k] + (float)l u[k], same EVAL-mode BN with the
 * network's running statistics, the same split of the first layer, double-precision
 * cross-entropy.  Built when CMake finds nvcc (VALLEY_CUDA=AUTO or ON); otherwise every call
 * reports that the build has no CUDA.  docs/cuda.md describes the kernels and the measurements. */
#ifndef VALLEY_CUDA_H
#define VALLEY_CUDA_H

#include <stddef.h>

#include "valley/direction.h"
#include "valley/error.h"

/* 1 when this build has the CUDA path, 0 otherwise. */
int valley_cuda_compiled(void);

/* The number of CUDA devices this process can use, 0 when there is none; then why (when not
 * NULL, why_len bytes) says why in one line: "valley was built without CUDA", "no CUDA driver",
 * "no CUDA device", or the runtime's message.  name (when not NULL) gets device 0's name. */
int valley_cuda_devices(char *why, size_t why_len, char *name, size_t name_len);

typedef struct {
  size_t batch;       /* data rows per pass (default 8192); larger batches make larger GEMMs */
  int split_first;    /* 1 (default): X W0^T once and X U_d^T once per direction and batch,
                         then Z = X W0^T + l X U_d^T per point, as the CPU probe's split */
  size_t mem_limit_mb;/* device memory the probe may hold (default 4096; 0 means 4096); the
                         batch is halved until one direction's points fit, and as many
                         directions as fit run together: a fixed limit, not the free memory, so
                         that a call repeats bit for bit */
  int device;         /* CUDA device index, default 0 */
  size_t chunk_dirs;  /* at most this many directions per chunk (0, default: as many as fit) */
} valley_probe_cuda_config_t;

void valley_probe_cuda_config_default(valley_probe_cuda_config_t *cfg);

/* As valley_probe (same arguments, same checks, same output) on the GPU.  MLPs only (EINVAL for
 * another architecture).  ENOMEM when the device cannot hold one direction's points at this
 * batch; EIO for a CUDA or cuBLAS failure (the message names the call) or when no device is
 * usable (the message says why). */
valley_status_t valley_probe_cuda(const valley_mlp_t *net, const float *theta, size_t n_dirs,
                                  const float *const *dirs, size_t n_grid, const double *grid,
                                  const valley_dataset_t *train, const valley_dataset_t *test,
                                  const valley_probe_cuda_config_t *cfg, valley_prof_t *out,
                                  valley_error_t *err);

/* For benchmarks: the best of reps n x n x n cuBLAS SGEMMs (FP32) on device 0, in GFLOP/s.
 * EIO without a device. */
valley_status_t valley_cuda_sgemm_gflops(size_t n, int reps, double *gflops, valley_error_t *err);

#endif
