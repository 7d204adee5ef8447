/* Assumption 2 of He, Huang, Yuan (2019), Sec. 4.2, Figure 4 (docs/exp_assumption2.md): an
 * asymmetric direction u at the SGD solution w* of a BN MLP stays asymmetric, with the same
 * flat side, at the points w* + v - <v,u>u for v uniform in the ball B(R).
 *
 * Steps: train the BN MLP; draw candidate directions (filter-normalized and BN-only), probe the
 * train loss along each and keep the one with the largest conservative Definition 1 ratio; then
 * for N random v (the same unit directions at every R, scaled to each radius) probe the loss
 * along u from each base point b = w* + v_perp, with w*'s BN running statistics kept (so every
 * curve is a slice of the same function Lhat), and measure Definition 1 on each curve both in
 * w*'s window (r, rbar, orientation fixed) and by a free window search.  The verdict uses the
 * fraction of curves that are asymmetric (c' > 1) with w*'s flat side in w*'s window at the
 * primary radius R = 0.1 ||w*||. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "valley/pcg.h"
#include "experiments_internal.h"

#define A2_MAX_R 4
#define A2_PRIMARY_R 1 /* index into r_frac: 0.1 ||w*|| */

typedef struct {
  size_t widths[4];
  size_t n_train, n_test, n_probe_train, epochs, batch;
  double lr;
  size_t n_filter, n_bn; /* candidate directions per family */
  size_t n_points;       /* random v per radius */
  size_t n_grid;
  double l_max;
  size_t n_r;
  double r_frac[A2_MAX_R];
} a2_settings_t;

static void a2_settings(int full, a2_settings_t *s) {
  memset(s, 0, sizeof *s);
  s->widths[0] = 784;
  s->widths[1] = full ? 256 : 64;
  s->widths[2] = full ? 256 : 64;
  s->widths[3] = 10;
  s->n_train = full ? 60000 : 3000;
  s->n_test = full ? 2000 : 1000;
  s->n_probe_train = full ? 10000 : 3000;
  s->epochs = full ? 10 : 3;
  s->batch = 128;
  s->lr = 0.05;
  s->n_filter = full ? 8 : 3;
  s->n_bn = full ? 8 : 3;
  s->n_points = full ? 100 : 10;
  s->n_grid = 41;
  s->l_max = 1.0;
  s->n_r = 3;
  s->r_frac[0] = 0.05;
  s->r_frac[1] = 0.1;
  s->r_frac[2] = 0.2;
}

/* Definition 1 in a fixed window and orientation (the w* window): the tightest p' (max outward
 * slope on the flat side) and cp' (min outward slope on the sharp side) over the samples with
 * |l| in [r, rbar], slopes by central differences (valley_prof_def1's K = 1). */
typedef struct {
  double p, cp, c;
  int asymmetric; /* c > 1 and cp > 0 */
} a2_fixed_t;

static a2_fixed_t a2_fixed_window(const double *l, const double *y, size_t n, int flat_side,
                                  double r, double rbar) {
  double p = -INFINITY, cp = INFINITY;
  for (size_t i = 1; i + 1 < n; i++) {
    double a = fabs(l[i]);
    if (l[i] == 0.0 || a < r || a > rbar) continue;
    double g = (y[i + 1] - y[i - 1]) / (l[i + 1] - l[i - 1]);
    double outward = l[i] > 0 ? g : -g;
    int on_flat = (l[i] > 0) == (flat_side > 0);
    if (on_flat)
      p = fmax(p, outward);
    else
      cp = fmin(cp, outward);
  }
  a2_fixed_t f;
  f.p = p;
  f.cp = cp;
  if (!isfinite(p) || !isfinite(cp))
    f.c = NAN;
  else if (p <= 0)
    f.c = cp > 0 ? INFINITY : NAN;
  else
    f.c = cp / p;
  f.asymmetric = isfinite(cp) && cp > 0 && (f.c > 1 || (isinf(f.c) && f.c > 0));
  return f;
}

