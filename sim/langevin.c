/* Langevin (Euler-Maruyama) and discrete-SGD ensembles on 1-D and 2-D Fokker-Planck problems
 * (shift-curvature paper, eqs. (5), (10), (11); Appendix A for non-Gaussian minibatch noise,
 * Appendix B.1 for 2-D): the generic callback kernels, the vectorised kernel for basin1d
 * mixtures (its own exp, log, sin/cos and Box-Muller, eight lanes to a vector, AVX-512 where
 * the machine has it), reflecting walls, histograms and the multinomial L1 noise level.
 * docs/langevin.md describes the schemes, the streams and the accuracy. */
#include "valley/langevin.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#ifdef VALLEY_HAVE_OPENMP
#include <omp.h>
#endif
#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi" /* 64-byte vectors without AVX-512: inline only */
#endif

static const char *const scheme_names[] = {"em", "sgd"};
static const char *const lnoise_names[] = {"gaussian", "uniform", "two-point"};

VALLEY_NAME_FUNCS(valley_langevin_scheme_parse, valley_langevin_scheme_name,
                  valley_langevin_scheme_t, scheme_names)
VALLEY_NAME_FUNCS(valley_lnoise_parse, valley_lnoise_name, valley_lnoise_t, lnoise_names)

#define TWO_PI 6.283185307179586476925286766559
#define SQRT3 1.7320508075688772935274463415059
#define LANES 64                        /* particles per work item (eight vectors) */
#define MAX_PARTICLES ((size_t)UINT32_MAX) /* bounds the state memory (48 B a particle) */
#define MAX_BINS ((size_t)1 << 28)

/* ---------------------------------------------------------------------------------------- */
/* Walls, bins, draws: shared by every kernel (the vectorised one calls these per lane).      */

static inline double fold(double x, double lo, double hi) {
  if (x >= lo && x <= hi) return x;
  double y = x > hi ? hi - (x - hi) : lo + (lo - x); /* one reflection: the usual case */
  if (y >= lo && y <= hi) return y;
  if (!isfinite(x)) return NAN;
  double L = hi - lo, P = 2.0 * L;
  double r = fmod(x - lo, P); /* exact; NaN when x - lo overflows */
  if (r < 0) r += P;
  if (r > L) r = P - r;
  y = lo + r;
  return y < lo ? lo : y > hi ? hi : y;
}

double valley_langevin_reflect(double x, double lo, double hi) { return fold(x, lo, hi); }

static inline size_t bin_of(double theta, double lo, double scale, size_t bins) {
  double f = (theta - lo) * scale;
  if (!(f >= 0)) return 0;
  if (f >= (double)bins) return bins - 1;
  return (size_t)f;
}

size_t valley_langevin_bin(double theta, double lo, double hi, size_t bins) {
  return bin_of(theta, lo, (double)bins / (hi - lo), bins);
}

/* The Box-Muller pair of three outputs: u1 = 1 - (53-bit double of two outputs) in (0, 1],
 * u2 = third output 2^-32 in [0, 1). */
static inline void normal_pair(valley_pcg32_t *rng, double *z1, double *z2) {
  double u1 = 1.0 - valley_pcg32_double(rng);
  double u2 = (double)valley_pcg32_next(rng) * 0x1p-32;
  double r = sqrt(-2.0 * log(u1));
  *z1 = r * cos(TWO_PI * u2);
  *z2 = r * sin(TWO_PI * u2);
}

/* eta of mean 0 and variance 1 for step t (Gaussian: a pair at even t, its second half at odd
 * t, so *zc carries the cached half between steps). */
static inline double draw_eta(valley_pcg32_t *rng, valley_lnoise_t noise, uint64_t t, double *zc) {
  switch (noise) {
  case VALLEY_LNOISE_UNIFORM:
    return SQRT3 * (2.0 * valley_pcg32_open01(rng) - 1.0);
  case VALLEY_LNOISE_TWO_POINT:
    return (valley_pcg32_next(rng) >> 31) ? 1.0 : -1.0;
  case VALLEY_LNOISE_GAUSSIAN:
  default:
    if (t & 1u) return *zc;
    double z1;
    normal_pair(rng, &z1, zc);
    return z1;
  }
}

/* The first step s > t0 with s = burn_in + k record_every, k >= 1; UINT64_MAX when none. */
static uint64_t first_record(uint64_t t0, uint64_t burn, uint64_t rec) {
  if (rec == 0) return UINT64_MAX;
  if (t0 + 1 <= burn + rec) return burn + rec;
  uint64_t k = (t0 + 1 - burn + rec - 1) / rec;
  return burn + k * rec;
}

/* ---------------------------------------------------------------------------------------- */
/* Vector arithmetic: eight doubles a vector (GCC/Clang vector extensions).  Every lane does
 * the same IEEE operations whatever the instruction set, so results do not depend on it.     */

#define W 8
#define NV (LANES / W)
typedef double vd __attribute__((vector_size(8 * W), aligned(8 * W)));
typedef uint64_t vu __attribute__((vector_size(8 * W), aligned(8 * W)));
typedef int64_t vi __attribute__((vector_size(8 * W), aligned(8 * W)));
#define VINLINE static inline __attribute__((always_inline))

VINLINE vd vset(double a) { return (vd){0} + a; }
VINLINE vd vsel(vi m, vd a, vd b) { return (vd)(((vu)a & (vu)m) | ((vu)b & ~(vu)m)); }
/* max(a, x) and min(a, x) for a constant a; NaN in x passes through. */
VINLINE vd vmax_c(double a, vd x) {
#if defined(__AVX512F__)
  return (vd)_mm512_max_pd(_mm512_set1_pd(a), (__m512d)x); /* NaN: the second operand */
#else
  return vsel((vi)(x < a), vset(a), x);
#endif
}
VINLINE vd vmin_c(double a, vd x) {
#if defined(__AVX512F__)
  return (vd)_mm512_min_pd(_mm512_set1_pd(a), (__m512d)x);
#else
  return vsel((vi)(x > a), vset(a), x);
#endif
}
VINLINE vd vsqrt(vd x) {
#if defined(__AVX512F__)
  return (vd)_mm512_sqrt_pd((__m512d)x);
#else
  vd y;
  for (int i = 0; i < W; i++) y[i] = __builtin_sqrt(x[i]);
  return y;
#endif
}

/* Lane j: (lo, hi)[idx[j]], idx in 0..15 (lo holds entries 0..7, hi 8..15). */
VINLINE vd vlookup16(vd lo, vd hi, vi idx) {
#if defined(__AVX512F__)
  return (vd)_mm512_permutex2var_pd((__m512d)lo, (__m512i)idx, (__m512d)hi);
#elif defined(__GNUC__) && !defined(__clang__)
  return __builtin_shuffle(lo, hi, idx);
#else
  vd r;
  for (int i = 0; i < W; i++) r[i] = (idx[i] & 8) ? hi[idx[i] & 7] : lo[idx[i] & 7];
  return r;
#endif
}

