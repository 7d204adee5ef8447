/* 2-D Langevin (Euler-Maruyama) ensembles on diagonal-noise Fokker-Planck problems
 * (shift-curvature paper, Appendix B.1; fp2d.h): the generic callback kernel, one Box-Muller
 * pair a step, each coordinate folded back into its side of the box.  The driver, the streams
 * and the walls are sim/langevin.c's (sim/langevin_internal.h); docs/langevin.md describes the
 * scheme. */
#include "valley/langevin.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "langevin_internal.h"

void valley_langevin2d_config_default(valley_langevin2d_config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->T = 1.0;
  cfg->dt = 1e-3;
  cfg->particles = 1024;
  cfg->steps = 1000;
  cfg->seed = 1;
  cfg->nx = cfg->ny = 50;
}

valley_status_t valley_langevin2d_config_check(const valley_langevin2d_config_t *cfg,
                                               valley_error_t *err) {
  valley_status_t st =
      valley_langevin_check_common(cfg->T, cfg->dt, "step dt", cfg->particles, cfg->steps,
                                   cfg->burn_in, cfg->record_every, cfg->threads, err);
  if (st != VALLEY_OK) return st;
  if (cfg->nx == 0 || cfg->ny == 0 || cfg->nx > MAX_BINS / cfg->ny)
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "nx and ny must be >= 1 with nx ny <= %zu (got %zu, %zu)", MAX_BINS,
                        cfg->nx, cfg->ny);
  if ((cfg->x0 == NULL) != (cfg->y0 == NULL))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "give both x0 and y0, or neither");
  return VALLEY_OK;
}

valley_langevin2d_result_t *valley_langevin2d_result_alloc(size_t particles, size_t nx,
                                                           size_t ny) {
  valley_langevin2d_result_t *r = calloc(1, sizeof *r);
  if (r == NULL) return NULL;
  size_t cells = nx * ny > 0 ? nx * ny : 1;
  r->x = calloc(particles > 0 ? particles : 1, sizeof *r->x);
  r->y = calloc(particles > 0 ? particles : 1, sizeof *r->y);
  r->hist = calloc(cells, sizeof *r->hist);
  r->path_hist = calloc(cells, sizeof *r->path_hist);
  if (r->x == NULL || r->y == NULL || r->hist == NULL || r->path_hist == NULL) {
    valley_langevin2d_result_free(r);
    return NULL;
  }
  r->particles = particles;
  r->nx = nx;
  r->ny = ny;
  return r;
}

void valley_langevin2d_result_free(valley_langevin2d_result_t *r) {
  if (r == NULL) return;
  free(r->x);
  free(r->y);
  free(r->hist);
  free(r->path_hist);
  free(r);
}

typedef struct {
  valley_langevin_ens_t e;
  const valley_fp2d_t *prob;
  size_t nx, ny;
  double xlo, xhi, ylo, yhi, sx, sy;
  double dt, hT;
  double *x, *y;
} run2d_t;

static void run2d_free(run2d_t *R) {
  valley_langevin_ens_free(&R->e);
  free(R->x);
  free(R->y);
}

static inline size_t cell_of(const run2d_t *R, double x, double y) {
  return bin_of(y, R->ylo, R->sy, R->ny) * R->nx + bin_of(x, R->xlo, R->sx, R->nx);
}

/* The kernel (valley_langevin_block_fn): particle by particle. */
static void block2d(void *run, size_t blk, uint64_t t0, uint64_t t1, uint64_t *hrow) {
  run2d_t *R = run;
  const valley_fp2d_t *prob = R->prob;
  const double dt = R->dt, hT = R->hT;
  for (size_t i = blk * LANES; i < (blk + 1) * LANES && i < R->e.n; i++) {
    if (R->e.dead[i]) continue;
    valley_pcg32_t rng = {R->e.st[i], R->e.inc[i]};
    double x = R->x[i], y = R->y[i];
    uint64_t next = first_record(t0, R->e.burn, R->e.rec);
    for (uint64_t t = t0; t < t1; t++) {
      double z1, z2;
      normal_pair(&rng, &z1, &z2);
      valley_fp2d_eval_t e;
      prob->eval(x, y, prob->params, &e);
      double xn = fold(x - dt * e.Ux + sqrt(hT * e.d1) * z1, R->xlo, R->xhi);
      double yn = fold(y - dt * e.Uy + sqrt(hT * e.d2) * z2, R->ylo, R->yhi);
      if (isnan(xn) || isnan(yn)) {
        R->e.dead[i] = t + 1;
        R->e.dead_from[2 * i] = x;
        R->e.dead_from[2 * i + 1] = y;
        break;
      }
      x = xn;
      y = yn;
      if (t + 1 == next) {
        hrow[cell_of(R, x, y)]++;
        next += R->e.rec;
      }
    }
    R->x[i] = x;
    R->y[i] = y;
    R->e.st[i] = rng.state;
  }
}

