/* Tests of the Langevin/SGD ensembles (sim/langevin.c): reproducibility and thread-count
 * invariance, walls, blow-up detection, the vectorised kernel's elementary functions and normal
 * generator, and histograms against exact steady densities rho ∝ exp(-2 v / T) computed here by
 * quadrature of V = (U' + (T/2) D') / D from the test's own callbacks.
 *
 * Statistical checks use fixed seeds and state their false-failure probability.  Histogram
 * checks use Pearson's chi-square over bins pooled to expected counts >= 20 against the
 * chi-square quantile of tail probability 1e-7 (CHI2_ALPHA).  The time-discretisation bias of
 * each run (O(dt) for Euler-Maruyama) enters as a noncentrality lambda ~ N sum_i dp_i^2 / p_i;
 * each test says why its lambda is below 1, and with lambda <= 1 the tail beyond that quantile
 * stays below 1e-6 (ncx2_tail() computes it; printed with each check). */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <gsl/gsl_sf_gamma.h>

#include "check.h"
#include "valley/basin1d.h"
#include "valley/langevin.h"
#include "valley/pcg.h"

#define CHI2_ALPHA 1e-7
#define POOL_MIN 20.0 /* expected count below which bins are pooled */

/* ---------------------------------------------------------------------------------------- */
/* Test problems.                                                                            */

typedef struct {
  double a; /* U = a theta^2 / 2 (ou), theta^4 / 4 (quartic), 1 + theta^2 / 2 with D = U */
} prob_params_t;

static void ou_eval(double x, const void *p, valley_fp1d_eval_t *e) {
  double a = ((const prob_params_t *)p)->a;
  e->U = 0.5 * a * x * x;
  e->dU = a * x;
  e->d2U = a;
  e->D = 1.0;
  e->dD = e->d2D = 0.0;
}

static void quartic_eval(double x, const void *p, valley_fp1d_eval_t *e) {
  (void)p;
  e->U = 0.25 * x * x * x * x;
  e->dU = x * x * x;
  e->d2U = 3.0 * x * x;
  e->D = 1.0;
  e->dD = e->d2D = 0.0;
}

/* Appendix B.1: D = U, so v = (1 + T/2) log U and rho ∝ U^-(1 + 2/T). */
static void dequ_eval(double x, const void *p, valley_fp1d_eval_t *e) {
  (void)p;
  e->U = 1.0 + 0.5 * x * x;
  e->dU = x;
  e->d2U = 1.0;
  e->D = e->U;
  e->dD = x;
  e->d2D = 1.0;
}

/* D not finite for theta > 1: a problem that must be reported, not simulated. */
static void nan_eval(double x, const void *p, valley_fp1d_eval_t *e) {
  (void)p;
  e->U = 0.5 * x * x;
  e->dU = x;
  e->d2U = 1.0;
  e->D = x > 1.0 ? NAN : 1.0;
  e->dD = e->d2D = 0.0;
}

/* The basin1d mixture written again with libm (independent of synthetic/basin1d.c and of the
 * vectorised kernel): U = -L log g, and D by the noise model. */
static void mix_eval(double x, const void *p, valley_fp1d_eval_t *e) {
  const valley_basin1d_t *b = p;
  double g = b->c, g1 = 0, g2 = 0;
  for (size_t k = 0; k < b->n; k++) {
    double s = b->sigmas[k], d = x - b->minima[k];
    double N = b->weights[k] / (s * sqrt(2.0 * M_PI)) * exp(-d * d / (2.0 * s * s));
    g += N;
    g1 += -d / (s * s) * N;
    g2 += (d * d / (s * s * s * s) - 1.0 / (s * s)) * N;
  }
  double L = b->lscale, w = b->wscale;
  e->U = -L * log(g);
  e->dU = -L * g1 / g;
  e->d2U = -L * (g2 / g - (g1 / g) * (g1 / g));
  e->d2D = 0.0;
  if (w == 0) {
    e->D = 1.0;
    e->dD = 0.0;
  } else if (b->noise == VALLEY_DNOISE_LOSS) {
    e->D = 1.0 + w * (e->U - b->umin);
    e->dD = w * e->dU;
  } else if (b->noise == VALLEY_DNOISE_GRAD) {
    e->D = 1.0 + w * e->dU * e->dU;
    e->dD = 2.0 * w * e->dU * e->d2U;
  } else {
    e->D = exp(w * x);
    e->dD = w * e->D;
  }
}

static valley_basin1d_t mixture(const double *m, const double *w, const double *s, size_t n,
                                double c, valley_dnoise_t noise, double wscale) {
  valley_basin1d_t b;
  valley_basin1d_defaults(&b);
  b.n = n;
  for (size_t k = 0; k < n; k++) {
    b.minima[k] = m[k];
    b.weights[k] = w[k];
    b.sigmas[k] = s[k];
  }
  b.c = c;
  b.noise = noise;
  b.wscale = wscale;
  valley_error_t err;
  if (valley_basin1d_init(&b, &err) != VALLEY_OK) {
    fprintf(stderr, "basin1d_init: %s\n", err.message);
    exit(2);
  }
  return b;
}

/* fig4-left (minima [-1, 1], weights [0.021, 0.1], sigmas [0.1, 0.5], c = 0.001, D = 1). */
static valley_basin1d_t fig4_left(void) {
  const double m[] = {-1, 1}, w[] = {0.021, 0.1}, s[] = {0.1, 0.5};
  return mixture(m, w, s, 2, 0.001, VALLEY_DNOISE_LOSS, 0.0);
}

/* A gentler mixture for the noise models: both basins resolved by a few bins at T = 0.5. */
static valley_basin1d_t soft_mixture(valley_dnoise_t noise, double wscale) {
  const double m[] = {-1, 1}, w[] = {0.5, 0.5}, s[] = {0.3, 0.5};
  return mixture(m, w, s, 2, 0.01, noise, wscale);
}

/* ---------------------------------------------------------------------------------------- */
/* Exact steady density on a grid, bin probabilities, inverse-CDF sampling, chi-square.      */

typedef struct {
  size_t m; /* intervals */
  double lo, h;
  double *cdf; /* [m + 1], cdf[0] = 0, cdf[m] = 1 */
} exact_t;

/* rho ∝ exp(-2 v / T), v = int V by the trapezoid rule on m intervals, the CDF likewise.  With
 * h <= 1e-4 and densities of width >= 0.02 the relative error is < 1e-5, far below any
 * sampling noise here. */
static exact_t exact_build(const valley_fp1d_t *p, double T, size_t m) {
  exact_t ex = {m, p->lo, (p->hi - p->lo) / (double)m, calloc(m + 1, sizeof(double))};
  double *lr = calloc(m + 1, sizeof *lr);
  if (ex.cdf == NULL || lr == NULL) exit(2);
  double vprev = 0, Vprev = 0, lmax = -INFINITY;
  for (size_t j = 0; j <= m; j++) {
    valley_fp1d_eval_t e;
    p->eval(p->lo + (double)j * ex.h, p->params, &e);
    double V = valley_fp1d_vprime(&e, T);
    double v = j == 0 ? 0.0 : vprev + 0.5 * ex.h * (Vprev + V);
    lr[j] = -2.0 * v / T;
    if (lr[j] > lmax) lmax = lr[j];
    vprev = v;
    Vprev = V;
  }
  for (size_t j = 1; j <= m; j++)
    ex.cdf[j] = ex.cdf[j - 1] + 0.5 * ex.h * (exp(lr[j - 1] - lmax) + exp(lr[j] - lmax));
  double Z = ex.cdf[m];
  for (size_t j = 0; j <= m; j++) ex.cdf[j] /= Z;
  free(lr);
  return ex;
}

