/* asym-common (issue 6; docs/exp_asym-common.md): how common are (rbar, r, p, c)-asymmetric
 * directions with c > 2 at SGD solutions?  He, Huang, Yuan (2019) Sec. 3.2 and Appendix A: random
 * directions with U(0, 1) coordinates find one "with decent probability"; the rebuttal (lines
 * 17-19): "we can always find asymmetric directions at every local minimum that SGD finds".
 *
 * Three Fashion-MNIST networks (an MLP with BN, a CNN with BN, an MLP without BN) are trained by
 * SGD with momentum.  For every network and direction family, a pilot direction fixes the probe's
 * half-width L (the smallest rung of a ladder 2^k ||theta|| / ||u|| where the train loss has risen
 * by at least RISE nats on both sides), then n directions are probed on l = L (g - m) / m,
 * g = 0..2m, and Definition 1 is searched on each train-loss profile (valley_prof_def1, windows
 * starting beyond the line's own minimum).  A direction counts when c_conservative > 2.
 *
 * Verdict (fixed before any run): the paper's family is "uniform".  Reproduced when every
 * network has at least one uniform direction with c_conservative > 2 and the Wilson 95 % lower
 * bound of the pooled uniform fraction is >= 0.10 ("decent probability").  Not reproduced when
 * some network has no such direction although its Wilson upper bound is below 0.30 (i.e. at
 * least 9 directions tried), or the pooled upper bound is below 0.10.  Inconclusive otherwise. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments_internal.h"

#define AC_THRESHOLD 2.0   /* c > 2 (Sec. 3.2) */
#define AC_RISE 1.0        /* nats the train loss must rise on both sides at l = +-L */
#define AC_PILOT_INDEX UINT64_C(1000000) /* the pilot's direction index, never counted */
#define AC_DECENT 0.10     /* "decent probability": pooled Wilson lower bound at least this */
#define AC_NONE_UPPER 0.30 /* a network with no hit counts against the claim below this bound */
#define AC_N_NETS 3
#define AC_N_FAM 7

typedef struct {
  const char *key; /* "bn-mlp", "cnn", "mlp" */
  valley_mlp_config_t arch;
} ac_net_t;

typedef struct {
  size_t n_train, n_test, epochs, batch, dirs, half_points;
  double lr, momentum, wd;
  size_t mlp_width, cnn_c1, cnn_c2;
} ac_settings_t;

typedef struct {
  double L;
  int valid, flat_side;
  double r, rbar, p, cp, c, c_cons, train0, noise_sd;
} ac_dir_t;

/* Nearest-rank quantile of sorted v (n >= 1): v[ceil(q n) - 1]; +inf stays +inf. */
static double ac_quantile(const double *v, size_t n, double q) {
  if (n == 0) return NAN;
  size_t k = (size_t)ceil(q * (double)n);
  if (k < 1) k = 1;
  if (k > n) k = n;
  return v[k - 1];
}

static void ac_settings(int full, ac_settings_t *s) {
  memset(s, 0, sizeof *s);
  s->batch = 128;
  s->lr = 0.05;
  s->momentum = 0.9;
  s->wd = 5e-4;
  if (full) {
    s->n_train = 4000;
    s->n_test = 500;
    s->epochs = 8;
    s->dirs = 10;
    s->half_points = 15;
    s->mlp_width = 256;
    s->cnn_c1 = 8;
    s->cnn_c2 = 16;
  } else {
    s->n_train = 1000;
    s->n_test = 200;
    s->epochs = 2;
    s->dirs = 2;
    s->half_points = 8;
    s->mlp_width = 32;
    s->cnn_c1 = 4;
    s->cnn_c2 = 8;
  }
}

