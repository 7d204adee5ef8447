/* The CUDA path of the Theorem 2 Monte Carlo (valley_sgd1d_run with device VALLEY_DEVICE_CUDA,
 * sim/sgd1d_cuda.cu) against the CPU kernels.
 *
 * Without a usable GPU (no CUDA in the build, no driver, no device) the test checks that a CUDA
 * run fails cleanly with EIO and a message, prints "SKIP: <why>" and exits 77, which ctest
 * reports as skipped.  With a GPU:
 *   - canonical valley, uniform and two-point noise: every chain's record (rounds, sums of round
 *     means and of iterates, lengths, the eight probe counts, the last iterate) and the
 *     round-length histogram equal the CPU's (vectorised and generic kernels) bit for bit, with
 *     chain counts that do not fill the last GPU block, long and short envelopes, burn-in 0, a
 *     negative start, progress segmentation, and a range of chains (MPI's split);
 *   - two GPU runs give the same bytes; a cancelled run returns ECANCEL;
 *   - saturating valley: the device's tanh is not glibc's (CUDA's double tanh and glibc's are
 *     each within about 2 ulp), so the gradients may differ by a few ulp of |g| <= 20, i.e.
 *     |dg| <~ 1e-14, and since g' >= 0 the difference of the iterates cannot grow: it stays below
 *     steps * eta * |dg| = 2e5 * 0.01 * 1e-14 = 2e-11.  The test asks |dw| <= 1e-9 for every
 *     chain's last iterate and mean iterate.  A round boundary moves only when an iterate lies
 *     within 2e-11 of 0: with about 200 iterates per unit of w near 0, P <= 2e5 steps * 256
 *     chains * 2e-11 * 200 ~ 2e-4, so every chain's round count is asked to be equal
 *     (false-failure probability below 1e-3). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "valley/cuda.h"
#include "valley/sgd1d.h"

typedef struct {
  size_t chains;
  uint64_t steps, burn_in;
  valley_noise_kind_t noise;
  double w_init, eta, nu;
  size_t K; /* envelope length */
  int with_progress;
} case_t;

static int no_cancel(double f, void *arg) {
  (void)f;
  (void)arg;
  return 0;
}

static int cancel_half(double f, void *arg) {
  (void)arg;
  return f >= 0.5;
}

#define ENV_MAX 400

/* env: ENV_MAX entries, the envelope's storage */
static void probes_make(valley_sgd1d_probes_t *p, size_t K, double *env_buf) {
  memset(p, 0, sizeof *p);
  p->w0_lo = 0.0;
  p->w0_hi = 0.004;
  p->tol = 1e-12;
  p->envelope_len = K;
  for (size_t t = 0; t <= K && t < ENV_MAX; t++)
    env_buf[t] = 0.002 * (double)t;
  p->envelope = env_buf;
  p->flat_run_max = 6;
  p->flat_run_max_alt = 12;
  p->mean_threshold = 0.05;
  p->mean_threshold_alt = 0.1;
}

static void config_make(valley_sgd1d_config_t *cfg, const case_t *c, valley_device_t dev) {
  valley_sgd1d_config_default(cfg);
  cfg->chains = c->chains;
  cfg->steps = c->steps;
  cfg->burn_in = c->burn_in;
  cfg->noise = c->noise;
  cfg->w_init = c->w_init;
  cfg->eta = c->eta;
  cfg->nu = c->nu;
  cfg->seed = 7;
  cfg->device = dev;
  if (c->with_progress) cfg->progress = no_cancel;
}

static int same_chain(const valley_sgd1d_chain_t *a, const valley_sgd1d_chain_t *b) {
  if (a->rounds != b->rounds || a->len_sum != b->len_sum || a->len_max != b->len_max) return 0;
  if (memcmp(&a->mean_sum, &b->mean_sum, sizeof(double)) != 0) return 0;
  if (memcmp(&a->traj_sum, &b->traj_sum, sizeof(double)) != 0) return 0;
  if (memcmp(&a->final_w, &b->final_w, sizeof(double)) != 0) return 0;
  for (int k = 0; k < VALLEY_SGD1D_NPROBE; k++)
    if (a->probe[k] != b->probe[k]) return 0;
  return 1;
}

/* Number of chains of a (offset `first` into b) that differ from b's, and whether the
 * histograms agree (when compare_hist). */
static size_t differ(const valley_sgd1d_result_t *a, const valley_sgd1d_result_t *b, size_t first,
                     int compare_hist, int *hist_same) {
  size_t bad = 0;
  for (size_t i = 0; i < a->chains; i++) bad += !same_chain(&a->chain[i], &b->chain[first + i]);
  *hist_same = !compare_hist || memcmp(a->hist, b->hist, sizeof a->hist) == 0;
  return bad;
}

