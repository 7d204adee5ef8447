/* Networks (sim/net.c): the parameter-segment table; the backward pass against central finite
 * differences of an independent double-precision forward pass (MLP with and without BN, BN in
 * training and evaluation mode); softmax cross-entropy with huge logits; bit-for-bit determinism
 * of initialization and training; SWA averaging and the BN recomputation; error paths; the CNN
 * (segments, gradient and EVAL forward against a direct-convolution double reference, thread-count
 * independent training, BN recomputation); and a
 * short training run on a Fashion-MNIST subset (skipped when dataset-fashion-mnist is absent).
 * usage: test_net */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "check.h"
#include "valley/net.h"
#include "valley/pcg.h"

#include "net_fixture.h"


/* ---- independent double-precision reference forward ---------------------------------------- */

/* Mean cross-entropy of the MLP at parameters p (double), by plain loops: y = W a + b or BN
 * (batch statistics, biased variance; or the network's running statistics when eval). */
static double ref_loss(const valley_mlp_t *net, const double *p, const float *x,
                       const uint8_t *y, size_t n, int eval) {
  size_t L = net->cfg.n_layers, wmax = 0;
  for (size_t l = 0; l <= L; l++)
    if (net->cfg.widths[l] > wmax) wmax = net->cfg.widths[l];
  double *a = xmalloc(n * wmax * sizeof *a), *z = xmalloc(n * wmax * sizeof *z);
  for (size_t k = 0; k < n * net->cfg.widths[0]; k++) a[k] = x[k];
  for (size_t l = 0; l < L; l++) {
    size_t din = net->cfg.widths[l], dout = net->cfg.widths[l + 1];
    int bn = net->cfg.batch_norm && l + 1 < L;
    char name[32];
    snprintf(name, sizeof name, "fc%zu.weight", l + 1);
    const double *W = p + valley_mlp_segment(net, name)->offset;
    for (size_t i = 0; i < n; i++)
      for (size_t o = 0; o < dout; o++) {
        double s = 0.0;
        for (size_t k = 0; k < din; k++) s += W[o * din + k] * a[i * din + k];
        z[i * dout + o] = s;
      }
    if (bn) {
      snprintf(name, sizeof name, "bn%zu.scale", l + 1);
      const double *g = p + valley_mlp_segment(net, name)->offset;
      snprintf(name, sizeof name, "bn%zu.shift", l + 1);
      const double *b = p + valley_mlp_segment(net, name)->offset;
      for (size_t o = 0; o < dout; o++) {
        double mu = 0.0, var = 0.0;
        if (eval) {
          mu = net->running_mean[net->bn_off[l] + o];
          var = net->running_var[net->bn_off[l] + o];
        } else {
          for (size_t i = 0; i < n; i++) mu += z[i * dout + o];
          mu /= (double)n;
          for (size_t i = 0; i < n; i++) var += (z[i * dout + o] - mu) * (z[i * dout + o] - mu);
          var /= (double)n;
        }
        for (size_t i = 0; i < n; i++)
          z[i * dout + o] = g[o] * (z[i * dout + o] - mu) / sqrt(var + net->cfg.bn_eps) + b[o];
      }
    } else {
      snprintf(name, sizeof name, "fc%zu.bias", l + 1);
      const double *b = p + valley_mlp_segment(net, name)->offset;
      for (size_t i = 0; i < n; i++)
        for (size_t o = 0; o < dout; o++) z[i * dout + o] += b[o];
    }
    for (size_t k = 0; k < n * dout; k++) a[k] = (l + 1 < L && z[k] < 0.0) ? 0.0 : z[k];
  }
  size_t c = net->cfg.widths[L];
  double total = 0.0;
  for (size_t i = 0; i < n; i++) {
    double m = a[i * c];
    for (size_t k = 1; k < c; k++) m = fmax(m, a[i * c + k]);
    double s = 0.0;
    for (size_t k = 0; k < c; k++) s += exp(a[i * c + k] - m);
    total += m + log(s) - a[i * c + y[i]];
  }
  free(a);
  free(z);
  return total / (double)n;
}

/* The float loss against the double reference, and the float gradient g against the central
 * differences fd (n parameters, largest |fd| fmax_): each within 1e-3 |fd| + 1e-4 fmax_. */
static void grad_verdict(check_t *t, const char *label, valley_status_t st, double loss,
                         double lref, const float *g, const double *fd, size_t n, double fmax_) {
  size_t bad = 0, worst = 0;
  double worst_err = 0.0;
  for (size_t k = 0; k < n; k++) {
    double e = fabs((double)g[k] - fd[k]);
    if (e > 1e-3 * fabs(fd[k]) + 1e-4 * fmax_) bad++;
    if (e > worst_err) {
      worst_err = e;
      worst = k;
    }
  }
  check(t, st == VALLEY_OK && close_rel(loss, lref, 1e-5),
        "%s: float loss %.9g vs double reference %.9g", label, loss, lref);
  check(t, bad == 0 && fmax_ > 1e-3,
        "%s: gradient vs central differences, %zu of %zu outside tolerance (worst |err| %.3g at "
        "%zu: %.6g vs %.6g; max|fd| %.3g)",
        label, bad, n, worst_err, worst, (double)g[worst], fd[worst], fmax_);
}

/* The float gradient against central differences (h = 1e-5) of the double reference.  The
 * tolerance comes from float rounding: the float backward carries relative errors of a few
 * hundred units of 2^-24 over these few-term sums, so |g - fd| <= 1e-3 |fd| + 1e-4 max|fd|;
 * the double differences are accurate to ~1e-9. */
