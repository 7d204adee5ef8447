/* batch-norm (issue 6; docs/exp_batch-norm.md): He, Huang, Yuan (2019) Appendix H, Figures
 * 41-46: BN is a major cause of asymmetric valleys.  Three parts:
 *
 *  A. Directions (Figures 41-44).  At the BN MLP's final SGD iterate (training seed 0 of part B,
 *     BN statistics recomputed over the training set),
 *     random directions of the "bn" family (Gaussian on the BN scales and shifts only,
 *     ||u|| = ||theta_BN||) and of the "non-bn" family (Gaussian on weights and biases only,
 *     ||u|| = ||theta_non-BN||), both drawn with one direction seed so that index i of the two
 *     families splits one Gaussian vector.  Per family a pilot (valley_exp_pilot, index 10^6,
 *     rise 1 nat on both sides) fixes the half-width L_f; every direction is probed on the same
 *     relative grid l = L_f (g - m) / m, g = 0..2m (Definition 1 on a grid is grid-dependent,
 *     docs/exp_asym-common.md).  Definition 1 (valley_prof_def1, r_min = max(|l_min| + h, L/10),
 *     as asym-common) on each train-loss profile gives c and c_conservative.  Index i is a pair;
 *     its key per family is c_conservative (-inf when def1 finds no window); a pair is decided
 *     when the keys differ, and "bn wins" when key_bn > key_non-bn.  Supplementary, not voted
 *     on: the same comparison at a small CNN with BN (one training run on a training subset,
 *     fewer directions and grid points: its probes are slow on the CPU).
 *  B. SWA on subsets (Figure 45).  Per training seed the BN MLP is trained by SGD with momentum
 *     and SWA (valley_exp_train: the final SGD iterate and the SWA average of the same run).
 *     Models: SGD; SWA-BN = SGD with its BN coordinates replaced by the SWA average's;
 *     SWA-non-BN = SGD with as many randomly chosen non-BN coordinates replaced (the first n_BN
 *     entries of a seeded permutation of the non-BN coordinates); SWA-all = the SWA average.
 *     Each (SGD too) gets its BN statistics recomputed over the training set, then train/test
 *     loss and accuracy.
 *  C. With and without BN (Figure 46).  The same MLP without BN (fc biases instead of BN; the
 *     same init seed gives the same weights, the same SGD seed the same shuffles) is trained the
 *     same way; gain = test accuracy (SWA) - test accuracy (SGD) for both networks.
 *
 * Verdict (fixed before any run).  t = the Student t 0.975 quantile with (seeds - 1) degrees of
 * freedom, se = the standard error of the mean over seeds, DELTA = 0.002 (0.2 percentage points
 * of test accuracy, the smallest effect of interest).
 *  A: reproduced when the Wilson 95 % lower bound of the fraction of decided pairs that bn wins
 *     is > 0.5; not reproduced when its upper bound is < 0.5; inconclusive otherwise.
 *  B: d = test acc (SWA-BN) - test acc (SWA-non-BN) per seed.  Reproduced when mean - t se > 0;
 *     not reproduced when mean + t se < DELTA (no effect of interest, or a reversed one);
 *     inconclusive otherwise.
 *  C: d = gain (BN) - gain (no BN) per seed; the same rule as B.
 *  Overall: reproduced when A, B and C are all reproduced; not reproduced when any of them is
 *  not reproduced; inconclusive otherwise (the claim is the conjunction of the three). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments_internal.h"

#define BN_RISE 1.0
#define BN_PILOT_INDEX UINT64_C(1000000)
#define BN_DELTA 0.002
#define BN_MAX_SEEDS 31
#define BN_N_HYB 4 /* sgd, swa-bn, swa-non-bn, swa-all */

static const char *const bn_hyb_names[BN_N_HYB] = {"sgd", "swa-bn", "swa-non-bn", "swa-all"};

/* Student t 0.975 quantiles, df = 1..30 */
static const double bn_t975[30] = {
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010,  2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796,  2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423};

typedef struct {
  size_t n_train, n_test, n_test_probe, width, epochs, swa_start, seeds, dirs, half_points,
      batch;
  double lr, momentum, wd;
  /* the supplementary CNN of part A (reported, not voted on) */
  size_t cnn_c1, cnn_c2, cnn_n_train, cnn_epochs, cnn_dirs, cnn_half_points;
} bn_settings_t;

typedef struct {
  double loss[2], acc[2]; /* train, test */
} bn_eval_t;

typedef struct {
  int valid, flat_side;
  double r, rbar, p, cp, c, c_cons;
} bn_dir_t;

typedef struct {
  bn_eval_t bn[BN_N_HYB]; /* the BN MLP: sgd, swa-bn, swa-non-bn, swa-all */
  bn_eval_t nb[2];        /* the MLP without BN: sgd, swa */
  bn_eval_t ema;          /* the BN MLP's SGD iterate with the running statistics of training */
  double move_bn, move_nonbn, move_all; /* ||SWA - SGD|| on the BN, chosen non-BN, all coords */
} bn_seed_t;

typedef struct {
  size_t n;
  double mean, se, t, lo, hi;
  int verdict;
} bn_paired_t;

