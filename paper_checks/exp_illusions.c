/* Illusions created by asymmetric valleys, He, Huang, Yuan (2019), Sec. 6.2, Figures 9-10 and
 * Appendix G (docs/exp_illusions.md): random rays (filter-normalized, Li et al.'s visualisation)
 * from the SGD and SWA solutions of one run, and from a large-batch solution and the small-batch
 * solution fine-tuned from it, give different apparent widths although each pair lies in one
 * basin (no barrier on the segment between them).
 *
 * Steps: train the BN MLP with batch 128 and SWA (SGD = its last iterate = the large-batch
 * solution; SWA with recomputed BN statistics); continue the SGD solution with batch 32 (the
 * small-batch solution, Appendix G's recipe 128 -> 32); probe the same n_rays filter-normalized
 * directions (same seed and index, each normalized at its own solution) from the four solutions;
 * the width of a ray is l_- + l_+, the distances at which the train loss first rises by
 * DELTA above its l = 0 value on each side; the segments SGD -> SWA and large -> small batch
 * (valley_direction_line) are evaluated with BN statistics recomputed at every point. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments_internal.h"

#define IL_N_SOL 5
#define IL_N_DELTA 3
#define IL_PRIMARY_DELTA 1 /* 0.5 nats */
#define IL_BARRIER_TOL 0.01 /* nats */

/* IL_SGD_BN: the SGD weights with BN statistics recomputed like SWA's (a control) */
enum { IL_SGD = 0, IL_SWA = 1, IL_LARGE = 2, IL_SMALL = 3, IL_SGD_BN = 4 };
static const char *const il_names[IL_N_SOL] = {"sgd", "swa", "large_batch", "small_batch",
                                               "sgd_bn_recomputed"};
static const double il_delta[IL_N_DELTA] = {0.1, 0.5, 1.0};

typedef struct {
  size_t widths[4];
  size_t n_train, n_test, n_probe_train;
  size_t epochs, swa_start, batch, small_batch, small_epochs;
  double lr;
  size_t n_rays, n_grid, n_seg;
  double l_max, t_min, t_max;
} il_settings_t;

static void il_settings(int full, il_settings_t *s) {
  memset(s, 0, sizeof *s);
  s->widths[0] = 784;
  s->widths[1] = full ? 256 : 64;
  s->widths[2] = full ? 256 : 64;
  s->widths[3] = 10;
  s->n_train = full ? 60000 : 3000;
  s->n_test = full ? 2000 : 1000;
  s->n_probe_train = full ? 10000 : 3000;
  s->epochs = full ? 20 : 8;
  s->swa_start = full ? 11 : 5;
  s->batch = 128;
  s->small_batch = 32;
  s->small_epochs = full ? 5 : 2;
  s->lr = 0.05;
  s->n_rays = full ? 20 : 6;
  s->n_grid = 41;
  s->l_max = 1.0;
  s->n_seg = full ? 31 : 13; /* (n_seg - 1) a multiple of 6: t = 0 and 1 on the grid */
  s->t_min = -0.25;
  s->t_max = 1.25;
}

/* The distance from l = 0 at which y first reaches y(0) + delta walking outward on one side
 * (linear interpolation between samples); l_max and *censored = 1 when it never does. */
static double il_crossing(const double *l, const double *y, size_t n, size_t mid, int side,
                          double delta, int *censored) {
  double target = y[mid] + delta;
  *censored = 0;
  for (size_t k = 1;; k++) {
    if ((side > 0 && mid + k >= n) || (side < 0 && k > mid)) break;
    size_t i = side > 0 ? mid + k : mid - k, h = side > 0 ? i - 1 : i + 1;
    if (y[i] >= target) {
      double f = (target - y[h]) / (y[i] - y[h]);
      return fabs(l[h] + f * (l[i] - l[h]));
    }
  }
  *censored = 1;
  return side > 0 ? fabs(l[n - 1]) : fabs(l[0]);
}

/* Loss and accuracy along theta_a + t (theta_b - theta_a), BN statistics recomputed over train
 * at every t (so each point is evaluated as a model of its own, like the SWA solution). */
