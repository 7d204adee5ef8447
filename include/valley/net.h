/* Networks: a multilayer perceptron, or a small CNN (two 3x3 convolutions with max pooling, then
 * a linear layer; cfg.arch), with optional batch normalization (Ioffe & Szegedy 2015), ReLU and
 * softmax cross-entropy, trained by minibatch SGD with momentum, with stochastic weight
 * averaging (Izmailov et al. 2018).  float32, batch-major, GEMMs through CBLAS (OpenBLAS).
 *
 * All trainable parameters live in one flat float vector described by a table of named
 * segments, so a direction in parameter space is another vector of the same length.  Running
 * BN statistics are buffers of the network, not parameters.  docs/networks.md describes the
 * layout, the initialization, the BN conventions and the determinism guarantees. */
#ifndef VALLEY_NET_H
#define VALLEY_NET_H

#include <stddef.h>
#include <stdint.h>

#include "valley/error.h"
#include "valley/idx.h"

#define VALLEY_MLP_MAX_LAYERS 8 /* linear layers */

/* PCG32 streams: initialization ("init") and the per-epoch shuffles ("shuf" + epoch). */
#define VALLEY_NET_INIT_STREAM UINT64_C(0x696e6974)
#define VALLEY_NET_SHUFFLE_STREAM UINT64_C(0x73687566)

typedef enum {
  VALLEY_NET_WEIGHT = 0,   /* linear weight, shape {out, in}, row-major (PyTorch's layout) */
  VALLEY_NET_BIAS = 1,     /* linear bias {out} (only on layers without BN) */
  VALLEY_NET_BN_SCALE = 2, /* BN gamma {features} */
  VALLEY_NET_BN_SHIFT = 3  /* BN beta {features} */
} valley_net_kind_t;

/* "weight", "bias", "bn-scale", "bn-shift"; "unknown" otherwise. */
const char *valley_net_kind_name(valley_net_kind_t kind);

typedef struct {
  char name[32];          /* "fc1.weight", "fc1.bias", "bn1.scale", "bn1.shift" (1-based);
                             the CNN's "conv1.weight", "conv1.bias", ..., "fc3.weight" */
  size_t layer;           /* linear or convolutional layer, 0-based */
  valley_net_kind_t kind;
  size_t offset, length;  /* params[offset .. offset+length-1] */
  size_t ndims;           /* 2 for linear weights, 4 for conv weights, 1 otherwise */
  size_t shape[4];        /* length == product of shape[0 .. ndims-1]; unused entries 0 */
} valley_net_segment_t;

/* Architectures.  MLP: n_layers linear layers.  CNN (docs/networks.md): n_layers = 3,
 * conv1 (3x3, pad 1, in_channels -> widths[1]) [BN2d] ReLU maxpool2 -> conv2 (widths[1] ->
 * widths[2]) [BN2d] ReLU maxpool2 -> flatten (C, H, W) -> fc3 (-> widths[3] classes);
 * widths[0] = in_channels * height * width, height and width divisible by 4. */
typedef enum { VALLEY_ARCH_MLP = 0, VALLEY_ARCH_CNN = 1 } valley_arch_t;

typedef struct {
  size_t n_layers;                             /* linear layers, 1..VALLEY_MLP_MAX_LAYERS */
  size_t widths[VALLEY_MLP_MAX_LAYERS + 1];    /* widths[0] inputs .. widths[n_layers] classes */
  int batch_norm;                              /* BN after every hidden linear layer */
  double bn_momentum;                          /* running = (1 - m) running + m batch; 0.1 */
  double bn_eps;                               /* 1e-5 */
  valley_arch_t arch;                          /* VALLEY_ARCH_MLP (default) or _CNN */
  size_t in_channels, height, width;           /* CNN input images (C, H, W); 0 for the MLP */
} valley_mlp_config_t;

/* "mlp", "cnn"; "unknown" otherwise. */
const char *valley_arch_name(valley_arch_t arch);

/* n_layers = 0, no BN, momentum 0.1, eps 1e-5, MLP: fill in n_layers and widths. */
void valley_mlp_config_default(valley_mlp_config_t *cfg);