static void grad_check(check_t *t, const char *label, int bn, valley_net_mode_t mode) {
  const size_t widths[] = {7, 6, 5, 4};
  const size_t n = 9;
  valley_mlp_t *net = make_net(3, widths, bn, 16);
  float *p = xmalloc(net->n_params * sizeof *p), *g = xmalloc(net->n_params * sizeof *g);
  double *pd = xmalloc(net->n_params * sizeof *pd);
  valley_mlp_init(net, p, 11);
  valley_pcg32_t rng;
  valley_pcg32_seed(&rng, 5, 6);
  for (size_t k = 0; k < net->n_params; k++) /* perturb BN scales/shifts and biases away from 1/0 */
    p[k] += (float)(0.2 * (valley_pcg32_double(&rng) - 0.5));
  for (size_t k = 0; k < net->n_buffers / 2; k++) {
    net->running_mean[k] = (float)(0.3 * (valley_pcg32_double(&rng) - 0.5));
    net->running_var[k] = (float)(0.5 + valley_pcg32_double(&rng));
  }
  float x[9 * 7];
  uint8_t y[9];
  for (size_t k = 0; k < n * 7; k++) x[k] = (float)(2.0 * valley_pcg32_double(&rng) - 1.0);
  for (size_t i = 0; i < n; i++) y[i] = (uint8_t)valley_pcg32_bounded(&rng, 4);
  valley_error_t err;
  double loss = 0.0;
  valley_status_t st = valley_mlp_batch(net, p, x, y, n, mode, g, &loss, NULL, &err);
  int eval = mode == VALLEY_NET_EVAL;
  for (size_t k = 0; k < net->n_params; k++) pd[k] = p[k];
  double lref = ref_loss(net, pd, x, y, n, eval);
  double *fd = xmalloc(net->n_params * sizeof *fd), fmax_ = 0.0;
  for (size_t k = 0; k < net->n_params; k++) {
    double h = 1e-5, save = pd[k];
    pd[k] = save + h;
    double lp = ref_loss(net, pd, x, y, n, eval);
    pd[k] = save - h;
    double lm = ref_loss(net, pd, x, y, n, eval);
    pd[k] = save;
    fd[k] = (lp - lm) / (2.0 * h);
    if (fabs(fd[k]) > fmax_) fmax_ = fabs(fd[k]);
  }
  grad_verdict(t, label, st, loss, lref, g, fd, net->n_params, fmax_);
  free(fd);
  free(pd);
  free(g);
  free(p);
  valley_mlp_free(net);
}

/* ---- the segment table ---------------------------------------------------------------------- */

static void test_segments(check_t *t, int bn) {
  const size_t widths[] = {784, 256, 256, 10};
  valley_mlp_t *net = make_net(3, widths, bn, 4);
  unsigned char *cover = xmalloc(net->n_params);
  int ok = 1;
  size_t sum = 0, expect = 784 * 256 + 256 * 256 + 256 * 10 + 10 + (bn ? 4 * 256 : 2 * 256);
  for (size_t s = 0; s < net->n_segments; s++) {
    const valley_net_segment_t *seg = &net->segments[s];
    size_t len = 1;
    for (size_t d = 0; d < seg->ndims; d++) len *= seg->shape[d];
    if (len != seg->length || seg->offset + seg->length > net->n_params) ok = 0;
    if (s > 0 && seg->offset != net->segments[s - 1].offset + net->segments[s - 1].length) ok = 0;
    for (size_t k = seg->offset; k < seg->offset + seg->length && ok; k++) cover[k]++;
    sum += seg->length;
    if (valley_mlp_segment(net, seg->name) != seg) ok = 0;
  }
  for (size_t k = 0; k < net->n_params; k++)
    if (cover[k] != 1) ok = 0;
  check(t, ok && sum == net->n_params && net->n_params == expect && net->segments[0].offset == 0,
        "segments (%s): %zu segments cover %zu parameters exactly once (want %zu)",
        bn ? "BN" : "no BN", net->n_segments, net->n_params, expect);
  const valley_net_segment_t *w2 = valley_mlp_segment(net, "fc2.weight");
  check(t, w2 != NULL && w2->kind == VALLEY_NET_WEIGHT && w2->shape[0] == 256 &&
               w2->shape[1] == 256 && w2->layer == 1 &&
               (bn ? valley_mlp_segment(net, "bn1.scale") != NULL &&
                         valley_mlp_segment(net, "fc1.bias") == NULL
                   : valley_mlp_segment(net, "fc1.bias") != NULL) &&
               valley_mlp_segment(net, "fc3.bias") != NULL,
        "segments (%s): names, kinds and shapes (fc2.weight 256 x 256, %s)",
        bn ? "BN" : "no BN", bn ? "bn1.scale, no fc1.bias" : "fc1.bias");
  free(cover);
  valley_mlp_free(net);
}

/* ---- softmax cross-entropy ------------------------------------------------------------------ */

static void test_softmax(check_t *t) {
  const float z[] = {1e30f, 0.0f, -1e30f, 0.0f, 1e4f, -3e38f, 88.0f, 89.0f, 90.0f};
  const uint8_t y[] = {1, 0, 2};
  float d[9];
  size_t right = 0;
  double per[3];
  for (size_t i = 0; i < 3; i++)
    per[i] = valley_softmax_xent(z + 3 * i, 1, 3, y + i, 1.0f, NULL, NULL);
  double total = valley_softmax_xent(z, 3, 3, y, 1.0f, d, &right);
  int finite = 1;
  double rowsum[3] = {0, 0, 0};
  for (size_t k = 0; k < 9; k++) {
    if (!isfinite(d[k])) finite = 0;
    rowsum[k / 3] += d[k];
  }
  double want2 = log(1.0 + exp(-1.0) + exp(-2.0)); /* row 3: lse - 90 */
  check(t, close_rel(per[0], 1e30, 1e-6) && close_rel(per[1], 1e4, 1e-12) &&
               close_rel(per[2], want2, 1e-6) && close_rel(total, per[0] + per[1] + per[2], 1e-12),
        "softmax-CE with logits up to 1e30 and -3e38: losses %.6g %.6g %.9g (want 1e30 1e4 %.9g)",
        per[0], per[1], per[2], want2);
  check(t, finite && fabs(rowsum[0]) < 1e-6 && fabs(rowsum[1]) < 1e-6 && fabs(rowsum[2]) < 1e-6 &&
               d[0] == 1.0f && d[1] == -1.0f && d[2] == 0.0f && d[3] == -1.0f && d[4] == 1.0f &&
               right == 1,
        "softmax-CE gradient finite, rows sum to 0, saturated rows exact (+-1), %zu correct",
        right);
}

/* ---- determinism, SWA, errors --------------------------------------------------------------- */

