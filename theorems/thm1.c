/* Theorem 1 (He, Huang, Yuan 2019, Sec. 4.1, Appendix B): expected gain by exact enumeration or
 * Monte Carlo, the bound, and the Definition 1/3 and Assumption 1/2 checkers. */
#include "valley/thm1.h"

#include <gsl/gsl_multimin.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "valley/pcg.h"
#ifdef VALLEY_HAVE_OPENMP
#include <omp.h>
#endif

#define GRAY_BITS 12          /* patterns per block: 2^12 */
#define MC_BLOCK 4096         /* samples per PCG stream */
#define PROGRESS_SLICES 64    /* progress reports per run */

static double dot(const double *x, const double *y, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += x[i] * y[i];
  return s;
}

/* Neumaier's compensated sum. */
typedef struct {
  double s, c;
} ksum_t;
static inline void ksum_add(ksum_t *k, double x) {
  double t = k->s + x;
  if (fabs(k->s) >= fabs(x))
    k->c += (k->s - t) + x;
  else
    k->c += (x - t) + k->s;
  k->s = t;
}

/* max of sin on [lo, hi] */
static double sin_max(double lo, double hi) {
  const double two_pi = 6.283185307179586;
  if (hi - lo >= two_pi) return 1.0;
  double n = ceil((lo - 1.5707963267948966) / two_pi);
  if (1.5707963267948966 + n * two_pi <= hi) return 1.0;
  double a = sin(lo), b = sin(hi);
  return a > b ? a : b;
}

static int nthreads(int threads) {
#ifdef VALLEY_HAVE_OPENMP
  return threads > 0 ? threads : omp_get_max_threads();
#else
  (void)threads;
  return 1;
#endif
}

/* One pattern's paired difference: Lhat(-delta) - Lhat(x_l - delta) from zeta_i = <delta, u_i>. */
static double pattern_diff(const valley_land_t *L, const double *zeta, double *z0, double *zl,
                           double *abs_sum) {
  for (size_t i = 0; i < L->k; i++) {
    z0[i] = -zeta[i];
    zl[i] = L->xl_proj[i] - zeta[i];
  }
  double a = valley_land_hat_z(L, z0), b = valley_land_hat_z(L, zl);
  *abs_sum += fabs(a) + fabs(b);
  return a - b;
}

/* Runs block(ctx, first + b, work) for b = 0 .. nblocks-1 on nt threads (work: per-thread
 * scratch of wsize doubles), in PROGRESS_SLICES slices with a progress report after each.
 * Returns 1 when the progress callback cancels. */
typedef void (*block_fn)(void *ctx, uint64_t b, double *work);
static int run_blocks(uint64_t first, uint64_t nblocks, int nt, block_fn block, void *ctx,
                      double *work, size_t wsize, valley_progress_fn progress,
                      void *progress_arg) {
  uint64_t slice = (nblocks + PROGRESS_SLICES - 1) / PROGRESS_SLICES;
  if (slice == 0) slice = 1;
  for (uint64_t b0 = 0; b0 < nblocks; b0 += slice) {
    uint64_t b1 = b0 + slice < nblocks ? b0 + slice : nblocks;
    int64_t lo = (int64_t)(first + b0), hi = (int64_t)(first + b1);
#ifdef VALLEY_HAVE_OPENMP
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
#endif
    for (int64_t b = lo; b < hi; b++) {
      int tid = 0;
#ifdef VALLEY_HAVE_OPENMP
      tid = omp_get_thread_num();
#endif
      block(ctx, (uint64_t)b, work + (size_t)tid * wsize);
    }
    if (progress != NULL && progress((double)b1 / (double)nblocks, progress_arg) != 0) return 1;
  }
  (void)nt;
  return 0;
}

/* ---- exact enumeration --------------------------------------------------------------------- */

typedef valley_thm1_enum_block_t block_t;

typedef struct {
  const valley_land_t *L;
  unsigned gbits;
  const double *ab, *radii;
  uint64_t first;
  block_t *blocks;
} enum_ctx_t;

