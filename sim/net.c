/* Networks: MLP with optional batch normalization (Ioffe & Szegedy 2015), ReLU, softmax
 * cross-entropy, minibatch SGD with momentum, SWA (Izmailov et al. 2018).  float32, batch-major,
 * row-major GEMMs through CBLAS.  docs/networks.md describes the conventions. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "cnn_internal.h"
#include "valley/net.h"
#include "valley/pcg.h"

static const char *const kind_names[] = {"weight", "bias", "bn-scale", "bn-shift"};

const char *valley_net_kind_name(valley_net_kind_t kind) {
  return valley_name_of((int)kind, kind_names, VALLEY_NAMES_N(kind_names));
}

static const char *const arch_names[] = {"mlp", "cnn"};

const char *valley_arch_name(valley_arch_t arch) {
  return valley_name_of((int)arch, arch_names, VALLEY_NAMES_N(arch_names));
}

void valley_mlp_config_default(valley_mlp_config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->bn_momentum = 0.1;
  cfg->bn_eps = 1e-5;
}

void valley_sgd_config_default(valley_sgd_config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->batch = 128;
  cfg->lr = 0.05;
  cfg->momentum = 0.9;
  cfg->weight_decay = 5e-4;
  cfg->schedule = VALLEY_LR_CONSTANT;
  cfg->step_every = 1;
  cfg->step_gamma = 0.1;
  cfg->seed = 1;
}

static int has_bn(const valley_mlp_t *net, size_t l) {
  return net->cfg.batch_norm && l + 1 < net->cfg.n_layers;
}

static void add_segment(valley_mlp_t *net, size_t layer, valley_net_kind_t kind, size_t rows,
                        size_t cols, size_t *off) {
  valley_net_segment_t *s = &net->segments[net->n_segments++];
  const char *prefix = (kind == VALLEY_NET_BN_SCALE || kind == VALLEY_NET_BN_SHIFT) ? "bn" : "fc";
  const char *suffix = kind == VALLEY_NET_WEIGHT  ? "weight"
                       : kind == VALLEY_NET_BIAS  ? "bias"
                       : kind == VALLEY_NET_BN_SCALE ? "scale"
                                                      : "shift";
  snprintf(s->name, sizeof s->name, "%s%zu.%s", prefix, layer + 1, suffix);
  s->layer = layer;
  s->kind = kind;
  s->offset = *off;
  s->ndims = cols == 0 ? 1 : 2;
  s->shape[0] = rows;
  s->shape[1] = cols;
  s->length = rows * (cols == 0 ? 1 : cols);
  *off += s->length;
}

/* The CNN: sim/cnn.c builds the table and its workspace; here the shared part (running
 * statistics, gradient, gathered batch). */
static valley_status_t alloc_cnn(const valley_mlp_config_t *cfg, size_t max_batch,
                                 valley_mlp_t **out, valley_error_t *err) {
  valley_mlp_t *net = calloc(1, sizeof *net);
  if (net == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "network struct");
  net->cfg = *cfg;
  net->max_batch = max_batch;
  net->segments = calloc(8, sizeof *net->segments);
  if (net->segments == NULL) {
    free(net);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "segment table");
  }
  valley_status_t st = valley_cnn_setup(net, err);
  if (st != VALLEY_OK) {
    free(net->segments);
    free(net);
    return st;
  }
  size_t nbuf = net->n_buffers / 2;
  size_t bytes = (2 * nbuf + net->n_params + max_batch * cfg->widths[0]) * sizeof(float) +
                 max_batch;
  net->ws_block = malloc(bytes);
  if (net->ws_block == NULL) {
    valley_mlp_free(net);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "network workspace of %zu bytes", bytes);
  }
  float *f = net->ws_block;
  net->running_mean = f;
  net->running_var = f + nbuf;
  net->ws_grad = f + 2 * nbuf;
  net->ws_xb = net->ws_grad + net->n_params;
  net->ws_yb = (uint8_t *)(net->ws_xb + max_batch * cfg->widths[0]);
  for (size_t i = 0; i < nbuf; i++) {
    net->running_mean[i] = 0.0f;
    net->running_var[i] = 1.0f;
  }
  *out = net;
  return VALLEY_OK;
}