/* The core of exp(x) for x in [-746, 710]: x = (16e + j) ln2/16 + r with |r| <= ln2/32
 * (Cody-Waite; n = 16e + j rounded to nearest by the 1.5 2^52 shifter, whose bits also give n),
 * exp(x) = 2^e 2^(j/16) e^r, 2^(j/16) from a 16-entry table, e^r = 1 + r + r^2 P(r), P of degree
 * 4 fitted in Chebyshev nodes (mpmath, 50 digits; |error| < 3e-17 relative), in Estrin's scheme.
 * Returns t + t (e^r - 1) with t = 2^(j/16) (the rounding of the small part scales down) and
 * sets *e. */
#define LN2_HI 6.93147180369123816490e-01 /* 32 significant bits: n LN2_HI / 16 is exact */
#define LN2_LO 1.90821492927058770002e-10
VINLINE vd exp_core(vd x, vi *e) {
  const vd tlo = {1.0,
                  1.044273782427413840321966478739929,
                  1.090507732665257659207010655760708,
                  1.1387886347566916537038302838415113,
                  1.1892071150027210667174999705604759,
                  1.2418578120734840485936774687265956,
                  1.2968395546510096659337541177924512,
                  1.3542555469368927282980147401407028};
  const vd thi = {1.4142135623730950488016887242096981,
                  1.4768261459394993113869074803740499,
                  1.5422108254079408236122918620907348,
                  1.6104903319492543081795206673574006,
                  1.6817928305074290860622509524664298,
                  1.7562521603732994831121606193753132,
                  1.8340080864093424634870831895882889,
                  1.9152065613971472938726112702958309};
  const double shifter = 0x1.8p52;
  vd sum = x * 23.083120654223414518 /* 16 / ln2 */ + shifter;
  vd nd = sum - shifter;
  vi n = (vi)((vu)sum - (vu)vset(shifter)); /* nd as an integer (any bits when x is NaN) */
  vd r = (x - nd * (LN2_HI / 16)) - nd * (LN2_LO / 16);
  vd r2 = r * r, r4 = r2 * r2;
  vd p01 = r * 0.16666666665296222739 + 0.5;
  vd p23 = r * 0.0083334499341071853523 + 0.041666666664953614554;
  vd P = (p01 + r2 * p23) + r4 * 0.0013889034639665864761;
  vd q = r + r2 * P; /* e^r - 1 */
  vd t = vlookup16(tlo, thi, n & 15);
  *e = n >> 4;
  return t + t * q;
}

/* exp(x) for any x: clamped to [-746, 710] (0 and inf beyond); 2^e applied in two halves so
 * that subnormal results come out right. */
VINLINE vd v_exp(vd x) {
  vi e;
  vd m = exp_core(vmin_c(710.0, vmax_c(-746.0, x)), &e);
  vi e1 = e >> 1, e2 = e - e1;
  return (m * (vd)((vu)(e1 + 1023) << 52)) * (vd)((vu)(e2 + 1023) << 52);
}

/* exp(x) for x <= 0 (the mixture's Gaussian factors), flushed to 0 below 2^-1022: x clamped to
 * -709, and 2^e applied in one factor, whose bits are +0 when e = -1023.  Where exp(x) >=
 * 2^-1022 the value equals v_exp's (powers of two multiply exactly). */
VINLINE vd v_exp_neg(vd x) {
  vi e;
  vd m = exp_core(vmax_c(-709.0, x), &e);
  return m * (vd)((vu)(e + 1023) << 52);
}

/* log(x) for positive normal x: x = 2^e m, m in [sqrt(1/2), sqrt(2)), log(m) = log(1 + f) =
 * 2 atanh(s) with s = f / (2 + f), |s| <= 0.1716, evaluated as f - (f^2/2 - s (f^2/2 + R)) (the
 * form of fdlibm's e_log.c), R = z Q(z), z = s^2, Q of degree 6 fitted in Chebyshev nodes
 * (mpmath; error of s R < 2e-18). */
VINLINE vd v_log_normal(vd x) {
  vu bits = (vu)x;
  vi e = (vi)(bits >> 52) - 1023;
  vd m = (vd)((bits & 0x000fffffffffffffu) | 0x3ff0000000000000u);
  vi big = (vi)(m > 1.4142135623730950488);
  m = vsel(big, m * 0.5, m);
  e = e - big;
  vd f = m - 1.0; /* exact */
  vd s = f / (2.0 + f);
  vd z = s * s;
  vd Q = vset(0.1461644968504340586);
  Q = Q * z + 0.15331721600556041269;
  Q = Q * z + 0.1818288912526172208;
  Q = Q * z + 0.22222211134795079855;
  Q = Q * z + 0.28571428625975484921;
  Q = Q * z + 0.3999999999989950449;
  Q = Q * z + 0.66666666666666696862;
  vd R = z * Q;
  vd hfsq = 0.5 * f * f;
  vd ed = __builtin_convertvector(e, vd);
  return ed * LN2_HI - ((hfsq - (s * (hfsq + R) + ed * LN2_LO)) - f);
}

/* log(x) for any x: subnormals scaled by 2^54 first; 0 -> -inf, x < 0 -> NaN, inf, NaN. */
VINLINE vd v_log(vd x) {
  vi sub = (vi)(x < 0x1p-1022);
  vd y = v_log_normal(vsel(sub, x * 0x1p54, x));
  y = vsel(sub, y - 54.0 * 0.69314718055994530942, y);
  y = vsel((vi)(x == 0.0), vset(-INFINITY), y);
  y = vsel((vi)(x < 0.0), vset(NAN), y);
  y = vsel((vi)(x == INFINITY), vset(INFINITY), y);
  return vsel((vi)(x != x), x, y);
}

/* sin and cos of 2 pi u, u in [0, 1]: u = q/4 + f exactly (q the nearest quarter, |f| <= 1/8),
 * a = 2 pi f in [-pi/4, pi/4], sin a = a + a z S(z) and cos a = 1 - z/2 + z^2 C(z), z = a^2, S
 * and C of degree 5 fitted in Chebyshev nodes (mpmath; errors < 2e-17), then the quadrant's
 * symmetry. */
VINLINE void v_sincos2pi(vd u, vd *sn, vd *cs) {
  const double shifter = 0x1.8p52;
  vd sum = u * 4.0 + shifter;
  vd qd = sum - shifter;
  vu q = ((vu)sum - (vu)vset(shifter)) & 3u;
  vd f = u - qd * 0.25;
  vd a = f * TWO_PI;
  vd z = a * a;
  vd S = vset(1.5918129294866608667e-10);
  S = S * z - 2.5051131845003624417e-8;
  S = S * z + 2.7557316102552440119e-6;
  S = S * z - 0.00019841269836758574323;
  S = S * z + 0.0083333333333309484855;
  S = S * z - 0.16666666666666664624;
  vd sa = a + (a * z) * S;
  vd C = vset(-1.1382632425521718005e-11);
  C = C * z + 2.0876146268403197893e-9;
  C = C * z - 2.7557317271729792882e-7;
  C = C * z + 0.000024801587298765687927;
  C = C * z - 0.0013888888888887397237;
  C = C * z + 0.041666666666666665389;
  vd hz = 0.5 * z, w = 1.0 - hz;
  vd ca = w + (((1.0 - w) - hz) + (z * z) * C);
  vi swap = (vi)((q & 1u) != 0);
  vd s0 = vsel(swap, ca, sa), c0 = vsel(swap, sa, ca);
  vu sneg = (q >> 1) << 63;               /* q = 2, 3: -sin-like */
  vu cneg = (((q + 1u) >> 1) & 1u) << 63; /* q = 1, 2: -cos-like */
  *sn = (vd)((vu)s0 ^ sneg);
  *cs = (vd)((vu)c0 ^ cneg);
}