static void ac_nets(const ac_settings_t *s, ac_net_t nets[AC_N_NETS]) {
  for (int i = 0; i < AC_N_NETS; i++) valley_mlp_config_default(&nets[i].arch);
  nets[0].key = "bn-mlp";
  nets[0].arch.n_layers = 3;
  nets[0].arch.widths[0] = 784;
  nets[0].arch.widths[1] = s->mlp_width;
  nets[0].arch.widths[2] = s->mlp_width;
  nets[0].arch.widths[3] = 10;
  nets[0].arch.batch_norm = 1;
  nets[1].key = "cnn";
  nets[1].arch.arch = VALLEY_ARCH_CNN;
  nets[1].arch.n_layers = 3;
  nets[1].arch.in_channels = 1;
  nets[1].arch.height = 28;
  nets[1].arch.width = 28;
  nets[1].arch.widths[0] = 784;
  nets[1].arch.widths[1] = s->cnn_c1;
  nets[1].arch.widths[2] = s->cnn_c2;
  nets[1].arch.widths[3] = 10;
  nets[1].arch.batch_norm = 1;
  nets[2] = nets[0];
  nets[2].key = "mlp";
  nets[2].arch.batch_norm = 0;
}

static const valley_dir_family_t ac_families[AC_N_FAM] = {
    VALLEY_DIR_FAMILY_GAUSSIAN, VALLEY_DIR_FAMILY_FILTER, VALLEY_DIR_FAMILY_WHOLE,
    VALLEY_DIR_FAMILY_UNIFORM,  VALLEY_DIR_FAMILY_SIGN,   VALLEY_DIR_FAMILY_BN,
    VALLEY_DIR_FAMILY_NON_BN};

/* Definition 1 on one train-loss profile, windows starting at r >= max(|l_min| + h, L / 10). */
static valley_status_t ac_def1(const valley_prof_t *p, double L, double h, ac_dir_t *d,
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
  d->noise_sd = o.noise_sd;
  return VALLEY_OK;
}

typedef struct {
  size_t n, valid, k_cons, k_raw, k_asym;
  double L, rise_lo, rise_hi;
  double q_cons[3], q_raw[3];
} ac_fam_stats_t;

static void ac_stats(const ac_dir_t *d, size_t n, double *work, ac_fam_stats_t *s) {
  s->n = n;
  s->valid = s->k_cons = s->k_raw = s->k_asym = 0;
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    if (!d[i].valid) continue;
    s->valid++;
    s->k_cons += d[i].c_cons > AC_THRESHOLD;
    s->k_raw += d[i].c > AC_THRESHOLD;
    s->k_asym += d[i].c_cons > 1.0;
    work[m++] = d[i].c_cons;
  }
  qsort(work, m, sizeof *work, valley_exp_cmp_double);
  for (int q = 0; q < 3; q++) s->q_cons[q] = ac_quantile(work, m, 0.25 * (q + 1));
  m = 0;
  for (size_t i = 0; i < n; i++)
    if (d[i].valid) work[m++] = d[i].c;
  qsort(work, m, sizeof *work, valley_exp_cmp_double);
  for (int q = 0; q < 3; q++) s->q_raw[q] = ac_quantile(work, m, 0.25 * (q + 1));
}

static void ac_json_fraction(valley_json_t *j, const char *prefix, uint64_t k, uint64_t n) {
  char key[64];
  double lo, hi;
  valley_exp_wilson(k, n, 1.96, &lo, &hi);
  snprintf(key, sizeof key, "%sfraction", prefix);
  valley_json_number(j, key, n ? (double)k / (double)n : NAN);
  snprintf(key, sizeof key, "%swilson_lo", prefix);
  valley_json_number(j, key, lo);
  snprintf(key, sizeof key, "%swilson_hi", prefix);
  valley_json_number(j, key, hi);
}