static void exact_free(exact_t *ex) { free(ex->cdf); }

/* p[i] for `bins` equal bins (m a multiple of bins). */
static double *exact_bins(const exact_t *ex, size_t bins) {
  double *p = calloc(bins, sizeof *p);
  if (p == NULL || ex->m % bins != 0) exit(2);
  size_t r = ex->m / bins;
  for (size_t i = 0; i < bins; i++) p[i] = ex->cdf[(i + 1) * r] - ex->cdf[i * r];
  return p;
}

/* n samples by inverse CDF (linear within grid cells) from PCG32 stream 0 of `seed`. */
static double *exact_sample(const exact_t *ex, size_t n, uint64_t seed) {
  double *x = malloc(n * sizeof *x);
  if (x == NULL) exit(2);
  valley_pcg32_t r;
  valley_pcg32_seed(&r, seed, 0);
  for (size_t i = 0; i < n; i++) {
    double u = valley_pcg32_open01(&r);
    size_t a = 0, b = ex->m;
    while (b - a > 1) {
      size_t c = (a + b) / 2;
      if (ex->cdf[c] <= u)
        a = c;
      else
        b = c;
    }
    double f = (u - ex->cdf[a]) / (ex->cdf[b] - ex->cdf[a]);
    x[i] = ex->lo + ((double)a + f) * ex->h;
  }
  return x;
}

/* Pearson's statistic with bins of expected count < POOL_MIN pooled into one cell. */
static double chi2_pooled(const uint64_t *hist, const double *p, size_t bins, int *dof) {
  uint64_t n = 0;
  for (size_t i = 0; i < bins; i++) n += hist[i];
  double stat = 0, po = 0, pe = 0;
  int cells = 0;
  for (size_t i = 0; i < bins; i++) {
    double E = (double)n * p[i];
    if (E < POOL_MIN) {
      po += (double)hist[i];
      pe += E;
      continue;
    }
    stat += ((double)hist[i] - E) * ((double)hist[i] - E) / E;
    cells++;
  }
  if (pe > 0) {
    stat += (po - pe) * (po - pe) / pe;
    cells++;
  }
  *dof = cells - 1;
  return stat;
}

/* P(chi'^2_k(lambda) > q) = sum_j Poisson(j; lambda/2) P(chi^2_{k+2j} > q). */
static double ncx2_tail(double q, int k, double lambda) {
  double s = 0;
  for (int j = 0; j < 200; j++)
    s += exp(-0.5 * lambda + j * log(0.5 * lambda + 1e-300) - gsl_sf_lngamma(j + 1.0)) *
         gsl_cdf_chisq_Q(q, k + 2.0 * j);
  return s;
}

/* The chi-square check of a histogram against p, with the L1 distance and its multinomial noise
 * level reported beside it.  lambda: the test's bound on the bias noncentrality. */
static void check_hist(check_t *t, const char *what, const uint64_t *hist, const double *p,
                       size_t bins, double inflate, double lambda) {
  int dof;
  double stat = chi2_pooled(hist, p, bins, &dof) / inflate;
  double q = gsl_cdf_chisq_Qinv(CHI2_ALPHA, dof);
  valley_langevin_l1_t l1;
  valley_error_t err;
  if (valley_langevin_l1(p, hist, bins, 200, 5, &l1, &err) != VALLEY_OK) {
    fprintf(stderr, "l1: %s\n", err.message);
    exit(2);
  }
  check(t, stat <= q,
        "%s: chi2 = %.1f on %d dof <= %.1f (P(false failure) < %.1e with bias lambda <= %g); "
        "L1 = %.4f, sampling-noise level %.4f +- %.4f",
        what, stat, dof, q, ncx2_tail(q, dof, lambda), lambda, l1.l1, l1.noise_mean,
        l1.noise_sd);
}

/* ---------------------------------------------------------------------------------------- */

static valley_langevin1d_result_t *run1(const valley_fp1d_t *p,
                                        const valley_langevin1d_config_t *cfg) {
  valley_langevin1d_result_t *r = valley_langevin1d_result_alloc(cfg->particles, cfg->bins);
  valley_error_t err;
  if (r == NULL || valley_langevin1d_run(p, cfg, r, &err) != VALLEY_OK) {
    fprintf(stderr, "run failed: %s\n", r == NULL ? "alloc" : err.message);
    exit(2);
  }
  return r;
}

static valley_langevin1d_result_t *run_b(const valley_basin1d_t *b,
                                         const valley_langevin1d_config_t *cfg) {
  valley_langevin1d_result_t *r = valley_langevin1d_result_alloc(cfg->particles, cfg->bins);
  valley_error_t err;
  if (r == NULL || valley_langevin1d_run_basin(b, cfg, r, &err) != VALLEY_OK) {
    fprintf(stderr, "run failed: %s\n", r == NULL ? "alloc" : err.message);
    exit(2);
  }
  return r;
}

static int same1(const valley_langevin1d_result_t *a, const valley_langevin1d_result_t *b) {
  return a->particles == b->particles && a->bins == b->bins &&
         memcmp(a->theta, b->theta, a->particles * sizeof *a->theta) == 0 &&
         memcmp(a->hist, b->hist, a->bins * sizeof *a->hist) == 0 &&
         memcmp(a->path_hist, b->path_hist, a->bins * sizeof *a->path_hist) == 0 &&
         a->path_samples == b->path_samples;
}

static int progress_count(double f, void *arg) {
  (void)f;
  ++*(int *)arg;
  return 0;
}

static int progress_cancel(double f, void *arg) {
  (void)arg;
  return f > 0.3;
}

static valley_fp1d_t problem(valley_fp1d_fn fn, const void *params, double lo, double hi) {
  valley_fp1d_t p = {fn, params, lo, hi, NULL};
  return p;
}

/* ---------------------------------------------------------------------------------------- */

