/* Directions and the probe kernel (sim/direction.c): each family's defining property (filter and
 * whole-vector norms, uniform range, sign consistency, zero outside the restricted segments,
 * determinism per seed and index), the probe at l = 0 and at l against valley_mlp_evaluate at the
 * explicitly formed theta + l u, the first-layer decomposition against the direct product, thread
 * count invariance, the CNN (filter normalization per conv filter, its probe against
 * valley_mlp_evaluate, thread count), error paths, and a Fashion-MNIST subset (skipped when
 * absent).
 * usage: test_direction */
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
#include "valley/direction.h"
#include "valley/net.h"
#include "valley/pcg.h"

#include "net_fixture.h"


static void make_data(valley_dataset_t *ds, size_t n, size_t dim, unsigned classes,
                      uint64_t seed) {
  alloc_dataset(ds, n, dim, classes);
  valley_pcg32_t rng;
  valley_pcg32_seed(&rng, seed, 7);
  for (size_t k = 0; k < n * dim; k++) ds->x[k] = (float)valley_pcg32_double(&rng);
  for (size_t i = 0; i < n; i++) {
    ds->y[i] = (uint8_t)valley_pcg32_bounded(&rng, classes);
  }
}

static double nrm(const float *x, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
  return sqrt(s);
}

static float *dir_of(const valley_mlp_t *net, const float *theta, valley_dir_config_t cfg,
                     uint64_t seed, uint64_t index) {
  float *u = xmalloc(net->n_params * sizeof *u);
  valley_error_t err;
  if (valley_direction(net, theta, &cfg, seed, index, u, &err) != VALLEY_OK) {
    fprintf(stderr, "test_direction: %s\n", err.message);
    exit(2);
  }
  return u;
}

static valley_dir_config_t fam(valley_dir_family_t f) {
  valley_dir_config_t c;
  valley_dir_config_family(f, &c, NULL);
  return c;
}

static int is_bn_seg(const valley_net_segment_t *s) {
  return s->kind == VALLEY_NET_BN_SCALE || s->kind == VALLEY_NET_BN_SHIFT;
}

/* ---- families ------------------------------------------------------------------------------- */