/* PCG32 XSH-RR output of each lane's old state (as sgd1d_fast.c). */
VINLINE vu pcg_out(vu *st, vu inc) {
  vu old = *st;
  *st = old * VALLEY_PCG32_MULT + inc;
  vu xs = (((old >> 18) ^ old) >> 27) & 0xffffffffu;
  vu rot = old >> 59;
#if defined(__AVX512F__)
  /* rotate the low 32-bit half of each lane (the high halves are 0 and rotate by 0) */
  return (vu)_mm512_rorv_epi32((__m512i)xs, (__m512i)rot);
#else
  return ((xs >> rot) | (xs << ((-rot) & 31u))) & 0xffffffffu;
#endif
}

VINLINE vd u64_to_d(vu x) { return __builtin_convertvector((vi)x, vd); }

/* The Box-Muller pair of normal_pair(), per lane, with the vector functions above. */
VINLINE void v_bm(vd u1, vd u2, vd *z1, vd *z2) {
  vd r = vsqrt(-2.0 * v_log_normal(u1)); /* u1 in [2^-53, 1] */
  vd sn, cs;
  v_sincos2pi(u2, &sn, &cs);
  *z1 = r * cs;
  *z2 = r * sn;
}

void valley_langevin_vexp(const double *x, double *y, size_t n) {
  for (size_t i = 0; i < n; i += W) {
    vd v = {0};
    for (size_t l = 0; l < W && i + l < n; l++) v[l] = x[i + l];
    vd r = v_exp(v);
    for (size_t l = 0; l < W && i + l < n; l++) y[i + l] = r[l];
  }
}

void valley_langevin_vlog(const double *x, double *y, size_t n) {
  for (size_t i = 0; i < n; i += W) {
    vd v = vset(1.0);
    for (size_t l = 0; l < W && i + l < n; l++) v[l] = x[i + l];
    vd r = v_log(v);
    for (size_t l = 0; l < W && i + l < n; l++) y[i + l] = r[l];
  }
}

void valley_langevin_vsincos2pi(const double *u, double *s, double *c, size_t n) {
  for (size_t i = 0; i < n; i += W) {
    vd v = {0}, sn, cs;
    for (size_t l = 0; l < W && i + l < n; l++) v[l] = u[i + l];
    v_sincos2pi(v, &sn, &cs);
    for (size_t l = 0; l < W && i + l < n; l++) {
      s[i + l] = sn[l];
      c[i + l] = cs[l];
    }
  }
}

void valley_langevin_vnormal(valley_pcg32_t *rng, double *z, size_t n) {
  size_t pairs = n / 2;
  for (size_t i = 0; i < pairs; i += W) {
    vd u1 = vset(1.0), u2 = {0}, z1, z2;
    for (size_t l = 0; l < W && i + l < pairs; l++) {
      u1[l] = 1.0 - valley_pcg32_double(rng);
      u2[l] = (double)valley_pcg32_next(rng) * 0x1p-32;
    }
    v_bm(u1, u2, &z1, &z2);
    for (size_t l = 0; l < W && i + l < pairs; l++) {
      z[2 * (i + l)] = z1[l];
      z[2 * (i + l) + 1] = z2[l];
    }
  }
}

/* ---------------------------------------------------------------------------------------- */
/* 1-D ensembles: state, configuration, results.                                            */

void valley_langevin1d_config_default(valley_langevin1d_config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->scheme = VALLEY_LANGEVIN_EM;
  cfg->noise = VALLEY_LNOISE_GAUSSIAN;
  cfg->T = 1.0;
  cfg->step = 1e-3;
  cfg->particles = 1024;
  cfg->steps = 1000;
  cfg->seed = 1;
  cfg->bins = 100;
}

static valley_status_t check_common(double T, double step, const char *step_name,
                                    size_t particles, uint64_t steps, uint64_t burn_in,
                                    uint64_t record_every, int threads, valley_error_t *err) {
  if (!isfinite(T) || !(T >= 0))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "temperature T must be a finite number >= 0 (got %g)",
                        T);
  if (!isfinite(step) || !(step > 0))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%s must be a finite number > 0 (got %g)", step_name,
                        step);
  if (particles == 0 || particles > MAX_PARTICLES)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "particles must be in [1, %zu] (got %zu)",
                        MAX_PARTICLES, particles);
  if (steps == 0) return VALLEY_ERROR(err, VALLEY_EINVAL, "steps must be >= 1");
  if (record_every > 0 && (burn_in >= steps || record_every > steps - burn_in))
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "recording needs burn_in + record_every <= steps (got %llu + %llu > %llu)",
                        (unsigned long long)burn_in, (unsigned long long)record_every,
                        (unsigned long long)steps);
  if (threads < 0)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "threads must be >= 0 (got %d)", threads);
  return VALLEY_OK;
}

valley_status_t valley_langevin1d_config_check(const valley_langevin1d_config_t *cfg,
                                               valley_error_t *err) {
  if ((unsigned)cfg->scheme > VALLEY_LANGEVIN_SGD)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "unknown scheme %d", (int)cfg->scheme);
  if ((unsigned)cfg->noise > VALLEY_LNOISE_TWO_POINT)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "unknown noise distribution %d", (int)cfg->noise);
  if (cfg->scheme == VALLEY_LANGEVIN_EM && cfg->noise != VALLEY_LNOISE_GAUSSIAN)
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "Euler-Maruyama takes Gaussian increments; %s noise needs scheme sgd",
                        valley_lnoise_name(cfg->noise));
  valley_status_t st = check_common(cfg->T, cfg->step,
                                    cfg->scheme == VALLEY_LANGEVIN_EM ? "step dt" : "learning rate",
                                    cfg->particles, cfg->steps, cfg->burn_in, cfg->record_every,
                                    cfg->threads, err);
  if (st != VALLEY_OK) return st;
  if (cfg->bins == 0 || cfg->bins > MAX_BINS)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "bins must be in [1, %zu] (got %zu)", MAX_BINS,
                        cfg->bins);
  return VALLEY_OK;
}

valley_langevin1d_result_t *valley_langevin1d_result_alloc(size_t particles, size_t bins) {
  valley_langevin1d_result_t *r = calloc(1, sizeof *r);
  if (r == NULL) return NULL;
  r->theta = calloc(particles > 0 ? particles : 1, sizeof *r->theta);
  r->hist = calloc(bins > 0 ? bins : 1, sizeof *r->hist);
  r->path_hist = calloc(bins > 0 ? bins : 1, sizeof *r->path_hist);
  if (r->theta == NULL || r->hist == NULL || r->path_hist == NULL) {
    valley_langevin1d_result_free(r);
    return NULL;
  }
  r->particles = particles;
  r->bins = bins;
  return r;
}

void valley_langevin1d_result_free(valley_langevin1d_result_t *r) {
  if (r == NULL) return;
  free(r->theta);
  free(r->hist);
  free(r->path_hist);
  free(r);
}

