/* Internal to sim/net.c, sim/cnn.c and sim/direction.c: the small convolutional network
 * (VALLEY_ARCH_CNN, docs/networks.md).  Not installed. */
#ifndef VALLEY_CNN_INTERNAL_H
#define VALLEY_CNN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "valley/error.h"
#include "valley/net.h"

/* Checks the CNN-specific parts of net->cfg (n_layers 3, image fields, widths[0]), fills the
 * segment table (net->segments has room for 8 entries), the offsets, n_params and n_buffers,
 * and allocates net->ws_cnn for net->max_batch examples (net->ws_act[3] = its logits).
 * EINVAL / ENOMEM; on failure net->ws_cnn stays NULL. */
valley_status_t valley_cnn_setup(valley_mlp_t *net, valley_error_t *err);
void valley_cnn_free(struct valley_cnn_ws *ws);

/* valley_mlp_batch for the CNN, arguments already checked (VALLEY_OK). */
valley_status_t valley_cnn_batch(valley_mlp_t *net, const float *params, const float *x,
                                 const uint8_t *y, size_t n, valley_net_mode_t mode, float *grad,
                                 double *loss_mean, size_t *correct, valley_error_t *err);

/* Reentrant EVAL forward for callers with their own workspace (the probe): floats needed for a
 * batch of n; invstd (n_buffers / 2 floats) as valley_cnn_eval_invstd computes it from the
 * running variances; logits n x classes.  Same floats as valley_mlp_batch in EVAL mode, run by
 * one thread. */
size_t valley_cnn_eval_ws_floats(const valley_mlp_t *net, size_t n);
void valley_cnn_eval_invstd(const valley_mlp_t *net, float *invstd);
void valley_cnn_eval_forward(const valley_mlp_t *net, const float *params, const float *invstd,
                             const float *x, size_t n, float *ws, float *logits);

#endif