static void test_families(check_t *t) {
  const size_t widths[] = {40, 30, 20, 10};
  valley_mlp_t *net = make_net(3, widths, 1, 8);
  size_t n = net->n_params;
  float *theta = make_theta(net, 3);
  const double rel = 1e-5; /* float storage of a double-scaled vector: ~sqrt(n) 2^-24 */

  /* names */
  int names_ok = 1;
  for (int f = 0; f <= VALLEY_DIR_FAMILY_NON_BN; f++) {
    valley_dir_family_t g;
    if (valley_dir_family_parse(valley_dir_family_name((valley_dir_family_t)f), &g) != VALLEY_OK ||
        (int)g != f)
      names_ok = 0;
  }
  valley_dir_family_t g;
  check(t, names_ok && valley_dir_family_parse("nope", &g) == VALLEY_EINVAL,
        "family names round-trip (%s ... %s), unknown rejected",
        valley_dir_family_name(VALLEY_DIR_FAMILY_GAUSSIAN),
        valley_dir_family_name(VALLEY_DIR_FAMILY_NON_BN));

  /* raw Gaussian: determinism, index and seed change it, moments within 5 sigma */
  float *g1 = dir_of(net, theta, fam(VALLEY_DIR_FAMILY_GAUSSIAN), 11, 0);
  float *g2 = dir_of(net, theta, fam(VALLEY_DIR_FAMILY_GAUSSIAN), 11, 0);
  float *g3 = dir_of(net, theta, fam(VALLEY_DIR_FAMILY_GAUSSIAN), 11, 1);
  float *g4 = dir_of(net, theta, fam(VALLEY_DIR_FAMILY_GAUSSIAN), 12, 0);
  size_t same3 = 0, same4 = 0;
  for (size_t k = 0; k < n; k++) {
    same3 += g1[k] == g3[k];
    same4 += g1[k] == g4[k];
  }
  check(t, memcmp(g1, g2, n * sizeof *g1) == 0 && same3 == 0 && same4 == 0,
        "same (seed, index) gives the same bytes; index 1 and seed 12 share %zu, %zu of %zu "
        "entries", same3, same4, n);
  double m = 0.0, v = 0.0;
  for (size_t k = 0; k < n; k++) m += g1[k];
  m /= (double)n;
  for (size_t k = 0; k < n; k++) v += (g1[k] - m) * (g1[k] - m);
  v /= (double)(n - 1);
  check(t, fabs(m) < 5.0 / sqrt((double)n) && fabs(v - 1.0) < 5.0 * sqrt(2.0 / (double)n),
        "Gaussian draw: mean %.4f (5 sigma %.4f), variance %.4f (5 sigma %.4f), n = %zu", m,
        5.0 / sqrt((double)n), v, 5.0 * sqrt(2.0 / (double)n), n);

  /* filter: every weight row and every 1-D segment has theta's norm; direction within a row
   * unchanged (u = c g1 per row, c > 0) */
  float *fu = dir_of(net, theta, fam(VALLEY_DIR_FAMILY_FILTER), 11, 0);
  double worst = 0.0, worst_dir = 0.0;
  size_t parts = 0;
  for (size_t s = 0; s < net->n_segments; s++) {
    const valley_net_segment_t *seg = &net->segments[s];
    size_t rows = seg->ndims >= 2 ? seg->shape[0] : 1, cols = seg->length / rows;
    for (size_t r = 0; r < rows; r++, parts++) {
      size_t o = seg->offset + r * cols;
      double want = nrm(theta + o, cols), got = nrm(fu + o, cols);
      worst = fmax(worst, fabs(got - want) / want);
      double c = got / nrm(g1 + o, cols);
      for (size_t k = 0; k < cols; k++)
        worst_dir = fmax(worst_dir, fabs(fu[o + k] - c * g1[o + k]) / (c * nrm(g1 + o, cols)));
    }
  }
  check(t, worst < rel && worst_dir < rel,
        "filter: %zu filters/segments have ||u_f|| = ||theta_f|| (worst rel %.2e) and u_f "
        "parallel to the draw (worst %.2e)", parts, worst, worst_dir);

  /* whole: ||u|| = ||theta||, u = c g1 */
  float *wu = dir_of(net, theta, fam(VALLEY_DIR_FAMILY_WHOLE), 11, 0);
  double c = nrm(wu, n) / nrm(g1, n), par = 0.0;
  for (size_t k = 0; k < n; k++) par = fmax(par, fabs(wu[k] - c * g1[k]) / nrm(wu, n));
  check(t, fabs(nrm(wu, n) / nrm(theta, n) - 1.0) < rel && par < rel,
        "whole: ||u|| / ||theta|| - 1 = %.2e, parallel to the draw (%.2e)",
        nrm(wu, n) / nrm(theta, n) - 1.0, par);
  valley_dir_config_t unit = fam(VALLEY_DIR_FAMILY_WHOLE);
  unit.norm = VALLEY_DIR_NORM_UNIT;
  float *uu = dir_of(net, theta, unit, 11, 0);
  check(t, fabs(nrm(uu, n) - 1.0) < rel, "unit: ||u|| - 1 = %.2e", nrm(uu, n) - 1.0);

  /* uniform: raw draw in [0, 1), mean 1/2 and variance 1/12 within 5 sigma; normalized family
   * nonnegative, parallel to the raw draw, ||u|| = ||theta|| */
  valley_dir_config_t ur = fam(VALLEY_DIR_FAMILY_UNIFORM);
  ur.norm = VALLEY_DIR_NORM_NONE;
  float *r = dir_of(net, theta, ur, 5, 2);
  float lo = 1.0f, hi = 0.0f;
  m = 0.0;
  for (size_t k = 0; k < n; k++) {
    lo = fminf(lo, r[k]);
    hi = fmaxf(hi, r[k]);
    m += r[k];
  }
  m /= (double)n;
  check(t, lo >= 0.0f && hi < 1.0f && fabs(m - 0.5) < 5.0 * sqrt(1.0 / 12.0 / (double)n),
        "uniform draw in [%.6f, %.6f] within [0, 1), mean %.4f (5 sigma %.4f)", lo, hi, m,
        5.0 * sqrt(1.0 / 12.0 / (double)n));
  float *un = dir_of(net, theta, fam(VALLEY_DIR_FAMILY_UNIFORM), 5, 2);
  c = nrm(un, n) / nrm(r, n);
  par = 0.0;
  int nonneg = 1;
  for (size_t k = 0; k < n; k++) {
    par = fmax(par, fabs(un[k] - c * r[k]) / nrm(un, n));
    if (un[k] < 0.0f) nonneg = 0;
  }
  check(t, nonneg && par < rel && fabs(nrm(un, n) / nrm(theta, n) - 1.0) < rel,
        "uniform family: nonnegative, parallel to the draw (%.2e), ||u|| = ||theta|| (%.2e)",
        par, nrm(un, n) / nrm(theta, n) - 1.0);

  /* sign-consistent: u theta >= 0, u = 0 where theta = 0, |u| = c |g1| elsewhere */
  float *su = dir_of(net, theta, fam(VALLEY_DIR_FAMILY_SIGN), 11, 0);
  size_t bad = 0, zeros = 0;
  double sc = 0.0;
  for (size_t k = 0; k < n; k++) sc += theta[k] != 0.0f ? (double)g1[k] * g1[k] : 0.0;
  c = nrm(su, n) / sqrt(sc);
  for (size_t k = 0; k < n; k++) {
    if (theta[k] == 0.0f) {
      zeros++;
      if (su[k] != 0.0f) bad++;
    } else if ((theta[k] > 0.0f) != (su[k] > 0.0f) && g1[k] != 0.0f) {
      bad++;
    } else if (fabs(fabs(su[k]) - c * fabs(g1[k])) > rel * nrm(su, n)) {
      bad++;
    }
  }
  check(t, bad == 0 && zeros > 0 && fabs(nrm(su, n) / nrm(theta, n) - 1.0) < rel,
        "sign-consistent: sign(u) = sign(theta) everywhere (%zu violations, %zu zeros of theta "
        "stay 0), |u| = c |draw|, ||u|| = ||theta||", bad, zeros);

  /* BN-only / non-BN: zero outside, nonzero inside, norms of theta's part, sum = draw */
  float *bu = dir_of(net, theta, fam(VALLEY_DIR_FAMILY_BN), 11, 0);
  float *nu = dir_of(net, theta, fam(VALLEY_DIR_FAMILY_NON_BN), 11, 0);
  size_t out_b = 0, out_n = 0, zin_b = 0, zin_n = 0;
  double tb = 0.0, tn = 0.0;
  for (size_t s = 0; s < net->n_segments; s++) {
    const valley_net_segment_t *seg = &net->segments[s];
    double th = nrm(theta + seg->offset, seg->length);
    for (size_t k = seg->offset; k < seg->offset + seg->length; k++) {
      if (is_bn_seg(seg)) {
        out_n += nu[k] != 0.0f;
        zin_b += bu[k] == 0.0f;
      } else {
        out_b += bu[k] != 0.0f;
        zin_n += nu[k] == 0.0f;
      }
    }
    if (is_bn_seg(seg))
      tb += th * th;
    else
      tn += th * th;
  }
  check(t, out_b == 0 && out_n == 0 && zin_b == 0 && zin_n == 0,
        "BN-only is zero off the BN segments, non-BN zero on them (%zu, %zu nonzeros outside; "
        "%zu, %zu zeros inside)", out_b, out_n, zin_b, zin_n);
  check(t, fabs(nrm(bu, n) / sqrt(tb) - 1.0) < rel && fabs(nrm(nu, n) / sqrt(tn) - 1.0) < rel,
        "BN-only ||u|| = ||theta_BN|| (%.2e), non-BN ||u|| = ||theta_rest|| (%.2e)",
        nrm(bu, n) / sqrt(tb) - 1.0, nrm(nu, n) / sqrt(tn) - 1.0);
  valley_dir_config_t braw = fam(VALLEY_DIR_FAMILY_BN), nraw = fam(VALLEY_DIR_FAMILY_NON_BN);
  braw.norm = nraw.norm = VALLEY_DIR_NORM_NONE;
  float *br = dir_of(net, theta, braw, 11, 0), *nr = dir_of(net, theta, nraw, 11, 0);
  int sum_ok = 1;
  for (size_t k = 0; k < n; k++)
    if (br[k] + nr[k] != g1[k]) sum_ok = 0;
  check(t, sum_ok, "raw BN-only + raw non-BN draws = the raw Gaussian draw, bit for bit");

  /* line */
  float *th2 = make_theta(net, 4), *lu = xmalloc(n * sizeof *lu);
  valley_direction_line(n, theta, th2, lu);
  int line_ok = 1;
  for (size_t k = 0; k < n; k++)
    if (lu[k] != th2[k] - theta[k] || fabsf(theta[k] + lu[k] - th2[k]) > 1e-6f * 2.0f)
      line_ok = 0;
  check(t, line_ok, "line: u = theta_b - theta_a, theta_a + 1 u = theta_b to rounding");

  valley_dir_config_t bad_cfg = fam(VALLEY_DIR_FAMILY_WHOLE);
  bad_cfg.norm = (valley_dir_norm_t)9;
  valley_error_t err;
  check(t, valley_direction(net, theta, &bad_cfg, 1, 0, lu, &err) == VALLEY_EINVAL &&
               valley_dir_config_family((valley_dir_family_t)42, &bad_cfg, &err) ==
                   VALLEY_EINVAL,
        "bad configuration and unknown family: EINVAL (%s)", err.message);

  float *all[] = {theta, g1, g2, g3, g4, fu, wu, uu, r, un, su, bu, nu, br, nr, th2, lu};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) free(all[i]);
  valley_mlp_free(net);
}

