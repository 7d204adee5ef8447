/* Tests of the 1-D SGD simulator (sim/sgd1d.c, sim/sgd1d_fast.c), the valleys
 * (synthetic/valley1d.c) and the Theorem 2 check (paper_checks/thm2_check.c).
 *
 * Monte Carlo checks use fixed seeds; each states its tolerance and the false-failure
 * probability that tolerance implies (normal approximation, two-sided). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "check.h"
#include "valley/pcg.h"
#include "valley/sgd1d.h"
#include "valley/stats.h"
#include "valley/thm2_check.h"

static valley_sgd1d_result_t *run(const valley_sgd1d_config_t *cfg,
                                  const valley_sgd1d_probes_t *pr) {
  valley_sgd1d_result_t *r = valley_sgd1d_result_alloc(cfg->chains);
  valley_error_t err;
  if (r == NULL || valley_sgd1d_run(cfg, pr, r, &err) != VALLEY_OK) {
    fprintf(stderr, "run failed: %s\n", r == NULL ? "alloc" : err.message);
    exit(2);
  }
  return r;
}

static int same(const valley_sgd1d_result_t *a, const valley_sgd1d_result_t *b) {
  return a->chains == b->chains &&
         memcmp(a->chain, b->chain, a->chains * sizeof *a->chain) == 0 &&
         memcmp(a->hist, b->hist, sizeof a->hist) == 0;
}

static uint64_t total_rounds(const valley_sgd1d_result_t *r) {
  uint64_t n = 0;
  for (size_t c = 0; c < r->chains; c++) n += r->chain[c].rounds;
  return n;
}

/* Probes from Theorem 2's constants for cfg (envelope owned by the caller). */
static void thm2_probes(const valley_sgd1d_config_t *cfg, valley_sgd1d_probes_t *pr,
                        double **env) {
  valley_thm2_params_t p = {cfg->eta,          cfg->valley.a_plus,  cfg->valley.a_minus,
                            cfg->valley.b_plus, cfg->valley.b_minus, cfg->nu};
  valley_thm2_constants_t k, ka;
  valley_thm2_constants(&p, VALLEY_THM2_PRINTED, &k, NULL);
  valley_thm2_constants(&p, VALLEY_THM2_AZUMA, &ka, NULL);
  if (valley_thm2_probes(&p, &k, &ka, pr, env, NULL) != VALLEY_OK) exit(2);
}

static int progress_ok(double f, void *arg) {
  (void)f;
  ++*(int *)arg;
  return 0;
}

static int progress_cancel(double f, void *arg) {
  (void)arg;
  return f > 0.3;
}

/* The vectorised kernel against the generic one: every per-chain number and the histogram, bit
 * for bit, with padded lanes (37 chains), a small and a large envelope table. */
static void test_kernels_agree(check_t *t) {
  const double etas[] = {0.01, 0.001}, a_minus[] = {-20, -50}, nus[] = {0.5, 1.0};
  for (int i = 0; i < 2; i++) {
    valley_sgd1d_config_t cfg;
    valley_sgd1d_config_default(&cfg);
    cfg.eta = etas[i];
    cfg.valley.a_minus = cfg.valley.b_minus = a_minus[i];
    cfg.nu = nus[i];
    cfg.chains = 37;
    cfg.steps = 20000;
    cfg.burn_in = 333;
    cfg.seed = 99;
    valley_sgd1d_probes_t pr;
    double *env;
    thm2_probes(&cfg, &pr, &env);
    valley_sgd1d_result_t *fast = run(&cfg, &pr);
    cfg.force_generic = 1;
    valley_sgd1d_result_t *gen = run(&cfg, &pr);
    check(t, same(fast, gen) && total_rounds(fast) > 1000,
          "fast and generic kernels agree bit for bit (eta %g, envelope K = %zu, %llu rounds)",
          cfg.eta, pr.envelope_len, (unsigned long long)total_rounds(fast));
    valley_sgd1d_result_free(fast);
    valley_sgd1d_result_free(gen);
    free(env);
  }
}

