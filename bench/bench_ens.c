/* The ensembles' final positions, for bench/run's check that each NumPy reference simulates the
 * same process as valley: runs the library's ensemble (as `valley steady-state --sde`,
 * `--sgd-lr`, `valley fp2d --sde` do, uniform start, seed 1) and prints the mean and the mean
 * square of the final positions with their standard errors.
 *   em1d   Euler-Maruyama on fig4-left, T 0.1, dt 1e-4 (the vectorised basin kernel)
 *   sgd1d  discrete SGD on fig4-left, uniform noise, lambda 1e-4, T 0.1
 *   em2d   2-D Euler-Maruyama on the curl example, a 1, T 0.5, dt 1e-3, L 4 (moments of x and y)
 * usage: bench_ens MODE PARTICLES STEPS [THREADS]   prints one JSON line. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "valley/basin1d.h"
#include "valley/fp2d.h"
#include "valley/langevin.h"

#include "bench_clock.h"

/* mean and standard error of f over n values */
static void moment(const double *x, size_t n, int square, double *mean, double *se) {
  double s = 0, s2 = 0;
  for (size_t i = 0; i < n; i++) {
    double f = square ? x[i] * x[i] : x[i];
    s += f;
    s2 += f * f;
  }
  *mean = s / (double)n;
  double var = (s2 / (double)n - *mean * *mean) * (double)n / (double)(n - 1);
  *se = sqrt(var > 0 ? var / (double)n : 0);
}

static void print_moments(const char *name, const double *x, size_t n) {
  double m1, e1, m2, e2;
  moment(x, n, 0, &m1, &e1);
  moment(x, n, 1, &m2, &e2);
  printf(", \"%s_mean\": %.17g, \"%s_mean_se\": %.6g, \"%s_sq\": %.17g, \"%s_sq_se\": %.6g", name,
         m1, name, e1, name, m2, name, e2);
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: bench_ens em1d|sgd1d|em2d PARTICLES STEPS [THREADS]\n");
    return 2;
  }
  const char *mode = argv[1];
  size_t n = (size_t)strtoull(argv[2], NULL, 10);
  uint64_t steps = strtoull(argv[3], NULL, 10);
  int threads = argc > 4 ? atoi(argv[4]) : 0;
  valley_error_t err;
  valley_status_t st;
  if (n < 2 || steps < 1) {
    fprintf(stderr, "bench_ens: PARTICLES >= 2 and STEPS >= 1 needed\n");
    return 2;
  }
  double t0 = bench_now(), dt;
  if (strcmp(mode, "em1d") == 0 || strcmp(mode, "sgd1d") == 0) {
    valley_basin1d_t b;
    if (valley_basin1d_preset("fig4-left", &b, &err) != VALLEY_OK) {
      fprintf(stderr, "bench_ens: %s\n", err.message);
      return 1;
    }
    valley_langevin1d_config_t cfg;
    valley_langevin1d_config_default(&cfg);
    cfg.scheme = mode[0] == 'e' ? VALLEY_LANGEVIN_EM : VALLEY_LANGEVIN_SGD;
    cfg.noise = mode[0] == 'e' ? VALLEY_LNOISE_GAUSSIAN : VALLEY_LNOISE_UNIFORM;
    cfg.T = 0.1;
    cfg.step = 1e-4;
    cfg.particles = n;
    cfg.steps = steps;
    cfg.seed = 1;
    cfg.bins = 120;
    cfg.threads = threads;
    valley_langevin1d_result_t *res = valley_langevin1d_result_alloc(n, cfg.bins);
    if (res == NULL) return 1;
    st = valley_langevin1d_run_basin(&b, &cfg, res, &err);
    dt = bench_now() - t0;
    if (st == VALLEY_OK) {
      printf("{\"bench\": \"ens_%s\", \"particles\": %zu, \"steps\": %" PRIu64 ", \"seconds\": %.6f",
             mode, n, steps, dt);
      print_moments("theta", res->theta, n);
      printf("}\n");
    }
    valley_langevin1d_result_free(res);
  } else if (strcmp(mode, "em2d") == 0) {
    valley_fp2d_example_t ex = {1.0, 4.0};
    valley_fp2d_t p;
    valley_fp2d_curl(&ex, &p);
    valley_langevin2d_config_t cfg;
    valley_langevin2d_config_default(&cfg);
    cfg.T = 0.5;
    cfg.dt = 1e-3;
    cfg.particles = n;
    cfg.steps = steps;
    cfg.seed = 1;
    cfg.nx = cfg.ny = 32;
    cfg.threads = threads;
    valley_langevin2d_result_t *res = valley_langevin2d_result_alloc(n, 32, 32);
    if (res == NULL) return 1;
    st = valley_langevin2d_run(&p, &cfg, res, &err);
    dt = bench_now() - t0;
    if (st == VALLEY_OK) {
      printf("{\"bench\": \"ens_em2d\", \"particles\": %zu, \"steps\": %" PRIu64 ", \"seconds\": %.6f",
             n, steps, dt);
      print_moments("x", res->x, n);
      print_moments("y", res->y, n);
      printf("}\n");
    }
    valley_langevin2d_result_free(res);
  } else {
    fprintf(stderr, "bench_ens: unknown mode '%s' (em1d, sgd1d, em2d)\n", mode);
    return 2;
  }
  if (st != VALLEY_OK) {
    fprintf(stderr, "bench_ens: %s\n", err.message);
    return 1;
  }
  return 0;
}
