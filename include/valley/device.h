/* Where a Monte Carlo runs: on the CPU (OpenMP threads) or on an NVIDIA GPU (CUDA).  The
 * simulators that have a CUDA kernel (the Theorem 2 Monte Carlo, valley/sgd1d.h; the 1-D Langevin
 * and SGD ensembles on mixture landscapes, valley/langevin.h) take a valley_device_t in their
 * configuration; docs/cuda.md says what each kernel repeats bit for bit and what only within a
 * stated tolerance. */
#ifndef VALLEY_DEVICE_H
#define VALLEY_DEVICE_H

#include "valley/error.h"

typedef enum {
  VALLEY_DEVICE_CPU = 0, /* OpenMP threads (the default) */
  VALLEY_DEVICE_CUDA = 1 /* an NVIDIA GPU; EIO when the build has no CUDA or no device is usable */
} valley_device_t;

/* "cpu", "cuda"; EINVAL for another name. */
valley_status_t valley_device_parse(const char *name, valley_device_t *out);
const char *valley_device_name(valley_device_t d);

#endif