static void bn_settings(int full, bn_settings_t *s) {
  memset(s, 0, sizeof *s);
  s->batch = 128;
  s->lr = 0.05;
  s->momentum = 0.9;
  s->wd = 5e-4;
  if (full) {
    s->n_train = 10000;
    s->n_test = 5000;
    s->n_test_probe = 500;
    s->width = 256;
    s->epochs = 20;
    s->swa_start = 11;
    s->seeds = 10;
    s->dirs = 48;
    s->half_points = 30;
    s->cnn_c1 = 8;
    s->cnn_c2 = 16;
    s->cnn_n_train = 4000;
    s->cnn_epochs = 8;
    s->cnn_dirs = 12;
    s->cnn_half_points = 15;
  } else {
    s->n_train = 1000;
    s->n_test = 500;
    s->n_test_probe = 200;
    s->width = 32;
    s->epochs = 6;
    s->swa_start = 3;
    s->seeds = 3;
    s->dirs = 6;
    s->half_points = 15;
    s->cnn_c1 = 4;
    s->cnn_c2 = 8;
    s->cnn_n_train = 500;
    s->cnn_epochs = 2;
    s->cnn_dirs = 2;
    s->cnn_half_points = 8;
  }
}

static int bn_is_bn(valley_net_kind_t k) {
  return k == VALLEY_NET_BN_SCALE || k == VALLEY_NET_BN_SHIFT;
}

/* The BN coordinates and the non-BN coordinates of net, in parameter order. */
static size_t bn_coords(const valley_mlp_t *net, size_t *bn, size_t *nonbn) {
  size_t nb = 0, nn = 0;
  for (size_t s = 0; s < net->n_segments; s++) {
    const valley_net_segment_t *g = &net->segments[s];
    for (size_t k = 0; k < g->length; k++) {
      if (bn_is_bn(g->kind))
        bn[nb++] = g->offset + k;
      else
        nonbn[nn++] = g->offset + k;
    }
  }
  return nb;
}

static valley_status_t bn_eval(valley_exp_model_t *m, const valley_dataset_t *train,
                               const valley_dataset_t *test, bn_eval_t *e, valley_error_t *err) {
  size_t b = m->net->max_batch;
  valley_status_t st =
      valley_mlp_evaluate(m->net, m->theta, train, b, &e->loss[0], &e->acc[0], err);
  if (st == VALLEY_OK)
    st = valley_mlp_evaluate(m->net, m->theta, test, b, &e->loss[1], &e->acc[1], err);
  return st;
}

/* sgd's parameters with coordinates idx[0..n-1] taken from avg (idx NULL: all n_params), BN
 * statistics recomputed over train, evaluated. */
static valley_status_t bn_hybrid(const valley_exp_model_t *sgd, const float *avg,
                                 const size_t *idx, size_t n, const valley_dataset_t *train,
                                 const valley_dataset_t *test, size_t batch, bn_eval_t *e,
                                 valley_error_t *err) {
  valley_exp_model_t h;
  valley_status_t st = valley_exp_model_copy(sgd, sgd->theta, &h, err);
  if (st != VALLEY_OK) return st;
  if (idx == NULL)
    memcpy(h.theta, avg, h.net->n_params * sizeof *avg);
  else
    for (size_t k = 0; k < n; k++) h.theta[idx[k]] = avg[idx[k]];
  st = valley_mlp_recompute_bn(h.net, h.theta, train, batch, err);
  if (st == VALLEY_OK) st = bn_eval(&h, train, test, e, err);
  valley_exp_model_free(&h);
  return st;
}

static double bn_move(const float *a, const float *b, const size_t *idx, size_t n) {
  double s = 0.0;
  for (size_t k = 0; k < n; k++) {
    double d = (double)a[idx[k]] - (double)b[idx[k]];
    s += d * d;
  }
  return sqrt(s);
}

/* Definition 1 on the train loss of p, windows from max(|l_min| + h, L / 10) (asym-common). */
static valley_status_t bn_def1(const valley_prof_t *p, double L, double h, bn_dir_t *d,
                               valley_error_t *err) {
  valley_prof_def1_t o;
  valley_status_t st = valley_exp_def1(p, L, h, &o, err);
  if (st != VALLEY_OK) return st;
  d->valid = o.best.valid;
  d->flat_side = o.best.valid ? o.best.flat_side : 0;
  d->r = o.best.r;
  d->rbar = o.best.rbar;
  d->p = o.best.p;
  d->cp = o.best.cp;
  d->c = o.best.valid ? o.best.c : NAN;
  d->c_cons = o.best.valid ? o.best.c_conservative : NAN;
  return VALLEY_OK;
}

static double bn_key(const bn_dir_t *d) {
  return d->valid && !isnan(d->c_cons) ? d->c_cons : -INFINITY;
}

/* Two-sided exact sign test: P(|K - n/2| >= |k - n/2|), K ~ Bin(n, 1/2). */
static double bn_sign_p(size_t k, size_t n) {
  if (n == 0) return 1.0;
  size_t m = k < n - k ? k : n - k;
  double tail = 0.0;
  for (size_t i = 0; i <= m; i++)
    tail += exp(lgamma((double)n + 1) - lgamma((double)i + 1) - lgamma((double)(n - i) + 1) -
                (double)n * log(2.0));
  return fmin(1.0, 2.0 * tail);
}

