/* Experiment "swa-vs-sgd" (issue 6; asymmetric-valleys-paper.txt Sec. 6.1, Table 1, Figures 7-8,
 * Appendices E-F; docs/exp_swa-vs-sgd.md).
 *
 * Per seed: train a BN MLP with SGD and stochastic weight averaging (valley_exp_train: the SWA
 * average gets BN statistics recomputed over the training set), then run SGD from the SWA
 * solution with a small learning rate (FT_LR_FACTOR times the training lr, fresh zero velocity)
 * for a few epochs to reach an SGD solution in the same basin.  Then:
 *  - Table 1's analogue: train/test loss and accuracy of SWA and of that SGD solution;
 *  - Figure 7's analogue: the interpolation w(l) = SWA + l (SGD - SWA), l in [-1, 2], both with
 *    the SWA model's BN statistics held fixed (the probe) and with BN statistics recomputed at
 *    every point (the primary curve: every point is then a proper network);
 *  - Figure 8's analogue: the train loss along w + l (u_inter + u_rand) through SWA and through
 *    SGD, u_inter = SWA - SGD, u_rand Gaussian with the norm of u_inter, N_DIRS directions.
 * On each curve: the minimum of the train loss, the flat side of the valley there (the side with
 * the smaller integrated rise over the largest symmetric window inside the grid) and whether the
 * solution (l = 0 / SWA) lies on the flat side of that minimum.
 *
 * Verdict (fixed before any run, docs/exp_swa-vs-sgd.md):
 *   reproduced      when (a) the paired test-loss difference SGD - SWA has mean > 2 SE over the
 *                   seeds, (b) SWA lies on the flat side of the recomputed-BN interpolation
 *                   minimum for more than half of the seeds, and (c) the Wilson 95 % interval
 *                   of the fraction of (seed, random direction) pairs with SWA on the flat side
 *                   lies above 1/2;
 *   not reproduced  when the mean difference is < -2 SE, or the Wilson interval lies below 1/2,
 *                   or SWA is on the flat side in none of the seeds' interpolations (>= 2 seeds);
 *   inconclusive    otherwise. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments_internal.h"

#define N_DIRS 10
#define FT_LR_FACTOR 0.1   /* SGD from SWA: lr = 0.1 x the training lr */
#define MAX_SEEDS 8
#define N_SCALES 2
#define N_PROF (1 + 2 * N_SCALES * N_DIRS)
/* |u_rand| / |u_inter|: 1 is the paper's (both unit vectors) and the verdict's; 4 is a
 * supplementary check with a larger random part */
static const double RAND_SCALE[N_SCALES] = {1.0, 4.0};
#define EVAL_BATCH 128

typedef struct {
  int full;
  size_t n_train, n_test;
  size_t probe_n_train; /* train subset of the direction probes; 0: the whole train set */
  size_t widths[4];
  size_t epochs, swa_start, ft_epochs, seeds;
  double lr, momentum, wd;
  size_t batch;
  double interp_lo, interp_hi, interp_step; /* interpolation grid */
  double dir_lo, dir_hi, dir_step;          /* u_inter + u_rand grid */
} settings_t;

static void settings_for(int full, settings_t *s) {
  memset(s, 0, sizeof *s);
  s->full = full;
  s->batch = 128;
  s->lr = 0.05;
  s->momentum = 0.9;
  s->wd = 5e-4;
  s->widths[0] = 784;
  s->widths[3] = 10;
  s->interp_lo = -1.0;
  s->interp_hi = 2.0;
  s->interp_step = 0.125;
  s->dir_lo = -2.0;
  s->dir_hi = 2.0;
  s->dir_step = 0.125;
  if (full) {
    s->n_train = 0; /* all 60,000 */
    s->n_test = 10000;
    s->probe_n_train = 10000;
    s->widths[1] = s->widths[2] = 256;
    s->epochs = 20;
    s->swa_start = 11;
    s->ft_epochs = 5;
    s->seeds = 3;
  } else {
    s->n_train = 3000;
    s->n_test = 1500;
    s->widths[1] = s->widths[2] = 64;
    s->epochs = 8;
    s->swa_start = 4;
    s->ft_epochs = 2;
    s->seeds = 2;
  }
}