static void synth(valley_dataset_t *ds, size_t n, size_t dim, unsigned classes, uint64_t seed) {
  alloc_dataset(ds, n, dim, classes);
  valley_pcg32_t rng;
  valley_pcg32_seed(&rng, seed, 1);
  for (size_t i = 0; i < n; i++) {
    ds->y[i] = (uint8_t)valley_pcg32_bounded(&rng, classes);
    for (size_t k = 0; k < dim; k++) /* class-dependent means make it learnable */
      ds->x[i * dim + k] =
          (float)(valley_pcg32_double(&rng) * 0.5 + ((k % classes) == ds->y[i] ? 0.5 : 0.0));
  }
}

static void train_synth(const valley_dataset_t *ds, int bn, uint64_t seed, float *out_p,
                        float *out_rm, double *acc) {
  const size_t widths[] = {20, 16, 16, 4};
  valley_mlp_t *net = make_net(3, widths, bn, 32);
  float *v = xmalloc(net->n_params * sizeof *v);
  valley_mlp_init(net, out_p, seed);
  valley_sgd_config_t sc;
  valley_sgd_config_default(&sc);
  sc.batch = 32;
  sc.lr = 0.05;
  sc.seed = seed;
  valley_error_t err;
  for (size_t e = 0; e < 3; e++)
    if (valley_mlp_train_epoch(net, out_p, v, ds, &sc, e, NULL, &err) != VALLEY_OK) {
      fprintf(stderr, "test_net: %s\n", err.message);
      exit(2);
    }
  if (out_rm != NULL) memcpy(out_rm, net->running_mean, net->n_buffers / 2 * sizeof *out_rm);
  valley_mlp_evaluate(net, out_p, ds, 32, NULL, acc, &err);
  free(v);
  valley_mlp_free(net);
}

static void test_determinism(check_t *t) {
  valley_dataset_t ds;
  synth(&ds, 300, 20, 4, 3);
  const size_t np = 20 * 16 + 16 * 16 + 16 * 4 + 4 + 4 * 16;
  float *a = xmalloc(np * sizeof *a), *b = xmalloc(np * sizeof *b), *c = xmalloc(np * sizeof *c);
  float ra[32], rb[32];
  double acc_a, acc_b, acc_c;
  train_synth(&ds, 1, 7, a, ra, &acc_a);
  train_synth(&ds, 1, 7, b, rb, &acc_b);
  train_synth(&ds, 1, 8, c, NULL, &acc_c);
  check(t,
        memcmp(a, b, np * sizeof *a) == 0 && memcmp(ra, rb, sizeof ra) == 0 && acc_a == acc_b,
        "determinism: two BN trainings with seed 7 give the same bytes (accuracy %.4f)", acc_a);
  check(t, memcmp(a, c, np * sizeof *a) != 0 && acc_a > 0.9,
        "determinism: seed 8 differs; synthetic accuracy %.4f %.4f > 0.9", acc_a, acc_c);
  free(a);
  free(b);
  free(c);
  valley_dataset_free(&ds);
}

static void test_swa_bn(check_t *t) {
  float avg[3], p1[3] = {1, 2, 3}, p2[3] = {3, 2, 1}, p3[3] = {2, 5, 2};
  avg[0] = avg[1] = avg[2] = NAN;
  valley_swa_update(avg, p1, 3, 0);
  valley_swa_update(avg, p2, 3, 1);
  valley_swa_update(avg, p3, 3, 2);
  check(t,
        fabsf(avg[0] - 2.0f) < 1e-6f && fabsf(avg[1] - 3.0f) < 1e-6f &&
            fabsf(avg[2] - 2.0f) < 1e-6f,
        "SWA average of three vectors: %g %g %g (want 2 3 2)", avg[0], avg[1], avg[2]);

  /* recompute_bn with one full batch leaves exactly that batch's mean and unbiased variance */
  const size_t widths[] = {5, 3, 2};
  valley_mlp_t *net = make_net(2, widths, 1, 64);
  float *p = xmalloc(net->n_params * sizeof *p);
  valley_mlp_init(net, p, 3);
  valley_dataset_t ds;
  synth(&ds, 40, 5, 2, 9);
  valley_error_t err;
  valley_status_t st = valley_mlp_recompute_bn(net, p, &ds, 64, &err);
  const float *W = p + net->w_off[0];
  double worst = 0.0;
  for (size_t o = 0; o < 3; o++) {
    double mu = 0.0, ss = 0.0;
    for (size_t i = 0; i < ds.n; i++) {
      double s = 0.0;
      for (size_t k = 0; k < 5; k++) s += (double)W[o * 5 + k] * ds.x[i * 5 + k];
      mu += s;
      ss += s * s;
    }
    mu /= (double)ds.n;
    double var = (ss - (double)ds.n * mu * mu) / (double)(ds.n - 1);
    worst = fmax(worst, fabs(net->running_mean[o] - mu) / (fabs(mu) + 1e-3));
    worst = fmax(worst, fabs(net->running_var[o] - var) / var);
  }
  /* and with batches of 10: the average of the four batches' statistics */
  float one_mean[3];
  memcpy(one_mean, net->running_mean, sizeof one_mean);
  st = st == VALLEY_OK ? valley_mlp_recompute_bn(net, p, &ds, 10, &err) : st;
  check(t, st == VALLEY_OK && worst < 1e-5 && fabsf(net->running_mean[0] - one_mean[0]) < 1e-5f,
        "recompute_bn: running mean/var equal the data's (rel err %.2g); batches of 10 average "
        "to the same mean",
        worst);
  free(p);
  valley_mlp_free(net);
  valley_dataset_free(&ds);
}

/* ---- the CNN: an independent double-precision reference by direct convolution ---------------- */

static const double *seg_d(const valley_mlp_t *net, const double *p, const char *name) {
  const valley_net_segment_t *s = valley_mlp_segment(net, name);
  if (s == NULL) {
    fprintf(stderr, "test_net: no segment %s\n", name);
    exit(2);
  }
  return p + s->offset;
}

