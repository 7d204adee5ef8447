/* Directions in MLP parameter space (Gaussian, filter-normalized as Li et al. 2018, whole-vector
 * normalized and sign-consistent as the asymmetric-valley talk 2024, uniform on [0, 1] as
 * He, Huang, Yuan 2019 Sec. 3.2, BN-only / non-BN, the line between two solutions) and the probe
 * kernel: train/test loss and accuracy along theta + l u for a grid of l and a set of u, with the
 * first layer computed once per batch as X W^T + l X U^T.  docs/directions.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#ifdef VALLEY_HAVE_OPENMP
#include <omp.h>
#endif

#include "cnn_internal.h"
#include "valley/direction.h"
#include "valley/pcg.h"
#include "probe_internal.h"

static const char *const family_names[] = {"gaussian", "filter", "whole", "uniform",
                                           "sign",     "bn",     "non-bn"};
VALLEY_NAME_FUNCS(valley_dir_family_parse, valley_dir_family_name, valley_dir_family_t,
                  family_names)

valley_status_t valley_dir_config_family(valley_dir_family_t family, valley_dir_config_t *cfg,
                                         valley_error_t *err) {
  memset(cfg, 0, sizeof *cfg);
  cfg->dist = VALLEY_DIR_GAUSSIAN;
  cfg->support = VALLEY_DIR_SUPPORT_ALL;
  cfg->norm = VALLEY_DIR_NORM_THETA;
  switch (family) {
    case VALLEY_DIR_FAMILY_GAUSSIAN: cfg->norm = VALLEY_DIR_NORM_NONE; break;
    case VALLEY_DIR_FAMILY_FILTER: cfg->norm = VALLEY_DIR_NORM_FILTER; break;
    case VALLEY_DIR_FAMILY_WHOLE: break;
    case VALLEY_DIR_FAMILY_UNIFORM: cfg->dist = VALLEY_DIR_UNIFORM01; break;
    case VALLEY_DIR_FAMILY_SIGN: cfg->sign_consistent = 1; break;
    case VALLEY_DIR_FAMILY_BN: cfg->support = VALLEY_DIR_SUPPORT_BN; break;
    case VALLEY_DIR_FAMILY_NON_BN: cfg->support = VALLEY_DIR_SUPPORT_NON_BN; break;
    default: return VALLEY_ERROR(err, VALLEY_EINVAL, "unknown direction family %d", (int)family);
  }
  return VALLEY_OK;
}

static int is_bn(valley_net_kind_t k) {
  return k == VALLEY_NET_BN_SCALE || k == VALLEY_NET_BN_SHIFT;
}

static int in_support(valley_dir_support_t s, valley_net_kind_t k) {
  return s == VALLEY_DIR_SUPPORT_ALL || (s == VALLEY_DIR_SUPPORT_BN) == is_bn(k);
}

/* u[0..n-1] *= target / ||u|| (double norms); left alone when ||u|| = 0. */
static void scale_to(float *u, size_t n, double target) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += (double)u[i] * u[i];
  if (!(s > 0.0)) return;
  double f = target / sqrt(s);
  for (size_t i = 0; i < n; i++) u[i] = (float)((double)u[i] * f);
}

static double norm2(const float *x, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
  return s;
}