/* splitmix64: the per-seed and per-purpose seeds */
static uint64_t mix(uint64_t x, uint64_t k) {
  uint64_t z = x + UINT64_C(0x9e3779b97f4a7c15) * (k + 1);
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static size_t grid_make(double lo, double hi, double step, double **g) {
  size_t n = (size_t)floor((hi - lo) / step + 0.5) + 1;
  *g = malloc(n * sizeof **g);
  if (*g == NULL) return 0;
  for (size_t i = 0; i < n; i++) (*g)[i] = lo + step * (double)i;
  return n;
}

/* The valley's sides around the minimum of y(l) (n samples). */
typedef struct {
  int valid;        /* 0: the minimum is at the grid's edge (then on_flat = 0) */
  double l_min;     /* refined by the parabola through the sampled minimum and its neighbours */
  double y_min;     /* the sampled minimum */
  double half;      /* H = min(l_min - l_0, l_{n-1} - l_min) */
  double area_minus, area_plus; /* int_0^H (y(l_min -/+ h) - y_min) dh */
  double rise_minus, rise_plus; /* y(l_min -/+ H) - y_min */
  int flat_side;    /* +1: smaller area for l > l_min; -1 otherwise */
  double ratio;     /* sharp area / flat area */
  double offset;    /* (0 - l_min) * flat_side: > 0 when l = 0 lies on the flat side */
  int on_flat;
} sides_t;

static double area_side(const double *l, const double *y, size_t n, double l0, double y0,
                        double H, int side) {
  const int m = 128;
  double a = 0.0;
  for (int k = 0; k <= m; k++) {
    double h = H * (double)k / m;
    double v = valley_prof_interp(l, y, n, l0 + side * h) - y0;
    a += (k == 0 || k == m ? 0.5 : 1.0) * v;
  }
  return a * H / m;
}

static void sides_of(const double *l, const double *y, size_t n, sides_t *s) {
  memset(s, 0, sizeof *s);
  size_t im = 0;
  for (size_t i = 1; i < n; i++)
    if (y[i] < y[im]) im = i;
  s->y_min = y[im];
  s->l_min = l[im];
  s->area_minus = s->area_plus = s->rise_minus = s->rise_plus = s->ratio = NAN;
  s->half = 0.0;
  if (im == 0 || im == n - 1) {
    s->offset = NAN;
    return;
  }
  double x0 = l[im - 1], x1 = l[im], x2 = l[im + 1];
  double y0 = y[im - 1], y1 = y[im], y2 = y[im + 1];
  double den = (x0 - x1) * (x0 - x2) * (x1 - x2);
  double A = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / den;
  double B = (x2 * x2 * (y0 - y1) + x1 * x1 * (y2 - y0) + x0 * x0 * (y1 - y2)) / den;
  if (A > 0) {
    double v = -B / (2 * A);
    if (v > x0 && v < x2) s->l_min = v;
  }
  s->half = fmin(s->l_min - l[0], l[n - 1] - s->l_min);
  s->area_minus = area_side(l, y, n, s->l_min, s->y_min, s->half, -1);
  s->area_plus = area_side(l, y, n, s->l_min, s->y_min, s->half, +1);
  s->rise_minus = valley_prof_interp(l, y, n, s->l_min - s->half) - s->y_min;
  s->rise_plus = valley_prof_interp(l, y, n, s->l_min + s->half) - s->y_min;
  s->flat_side = s->area_plus < s->area_minus ? +1 : -1;
  double flat = s->flat_side > 0 ? s->area_plus : s->area_minus;
  double sharp = s->flat_side > 0 ? s->area_minus : s->area_plus;
  s->ratio = sharp / flat;
  s->offset = (0.0 - s->l_min) * s->flat_side;
  s->on_flat = s->offset > 0;
  s->valid = 1;
}

static void sides_json(valley_json_t *j, const char *key, const sides_t *s) {
  valley_json_object(j, key);
  valley_json_bool(j, "valid", s->valid);
  valley_json_number(j, "l_min", s->l_min);
  valley_json_number(j, "y_min", s->y_min);
  valley_json_number(j, "half_window", s->half);
  valley_json_number(j, "area_minus", s->area_minus);
  valley_json_number(j, "area_plus", s->area_plus);
  valley_json_number(j, "rise_minus", s->rise_minus);
  valley_json_number(j, "rise_plus", s->rise_plus);
  valley_json_number(j, "flat_side", s->flat_side);
  valley_json_number(j, "sharp_over_flat", s->ratio);
  valley_json_number(j, "offset_to_flat", s->offset);
  valley_json_bool(j, "solution_on_flat_side", s->on_flat);
  valley_json_object_end(j);
}

/* SGD from the model m's parameters (a copy; fresh zero velocity) for `epochs` epochs. */
static valley_status_t sgd_from(valley_exp_run_t *r, const valley_exp_model_t *m,
                                const valley_sgd_config_t *sgd, size_t epochs,
                                const valley_dataset_t *train, valley_exp_model_t *out,
                                valley_error_t *err) {
  valley_status_t st = valley_exp_model_copy(m, m->theta, out, err);
  if (st != VALLEY_OK) return st;
  size_t np = out->net->n_params;
  float *vel = calloc(np, sizeof *vel);
  if (vel == NULL) {
    valley_exp_model_free(out);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "velocity of %zu parameters", np);
  }
  for (size_t e = 0; e < epochs && st == VALLEY_OK; e++) {
    double loss = 0.0;
    st = valley_mlp_train_epoch(out->net, out->theta, sgd->momentum > 0 ? vel : NULL, train, sgd,
                                e, &loss, err);
    if (st == VALLEY_OK)
      valley_exp_progress(r, "swa-vs-sgd: SGD from SWA (lr %g), epoch %zu/%zu, train loss %.4f",
                          sgd->lr, e + 1, epochs, loss);
  }
  free(vel);
  if (st != VALLEY_OK) valley_exp_model_free(out);
  return st;
}