/* ---- probe ---------------------------------------------------------------------------------- */

/* The explicit evaluation: theta + (float)l u formed in float, then valley_mlp_evaluate. */
static void explicit_eval(valley_mlp_t *net, const float *theta, const float *u, double l,
                          const valley_dataset_t *ds, size_t batch, double *loss, double *acc) {
  float *p = xmalloc(net->n_params * sizeof *p);
  float lf = (float)l;
  for (size_t k = 0; k < net->n_params; k++) p[k] = theta[k] + lf * u[k];
  valley_error_t err;
  if (valley_mlp_evaluate(net, p, ds, batch, loss, acc, &err) != VALLEY_OK) {
    fprintf(stderr, "test_direction: %s\n", err.message);
    exit(2);
  }
  free(p);
}

/* Bound on |loss_split - loss_direct| (docs/directions.md): the first-layer pre-activations of
 * the two formulations differ by at most e = 2 (K + 3) 2^-24 max_ij sum_k |x_ik| (|w_jk| +
 * |l u_jk|) (K = d0: each is a K-term float dot product plus one or two roundings); later layers
 * multiply a perturbation's max-norm by at most their Lipschitz factor
 * max_j |gamma_j / sqrt(var_j + eps)| (BN) times max_j sum_k |W_jk| (ReLU: 1); the mean
 * cross-entropy moves by at most 2 max|d logit|.  Later float roundings act on inputs that differ
 * by this much: 1e-6 relative slack for them. */