/* The vectorised kernel against the generic one with probes set so that every probe holds for
 * some rounds and fails for others (the theorem's own probes hold in nearly every round, so a
 * kernel that got a probe wrong in the rare case could pass test_kernels_agree): envelopes of
 * K = 0 (off), 5 and 15 (the AVX-512 kernel's register table) and 16 and 40 (its gather), chain
 * counts that are not a multiple of 32, odd step counts, burn-in of 0 and a burn-in that ends
 * inside a progress segment, and 100 progress segments whose boundaries fall mid-pair. */
static void test_kernels_agree_mixed(check_t *t) {
  const struct {
    size_t K, chains;
    uint64_t steps, burn_in;
    int progress;
  } cs[] = {{0, 37, 20001, 0, 0},  {5, 64, 20101, 333, 1}, {15, 45, 20001, 1, 0},
            {16, 33, 20101, 5050, 1}, {40, 70, 30001, 777, 0}};
  for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) {
    valley_sgd1d_config_t cfg;
    valley_sgd1d_config_default(&cfg);
    cfg.chains = cs[i].chains;
    cfg.steps = cs[i].steps;
    cfg.burn_in = cs[i].burn_in;
    cfg.seed = 11 + i;
    cfg.w_init = i % 2 ? -0.05 : 0.0;
    cfg.valley.a_minus = cfg.valley.b_minus = -5.0; /* some rounds with several sharp iterates */
    cfg.nu = 3.0;
    int calls = 0;
    if (cs[i].progress) {
      cfg.progress = progress_ok;
      cfg.progress_arg = &calls;
    }
    /* envelope: the drift t eta a+ plus 0.7 sqrt(t) noise standard deviations */
    double *env = calloc(cs[i].K + 1, sizeof *env);
    if (env == NULL) exit(2);
    for (size_t k = 1; k <= cs[i].K; k++)
      env[k] = (double)k * cfg.eta * cfg.valley.a_plus +
               0.7 * sqrt((double)k) * cfg.eta * cfg.nu / sqrt(3.0);
    valley_sgd1d_probes_t pr = {.w0_lo = 0.0,
                                .w0_hi = 0.03,
                                .tol = 0.0,
                                .envelope_len = cs[i].K,
                                .envelope = env,
                                .flat_run_max = 8,
                                .flat_run_max_alt = 15,
                                .mean_threshold = 0.05,
                                .mean_threshold_alt = 0.1};
    valley_sgd1d_result_t *fast = run(&cfg, &pr);
    cfg.force_generic = 1;
    valley_sgd1d_result_t *gen = run(&cfg, &pr);
    uint64_t rounds = total_rounds(fast), held[VALLEY_SGD1D_NPROBE] = {0};
    for (size_t c = 0; c < fast->chains; c++)
      for (int p = 0; p < VALLEY_SGD1D_NPROBE; p++) held[p] += fast->chain[c].probe[p];
    int mixed = 1;
    for (int p = 0; p < VALLEY_SGD1D_NPROBE; p++)
      if (!(p == VALLEY_PROBE_ENVELOPE && cs[i].K == 0 ? held[p] == rounds
                                                         : held[p] > 0 && held[p] < rounds))
        mixed = 0;
    check(t, same(fast, gen) && mixed && rounds > 10000,
          "fast and generic kernels agree bit for bit with mixed probes (K = %zu, %zu chains, "
          "%llu steps, burn-in %llu%s; %llu rounds, envelope held in %llu)",
          cs[i].K, cs[i].chains, (unsigned long long)cs[i].steps,
          (unsigned long long)cs[i].burn_in, cs[i].progress ? ", 100 progress segments" : "",
          (unsigned long long)rounds, (unsigned long long)held[VALLEY_PROBE_ENVELOPE]);
    valley_sgd1d_result_free(fast);
    valley_sgd1d_result_free(gen);
    free(env);
  }
}