static void a2_window_json(valley_json_t *j, const char *key, const valley_prof_window_t *w) {
  valley_json_object(j, key);
  valley_json_bool(j, "valid", w->valid);
  valley_json_number(j, "flat_side", w->flat_side);
  valley_json_number(j, "r", w->r);
  valley_json_number(j, "rbar", w->rbar);
  valley_json_number(j, "p", w->p);
  valley_json_number(j, "cp", w->cp);
  valley_json_number(j, "c", w->c);
  valley_json_number(j, "c_conservative", w->c_conservative);
  valley_json_bool(j, "asymmetric", w->asymmetric);
  valley_json_bool(j, "asymmetric_conservative", w->asymmetric_conservative);
  valley_json_object_end(j);
}

/* JSON numbers: non-finite values as null (the writer's convention is left to it; c may be
 * +inf when p <= 0). */
static void a2_num(valley_json_t *j, const char *key, double v) {
  if (isfinite(v))
    valley_json_number(j, key, v);
  else
    valley_json_null(j, key);
}

valley_status_t valley_exp_run_assumption2(valley_exp_run_t *r, valley_error_t *err) {
  const valley_exp_config_t *cfg = valley_exp_cfg(r);
  valley_json_t *j = valley_exp_json(r);
  a2_settings_t s;
  a2_settings(cfg->full, &s);
  const uint64_t base_seed = cfg->seed * 1000;
  const uint64_t dir_seed = base_seed + 3, v_seed = base_seed + 4;

  valley_dataset_t train, test, probe_train;
  valley_exp_model_t sgd, base;
  memset(&probe_train, 0, sizeof probe_train);
  memset(&sgd, 0, sizeof sgd);
  memset(&base, 0, sizeof base);
  size_t n_cand = s.n_filter + s.n_bn, n_all = n_cand + 1 + s.n_r * s.n_points;
  valley_prof_t *prof = NULL, *cand = NULL, *pts = NULL;
  float **dirs = NULL, *u = NULL, *v = NULL, *ub = NULL;
  double *grid = NULL, *mean = NULL, *sd = NULL, *mn = NULL, *mx = NULL, *tmean = NULL,
         *tsd = NULL;
  valley_prof_def1_t *d1 = NULL;
  a2_fixed_t *fx = NULL;
  double *base_loss = NULL, *vperp_norm = NULL;
  valley_status_t st = valley_exp_load(r, s.n_train, s.n_test, &train, &test, err);
  if (st != VALLEY_OK) return st;
  const valley_dataset_t *ptrain = &train;
  if (s.n_probe_train < train.n) {
    st = valley_dataset_subset(&train, s.n_probe_train, base_seed + 5, &probe_train, err);
    if (st != VALLEY_OK) goto done;
    ptrain = &probe_train;
  }

  valley_exp_train_t spec;
  valley_exp_spec_bn_mlp(&spec, s.widths, s.batch, s.lr, s.epochs, base_seed + 1, base_seed + 2);
  st = valley_exp_train(r, &spec, &train, &sgd, NULL, err);
  if (st != VALLEY_OK) goto done;
  const size_t np = sgd.net->n_params;
  const double theta_norm = valley_exp_norm(sgd.theta, np);

  prof = calloc(n_all, sizeof *prof);
  d1 = calloc(n_all, sizeof *d1);
  fx = calloc(n_all, sizeof *fx);
  dirs = calloc(n_cand, sizeof *dirs);
  grid = malloc(s.n_grid * sizeof *grid);
  u = malloc(np * sizeof *u);
  ub = malloc(np * sizeof *ub);
  v = malloc(np * sizeof *v);
  base_loss = calloc(n_all, sizeof *base_loss);
  vperp_norm = calloc(n_all, sizeof *vperp_norm);
  size_t ng = s.n_grid;
  mean = calloc(ng * s.n_r, sizeof *mean);
  sd = calloc(ng * s.n_r, sizeof *sd);
  mn = calloc(ng * s.n_r, sizeof *mn);
  mx = calloc(ng * s.n_r, sizeof *mx);
  tmean = calloc(ng * s.n_r, sizeof *tmean);
  tsd = calloc(ng * s.n_r, sizeof *tsd);
  if (prof == NULL || d1 == NULL || fx == NULL || dirs == NULL || grid == NULL || u == NULL ||
      ub == NULL || v == NULL || base_loss == NULL || vperp_norm == NULL || mean == NULL ||
      sd == NULL || mn == NULL || mx == NULL || tmean == NULL || tsd == NULL) {
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "assumption2: buffers for %zu parameters", np);
    goto done;
  }
  cand = prof;
  pts = prof + n_cand + 1;
  /* a symmetric grid (n_grid odd): both sides have the same distances, bit for bit */
  for (size_t g = 0, mid = (ng - 1) / 2; g <= mid; g++) {
    grid[mid + g] = s.l_max * (double)g / (double)mid;
    grid[mid - g] = -grid[mid + g];
  }
  grid[(ng - 1) / 2] = 0.0; /* +0, not -0 */

  /* ---- candidates at w* ---- */
  valley_dir_config_t fcfg, bcfg;
  if ((st = valley_dir_config_family(VALLEY_DIR_FAMILY_FILTER, &fcfg, err)) != VALLEY_OK) goto done;
  if ((st = valley_dir_config_family(VALLEY_DIR_FAMILY_BN, &bcfg, err)) != VALLEY_OK) goto done;
  for (size_t k = 0; k < n_cand; k++) {
    dirs[k] = malloc(np * sizeof **dirs);
    if (dirs[k] == NULL) {
      st = VALLEY_ERROR(err, VALLEY_ENOMEM, "assumption2: a direction");
      goto done;
    }
    st = valley_direction(sgd.net, sgd.theta, k < s.n_filter ? &fcfg : &bcfg, dir_seed, k,
                          dirs[k], err);
    if (st != VALLEY_OK) goto done;
  }
  valley_exp_progress(r, "assumption2: probing %zu candidate directions at w*", n_cand);
  st = valley_exp_probe(r, &sgd, n_cand, (const float *const *)dirs, ng, grid, ptrain, &test,
                        cand, err);
  if (st != VALLEY_OK) goto done;
  valley_prof_def1_config_t dcfg;
  valley_prof_def1_config_default(&dcfg);
  size_t best = n_cand;
  for (size_t k = 0; k < n_cand; k++) {
    st = valley_prof_def1(cand[k].l, cand[k].train, ng, &dcfg, &d1[k], err);
    if (st != VALLEY_OK) goto done;
    const valley_prof_window_t *w = &d1[k].best;
    if (w->valid && w->asymmetric_conservative &&
        (best == n_cand || w->c_conservative > d1[best].best.c_conservative))
      best = k;
  }
  valley_json_object(j, "settings");
  valley_json_string(j, "network", "MLP with BN");
  valley_json_numbers(j, "widths", (double[]){784, (double)s.widths[1], (double)s.widths[2], 10}, 4);
  valley_json_u64(j, "n_train", train.n);
  valley_json_u64(j, "n_test", test.n);
  valley_json_u64(j, "n_probe_train", ptrain->n);
  valley_json_u64(j, "epochs", s.epochs);
  valley_json_u64(j, "batch", s.batch);
  valley_json_number(j, "lr", s.lr);
  valley_json_number(j, "momentum", spec.sgd.momentum);
  valley_json_number(j, "weight_decay", spec.sgd.weight_decay);
  valley_json_u64(j, "candidates_filter", s.n_filter);
  valley_json_u64(j, "candidates_bn", s.n_bn);
  valley_json_u64(j, "n_points", s.n_points);
  valley_json_u64(j, "n_grid", ng);
  valley_json_number(j, "l_max", s.l_max);
  valley_json_numbers(j, "r_over_theta_norm", s.r_frac, s.n_r);
  valley_json_number(j, "primary_r_over_theta_norm", s.r_frac[A2_PRIMARY_R]);
  valley_json_string(j, "bn_statistics", "w*'s running statistics at every base point");
  valley_json_object_end(j);
  valley_json_number(j, "theta_norm", theta_norm);
  valley_json_number(j, "train_loss_w", cand[0].train[(ng - 1) / 2]);
  valley_json_number(j, "test_loss_w", cand[0].test[(ng - 1) / 2]);
  valley_json_array(j, "candidates");
  for (size_t k = 0; k < n_cand; k++) {
    valley_json_object(j, NULL);
    valley_json_string(j, "family", k < s.n_filter ? "filter" : "bn");
    valley_json_u64(j, "index", k);
    a2_window_json(j, "def1", &d1[k].best);
    valley_json_object_end(j);
  }
  valley_json_array_end(j);

  FILE *f = NULL;
  if ((st = valley_exp_csv(r, "candidates", &f, err)) != VALLEY_OK) goto done;
  valley_exp_write_profiles(f, "assumption2: candidate directions at w* (filter, then bn)", n_cand,
                            cand);

  if (best == n_cand) {
    valley_json_null(j, "direction");
    valley_exp_verdict(r, VALLEY_EXP_INCONCLUSIVE,
                       "no candidate direction of %zu is asymmetric at w* (Definition 1, "
                       "conservative c > 1): Assumption 2 cannot be tested",
                       n_cand);
    goto done;
  }
  const valley_prof_window_t W = d1[best].best;
  const double dnorm = valley_exp_norm(dirs[best], np);
  for (size_t i = 0; i < np; i++) u[i] = (float)((double)dirs[best][i] / dnorm);
  valley_json_object(j, "direction");
  valley_json_string(j, "family", best < s.n_filter ? "filter" : "bn");
  valley_json_u64(j, "index", best);
  valley_json_number(j, "norm", dnorm);
  a2_window_json(j, "def1_w", &W);
  valley_json_object_end(j);
  valley_exp_progress(r, "assumption2: u = candidate %zu (%s), window [%.3g, %.3g], c %.3g, flat "
                      "side %+d", best, best < s.n_filter ? "filter" : "bn", W.r, W.rbar, W.c,
                      W.flat_side);
  /* the w* curve in the fixed window: p and cp equal def1's (K = 1) */
  prof[n_cand] = cand[best]; /* shared view; freed through cand[best] only */
  fx[n_cand] = a2_fixed_window(cand[best].l, cand[best].train, ng, W.flat_side, W.r, W.rbar);

  /* ---- base points ---- */
  st = valley_exp_model_copy(&sgd, sgd.theta, &base, err);
  if (st != VALLEY_OK) goto done;
  const float *pdir[1] = {dirs[best]};
  valley_dir_config_t vcfg = {VALLEY_DIR_GAUSSIAN, 0, VALLEY_DIR_SUPPORT_ALL, VALLEY_DIR_NORM_UNIT};
  for (size_t i = 0; i < s.n_points; i++) {
    st = valley_direction(sgd.net, sgd.theta, &vcfg, v_seed, i, v, err);
    if (st != VALLEY_OK) goto done;
    valley_pcg32_t rng;
    valley_pcg32_seed(&rng, v_seed, UINT64_C(0x7261646900000000) + i); /* "radi" */
    double radius_factor = pow(valley_pcg32_open01(&rng), 1.0 / (double)np);
    double vu = 0;
    for (size_t k = 0; k < np; k++) vu += (double)v[k] * u[k];
    for (size_t ri = 0; ri < s.n_r; ri++) {
      double R = s.r_frac[ri] * theta_norm * radius_factor;
      for (size_t k = 0; k < np; k++)
        ub[k] = (float)((double)v[k] * R - R * vu * (double)u[k]);
      size_t idx = ri * s.n_points + i;
      vperp_norm[idx] = valley_exp_norm(ub, np);
      for (size_t k = 0; k < np; k++) base.theta[k] = sgd.theta[k] + ub[k];
      st = valley_exp_probe(r, &base, 1, pdir, ng, grid, ptrain, &test, &pts[idx], err);
      if (st != VALLEY_OK) goto done;
      base_loss[idx] = pts[idx].train[(ng - 1) / 2];
      st = valley_prof_def1(pts[idx].l, pts[idx].train, ng, &dcfg, &d1[n_cand + 1 + idx], err);
      if (st != VALLEY_OK) goto done;
      fx[n_cand + 1 + idx] =
          a2_fixed_window(pts[idx].l, pts[idx].train, ng, W.flat_side, W.r, W.rbar);
    }
    if ((i + 1) % 10 == 0 || i + 1 == s.n_points)
      valley_exp_progress(r, "assumption2: base point %zu/%zu probed at %zu radii", i + 1,
                          s.n_points, s.n_r);
  }

  /* ---- statistics per radius ---- */
  valley_json_object(j, "w_fixed_window");
  a2_num(j, "p", fx[n_cand].p);
  a2_num(j, "cp", fx[n_cand].cp);
  a2_num(j, "c", fx[n_cand].c);
  valley_json_object_end(j);
  double frac_primary = NAN, lo_primary = NAN, hi_primary = NAN;
  uint64_t k_primary = 0;
  valley_json_array(j, "radii");
  for (size_t ri = 0; ri < s.n_r; ri++) {
    const size_t o = n_cand + 1 + ri * s.n_points;
    uint64_t n_same = 0, n_c2 = 0, n_const = 0, n_free = 0, n_free_same = 0;
    double p_all = fx[n_cand].p, cp_all = fx[n_cand].cp, c_sum = 0, c_sum2 = 0;
    size_t c_n = 0;
    double bl_mean = 0, bl_max = -INFINITY, vp_mean = 0;
    for (size_t i = 0; i < s.n_points; i++) {
      const a2_fixed_t *q = &fx[o + i];
      n_same += (uint64_t)q->asymmetric;
      n_c2 += (uint64_t)(q->asymmetric && q->c > 2);
      n_const += (uint64_t)(q->p <= fx[n_cand].p && q->cp >= fx[n_cand].cp);
      p_all = fmax(p_all, q->p);
      cp_all = fmin(cp_all, q->cp);
      if (isfinite(q->c)) {
        c_sum += q->c;
        c_sum2 += q->c * q->c;
        c_n++;
      }
      const valley_prof_window_t *w = &d1[o + i].best;
      n_free += (uint64_t)(w->valid && w->asymmetric_conservative);
      n_free_same += (uint64_t)(w->valid && w->asymmetric_conservative && w->flat_side == W.flat_side);
      bl_mean += base_loss[ri * s.n_points + i] / (double)s.n_points;
      bl_max = fmax(bl_max, base_loss[ri * s.n_points + i]);
      vp_mean += vperp_norm[ri * s.n_points + i] / (double)s.n_points;
    }
    for (size_t g = 0; g < ng; g++) {
      double a = 0, a2 = 0, lo = INFINITY, hi = -INFINITY, t = 0, t2 = 0;
      for (size_t i = 0; i < s.n_points; i++) {
        double y = pts[ri * s.n_points + i].train[g], z = pts[ri * s.n_points + i].test[g];
        a += y;
        a2 += y * y;
        t += z;
        t2 += z * z;
        lo = fmin(lo, y);
        hi = fmax(hi, y);
      }
      double nn = (double)s.n_points;
      mean[ri * ng + g] = a / nn;
      sd[ri * ng + g] = nn > 1 ? sqrt(fmax(0, (a2 - a * a / nn) / (nn - 1))) : 0;
      tmean[ri * ng + g] = t / nn;
      tsd[ri * ng + g] = nn > 1 ? sqrt(fmax(0, (t2 - t * t / nn) / (nn - 1))) : 0;
      mn[ri * ng + g] = lo;
      mx[ri * ng + g] = hi;
    }
    double max_sd = 0, range = 0;
    for (size_t g = 0; g < ng; g++) max_sd = fmax(max_sd, sd[ri * ng + g]);
    {
      double lo = INFINITY, hi = -INFINITY;
      for (size_t g = 0; g < ng; g++) {
        lo = fmin(lo, mean[ri * ng + g]);
        hi = fmax(hi, mean[ri * ng + g]);
      }
      range = hi - lo;
    }
    double wlo, whi, c2lo, c2hi, flo, fhi;
    valley_exp_wilson(n_same, s.n_points, 1.96, &wlo, &whi);
    valley_exp_wilson(n_c2, s.n_points, 1.96, &c2lo, &c2hi);
    valley_exp_wilson(n_free_same, s.n_points, 1.96, &flo, &fhi);
    double frac = (double)n_same / (double)s.n_points;
    if (ri == A2_PRIMARY_R) {
      frac_primary = frac;
      lo_primary = wlo;
      hi_primary = whi;
      k_primary = n_same;
    }
    valley_json_object(j, NULL);
    valley_json_number(j, "r_over_theta_norm", s.r_frac[ri]);
    valley_json_number(j, "R", s.r_frac[ri] * theta_norm);
    valley_json_number(j, "mean_v_perp_norm", vp_mean);
    valley_json_number(j, "mean_base_train_loss", bl_mean);
    valley_json_number(j, "max_base_train_loss", bl_max);
    valley_json_u64(j, "n", s.n_points);
    valley_json_u64(j, "same_side_asymmetric", n_same);
    valley_json_number(j, "fraction_same_side_asymmetric", frac);
    valley_json_numbers(j, "wilson_same_side_asymmetric", (double[]){wlo, whi}, 2);
    valley_json_u64(j, "same_side_c_gt_2", n_c2);
    valley_json_number(j, "fraction_same_side_c_gt_2", (double)n_c2 / (double)s.n_points);
    valley_json_numbers(j, "wilson_same_side_c_gt_2", (double[]){c2lo, c2hi}, 2);
    valley_json_u64(j, "with_w_constants", n_const);
    valley_json_u64(j, "free_window_asymmetric", n_free);
    valley_json_u64(j, "free_window_same_side", n_free_same);
    valley_json_numbers(j, "wilson_free_window_same_side", (double[]){flo, fhi}, 2);
    a2_num(j, "c_mean", c_n ? c_sum / (double)c_n : NAN);
    a2_num(j, "c_sd", c_n > 1 ? sqrt(fmax(0, (c_sum2 - c_sum * c_sum / (double)c_n) /
                                              (double)(c_n - 1)))
                              : NAN);
    /* the tightest constants holding at w* and at every base point (the paper's check) */
    a2_num(j, "p_all", p_all);
    a2_num(j, "cp_all", cp_all);
    a2_num(j, "c_all", p_all > 0 ? cp_all / p_all : NAN);
    valley_json_number(j, "max_pointwise_sd", max_sd);
    valley_json_number(j, "mean_curve_range", range);
    valley_json_object_end(j);
  }
  valley_json_array_end(j);

  /* ---- CSVs ---- */
  if ((st = valley_exp_csv(r, "figure4", &f, err)) != VALLEY_OK) goto done;
  fprintf(f, "# assumption2: train loss along u from w* + v_perp, pointwise over %zu points per "
             "radius; l in units of the direction (parameter distance |l| * %.6g)\n",
          s.n_points, dnorm);
  fprintf(f, "r_over_theta_norm,l,w_train,mean,sd,min,max,w_test,test_mean,test_sd\n");
  for (size_t ri = 0; ri < s.n_r; ri++)
    for (size_t g = 0; g < ng; g++)
      fprintf(f, "%.6g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g\n", s.r_frac[ri],
              grid[g], cand[best].train[g], mean[ri * ng + g], sd[ri * ng + g], mn[ri * ng + g],
              mx[ri * ng + g], cand[best].test[g], tmean[ri * ng + g], tsd[ri * ng + g]);
  if ((st = valley_exp_csv(r, "points", &f, err)) != VALLEY_OK) goto done;
  fprintf(f, "# assumption2: each base point: fixed window (w*'s r, rbar, flat side) and free "
             "Definition 1 window on the train loss\n");
  fprintf(f, "r_over_theta_norm,point,v_perp_norm,base_train_loss,fixed_p,fixed_cp,fixed_c,"
             "fixed_asymmetric,free_valid,free_flat_side,free_r,free_rbar,free_p,free_c,"
             "free_c_conservative,free_asymmetric_conservative\n");
  for (size_t ri = 0; ri < s.n_r; ri++)
    for (size_t i = 0; i < s.n_points; i++) {
      size_t idx = ri * s.n_points + i;
      const a2_fixed_t *q = &fx[n_cand + 1 + idx];
      const valley_prof_window_t *w = &d1[n_cand + 1 + idx].best;
      fprintf(f, "%.6g,%zu,%.17g,%.17g,%.17g,%.17g,%.17g,%d,%d,%d,%.17g,%.17g,%.17g,%.17g,%.17g,%d\n",
              s.r_frac[ri], i, vperp_norm[idx], base_loss[idx], q->p, q->cp, q->c, q->asymmetric,
              w->valid, w->flat_side, w->r, w->rbar, w->p, w->c, w->c_conservative,
              w->asymmetric_conservative);
    }
  if ((st = valley_exp_csv(r, "curves", &f, err)) != VALLEY_OK) goto done;
  fprintf(f, "# assumption2: every base point's profile along u (direction = radius index * %zu + "
             "point)\n", s.n_points);
  valley_exp_write_profiles(f, "profiles", s.n_r * s.n_points, pts);

  /* ---- verdict (docs/exp_assumption2.md, fixed before the runs) ---- */
  valley_exp_verdict_t verdict;
  if (frac_primary >= 0.9 && lo_primary >= 0.7)
    verdict = VALLEY_EXP_REPRODUCED;
  else if (hi_primary < 0.9)
    verdict = VALLEY_EXP_NOT_REPRODUCED;
  else
    verdict = VALLEY_EXP_INCONCLUSIVE;
  valley_json_object(j, "verdict_rule");
  valley_json_string(j, "rule",
                     "at R = 0.1 ||w*||: reproduced if the fraction of base points whose curve is "
                     "asymmetric (c' > 1) with w*'s flat side in w*'s window is >= 0.9 and its "
                     "Wilson 95% lower bound >= 0.7; not reproduced if the upper bound < 0.9; "
                     "else inconclusive; inconclusive when no candidate is asymmetric at w*");
  valley_json_number(j, "fraction", frac_primary);
  valley_json_numbers(j, "wilson", (double[]){lo_primary, hi_primary}, 2);
  valley_json_object_end(j);
  valley_exp_verdict(r, verdict,
                     "u (%s, c=%.2f, window [%.2f, %.2f]) keeps its flat side and c'>1 at "
                     "%llu/%zu points w*+v_perp, R=0.1||w*||=%.3g (%.2f, 95%% CI [%.2f, %.2f])",
                     best < s.n_filter ? "filter" : "bn", W.c, W.r, W.rbar,
                     (unsigned long long)k_primary, s.n_points,
                     s.r_frac[A2_PRIMARY_R] * theta_norm, frac_primary, lo_primary, hi_primary);

done:
  if (prof != NULL) {
    for (size_t k = 0; k < n_all; k++)
      if (k != n_cand) valley_prof_free(&prof[k]);
    free(prof);
  }
  if (dirs != NULL)
    for (size_t k = 0; k < n_cand; k++) free(dirs[k]);
  free(dirs);
  free(d1);
  free(fx);
  free(grid);
  free(u);
  free(ub);
  free(v);
  free(base_loss);
  free(vperp_norm);
  free(mean);
  free(sd);
  free(mn);
  free(mx);
  free(tmean);
  free(tsd);
  valley_exp_model_free(&sgd);
  valley_exp_model_free(&base);
  valley_dataset_free(&probe_train);
  valley_dataset_free(&train);
  valley_dataset_free(&test);
  return st;
}