static valley_sgd1d_result_t *run(const valley_sgd1d_config_t *cfg,
                                  const valley_sgd1d_probes_t *pr, size_t first, size_t count,
                                  valley_status_t *st, valley_error_t *err) {
  valley_sgd1d_result_t *r = valley_sgd1d_result_alloc(count);
  if (r == NULL) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  *st = valley_sgd1d_run_range(cfg, pr, first, r, err);
  return r;
}

static void bitwise_case(check_t *t, const case_t *c) {
  valley_sgd1d_config_t cpu, gpu;
  config_make(&cpu, c, VALLEY_DEVICE_CPU);
  config_make(&gpu, c, VALLEY_DEVICE_CUDA);
  valley_sgd1d_probes_t pr;
  double env[ENV_MAX];
  probes_make(&pr, c->K, env);
  valley_error_t err;
  valley_status_t s1, s2, s3;
  valley_sgd1d_result_t *a = run(&cpu, &pr, 0, c->chains, &s1, &err);
  valley_sgd1d_result_t *g = run(&gpu, &pr, 0, c->chains, &s2, &err);
  if (s2 != VALLEY_OK) printf("  CUDA run: %s\n", err.message);
  cpu.force_generic = 1;
  valley_sgd1d_result_t *gen = run(&cpu, &pr, 0, c->chains, &s3, &err);
  const char *nz = valley_noise_kind_name(c->noise);
  if (s1 != VALLEY_OK || s2 != VALLEY_OK || s3 != VALLEY_OK) {
    check(t, 0, "%zu chains x %llu steps, %s: runs failed", c->chains,
          (unsigned long long)c->steps, nz);
  } else {
    int hs1, hs2;
    size_t d1 = differ(g, a, 0, 1, &hs1), d2 = differ(g, gen, 0, 1, &hs2);
    uint64_t rounds = 0;
    for (size_t i = 0; i < g->chains; i++) rounds += g->chain[i].rounds;
    check(t, d1 == 0 && hs1 && d2 == 0 && hs2 && rounds > 0,
          "%zu chains x %llu steps (burn-in %llu, w0 %g, K %zu%s), %s: GPU = CPU bit for bit "
          "(%zu / %zu chains differ from the vectorised / generic kernel; histograms %s; %llu "
          "rounds)",
          c->chains, (unsigned long long)c->steps, (unsigned long long)c->burn_in, c->w_init,
          c->K, c->with_progress ? ", 100 segments" : "", nz, d1, d2,
          hs1 && hs2 ? "equal" : "DIFFER", (unsigned long long)rounds);
  }
  valley_sgd1d_result_free(a);
  valley_sgd1d_result_free(g);
  valley_sgd1d_result_free(gen);
}