static void test_invariance(check_t *t) {
  for (int generic = 0; generic <= 1; generic++) {
    valley_sgd1d_config_t cfg;
    valley_sgd1d_config_default(&cfg);
    cfg.chains = 100;
    cfg.steps = 30000;
    cfg.burn_in = 1000;
    cfg.force_generic = generic;
    if (generic) cfg.noise = VALLEY_NOISE_TRUNC_NORMAL;
    cfg.threads = 1;
    valley_sgd1d_result_t *one = run(&cfg, NULL);
    cfg.threads = 2;
    valley_sgd1d_result_t *two = run(&cfg, NULL);
    check(t, same(one, two), "%s kernel: identical results with 1 and 2 threads",
          generic ? "generic" : "fast");
    int calls = 0;
    cfg.progress = progress_ok;
    cfg.progress_arg = &calls;
    valley_sgd1d_result_t *seg = run(&cfg, NULL);
    check(t, same(one, seg) && calls == 100,
          "%s kernel: cutting time into %d progress segments changes nothing",
          generic ? "generic" : "fast", calls);
    valley_sgd1d_result_free(one);
    valley_sgd1d_result_free(two);
    valley_sgd1d_result_free(seg);
    cfg.progress = progress_cancel;
    valley_sgd1d_result_t *r = valley_sgd1d_result_alloc(cfg.chains);
    valley_error_t err;
    check(t, valley_sgd1d_run(&cfg, NULL, r, &err) == VALLEY_ECANCEL,
          "a progress callback can cancel the run");
    valley_sgd1d_result_free(r);
  }
}

/* Runs of chain ranges (what MPI ranks run, docs/mpi.md) pieced together: every chain's numbers
 * and the summed histogram bit for bit those of the full run, for ranges that do and do not
 * start on a block of VALLEY_LANES chains, both kernels; and valley_thm2_simulate of pieces plus
 * valley_thm2_reduce gives valley_thm2_check's report to the byte. */