static double split_bound(const valley_mlp_t *net, const float *theta, const float *u, double l,
                          const valley_dataset_t *ds) {
  size_t d0 = net->cfg.widths[0], d1 = net->cfg.widths[1], L = net->cfg.n_layers;
  float lf = (float)l;
  double e = 0.0;
  const float *W = theta + net->w_off[0], *U = u + net->w_off[0];
  for (size_t i = 0; i < ds->n; i++)
    for (size_t j = 0; j < d1; j++) {
      double s = 0.0;
      for (size_t k = 0; k < d0; k++)
        s += fabs(ds->x[i * d0 + k]) * (fabs(W[j * d0 + k]) + fabs(lf * U[j * d0 + k]));
      e = fmax(e, s);
    }
  e *= 2.0 * (double)(d0 + 3) * ldexp(1.0, -24);
  for (size_t ly = 0; ly < L; ly++) {
    size_t dout = net->cfg.widths[ly + 1], din = net->cfg.widths[ly];
    if (ly > 0) {
      double rs = 0.0;
      for (size_t j = 0; j < dout; j++) {
        double s = 0.0;
        for (size_t k = 0; k < din; k++)
          s += fabs(theta[net->w_off[ly] + j * din + k] + lf * u[net->w_off[ly] + j * din + k]);
        rs = fmax(rs, s);
      }
      e *= rs;
    }
    if (net->cfg.batch_norm && ly + 1 < L) {
      double gmax = 0.0;
      for (size_t j = 0; j < dout; j++) {
        double gm = theta[net->g_off[ly] + j] + lf * u[net->g_off[ly] + j];
        double v = net->running_var[net->bn_off[ly] + j];
        gmax = fmax(gmax, fabs(gm) / sqrt(v + net->cfg.bn_eps));
      }
      e *= gmax;
    }
  }
  return 2.0 * e;
}

static int prof_equal(const valley_prof_t *a, const valley_prof_t *b) {
  size_t s = a->n * sizeof(double);
  return a->n == b->n && !memcmp(a->l, b->l, s) && !memcmp(a->train, b->train, s) &&
         !memcmp(a->test, b->test, s) && !memcmp(a->train_acc, b->train_acc, s) &&
         !memcmp(a->test_acc, b->test_acc, s);
}