static void test_config_errors(check_t *t) {
  prob_params_t a = {1.0};
  valley_fp1d_t p = problem(ou_eval, &a, -5, 5);
  valley_langevin1d_config_t cfg;
  valley_langevin1d_result_t *r = valley_langevin1d_result_alloc(1024, 100);
  valley_error_t err;
  valley_langevin1d_config_default(&cfg);
  cfg.step = 0;
  check(t, valley_langevin1d_run(&p, &cfg, r, &err) == VALLEY_EINVAL && strstr(err.message, "dt"),
        "step 0 is rejected (%s)", err.message);
  valley_langevin1d_config_default(&cfg);
  cfg.T = -1;
  check(t, valley_langevin1d_run(&p, &cfg, r, &err) == VALLEY_EINVAL &&
               strstr(err.message, "temperature"),
        "T < 0 is rejected (%s)", err.message);
  valley_langevin1d_config_default(&cfg);
  cfg.noise = VALLEY_LNOISE_UNIFORM;
  check(t, valley_langevin1d_run(&p, &cfg, r, &err) == VALLEY_EINVAL &&
               strstr(err.message, "sgd"),
        "uniform noise with Euler-Maruyama is rejected (%s)", err.message);
  valley_langevin1d_config_default(&cfg);
  cfg.record_every = 10;
  cfg.burn_in = 995;
  check(t, valley_langevin1d_run(&p, &cfg, r, &err) == VALLEY_EINVAL &&
               strstr(err.message, "record_every"),
        "a recording window that records nothing is rejected (%s)", err.message);
  valley_langevin1d_config_default(&cfg);
  cfg.particles = 1000;
  check(t, valley_langevin1d_run(&p, &cfg, r, &err) == VALLEY_EINVAL &&
               strstr(err.message, "particles"),
        "a result of the wrong size is rejected (%s)", err.message);
  valley_langevin1d_config_default(&cfg);
  double *x0 = calloc(cfg.particles, sizeof *x0);
  x0[17] = 6.0;
  cfg.theta0 = x0;
  check(t, valley_langevin1d_run(&p, &cfg, r, &err) == VALLEY_EINVAL &&
               strstr(err.message, "particle 17"),
        "an initial position outside the domain is rejected (%s)", err.message);
  free(x0);
  valley_langevin1d_config_default(&cfg);
  valley_fp1d_t q = problem(ou_eval, &a, 1, -1);
  check(t, valley_langevin1d_run(&q, &cfg, r, &err) == VALLEY_EINVAL &&
               strstr(err.message, "domain"),
        "an empty domain is rejected (%s)", err.message);
  valley_langevin1d_result_free(r);
  valley_langevin_scheme_t s;
  valley_lnoise_t n;
  check(t,
        valley_langevin_scheme_parse("sgd", &s) == VALLEY_OK && s == VALLEY_LANGEVIN_SGD &&
            valley_lnoise_parse("two-point", &n) == VALLEY_OK && n == VALLEY_LNOISE_TWO_POINT &&
            valley_lnoise_parse("cauchy", &n) == VALLEY_EINVAL &&
            strcmp(valley_lnoise_name(VALLEY_LNOISE_UNIFORM), "uniform") == 0,
        "scheme and noise names parse and print");
}

static void test_reflect(check_t *t) {
  const double lo = -1.0, hi = 2.0;
  int ok = 1;
  valley_pcg32_t r;
  valley_pcg32_seed(&r, 3, 0);
  for (int i = 0; i < 100000; i++) {
    double x = (valley_pcg32_double(&r) - 0.5) * pow(10.0, 12.0 * valley_pcg32_double(&r));
    double y = valley_langevin_reflect(x, lo, hi);
    if (!(y >= lo && y <= hi)) ok = 0;
    /* the fold is even about each wall and 2 (hi - lo)-periodic */
    if (fabs(x) < 1e3 && fabs(valley_langevin_reflect(x + 6.0, lo, hi) - y) > 1e-9) ok = 0;
    if (fabs(x) < 1e3 && fabs(valley_langevin_reflect(2 * hi - x, lo, hi) - y) > 1e-9) ok = 0;
  }
  check(t, ok, "reflect: 1e5 points over 12 decades land in [lo, hi]; periodic and mirror-even");
  check(t,
        valley_langevin_reflect(0.5, lo, hi) == 0.5 &&
            valley_langevin_reflect(2.5, lo, hi) == 1.5 &&
            valley_langevin_reflect(-1.25, lo, hi) == -0.75 &&
            valley_langevin_reflect(5.5, lo, hi) == -0.5 &&
            valley_langevin_reflect(1e300, lo, hi) >= lo &&
            isnan(valley_langevin_reflect(INFINITY, lo, hi)) &&
            isnan(valley_langevin_reflect(NAN, lo, hi)),
        "reflect: known values, huge steps terminate, non-finite gives NaN");
  check(t,
        valley_langevin_bin(-1.0, lo, hi, 3) == 0 && valley_langevin_bin(2.0, lo, hi, 3) == 2 &&
            valley_langevin_bin(0.999, lo, hi, 3) == 1 && valley_langevin_bin(1.0, lo, hi, 3) == 2,
        "bins: edges go up, hi to the last bin");
}

static double ulps(double got, long double want) {
  if (got == (double)want) return 0;
  double w = fabs((double)want);
  double u = w == 0 ? 4.9e-324 : nextafter(w, INFINITY) - w;
  return (double)(fabsl((long double)got - want) / u);
}

/* Against long double libm on random arguments.  Measured on 4e6 points: exp 0.96 ulp, log 0.83
 * ulp, sin/cos 2 pi u 1.8 ulp (against the exactly reduced angle); the bounds leave room. */
static void test_vmath(check_t *t) {
  enum { N = 200000 };
  double *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y), *z = malloc(N * sizeof *z);
  valley_pcg32_t r;
  valley_pcg32_seed(&r, 11, 0);
  for (int i = 0; i < N; i++) x[i] = -708.0 + 1417.0 * valley_pcg32_double(&r);
  valley_langevin_vexp(x, y, N);
  double me = 0;
  for (int i = 0; i < N; i++) me = fmax(me, ulps(y[i], expl(x[i])));
  double sp[5] = {-INFINITY, INFINITY, -745.2, 0.0, NAN}, sy[5];
  valley_langevin_vexp(sp, sy, 5);
  check(t, me <= 2.0 && sy[0] == 0 && sy[1] == INFINITY && sy[2] == 0 && sy[3] == 1 && isnan(sy[4]),
        "vector exp: max error %.2f ulp on [-708, 709] (bound 2), special values", me);
  for (int i = 0; i < N; i++) x[i] = exp(-700.0 + 1400.0 * valley_pcg32_double(&r));
  valley_langevin_vlog(x, y, N);
  double ml = 0;
  for (int i = 0; i < N; i++) ml = fmax(ml, ulps(y[i], logl(x[i])));
  double lp[4] = {0.0, -1.0, INFINITY, 0x1p-1074}, ly[4];
  valley_langevin_vlog(lp, ly, 4);
  check(t,
        ml <= 2.0 && ly[0] == -INFINITY && isnan(ly[1]) && ly[2] == INFINITY &&
            ly[3] == log(0x1p-1074),
        "vector log: max error %.2f ulp on [1e-304, 1e304] (bound 2), special values", ml);
  for (int i = 0; i < N; i++) x[i] = (double)valley_pcg32_next(&r) * 0x1p-32;
  valley_langevin_vsincos2pi(x, y, z, N);
  double ms = 0;
  const long double tp = 6.283185307179586476925286766559L;
  for (int i = 0; i < N; i++) {
    double q = nearbyint(4.0 * x[i]);
    long double f = (long double)x[i] - (long double)q / 4, sa = sinl(tp * f), ca = cosl(tp * f);
    long double S = sa, C = ca;
    switch ((int)q & 3) {
    case 1: S = ca; C = -sa; break;
    case 2: S = -sa; C = -ca; break;
    case 3: S = -ca; C = sa; break;
    default: break;
    }
    ms = fmax(ms, fmax(ulps(y[i], S), ulps(z[i], C)));
  }
  check(t, ms <= 3.0, "vector sin/cos(2 pi u): max error %.2f ulp (bound 3)", ms);
  free(x);
  free(y);
  free(z);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The kernel's normals: the pair order of the documented draws (compared with libm Box-Muller
 * on the same outputs), and the law: Kolmogorov-Smirnov distance over 2e5 draws against
 * d = sqrt(log(2/1e-7) / (2n)) (Dvoretzky-Kiefer-Wolfowitz-Massart: P(false failure) <= 1e-7),
 * and the sample variance and fourth moment within 5.5 standard errors (each P < 4e-8). */
