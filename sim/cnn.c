/* The small convolutional network (VALLEY_ARCH_CNN): conv3x3 [BN2d] ReLU maxpool2, twice, then
 * a linear layer; softmax cross-entropy in sim/net.c.  Activations are batch-major and channels
 * last inside (NHWC: one image is an HW x C row-major matrix), convolutions are im2col + one
 * cblas_sgemm per image.  Determinism: every GEMM has a shape fixed by the network and the batch
 * (never by the thread count), OpenMP runs over images (each image whole by one thread), and
 * every reduction over images is a per-image partial sum combined in image order, or a GEMM over
 * the whole batch split into fixed output-channel blocks.  docs/networks.md. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#ifdef VALLEY_HAVE_OPENMP
#include <omp.h>
#endif

#include "cnn_internal.h"

#define DW_BLOCK 8 /* output channels per weight-gradient GEMM */

typedef struct {
  size_t cin, H, W, c1, c2, cls, H2, W2, H4, W4, HW, HW2, HW4, K1, K2, F;
  int bn;
} dims_t;

static dims_t dims_of(const valley_mlp_t *net) {
  const valley_mlp_config_t *c = &net->cfg;
  dims_t d;
  d.cin = c->in_channels;
  d.H = c->height;
  d.W = c->width;
  d.c1 = c->widths[1];
  d.c2 = c->widths[2];
  d.cls = c->widths[3];
  d.H2 = d.H / 2;
  d.W2 = d.W / 2;
  d.H4 = d.H / 4;
  d.W4 = d.W / 4;
  d.HW = d.H * d.W;
  d.HW2 = d.H2 * d.W2;
  d.HW4 = d.H4 * d.W4;
  d.K1 = d.cin * 9;
  d.K2 = d.c1 * 9;
  d.F = d.c2 * d.HW4;
  d.bn = c->batch_norm != 0;
  return d;
}

struct valley_cnn_ws {
  float *cols1, *z1, *a1, *p1, *cols2, *z2, *a2, *flat, *logits; /* forward, per batch */
  float *dlog, *dflat, *da2, *dp1, *da1;                         /* backward */
  float *invstd, *meanf;                                         /* c1 + c2 each */
  double *part0, *part1; /* per-image partial sums, max_batch x max(c1, c2) */
  double *mean;          /* c1 + c2 */
  float *scratch;        /* per thread: the dcols of one image, HW2 x K2 */
  int nth;               /* threads scratch has room for */
  void *block;
};

static void add_seg(valley_mlp_t *net, size_t layer, valley_net_kind_t kind, const char *prefix,
                    const char *suffix, size_t ndims, const size_t *shape, size_t *off) {
  valley_net_segment_t *s = &net->segments[net->n_segments++];
  memset(s, 0, sizeof *s);
  snprintf(s->name, sizeof s->name, "%s%zu.%s", prefix, layer + 1, suffix);
  s->layer = layer;
  s->kind = kind;
  s->offset = *off;
  s->ndims = ndims;
  s->length = 1;
  for (size_t k = 0; k < ndims; k++) {
    s->shape[k] = shape[k];
    s->length *= shape[k];
  }
  *off += s->length;
}

