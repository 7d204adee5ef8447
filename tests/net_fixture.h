/* Shared by the network tests (test_net, test_direction, test_checkpoint): allocation that exits
 * on failure, an MLP of given widths and a CNN. */
#ifndef VALLEY_TESTS_NET_FIXTURE_H
#define VALLEY_TESTS_NET_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include <string.h>

#include "valley/net.h"
#include "valley/pcg.h"

static inline void *xmalloc(size_t n) {
  void *p = calloc(1, n ? n : 1);
  if (p == NULL) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return p;
}

static inline valley_mlp_t *make_net(size_t n_layers, const size_t *widths, int bn,
                                     size_t max_batch) {
  valley_mlp_config_t cfg;
  valley_mlp_config_default(&cfg);
  cfg.n_layers = n_layers;
  for (size_t l = 0; l <= n_layers; l++) cfg.widths[l] = widths[l];
  cfg.batch_norm = bn;
  valley_mlp_t *net;
  valley_error_t err;
  if (valley_mlp_alloc(&cfg, max_batch, &net, &err) != VALLEY_OK) {
    fprintf(stderr, "make_net: %s\n", err.message);
    exit(2);
  }
  return net;
}

/* The CNN (docs/networks.md) on cin x h x w images: channels c1, c2, `classes` outputs. */
static inline valley_mlp_t *make_cnn(size_t cin, size_t h, size_t w, size_t c1, size_t c2,
                                     size_t classes, int bn, size_t max_batch) {
  valley_mlp_config_t cfg;
  valley_mlp_config_default(&cfg);
  cfg.arch = VALLEY_ARCH_CNN;
  cfg.n_layers = 3;
  cfg.in_channels = cin;
  cfg.height = h;
  cfg.width = w;
  cfg.widths[0] = cin * h * w;
  cfg.widths[1] = c1;
  cfg.widths[2] = c2;
  cfg.widths[3] = classes;
  cfg.batch_norm = bn;
  valley_mlp_t *net;
  valley_error_t err;
  if (valley_mlp_alloc(&cfg, max_batch, &net, &err) != VALLEY_OK) {
    fprintf(stderr, "make_cnn: %s\n", err.message);
    exit(2);
  }
  return net;
}

/* theta: He init, then every entry moved by U(-0.2, 0.2) (so BN scales/shifts and biases are
 * not 1/0), a few entries set to exactly 0 (sign(0) = 0); random running statistics. */
static inline float *make_theta(valley_mlp_t *net, uint64_t seed) {
  float *p = xmalloc(net->n_params * sizeof *p);
  valley_mlp_init(net, p, seed);
  valley_pcg32_t rng;
  valley_pcg32_seed(&rng, seed, 99);
  for (size_t k = 0; k < net->n_params; k++) {
    p[k] += (float)(0.4 * (valley_pcg32_double(&rng) - 0.5));
    if (k % 17 == 3) p[k] = 0.0f;
  }
  for (size_t k = 0; k < net->n_buffers / 2; k++) {
    net->running_mean[k] = (float)(0.5 * (valley_pcg32_double(&rng) - 0.5));
    net->running_var[k] = (float)(0.5 + valley_pcg32_double(&rng));
  }
  return p;
}

/* An empty data set of n rows of dim features (1 x dim images) and `classes` labels, its x and
 * y allocated (zero) for the caller to fill, index[i] = i. */
static inline void alloc_dataset(valley_dataset_t *ds, size_t n, size_t dim, unsigned classes) {
  memset(ds, 0, sizeof *ds);
  ds->n = n;
  ds->dim = dim;
  ds->rows = 1;
  ds->cols = dim;
  ds->n_classes = classes;
  ds->x = xmalloc(n * dim * sizeof *ds->x);
  ds->y = xmalloc(n);
  ds->index = xmalloc(n * sizeof *ds->index);
  for (size_t i = 0; i < n; i++) ds->index[i] = i;
}

#endif