static void test_probe(check_t *t, int bn) {
  const size_t widths[] = {12, 9, 7, 5};
  valley_mlp_t *net = make_net(3, widths, bn, 64);
  float *theta = make_theta(net, 21);
  valley_dataset_t tr, te;
  make_data(&tr, 150, 12, 5, 1); /* 150 = two full batches of 64 and one of 22 */
  make_data(&te, 77, 12, 5, 2);
  enum { D = 10, G = 7 }; /* 10 directions: two chunks of the stacked GEMM */
  float *dirs[D];
  for (size_t d = 0; d < D; d++)
    dirs[d] = dir_of(net, theta, fam((valley_dir_family_t)(d % 7)), 31, d);
  const double grid[G] = {-1.0, -0.5, -0.125, 0.0, 0.25, 0.75, 1.5};
  valley_probe_config_t pc;
  valley_probe_config_default(&pc);
  pc.batch = 64;
  valley_prof_t split[D], direct[D];
  valley_error_t err;
  valley_status_t st1 = valley_probe(net, theta, D, (const float *const *)dirs, G, grid, &tr,
                                     &te, &pc, split, &err);
  pc.split_first = 0;
  valley_status_t st2 = valley_probe(net, theta, D, (const float *const *)dirs, G, grid, &tr,
                                     &te, &pc, direct, &err);
  check(t, st1 == VALLEY_OK && st2 == VALLEY_OK, "[%s] probe runs (%s)", bn ? "BN" : "no BN",
        st1 == VALLEY_OK && st2 == VALLEY_OK ? "ok" : err.message);
  if (st1 != VALLEY_OK || st2 != VALLEY_OK) exit(2);

  /* direct: bit-for-bit valley_mlp_evaluate at the formed theta + l u (same batches, same GEMM
   * shapes, same float operations); split: within the derived bound; l = 0 exact for both */
  size_t exact = 0, pts = 0, zero_exact = 0, within = 0, acc_same = 0;
  double worst_ratio = 0.0, worst_diff = 0.0;
  for (size_t d = 0; d < D; d++)
    for (size_t g = 0; g < G; g++, pts++) {
      double ltr, atr, lte, ate;
      explicit_eval(net, theta, dirs[d], grid[g], &tr, 64, &ltr, &atr);
      explicit_eval(net, theta, dirs[d], grid[g], &te, 64, &lte, &ate);
      if (direct[d].train[g] == ltr && direct[d].test[g] == lte &&
          direct[d].train_acc[g] == atr && direct[d].test_acc[g] == ate)
        exact++;
      if (grid[g] == 0.0 && split[d].train[g] == ltr && split[d].test[g] == lte &&
          split[d].train_acc[g] == atr && split[d].test_acc[g] == ate)
        zero_exact++;
      double btr = split_bound(net, theta, dirs[d], grid[g], &tr) + 1e-6 * ltr;
      double bte = split_bound(net, theta, dirs[d], grid[g], &te) + 1e-6 * lte;
      double dtr = fabs(split[d].train[g] - ltr), dte = fabs(split[d].test[g] - lte);
      if (dtr <= btr && dte <= bte) within++;
      worst_ratio = fmax(worst_ratio, fmax(dtr / btr, dte / bte));
      worst_diff = fmax(worst_diff, fmax(dtr / ltr, dte / lte));
      if (split[d].train_acc[g] == atr && split[d].test_acc[g] == ate) acc_same++;
    }
  check(t, exact == pts, "[%s] direct probe = valley_mlp_evaluate at theta + l u bit for bit "
        "at %zu of %zu points", bn ? "BN" : "no BN", exact, pts);
  check(t, zero_exact == D, "[%s] split probe at l = 0 = valley_mlp_evaluate(theta) bit for bit "
        "for %zu of %d directions", bn ? "BN" : "no BN", zero_exact, D);
  check(t, within == pts, "[%s] split vs direct first layer: %zu of %zu points within the "
        "derived bound (worst |diff| / bound %.3f, worst relative diff %.2e); accuracies equal "
        "at %zu", bn ? "BN" : "no BN", within, pts, worst_ratio, worst_diff, acc_same);

  /* repeatability, then thread-count invariance */
  {
    valley_prof_t again[D];
    pc.split_first = 1;
    valley_probe(net, theta, D, (const float *const *)dirs, G, grid, &tr, &te, &pc, again, &err);
    size_t same = 0;
    for (size_t d = 0; d < D; d++) {
      same += prof_equal(&again[d], &split[d]);
      valley_prof_free(&again[d]);
    }
    check(t, same == D, "[%s] a second run gives byte-identical profiles for %zu of %d "
          "directions", bn ? "BN" : "no BN", same, D);
  }
  /* ranges starting at multiples of VALLEY_PROBE_CHUNK (MPI ranks): directions 0-7 and 8-9 */
  {
    valley_prof_t part[D];
    pc.split_first = 1;
    valley_status_t sa = valley_probe(net, theta, VALLEY_PROBE_CHUNK, (const float *const *)dirs,
                                      G, grid, &tr, &te, &pc, part, &err);
    valley_status_t sb = valley_probe(net, theta, D - VALLEY_PROBE_CHUNK,
                                      (const float *const *)dirs + VALLEY_PROBE_CHUNK, G, grid,
                                      &tr, &te, &pc, part + VALLEY_PROBE_CHUNK, &err);
    size_t same = 0;
    for (size_t d = 0; sa == VALLEY_OK && sb == VALLEY_OK && d < D; d++) {
      same += prof_equal(&part[d], &split[d]);
      valley_prof_free(&part[d]);
    }
    check(t, same == D, "[%s] directions 0-%d and %d-%d probed apart: byte-identical profiles "
          "for %zu of %d directions", bn ? "BN" : "no BN", VALLEY_PROBE_CHUNK - 1,
          VALLEY_PROBE_CHUNK, D - 1, same, D);
  }
#ifdef _OPENMP
  int saved = omp_get_max_threads();
  valley_prof_t p1[D], p2[D];
  pc.split_first = 1;
  omp_set_num_threads(1);
  valley_probe(net, theta, D, (const float *const *)dirs, G, grid, &tr, &te, &pc, p1, &err);
  omp_set_num_threads(2);
  valley_probe(net, theta, D, (const float *const *)dirs, G, grid, &tr, &te, &pc, p2, &err);
  omp_set_num_threads(3);
  valley_prof_t p3[D];
  valley_probe(net, theta, D, (const float *const *)dirs, G, grid, &tr, &te, &pc, p3, &err);
  omp_set_num_threads(saved);
  size_t eq = 0;
  for (size_t d = 0; d < D; d++) eq += prof_equal(&p1[d], &p2[d]) && prof_equal(&p1[d], &p3[d]) &&
                                       prof_equal(&p1[d], &split[d]);
  check(t, eq == D, "[%s] 1, 2, 3 OpenMP threads: byte-identical profiles for %zu of %d "
        "directions", bn ? "BN" : "no BN", eq, D);
  for (size_t d = 0; d < D; d++) {
    valley_prof_free(&p1[d]);
    valley_prof_free(&p2[d]);
    valley_prof_free(&p3[d]);
  }
#else
  printf("skip: [%s] thread-count invariance (built without OpenMP)\n", bn ? "BN" : "no BN");
#endif

  for (size_t d = 0; d < D; d++) {
    valley_prof_free(&split[d]);
    valley_prof_free(&direct[d]);
  }
  for (size_t d = 0; d < D; d++) free(dirs[d]);
  free(theta);
  valley_dataset_free(&tr);
  valley_dataset_free(&te);
  valley_mlp_free(net);
}