static void ac_settings_json(valley_json_t *j, const ac_settings_t *s, const ac_net_t *nets) {
  valley_json_object(j, "settings");
  valley_json_u64(j, "n_train", s->n_train);
  valley_json_u64(j, "n_test_probe", s->n_test);
  valley_json_u64(j, "epochs", s->epochs);
  valley_json_u64(j, "batch", s->batch);
  valley_json_number(j, "lr", s->lr);
  valley_json_number(j, "momentum", s->momentum);
  valley_json_number(j, "weight_decay", s->wd);
  valley_json_u64(j, "directions_per_family", s->dirs);
  valley_json_u64(j, "grid_points", 2 * s->half_points + 1);
  valley_json_number(j, "rise_target", AC_RISE);
  valley_json_number(j, "ladder_k_lo", VALLEY_EXP_LADDER_LO);
  valley_json_number(j, "ladder_k_hi", VALLEY_EXP_LADDER_HI);
  valley_json_number(j, "threshold_c", AC_THRESHOLD);
  valley_json_string(j, "count_on", "c_conservative");
  valley_json_string(j, "r_min", "max(|l_min(train)| + h, L/10)");
  valley_prof_def1_config_t c;
  valley_prof_def1_config_default(&c);
  valley_json_u64(j, "def1_smooth", c.smooth);
  valley_json_number(j, "def1_z", c.z);
  valley_json_u64(j, "def1_min_points", c.min_points);
  valley_json_string(j, "def1_min_width", "auto: 4 sample spacings");
  valley_json_array(j, "networks");
  for (int i = 0; i < AC_N_NETS; i++) {
    valley_json_object(j, NULL);
    valley_json_string(j, "key", nets[i].key);
    valley_json_string(j, "arch", valley_arch_name(nets[i].arch.arch));
    double w[4];
    for (int k = 0; k < 4; k++) w[k] = (double)nets[i].arch.widths[k];
    valley_json_numbers(j, "widths", w, 4);
    valley_json_bool(j, "batch_norm", nets[i].arch.batch_norm);
    valley_json_object_end(j);
  }
  valley_json_array_end(j);
  valley_json_object_end(j);
}