typedef struct {
  double loss[2], acc[2]; /* train, test */
} evals_t;

static valley_status_t eval_model(valley_exp_model_t *m, const valley_dataset_t *train,
                                  const valley_dataset_t *test, evals_t *e, valley_error_t *err) {
  valley_status_t st =
      valley_mlp_evaluate(m->net, m->theta, train, EVAL_BATCH, &e->loss[0], &e->acc[0], err);
  if (st == VALLEY_OK)
    st = valley_mlp_evaluate(m->net, m->theta, test, EVAL_BATCH, &e->loss[1], &e->acc[1], err);
  return st;
}

/* The interpolation with BN statistics recomputed over train at every grid point. */
static valley_status_t interp_recomputed(const valley_exp_model_t *base, const float *u,
                                         size_t n_grid, const double *grid,
                                         const valley_dataset_t *train,
                                         const valley_dataset_t *test, size_t batch,
                                         evals_t *out, valley_error_t *err) {
  valley_exp_model_t m;
  valley_status_t st = valley_exp_model_copy(base, base->theta, &m, err);
  if (st != VALLEY_OK) return st;
  size_t np = m.net->n_params;
  for (size_t g = 0; g < n_grid && st == VALLEY_OK; g++) {
    float lf = (float)grid[g];
    for (size_t k = 0; k < np; k++) m.theta[k] = base->theta[k] + lf * u[k];
    st = valley_mlp_recompute_bn(m.net, m.theta, train, batch, err);
    if (st == VALLEY_OK) st = eval_model(&m, train, test, &out[g], err);
  }
  valley_exp_model_free(&m);
  return st;
}

/* Everything one seed produces. */
typedef struct {
  evals_t swa, sgd, run; /* SWA, SGD from SWA, the training run's last SGD iterate */
  evals_t swa_probe, sgd_probe; /* on the direction probes' train subset and test set */
  double dist;           /* ||SGD - SWA|| */
  sides_t interp_fixed, interp_re, interp_re_test;
  sides_t dir_swa[N_SCALES][N_DIRS], dir_sgd[N_SCALES][N_DIRS];
} seed_result_t;