/* Forward modes.  TRAIN normalizes by batch statistics; TRAIN_UPDATE also updates the running
 * statistics by the momentum rule; EVAL normalizes by the running statistics. */
typedef enum {
  VALLEY_NET_EVAL = 0,
  VALLEY_NET_TRAIN = 1,
  VALLEY_NET_TRAIN_UPDATE = 2
} valley_net_mode_t;

/* A network: its configuration, parameter table, BN buffers and a workspace for batches of up
 * to max_batch examples.  Fields are read-only for callers; ws_* are private. */
typedef struct {
  valley_mlp_config_t cfg;
  size_t n_params;
  size_t n_segments;
  valley_net_segment_t *segments;
  size_t max_batch;
  size_t n_buffers;      /* 2 * (sum of hidden widths or channels) with BN, else 0 */
  float *running_mean;   /* per hidden layer l: running_mean + bn_off[l], widths[l+1] values */
  float *running_var;    /* unbiased batch variances enter the running average */
  size_t bn_off[VALLEY_MLP_MAX_LAYERS];
  size_t w_off[VALLEY_MLP_MAX_LAYERS], b_off[VALLEY_MLP_MAX_LAYERS];
  size_t g_off[VALLEY_MLP_MAX_LAYERS], s_off[VALLEY_MLP_MAX_LAYERS];
  /* private workspace */
  float *ws_act[VALLEY_MLP_MAX_LAYERS + 1]; /* activations after ReLU; [n_layers] = logits */
  float *ws_xhat[VALLEY_MLP_MAX_LAYERS];    /* normalized pre-activations (BN) */
  float *ws_invstd[VALLEY_MLP_MAX_LAYERS];  /* 1 / sqrt(var + eps) used in the last forward */
  float *ws_d0, *ws_d1;                     /* backward ping-pong, max_batch * max width */
  double *ws_acc0, *ws_acc1;                /* per-feature sums */
  float *ws_grad;                           /* n_params, for training */
  float *ws_xb;                             /* gathered batch inputs */
  uint8_t *ws_yb;                           /* gathered batch labels */
  void *ws_block;
  struct valley_cnn_ws *ws_cnn;             /* CNN workspace (sim/cnn.c), NULL for the MLP */
} valley_mlp_t;

/* Checks cfg (widths >= 1, 1 <= n_layers <= max, momentum in [0, 1], eps > 0), builds the
 * table and allocates; max_batch >= 1.  EINVAL / ENOMEM; *out is NULL on failure. */
valley_status_t valley_mlp_alloc(const valley_mlp_config_t *cfg, size_t max_batch,
                                 valley_mlp_t **out, valley_error_t *err);
void valley_mlp_free(valley_mlp_t *net);

/* He/Kaiming normal init from PCG32 (seed, VALLEY_NET_INIT_STREAM): every weight of layer l is
 * N(0, 2 / fan_in) (ReLU gain; fan_in = widths[l] for linear layers, in_channels * 9 for a 3x3
 * convolution, c2 * H/4 * W/4 for the CNN's fc3), one Box-Muller cosine variate from two outputs, in
 * segment order, row-major; biases and BN shifts 0, BN scales 1; running mean 0, var 1. */
void valley_mlp_init(valley_mlp_t *net, float *params, uint64_t seed);

/* The logits of the last valley_mlp_batch call: n x classes floats, batch-major (valid until
 * the next call on net). */
const float *valley_mlp_logits(const valley_mlp_t *net);

/* The segment named name ("fc2.weight"), or NULL. */
const valley_net_segment_t *valley_mlp_segment(const valley_mlp_t *net, const char *name);

/* One batch: x is n * widths[0] floats, y n labels < widths[n_layers], 1 <= n <= max_batch.
 * *loss_mean (may be NULL): the mean cross-entropy (double accumulation); *correct (may be NULL):
 * how many argmax (first maximum) equal y.  grad (may be NULL): n_params floats, overwritten
 * with the gradient of the mean cross-entropy (no weight decay) in the given mode (in EVAL, BN
 * is a fixed affine map).  TRAIN_UPDATE changes the running statistics.  EINVAL. */
