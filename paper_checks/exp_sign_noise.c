/* sign-noise (issue 6; docs/exp_sign-noise.md): the asymmetric-valley talk (2024): 1-D loss
 * curves theta + l eps ||theta|| / ||eps|| are asymmetric when the noise eps is sign-consistent
 * (eps <- |eps| sign(theta)) and symmetric for zero-mean noise; with positive noise
 * (eps in [0, 1)) they are asymmetric only on a network whose BN scales are all positive (BN
 * initialised to ones), and symmetric when the BN scales are initialised from a Gaussian (half of
 * them end negative) or the network has no BN.
 *
 * Networks (each trained from n_seeds seeds, SGD with momentum): "bn-ones" (BN MLP, BN scales
 * initialised to 1), "bn-gauss" (the same, BN scales drawn N(0, 1)), "plain" (the MLP without
 * BN).  Families at each solution (docs/directions.md, all with ||u|| = ||theta||): "whole"
 * (Gaussian, zero mean), "uniform" (U[0,1), positive) and "sign" (Gaussian made sign-consistent).
 *
 * Asymmetry of one direction, a statistic that does not depend on a fitted window: rises
 * r+(l) = L(l) - L(0) and r-(l) = L(-l) - L(0) of the train loss on the grid l = L k / H, L from
 * the family's pilot (valley_exp_pilot, rise SN_PILOT_RISE); l* is where the mean rise
 * (r+ + r-) / 2 first reaches SN_TARGET (linear interpolation between grid points); the rise
 * ratio rho = max(r+, r-) / min(r+, r-) at l* (+inf when the smaller rise is <= 0) and the signed
 * index A = (r+ - r-) / (r+ + r-).  A direction is asymmetric when rho >= 2; it is unresolved
 * when the mean rise never reaches the target on the grid (then it counts as not asymmetric).
 * Definition 1 (valley_prof_def1, c_conservative) is reported beside it.
 *
 * Verdict (fixed before any run).  f(net, family) = fraction of asymmetric directions over all
 * seeds, with its Wilson 95 % interval [lo, hi]:
 *  S1 sign-consistent noise is asymmetric on bn-ones and on plain: reproduced when lo >= 0.5 on
 *     both; not reproduced when hi < 0.5 on either; else inconclusive.
 *  S2 zero-mean noise is symmetric on bn-ones and on plain: reproduced when hi < 0.5 on both; not
 *     reproduced when lo >= 0.5 on either; else inconclusive.
 *  S3 positive noise: asymmetric on bn-ones, symmetric on bn-gauss: reproduced when
 *     lo(bn-ones) >= 0.5 and hi(bn-gauss) < 0.5; not reproduced when hi(bn-ones) < 0.5 or
 *     lo(bn-gauss) >= 0.5; else inconclusive.
 *  S4 positive noise is symmetric on plain: reproduced when hi < 0.5; not reproduced when
 *     lo >= 0.5; else inconclusive.
 * Overall: reproduced when all four are; not reproduced when any is; else inconclusive. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "valley/pcg.h"

#include "experiments_internal.h"

#define SN_PILOT_RISE 1.0 /* nats, the pilot's rung: both sides rise at least this much */
#define SN_TARGET 0.5     /* nats, the mean rise at which the rises are compared */
#define SN_RHO 2.0        /* rise ratio of an asymmetric direction */
#define SN_PILOT_INDEX UINT64_C(1000000)
#define SN_N_NET 3
#define SN_N_FAM 3
#define SN_N_SUB 4

enum { SN_BN_ONES = 0, SN_BN_GAUSS = 1, SN_PLAIN = 2 };
enum { SN_WHOLE = 0, SN_UNIF = 1, SN_SIGN = 2 }; /* indices into sn_fam */
static const char *const sn_net_names[SN_N_NET] = {"bn-ones", "bn-gauss", "plain"};
static const valley_dir_family_t sn_fam[SN_N_FAM] = {
    VALLEY_DIR_FAMILY_WHOLE, VALLEY_DIR_FAMILY_UNIFORM, VALLEY_DIR_FAMILY_SIGN};