valley_status_t valley_cnn_setup(valley_mlp_t *net, valley_error_t *err) {
  const valley_mlp_config_t *c = &net->cfg;
  if (c->n_layers != 3)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "the CNN has 3 layers (conv1, conv2, fc3), not %zu",
                        c->n_layers);
  if (c->in_channels < 1 || c->in_channels > 4096 || c->height < 4 || c->height > 4096 ||
      c->width < 4 || c->width > 4096 || c->height % 4 != 0 || c->width % 4 != 0)
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "CNN images %zu x %zu x %zu (channels x height x width): want 1..4096 "
                        "channels and sides in 4..4096 divisible by 4",
                        c->in_channels, c->height, c->width);
  if (c->widths[0] != c->in_channels * c->height * c->width)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "CNN widths[0] = %zu, but images have %zu x %zu x %zu",
                        c->widths[0], c->in_channels, c->height, c->width);
  if (c->widths[1] > 4096 || c->widths[2] > 4096)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "CNN channels %zu, %zu: at most 4096", c->widths[1],
                        c->widths[2]);
  dims_t d = dims_of(net);
  size_t off = 0;
  size_t cout[2] = {d.c1, d.c2}, cinl[2] = {d.cin, d.c1};
  for (size_t l = 0; l < 2; l++) {
    size_t wshape[4] = {cout[l], cinl[l], 3, 3};
    net->w_off[l] = off;
    add_seg(net, l, VALLEY_NET_WEIGHT, "conv", "weight", 4, wshape, &off);
    if (d.bn) {
      net->g_off[l] = off;
      add_seg(net, l, VALLEY_NET_BN_SCALE, "bn", "scale", 1, &cout[l], &off);
      net->s_off[l] = off;
      add_seg(net, l, VALLEY_NET_BN_SHIFT, "bn", "shift", 1, &cout[l], &off);
    } else {
      net->b_off[l] = off;
      add_seg(net, l, VALLEY_NET_BIAS, "conv", "bias", 1, &cout[l], &off);
    }
  }
  size_t fshape[2] = {d.cls, d.F};
  net->w_off[2] = off;
  add_seg(net, 2, VALLEY_NET_WEIGHT, "fc", "weight", 2, fshape, &off);
  net->b_off[2] = off;
  add_seg(net, 2, VALLEY_NET_BIAS, "fc", "bias", 1, &d.cls, &off);
  net->n_params = off;
  net->bn_off[0] = 0;
  net->bn_off[1] = d.c1;
  net->n_buffers = d.bn ? 2 * (d.c1 + d.c2) : 0;

  size_t n = net->max_batch, cm = d.c1 > d.c2 ? d.c1 : d.c2;
  int nth = 1;
#ifdef VALLEY_HAVE_OPENMP
  nth = omp_get_max_threads();
  if (nth < 1) nth = 1;
#endif
  size_t nf = n * (d.HW * d.K1 + 3 * d.HW * d.c1 + d.HW2 * d.c1 + d.HW2 * d.K2 +
                   3 * d.HW2 * d.c2 + 2 * d.F + 2 * d.cls + d.HW2 * d.c1) +
              2 * (d.c1 + d.c2) + (size_t)nth * d.HW2 * d.K2;
  nf += nf & 1u;
  size_t nd = 2 * n * cm + d.c1 + d.c2;
  struct valley_cnn_ws *w = calloc(1, sizeof *w);
  if (w == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "CNN workspace");
  w->block = malloc(nf * sizeof(float) + nd * sizeof(double));
  if (w->block == NULL) {
    free(w);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "CNN workspace of %zu floats", nf);
  }
  float *f = w->block;
#define TAKE(p, k) (w->p = f, f += (k))
  TAKE(cols1, n * d.HW * d.K1);
  TAKE(z1, n * d.HW * d.c1);
  TAKE(a1, n * d.HW * d.c1);
  TAKE(da1, n * d.HW * d.c1);
  TAKE(p1, n * d.HW2 * d.c1);
  TAKE(dp1, n * d.HW2 * d.c1);
  TAKE(cols2, n * d.HW2 * d.K2);
  TAKE(z2, n * d.HW2 * d.c2);
  TAKE(a2, n * d.HW2 * d.c2);
  TAKE(da2, n * d.HW2 * d.c2);
  TAKE(flat, n * d.F);
  TAKE(dflat, n * d.F);
  TAKE(logits, n * d.cls);
  TAKE(dlog, n * d.cls);
  TAKE(invstd, d.c1 + d.c2);
  TAKE(meanf, d.c1 + d.c2);
  TAKE(scratch, (size_t)nth * d.HW2 * d.K2);
  w->nth = nth;
#undef TAKE
  double *g = (double *)((float *)w->block + nf);
  w->part0 = g;
  w->part1 = g + n * cm;
  w->mean = g + 2 * n * cm;
  net->ws_cnn = w;
  net->ws_act[3] = w->logits;
  return VALLEY_OK;
}

void valley_cnn_free(struct valley_cnn_ws *ws) {
  if (ws == NULL) return;
  free(ws->block);
  free(ws);
}

/* ---- per-image kernels (shared by every path, so the paths agree bit for bit) --------------- */

/* cols (H W x C 9): row h W + w, column c 9 + kh 3 + kw holds in(c, h + kh - 1, w + kw - 1), 0
 * outside; in(c, h, w) = in[c sc + h sh + w sw]. */