static void enum_block(void *arg, uint64_t block, double *work) {
  const enum_ctx_t *cx = arg;
  const valley_land_t *L = cx->L;
  unsigned gbits = cx->gbits;
  const double *ab = cx->ab, *radii = cx->radii;
  block_t *out = &cx->blocks[block - cx->first];
  size_t d = L->d, k = L->k;
  double *zeta = work, *z0 = work + k, *zl = work + 2 * k;
  uint64_t bits = block << gbits; /* low gbits: all s_m = -1 to start */
  double theta = 0;
  for (size_t i = 0; i < k; i++) zeta[i] = 0;
  for (size_t m = 0; m < d; m++) {
    double s = ((bits >> m) & 1u) ? L->dbar[m] : -L->dbar[m];
    for (size_t i = 0; i < k; i++) zeta[i] += s * L->P[m * k + i];
    theta += ((bits >> m) & 1u) ? ab[m] : -ab[m];
  }
  int want_sin = L->q == VALLEY_Q_SIN;
  double hi0 = -2, hi1 = -2, w0 = L->omega * radii[0], w1 = L->omega * radii[1];
  ksum_t acc = {0, 0};
  double abs_sum = 0;
  uint64_t n = (uint64_t)1 << gbits;
  for (uint64_t t = 0; t < n; t++) {
    if (t > 0) {
      unsigned m = (unsigned)__builtin_ctzll(t);
      bits ^= (uint64_t)1 << m;
      double s2 = ((bits >> m) & 1u) ? 2 * L->dbar[m] : -2 * L->dbar[m];
      const double *Pm = L->P + (size_t)m * k;
      for (size_t i = 0; i < k; i++) zeta[i] += s2 * Pm[i];
      theta += ((bits >> m) & 1u) ? 2 * ab[m] : -2 * ab[m];
    }
    ksum_add(&acc, pattern_diff(L, zeta, z0, zl, &abs_sum));
    if (want_sin) {
      if (hi0 < 1) {
        double h = sin_max(theta - w0, theta + w0);
        if (h > hi0) hi0 = h;
      }
      if (hi1 < 1) {
        double h = sin_max(theta - w1, theta + w1);
        if (h > hi1) hi1 = h;
      }
    }
  }
  out->sum = acc.s;
  out->comp = acc.c;
  out->abs = abs_sum;
  out->hi[0] = hi0;
  out->hi[1] = hi1;
}

static unsigned enum_gbits(size_t d) { return d < GRAY_BITS ? (unsigned)d : GRAY_BITS; }

uint64_t valley_thm1_enumerate_nblocks(size_t d) {
  if (d > VALLEY_THM1_ENUM_MAX_D) return 0;
  return (uint64_t)1 << (d - enum_gbits(d));
}

valley_status_t valley_thm1_enumerate_blocks(const valley_land_t *L, const double radii[2],
                                             uint64_t first, uint64_t count, int threads,
                                             valley_progress_fn progress, void *progress_arg,
                                             valley_thm1_enum_block_t *out, valley_error_t *err) {
  size_t d = L->d, k = L->k;
  if (d > VALLEY_THM1_ENUM_MAX_D)
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "--method enumerate: d = %zu is above %d; use --method monte-carlo", d,
                        VALLEY_THM1_ENUM_MAX_D);
  uint64_t nblocks = valley_thm1_enumerate_nblocks(d);
  if (first > nblocks || count > nblocks - first)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "blocks %llu + %llu: the enumeration has %llu",
                        (unsigned long long)first, (unsigned long long)count,
                        (unsigned long long)nblocks);
  int nt = nthreads(threads);
  double *ab = malloc((d > 0 ? d : 1) * sizeof *ab);
  double *work = malloc((size_t)nt * 3 * k * sizeof *work);
  if (ab == NULL || work == NULL) {
    free(ab);
    free(work);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory for the enumeration (d = %zu)", d);
  }
  /* theta_s = omega <a, delta(s)> = sum_m s_m dbar_m omega <a, b_m> */
  for (size_t m = 0; m < d; m++) {
    double ab_m = L->frame == VALLEY_FRAME_AXES ? L->a[m] : dot(L->a, L->Q + m * d, d);
    ab[m] = L->q == VALLEY_Q_SIN ? L->omega * L->dbar[m] * ab_m : 0.0;
  }
  enum_ctx_t cx = {L, enum_gbits(d), ab, radii, first, out};
  int cancelled =
      run_blocks(first, count, nt, enum_block, &cx, work, 3 * k, progress, progress_arg);
  free(ab);
  free(work);
  if (cancelled) return VALLEY_ERROR(err, VALLEY_ECANCEL, "enumeration cancelled");
  return VALLEY_OK;
}

