/* The vector elementary functions of the Langevin kernel: eight doubles a vector (GCC/Clang
 * vector extensions, AVX-512 where the machine has it), with the kernel's own exp, log, sin/cos
 * and Box-Muller.  Every lane does the same IEEE operations whatever the instruction set, so
 * results do not depend on it.  Included by sim/langevin_vec.c (the kernel) and by
 * bench/bench_limit.c (the machine-limit loops of the ensembles, which must use the kernel's own
 * functions); sim/langevin_cuda.cu writes the same operations out for the GPU.  docs/langevin.md
 * gives the methods and their accuracy.  Not installed. */
#ifndef VALLEY_VEC_MATH_H
#define VALLEY_VEC_MATH_H

#include <math.h>
#include <stdint.h>

#include "valley/pcg.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#ifndef TWO_PI
#define TWO_PI 6.283185307179586476925286766559
#endif
#define W 8
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

#endif