valley_status_t valley_direction(const valley_mlp_t *net, const float *theta,
                                 const valley_dir_config_t *cfg, uint64_t seed, uint64_t index,
                                 float *u, valley_error_t *err) {
  if ((unsigned)cfg->dist > VALLEY_DIR_UNIFORM01 ||
      (unsigned)cfg->support > VALLEY_DIR_SUPPORT_NON_BN ||
      (unsigned)cfg->norm > VALLEY_DIR_NORM_THETA)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "direction config: dist %d, support %d, norm %d",
                        (int)cfg->dist, (int)cfg->support, (int)cfg->norm);
  valley_pcg32_t rng;
  valley_pcg32_seed(&rng, seed, VALLEY_DIRECTION_STREAM + index);
  size_t n = net->n_params;
  const double two_pi = 6.283185307179586476925286766559;
  for (size_t k = 0; k < n; k++) {
    if (cfg->dist == VALLEY_DIR_GAUSSIAN) {
      double u1 = valley_pcg32_open01(&rng), u2 = valley_pcg32_open01(&rng);
      u[k] = (float)(sqrt(-2.0 * log(u1)) * cos(two_pi * u2));
    } else {
      u[k] = (float)(valley_pcg32_next(&rng) >> 8) * (1.0f / 16777216.0f);
    }
  }
  if (cfg->sign_consistent)
    for (size_t k = 0; k < n; k++) {
      float a = fabsf(u[k]);
      u[k] = theta[k] > 0.0f ? a : theta[k] < 0.0f ? -a : 0.0f;
    }
  double theta2 = 0.0;
  for (size_t s = 0; s < net->n_segments; s++) {
    const valley_net_segment_t *seg = &net->segments[s];
    if (!in_support(cfg->support, seg->kind)) {
      memset(u + seg->offset, 0, seg->length * sizeof *u);
      continue;
    }
    theta2 += norm2(theta + seg->offset, seg->length);
    if (cfg->norm != VALLEY_DIR_NORM_FILTER) continue;
    /* Li et al. 2018: a filter is what one output unit or channel reads: one row of a linear
     * weight {out, in}, one {in, 3, 3} block of a conv weight {out, in, 3, 3}; a bias or BN
     * segment is normalized as a whole. */
    size_t rows = seg->ndims >= 2 ? seg->shape[0] : 1;
    size_t cols = seg->length / rows;
    for (size_t r = 0; r < rows; r++) {
      size_t o = seg->offset + r * cols;
      scale_to(u + o, cols, sqrt(norm2(theta + o, cols)));
    }
  }
  if (cfg->norm == VALLEY_DIR_NORM_UNIT) scale_to(u, n, 1.0);
  if (cfg->norm == VALLEY_DIR_NORM_THETA) scale_to(u, n, sqrt(theta2));
  return VALLEY_OK;
}

void valley_direction_line(size_t n, const float *theta_a, const float *theta_b, float *u) {
  for (size_t k = 0; k < n; k++) u[k] = theta_b[k] - theta_a[k];
}

/* ---- probe ---------------------------------------------------------------------------------- */

#define PROBE_CHUNK VALLEY_PROBE_CHUNK /* directions sharing one stacked first-layer GEMM */

void valley_probe_config_default(valley_probe_config_t *cfg) {
  cfg->batch = 512;
  cfg->split_first = 1;
}

typedef struct {
  const valley_mlp_t *net;
  const float *theta;
  const float *const *dirs;
  const double *grid;
  size_t n_grid;
  int split;
  size_t first_end;   /* parameters [w_off[0], first_end) are the first weight */
  const float *invstd; /* per BN feature, as valley_mlp_batch's EVAL mode computes it */
  const float *z0;     /* split: m x d1, X W0^T */
  const float *zs;     /* split: m x chunk d1, X [U_0; U_1; ...]^T */
  size_t zs_ld;
  size_t wmax;
  float *ws;           /* per thread: n_params + 2 max_rows wmax floats */
  size_t ws_stride;
} probe_ctx_t;

static int layer_bn(const valley_mlp_t *net, size_t l) {
  return net->cfg.batch_norm && l + 1 < net->cfg.n_layers;
}

/* The bias / EVAL-mode BN and the ReLU of layer l on z (m x d), in place, with the same float
 * operations as valley_mlp_batch in EVAL mode. */
static void post_layer(const probe_ctx_t *c, size_t l, const float *pp, float *z, size_t m) {
  const valley_mlp_t *net = c->net;
  size_t d = net->cfg.widths[l + 1];
  if (layer_bn(net, l)) {
    const float *rm = net->running_mean + net->bn_off[l], *inv = c->invstd + net->bn_off[l];
    const float *gamma = pp + net->g_off[l], *beta = pp + net->s_off[l];
    for (size_t i = 0; i < m; i++)
      for (size_t j = 0; j < d; j++) {
        float xh = (z[i * d + j] - (float)(double)rm[j]) * inv[j];
        float yv = gamma[j] * xh + beta[j];
        z[i * d + j] = yv > 0.0f ? yv : 0.0f;
      }
  } else {
    const float *b = pp + net->b_off[l];
    int relu = l + 1 < net->cfg.n_layers;
    for (size_t i = 0; i < m; i++)
      for (size_t j = 0; j < d; j++) {
        float v = z[i * d + j] + b[j];
        z[i * d + j] = relu && v < 0.0f ? 0.0f : v;
      }
  }
}