/* Everything a kernel reads and writes; arrays padded to whole blocks of LANES, 64-byte
 * aligned.  Padded lanes run like the others but never reach a histogram or an error. */
typedef struct {
  size_t n, nblocks, bins;
  double lo, hi, scale; /* scale = bins / (hi - lo) */
  double h, hT;         /* step and step * T */
  valley_lnoise_t noise;
  uint64_t burn, rec;
  double *th, *zc;         /* positions; cached second normal of a pair */
  uint64_t *st, *inc;      /* PCG32 per particle */
  uint64_t *dead;          /* step at which theta became non-finite (0: never) */
  double *dead_from;       /* the last finite theta */
  uint64_t *hrows;         /* path-histogram rows, one per thread */
  int nthreads;
} run1d_t;

/* The fast kernel's landscape: U = -L log g, g = c + sum_k a_k exp(-(theta - m_k)^2 b_k). */
typedef enum { DM_CONST = 0, DM_LOSS, DM_GRAD, DM_EXP } dmodel_t;
typedef struct {
  int K;
  double m[VALLEY_BASIN1D_MAXK], a[VALLEY_BASIN1D_MAXK];
  double b[VALLEY_BASIN1D_MAXK], b2[VALLEY_BASIN1D_MAXK]; /* 1/(2 s^2), 1/s^2 */
  double c, L, umin, ws;
  dmodel_t dm;
} mixture_t;

static void run1d_free(run1d_t *R) {
  free(R->th);
  free(R->zc);
  free(R->st);
  free(R->inc);
  free(R->dead);
  free(R->dead_from);
  free(R->hrows);
}

static void *alloc64(size_t n, size_t size) {
  size_t bytes = (n * size + 63) / 64 * 64;
  void *p = aligned_alloc(64, bytes > 0 ? bytes : 64);
  if (p != NULL) memset(p, 0, bytes > 0 ? bytes : 64);
  return p;
}

static int nthreads_of(int threads) {
#ifdef VALLEY_HAVE_OPENMP
  return threads > 0 ? threads : omp_get_max_threads();
#else
  (void)threads;
  return 1;
#endif
}

static valley_status_t run1d_init(run1d_t *R, const valley_langevin1d_config_t *cfg, double lo,
                                  double hi, valley_error_t *err) {
  memset(R, 0, sizeof *R);
  if (!isfinite(lo) || !isfinite(hi) || !(lo < hi) || !isfinite(hi - lo))
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "the domain [%g, %g] must be finite with lo < hi and a finite width", lo,
                        hi);
  R->n = cfg->particles;
  R->nblocks = (R->n + LANES - 1) / LANES;
  size_t np = R->nblocks * LANES;
  R->bins = cfg->bins;
  R->lo = lo;
  R->hi = hi;
  R->scale = (double)cfg->bins / (hi - lo);
  R->h = cfg->step;
  R->hT = cfg->step * cfg->T;
  R->noise = cfg->scheme == VALLEY_LANGEVIN_EM ? VALLEY_LNOISE_GAUSSIAN : cfg->noise;
  R->burn = cfg->burn_in;
  R->rec = cfg->record_every;
  R->nthreads = nthreads_of(cfg->threads);
  R->th = alloc64(np, sizeof *R->th);
  R->zc = alloc64(np, sizeof *R->zc);
  R->st = alloc64(np, sizeof *R->st);
  R->inc = alloc64(np, sizeof *R->inc);
  R->dead = alloc64(np, sizeof *R->dead);
  R->dead_from = alloc64(np, sizeof *R->dead_from);
  R->hrows = calloc((size_t)R->nthreads * cfg->bins, sizeof *R->hrows);
  if (R->th == NULL || R->zc == NULL || R->st == NULL || R->inc == NULL || R->dead == NULL ||
      R->dead_from == NULL || R->hrows == NULL) {
    run1d_free(R);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "cannot allocate the state of %zu particles", R->n);
  }
  for (size_t i = 0; i < np; i++) {
    valley_pcg32_t rng;
    valley_pcg32_seed(&rng, cfg->seed, (uint64_t)i);
    double x;
    if (i >= R->n)
      x = 0.5 * (lo + hi);
    else if (cfg->theta0 != NULL)
      x = cfg->theta0[i];
    else
      x = fmin(hi, lo + (hi - lo) * valley_pcg32_double(&rng));
    if (!(x >= lo && x <= hi)) {
      run1d_free(R);
      return VALLEY_ERROR(err, VALLEY_EINVAL,
                          "initial position of particle %zu (%g) is outside the domain [%g, %g]",
                          i, x, lo, hi);
    }
    R->th[i] = x;
    R->st[i] = rng.state;
    R->inc[i] = rng.inc;
  }
  return VALLEY_OK;
}

/* The generic kernel: particle by particle, any callback problem. */
static void generic_block(const valley_fp1d_t *prob, run1d_t *R, size_t blk, uint64_t t0,
                          uint64_t t1, uint64_t *hrow) {
  const double lo = R->lo, hi = R->hi, h = R->h, hT = R->hT;
  for (size_t i = blk * LANES; i < (blk + 1) * LANES && i < R->n; i++) {
    if (R->dead[i]) continue;
    valley_pcg32_t rng = {R->st[i], R->inc[i]};
    double th = R->th[i], zc = R->zc[i];
    uint64_t next = first_record(t0, R->burn, R->rec);
    for (uint64_t t = t0; t < t1; t++) {
      double eta = draw_eta(&rng, R->noise, t, &zc);
      valley_fp1d_eval_t e;
      prob->eval(th, prob->params, &e);
      double x = fold(th - h * e.dU + sqrt(hT * e.D) * eta, lo, hi);
      if (isnan(x)) {
        R->dead[i] = t + 1;
        R->dead_from[i] = th;
        break;
      }
      th = x;
      if (t + 1 == next) {
        hrow[bin_of(th, lo, R->scale, R->bins)]++;
        next += R->rec;
      }
    }
    R->th[i] = th;
    R->zc[i] = zc;
    R->st[i] = rng.state;
    R->inc[i] = rng.inc;
  }
}

/* The vectorised kernel: the block's eight vectors advance in lock step over [t0, t1), in chunks
 * of CHUNK steps: first the chunk's noise for every lane (independent of theta, so this loop
 * runs at full throughput), then the drift steps, whose dependency chain is the exp.
 * `noise` and `dm` are constants in each instantiation (see fast_block). */
#define CHUNK 16
/* The chunk's eta for steps [ta, tb) into buf[0 .. tb - ta - 1] (buf has CHUNK + 1 rows).
 * Gaussian: Box-Muller pairs start at even steps; the half of a pair that falls past the chunk
 * waits in zc.  The uniforms of all pairs are drawn first (PCG chains, eight vectors
 * interleaved), then transformed (independent items, one at a time). */