valley_status_t valley_mlp_alloc(const valley_mlp_config_t *cfg, size_t max_batch,
                                 valley_mlp_t **out, valley_error_t *err) {
  *out = NULL;
  if (cfg->n_layers < 1 || cfg->n_layers > VALLEY_MLP_MAX_LAYERS)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "n_layers = %zu is outside 1..%d", cfg->n_layers,
                        VALLEY_MLP_MAX_LAYERS);
  for (size_t l = 0; l <= cfg->n_layers; l++)
    if (cfg->widths[l] < 1 || cfg->widths[l] > (size_t)1 << 24)
      return VALLEY_ERROR(err, VALLEY_EINVAL, "widths[%zu] = %zu is outside 1..2^24", l,
                          cfg->widths[l]);
  if (cfg->widths[cfg->n_layers] > 256)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%zu classes: labels are uint8 (at most 256)",
                        cfg->widths[cfg->n_layers]);
  if (!(cfg->bn_momentum >= 0.0 && cfg->bn_momentum <= 1.0) || !(cfg->bn_eps > 0.0))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "BN momentum %g (want [0, 1]) or eps %g (want > 0)",
                        cfg->bn_momentum, cfg->bn_eps);
  if (max_batch < 1 || max_batch > (size_t)1 << 20)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "max_batch = %zu is outside 1..2^20", max_batch);
  if (cfg->arch != VALLEY_ARCH_MLP && cfg->arch != VALLEY_ARCH_CNN)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "unknown architecture %d", (int)cfg->arch);
  if (cfg->arch == VALLEY_ARCH_CNN) return alloc_cnn(cfg, max_batch, out, err);

  valley_mlp_t *net = calloc(1, sizeof *net);
  if (net == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "network struct");
  net->cfg = *cfg;
  net->max_batch = max_batch;
  size_t L = cfg->n_layers;
  net->segments = calloc(3 * L, sizeof *net->segments);
  if (net->segments == NULL) {
    free(net);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "segment table");
  }
  size_t off = 0, nbuf = 0, wmax = 0, nact = 0, nxhat = 0, ninv = 0;
  for (size_t l = 0; l < L; l++) {
    size_t din = cfg->widths[l], dout = cfg->widths[l + 1];
    net->w_off[l] = off;
    add_segment(net, l, VALLEY_NET_WEIGHT, dout, din, &off);
    if (has_bn(net, l)) {
      net->g_off[l] = off;
      add_segment(net, l, VALLEY_NET_BN_SCALE, dout, 0, &off);
      net->s_off[l] = off;
      add_segment(net, l, VALLEY_NET_BN_SHIFT, dout, 0, &off);
      net->bn_off[l] = nbuf;
      nbuf += dout;
      nxhat += max_batch * dout;
      ninv += dout;
    } else {
      net->b_off[l] = off;
      add_segment(net, l, VALLEY_NET_BIAS, dout, 0, &off);
    }
    nact += max_batch * dout;
    if (din > wmax) wmax = din;
    if (dout > wmax) wmax = dout;
  }
  net->n_params = off;
  net->n_buffers = 2 * nbuf;

  /* One block: floats first, then doubles (aligned by rounding the float count), then bytes. */
  size_t nf = 2 * nbuf + nact + nxhat + ninv + 2 * max_batch * wmax + off +
              max_batch * cfg->widths[0];
  nf += nf & 1u;
  size_t nd = 2 * wmax;
  size_t bytes = nf * sizeof(float) + nd * sizeof(double) + max_batch;
  net->ws_block = malloc(bytes);
  if (net->ws_block == NULL) {
    free(net->segments);
    free(net);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "network workspace of %zu bytes", bytes);
  }
  float *f = net->ws_block;
  net->running_mean = f;
  f += nbuf;
  net->running_var = f;
  f += nbuf;
  for (size_t l = 0; l < L; l++) {
    net->ws_act[l + 1] = f;
    f += max_batch * cfg->widths[l + 1];
    if (has_bn(net, l)) {
      net->ws_xhat[l] = f;
      f += max_batch * cfg->widths[l + 1];
      net->ws_invstd[l] = f;
      f += cfg->widths[l + 1];
    }
  }
  net->ws_d0 = f;
  f += max_batch * wmax;
  net->ws_d1 = f;
  f += max_batch * wmax;
  net->ws_grad = f;
  f += off;
  net->ws_xb = f;
  double *d = (double *)((float *)net->ws_block + nf);
  net->ws_acc0 = d;
  net->ws_acc1 = d + wmax;
  net->ws_yb = (uint8_t *)(d + nd);
  for (size_t i = 0; i < nbuf; i++) {
    net->running_mean[i] = 0.0f;
    net->running_var[i] = 1.0f;
  }
  *out = net;
  return VALLEY_OK;
}

