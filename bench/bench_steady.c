/* Seconds for a temperature sweep of the steady state (theorems/steady.c) on a preset: prints
 * one JSON line.  usage: bench_steady PRESET N_TEMPERATURES THREADS [REPEATS]
 * (bar of issue 4: 200 temperatures on a preset in under 0.5 s) */
#include <stdio.h>
#include <stdlib.h>

#include "valley/basin1d.h"
#include "valley/steady.h"

#include "bench_clock.h"

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: bench_steady PRESET N_TEMPERATURES THREADS [REPEATS]\n");
    return 2;
  }
  const char *preset = argv[1];
  size_t n = (size_t)atol(argv[2]);
  int threads = atoi(argv[3]), reps = argc > 4 ? atoi(argv[4]) : 5;
  valley_basin1d_t b;
  valley_error_t err;
  if (n < 1 || reps < 1 || valley_basin1d_preset(preset, &b, &err) != VALLEY_OK) {
    fprintf(stderr, "bench_steady: bad arguments\n");
    return 2;
  }
  double *T = malloc(n * sizeof *T);
  valley_steady_t *s = malloc(n * sizeof *s);
  if (T == NULL || s == NULL) return 1;
  valley_steady_logspace(1e-3, 1.0, n, T);
  double best = 1e30, best_prep = 1e30;
  for (int r = 0; r < reps; r++) {
    double t0 = bench_now();
    valley_fp1d_t p;
    valley_steady_ctx_t ctx;
    valley_basin1d_problem(&b, &p);
    if (valley_steady_prepare(&ctx, &p, valley_basin1d_utest3, &b, NULL, 1, &err) != VALLEY_OK)
      return 1;
    double t1 = bench_now();
    if (valley_steady_sweep(&ctx, T, n, threads, s, NULL, NULL, &err) != VALLEY_OK) return 1;
    double t2 = bench_now();
    valley_steady_ctx_free(&ctx);
    if (t2 - t0 < best) best = t2 - t0;
    if (t1 - t0 < best_prep) best_prep = t1 - t0;
  }
  printf("{\"preset\": \"%s\", \"temperatures\": %zu, \"threads\": %d, \"seconds\": %.4f, "
         "\"prepare_seconds\": %.4f, \"E_test_last\": %.12g}\n",
         preset, n, threads, best, best_prep, s[n - 1].E_test);
  free(T);
  free(s);
  return 0;
}
