/* Shared by the network tests (test_net, test_direction, test_checkpoint): allocation that exits
 * on failure, an MLP of given widths and a CNN. */
#ifndef VALLEY_TESTS_NET_FIXTURE_H
#define VALLEY_TESTS_NET_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "valley/net.h"

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

#endif