static valley_status_t run_seed(valley_exp_run_t *r, const settings_t *S, size_t si,
                                const valley_dataset_t *train, const valley_dataset_t *test,
                                const valley_dataset_t *ptrain, size_t n_ig, const double *ig, size_t n_dg, const double *dg,
                                FILE *f_table, FILE *f_interp, FILE *f_dirs, FILE *f_dsum,
                                seed_result_t *res, valley_error_t *err) {
  const valley_exp_config_t *cfg = valley_exp_cfg(r);
  uint64_t base = mix(cfg->seed, 1000 + si);
  valley_exp_train_t spec;
  valley_exp_spec_bn_mlp(&spec, S->widths, S->batch, S->lr, S->epochs, mix(base, 1), mix(base, 2));
  spec.sgd.momentum = S->momentum;
  spec.sgd.weight_decay = S->wd;
  spec.swa_start = S->swa_start;
  spec.swa_freq = 1;

  valley_exp_model_t run = {0}, swa = {0}, sgd = {0};
  float *u = NULL, *dirs_mem = NULL;
  valley_prof_t pf[N_PROF];
  memset(pf, 0, sizeof pf);
  evals_t *re = NULL;
  valley_exp_progress(r, "swa-vs-sgd: seed %zu/%zu: training with SWA", si + 1, S->seeds);
  valley_status_t st = valley_exp_train(r, &spec, train, &run, &swa, err);
  if (st != VALLEY_OK) return st;
  valley_sgd_config_t ft = spec.sgd;
  ft.lr = S->lr * FT_LR_FACTOR;
  ft.seed = mix(base, 3);
  st = sgd_from(r, &swa, &ft, S->ft_epochs, train, &sgd, err);
  if (st != VALLEY_OK) goto done;
  st = eval_model(&swa, train, test, &res->swa, err);
  if (st == VALLEY_OK) st = eval_model(&sgd, train, test, &res->sgd, err);
  if (st == VALLEY_OK) st = eval_model(&run, train, test, &res->run, err);
  if (st == VALLEY_OK) st = eval_model(&swa, ptrain, test, &res->swa_probe, err);
  if (st == VALLEY_OK) st = eval_model(&sgd, ptrain, test, &res->sgd_probe, err);
  if (st != VALLEY_OK) goto done;
  const char *names[3] = {"swa", "sgd", "sgd_run"};
  const evals_t *ev[3] = {&res->swa, &res->sgd, &res->run};
  for (int k = 0; k < 3; k++)
    fprintf(f_table, "%zu,%s,%.17g,%.17g,%.17g,%.17g\n", si, names[k], ev[k]->loss[0],
            ev[k]->loss[1], ev[k]->acc[0], ev[k]->acc[1]);

  size_t np = swa.net->n_params;
  u = malloc(np * sizeof *u);
  dirs_mem = malloc(2 * N_DIRS * np * sizeof *dirs_mem);
  re = malloc(n_ig * sizeof *re);
  if (u == NULL || dirs_mem == NULL || re == NULL) {
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "directions of %zu parameters", np);
    goto done;
  }
  /* Figure 7: the interpolation SWA + l (SGD - SWA) */
  valley_direction_line(np, swa.theta, sgd.theta, u);
  double d2 = 0.0;
  for (size_t k = 0; k < np; k++) d2 += (double)u[k] * u[k];
  res->dist = sqrt(d2);
  valley_exp_progress(r, "swa-vs-sgd: seed %zu: interpolation (|SGD - SWA| = %.4g)", si + 1,
                      res->dist);
  const float *line[1] = {u};
  st = valley_exp_probe(r, &swa, 1, line, n_ig, ig, train, test, &pf[0], err);
  if (st == VALLEY_OK)
    st = interp_recomputed(&swa, u, n_ig, ig, train, test, S->batch, re, err);
  if (st != VALLEY_OK) goto done;
  {
    double *yre = malloc(2 * n_ig * sizeof *yre);
    if (yre == NULL) {
      st = VALLEY_ERROR(err, VALLEY_ENOMEM, "a profile");
      goto done;
    }
    for (size_t g = 0; g < n_ig; g++) {
      yre[g] = re[g].loss[0];
      yre[n_ig + g] = re[g].loss[1];
    }
    sides_of(pf[0].l, pf[0].train, n_ig, &res->interp_fixed);
    sides_of(ig, yre, n_ig, &res->interp_re);
    sides_of(ig, yre + n_ig, n_ig, &res->interp_re_test);
    free(yre);
  }
  for (size_t g = 0; g < n_ig; g++)
    fprintf(f_interp, "%zu,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g\n", si, ig[g],
            pf[0].train[g], pf[0].test[g], pf[0].train_acc[g], pf[0].test_acc[g], re[g].loss[0],
            re[g].loss[1], re[g].acc[0], re[g].acc[1]);

  /* Figure 8: u_inter + u_rand, u_inter = SWA - SGD, u_rand Gaussian scaled to RAND_SCALE[q]
   * times |u_inter| (q = 0: the paper's equal norms, the verdict's; q = 1: supplementary).  The
   * same u_rand draws (indices 0..N_DIRS-1) for both scales. */
  valley_dir_config_t dc;
  st = valley_dir_config_family(VALLEY_DIR_FAMILY_GAUSSIAN, &dc, err);
  if (st != VALLEY_OK) goto done;
  uint64_t dseed = mix(base, 4);
  for (size_t q = 0; q < N_SCALES && st == VALLEY_OK; q++) {
    valley_exp_progress(r, "swa-vs-sgd: seed %zu: %d directions u_inter + u_rand, |u_rand| = %g "
                        "|u_inter|", si + 1, N_DIRS, RAND_SCALE[q]);
    const float *dp[N_DIRS];
    for (size_t d = 0; d < N_DIRS && st == VALLEY_OK; d++) {
      float *v = dirs_mem + d * np;
      st = valley_direction(swa.net, swa.theta, &dc, dseed, d, v, err);
      if (st != VALLEY_OK) break;
      double n2 = 0.0;
      for (size_t k = 0; k < np; k++) n2 += (double)v[k] * v[k];
      double sc = RAND_SCALE[q] * res->dist / sqrt(n2);
      for (size_t k = 0; k < np; k++) v[k] = (float)(-(double)u[k] + sc * (double)v[k]);
      dp[d] = v;
    }
    valley_prof_t *pq = &pf[1 + q * 2 * N_DIRS];
    if (st == VALLEY_OK)
      st = valley_exp_probe(r, &swa, N_DIRS, dp, n_dg, dg, ptrain, test, pq, err);
    if (st == VALLEY_OK)
      st = valley_exp_probe(r, &sgd, N_DIRS, dp, n_dg, dg, ptrain, test, pq + N_DIRS,
                             err);
    if (st != VALLEY_OK) break;
    for (size_t d = 0; d < N_DIRS; d++) {
      for (int b = 0; b < 2; b++) {
        const valley_prof_t *p = &pq[b * N_DIRS + d];
        sides_t *sd = b == 0 ? &res->dir_swa[q][d] : &res->dir_sgd[q][d];
        sides_of(p->l, p->train, p->n, sd);
        for (size_t g = 0; g < p->n; g++)
          fprintf(f_dirs, "%g,%zu,%zu,%d,%.17g,%.17g,%.17g,%.17g,%.17g\n", RAND_SCALE[q], si, d,
                  b, p->l[g], p->train[g], p->test[g], p->train_acc[g], p->test_acc[g]);
        fprintf(f_dsum, "%g,%zu,%zu,%d,%d,%.17g,%d,%.17g,%.17g,%d\n", RAND_SCALE[q], si, d, b,
                sd->valid, sd->l_min, sd->flat_side, sd->ratio, sd->offset, sd->on_flat);
      }
    }
  }