void valley_mlp_free(valley_mlp_t *net) {
  if (net == NULL) return;
  valley_cnn_free(net->ws_cnn);
  free(net->ws_block);
  free(net->segments);
  free(net);
}

const float *valley_mlp_logits(const valley_mlp_t *net) { return net->ws_act[net->cfg.n_layers]; }

const valley_net_segment_t *valley_mlp_segment(const valley_mlp_t *net, const char *name) {
  for (size_t i = 0; i < net->n_segments; i++)
    if (strcmp(net->segments[i].name, name) == 0) return &net->segments[i];
  return NULL;
}

/* One standard normal from two PCG32 outputs (Box-Muller, cosine branch). */
static double normal01(valley_pcg32_t *rng) {
  double u1 = valley_pcg32_open01(rng), u2 = valley_pcg32_open01(rng);
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void valley_mlp_init(valley_mlp_t *net, float *params, uint64_t seed) {
  valley_pcg32_t rng;
  valley_pcg32_seed(&rng, seed, VALLEY_NET_INIT_STREAM);
  for (size_t s = 0; s < net->n_segments; s++) {
    const valley_net_segment_t *seg = &net->segments[s];
    float *p = params + seg->offset;
    if (seg->kind == VALLEY_NET_WEIGHT) {
      /* fan-in: one output's inputs (widths[l] for a linear layer, cin 9 for a 3x3 conv) */
      double sd = sqrt(2.0 / (double)(seg->length / seg->shape[0]));
      for (size_t i = 0; i < seg->length; i++) p[i] = (float)(sd * normal01(&rng));
    } else {
      float v = seg->kind == VALLEY_NET_BN_SCALE ? 1.0f : 0.0f;
      for (size_t i = 0; i < seg->length; i++) p[i] = v;
    }
  }
  for (size_t i = 0; i < net->n_buffers / 2; i++) {
    net->running_mean[i] = 0.0f;
    net->running_var[i] = 1.0f;
  }
}

/* ---- softmax cross-entropy ------------------------------------------------------------------ */

double valley_softmax_xent(const float *logits, size_t n, size_t c, const uint8_t *y,
                           float scale, float *dlogits, size_t *correct) {
  double total = 0.0;
  size_t right = 0;
  for (size_t i = 0; i < n; i++) {
    const float *z = logits + i * c;
    size_t arg = 0;
    for (size_t k = 1; k < c; k++)
      if (z[k] > z[arg]) arg = k;
    double m = (double)z[arg], s = 0.0;
    for (size_t k = 0; k < c; k++) s += exp((double)z[k] - m);
    double lse = m + log(s);
    total += lse - (double)z[y[i]];
    if (arg == y[i]) right++;
    if (dlogits != NULL) {
      for (size_t k = 0; k < c; k++) {
        double p = exp((double)z[k] - lse);
        dlogits[i * c + k] = (float)((p - (k == y[i] ? 1.0 : 0.0)) * (double)scale);
      }
    }
  }
  if (correct != NULL) *correct = right;
  return total;
}

/* ---- forward and backward ------------------------------------------------------------------- */

/* Batch statistics of column j of z (n x d), double accumulation in row order. */
static void bn_forward(valley_mlp_t *net, size_t l, const float *params, size_t n,
                       valley_net_mode_t mode) {
  size_t d = net->cfg.widths[l + 1];
  float *z = net->ws_xhat[l], *a = net->ws_act[l + 1], *invstd = net->ws_invstd[l];
  const float *gamma = params + net->g_off[l], *beta = params + net->s_off[l];
  float *rm = net->running_mean + net->bn_off[l], *rv = net->running_var + net->bn_off[l];
  double eps = net->cfg.bn_eps, mom = net->cfg.bn_momentum;
  double *mean = net->ws_acc0, *var = net->ws_acc1;
  if (mode == VALLEY_NET_EVAL) {
    for (size_t j = 0; j < d; j++) {
      mean[j] = rm[j];
      invstd[j] = (float)(1.0 / sqrt((double)rv[j] + eps));
    }
  } else {
    for (size_t j = 0; j < d; j++) mean[j] = var[j] = 0.0;
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < d; j++) mean[j] += z[i * d + j];
    for (size_t j = 0; j < d; j++) mean[j] /= (double)n;
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < d; j++) {
        double e = z[i * d + j] - mean[j];
        var[j] += e * e;
      }
    for (size_t j = 0; j < d; j++) {
      double v = var[j] / (double)n;
      invstd[j] = (float)(1.0 / sqrt(v + eps));
      if (mode == VALLEY_NET_TRAIN_UPDATE) {
        double vu = n > 1 ? var[j] / (double)(n - 1) : v;
        rm[j] = (float)((1.0 - mom) * rm[j] + mom * mean[j]);
        rv[j] = (float)((1.0 - mom) * rv[j] + mom * vu);
      }
    }
  }