VINLINE void fast_noise(vd buf[][NV], vu *s, const vu *inc, vd *zc, uint64_t ta, uint64_t tb,
                        const valley_lnoise_t noise) {
  if (noise != VALLEY_LNOISE_GAUSSIAN) {
    for (uint64_t t = ta; t < tb; t++) {
#pragma GCC unroll 8
      for (int v = 0; v < NV; v++) {
        vu o = pcg_out(&s[v], inc[v]);
        if (noise == VALLEY_LNOISE_UNIFORM) {
          vd u = (u64_to_d(o) + 0.5) * 0x1p-32;
          buf[t - ta][v] = SQRT3 * (2.0 * u - 1.0);
        } else {
          buf[t - ta][v] = vsel((vi)((o >> 31) != 0), vset(1.0), vset(-1.0));
        }
      }
    }
    return;
  }
  size_t r0 = 0;
  if (ta & 1u) { /* the second half of the pair drawn at step ta - 1 */
    for (int v = 0; v < NV; v++) buf[0][v] = zc[v];
    r0 = 1;
  }
  size_t npair = ((size_t)(tb - ta) - r0 + 1) / 2;
  vd u1[CHUNK / 2 + 1][NV], u2[CHUNK / 2 + 1][NV];
  for (size_t j = 0; j < npair; j++) {
#pragma GCC unroll 8
    for (int v = 0; v < NV; v++) {
      vu o1 = pcg_out(&s[v], inc[v]), o2 = pcg_out(&s[v], inc[v]), o3 = pcg_out(&s[v], inc[v]);
      u1[j][v] = 1.0 - u64_to_d(((o1 >> 5) << 26) | (o2 >> 6)) * 0x1p-53;
      u2[j][v] = u64_to_d(o3) * 0x1p-32;
    }
  }
  for (size_t j = 0; j < npair; j++)
    for (int v = 0; v < NV; v++)
      v_bm(u1[j][v], u2[j][v], &buf[r0 + 2 * j][v], &buf[r0 + 2 * j + 1][v]);
  if (r0 + 2 * npair > (size_t)(tb - ta)) /* odd tail: its second half waits */
    for (int v = 0; v < NV; v++) zc[v] = buf[tb - ta][v];
}

VINLINE void fast_block_impl(const mixture_t *M, run1d_t *R, size_t blk, uint64_t t0,
                             uint64_t t1, uint64_t *hrow, const valley_lnoise_t noise,
                             const dmodel_t dm) {
  const size_t o = blk * LANES;
  const double lo = R->lo, hi = R->hi, hT = R->hT, amp0 = sqrt(R->hT), hL = R->h * M->L;
  const double c = M->c, L = M->L, umin = M->umin, ws = M->ws;
  const int K = M->K;
  vd th[NV], zc[NV];
  vu s[NV], inc[NV];
  vd buf[CHUNK + 1][NV];
  for (int v = 0; v < NV; v++) {
    th[v] = *(const vd *)&R->th[o + (size_t)v * W];
    zc[v] = *(const vd *)&R->zc[o + (size_t)v * W];
    s[v] = *(const vu *)&R->st[o + (size_t)v * W];
    inc[v] = *(const vu *)&R->inc[o + (size_t)v * W];
  }
  uint64_t next = first_record(t0, R->burn, R->rec);
  for (uint64_t ta = t0; ta < t1; ta += CHUNK) {
    uint64_t tb = t1 - ta < CHUNK ? t1 : ta + CHUNK;
    fast_noise(buf, s, inc, zc, ta, tb, noise);
    for (uint64_t t = ta; t < tb; t++) {
      /* the eight vectors interleaved: eight independent exp chains in flight */
      vd g[NV], gp[NV], y[NV];
#pragma GCC unroll 8
      for (int v = 0; v < NV; v++) {
        g[v] = vset(c);
        gp[v] = vset(0.0);
      }
      for (int k = 0; k < K; k++) {
        const double mk = M->m[k], ak = M->a[k], nbk = -M->b[k], b2k = M->b2[k];
#pragma GCC unroll 8
        for (int v = 0; v < NV; v++) {
          vd d = th[v] - mk;
          vd ae = ak * v_exp_neg((d * d) * nbk);
          g[v] = g[v] + ae;
          gp[v] = gp[v] - (ae * d) * b2k;
        }
      }
      vi in = ~(vi){0}; /* all lanes inside so far */
#pragma GCC unroll 8
      for (int v = 0; v < NV; v++) {
        vd x = th[v], eta = buf[t - ta][v];
        vd gq = gp[v] / g[v]; /* U' = -L g'/g */
        if (dm == DM_CONST) {
          y[v] = (x + hL * gq) + amp0 * eta;
        } else {
          vd dU = -L * gq;
          vd D;
          if (dm == DM_LOSS)
            D = 1.0 + ws * (-L * v_log_normal(g[v]) - umin); /* g >= c > 0 */
          else if (dm == DM_GRAD)
            D = 1.0 + ws * (dU * dU);
          else
            D = v_exp(ws * x);
          y[v] = (x + hL * gq) + vsqrt(hT * D) * eta;
        }
        in &= (vi)(y[v] >= lo) & (vi)(y[v] <= hi); /* false for NaN */
      }
      int all_inside = 1;
#if defined(__AVX512F__)
      all_inside = _mm512_cmpeq_epi64_mask((__m512i)in, _mm512_set1_epi64(-1)) == 0xff;
#else
      for (int l = 0; l < W; l++) all_inside &= in[l] != 0;
#endif
      if (!all_inside) { /* rare: fold the lanes outside, one by one */
        for (int v = 0; v < NV; v++)
          for (int l = 0; l < W; l++) {
            double f = fold(y[v][l], lo, hi);
            if (isnan(f)) {
              size_t i = o + (size_t)v * W + (size_t)l;
              if (R->dead[i] == 0) {
                R->dead[i] = t + 1;
                R->dead_from[i] = th[v][l];
              }
              f = lo;
            }
            y[v][l] = f;
          }
      }
#pragma GCC unroll 8
      for (int v = 0; v < NV; v++) th[v] = y[v];
      if (t + 1 == next) {
        for (int v = 0; v < NV; v++)
          for (int l = 0; l < W; l++)
            if (o + (size_t)v * W + (size_t)l < R->n)
              hrow[bin_of(th[v][l], lo, R->scale, R->bins)]++;
        next += R->rec;
      }
    }
  }
  for (int v = 0; v < NV; v++) {
    *(vd *)&R->th[o + (size_t)v * W] = th[v];
    *(vd *)&R->zc[o + (size_t)v * W] = zc[v];
    *(vu *)&R->st[o + (size_t)v * W] = s[v];
  }
}

#define FAST_CASE(nz, d)                                     \
  case (int)(nz) * 4 + (int)(d):                             \
    fast_block_impl(M, R, blk, t0, t1, hrow, (nz), (d));     \
    break;

static void fast_block(const mixture_t *M, run1d_t *R, size_t blk, uint64_t t0, uint64_t t1,
                       uint64_t *hrow) {
  switch ((int)R->noise * 4 + (int)M->dm) {
    FAST_CASE(VALLEY_LNOISE_GAUSSIAN, DM_CONST)
    FAST_CASE(VALLEY_LNOISE_GAUSSIAN, DM_LOSS)
    FAST_CASE(VALLEY_LNOISE_GAUSSIAN, DM_GRAD)
    FAST_CASE(VALLEY_LNOISE_GAUSSIAN, DM_EXP)
    FAST_CASE(VALLEY_LNOISE_UNIFORM, DM_CONST)
    FAST_CASE(VALLEY_LNOISE_UNIFORM, DM_LOSS)
    FAST_CASE(VALLEY_LNOISE_UNIFORM, DM_GRAD)
    FAST_CASE(VALLEY_LNOISE_UNIFORM, DM_EXP)
    FAST_CASE(VALLEY_LNOISE_TWO_POINT, DM_CONST)
    FAST_CASE(VALLEY_LNOISE_TWO_POINT, DM_LOSS)
    FAST_CASE(VALLEY_LNOISE_TWO_POINT, DM_GRAD)
    FAST_CASE(VALLEY_LNOISE_TWO_POINT, DM_EXP)
  default:
    break;
  }
}
#undef FAST_CASE

