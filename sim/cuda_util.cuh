/* What valley's CUDA Monte Carlo engines (sim/sgd1d_cuda.cu, sim/langevin_cuda.cu) share: the
 * one-line message, the check of a runtime call, and the choice of the device. */
#ifndef VALLEY_CUDA_UTIL_CUH
#define VALLEY_CUDA_UTIL_CUH

#include <cuda_runtime.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

static inline void vcu_say(char *msg, size_t len, const char *fmt, ...) {
  if (msg == NULL || len == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, len, fmt, ap);
  va_end(ap);
}

/* Returns from the calling engine with 2 (out of device memory) or 5 (another failure) and the
 * call and the runtime's message in msg / msg_len, when `call` fails. */
#define VCU_CHECK(call)                                                                   \
  do {                                                                                    \
    cudaError_t e_ = (call);                                                              \
    if (e_ != cudaSuccess) {                                                              \
      vcu_say(msg, msg_len, "%s: %s", #call, cudaGetErrorString(e_));                     \
      (void)cudaGetLastError();                                                           \
      return e_ == cudaErrorMemoryAllocation ? 2 : 5;                                     \
    }                                                                                     \
  } while (0)

/* Makes `device` current: 0, or 5 with why in msg (no driver, no device, no such device). */
static inline int vcu_use_device(int device, char *msg, size_t msg_len) {
  int ndev = 0;
  cudaError_t e = cudaGetDeviceCount(&ndev);
  if (e != cudaSuccess || ndev < 1) {
    vcu_say(msg, msg_len, "%s",
            e == cudaErrorNoDevice || (e == cudaSuccess && ndev < 1) ? "no CUDA device"
            : e == cudaErrorInsufficientDriver
                ? "no CUDA driver (or one older than this build's runtime)"
                : cudaGetErrorString(e));
    (void)cudaGetLastError();
    return 5;
  }
  if (device < 0 || device >= ndev) {
    vcu_say(msg, msg_len, "CUDA device %d does not exist (%d present)", device, ndev);
    return 5;
  }
  VCU_CHECK(cudaSetDevice(device));
  return 0;
}

#endif