/* Conv layer l (3x3, padding 1, stride 1) on in (n x cin x H x W, NCHW), then BN (batch
 * statistics with the biased variance, or the running statistics when eval) or the bias, ReLU
 * and 2x2 max pooling into out (n x cout x H/2 x W/2), all by plain loops in double.  absmode:
 * magnitudes instead of values (sum |w a|; BN |gamma| (|z| + |mu|) / sqrt(var + eps) + |beta|;
 * + |bias|), for float error bounds (eval only).  stats (may be NULL): per channel the batch mean
 * and unbiased variance of the convolution output. */
static void ref_block(const valley_mlp_t *net, const double *p, size_t l, const double *in,
                      size_t n, size_t cin, size_t H, size_t W, size_t cout, int eval,
                      int absmode, double *out, double *stats) {
  double *z = xmalloc(n * cout * H * W * sizeof *z);
  char name[32];
  snprintf(name, sizeof name, "conv%zu.weight", l + 1);
  const double *Wt = seg_d(net, p, name);
  for (size_t i = 0; i < n; i++)
    for (size_t o = 0; o < cout; o++)
      for (size_t h = 0; h < H; h++)
        for (size_t w = 0; w < W; w++) {
          double s = 0.0;
          for (size_t c = 0; c < cin; c++)
            for (size_t kh = 0; kh < 3; kh++)
              for (size_t kw = 0; kw < 3; kw++) {
                long ih = (long)h + (long)kh - 1, iw = (long)w + (long)kw - 1;
                if (ih < 0 || iw < 0 || ih >= (long)H || iw >= (long)W) continue;
                double wv = Wt[((o * cin + c) * 3 + kh) * 3 + kw];
                double av = in[((i * cin + c) * H + (size_t)ih) * W + (size_t)iw];
                s += absmode ? fabs(wv * av) : wv * av;
              }
          z[((i * cout + o) * H + h) * W + w] = s;
        }
  size_t hw = H * W, R = n * hw;
  for (size_t o = 0; o < cout; o++) {
    double mu = 0.0, var = 0.0;
    for (size_t i = 0; i < n; i++)
      for (size_t k = 0; k < hw; k++) mu += z[(i * cout + o) * hw + k];
    mu /= (double)R;
    for (size_t i = 0; i < n; i++)
      for (size_t k = 0; k < hw; k++) {
        double e = z[(i * cout + o) * hw + k] - mu;
        var += e * e;
      }
    if (stats != NULL) {
      stats[o] = mu;
      stats[cout + o] = var / (double)(R - 1);
    }
    var /= (double)R;
    if (net->cfg.batch_norm) {
      snprintf(name, sizeof name, "bn%zu.scale", l + 1);
      double g = seg_d(net, p, name)[o];
      snprintf(name, sizeof name, "bn%zu.shift", l + 1);
      double b = seg_d(net, p, name)[o];
      if (eval) {
        mu = net->running_mean[net->bn_off[l] + o];
        var = net->running_var[net->bn_off[l] + o];
      }
      double is = 1.0 / sqrt(var + net->cfg.bn_eps);
      for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < hw; k++) {
          double *v = &z[(i * cout + o) * hw + k];
          *v = absmode ? fabs(g) * is * (*v + fabs(mu)) + fabs(b) : g * (*v - mu) * is + b;
        }
    } else {
      snprintf(name, sizeof name, "conv%zu.bias", l + 1);
      double b = seg_d(net, p, name)[o];
      for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < hw; k++) z[(i * cout + o) * hw + k] += absmode ? fabs(b) : b;
    }
  }
  size_t Ho = H / 2, Wo = W / 2;
  for (size_t i = 0; i < n; i++)
    for (size_t o = 0; o < cout; o++)
      for (size_t ph = 0; ph < Ho; ph++)
        for (size_t pw = 0; pw < Wo; pw++) {
          double m = 0.0; /* ReLU then max = max(0, max of the window) */
          for (size_t dh = 0; dh < 2; dh++)
            for (size_t dw = 0; dw < 2; dw++)
              m = fmax(m, z[((i * cout + o) * H + 2 * ph + dh) * W + 2 * pw + dw]);
          out[((i * cout + o) * Ho + ph) * Wo + pw] = m;
        }
  free(z);
}

/* The CNN's mean cross-entropy at p (double); logits (may be NULL) get the n x classes logits.
 * The flatten is PyTorch's: per image, channel-major (C, H, W).  stats1 / stats2 (may be NULL):
 * ref_block's batch statistics of the two convolutions. */
static double cnn_ref(const valley_mlp_t *net, const double *p, const float *x, const uint8_t *y,
                      size_t n, int eval, int absmode, double *logits, double *stats1,
                      double *stats2) {
  size_t cin = net->cfg.in_channels, H = net->cfg.height, W = net->cfg.width;
  size_t c1 = net->cfg.widths[1], c2 = net->cfg.widths[2], c = net->cfg.widths[3];
  size_t F = c2 * (H / 4) * (W / 4);
  double *a0 = xmalloc(n * cin * H * W * sizeof *a0);
  double *a1 = xmalloc(n * c1 * (H / 2) * (W / 2) * sizeof *a1);
  double *a2 = xmalloc(n * F * sizeof *a2), *z = xmalloc(n * c * sizeof *z);
  for (size_t k = 0; k < n * cin * H * W; k++) a0[k] = absmode ? fabs((double)x[k]) : x[k];
  ref_block(net, p, 0, a0, n, cin, H, W, c1, eval, absmode, a1, stats1);
  ref_block(net, p, 1, a1, n, c1, H / 2, W / 2, c2, eval, absmode, a2, stats2);
  const double *W3 = seg_d(net, p, "fc3.weight"), *b3 = seg_d(net, p, "fc3.bias");
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < c; k++) {
      double s = absmode ? fabs(b3[k]) : b3[k];
      for (size_t f = 0; f < F; f++)
        s += absmode ? fabs(W3[k * F + f] * a2[i * F + f]) : W3[k * F + f] * a2[i * F + f];
      z[i * c + k] = s;
    }
  if (logits != NULL) memcpy(logits, z, n * c * sizeof *z);
  double total = 0.0;
  for (size_t i = 0; i < n && y != NULL; i++) {
    double m = z[i * c];
    for (size_t k = 1; k < c; k++) m = fmax(m, z[i * c + k]);
    double s = 0.0;
    for (size_t k = 0; k < c; k++) s += exp(z[i * c + k] - m);
    total += m + log(s) - z[i * c + y[i]];
  }
  free(a0);
  free(a1);
  free(a2);
  free(z);
  return total / (double)n;
}

