/* The networks the checkpoint harnesses load into (tests/fuzz/make_corpus.c writes their seed
 * files): 0, a 4-5-3 MLP with BN (the architecture of tests/data/mlp_fixture.safetensors);
 * 1, a 4-3 MLP without BN; 2, a CNN on 1 x 4 x 4 images, 2 and 2 channels, 3 classes, with BN. */
#ifndef VALLEY_FUZZ_NET_H
#define VALLEY_FUZZ_NET_H

#include <stdlib.h>

#include "valley/net.h"

static inline valley_mlp_t *fuzz_net(int which) {
  valley_mlp_config_t cfg;
  valley_mlp_config_default(&cfg);
  if (which == 0) {
    cfg.n_layers = 2;
    cfg.widths[0] = 4;
    cfg.widths[1] = 5;
    cfg.widths[2] = 3;
    cfg.batch_norm = 1;
  } else if (which == 1) {
    cfg.n_layers = 1;
    cfg.widths[0] = 4;
    cfg.widths[1] = 3;
  } else {
    cfg.arch = VALLEY_ARCH_CNN;
    cfg.n_layers = 3;
    cfg.in_channels = 1;
    cfg.height = 4;
    cfg.width = 4;
    cfg.widths[0] = 16;
    cfg.widths[1] = 2;
    cfg.widths[2] = 2;
    cfg.widths[3] = 3;
    cfg.batch_norm = 1;
  }
  valley_mlp_t *net;
  valley_error_t err;
  if (valley_mlp_alloc(&cfg, 1, &net, &err) != VALLEY_OK) abort();
  return net;
}

#endif
