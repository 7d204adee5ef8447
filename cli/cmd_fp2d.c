/* valley fp2d: the zero-current formula rho ∝ exp(-2 v / T) against the 2-D Fokker-Planck steady
 * state (shift-curvature paper, Appendix B.1, Assumption 1), on the separable example 3 (zero
 * curl: the formula holds) and a curl example (no potential: it must fail). */
#include <math.h>
#include <string.h>

#include "cli.h"
#include "mpi.h"
#include <inttypes.h>
#include <stdlib.h>

#include <unistd.h>

#include "valley/curl2d.h"
#include "valley/langevin.h"

static const char *const CMD = "fp2d";

typedef struct {
  const char *example;
  double a, T, L;
  size_t cells, sde, bins;
  double dt, time;
  uint64_t seed;
  int threads, json;
  const char *checkpoint;
} args_t;

#define FP2D_OPTIONS(X, a)                                                                        \
  X("--example", OPT_STRING, &a.example, "NAME", "separable (Appendix B.1 example 3) | curl (d1 = 1 + a y^2)") \
  X("--a", OPT_DOUBLE, &a.a, "A", "curl strength (curl) or the quadratic's curvature (separable), >= 0") \
  X("--T", OPT_DOUBLE, &a.T, "X", "temperature (> 0)")                                            \
  X("--L", OPT_DOUBLE, &a.L, "X", "the box is [-L, L]^2 (> 0)")                                   \
  X("--cells", OPT_SIZE, &a.cells, "N", "finite-volume cells per side (8..512)")                  \
  X("--sde", OPT_SIZE, &a.sde, "N", "also an Euler-Maruyama ensemble of N particles (0: off), histogram L1 to both densities") \
  X("--dt", OPT_DOUBLE, &a.dt, "X", "Euler-Maruyama step (> 0)")                                 \
  X("--time", OPT_DOUBLE, &a.time, "X", "ensemble run time from a uniform start (> 0)")          \
  X("--bins", OPT_SIZE, &a.bins, "B", "histogram bins per side (must divide --cells)")         \
  X("--seed", OPT_U64, &a.seed, "N", "PCG32 seed; particle i draws from stream i")             \
  X("--threads", OPT_INT, &a.threads, "N", "OpenMP threads (0: all; results do not depend on it)") \
  X("--json", OPT_FLAG, &a.json, NULL, "print the report as JSON")                               \
  X("--checkpoint", OPT_STRING, &a.checkpoint, "FILE", "--sde: save the particles in blocks as they finish; an interrupted run given the same FILE resumes (docs/reliability.md)")

#define OPT_ENTRY(flag, kind, target, meta, help) {flag, kind, target, meta, help, 0},

static const char *const SUMMARY =
    "The paper's zero-current steady state rho ∝ exp(-2 v / T), v a line integral of\n"
    "V = D^-1 (grad U + (T/2) div D), against the 2-D finite-volume steady state, which needs no\n"
    "potential.  Where V has curl (Assumption 1 of Appendix B.1 fails) v depends on the path:\n"
    "valley integrates along x-then-y and y-then-x and reports the L1 distance of each to the\n"
    "finite-volume density.  See docs/fokker_planck_fv.md.";

/* --checkpoint (cli/ckrun.c): the ensemble's particles in blocks, each block's final positions and
 * histograms saved as it ends; particle i's path does not depend on its block (first_particle, as
 * under MPI) and the histograms are integer counts, so a resumed run reports the bytes of an
 * uninterrupted one. */
typedef struct {
  const valley_fp2d_t *p;
  const valley_langevin2d_config_t *cfg;
  valley_langevin2d_result_t *res;
  size_t cells;
} fp2d_ck_t;

static size_t fp2d_record_size(void *arg, size_t count) {
  const fp2d_ck_t *t = arg;
  return 2 * count * sizeof(double) + 2 * t->cells * sizeof(uint64_t) + sizeof(uint64_t);
}

static valley_status_t fp2d_ck_block(void *arg, size_t first, size_t count, void *record,
                                     int (*progress)(double, void *), void *progress_arg,
                                     valley_error_t *err) {
  const fp2d_ck_t *t = arg;
  valley_langevin2d_config_t c = *t->cfg;
  c.first_particle = first;
  c.particles = count;
  c.progress = progress;
  c.progress_arg = progress_arg;
  valley_langevin2d_result_t *part = valley_langevin2d_result_alloc(count, c.nx, c.ny);
  if (part == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "ensemble of %zu", count);
  valley_status_t st = valley_langevin2d_run(t->p, &c, part, err);
  if (st == VALLEY_OK) {
    unsigned char *q = cli_ck_put(record, part->x, count * sizeof(double));
    q = cli_ck_put(q, part->y, count * sizeof(double));
    q = cli_ck_put(q, part->hist, t->cells * sizeof(uint64_t));
    q = cli_ck_put(q, part->path_hist, t->cells * sizeof(uint64_t));
    cli_ck_put(q, &part->path_samples, sizeof(uint64_t));
  }
  valley_langevin2d_result_free(part);
  return st;
}

