/* The CUDA path of the 1-D Langevin and SGD ensembles (valley_langevin1d_run_basin with device
 * VALLEY_DEVICE_CUDA, sim/langevin_cuda.cu) against the vectorised CPU kernel.
 *
 * Without a usable GPU the test checks that a CUDA run fails cleanly (EIO, with a message),
 * prints "SKIP: <why>" and exits 77 (ctest: skipped).  With a GPU, on the four noise models of
 * the mixture landscapes (constant D, D from the loss, from the gradient, exponential) and the
 * three noise laws (Euler-Maruyama's Gaussian, SGD's uniform and two-point):
 *   - every particle's final position, the final histogram and the path histogram equal the CPU
 *     kernel's bit for bit (the CUDA kernel repeats its exp, log, sin/cos and Box-Muller
 *     operation for operation), with a particle count that fills neither a GPU block nor a CPU
 *     block, a given start and a uniform one, and progress segments (odd segment lengths split
 *     Box-Muller pairs across kernel launches);
 *   - a range of particles (first_particle, MPI's split) is bit for bit too;
 *   - a blow-up gives the same ENUMERIC message (particle, step, last position) as on the CPU;
 *   - a cancelled run returns ECANCEL; landscapes other than mixtures are refused (EINVAL). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "valley/cuda.h"
#include "valley/langevin.h"

static valley_basin1d_t preset(const char *name) {
  valley_basin1d_t b;
  valley_error_t err;
  if (valley_basin1d_preset(name, &b, &err) != VALLEY_OK || valley_basin1d_init(&b, &err) != VALLEY_OK) {
    fprintf(stderr, "%s: %s\n", name, err.message);
    exit(2);
  }
  return b;
}

static int no_cancel(double f, void *arg) {
  (void)f;
  (void)arg;
  return 0;
}

static int cancel_half(double f, void *arg) {
  (void)arg;
  return f >= 0.5;
}

static valley_langevin1d_result_t *run(const valley_basin1d_t *b,
                                       const valley_langevin1d_config_t *cfg,
                                       valley_status_t *st, valley_error_t *err) {
  valley_langevin1d_result_t *r = valley_langevin1d_result_alloc(cfg->particles, cfg->bins);
  if (r == NULL) {
    fprintf(stderr, "out of memory\n");
    exit(1);
  }
  *st = valley_langevin1d_run_basin(b, cfg, r, err);
  return r;
}

static void config(valley_langevin1d_config_t *cfg, valley_langevin_scheme_t scheme,
                   valley_lnoise_t noise, double T, double step) {
  valley_langevin1d_config_default(cfg);
  cfg->scheme = scheme;
  cfg->noise = noise;
  cfg->T = T;
  cfg->step = step;
  cfg->particles = 1000;
  cfg->steps = 3001;
  cfg->burn_in = 500;
  cfg->record_every = 7;
  cfg->bins = 100;
  cfg->seed = 5;
}

/* GPU against CPU on one case, as one check. */
static void compare(check_t *t, const char *name, const valley_basin1d_t *b,
                    valley_langevin1d_config_t *cfg) {
  valley_error_t e1, e2;
  valley_status_t s1, s2;
  cfg->device = VALLEY_DEVICE_CPU;
  valley_langevin1d_result_t *c = run(b, cfg, &s1, &e1);
  cfg->device = VALLEY_DEVICE_CUDA;
  valley_langevin1d_result_t *g = run(b, cfg, &s2, &e2);
  if (s1 != VALLEY_OK || s2 != VALLEY_OK) {
    check(t, 0, "%s: runs failed (CPU: %s; GPU: %s)", name, s1 ? e1.message : "ok",
          s2 ? e2.message : "ok");
  } else {
    size_t bad = 0;
    for (size_t i = 0; i < cfg->particles; i++)
      bad += memcmp(&c->theta[i], &g->theta[i], sizeof(double)) != 0;
    int hist = memcmp(c->hist, g->hist, cfg->bins * sizeof *c->hist) == 0;
    int path = memcmp(c->path_hist, g->path_hist, cfg->bins * sizeof *c->path_hist) == 0 &&
               c->path_samples == g->path_samples;
    check(t, bad == 0 && hist && path && c->fast && g->fast && g->path_samples > 0,
          "%s: GPU = CPU bit for bit (%zu of %zu positions differ; histogram %s; path "
          "histogram %s, %llu samples)",
          name, bad, cfg->particles, hist ? "equal" : "DIFFERS", path ? "equal" : "DIFFERS",
          (unsigned long long)g->path_samples);
  }
  valley_langevin1d_result_free(c);
  valley_langevin1d_result_free(g);
}