/* Point p of the chunk starting at direction d0 on rows x[0..m-1]: the summed cross-entropy
 * and the number right. */
static void probe_point(const probe_ctx_t *c, size_t d0, size_t p, const float *x,
                        const uint8_t *y, size_t m, int tid, double *loss_sum, size_t *right) {
  const valley_mlp_t *net = c->net;
  size_t L = net->cfg.n_layers, dl = p / c->n_grid, g = p % c->n_grid;
  const float *u = c->dirs[d0 + dl], *th = c->theta;
  float lf = (float)c->grid[g];
  float *pp = c->ws + (size_t)tid * c->ws_stride;
  float *a = pp + net->n_params, *b = a + m * c->wmax;
  size_t np = net->n_params, w0 = net->w_off[0];
  size_t skip_end = c->split ? c->first_end : w0;
  for (size_t k = 0; k < w0; k++) pp[k] = th[k] + lf * u[k];
  for (size_t k = skip_end; k < np; k++) pp[k] = th[k] + lf * u[k];
  if (net->cfg.arch == VALLEY_ARCH_CNN) {
    /* no split (skip_end = w0 above): the whole EVAL forward with this thread's workspace */
    float *logits = pp + np, *cws = logits + m * net->cfg.widths[L];
    valley_cnn_eval_forward(net, pp, c->invstd, x, m, cws, logits);
    size_t ok = 0;
    double total = valley_softmax_xent(logits, m, net->cfg.widths[L], y, 1.0f, NULL, &ok);
    *loss_sum += total / (double)m * (double)m;
    *right += ok;
    return;
  }
  size_t d0w = net->cfg.widths[0], d1 = net->cfg.widths[1];
  if (c->split) {
    const float *z0 = c->z0, *zu = c->zs + dl * d1;
    for (size_t i = 0; i < m; i++)
      for (size_t j = 0; j < d1; j++)
        a[i * d1 + j] = z0[i * d1 + j] + lf * zu[i * c->zs_ld + j];
  } else {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)d1, (int)d0w, 1.0f, x,
                (int)d0w, pp + w0, (int)d0w, 0.0f, a, (int)d1);
  }
  post_layer(c, 0, pp, a, m);
  for (size_t l = 1; l < L; l++) {
    size_t din = net->cfg.widths[l], dout = net->cfg.widths[l + 1];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)dout, (int)din, 1.0f, a,
                (int)din, pp + net->w_off[l], (int)din, 0.0f, b, (int)dout);
    post_layer(c, l, pp, b, m);
    float *t = a;
    a = b;
    b = t;
  }
  size_t ok = 0;
  double total = valley_softmax_xent(a, m, net->cfg.widths[L], y, 1.0f, NULL, &ok);
  /* as valley_mlp_evaluate: the batch mean times the batch size */
  *loss_sum += total / (double)m * (double)m;
  *right += ok;
}

static void probe_set(probe_ctx_t *c, size_t n_dirs, const valley_dataset_t *ds, size_t batch,
                      float *wst, float *z0, float *zs, double *loss, size_t *right) {
  const valley_mlp_t *net = c->net;
  size_t G = c->n_grid, d0w = net->cfg.widths[0], d1 = net->cfg.widths[1];
  for (size_t c0 = 0; c0 < n_dirs; c0 += PROBE_CHUNK) {
    size_t dc = n_dirs - c0 < PROBE_CHUNK ? n_dirs - c0 : PROBE_CHUNK;
    if (c->split) {
      size_t wlen = d1 * d0w;
      for (size_t d = 0; d < dc; d++)
        memcpy(wst + d * wlen, c->dirs[c0 + d] + net->w_off[0], wlen * sizeof *wst);
      c->zs_ld = dc * d1;
    }
    for (size_t i0 = 0; i0 < ds->n; i0 += batch) {
      size_t m = ds->n - i0 < batch ? ds->n - i0 : batch;
      const float *x = ds->x + i0 * d0w;
      const uint8_t *y = ds->y + i0;
      /* X W0^T alone, with the shape valley_mlp_batch uses (so l = 0 reproduces it bit for
       * bit), then X [U_0; U_1; ...]^T in one GEMM for the chunk's directions */
      if (c->split) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)d1, (int)d0w, 1.0f, x,
                    (int)d0w, c->theta + net->w_off[0], (int)d0w, 0.0f, z0, (int)d1);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)m, (int)c->zs_ld, (int)d0w,
                    1.0f, x, (int)d0w, wst, (int)d0w, 0.0f, zs, (int)c->zs_ld);
      }
      c->z0 = z0;
      c->zs = zs;
      size_t npts = dc * G;
      const probe_ctx_t *cc = c;
      double *lo = loss + c0 * G;
      size_t *ri = right + c0 * G;
      /* Each point is computed whole by one thread with the same operations, and its sums run
       * over the batches in order: the result does not depend on the thread count. */