#ifdef VALLEY_HAVE_OPENMP
#pragma omp parallel for schedule(static) default(none) \
    firstprivate(n, d, z, a, invstd, gamma, beta, mean) if (n * d >= 65536)
#endif
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < d; j++) {
      float xh = (z[i * d + j] - (float)mean[j]) * invstd[j];
      z[i * d + j] = xh;
      float yv = gamma[j] * xh + beta[j];
      a[i * d + j] = yv > 0.0f ? yv : 0.0f;
    }
}

static void relu_bias(float *a, const float *b, size_t n, size_t d, int relu) {
#ifdef VALLEY_HAVE_OPENMP
#pragma omp parallel for schedule(static) default(none) firstprivate(n, d, a, b, relu) \
    if (n * d >= 65536)
#endif
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < d; j++) {
      float v = a[i * d + j] + b[j];
      a[i * d + j] = relu && v < 0.0f ? 0.0f : v;
    }
}

static void forward(valley_mlp_t *net, const float *params, const float *x, size_t n,
                    valley_net_mode_t mode) {
  size_t L = net->cfg.n_layers;
  const float *in = x;
  for (size_t l = 0; l < L; l++) {
    size_t din = net->cfg.widths[l], dout = net->cfg.widths[l + 1];
    const float *W = params + net->w_off[l];
    float *z = has_bn(net, l) ? net->ws_xhat[l] : net->ws_act[l + 1];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)dout, (int)din, 1.0f, in,
                (int)din, W, (int)din, 0.0f, z, (int)dout);
    if (has_bn(net, l))
      bn_forward(net, l, params, n, mode);
    else
      relu_bias(z, params + net->b_off[l], n, dout, l + 1 < L);
    in = net->ws_act[l + 1];
  }
}

/* dy (n x d): on entry the gradient w.r.t. the ReLU output; on exit w.r.t. the linear output. */
static void bn_relu_backward(valley_mlp_t *net, size_t l, const float *params, size_t n,
                             valley_net_mode_t mode, float *dy, float *grad) {
  size_t d = net->cfg.widths[l + 1];
  const float *a = net->ws_act[l + 1];
  for (size_t k = 0; k < n * d; k++)
    if (!(a[k] > 0.0f)) dy[k] = 0.0f;
  if (!has_bn(net, l)) return;
  const float *xh = net->ws_xhat[l], *invstd = net->ws_invstd[l];
  const float *gamma = params + net->g_off[l];
  double *sdy = net->ws_acc0, *sdyx = net->ws_acc1;
  for (size_t j = 0; j < d; j++) sdy[j] = sdyx[j] = 0.0;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < d; j++) {
      sdy[j] += dy[i * d + j];
      sdyx[j] += (double)dy[i * d + j] * xh[i * d + j];
    }
  if (grad != NULL)
    for (size_t j = 0; j < d; j++) {
      grad[net->g_off[l] + j] = (float)sdyx[j];
      grad[net->s_off[l] + j] = (float)sdy[j];
    }
  if (mode == VALLEY_NET_EVAL) {
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < d; j++) dy[i * d + j] *= gamma[j] * invstd[j];
    return;
  }
  /* dz = gamma invstd (dy - mean(dy) - xhat mean(dy xhat)) */
  for (size_t j = 0; j < d; j++) {
    sdy[j] /= (double)n;
    sdyx[j] /= (double)n;
  }
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < d; j++) {
      double v = (double)dy[i * d + j] - sdy[j] - (double)xh[i * d + j] * sdyx[j];
      dy[i * d + j] = (float)(v * (double)gamma[j] * (double)invstd[j]);
    }
}