int main(void) {
  check_t t = {0, 0};
  char why[200];
  int n = valley_cuda_devices(why, sizeof why, NULL, 0);
  valley_basin1d_t fig4 = preset("fig4-left");
  if (n < 1) {
    valley_langevin1d_config_t cfg;
    config(&cfg, VALLEY_LANGEVIN_EM, VALLEY_LNOISE_GAUSSIAN, 0.1, 1e-3);
    cfg.device = VALLEY_DEVICE_CUDA;
    valley_error_t err;
    valley_status_t st;
    valley_langevin1d_result_free(run(&fig4, &cfg, &st, &err));
    check(&t, st == VALLEY_EIO && strstr(err.message, "cuda") != NULL,
          "without a GPU, --device cuda fails with EIO: %s", err.message);
    if (t.failed > 0) return check_done(&t);
    printf("SKIP: no usable GPU (%s)\n", why);
    return 77;
  }
  char name[200];
  valley_cuda_devices(NULL, 0, name, sizeof name);
  printf("GPU: %s\n", name);

  const struct {
    const char *preset;
    valley_langevin_scheme_t scheme;
    valley_lnoise_t noise;
    double T, step;
    int progress, start;
  } cases[] = {
      {"fig4-left", VALLEY_LANGEVIN_EM, VALLEY_LNOISE_GAUSSIAN, 0.1, 1e-3, 0, 0},
      {"fig4-left", VALLEY_LANGEVIN_EM, VALLEY_LNOISE_GAUSSIAN, 0.1, 1e-3, 1, 1},
      {"fig4-left-loss1", VALLEY_LANGEVIN_SGD, VALLEY_LNOISE_UNIFORM, 0.2, 2e-3, 0, 0},
      {"fig4-left-grad1", VALLEY_LANGEVIN_SGD, VALLEY_LNOISE_TWO_POINT, 0.2, 2e-3, 1, 0},
      {"fig4-left-exp1", VALLEY_LANGEVIN_EM, VALLEY_LNOISE_GAUSSIAN, 0.3, 1e-3, 0, 1},
      {"fig6-three", VALLEY_LANGEVIN_SGD, VALLEY_LNOISE_GAUSSIAN, 0.05, 5e-3, 1, 0},
      {"fig6-three-loss5", VALLEY_LANGEVIN_EM, VALLEY_LNOISE_GAUSSIAN, 0.05, 1e-3, 0, 0},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    valley_basin1d_t b = preset(cases[k].preset);
    valley_langevin1d_config_t cfg;
    config(&cfg, cases[k].scheme, cases[k].noise, cases[k].T, cases[k].step);
    if (cases[k].progress) cfg.progress = no_cancel; /* 100 segments of 30 steps, the last 31 */
    double *start = NULL;
    if (cases[k].start) {
      start = malloc(cfg.particles * sizeof *start);
      if (start == NULL) return 1;
      for (size_t i = 0; i < cfg.particles; i++)
        start[i] = b.lo + (b.hi - b.lo) * ((double)i + 0.5) / (double)cfg.particles;
      cfg.theta0 = start;
    }
    char label[200];
    snprintf(label, sizeof label, "%s, %s, %s noise, T %g, step %g%s%s", cases[k].preset,
             valley_langevin_scheme_name(cases[k].scheme), valley_lnoise_name(cases[k].noise),
             cases[k].T, cases[k].step, cases[k].progress ? ", 100 segments" : "",
             cases[k].start ? ", given start" : ", uniform start");
    compare(&t, label, &b, &cfg);
    free(start);
  }
  /* a range of a larger ensemble (MPI's split): particles 37.. on streams 37.. */
  {
    valley_basin1d_t b = preset("fig4-left-loss1");
    valley_langevin1d_config_t cfg;
    config(&cfg, VALLEY_LANGEVIN_EM, VALLEY_LNOISE_GAUSSIAN, 0.2, 1e-3);
    cfg.first_particle = 37;
    cfg.particles = 500;
    compare(&t, "fig4-left-loss1, particles 37..536 of an ensemble (first_particle 37)", &b, &cfg);
  }

  /* a blow-up: D = e^(w theta) overflows on the right of the domain */
  {
    valley_basin1d_t b = preset("fig4-left-exp1");
    b.wscale = 2000.0;
    valley_langevin1d_config_t cfg;
    config(&cfg, VALLEY_LANGEVIN_EM, VALLEY_LNOISE_GAUSSIAN, 0.3, 1e-3);
    valley_error_t e1, e2;
    valley_status_t s1, s2;
    valley_langevin1d_result_free(run(&b, &cfg, &s1, &e1));
    cfg.device = VALLEY_DEVICE_CUDA;
    valley_langevin1d_result_free(run(&b, &cfg, &s2, &e2));
    check(&t, s1 == VALLEY_ENUMERIC && s2 == VALLEY_ENUMERIC && strcmp(e1.message, e2.message) == 0,
          "blow-up: the same ENUMERIC message on both (%s)", e2.message);
  }
  /* cancel; a landscape that is not a mixture; a device that does not exist */
  {
    valley_langevin1d_config_t cfg;
    config(&cfg, VALLEY_LANGEVIN_EM, VALLEY_LNOISE_GAUSSIAN, 0.1, 1e-3);
    cfg.device = VALLEY_DEVICE_CUDA;
    cfg.progress = cancel_half;
    valley_error_t err;
    valley_status_t st;
    valley_langevin1d_result_free(run(&fig4, &cfg, &st, &err));
    check(&t, st == VALLEY_ECANCEL, "progress returning nonzero cancels: %s", err.message);
    cfg.progress = NULL;
    cfg.force_generic = 1;
    valley_langevin1d_result_free(run(&fig4, &cfg, &st, &err));
    check(&t, st == VALLEY_EINVAL, "the generic kernel is refused: %s", err.message);
    cfg.force_generic = 0;
    cfg.cuda_device = n;
    valley_langevin1d_result_free(run(&fig4, &cfg, &st, &err));
    check(&t, st == VALLEY_EIO && strstr(err.message, "does not exist") != NULL,
          "a device that does not exist: EIO: %s", err.message);
  }
  return check_done(&t);
}