static void test_ranges(check_t *t) {
  for (int generic = 0; generic <= 1; generic++) {
    valley_sgd1d_config_t cfg;
    valley_sgd1d_config_default(&cfg);
    cfg.chains = 67;
    cfg.steps = 20000;
    cfg.burn_in = 500;
    cfg.seed = 5;
    cfg.force_generic = generic;
    if (generic) cfg.noise = VALLEY_NOISE_TWO_POINT;
    valley_sgd1d_probes_t pr;
    double *env;
    thm2_probes(&cfg, &pr, &env);
    valley_sgd1d_result_t *full = run(&cfg, &pr);
    valley_sgd1d_result_t *glued = valley_sgd1d_result_alloc(cfg.chains);
    const size_t cut[] = {0, 17, 34, 50, 67};
    int ok = glued != NULL;
    for (int p = 0; p < 4 && ok; p++) {
      valley_sgd1d_result_t *part = valley_sgd1d_result_alloc(cut[p + 1] - cut[p]);
      valley_error_t err;
      ok = part != NULL && valley_sgd1d_run_range(&cfg, &pr, cut[p], part, &err) == VALLEY_OK;
      if (ok) {
        memcpy(&glued->chain[cut[p]], part->chain, part->chains * sizeof *part->chain);
        for (int h = 0; h < VALLEY_SGD1D_HIST; h++) glued->hist[h] += part->hist[h];
      }
      valley_sgd1d_result_free(part);
    }
    check(t, ok && same(full, glued),
          "%s kernel: chains 0-16, 17-33, 34-49, 50-66 run apart equal the full run bit for bit",
          generic ? "generic" : "fast");
    valley_sgd1d_result_t *r = valley_sgd1d_result_alloc(10);
    valley_error_t err;
    check(t, valley_sgd1d_run_range(&cfg, &pr, 60, r, &err) == VALLEY_EINVAL,
          "a range past the last chain is rejected: %s", err.message);
    valley_sgd1d_result_free(r);
    valley_sgd1d_result_free(full);
    valley_sgd1d_result_free(glued);
    free(env);

    valley_thm2_report_t *whole = malloc(sizeof *whole), *split = malloc(sizeof *split);
    valley_sgd1d_result_t *all = valley_sgd1d_result_alloc(cfg.chains);
    ok = whole != NULL && split != NULL && all != NULL &&
         valley_thm2_check(&cfg, whole, &err) == VALLEY_OK &&
         valley_thm2_analyse(&cfg, split, &err) == VALLEY_OK;
    for (int p = 0; p < 4 && ok; p++) {
      valley_sgd1d_result_t *part = valley_sgd1d_result_alloc(cut[p + 1] - cut[p]);
      ok = part != NULL && valley_thm2_simulate(split, cut[p], part, &err) == VALLEY_OK;
      if (ok) {
        memcpy(&all->chain[cut[p]], part->chain, part->chains * sizeof *part->chain);
        for (int h = 0; h < VALLEY_SGD1D_HIST; h++) all->hist[h] += part->hist[h];
      }
      valley_sgd1d_result_free(part);
    }
    if (ok) {
      all->samples_per_chain = cfg.steps - cfg.burn_in;
      ok = valley_thm2_reduce(split, all, &err) == VALLEY_OK;
    }
    check(t, ok && memcmp(whole, split, sizeof *whole) == 0 && whole->rounds > 1000,
          "%s kernel: Theorem 2 report from 4 simulated pieces equals valley_thm2_check's",
          generic ? "generic" : "fast");
    valley_sgd1d_result_free(all);
    free(whole);
    free(split);
  }
}

/* An independent simulation of E[w_bar]: different generator (GSL's MT19937), different code,
 * the paper's round definition written out directly. */
static void independent_wbar(const valley_sgd1d_config_t *cfg, double *est, double *se) {
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, 20191208);
  double *y = calloc(cfg->chains, sizeof *y), *x = calloc(cfg->chains, sizeof *x);
  for (size_t c = 0; c < cfg->chains; c++) {
    double w = cfg->w_init, rsum = 0;
    long rlen = 0;
    int prev_sharp = w < 0, open = 0;
    for (uint64_t s = 0; s < cfg->steps; s++) {
      double omega = (2.0 * gsl_rng_uniform_pos(r) - 1.0) * cfg->nu;
      w -= cfg->eta * ((w >= 0 ? cfg->valley.a_plus : cfg->valley.a_minus) + omega);
      int sharp = w < 0;
      if (s >= cfg->burn_in) {
        if (!sharp && prev_sharp) { /* a round starts here; the open one ends */
          if (open) {
            y[c] += rsum / (double)rlen;
            x[c] += 1;
          }
          open = 1;
          rsum = 0;
          rlen = 0;
        }
        if (open) {
          rsum += w;
          rlen++;
        }
      }
      prev_sharp = sharp;
    }
  }
  valley_ratio_t rr = valley_ratio_estimate(y, x, cfg->chains, sizeof(double), 0, 0);
  *est = rr.estimate;
  *se = rr.stderr_;
  free(y);
  free(x);
  gsl_rng_free(r);
}