static void backward(valley_mlp_t *net, const float *params, const float *x, size_t n,
                     valley_net_mode_t mode, float *dz, float *grad) {
  size_t L = net->cfg.n_layers;
  float *other = dz == net->ws_d0 ? net->ws_d1 : net->ws_d0;
  for (size_t l = L; l-- > 0;) {
    size_t din = net->cfg.widths[l], dout = net->cfg.widths[l + 1];
    const float *in = l == 0 ? x : net->ws_act[l];
    if (l + 1 < L) bn_relu_backward(net, l, params, n, mode, dz, grad);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)dout, (int)din, (int)n, 1.0f, dz,
                (int)dout, in, (int)din, 0.0f, grad + net->w_off[l], (int)din);
    if (!has_bn(net, l)) {
      float *gb = grad + net->b_off[l];
      double *acc = net->ws_acc0;
      for (size_t j = 0; j < dout; j++) acc[j] = 0.0;
      for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < dout; j++) acc[j] += dz[i * dout + j];
      for (size_t j = 0; j < dout; j++) gb[j] = (float)acc[j];
    }
    if (l == 0) break;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)din, (int)dout, 1.0f, dz,
                (int)dout, params + net->w_off[l], (int)din, 0.0f, other, (int)din);
    float *t = dz;
    dz = other;
    other = t;
  }
}

valley_status_t valley_mlp_batch(valley_mlp_t *net, const float *params, const float *x,
                                 const uint8_t *y, size_t n, valley_net_mode_t mode,
                                 float *grad, double *loss_mean, size_t *correct,
                                 valley_error_t *err) {
  size_t L = net->cfg.n_layers, c = net->cfg.widths[L];
  if (n < 1 || n > net->max_batch)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "batch of %zu examples (max_batch %zu)", n,
                        net->max_batch);
  if (mode != VALLEY_NET_EVAL && mode != VALLEY_NET_TRAIN && mode != VALLEY_NET_TRAIN_UPDATE)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "unknown mode %d", (int)mode);
  for (size_t i = 0; i < n; i++)
    if (y[i] >= c)
      return VALLEY_ERROR(err, VALLEY_EINVAL, "label %u of example %zu is not below %zu classes",
                          (unsigned)y[i], i, c);
  if (net->cfg.arch == VALLEY_ARCH_CNN)
    return valley_cnn_batch(net, params, x, y, n, mode, grad, loss_mean, correct, err);
  forward(net, params, x, n, mode);
  float *dz = net->ws_d0;
  double total = valley_softmax_xent(net->ws_act[L], n, c, y, 1.0f / (float)n,
                                     grad != NULL ? dz : NULL, correct);
  if (loss_mean != NULL) *loss_mean = total / (double)n;
  if (grad != NULL) backward(net, params, x, n, mode, dz, grad);
  return VALLEY_OK;
}

double valley_mlp_weight_decay(const valley_mlp_t *net, const float *params, double wd,
                               float *grad) {
  double pen = 0.0;
  for (size_t s = 0; s < net->n_segments; s++) {
    const valley_net_segment_t *seg = &net->segments[s];
    if (seg->kind != VALLEY_NET_WEIGHT) continue;
    const float *w = params + seg->offset;
    for (size_t i = 0; i < seg->length; i++) {
      pen += (double)w[i] * w[i];
      if (grad != NULL) grad[seg->offset + i] += (float)wd * w[i];
    }
  }
  return 0.5 * wd * pen;
}

/* ---- data-set passes ------------------------------------------------------------------------ */