done:
  for (size_t i = 0; i < N_PROF; i++) valley_prof_free(&pf[i]);
  free(re);
  free(u);
  free(dirs_mem);
  valley_exp_model_free(&run);
  valley_exp_model_free(&swa);
  valley_exp_model_free(&sgd);
  return st;
}

/* The u_inter + u_rand counts of scale q over the seeds (pairs: seed x direction). */
typedef struct {
  uint64_t k_swa, k_sgd, k_more, pairs, seeds_major;
  double frac, w_lo, w_hi, g_lo, g_hi, m_lo, m_hi;
} dir_stats_t;

static void dir_stats(const seed_result_t *res, size_t ns, size_t q, dir_stats_t *o) {
  memset(o, 0, sizeof *o);
  for (size_t s = 0; s < ns; s++) {
    uint64_t ks = 0;
    for (size_t d = 0; d < N_DIRS; d++) {
      const sides_t *a = &res[s].dir_swa[q][d], *b = &res[s].dir_sgd[q][d];
      ks += (uint64_t)a->on_flat;
      o->k_sgd += (uint64_t)b->on_flat;
      /* SWA further toward the flat side of its line's minimum than SGD of its own */
      if (a->valid && b->valid && a->offset > b->offset) o->k_more++;
      o->pairs++;
    }
    o->k_swa += ks;
    o->seeds_major += 2 * ks > N_DIRS;
  }
  o->frac = (double)o->k_swa / (double)o->pairs;
  valley_exp_wilson(o->k_swa, o->pairs, 1.96, &o->w_lo, &o->w_hi);
  valley_exp_wilson(o->k_sgd, o->pairs, 1.96, &o->g_lo, &o->g_hi);
  valley_exp_wilson(o->k_more, o->pairs, 1.96, &o->m_lo, &o->m_hi);
}

static void dir_stats_json(valley_json_t *j, const char *key, double scale, size_t ns,
                           const dir_stats_t *o) {
  valley_json_object(j, key);
  valley_json_number(j, "rand_scale", scale);
  valley_json_u64(j, "pairs", o->pairs);
  valley_json_u64(j, "swa_on_flat", o->k_swa);
  valley_json_number(j, "swa_fraction", o->frac);
  valley_json_number(j, "swa_wilson_lo", o->w_lo);
  valley_json_number(j, "swa_wilson_hi", o->w_hi);
  valley_json_u64(j, "sgd_on_flat", o->k_sgd);
  valley_json_number(j, "sgd_fraction", (double)o->k_sgd / (double)o->pairs);
  valley_json_number(j, "sgd_wilson_lo", o->g_lo);
  valley_json_number(j, "sgd_wilson_hi", o->g_hi);
  valley_json_u64(j, "swa_further_to_flat_than_sgd", o->k_more);
  valley_json_number(j, "swa_further_wilson_lo", o->m_lo);
  valley_json_number(j, "swa_further_wilson_hi", o->m_hi);
  valley_json_u64(j, "seeds_majority_swa_on_flat", o->seeds_major);
  valley_json_u64(j, "seeds", ns);
  valley_json_object_end(j);
}