#ifdef VALLEY_HAVE_OPENMP
#pragma omp parallel for schedule(static) default(none) firstprivate(cc, c0, x, y, m, npts, lo, ri)
#endif
      for (size_t p = 0; p < npts; p++) {
        int tid = 0;
#ifdef VALLEY_HAVE_OPENMP
        tid = omp_get_thread_num();
#endif
        probe_point(cc, c0, p, x, y, m, tid, &lo[p], &ri[p]);
      }
    }
  }
}

valley_status_t valley_probe(const valley_mlp_t *net, const float *theta, size_t n_dirs,
                             const float *const *dirs, size_t n_grid, const double *grid,
                             const valley_dataset_t *train, const valley_dataset_t *test,
                             const valley_probe_config_t *cfg, valley_prof_t *out,
                             valley_error_t *err) {
  valley_status_t st = valley_probe_check_args(net, n_dirs, n_grid, grid, cfg->batch, train,
                                               test, out, err);
  if (st != VALLEY_OK) return st;

  size_t L = net->cfg.n_layers, wmax = 0, batch = cfg->batch;
  for (size_t l = 1; l <= L; l++)
    if (net->cfg.widths[l] > wmax) wmax = net->cfg.widths[l];
  size_t mx = train->n > test->n ? train->n : test->n;
  if (batch > mx) batch = mx;
  int nth = 1;
#ifdef VALLEY_HAVE_OPENMP
  nth = omp_get_max_threads();
#endif
  size_t d0w = net->cfg.widths[0], d1 = net->cfg.widths[1], np = n_dirs * n_grid;
  size_t chunk = n_dirs < PROBE_CHUNK ? n_dirs : PROBE_CHUNK;
  int cnn = net->cfg.arch == VALLEY_ARCH_CNN;
  int split = cfg->split_first && !cnn; /* the CNN has no first-layer decomposition */
  size_t stride = net->n_params + (cnn ? batch * net->cfg.widths[L] +
                                             valley_cnn_eval_ws_floats(net, batch)
                                       : 2 * batch * wmax);
  stride += (16 - stride % 16) % 16; /* 64-byte spacing between thread workspaces */
  size_t nbuf = net->n_buffers / 2;
  size_t nwst = split ? chunk * d1 * d0w : 0;
  size_t nzs = split ? batch * (chunk + 1) * d1 : 0; /* X W0^T, then X U^T */
  float *ws = malloc(((size_t)nth * stride + nwst + nzs + nbuf + 1) * sizeof *ws);
  double *loss = calloc(2 * np, sizeof *loss);
  size_t *right = calloc(2 * np, sizeof *right);
  if (ws == NULL || loss == NULL || right == NULL) {
    free(ws);
    free(loss);
    free(right);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "probe workspace for %d threads", nth);
  }
  float *wst = ws + (size_t)nth * stride, *zs = wst + nwst, *invstd = zs + nzs;
  for (size_t k = 0; k < nbuf; k++)
    invstd[k] = (float)(1.0 / sqrt((double)net->running_var[k] + net->cfg.bn_eps));

  probe_ctx_t c;
  memset(&c, 0, sizeof c);
  c.net = net;
  c.theta = theta;
  c.dirs = dirs;
  c.grid = grid;
  c.n_grid = n_grid;
  c.split = split;
  c.first_end = net->w_off[0] + d1 * d0w;
  c.invstd = invstd;
  c.wmax = wmax;
  c.ws = ws;
  c.ws_stride = stride;
  float *z0 = zs + (split ? batch * chunk * d1 : 0);
  probe_set(&c, n_dirs, train, batch, wst, z0, zs, loss, right);
  probe_set(&c, n_dirs, test, batch, wst, z0, zs, loss + np, right + np);

  st = valley_probe_fill(n_dirs, n_grid, grid, loss, right, train->n, test->n, out, err);
  free(ws);
  free(loss);
  free(right);
  return st;
}