/* ---- the CNN ---------------------------------------------------------------------------------- */

/* Filter normalization on the CNN: every conv filter (one output channel's {in, 3, 3} block,
 * length / shape[0] values) and every fc3 row gets theta's norm (Li et al.); the probe (no
 * first-layer split for the CNN, whatever split_first says) equals valley_mlp_evaluate at the
 * explicitly formed theta + l u bit for bit, and does not depend on the thread count. */
static void test_probe_cnn(check_t *t, int bn) {
  valley_mlp_t *net = make_cnn(1, 8, 8, 3, 4, 5, bn, 32);
  float *theta = make_theta(net, 23);
  const char *tag = bn ? "CNN BN" : "CNN no BN";
  float *fu = dir_of(net, theta, fam(VALLEY_DIR_FAMILY_FILTER), 13, 0);
  double worst = 0.0;
  size_t filters = 0;
  for (size_t s = 0; s < net->n_segments; s++) {
    const valley_net_segment_t *seg = &net->segments[s];
    if (seg->kind != VALLEY_NET_WEIGHT) continue;
    size_t rows = seg->shape[0], cols = seg->length / rows;
    for (size_t r = 0; r < rows; r++, filters++) {
      size_t o = seg->offset + r * cols;
      worst = fmax(worst, fabs(nrm(fu + o, cols) / nrm(theta + o, cols) - 1.0));
    }
  }
  /* norms of <= 36 floats in double, then a float rescale: a few u */
  check(t, filters == 3 + 4 + 5 && worst < 1e-6,
        "[%s] filter directions: %zu conv filters and fc rows have theta's norm (worst rel "
        "%.2e)", tag, filters, worst);
  free(fu);

  valley_dataset_t tr, te;
  make_data(&tr, 70, 64, 5, 3); /* batches of 32, 32, 6 */
  make_data(&te, 33, 64, 5, 4);
  enum { D = 7, G = 5 };
  float *dirs[D];
  for (size_t d = 0; d < D; d++)
    dirs[d] = dir_of(net, theta, fam((valley_dir_family_t)d), 31, d);
  const double grid[G] = {-1.0, -0.25, 0.0, 0.5, 1.25};
  valley_probe_config_t pc;
  valley_probe_config_default(&pc);
  pc.batch = 32;
  valley_prof_t a[D], b[D];
  valley_error_t err;
  pc.split_first = 0;
  valley_status_t st1 = valley_probe(net, theta, D, (const float *const *)dirs, G, grid, &tr,
                                     &te, &pc, a, &err);
  pc.split_first = 1;
  valley_status_t st2 = valley_probe(net, theta, D, (const float *const *)dirs, G, grid, &tr,
                                     &te, &pc, b, &err);
  check(t, st1 == VALLEY_OK && st2 == VALLEY_OK, "[%s] probe runs (%s)", tag,
        st1 == VALLEY_OK && st2 == VALLEY_OK ? "ok" : err.message);
  if (st1 != VALLEY_OK || st2 != VALLEY_OK) exit(2);
  size_t exact = 0, pts = 0, same = 0;
  for (size_t d = 0; d < D; d++) {
    same += prof_equal(&a[d], &b[d]);
    for (size_t g = 0; g < G; g++, pts++) {
      double ltr, atr, lte, ate;
      explicit_eval(net, theta, dirs[d], grid[g], &tr, 32, &ltr, &atr);
      explicit_eval(net, theta, dirs[d], grid[g], &te, 32, &lte, &ate);
      if (a[d].train[g] == ltr && a[d].test[g] == lte && a[d].train_acc[g] == atr &&
          a[d].test_acc[g] == ate)
        exact++;
    }
  }
  check(t, exact == pts && same == D,
        "[%s] probe = valley_mlp_evaluate at theta + l u bit for bit at %zu of %zu points; "
        "split_first 1 gives the same profiles for %zu of %d", tag, exact, pts, same, D);
#ifdef _OPENMP
  int saved = omp_get_max_threads();
  valley_prof_t p1[D], p2[D];
  omp_set_num_threads(1);
  valley_probe(net, theta, D, (const float *const *)dirs, G, grid, &tr, &te, &pc, p1, &err);
  omp_set_num_threads(2);
  valley_probe(net, theta, D, (const float *const *)dirs, G, grid, &tr, &te, &pc, p2, &err);
  omp_set_num_threads(saved);
  size_t eq = 0;
  for (size_t d = 0; d < D; d++) {
    eq += prof_equal(&p1[d], &p2[d]) && prof_equal(&p1[d], &a[d]);
    valley_prof_free(&p1[d]);
    valley_prof_free(&p2[d]);
  }
  check(t, eq == D, "[%s] 1 and 2 OpenMP threads: byte-identical profiles for %zu of %d", tag,
        eq, D);
#endif
  for (size_t d = 0; d < D; d++) {
    valley_prof_free(&a[d]);
    valley_prof_free(&b[d]);
    free(dirs[d]);
  }
  free(theta);
  valley_dataset_free(&tr);
  valley_dataset_free(&te);
  valley_mlp_free(net);
}