static valley_status_t il_segment(valley_exp_run_t *r, const valley_exp_model_t *a,
                                  const float *theta_b, const il_settings_t *s, const double *t,
                                  const valley_dataset_t *train, const valley_dataset_t *ptrain,
                                  const valley_dataset_t *test, double *out, valley_error_t *err) {
  size_t np = a->net->n_params;
  float *u = malloc(np * sizeof *u);
  valley_exp_model_t m;
  memset(&m, 0, sizeof m);
  if (u == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "illusions: a segment direction");
  valley_direction_line(np, a->theta, theta_b, u);
  valley_status_t st = valley_exp_model_copy(a, a->theta, &m, err);
  for (size_t g = 0; g < s->n_seg && st == VALLEY_OK; g++) {
    for (size_t k = 0; k < np; k++) m.theta[k] = a->theta[k] + (float)t[g] * u[k];
    st = valley_mlp_recompute_bn(m.net, m.theta, train, s->batch, err);
    if (st == VALLEY_OK)
      st = valley_mlp_evaluate(m.net, m.theta, ptrain, s->batch, &out[4 * g], &out[4 * g + 2], err);
    if (st == VALLEY_OK)
      st = valley_mlp_evaluate(m.net, m.theta, test, s->batch, &out[4 * g + 1], &out[4 * g + 3],
                               err);
  }
  (void)r;
  valley_exp_model_free(&m);
  free(u);
  return st;
}

/* The barrier on [0, 1]: max of the train loss over the segment's samples with t in [0, 1]
 * minus the larger endpoint value (<= 0: no bump). */
static double il_barrier(const double *t, const double *seg, size_t n) {
  double mx = -INFINITY, e0 = NAN, e1 = NAN;
  for (size_t g = 0; g < n; g++) {
    if (t[g] < 0 || t[g] > 1) continue;
    mx = fmax(mx, seg[4 * g]);
    if (t[g] == 0) e0 = seg[4 * g];
    if (t[g] == 1) e1 = seg[4 * g];
  }
  return mx - fmax(e0, e1);
}