void valley_thm1_enumerate_reduce(const valley_land_t *L, const valley_thm1_enum_block_t *blocks,
                                  valley_thm1_gain_t *g) {
  size_t d = L->d;
  uint64_t nblocks = valley_thm1_enumerate_nblocks(d);
  ksum_t tot = {0, 0};
  double hi0 = -2, hi1 = -2, abs_tot = 0;
  for (uint64_t b = 0; b < nblocks; b++) {
    abs_tot += blocks[b].abs;
    ksum_add(&tot, blocks[b].sum);
    ksum_add(&tot, blocks[b].comp);
    if (blocks[b].hi[0] > hi0) hi0 = blocks[b].hi[0];
    if (blocks[b].hi[1] > hi1) hi1 = blocks[b].hi[1];
  }
  g->gain_hat = ldexp(tot.s + tot.c, -(int)d);
  g->stderr_ = 0;
  g->abs_mean = ldexp(abs_tot, -(int)d);
  g->patterns = (uint64_t)1 << d;
  g->exact = 1;
  g->sin_hi_max[0] = L->q == VALLEY_Q_SIN ? hi0 : NAN;
  g->sin_hi_max[1] = L->q == VALLEY_Q_SIN ? hi1 : NAN;
}

valley_status_t valley_thm1_enumerate(const valley_land_t *L, const double radii[2], int threads,
                                      valley_progress_fn progress, void *progress_arg,
                                      valley_thm1_gain_t *g, valley_error_t *err) {
  size_t d = L->d;
  if (d > VALLEY_THM1_ENUM_MAX_D)
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "--method enumerate: d = %zu is above %d; use --method monte-carlo", d,
                        VALLEY_THM1_ENUM_MAX_D);
  uint64_t nblocks = valley_thm1_enumerate_nblocks(d);
  block_t *blocks = malloc(nblocks * sizeof *blocks);
  if (blocks == NULL)
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory for the enumeration (d = %zu)", d);
  valley_status_t st = valley_thm1_enumerate_blocks(L, radii, 0, nblocks, threads, progress,
                                                    progress_arg, blocks, err);
  if (st == VALLEY_OK) valley_thm1_enumerate_reduce(L, blocks, g);
  free(blocks);
  return st;
}

/* ---- Monte Carlo --------------------------------------------------------------------------- */

typedef valley_thm1_mc_block_t welford_t;

typedef struct {
  const valley_land_t *L;
  uint64_t samples, seed, first;
  welford_t *blocks;
} mc_ctx_t;

/* Samples b*MC_BLOCK ... of PCG32 (seed, stream b): one pattern per d bits of output. */
static void mc_block(void *arg, uint64_t b, double *work) {
  const mc_ctx_t *cx = arg;
  const valley_land_t *L = cx->L;
  size_t d = L->d, k = L->k;
  double *zeta = work, *z0 = work + k, *zl = work + 2 * k;
  valley_pcg32_t rng;
  valley_pcg32_seed(&rng, cx->seed, b);
  uint64_t first = b * MC_BLOCK;
  uint64_t n = cx->samples - first < MC_BLOCK ? cx->samples - first : MC_BLOCK;
  welford_t w = {0, 0, 0, 0};
  for (uint64_t j = 0; j < n; j++) {
    for (size_t i = 0; i < k; i++) zeta[i] = 0;
    uint32_t word = 0;
    for (size_t m = 0; m < d; m++) {
      if (m % 32 == 0) word = valley_pcg32_next(&rng);
      double s = ((word >> (m % 32)) & 1u) ? L->dbar[m] : -L->dbar[m];
      const double *Pm = L->P + m * k;
      for (size_t i = 0; i < k; i++) zeta[i] += s * Pm[i];
    }
    double x = pattern_diff(L, zeta, z0, zl, &w.abs);
    w.n += 1;
    double dlt = x - w.mean;
    w.mean += dlt / w.n;
    w.m2 += dlt * (x - w.mean);
  }
  cx->blocks[b - cx->first] = w;
}