static void test_probe_errors(check_t *t) {
  const size_t widths[] = {4, 3, 2};
  valley_mlp_t *net = make_net(2, widths, 0, 8);
  float *theta = make_theta(net, 1);
  float *u = dir_of(net, theta, fam(VALLEY_DIR_FAMILY_WHOLE), 1, 0);
  const float *dirs[] = {u};
  valley_dataset_t ds, bad;
  make_data(&ds, 10, 4, 2, 3);
  make_data(&bad, 10, 5, 2, 3);
  valley_probe_config_t pc;
  valley_probe_config_default(&pc);
  valley_prof_t out[1];
  valley_error_t err;
  const double g_bad[] = {0.0, 0.0}, g_nan[] = {0.0, NAN}, g_ok[] = {-1.0, 1.0};
  int ok = valley_probe(net, theta, 1, dirs, 2, g_bad, &ds, &ds, &pc, out, &err) == VALLEY_EINVAL;
  ok &= valley_probe(net, theta, 1, dirs, 2, g_nan, &ds, &ds, &pc, out, &err) == VALLEY_EINVAL;
  ok &= valley_probe(net, theta, 0, dirs, 2, g_ok, &ds, &ds, &pc, out, &err) == VALLEY_EINVAL;
  ok &= valley_probe(net, theta, 1, dirs, 2, g_ok, &ds, &bad, &pc, out, &err) == VALLEY_EINVAL;
  ok &= out[0].l == NULL;
  ds.y[3] = 7;
  ok &= valley_probe(net, theta, 1, dirs, 2, g_ok, &ds, &ds, &pc, out, &err) == VALLEY_EINVAL;
  ds.y[3] = 1;
  pc.batch = 0;
  ok &= valley_probe(net, theta, 1, dirs, 2, g_ok, &ds, &ds, &pc, out, &err) == VALLEY_EINVAL;
  check(t, ok, "probe errors: repeated / NaN grid, no directions, wrong dimension, label out of "
        "range, batch 0: EINVAL, profiles left empty (%s)", err.message);
  free(theta);
  free(u);
  valley_dataset_free(&ds);
  valley_dataset_free(&bad);
  valley_mlp_free(net);
}