static void evals_json(valley_json_t *j, const char *key, const evals_t *e) {
  valley_json_object(j, key);
  valley_json_number(j, "train_loss", e->loss[0]);
  valley_json_number(j, "test_loss", e->loss[1]);
  valley_json_number(j, "train_acc", e->acc[0]);
  valley_json_number(j, "test_acc", e->acc[1]);
  valley_json_object_end(j);
}

valley_status_t valley_exp_run_swa_vs_sgd(valley_exp_run_t *r, valley_error_t *err) {
  const valley_exp_config_t *cfg = valley_exp_cfg(r);
  settings_t S;
  settings_for(cfg->full, &S);
  valley_dataset_t train, test;
  double *ig = NULL, *dg = NULL;
  seed_result_t *res = NULL;
  FILE *f_table, *f_interp, *f_dirs, *f_dsum;
  valley_status_t st = valley_exp_load(r, S.n_train, S.n_test, &train, &test, err);
  if (st != VALLEY_OK) return st;
  valley_dataset_t psub;
  memset(&psub, 0, sizeof psub);
  const valley_dataset_t *ptrain = &train;
  if (S.probe_n_train > 0 && S.probe_n_train < train.n) {
    st = valley_dataset_subset(&train, S.probe_n_train, mix(cfg->seed, 7), &psub, err);
    if (st != VALLEY_OK) {
      valley_dataset_free(&train);
      valley_dataset_free(&test);
      return st;
    }
    ptrain = &psub;
  }
  size_t n_ig = grid_make(S.interp_lo, S.interp_hi, S.interp_step, &ig);
  size_t n_dg = grid_make(S.dir_lo, S.dir_hi, S.dir_step, &dg);
  res = calloc(S.seeds, sizeof *res);
  if (n_ig == 0 || n_dg == 0 || res == NULL) {
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "grids and results");
    goto done;
  }
  if ((st = valley_exp_csv(r, "table1", &f_table, err)) != VALLEY_OK) goto done;
  fprintf(f_table, "# Table 1 analogue: SWA, SGD from SWA (lr x %g), the run's last SGD iterate\n"
                   "seed,model,train_loss,test_loss,train_acc,test_acc\n", FT_LR_FACTOR);
  if ((st = valley_exp_csv(r, "interp", &f_interp, err)) != VALLEY_OK) goto done;
  fprintf(f_interp,
          "# Figure 7 analogue: w(l) = SWA + l (SGD - SWA); *_fixed: SWA's BN statistics, "
          "*_bnre: BN statistics recomputed at each l\n"
          "seed,l,train_loss_fixed,test_loss_fixed,train_acc_fixed,test_acc_fixed,"
          "train_loss_bnre,test_loss_bnre,train_acc_bnre,test_acc_bnre\n");
  if ((st = valley_exp_csv(r, "dirs", &f_dirs, err)) != VALLEY_OK) goto done;
  fprintf(f_dirs, "# Figure 8 analogue: w + l (u_inter + u_rand), base 0: SWA, 1: SGD; "
                  "BN statistics of the base\n"
                  "rand_scale,seed,direction,base,l,train_loss,test_loss,train_acc,test_acc\n");
  if ((st = valley_exp_csv(r, "dirs_sides", &f_dsum, err)) != VALLEY_OK) goto done;
  fprintf(f_dsum, "# per direction: minimum of the train loss, flat side, solution (l = 0) on it\n"
                  "rand_scale,seed,direction,base,valid,l_min,flat_side,sharp_over_flat,offset_to_flat,"
                  "on_flat\n");
  for (size_t si = 0; si < S.seeds && st == VALLEY_OK; si++)
    st = run_seed(r, &S, si, &train, &test, ptrain, n_ig, ig, n_dg, dg, f_table, f_interp, f_dirs, f_dsum,
                  &res[si], err);
  if (st != VALLEY_OK) goto done;

  /* aggregates */
  size_t ns = S.seeds;
  double dtest[MAX_SEEDS], dtrain[MAX_SEEDS], dtacc[MAX_SEEDS], dtracc[MAX_SEEDS];
  size_t interp_flat = 0, interp_flat_fixed = 0, swa_hi_train = 0;
  for (size_t s = 0; s < ns; s++) {
    dtest[s] = res[s].sgd.loss[1] - res[s].swa.loss[1];
    dtrain[s] = res[s].sgd.loss[0] - res[s].swa.loss[0];
    dtacc[s] = res[s].swa.acc[1] - res[s].sgd.acc[1];
    dtracc[s] = res[s].swa.acc[0] - res[s].sgd.acc[0];
    interp_flat += (size_t)res[s].interp_re.on_flat;
    interp_flat_fixed += (size_t)res[s].interp_fixed.on_flat;
    swa_hi_train += res[s].swa.loss[0] > res[s].sgd.loss[0];
  }
  double m_test, se_test, m_train, se_train, m_tacc, se_tacc, m_tracc, se_tracc;
  valley_exp_mean_se(dtest, ns, &m_test, &se_test, NULL);
  valley_exp_mean_se(dtrain, ns, &m_train, &se_train, NULL);
  valley_exp_mean_se(dtacc, ns, &m_tacc, &se_tacc, NULL);
  valley_exp_mean_se(dtracc, ns, &m_tracc, &se_tracc, NULL);
  dir_stats_t ds[N_SCALES];
  for (size_t q = 0; q < N_SCALES; q++) dir_stats(res, ns, q, &ds[q]);
  double w_lo = ds[0].w_lo, w_hi = ds[0].w_hi;

  int a_yes = ns >= 2 && m_test > 2 * se_test;
  int a_no = ns >= 2 && m_test < -2 * se_test;
  int b_yes = 2 * interp_flat > ns;
  int b_no = ns >= 2 && interp_flat == 0;
  int c_yes = w_lo > 0.5, c_no = w_hi < 0.5;
  valley_exp_verdict_t v = VALLEY_EXP_INCONCLUSIVE;
  if (a_yes && b_yes && c_yes)
    v = VALLEY_EXP_REPRODUCED;
  else if (a_no || b_no || c_no)
    v = VALLEY_EXP_NOT_REPRODUCED;

  valley_json_t *j = valley_exp_json(r);
  valley_json_object(j, "settings");
  valley_json_string(j, "network", "MLP with BN after each hidden layer");
  valley_json_numbers(j, "widths", (double[]){(double)S.widths[0], (double)S.widths[1],
                                               (double)S.widths[2], (double)S.widths[3]}, 4);
  valley_json_u64(j, "n_train", train.n);
  valley_json_u64(j, "n_test", test.n);
  valley_json_u64(j, "probe_n_train", ptrain->n);
  valley_json_u64(j, "seeds", ns);
  valley_json_u64(j, "epochs", S.epochs);
  valley_json_u64(j, "swa_start", S.swa_start);
  valley_json_u64(j, "swa_freq", 1);
  valley_json_u64(j, "batch", S.batch);
  valley_json_number(j, "lr", S.lr);
  valley_json_number(j, "momentum", S.momentum);
  valley_json_number(j, "weight_decay", S.wd);
  valley_json_u64(j, "sgd_from_swa_epochs", S.ft_epochs);
  valley_json_number(j, "sgd_from_swa_lr", S.lr * FT_LR_FACTOR);
  valley_json_numbers(j, "interp_grid", ig, n_ig);
  valley_json_u64(j, "random_directions", N_DIRS);
  valley_json_string(j, "u_rand", "Gaussian, scaled to |u_inter| = |SWA - SGD|");
  valley_json_numbers(j, "dir_grid", dg, n_dg);
  valley_json_object_end(j);

  valley_json_array(j, "per_seed");
  for (size_t s = 0; s < ns; s++) {
    valley_json_object(j, NULL);
    valley_json_u64(j, "seed_index", s);
    evals_json(j, "swa", &res[s].swa);
    evals_json(j, "sgd", &res[s].sgd);
    evals_json(j, "sgd_run", &res[s].run);
    evals_json(j, "swa_probe_data", &res[s].swa_probe);
    evals_json(j, "sgd_probe_data", &res[s].sgd_probe);
    valley_json_number(j, "distance_sgd_swa", res[s].dist);
    sides_json(j, "interp_train_bn_recomputed", &res[s].interp_re);
    sides_json(j, "interp_test_bn_recomputed", &res[s].interp_re_test);
    sides_json(j, "interp_train_bn_fixed", &res[s].interp_fixed);
    valley_json_array(j, "dirs");
    for (size_t q = 0; q < N_SCALES; q++) {
      uint64_t ks = 0, kg = 0;
      double lm[N_DIRS], lm_mean, lm_se;
      for (size_t d = 0; d < N_DIRS; d++) {
        ks += (uint64_t)res[s].dir_swa[q][d].on_flat;
        kg += (uint64_t)res[s].dir_sgd[q][d].on_flat;
        lm[d] = res[s].dir_swa[q][d].l_min;
      }
      valley_exp_mean_se(lm, N_DIRS, &lm_mean, &lm_se, NULL);
      valley_json_object(j, NULL);
      valley_json_number(j, "rand_scale", RAND_SCALE[q]);
      valley_json_u64(j, "swa_on_flat", ks);
      valley_json_u64(j, "sgd_on_flat", kg);
      /* the spread of the SWA line's minimum over the directions: how much u_rand matters */
      valley_json_number(j, "swa_l_min_mean", lm_mean);
      valley_json_number(j, "swa_l_min_sd", lm_se * sqrt((double)N_DIRS));
      valley_json_array(j, "swa");
      for (size_t d = 0; d < N_DIRS; d++) sides_json(j, NULL, &res[s].dir_swa[q][d]);
      valley_json_array_end(j);
      valley_json_array(j, "sgd");
      for (size_t d = 0; d < N_DIRS; d++) sides_json(j, NULL, &res[s].dir_sgd[q][d]);
      valley_json_array_end(j);
      valley_json_object_end(j);
    }
    valley_json_array_end(j);
    valley_json_object_end(j);
  }
  valley_json_array_end(j);

  valley_json_object(j, "table1");
  valley_json_number(j, "test_loss_sgd_minus_swa_mean", m_test);
  valley_json_number(j, "test_loss_sgd_minus_swa_se", se_test);
  valley_json_number(j, "train_loss_sgd_minus_swa_mean", m_train);
  valley_json_number(j, "train_loss_sgd_minus_swa_se", se_train);
  valley_json_number(j, "test_acc_swa_minus_sgd_mean", m_tacc);
  valley_json_number(j, "test_acc_swa_minus_sgd_se", se_tacc);
  valley_json_number(j, "train_acc_swa_minus_sgd_mean", m_tracc);
  valley_json_number(j, "train_acc_swa_minus_sgd_se", se_tracc);
  valley_json_u64(j, "seeds_swa_higher_train_loss", swa_hi_train);
  valley_json_object_end(j);

  valley_json_object(j, "interpolation");
  valley_json_u64(j, "seeds_swa_on_flat_bn_recomputed", interp_flat);
  valley_json_u64(j, "seeds_swa_on_flat_bn_fixed", interp_flat_fixed);
  valley_json_u64(j, "seeds", ns);
  valley_json_object_end(j);

  dir_stats_json(j, "random_directions", RAND_SCALE[0], ns, &ds[0]);
  dir_stats_json(j, "random_directions_supplementary", RAND_SCALE[1], ns, &ds[1]);

  valley_json_object(j, "criteria");
  valley_json_bool(j, "a_test_loss_lower_yes", a_yes);
  valley_json_bool(j, "a_test_loss_lower_no", a_no);
  valley_json_bool(j, "b_interp_flat_yes", b_yes);
  valley_json_bool(j, "b_interp_flat_no", b_no);
  valley_json_bool(j, "c_random_flat_yes", c_yes);
  valley_json_bool(j, "c_random_flat_no", c_no);
  valley_json_object_end(j);

  valley_exp_verdict(r, v,
                     "test loss SGD-SWA %+.4f +- %.4f (SE, %zu seeds), train loss SGD-SWA "
                     "%+.4f +- %.4f; SWA on the flat side of the interpolation in %zu/%zu seeds; "
                     "along u_inter+u_rand SWA on the flat side in %llu/%llu (%.2f, Wilson "
                     "[%.2f, %.2f]), SGD %llu/%llu",
                     m_test, se_test, ns, m_train, se_train, interp_flat, ns,
                     (unsigned long long)ds[0].k_swa, (unsigned long long)ds[0].pairs,
                     ds[0].frac, w_lo, w_hi, (unsigned long long)ds[0].k_sgd,
                     (unsigned long long)ds[0].pairs);
done:
  free(res);
  free(ig);
  free(dg);
  valley_dataset_free(&psub);
  valley_dataset_free(&train);
  valley_dataset_free(&test);
  return st;
}
