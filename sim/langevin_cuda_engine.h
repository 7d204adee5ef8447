/* The C interface between the 1-D ensembles' runner (sim/langevin.c) and the CUDA kernel of the
 * mixture landscapes (sim/langevin_cuda.cu): plain types only.  The kernel repeats the vectorised
 * CPU kernel (sim/langevin_vec.c) particle by particle, with the same functions written out in
 * the same IEEE operations. */
#ifndef VALLEY_LANGEVIN_CUDA_ENGINE_H
#define VALLEY_LANGEVIN_CUDA_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VCU_LV_MAXK 16

typedef struct {
  /* the landscape, as mixture_t (sim/langevin_internal.h) */
  int K;
  double m[VCU_LV_MAXK], a[VCU_LV_MAXK], b[VCU_LV_MAXK], b2[VCU_LV_MAXK];
  double c, L, umin, ws;
  int dm;    /* 0 constant D, 1 loss, 2 grad, 3 exp (dmodel_t) */
  int noise; /* 0 Gaussian, 1 uniform, 2 two-point (valley_lnoise_t) */
  /* the run */
  double lo, hi, scale, hT, amp0, hL; /* amp0 = sqrt(hT), hL = h L, as the CPU kernel forms them */
  size_t n, bins;
  uint64_t steps, burn, rec;
  int device;
  size_t segments;
  int (*progress)(double fraction, void *arg);
  void *progress_arg;
} vcu_lv_t;

/* Advances the n particles from their state (st, inc: PCG32; th: positions; zc: the cached
 * second normal of a pair) over p->steps steps, updating st, th, zc in place, adding the
 * recorded positions to path[bins], and marking blow-ups in dead[] / dead_from[] (step + 1 and
 * the last finite position, as the CPU kernel).  After each segment, when some particle has
 * blown up, it stops and returns 7 (the caller names the particle).  Return codes: 0 success,
 * 2 out of device memory, 5 a CUDA failure or no device, 6 cancelled by progress, 7 blow-up;
 * msg gets one line. */
int vcu_lv_run(const vcu_lv_t *p, uint64_t *st, const uint64_t *inc, double *th, double *zc,
               uint64_t *dead, double *dead_from, uint64_t *path, char *msg, size_t msg_len);

#ifdef __cplusplus
}
#endif

#endif