uint64_t valley_thm1_monte_carlo_nblocks(uint64_t samples) {
  return samples / MC_BLOCK + (samples % MC_BLOCK != 0);
}

valley_status_t valley_thm1_monte_carlo_blocks(const valley_land_t *L, uint64_t samples,
                                               uint64_t seed, uint64_t first, uint64_t count,
                                               int threads, valley_progress_fn progress,
                                               void *progress_arg, valley_thm1_mc_block_t *out,
                                               valley_error_t *err) {
  size_t k = L->k;
  if (samples < 2)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "--samples must be >= 2 (got %llu)",
                        (unsigned long long)samples);
  uint64_t nblocks = valley_thm1_monte_carlo_nblocks(samples);
  if (first > nblocks || count > nblocks - first)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "blocks %llu + %llu: the Monte Carlo has %llu",
                        (unsigned long long)first, (unsigned long long)count,
                        (unsigned long long)nblocks);
  int nt = nthreads(threads);
  double *work = malloc((size_t)nt * 3 * k * sizeof *work);
  if (work == NULL)
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory for %llu Monte Carlo samples",
                        (unsigned long long)samples);
  mc_ctx_t cx = {L, samples, seed, first, out};
  int cancelled = run_blocks(first, count, nt, mc_block, &cx, work, 3 * k, progress, progress_arg);
  free(work);
  if (cancelled) return VALLEY_ERROR(err, VALLEY_ECANCEL, "Monte Carlo cancelled");
  return VALLEY_OK;
}

void valley_thm1_monte_carlo_reduce(const valley_thm1_mc_block_t *blocks, uint64_t samples,
                                    valley_thm1_gain_t *g) {
  uint64_t nblocks = valley_thm1_monte_carlo_nblocks(samples);
  welford_t t = {0, 0, 0, 0}; /* Chan et al.'s pairwise combination, in block order */
  for (uint64_t b = 0; b < nblocks; b++) {
    t.abs += blocks[b].abs;
    double n = t.n + blocks[b].n, dlt = blocks[b].mean - t.mean;
    t.mean += dlt * blocks[b].n / n;
    t.m2 += blocks[b].m2 + dlt * dlt * t.n * blocks[b].n / n;
    t.n = n;
  }
  g->gain_hat = t.mean;
  g->stderr_ = sqrt(t.m2 / (t.n - 1) / t.n);
  g->abs_mean = t.abs / t.n;
  g->patterns = samples;
  g->exact = 0;
  g->sin_hi_max[0] = g->sin_hi_max[1] = NAN;
}

valley_status_t valley_thm1_monte_carlo(const valley_land_t *L, uint64_t samples, uint64_t seed,
                                        int threads, valley_progress_fn progress,
                                        void *progress_arg, valley_thm1_gain_t *g,
                                        valley_error_t *err) {
  if (samples < 2)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "--samples must be >= 2 (got %llu)",
                        (unsigned long long)samples);
  uint64_t nblocks = valley_thm1_monte_carlo_nblocks(samples);
  welford_t *blocks = malloc(nblocks * sizeof *blocks);
  if (blocks == NULL)
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory for %llu Monte Carlo samples",
                        (unsigned long long)samples);
  valley_status_t st = valley_thm1_monte_carlo_blocks(L, samples, seed, 0, nblocks, threads,
                                                      progress, progress_arg, blocks, err);
  if (st == VALLEY_OK) valley_thm1_monte_carlo_reduce(blocks, samples, g);
  free(blocks);
  return st;
}

/* ---- bound and constants ------------------------------------------------------------------- */

double valley_thm1_q_part(const valley_land_t *L) {
  if (L->q == VALLEY_Q_ZERO || L->xi == 0) return 0;
  double *zero = calloc(L->d, sizeof *zero);
  if (zero == NULL) return NAN;
  double v = L->xi * (valley_land_q(L, zero) - valley_land_q(L, L->xl));
  free(zero);
  return v;
}

static double bump_phi(double t) {
  if (!(t < 1)) return 0;
  double u = 1 - t * t;
  return u * u;
}