valley_status_t valley_exp_run_illusions(valley_exp_run_t *r, valley_error_t *err) {
  const valley_exp_config_t *cfg = valley_exp_cfg(r);
  valley_json_t *j = valley_exp_json(r);
  il_settings_t s;
  il_settings(cfg->full, &s);
  const uint64_t base_seed = cfg->seed * 1000;
  const uint64_t dir_seed = base_seed + 13;

  valley_dataset_t train, test, probe_train;
  valley_exp_model_t sol[IL_N_SOL];
  memset(sol, 0, sizeof sol);
  memset(&probe_train, 0, sizeof probe_train);
  size_t nr = s.n_rays, ng = s.n_grid;
  valley_prof_t *prof = NULL;
  float **dirs = NULL, *vel = NULL;
  double *grid = NULL, *t = NULL, *seg = NULL, *width = NULL, *lm = NULL, *lp = NULL;
  int *cens = NULL;
  valley_status_t st = valley_exp_load(r, s.n_train, s.n_test, &train, &test, err);
  if (st != VALLEY_OK) return st;
  const valley_dataset_t *ptrain = &train;
  if (s.n_probe_train < train.n) {
    st = valley_dataset_subset(&train, s.n_probe_train, base_seed + 15, &probe_train, err);
    if (st != VALLEY_OK) goto done;
    ptrain = &probe_train;
  }

  /* ---- training: SGD + SWA (batch 128), then small batch from the SGD solution ---- */
  valley_exp_train_t spec;
  valley_exp_spec_bn_mlp(&spec, s.widths, s.batch, s.lr, s.epochs, base_seed + 11, base_seed + 12);
  spec.swa_start = s.swa_start;
  spec.swa_freq = 1;
  st = valley_exp_train(r, &spec, &train, &sol[IL_SGD], &sol[IL_SWA], err);
  if (st != VALLEY_OK) goto done;
  const size_t np = sol[IL_SGD].net->n_params;
  st = valley_exp_model_copy(&sol[IL_SGD], sol[IL_SGD].theta, &sol[IL_LARGE], err);
  if (st == VALLEY_OK)
    st = valley_exp_model_copy(&sol[IL_SGD], sol[IL_SGD].theta, &sol[IL_SMALL], err);
  if (st == VALLEY_OK)
    st = valley_exp_model_copy(&sol[IL_SGD], sol[IL_SGD].theta, &sol[IL_SGD_BN], err);
  if (st == VALLEY_OK)
    st = valley_mlp_recompute_bn(sol[IL_SGD_BN].net, sol[IL_SGD_BN].theta, &train, s.batch, err);
  if (st != VALLEY_OK) goto done;
  vel = calloc(np, sizeof *vel);
  if (vel == NULL) {
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "illusions: velocity of %zu parameters", np);
    goto done;
  }
  valley_sgd_config_t small = spec.sgd;
  small.batch = s.small_batch;
  small.seed = base_seed + 14;
  for (size_t e = 0; e < s.small_epochs; e++) {
    double loss = 0;
    st = valley_mlp_train_epoch(sol[IL_SMALL].net, sol[IL_SMALL].theta, vel, &train, &small, e,
                                &loss, err);
    if (st != VALLEY_OK) goto done;
    valley_exp_progress(r, "illusions: small batch %zu, epoch %zu/%zu, train loss %.4f",
                        s.small_batch, e + 1, s.small_epochs, loss);
  }

  /* ---- evaluation of the solutions ---- */
  double tr_loss[IL_N_SOL], tr_acc[IL_N_SOL], te_loss[IL_N_SOL], te_acc[IL_N_SOL];
  for (int k = 0; k < IL_N_SOL; k++) {
    st = valley_mlp_evaluate(sol[k].net, sol[k].theta, ptrain, s.batch, &tr_loss[k], &tr_acc[k],
                             err);
    if (st == VALLEY_OK)
      st = valley_mlp_evaluate(sol[k].net, sol[k].theta, &test, s.batch, &te_loss[k], &te_acc[k],
                               err);
    if (st != VALLEY_OK) goto done;
  }

  /* ---- rays ---- */
  prof = calloc(IL_N_SOL * nr, sizeof *prof);
  dirs = calloc(nr, sizeof *dirs);
  grid = malloc(ng * sizeof *grid);
  t = malloc(s.n_seg * sizeof *t);
  seg = malloc(2 * 4 * s.n_seg * sizeof *seg);
  width = malloc(IL_N_DELTA * IL_N_SOL * nr * sizeof *width);
  lm = malloc(IL_N_DELTA * IL_N_SOL * nr * sizeof *lm);
  lp = malloc(IL_N_DELTA * IL_N_SOL * nr * sizeof *lp);
  cens = malloc(IL_N_DELTA * IL_N_SOL * nr * sizeof *cens);
  if (prof == NULL || dirs == NULL || grid == NULL || t == NULL || seg == NULL || width == NULL ||
      lm == NULL || lp == NULL || cens == NULL) {
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "illusions: buffers");
    goto done;
  }
  for (size_t k = 0; k < nr; k++) {
    dirs[k] = malloc(np * sizeof **dirs);
    if (dirs[k] == NULL) {
      st = VALLEY_ERROR(err, VALLEY_ENOMEM, "illusions: a direction");
      goto done;
    }
  }
  const size_t mid = (ng - 1) / 2;
  for (size_t g = 0; g <= mid; g++) {
    grid[mid + g] = s.l_max * (double)g / (double)mid;
    grid[mid - g] = -grid[mid + g];
  }
  grid[(ng - 1) / 2] = 0.0; /* +0, not -0 */
  for (size_t g = 0; g < s.n_seg; g++)
    t[g] = s.t_min + (s.t_max - s.t_min) * (double)g / (double)(s.n_seg - 1);
  /* exact 0 and 1 on the grid (the settings put them there) */
  {
    int have0 = 0, have1 = 0;
    for (size_t g = 0; g < s.n_seg; g++) {
      if (fabs(t[g]) < 1e-9) {
        t[g] = 0;
        have0 = 1;
      }
      if (fabs(t[g] - 1) < 1e-9) {
        t[g] = 1;
        have1 = 1;
      }
    }
    if (!have0 || !have1) {
      st = VALLEY_ERROR(err, VALLEY_EINVAL, "illusions: the segment grid of %zu points on "
                        "[%g, %g] misses t = 0 or t = 1", s.n_seg, s.t_min, s.t_max);
      goto done;
    }
  }
  valley_dir_config_t fcfg;
  if ((st = valley_dir_config_family(VALLEY_DIR_FAMILY_FILTER, &fcfg, err)) != VALLEY_OK) goto done;
  for (int k = 0; k < IL_N_SOL; k++) {
    for (size_t d = 0; d < nr; d++) {
      st = valley_direction(sol[k].net, sol[k].theta, &fcfg, dir_seed, d, dirs[d], err);
      if (st != VALLEY_OK) goto done;
    }
    valley_exp_progress(r, "illusions: %zu filter-normalized rays from the %s solution", nr,
                        il_names[k]);
    st = valley_exp_probe(r, &sol[k], nr, (const float *const *)dirs, ng, grid, ptrain, &test,
                          &prof[k * nr], err);
    if (st != VALLEY_OK) goto done;
    for (size_t di = 0; di < IL_N_DELTA; di++)
      for (size_t d = 0; d < nr; d++) {
        size_t o = (di * IL_N_SOL + (size_t)k) * nr + d;
        int c1, c2;
        lm[o] = il_crossing(grid, prof[k * nr + d].train, ng, mid, -1, il_delta[di], &c1);
        lp[o] = il_crossing(grid, prof[k * nr + d].train, ng, mid, +1, il_delta[di], &c2);
        width[o] = lm[o] + lp[o];
        cens[o] = c1 + c2;
      }
  }

  /* ---- segments ---- */
  valley_exp_progress(r, "illusions: segments sgd -> swa and large -> small batch (%zu points, "
                      "BN recomputed at each)", s.n_seg);
  st = il_segment(r, &sol[IL_SGD], sol[IL_SWA].theta, &s, t, &train, ptrain, &test, seg, err);
  if (st == VALLEY_OK)
    st = il_segment(r, &sol[IL_LARGE], sol[IL_SMALL].theta, &s, t, &train, ptrain, &test,
                    seg + 4 * s.n_seg, err);
  if (st != VALLEY_OK) goto done;
  double barrier[2] = {il_barrier(t, seg, s.n_seg), il_barrier(t, seg + 4 * s.n_seg, s.n_seg)};
  double dist[2] = {0, 0}, barrier3[3], dist3[3];
  for (size_t k = 0; k < np; k++) {
    double a = (double)sol[IL_SWA].theta[k] - sol[IL_SGD].theta[k];
    double b = (double)sol[IL_SMALL].theta[k] - sol[IL_LARGE].theta[k];
    dist[0] += a * a;
    dist[1] += b * b;
  }
  dist[0] = sqrt(dist[0]);
  dist[1] = sqrt(dist[1]);

  /* ---- report ---- */
  valley_json_object(j, "settings");
  valley_json_string(j, "network", "MLP with BN");
  valley_json_numbers(j, "widths", (double[]){784, (double)s.widths[1], (double)s.widths[2], 10}, 4);
  valley_json_u64(j, "n_train", train.n);
  valley_json_u64(j, "n_test", test.n);
  valley_json_u64(j, "n_probe_train", ptrain->n);
  valley_json_u64(j, "epochs", s.epochs);
  valley_json_u64(j, "swa_start", s.swa_start);
  valley_json_u64(j, "swa_freq", 1);
  valley_json_u64(j, "batch", s.batch);
  valley_json_u64(j, "small_batch", s.small_batch);
  valley_json_u64(j, "small_batch_epochs", s.small_epochs);
  valley_json_number(j, "lr", s.lr);
  valley_json_number(j, "momentum", spec.sgd.momentum);
  valley_json_number(j, "weight_decay", spec.sgd.weight_decay);
  valley_json_string(j, "ray_family", "filter");
  valley_json_u64(j, "n_rays", nr);
  valley_json_u64(j, "n_grid", ng);
  valley_json_number(j, "l_max", s.l_max);
  valley_json_numbers(j, "deltas", il_delta, IL_N_DELTA);
  valley_json_number(j, "primary_delta", il_delta[IL_PRIMARY_DELTA]);
  valley_json_u64(j, "n_segment", s.n_seg);
  valley_json_numbers(j, "segment_t_range", (double[]){s.t_min, s.t_max}, 2);
  valley_json_number(j, "barrier_tolerance", IL_BARRIER_TOL);
  valley_json_object_end(j);

  valley_json_object(j, "solutions");
  for (int k = 0; k < IL_N_SOL; k++) {
    valley_json_object(j, il_names[k]);
    valley_json_number(j, "train_loss", tr_loss[k]);
    valley_json_number(j, "train_acc", tr_acc[k]);
    valley_json_number(j, "test_loss", te_loss[k]);
    valley_json_number(j, "test_acc", te_acc[k]);
    valley_json_array(j, "widths");
    for (size_t di = 0; di < IL_N_DELTA; di++) {
      size_t o = (di * IL_N_SOL + (size_t)k) * nr;
      double m, se, sd, mmn, msd, mse, pmn, psd, pse;
      valley_exp_mean_se(width + o, nr, &m, &se, &sd);
      valley_exp_mean_se(lm + o, nr, &mmn, &mse, &msd);
      valley_exp_mean_se(lp + o, nr, &pmn, &pse, &psd);
      size_t nc = 0;
      for (size_t d = 0; d < nr; d++) nc += cens[o + d] > 0;
      valley_json_object(j, NULL);
      valley_json_number(j, "delta", il_delta[di]);
      valley_json_number(j, "mean", m);
      valley_json_number(j, "sd", sd);
      valley_json_number(j, "se", se);
      valley_json_number(j, "mean_l_minus", mmn);
      valley_json_number(j, "mean_l_plus", pmn);
      valley_json_u64(j, "censored_rays", nc);
      valley_json_object_end(j);
    }
    valley_json_array_end(j);
    valley_json_object_end(j);
  }
  valley_json_object_end(j);

  /* pairs: (a, b) where the paper's b looks wider; the third is the control (SGD with
   * recomputed BN statistics against SWA: the same segment as the first), not in the verdict */
  const int pa[3] = {IL_SGD, IL_LARGE, IL_SGD_BN}, pb[3] = {IL_SWA, IL_SMALL, IL_SWA};
  const char *pair_names[3] = {"sgd_vs_swa", "large_vs_small_batch", "sgd_bn_recomputed_vs_swa"};
  int pass[3] = {0, 0, 0};
  double pdiff[3] = {0, 0, 0}, pse[3] = {0, 0, 0};
  barrier3[0] = barrier[0];
  barrier3[1] = barrier[1];
  barrier3[2] = barrier[0];
  dist3[0] = dist[0];
  dist3[1] = dist[1];
  dist3[2] = dist[0];
  double *diff = malloc(nr * sizeof *diff);
  if (diff == NULL) {
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "illusions: differences");
    goto done;
  }
  valley_json_object(j, "pairs");
  for (int q = 0; q < 3; q++) {
    valley_json_object(j, pair_names[q]);
    valley_json_string(j, "a", il_names[pa[q]]);
    valley_json_string(j, "b", il_names[pb[q]]);
    valley_json_number(j, "distance", dist3[q]);
    valley_json_number(j, "barrier", barrier3[q]);
    valley_json_bool(j, "same_basin", barrier3[q] <= IL_BARRIER_TOL);
    valley_json_array(j, "width_difference_b_minus_a");
    for (size_t di = 0; di < IL_N_DELTA; di++) {
      for (size_t d = 0; d < nr; d++)
        diff[d] = width[(di * IL_N_SOL + (size_t)pb[q]) * nr + d] -
                  width[(di * IL_N_SOL + (size_t)pa[q]) * nr + d];
      double m, se, sd;
      valley_exp_mean_se(diff, nr, &m, &se, &sd);
      size_t pos = 0;
      for (size_t d = 0; d < nr; d++) pos += diff[d] > 0;
      valley_json_object(j, NULL);
      valley_json_number(j, "delta", il_delta[di]);
      valley_json_number(j, "mean", m);
      valley_json_number(j, "se", se);
      valley_json_number(j, "sd", sd);
      valley_json_u64(j, "rays_b_wider", pos);
      valley_json_object_end(j);
      if (di == IL_PRIMARY_DELTA) {
        pdiff[q] = m;
        pse[q] = se;
      }
    }
    valley_json_array_end(j);
    pass[q] = barrier3[q] <= IL_BARRIER_TOL && pdiff[q] > 2 * pse[q];
    valley_json_bool(j, "illusion", pass[q]);
    valley_json_object_end(j);
  }
  valley_json_object_end(j);
  free(diff);

  /* ---- CSVs ---- */
  FILE *f = NULL;
  for (int k = 0; k < IL_N_SOL; k++) {
    char suffix[32], comment[128];
    snprintf(suffix, sizeof suffix, "rays_%s", il_names[k]);
    snprintf(comment, sizeof comment, "illusions: filter-normalized rays from the %s solution "
             "(Figures 9-10)", il_names[k]);
    if ((st = valley_exp_csv(r, suffix, &f, err)) != VALLEY_OK) goto done;
    valley_exp_write_profiles(f, comment, nr, &prof[k * nr]);
  }
  if ((st = valley_exp_csv(r, "widths", &f, err)) != VALLEY_OK) goto done;
  fprintf(f, "# illusions: width = l_minus + l_plus where the train loss first rises by delta above "
             "its l = 0 value (censored: sides that never do, set to l_max)\n");
  fprintf(f, "solution,ray,delta,l_minus,l_plus,width,censored_sides\n");
  for (size_t di = 0; di < IL_N_DELTA; di++)
    for (int k = 0; k < IL_N_SOL; k++)
      for (size_t d = 0; d < nr; d++) {
        size_t o = (di * IL_N_SOL + (size_t)k) * nr + d;
        fprintf(f, "%s,%zu,%.6g,%.17g,%.17g,%.17g,%d\n", il_names[k], d, il_delta[di], lm[o],
                lp[o], width[o], cens[o]);
      }
  if ((st = valley_exp_csv(r, "segments", &f, err)) != VALLEY_OK) goto done;
  fprintf(f, "# illusions: theta_a + t (theta_b - theta_a), BN statistics recomputed at every t "
             "(Appendix G, Figure 40)\n");
  fprintf(f, "pair,t,train_loss,test_loss,train_acc,test_acc\n");
  for (int q = 0; q < 2; q++)
    for (size_t g = 0; g < s.n_seg; g++) {
      const double *x = seg + 4 * (q * s.n_seg + g);
      fprintf(f, "%s,%.17g,%.17g,%.17g,%.17g,%.17g\n", pair_names[q], t[g], x[0], x[1], x[2],
              x[3]);
    }

  /* ---- verdict (docs/exp_illusions.md, fixed before the runs) ---- */
  valley_exp_verdict_t v = pass[0] && pass[1]   ? VALLEY_EXP_REPRODUCED
                           : !pass[0] && !pass[1] ? VALLEY_EXP_NOT_REPRODUCED
                                                  : VALLEY_EXP_INCONCLUSIVE;
  valley_json_object(j, "verdict_rule");
  valley_json_string(j, "rule",
                     "a pair shows the illusion when the train-loss barrier on its segment is <= "
                     "0.01 and the paired mean width difference (b - a, delta 0.5) over the rays "
                     "exceeds 2 standard errors; reproduced when both pairs do, not reproduced "
                     "when neither does, else inconclusive");
  valley_json_object_end(j);
  valley_exp_verdict(r, v,
                     "width(delta=0.5) SWA-SGD %+.3f+-%.3f (barrier %.3g), small-large batch "
                     "%+.3f+-%.3f (barrier %.3g), %zu filter rays; illusion %s/%s; control "
                     "SWA-SGD(BN recomputed) %+.3f+-%.3f",
                     pdiff[0], pse[0], barrier[0], pdiff[1], pse[1], barrier[1], nr,
                     pass[0] ? "yes" : "no", pass[1] ? "yes" : "no", pdiff[2], pse[2]);

done:
  if (prof != NULL) {
    for (size_t k = 0; k < IL_N_SOL * nr; k++) valley_prof_free(&prof[k]);
    free(prof);
  }
  if (dirs != NULL)
    for (size_t k = 0; k < nr; k++) free(dirs[k]);
  free(dirs);
  free(vel);
  free(grid);
  free(t);
  free(seg);
  free(width);
  free(lm);
  free(lp);
  free(cens);
  for (int k = 0; k < IL_N_SOL; k++) valley_exp_model_free(&sol[k]);
  valley_dataset_free(&probe_train);
  valley_dataset_free(&train);
  valley_dataset_free(&test);
  return st;
}