static void test_vnormal(check_t *t) {
  enum { N = 200000 };
  double *z = malloc(N * sizeof *z);
  valley_pcg32_t r, r2;
  valley_pcg32_seed(&r, 21, 4);
  r2 = r;
  valley_langevin_vnormal(&r, z, N);
  double maxd = 0;
  for (int i = 0; i < 1000; i += 2) {
    double u1 = 1.0 - valley_pcg32_double(&r2), u2 = (double)valley_pcg32_next(&r2) * 0x1p-32;
    double rad = sqrt(-2.0 * log(u1));
    maxd = fmax(maxd, fabs(z[i] - rad * cos(2 * M_PI * u2)) / (1 + rad));
    maxd = fmax(maxd, fabs(z[i + 1] - rad * sin(2 * M_PI * u2)) / (1 + rad));
  }
  check(t, maxd < 1e-14, "vector normals = r cos, r sin of the documented draws (max diff %.1e)",
        maxd);
  double *s = malloc(N * sizeof *s);
  memcpy(s, z, N * sizeof *s);
  qsort(s, N, sizeof *s, cmp_double);
  double D = 0, m2 = 0, m4 = 0;
  for (int i = 0; i < N; i++) {
    double F = gsl_cdf_ugaussian_P(s[i]);
    D = fmax(D, fmax(F - (double)i / N, (double)(i + 1) / N - F));
    m2 += s[i] * s[i];
    m4 += s[i] * s[i] * s[i] * s[i];
  }
  m2 /= N;
  m4 /= N;
  double dmax = sqrt(log(2.0 / 1e-7) / (2.0 * N));
  check(t, D <= dmax, "normals: KS distance %.5f <= %.5f (P(false failure) <= 1e-7)", D, dmax);
  /* Var(z^2) = 2, Var(z^4) = 105 - 9 = 96 */
  check(t, fabs(m2 - 1) <= 5.5 * sqrt(2.0 / N) && fabs(m4 - 3) <= 5.5 * sqrt(96.0 / N),
        "normals: E z^2 = %.4f, E z^4 = %.4f within 5.5 standard errors of 1 and 3", m2, m4);
  free(s);
  free(z);
}

/* Byte-identical results for 1 and 2 threads, for 100 progress segments, for the same seed; a
 * different seed differs; cancellation.  1000 particles: the last block is padded. */
static void test_invariance(check_t *t) {
  prob_params_t a = {1.0};
  valley_fp1d_t p = problem(ou_eval, &a, -3, 3);
  valley_basin1d_t b = soft_mixture(VALLEY_DNOISE_LOSS, 1.0);
  for (int kind = 0; kind < 3; kind++) {
    const char *name = kind == 0 ? "generic EM" : kind == 1 ? "generic SGD uniform" : "fast EM";
    valley_langevin1d_config_t cfg;
    valley_langevin1d_config_default(&cfg);
    cfg.particles = 1000;
    cfg.steps = 2001;
    cfg.step = 0.01;
    cfg.T = 0.5;
    cfg.bins = 37;
    cfg.burn_in = 100;
    cfg.record_every = 7;
    if (kind == 1) {
      cfg.scheme = VALLEY_LANGEVIN_SGD;
      cfg.noise = VALLEY_LNOISE_UNIFORM;
    }
    valley_langevin1d_result_t *r[4];
    int calls = 0;
    for (int k = 0; k < 4; k++) {
      cfg.threads = k == 1 ? 2 : 1;
      cfg.seed = k == 3 ? 2 : 1;
      cfg.progress = k == 2 ? progress_count : NULL;
      cfg.progress_arg = &calls;
      r[k] = kind == 2 ? run_b(&b, &cfg) : run1(&p, &cfg);
    }
    check(t, same1(r[0], r[1]), "%s: byte-identical results with 1 and 2 threads", name);
    check(t, same1(r[0], r[2]) && calls == 100,
          "%s: %d progress segments (of odd length) change nothing", name, calls);
    check(t, !same1(r[0], r[3]) && r[0]->path_samples == 1000u * 271u,
          "%s: another seed gives other numbers; %llu recorded positions", name,
          (unsigned long long)r[0]->path_samples);
    check(t, (kind == 2) == (r[0]->fast == 1), "%s: %s kernel used", name,
          r[0]->fast ? "vectorised" : "generic");
    for (int k = 0; k < 4; k++) valley_langevin1d_result_free(r[k]);
    cfg.progress = progress_cancel;
    cfg.seed = 1;
    valley_langevin1d_result_t *rc = valley_langevin1d_result_alloc(cfg.particles, cfg.bins);
    valley_error_t err;
    valley_status_t st = kind == 2 ? valley_langevin1d_run_basin(&b, &cfg, rc, &err)
                                   : valley_langevin1d_run(&p, &cfg, rc, &err);
    check(t, st == VALLEY_ECANCEL, "%s: the progress callback cancels the run", name);
    valley_langevin1d_result_free(rc);
  }
  /* SGD with Gaussian noise is Euler-Maruyama with dt = lambda, bit for bit. */
  valley_langevin1d_config_t cfg;
  valley_langevin1d_config_default(&cfg);
  cfg.particles = 100;
  valley_langevin1d_result_t *em = run1(&p, &cfg);
  cfg.scheme = VALLEY_LANGEVIN_SGD;
  valley_langevin1d_result_t *sgd = run1(&p, &cfg);
  check(t, same1(em, sgd), "SGD with Gaussian noise = Euler-Maruyama with dt = lambda");
  valley_langevin1d_result_free(em);
  valley_langevin1d_result_free(sgd);
  /* record_every 1 from the last step: the path histogram is the final one */
  valley_langevin1d_config_default(&cfg);
  cfg.burn_in = cfg.steps - 1;
  cfg.record_every = 1;
  valley_langevin1d_result_t *rr = run1(&p, &cfg);
  check(t,
        memcmp(rr->hist, rr->path_hist, cfg.bins * sizeof *rr->hist) == 0 &&
            rr->path_samples == cfg.particles,
        "recording only the last step gives the final histogram");
  valley_langevin1d_result_free(rr);
}

/* The vectorised kernel against the generic one on the test's own libm callback (same draws,
 * same update; only exp/log/Box-Muller rounding differs): 256 particles, 100 steps, every noise
 * law and every noise model. */