static void test_wbar_independent(check_t *t) {
  valley_sgd1d_config_t cfg;
  valley_sgd1d_config_default(&cfg);
  cfg.chains = 64;
  cfg.steps = 200000;
  cfg.burn_in = 1000;
  cfg.seed = 7;
  valley_thm2_report_t *rep = malloc(sizeof *rep);
  valley_error_t err;
  if (rep == NULL || valley_thm2_check(&cfg, rep, &err) != VALLEY_OK) exit(2);
  double ind, ind_se;
  independent_wbar(&cfg, &ind, &ind_se);
  double tol = 4.0 * sqrt(rep->wbar.stderr_ * rep->wbar.stderr_ + ind_se * ind_se);
  /* 4 combined standard errors: false-failure probability 6.3e-5 */
  check(t, fabs(rep->wbar.estimate - ind) <= tol,
        "E[w_bar] %.8f agrees with an independent MT19937 simulation %.8f within %.2g (4 sigma)",
        rep->wbar.estimate, ind, tol);
  /* Lemma 4 is deterministic for this valley (p_min > 0): no counterexample may appear. */
  const valley_thm2_event_t *e = &rep->events[0];
  check(t, strcmp(e->name, "lemma4_w0_in_range") == 0 && e->k == e->n && e->n > 100000,
        "Lemma 4: all %llu rounds start in [p_min, p_max]", (unsigned long long)e->n);
  /* Round length: every post-burn-in iterate belongs to a complete round except those before the
   * first round start and after the last round end (under two rounds' worth per chain, out of
   * about 9,500 rounds per chain), so mean length = samples / rounds to within 2.5e-4 relative;
   * not a statistical tolerance (deterministic bookkeeping), checked at 1e-3. */
  double approx = (double)(cfg.chains * (cfg.steps - cfg.burn_in)) / (double)rep->rounds;
  check(t, fabs(rep->round_len.estimate - approx) < 1e-3 * approx,
        "mean round length %.4f ~ samples/rounds %.4f", rep->round_len.estimate, approx);
  free(rep);
}

static void test_noise(check_t *t) {
  valley_sgd1d_config_t cfg;
  valley_sgd1d_config_default(&cfg);
  cfg.nu = 0.7;
  gsl_rng *r = valley_pcg32_gsl_alloc(5, 11);
  const int n = 400000;
  /* uniform: mean 0, variance nu^2/3; 5 sigma bounds, false failure 5.7e-7 each */
  double m = 0, v = 0;
  int inside = 1;
  for (int i = 0; i < n; i++) {
    double x = valley_sgd1d_noise(&cfg, r);
    inside &= x > -cfg.nu && x < cfg.nu;
    m += x;
    v += x * x;
  }
  m /= n;
  v /= n;
  double var = cfg.nu * cfg.nu / 3;
  check(t, inside && fabs(m) < 5 * sqrt(var / n) &&
               fabs(v - var) < 5 * sqrt((cfg.nu * cfg.nu * cfg.nu * cfg.nu / 5 - var * var) / n),
        "uniform noise in (-nu, nu), mean %.2g, variance %.6f vs %.6f", m, v, var);
  /* two-point: exactly +-nu(1 - 1e-12), P(+) = 1/2 within 5 sigma */
  cfg.noise = VALLEY_NOISE_TWO_POINT;
  int plus = 0, exact = 1;
  for (int i = 0; i < n; i++) {
    double x = valley_sgd1d_noise(&cfg, r);
    exact &= x == cfg.nu * (1.0 - 1e-12) || x == -cfg.nu * (1.0 - 1e-12);
    plus += x > 0;
  }
  check(t, exact && fabs(plus - n / 2.0) < 5 * sqrt(n / 4.0),
        "two-point noise takes only +-nu(1 - 1e-12); %d of %d positive", plus, n);
  /* truncated normal: variance s^2 (1 - 2 a phi(a) / (2 Phi(a) - 1)), a = nu/s (closed form) */
  cfg.noise = VALLEY_NOISE_TRUNC_NORMAL;
  cfg.sigma = 0.5;
  m = v = 0;
  double m4 = 0;
  inside = 1;
  for (int i = 0; i < n; i++) {
    double x = valley_sgd1d_noise(&cfg, r);
    inside &= x > -cfg.nu && x < cfg.nu;
    m += x;
    v += x * x;
    m4 += x * x * x * x;
  }
  m /= n;
  v /= n;
  m4 /= n;
  double a = cfg.nu / cfg.sigma;
  double tv = cfg.sigma * cfg.sigma *
              (1 - 2 * a * gsl_ran_ugaussian_pdf(a) / (2 * gsl_cdf_ugaussian_P(a) - 1));
  check(t, inside && fabs(m) < 5 * sqrt(tv / n) && fabs(v - tv) < 5 * sqrt((m4 - v * v) / n),
        "truncated normal in (-nu, nu), mean %.2g, variance %.6f vs closed form %.6f", m, v, tv);
  gsl_rng_free(r);
}