valley_thm1_xi_t valley_thm1_xi_assumption1(const valley_land_t *L, double R, double sin_hi_max) {
  valley_thm1_xi_t x = {0.0, 1};
  if (L->q == VALLEY_Q_ZERO || L->xi == 0) return x;
  if (L->q == VALLEY_Q_BUMP) {
    double dist = L->dmin - R;
    x.value = L->xi * bump_phi((dist > 0 ? dist : 0) / L->rho);
    return x;
  }
  /* sin: m_s = -xi exactly when a leaves span(u) (Lhat is flat there), else only m_s >= -xi */
  double na2 = dot(L->a, L->a, L->d);
  for (size_t i = 0; i < L->k; i++) {
    double ai = dot(L->a, L->Q + i * L->d, L->d);
    na2 -= ai * ai;
  }
  int m_exact = L->d > L->k && na2 > 1e-20;
  double hi = sin_hi_max;
  int hi_exact = !isnan(hi);
  if (L->omega * R >= 3.141592653589793) {
    hi = 1.0;
    hi_exact = 1;
  }
  if (!hi_exact) hi = 1.0;
  x.value = L->xi * (1.0 + hi);
  x.exact = m_exact && hi_exact;
  return x;
}

void valley_thm1_assumption2_constants(const valley_land_t *L, double *pp, double *cc) {
  for (size_t i = 0; i < L->k; i++) {
    double p = L->p[i] + L->gamma, cp = L->c[i] * L->p[i] - L->gamma;
    pp[i] = p;
    cc[i] = cp / p;
  }
}

double valley_thm1_bound(const valley_land_t *L, const double *pp, const double *cc, double xi) {
  double s = 0;
  for (size_t i = 0; i < L->k; i++) s += (cc[i] - 1) * L->l[i] * pp[i] / 2;
  return s - 2.0 * (double)L->k * xi;
}

/* ---- Definition 1 along a line ------------------------------------------------------------- */

/* f(t) = sign * d/dt Lhat(x0 + sign t e) * dir, maximised (dir = +1) or minimised (dir = -1). */
typedef struct {
  const valley_land_t *L;
  const double *x0, *e;
  double sign;
  double *x, *z;
} line_t;

static double line_deriv(line_t *ln, double t) {
  size_t d = ln->L->d;
  for (size_t j = 0; j < d; j++) ln->x[j] = ln->x0[j] + ln->sign * t * ln->e[j];
  return ln->sign * valley_land_dir_deriv(ln->L, ln->x, ln->e, ln->z);
}

/* max over [a, b] of dir * f: grid, then golden section around the best grid point */
static double line_extreme(line_t *ln, double a, double b, int grid, double dir) {
  double best = -INFINITY, tbest = a;
  for (int j = 0; j <= grid; j++) {
    double t = a + (b - a) * (double)j / grid, f = dir * line_deriv(ln, t);
    if (f > best) {
      best = f;
      tbest = t;
    }
  }
  double h = (b - a) / grid, lo = tbest - h > a ? tbest - h : a, hi = tbest + h < b ? tbest + h : b;
  const double gr = 0.6180339887498949;
  double x1 = hi - gr * (hi - lo), x2 = lo + gr * (hi - lo);
  double f1 = dir * line_deriv(ln, x1), f2 = dir * line_deriv(ln, x2);
  for (int it = 0; it < 60; it++) {
    if (f1 > f2) {
      hi = x2;
      x2 = x1;
      f2 = f1;
      x1 = hi - gr * (hi - lo);
      f1 = dir * line_deriv(ln, x1);
    } else {
      lo = x1;
      x1 = x2;
      f1 = f2;
      x2 = lo + gr * (hi - lo);
      f2 = dir * line_deriv(ln, x2);
    }
  }
  if (f1 > best) best = f1;
  if (f2 > best) best = f2;
  return dir * best;
}