static void test_fast_vs_generic(check_t *t) {
  const struct {
    valley_dnoise_t noise;
    double w;
  } models[] = {{VALLEY_DNOISE_LOSS, 0.0}, {VALLEY_DNOISE_LOSS, 1.0},
                {VALLEY_DNOISE_GRAD, 0.5}, {VALLEY_DNOISE_EXP, 0.7}};
  for (int m = 0; m < 4; m++)
    for (int nz = 0; nz < 3; nz++) {
      valley_basin1d_t b = soft_mixture(models[m].noise, models[m].w);
      valley_fp1d_t p = problem(mix_eval, &b, b.lo, b.hi);
      valley_langevin1d_config_t cfg;
      valley_langevin1d_config_default(&cfg);
      cfg.scheme = VALLEY_LANGEVIN_SGD;
      cfg.noise = (valley_lnoise_t)nz;
      cfg.particles = 256;
      cfg.steps = 100;
      cfg.step = 0.01;
      cfg.T = 0.5;
      valley_langevin1d_result_t *f = run_b(&b, &cfg), *g = run1(&p, &cfg);
      double d = 0;
      for (size_t i = 0; i < cfg.particles; i++) d = fmax(d, fabs(f->theta[i] - g->theta[i]));
      check(t, d < 1e-9 && f->fast && !g->fast,
            "fast = generic kernel to %.1e after 100 steps (noise %s, D model %s, wscale %g)", d,
            valley_lnoise_name(cfg.noise), valley_dnoise_name(b.noise), b.wscale);
      valley_langevin1d_result_free(f);
      valley_langevin1d_result_free(g);
    }
}

static void test_walls_and_blowup(check_t *t) {
  valley_langevin1d_config_t cfg;
  valley_langevin1d_config_default(&cfg);
  cfg.particles = 1000;
  cfg.steps = 100;
  cfg.step = 5.0; /* each step overshoots the domain many times over */
  valley_fp1d_t p = problem(quartic_eval, NULL, -2, 2);
  valley_langevin1d_result_t *r = run1(&p, &cfg);
  int in = 1;
  for (size_t i = 0; i < cfg.particles; i++) in &= r->theta[i] >= -2 && r->theta[i] <= 2;
  check(t, in, "generic: steps of 5 * theta^3 are folded back into [-2, 2]");
  valley_langevin1d_result_free(r);
  valley_basin1d_t b = fig4_left();
  cfg.step = 100.0;
  r = run_b(&b, &cfg);
  in = r->fast;
  for (size_t i = 0; i < cfg.particles; i++) in &= r->theta[i] >= -3 && r->theta[i] <= 3;
  check(t, in, "fast: steps of 100 U' are folded back into [-3, 3]");
  valley_langevin1d_result_free(r);

  /* U' = theta^3 on a domain wide enough to overflow: an error, never numbers */
  valley_error_t err;
  p = problem(quartic_eval, NULL, -1e300, 1e300);
  double *x0 = malloc(cfg.particles * sizeof *x0);
  for (size_t i = 0; i < cfg.particles; i++) x0[i] = 10.0;
  valley_langevin1d_config_default(&cfg);
  cfg.particles = 1000;
  cfg.steps = 100;
  cfg.step = 1e6;
  cfg.theta0 = x0;
  r = valley_langevin1d_result_alloc(cfg.particles, cfg.bins);
  valley_status_t st = valley_langevin1d_run(&p, &cfg, r, &err);
  check(t, st == VALLEY_ENUMERIC && strstr(err.message, "particle 0 ") != NULL,
        "blow-up (U' = theta^3, step 1e6) is an error: %s", err.message);
  p = problem(nan_eval, NULL, -3, 3);
  cfg.theta0 = NULL;
  cfg.step = 1e-3;
  st = valley_langevin1d_run(&p, &cfg, r, &err);
  check(t, st == VALLEY_ENUMERIC && strstr(err.message, "non-finite") != NULL,
        "a NaN noise variance is an error: %s", err.message);
  valley_langevin1d_result_free(r);
  free(x0);
  b = soft_mixture(VALLEY_DNOISE_EXP, 1000.0); /* D = exp(1000 theta) overflows */
  r = valley_langevin1d_result_alloc(cfg.particles, cfg.bins);
  st = valley_langevin1d_run_basin(&b, &cfg, r, &err);
  check(t, st == VALLEY_ENUMERIC && strstr(err.message, "particle") != NULL,
        "fast kernel: an overflowing D is an error: %s", err.message);
  valley_langevin1d_result_free(r);
}

/* Histogram of the final positions of N particles against the exact density. */
static void hist_vs_exact(check_t *t, const char *what, const valley_fp1d_t *p,
                          const valley_basin1d_t *b, valley_langevin1d_config_t *cfg,
                          int from_exact, double lambda) {
  exact_t ex = exact_build(p, cfg->T, 60000);
  double *x0 = from_exact ? exact_sample(&ex, cfg->particles, 1234) : NULL;
  cfg->theta0 = x0;
  valley_langevin1d_result_t *r = b != NULL ? run_b(b, cfg) : run1(p, cfg);
  double *pb = exact_bins(&ex, cfg->bins);
  check_hist(t, what, r->hist, pb, cfg->bins, 1.0, lambda);
  free(pb);
  free(x0);
  cfg->theta0 = NULL;
  valley_langevin1d_result_free(r);
  exact_free(&ex);
}

static void test_generic_vs_exact(check_t *t) {
  valley_langevin1d_config_t cfg;
  prob_params_t a = {1.0};
  valley_fp1d_t ou = problem(ou_eval, &a, -5, 5);
  /* OU (rho = N(0, T/2)), uniform start, 8 relaxation times.  EM's stationary variance is
   * T/(2 - dt): the std is off by dt/4 = 2.5e-3, lambda ~ 2 N (dt/4)^2 = 0.13 (N = 1e4). */
  valley_langevin1d_config_default(&cfg);
  cfg.particles = 10000;
  cfg.step = 0.01;
  cfg.steps = 800;
  cfg.bins = 100;
  hist_vs_exact(t, "EM on U = theta^2/2, T = 1", &ou, NULL, &cfg, 0, 0.2);
  /* SGD with uniform and two-point xi at lambda = 0.005 (diffusion limit): for the OU landscape
   * the stationary variance T/(2 - lambda) does not depend on the law of xi, and its higher
   * cumulants enter at O(lambda^2): lambda << 1. */
  cfg.scheme = VALLEY_LANGEVIN_SGD;
  cfg.step = 0.005;
  cfg.steps = 1600;
  cfg.noise = VALLEY_LNOISE_UNIFORM;
  hist_vs_exact(t, "SGD, uniform xi, lambda = 0.005, U = theta^2/2", &ou, NULL, &cfg, 0, 0.1);
  cfg.noise = VALLEY_LNOISE_TWO_POINT;
  hist_vs_exact(t, "SGD, two-point xi, lambda = 0.005, U = theta^2/2", &ou, NULL, &cfg, 0, 0.1);
  /* Appendix B.1 D = U = 1 + theta^2/2, T = 1: rho ∝ U^-3 on [-4, 4], 4% of the mass beyond
   * |theta| = 2.5, so the walls matter.  Started from rho (inverse CDF), 3 time units.  The
   * symmetrized Euler scheme has weak order 1 (Bossy-Gobet-Talay 2004); at dt = 2e-3 the
   * density error is ~1e-3 relative: lambda ~ N 1e-6 = 0.01. */
  valley_fp1d_t deq = problem(dequ_eval, NULL, -4, 4);
  valley_langevin1d_config_default(&cfg);
  cfg.particles = 10000;
  cfg.step = 0.002;
  cfg.steps = 1500;
  cfg.bins = 80;
  hist_vs_exact(t, "EM with D = U (rho ∝ U^-3), reflecting walls", &deq, NULL, &cfg, 1, 0.1);
}