static void test_valleys(check_t *t) {
  valley_valley1d_t v = {VALLEY_VALLEY1D_SATURATING, 2.0, -30.0, 0.5, -45.0, 0.05, NULL};
  int in_bounds = 1, deriv = 1;
  for (int i = -400; i <= 400; i++) {
    double w = i * 0.001;
    double g = valley_valley1d_grad(w, &v);
    if (w >= 0)
      in_bounds &= g >= v.b_plus && g <= v.a_plus;
    else
      in_bounds &= g >= v.b_minus && g <= v.a_minus;
    if (i != 0) {
      double h = 1e-6;
      double fd = (valley_valley1d_loss(w + h, &v) - valley_valley1d_loss(w - h, &v)) / (2 * h);
      deriv &= fabs(fd - g) < 1e-6 * (1 + fabs(g));
    }
  }
  check(t, in_bounds, "saturating valley: gradient in [b+, a+] for w >= 0 and [b-, a-] for w < 0");
  check(t, deriv, "saturating valley: the loss's central difference matches the gradient");
  check(t, valley_valley1d_loss(0, &v) == 0 && valley_valley1d_loss(-0.1, &v) > 0 &&
               valley_valley1d_loss(0.1, &v) > 0,
        "saturating valley: minimum 0 at w* = 0");
  valley_valley1d_t c = {VALLEY_VALLEY1D_CANONICAL, 1.0, -20.0, 1.0, -20.0, 1.0, NULL};
  check(t, valley_valley1d_loss(0.5, &c) == 0.5 && valley_valley1d_loss(-0.5, &c) == 10.0 &&
               valley_valley1d_grad(0.0, &c) == 1.0 && valley_valley1d_grad(-1e-300, &c) == -20.0,
        "canonical valley: loss and gradient");
  /* The saturating valley through the full check: Lemma 4 holds deterministically there too. */
  valley_sgd1d_config_t cfg;
  valley_sgd1d_config_default(&cfg);
  cfg.valley = v;
  cfg.eta = 0.005;
  cfg.nu = 0.8;
  cfg.chains = 16;
  cfg.steps = 50000;
  cfg.burn_in = 500;
  valley_thm2_report_t *rep = malloc(sizeof *rep);
  valley_error_t err;
  if (rep == NULL || valley_thm2_check(&cfg, rep, &err) != VALLEY_OK) exit(2);
  check(t, rep->events[0].k == rep->events[0].n && rep->events[0].n > 1000 &&
               rep->events[1].k == rep->events[1].n,
        "saturating valley: Lemma 4's range and one sharp iterate in all %llu rounds",
        (unsigned long long)rep->events[0].n);
  free(rep);
}


/* The TABLE valley from samples of known valleys.  Steffen's spline takes the derivative at an
 * interior sample w_i as (sign s_{i-1} + sign s_i) min(|s_{i-1}|, |s_i|, |p_i| / 2), s the secant
 * slopes and p_i the central (parabola) slope.  On a straight stretch all three agree, so a
 * cubic Hermite segment between two samples with exact slopes reproduces the line; for
 * k w^2 / 2 on a grid of step h, p_i = k w_i is the exact derivative and |p_i| / 2 <= |s_{i-1}|
 * when w_i >= h, so every segment [w_i, w_i + h] with w_i >= h is the parabola itself (Hermite
 * cubics are exact on quadratics).  Hence, up to rounding (tolerance 1e-9 relative): canonical
 * samples give a+ and a- off the two segments next to the kink and the two end segments (where
 * GSL's end rule applies); quadratic samples give k w there too; beyond the samples the valley
 * is linear with the end slopes.  The samples are shifted (minimum at l = 0.3) and mirrored
 * (side -1), which the table must undo. */