valley_status_t valley_exp_run_asym_common(valley_exp_run_t *r, valley_error_t *err) {
  const valley_exp_config_t *cfg = valley_exp_cfg(r);
  valley_json_t *j = valley_exp_json(r);
  ac_settings_t s;
  ac_settings(cfg->full, &s);
  ac_net_t nets[AC_N_NETS];
  ac_nets(&s, nets);
  const size_t G = 2 * s.half_points + 1;
  valley_dataset_t train, test;
  valley_exp_model_t m = {0};
  float *u = NULL;
  ac_dir_t *dirs = NULL;
  double *grid = NULL, *work = NULL;
  valley_prof_t *prof = NULL;
  const float **dp = NULL;
  FILE *fdir = NULL, *fprof = NULL, *fsum = NULL;
  /* per network and family: hits; pooled per family */
  uint64_t uk[AC_N_NETS] = {0}, un[AC_N_NETS] = {0};
  uint64_t pool_k[AC_N_FAM] = {0}, pool_n[AC_N_FAM] = {0}, pool_raw[AC_N_FAM] = {0};
  uint64_t all_k = 0, all_n = 0;

  valley_status_t st = valley_exp_load(r, s.n_train, s.n_test, &train, &test, err);
  if (st != VALLEY_OK) return st;
  ac_settings_json(j, &s, nets);
  grid = malloc(G * sizeof *grid);
  dirs = calloc(s.dirs, sizeof *dirs);
  work = malloc(s.dirs * sizeof *work);
  prof = calloc(s.dirs, sizeof *prof);
  dp = malloc(s.dirs * sizeof *dp);
  if (grid == NULL || dirs == NULL || work == NULL || prof == NULL || dp == NULL) {
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "asym-common: work arrays");
    goto done;
  }
  if ((st = valley_exp_csv(r, "directions", &fdir, err)) != VALLEY_OK) goto done;
  if ((st = valley_exp_csv(r, "profiles", &fprof, err)) != VALLEY_OK) goto done;
  if ((st = valley_exp_csv(r, "summary", &fsum, err)) != VALLEY_OK) goto done;
  fprintf(fdir, "# asym-common: Definition 1 (best window) on the train-loss profile of each "
                "direction; c_conservative moves every slope 2 s.e. against the claim\n"
                "network,family,index,half_width,valid,flat_side,r,rbar,p,cp,c,c_conservative,"
                "train_loss_at_0,noise_sd\n");
  fprintf(fprof, "# asym-common: loss along theta + l u (test loss on a small test subset)\n"
                 "network,family,index,l,train_loss,test_loss,train_acc,test_acc\n");
  fprintf(fsum, "# asym-common: per network and family, directions with c_conservative > 2\n"
                "network,family,n,valid,k_cons,k_raw,fraction,wilson_lo,wilson_hi,half_width,"
                "c_cons_q1,c_cons_median,c_cons_q3,c_q1,c_median,c_q3\n");

  valley_json_array(j, "networks");
  for (int ni = 0; ni < AC_N_NETS && st == VALLEY_OK; ni++) {
    const ac_net_t *net = &nets[ni];
    valley_exp_train_t spec;
    memset(&spec, 0, sizeof spec);
    spec.arch = net->arch;
    valley_sgd_config_default(&spec.sgd);
    spec.sgd.batch = s.batch;
    spec.sgd.lr = s.lr;
    spec.sgd.momentum = s.momentum;
    spec.sgd.weight_decay = s.wd;
    spec.sgd.seed = valley_exp_seed(cfg->seed, 1, (uint64_t)ni, 0);
    spec.epochs = s.epochs;
    spec.init_seed = valley_exp_seed(cfg->seed, 2, (uint64_t)ni, 0);
    valley_exp_progress(r, "asym-common: training %s", net->key);
    st = valley_exp_train(r, &spec, &train, &m, NULL, err);
    if (st != VALLEY_OK) break;
    size_t np = m.net->n_params;
    double tr_loss, tr_acc, te_loss, te_acc;
    st = valley_mlp_evaluate(m.net, m.theta, &train, s.batch, &tr_loss, &tr_acc, err);
    if (st == VALLEY_OK)
      st = valley_mlp_evaluate(m.net, m.theta, &test, s.batch, &te_loss, &te_acc, err);
    if (st != VALLEY_OK) break;
    u = malloc((s.dirs + 1) * np * sizeof *u);
    if (u == NULL) {
      st = VALLEY_ERROR(err, VALLEY_ENOMEM, "asym-common: %zu directions", s.dirs + 1);
      break;
    }
    valley_json_object(j, NULL);
    valley_json_string(j, "network", net->key);
    valley_json_u64(j, "n_params", np);
    valley_json_number(j, "theta_norm", valley_exp_norm(m.theta, np));
    valley_json_number(j, "train_loss", tr_loss);
    valley_json_number(j, "train_acc", tr_acc);
    valley_json_number(j, "test_loss", te_loss);
    valley_json_number(j, "test_acc", te_acc);
    valley_json_array(j, "families");
    uint64_t net_k = 0, net_n = 0;
    for (int fi = 0; fi < AC_N_FAM && st == VALLEY_OK; fi++) {
      valley_dir_family_t fam = ac_families[fi];
      if (fam == VALLEY_DIR_FAMILY_BN && !net->arch.batch_norm) continue;
      const char *fname = valley_dir_family_name(fam);
      valley_dir_config_t dc;
      if ((st = valley_dir_config_family(fam, &dc, err)) != VALLEY_OK) break;
      uint64_t dseed = valley_exp_seed(cfg->seed, 3, (uint64_t)ni, (uint64_t)fi);
      ac_fam_stats_t fs;
      st = valley_exp_pilot(r, &m, &dc, dseed, AC_PILOT_INDEX, AC_RISE, u + s.dirs * np, &train,
                            &test, &fs.L, &fs.rise_lo, &fs.rise_hi, err);
      if (st != VALLEY_OK) break;
      for (size_t g = 0; g < G; g++)
        grid[g] = fs.L * ((double)g - (double)s.half_points) / (double)s.half_points;
      grid[s.half_points] = 0.0;
      for (size_t d = 0; d < s.dirs && st == VALLEY_OK; d++) {
        st = valley_direction(m.net, m.theta, &dc, dseed, d, u + d * np, err);
        dp[d] = u + d * np;
      }
      if (st != VALLEY_OK) break;
      valley_exp_progress(r, "asym-common: %s, family %s, L = %.4g, probing %zu directions",
                          net->key, fname, fs.L, s.dirs);
      st = valley_exp_probe(r, &m, s.dirs, dp, G, grid, &train, &test, prof, err);
      if (st != VALLEY_OK) break;
      double h = fs.L / (double)s.half_points;
      for (size_t d = 0; d < s.dirs && st == VALLEY_OK; d++) {
        dirs[d].L = fs.L;
        dirs[d].train0 = prof[d].train[s.half_points];
        st = ac_def1(&prof[d], fs.L, h, &dirs[d], err);
        if (st != VALLEY_OK) break;
        fprintf(fdir, "%s,%s,%zu,%.9g,%d,%d,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.6g\n", net->key,
                fname, d, fs.L, dirs[d].valid, dirs[d].flat_side, dirs[d].r, dirs[d].rbar,
                dirs[d].p, dirs[d].cp, dirs[d].c, dirs[d].c_cons, dirs[d].train0,
                dirs[d].noise_sd);
        for (size_t g = 0; g < G; g++)
          fprintf(fprof, "%s,%s,%zu,%.9g,%.9g,%.9g,%.6g,%.6g\n", net->key, fname, d,
                  prof[d].l[g], prof[d].train[g], prof[d].test[g], prof[d].train_acc[g],
                  prof[d].test_acc[g]);
      }
      for (size_t d = 0; d < s.dirs; d++) valley_prof_free(&prof[d]);
      if (st != VALLEY_OK) break;
      ac_stats(dirs, s.dirs, work, &fs);
      double lo, hi;
      valley_exp_wilson(fs.k_cons, fs.n, 1.96, &lo, &hi);
      fprintf(fsum, "%s,%s,%zu,%zu,%zu,%zu,%.6g,%.6g,%.6g,%.9g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g\n",
              net->key, fname, fs.n, fs.valid, fs.k_cons, fs.k_raw,
              (double)fs.k_cons / (double)fs.n, lo, hi, fs.L, fs.q_cons[0], fs.q_cons[1],
              fs.q_cons[2], fs.q_raw[0], fs.q_raw[1], fs.q_raw[2]);
      valley_json_object(j, NULL);
      valley_json_string(j, "family", fname);
      valley_json_number(j, "half_width", fs.L);
      valley_json_number(j, "pilot_rise_minus", fs.rise_lo);
      valley_json_number(j, "pilot_rise_plus", fs.rise_hi);
      valley_json_u64(j, "n", fs.n);
      valley_json_u64(j, "valid", fs.valid);
      valley_json_u64(j, "k_asymmetric_c_gt_1", fs.k_asym);
      valley_json_u64(j, "k_cons", fs.k_cons);
      valley_json_u64(j, "k_raw", fs.k_raw);
      ac_json_fraction(j, "", fs.k_cons, fs.n);
      ac_json_fraction(j, "raw_", fs.k_raw, fs.n);
      valley_json_numbers(j, "c_cons_quartiles", fs.q_cons, 3);
      valley_json_numbers(j, "c_quartiles", fs.q_raw, 3);
      size_t n_inf = 0;
      for (size_t d = 0; d < s.dirs; d++) n_inf += dirs[d].valid && isinf(dirs[d].c_cons);
      valley_json_u64(j, "c_cons_unbounded", n_inf);
      valley_json_object_end(j);
      pool_k[fi] += fs.k_cons;
      pool_raw[fi] += fs.k_raw;
      pool_n[fi] += fs.n;
      net_k += fs.k_cons;
      net_n += fs.n;
      if (fam == VALLEY_DIR_FAMILY_UNIFORM) {
        uk[ni] = fs.k_cons;
        un[ni] = fs.n;
      }
    }
    valley_json_array_end(j);
    if (st == VALLEY_OK) {
      valley_json_u64(j, "all_families_n", net_n);
      valley_json_u64(j, "all_families_k_cons", net_k);
      ac_json_fraction(j, "all_families_", net_k, net_n);
      all_k += net_k;
      all_n += net_n;
    }
    valley_json_object_end(j);
    free(u);
    u = NULL;
    valley_exp_model_free(&m);
  }
  valley_json_array_end(j);
  if (st != VALLEY_OK) goto done;

  valley_json_array(j, "families_pooled");
  for (int fi = 0; fi < AC_N_FAM; fi++) {
    valley_json_object(j, NULL);
    valley_json_string(j, "family", valley_dir_family_name(ac_families[fi]));
    valley_json_u64(j, "n", pool_n[fi]);
    valley_json_u64(j, "k_cons", pool_k[fi]);
    valley_json_u64(j, "k_raw", pool_raw[fi]);
    ac_json_fraction(j, "", pool_k[fi], pool_n[fi]);
    ac_json_fraction(j, "raw_", pool_raw[fi], pool_n[fi]);
    valley_json_object_end(j);
  }
  valley_json_array_end(j);
  valley_json_u64(j, "all_n", all_n);
  valley_json_u64(j, "all_k_cons", all_k);
  ac_json_fraction(j, "all_", all_k, all_n);

  /* the verdict on the uniform family (Sec. 3.2) */
  uint64_t pk = 0, pn = 0;
  int every = 1, none_against = 0;
  for (int ni = 0; ni < AC_N_NETS; ni++) {
    double lo, hi;
    valley_exp_wilson(uk[ni], un[ni], 1.96, &lo, &hi);
    pk += uk[ni];
    pn += un[ni];
    if (uk[ni] == 0) {
      every = 0;
      if (hi < AC_NONE_UPPER) none_against = 1;
    }
  }
  double plo, phi;
  valley_exp_wilson(pk, pn, 1.96, &plo, &phi);
  valley_exp_verdict_t v;
  if (every && plo >= AC_DECENT)
    v = VALLEY_EXP_REPRODUCED;
  else if (none_against || phi < AC_DECENT)
    v = VALLEY_EXP_NOT_REPRODUCED;
  else
    v = VALLEY_EXP_INCONCLUSIVE;
  valley_json_object(j, "verdict_rule");
  valley_json_string(j, "family", "uniform");
  valley_json_string(j, "rule",
                     "reproduced: every network has >= 1 uniform direction with c_conservative > "
                     "2 and the pooled uniform Wilson 95% lower bound >= 0.10; not reproduced: a "
                     "network has none with Wilson upper bound < 0.30, or the pooled upper bound "
                     "< 0.10; else inconclusive");
  double ukd[AC_N_NETS], und[AC_N_NETS];
  for (int ni = 0; ni < AC_N_NETS; ni++) {
    ukd[ni] = (double)uk[ni];
    und[ni] = (double)un[ni];
  }
  valley_json_numbers(j, "k_per_network", ukd, AC_N_NETS);
  valley_json_numbers(j, "n_per_network", und, AC_N_NETS);
  valley_json_bool(j, "every_network_has_one", every);
  valley_json_u64(j, "pooled_k", pk);
  valley_json_u64(j, "pooled_n", pn);
  ac_json_fraction(j, "pooled_", pk, pn);
  valley_json_object_end(j);
  double alo, ahi;
  valley_exp_wilson(all_k, all_n, 1.96, &alo, &ahi);
  valley_exp_verdict(r, v,
                     "uniform directions with conservative c > 2: %s %llu/%llu, %s %llu/%llu, %s "
                     "%llu/%llu; pooled %.2f [%.2f, %.2f]; all families %llu/%llu = %.2f "
                     "[%.2f, %.2f]",
                     nets[0].key, (unsigned long long)uk[0], (unsigned long long)un[0],
                     nets[1].key, (unsigned long long)uk[1], (unsigned long long)un[1],
                     nets[2].key, (unsigned long long)uk[2], (unsigned long long)un[2],
                     pn ? (double)pk / (double)pn : 0.0, plo, phi, (unsigned long long)all_k,
                     (unsigned long long)all_n, all_n ? (double)all_k / (double)all_n : 0.0,
                     alo, ahi);
done:
  free(u);
  valley_exp_model_free(&m);
  free(grid);
  free(dirs);
  free(work);
  if (prof != NULL)
    for (size_t d = 0; d < s.dirs; d++) valley_prof_free(&prof[d]);
  free(prof);
  free(dp);
  valley_dataset_free(&train);
  valley_dataset_free(&test);
  return st;
}