static void im2col(const float *in, size_t C, size_t H, size_t W, size_t sc, size_t sh, size_t sw,
                   float *cols) {
  size_t K = C * 9;
  for (size_t h = 0; h < H; h++)
    for (size_t w = 0; w < W; w++) {
      float *row = cols + (h * W + w) * K;
      for (size_t c = 0; c < C; c++)
        for (size_t kh = 0; kh < 3; kh++) {
          size_t ih = h + kh; /* input row ih - 1 */
          for (size_t kw = 0; kw < 3; kw++) {
            size_t iw = w + kw;
            float v = 0.0f;
            if (ih >= 1 && ih <= H && iw >= 1 && iw <= W)
              v = in[c * sc + (ih - 1) * sh + (iw - 1) * sw];
            row[c * 9 + kh * 3 + kw] = v;
          }
        }
    }
}

/* dcols (H W x C 9) summed back onto din (H x W x C, NHWC), which is zeroed first. */
static void col2im(const float *dcols, size_t C, size_t H, size_t W, float *din) {
  size_t K = C * 9;
  memset(din, 0, H * W * C * sizeof *din);
  for (size_t h = 0; h < H; h++)
    for (size_t w = 0; w < W; w++) {
      const float *row = dcols + (h * W + w) * K;
      for (size_t kh = 0; kh < 3; kh++) {
        size_t ih = h + kh;
        if (ih < 1 || ih > H) continue;
        for (size_t kw = 0; kw < 3; kw++) {
          size_t iw = w + kw;
          if (iw < 1 || iw > W) continue;
          float *dst = din + ((ih - 1) * W + (iw - 1)) * C;
          for (size_t c = 0; c < C; c++) dst[c] += row[c * 9 + kh * 3 + kw];
        }
      }
    }
}

/* out (rows x cout) = cols (rows x K) W^T, W (cout x K) row-major. */
static void conv_gemm(const float *cols, const float *Wt, size_t rows, size_t K, size_t cout,
                      float *out) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)cout, (int)K, 1.0f, cols,
              (int)K, Wt, (int)K, 0.0f, out, (int)cout);
}

/* BN with the given mean and invstd, then ReLU, on z (rows x C): xhat back into z when keep,
 * the output into a (may alias z when not keep). */
static void bn_relu_rows(float *z, float *a, size_t rows, size_t C, const float *mean,
                         const float *invstd, const float *gamma, const float *beta, int keep) {
  for (size_t i = 0; i < rows; i++)
    for (size_t j = 0; j < C; j++) {
      float xh = (z[i * C + j] - mean[j]) * invstd[j];
      if (keep) z[i * C + j] = xh;
      float yv = gamma[j] * xh + beta[j];
      a[i * C + j] = yv > 0.0f ? yv : 0.0f;
    }
}

static void bias_relu_rows(float *a, size_t rows, size_t C, const float *b) {
  for (size_t i = 0; i < rows; i++)
    for (size_t j = 0; j < C; j++) {
      float v = a[i * C + j] + b[j];
      a[i * C + j] = v < 0.0f ? 0.0f : v;
    }
}

/* 2x2 max pooling, stride 2, NHWC (H x W x C -> H/2 x W/2 x C); the first maximum in the order
 * (0,0), (0,1), (1,0), (1,1).  flat: write the output in (C, H/2, W/2) order instead. */
static void maxpool(const float *in, size_t H, size_t W, size_t C, float *out, int flat) {
  size_t Ho = H / 2, Wo = W / 2;
  for (size_t ph = 0; ph < Ho; ph++)
    for (size_t pw = 0; pw < Wo; pw++) {
      const float *q = in + (2 * ph * W + 2 * pw) * C;
      for (size_t c = 0; c < C; c++) {
        float m = q[c];
        if (q[C + c] > m) m = q[C + c];
        if (q[W * C + c] > m) m = q[W * C + c];
        if (q[W * C + C + c] > m) m = q[W * C + C + c];
        if (flat)
          out[c * Ho * Wo + ph * Wo + pw] = m;
        else
          out[(ph * Wo + pw) * C + c] = m;
      }
    }
}

/* The backward of maxpool: din (H x W x C) gets dout at each window's first maximum, 0
 * elsewhere; dout in (C, H/2, W/2) order when flat. */
