/* thm2-real (issue 6; docs/exp_thm2-real.md): He, Huang, Yuan (2019) Sec. 5.2 and Figure 6, with
 * Theorem 2 of Sec. 5.1: projected onto a fixed asymmetric direction u, the loss along the SGD
 * trajectory is stable, and Theorem 2's 1-D SGD on that profile predicts SWA's bias to the flat
 * side.
 *
 * Per training seed: the BN MLP is trained by plain SGD (momentum 0 and weight decay 0: Theorem
 * 2's process w <- w - eta (grad + noise)) at a constant lr, with SWA over the epochs
 * swa_start..epochs (every epoch); every epoch's iterate is kept.  At the final iterate w_T a pool
 * of "whole" directions (Gaussian), each scaled to unit norm so l is a Euclidean distance and the
 * 1-D learning rate is the network's lr, is probed on l in [-L, L] (L from the shared pilot: the
 * smallest rung where the train loss rises >= 1 nat on both sides, converted to unit norm);
 * Definition 1 (valley_prof_def1, r_min as in shift-gap) on these (EVAL-mode) train profiles ranks
 * them by c_conservative and the most asymmetric one is u.
 *
 * Stability (Figure 6): the profile L(w_t + l u) on the coarse grid at every curve epoch t; each
 * curve aligned at its minimum (grid index) and compared with the final curve on the overlapping
 * offsets: RMS and max difference relative to the final curve's range there; the minimum's
 * position <w_t - w_T, u> + l*_t and the secant slopes at L/2 on either side of it.
 *
 * Gradient noise along u at w_T: <g_b, u> - mean_b <g_b, u> over the full minibatches of
 * `noise_passes` shuffles, in TRAIN mode (batch statistics, as SGD sees them); the 1-D noise is a
 * truncated normal with sigma = their sd and nu = their largest |deviation|.
 *
 * Prediction: the loss SGD descends along u is the TRAIN-mode (batch-statistics) loss, not the
 * EVAL-mode one of the probes (with BN the two differ, and only the former's slope matches the
 * mean minibatch gradient); it is sampled at w_T + l u, averaged over the full batches of one
 * fixed shuffle, on three grids: the coarse one, a fine one (step h / 5, +-2h around the coarse
 * minimum) and a micro one (21 points, half-width min(4 eta sigma sqrt(steps), h / 5), the scale
 * on which SGD moves along u, around the parabola vertex at the minimum).  Definition 1 on the
 * coarse TRAIN-mode profile gives the flat side (the EVAL one when it finds no window).  A TABLE
 * valley (Steffen spline) of all samples, shifted so the minimum is w = 0 and flipped so the flat
 * side is w >= 0, runs valley_sgd1d_run at eta = lr from w = 0 for as many steps as the network's
 * SGD took (burn-in: the steps before the SWA window): the predicted bias is the mean over chains
 * of each chain's averaged iterate (mean, se over chains), in l units, + = flat side.
 * Diagnostic (not in the verdict): the same process started where SGD was before the SWA window
 * and averaged over the window ("transient").
 *
 * Actual: b = side (<theta_swa - w_T, u> - l_min), l_min the least TRAIN-mode sample at w_T; also
 * the same from the mean of the kept SWA-window iterates (what SWA averages; equal up to
 * rounding).  Over seeds: mean and se, 95 % intervals with Student's t (S - 1 degrees of freedom).
 *
 * Verdict (fixed before any run):
 *   stable    <=> mean over seeds of the largest relative RMS shape difference among the late
 *                 curves (SWA-window epochs before the last) <= 0.1;
 *   P, A      = mean over seeds of the predicted and of the actual bias b (SWA), with t intervals;
 *   reproduced     : stable, P's and A's intervals both > 0, and A / P in [1/3, 3];
 *   not reproduced : not stable, or A's interval < 0 (SWA significantly on the sharp side), or P's
 *                    interval > 0 and A's interval entirely outside [P / 3, 3 P];
 *   inconclusive   : otherwise.
 * Theorem 2's own assumptions on the measured profile (slopes' signs and bounds per side, c, nu vs
 * a+) are reported, not judged. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "experiments_internal.h"
#include "valley/pcg.h"
#include "valley/sgd1d.h"
#include "valley/valley1d.h"

#define T2_RISE 1.0
#define T2_PILOT_INDEX UINT64_C(1000000)
#define T2_STABLE 0.1 /* late curves' relative RMS shape difference at most this: stable */
#define T2_BAND 3.0   /* A / P in [1 / band, band] */
#define T2_FINE_DIV 5 /* fine grid step h / 5 */
#define T2_MICRO_HALF 10 /* micro grid: 2 * 10 + 1 points */

typedef struct {
  size_t n_train, n_test, epochs, swa_start, batch, width, seeds, pool, half_points, fine_half,
      noise_passes, chains, curve_every;
  double lr;
} t2_settings_t;

static void t2_settings(int full, t2_settings_t *s) {
  memset(s, 0, sizeof *s);
  s->batch = 128;
  s->lr = 0.05;
  s->fine_half = 2 * T2_FINE_DIV; /* [l* - 2h, l* + 2h] */
  if (full) {
    s->n_train = 8000;
    s->n_test = 1000;
    s->width = 256;
    s->epochs = 20;
    s->swa_start = 11;
    s->seeds = 3;
    s->pool = 6;
    s->half_points = 20;
    s->noise_passes = 4;
    s->chains = 1024;
    s->curve_every = 3;
  } else {
    s->n_train = 1000;
    s->n_test = 200;
    s->width = 32;
    s->batch = 64;
    s->epochs = 6;
    s->swa_start = 4;
    s->seeds = 2;
    s->pool = 3;
    s->half_points = 12;
    s->noise_passes = 2;
    s->chains = 128;
    s->curve_every = 1;
  }
}

/* The kept iterates: one model per epoch. */
typedef struct {
  size_t n;
  valley_exp_model_t *m;
} t2_keep_t;

static valley_status_t t2_on_epoch(void *ctx, size_t epoch, const valley_exp_model_t *sgd,
                                   double mean_loss, valley_error_t *err) {
  (void)mean_loss;
  t2_keep_t *k = ctx;
  if (epoch >= k->n) return VALLEY_ERROR(err, VALLEY_EINVAL, "thm2-real: epoch %zu of %zu", epoch, k->n);
  return valley_exp_model_copy(sgd, sgd->theta, &k->m[epoch], err);
}