static void test_table(check_t *t) {
  enum { N = 41 };
  const double h = 0.05, l0 = 0.3, ap = 1.0, am = -20.0, k = 7.0;
  double l[N], yc[N], yq[N];
  for (int i = 0; i < N; i++) {
    double w = (i - 20) * h; /* flat side w >= 0 is l < l0 with side -1 */
    l[i] = l0 - w;
    yc[i] = 2.0 + (w >= 0 ? ap * w : am * w);
    yq[i] = 2.0 + 0.5 * k * w * w;
  }
  /* l must increase: reverse */
  for (int i = 0; i < N / 2; i++) {
    double a = l[i], b = yc[i], c = yq[i];
    l[i] = l[N - 1 - i], yc[i] = yc[N - 1 - i], yq[i] = yq[N - 1 - i];
    l[N - 1 - i] = a, yc[N - 1 - i] = b, yq[N - 1 - i] = c;
  }
  valley_valley1d_table_t *tc = NULL, *tq = NULL;
  valley_error_t err;
  double lmin = 0, ymin = 0;
  if (valley_valley1d_table_alloc(l, yc, N, -1, &tc, &lmin, &ymin, &err) != VALLEY_OK ||
      valley_valley1d_table_alloc(l, yq, N, -1, &tq, NULL, NULL, &err) != VALLEY_OK) {
    fprintf(stderr, "table: %s\n", err.message);
    exit(2);
  }
  check(t, fabs(lmin - l0) < 1e-15 && ymin == 2.0, "table: minimum sample l = %g, loss %g", lmin,
        ymin);
  valley_valley1d_t vc = {.kind = VALLEY_VALLEY1D_TABLE, .table = tc};
  valley_valley1d_t vq = {.kind = VALLEY_VALLEY1D_TABLE, .table = tq};
  check(t, valley_valley1d_check(&vc, &err) == VALLEY_OK, "table: check accepts a table");
  valley_valley1d_t none = {.kind = VALLEY_VALLEY1D_TABLE};
  check(t, valley_valley1d_check(&none, &err) == VALLEY_EINVAL, "table: check needs a table");
  double ec = 0, eq = 0, el = 0;
  for (int i = -1900; i <= 1900; i++) {
    double w = i * 0.0005;
    if (fabs(w) > h + 1e-12 && fabs(w) < 19 * h - 1e-12) {
      ec = fmax(ec, fabs(valley_valley1d_grad(w, &vc) - (w >= 0 ? ap : am)) / fabs(am));
      ec = fmax(ec, fabs(valley_valley1d_loss(w, &vc) - (w >= 0 ? ap * w : am * w)) / fabs(am));
      eq = fmax(eq, fabs(valley_valley1d_grad(w, &vq) - k * w) / k);
      eq = fmax(eq, fabs(valley_valley1d_loss(w, &vq) - 0.5 * k * w * w) / k);
    }
  }
  check(t, ec < 1e-9 && eq < 1e-9,
        "table: canonical and quadratic samples reproduce loss and gradient off the kink and "
        "the ends (max rel. error %.2g, %.2g)", ec, eq);
  for (int s = -1; s <= 1; s += 2) {
    double we = s * 20 * h, gq = valley_valley1d_grad(we, &vq);
    for (int m = 1; m <= 3; m++) {
      double w = we + s * m * 0.7;
      el = fmax(el, fabs(valley_valley1d_grad(w, &vq) - gq));
      el = fmax(el, fabs(valley_valley1d_loss(w, &vq) - valley_valley1d_loss(we, &vq) -
                         gq * (w - we)));
    }
  }
  check(t, el < 1e-12 && valley_valley1d_grad(0.0, &vq) == 0.0 &&
               valley_valley1d_loss(0.0, &vq) == 0.0,
        "table: linear beyond the samples (error %.2g), minimum 0 with zero slope at w = 0", el);
  /* the simulator takes the generic kernel for it; results do not depend on the threads */
  valley_sgd1d_config_t cfg;
  valley_sgd1d_config_default(&cfg);
  cfg.valley = vq;
  cfg.eta = 0.01;
  cfg.nu = 2.0;
  cfg.noise = VALLEY_NOISE_TRUNC_NORMAL;
  cfg.sigma = 1.0;
  cfg.chains = 37;
  cfg.steps = 4000;
  cfg.burn_in = 100;
  cfg.threads = 1;
  valley_sgd1d_result_t *r1 = run(&cfg, NULL);
  cfg.threads = 2;
  valley_sgd1d_result_t *r2 = run(&cfg, NULL);
  /* stationary sd of w on k w^2/2: sqrt(eta sigma_eff^2 / (k (2 - eta k))) ~ 0.027, far inside
   * the segments where the table is exact; the mean of w must be ~0 (5 se) */
  double sum = 0, sum2 = 0;
  for (size_t c = 0; c < r1->chains; c++) {
    double m = r1->chain[c].traj_sum / (double)r1->samples_per_chain;
    sum += m;
    sum2 += m * m;
  }
  double mean = sum / 37, se = sqrt((sum2 / 37 - mean * mean) / 36);
  check(t, same(r1, r2) && isfinite(mean) && fabs(mean) < 5 * se + 1e-12,
        "table: sgd1d runs it, thread-count independent, mean w %.3g (se %.2g) on the quadratic",
        mean, se);
  valley_sgd1d_result_free(r1);
  valley_sgd1d_result_free(r2);
  valley_valley1d_table_free(tc);
  valley_valley1d_table_free(tq);
}