int main(void) {
  check_t t = {0, 0};
  char why[200];
  int n = valley_cuda_devices(why, sizeof why, NULL, 0);
  if (n < 1) {
    /* the CUDA path must fail cleanly, naming why */
    valley_sgd1d_config_t cfg;
    valley_sgd1d_config_default(&cfg);
    cfg.device = VALLEY_DEVICE_CUDA;
    cfg.chains = 4;
    cfg.steps = 100;
    cfg.burn_in = 10;
    valley_error_t err;
    valley_status_t st;
    valley_sgd1d_result_t *r = run(&cfg, NULL, 0, 4, &st, &err);
    valley_sgd1d_result_free(r);
    check(&t, st == VALLEY_EIO && strstr(err.message, "cuda") != NULL,
          "without a GPU, --device cuda fails with EIO: %s", err.message);
    if (t.failed > 0) return check_done(&t);
    printf("SKIP: no usable GPU (%s)\n", why);
    return 77;
  }
  char name[200];
  valley_cuda_devices(NULL, 0, name, sizeof name);
  printf("GPU: %s\n", name);

  const case_t cases[] = {
      /* chains, steps, burn-in, noise, w_init, eta, nu, K, progress */
      {1000, 200000, 1000, VALLEY_NOISE_UNIFORM, 0.0, 0.01, 0.5, 5, 0},
      {333, 100000, 0, VALLEY_NOISE_UNIFORM, -0.3, 0.01, 0.5, 300, 0},
      {257, 100000, 20000, VALLEY_NOISE_TWO_POINT, 0.2, 0.02, 1.0, 12, 0},
      {129, 50003, 7, VALLEY_NOISE_UNIFORM, 0.0, 0.005, 2.0, 0, 1},
      {1, 30000, 100, VALLEY_NOISE_TWO_POINT, 0.0, 0.01, 0.5, 5, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) bitwise_case(&t, &cases[i]);

  /* a range of chains (MPI's split) and repeatability */
  {
    case_t c = {700, 60000, 500, VALLEY_NOISE_UNIFORM, 0.0, 0.01, 0.5, 5, 0};
    valley_sgd1d_config_t gpu;
    config_make(&gpu, &c, VALLEY_DEVICE_CUDA);
    valley_sgd1d_probes_t pr;
    double env[ENV_MAX];
    probes_make(&pr, c.K, env);
    valley_error_t err;
    valley_status_t s1, s2, s3;
    valley_sgd1d_result_t *all = run(&gpu, &pr, 0, 700, &s1, &err);
    valley_sgd1d_result_t *again = run(&gpu, &pr, 0, 700, &s2, &err);
    valley_sgd1d_result_t *part = run(&gpu, &pr, 37, 400, &s3, &err);
    int h1, h2;
    check(&t, s1 == VALLEY_OK && s2 == VALLEY_OK && differ(again, all, 0, 1, &h1) == 0 && h1,
          "two GPU runs give the same bytes");
    check(&t, s3 == VALLEY_OK && differ(part, all, 37, 0, &h2) == 0,
          "chains 37..436 alone equal those chains of the full run");
    valley_sgd1d_result_free(all);
    valley_sgd1d_result_free(again);
    valley_sgd1d_result_free(part);

    gpu.progress = cancel_half;
    valley_sgd1d_result_t *r = run(&gpu, &pr, 0, 700, &s1, &err);
    check(&t, s1 == VALLEY_ECANCEL && strstr(err.message, "cancelled") != NULL,
          "progress returning nonzero cancels: %s", err.message);
    valley_sgd1d_result_free(r);
    gpu.progress = NULL;
    gpu.cuda_device = n;
    r = run(&gpu, &pr, 0, 700, &s1, &err);
    check(&t, s1 == VALLEY_EIO && strstr(err.message, "does not exist") != NULL,
          "a device that does not exist: EIO: %s", err.message);
    valley_sgd1d_result_free(r);
  }

  /* saturating valley: within the device tanh's rounding (tolerance derived above) */
  {
    case_t c = {256, 200000, 1000, VALLEY_NOISE_UNIFORM, 0.0, 0.01, 0.5, 5, 0};
    valley_sgd1d_config_t cpu, gpu;
    config_make(&cpu, &c, VALLEY_DEVICE_CPU);
    config_make(&gpu, &c, VALLEY_DEVICE_CUDA);
    cpu.valley.kind = gpu.valley.kind = VALLEY_VALLEY1D_SATURATING;
    cpu.valley.b_plus = gpu.valley.b_plus = 0.5;
    cpu.valley.b_minus = gpu.valley.b_minus = -30.0;
    valley_sgd1d_probes_t pr;
    double env[ENV_MAX];
    probes_make(&pr, c.K, env);
    valley_error_t err;
    valley_status_t s1, s2;
    valley_sgd1d_result_t *a = run(&cpu, &pr, 0, c.chains, &s1, &err);
    valley_sgd1d_result_t *g = run(&gpu, &pr, 0, c.chains, &s2, &err);
    double dw = 0.0, dm = 0.0;
    size_t dr = 0, exact = 0;
    for (size_t i = 0; s1 == VALLEY_OK && s2 == VALLEY_OK && i < c.chains; i++) {
      double d1 = fabs(a->chain[i].final_w - g->chain[i].final_w);
      double d2 = fabs(a->chain[i].traj_sum - g->chain[i].traj_sum) / (double)(c.steps - c.burn_in);
      if (d1 > dw) dw = d1;
      if (d2 > dm) dm = d2;
      dr += a->chain[i].rounds != g->chain[i].rounds;
      exact += same_chain(&a->chain[i], &g->chain[i]);
    }
    check(&t, s1 == VALLEY_OK && s2 == VALLEY_OK && dw <= 1e-9 && dm <= 1e-9 && dr == 0,
          "saturating valley: GPU within the device tanh's rounding of the CPU (max |dw_T| "
          "%.2e, max |d mean w| %.2e, bar 1e-9; round counts differ in %zu chains; %zu of %zu "
          "chains bit for bit)",
          dw, dm, dr, exact, c.chains);
    valley_sgd1d_result_free(a);
    valley_sgd1d_result_free(g);
  }
  return check_done(&t);
}
