/* The CUDA kernel of the 1-D Langevin and SGD ensembles on mixture landscapes
 * (include/valley/langevin.h, docs/cuda.md): one GPU thread per particle.
 *
 * Each thread repeats what the vectorised CPU kernel (sim/langevin_vec.c) does for one lane: the
 * same PCG32 stream (particle i draws from stream i), the same noise (Box-Muller pairs of three
 * outputs at even steps, uniform, two-point), the same mixture gradient and diffusion, the same
 * walls and path histogram, and the kernel's own exp, log and sin/cos, written out here in the
 * same IEEE double operations in the same order (table lookups, bit manipulations, polynomials,
 * correctly rounded division and square root; no FMA: the file is compiled with --fmad=false).
 * So every particle's path is the CPU kernel's bit for bit (tests/test_langevin_cuda.c). */
#include <cuda_runtime.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_util.cuh"
#include "langevin_cuda_engine.h"

namespace {

const int kThreads = 128;
const unsigned long long kMult = 6364136223846793005ULL; /* VALLEY_PCG32_MULT */
#define TWO_PI 6.283185307179586476925286766559
#define SQRT3 1.7320508075688772935274463415059
#define LN2_HI 6.93147180369123816490e-01
#define LN2_LO 1.90821492927058770002e-10

/* 2^(j/16), j = 0..15: exp_core's table (sim/langevin_vec.c) */
__device__ const double kExp2Table[16] = {
    1.0,
    1.044273782427413840321966478739929,
    1.090507732665257659207010655760708,
    1.1387886347566916537038302838415113,
    1.1892071150027210667174999705604759,
    1.2418578120734840485936774687265956,
    1.2968395546510096659337541177924512,
    1.3542555469368927282980147401407028,
    1.4142135623730950488016887242096981,
    1.4768261459394993113869074803740499,
    1.5422108254079408236122918620907348,
    1.6104903319492543081795206673574006,
    1.6817928305074290860622509524664298,
    1.7562521603732994831121606193753132,
    1.8340080864093424634870831895882889,
    1.9152065613971472938726112702958309};

struct lv_params {
  int K;
  double m[VCU_LV_MAXK], a[VCU_LV_MAXK], nb[VCU_LV_MAXK], b2[VCU_LV_MAXK];
  double c, L, umin, ws;
  double lo, hi, scale, hT, amp0, hL;
  unsigned long long n, bins, burn, rec;
};

__device__ __forceinline__ double bits_d(unsigned long long u) { return __longlong_as_double((long long)u); }
__device__ __forceinline__ unsigned long long d_bits(double x) {
  return (unsigned long long)__double_as_longlong(x);
}

/* exp_core of sim/langevin_vec.c: x = (16e + j) ln2/16 + r, 2^(j/16) e^r, sets *e. */
__device__ __forceinline__ double exp_core(double x, long long *e) {
  const double shifter = 0x1.8p52;
  double sum = x * 23.083120654223414518 + shifter;
  double nd = sum - shifter;
  long long n = (long long)(d_bits(sum) - d_bits(shifter));
  double r = (x - nd * (LN2_HI / 16)) - nd * (LN2_LO / 16);
  double r2 = r * r, r4 = r2 * r2;
  double p01 = r * 0.16666666665296222739 + 0.5;
  double p23 = r * 0.0083334499341071853523 + 0.041666666664953614554;
  double P = (p01 + r2 * p23) + r4 * 0.0013889034639665864761;
  double q = r + r2 * P;
  double t = kExp2Table[n & 15];
  *e = n >> 4;
  return t + t * q;
}

/* vmax_c(a, x) and vmin_c(a, x): NaN in x passes through. */
__device__ __forceinline__ double max_c(double a, double x) { return x < a ? a : x; }
__device__ __forceinline__ double min_c(double a, double x) { return x > a ? a : x; }

/* v_exp: any x, clamped to [-746, 710], 2^e in two halves. */
__device__ __forceinline__ double k_exp(double x) {
  long long e;
  double m = exp_core(min_c(710.0, max_c(-746.0, x)), &e);
  long long e1 = e >> 1, e2 = e - e1;
  return (m * bits_d((unsigned long long)(e1 + 1023) << 52)) *
         bits_d((unsigned long long)(e2 + 1023) << 52);
}

/* v_exp_neg: x <= 0, flushed to 0 below 2^-1022. */
__device__ __forceinline__ double k_exp_neg(double x) {
  long long e;
  double m = exp_core(max_c(-709.0, x), &e);
  return m * bits_d((unsigned long long)(e + 1023) << 52);
}

/* v_log_normal: log x for positive normal x. */
__device__ __forceinline__ double k_log_normal(double x) {
  unsigned long long bits = d_bits(x);
  long long e = (long long)(bits >> 52) - 1023;
  double m = bits_d((bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL);
  if (m > 1.4142135623730950488) {
    m = m * 0.5;
    e = e + 1;
  }
  double f = m - 1.0;
  double s = f / (2.0 + f);
  double z = s * s;
  double Q = 0.1461644968504340586;
  Q = Q * z + 0.15331721600556041269;
  Q = Q * z + 0.1818288912526172208;
  Q = Q * z + 0.22222211134795079855;
  Q = Q * z + 0.28571428625975484921;
  Q = Q * z + 0.3999999999989950449;
  Q = Q * z + 0.66666666666666696862;
  double R = z * Q;
  double hfsq = 0.5 * f * f;
  double ed = (double)e;
  return ed * LN2_HI - ((hfsq - (s * (hfsq + R) + ed * LN2_LO)) - f);
}

/* v_sincos2pi: sin and cos of 2 pi u, u in [0, 1]. */
__device__ __forceinline__ void k_sincos2pi(double u, double *sn, double *cs) {
  const double shifter = 0x1.8p52;
  double sum = u * 4.0 + shifter;
  double qd = sum - shifter;
  unsigned long long q = (d_bits(sum) - d_bits(shifter)) & 3u;
  double f = u - qd * 0.25;
  double a = f * TWO_PI;
  double z = a * a;
  double S = 1.5918129294866608667e-10;
  S = S * z - 2.5051131845003624417e-8;
  S = S * z + 2.7557316102552440119e-6;
  S = S * z - 0.00019841269836758574323;
  S = S * z + 0.0083333333333309484855;
  S = S * z - 0.16666666666666664624;
  double sa = a + (a * z) * S;
  double C = -1.1382632425521718005e-11;
  C = C * z + 2.0876146268403197893e-9;
  C = C * z - 2.7557317271729792882e-7;
  C = C * z + 0.000024801587298765687927;
  C = C * z - 0.0013888888888887397237;
  C = C * z + 0.041666666666666665389;
  double hz = 0.5 * z, w = 1.0 - hz;
  double ca = w + (((1.0 - w) - hz) + (z * z) * C);
  bool swap = (q & 1u) != 0;
  double s0 = swap ? ca : sa, c0 = swap ? sa : ca;
  unsigned long long sneg = (q >> 1) << 63;
  unsigned long long cneg = (((q + 1u) >> 1) & 1u) << 63;
  *sn = bits_d(d_bits(s0) ^ sneg);
  *cs = bits_d(d_bits(c0) ^ cneg);
}

__device__ __forceinline__ unsigned long long pcg_out(unsigned long long &st,
                                                      unsigned long long inc) {
  unsigned long long old = st;
  st = old * kMult + inc;
  unsigned xs = (unsigned)(((old >> 18) ^ old) >> 27);
  unsigned rot = (unsigned)(old >> 59);
  return (xs >> rot) | (xs << ((0u - rot) & 31u));
}

/* fold() of sim/langevin_internal.h: mirror reflection into [lo, hi], NaN when not finite. */
__device__ double fold(double x, double lo, double hi) {
  if (x >= lo && x <= hi) return x;
  double y = x > hi ? hi - (x - hi) : lo + (lo - x);
  if (y >= lo && y <= hi) return y;
  if (!isfinite(x)) return NAN;
  double L = hi - lo, P = 2.0 * L;
  double r = fmod(x - lo, P);
  if (r < 0) r += P;
  if (r > L) r = P - r;
  y = lo + r;
  return y < lo ? lo : y > hi ? hi : y;
}

__device__ __forceinline__ unsigned long long bin_of(double theta, double lo, double scale,
                                                     unsigned long long bins) {
  double f = (theta - lo) * scale;
  if (!(f >= 0)) return 0;
  if (f >= (double)bins) return bins - 1;
  return (unsigned long long)f;
}

/* first_record() of sim/langevin_internal.h */
__device__ __forceinline__ unsigned long long first_record(unsigned long long t0,
                                                           unsigned long long burn,
                                                           unsigned long long rec) {
  if (rec == 0) return ~0ULL;
  if (t0 + 1 <= burn + rec) return burn + rec;
  unsigned long long k = (t0 + 1 - burn + rec - 1) / rec;
  return burn + k * rec;
}

struct lv_state {
  unsigned long long *st, *inc, *dead;
  double *th, *zc, *dead_from;
  unsigned long long *path;
  int *any_dead;
};

/* NOISE: 0 Gaussian, 1 uniform, 2 two-point; DM: 0 constant, 1 loss, 2 grad, 3 exp. */
template <int NOISE, int DM>
__global__ void __launch_bounds__(kThreads)
    lv_advance(lv_state s, const lv_params *__restrict__ pp, unsigned long long t0,
               unsigned long long t1) {
  size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  const lv_params &p = *pp;
  if (i >= p.n) return;
  unsigned long long st = s.st[i], inc = s.inc[i];
  double th = s.th[i], zc = s.zc[i];
  bool dead = s.dead[i] != 0;
  unsigned long long next = first_record(t0, p.burn, p.rec);
  const double lo = p.lo, hi = p.hi;
  for (unsigned long long t = t0; t < t1; t++) {
    double eta;
    if (NOISE == 1) {
      double u = ((double)pcg_out(st, inc) + 0.5) * 0x1p-32;
      eta = SQRT3 * (2.0 * u - 1.0);
    } else if (NOISE == 2) {
      eta = (pcg_out(st, inc) >> 31) != 0 ? 1.0 : -1.0;
    } else if (t & 1u) {
      eta = zc;
    } else {
      unsigned long long o1 = pcg_out(st, inc), o2 = pcg_out(st, inc), o3 = pcg_out(st, inc);
      double u1 = 1.0 - (double)(((o1 >> 5) << 26) | (o2 >> 6)) * 0x1p-53;
      double u2 = (double)o3 * 0x1p-32;
      double r = sqrt(-2.0 * k_log_normal(u1));
      double sn, cs;
      k_sincos2pi(u2, &sn, &cs);
      eta = r * cs;
      zc = r * sn;
    }
    double g = p.c, gp = 0.0;
    for (int k = 0; k < p.K; k++) {
      double d = th - p.m[k];
      double ae = p.a[k] * k_exp_neg((d * d) * p.nb[k]);
      g = g + ae;
      gp = gp - (ae * d) * p.b2[k];
    }
    double gq = gp / g;
    double y;
    if (DM == 0) {
      y = (th + p.hL * gq) + p.amp0 * eta;
    } else {
      double dU = -p.L * gq;
      double D;
      if (DM == 1)
        D = 1.0 + p.ws * (-p.L * k_log_normal(g) - p.umin);
      else if (DM == 2)
        D = 1.0 + p.ws * (dU * dU);
      else
        D = k_exp(p.ws * th);
      y = (th + p.hL * gq) + sqrt(p.hT * D) * eta;
    }
    if (!(y >= lo && y <= hi)) {
      double f = fold(y, lo, hi);
      if (isnan(f)) {
        if (!dead) {
          dead = true;
          s.dead[i] = t + 1;
          s.dead_from[i] = th;
          atomicOr(s.any_dead, 1);
        }
        f = lo;
      }
      y = f;
    }
    th = y;
    if (t + 1 == next) {
      atomicAdd(&s.path[bin_of(th, lo, p.scale, p.bins)], 1ULL);
      next += p.rec;
    }
  }
  s.st[i] = st;
  s.th[i] = th;
  s.zc[i] = zc;
}


struct buffers {
  lv_state s{};
  lv_params *p = nullptr;
  ~buffers() {
    cudaFree(s.st);
    cudaFree(s.inc);
    cudaFree(s.dead);
    cudaFree(s.th);
    cudaFree(s.zc);
    cudaFree(s.dead_from);
    cudaFree(s.path);
    cudaFree(s.any_dead);
    cudaFree(p);
  }
};


template <int NOISE>
void launch_dm(int dm, unsigned blocks, const lv_state &s, const lv_params *p,
               unsigned long long t0, unsigned long long t1) {
  switch (dm) {
  case 0: lv_advance<NOISE, 0><<<blocks, kThreads>>>(s, p, t0, t1); break;
  case 1: lv_advance<NOISE, 1><<<blocks, kThreads>>>(s, p, t0, t1); break;
  case 2: lv_advance<NOISE, 2><<<blocks, kThreads>>>(s, p, t0, t1); break;
  default: lv_advance<NOISE, 3><<<blocks, kThreads>>>(s, p, t0, t1); break;
  }
}

} // namespace

extern "C" int vcu_lv_run(const vcu_lv_t *p, uint64_t *st, const uint64_t *inc, double *th,
                          double *zc, uint64_t *dead, double *dead_from, uint64_t *path,
                          char *msg, size_t msg_len) {
  int drc = vcu_use_device(p->device, msg, msg_len);
  if (drc != 0) return drc;
  if (p->K < 1 || p->K > VCU_LV_MAXK || p->n == 0 || p->segments == 0 || p->noise < 0 ||
      p->noise > 2 || p->dm < 0 || p->dm > 3) {
    vcu_say(msg, msg_len, "the CUDA ensemble got an invalid landscape or run (K %d, n %zu)", p->K,
        p->n);
    return 5;
  }
  lv_params q;
  memset(&q, 0, sizeof q);
  q.K = p->K;
  for (int k = 0; k < p->K; k++) {
    q.m[k] = p->m[k];
    q.a[k] = p->a[k];
    q.nb[k] = -p->b[k];
    q.b2[k] = p->b2[k];
  }
  q.c = p->c;
  q.L = p->L;
  q.umin = p->umin;
  q.ws = p->ws;
  q.lo = p->lo;
  q.hi = p->hi;
  q.scale = p->scale;
  q.hT = p->hT;
  q.amp0 = p->amp0;
  q.hL = p->hL;
  q.n = p->n;
  q.bins = p->bins;
  q.burn = p->burn;
  q.rec = p->rec;

  buffers b;
  size_t n = p->n;
  size_t u64n = n * sizeof(unsigned long long), dn = n * sizeof(double);
  VCU_CHECK(cudaMalloc(&b.s.st, u64n));
  VCU_CHECK(cudaMalloc(&b.s.inc, u64n));
  VCU_CHECK(cudaMalloc(&b.s.dead, u64n));
  VCU_CHECK(cudaMalloc(&b.s.th, dn));
  VCU_CHECK(cudaMalloc(&b.s.zc, dn));
  VCU_CHECK(cudaMalloc(&b.s.dead_from, dn));
  VCU_CHECK(cudaMalloc(&b.s.path, p->bins * sizeof(unsigned long long)));
  VCU_CHECK(cudaMalloc(&b.s.any_dead, sizeof(int)));
  VCU_CHECK(cudaMalloc(&b.p, sizeof *b.p));
  VCU_CHECK(cudaMemcpy(b.p, &q, sizeof q, cudaMemcpyHostToDevice));
  VCU_CHECK(cudaMemcpy(b.s.st, st, u64n, cudaMemcpyHostToDevice));
  VCU_CHECK(cudaMemcpy(b.s.inc, inc, u64n, cudaMemcpyHostToDevice));
  VCU_CHECK(cudaMemcpy(b.s.dead, dead, u64n, cudaMemcpyHostToDevice));
  VCU_CHECK(cudaMemcpy(b.s.th, th, dn, cudaMemcpyHostToDevice));
  VCU_CHECK(cudaMemcpy(b.s.zc, zc, dn, cudaMemcpyHostToDevice));
  VCU_CHECK(cudaMemcpy(b.s.dead_from, dead_from, dn, cudaMemcpyHostToDevice));
  VCU_CHECK(cudaMemset(b.s.path, 0, p->bins * sizeof(unsigned long long)));
  VCU_CHECK(cudaMemset(b.s.any_dead, 0, sizeof(int)));

  unsigned blocks = (unsigned)((n + kThreads - 1) / kThreads);
  unsigned long long t = 0;
  int rc = 0;
  for (size_t seg = 1; seg <= p->segments; seg++) {
    unsigned long long t1 =
        seg == p->segments ? p->steps : p->steps / p->segments * (unsigned long long)seg;
    if (t1 > t) {
      if (p->noise == 0)
        launch_dm<0>(p->dm, blocks, b.s, b.p, t, t1);
      else if (p->noise == 1)
        launch_dm<1>(p->dm, blocks, b.s, b.p, t, t1);
      else
        launch_dm<2>(p->dm, blocks, b.s, b.p, t, t1);
      VCU_CHECK(cudaGetLastError());
      VCU_CHECK(cudaDeviceSynchronize());
      t = t1;
    }
    int any = 0;
    VCU_CHECK(cudaMemcpy(&any, b.s.any_dead, sizeof any, cudaMemcpyDeviceToHost));
    if (any) {
      rc = 7;
      vcu_say(msg, msg_len, "a particle blew up");
      break;
    }
    if (p->progress != NULL && p->progress((double)t1 / (double)p->steps, p->progress_arg)) {
      vcu_say(msg, msg_len, "run cancelled after %llu of %llu steps", t1,
          (unsigned long long)p->steps);
      rc = 6;
      break;
    }
  }
  if (rc == 6) return rc;
  VCU_CHECK(cudaMemcpy(st, b.s.st, u64n, cudaMemcpyDeviceToHost));
  VCU_CHECK(cudaMemcpy(th, b.s.th, dn, cudaMemcpyDeviceToHost));
  VCU_CHECK(cudaMemcpy(zc, b.s.zc, dn, cudaMemcpyDeviceToHost));
  VCU_CHECK(cudaMemcpy(dead, b.s.dead, u64n, cudaMemcpyDeviceToHost));
  VCU_CHECK(cudaMemcpy(dead_from, b.s.dead_from, dn, cudaMemcpyDeviceToHost));
  unsigned long long *h = static_cast<unsigned long long *>(malloc(p->bins * sizeof *h));
  if (h == nullptr) {
    vcu_say(msg, msg_len, "cannot allocate a histogram of %zu bins on the host", p->bins);
    return 2;
  }
  cudaError_t ce = cudaMemcpy(h, b.s.path, p->bins * sizeof *h, cudaMemcpyDeviceToHost);
  if (ce == cudaSuccess)
    for (size_t k = 0; k < p->bins; k++) path[k] += h[k];
  free(h);
  VCU_CHECK(ce);
  return rc;
}