static void maxpool_back(const float *in, size_t H, size_t W, size_t C, const float *dout,
                         int flat, float *din) {
  size_t Ho = H / 2, Wo = W / 2;
  memset(din, 0, H * W * C * sizeof *din);
  for (size_t ph = 0; ph < Ho; ph++)
    for (size_t pw = 0; pw < Wo; pw++) {
      size_t base = (2 * ph * W + 2 * pw) * C;
      const size_t offs[4] = {0, C, W * C, W * C + C};
      for (size_t c = 0; c < C; c++) {
        size_t arg = 0;
        float m = in[base + c];
        for (size_t k = 1; k < 4; k++)
          if (in[base + offs[k] + c] > m) {
            m = in[base + offs[k] + c];
            arg = k;
          }
        din[base + offs[arg] + c] = flat ? dout[c * Ho * Wo + ph * Wo + pw]
                                         : dout[(ph * Wo + pw) * C + c];
      }
    }
}

/* ---- EVAL forward, reentrant ---------------------------------------------------------------- */

void valley_cnn_eval_invstd(const valley_mlp_t *net, float *invstd) {
  for (size_t k = 0; k < net->n_buffers / 2; k++)
    invstd[k] = (float)(1.0 / sqrt((double)net->running_var[k] + net->cfg.bn_eps));
}

static size_t image_ws(const dims_t *d) {
  return d->HW * d->K1 + d->HW * d->c1 + d->HW2 * d->c1 + d->HW2 * d->K2 + d->HW2 * d->c2;
}

size_t valley_cnn_eval_ws_floats(const valley_mlp_t *net, size_t n) {
  dims_t d = dims_of(net);
  return image_ws(&d) + n * d.F;
}

/* fc3 on flat (n x F): logits = flat W3^T + b3. */
static void fc3(const valley_mlp_t *net, const dims_t *d, const float *params, const float *flat,
                size_t n, float *logits) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)d->cls, (int)d->F, 1.0f, flat,
              (int)d->F, params + net->w_off[2], (int)d->F, 0.0f, logits, (int)d->cls);
  const float *b = params + net->b_off[2];
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < d->cls; j++) logits[i * d->cls + j] = logits[i * d->cls + j] + b[j];
}

void valley_cnn_eval_forward(const valley_mlp_t *net, const float *params, const float *invstd,
                             const float *x, size_t n, float *ws, float *logits) {
  dims_t d = dims_of(net);
  float *cols1 = ws, *a1 = cols1 + d.HW * d.K1, *p1 = a1 + d.HW * d.c1;
  float *cols2 = p1 + d.HW2 * d.c1, *a2 = cols2 + d.HW2 * d.K2;
  float *flat = ws + image_ws(&d);
  /* the running means as floats: the batch path's (float)(double)rm[j] is rm[j] */
  const float *m1 = net->running_mean, *m2 = net->running_mean + (d.bn ? d.c1 : 0);
  for (size_t i = 0; i < n; i++) {
    im2col(x + i * net->cfg.widths[0], d.cin, d.H, d.W, d.HW, d.W, 1, cols1);
    conv_gemm(cols1, params + net->w_off[0], d.HW, d.K1, d.c1, a1);
    if (d.bn)
      bn_relu_rows(a1, a1, d.HW, d.c1, m1, invstd, params + net->g_off[0], params + net->s_off[0],
                   0);
    else
      bias_relu_rows(a1, d.HW, d.c1, params + net->b_off[0]);
    maxpool(a1, d.H, d.W, d.c1, p1, 0);
    im2col(p1, d.c1, d.H2, d.W2, 1, d.W2 * d.c1, d.c1, cols2);
    conv_gemm(cols2, params + net->w_off[1], d.HW2, d.K2, d.c2, a2);
    if (d.bn)
      bn_relu_rows(a2, a2, d.HW2, d.c2, m2, invstd + d.c1, params + net->g_off[1],
                   params + net->s_off[1], 0);
    else
      bias_relu_rows(a2, d.HW2, d.c2, params + net->b_off[1]);
    maxpool(a2, d.H2, d.W2, d.c2, flat + i * d.F, 1);
  }
  fc3(net, &d, params, flat, n, logits);
}

/* ---- batch forward and backward ------------------------------------------------------------- */

/* Batch statistics of z (n images of hw rows x C) into mean / invstd (per-image partial sums in
 * double, combined in image order), the running statistics updated in TRAIN_UPDATE; in EVAL the
 * running statistics give mean and invstd. */
