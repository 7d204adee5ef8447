/* The CUDA probe's wrapper: the argument checks and profiles of the CPU probe
 * (sim/probe_internal.h) around the engine of sim/probe_cuda.cu, which is compiled only when
 * CMake finds nvcc (VALLEY_HAVE_CUDA).  include/valley/cuda.h, docs/cuda.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "valley/cuda.h"
#include "probe_internal.h"
#ifdef VALLEY_HAVE_CUDA
#include "probe_cuda_engine.h"
#endif

#ifndef VALLEY_HAVE_CUDA
static const char no_cuda[] = "valley was built without CUDA (no nvcc, or VALLEY_CUDA=OFF)";
#endif

int valley_cuda_compiled(void) {
#ifdef VALLEY_HAVE_CUDA
  return 1;
#else
  return 0;
#endif
}

int valley_cuda_devices(char *why, size_t why_len, char *name, size_t name_len) {
  if (name != NULL && name_len > 0) name[0] = '\0';
#ifdef VALLEY_HAVE_CUDA
  if (why != NULL && why_len > 0) why[0] = '\0';
  return vcu_devices(why, why_len, name, name_len);
#else
  if (why != NULL && why_len > 0) snprintf(why, why_len, "%s", no_cuda);
  return 0;
#endif
}

void valley_probe_cuda_config_default(valley_probe_cuda_config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->batch = 8192;
  cfg->mem_limit_mb = 4096;
  cfg->split_first = 1;
}

valley_status_t valley_probe_cuda(const valley_mlp_t *net, const float *theta, size_t n_dirs,
                                  const float *const *dirs, size_t n_grid, const double *grid,
                                  const valley_dataset_t *train, const valley_dataset_t *test,
                                  const valley_probe_cuda_config_t *cfg, valley_prof_t *out,
                                  valley_error_t *err) {
  valley_status_t st = valley_probe_check_args(net, n_dirs, n_grid, grid, cfg->batch, train,
                                               test, out, err);
  if (st != VALLEY_OK) return st;
  if (cfg->device < 0)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "CUDA device %d is negative", cfg->device);
#ifndef VALLEY_HAVE_CUDA
  (void)theta;
  (void)dirs;
  return VALLEY_ERROR(err, VALLEY_EIO, "%s", no_cuda);
#else
  vcu_net_t v;
  memset(&v, 0, sizeof v);
  v.arch = net->cfg.arch == VALLEY_ARCH_CNN ? 1 : 0;
  v.in_channels = net->cfg.in_channels;
  v.height = net->cfg.height;
  v.width = net->cfg.width;
  v.n_layers = net->cfg.n_layers;
  for (size_t l = 0; l <= v.n_layers; l++) v.widths[l] = net->cfg.widths[l];
  v.bn = net->cfg.batch_norm;
  v.n_params = net->n_params;
  for (size_t l = 0; l < v.n_layers; l++) {
    v.w_off[l] = net->w_off[l];
    v.b_off[l] = net->b_off[l];
    v.g_off[l] = net->g_off[l];
    v.s_off[l] = net->s_off[l];
    v.bn_off[l] = net->bn_off[l];
  }
  v.n_bn = net->n_buffers / 2;
  size_t np = n_dirs * n_grid;
  float *invstd = malloc((v.n_bn + 1) * sizeof *invstd);
  double *loss = calloc(2 * np, sizeof *loss);
  size_t *right = calloc(2 * np, sizeof *right);
  if (invstd == NULL || loss == NULL || right == NULL) {
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "CUDA probe results for %zu points", np);
  } else {
    /* as valley_mlp_batch's EVAL mode and the CPU probe compute it */
    for (size_t k = 0; k < v.n_bn; k++)
      invstd[k] = (float)(1.0 / sqrt((double)net->running_var[k] + net->cfg.bn_eps));
    v.running_mean = net->running_mean;
    v.invstd = invstd;
    vcu_set_t sets[2] = {{train->x, train->y, train->n}, {test->x, test->y, test->n}};
    char msg[200] = "";
    int rc = vcu_probe(&v, theta, n_dirs, dirs, n_grid, grid, sets, cfg->batch,
                       cfg->split_first != 0, cfg->mem_limit_mb, cfg->chunk_dirs, cfg->device,
                       loss, right, msg, sizeof msg);
    if (rc != 0)
      st = VALLEY_ERROR(err, rc == 2 ? VALLEY_ENOMEM : VALLEY_EIO, "CUDA probe: %s", msg);
    else
      st = valley_probe_fill(n_dirs, n_grid, grid, loss, right, train->n, test->n, out, err);
  }
  free(invstd);
  free(loss);
  free(right);
  return st;
#endif
}

valley_status_t valley_cuda_sgemm_gflops(size_t n, int reps, double *gflops,
                                         valley_error_t *err) {
  *gflops = 0.0;
  if (n < 1 || n > 32768 || reps < 1)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "SGEMM size %zu (want 1..32768), reps %d (want >= 1)",
                        n, reps);
#ifndef VALLEY_HAVE_CUDA
  return VALLEY_ERROR(err, VALLEY_EIO, "%s", no_cuda);
#else
  char msg[200] = "";
  int rc = vcu_sgemm_gflops(n, reps, gflops, msg, sizeof msg);
  if (rc != 0)
    return VALLEY_ERROR(err, rc == 2 ? VALLEY_ENOMEM : VALLEY_EIO, "CUDA SGEMM: %s", msg);
  return VALLEY_OK;
#endif
}