static const char *const sn_sub_names[SN_N_SUB] = {
    "S1_sign_consistent_asymmetric", "S2_zero_mean_symmetric",
    "S3_positive_noise_bn_init", "S4_positive_noise_plain_symmetric"};

typedef struct {
  size_t width, n_train, n_test, epochs, batch, n_seeds, n_dirs, half_points;
  double lr;
} sn_settings_t;

static void sn_settings(int full, sn_settings_t *s) {
  memset(s, 0, sizeof *s);
  s->batch = 128;
  s->lr = 0.05;
  if (full) {
    s->width = 256;
    s->n_train = 10000;
    s->n_test = 1000;
    s->epochs = 10;
    s->n_seeds = 5;
    s->n_dirs = 12;
    s->half_points = 20;
  } else {
    s->width = 32;
    s->n_train = 1000;
    s->n_test = 200;
    s->epochs = 4;
    s->n_seeds = 1;
    s->n_dirs = 6;
    s->half_points = 10;
  }
}

/* One direction's statistics. */
typedef struct {
  int resolved, asymmetric, flat_side; /* flat_side: +1 when r+ < r-, -1 when r+ > r-, 0 tie */
  double l_star, r_plus, r_minus, rho, A;
  int def1_valid;
  double def1_c, def1_c_cons;
} sn_dir_t;

/* Per (network, family): counts over every seed and direction. */
typedef struct {
  size_t n, n_asym, n_unresolved, n_flat_plus, n_flat_minus;
  double *absA; /* n_seeds * n_dirs */
  double *rho;
  double lo, hi;
} sn_cell_t;

/* Rises on the symmetric grid at the crossing of the mean rise with SN_TARGET. */
static void sn_asymmetry(const valley_prof_t *p, size_t H, sn_dir_t *d) {
  const double *y = p->train;
  double y0 = y[H];
  double m_prev = 0.0, rp_prev = 0.0, rm_prev = 0.0;
  d->resolved = 0;
  d->l_star = d->r_plus = d->r_minus = d->rho = d->A = NAN;
  d->flat_side = 0;
  for (size_t k = 1; k <= H; k++) {
    double rp = y[H + k] - y0, rm = y[H - k] - y0, m = 0.5 * (rp + rm);
    if (m >= SN_TARGET) {
      double t = (SN_TARGET - m_prev) / (m - m_prev); /* m_prev < SN_TARGET <= m */
      d->r_plus = rp_prev + t * (rp - rp_prev);
      d->r_minus = rm_prev + t * (rm - rm_prev);
      d->l_star = p->l[H + k - 1] + t * (p->l[H + k] - p->l[H + k - 1]);
      d->resolved = 1;
      break;
    }
    m_prev = m;
    rp_prev = rp;
    rm_prev = rm;
  }
  if (!d->resolved) {
    d->asymmetric = 0;
    return;
  }
  double lo = fmin(d->r_plus, d->r_minus), hi = fmax(d->r_plus, d->r_minus);
  d->rho = lo > 0 ? hi / lo : INFINITY;
  d->A = (d->r_plus - d->r_minus) / (d->r_plus + d->r_minus);
  d->asymmetric = d->rho >= SN_RHO;
  d->flat_side = d->r_plus < d->r_minus ? 1 : d->r_plus > d->r_minus ? -1 : 0;
}