static valley_status_t check_ds(const valley_mlp_t *net, const valley_dataset_t *ds, size_t batch,
                                valley_error_t *err) {
  if (ds->dim != net->cfg.widths[0])
    return VALLEY_ERROR(err, VALLEY_EINVAL, "data set has %zu features, the network %zu inputs",
                        ds->dim, net->cfg.widths[0]);
  if (ds->n < 1) return VALLEY_ERROR(err, VALLEY_EINVAL, "empty data set");
  if (batch < 1 || batch > net->max_batch)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "batch %zu is outside 1..max_batch = %zu", batch,
                        net->max_batch);
  return VALLEY_OK;
}

valley_status_t valley_mlp_evaluate(valley_mlp_t *net, const float *params,
                                    const valley_dataset_t *ds, size_t batch, double *loss,
                                    double *accuracy, valley_error_t *err) {
  valley_status_t st = check_ds(net, ds, batch, err);
  if (st != VALLEY_OK) return st;
  double total = 0.0;
  size_t right = 0;
  for (size_t i0 = 0; i0 < ds->n; i0 += batch) {
    size_t m = ds->n - i0 < batch ? ds->n - i0 : batch, ok = 0;
    double lm = 0.0;
    st = valley_mlp_batch(net, params, ds->x + i0 * ds->dim, ds->y + i0, m, VALLEY_NET_EVAL, NULL,
                          &lm, &ok, err);
    if (st != VALLEY_OK) return st;
    if (!isfinite(lm)) /* inf logits: a NaN or infinite loss is an error, never a result */
      return VALLEY_ERROR(err, VALLEY_ENUMERIC,
                          "the loss is %s on examples %zu..%zu of %zu: the weights or the "
                          "activations overflow a float; numerical failure, no loss",
                          isnan(lm) ? "NaN" : "infinite", i0 + 1, i0 + m, ds->n);
    total += lm * (double)m;
    right += ok;
  }
  if (loss != NULL) *loss = total / (double)ds->n;
  if (accuracy != NULL) *accuracy = (double)right / (double)ds->n;
  return VALLEY_OK;
}

valley_status_t valley_mlp_recompute_bn(valley_mlp_t *net, const float *params,
                                        const valley_dataset_t *ds, size_t batch,
                                        valley_error_t *err) {
  if (!net->cfg.batch_norm || net->cfg.n_layers < 2) return VALLEY_OK;
  valley_status_t st = check_ds(net, ds, batch, err);
  if (st != VALLEY_OK) return st;
  size_t nb = net->n_buffers / 2;
  /* Momentum 1 makes each TRAIN_UPDATE pass leave exactly the batch statistics in the running
   * buffers; their batch-size-weighted sum accumulates in double. */
  double mom = net->cfg.bn_momentum;
  net->cfg.bn_momentum = 1.0;
  double *acc = calloc(2 * nb, sizeof *acc);
  if (acc == NULL) {
    net->cfg.bn_momentum = mom;
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "BN accumulators");
  }
  for (size_t i0 = 0; i0 < ds->n; i0 += batch) {
    size_t m = ds->n - i0 < batch ? ds->n - i0 : batch;
    st = valley_mlp_batch(net, params, ds->x + i0 * ds->dim, ds->y + i0, m,
                          VALLEY_NET_TRAIN_UPDATE, NULL, NULL, NULL, err);
    if (st != VALLEY_OK) break;
    for (size_t k = 0; k < nb; k++) {
      acc[k] += (double)m * net->running_mean[k];
      acc[nb + k] += (double)m * net->running_var[k];
    }
  }
  net->cfg.bn_momentum = mom;
  if (st == VALLEY_OK)
    for (size_t k = 0; k < nb; k++) {
      net->running_mean[k] = (float)(acc[k] / (double)ds->n);
      net->running_var[k] = (float)(acc[nb + k] / (double)ds->n);
    }
  free(acc);
  return st;
}

/* ---- training ------------------------------------------------------------------------------- */

double valley_sgd_lr(const valley_sgd_config_t *cfg, size_t epoch) {
  if (cfg->schedule == VALLEY_LR_STEP && cfg->step_every > 0)
    return cfg->lr * pow(cfg->step_gamma, (double)(epoch / cfg->step_every));
  return cfg->lr;
}