static void bn_paired(const double *d, size_t n, bn_paired_t *o) {
  memset(o, 0, sizeof *o);
  o->n = n;
  valley_exp_mean_se(d, n, &o->mean, &o->se, NULL);
  o->t = n >= 2 && n - 1 <= 30 ? bn_t975[n - 2] : NAN;
  o->lo = o->mean - o->t * o->se;
  o->hi = o->mean + o->t * o->se;
  o->verdict = isnan(o->lo)         ? VALLEY_EXP_INCONCLUSIVE
               : o->lo > 0          ? VALLEY_EXP_REPRODUCED
               : o->hi < BN_DELTA   ? VALLEY_EXP_NOT_REPRODUCED
                                    : VALLEY_EXP_INCONCLUSIVE;
}

/* voted: the part's verdict quantity (its rule's outcome is written too) */
static void bn_paired_json(valley_json_t *j, const char *key, const double *d,
                           const bn_paired_t *o, int voted) {
  valley_json_object(j, key);
  valley_json_numbers(j, "per_seed", d, o->n);
  valley_json_u64(j, "n", o->n);
  valley_json_number(j, "mean", o->mean);
  valley_json_number(j, "se", o->se);
  valley_json_number(j, "t975", o->t);
  valley_json_number(j, "ci_lo", o->lo);
  valley_json_number(j, "ci_hi", o->hi);
  if (voted)
    valley_json_string(j, "verdict", valley_exp_verdict_name((valley_exp_verdict_t)o->verdict));
  valley_json_object_end(j);
}

static void bn_settings_json(valley_json_t *j, const bn_settings_t *s) {
  valley_json_object(j, "settings");
  valley_json_string(j, "network", "mlp 784-w-w-10, with BN (bn-mlp) and without (mlp)");
  double w[4] = {784, (double)s->width, (double)s->width, 10};
  valley_json_numbers(j, "widths", w, 4);
  valley_json_u64(j, "n_train", s->n_train);
  valley_json_u64(j, "n_test", s->n_test);
  valley_json_u64(j, "n_test_probe", s->n_test_probe);
  valley_json_u64(j, "epochs", s->epochs);
  valley_json_u64(j, "swa_start", s->swa_start);
  valley_json_u64(j, "swa_freq", 1);
  valley_json_u64(j, "batch", s->batch);
  valley_json_number(j, "lr", s->lr);
  valley_json_number(j, "momentum", s->momentum);
  valley_json_number(j, "weight_decay", s->wd);
  valley_json_u64(j, "seeds", s->seeds);
  valley_json_u64(j, "directions_per_family", s->dirs);
  valley_json_u64(j, "grid_points", 2 * s->half_points + 1);
  valley_json_number(j, "rise_target", BN_RISE);
  valley_json_string(j, "r_min", "max(|l_min(train)| + h, L/10)");
  valley_json_number(j, "delta", BN_DELTA);
  valley_json_object(j, "cnn");
  valley_json_u64(j, "channels_1", s->cnn_c1);
  valley_json_u64(j, "channels_2", s->cnn_c2);
  valley_json_u64(j, "n_train", s->cnn_n_train);
  valley_json_u64(j, "epochs", s->cnn_epochs);
  valley_json_u64(j, "directions_per_family", s->cnn_dirs);
  valley_json_u64(j, "grid_points", 2 * s->cnn_half_points + 1);
  valley_json_object_end(j);
  valley_json_string(j, "verdict_rule",
                     "A: Wilson 95% interval of the fraction of decided (index) pairs with "
                     "c_cons(bn) > c_cons(non-bn): reproduced lo > 0.5, not reproduced hi < 0.5. "
                     "B: d = test acc SWA-BN - SWA-non-BN per seed; C: d = (SWA - SGD test acc) "
                     "with BN - without BN per seed; B and C: reproduced when mean - t975(n-1) se "
                     "> 0, not reproduced when mean + t975(n-1) se < 0.002, else inconclusive. "
                     "Overall: reproduced when A, B, C all reproduced; not reproduced when any "
                     "is not reproduced; else inconclusive");
  valley_json_object_end(j);
}

static void bn_eval_json(valley_json_t *j, const char *key, const bn_eval_t *e) {
  valley_json_object(j, key);
  valley_json_number(j, "train_loss", e->loss[0]);
  valley_json_number(j, "test_loss", e->loss[1]);
  valley_json_number(j, "train_acc", e->acc[0]);
  valley_json_number(j, "test_acc", e->acc[1]);
  valley_json_object_end(j);
}

/* Part A on the model m (network `key`): n directions of both families drawn with the one
 * seed dseed (paired indices), their profiles on 2 hp + 1 points and Definition 1. */