static double t2_dot(const float *a, const float *b, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
  return s;
}

/* <a - b, u> in double. */
static double t2_proj_diff(const float *a, const float *b, const float *u, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += ((double)a[i] - b[i]) * u[i];
  return s;
}

/* Work buffers for the minibatch passes at w_T. */
typedef struct {
  size_t *perm;  /* n_train */
  float *xb, *g, *theta; /* batch * dim, n_params, n_params */
  uint8_t *yb;   /* batch */
} t2_work_t;

/* perm <- a Fisher-Yates shuffle of 0..n-1 by PCG32(seed, pass). */
static void t2_perm(uint64_t seed, uint64_t pass, size_t n, size_t *perm) {
  valley_pcg32_t rng;
  valley_pcg32_seed(&rng, seed, pass);
  for (size_t i = 0; i < n; i++) perm[i] = i;
  for (size_t i = n - 1; i > 0; i--) {
    size_t j = valley_pcg32_bounded(&rng, (uint32_t)(i + 1));
    size_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
}

static void t2_gather(const valley_dataset_t *ds, const size_t *perm, size_t b, size_t batch,
                      t2_work_t *w) {
  for (size_t k = 0; k < batch; k++) {
    size_t row = perm[b * batch + k];
    memcpy(w->xb + k * ds->dim, ds->x + row * ds->dim, ds->dim * sizeof *w->xb);
    w->yb[k] = ds->y[row];
  }
}

/* Projected minibatch gradients <g_b, u> at m in TRAIN mode (batch statistics, no running-
 * statistics update) over the full batches of `passes` shuffles (t2_perm(seed, pass)); proj gets
 * passes * (n / batch) values. */
static valley_status_t t2_noise(valley_exp_model_t *m, const valley_dataset_t *ds, size_t batch,
                                size_t passes, uint64_t seed, const float *u, double *proj,
                                t2_work_t *w, valley_error_t *err) {
  size_t np = m->net->n_params, nb = ds->n / batch;
  valley_status_t st = VALLEY_OK;
  for (size_t p = 0; p < passes && st == VALLEY_OK; p++) {
    t2_perm(seed, p, ds->n, w->perm);
    for (size_t b = 0; b < nb && st == VALLEY_OK; b++) {
      t2_gather(ds, w->perm, b, batch, w);
      st = valley_mlp_batch(m->net, m->theta, w->xb, w->yb, batch, VALLEY_NET_TRAIN, w->g, NULL,
                            NULL, err);
      if (st == VALLEY_OK) proj[p * nb + b] = t2_dot(w->g, u, np);
    }
  }
  return st;
}

/* The loss SGD descends, along w_T + l u: the mean over the full batches of shuffle
 * t2_perm(seed, 0) of the TRAIN-mode (batch-statistics) mean cross-entropy, at each l[i]. */
static valley_status_t t2_train_profile(valley_exp_model_t *m, const valley_dataset_t *ds,
                                        size_t batch, uint64_t seed, const float *u,
                                        const double *l, size_t n, double *loss, t2_work_t *w,
                                        valley_error_t *err) {
  size_t np = m->net->n_params, nb = ds->n / batch;
  valley_status_t st = VALLEY_OK;
  t2_perm(seed, 0, ds->n, w->perm);
  for (size_t i = 0; i < n && st == VALLEY_OK; i++) {
    for (size_t p = 0; p < np; p++) w->theta[p] = (float)((double)m->theta[p] + l[i] * u[p]);
    double sum = 0.0;
    for (size_t b = 0; b < nb && st == VALLEY_OK; b++) {
      double lb = 0.0;
      t2_gather(ds, w->perm, b, batch, w);
      st = valley_mlp_batch(m->net, w->theta, w->xb, w->yb, batch, VALLEY_NET_TRAIN, NULL, &lb,
                            NULL, err);
      sum += lb;
    }
    loss[i] = sum / (double)nb;
  }
  return st;
}

/* Shape comparison of curve y (argmin ia) with the final curve yT (argmin iT) on the coarse grid
 * of G points: offsets k with both ia + k and iT + k inside.  *rms and *max relative to the range
 * of the final aligned curve on those offsets. */
static void t2_shape(const double *y, size_t ia, const double *yT, size_t iT, size_t G,
                     double *rms, double *mx) {
  double s2 = 0.0, m = 0.0, lo = INFINITY, hi = -INFINITY;
  size_t n = 0;
  for (long k = -(long)G; k <= (long)G; k++) {
    long a = (long)ia + k, b = (long)iT + k;
    if (a < 0 || b < 0 || a >= (long)G || b >= (long)G) continue;
    double d = (y[a] - y[ia]) - (yT[b] - yT[iT]);
    s2 += d * d;
    m = fmax(m, fabs(d));
    lo = fmin(lo, yT[b] - yT[iT]);
    hi = fmax(hi, yT[b] - yT[iT]);
    n++;
  }
  double range = hi - lo;
  *rms = n > 0 && range > 0 ? sqrt(s2 / (double)n) / range : NAN;
  *mx = n > 0 && range > 0 ? m / range : NAN;
}

/* Secant slope from the minimum ia outward by d grid steps (dir +1 / -1), NaN outside. */
static double t2_secant(const double *l, const double *y, size_t ia, size_t G, long d, int dir) {
  long j = (long)ia + dir * d;
  if (j < 0 || j >= (long)G) return NAN;
  return (y[j] - y[ia]) / fabs(l[j] - l[ia]);
}

static size_t t2_argmin(const double *y, size_t n) {
  size_t k = 0;
  for (size_t i = 1; i < n; i++)
    if (y[i] < y[k]) k = i;
  return k;
}

typedef struct {
  int valid, side;
  double c, c_cons;
} t2_dir_t;

typedef struct {
  size_t chosen;
  int side, fallback, eval_side, train_valid;
  double c_train, c_train_cons, micro_centre, micro_half;
  size_t n_samples;
  double c, c_cons, Lhalf, h, l_min, loss_min;
  double swa_proj, b_swa, b_iter, iter_sd;
  double pred, pred_se, pred_final_sd, trans, trans_se, trans_init;
  double sigma, nu, drift_batch, drift_table;
  double a_plus, b_plus, a_minus, b_minus, c_nodes, c_secant, slope_flat, slope_sharp;
  size_t viol_flat, viol_sharp, n_noise;
  double late_rms_max, late_max_max, min_drift_max;
  double train_loss, test_loss, swa_train_loss, swa_test_loss;
  uint64_t steps, burn_in;
} t2_seed_t;

static int t2_cmp_l(const void *a, const void *b) {
  const double *x = a, *y = b;
  return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* Appends the samples (l[i], y[i], level) and (l2[i], y2[i], level2) to out (triples, n already
 * there), sorts by l and drops samples within tol of the previous one; returns the count. */
static size_t t2_merge(const double *l, const double *y, size_t n1, int level, const double *l2,
                       const double *y2, size_t n2, int level2, double *out, size_t n, double tol) {
  for (size_t i = 0; i < n1; i++, n++) {
    out[3 * n] = l[i];
    out[3 * n + 1] = y[i];
    out[3 * n + 2] = level;
  }
  for (size_t i = 0; i < n2; i++, n++) {
    out[3 * n] = l2[i];
    out[3 * n + 1] = y2[i];
    out[3 * n + 2] = level2;
  }
  qsort(out, n, 3 * sizeof *out, t2_cmp_l);
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    if (m > 0 && out[3 * i] <= out[3 * (m - 1)] + tol) continue;
    memmove(out + 3 * m, out + 3 * i, 3 * sizeof *out);
    m++;
  }
  return m;
}

valley_status_t valley_exp_run_thm2_real(valley_exp_run_t *r, valley_error_t *err) {
  const valley_exp_config_t *cfg = valley_exp_cfg(r);
  valley_json_t *j = valley_exp_json(r);
  t2_settings_t s;
  t2_settings(cfg->full, &s);
  const size_t G = 2 * s.half_points + 1, F = 2 * s.fine_half + 1, M = 2 * T2_MICRO_HALF + 1;
  const size_t spe = (s.n_train + s.batch - 1) / s.batch; /* SGD steps per epoch */
  const size_t nb_noise = s.noise_passes * (s.n_train / s.batch);
  valley_dataset_t train, test;
  valley_exp_model_t sgd = {0}, swa = {0};
  t2_keep_t keep = {0, NULL};
  float *dirs = NULL;
  const float **dp = NULL;
  double *grid = NULL, *fgrid = NULL, *merged = NULL, *proj = NULL, *curv = NULL, *wl = NULL,
         *wy = NULL, *cl = NULL, *pa = NULL, *ab = NULL, *iters = NULL;
  double *ty = NULL, *fy = NULL, *my = NULL, *mgrid = NULL;
  t2_work_t wk = {NULL, NULL, NULL, NULL, NULL};
  valley_prof_t *prof = NULL;
  valley_prof_t *cprof = NULL;
  t2_seed_t *sd = NULL;
  t2_dir_t *dd = NULL;
  valley_valley1d_table_t *tab = NULL;
  valley_sgd1d_result_t *res = NULL;
  FILE *fdir = NULL, *fcurve = NULL, *fstab = NULL, *ftab = NULL, *fnoise = NULL, *fiter = NULL,
       *fseed = NULL, *fchain = NULL;
  size_t n_curves = 0;

  valley_status_t st = valley_exp_load(r, s.n_train, s.n_test, &train, &test, err);
  if (st != VALLEY_OK) return st;
  const size_t widths[4] = {784, s.width, s.width, 10};

  valley_json_object(j, "settings");
  valley_json_string(j, "network", "bn-mlp");
  double wv[4] = {784, (double)s.width, (double)s.width, 10};
  valley_json_numbers(j, "widths", wv, 4);
  valley_json_u64(j, "n_train", s.n_train);
  valley_json_u64(j, "n_test", s.n_test);
  valley_json_u64(j, "epochs", s.epochs);
  valley_json_u64(j, "swa_start", s.swa_start);
  valley_json_u64(j, "swa_freq", 1);
  valley_json_u64(j, "batch", s.batch);
  valley_json_u64(j, "steps_per_epoch", spe);
  valley_json_number(j, "lr", s.lr);
  valley_json_number(j, "momentum", 0.0);
  valley_json_number(j, "weight_decay", 0.0);
  valley_json_u64(j, "seeds", s.seeds);
  valley_json_string(j, "family", "whole, scaled to unit norm");
  valley_json_u64(j, "pool", s.pool);
  valley_json_u64(j, "grid_points", G);
  valley_json_u64(j, "fine_points", F);
  valley_json_u64(j, "fine_div", T2_FINE_DIV);
  valley_json_number(j, "rise_target", T2_RISE);
  valley_json_u64(j, "curve_every", s.curve_every);
  valley_json_u64(j, "noise_passes", s.noise_passes);
  valley_json_u64(j, "noise_batches", nb_noise);
  valley_json_string(j, "noise_model", "truncated normal, sigma = sd of the projected minibatch "
                                       "gradient deviations, nu = their largest |value|");
  valley_json_u64(j, "chains", s.chains);
  valley_json_number(j, "stable_threshold", T2_STABLE);
  valley_json_number(j, "ratio_band", T2_BAND);
  valley_json_object_end(j);

  /* curve epochs (1-based): e = epochs, epochs - every, ... >= 1 */
  for (size_t e = s.epochs; e >= 1; e -= s.curve_every) {
    n_curves++;
    if (e <= s.curve_every) break;
  }
  keep.n = s.epochs;
  keep.m = calloc(s.epochs, sizeof *keep.m);
  grid = malloc(G * sizeof *grid);
  fgrid = malloc(F * sizeof *fgrid);
  merged = malloc(3 * (G + F + M) * sizeof *merged);
  wl = malloc((G + F + M) * sizeof *wl);
  wy = malloc((G + F + M) * sizeof *wy);
  ty = malloc(G * sizeof *ty);
  fy = malloc(F * sizeof *fy);
  my = malloc(M * sizeof *my);
  mgrid = malloc(M * sizeof *mgrid);
  wk.perm = malloc(s.n_train * sizeof *wk.perm);
  wk.xb = malloc(s.batch * train.dim * sizeof *wk.xb);
  wk.yb = malloc(s.batch);
  proj = malloc((nb_noise > 0 ? nb_noise : 1) * sizeof *proj);
  curv = malloc(n_curves * sizeof *curv);
  prof = calloc(s.pool, sizeof *prof);
  cprof = calloc(n_curves, sizeof *cprof);
  dp = malloc(s.pool * sizeof *dp);
  sd = calloc(s.seeds, sizeof *sd);
  dd = calloc(s.pool, sizeof *dd);
  cl = malloc(s.chains * sizeof *cl);
  pa = malloc(s.seeds * sizeof *pa);
  ab = malloc(s.seeds * sizeof *ab);
  iters = malloc(s.epochs * sizeof *iters);
  res = valley_sgd1d_result_alloc(s.chains);
  if (keep.m == NULL || grid == NULL || fgrid == NULL || merged == NULL || wl == NULL ||
      wy == NULL || ty == NULL || fy == NULL || my == NULL || mgrid == NULL || wk.perm == NULL ||
      wk.xb == NULL || wk.yb == NULL || proj == NULL || curv == NULL || prof == NULL || cprof == NULL || dp == NULL ||
      sd == NULL || dd == NULL || cl == NULL || pa == NULL || ab == NULL || iters == NULL || res == NULL) {
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "thm2-real: work arrays");
    goto done;
  }
  if (nb_noise < 2) {
    st = VALLEY_ERROR(err, VALLEY_EINVAL, "thm2-real: fewer than 2 noise batches");
    goto done;
  }
  if ((st = valley_exp_csv(r, "directions", &fdir, err)) != VALLEY_OK ||
      (st = valley_exp_csv(r, "curves", &fcurve, err)) != VALLEY_OK ||
      (st = valley_exp_csv(r, "stability", &fstab, err)) != VALLEY_OK ||
      (st = valley_exp_csv(r, "table", &ftab, err)) != VALLEY_OK ||
      (st = valley_exp_csv(r, "noise", &fnoise, err)) != VALLEY_OK ||
      (st = valley_exp_csv(r, "iterates", &fiter, err)) != VALLEY_OK ||
      (st = valley_exp_csv(r, "seeds", &fseed, err)) != VALLEY_OK ||
      (st = valley_exp_csv(r, "chains", &fchain, err)) != VALLEY_OK)
    goto done;
  fprintf(fdir, "# thm2-real: unit-norm whole directions at the final SGD iterate, Definition 1 "
                "on the train loss; the chosen one has the largest c_conservative\n"
                "seed,direction,valid,flat_side,c,c_conservative,chosen\n");
  fprintf(fcurve, "# thm2-real: train loss along w_t + l u at the curve epochs t (Figure 6); proj "
                  "= <w_t - w_T, u>\nseed,epoch,proj,l,train_loss\n");
  fprintf(fstab, "# thm2-real: each curve aligned at its minimum (grid index i_star) against the "
                 "final epoch's; abs_min = proj + l_star; slopes: secants at L/2 from the minimum "
                 "on the flat and the sharp side\n"
                 "seed,epoch,late,proj,i_star,l_star,abs_min,shape_rms_rel,shape_max_rel,"
                 "slope_flat,slope_sharp\n");
  fprintf(ftab, "# thm2-real: the TRAIN-mode loss along w_T + l u (level 0 coarse, 1 fine, 2 "
                "micro) and the TABLE valley built from it: w = side (l - l_min)\n"
                "seed,level,l,train_loss,w,table_loss,table_grad\n");
  fprintf(fnoise, "# thm2-real: projected minibatch gradients <g_b, u> at w_T (TRAIN mode), "
                  "deviation from their mean\nseed,batch,proj_grad,deviation\n");
  fprintf(fiter, "# thm2-real: projected iterates <w_t - w_T, u> after every epoch t (1-based); "
                 "in_swa: averaged by SWA\nseed,epoch,proj,in_swa\n");
  fprintf(fchain, "# thm2-real: 1-D SGD on the TABLE valley: each chain's averaged iterate "
                  "(post burn-in) and last iterate, w units (+ = flat side)\n"
                  "seed,chain,wbar,final_w\n");

  for (size_t k = 0; k < s.seeds; k++) {
    t2_seed_t *q = &sd[k];
    valley_exp_train_t spec;
    valley_exp_spec_bn_mlp(&spec, widths, s.batch, s.lr, s.epochs,
                           valley_exp_seed(cfg->seed, 2, k, 0), valley_exp_seed(cfg->seed, 1, k, 0));
    spec.sgd.momentum = 0.0;
    spec.sgd.weight_decay = 0.0;
    spec.swa_start = s.swa_start;
    spec.swa_freq = 1;
    spec.on_epoch = t2_on_epoch;
    spec.epoch_ctx = &keep;
    valley_exp_progress(r, "thm2-real: seed %zu/%zu, training the BN MLP", k + 1, s.seeds);
    if ((st = valley_exp_train(r, &spec, &train, &sgd, &swa, err)) != VALLEY_OK) goto done;
    size_t np = sgd.net->n_params;
    double acc;
    if ((st = valley_mlp_evaluate(sgd.net, sgd.theta, &train, s.batch, &q->train_loss, &acc,
                                  err)) != VALLEY_OK ||
        (st = valley_mlp_evaluate(sgd.net, sgd.theta, &test, s.batch, &q->test_loss, &acc,
                                  err)) != VALLEY_OK ||
        (st = valley_mlp_evaluate(swa.net, swa.theta, &train, s.batch, &q->swa_train_loss, &acc,
                                  err)) != VALLEY_OK ||
        (st = valley_mlp_evaluate(swa.net, swa.theta, &test, s.batch, &q->swa_test_loss, &acc,
                                  err)) != VALLEY_OK)
      goto done;
    if (dirs == NULL) {
      dirs = malloc((s.pool + 1) * np * sizeof *dirs);
      wk.g = malloc(np * sizeof *wk.g);
      wk.theta = malloc(np * sizeof *wk.theta);
      if (dirs == NULL || wk.g == NULL || wk.theta == NULL) {
        st = VALLEY_ERROR(err, VALLEY_ENOMEM, "thm2-real: %zu directions", s.pool + 1);
        goto done;
      }
    }
    /* the grid: the pilot's L (for ||u|| = ||theta||) in Euclidean units */
    valley_dir_config_t dc;
    if ((st = valley_dir_config_family(VALLEY_DIR_FAMILY_WHOLE, &dc, err)) != VALLEY_OK) goto done;
    uint64_t dseed = valley_exp_seed(cfg->seed, 3, k, 0);
    double L = 0.0;
    float *pilot = dirs + s.pool * np;
    if ((st = valley_exp_pilot(r, &sgd, &dc, dseed, T2_PILOT_INDEX, T2_RISE, pilot, &train, &test,
                               &L, NULL, NULL, err)) != VALLEY_OK)
      goto done;
    q->Lhalf = L * valley_exp_norm(pilot, np);
    q->h = q->Lhalf / (double)s.half_points;
    for (size_t g = 0; g < G; g++)
      grid[g] = q->Lhalf * ((double)g - (double)s.half_points) / (double)s.half_points;
    grid[s.half_points] = 0.0;
    for (size_t i = 0; i < s.pool && st == VALLEY_OK; i++) {
      float *u = dirs + i * np;
      st = valley_direction(sgd.net, sgd.theta, &dc, dseed, i, u, err);
      double nu = valley_exp_norm(u, np);
      if (st == VALLEY_OK && !(nu > 0))
        st = VALLEY_ERROR(err, VALLEY_EDOM, "thm2-real: direction %zu is zero", i);
      for (size_t p = 0; p < np && st == VALLEY_OK; p++) u[p] = (float)(u[p] / nu);
      dp[i] = u;
    }
    if (st != VALLEY_OK) goto done;
    valley_exp_progress(r, "thm2-real: L = %.4g, probing %zu directions", q->Lhalf, s.pool);
    if ((st = valley_exp_probe(r, &sgd, s.pool, dp, G, grid, &train, &test, prof, err)) !=
        VALLEY_OK)
      goto done;
    q->chosen = 0;
    q->c_cons = -INFINITY;
    q->side = 0;
    for (size_t i = 0; i < s.pool; i++) {
      valley_prof_def1_t o;
      if ((st = valley_exp_def1(&prof[i], q->Lhalf, q->h, &o, err)) != VALLEY_OK) goto done;
      dd[i].valid = o.best.valid;
      dd[i].side = o.best.valid ? o.best.flat_side : 0;
      dd[i].c = o.best.valid ? o.best.c : NAN;
      dd[i].c_cons = o.best.valid ? o.best.c_conservative : NAN;
      if (dd[i].valid && dd[i].c_cons > q->c_cons) {
        q->chosen = i;
        q->c_cons = dd[i].c_cons;
        q->c = dd[i].c;
        q->side = dd[i].side;
      }
    }
    q->fallback = q->side == 0;
    if (q->fallback) { /* no Definition 1 window: direction 0, flat side where the edge is lower */
      q->chosen = 0;
      q->c = q->c_cons = NAN;
      q->side = prof[0].train[G - 1] <= prof[0].train[0] ? 1 : -1;
    }
    for (size_t i = 0; i < s.pool; i++)
      fprintf(fdir, "%zu,%zu,%d,%d,%.9g,%.9g,%d\n", k, i, dd[i].valid, dd[i].side, dd[i].c,
              dd[i].c_cons, i == q->chosen);
    const float *u = dirs + q->chosen * np;
    const float *ud[1] = {u};
    q->eval_side = q->side;
    uint64_t nseed = valley_exp_seed(cfg->seed, 5, k, 0);
    q->steps = (uint64_t)(spe * s.epochs);
    q->burn_in = (uint64_t)(spe * (s.swa_start - 1));

    /* gradient noise along u at w_T */
    valley_exp_progress(r, "thm2-real: gradient noise over %zu minibatches", nb_noise);
    if ((st = t2_noise(&sgd, &train, s.batch, s.noise_passes, nseed, u, proj, &wk, err)) !=
        VALLEY_OK)
      goto done;
    double pm = 0.0, pv = 0.0, pmax = 0.0;
    for (size_t b = 0; b < nb_noise; b++) pm += proj[b];
    pm /= (double)nb_noise;
    for (size_t b = 0; b < nb_noise; b++) {
      double dv = proj[b] - pm;
      pv += dv * dv;
      pmax = fmax(pmax, fabs(dv));
    }
    q->n_noise = nb_noise;
    q->sigma = sqrt(pv / (double)(nb_noise - 1));
    q->nu = pmax;

    /* the loss SGD descends along u (TRAIN mode): coarse grid, its flat side by Definition 1 */
    valley_exp_progress(r, "thm2-real: TRAIN-mode profile along u (%zu + %zu + %zu points)", G,
                        F, M);
    if ((st = t2_train_profile(&sgd, &train, s.batch, nseed, u, grid, G, ty, &wk, err)) !=
        VALLEY_OK)
      goto done;
    {
      size_t it = t2_argmin(ty, G);
      valley_prof_def1_config_t c;
      valley_prof_def1_config_default(&c);
      c.r_min = fmax(fabs(grid[it]) + q->h, 0.1 * q->Lhalf);
      valley_prof_def1_t o;
      if ((st = valley_prof_def1(grid, ty, G, &c, &o, err)) != VALLEY_OK) goto done;
      q->train_valid = o.best.valid;
      q->c_train = o.best.valid ? o.best.c : NAN;
      q->c_train_cons = o.best.valid ? o.best.c_conservative : NAN;
      if (o.best.valid) q->side = o.best.flat_side;
      /* fine grid (step h / 5) around the coarse minimum */
      for (size_t f = 0; f < F; f++)
        fgrid[f] = grid[it] + q->h / T2_FINE_DIV * ((double)f - (double)s.fine_half);
    }
    if ((st = t2_train_profile(&sgd, &train, s.batch, nseed, u, fgrid, F, fy, &wk, err)) !=
        VALLEY_OK)
      goto done;
    /* micro grid at the scale SGD moves along u: half-width min(4 eta sigma sqrt(steps), h / 5)
     * around the vertex of the parabola through the coarse+fine minimum and its neighbours */
    {
      size_t nm = t2_merge(grid, ty, G, 0, fgrid, fy, F, 1, merged, 0, 1e-12 * q->Lhalf);
      size_t im = 0;
      for (size_t i = 1; i < nm; i++)
        if (merged[3 * i + 1] < merged[3 * im + 1]) im = i;
      double centre = merged[3 * im];
      if (im > 0 && im + 1 < nm) {
        double x0 = merged[3 * (im - 1)], x1 = merged[3 * im], x2 = merged[3 * (im + 1)];
        double y0 = merged[3 * (im - 1) + 1], y1 = merged[3 * im + 1], y2 = merged[3 * (im + 1) + 1];
        double d1 = (y1 - y0) / (x1 - x0), d2 = (y2 - y1) / (x2 - x1), cc = (d2 - d1) / (x2 - x0);
        if (cc > 0) centre = fmin(fmax(0.5 * (x0 + x1) - d1 / (2 * cc), x0), x2);
      }
      q->micro_centre = centre;
      q->micro_half = fmin(4.0 * s.lr * q->sigma * sqrt((double)q->steps), q->h / T2_FINE_DIV);
      if (!(q->micro_half > 0)) q->micro_half = q->h / T2_FINE_DIV;
      for (size_t i = 0; i < M; i++)
        mgrid[i] = centre + q->micro_half * ((double)i - (double)T2_MICRO_HALF) / T2_MICRO_HALF;
    }
    if ((st = t2_train_profile(&sgd, &train, s.batch, nseed, u, mgrid, M, my, &wk, err)) !=
        VALLEY_OK)
      goto done;
    size_t nm = t2_merge(grid, ty, G, 0, fgrid, fy, F, 1, merged, 0, 1e-12 * q->Lhalf);
    nm = t2_merge(mgrid, my, M, 2, NULL, NULL, 0, 0, merged, nm, 1e-12 * q->Lhalf);
    for (size_t i = 0; i < nm; i++) {
      wl[i] = merged[3 * i];
      wy[i] = merged[3 * i + 1];
    }
    q->n_samples = nm;
    if ((st = valley_valley1d_table_alloc(wl, wy, nm, q->side, &tab, &q->l_min, &q->loss_min,
                                          err)) != VALLEY_OK)
      goto done;
    valley_valley1d_t vt = {.kind = VALLEY_VALLEY1D_TABLE, .table = tab};
    for (size_t i = 0; i < nm; i++) {
      double w = q->side * (wl[i] - q->l_min);
      fprintf(ftab, "%zu,%d,%.17g,%.17g,%.17g,%.17g,%.17g\n", k, (int)merged[3 * i + 2], wl[i],
              wy[i], w, valley_valley1d_loss(w, &vt), valley_valley1d_grad(w, &vt));
    }
    for (size_t b = 0; b < nb_noise; b++)
      fprintf(fnoise, "%zu,%zu,%.17g,%.17g\n", k, b, proj[b], proj[b] - pm);
    q->drift_batch = q->side * pm; /* d/dw in the table's coordinates w = side (l - l_min) */
    q->drift_table = valley_valley1d_grad(q->side * (0.0 - q->l_min), &vt);
    /* Theorem 2's slope conditions on the table's samples (gradient at every sample but w = 0) */
    {
      const double *tw, *tyv;
      size_t tn = valley_valley1d_table_samples(tab, &tw, &tyv);
      q->a_plus = q->a_minus = -INFINITY;
      q->b_plus = q->b_minus = INFINITY;
      q->viol_flat = q->viol_sharp = 0;
      for (size_t i = 0; i < tn; i++) {
        if (tw[i] == 0.0) continue;
        double g = valley_valley1d_grad(tw[i], &vt);
        if (tw[i] > 0) {
          q->a_plus = fmax(q->a_plus, g);
          q->b_plus = fmin(q->b_plus, g);
          q->viol_flat += !(g > 0);
        } else {
          q->a_minus = fmax(q->a_minus, g);
          q->b_minus = fmin(q->b_minus, g);
          q->viol_sharp += !(g < 0);
        }
      }
      q->c_nodes = -q->a_minus / q->a_plus;
      q->slope_flat = valley_valley1d_loss(q->Lhalf / 2, &vt) / (q->Lhalf / 2);
      q->slope_sharp = valley_valley1d_loss(-q->Lhalf / 2, &vt) / (q->Lhalf / 2);
      q->c_secant = q->slope_sharp / q->slope_flat;
    }

    /* the 1-D prediction */
    valley_sgd1d_config_t sc;
    valley_sgd1d_config_default(&sc);
    sc.valley = vt;
    sc.eta = s.lr;
    sc.noise = VALLEY_NOISE_TRUNC_NORMAL;
    sc.sigma = q->sigma > 0 ? q->sigma : 1e-300;
    sc.nu = q->nu;
    sc.w_init = 0.0;
    sc.seed = valley_exp_seed(cfg->seed, 4, k, 0);
    sc.chains = s.chains;
    sc.steps = q->steps;
    sc.burn_in = q->burn_in;
    if ((st = valley_sgd1d_run(&sc, NULL, res, err)) != VALLEY_OK) goto done;
    for (size_t c = 0; c < s.chains; c++) {
      cl[c] = res->chain[c].traj_sum / (double)res->samples_per_chain;
      fprintf(fchain, "%zu,%zu,%.17g,%.17g\n", k, c, cl[c], res->chain[c].final_w);
    }
    valley_exp_mean_se(cl, s.chains, &q->pred, &q->pred_se, NULL);
    for (size_t c = 0; c < s.chains; c++) cl[c] = res->chain[c].final_w;
    double fm;
    valley_exp_mean_se(cl, s.chains, &fm, NULL, &q->pred_final_sd);

    /* where SWA landed */
    q->swa_proj = t2_proj_diff(swa.theta, sgd.theta, u, np);
    q->b_swa = q->side * (q->swa_proj - q->l_min);
    size_t ni = 0;
    for (size_t e = 0; e < s.epochs; e++) {
      double pj = t2_proj_diff(keep.m[e].theta, sgd.theta, u, np);
      int in = e + 1 >= s.swa_start;
      fprintf(fiter, "%zu,%zu,%.17g,%d\n", k, e + 1, pj, in);
      if (in) iters[ni++] = pj;
    }
    double im;
    valley_exp_mean_se(iters, ni, &im, NULL, &q->iter_sd);
    q->b_iter = q->side * (im - q->l_min);
    /* diagnostic, not in the verdict: the same 1-D process started where SGD was before the SWA
     * window (w = side (<w_{swa_start - 1} - w_T, u> - l_min)) and averaged over the window */
    if (s.swa_start >= 2) {
      sc.w_init = q->side * (t2_proj_diff(keep.m[s.swa_start - 2].theta, sgd.theta, u, np) -
                             q->l_min);
      sc.steps = q->steps - q->burn_in;
      sc.burn_in = 0;
      sc.seed = valley_exp_seed(cfg->seed, 6, k, 0);
      if ((st = valley_sgd1d_run(&sc, NULL, res, err)) != VALLEY_OK) goto done;
      for (size_t c = 0; c < s.chains; c++)
        cl[c] = res->chain[c].traj_sum / (double)res->samples_per_chain;
      valley_exp_mean_se(cl, s.chains, &q->trans, &q->trans_se, NULL);
      q->trans_init = sc.w_init;
    } else {
      q->trans = q->trans_se = q->trans_init = NAN;
    }

    /* stability: curves at the curve epochs */
    valley_exp_progress(r, "thm2-real: profiles at %zu epochs", n_curves);
    size_t iT = 0;
    q->late_rms_max = q->late_max_max = q->min_drift_max = 0.0;
    for (size_t c = 0; c < n_curves; c++) { /* c = 0 is the final epoch */
      size_t e = s.epochs - c * s.curve_every; /* 1-based */
      if ((st = valley_exp_probe(r, &keep.m[e - 1], 1, ud, G, grid, &train, &test, &cprof[c],
                                 err)) != VALLEY_OK)
        goto done;
      double pj = t2_proj_diff(keep.m[e - 1].theta, sgd.theta, u, np);
      for (size_t g = 0; g < G; g++)
        fprintf(fcurve, "%zu,%zu,%.17g,%.17g,%.17g\n", k, e, pj, grid[g], cprof[c].train[g]);
      size_t ia = t2_argmin(cprof[c].train, G);
      if (c == 0) iT = ia;
      double rms, mx;
      t2_shape(cprof[c].train, ia, cprof[0].train, iT, G, &rms, &mx);
      long d2 = (long)(s.half_points / 2);
      double sf = t2_secant(grid, cprof[c].train, ia, G, d2, q->side);
      double ss = t2_secant(grid, cprof[c].train, ia, G, d2, -q->side);
      int late = e >= s.swa_start && c > 0;
      double absmin = pj + grid[ia];
      curv[c] = absmin;
      fprintf(fstab, "%zu,%zu,%d,%.17g,%zu,%.17g,%.17g,%.9g,%.9g,%.9g,%.9g\n", k, e, late, pj,
              ia, grid[ia], absmin, rms, mx, sf, ss);
      if (late) {
        q->late_rms_max = fmax(q->late_rms_max, rms);
        q->late_max_max = fmax(q->late_max_max, mx);
        q->min_drift_max = fmax(q->min_drift_max, fabs(absmin - curv[0]));
      }
    }
    for (size_t c = 0; c < n_curves; c++) valley_prof_free(&cprof[c]);
    for (size_t i = 0; i < s.pool; i++) valley_prof_free(&prof[i]);
    valley_valley1d_table_free(tab);
    tab = NULL;
    for (size_t e = 0; e < s.epochs; e++) valley_exp_model_free(&keep.m[e]);
    valley_exp_model_free(&sgd);
    valley_exp_model_free(&swa);
    pa[k] = q->pred;
    ab[k] = q->b_swa;
    valley_exp_progress(r, "thm2-real: seed %zu: predicted %.4g +- %.2g, SWA %.4g (l units)",
                        k + 1, q->pred, q->pred_se, q->b_swa);
  }

  fprintf(fseed, "# thm2-real: per training seed (l units, + = flat side)\n"
                 "seed,chosen,fallback,eval_side,side,c,c_conservative,train_valid,c_train,"
                 "c_train_conservative,micro_centre,micro_half,n_samples,L,h,l_min,loss_min,swa_proj,b_swa,"
                 "b_iter,iter_sd,pred,pred_se,pred_final_sd,transient_init,transient,transient_se,sigma,nu,n_noise,drift_batch,"
                 "drift_table,a_plus,b_plus,a_minus,b_minus,viol_flat,viol_sharp,c_nodes,"
                 "slope_flat,slope_sharp,c_secant,late_rms_max,late_max_max,min_drift_max,steps,"
                 "burn_in\n");
  for (size_t k = 0; k < s.seeds; k++) {
    const t2_seed_t *q = &sd[k];
    fprintf(fseed,
            "%zu,%zu,%d,%d,%d,%.9g,%.9g,%d,%.9g,%.9g,%.17g,%.17g,%zu,%.17g,%.17g,%.17g,%.17g,"
            "%.17g,%.17g,%.17g,%.9g,%.17g,%.9g,%.9g,%.17g,%.17g,%.9g,%.17g,%.17g,%zu,%.9g,%.9g,"
            "%.9g,%.9g,%.9g,%.9g,%zu,%zu,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%llu,%llu\n",
            k, q->chosen, q->fallback, q->eval_side, q->side, q->c, q->c_cons, q->train_valid,
            q->c_train, q->c_train_cons, q->micro_centre, q->micro_half, q->n_samples, q->Lhalf, q->h, q->l_min,
            q->loss_min, q->swa_proj, q->b_swa, q->b_iter, q->iter_sd, q->pred, q->pred_se,
            q->pred_final_sd, q->trans_init, q->trans, q->trans_se, q->sigma, q->nu, q->n_noise, q->drift_batch, q->drift_table,
            q->a_plus, q->b_plus, q->a_minus, q->b_minus, q->viol_flat, q->viol_sharp,
            q->c_nodes, q->slope_flat, q->slope_sharp, q->c_secant, q->late_rms_max,
            q->late_max_max, q->min_drift_max, (unsigned long long)q->steps,
            (unsigned long long)q->burn_in);
  }

  /* the verdict */
  double P, Pse, A, Ase, stab = 0.0;
  valley_exp_mean_se(pa, s.seeds, &P, &Pse, NULL);
  valley_exp_mean_se(ab, s.seeds, &A, &Ase, NULL);
  for (size_t k = 0; k < s.seeds; k++) stab += sd[k].late_rms_max;
  stab /= (double)s.seeds;
  double tq = gsl_cdf_tdist_Pinv(0.975, (double)(s.seeds - 1));
  double Plo = P - tq * Pse, Phi = P + tq * Pse, Alo = A - tq * Ase, Ahi = A + tq * Ase;
  int stable = stab <= T2_STABLE;
  double ratio = A / P;
  valley_exp_verdict_t v;
  if (!stable || Ahi < 0 || (Plo > 0 && (Ahi < P / T2_BAND || Alo > T2_BAND * P)))
    v = VALLEY_EXP_NOT_REPRODUCED;
  else if (Plo > 0 && Alo > 0 && ratio >= 1.0 / T2_BAND && ratio <= T2_BAND)
    v = VALLEY_EXP_REPRODUCED;
  else
    v = VALLEY_EXP_INCONCLUSIVE;

  valley_json_array(j, "per_seed");
  for (size_t k = 0; k < s.seeds; k++) {
    const t2_seed_t *q = &sd[k];
    valley_json_object(j, NULL);
    valley_json_u64(j, "seed", k);
    valley_json_number(j, "sgd_train_loss", q->train_loss);
    valley_json_number(j, "sgd_test_loss", q->test_loss);
    valley_json_number(j, "swa_train_loss", q->swa_train_loss);
    valley_json_number(j, "swa_test_loss", q->swa_test_loss);
    valley_json_u64(j, "chosen", q->chosen);
    valley_json_bool(j, "fallback", q->fallback);
    valley_json_number(j, "eval_flat_side", q->eval_side);
    valley_json_number(j, "c", q->c);
    valley_json_number(j, "c_conservative", q->c_cons);
    valley_json_bool(j, "train_mode_def1_valid", q->train_valid);
    valley_json_number(j, "train_mode_c", q->c_train);
    valley_json_number(j, "train_mode_c_conservative", q->c_train_cons);
    valley_json_number(j, "flat_side", q->side);
    valley_json_number(j, "micro_centre", q->micro_centre);
    valley_json_number(j, "micro_half_width", q->micro_half);
    valley_json_u64(j, "table_samples", q->n_samples);
    valley_json_number(j, "half_width", q->Lhalf);
    valley_json_number(j, "grid_step", q->h);
    valley_json_number(j, "l_min", q->l_min);
    valley_json_number(j, "swa_proj", q->swa_proj);
    valley_json_number(j, "b_swa", q->b_swa);
    valley_json_number(j, "b_iterates", q->b_iter);
    valley_json_number(j, "iterates_sd", q->iter_sd);
    valley_json_number(j, "predicted", q->pred);
    valley_json_number(j, "predicted_se", q->pred_se);
    valley_json_number(j, "predicted_spread", q->pred_final_sd);
    valley_json_number(j, "transient_init", q->trans_init);
    valley_json_number(j, "transient_predicted", q->trans);
    valley_json_number(j, "transient_predicted_se", q->trans_se);
    valley_json_number(j, "noise_sigma", q->sigma);
    valley_json_number(j, "noise_nu", q->nu);
    valley_json_number(j, "drift_minibatch_mean", q->drift_batch);
    valley_json_number(j, "drift_table", q->drift_table);
    valley_json_object(j, "theorem2_assumptions");
    valley_json_number(j, "a_plus", q->a_plus);
    valley_json_number(j, "b_plus", q->b_plus);
    valley_json_number(j, "a_minus", q->a_minus);
    valley_json_number(j, "b_minus", q->b_minus);
    valley_json_u64(j, "flat_side_nonpositive_slopes", q->viol_flat);
    valley_json_u64(j, "sharp_side_nonnegative_slopes", q->viol_sharp);
    valley_json_number(j, "c_nodes", q->c_nodes);
    valley_json_number(j, "secant_flat", q->slope_flat);
    valley_json_number(j, "secant_sharp", q->slope_sharp);
    valley_json_number(j, "c_secant", q->c_secant);
    valley_json_number(j, "nu_over_a_plus", q->nu / q->a_plus);
    valley_json_object_end(j);
    valley_json_number(j, "late_shape_rms_max", q->late_rms_max);
    valley_json_number(j, "late_shape_max_max", q->late_max_max);
    valley_json_number(j, "late_min_drift_max", q->min_drift_max);
    valley_json_u64(j, "steps", q->steps);
    valley_json_u64(j, "burn_in", q->burn_in);
    valley_json_object_end(j);
  }
  valley_json_array_end(j);
  valley_json_number(j, "stability", stab);
  valley_json_bool(j, "stable", stable);
  valley_json_number(j, "predicted_mean", P);
  valley_json_number(j, "predicted_se", Pse);
  valley_json_number(j, "predicted_lo", Plo);
  valley_json_number(j, "predicted_hi", Phi);
  valley_json_number(j, "actual_mean", A);
  valley_json_number(j, "actual_se", Ase);
  valley_json_number(j, "actual_lo", Alo);
  valley_json_number(j, "actual_hi", Ahi);
  valley_json_number(j, "t_quantile", tq);
  valley_json_number(j, "ratio", ratio);
  valley_json_string(j, "verdict_rule",
                     "stable: mean over seeds of the largest relative RMS shape difference of the "
                     "late curves <= 0.1; P, A: mean over seeds of the predicted and the SWA bias "
                     "(l units, + = flat side), 95% t intervals; reproduced: stable, both "
                     "intervals > 0 and A/P in [1/3, 3]; not reproduced: not stable, or A's "
                     "interval < 0, or P's interval > 0 and A's interval outside [P/3, 3P]; else "
                     "inconclusive");
  valley_exp_verdict(r, v,
                     "BN MLP, %zu seeds: late-curve shape RMS %.3f of range (%s); predicted flat "
                     "bias %.3g [%.3g, %.3g], SWA %.3g [%.3g, %.3g] (l units), ratio %.3g",
                     s.seeds, stab, stable ? "stable" : "not stable", P, Plo, Phi, A, Alo, Ahi,
                     ratio);
done:
  if (keep.m != NULL)
    for (size_t e = 0; e < keep.n; e++) valley_exp_model_free(&keep.m[e]);
  free(keep.m);
  valley_exp_model_free(&sgd);
  valley_exp_model_free(&swa);
  valley_valley1d_table_free(tab);
  valley_sgd1d_result_free(res);
  if (prof != NULL)
    for (size_t i = 0; i < s.pool; i++) valley_prof_free(&prof[i]);
  if (cprof != NULL)
    for (size_t c = 0; c < n_curves; c++) valley_prof_free(&cprof[c]);
  free(prof);
  free(ty);
  free(fy);
  free(my);
  free(mgrid);
  free(wk.perm);
  free(wk.xb);
  free(wk.yb);
  free(wk.g);
  free(wk.theta);
  free(cprof);
  free(dirs);
  free(dp);
  free(grid);
  free(fgrid);
  free(merged);
  free(wl);
  free(wy);
  free(proj);
  free(curv);
  free(sd);
  free(dd);
  free(cl);
  free(pa);
  free(ab);
  free(iters);
  valley_dataset_free(&train);
  valley_dataset_free(&test);
  return st;
}
