/* Shared by the network tests (test_net, test_direction, test_checkpoint): allocation that exits
 * on failure, and an MLP of given widths. */
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

#endif
