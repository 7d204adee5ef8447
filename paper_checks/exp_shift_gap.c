/* shift-gap (issue 6; docs/exp_shift-gap.md): He, Huang, Yuan (2019) Sec. 4.2, Figure 3 and
 * Appendix C: along an asymmetric direction at an SGD solution the test loss is the train loss
 * shifted; the shift gap xi_delta of Definition 3 has a minimum at some delta* with
 * xi_delta* / xi_0 well below 1 (the paper: 0.03 / 0.22 = 0.14 at delta = 0.4; Appendix C:
 * 0.27, 0.37).
 *
 * The BN MLP is trained by SGD with momentum.  A pool of uniform directions (Sec. 3.2's family,
 * ||u|| = ||theta||) is probed on l = L (g - m) / m, L from a pilot direction (the smallest rung
 * 2^k ||theta|| / ||u|| where the train loss rises >= 1 nat on both sides); Definition 1 picks
 * the asymmetric ones (c_conservative > 2), filled up with the most asymmetric ones by
 * c_conservative to at least SG_MIN_SEL.  On each selected profile valley_prof_shift_gap gives
 * xi_delta over delta (defaults: R = L / 2, delta in [-L / 2, L / 2]), delta*, xi_delta* / xi_0.
 *
 * Verdict (fixed before any run): a direction "matches" when xi_delta* / xi_0 <= 0.5.
 * Reproduced when the Wilson 95 % lower bound of the fraction of selected directions that match
 * is >= 0.5; not reproduced when its upper bound is < 0.5; inconclusive otherwise. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments_internal.h"

#define SG_RISE 1.0
#define SG_PILOT_INDEX UINT64_C(1000000)
#define SG_THRESHOLD 2.0
#define SG_MATCH 0.5 /* xi_delta* / xi_0 at most this: the curves match after the shift */

typedef struct {
  size_t n_train, n_test, epochs, batch, pool, min_sel, half_points, width;
  double lr, momentum, wd;
} sg_settings_t;

typedef struct {
  size_t index;
  int valid, flat_side, selected;
  double c, c_cons;
  double xi0, delta_star, xi_star, ratio;
  int toward_flat; /* sign(delta*) == flat_side; 0 when delta* = 0 */
} sg_dir_t;


/* The seed of part `what` (1 shuffles, 2 init, 3 directions) under the experiment's seed. */
static uint64_t sg_seed(uint64_t seed, uint64_t what) {
  return valley_exp_mix(valley_exp_mix(seed ^ valley_exp_mix(what + UINT64_C(0x73686966))));
}
static void sg_settings(int full, sg_settings_t *s) {
  memset(s, 0, sizeof *s);
  s->batch = 128;
  s->lr = 0.05;
  s->momentum = 0.9;
  s->wd = 5e-4;
  if (full) {
    s->n_train = 8000;
    s->n_test = 4000;
    s->epochs = 10;
    s->pool = 32;
    s->min_sel = 10;
    s->half_points = 30;
    s->width = 256;
  } else {
    s->n_train = 1000;
    s->n_test = 500;
    s->epochs = 2;
    s->pool = 4;
    s->min_sel = 2;
    s->half_points = 10;
    s->width = 32;
  }
}