static valley_status_t bn_part_a(valley_exp_run_t *r, const char *key, size_t n, size_t hp,
                                 uint64_t dseed, const valley_exp_model_t *m,
                                 const valley_dataset_t *train, const valley_dataset_t *ptest,
                                 FILE *fdir, FILE *fprof, bn_dir_t *dirs /* 2 n */, double L[2],
                                 valley_error_t *err) {
  const size_t G = 2 * hp + 1, np = m->net->n_params;
  const valley_dir_family_t fam[2] = {VALLEY_DIR_FAMILY_BN, VALLEY_DIR_FAMILY_NON_BN};
  float *u = malloc((n + 1) * np * sizeof *u);
  double *grid = malloc(G * sizeof *grid);
  valley_prof_t *prof = calloc(n, sizeof *prof);
  const float **dp = malloc(n * sizeof *dp);
  valley_status_t st = VALLEY_OK;
  if (u == NULL || grid == NULL || prof == NULL || dp == NULL) {
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "batch-norm: %zu directions", n + 1);
    goto done;
  }
  for (int f = 0; f < 2 && st == VALLEY_OK; f++) {
    const char *fname = valley_dir_family_name(fam[f]);
    valley_dir_config_t dc;
    if ((st = valley_dir_config_family(fam[f], &dc, err)) != VALLEY_OK) break;
    if ((st = valley_exp_pilot(r, m, &dc, dseed, BN_PILOT_INDEX, BN_RISE, u + n * np,
                               train, ptest, &L[f], NULL, NULL, err)) != VALLEY_OK)
      break;
    for (size_t g = 0; g < G; g++)
      grid[g] = L[f] * ((double)g - (double)hp) / (double)hp;
    grid[hp] = 0.0;
    for (size_t d = 0; d < n && st == VALLEY_OK; d++) {
      st = valley_direction(m->net, m->theta, &dc, dseed, d, u + d * np, err);
      dp[d] = u + d * np;
    }
    if (st != VALLEY_OK) break;
    valley_exp_progress(r, "batch-norm: %s, family %s, L = %.4g, probing %zu directions", key,
                        fname, L[f], n);
    if ((st = valley_exp_probe(r, m, n, dp, G, grid, train, ptest, prof, err)) !=
        VALLEY_OK)
      break;
    double h = L[f] / (double)hp;
    for (size_t d = 0; d < n && st == VALLEY_OK; d++) {
      bn_dir_t *o = &dirs[f * n + d];
      st = bn_def1(&prof[d], L[f], h, o, err);
      if (st != VALLEY_OK) break;
      fprintf(fdir, "%s,%s,%zu,%.9g,%.9g,%d,%d,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g\n", key, fname, d,
              L[f], valley_exp_norm(dp[d], np), o->valid, o->flat_side, o->r, o->rbar, o->p,
              o->cp, o->c, o->c_cons);
      for (size_t g = 0; g < G; g++)
        fprintf(fprof, "%s,%s,%zu,%.9g,%.9g,%.9g,%.6g,%.6g\n", key, fname, d, prof[d].l[g],
                prof[d].train[g], prof[d].test[g], prof[d].train_acc[g], prof[d].test_acc[g]);
    }
    for (size_t d = 0; d < n; d++) valley_prof_free(&prof[d]);
  }
done:
  free(u);
  free(grid);
  if (prof != NULL)
    for (size_t d = 0; d < n; d++) valley_prof_free(&prof[d]);
  free(prof);
  free(dp);
  return st;
}

typedef struct {
  size_t k2[2], wins, decided;
  double lo, hi;
  valley_exp_verdict_t verdict;
} bn_pairs_t;

/* Part A's numbers for one network: per family counts and c distributions, the paired
 * comparison; voted: the part's verdict is written.  work: 2 n doubles. */
static void bn_part_a_json(valley_json_t *j, const char *key, const valley_exp_model_t *m,
                           const bn_eval_t *sol, const bn_dir_t *dirs, size_t n,
                           const double L[2], double *work, int voted, bn_pairs_t *o) {
  size_t np = m->net->n_params, n_bn_params = 0;
  for (size_t g = 0; g < m->net->n_segments; g++)
    if (bn_is_bn(m->net->segments[g].kind)) n_bn_params += m->net->segments[g].length;
  valley_json_object(j, key);
  valley_json_string(j, "network", valley_arch_name(m->net->cfg.arch));
  valley_json_u64(j, "n_params", np);
  valley_json_u64(j, "n_bn_params", n_bn_params);
  bn_eval_json(j, "solution", sol);
  valley_json_number(j, "theta_norm", valley_exp_norm(m->theta, np));
  const char *fn[2] = {"bn", "non-bn"};
  valley_json_array(j, "families");
  for (int f = 0; f < 2; f++) {
    size_t mv = 0, valid = 0;
    o->k2[f] = 0;
    for (size_t d = 0; d < n; d++) {
      const bn_dir_t *q = &dirs[f * n + d];
      if (!q->valid) continue;
      valid++;
      o->k2[f] += q->c_cons > 2.0;
      work[mv++] = q->c_cons;
    }
    qsort(work, mv, sizeof *work, valley_exp_cmp_double);
    double lo, hi;
    valley_exp_wilson(o->k2[f], n, 1.96, &lo, &hi);
    valley_json_object(j, NULL);
    valley_json_string(j, "family", fn[f]);
    valley_json_number(j, "half_width", L[f]);
    valley_json_u64(j, "n", n);
    valley_json_u64(j, "valid", valid);
    valley_json_u64(j, "k_c_cons_gt_2", o->k2[f]);
    valley_json_number(j, "fraction", (double)o->k2[f] / (double)n);
    valley_json_number(j, "wilson_lo", lo);
    valley_json_number(j, "wilson_hi", hi);
    valley_json_number(j, "c_cons_median",
                       mv ? (mv % 2 ? work[mv / 2] : 0.5 * (work[mv / 2 - 1] + work[mv / 2]))
                          : NAN);
    valley_json_numbers(j, "c_cons_sorted", work, mv);
    mv = 0;
    for (size_t d = 0; d < n; d++)
      if (dirs[f * n + d].valid) work[mv++] = dirs[f * n + d].c;
    qsort(work, mv, sizeof *work, valley_exp_cmp_double);
    valley_json_numbers(j, "c_sorted", work, mv);
    valley_json_object_end(j);
  }
  valley_json_array_end(j);
  o->wins = o->decided = 0;
  for (size_t d = 0; d < n; d++) {
    double a = bn_key(&dirs[d]), b = bn_key(&dirs[n + d]);
    if (a == b) continue;
    o->decided++;
    o->wins += a > b;
  }
  valley_exp_wilson(o->wins, o->decided, 1.96, &o->lo, &o->hi);
  o->verdict = o->lo > 0.5   ? VALLEY_EXP_REPRODUCED
               : o->hi < 0.5 ? VALLEY_EXP_NOT_REPRODUCED
                             : VALLEY_EXP_INCONCLUSIVE;
  valley_json_u64(j, "pairs", n);
  valley_json_u64(j, "pairs_decided", o->decided);
  valley_json_u64(j, "bn_wins", o->wins);
  valley_json_number(j, "bn_win_fraction",
                     o->decided ? (double)o->wins / (double)o->decided : NAN);
  valley_json_number(j, "wilson_lo", o->lo);
  valley_json_number(j, "wilson_hi", o->hi);
  valley_json_number(j, "sign_test_p", bn_sign_p(o->wins, o->decided));
  if (voted) valley_json_string(j, "verdict", valley_exp_verdict_name(o->verdict));
  valley_json_object_end(j);
}