/* Random float parameters near init (BN scales/shifts and biases moved off 1/0), random running
 * statistics, inputs in [-1, 1] and labels. */
static void cnn_setup(valley_mlp_t *net, float *p, float *x, uint8_t *y, size_t n,
                      uint64_t seed) {
  valley_mlp_init(net, p, seed);
  valley_pcg32_t rng;
  valley_pcg32_seed(&rng, seed, 6);
  for (size_t k = 0; k < net->n_params; k++) p[k] += (float)(0.2 * (valley_pcg32_double(&rng) - 0.5));
  for (size_t k = 0; k < net->n_buffers / 2; k++) {
    net->running_mean[k] = (float)(0.3 * (valley_pcg32_double(&rng) - 0.5));
    net->running_var[k] = (float)(0.5 + valley_pcg32_double(&rng));
  }
  for (size_t k = 0; k < n * net->cfg.widths[0]; k++)
    x[k] = (float)(2.0 * valley_pcg32_double(&rng) - 1.0);
  for (size_t i = 0; i < n; i++)
    y[i] = (uint8_t)valley_pcg32_bounded(&rng, (uint32_t)net->cfg.widths[3]);
}

/* The CNN's float gradient against central differences of the double reference, with the MLP's
 * tolerance: the float backward's sums here have at most 36 terms per GEMM entry (K = 4 x 9) and
 * per-channel BN sums over 384 rows accumulated in double, so the float gradient's relative error
 * stays at a few hundred units of 2^-24 (< 1e-4); |g - fd| <= 1e-3 |fd| + 1e-4 max|fd| holds with
 * room.  h = 1e-5 in double: truncation O(h^2) ~ 1e-10, rounding ~ 1e-16 / h ~ 1e-11. */
static void cnn_grad_check(check_t *t, const char *label, int bn, valley_net_mode_t mode) {
  const size_t n = 6;
  valley_mlp_t *net = make_cnn(2, 8, 8, 3, 4, 5, bn, 8);
  float *p = xmalloc(net->n_params * sizeof *p), *g = xmalloc(net->n_params * sizeof *g);
  double *pd = xmalloc(net->n_params * sizeof *pd);
  float x[6 * 128];
  uint8_t y[6];
  cnn_setup(net, p, x, y, n, 11);
  valley_error_t err;
  double loss = 0.0;
  valley_status_t st = valley_mlp_batch(net, p, x, y, n, mode, g, &loss, NULL, &err);
  int eval = mode == VALLEY_NET_EVAL;
  for (size_t k = 0; k < net->n_params; k++) pd[k] = p[k];
  double lref = cnn_ref(net, pd, x, y, n, eval, 0, NULL, NULL, NULL);
  double *fd = xmalloc(net->n_params * sizeof *fd), fmax_ = 0.0;
  for (size_t k = 0; k < net->n_params; k++) {
    double h = 1e-5, save = pd[k];
    pd[k] = save + h;
    double lp = cnn_ref(net, pd, x, y, n, eval, 0, NULL, NULL, NULL);
    pd[k] = save - h;
    double lm = cnn_ref(net, pd, x, y, n, eval, 0, NULL, NULL, NULL);
    pd[k] = save;
    fd[k] = (lp - lm) / (2.0 * h);
    if (fabs(fd[k]) > fmax_) fmax_ = fabs(fd[k]);
  }
  grad_verdict(t, label, st, loss, lref, g, fd, net->n_params, fmax_);
  free(fd);
  free(pd);
  free(g);
  free(p);
  valley_mlp_free(net);
}

/* EVAL logits against the double reference, per logit within 256 u M (u = 2^-24, M the same
 * forward on magnitudes): by Higham's bound a K-term float dot product errs by at most
 * gamma_K = K u / (1 - K u) times the sum of the magnitudes; ReLU and max pooling are
 * 1-Lipschitz, BN in EVAL is an affine map of a few roundings; the errors of the three layers add
 * up to (18 + 2) + 5 + (27 + 2) + 5 + (16 + 1) = 76 u M here (K = 2 x 9, 3 x 9, 4 x 2 x 2), and
 * 256 leaves room for the compounding. */
static void cnn_eval_check(check_t *t, int bn) {
  const size_t n = 5;
  valley_mlp_t *net = make_cnn(2, 8, 8, 3, 4, 5, bn, 8);
  float *p = xmalloc(net->n_params * sizeof *p);
  double *pd = xmalloc(net->n_params * sizeof *pd);
  float x[5 * 128];
  uint8_t y[5];
  cnn_setup(net, p, x, y, n, 17);
  for (size_t k = 0; k < net->n_params; k++) pd[k] = p[k];
  valley_error_t err;
  valley_status_t st = valley_mlp_batch(net, p, x, y, n, VALLEY_NET_EVAL, NULL, NULL, NULL, &err);
  double ref[25], mag[25], worst = 0.0;
  cnn_ref(net, pd, x, y, n, 1, 0, ref, NULL, NULL);
  cnn_ref(net, pd, x, NULL, n, 1, 1, mag, NULL, NULL);
  const float *lg = valley_mlp_logits(net);
  int ok = st == VALLEY_OK;
  for (size_t k = 0; k < n * 5; k++) {
    double e = fabs(lg[k] - ref[k]) / (ldexp(1.0, -24) * mag[k]);
    if (!(e <= 256.0)) ok = 0;
    if (e > worst) worst = e;
  }
  check(t, ok, "CNN %s EVAL logits vs the double reference within 256 u M (worst %.2f u M)",
        bn ? "BN" : "no BN", worst);
  free(pd);
  free(p);
  valley_mlp_free(net);
}