valley_status_t valley_mlp_train_epoch(valley_mlp_t *net, float *params, float *velocity,
                                       const valley_dataset_t *ds,
                                       const valley_sgd_config_t *cfg, size_t epoch,
                                       double *mean_loss, valley_error_t *err) {
  valley_status_t st = check_ds(net, ds, cfg->batch, err);
  if (st != VALLEY_OK) return st;
  if (!(cfg->lr > 0.0 && cfg->lr <= FLT_MAX) || !(cfg->momentum >= 0.0 && cfg->momentum < 1.0) ||
      !(cfg->weight_decay >= 0.0 && cfg->weight_decay <= FLT_MAX))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "lr %g (want > 0, a float), momentum %g (want [0, 1)), "
                        "weight decay %g (want >= 0, a float)", cfg->lr, cfg->momentum,
                        cfg->weight_decay);
  if (cfg->momentum > 0.0 && velocity == NULL)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "momentum %g needs a velocity vector", cfg->momentum);
  if (ds->n > UINT32_MAX)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%zu examples: at most 2^32 - 1", ds->n);
  size_t n = ds->n, dim = ds->dim;
  size_t *perm = malloc(n * sizeof *perm);
  if (perm == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "permutation of %zu", n);
  valley_pcg32_t rng;
  valley_pcg32_seed(&rng, cfg->seed, VALLEY_NET_SHUFFLE_STREAM + (uint64_t)epoch);
  for (size_t i = 0; i < n; i++) perm[i] = i;
  for (size_t i = 0; i + 1 < n; i++) {
    size_t j = i + valley_pcg32_bounded(&rng, (uint32_t)(n - i));
    size_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  float lr = (float)valley_sgd_lr(cfg, epoch), mu = (float)cfg->momentum;
  float *g = net->ws_grad;
  double total = 0.0;
  for (size_t i0 = 0; i0 < n; i0 += cfg->batch) {
    size_t m = n - i0 < cfg->batch ? n - i0 : cfg->batch;
    for (size_t i = 0; i < m; i++) {
      memcpy(net->ws_xb + i * dim, ds->x + perm[i0 + i] * dim, dim * sizeof(float));
      net->ws_yb[i] = ds->y[perm[i0 + i]];
    }
    double lm = 0.0;
    st = valley_mlp_batch(net, params, net->ws_xb, net->ws_yb, m, VALLEY_NET_TRAIN_UPDATE, g, &lm,
                          NULL, err);
    if (st != VALLEY_OK) break;
    if (!isfinite(lm)) { /* divergence: a NaN or infinite loss is reported, never averaged */
      st = VALLEY_ERROR(err, VALLEY_ENUMERIC,
                        "training diverged: the minibatch loss is %s in epoch %zu (examples %zu.."
                        "%zu of %zu; lr %g): the learning rate is too large or the weights "
                        "overflowed; numerical failure, no model",
                        isnan(lm) ? "NaN" : "infinite", epoch + 1, i0 + 1, i0 + m, n, (double)lr);
      break;
    }
    total += lm * (double)m;
    if (cfg->weight_decay > 0.0) valley_mlp_weight_decay(net, params, cfg->weight_decay, g);
    size_t np = net->n_params;
    if (mu > 0.0f) {
      for (size_t k = 0; k < np; k++) {
        velocity[k] = mu * velocity[k] + g[k];
        params[k] -= lr * velocity[k];
      }
    } else {
      for (size_t k = 0; k < np; k++) params[k] -= lr * g[k];
    }
  }
  free(perm);
  /* the last update may overflow a weight that no loss of this epoch saw */
  for (size_t k = 0; st == VALLEY_OK && k < net->n_params; k++)
    if (!isfinite(params[k]))
      st = VALLEY_ERROR(err, VALLEY_ENUMERIC,
                        "training diverged: parameter %zu is %s after epoch %zu (lr %g): the "
                        "learning rate is too large; numerical failure, no model",
                        k, isnan(params[k]) ? "NaN" : "infinite", epoch + 1, (double)lr);
  if (st == VALLEY_OK && mean_loss != NULL) *mean_loss = total / (double)n;
  return st;
}

void valley_swa_update(float *avg, const float *params, size_t n, size_t count) {
  if (count == 0) {
    memcpy(avg, params, n * sizeof *avg);
    return;
  }
  float w = 1.0f / (float)(count + 1);
  for (size_t k = 0; k < n; k++) avg[k] += (params[k] - avg[k]) * w;
}
