/* The vectorised kernel of the Langevin and SGD ensembles for basin1d mixtures (shift-curvature
 * paper, eqs. (5), (10), (11); Appendix A for non-Gaussian minibatch noise): its own exp, log,
 * sin/cos and Box-Muller, eight lanes to a vector (GCC/Clang vector extensions, AVX-512 where the
 * machine has it), and the fast block of sim/langevin.c's 1-D runner.  docs/langevin.md
 * describes the methods and their accuracy. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "langevin_internal.h"
#include "valley/langevin.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

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
/* The fast kernel: basin1d mixtures, LANES particles a block.                              */

/* The vectorised kernel: the block's eight vectors advance in lock step over [t0, t1), in chunks
 * of CHUNK steps: first the chunk's noise for every lane (independent of theta, so this loop
 * runs at full throughput), then the drift steps, whose dependency chain is the exp.
 * `noise` and `dm` are constants in each instantiation (see valley_langevin_fast_block). */
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
    s[v] = *(const vu *)&R->e.st[o + (size_t)v * W];
    inc[v] = *(const vu *)&R->e.inc[o + (size_t)v * W];
  }
  uint64_t next = first_record(t0, R->e.burn, R->e.rec);
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
              if (R->e.dead[i] == 0) {
                R->e.dead[i] = t + 1;
                R->e.dead_from[i] = th[v][l];
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
            if (o + (size_t)v * W + (size_t)l < R->e.n)
              hrow[bin_of(th[v][l], lo, R->scale, R->bins)]++;
        next += R->e.rec;
      }
    }
  }
  for (int v = 0; v < NV; v++) {
    *(vd *)&R->th[o + (size_t)v * W] = th[v];
    *(vd *)&R->zc[o + (size_t)v * W] = zc[v];
    *(vu *)&R->e.st[o + (size_t)v * W] = s[v];
  }
}

#define FAST_CASE(nz, d)                                     \
  case (int)(nz) * 4 + (int)(d):                             \
    fast_block_impl(M, R, blk, t0, t1, hrow, (nz), (d));     \
    break;

void valley_langevin_fast_block(const mixture_t *M, run1d_t *R, size_t blk, uint64_t t0,
                                uint64_t t1, uint64_t *hrow) {
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