/* One training seed: parts B and C.  *keep (seed 0 only, may be NULL): the BN MLP's SGD
 * iterate, BN statistics recomputed over train, for part A. */
static valley_status_t bn_seed(valley_exp_run_t *r, const bn_settings_t *s, size_t si,
                               const valley_dataset_t *train, const valley_dataset_t *test,
                               bn_seed_t *out, valley_exp_model_t *keep, valley_error_t *err) {
  const valley_exp_config_t *cfg = valley_exp_cfg(r);
  const size_t widths[4] = {784, s->width, s->width, 10};
  valley_exp_train_t spec;
  valley_exp_spec_bn_mlp(&spec, widths, s->batch, s->lr, s->epochs,
                         valley_exp_seed(cfg->seed, 2, si, 0),
                         valley_exp_seed(cfg->seed, 1, si, 0));
  spec.sgd.momentum = s->momentum;
  spec.sgd.weight_decay = s->wd;
  spec.swa_start = s->swa_start;
  spec.swa_freq = 1;
  valley_exp_model_t sgd = {0}, swa = {0}, sgd_nb = {0}, swa_nb = {0};
  size_t *bn = NULL, *nonbn = NULL, *perm = NULL, *pick = NULL;
  valley_exp_progress(r, "batch-norm: seed %zu/%zu, training the BN MLP with SWA", si + 1,
                      s->seeds);
  valley_status_t st = valley_exp_train(r, &spec, train, &sgd, &swa, err);
  if (st != VALLEY_OK) return st;
  /* the SGD iterate with its training running statistics (momentum 0.1), then with them
   * recomputed over the training set: the model of parts A and B */
  if ((st = bn_eval(&sgd, train, test, &out->ema, err)) != VALLEY_OK) goto done;
  if ((st = valley_mlp_recompute_bn(sgd.net, sgd.theta, train, s->batch, err)) != VALLEY_OK)
    goto done;
  size_t np = sgd.net->n_params;
  bn = malloc(np * sizeof *bn);
  nonbn = malloc(np * sizeof *nonbn);
  perm = malloc(np * sizeof *perm);
  pick = malloc(np * sizeof *pick);
  if (bn == NULL || nonbn == NULL || perm == NULL || pick == NULL) {
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "batch-norm: index arrays of %zu", np);
    goto done;
  }
  size_t n_bn = bn_coords(sgd.net, bn, nonbn), n_non = np - n_bn;
  if (n_bn == 0 || n_bn > n_non) {
    st = VALLEY_ERROR(err, VALLEY_EINVAL, "batch-norm: %zu BN of %zu parameters", n_bn, np);
    goto done;
  }
  st = valley_dataset_permutation(n_non, n_bn, valley_exp_seed(cfg->seed, 4, si, 0), perm, err);
  if (st != VALLEY_OK) goto done;
  for (size_t k = 0; k < n_bn; k++) pick[k] = nonbn[perm[k]];
  valley_exp_progress(r, "batch-norm: seed %zu, hybrids (%zu BN coordinates)", si + 1, n_bn);
  const size_t *idx[BN_N_HYB] = {bn, bn, pick, NULL};
  const size_t nidx[BN_N_HYB] = {0, n_bn, n_bn, np};
  for (int h = 0; h < BN_N_HYB && st == VALLEY_OK; h++)
    st = bn_hybrid(&sgd, swa.theta, idx[h], nidx[h], train, test, s->batch, &out->bn[h], err);
  if (st != VALLEY_OK) goto done;
  out->move_bn = bn_move(sgd.theta, swa.theta, bn, n_bn);
  out->move_nonbn = bn_move(sgd.theta, swa.theta, pick, n_bn);
  out->move_all = 0.0;
  for (size_t k = 0; k < np; k++) {
    double d = (double)sgd.theta[k] - (double)swa.theta[k];
    out->move_all += d * d;
  }
  out->move_all = sqrt(out->move_all);

  spec.arch.batch_norm = 0;
  valley_exp_progress(r, "batch-norm: seed %zu/%zu, training the MLP without BN with SWA", si + 1,
                      s->seeds);
  if ((st = valley_exp_train(r, &spec, train, &sgd_nb, &swa_nb, err)) != VALLEY_OK) goto done;
  if ((st = bn_eval(&sgd_nb, train, test, &out->nb[0], err)) != VALLEY_OK) goto done;
  if ((st = bn_eval(&swa_nb, train, test, &out->nb[1], err)) != VALLEY_OK) goto done;
  if (keep != NULL) {
    *keep = sgd;
    memset(&sgd, 0, sizeof sgd);
  }