valley_thm1_dir_t valley_thm1_direction_constants(const valley_land_t *L, const double *x0,
                                                  const double *e, int grid, double *scratch) {
  if (grid < 2) grid = 2;
  line_t ln = {L, x0, e, 1.0, scratch, scratch + L->d};
  valley_thm1_dir_t r;
  r.p = line_extreme(&ln, L->r, L->rbar, grid, +1.0);
  ln.sign = -1.0;
  r.cp = line_extreme(&ln, L->r, L->rbar, grid, -1.0);
  r.c = r.p > 0 ? r.cp / r.p : INFINITY;
  return r;
}

valley_status_t valley_thm1_assumption2_sampled(const valley_land_t *L, size_t i, double Rp,
                                                uint64_t samples, uint64_t seed,
                                                valley_thm1_dir_t *worst, valley_error_t *err) {
  size_t d = L->d;
  double *v = malloc(d * sizeof *v), *scratch = malloc((3 * L->k + d) * sizeof *scratch);
  gsl_rng *rng = valley_pcg32_gsl_alloc(seed, i);
  if (v == NULL || scratch == NULL || rng == NULL) {
    free(v);
    free(scratch);
    if (rng) gsl_rng_free(rng);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory");
  }
  const double *u = L->Q + i * d;
  worst->p = -INFINITY;
  worst->cp = INFINITY;
  for (uint64_t n = 0; n <= samples; n++) {
    if (n == 0) {
      memset(v, 0, d * sizeof *v);
    } else { /* uniform in the ball: Gaussian direction, radius Rp U^(1/d) */
      double n2 = 0;
      for (size_t j = 0; j < d; j++) {
        v[j] = gsl_ran_gaussian_ziggurat(rng, 1.0);
        n2 += v[j] * v[j];
      }
      double rad = Rp * pow(gsl_rng_uniform_pos(rng), 1.0 / (double)d) / sqrt(n2);
      for (size_t j = 0; j < d; j++) v[j] *= rad;
    }
    double vu = dot(v, u, d);
    for (size_t j = 0; j < d; j++) v[j] -= vu * u[j];
    valley_thm1_dir_t c = valley_thm1_direction_constants(L, v, u, 64, scratch);
    if (c.p > worst->p) worst->p = c.p;
    if (c.cp < worst->cp) worst->cp = c.cp;
  }
  worst->c = worst->p > 0 ? worst->cp / worst->p : INFINITY;
  free(v);
  free(scratch);
  gsl_rng_free(rng);
  return VALLEY_OK;
}

/* ---- Definition 3 numerically -------------------------------------------------------------- */

typedef struct {
  const valley_land_t *L;
  const double *delta;
  double R, m;
  double *x, *z;
} gap_ctx_t;

/* L_s(w) = Lhat(w - delta) + xi q(w) */
static double pop_loss(const gsl_vector *w, void *arg) {
  gap_ctx_t *g = arg;
  size_t d = g->L->d;
  for (size_t j = 0; j < d; j++) g->x[j] = gsl_vector_get(w, j) - g->delta[j];
  double v = valley_land_hat(g->L, g->x, g->z);
  for (size_t j = 0; j < d; j++) g->x[j] = gsl_vector_get(w, j);
  return v + g->L->xi * valley_land_q(g->L, g->x);
}

/* -|xi q(delta + v) - m| with v = R y / max(1, |y|) */
static double neg_gap(const gsl_vector *y, void *arg) {
  gap_ctx_t *g = arg;
  size_t d = g->L->d;
  double n2 = 0;
  for (size_t j = 0; j < d; j++) n2 += gsl_vector_get(y, j) * gsl_vector_get(y, j);
  double sc = g->R / (n2 > 1 ? sqrt(n2) : 1.0);
  for (size_t j = 0; j < d; j++) g->x[j] = g->delta[j] + sc * gsl_vector_get(y, j);
  return -fabs(g->L->xi * valley_land_q(g->L, g->x) - g->m);
}

static double nm_minimise(gsl_multimin_fminimizer *s, gsl_multimin_function *f, gsl_vector *x0,
                          gsl_vector *step) {
  gsl_multimin_fminimizer_set(s, f, x0, step);
  for (int it = 0; it < 20000; it++) {
    if (gsl_multimin_fminimizer_iterate(s) != GSL_SUCCESS) break;
    if (gsl_multimin_test_size(gsl_multimin_fminimizer_size(s), 1e-11) == GSL_SUCCESS) break;
  }
  return s->fval;
}