static void test_cnn_segments(check_t *t) {
  valley_mlp_t *net = make_cnn(1, 28, 28, 16, 32, 10, 1, 4);
  const valley_net_segment_t *c1 = valley_mlp_segment(net, "conv1.weight");
  const valley_net_segment_t *c2 = valley_mlp_segment(net, "conv2.weight");
  const valley_net_segment_t *f3 = valley_mlp_segment(net, "fc3.weight");
  size_t sum = 0, nw = 0;
  int contiguous = 1;
  for (size_t s = 0; s < net->n_segments; s++) {
    const valley_net_segment_t *g = &net->segments[s];
    size_t len = 1;
    for (size_t d = 0; d < g->ndims; d++) len *= g->shape[d];
    if (g->offset != sum || len != g->length) contiguous = 0;
    sum += g->length;
    nw += g->kind == VALLEY_NET_WEIGHT;
  }
  check(t,
        net->n_segments == 8 && c1 && c2 && f3 && c1->ndims == 4 && c1->shape[0] == 16 &&
            c1->shape[1] == 1 && c1->shape[2] == 3 && c1->shape[3] == 3 && c2->shape[0] == 32 &&
            c2->shape[1] == 16 && f3->ndims == 2 && f3->shape[0] == 10 &&
            f3->shape[1] == 32 * 7 * 7 && valley_mlp_segment(net, "bn2.shift") &&
            valley_mlp_segment(net, "fc3.bias") && !valley_mlp_segment(net, "conv1.bias") &&
            contiguous && sum == net->n_params && nw == 3 && net->n_buffers == 2 * (16 + 32),
        "CNN 16,32 with BN: 8 segments, conv1.weight {16,1,3,3}, fc3.weight {10,1568}, "
        "contiguous, %zu parameters, %zu buffers", net->n_params, net->n_buffers);
  valley_mlp_free(net);
  net = make_cnn(3, 8, 12, 4, 5, 6, 0, 4);
  const valley_net_segment_t *b1 = valley_mlp_segment(net, "conv1.bias");
  check(t, net->n_segments == 6 && b1 && b1->length == 4 && net->n_buffers == 0 &&
            net->n_params == 4 * 27 + 4 + 5 * 36 + 5 + 6 * 5 * 2 * 3 + 6,
        "CNN 3x8x12, 4,5 without BN: conv biases, %zu parameters", net->n_params);
  valley_mlp_free(net);
  /* bad configurations */
  valley_mlp_config_t cfg;
  valley_mlp_config_default(&cfg);
  cfg.arch = VALLEY_ARCH_CNN;
  cfg.n_layers = 3;
  cfg.in_channels = 1;
  cfg.height = 10; /* not divisible by 4 */
  cfg.width = 8;
  cfg.widths[0] = 80;
  cfg.widths[1] = cfg.widths[2] = 2;
  cfg.widths[3] = 3;
  valley_error_t err;
  valley_mlp_t *bad = NULL;
  valley_status_t st = valley_mlp_alloc(&cfg, 4, &bad, &err);
  check(t, st == VALLEY_EINVAL && bad == NULL && strstr(err.message, "divisible by 4"),
        "CNN height 10 rejected: %s", err.message);
  cfg.height = 8;
  cfg.widths[0] = 65;
  st = valley_mlp_alloc(&cfg, 4, &bad, &err);
  check(t, st == VALLEY_EINVAL && strstr(err.message, "widths[0]"), "CNN widths[0] != C H W: %s",
        err.message);
  cfg.widths[0] = 64;
  cfg.n_layers = 2;
  cfg.widths[2] = 3;
  st = valley_mlp_alloc(&cfg, 4, &bad, &err);
  check(t, st == VALLEY_EINVAL && strstr(err.message, "3 layers"), "CNN with 2 layers: %s",
        err.message);
  cfg.n_layers = 3;
  cfg.arch = (valley_arch_t)7;
  st = valley_mlp_alloc(&cfg, 4, &bad, &err);
  check(t, st == VALLEY_EINVAL && strstr(err.message, "architecture"), "arch 7: %s",
        err.message);
}

/* Images (1 x 8 x 8) whose class sets the brightness of one quadrant. */
static void synth_images(valley_dataset_t *ds, size_t n, unsigned classes, uint64_t seed) {
  synth(ds, n, 64, classes, seed);
  ds->rows = 8;
  ds->cols = 8;
  valley_pcg32_t rng;
  valley_pcg32_seed(&rng, seed, 2);
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < 64; k++) {
      size_t q = (k / 8 / 4) * 2 + (k % 8) / 4;
      ds->x[i * 64 + k] =
          (float)(valley_pcg32_double(&rng) * 0.6 + (q == ds->y[i] ? 0.5 : 0.0));
    }
}

/* Same seed -> the same parameter and running-statistics bytes after two epochs, with 1 and 2
 * OpenMP threads; and the training learns. */
static void test_cnn_determinism(check_t *t) {
  valley_dataset_t ds;
  synth_images(&ds, 160, 4, 5);
  float *pp[2] = {NULL, NULL}, *rm[2] = {NULL, NULL}, *rv[2] = {NULL, NULL};
  double acc[2] = {0, 0}, loss0 = 0, loss1[2] = {0, 0};
  size_t np = 0, nb = 0;
  for (int r = 0; r < 2; r++) {
#ifdef _OPENMP
    int saved = omp_get_max_threads();
    omp_set_num_threads(r + 1);
#endif
    valley_mlp_t *net = make_cnn(1, 8, 8, 4, 6, 4, 1, 32);
    np = net->n_params;
    nb = net->n_buffers / 2;
    pp[r] = xmalloc(np * sizeof(float));
    rm[r] = xmalloc(nb * sizeof(float));
    rv[r] = xmalloc(nb * sizeof(float));
    float *v = xmalloc(np * sizeof *v);
    valley_mlp_init(net, pp[r], 9);
    valley_error_t err;
    valley_mlp_evaluate(net, pp[r], &ds, 32, &loss0, NULL, &err);
    valley_sgd_config_t sc;
    valley_sgd_config_default(&sc);
    sc.batch = 20;
    sc.lr = 0.05;
    sc.seed = 9;
    for (size_t e = 0; e < 3; e++)
      if (valley_mlp_train_epoch(net, pp[r], v, &ds, &sc, e, NULL, &err) != VALLEY_OK) {
        fprintf(stderr, "test_net: %s\n", err.message);
        exit(2);
      }
    memcpy(rm[r], net->running_mean, nb * sizeof(float));
    memcpy(rv[r], net->running_var, nb * sizeof(float));
    valley_mlp_evaluate(net, pp[r], &ds, 32, &loss1[r], &acc[r], &err);
    free(v);
    valley_mlp_free(net);
#ifdef _OPENMP
    omp_set_num_threads(saved);
#endif
  }
  check(t,
        memcmp(pp[0], pp[1], np * sizeof(float)) == 0 &&
            memcmp(rm[0], rm[1], nb * sizeof(float)) == 0 &&
            memcmp(rv[0], rv[1], nb * sizeof(float)) == 0 && acc[0] == acc[1],
        "CNN determinism: 1 and 2 OpenMP threads give the same parameter and BN bytes after 3 "
        "epochs");
  check(t, loss1[0] < 0.5 * loss0 && acc[0] > 0.9,
        "CNN learns the synthetic quadrants: loss %.4f -> %.4f, accuracy %.4f", loss0, loss1[0],
        acc[0]);
  for (int r = 0; r < 2; r++) {
    free(pp[r]);
    free(rm[r]);
    free(rv[r]);
  }
  valley_dataset_free(&ds);
}

