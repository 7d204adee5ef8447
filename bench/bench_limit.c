/* The machine limit of the Theorem 2 Monte Carlo, measured in the same run as it: the least work
 * one SGD step can take, a hand-vectorised loop of PCG32 plus the canonical valley's update
 * w <- w - eta (g(w) + nu (2u - 1)), 32 chains per block (4 vectors of 8 lanes), no round
 * statistics, no probes.  Chain i draws from PCG32 stream i as in valley_sgd1d_run.
 * usage: bench_limit [CHAINS [STEPS [THREADS]]]   prints one JSON line (best of 3). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef VALLEY_HAVE_OPENMP
#include <omp.h>
#endif

#include "valley/pcg.h"
#include "valley/sgd1d.h"

#include "bench_clock.h"

#define W 8
#define NV 4
#define BLOCK (W * NV)

typedef double vd __attribute__((vector_size(8 * W)));
typedef uint64_t vu __attribute__((vector_size(8 * W)));
typedef int64_t vi __attribute__((vector_size(8 * W)));

/* Runs chains first .. first + BLOCK - 1 for `steps` steps; returns the sum of their iterates
 * (so that nothing can be optimised away). */
static double run_block(const valley_sgd1d_config_t *cfg, size_t first, uint64_t steps) {
  vu s[NV], c[NV];
  vd w[NV], acc[NV];
  for (int v = 0; v < NV; v++)
    for (int k = 0; k < W; k++) {
      valley_pcg32_t rng;
      valley_pcg32_seed(&rng, cfg->seed, first + (size_t)(v * W + k));
      s[v][k] = rng.state;
      c[v][k] = rng.inc;
      w[v][k] = cfg->w_init;
      acc[v][k] = 0.0;
    }
  const double eta = cfg->eta, nu = cfg->nu, ap = cfg->valley.a_plus, am = cfg->valley.a_minus;
  for (uint64_t t = 0; t < steps; t++)
    for (int v = 0; v < NV; v++) {
      vu old = s[v];
      s[v] = old * VALLEY_PCG32_MULT + c[v];
      vu xs = (((old >> 18) ^ old) >> 27) & 0xffffffffu;
      vu rot = old >> 59;
      vu x = ((xs >> rot) | (xs << ((-rot) & 31u))) & 0xffffffffu;
      vd u = (__builtin_convertvector((vi)x, vd) + 0.5) * (1.0 / 4294967296.0);
      vu flat = (vu)(w[v] >= 0.0);
      vd g = (vd)(((vu)((vd){0} + ap) & flat) | ((vu)((vd){0} + am) & ~flat));
      w[v] = w[v] - eta * (g + nu * (2.0 * u - 1.0));
      acc[v] += w[v];
    }
  double sum = 0.0;
  for (int v = 0; v < NV; v++)
    for (int k = 0; k < W; k++) sum += acc[v][k];
  return sum;
}

int main(int argc, char **argv) {
  valley_sgd1d_config_t cfg;
  valley_sgd1d_config_default(&cfg);
  size_t chains = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 1024;
  uint64_t steps = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000000;
  int threads = argc > 3 ? atoi(argv[3]) : 0;
  if (chains < BLOCK || steps < 1) {
    fprintf(stderr, "bench_limit: CHAINS >= %d and STEPS >= 1 needed\n", BLOCK);
    return 2;
  }
  size_t nb = chains / BLOCK;
  chains = nb * BLOCK;
#ifdef VALLEY_HAVE_OPENMP
  if (threads > 0) omp_set_num_threads(threads);
#else
  threads = 1;
#endif
  double best = 1e300, total = 0.0;
  for (int rep = 0; rep < 3; rep++) { /* best of 3: the machine is shared */
    double t0 = bench_now(), sum = 0.0;
#ifdef VALLEY_HAVE_OPENMP
#pragma omp parallel for schedule(static) reduction(+ : sum)
#endif
    for (size_t b = 0; b < nb; b++) sum += run_block(&cfg, b * BLOCK, steps);
    double dt = bench_now() - t0;
    if (dt < best) best = dt;
    total = sum;
  }
  double n = (double)chains * (double)steps;
  printf("{\"bench\": \"limit_pcg_update\", \"chains\": %zu, \"steps\": %" PRIu64
         ", \"threads\": %d, \"seconds\": %.6f, \"steps_per_second\": %.6g, \"mean_w\": %.17g}\n",
         chains, steps, threads, best, n / best, total / n);
  return 0;
}