static valley_status_t run2d_init(run2d_t *R, const valley_fp2d_t *prob,
                                  const valley_langevin2d_config_t *cfg, valley_error_t *err) {
  memset(R, 0, sizeof *R);
  const double b[4] = {prob->xlo, prob->xhi, prob->ylo, prob->yhi};
  for (int k = 0; k < 4; k++)
    if (!isfinite(b[k]))
      return VALLEY_ERROR(err, VALLEY_EINVAL, "the box [%g, %g] x [%g, %g] must be finite", b[0],
                          b[1], b[2], b[3]);
  if (!(b[0] < b[1]) || !(b[2] < b[3]) || !isfinite(b[1] - b[0]) || !isfinite(b[3] - b[2]))
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "the box [%g, %g] x [%g, %g] needs lo < hi and finite widths", b[0], b[1],
                        b[2], b[3]);
  valley_status_t st =
      valley_langevin_ens_init(&R->e, cfg->particles, 2, cfg->nx * cfg->ny, cfg->seed,
                               cfg->burn_in, cfg->record_every, cfg->threads, err);
  if (st != VALLEY_OK) return st;
  valley_langevin_ens_offset(&R->e, cfg->seed, cfg->first_particle);
  size_t n = R->e.n, np = R->e.nblocks * LANES;
  R->prob = prob;
  R->nx = cfg->nx;
  R->ny = cfg->ny;
  R->xlo = b[0];
  R->xhi = b[1];
  R->ylo = b[2];
  R->yhi = b[3];
  R->sx = (double)cfg->nx / (b[1] - b[0]);
  R->sy = (double)cfg->ny / (b[3] - b[2]);
  R->dt = cfg->dt;
  R->hT = cfg->dt * cfg->T;
  R->x = alloc64(np, sizeof *R->x);
  R->y = alloc64(np, sizeof *R->y);
  if (R->x == NULL || R->y == NULL) {
    run2d_free(R);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "cannot allocate the state of %zu particles", n);
  }
  for (size_t i = 0; i < n; i++) {
    valley_pcg32_t rng = {R->e.st[i], R->e.inc[i]};
    double x, y;
    if (cfg->x0 != NULL) {
      x = cfg->x0[i];
      y = cfg->y0[i];
    } else {
      x = uniform_start(&rng, b[0], b[1]);
      y = uniform_start(&rng, b[2], b[3]);
    }
    if (!(x >= b[0] && x <= b[1] && y >= b[2] && y <= b[3])) {
      run2d_free(R);
      return VALLEY_ERROR(err, VALLEY_EINVAL,
                          "initial position of particle %zu (%g, %g) is outside the box",
                          cfg->first_particle + i, x, y);
    }
    R->x[i] = x;
    R->y[i] = y;
    R->e.st[i] = rng.state;
  }
  return VALLEY_OK;
}

valley_status_t valley_langevin2d_run(const valley_fp2d_t *prob,
                                      const valley_langevin2d_config_t *cfg,
                                      valley_langevin2d_result_t *res, valley_error_t *err) {
  valley_status_t st = valley_langevin2d_config_check(cfg, err);
  if (st != VALLEY_OK) return st;
  if (prob == NULL || prob->eval == NULL)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "the problem has no eval callback");
  if (res == NULL || res->particles != cfg->particles || res->nx != cfg->nx || res->ny != cfg->ny)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "result sizes differ from the configuration's");
  run2d_t R;
  st = run2d_init(&R, prob, cfg, err);
  if (st != VALLEY_OK) return st;
  st = valley_langevin_ens_run(&R.e, &R, block2d, cfg->steps, cfg->progress, cfg->progress_arg,
                               err);
  if (st != VALLEY_OK) {
    run2d_free(&R);
    return st;
  }
  res->xlo = R.xlo;
  res->xhi = R.xhi;
  res->ylo = R.ylo;
  res->yhi = R.yhi;
  memset(res->hist, 0, R.e.cells * sizeof *res->hist);
  for (size_t i = 0; i < R.e.n; i++) {
    res->x[i] = R.x[i];
    res->y[i] = R.y[i];
    res->hist[cell_of(&R, R.x[i], R.y[i])]++;
  }
  res->path_samples = valley_langevin_ens_path(&R.e, res->path_hist);
  run2d_free(&R);
  return VALLEY_OK;
}