/* SGD with a large learning rate drifts away from rho: the same chi-square check as above must
 * flag it (and pass at lambda = 0.001).  U = theta^4/4, T = 1, D = 1, [-3, 3], started from rho.
 * At lambda = 0.2 the discrete chain's stationary law differs from rho by L1 ~ 0.08, a
 * noncentrality ~ 1000 at N = 2e4: the statistic lands near 1000 +- 65, ~14 standard deviations
 * above the threshold, so the detector is not vacuous (the check fails only if it misses). */
static void test_drift_detector(check_t *t) {
  valley_fp1d_t p = problem(quartic_eval, NULL, -3, 3);
  exact_t ex = exact_build(&p, 1.0, 60000);
  double *x0 = exact_sample(&ex, 20000, 99);
  double *pb = exact_bins(&ex, 60);
  valley_langevin1d_config_t cfg;
  valley_langevin1d_config_default(&cfg);
  cfg.scheme = VALLEY_LANGEVIN_SGD;
  cfg.particles = 10000;
  cfg.theta0 = x0;
  cfg.bins = 60;
  cfg.T = 1.0;
  /* lambda = 0.001: O(lambda) bias ~1e-3 relative in density -> noncentrality ~0.01 */
  cfg.step = 0.001;
  cfg.steps = 2000;
  valley_langevin1d_result_t *r = run1(&p, &cfg);
  check_hist(t, "SGD lambda = 0.001 on theta^4/4", r->hist, pb, cfg.bins, 1.0, 0.1);
  valley_langevin1d_result_free(r);
  cfg.particles = 20000;
  cfg.step = 0.2;
  cfg.steps = 200;
  r = run1(&p, &cfg);
  int dof;
  double stat = chi2_pooled(r->hist, pb, cfg.bins, &dof), q = gsl_cdf_chisq_Qinv(CHI2_ALPHA, dof);
  valley_langevin_l1_t l1;
  valley_langevin_l1(pb, r->hist, cfg.bins, 200, 5, &l1, NULL);
  check(t, stat > q && l1.l1 > l1.noise_mean + 5.3 * l1.noise_sd,
        "SGD lambda = 0.2 on theta^4/4 drifts from rho and is flagged: chi2 = %.0f > %.1f; L1 = "
        "%.4f > noise level %.4f + 5.3 x %.4f",
        stat, q, l1.l1, l1.noise_mean, l1.noise_sd);
  valley_langevin1d_result_free(r);
  free(pb);
  free(x0);
  exact_free(&ex);
}

/* The vectorised kernel against the exact density.  Started from rho (inverse CDF): the
 * barrier between the basins is crossed at the Kramers rate ~exp(-2 dU / T) (e^-38 for
 * fig4-left at T = 0.1), far too slowly for the basins' weights to relax. */
static void test_fast_vs_exact(check_t *t) {
  valley_langevin1d_config_t cfg;
  valley_langevin1d_config_default(&cfg);
  cfg.particles = 10000;
  /* fig4-left, T = 0.1, dt = 1e-4: the sharp basin (curvature L/s^2 = 100, 35% of the mass)
   * has its std off by dt U''/4 = 2.5e-3: lambda ~ 2 N 0.35 (2.5e-3)^2 = 0.05.  1500 steps are
   * 15 relaxation times of the sharp basin, 0.6 of the wide one. */
  valley_basin1d_t f4 = fig4_left();
  valley_fp1d_t p = problem(mix_eval, &f4, f4.lo, f4.hi);
  cfg.T = 0.1;
  cfg.step = 1e-4;
  cfg.steps = 1500;
  cfg.bins = 600;
  hist_vs_exact(t, "fast EM, fig4-left, T = 0.1", &p, &f4, &cfg, 1, 0.1);
  cfg.force_generic = 1; /* synthetic/basin1d.c's callback through the generic kernel */
  cfg.particles = 5000;
  hist_vs_exact(t, "generic EM (basin1d callback), fig4-left, T = 0.1", &p, &f4, &cfg, 1, 0.1);
  cfg.force_generic = 0;
  cfg.particles = 10000;
  /* The noise models on the soft mixture at T = 0.5, dt = 5e-4 (curvatures <= 12: std bias
   * <= 1.5e-3, lambda <= 0.05), 2000 steps = 1 time unit; D = 1 + U - umin, 1 + U'^2/2,
   * exp(0.7 theta). */
  const struct {
    valley_dnoise_t noise;
    double w;
    const char *name;
  } models[] = {{VALLEY_DNOISE_LOSS, 1.0, "fast EM, D = 1 + (U - umin), T = 0.5"},
                {VALLEY_DNOISE_GRAD, 0.5, "fast EM, D = 1 + U'^2/2, T = 0.5"},
                {VALLEY_DNOISE_EXP, 0.7, "fast SGD two-point, D = exp(0.7 theta), T = 0.5"}};
  for (int m = 0; m < 3; m++) {
    valley_basin1d_t b = soft_mixture(models[m].noise, models[m].w);
    valley_fp1d_t q = problem(mix_eval, &b, b.lo, b.hi);
    cfg.T = 0.5;
    cfg.step = 5e-4;
    cfg.steps = 2000;
    cfg.bins = 120;
    if (m == 2) {
      cfg.scheme = VALLEY_LANGEVIN_SGD;
      cfg.noise = VALLEY_LNOISE_TWO_POINT;
    }
    hist_vs_exact(t, models[m].name, &q, &b, &cfg, 1, 0.1);
  }
}

/* The path histogram: OU, 1e4 particles recorded 5 times, 5 relaxation times apart (after 4 of
 * burn-in).  Records of one particle correlate by at most e^-5 = 0.0067, which inflates the
 * chi-square's variance by at most (1 + 0.0067) / (1 - 0.0067) = 1.0135: the statistic is divided
 * by that factor before the comparison. */
static void test_path_hist(check_t *t) {
  prob_params_t a = {1.0};
  valley_fp1d_t ou = problem(ou_eval, &a, -5, 5);
  valley_langevin1d_config_t cfg;
  valley_langevin1d_config_default(&cfg);
  cfg.particles = 10000;
  cfg.step = 0.01;
  cfg.burn_in = 400;
  cfg.record_every = 500;
  cfg.steps = 2900;
  cfg.bins = 100;
  exact_t ex = exact_build(&ou, cfg.T, 60000);
  valley_langevin1d_result_t *r = run1(&ou, &cfg);
  double *pb = exact_bins(&ex, cfg.bins);
  check(t, r->path_samples == 5u * cfg.particles, "path histogram holds %llu = 5 N positions",
        (unsigned long long)r->path_samples);
  check_hist(t, "path histogram, EM on U = theta^2/2", r->path_hist, pb, cfg.bins, 1.0135, 0.2);
  free(pb);
  valley_langevin1d_result_free(r);
  exact_free(&ex);
}

