/* Shared by the CPU probe (sim/direction.c) and the CUDA probe (sim/probe_cuda.c): argument
 * checks and the assembly of the per-direction profiles from summed losses and counts. */
#ifndef VALLEY_PROBE_INTERNAL_H
#define VALLEY_PROBE_INTERNAL_H

#include <stddef.h>

#include "valley/direction.h"

/* The checks valley_probe documents: n_dirs, n_grid >= 1; batch in 1..2^20; the grid finite and
 * strictly increasing; both sets non-empty, of the network's input width, labels below the
 * class count.  Every out[d] is zeroed first.  EINVAL. */
valley_status_t valley_probe_check_args(const valley_mlp_t *net, size_t n_dirs, size_t n_grid,
                                        const double *grid, size_t batch,
                                        const valley_dataset_t *train,
                                        const valley_dataset_t *test, valley_prof_t *out,
                                        valley_error_t *err);

/* out[d] (l, train, test, train_acc, test_acc) from loss[k], right[k] (train, k = d n_grid + g)
 * and loss[np + k], right[np + k] (test), np = n_dirs n_grid: summed cross-entropies and counts
 * over n_train and n_test rows.  ENOMEM leaves every out[d] empty. */
valley_status_t valley_probe_fill(size_t n_dirs, size_t n_grid, const double *grid,
                                  const double *loss, const size_t *right, size_t n_train,
                                  size_t n_test, valley_prof_t *out, valley_error_t *err);

#endif