/* recompute_bn on the CNN: each running statistic equals the batch-size-weighted average of the
 * per-batch means and unbiased variances (over batch x H x W values per channel) that the double
 * reference computes batch by batch (its conv2 statistics after BN1 with that batch's
 * statistics).  Tolerance: the float forward's values carry relative errors of at most a few
 * hundred u (< 1e-4) of their magnitudes through two 3x3 convolutions and one BN, so means agree
 * to 1e-4 of (|mean| + sd) and variances to 1e-4 relative (2 x 1e-4 for the square, with room). */
static void test_cnn_recompute_bn(check_t *t) {
  valley_mlp_t *net = make_cnn(1, 8, 8, 3, 4, 3, 1, 16);
  float *p = xmalloc(net->n_params * sizeof *p);
  valley_mlp_init(net, p, 4);
  double *pd = xmalloc(net->n_params * sizeof *pd);
  for (size_t k = 0; k < net->n_params; k++) pd[k] = p[k];
  valley_dataset_t ds;
  synth_images(&ds, 40, 3, 8); /* batches of 16, 16, 8 */
  valley_error_t err;
  valley_status_t st = valley_mlp_recompute_bn(net, p, &ds, 16, &err);
  double want[2 * (3 + 4)] = {0}, s1[6], s2[8];
  for (size_t i0 = 0; i0 < ds.n; i0 += 16) {
    size_t m = ds.n - i0 < 16 ? ds.n - i0 : 16;
    cnn_ref(net, pd, ds.x + i0 * 64, NULL, m, 0, 0, NULL, s1, s2);
    for (size_t o = 0; o < 3; o++) {
      want[o] += (double)m * s1[o];
      want[7 + o] += (double)m * s1[3 + o];
    }
    for (size_t o = 0; o < 4; o++) {
      want[3 + o] += (double)m * s2[o];
      want[7 + 3 + o] += (double)m * s2[4 + o];
    }
  }
  double worst_m = 0.0, worst_v = 0.0;
  for (size_t k = 0; k < 7; k++) {
    double mu = want[k] / (double)ds.n, var = want[7 + k] / (double)ds.n;
    worst_m = fmax(worst_m, fabs(net->running_mean[k] - mu) / (fabs(mu) + sqrt(var)));
    worst_v = fmax(worst_v, fabs(net->running_var[k] - var) / var);
  }
  check(t, st == VALLEY_OK && worst_m < 1e-4 && worst_v < 1e-4,
        "CNN recompute_bn: 7 channels' running mean and variance equal the weighted batch "
        "statistics (worst rel. %.2g, %.2g)",
        worst_m, worst_v);
  free(pd);
  free(p);
  valley_mlp_free(net);
  valley_dataset_free(&ds);
}

static void test_errors(check_t *t) {
  valley_mlp_config_t cfg;
  valley_mlp_config_default(&cfg);
  valley_mlp_t dummy, *net = &dummy; /* must be set to NULL on failure */
  valley_error_t err;
  valley_status_t st = valley_mlp_alloc(&cfg, 8, &net, &err);
  check(t, st == VALLEY_EINVAL && net == NULL && strstr(err.message, "n_layers") != NULL,
        "alloc with 0 layers: EINVAL (%s)", err.message);
  cfg.n_layers = 2;
  cfg.widths[0] = 4;
  cfg.widths[1] = 0;
  cfg.widths[2] = 3;
  st = valley_mlp_alloc(&cfg, 8, &net, &err);
  check(t, st == VALLEY_EINVAL && strstr(err.message, "widths[1]") != NULL,
        "alloc with a zero width: EINVAL (%s)", err.message);
  cfg.widths[1] = 5;
  cfg.bn_eps = 0.0;
  cfg.batch_norm = 1;
  st = valley_mlp_alloc(&cfg, 8, &net, &err);
  check(t, st == VALLEY_EINVAL, "alloc with BN eps 0: EINVAL (%s)", err.message);
  cfg.bn_eps = 1e-5;
  st = valley_mlp_alloc(&cfg, 0, &net, &err);
  check(t, st == VALLEY_EINVAL, "alloc with max_batch 0: EINVAL (%s)", err.message);
  st = valley_mlp_alloc(&cfg, 8, &net, &err);
  float *p = xmalloc(net->n_params * sizeof *p);
  valley_mlp_init(net, p, 1);
  float x[9 * 4] = {0};
  uint8_t y[9] = {0};
  valley_status_t s1 =
      valley_mlp_batch(net, p, x, y, 9, VALLEY_NET_TRAIN, NULL, NULL, NULL, &err);
  int m1 = strstr(err.message, "max_batch") != NULL;
  y[2] = 3;
  valley_status_t s2 = valley_mlp_batch(net, p, x, y, 4, VALLEY_NET_EVAL, NULL, NULL, NULL, &err);
  int m2 = strstr(err.message, "label 3") != NULL;
  check(t, st == VALLEY_OK && s1 == VALLEY_EINVAL && m1 && s2 == VALLEY_EINVAL && m2,
        "batch over max_batch and label >= classes: EINVAL (%s)", err.message);
  valley_dataset_t ds;
  synth(&ds, 10, 6, 3, 1);
  valley_sgd_config_t sc;
  valley_sgd_config_default(&sc);
  sc.batch = 4;
  float v[64] = {0};
  s1 = valley_mlp_train_epoch(net, p, v, &ds, &sc, 0, NULL, &err);
  m1 = strstr(err.message, "6 features") != NULL;
  valley_dataset_free(&ds);
  synth(&ds, 10, 4, 3, 1);
  s2 = valley_mlp_train_epoch(net, p, NULL, &ds, &sc, 0, NULL, &err);
  m2 = strstr(err.message, "velocity") != NULL;
  sc.lr = -1.0;
  valley_status_t s3 = valley_mlp_train_epoch(net, p, v, &ds, &sc, 0, NULL, &err);
  check(t, s1 == VALLEY_EINVAL && m1 && s2 == VALLEY_EINVAL && m2 && s3 == VALLEY_EINVAL,
        "train_epoch: wrong dimension, momentum without velocity, negative lr: EINVAL (%s)",
        err.message);
  sc.lr = 0.1;
  sc.schedule = VALLEY_LR_STEP;
  sc.step_every = 2;
  sc.step_gamma = 0.5;
  check(t, valley_sgd_lr(&sc, 0) == 0.1 && valley_sgd_lr(&sc, 1) == 0.1 &&
               valley_sgd_lr(&sc, 2) == 0.05 && valley_sgd_lr(&sc, 5) == 0.025,
        "step schedule: 0.1 0.1 0.05 ... 0.025 at epoch 5");
  check(t, strcmp(valley_net_kind_name(VALLEY_NET_BN_SHIFT), "bn-shift") == 0 &&
               strcmp(valley_net_kind_name((valley_net_kind_t)9), "unknown") == 0,
        "kind names");
  valley_dataset_free(&ds);
  free(p);
  valley_mlp_free(net);
}