/* L1 and its multinomial noise level: a hand value; the simulated mean against the exact
 * E L1 = sum_i E|X_i - n p_i| / n, X_i ~ Binomial(n, p_i), by de Moivre's formula
 * E|X - np| = 2 k C(n, k) p^k (1 - p)^(n - k + 1), k = floor(np) + 1, within 5.3 standard
 * errors of the mean (P(false failure) ~ 1e-7, normal approximation over 400 replicates). */
static void test_l1(check_t *t) {
  const double p2[2] = {0.5, 0.5};
  const uint64_t h2[2] = {1, 3};
  valley_langevin_l1_t o;
  valley_error_t err;
  check(t, valley_langevin_l1(p2, h2, 2, 10, 1, &o, &err) == VALLEY_OK && o.l1 == 0.5 && o.n == 4,
        "L1 of (1, 3) against (1/2, 1/2) is 0.5");
  const double pbad[2] = {0.5, -0.1};
  check(t, valley_langevin_l1(pbad, h2, 2, 10, 1, &o, &err) == VALLEY_EINVAL &&
               strstr(err.message, "p[1]"),
        "negative probabilities are rejected (%s)", err.message);
  const double psum[2] = {0.5, 0.6};
  check(t, valley_langevin_l1(psum, h2, 2, 10, 1, &o, &err) == VALLEY_EINVAL,
        "probabilities that do not sum to 1 are rejected (%s)", err.message);
  enum { B = 40 };
  double p[B], ps = 0;
  for (int i = 0; i < B; i++) ps += p[i] = exp(-0.5 * (i - 20.0) * (i - 20.0) / 36.0);
  for (int i = 0; i < B; i++) p[i] /= ps;
  uint64_t h[B] = {0};
  const unsigned n = 5000;
  h[0] = n;
  valley_langevin_l1(p, h, B, 400, 77, &o, &err);
  double exact = 0;
  for (int i = 0; i < B; i++) {
    double k = floor(n * p[i]) + 1;
    exact += 2.0 * k *
             exp(gsl_sf_lnchoose(n, (unsigned)k) + k * log(p[i]) + (n - k + 1) * log1p(-p[i])) /
             n;
  }
  double se = o.noise_sd / sqrt(400.0);
  check(t, fabs(o.noise_mean - exact) <= 5.3 * se,
        "L1 noise level %.5f +- %.5f (s.e. %.5f) matches the exact E L1 = %.5f", o.noise_mean,
        o.noise_sd, se, exact);
}

/* 2-D problems of the test's own: U = x^2/2 + y^2 with D = diag(1, 1/2) (rho Gaussian, std
 * sqrt(T/2) and sqrt(T/8)); and U = (x^2 + y^2)/2 with d1 = 1 + x^2/2, d2 = 1, so that
 * v = (1 + T/2) log(1 + x^2/2) + y^2/2 and rho ∝ (1 + x^2/2)^-(1 + 2/T) exp(-y^2/T). */
static void gauss2_eval(double x, double y, const void *p, valley_fp2d_eval_t *e) {
  (void)p;
  e->U = 0.5 * x * x + y * y;
  e->Ux = x;
  e->Uy = 2.0 * y;
  e->d1 = 1.0;
  e->d2 = 0.5;
  e->d1x = e->d2y = 0.0;
}

static void mult2_eval(double x, double y, const void *p, valley_fp2d_eval_t *e) {
  (void)p;
  e->U = 0.5 * (x * x + y * y);
  e->Ux = x;
  e->Uy = y;
  e->d1 = 1.0 + 0.5 * x * x;
  e->d2 = 1.0;
  e->d1x = x;
  e->d2y = 0.0;
}

/* Cell probabilities of a product density from two 1-D exact densities. */
static double *product_bins(const exact_t *ex, size_t nx, const exact_t *ey, size_t ny) {
  double *px = exact_bins(ex, nx), *py = exact_bins(ey, ny), *p = malloc(nx * ny * sizeof *p);
  for (size_t j = 0; j < ny; j++)
    for (size_t i = 0; i < nx; i++) p[j * nx + i] = px[i] * py[j];
  free(px);
  free(py);
  return p;
}

static void test_2d(check_t *t) {
  valley_fp2d_t g = {gauss2_eval, NULL, -3, 3, -2, 2}, m = {mult2_eval, NULL, -4, 4, -3, 3};
  /* 1-D factors of the exact densities as fp1d problems */
  prob_params_t ax = {1.0}, ay = {4.0}, aym = {1.0};
  valley_fp1d_t gx = problem(ou_eval, &ax, -3, 3), gy = problem(ou_eval, &ay, -2, 2);
  valley_fp1d_t mx = problem(dequ_eval, NULL, -4, 4), my = problem(ou_eval, &aym, -3, 3);
  valley_langevin2d_config_t cfg;
  for (int k = 0; k < 2; k++) {
    valley_langevin2d_config_default(&cfg);
    cfg.particles = 10000;
    cfg.dt = 0.005;
    cfg.steps = 1200; /* 6 time units; slowest relaxation rate 1 */
    cfg.nx = 24;
    cfg.ny = 20;
    const valley_fp2d_t *prob = k == 0 ? &g : &m;
    valley_langevin2d_result_t *r[3];
    for (int j = 0; j < 3; j++) {
      cfg.threads = j == 1 ? 2 : 1;
      cfg.particles = j == 2 ? 1000 : 10000;
      r[j] = valley_langevin2d_result_alloc(cfg.particles, cfg.nx, cfg.ny);
      valley_error_t err;
      if (valley_langevin2d_run(prob, &cfg, r[j], &err) != VALLEY_OK) {
        fprintf(stderr, "2d: %s\n", err.message);
        exit(2);
      }
    }
    check(t,
          memcmp(r[0]->x, r[1]->x, 10000 * sizeof(double)) == 0 &&
              memcmp(r[0]->y, r[1]->y, 10000 * sizeof(double)) == 0 &&
              memcmp(r[0]->hist, r[1]->hist, cfg.nx * cfg.ny * sizeof(uint64_t)) == 0 &&
              memcmp(r[0]->x, r[2]->x, 1000 * sizeof(double)) == 0,
          "2-D %s: identical with 1 and 2 threads, and per particle whatever N",
          k == 0 ? "Gaussian" : "multiplicative");
    /* Gaussian: the y std (rate 2) is off by dt 2/4 = 2.5e-3, lambda ~ 2 N (2.5e-3)^2 = 0.13;
     * multiplicative: as the 1-D D = U case, lambda ~ 0.1. */
    exact_t ex = exact_build(k == 0 ? &gx : &mx, cfg.T, 48000);
    exact_t ey = exact_build(k == 0 ? &gy : &my, cfg.T, 48000);
    double *p = product_bins(&ex, cfg.nx, &ey, cfg.ny);
    check_hist(t, k == 0 ? "2-D EM, Gaussian" : "2-D EM, d1 = 1 + x^2/2 with walls", r[0]->hist,
               p, cfg.nx * cfg.ny, 1.0, 0.2);
    free(p);
    exact_free(&ex);
    exact_free(&ey);
    for (int j = 0; j < 3; j++) valley_langevin2d_result_free(r[j]);
  }
  valley_langevin2d_config_default(&cfg);
  cfg.x0 = cfg.y0 = NULL;
  double x0 = 0;
  cfg.x0 = &x0;
  valley_langevin2d_result_t *r = valley_langevin2d_result_alloc(cfg.particles, cfg.nx, cfg.ny);
  valley_error_t err;
  check(t, valley_langevin2d_run(&g, &cfg, r, &err) == VALLEY_EINVAL,
        "2-D: x0 without y0 is rejected (%s)", err.message);
  valley_langevin2d_result_free(r);
}