static int sg_cmp_desc(const void *a, const void *b) {
  const sg_dir_t *x = a, *y = b;
  double cx = x->valid ? x->c_cons : -INFINITY, cy = y->valid ? y->c_cons : -INFINITY;
  if (cx > cy) return -1;
  if (cx < cy) return 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

valley_status_t valley_exp_run_shift_gap(valley_exp_run_t *r, valley_error_t *err) {
  const valley_exp_config_t *cfg = valley_exp_cfg(r);
  valley_json_t *j = valley_exp_json(r);
  sg_settings_t s;
  sg_settings(cfg->full, &s);
  const size_t G = 2 * s.half_points + 1;
  valley_dataset_t train, test;
  valley_exp_model_t m = {0};
  float *u = NULL;
  double *grid = NULL, *ratios = NULL;
  sg_dir_t *d = NULL, *order = NULL;
  valley_prof_t *prof = NULL;
  const float **dp = NULL;
  FILE *fdir = NULL, *fprof = NULL, *fcurve = NULL;

  valley_status_t st = valley_exp_load(r, s.n_train, s.n_test, &train, &test, err);
  if (st != VALLEY_OK) return st;
  valley_exp_train_t spec;
  const size_t widths[4] = {784, s.width, s.width, 10};
  valley_exp_spec_bn_mlp(&spec, widths, s.batch, s.lr, s.epochs, sg_seed(cfg->seed, 2),
                         sg_seed(cfg->seed, 1));
  spec.sgd.momentum = s.momentum;
  spec.sgd.weight_decay = s.wd;
  uint64_t dseed = sg_seed(cfg->seed, 3);

  valley_json_object(j, "settings");
  valley_json_string(j, "network", "bn-mlp");
  double w[4] = {784, (double)s.width, (double)s.width, 10};
  valley_json_numbers(j, "widths", w, 4);
  valley_json_u64(j, "n_train", s.n_train);
  valley_json_u64(j, "n_test", s.n_test);
  valley_json_u64(j, "epochs", s.epochs);
  valley_json_u64(j, "batch", s.batch);
  valley_json_number(j, "lr", s.lr);
  valley_json_number(j, "momentum", s.momentum);
  valley_json_number(j, "weight_decay", s.wd);
  valley_json_string(j, "family", "uniform");
  valley_json_u64(j, "pool", s.pool);
  valley_json_u64(j, "min_selected", s.min_sel);
  valley_json_u64(j, "grid_points", G);
  valley_json_number(j, "rise_target", SG_RISE);
  valley_json_number(j, "threshold_c", SG_THRESHOLD);
  valley_json_number(j, "match_ratio", SG_MATCH);
  valley_json_string(j, "gap_config", "valley_prof_shift_gap defaults: R = L/2, delta in "
                                      "[-L/2, L/2], step h/2");
  valley_json_object_end(j);

  grid = malloc(G * sizeof *grid);
  d = calloc(s.pool, sizeof *d);
  order = calloc(s.pool, sizeof *order);
  ratios = malloc(s.pool * sizeof *ratios);
  prof = calloc(s.pool, sizeof *prof);
  dp = malloc(s.pool * sizeof *dp);
  if (grid == NULL || d == NULL || order == NULL || ratios == NULL || prof == NULL || dp == NULL) {
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "shift-gap: work arrays");
    goto done;
  }
  if ((st = valley_exp_csv(r, "directions", &fdir, err)) != VALLEY_OK) goto done;
  if ((st = valley_exp_csv(r, "profiles", &fprof, err)) != VALLEY_OK) goto done;
  if ((st = valley_exp_csv(r, "curves", &fcurve, err)) != VALLEY_OK) goto done;

  valley_exp_progress(r, "shift-gap: training the BN MLP");
  if ((st = valley_exp_train(r, &spec, &train, &m, NULL, err)) != VALLEY_OK) goto done;
  size_t np = m.net->n_params;
  double tr_loss, tr_acc, te_loss, te_acc;
  if ((st = valley_mlp_evaluate(m.net, m.theta, &train, s.batch, &tr_loss, &tr_acc, err)) !=
          VALLEY_OK ||
      (st = valley_mlp_evaluate(m.net, m.theta, &test, s.batch, &te_loss, &te_acc, err)) !=
          VALLEY_OK)
    goto done;
  valley_json_object(j, "solution");
  valley_json_u64(j, "n_params", np);
  valley_json_number(j, "theta_norm", valley_exp_norm(m.theta, np));
  valley_json_number(j, "train_loss", tr_loss);
  valley_json_number(j, "train_acc", tr_acc);
  valley_json_number(j, "test_loss", te_loss);
  valley_json_number(j, "test_acc", te_acc);
  valley_json_object_end(j);

  u = malloc((s.pool + 1) * np * sizeof *u);
  if (u == NULL) {
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "shift-gap: %zu directions", s.pool + 1);
    goto done;
  }
  valley_dir_config_t dc;
  if ((st = valley_dir_config_family(VALLEY_DIR_FAMILY_UNIFORM, &dc, err)) != VALLEY_OK)
    goto done;
  double L = 0.0;
  if ((st = valley_exp_pilot(r, &m, &dc, dseed, SG_PILOT_INDEX, SG_RISE, u + s.pool * np, &train,
                             &test, &L, NULL, NULL, err)) != VALLEY_OK)
    goto done;
  for (size_t g = 0; g < G; g++)
    grid[g] = L * ((double)g - (double)s.half_points) / (double)s.half_points;
  grid[s.half_points] = 0.0;
  for (size_t i = 0; i < s.pool && st == VALLEY_OK; i++) {
    st = valley_direction(m.net, m.theta, &dc, dseed, i, u + i * np, err);
    dp[i] = u + i * np;
  }
  if (st != VALLEY_OK) goto done;
  valley_exp_progress(r, "shift-gap: L = %.4g, probing %zu uniform directions", L, s.pool);
  if ((st = valley_exp_probe(r, &m, s.pool, dp, G, grid, &train, &test, prof, err)) != VALLEY_OK)
    goto done;
  double h = L / (double)s.half_points;
  for (size_t i = 0; i < s.pool && st == VALLEY_OK; i++) {
    valley_prof_def1_t o;
    if ((st = valley_exp_def1(&prof[i], L, h, &o, err)) != VALLEY_OK) break;
    d[i].index = i;
    d[i].valid = o.best.valid;
    d[i].flat_side = o.best.valid ? o.best.flat_side : 0;
    d[i].c = o.best.valid ? o.best.c : NAN;
    d[i].c_cons = o.best.valid ? o.best.c_conservative : NAN;
    d[i].xi0 = d[i].delta_star = d[i].xi_star = d[i].ratio = NAN;
  }
  if (st != VALLEY_OK) goto done;
  /* selection: every c_conservative > 2, at least min_sel by c_conservative */
  memcpy(order, d, s.pool * sizeof *d);
  qsort(order, s.pool, sizeof *order, sg_cmp_desc);
  size_t n_asym = 0, n_sel = 0;
  for (size_t i = 0; i < s.pool; i++) n_asym += d[i].valid && d[i].c_cons > SG_THRESHOLD;
  n_sel = n_asym > s.min_sel ? n_asym : s.min_sel;
  if (n_sel > s.pool) n_sel = s.pool;
  for (size_t k = 0; k < n_sel; k++) d[order[k].index].selected = 1;

  fprintf(fcurve, "# shift-gap: xi_delta (Definition 3) along the selected directions, "
                  "R = L/2 (Figure 3(b))\ndirection,delta,xi,xi_over_xi0\n");
  size_t n_match = 0, n_flat = 0, n_sharp = 0, m_r = 0;
  double R_used = NAN;
  for (size_t i = 0; i < s.pool && st == VALLEY_OK; i++) {
    if (!d[i].selected) continue;
    valley_prof_gap_config_t gc;
    memset(&gc, 0, sizeof gc);
    valley_prof_gap_t gap;
    if ((st = valley_prof_shift_gap(&prof[i], &gc, &gap, err)) != VALLEY_OK) break;
    R_used = gap.config.R;
    d[i].xi0 = gap.xi0;
    d[i].delta_star = gap.delta_star;
    d[i].xi_star = gap.xi_star;
    d[i].ratio = gap.ratio;
    d[i].toward_flat = gap.delta_star == 0 || d[i].flat_side == 0
                           ? 0
                           : (gap.delta_star > 0 ? 1 : -1) == d[i].flat_side ? 1 : -1;
    for (size_t k = 0; k < gap.n; k++)
      if (!isnan(gap.xi[k]))
        fprintf(fcurve, "%zu,%.9g,%.9g,%.9g\n", i, gap.delta[k], gap.xi[k],
                gap.xi0 > 0 ? gap.xi[k] / gap.xi0 : NAN);
    valley_prof_gap_free(&gap);
    n_match += d[i].ratio <= SG_MATCH;
    n_flat += d[i].toward_flat == 1;
    n_sharp += d[i].toward_flat == -1;
    ratios[m_r++] = d[i].ratio;
  }
  if (st != VALLEY_OK) goto done;

  fprintf(fdir, "# shift-gap: uniform directions at the BN MLP's SGD solution; Definition 1 on "
                "the train loss, shift gap on the selected ones\n"
                "direction,valid,flat_side,c,c_conservative,selected,xi0,delta_star,xi_star,"
                "ratio,toward_flat\n");
  for (size_t i = 0; i < s.pool; i++)
    fprintf(fdir, "%zu,%d,%d,%.9g,%.9g,%d,%.9g,%.9g,%.9g,%.9g,%d\n", i, d[i].valid,
            d[i].flat_side, d[i].c, d[i].c_cons, d[i].selected, d[i].xi0, d[i].delta_star,
            d[i].xi_star, d[i].ratio, d[i].toward_flat);
  fprintf(fprof, "# shift-gap: train and test loss along theta + l u (uniform family)\n"
                 "direction,l,train_loss,test_loss,train_acc,test_acc\n");
  for (size_t i = 0; i < s.pool; i++)
    for (size_t g = 0; g < G; g++)
      fprintf(fprof, "%zu,%.9g,%.9g,%.9g,%.6g,%.6g\n", i, prof[i].l[g], prof[i].train[g],
              prof[i].test[g], prof[i].train_acc[g], prof[i].test_acc[g]);

  qsort(ratios, m_r, sizeof *ratios, valley_exp_cmp_double);
  double mean = 0.0, var = 0.0;
  for (size_t k = 0; k < m_r; k++) mean += ratios[k];
  mean /= (double)m_r;
  for (size_t k = 0; k < m_r; k++) var += (ratios[k] - mean) * (ratios[k] - mean);
  double se = m_r > 1 ? sqrt(var / (double)(m_r - 1) / (double)m_r) : NAN;
  double median = m_r % 2 ? ratios[m_r / 2] : 0.5 * (ratios[m_r / 2 - 1] + ratios[m_r / 2]);
  double lo, hi, flo, fhi;
  valley_exp_wilson(n_match, m_r, 1.96, &lo, &hi);
  valley_exp_wilson(n_flat, n_flat + n_sharp, 1.96, &flo, &fhi);

  valley_json_number(j, "half_width", L);
  valley_json_number(j, "R", R_used);
  valley_json_u64(j, "n_pool", s.pool);
  valley_json_u64(j, "n_asymmetric", n_asym);
  valley_json_u64(j, "n_selected", m_r);
  valley_json_array(j, "directions");
  for (size_t i = 0; i < s.pool; i++) {
    valley_json_object(j, NULL);
    valley_json_u64(j, "index", i);
    valley_json_bool(j, "valid", d[i].valid);
    valley_json_number(j, "flat_side", d[i].flat_side);
    valley_json_number(j, "c", d[i].c);
    valley_json_number(j, "c_conservative", d[i].c_cons);
    valley_json_bool(j, "selected", d[i].selected);
    if (d[i].selected) {
      valley_json_number(j, "xi0", d[i].xi0);
      valley_json_number(j, "delta_star", d[i].delta_star);
      valley_json_number(j, "xi_star", d[i].xi_star);
      valley_json_number(j, "ratio", d[i].ratio);
      valley_json_number(j, "toward_flat", d[i].toward_flat);
    }
    valley_json_object_end(j);
  }
  valley_json_array_end(j);
  valley_json_number(j, "ratio_mean", mean);
  valley_json_number(j, "ratio_se", se);
  valley_json_number(j, "ratio_median", median);
  valley_json_number(j, "ratio_min", ratios[0]);
  valley_json_number(j, "ratio_max", ratios[m_r - 1]);
  valley_json_u64(j, "n_match", n_match);
  valley_json_number(j, "match_fraction", (double)n_match / (double)m_r);
  valley_json_number(j, "match_wilson_lo", lo);
  valley_json_number(j, "match_wilson_hi", hi);
  valley_json_u64(j, "n_toward_flat", n_flat);
  valley_json_u64(j, "n_toward_sharp", n_sharp);
  valley_json_number(j, "toward_flat_wilson_lo", flo);
  valley_json_number(j, "toward_flat_wilson_hi", fhi);
  valley_json_string(j, "verdict_rule",
                     "a selected direction matches when xi_delta*/xi_0 <= 0.5; reproduced: "
                     "Wilson 95% lower bound of the matching fraction >= 0.5; not reproduced: "
                     "upper bound < 0.5; else inconclusive");
  valley_exp_verdict_t v = lo >= 0.5   ? VALLEY_EXP_REPRODUCED
                           : hi < 0.5 ? VALLEY_EXP_NOT_REPRODUCED
                                      : VALLEY_EXP_INCONCLUSIVE;
  valley_exp_verdict(r, v,
                     "BN MLP, %zu of %zu uniform directions asymmetric (c_cons > 2), %zu "
                     "selected: xi_delta*/xi_0 median %.3f, mean %.3f +- %.3f; %zu/%zu <= 0.5 "
                     "(Wilson [%.2f, %.2f]); delta* toward the flat side %zu, sharp %zu",
                     n_asym, s.pool, m_r, median, mean, se, n_match, m_r, lo, hi, n_flat,
                     n_sharp);
done:
  free(u);
  valley_exp_model_free(&m);
  free(grid);
  free(d);
  free(order);
  free(ratios);
  if (prof != NULL)
    for (size_t i = 0; i < s.pool; i++) valley_prof_free(&prof[i]);
  free(prof);
  free(dp);
  valley_dataset_free(&train);
  valley_dataset_free(&test);
  return st;
}