/* BN scales drawn N(0, 1) (Box-Muller cosine of two PCG32 outputs, in segment order). */
static void sn_gauss_bn_scales(valley_exp_model_t *m, uint64_t seed) {
  valley_pcg32_t rng;
  valley_pcg32_seed(&rng, seed, 0);
  const valley_mlp_t *net = m->net;
  for (size_t s = 0; s < net->n_segments; s++) {
    if (net->segments[s].kind != VALLEY_NET_BN_SCALE) continue;
    for (size_t i = 0; i < net->segments[s].length; i++) {
      double u1 = valley_pcg32_open01(&rng), u2 = valley_pcg32_open01(&rng);
      m->theta[net->segments[s].offset + i] =
          (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
    }
  }
}

static double sn_bn_positive(const valley_exp_model_t *m, size_t *n_scales) {
  size_t pos = 0, n = 0;
  const valley_mlp_t *net = m->net;
  for (size_t s = 0; s < net->n_segments; s++) {
    if (net->segments[s].kind != VALLEY_NET_BN_SCALE) continue;
    for (size_t i = 0; i < net->segments[s].length; i++, n++)
      pos += m->theta[net->segments[s].offset + i] > 0;
  }
  *n_scales = n;
  return n > 0 ? (double)pos / (double)n : NAN;
}

static valley_exp_verdict_t sn_rule_high(const sn_cell_t *c) { /* claim: asymmetric */
  return c->lo >= 0.5 ? VALLEY_EXP_REPRODUCED
                      : c->hi < 0.5 ? VALLEY_EXP_NOT_REPRODUCED : VALLEY_EXP_INCONCLUSIVE;
}
static valley_exp_verdict_t sn_rule_low(const sn_cell_t *c) { /* claim: symmetric */
  return c->hi < 0.5 ? VALLEY_EXP_REPRODUCED
                     : c->lo >= 0.5 ? VALLEY_EXP_NOT_REPRODUCED : VALLEY_EXP_INCONCLUSIVE;
}
/* Both parts must hold; either failing fails it. */
static valley_exp_verdict_t sn_both(valley_exp_verdict_t a, valley_exp_verdict_t b) {
  if (a == VALLEY_EXP_NOT_REPRODUCED || b == VALLEY_EXP_NOT_REPRODUCED)
    return VALLEY_EXP_NOT_REPRODUCED;
  if (a == VALLEY_EXP_REPRODUCED && b == VALLEY_EXP_REPRODUCED) return VALLEY_EXP_REPRODUCED;
  return VALLEY_EXP_INCONCLUSIVE;
}

valley_status_t valley_exp_run_sign_noise(valley_exp_run_t *r, valley_error_t *err) {
  const valley_exp_config_t *cfg = valley_exp_cfg(r);
  valley_json_t *j = valley_exp_json(r);
  sn_settings_t s;
  sn_settings(cfg->full, &s);
  const size_t H = s.half_points, G = 2 * H + 1, nd = s.n_dirs;
  valley_dataset_t train, test;
  valley_exp_model_t start = {0}, m = {0};
  float *u = NULL;
  double *grid = NULL;
  valley_prof_t *prof = NULL;
  const float **dp = NULL;
  sn_cell_t cell[SN_N_NET][SN_N_FAM];
  memset(cell, 0, sizeof cell);
  FILE *fdir = NULL, *fprof = NULL, *fnet = NULL, *fbn = NULL;

  valley_status_t st = valley_exp_load(r, s.n_train, s.n_test, &train, &test, err);
  if (st != VALLEY_OK) return st;

  valley_json_object(j, "settings");
  valley_json_string(j, "networks", "bn-ones: BN MLP, BN scales initialised to 1; bn-gauss: "
                                    "BN scales initialised N(0, 1); plain: MLP without BN");
  valley_json_numbers(j, "widths", (double[]){784, (double)s.width, (double)s.width, 10}, 4);
  valley_json_u64(j, "n_train", train.n);
  valley_json_u64(j, "n_test", test.n);
  valley_json_u64(j, "epochs", s.epochs);
  valley_json_u64(j, "batch", s.batch);
  valley_json_number(j, "lr", s.lr);
  valley_json_u64(j, "n_seeds", s.n_seeds);
  valley_json_u64(j, "directions_per_family_and_seed", nd);
  valley_json_u64(j, "grid_points", G);
  valley_json_number(j, "pilot_rise", SN_PILOT_RISE);
  valley_json_number(j, "target_mean_rise", SN_TARGET);
  valley_json_number(j, "asymmetric_rise_ratio", SN_RHO);
  valley_json_object_end(j);

  grid = malloc(G * sizeof *grid);
  prof = calloc(nd, sizeof *prof);
  dp = malloc(nd * sizeof *dp);
  int ok = grid != NULL && prof != NULL && dp != NULL;
  for (int a = 0; a < SN_N_NET; a++)
    for (int f = 0; f < SN_N_FAM; f++) {
      cell[a][f].absA = malloc(s.n_seeds * nd * sizeof(double));
      cell[a][f].rho = malloc(s.n_seeds * nd * sizeof(double));
      ok = ok && cell[a][f].absA != NULL && cell[a][f].rho != NULL;
    }
  if (!ok) {
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "sign-noise: work arrays");
    goto done;
  }
  if ((st = valley_exp_csv(r, "directions", &fdir, err)) != VALLEY_OK ||
      (st = valley_exp_csv(r, "profiles", &fprof, err)) != VALLEY_OK ||
      (st = valley_exp_csv(r, "networks", &fnet, err)) != VALLEY_OK ||
      (st = valley_exp_csv(r, "bn_scales", &fbn, err)) != VALLEY_OK)
    goto done;
  fprintf(fdir, "# sign-noise: asymmetry of each direction at mean rise %g nats (rho = max/min "
                "rise, A = (r+ - r-)/(r+ + r-)); Definition 1 beside it\n"
                "network,seed,family,direction,half_width,resolved,l_star,rise_plus,rise_minus,"
                "rho,A,asymmetric,flat_side,def1_valid,def1_c,def1_c_conservative\n",
          SN_TARGET);
  fprintf(fprof, "# sign-noise: train and test loss along theta + l u (||u|| = ||theta||)\n"
                 "network,seed,family,direction,l,train_loss,test_loss\n");
  fprintf(fnet, "# sign-noise: the trained networks\n"
                "network,seed,train_loss,train_acc,test_loss,test_acc,theta_norm,"
                "bn_scales,bn_positive_fraction\n");
  fprintf(fbn, "# sign-noise: the converged BN scales (the talk's histogram)\n"
               "network,seed,segment,index,scale\n");

  valley_json_array(j, "networks");
  for (size_t seed = 0; seed < s.n_seeds && st == VALLEY_OK; seed++) {
    for (int a = 0; a < SN_N_NET && st == VALLEY_OK; a++) {
      /* the same init and shuffle seeds for the three networks of one seed */
      valley_exp_train_t spec;
      const size_t widths[4] = {784, s.width, s.width, 10};
      valley_exp_spec_bn_mlp(&spec, widths, s.batch, s.lr, s.epochs,
                             valley_exp_seed(cfg->seed, 0x736e, 1, seed),
                             valley_exp_seed(cfg->seed, 0x736e, 2, seed));
      spec.arch.batch_norm = a != SN_PLAIN;
      if ((st = valley_exp_model_init(&spec.arch, s.batch, spec.init_seed, &start, err)) !=
          VALLEY_OK)
        break;
      if (a == SN_BN_GAUSS) sn_gauss_bn_scales(&start, valley_exp_seed(cfg->seed, 0x736e, 3, seed));
      spec.start = &start;
      valley_exp_progress(r, "sign-noise: training %s, seed %zu/%zu", sn_net_names[a], seed + 1,
                          s.n_seeds);
      st = valley_exp_train(r, &spec, &train, &m, NULL, err);
      valley_exp_model_free(&start);
      if (st != VALLEY_OK) break;
      const size_t np = m.net->n_params;
      double tr_loss, tr_acc, te_loss, te_acc;
      if ((st = valley_mlp_evaluate(m.net, m.theta, &train, s.batch, &tr_loss, &tr_acc, err)) !=
              VALLEY_OK ||
          (st = valley_mlp_evaluate(m.net, m.theta, &test, s.batch, &te_loss, &te_acc, err)) !=
              VALLEY_OK)
        break;
      size_t n_scales = 0;
      double pos = sn_bn_positive(&m, &n_scales);
      double tn = valley_exp_norm(m.theta, np);
      fprintf(fnet, "%s,%zu,%.9g,%.6g,%.9g,%.6g,%.9g,%zu,%.6g\n", sn_net_names[a], seed, tr_loss,
              tr_acc, te_loss, te_acc, tn, n_scales, pos);
      for (size_t g = 0; g < m.net->n_segments; g++)
        if (m.net->segments[g].kind == VALLEY_NET_BN_SCALE)
          for (size_t i = 0; i < m.net->segments[g].length; i++)
            fprintf(fbn, "%s,%zu,%s,%zu,%.9g\n", sn_net_names[a], seed, m.net->segments[g].name,
                    i, m.theta[m.net->segments[g].offset + i]);
      valley_json_object(j, NULL);
      valley_json_string(j, "network", sn_net_names[a]);
      valley_json_u64(j, "seed", seed);
      valley_json_number(j, "train_loss", tr_loss);
      valley_json_number(j, "train_acc", tr_acc);
      valley_json_number(j, "test_loss", te_loss);
      valley_json_number(j, "test_acc", te_acc);
      valley_json_number(j, "theta_norm", tn);
      valley_json_u64(j, "bn_scales", n_scales);
      valley_json_number(j, "bn_positive_fraction", pos);
      valley_json_object(j, "half_widths");

      u = malloc((nd + 1) * np * sizeof *u);
      if (u == NULL) {
        st = VALLEY_ERROR(err, VALLEY_ENOMEM, "sign-noise: %zu directions", nd + 1);
        break;
      }
      for (int f = 0; f < SN_N_FAM && st == VALLEY_OK; f++) {
        const char *fname = valley_dir_family_name(sn_fam[f]);
        valley_dir_config_t dc;
        if ((st = valley_dir_config_family(sn_fam[f], &dc, err)) != VALLEY_OK) break;
        /* one direction seed per (network seed, family): the networks of one seed share it */
        uint64_t dseed = valley_exp_seed(cfg->seed, 0x736e, 4, seed * SN_N_FAM + (uint64_t)f);
        double L = 0.0;
        if ((st = valley_exp_pilot(r, &m, &dc, dseed, SN_PILOT_INDEX, SN_PILOT_RISE, u + nd * np,
                                   &train, &test, &L, NULL, NULL, err)) != VALLEY_OK)
          break;
        valley_json_number(j, fname, L);
        for (size_t g = 0; g < G; g++) grid[g] = L * ((double)g - (double)H) / (double)H;
        grid[H] = 0.0;
        for (size_t i = 0; i < nd && st == VALLEY_OK; i++) {
          st = valley_direction(m.net, m.theta, &dc, dseed, i, u + i * np, err);
          dp[i] = u + i * np;
        }
        if (st != VALLEY_OK) break;
        valley_exp_progress(r, "sign-noise: %s seed %zu, %zu %s directions, L = %.4g",
                            sn_net_names[a], seed + 1, nd, fname, L);
        if ((st = valley_exp_probe(r, &m, nd, dp, G, grid, &train, &test, prof, err)) !=
            VALLEY_OK)
          break;
        sn_cell_t *c = &cell[a][f];
        for (size_t i = 0; i < nd && st == VALLEY_OK; i++) {
          sn_dir_t d;
          memset(&d, 0, sizeof d);
          sn_asymmetry(&prof[i], H, &d);
          valley_prof_def1_t o;
          if ((st = valley_exp_def1(&prof[i], L, L / (double)H, &o, err)) != VALLEY_OK) break;
          d.def1_valid = o.best.valid;
          d.def1_c = o.best.valid ? o.best.c : NAN;
          d.def1_c_cons = o.best.valid ? o.best.c_conservative : NAN;
          fprintf(fdir, "%s,%zu,%s,%zu,%.9g,%d,%.9g,%.9g,%.9g,%.9g,%.9g,%d,%d,%d,%.9g,%.9g\n",
                  sn_net_names[a], seed, fname, i, L, d.resolved, d.l_star, d.r_plus, d.r_minus,
                  d.rho, d.A, d.asymmetric, d.flat_side, d.def1_valid, d.def1_c, d.def1_c_cons);
          for (size_t g = 0; g < G; g++)
            fprintf(fprof, "%s,%zu,%s,%zu,%.9g,%.9g,%.9g\n", sn_net_names[a], seed, fname, i,
                    prof[i].l[g], prof[i].train[g], prof[i].test[g]);
          c->absA[c->n] = d.resolved ? fabs(d.A) : NAN;
          c->rho[c->n] = d.rho;
          c->n++;
          c->n_asym += d.asymmetric;
          c->n_unresolved += !d.resolved;
          c->n_flat_plus += d.resolved && d.flat_side == 1;
          c->n_flat_minus += d.resolved && d.flat_side == -1;
        }
        for (size_t i = 0; i < nd; i++) valley_prof_free(&prof[i]);
      }
      valley_json_object_end(j); /* half_widths */
      valley_json_object_end(j);
      free(u);
      u = NULL;
      valley_exp_model_free(&m);
    }
  }
  valley_json_array_end(j);
  if (st != VALLEY_OK) goto done;

  /* Not voted on: the talk's comparison itself, sign against zero-mean noise of the same
   * Gaussian draw, and whether the sign directions share one flat side. */
  valley_json_array(j, "paired_sign_vs_whole");
  for (int a = 0; a < SN_N_NET; a++) {
    const sn_cell_t *cw = &cell[a][SN_WHOLE], *cs = &cell[a][SN_SIGN];
    size_t n = 0, k = 0;
    for (size_t i = 0; i < cs->n; i++)
      if (!isnan(cs->absA[i]) && !isnan(cw->absA[i])) {
        n++;
        k += cs->absA[i] > cw->absA[i];
      }
    double lo, hi;
    valley_exp_wilson(k, n, 1.96, &lo, &hi);
    valley_json_object(j, NULL);
    valley_json_string(j, "network", sn_net_names[a]);
    valley_json_u64(j, "n_pairs", n);
    valley_json_u64(j, "n_sign_more_asymmetric", k);
    valley_json_number(j, "wilson_lo", lo);
    valley_json_number(j, "wilson_hi", hi);
    valley_json_object_end(j);
  }
  valley_json_array_end(j);

  valley_json_array(j, "cells");
  for (int a = 0; a < SN_N_NET; a++)
    for (int f = 0; f < SN_N_FAM; f++) {
      sn_cell_t *c = &cell[a][f];
      valley_exp_wilson(c->n_asym, c->n, 1.96, &c->lo, &c->hi);
      /* |A| over the resolved directions; rho median over all (unresolved as NaN sorted last) */
      double *x = c->absA;
      size_t k = 0;
      for (size_t i = 0; i < c->n; i++)
        if (!isnan(c->absA[i])) x[k++] = c->absA[i];
      double mean = NAN, se = NAN;
      if (k > 0) valley_exp_mean_se(x, k, &mean, &se, NULL);
      size_t kr = 0;
      for (size_t i = 0; i < c->n; i++)
        if (!isnan(c->rho[i])) c->rho[kr++] = c->rho[i];
      qsort(c->rho, kr, sizeof *c->rho, valley_exp_cmp_double);
      double med = kr == 0 ? NAN
                   : kr % 2 ? c->rho[kr / 2]
                            : 0.5 * (c->rho[kr / 2 - 1] + c->rho[kr / 2]);
      valley_json_object(j, NULL);
      valley_json_string(j, "network", sn_net_names[a]);
      valley_json_string(j, "family", valley_dir_family_name(sn_fam[f]));
      valley_json_u64(j, "n", c->n);
      valley_json_u64(j, "n_asymmetric", c->n_asym);
      valley_json_u64(j, "n_unresolved", c->n_unresolved);
      valley_json_number(j, "fraction", c->n ? (double)c->n_asym / (double)c->n : NAN);
      valley_json_number(j, "wilson_lo", c->lo);
      valley_json_number(j, "wilson_hi", c->hi);
      valley_json_number(j, "abs_A_mean", mean);
      valley_json_number(j, "abs_A_se", se);
      valley_json_number(j, "rho_median", med);
      valley_json_u64(j, "n_flat_plus", c->n_flat_plus);
      valley_json_u64(j, "n_flat_minus", c->n_flat_minus);
      valley_json_object_end(j);
    }
  valley_json_array_end(j);

  valley_exp_verdict_t sub[SN_N_SUB];
  sub[0] = sn_both(sn_rule_high(&cell[SN_BN_ONES][SN_SIGN]), sn_rule_high(&cell[SN_PLAIN][SN_SIGN]));
  sub[1] = sn_both(sn_rule_low(&cell[SN_BN_ONES][SN_WHOLE]), sn_rule_low(&cell[SN_PLAIN][SN_WHOLE]));
  sub[2] = sn_both(sn_rule_high(&cell[SN_BN_ONES][SN_UNIF]), sn_rule_low(&cell[SN_BN_GAUSS][SN_UNIF]));
  sub[3] = sn_rule_low(&cell[SN_PLAIN][SN_UNIF]);
  valley_exp_verdict_t v = VALLEY_EXP_REPRODUCED;
  for (int k = 0; k < SN_N_SUB; k++) v = sn_both(v, sub[k]);
  valley_json_object(j, "sub_verdicts");
  for (int k = 0; k < SN_N_SUB; k++)
    valley_json_string(j, sn_sub_names[k], valley_exp_verdict_name(sub[k]));
  valley_json_object_end(j);
  valley_json_string(
      j, "verdict_rule",
      "a direction is asymmetric when the rise ratio at mean rise 0.5 nats is >= 2; f = fraction "
      "over seeds and directions with its Wilson 95% [lo, hi]; a claim 'asymmetric' is reproduced "
      "when lo >= 0.5, not reproduced when hi < 0.5; a claim 'symmetric' is reproduced when "
      "hi < 0.5, not reproduced when lo >= 0.5; S1 sign asymmetric on bn-ones and plain; S2 "
      "whole symmetric on bn-ones and plain; S3 uniform asymmetric on bn-ones and symmetric on "
      "bn-gauss; S4 uniform symmetric on plain; a sub-claim of two parts fails when either "
      "fails; overall reproduced when all four are, not reproduced when any is, else "
      "inconclusive");
  const sn_cell_t *c1 = &cell[SN_BN_ONES][SN_SIGN], *c2 = &cell[SN_PLAIN][SN_SIGN],
                  *c3 = &cell[SN_BN_ONES][SN_WHOLE], *c4 = &cell[SN_PLAIN][SN_WHOLE],
                  *c5 = &cell[SN_BN_ONES][SN_UNIF], *c6 = &cell[SN_BN_GAUSS][SN_UNIF],
                  *c7 = &cell[SN_PLAIN][SN_UNIF];
  valley_exp_verdict(
      r, v,
      "asymmetric (rise ratio >= 2): sign bn-ones %zu/%zu, plain %zu/%zu [S1 %s]; whole bn-ones "
      "%zu/%zu, plain %zu/%zu [S2 %s]; uniform bn-ones %zu/%zu, bn-gauss %zu/%zu [S3 %s]; "
      "uniform plain %zu/%zu [S4 %s]",
      c1->n_asym, c1->n, c2->n_asym, c2->n, valley_exp_verdict_name(sub[0]), c3->n_asym, c3->n,
      c4->n_asym, c4->n, valley_exp_verdict_name(sub[1]), c5->n_asym, c5->n, c6->n_asym, c6->n,
      valley_exp_verdict_name(sub[2]), c7->n_asym, c7->n, valley_exp_verdict_name(sub[3]));
done:
  free(u);
  valley_exp_model_free(&m);
  valley_exp_model_free(&start);
  free(grid);
  if (prof != NULL)
    for (size_t i = 0; i < nd; i++) valley_prof_free(&prof[i]);
  free(prof);
  free(dp);
  for (int a = 0; a < SN_N_NET; a++)
    for (int f = 0; f < SN_N_FAM; f++) {
      free(cell[a][f].absA);
      free(cell[a][f].rho);
    }
  valley_dataset_free(&train);
  valley_dataset_free(&test);
  return st;
}