done:
  valley_exp_model_free(&sgd);
  valley_exp_model_free(&swa);
  valley_exp_model_free(&sgd_nb);
  valley_exp_model_free(&swa_nb);
  free(bn);
  free(nonbn);
  free(perm);
  free(pick);
  return st;
}

valley_status_t valley_exp_run_batch_norm(valley_exp_run_t *r, valley_error_t *err) {
  const valley_exp_config_t *cfg = valley_exp_cfg(r);
  valley_json_t *j = valley_exp_json(r);
  bn_settings_t s;
  bn_settings(cfg->full, &s);
  valley_dataset_t train, test, ptest;
  memset(&ptest, 0, sizeof ptest);
  valley_exp_model_t m = {0}, cnn = {0};
  valley_dataset_t ctrain;
  memset(&ctrain, 0, sizeof ctrain);
  bn_seed_t *seeds = NULL;
  bn_dir_t *dirs = NULL;
  double *work = NULL;
  FILE *fdir = NULL, *fprof = NULL, *fmod = NULL;
  if (s.seeds > BN_MAX_SEEDS)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "batch-norm: %zu seeds", s.seeds);

  valley_status_t st = valley_exp_load(r, s.n_train, s.n_test, &train, &test, err);
  if (st != VALLEY_OK) return st;
  st = valley_dataset_subset(&test, s.n_test_probe, valley_exp_seed(cfg->seed, 5, 0, 0), &ptest,
                             err);
  if (st != VALLEY_OK) goto done;
  bn_settings_json(j, &s);
  seeds = calloc(s.seeds, sizeof *seeds);
  size_t nd = s.dirs > s.cnn_dirs ? s.dirs : s.cnn_dirs;
  dirs = calloc(2 * nd, sizeof *dirs);
  work = malloc((2 * nd + 3 * s.seeds) * sizeof *work);
  if (seeds == NULL || dirs == NULL || work == NULL) {
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "batch-norm: work arrays");
    goto done;
  }
  if ((st = valley_exp_csv(r, "directions", &fdir, err)) != VALLEY_OK) goto done;
  if ((st = valley_exp_csv(r, "profiles", &fprof, err)) != VALLEY_OK) goto done;
  if ((st = valley_exp_csv(r, "models", &fmod, err)) != VALLEY_OK) goto done;
  fprintf(fdir, "# batch-norm: Definition 1 (best window) on the train loss along bn and non-bn "
                "directions at the BN MLP's SGD solution (seed 0) and at the CNN's; index i of "
                "both families splits one Gaussian vector\n"
                "network,family,index,half_width,u_norm,valid,flat_side,r,rbar,p,cp,c,c_conservative\n");
  fprintf(fprof, "# batch-norm: loss along theta + l u (test loss on a small test subset)\n"
                 "network,family,index,l,train_loss,test_loss,train_acc,test_acc\n");
  fprintf(fmod, "# batch-norm: per training seed, the models of Figures 45-46 (BN statistics "
                "recomputed over the training set)\n"
                "seed,network,model,train_loss,test_loss,train_acc,test_acc\n");

  /* parts B and C */
  for (size_t si = 0; si < s.seeds && st == VALLEY_OK; si++) {
    st = bn_seed(r, &s, si, &train, &test, &seeds[si], si == 0 ? &m : NULL, err);
    if (st != VALLEY_OK) break;
    for (int h = 0; h < BN_N_HYB; h++)
      fprintf(fmod, "%zu,bn-mlp,%s,%.17g,%.17g,%.17g,%.17g\n", si, bn_hyb_names[h],
              seeds[si].bn[h].loss[0], seeds[si].bn[h].loss[1], seeds[si].bn[h].acc[0],
              seeds[si].bn[h].acc[1]);
    for (int h = 0; h < 2; h++)
      fprintf(fmod, "%zu,mlp,%s,%.17g,%.17g,%.17g,%.17g\n", si, h ? "swa" : "sgd",
              seeds[si].nb[h].loss[0], seeds[si].nb[h].loss[1], seeds[si].nb[h].acc[0],
              seeds[si].nb[h].acc[1]);
  }
  if (st != VALLEY_OK) goto done;

  /* part A on seed 0's SGD iterate (BN statistics recomputed over train, as the "sgd" model of
   * part B: the running averages of training can be far off, docs/exp_batch-norm.md) */
  bn_eval_t sol;
  if ((st = bn_eval(&m, &train, &ptest, &sol, err)) != VALLEY_OK) goto done;
  double L[2];
  if ((st = bn_part_a(r, "bn-mlp", s.dirs, s.half_points, valley_exp_seed(cfg->seed, 3, 0, 0),
                      &m, &train, &ptest, fdir, fprof, dirs, L, err)) != VALLEY_OK)
    goto done;
  bn_pairs_t pa, pc;
  bn_part_a_json(j, "part_a", &m, &sol, dirs, s.dirs, L, work, 1, &pa);

  /* the supplementary CNN (reported, not voted on) */
  {
    valley_exp_train_t cs;
    memset(&cs, 0, sizeof cs);
    valley_mlp_config_default(&cs.arch);
    cs.arch.arch = VALLEY_ARCH_CNN;
    cs.arch.n_layers = 3;
    cs.arch.in_channels = 1;
    cs.arch.height = 28;
    cs.arch.width = 28;
    cs.arch.widths[0] = 784;
    cs.arch.widths[1] = s.cnn_c1;
    cs.arch.widths[2] = s.cnn_c2;
    cs.arch.widths[3] = 10;
    cs.arch.batch_norm = 1;
    valley_sgd_config_default(&cs.sgd);
    cs.sgd.batch = s.batch;
    cs.sgd.lr = s.lr;
    cs.sgd.momentum = s.momentum;
    cs.sgd.weight_decay = s.wd;
    cs.sgd.seed = valley_exp_seed(cfg->seed, 1, 0, 1);
    cs.epochs = s.cnn_epochs;
    cs.init_seed = valley_exp_seed(cfg->seed, 2, 0, 1);
    if ((st = valley_dataset_subset(&train, s.cnn_n_train, valley_exp_seed(cfg->seed, 6, 0, 0),
                                    &ctrain, err)) != VALLEY_OK)
      goto done;
    valley_exp_progress(r, "batch-norm: training the CNN (%zu, %zu channels)", s.cnn_c1,
                        s.cnn_c2);
    if ((st = valley_exp_train(r, &cs, &ctrain, &cnn, NULL, err)) != VALLEY_OK) goto done;
    bn_eval_t cema, csol;
    if ((st = bn_eval(&cnn, &ctrain, &ptest, &cema, err)) != VALLEY_OK) goto done;
    if ((st = valley_mlp_recompute_bn(cnn.net, cnn.theta, &ctrain, s.batch, err)) != VALLEY_OK)
      goto done;
    if ((st = bn_eval(&cnn, &ctrain, &ptest, &csol, err)) != VALLEY_OK) goto done;
    double Lc[2];
    if ((st = bn_part_a(r, "cnn", s.cnn_dirs, s.cnn_half_points,
                        valley_exp_seed(cfg->seed, 3, 1, 0), &cnn, &ctrain, &ptest, fdir, fprof,
                        dirs, Lc, err)) != VALLEY_OK)
      goto done;
    bn_part_a_json(j, "part_a_cnn", &cnn, &csol, dirs, s.cnn_dirs, Lc, work, 0, &pc);
    valley_json_object(j, "part_a_cnn_extra");
    bn_eval_json(j, "solution_running_stats", &cema);
    valley_json_u64(j, "n_train", s.cnn_n_train);
    valley_json_u64(j, "epochs", s.cnn_epochs);
    valley_json_u64(j, "grid_points", 2 * s.cnn_half_points + 1);
    valley_json_object_end(j);
  }
  valley_exp_verdict_t va = pa.verdict;
  size_t wins = pa.wins, decided = pa.decided;
  double plo = pa.lo, phi = pa.hi;
  size_t k2[2] = {pa.k2[0], pa.k2[1]};

  /* ---- parts B and C ---- */
  double *dB = work, *dC = work + s.seeds, *dCl = work + 2 * s.seeds;
  for (size_t si = 0; si < s.seeds; si++) {
    const bn_seed_t *q = &seeds[si];
    dB[si] = q->bn[1].acc[1] - q->bn[2].acc[1];
    dC[si] = (q->bn[3].acc[1] - q->bn[0].acc[1]) - (q->nb[1].acc[1] - q->nb[0].acc[1]);
    dCl[si] = (q->bn[0].loss[1] - q->bn[3].loss[1]) - (q->nb[0].loss[1] - q->nb[1].loss[1]);
  }
  bn_paired_t pB, pC, pCl;
  bn_paired(dB, s.seeds, &pB);
  bn_paired(dC, s.seeds, &pC);
  bn_paired(dCl, s.seeds, &pCl);
  valley_json_array(j, "seeds");
  for (size_t si = 0; si < s.seeds; si++) {
    valley_json_object(j, NULL);
    valley_json_u64(j, "seed", si);
    for (int h = 0; h < BN_N_HYB; h++) bn_eval_json(j, bn_hyb_names[h], &seeds[si].bn[h]);
    bn_eval_json(j, "sgd_running_stats", &seeds[si].ema);
    bn_eval_json(j, "mlp_sgd", &seeds[si].nb[0]);
    bn_eval_json(j, "mlp_swa", &seeds[si].nb[1]);
    valley_json_number(j, "swa_move_bn", seeds[si].move_bn);
    valley_json_number(j, "swa_move_nonbn_subset", seeds[si].move_nonbn);
    valley_json_number(j, "swa_move_all", seeds[si].move_all);
    valley_json_object_end(j);
  }
  valley_json_array_end(j);
  /* supplementary paired differences (reported, not voted on) */
  double *sup = malloc(6 * s.seeds * sizeof *sup);
  if (sup == NULL) {
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "batch-norm: differences");
    goto done;
  }
  for (size_t si = 0; si < s.seeds; si++) {
    const bn_seed_t *q = &seeds[si];
    sup[si] = q->bn[3].acc[1] - q->bn[1].acc[1];                 /* all - bn */
    sup[s.seeds + si] = q->bn[1].acc[1] - q->bn[0].acc[1];       /* bn - sgd */
    sup[2 * s.seeds + si] = q->bn[2].loss[1] - q->bn[1].loss[1]; /* loss non-bn - bn */
    sup[3 * s.seeds + si] = q->bn[3].acc[1] - q->bn[0].acc[1];   /* gain with BN */
    sup[4 * s.seeds + si] = q->nb[1].acc[1] - q->nb[0].acc[1];   /* gain without BN */
    sup[5 * s.seeds + si] = q->bn[2].acc[1] - q->bn[0].acc[1];   /* non-bn - sgd */
  }
  bn_paired_t ps[6];
  for (int k = 0; k < 6; k++) bn_paired(sup + k * s.seeds, s.seeds, &ps[k]);
  valley_json_object(j, "part_b");
  bn_paired_json(j, "test_acc_swa_bn_minus_swa_nonbn", dB, &pB, 1);
  bn_paired_json(j, "test_loss_swa_nonbn_minus_swa_bn", sup + 2 * s.seeds, &ps[2], 0);
  bn_paired_json(j, "test_acc_swa_all_minus_swa_bn", sup, &ps[0], 0);
  bn_paired_json(j, "test_acc_swa_bn_minus_sgd", sup + s.seeds, &ps[1], 0);
  bn_paired_json(j, "test_acc_swa_nonbn_minus_sgd", sup + 5 * s.seeds, &ps[5], 0);
  valley_json_string(j, "verdict", valley_exp_verdict_name((valley_exp_verdict_t)pB.verdict));
  valley_json_object_end(j);
  valley_json_object(j, "part_c");
  bn_paired_json(j, "test_acc_gain_bn_minus_gain_nobn", dC, &pC, 1);
  bn_paired_json(j, "test_loss_gain_bn_minus_gain_nobn", dCl, &pCl, 0);
  bn_paired_json(j, "test_acc_gain_bn", sup + 3 * s.seeds, &ps[3], 0);
  bn_paired_json(j, "test_acc_gain_nobn", sup + 4 * s.seeds, &ps[4], 0);
  valley_json_string(j, "verdict", valley_exp_verdict_name((valley_exp_verdict_t)pC.verdict));
  valley_json_object_end(j);
  free(sup);

  valley_exp_verdict_t vb = (valley_exp_verdict_t)pB.verdict,
                       vc = (valley_exp_verdict_t)pC.verdict;
  valley_exp_verdict_t v =
      va == VALLEY_EXP_REPRODUCED && vb == VALLEY_EXP_REPRODUCED && vc == VALLEY_EXP_REPRODUCED
          ? VALLEY_EXP_REPRODUCED
      : va == VALLEY_EXP_NOT_REPRODUCED || vb == VALLEY_EXP_NOT_REPRODUCED ||
              vc == VALLEY_EXP_NOT_REPRODUCED
          ? VALLEY_EXP_NOT_REPRODUCED
          : VALLEY_EXP_INCONCLUSIVE;
  valley_json_object(j, "verdicts");
  valley_json_string(j, "a", valley_exp_verdict_name(va));
  valley_json_string(j, "b", valley_exp_verdict_name(vb));
  valley_json_string(j, "c", valley_exp_verdict_name(vc));
  valley_json_object_end(j);
  valley_exp_verdict(r, v,
                     "A (%s): bn beats non-bn in c_cons on %zu/%zu pairs [%.2f, %.2f], c_cons > 2 "
                     "bn %zu/%zu, non-bn %zu/%zu; B (%s): test acc SWA-BN - SWA-non-BN %+.4f +- "
                     "%.4f; C (%s): SWA gain with - without BN %+.4f +- %.4f (%zu seeds); CNN, "
                     "not voted: bn beats non-bn on %zu/%zu pairs",
                     valley_exp_verdict_name(va), wins, decided, plo, phi, k2[0], s.dirs, k2[1],
                     s.dirs, valley_exp_verdict_name(vb), pB.mean, pB.se,
                     valley_exp_verdict_name(vc), pC.mean, pC.se, s.seeds, pc.wins, pc.decided);
done:
  valley_exp_model_free(&m);
  valley_exp_model_free(&cnn);
  valley_dataset_free(&ctrain);
  free(seeds);
  free(dirs);
  free(work);
  valley_dataset_free(&train);
  valley_dataset_free(&test);
  valley_dataset_free(&ptest);
  return st;
}