static void test_config_errors(check_t *t) {
  valley_sgd1d_config_t base;
  valley_sgd1d_config_default(&base);
  struct {
    const char *flag;
    valley_sgd1d_config_t cfg;
  } bad[8];
  for (int i = 0; i < 8; i++) bad[i].cfg = base;
  bad[0].flag = "--eta", bad[0].cfg.eta = 0;
  bad[1].flag = "--nu", bad[1].cfg.nu = -0.1;
  bad[2].flag = "--a-minus", bad[2].cfg.valley.a_minus = 0;
  bad[3].flag = "--chains", bad[3].cfg.chains = 0;
  bad[4].flag = "--burn-in", bad[4].cfg.burn_in = bad[4].cfg.steps;
  bad[5].flag = "--b-plus", bad[5].cfg.valley.b_plus = 2;
  bad[6].flag = "--eta", bad[6].cfg.eta = NAN;
  bad[7].flag = "--b-minus", bad[7].cfg.valley.b_minus = -1;
  for (int i = 0; i < 8; i++) {
    valley_error_t err;
    valley_status_t st = valley_sgd1d_config_check(&bad[i].cfg, &err);
    check(t, st == VALLEY_EINVAL && strstr(err.message, bad[i].flag) != NULL,
          "bad %s rejected: %s", bad[i].flag, st == VALLEY_EINVAL ? err.message : "accepted");
  }
}

int main(void) {
  check_t t = {0, 0};
  test_kernels_agree(&t);
  test_kernels_agree_mixed(&t);
  test_invariance(&t);
  test_ranges(&t);
  test_wbar_independent(&t);
  test_noise(&t);
  test_valleys(&t);
  test_table(&t);
  test_config_errors(&t);
  return check_done(&t);
}