static void bn_stats(const valley_mlp_t *net, struct valley_cnn_ws *w, const float *z, size_t n,
                     size_t hw, size_t C, size_t boff, valley_net_mode_t mode, float *meanf,
                     float *invstd) {
  float *rm = net->running_mean + boff, *rv = net->running_var + boff;
  double eps = net->cfg.bn_eps, mom = net->cfg.bn_momentum;
  if (mode == VALLEY_NET_EVAL) {
    for (size_t j = 0; j < C; j++) {
      meanf[j] = rm[j];
      invstd[j] = (float)(1.0 / sqrt((double)rv[j] + eps));
    }
    return;
  }
  double *part = w->part0, *mean = w->mean;
  size_t R = n * hw;
#ifdef VALLEY_HAVE_OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (size_t i = 0; i < n; i++) {
    double *p = part + i * C;
    const float *zi = z + i * hw * C;
    for (size_t j = 0; j < C; j++) p[j] = 0.0;
    for (size_t r = 0; r < hw; r++)
      for (size_t j = 0; j < C; j++) p[j] += zi[r * C + j];
  }
  for (size_t j = 0; j < C; j++) mean[j] = 0.0;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < C; j++) mean[j] += part[i * C + j];
  for (size_t j = 0; j < C; j++) mean[j] /= (double)R;
#ifdef VALLEY_HAVE_OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (size_t i = 0; i < n; i++) {
    double *p = part + i * C;
    const float *zi = z + i * hw * C;
    for (size_t j = 0; j < C; j++) p[j] = 0.0;
    for (size_t r = 0; r < hw; r++)
      for (size_t j = 0; j < C; j++) {
        double e = zi[r * C + j] - mean[j];
        p[j] += e * e;
      }
  }
  for (size_t j = 0; j < C; j++) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += part[i * C + j];
    double v = s / (double)R;
    invstd[j] = (float)(1.0 / sqrt(v + eps));
    meanf[j] = (float)mean[j];
    if (mode == VALLEY_NET_TRAIN_UPDATE) {
      double vu = R > 1 ? s / (double)(R - 1) : v;
      rm[j] = (float)((1.0 - mom) * rm[j] + mom * mean[j]);
      rv[j] = (float)((1.0 - mom) * rv[j] + mom * vu);
    }
  }
}

static void forward(valley_mlp_t *net, const float *params, const float *x, size_t n,
                    valley_net_mode_t mode) {
  struct valley_cnn_ws *w = net->ws_cnn;
  dims_t d = dims_of(net);
  size_t d0 = net->cfg.widths[0];
  float *conv1_out = d.bn ? w->z1 : w->a1, *conv2_out = d.bn ? w->z2 : w->a2;
  float *mean1 = w->meanf, *mean2 = w->meanf + d.c1;
  float *inv1 = w->invstd, *inv2 = w->invstd + d.c1;
#ifdef VALLEY_HAVE_OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (size_t i = 0; i < n; i++) {
    float *cols = w->cols1 + i * d.HW * d.K1;
    im2col(x + i * d0, d.cin, d.H, d.W, d.HW, d.W, 1, cols);
    conv_gemm(cols, params + net->w_off[0], d.HW, d.K1, d.c1, conv1_out + i * d.HW * d.c1);
  }
  if (d.bn) bn_stats(net, w, w->z1, n, d.HW, d.c1, net->bn_off[0], mode, mean1, inv1);
#ifdef VALLEY_HAVE_OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (size_t i = 0; i < n; i++) {
    float *a1 = w->a1 + i * d.HW * d.c1, *p1 = w->p1 + i * d.HW2 * d.c1;
    float *cols = w->cols2 + i * d.HW2 * d.K2;
    if (d.bn)
      bn_relu_rows(w->z1 + i * d.HW * d.c1, a1, d.HW, d.c1, mean1, inv1, params + net->g_off[0],
                   params + net->s_off[0], 1);
    else
      bias_relu_rows(a1, d.HW, d.c1, params + net->b_off[0]);
    maxpool(a1, d.H, d.W, d.c1, p1, 0);
    im2col(p1, d.c1, d.H2, d.W2, 1, d.W2 * d.c1, d.c1, cols);
    conv_gemm(cols, params + net->w_off[1], d.HW2, d.K2, d.c2, conv2_out + i * d.HW2 * d.c2);
  }
  if (d.bn) bn_stats(net, w, w->z2, n, d.HW2, d.c2, net->bn_off[1], mode, mean2, inv2);
