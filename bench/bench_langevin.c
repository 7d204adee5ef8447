/* Benchmark: particle-steps per second of the 1-D Euler-Maruyama ensemble on the fig4-left
 * landscape (minima [-1, 1], weights [0.021, 0.1], sigmas [0.1, 0.5], c = 0.001, lscale 1,
 * D = 1; T = 0.1, dt = 1e-4, domain [-3, 3], uniform start), with the vectorised basin1d kernel
 * and with the generic callback kernel (synthetic/basin1d.c's problem), best of 3 each.
 * usage: bench_langevin [PARTICLES [STEPS [THREADS [GENERIC_STEPS [cpu|cuda]]]]]   prints one
 * JSON line.  (GENERIC_STEPS defaults to STEPS / 10: the slower kernel runs fewer steps, same
 * particles.)  With cuda, only the vectorised kernel's GPU twin runs (sim/langevin_cuda.cu). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "valley/basin1d.h"
#include "valley/langevin.h"

#include "bench_clock.h"

/* Best wall time of 3 runs (the machine is shared); the mean final theta as a checksum. */
static int timed(const valley_basin1d_t *b, const valley_langevin1d_config_t *cfg,
                 valley_langevin1d_result_t *res, double *best, double *mean, int *fast) {
  valley_error_t err;
  *best = 1e300;
  for (int rep = 0; rep < 3; rep++) {
    double t0 = bench_now();
    if (valley_langevin1d_run_basin(b, cfg, res, &err) != VALLEY_OK) {
      fprintf(stderr, "bench_langevin: %s\n", err.message);
      return 1;
    }
    double dt = bench_now() - t0;
    if (dt < *best) *best = dt;
  }
  double s = 0;
  for (size_t i = 0; i < res->particles; i++) s += res->theta[i];
  *mean = s / (double)res->particles;
  *fast = res->fast;
  return 0;
}

int main(int argc, char **argv) {
  valley_basin1d_t b;
  valley_error_t err;
  if (valley_basin1d_preset("fig4-left", &b, &err) != VALLEY_OK) {
    fprintf(stderr, "bench_langevin: %s\n", err.message);
    return 1;
  }
  valley_langevin1d_config_t cfg;
  valley_langevin1d_config_default(&cfg);
  cfg.particles = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 8192;
  cfg.steps = argc > 2 ? strtoull(argv[2], NULL, 10) : 20000;
  cfg.threads = argc > 3 ? atoi(argv[3]) : 0;
  uint64_t gsteps = argc > 4 ? strtoull(argv[4], NULL, 10) : cfg.steps / 10;
  if (gsteps == 0) gsteps = 1;
  if (argc > 5 && valley_device_parse(argv[5], &cfg.device) != VALLEY_OK) {
    fprintf(stderr, "bench_langevin: the device must be cpu or cuda (got '%s')\n", argv[5]);
    return 2;
  }
  cfg.T = 0.1;
  cfg.step = 1e-4;
  cfg.bins = 120;
  cfg.seed = 1;
  if (cfg.device == VALLEY_DEVICE_CUDA) {
    valley_langevin1d_result_t *res = valley_langevin1d_result_alloc(cfg.particles, cfg.bins);
    if (res == NULL) return 1;
    double t, m;
    int f;
    int rc = timed(&b, &cfg, res, &t, &m, &f);
    if (rc == 0)
      printf("{\"bench\": \"langevin1d_em_fig4left\", \"device\": \"cuda\", \"particles\": %zu, "
             "\"steps\": %" PRIu64 ", \"seconds\": %.6f, \"particle_steps_per_second\": %.6g, "
             "\"mean_theta\": %.17g}\n",
             cfg.particles, cfg.steps, t, (double)cfg.particles * (double)cfg.steps / t, m);
    valley_langevin1d_result_free(res);
    return rc;
  }
  int threads = cfg.threads;
#ifdef _OPENMP
  if (threads == 0) threads = omp_get_max_threads();
#else
  threads = 1;
#endif
  valley_langevin1d_result_t *res = valley_langevin1d_result_alloc(cfg.particles, cfg.bins);
  if (res == NULL) return 1;
  double tf, tg, mf, mg;
  int ff, fg;
  if (timed(&b, &cfg, res, &tf, &mf, &ff) != 0) return 1;
  uint64_t fsteps = cfg.steps;
  cfg.steps = gsteps;
  cfg.force_generic = 1;
  if (timed(&b, &cfg, res, &tg, &mg, &fg) != 0) return 1;
  double n = (double)cfg.particles;
  printf("{\"bench\": \"langevin1d_em_fig4left\", \"particles\": %zu, \"threads\": %d, "
         "\"seed\": %" PRIu64 ", \"T\": 0.1, \"dt\": 1e-4, "
         "\"fast_kernel\": %s, \"fast_steps\": %" PRIu64 ", \"fast_seconds\": %.6f, "
         "\"fast_particle_steps_per_second\": %.6g, \"fast_mean_theta\": %.17g, "
         "\"generic_steps\": %" PRIu64 ", \"generic_seconds\": %.6f, "
         "\"generic_particle_steps_per_second\": %.6g, \"generic_mean_theta\": %.17g}\n",
         cfg.particles, threads, cfg.seed, ff ? "true" : "false", fsteps, tf,
         n * (double)fsteps / tf, mf, gsteps, tg, n * (double)gsteps / tg, mg);
  valley_langevin1d_result_free(res);
  return 0;
}