valley_status_t valley_thm1_shift_gap_numeric(const valley_land_t *L, uint64_t bits, double R,
                                              int restarts, uint64_t seed, double *gap,
                                              double *m_s, valley_error_t *err) {
  size_t d = L->d;
  if (d > 64) return VALLEY_ERROR(err, VALLEY_EINVAL, "numerical shift gap needs d <= 64");
  if (restarts < 1) restarts = 1;
  size_t npre = 64 * (size_t)restarts, nbest = (size_t)restarts;
  double *delta = malloc(d * sizeof *delta), *x = malloc(d * sizeof *x);
  double *z = malloc(L->k * sizeof *z), *pre = malloc(npre * (d + 1) * sizeof *pre);
  gsl_vector *x0 = gsl_vector_alloc(d), *step = gsl_vector_alloc(d);
  gsl_multimin_fminimizer *s = gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2, d);
  gsl_rng *rng = valley_pcg32_gsl_alloc(seed, bits);
  valley_status_t st = VALLEY_OK;
  if (!delta || !x || !z || !pre || !x0 || !step || !s || !rng) {
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory");
    goto done;
  }
  valley_land_shift(L, bits, delta);
  gap_ctx_t ctx = {L, delta, R, 0, x, z};
  /* m_s: starts at delta(s) and around it on the scale of the landscape and of q */
  double scale = L->rbar;
  if (L->q == VALLEY_Q_SIN && 3.141592653589793 / L->omega > scale) scale = 3.141592653589793 / L->omega;
  gsl_multimin_function f = {pop_loss, d, &ctx};
  double m = INFINITY;
  for (int rs = 0; rs < restarts; rs++) {
    for (size_t j = 0; j < d; j++)
      gsl_vector_set(x0, j, delta[j] + (rs == 0 ? 0.0 : gsl_ran_gaussian_ziggurat(rng, scale)));
    gsl_vector_set_all(step, 0.5 * scale);
    double v = nm_minimise(s, &f, x0, step);
    if (v < m) m = v;
  }
  ctx.m = m;
  /* max over the ball: score 64 random points per restart, half on the sphere, half in the ball
   * (the perturbation may be local, as the bump is), then Nelder-Mead from the centre and from
   * the best `restarts` of them */
  gsl_multimin_function fg = {neg_gap, d, &ctx};
  for (size_t n = 0; n < npre; n++) {
    double *y = pre + n * (d + 1) + 1, n2 = 0;
    for (size_t j = 0; j < d; j++) {
      y[j] = gsl_ran_gaussian_ziggurat(rng, 1.0);
      n2 += y[j] * y[j];
    }
    /* odd n: on the sphere, where a local perturbation often peaks; even n: in the ball */
    double rad = (n % 2 ? 1.0 : pow(gsl_rng_uniform_pos(rng), 1.0 / (double)d)) / sqrt(n2);
    for (size_t j = 0; j < d; j++) {
      y[j] *= rad;
      gsl_vector_set(x0, j, y[j]);
    }
    pre[n * (d + 1)] = neg_gap(x0, &ctx);
  }
  double best = 0;
  for (size_t rs = 0; rs <= nbest; rs++) {
    if (rs == 0) {
      gsl_vector_set_all(x0, 0.0);
    } else { /* the rs-th best pre-sampled point (selection by repeated scans) */
      size_t arg = 0;
      for (size_t n = 1; n < npre; n++)
        if (pre[n * (d + 1)] < pre[arg * (d + 1)]) arg = n;
      for (size_t j = 0; j < d; j++) gsl_vector_set(x0, j, pre[arg * (d + 1) + 1 + j]);
      pre[arg * (d + 1)] = INFINITY;
    }
    gsl_vector_set_all(step, 0.1);
    double v = -nm_minimise(s, &fg, x0, step);
    if (v > best) best = v;
  }
  *gap = best;
  *m_s = m;
done:
  free(delta);
  free(x);
  free(z);
  free(pre);
  if (x0) gsl_vector_free(x0);
  if (step) gsl_vector_free(step);
  if (s) gsl_multimin_fminimizer_free(s);
  if (rng) gsl_rng_free(rng);
  return st;
}