#ifdef VALLEY_HAVE_OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (size_t i = 0; i < n; i++) {
    float *a2 = w->a2 + i * d.HW2 * d.c2;
    if (d.bn)
      bn_relu_rows(w->z2 + i * d.HW2 * d.c2, a2, d.HW2, d.c2, mean2, inv2,
                   params + net->g_off[1], params + net->s_off[1], 1);
    else
      bias_relu_rows(a2, d.HW2, d.c2, params + net->b_off[1]);
    maxpool(a2, d.H2, d.W2, d.c2, w->flat + i * d.F, 1);
  }
  fc3(net, &d, params, w->flat, n, w->logits);
}

/* dy (n images of hw rows x C): on entry the gradient w.r.t. the ReLU output a; on exit w.r.t.
 * the convolution output.  Writes the BN scale/shift or the bias gradient. */
static void relu_bn_back(valley_mlp_t *net, size_t l, const float *params, size_t n, size_t hw,
                         size_t C, valley_net_mode_t mode, const float *a, const float *xh,
                         const float *invstd, float *dy, float *grad) {
  struct valley_cnn_ws *w = net->ws_cnn;
  int bn = net->cfg.batch_norm != 0;
  double *p0 = w->part0, *p1 = w->part1;
#ifdef VALLEY_HAVE_OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (size_t i = 0; i < n; i++) {
    float *dyi = dy + i * hw * C;
    const float *ai = a + i * hw * C;
    double *s0 = p0 + i * C, *s1 = p1 + i * C;
    for (size_t j = 0; j < C; j++) s0[j] = s1[j] = 0.0;
    for (size_t k = 0; k < hw * C; k++)
      if (!(ai[k] > 0.0f)) dyi[k] = 0.0f;
    for (size_t r = 0; r < hw; r++)
      for (size_t j = 0; j < C; j++) {
        s0[j] += dyi[r * C + j];
        if (bn) s1[j] += (double)dyi[r * C + j] * xh[(i * hw + r) * C + j];
      }
  }
  double sdy[4096], sdyx[4096];
  for (size_t j = 0; j < C; j++) sdy[j] = sdyx[j] = 0.0;
  for (size_t i = 0; i < n; i++)
    for (size_t j = 0; j < C; j++) {
      sdy[j] += p0[i * C + j];
      sdyx[j] += p1[i * C + j];
    }
  if (!bn) {
    for (size_t j = 0; j < C; j++) grad[net->b_off[l] + j] = (float)sdy[j];
    return;
  }
  for (size_t j = 0; j < C; j++) {
    grad[net->g_off[l] + j] = (float)sdyx[j];
    grad[net->s_off[l] + j] = (float)sdy[j];
  }
  const float *gamma = params + net->g_off[l];
  size_t R = n * hw;
  if (mode == VALLEY_NET_EVAL) {
#ifdef VALLEY_HAVE_OPENMP
#pragma omp parallel for schedule(static)
#endif
    for (size_t i = 0; i < n; i++)
      for (size_t r = 0; r < hw; r++)
        for (size_t j = 0; j < C; j++) dy[(i * hw + r) * C + j] *= gamma[j] * invstd[j];
    return;
  }
  for (size_t j = 0; j < C; j++) {
    sdy[j] /= (double)R;
    sdyx[j] /= (double)R;
  }
  const double *msdy = sdy, *msdyx = sdyx;
#ifdef VALLEY_HAVE_OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (size_t i = 0; i < n; i++)
    for (size_t r = 0; r < hw; r++)
      for (size_t j = 0; j < C; j++) {
        size_t k = (i * hw + r) * C + j;
        double v = (double)dy[k] - msdy[j] - (double)xh[k] * msdyx[j];
        dy[k] = (float)(v * (double)gamma[j] * (double)invstd[j]);
      }
}

/* gW (cout x K) = dz^T cols over all R rows, in fixed blocks of output channels. */
static void weight_grad(const float *dz, const float *cols, size_t R, size_t K, size_t cout,
                        float *gW) {
  size_t nblk = (cout + DW_BLOCK - 1) / DW_BLOCK;
#ifdef VALLEY_HAVE_OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (size_t b = 0; b < nblk; b++) {
    size_t r0 = b * DW_BLOCK, m = cout - r0 < DW_BLOCK ? cout - r0 : DW_BLOCK;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)m, (int)K, (int)R, 1.0f, dz + r0,
                (int)cout, cols, (int)K, 0.0f, gW + r0 * K, (int)K);
  }
}

