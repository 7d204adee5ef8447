/* The machine limit of each simulator, measured in the same run as it (bench/run): the least work
 * a step of that simulator's process can take, a hand-vectorised loop of PCG32 (plus Box-Muller
 * normals where the process needs Gaussians) and the update, 32 chains or particles per block
 * (4 vectors of 8 lanes), no statistics, no probes, no histograms.  Chain i draws from PCG32
 * stream i.  The elementary functions (exp, log, sincos) are the library's hand-vectorised ones
 * (valley_langevin_vexp, _vlog, _vsincos2pi) called on the block's 32 values.
 *   thm2       canonical valley, w <- w - eta (g(w) + nu (2u - 1))            (SGD steps)
 *   thm2-sat   the saturating valley, a+ 1, b+ 0.5, a- -20, b- -30, scale 0.1  (SGD steps)
 *   thm1       Theorem 1 Monte Carlo, d signs from one output, zeta = P^T (s dbar), the linear
 *              profile at -zeta and l - zeta (d = 8, k = 2, P the identity's columns; samples)
 *   em1d       Euler-Maruyama on fig4-left, T 0.1, dt 1e-4, mirror walls at -3, 3 (particle-steps)
 *   sgd1d      discrete SGD on fig4-left, uniform noise, lambda 1e-4, T 0.1       (particle-steps)
 *   em2d       2-D Euler-Maruyama on the curl example, a 1, T 0.5, dt 1e-3, box [-4, 4]^2
 * usage: bench_limit [MODE] [CHAINS [STEPS [THREADS]]]   (MODE thm2 when left out)
 * prints one JSON line (best of 3). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef VALLEY_HAVE_OPENMP
#include <omp.h>
#endif

#include "valley/pcg.h"
#include "valley/sgd1d.h"

#include "bench_clock.h"

#include "../sim/vec_math.h" /* the Langevin kernel's own vector maths */

#define SQRT3_ 1.7320508075688772935

#define NV 4 /* Theorem 2 and 1: 4 vectors a block (as the original limit loop) */
#define BLOCK (W * NV)
#define NVE 8 /* ensembles: 8 vectors a block (as the Langevin kernel) */
#define EBLOCK (W * NVE)

typedef enum { M_THM2, M_THM2_SAT, M_THM1, M_EM1D, M_SGD1D, M_EM2D } mode_t_;
static const char *const mode_names[] = {"thm2", "thm2-sat", "thm1", "em1d", "sgd1d", "em2d"};

typedef struct {
  vu s[NVE], c[NVE];
} rng_t;

static void rng_seed(rng_t *r, uint64_t seed, size_t first, int nv) {
  for (int v = 0; v < nv; v++)
    for (int k = 0; k < W; k++) {
      valley_pcg32_t rng;
      valley_pcg32_seed(&rng, seed, first + (size_t)(v * W + k));
      r->s[v][k] = rng.state;
      r->c[v][k] = rng.inc;
    }
}

/* Box-Muller: one pair (z1, z2) from three outputs (two for a 53-bit u1, one angle). */
VINLINE void normals(vu *s, vu c, vd *z1, vd *z2) {
  vu a = pcg_out(s, c), b = pcg_out(s, c), o = pcg_out(s, c);
  vd u1 = 1.0 - (u64_to_d(a >> 5) * 67108864.0 + u64_to_d(b >> 6)) * 0x1p-53;
  v_bm(u1, u64_to_d(o) * 0x1p-32, z1, z2);
}

VINLINE vd reflect(vd x, double lo, double hi) {
  x = vsel((vi)(x > hi), 2.0 * hi - x, x);
  return vsel((vi)(x < lo), 2.0 * lo - x, x);
}

/* ---- Theorem 2 ---------------------------------------------------------------------------- */

/* Chains first .. first + BLOCK - 1 for `steps` steps; the block's sum of mean iterates (so that
 * nothing can be optimised away). */