/* ---- Fashion-MNIST -------------------------------------------------------------------------- */

static void test_fashion(check_t *t) {
  char path[512];
  snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", VALLEY_FASHION_MNIST_DIR);
  if (access(path, R_OK) != 0) {
    printf("skip: %s absent (Debian package dataset-fashion-mnist): no Fashion-MNIST training\n",
           VALLEY_FASHION_MNIST_DIR);
    return;
  }
  valley_dataset_t full_train, full_test, train, test;
  valley_error_t err;
  if (valley_dataset_load_fashion_mnist(NULL, "train", &full_train, &err) != VALLEY_OK ||
      valley_dataset_load_fashion_mnist(NULL, "test", &full_test, &err) != VALLEY_OK ||
      valley_dataset_subset(&full_train, 5000, 1, &train, &err) != VALLEY_OK ||
      valley_dataset_subset(&full_test, 1000, 2, &test, &err) != VALLEY_OK) {
    check(t, 0, "Fashion-MNIST load: %s", err.message);
    return;
  }
  valley_dataset_free(&full_train);
  valley_dataset_free(&full_test);
  const size_t widths[] = {784, 128, 10};
  for (int bn = 0; bn <= 1; bn++) {
    valley_mlp_t *net = make_net(2, widths, bn, 64);
    float *p = xmalloc(net->n_params * sizeof *p), *v = xmalloc(net->n_params * sizeof *v);
    float *avg = xmalloc(net->n_params * sizeof *avg);
    valley_mlp_init(net, p, 42);
    valley_sgd_config_t sc;
    valley_sgd_config_default(&sc);
    sc.batch = 64;
    sc.lr = 0.05;
    sc.seed = 42;
    double loss = 0.0, acc = 0.0, swa_acc = 0.0, tl = 0.0;
    valley_status_t st = VALLEY_OK;
    for (size_t e = 0; e < 3 && st == VALLEY_OK; e++) {
      st = valley_mlp_train_epoch(net, p, v, &train, &sc, e, &tl, &err);
      if (st == VALLEY_OK) valley_swa_update(avg, p, net->n_params, e);
    }
    if (st == VALLEY_OK) st = valley_mlp_evaluate(net, p, &test, 64, &loss, &acc, &err);
    if (st == VALLEY_OK) st = valley_mlp_recompute_bn(net, avg, &train, 64, &err);
    if (st == VALLEY_OK) st = valley_mlp_evaluate(net, avg, &test, 64, NULL, &swa_acc, &err);
    check(t, st == VALLEY_OK && acc > 0.75 && swa_acc > 0.75,
          "Fashion-MNIST 5000/1000, 784-128-10%s, 3 epochs SGD(0.05, momentum 0.9): train loss "
          "%.4f, test loss %.4f, accuracy %.4f, SWA(3 epochs) %.4f (want > 0.75) %s",
          bn ? " BN" : "", tl, loss, acc, swa_acc, st == VALLEY_OK ? "" : err.message);
    free(avg);
    free(v);
    free(p);
    valley_mlp_free(net);
  }
  valley_dataset_free(&train);
  valley_dataset_free(&test);
}

int main(void) {
  check_t t = {0, 0};
  test_segments(&t, 0);
  test_segments(&t, 1);
  grad_check(&t, "MLP 7-6-5-4", 0, VALLEY_NET_TRAIN);
  grad_check(&t, "MLP 7-6-5-4 BN (train)", 1, VALLEY_NET_TRAIN);
  grad_check(&t, "MLP 7-6-5-4 BN (eval)", 1, VALLEY_NET_EVAL);
  test_softmax(&t);
  test_determinism(&t);
  test_swa_bn(&t);
  test_errors(&t);
  test_cnn_segments(&t);
  cnn_grad_check(&t, "CNN 2x8x8 3,4 -> 5", 0, VALLEY_NET_TRAIN);
  cnn_grad_check(&t, "CNN 2x8x8 3,4 -> 5 BN (train)", 1, VALLEY_NET_TRAIN);
  cnn_grad_check(&t, "CNN 2x8x8 3,4 -> 5 BN (eval)", 1, VALLEY_NET_EVAL);
  cnn_eval_check(&t, 0);
  cnn_eval_check(&t, 1);
  test_cnn_determinism(&t);
  test_cnn_recompute_bn(&t);
  test_fashion(&t);
  return check_done(&t);
}