/* A short training on a Fashion-MNIST subset, then a filter-normalized probe: l = 0 matches the
 * evaluation, and the loss rises away from the trained point. */
static void test_fashion(check_t *t) {
  if (access(VALLEY_FASHION_MNIST_DIR "/train-images-idx3-ubyte.gz", R_OK) != 0) {
    printf("skip: Fashion-MNIST probe (%s absent)\n", VALLEY_FASHION_MNIST_DIR);
    return;
  }
  valley_error_t err;
  valley_dataset_t full, tr, te;
  if (valley_dataset_load_fashion_mnist(NULL, "train", &full, &err) != VALLEY_OK) {
    printf("skip: Fashion-MNIST probe (%s)\n", err.message);
    return;
  }
  valley_dataset_subset(&full, 2000, 1, &tr, &err);
  valley_dataset_subset(&full, 1000, 2, &te, &err);
  valley_dataset_free(&full);
  const size_t widths[] = {784, 64, 10};
  valley_mlp_t *net = make_net(2, widths, 1, 128);
  float *p = xmalloc(net->n_params * sizeof *p), *v = xmalloc(net->n_params * sizeof *v);
  valley_mlp_init(net, p, 42);
  valley_sgd_config_t s;
  valley_sgd_config_default(&s);
  s.batch = 64;
  for (size_t e = 0; e < 2; e++) valley_mlp_train_epoch(net, p, v, &tr, &s, e, NULL, &err);
  float *u = dir_of(net, p, fam(VALLEY_DIR_FAMILY_FILTER), 7, 0);
  const float *dirs[] = {u};
  const double grid[] = {-1.0, -0.5, 0.0, 0.5, 1.0};
  valley_probe_config_t pc;
  valley_probe_config_default(&pc);
  pc.batch = 128;
  valley_prof_t out[1];
  valley_probe(net, p, 1, dirs, 5, grid, &tr, &te, &pc, out, &err);
  double l0, a0;
  valley_mlp_evaluate(net, p, &te, 128, &l0, &a0, &err);
  check(t, out[0].test[2] == l0 && out[0].test_acc[2] == a0 && out[0].test[0] > l0 &&
               out[0].test[4] > l0 && a0 > 0.6,
        "Fashion-MNIST 784-64-10 BN: test loss %.4f (acc %.3f) at l = 0 equals the evaluation; "
        "%.4f at l = -1, %.4f at l = +1", out[0].test[2], out[0].test_acc[2], out[0].test[0],
        out[0].test[4]);
  valley_prof_free(&out[0]);
  free(u);
  free(p);
  free(v);
  valley_dataset_free(&tr);
  valley_dataset_free(&te);
  valley_mlp_free(net);
}

int main(void) {
  check_t t = {0, 0};
  test_families(&t);
  test_probe(&t, 0);
  test_probe(&t, 1);
  test_probe_cnn(&t, 0);
  test_probe_cnn(&t, 1);
  test_probe_errors(&t);
  test_fashion(&t);
  return check_done(&t);
}