static double block_thm2(int sat, size_t first, uint64_t steps) {
  valley_sgd1d_config_t cfg;
  valley_sgd1d_config_default(&cfg);
  rng_t r;
  rng_seed(&r, cfg.seed, first, NV);
  vd w[NV], acc[NV];
  for (int v = 0; v < NV; v++) w[v] = acc[v] = vset(0.0);
  const double eta = cfg.eta, nu = cfg.nu;
  const double ap = cfg.valley.a_plus, am = cfg.valley.a_minus;
  const double bp = 0.5, bm = -30.0, scale = 0.1;
  for (uint64_t t = 0; t < steps; t++)
    for (int v = 0; v < NV; v++) {
      vd u = (u64_to_d(pcg_out(&r.s[v], r.c[v])) + 0.5) * (1.0 / 4294967296.0);
      vi flat = (vi)(w[v] >= 0.0);
      vd g;
      if (sat) { /* tanh(|w| / s) = 1 - 2 / (exp(2 |w| / s) + 1) */
        vd th = 1.0 - 2.0 / (v_exp(vsel(flat, w[v], -w[v]) * (2.0 / scale)) + 1.0);
        g = vsel(flat, bp + (ap - bp) * th, am + (bm - am) * th);
      } else {
        g = vsel(flat, vset(ap), vset(am));
      }
      w[v] = w[v] - eta * (g + nu * (2.0 * u - 1.0));
      acc[v] += w[v];
    }
  double sum = 0.0;
  for (int v = 0; v < NV; v++)
    for (int k = 0; k < W; k++) sum += acc[v][k];
  return sum / (double)steps;
}

/* ---- Theorem 1 Monte Carlo ---------------------------------------------------------------- */

#define T1_D 8
#define T1_K 2
static double block_thm1(size_t first, uint64_t steps) {
  rng_t r;
  rng_seed(&r, 1, first, NV);
  double P[T1_D][T1_K], dbar[T1_D];
  const double p = 0.5, cp = 3 * 0.5, l = 0.5;
  for (int m = 0; m < T1_D; m++) {
    dbar[m] = 1.0;
    for (int i = 0; i < T1_K; i++) P[m][i] = m == i;
  }
  vd acc[NV];
  for (int v = 0; v < NV; v++) acc[v] = vset(0.0);
  for (uint64_t t = 0; t < steps; t++)
    for (int v = 0; v < NV; v++) {
      vu word = pcg_out(&r.s[v], r.c[v]);
      vd zeta[T1_K];
      for (int i = 0; i < T1_K; i++) zeta[i] = vset(0.0);
      for (int m = 0; m < T1_D; m++) {
        vd s = vsel((vi)(((word >> m) & 1u) != 0), vset(dbar[m]), vset(-dbar[m]));
        for (int i = 0; i < T1_K; i++) zeta[i] += s * P[m][i];
      }
      vd a = vset(0.0), b = vset(0.0);
      for (int i = 0; i < T1_K; i++) {
        vd z0 = -zeta[i], zl = l - zeta[i];
        a += vsel((vi)(z0 >= 0.0), p * z0, -cp * z0);
        b += vsel((vi)(zl >= 0.0), p * zl, -cp * zl);
      }
      acc[v] += a - b;
    }
  double sum = 0.0;
  for (int v = 0; v < NV; v++)
    for (int k = 0; k < W; k++) sum += acc[v][k];
  return sum / (double)steps;
}

/* ---- 1-D ensembles on fig4-left ------------------------------------------------------------ */

static const double MIN_[2] = {-1.0, 1.0}, WT[2] = {0.021, 0.1}, SG[2] = {0.1, 0.5};
#define FIG_C 0.001
#define LO1 (-3.0)
#define HI1 3.0

/* A chunk of CHUNK steps' noise is drawn first for every lane (independent of theta, so that
 * loop runs at full throughput), then the steps, the eight vectors in lock step (eight
 * independent exp chains in flight); a step that leaves the domain is reflected once, the
 * reflection skipped when every lane is inside (as the kernel does). */
#define CHUNK 16

VINLINE int all_inside(const vd *y, int n, double lo, double hi) {
  vi in = ~(vi){0};
  for (int v = 0; v < n; v++) in &= (vi)(y[v] >= lo) & (vi)(y[v] <= hi);
  int all = 1;
  for (int l = 0; l < W; l++) all &= in[l] != 0;
  return all;
}