/* Ranges of an ensemble (first_particle; cli/mpi.c): runs of particles 0-69, 70-149, 150-199
 * give, particle for particle, the whole run's positions bit for bit and histograms that sum to
 * its histograms; the generic, the vectorised and the 2-D kernels, uniform and given starts. */
static void test_ranges(check_t *t) {
  prob_params_t a = {1.0};
  valley_fp1d_t p = problem(ou_eval, &a, -3, 3);
  valley_basin1d_t b = soft_mixture(VALLEY_DNOISE_LOSS, 1.0);
  const size_t n = 200, cut[4] = {0, 70, 150, 200};
  double x0[200];
  for (size_t i = 0; i < n; i++) x0[i] = -2.5 + 5.0 * (double)i / (double)n;
  for (int kind = 0; kind < 4; kind++) {
    const char *name = kind == 0   ? "generic EM"
                       : kind == 1 ? "generic SGD two-point, given starts"
                       : kind == 2 ? "fast EM"
                                   : "fast SGD uniform, given starts";
    valley_langevin1d_config_t cfg;
    valley_langevin1d_config_default(&cfg);
    cfg.particles = n;
    cfg.steps = 301;
    cfg.step = 0.01;
    cfg.T = 0.5;
    cfg.bins = 13;
    cfg.burn_in = 50;
    cfg.record_every = 5;
    if (kind % 2 == 1) {
      cfg.scheme = VALLEY_LANGEVIN_SGD;
      cfg.noise = kind == 1 ? VALLEY_LNOISE_TWO_POINT : VALLEY_LNOISE_UNIFORM;
      cfg.theta0 = x0;
    }
    valley_langevin1d_result_t *whole = kind >= 2 ? run_b(&b, &cfg) : run1(&p, &cfg);
    int same_theta = 1;
    uint64_t hist[13] = {0}, path[13] = {0}, samples = 0;
    for (int r = 0; r < 3; r++) {
      cfg.first_particle = cut[r];
      cfg.particles = cut[r + 1] - cut[r];
      cfg.theta0 = kind % 2 == 1 ? x0 + cut[r] : NULL;
      cfg.threads = 1 + r % 2;
      valley_langevin1d_result_t *part = kind >= 2 ? run_b(&b, &cfg) : run1(&p, &cfg);
      same_theta &= memcmp(part->theta, whole->theta + cut[r],
                           cfg.particles * sizeof *part->theta) == 0;
      for (size_t k = 0; k < 13; k++) {
        hist[k] += part->hist[k];
        path[k] += part->path_hist[k];
      }
      samples += part->path_samples;
      valley_langevin1d_result_free(part);
    }
    check(t,
          same_theta && memcmp(hist, whole->hist, sizeof hist) == 0 &&
              memcmp(path, whole->path_hist, sizeof path) == 0 &&
              samples == whole->path_samples,
          "%s: ranges 0-69, 70-149, 150-199 concatenate to the whole run bit for bit", name);
    valley_langevin1d_result_free(whole);
  }
  /* 2-D */
  valley_fp2d_t g = {gauss2_eval, NULL, -3, 3, -2, 2};
  valley_langevin2d_config_t c2;
  valley_langevin2d_config_default(&c2);
  c2.particles = n;
  c2.steps = 200;
  c2.dt = 0.005;
  c2.nx = 6;
  c2.ny = 5;
  c2.burn_in = 10;
  c2.record_every = 10;
  valley_langevin2d_result_t *whole = valley_langevin2d_result_alloc(n, 6, 5);
  valley_error_t err;
  int ok = whole != NULL && valley_langevin2d_run(&g, &c2, whole, &err) == VALLEY_OK;
  uint64_t hist[30] = {0}, path[30] = {0};
  for (int r = 0; r < 3 && ok; r++) {
    c2.first_particle = cut[r];
    c2.particles = cut[r + 1] - cut[r];
    c2.threads = 1 + r % 2;
    valley_langevin2d_result_t *part = valley_langevin2d_result_alloc(c2.particles, 6, 5);
    ok = part != NULL && valley_langevin2d_run(&g, &c2, part, &err) == VALLEY_OK &&
         memcmp(part->x, whole->x + cut[r], c2.particles * sizeof(double)) == 0 &&
         memcmp(part->y, whole->y + cut[r], c2.particles * sizeof(double)) == 0;
    for (size_t k = 0; ok && k < 30; k++) {
      hist[k] += part->hist[k];
      path[k] += part->path_hist[k];
    }
    valley_langevin2d_result_free(part);
  }
  check(t, ok && memcmp(hist, whole->hist, sizeof hist) == 0 &&
               memcmp(path, whole->path_hist, sizeof path) == 0,
        "2-D: ranges 0-69, 70-149, 150-199 concatenate to the whole run bit for bit");
  valley_langevin2d_result_free(whole);

  /* errors name the ensemble's index: a start outside the domain in range 70-149 */
  valley_langevin1d_config_t cfg;
  valley_langevin1d_config_default(&cfg);
  double bad[80];
  for (int i = 0; i < 80; i++) bad[i] = i == 5 ? 9.0 : 0.0;
  cfg.particles = 80;
  cfg.first_particle = 70;
  cfg.theta0 = bad;
  valley_langevin1d_result_t *r = valley_langevin1d_result_alloc(80, cfg.bins);
  valley_status_t st = valley_langevin1d_run(&p, &cfg, r, &err);
  check(t, st == VALLEY_EINVAL && strstr(err.message, "particle 75 ") != NULL,
        "a range's error names the ensemble's particle: %s", err.message);
  valley_langevin1d_result_free(r);
}

int main(void) {
  check_t t = {0, 0};
  test_config_errors(&t);
  test_reflect(&t);
  test_vmath(&t);
  test_vnormal(&t);
  test_invariance(&t);
  test_fast_vs_generic(&t);
  test_walls_and_blowup(&t);
  test_generic_vs_exact(&t);
  test_drift_detector(&t);
  test_fast_vs_exact(&t);
  test_path_hist(&t);
  test_l1(&t);
  test_2d(&t);
  test_ranges(&t);
  return check_done(&t);
}