/* The first particle (lowest index) whose theta became non-finite, as an error. */
static valley_status_t blowup_error(const run1d_t *R, valley_error_t *err) {
  for (size_t i = 0; i < R->n; i++)
    if (R->dead[i] != 0)
      return VALLEY_ERROR(err, VALLEY_EDOM,
                          "blow-up: theta of particle %zu became non-finite at step %llu (from "
                          "theta = %.17g): the step is too large for the landscape, or U' or D "
                          "is not finite there",
                          i, (unsigned long long)R->dead[i], R->dead_from[i]);
  return VALLEY_OK;
}

/* Runs every block over every step in progress segments; mixture != NULL picks the vectorised
 * kernel.  Each particle's state carries over, so the segmentation changes no number. */
static valley_status_t run1d(const valley_fp1d_t *prob, const mixture_t *mixture,
                             const valley_langevin1d_config_t *cfg,
                             valley_langevin1d_result_t *res, valley_error_t *err) {
  if (res == NULL || res->particles != cfg->particles || res->bins != cfg->bins)
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "result holds %zu particles and %zu bins, configuration %zu and %zu",
                        res != NULL ? res->particles : 0, res != NULL ? res->bins : 0,
                        cfg->particles, cfg->bins);
  run1d_t R;
  valley_status_t st = run1d_init(&R, cfg, prob->lo, prob->hi, err);
  if (st != VALLEY_OK) return st;
  run1d_t *Rp = &R;
  uint64_t nseg = cfg->progress != NULL ? 100 : 1;
  if (nseg > cfg->steps) nseg = cfg->steps;
  uint64_t t0 = 0;
  for (uint64_t seg = 1; seg <= nseg; seg++) {
    uint64_t t1 = seg == nseg ? cfg->steps : cfg->steps / nseg * seg;
    size_t nblocks = R.nblocks;
#ifdef VALLEY_HAVE_OPENMP
    int nthreads = R.nthreads;
#pragma omp parallel for num_threads(nthreads) schedule(dynamic, 1) default(none) \
    shared(prob, mixture, Rp, nblocks, t0, t1)
#endif
    for (size_t b = 0; b < nblocks; b++) {
      int tid = 0;
#ifdef VALLEY_HAVE_OPENMP
      tid = omp_get_thread_num();
#endif
      uint64_t *hrow = Rp->hrows + (size_t)tid * Rp->bins;
      if (mixture != NULL)
        fast_block(mixture, Rp, b, t0, t1, hrow);
      else
        generic_block(prob, Rp, b, t0, t1, hrow);
    }
    t0 = t1;
    st = blowup_error(&R, err);
    if (st != VALLEY_OK) {
      run1d_free(&R);
      return st;
    }
    if (cfg->progress != NULL &&
        cfg->progress((double)t1 / (double)cfg->steps, cfg->progress_arg) != 0) {
      run1d_free(&R);
      return VALLEY_ERROR(err, VALLEY_ECANCEL, "run cancelled after %llu of %llu steps",
                          (unsigned long long)t1, (unsigned long long)cfg->steps);
    }
  }
  res->lo = R.lo;
  res->hi = R.hi;
  res->fast = mixture != NULL;
  memset(res->hist, 0, cfg->bins * sizeof *res->hist);
  memset(res->path_hist, 0, cfg->bins * sizeof *res->path_hist);
  for (size_t i = 0; i < R.n; i++) {
    res->theta[i] = R.th[i];
    res->hist[bin_of(R.th[i], R.lo, R.scale, R.bins)]++;
  }
  res->path_samples = 0;
  for (int r = 0; r < R.nthreads; r++)
    for (size_t k = 0; k < R.bins; k++) res->path_hist[k] += R.hrows[(size_t)r * R.bins + k];
  for (size_t k = 0; k < R.bins; k++) res->path_samples += res->path_hist[k];
  run1d_free(&R);
  return VALLEY_OK;
}

valley_status_t valley_langevin1d_run(const valley_fp1d_t *prob,
                                      const valley_langevin1d_config_t *cfg,
                                      valley_langevin1d_result_t *res, valley_error_t *err) {
  valley_status_t st = valley_langevin1d_config_check(cfg, err);
  if (st != VALLEY_OK) return st;
  if (prob == NULL || prob->eval == NULL)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "the problem has no eval callback");
  return run1d(prob, NULL, cfg, res, err);
}

valley_status_t valley_langevin1d_run_basin(const valley_basin1d_t *b,
                                            const valley_langevin1d_config_t *cfg,
                                            valley_langevin1d_result_t *res,
                                            valley_error_t *err) {
  valley_status_t st = valley_langevin1d_config_check(cfg, err);
  if (st != VALLEY_OK) return st;
  if (b == NULL) return VALLEY_ERROR(err, VALLEY_EINVAL, "no landscape");
  valley_fp1d_t prob;
  if (cfg->force_generic || b->kind != VALLEY_BLAND_MIXTURE) {
    valley_basin1d_problem(b, &prob);
    return run1d(&prob, NULL, cfg, res, err);
  }
  memset(&prob, 0, sizeof prob);
  prob.lo = b->lo;
  prob.hi = b->hi;
  if (b->n < 1 || b->n > VALLEY_BASIN1D_MAXK)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "the mixture has %zu components (1..%d allowed)",
                        b->n, VALLEY_BASIN1D_MAXK);
  if (!(b->c > 0) || !(b->lscale > 0) || !(b->wscale >= 0) || !isfinite(b->c) ||
      !isfinite(b->lscale) || !isfinite(b->wscale) || !isfinite(b->umin))
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "mixture needs c > 0, lscale > 0, wscale >= 0 and umin finite (got c = "
                        "%g, lscale = %g, wscale = %g, umin = %g)",
                        b->c, b->lscale, b->wscale, b->umin);
  mixture_t M;
  memset(&M, 0, sizeof M);
  M.K = (int)b->n;
  for (size_t k = 0; k < b->n; k++) {
    double s = b->sigmas[k];
    if (!(s > 0) || !(b->weights[k] > 0) || !isfinite(b->minima[k]) || !isfinite(s) ||
        !isfinite(b->weights[k]))
      return VALLEY_ERROR(err, VALLEY_EINVAL,
                          "mixture component %zu needs a finite minimum, weight > 0 and sigma > "
                          "0 (got %g, %g, %g)",
                          k, b->minima[k], b->weights[k], s);
    M.m[k] = b->minima[k];
    M.a[k] = b->weights[k] / (s * 2.5066282746310005024); /* w N(m; m, s^2) */
    M.b[k] = 1.0 / (2.0 * s * s);
    M.b2[k] = 1.0 / (s * s);
  }
  M.c = b->c;
  M.L = b->lscale;
  M.umin = b->umin;
  M.ws = b->wscale;
  if (b->wscale == 0)
    M.dm = DM_CONST;
  else if (b->noise == VALLEY_DNOISE_LOSS)
    M.dm = DM_LOSS;
  else if (b->noise == VALLEY_DNOISE_GRAD)
    M.dm = DM_GRAD;
  else if (b->noise == VALLEY_DNOISE_EXP)
    M.dm = DM_EXP;
  else
    return VALLEY_ERROR(err, VALLEY_EINVAL, "unknown noise model %d", (int)b->noise);
  return run1d(&prob, &M, cfg, res, err);
}