static valley_status_t check_set(const valley_mlp_t *net, const valley_dataset_t *ds,
                                 const char *what, valley_error_t *err) {
  if (ds == NULL || ds->n < 1)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%s set is missing or empty", what);
  if (ds->dim != net->cfg.widths[0])
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%s set has %zu features, the network %zu inputs",
                        what, ds->dim, net->cfg.widths[0]);
  size_t c = net->cfg.widths[net->cfg.n_layers];
  for (size_t i = 0; i < ds->n; i++)
    if (ds->y[i] >= c)
      return VALLEY_ERROR(err, VALLEY_EINVAL, "%s label %u of example %zu is not below %zu",
                          what, (unsigned)ds->y[i], i, c);
  return VALLEY_OK;
}

valley_status_t valley_probe_check_args(const valley_mlp_t *net, size_t n_dirs, size_t n_grid,
                                        const double *grid, size_t batch,
                                        const valley_dataset_t *train,
                                        const valley_dataset_t *test, valley_prof_t *out,
                                        valley_error_t *err) {
  for (size_t d = 0; d < n_dirs; d++) memset(&out[d], 0, sizeof out[d]);
  if (n_dirs < 1 || n_grid < 1)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%zu directions, %zu grid points (want >= 1 each)",
                        n_dirs, n_grid);
  if (batch < 1 || batch > ((size_t)1 << 20))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "batch %zu is outside 1..2^20", batch);
  for (size_t g = 0; g < n_grid; g++)
    if (!isfinite(grid[g]) || (g > 0 && !(grid[g] > grid[g - 1])))
      return VALLEY_ERROR(err, VALLEY_EINVAL, "grid[%zu] = %g: want finite, strictly increasing",
                          g, grid[g]);
  valley_status_t st = check_set(net, train, "train", err);
  if (st == VALLEY_OK) st = check_set(net, test, "test", err);
  return st;
}

valley_status_t valley_probe_fill(size_t n_dirs, size_t n_grid, const double *grid,
                                  const double *loss, const size_t *right, size_t n_train,
                                  size_t n_test, valley_prof_t *out, valley_error_t *err) {
  size_t np = n_dirs * n_grid;
  valley_status_t st = VALLEY_OK;
  for (size_t d = 0; d < n_dirs && st == VALLEY_OK; d++) {
    valley_prof_t *p = &out[d];
    p->n = n_grid;
    p->l = malloc(n_grid * sizeof *p->l);
    p->train = malloc(n_grid * sizeof *p->train);
    p->test = malloc(n_grid * sizeof *p->test);
    p->train_acc = malloc(n_grid * sizeof *p->train_acc);
    p->test_acc = malloc(n_grid * sizeof *p->test_acc);
    if (!p->l || !p->train || !p->test || !p->train_acc || !p->test_acc) {
      st = VALLEY_ERROR(err, VALLEY_ENOMEM, "profile of %zu points", n_grid);
      break;
    }
    for (size_t g = 0; g < n_grid; g++) {
      size_t k = d * n_grid + g;
      p->l[g] = grid[g];
      p->train[g] = loss[k] / (double)n_train;
      p->test[g] = loss[np + k] / (double)n_test;
      p->train_acc[g] = (double)right[k] / (double)n_train;
      p->test_acc[g] = (double)right[np + k] / (double)n_test;
      if (!isfinite(p->train[g]) || !isfinite(p->test[g])) { /* never a NaN in a profile */
        double bad = !isfinite(p->train[g]) ? p->train[g] : p->test[g];
        st = VALLEY_ERROR(err, VALLEY_ENUMERIC,
                          "the %s loss at l = %g along direction %zu is %s: the perturbed "
                          "weights or the activations overflow a float (narrow the grid); "
                          "numerical failure, no profile",
                          !isfinite(p->train[g]) ? "train" : "test", grid[g], d,
                          isnan(bad) ? "NaN" : "infinite");
        break;
      }
    }
  }
  if (st != VALLEY_OK)
    for (size_t d = 0; d < n_dirs; d++) valley_prof_free(&out[d]);
  return st;
}