valley_status_t valley_mlp_batch(valley_mlp_t *net, const float *params, const float *x,
                                 const uint8_t *y, size_t n, valley_net_mode_t mode,
                                 float *grad, double *loss_mean, size_t *correct,
                                 valley_error_t *err);

/* Numerically stable softmax cross-entropy over n rows of c logits: per row
 * lse = m + log sum exp(z - m), m the row's maximum, loss = lse - z_y (double).  Returns the
 * sum of the n losses; dlogits (may be NULL, may alias nothing) gets (softmax - onehot) * scale;
 * *correct (may be NULL) counts argmax == y.  Labels must be < c. */
double valley_softmax_xent(const float *logits, size_t n, size_t c, const uint8_t *y,
                           float scale, float *dlogits, size_t *correct);

/* Weight decay on the weight segments only (not biases, not BN): grad += wd * w when grad is not
 * NULL; returns the penalty 0.5 * wd * sum w^2. */
double valley_mlp_weight_decay(const valley_mlp_t *net, const float *params, double wd,
                               float *grad);

/* Mean loss and accuracy over a data set in EVAL mode, batches of `batch` (<= max_batch). */
valley_status_t valley_mlp_evaluate(valley_mlp_t *net, const float *params,
                                    const valley_dataset_t *ds, size_t batch, double *loss,
                                    double *accuracy, valley_error_t *err);

/* Recomputes the running BN statistics for params (e.g. SWA-averaged weights) by one pass over
 * ds in order, in TRAIN mode, batches of `batch`: each running statistic becomes the
 * batch-size-weighted average of the batch means and unbiased batch variances (the cumulative
 * average of PyTorch's update_bn).  A no-op without BN. */
valley_status_t valley_mlp_recompute_bn(valley_mlp_t *net, const float *params,
                                        const valley_dataset_t *ds, size_t batch,
                                        valley_error_t *err);

/* ---- training ------------------------------------------------------------------------------- */

typedef enum { VALLEY_LR_CONSTANT = 0, VALLEY_LR_STEP = 1 } valley_lr_schedule_t;

typedef struct {
  size_t batch;              /* 1..max_batch; the last batch of an epoch may be smaller */
  double lr;                 /* > 0 */
  double momentum;           /* [0, 1): v = mu v + g, p -= lr v (PyTorch's convention) */
  double weight_decay;       /* >= 0, weights only */
  valley_lr_schedule_t schedule;
  size_t step_every;         /* STEP: lr * gamma^floor(epoch / step_every) */
  double step_gamma;
  uint64_t seed;             /* epoch e shuffles with PCG32(seed, VALLEY_NET_SHUFFLE_STREAM + e) */
} valley_sgd_config_t;

/* batch 128, lr 0.05, momentum 0.9, wd 5e-4, constant, step_every 1, gamma 0.1, seed 1. */
void valley_sgd_config_default(valley_sgd_config_t *cfg);

/* The learning rate of epoch `epoch` (0-based). */
double valley_sgd_lr(const valley_sgd_config_t *cfg, size_t epoch);

/* One epoch of minibatch SGD over a full Fisher-Yates shuffle of ds, in TRAIN_UPDATE mode.
 * velocity: n_params floats (zero them before epoch 0), or NULL when momentum is 0.
 * *mean_loss (may be NULL): the example-weighted mean training cross-entropy over the epoch.
 * EINVAL / ENOMEM. */
valley_status_t valley_mlp_train_epoch(valley_mlp_t *net, float *params, float *velocity,
                                       const valley_dataset_t *ds,
                                       const valley_sgd_config_t *cfg, size_t epoch,
                                       double *mean_loss, valley_error_t *err);

/* SWA running average: avg <- avg + (params - avg) / (count + 1), n floats; count is how many
 * models avg already holds (0 copies params). */
void valley_swa_update(float *avg, const float *params, size_t n, size_t count);

#endif