/* eta for CHUNK steps of every lane: Gaussian (Box-Muller pairs) or uniform of variance 1. */
VINLINE void noise_chunk(rng_t *r, int gauss, vd buf[CHUNK][NVE]) {
  if (gauss) {
    for (int j = 0; j < CHUNK; j += 2)
#pragma GCC unroll 8
      for (int v = 0; v < NVE; v++) normals(&r->s[v], r->c[v], &buf[j][v], &buf[j + 1][v]);
  } else {
    for (int j = 0; j < CHUNK; j++)
#pragma GCC unroll 8
      for (int v = 0; v < NVE; v++)
        buf[j][v] = SQRT3_ * (2.0 * ((u64_to_d(pcg_out(&r->s[v], r->c[v])) + 0.5) * 0x1p-32) - 1.0);
  }
}

static void start_uniform(rng_t *r, vd *x, double lo, double hi) {
  for (int v = 0; v < NVE; v++)
    x[v] = lo + (hi - lo) * ((u64_to_d(pcg_out(&r->s[v], r->c[v])) + 0.5) * 0x1p-32);
}

/* theta <- theta - h U'(theta) + amp eta, U = -log g, g = c + sum_j w_j N(theta; m_j, s_j^2). */
static double block_1d(int sgd, size_t first, uint64_t steps) {
  rng_t r;
  rng_seed(&r, 1, first, NVE);
  vd th[NVE], buf[CHUNK][NVE];
  start_uniform(&r, th, LO1, HI1);
  const double h = 1e-4, T = 0.1, amp = sqrt(h * T);
  double ak[2], nb[2], b2[2];
  for (int j = 0; j < 2; j++) {
    ak[j] = WT[j] / (SG[j] * 2.5066282746310005024);
    nb[j] = -1.0 / (2.0 * SG[j] * SG[j]);
    b2[j] = 1.0 / (SG[j] * SG[j]);
  }
  for (uint64_t ta = 0; ta < steps; ta += CHUNK) {
    noise_chunk(&r, !sgd, buf);
    uint64_t n = steps - ta < CHUNK ? steps - ta : CHUNK;
    for (uint64_t j = 0; j < n; j++) {
      vd g[NVE], gp[NVE], y[NVE];
#pragma GCC unroll 8
      for (int v = 0; v < NVE; v++) {
        g[v] = vset(FIG_C);
        gp[v] = vset(0.0);
      }
      for (int k = 0; k < 2; k++)
#pragma GCC unroll 8
        for (int v = 0; v < NVE; v++) {
          vd d = th[v] - MIN_[k];
          vd ae = ak[k] * v_exp_neg((d * d) * nb[k]);
          g[v] += ae;
          gp[v] -= (ae * d) * b2[k];
        }
#pragma GCC unroll 8
      for (int v = 0; v < NVE; v++) y[v] = (th[v] + h * (gp[v] / g[v])) + amp * buf[j][v];
      if (!all_inside(y, NVE, LO1, HI1))
        for (int v = 0; v < NVE; v++) y[v] = reflect(y[v], LO1, HI1);
#pragma GCC unroll 8
      for (int v = 0; v < NVE; v++) th[v] = y[v];
    }
  }
  double sum = 0.0;
  for (int v = 0; v < NVE; v++)
    for (int k = 0; k < W; k++) sum += th[v][k];
  return sum / EBLOCK;
}

/* ---- 2-D Euler-Maruyama, curl example ------------------------------------------------------ */