/* ---------------------------------------------------------------------------------------- */
/* L1 distance and its multinomial noise level.                                              */

valley_status_t valley_langevin_l1(const double *p, const uint64_t *hist, size_t bins, int reps,
                                   uint64_t seed, valley_langevin_l1_t *out,
                                   valley_error_t *err) {
  if (p == NULL || hist == NULL || out == NULL || bins == 0)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "L1: missing probabilities, histogram or bins");
  if (reps < 2) return VALLEY_ERROR(err, VALLEY_EINVAL, "L1: reps must be >= 2 (got %d)", reps);
  double psum = 0;
  uint64_t n = 0;
  for (size_t i = 0; i < bins; i++) {
    if (!isfinite(p[i]) || !(p[i] >= 0))
      return VALLEY_ERROR(err, VALLEY_EINVAL, "L1: p[%zu] = %g is not a probability", i, p[i]);
    psum += p[i];
    n += hist[i];
  }
  if (!(fabs(psum - 1.0) <= 1e-3))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "L1: the probabilities sum to %.17g, not 1", psum);
  if (n == 0 || n > UINT_MAX)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "L1: the histogram holds %llu samples (1..%u allowed)",
                        (unsigned long long)n, UINT_MAX);
  double *q = malloc(bins * sizeof *q);
  unsigned int *cnt = malloc(bins * sizeof *cnt);
  gsl_rng *r = valley_pcg32_gsl_alloc(seed, 0);
  if (q == NULL || cnt == NULL || r == NULL) {
    free(q);
    free(cnt);
    if (r != NULL) gsl_rng_free(r);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "L1: cannot allocate %zu bins", bins);
  }
  double l1 = 0;
  for (size_t i = 0; i < bins; i++) {
    q[i] = p[i] / psum;
    l1 += fabs((double)hist[i] / (double)n - q[i]);
  }
  double mean = 0, m2 = 0; /* Welford */
  for (int k = 0; k < reps; k++) {
    gsl_ran_multinomial(r, bins, (unsigned int)n, q, cnt);
    double d = 0;
    for (size_t i = 0; i < bins; i++) d += fabs((double)cnt[i] / (double)n - q[i]);
    double delta = d - mean;
    mean += delta / (k + 1);
    m2 += delta * (d - mean);
  }
  out->n = n;
  out->l1 = l1;
  out->noise_mean = mean;
  out->noise_sd = sqrt(m2 / (reps - 1));
  out->reps = reps;
  free(q);
  free(cnt);
  gsl_rng_free(r);
  return VALLEY_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* 2-D ensembles (generic kernel only).                                                      */

void valley_langevin2d_config_default(valley_langevin2d_config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->T = 1.0;
  cfg->dt = 1e-3;
  cfg->particles = 1024;
  cfg->steps = 1000;
  cfg->seed = 1;
  cfg->nx = cfg->ny = 50;
}

valley_status_t valley_langevin2d_config_check(const valley_langevin2d_config_t *cfg,
                                               valley_error_t *err) {
  valley_status_t st = check_common(cfg->T, cfg->dt, "step dt", cfg->particles, cfg->steps,
                                    cfg->burn_in, cfg->record_every, cfg->threads, err);
  if (st != VALLEY_OK) return st;
  if (cfg->nx == 0 || cfg->ny == 0 || cfg->nx > MAX_BINS / cfg->ny)
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "nx and ny must be >= 1 with nx ny <= %zu (got %zu, %zu)", MAX_BINS,
                        cfg->nx, cfg->ny);
  if ((cfg->x0 == NULL) != (cfg->y0 == NULL))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "give both x0 and y0, or neither");
  return VALLEY_OK;
}

valley_langevin2d_result_t *valley_langevin2d_result_alloc(size_t particles, size_t nx,
                                                           size_t ny) {
  valley_langevin2d_result_t *r = calloc(1, sizeof *r);
  if (r == NULL) return NULL;
  size_t cells = nx * ny > 0 ? nx * ny : 1;
  r->x = calloc(particles > 0 ? particles : 1, sizeof *r->x);
  r->y = calloc(particles > 0 ? particles : 1, sizeof *r->y);
  r->hist = calloc(cells, sizeof *r->hist);
  r->path_hist = calloc(cells, sizeof *r->path_hist);
  if (r->x == NULL || r->y == NULL || r->hist == NULL || r->path_hist == NULL) {
    valley_langevin2d_result_free(r);
    return NULL;
  }
  r->particles = particles;
  r->nx = nx;
  r->ny = ny;
  return r;
}

void valley_langevin2d_result_free(valley_langevin2d_result_t *r) {
  if (r == NULL) return;
  free(r->x);
  free(r->y);
  free(r->hist);
  free(r->path_hist);
  free(r);
}

typedef struct {
  size_t n, nblocks, nx, ny;
  double xlo, xhi, ylo, yhi, sx, sy;
  double dt, hT;
  uint64_t burn, rec;
  double *x, *y;
  uint64_t *st, *inc, *dead;
  double *dead_x, *dead_y;
  uint64_t *hrows;
} run2d_t;

static void run2d_free(run2d_t *R) {
  free(R->x);
  free(R->y);
  free(R->st);
  free(R->inc);
  free(R->dead);
  free(R->dead_x);
  free(R->dead_y);
  free(R->hrows);
}

static inline size_t cell_of(const run2d_t *R, double x, double y) {
  return bin_of(y, R->ylo, R->sy, R->ny) * R->nx + bin_of(x, R->xlo, R->sx, R->nx);
}

static void block2d(const valley_fp2d_t *prob, run2d_t *R, size_t blk, uint64_t t0, uint64_t t1,
                    uint64_t *hrow) {
  const double dt = R->dt, hT = R->hT;
  for (size_t i = blk * LANES; i < (blk + 1) * LANES && i < R->n; i++) {
    if (R->dead[i]) continue;
    valley_pcg32_t rng = {R->st[i], R->inc[i]};
    double x = R->x[i], y = R->y[i];
    uint64_t next = first_record(t0, R->burn, R->rec);
    for (uint64_t t = t0; t < t1; t++) {
      double z1, z2;
      normal_pair(&rng, &z1, &z2);
      valley_fp2d_eval_t e;
      prob->eval(x, y, prob->params, &e);
      double xn = fold(x - dt * e.Ux + sqrt(hT * e.d1) * z1, R->xlo, R->xhi);
      double yn = fold(y - dt * e.Uy + sqrt(hT * e.d2) * z2, R->ylo, R->yhi);
      if (isnan(xn) || isnan(yn)) {
        R->dead[i] = t + 1;
        R->dead_x[i] = x;
        R->dead_y[i] = y;
        break;
      }
      x = xn;
      y = yn;
      if (t + 1 == next) {
        hrow[cell_of(R, x, y)]++;
        next += R->rec;
      }
    }
    R->x[i] = x;
    R->y[i] = y;
    R->st[i] = rng.state;
    R->inc[i] = rng.inc;
  }
}