static void fp2d_ck_merge(void *arg, size_t first, size_t count, const void *record) {
  const fp2d_ck_t *t = arg;
  const unsigned char *q = record;
  memcpy(t->res->x + first, q, count * sizeof(double)), q += count * sizeof(double);
  memcpy(t->res->y + first, q, count * sizeof(double)), q += count * sizeof(double);
  q = cli_ck_add_counts(t->res->hist, q, t->cells);
  q = cli_ck_add_counts(t->res->path_hist, q, t->cells);
  cli_ck_add_counts(&t->res->path_samples, q, 1);
}

static valley_status_t sde_checkpointed(const args_t *a, const cli_opt_t *opts, size_t nopts,
                                        const valley_fp2d_t *p,
                                        const valley_langevin2d_config_t *cfg,
                                        valley_langevin2d_result_t *res, valley_error_t *err) {
  valley_status_t st = valley_langevin2d_config_check(cfg, err); /* before the file is made */
  if (st != VALLEY_OK) return st;
  static const char *const skip[] = {"--threads", "--json", "--checkpoint"};
  char *fp = cli_fingerprint(CMD, opts, nopts, skip, sizeof skip / sizeof skip[0]);
  if (fp == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory");
  fp2d_ck_t t = {p, cfg, res, cfg->nx * cfg->ny};
  cli_ck_t c = {CMD, a->checkpoint, fp, "particles", cfg->particles, 64, 1024, 1,
                fp2d_record_size, fp2d_ck_block, fp2d_ck_merge, &t, cfg->progress,
                cfg->progress_arg};
  st = cli_ck_run(&c, err);
  free(fp);
  if (st == VALLEY_OK) {
    /* the histograms' box, as a run sets it */
    res->xlo = p->xlo;
    res->xhi = p->xhi;
    res->ylo = p->ylo;
    res->yhi = p->yhi;
  }
  return st;
}

/* mpi: NULL, or the MPI ranks (cli/mpi.h, docs/mpi.md): every rank parses and checks the same
 * arguments; rank 0 alone solves the finite volumes and the formulas; the --sde particles are
 * split across the ranks; rank 0 alone reports. */
static int fp2d(int argc, char **argv, const cli_mpi_t *mpi) {
  int root = cli_mpi_rank(mpi) == 0;
  args_t a = {"curl", 1.0, 0.5, 4.0, 128, 0, 32, 1e-3, 8.0, 1, 0, 0, NULL};
  cli_opt_t opts[] = {FP2D_OPTIONS(OPT_ENTRY, a)};
  size_t nopts = sizeof opts / sizeof opts[0];
  int rc = cli_parse_or_help(CMD, SUMMARY, argc, argv, opts, nopts);
  if (rc >= 0) return rc;
  int curl = strcmp(a.example, "curl") == 0;
  if (!curl && strcmp(a.example, "separable") != 0)
    return cli_usage_error(CMD, "--example must be separable or curl (got '%s')", a.example);
  if (!(a.a >= 0) || !isfinite(a.a)) return cli_usage_error(CMD, "--a must be >= 0 (got %g)", a.a);
  if (!(a.T > 0) || !isfinite(a.T)) return cli_usage_error(CMD, "--T must be > 0 (got %g)", a.T);
  if (!(a.L > 0) || !isfinite(a.L)) return cli_usage_error(CMD, "--L must be > 0 (got %g)", a.L);
  if (a.cells < 8 || a.cells > 512)
    return cli_usage_error(CMD, "--cells must be in [8, 512] (got %zu)", a.cells);
  if (a.sde > 100000000) return cli_usage_error(CMD, "--sde must be <= 1e8 particles (got %zu)", a.sde);
  if (!(a.dt > 0) || !isfinite(a.dt)) return cli_usage_error(CMD, "--dt must be > 0 (got %g)", a.dt);
  if (!(a.time > 0) || !isfinite(a.time) || a.time / a.dt > 1e9)
    return cli_usage_error(CMD, "--time must be > 0 and at most 1e9 steps of --dt (got %g)", a.time);
  if (a.bins < 2 || a.cells % a.bins != 0)
    return cli_usage_error(CMD, "--bins must be >= 2 and divide --cells = %zu (got %zu)", a.cells, a.bins);
  if (a.threads < 0) return cli_usage_error(CMD, "--threads must be >= 0 (got %d)", a.threads);
  if (a.checkpoint != NULL && a.sde == 0)
    return cli_usage_error(CMD, "--checkpoint saves the --sde ensemble; give --sde N");
  if (a.checkpoint != NULL && cli_mpi_split(mpi))
    return root ? cli_usage_error(CMD, "--checkpoint is for one process (under mpirun the ranks' "
                                       "particles are not saved)")
                : CLI_EXIT_USAGE;
  valley_fp2d_example_t ex = {a.a, a.L};
  valley_fp2d_t p;
  if (curl)
    valley_fp2d_curl(&ex, &p);
  else
    valley_fp2d_separable(&ex, &p);
  valley_curl2d_t r;
  memset(&r, 0, sizeof r);
  valley_error_t err;
  valley_status_t st = VALLEY_OK;
  if (root) {
    st = valley_curl2d_compare(&p, a.T, a.cells, a.cells, 0.0, 0.0, &r, &err);
    if (st != VALLEY_OK) {
      cli_print_error(CMD, &err);
      rc = st == VALLEY_EINVAL || st == VALLEY_EDOM ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
    }
  }
#ifdef VALLEY_HAVE_MPI
  if (cli_mpi_split(mpi)) rc = cli_mpi_bcast_int(mpi, st == VALLEY_OK ? -1 : rc);
#endif
  if (st != VALLEY_OK || rc >= 0) return rc; /* rank 0's solve failed */
  /* The ensemble: its histogram against the finite-volume density and against the formula. */
  valley_langevin_l1_t l1_fv = {0}, l1_xy = {0}, l1_yx = {0};
  uint64_t steps = (uint64_t)ceil(a.time / a.dt);
  if (a.sde > 0) {
    size_t nb = a.bins * a.bins;
    double *probs = root ? malloc(3 * nb * sizeof *probs) : NULL;
    valley_langevin2d_result_t *res =
        root ? valley_langevin2d_result_alloc(a.sde, a.bins, a.bins) : NULL;
    st = !root || (probs && res) ? VALLEY_OK
                                 : VALLEY_ERROR(&err, VALLEY_ENOMEM, "ensemble of %zu", a.sde);
    valley_langevin2d_config_t cfg;
    valley_langevin2d_config_default(&cfg);
    cfg.T = a.T;
    cfg.dt = a.dt;
    cfg.particles = a.sde;
    cfg.steps = steps;
    cfg.seed = a.seed;
    cfg.nx = cfg.ny = a.bins;
    cfg.threads = a.threads;
    cli_progress_t prog;
    cli_progress_init(&prog, "fp2d sde");
    cfg.progress = cli_progress_cb;
    cfg.progress_arg = &prog;
#ifdef VALLEY_HAVE_MPI
    int own = 1;
    if (cli_mpi_split(mpi)) {
      if (cli_mpi_agree(mpi, st, &own, &err) == VALLEY_OK)
        st = cli_mpi_langevin2d(mpi, &p, &cfg, res, &own, &err);
      else
        st = VALLEY_ENOMEM;
    } else
#endif
    if (st == VALLEY_OK && a.checkpoint != NULL)
      st = sde_checkpointed(&a, opts, nopts, &p, &cfg, res, &err);
    else if (st == VALLEY_OK)
      st = valley_langevin2d_run(&p, &cfg, res, &err);
    cli_progress_done(&prog);
    const double *rhos[3] = {r.rho_fv, r.rho_xy, r.rho_yx};
    valley_langevin_l1_t *outs[3] = {&l1_fv, &l1_xy, &l1_yx};
    for (int i = 0; i < 3 && st == VALLEY_OK && root; i++) {
      st = valley_curl2d_bin_probs(&r, rhos[i], a.bins, a.bins, probs + (size_t)i * nb, &err);
      if (st == VALLEY_OK)
        st = valley_langevin_l1(probs + (size_t)i * nb, res->hist, nb, 200, a.seed, outs[i], &err);
    }
    free(probs);
    valley_langevin2d_result_free(res);
    if (st != VALLEY_OK) {
      valley_curl2d_free(&r);
      if (root) {
        if (err.code != VALLEY_ECANCEL || !cli_interrupted()) /* main says "interrupted" */
          fprintf(stderr, "valley %s: --sde: %s\n", CMD, err.message);
      }
#ifdef VALLEY_HAVE_MPI
      else if (own)
        fprintf(mpi->err, "valley %s: MPI rank %d: --sde: %s\n", CMD, mpi->rank, err.message);
#endif
      return st == VALLEY_ECANCEL && a.checkpoint != NULL ? cli_cancel_status() : CLI_EXIT_FAIL;
    }
  }
  if (!root) return CLI_EXIT_OK;
  if (a.json) {
    valley_json_t j;
    valley_json_begin(&j, stdout);
    valley_json_string(&j, "command", CMD);
    valley_json_string(&j, "version", VALLEY_VERSION);
    valley_json_build(&j);
    valley_json_string(&j, "example", a.example);
    valley_json_number(&j, "a", a.a);
    valley_json_number(&j, "T", a.T);
    valley_json_number(&j, "L", a.L);
    valley_json_u64(&j, "cells", a.cells);
    valley_json_number(&j, "curl_max", r.curl_max);
    valley_json_number(&j, "L1_formula_xy_vs_fv", r.l1_xy);
    valley_json_number(&j, "L1_formula_yx_vs_fv", r.l1_yx);
    valley_json_number(&j, "L1_formula_avg_vs_fv", r.l1_avg);
    valley_json_number(&j, "L1_between_paths", r.l1_paths);
    valley_json_number(&j, "fv_residual", r.fv_residual);
    if (a.sde > 0) {
      valley_json_object(&j, "sde");
      valley_json_u64(&j, "particles", a.sde);
      valley_json_number(&j, "dt", a.dt);
      valley_json_u64(&j, "steps", steps);
      valley_json_u64(&j, "bins_per_side", a.bins);
      valley_json_number(&j, "sampling_noise_mean", l1_fv.noise_mean);
      valley_json_number(&j, "sampling_noise_sd", l1_fv.noise_sd);
      valley_json_number(&j, "L1_to_fv", l1_fv.l1);
      valley_json_number(&j, "L1_to_formula_xy", l1_xy.l1);
      valley_json_number(&j, "L1_to_formula_yx", l1_yx.l1);
      valley_json_object_end(&j);
    }
    valley_json_end(&j);
  } else {
    printf("valley fp2d: %s example, a = %g, T = %g, box [-%g, %g]^2, %zu x %zu cells\n",
           a.example, a.a, a.T, a.L, a.L, a.cells, a.cells);
    printf("  max |curl V| on the grid            %.4g\n", r.curl_max);
    printf("  L1(formula along x then y, FV)      %.4g\n", r.l1_xy);
    printf("  L1(formula along y then x, FV)      %.4g\n", r.l1_yx);
    printf("  L1(mean of the two paths, FV)       %.4g\n", r.l1_avg);
    printf("  L1(between the two paths)           %.4g\n", r.l1_paths);
    if (a.sde > 0) {
      printf("  Euler-Maruyama, %zu particles, dt %g, t = %g from uniform, %zu x %zu bins; sampling "
             "noise alone gives L1 %.4g +- %.2g:\n", a.sde, a.dt, a.time, a.bins, a.bins,
             l1_fv.noise_mean, l1_fv.noise_sd);
      const char *names[3] = {"finite volumes", "formula, x then y", "formula, y then x"};
      const valley_langevin_l1_t *ls[3] = {&l1_fv, &l1_xy, &l1_yx};
      for (int i = 0; i < 3; i++) {
        double z = (ls[i]->l1 - ls[i]->noise_mean) / ls[i]->noise_sd;
        printf("    L1(SDE histogram, %-18s) %.4g  (z = %.1f: %s)\n", names[i], ls[i]->l1, z,
               z > 5 ? "differs" : "agrees within sampling error");
      }
    }
    if (r.curl_max > 1e-8)
      printf("V has curl: Assumption 1 fails, no zero-current steady state exists, and the\n"
             "formula's density depends on the path.  The finite-volume density is the truth.\n");
    else
      printf("V is a gradient: the formula holds; the L1 above is the finite volumes' "
             "discretisation error (second order).\n");
  }
  valley_curl2d_free(&r);
  if (a.checkpoint != NULL) {
    if (fflush(stdout) != 0) {
      fprintf(stderr, "valley %s: cannot write the report; %s is kept\n", CMD, a.checkpoint);
      return CLI_EXIT_FAIL;
    }
    unlink(a.checkpoint); /* the report is out: nothing left to resume */
  }
  return CLI_EXIT_OK;
}

int cli_cmd_fp2d(int argc, char **argv) { return cli_mpi_main(fp2d, argc, argv); }
