/* The direction probe's speed, CPU (OpenMP + OpenBLAS) and CUDA side by side in one run, with
 * each one's GEMM ceiling measured in the same run (cblas_sgemm 1024^3 on as many OpenBLAS threads
 * as the probe has OpenMP threads, and on one; cuBLAS SGEMM 8192^3 on the GPU), and the CPU-vs-CUDA loss agreement.  One JSON line.
 *
 * usage: bench_probe DIR TRAIN_SPLIT N_TRAIN N_TEST DIRS GRID MODE [REPS [ARCH]]
 *   DIR          Fashion-MNIST directory ("-" for the Debian package's)
 *   TRAIN_SPLIT  "train" or "test": the split whose first N_TRAIN images serve as the train set
 *                (the test set is the first N_TEST test images)
 *   DIRS, GRID   filter-normalized directions (seed 1) and grid points on [-1, 1]
 *   MODE         cpu, cuda or both
 *   ARCH         mlp (default): 784-256-256-10 with BN; cnn: the CNN with 32 and 64 channels and BN
 * The network is trained for one epoch (seed 1, batch 128, lr 0.05, momentum 0.9) on the train
 * set, so the probe runs at a trained point, as in use.
 *
 * Flop counts: "direct" counts 2 (784 256 + 256 256 + 256 10) per image per point (what a
 * point-by-point evaluation executes); "executed" counts what the split kernel runs: the first
 * layer (1 + DIRS) times per image, the later layers per point. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#ifdef VALLEY_HAVE_OPENMP
#include <omp.h>
#endif

#include "valley/cuda.h"
#include "valley/direction.h"

#include "bench_clock.h"

static void die(const char *what, const valley_error_t *err) {
  fprintf(stderr, "bench_probe: %s: %s\n", what, err->message);
  exit(1);
}

/* The best of 5 cblas_sgemm 1024^3 products on `threads` OpenBLAS threads (restored after). */
static double cpu_sgemm_gflops(int threads) {
  const int n = 1024;
  int before = openblas_get_num_threads();
  openblas_set_num_threads(threads);
  float *a = malloc((size_t)n * n * sizeof *a), *b = malloc((size_t)n * n * sizeof *b);
  float *c = malloc((size_t)n * n * sizeof *c);
  if (!a || !b || !c) exit(1);
  for (size_t i = 0; i < (size_t)n * n; i++) {
    a[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
    b[i] = (float)((i * 40503u) % 1000) * 1e-3f - 0.5f;
  }
  double best = 1e300;
  for (int r = 0; r < 6; r++) {
    double t0 = bench_now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    double dt = bench_now() - t0;
    if (r > 0 && dt < best) best = dt;
  }
  free(a);
  free(b);
  free(c);
  openblas_set_num_threads(before);
  return 2.0 * n * (double)n * n / best / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 8) {
    fprintf(stderr,
            "usage: bench_probe DIR TRAIN_SPLIT N_TRAIN N_TEST DIRS GRID cpu|cuda|both [REPS]\n");
    return 2;
  }
  const char *dir = strcmp(argv[1], "-") ? argv[1] : NULL, *mode = argv[7];
  size_t ntr = strtoul(argv[3], NULL, 10), nte = strtoul(argv[4], NULL, 10);
  size_t nd = strtoul(argv[5], NULL, 10), ng = strtoul(argv[6], NULL, 10);
  int reps = argc > 8 ? atoi(argv[8]) : 3;
  int cnn = argc > 9 && !strcmp(argv[9], "cnn");
  int do_cpu = !strcmp(mode, "cpu") || !strcmp(mode, "both");
  int do_cuda = !strcmp(mode, "cuda") || !strcmp(mode, "both");
  if ((!do_cpu && !do_cuda) || nd < 1 || ng < 2 || reps < 1) {
    fprintf(stderr, "bench_probe: bad MODE, DIRS, GRID or REPS\n");
    return 2;
  }
  valley_error_t err;
  valley_dataset_t a, b, train, test;
  if (valley_dataset_load_fashion_mnist(dir, argv[2], &a, &err)) die("train split", &err);
  if (valley_dataset_load_fashion_mnist(dir, "test", &b, &err)) die("test split", &err);
  if (ntr > a.n) ntr = a.n;
  if (nte > b.n) nte = b.n;
  if (valley_dataset_subset(&a, ntr, 1, &train, &err)) die("subset", &err);
  if (valley_dataset_subset(&b, nte, 2, &test, &err)) die("subset", &err);
  valley_dataset_free(&a);
  valley_dataset_free(&b);

  valley_mlp_config_t mc;
  valley_mlp_config_default(&mc);
  mc.n_layers = 3;
  size_t w[4] = {784, 256, 256, 10}, wc[4] = {784, 32, 64, 10};
  memcpy(mc.widths, cnn ? wc : w, sizeof w);
  mc.batch_norm = 1;
  if (cnn) {
    mc.arch = VALLEY_ARCH_CNN;
    mc.in_channels = 1;
    mc.height = 28;
    mc.width = 28;
  }
  valley_mlp_t *net;
  if (valley_mlp_alloc(&mc, 512, &net, &err)) die("network", &err);
  float *theta = malloc(net->n_params * sizeof *theta);
  float *vel = calloc(net->n_params, sizeof *vel);
  float **dirs = calloc(nd, sizeof *dirs);
  double *grid = malloc(ng * sizeof *grid);
  if (!theta || !vel || !dirs || !grid) return 1;
  valley_mlp_init(net, theta, 1);
  valley_sgd_config_t sc;
  valley_sgd_config_default(&sc);
  if (valley_mlp_train_epoch(net, theta, vel, &train, &sc, 0, NULL, &err)) die("train", &err);
  valley_dir_config_t dc;
  valley_dir_config_family(VALLEY_DIR_FAMILY_FILTER, &dc, &err);
  for (size_t d = 0; d < nd; d++) {
    dirs[d] = malloc(net->n_params * sizeof *dirs[d]);
    if (!dirs[d] || valley_direction(net, theta, &dc, 1, d, dirs[d], &err)) die("direction", &err);
  }
  for (size_t g = 0; g < ng; g++) grid[g] = -1.0 + 2.0 * (double)g / (double)(ng - 1);

  double imgs = (double)(ntr + nte), pts = (double)(nd * ng);
  /* per image: the first layer's and the later layers' multiply-adds */
  double first = cnn ? 784.0 * 9 * 32 : 784.0 * 256;
  double later = cnn ? 196.0 * 288 * 64 + 3136.0 * 10 : 256.0 * 256 + 256.0 * 10;
  double direct = 2.0 * (first + later) * imgs * pts;
  double executed = 2.0 * first * imgs * (1.0 + (double)nd) + 2.0 * later * imgs * pts;
  int threads = 1;
#ifdef VALLEY_HAVE_OPENMP
  threads = omp_get_max_threads();
#endif
  printf("{\"net\": \"%s\", \"train\": %zu, \"test\": %zu, \"dirs\": %zu, "
         "\"grid\": %zu, \"direct_gflop\": %.1f, \"executed_gflop\": %.1f, \"omp_threads\": %d",
         cnn ? "CNN 32-64 BN" : "784-256-256-10 BN", ntr, nte, nd, ng, direct / 1e9, executed / 1e9, threads);
  valley_prof_t *cpu = calloc(nd, sizeof *cpu), *gpu = calloc(nd, sizeof *gpu);
  if (!cpu || !gpu) return 1;
  if (do_cpu) {
    valley_probe_config_t pc;
    valley_probe_config_default(&pc);
    double best = 1e300;
    for (int r = 0; r < reps; r++) {
      for (size_t d = 0; d < nd; d++) valley_prof_free(&cpu[d]);
      double t0 = bench_now();
      if (valley_probe(net, theta, nd, (const float *const *)dirs, ng, grid, &train, &test, &pc,
                       cpu, &err))
        die("CPU probe", &err);
      double dt = bench_now() - t0;
      if (dt < best) best = dt;
    }
    double s1 = cpu_sgemm_gflops(1), sg = cpu_sgemm_gflops(threads);
    printf(", \"cpu_seconds\": %.4f, \"cpu_executed_gflops\": %.1f, "
           "\"cpu_direct_gflops\": %.1f, \"cpu_sgemm_1thread_gflops\": %.1f, "
           "\"cpu_sgemm_gflops\": %.1f, \"cpu_fraction_of_sgemm\": %.3f",
           best, executed / best / 1e9, direct / best / 1e9, s1, sg, executed / best / 1e9 / sg);
  }
  if (do_cuda) {
    char why[200], name[200];
    if (valley_cuda_devices(why, sizeof why, name, sizeof name) < 1) {
      printf(", \"cuda\": \"skipped: %s\"}\n", why);
      return 0;
    }
    valley_probe_cuda_config_t cc;
    valley_probe_cuda_config_default(&cc);
    double best = 1e300;
    for (int r = 0; r <= reps; r++) { /* r = 0 includes the context's start */
      for (size_t d = 0; d < nd; d++) valley_prof_free(&gpu[d]);
      double t0 = bench_now();
      if (valley_probe_cuda(net, theta, nd, (const float *const *)dirs, ng, grid, &train, &test,
                            &cc, gpu, &err))
        die("CUDA probe", &err);
      double dt = bench_now() - t0;
      if (r > 0 && dt < best) best = dt;
    }
    double sg = 0.0;
    if (valley_cuda_sgemm_gflops(8192, 5, &sg, &err)) die("cuBLAS SGEMM", &err);
    printf(", \"gpu\": \"%s\", \"cuda_seconds\": %.4f, \"cuda_executed_gflops\": %.1f, "
           "\"cuda_direct_gflops\": %.1f, \"cublas_sgemm_gflops\": %.1f, "
           "\"cuda_fraction_of_sgemm\": %.3f",
           name, best, executed / best / 1e9, direct / best / 1e9, sg,
           executed / best / 1e9 / sg);
  }
  if (do_cpu && do_cuda) {
    double worst = 0.0, acc = 0.0;
    for (size_t d = 0; d < nd; d++)
      for (size_t g = 0; g < ng; g++) {
        worst = fmax(worst, fabs(gpu[d].train[g] - cpu[d].train[g]) / cpu[d].train[g]);
        worst = fmax(worst, fabs(gpu[d].test[g] - cpu[d].test[g]) / cpu[d].test[g]);
        acc = fmax(acc, fabs(gpu[d].test_acc[g] - cpu[d].test_acc[g]));
        acc = fmax(acc, fabs(gpu[d].train_acc[g] - cpu[d].train_acc[g]));
      }
    printf(", \"max_rel_loss_diff\": %.3e, \"max_acc_diff\": %.2e", worst, acc);
  }
  printf("}\n");
  for (size_t d = 0; d < nd; d++) {
    valley_prof_free(&cpu[d]);
    valley_prof_free(&gpu[d]);
    free(dirs[d]);
  }
  free(cpu);
  free(gpu);
  free(dirs);
  free(grid);
  free(theta);
  free(vel);
  valley_mlp_free(net);
  valley_dataset_free(&train);
  valley_dataset_free(&test);
  return 0;
}