static valley_status_t run2d_init(run2d_t *R, const valley_fp2d_t *prob,
                                  const valley_langevin2d_config_t *cfg, valley_error_t *err) {
  memset(R, 0, sizeof *R);
  const double b[4] = {prob->xlo, prob->xhi, prob->ylo, prob->yhi};
  for (int k = 0; k < 4; k++)
    if (!isfinite(b[k]))
      return VALLEY_ERROR(err, VALLEY_EINVAL, "the box [%g, %g] x [%g, %g] must be finite", b[0],
                          b[1], b[2], b[3]);
  if (!(b[0] < b[1]) || !(b[2] < b[3]) || !isfinite(b[1] - b[0]) || !isfinite(b[3] - b[2]))
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "the box [%g, %g] x [%g, %g] needs lo < hi and finite widths", b[0], b[1],
                        b[2], b[3]);
  R->n = cfg->particles;
  R->nblocks = (R->n + LANES - 1) / LANES;
  R->nx = cfg->nx;
  R->ny = cfg->ny;
  R->xlo = b[0];
  R->xhi = b[1];
  R->ylo = b[2];
  R->yhi = b[3];
  R->sx = (double)cfg->nx / (b[1] - b[0]);
  R->sy = (double)cfg->ny / (b[3] - b[2]);
  R->dt = cfg->dt;
  R->hT = cfg->dt * cfg->T;
  R->burn = cfg->burn_in;
  R->rec = cfg->record_every;
  int nth = nthreads_of(cfg->threads);
  size_t n = R->n;
  R->x = malloc(n * sizeof *R->x);
  R->y = malloc(n * sizeof *R->y);
  R->st = malloc(n * sizeof *R->st);
  R->inc = malloc(n * sizeof *R->inc);
  R->dead = calloc(n, sizeof *R->dead);
  R->dead_x = calloc(n, sizeof *R->dead_x);
  R->dead_y = calloc(n, sizeof *R->dead_y);
  R->hrows = calloc((size_t)nth * R->nx * R->ny, sizeof *R->hrows);
  if (R->x == NULL || R->y == NULL || R->st == NULL || R->inc == NULL || R->dead == NULL ||
      R->dead_x == NULL || R->dead_y == NULL || R->hrows == NULL) {
    run2d_free(R);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "cannot allocate the state of %zu particles", n);
  }
  for (size_t i = 0; i < n; i++) {
    valley_pcg32_t rng;
    valley_pcg32_seed(&rng, cfg->seed, (uint64_t)i);
    double x, y;
    if (cfg->x0 != NULL) {
      x = cfg->x0[i];
      y = cfg->y0[i];
    } else {
      x = fmin(b[1], b[0] + (b[1] - b[0]) * valley_pcg32_double(&rng));
      y = fmin(b[3], b[2] + (b[3] - b[2]) * valley_pcg32_double(&rng));
    }
    if (!(x >= b[0] && x <= b[1] && y >= b[2] && y <= b[3])) {
      run2d_free(R);
      return VALLEY_ERROR(err, VALLEY_EINVAL,
                          "initial position of particle %zu (%g, %g) is outside the box", i, x,
                          y);
    }
    R->x[i] = x;
    R->y[i] = y;
    R->st[i] = rng.state;
    R->inc[i] = rng.inc;
  }
  return VALLEY_OK;
}

valley_status_t valley_langevin2d_run(const valley_fp2d_t *prob,
                                      const valley_langevin2d_config_t *cfg,
                                      valley_langevin2d_result_t *res, valley_error_t *err) {
  valley_status_t st = valley_langevin2d_config_check(cfg, err);
  if (st != VALLEY_OK) return st;
  if (prob == NULL || prob->eval == NULL)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "the problem has no eval callback");
  if (res == NULL || res->particles != cfg->particles || res->nx != cfg->nx || res->ny != cfg->ny)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "result sizes differ from the configuration's");
  run2d_t R;
  st = run2d_init(&R, prob, cfg, err);
  if (st != VALLEY_OK) return st;
  run2d_t *Rp = &R;
  size_t cells = R.nx * R.ny;
  uint64_t nseg = cfg->progress != NULL ? 100 : 1;
  if (nseg > cfg->steps) nseg = cfg->steps;
  uint64_t t0 = 0;
  for (uint64_t seg = 1; seg <= nseg; seg++) {
    uint64_t t1 = seg == nseg ? cfg->steps : cfg->steps / nseg * seg;
    size_t nblocks = R.nblocks;
#ifdef VALLEY_HAVE_OPENMP
    int nthreads = nthreads_of(cfg->threads);
#pragma omp parallel for num_threads(nthreads) schedule(dynamic, 1) default(none) \
    shared(prob, Rp, nblocks, t0, t1, cells)
#endif
    for (size_t b = 0; b < nblocks; b++) {
      int tid = 0;
#ifdef VALLEY_HAVE_OPENMP
      tid = omp_get_thread_num();
#endif
      block2d(prob, Rp, b, t0, t1, Rp->hrows + (size_t)tid * cells);
    }
    t0 = t1;
    for (size_t i = 0; i < R.n; i++)
      if (R.dead[i] != 0) {
        st = VALLEY_ERROR(err, VALLEY_EDOM,
                          "blow-up: (x, y) of particle %zu became non-finite at step %llu (from "
                          "(%.17g, %.17g)): the step is too large for the landscape, or the "
                          "gradient or D is not finite there",
                          i, (unsigned long long)R.dead[i], R.dead_x[i], R.dead_y[i]);
        run2d_free(&R);
        return st;
      }
    if (cfg->progress != NULL &&
        cfg->progress((double)t1 / (double)cfg->steps, cfg->progress_arg) != 0) {
      run2d_free(&R);
      return VALLEY_ERROR(err, VALLEY_ECANCEL, "run cancelled after %llu of %llu steps",
                          (unsigned long long)t1, (unsigned long long)cfg->steps);
    }
  }
  res->xlo = R.xlo;
  res->xhi = R.xhi;
  res->ylo = R.ylo;
  res->yhi = R.yhi;
  memset(res->hist, 0, cells * sizeof *res->hist);
  memset(res->path_hist, 0, cells * sizeof *res->path_hist);
  for (size_t i = 0; i < R.n; i++) {
    res->x[i] = R.x[i];
    res->y[i] = R.y[i];
    res->hist[cell_of(&R, R.x[i], R.y[i])]++;
  }
  int nth = nthreads_of(cfg->threads);
  res->path_samples = 0;
  for (int r = 0; r < nth; r++)
    for (size_t k = 0; k < cells; k++) res->path_hist[k] += R.hrows[(size_t)r * cells + k];
  for (size_t k = 0; k < cells; k++) res->path_samples += res->path_hist[k];
  run2d_free(&R);
  return VALLEY_OK;
}