static double block_2d(size_t first, uint64_t steps) {
  rng_t r;
  rng_seed(&r, 1, first, NVE);
  const double a = 1.0, T = 0.5, dt = 1e-3, L = 4.0, amp = sqrt(dt * T);
  vd x[NVE], y[NVE], bx[CHUNK / 2][NVE], by[CHUNK / 2][NVE];
  start_uniform(&r, x, -L, L);
  start_uniform(&r, y, -L, L);
  for (uint64_t ta = 0; ta < steps; ta += CHUNK / 2) {
    for (int j = 0; j < CHUNK / 2; j++) /* one Box-Muller pair a step */
#pragma GCC unroll 8
      for (int v = 0; v < NVE; v++) normals(&r.s[v], r.c[v], &bx[j][v], &by[j][v]);
    uint64_t n = steps - ta < CHUNK / 2 ? steps - ta : CHUNK / 2;
    for (uint64_t j = 0; j < n; j++) {
#pragma GCC unroll 8
      for (int v = 0; v < NVE; v++) {
        vd sd = vsqrt(1.0 + a * y[v] * y[v]);
        x[v] = (x[v] - dt * x[v]) + amp * sd * bx[j][v];
        y[v] = (y[v] - dt * y[v]) + amp * by[j][v];
      }
      if (!all_inside(x, NVE, -L, L) || !all_inside(y, NVE, -L, L))
        for (int v = 0; v < NVE; v++) {
          x[v] = reflect(x[v], -L, L);
          y[v] = reflect(y[v], -L, L);
        }
    }
  }
  double sum = 0.0;
  for (int v = 0; v < NVE; v++)
    for (int k = 0; k < W; k++) sum += x[v][k] * x[v][k] + y[v][k] * y[v][k];
  return sum / EBLOCK;
}

static double run_block(mode_t_ m, size_t first, uint64_t steps) {
  switch (m) {
  case M_THM2: return block_thm2(0, first, steps);
  case M_THM2_SAT: return block_thm2(1, first, steps);
  case M_THM1: return block_thm1(first, steps);
  case M_EM1D: return block_1d(0, first, steps);
  case M_SGD1D: return block_1d(1, first, steps);
  case M_EM2D: default: return block_2d(first, steps);
  }
}

int main(int argc, char **argv) {
  mode_t_ m = M_THM2;
  int a0 = 1;
  if (argc > 1 && (argv[1][0] < '0' || argv[1][0] > '9')) {
    size_t i = 0;
    while (i < sizeof mode_names / sizeof mode_names[0] && strcmp(argv[1], mode_names[i]) != 0) i++;
    if (i == sizeof mode_names / sizeof mode_names[0]) {
      fprintf(stderr, "bench_limit: unknown mode '%s' (thm2, thm2-sat, thm1, em1d, sgd1d, em2d)\n",
              argv[1]);
      return 2;
    }
    m = (mode_t_)i;
    a0 = 2;
  }
  size_t chains = argc > a0 ? (size_t)strtoull(argv[a0], NULL, 10) : 1024;
  uint64_t steps = argc > a0 + 1 ? strtoull(argv[a0 + 1], NULL, 10) : 1000000;
  int threads = argc > a0 + 2 ? atoi(argv[a0 + 2]) : 0;
  size_t bs = m >= M_EM1D ? EBLOCK : BLOCK;
  if (chains < bs || steps < 1) {
    fprintf(stderr, "bench_limit: CHAINS >= %zu and STEPS >= 1 needed\n", bs);
    return 2;
  }
  size_t nb = chains / bs;
  chains = nb * bs;
#ifdef VALLEY_HAVE_OPENMP
  if (threads > 0) omp_set_num_threads(threads);
  if (threads <= 0) threads = omp_get_max_threads();
#else
  threads = 1;
#endif
  double best = 1e300, total = 0.0;
  for (int rep = 0; rep < 3; rep++) { /* best of 3: the machine is shared */
    double t0 = bench_now(), sum = 0.0;
#ifdef VALLEY_HAVE_OPENMP
#pragma omp parallel for schedule(static) reduction(+ : sum)
#endif
    for (size_t b = 0; b < nb; b++) sum += run_block(m, b * bs, steps);
    double dt = bench_now() - t0;
    if (dt < best) best = dt;
    total = sum;
  }
  double n = (double)chains * (double)steps;
  printf("{\"bench\": \"limit_%s\", \"chains\": %zu, \"steps\": %" PRIu64
         ", \"threads\": %d, \"seconds\": %.6f, \"steps_per_second\": %.6g, \"checksum\": %.17g}\n",
         mode_names[m], chains, steps, threads, best, n / best, total / (double)nb);
  return 0;
}