static void backward(valley_mlp_t *net, const float *params, size_t n, valley_net_mode_t mode,
                     const float *dlogits, float *grad) {
  struct valley_cnn_ws *w = net->ws_cnn;
  dims_t d = dims_of(net);
  /* fc3 */
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d.cls, (int)d.F, (int)n, 1.0f,
              dlogits, (int)d.cls, w->flat, (int)d.F, 0.0f, grad + net->w_off[2], (int)d.F);
  {
    double acc[256];
    for (size_t j = 0; j < d.cls; j++) acc[j] = 0.0;
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < d.cls; j++) acc[j] += dlogits[i * d.cls + j];
    for (size_t j = 0; j < d.cls; j++) grad[net->b_off[2] + j] = (float)acc[j];
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)d.F, (int)d.cls, 1.0f,
              dlogits, (int)d.cls, params + net->w_off[2], (int)d.F, 0.0f, w->dflat, (int)d.F);
  /* pool2, ReLU, BN2 */
#ifdef VALLEY_HAVE_OPENMP
#pragma omp parallel for schedule(static)
#endif
  for (size_t i = 0; i < n; i++)
    maxpool_back(w->a2 + i * d.HW2 * d.c2, d.H2, d.W2, d.c2, w->dflat + i * d.F, 1,
                 w->da2 + i * d.HW2 * d.c2);
  relu_bn_back(net, 1, params, n, d.HW2, d.c2, mode, w->a2, w->z2, w->invstd + d.c1, w->da2,
               grad);
  weight_grad(w->da2, w->cols2, n * d.HW2, d.K2, d.c2, grad + net->w_off[1]);
  /* conv2 input gradient: per image, thread scratch for dcols (at most the threads the
   * workspace was sized for; per-image work, so the count does not change the result) */
  float *scratch = w->scratch;
  int nth = w->nth;
#ifdef VALLEY_HAVE_OPENMP
  if (omp_get_max_threads() < nth) nth = omp_get_max_threads();
#pragma omp parallel for schedule(static) num_threads(nth)
#endif
  for (size_t i = 0; i < n; i++) {
    int tid = 0;
#ifdef VALLEY_HAVE_OPENMP
    tid = omp_get_thread_num();
#endif
    float *dcols = scratch + (size_t)tid * d.HW2 * d.K2;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)d.HW2, (int)d.K2, (int)d.c2, 1.0f,
                w->da2 + i * d.HW2 * d.c2, (int)d.c2, params + net->w_off[1], (int)d.K2, 0.0f,
                dcols, (int)d.K2);
    float *dp1 = w->dp1 + i * d.HW2 * d.c1;
    col2im(dcols, d.c1, d.H2, d.W2, dp1);
    maxpool_back(w->a1 + i * d.HW * d.c1, d.H, d.W, d.c1, dp1, 0, w->da1 + i * d.HW * d.c1);
  }
  (void)nth;
  relu_bn_back(net, 0, params, n, d.HW, d.c1, mode, w->a1, w->z1, w->invstd, w->da1, grad);
  weight_grad(w->da1, w->cols1, n * d.HW, d.K1, d.c1, grad + net->w_off[0]);
}

valley_status_t valley_cnn_batch(valley_mlp_t *net, const float *params, const float *x,
                                 const uint8_t *y, size_t n, valley_net_mode_t mode, float *grad,
                                 double *loss_mean, size_t *correct, valley_error_t *err) {
  (void)err; /* no failure left once the arguments are checked */
  struct valley_cnn_ws *w = net->ws_cnn;
  dims_t d = dims_of(net);
  forward(net, params, x, n, mode);
  double total = valley_softmax_xent(w->logits, n, d.cls, y, 1.0f / (float)n,
                                     grad != NULL ? w->dlog : NULL, correct);
  if (loss_mean != NULL) *loss_mean = total / (double)n;
  if (grad == NULL) return VALLEY_OK;
  backward(net, params, n, mode, w->dlog, grad);
  return VALLEY_OK;
}
