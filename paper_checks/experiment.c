/* The experiment runner (include/valley/experiment.h): the report's frame, atomic CSV files, the
 * shared steps (data, training with SWA, probes) and the registry. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "valley/cuda.h"
#include "valley/experiment.h"
#include "experiments_internal.h"

#define EXP_MAX_FILES 16

struct valley_exp_run {
  const valley_exp_t *exp;
  const valley_exp_config_t *cfg;
  valley_json_t json;
  valley_outfile_t report;
  valley_outfile_t files[EXP_MAX_FILES];
  size_t n_files;
  int have_verdict;
  valley_exp_verdict_t verdict;
  char summary[512];
};

static const char *const verdict_names[] = {"reproduced", "not reproduced", "inconclusive"};

const char *valley_exp_verdict_name(valley_exp_verdict_t v) {
  return valley_name_of((int)v, verdict_names, VALLEY_NAMES_N(verdict_names));
}

void valley_exp_config_default(valley_exp_config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->seed = 1;
}

const valley_exp_config_t *valley_exp_cfg(const valley_exp_run_t *r) { return r->cfg; }

valley_json_t *valley_exp_json(valley_exp_run_t *r) { return &r->json; }

valley_status_t valley_exp_csv(valley_exp_run_t *r, const char *suffix, FILE **f,
                               valley_error_t *err) {
  *f = NULL;
  if (r->n_files >= EXP_MAX_FILES)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%s: more than %d CSV files", r->exp->name,
                        EXP_MAX_FILES);
  size_t len = strlen(r->cfg->out_dir) + strlen(r->exp->name) + strlen(suffix) + 8;
  char *path = malloc(len);
  if (path == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "a file name");
  snprintf(path, len, "%s/%s_%s.csv", r->cfg->out_dir, r->exp->name, suffix);
  valley_status_t st = valley_outfile_open(&r->files[r->n_files], path, err);
  free(path);
  if (st != VALLEY_OK) return st;
  *f = r->files[r->n_files++].f;
  return VALLEY_OK;
}

void valley_exp_verdict(valley_exp_run_t *r, valley_exp_verdict_t v, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->summary, sizeof r->summary, fmt, ap);
  va_end(ap);
  r->verdict = v;
  r->have_verdict = 1;
}

void valley_exp_progress(valley_exp_run_t *r, const char *fmt, ...) {
  if (r->cfg->progress == NULL) return;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  r->cfg->progress(r->cfg->progress_ctx, line);
}

/* ---- shared steps ---------------------------------------------------------------------------- */

valley_status_t valley_exp_load(valley_exp_run_t *r, size_t n_train, size_t n_test,
                                valley_dataset_t *train, valley_dataset_t *test,
                                valley_error_t *err) {
  memset(train, 0, sizeof *train);
  memset(test, 0, sizeof *test);
  valley_dataset_t full[2];
  memset(full, 0, sizeof full);
  const char *split[2] = {"train", "test"};
  size_t want[2] = {n_train, n_test};
  valley_dataset_t *dst[2] = {train, test};
  valley_status_t st = VALLEY_OK;
  for (int s = 0; s < 2 && st == VALLEY_OK; s++) {
    st = valley_dataset_load_fashion_mnist(r->cfg->data_dir, split[s], &full[s], err);
    if (st != VALLEY_OK) break;
    size_t n = want[s] == 0 || want[s] > full[s].n ? full[s].n : want[s];
    /* the subsets draw with the experiment's seed, one stream per split */
    st = valley_dataset_subset(&full[s], n, r->cfg->seed * 2 + (uint64_t)s, dst[s], err);
    valley_dataset_free(&full[s]);
  }
  if (st != VALLEY_OK) {
    valley_dataset_free(train);
    valley_dataset_free(test);
  }
  return st;
}

void valley_exp_model_free(valley_exp_model_t *m) {
  if (m == NULL) return;
  valley_mlp_free(m->net);
  free(m->theta);
  m->net = NULL;
  m->theta = NULL;
}

static valley_status_t model_alloc(const valley_mlp_config_t *arch, size_t batch,
                                   valley_exp_model_t *m, valley_error_t *err) {
  memset(m, 0, sizeof *m);
  valley_status_t st = valley_mlp_alloc(arch, batch, &m->net, err);
  if (st != VALLEY_OK) return st;
  m->theta = malloc(m->net->n_params * sizeof *m->theta);
  if (m->theta == NULL) {
    valley_exp_model_free(m);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "parameters");
  }
  return VALLEY_OK;
}

valley_status_t valley_exp_model_init(const valley_mlp_config_t *arch, size_t batch,
                                      uint64_t init_seed, valley_exp_model_t *out,
                                      valley_error_t *err) {
  valley_status_t st = model_alloc(arch, batch, out, err);
  if (st == VALLEY_OK) valley_mlp_init(out->net, out->theta, init_seed);
  return st;
}

valley_status_t valley_exp_model_copy(const valley_exp_model_t *m, const float *theta,
                                      valley_exp_model_t *out, valley_error_t *err) {
  valley_status_t st = model_alloc(&m->net->cfg, m->net->max_batch, out, err);
  if (st != VALLEY_OK) return st;
  memcpy(out->theta, theta, m->net->n_params * sizeof *theta);
  size_t nb = m->net->n_buffers / 2;
  if (nb > 0) {
    memcpy(out->net->running_mean, m->net->running_mean, nb * sizeof(float));
    memcpy(out->net->running_var, m->net->running_var, nb * sizeof(float));
  }
  return VALLEY_OK;
}

valley_status_t valley_exp_train(valley_exp_run_t *r, const valley_exp_train_t *spec,
                                 const valley_dataset_t *train, valley_exp_model_t *sgd,
                                 valley_exp_model_t *swa, valley_error_t *err) {
  memset(sgd, 0, sizeof *sgd);
  if (swa != NULL) memset(swa, 0, sizeof *swa);
  if (spec->epochs < 1 || (spec->swa_start > 0 && spec->swa_freq < 1) ||
      spec->swa_start > spec->epochs)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%zu epochs, SWA from %zu every %zu", spec->epochs,
                        spec->swa_start, spec->swa_freq);
  valley_status_t st = model_alloc(&spec->arch, spec->sgd.batch, sgd, err);
  if (st != VALLEY_OK) return st;
  size_t np = sgd->net->n_params;
  float *vel = calloc(np, sizeof *vel), *avg = NULL;
  int want_swa = swa != NULL && spec->swa_start > 0;
  if (want_swa) avg = malloc(np * sizeof *avg);
  if (vel == NULL || (want_swa && avg == NULL)) {
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "training buffers of %zu parameters", np);
    goto done;
  }
  if (spec->start == NULL) {
    valley_mlp_init(sgd->net, sgd->theta, spec->init_seed);
  } else {
    if (spec->start->net->n_params != np || spec->start->net->n_buffers != sgd->net->n_buffers) {
      st = VALLEY_ERROR(err, VALLEY_EINVAL, "the start model has %zu parameters, not %zu",
                        spec->start->net->n_params, np);
      goto done;
    }
    memcpy(sgd->theta, spec->start->theta, np * sizeof *sgd->theta);
    size_t nb = sgd->net->n_buffers / 2;
    if (nb > 0) {
      memcpy(sgd->net->running_mean, spec->start->net->running_mean, nb * sizeof(float));
      memcpy(sgd->net->running_var, spec->start->net->running_var, nb * sizeof(float));
    }
  }
  size_t count = 0;
  for (size_t e = 0; e < spec->epochs && st == VALLEY_OK; e++) {
    double loss = 0.0;
    st = valley_mlp_train_epoch(sgd->net, sgd->theta, spec->sgd.momentum > 0 ? vel : NULL, train,
                                &spec->sgd, e, &loss, err);
    if (st != VALLEY_OK) break;
    int now = want_swa && e + 1 >= spec->swa_start &&
              (e + 1 - spec->swa_start) % spec->swa_freq == 0;
    if (now) valley_swa_update(avg, sgd->theta, np, count++);
    valley_exp_progress(r, "%s: %s, epoch %zu/%zu, train loss %.4f%s", r->exp->name,
                        spec->arch.arch == VALLEY_ARCH_CNN ? "CNN" : "MLP", e + 1, spec->epochs,
                        loss, now ? " [SWA]" : "");
    if (spec->on_epoch != NULL) st = spec->on_epoch(spec->epoch_ctx, e, sgd, loss, err);
    if (st == VALLEY_OK && r->cfg->cancel != NULL && r->cfg->cancel(r->cfg->progress_ctx))
      st = VALLEY_ERROR(err, VALLEY_ECANCEL, "interrupted");
  }
  if (st == VALLEY_OK && want_swa) {
    st = valley_exp_model_copy(sgd, avg, swa, err);
    if (st == VALLEY_OK) st = valley_mlp_recompute_bn(swa->net, swa->theta, train, spec->sgd.batch, err);
  }
done:
  free(vel);
  free(avg);
  if (st != VALLEY_OK) {
    valley_exp_model_free(sgd);
    valley_exp_model_free(swa);
  }
  return st;
}

valley_status_t valley_exp_probe(valley_exp_run_t *r, const valley_exp_model_t *m, size_t n_dirs,
                                 const float *const *dirs, size_t n_grid, const double *grid,
                                 const valley_dataset_t *train, const valley_dataset_t *test,
                                 valley_prof_t *out, valley_error_t *err) {
  if (r->cfg->cuda) {
    valley_probe_cuda_config_t c;
    valley_probe_cuda_config_default(&c);
    return valley_probe_cuda(m->net, m->theta, n_dirs, dirs, n_grid, grid, train, test, &c, out,
                             err);
  }
  valley_probe_config_t c;
  valley_probe_config_default(&c);
  return valley_probe(m->net, m->theta, n_dirs, dirs, n_grid, grid, train, test, &c, out, err);
}

void valley_exp_write_profiles(FILE *f, const char *comment, size_t n, const valley_prof_t *p) {
  fprintf(f, "# %s\ndirection,l,train_loss,test_loss,train_acc,test_acc\n", comment);
  for (size_t d = 0; d < n; d++)
    for (size_t g = 0; g < p[d].n; g++)
      fprintf(f, "%zu,%.17g,%.17g,%.17g,%.17g,%.17g\n", d, p[d].l[g], p[d].train[g], p[d].test[g],
              p[d].train_acc ? p[d].train_acc[g] : NAN, p[d].test_acc ? p[d].test_acc[g] : NAN);
}

void valley_exp_wilson(uint64_t k, uint64_t n, double z, double *lo, double *hi) {
  if (n == 0) {
    *lo = 0.0;
    *hi = 1.0;
    return;
  }
  double nn = (double)n, p = (double)k / nn, z2 = z * z;
  double c = (p + z2 / (2 * nn)) / (1 + z2 / nn);
  double h = z * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn)) / (1 + z2 / nn);
  *lo = fmax(0.0, c - h);
  *hi = fmin(1.0, c + h);
}

/* ---- helpers shared by the experiments ------------------------------------------------------ */

uint64_t valley_exp_mix(uint64_t x) {
  x += UINT64_C(0x9e3779b97f4a7c15);
  x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
  return x ^ (x >> 31);
}

uint64_t valley_exp_seed(uint64_t seed, uint64_t what, uint64_t a, uint64_t b) {
  return valley_exp_mix(valley_exp_mix(valley_exp_mix(seed ^ valley_exp_mix(what)) + a) + b);
}

double valley_exp_norm(const float *v, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += (double)v[i] * v[i];
  return sqrt(s);
}

int valley_exp_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y ? 1 : 0;
}

void valley_exp_mean_se(const double *x, size_t n, double *mean, double *se, double *sd) {
  double a = 0.0, a2 = 0.0;
  for (size_t i = 0; i < n; i++) a += x[i];
  double m = a / (double)n;
  for (size_t i = 0; i < n; i++) a2 += (x[i] - m) * (x[i] - m);
  double s = n > 1 ? sqrt(a2 / (double)(n - 1)) : NAN;
  *mean = m;
  if (sd != NULL) *sd = s;
  if (se != NULL) *se = n > 1 ? s / sqrt((double)n) : NAN;
}

void valley_exp_spec_bn_mlp(valley_exp_train_t *spec, const size_t widths[4], size_t batch,
                            double lr, size_t epochs, uint64_t init_seed, uint64_t sgd_seed) {
  memset(spec, 0, sizeof *spec);
  valley_mlp_config_default(&spec->arch);
  spec->arch.n_layers = 3;
  for (int i = 0; i < 4; i++) spec->arch.widths[i] = widths[i];
  spec->arch.batch_norm = 1;
  valley_sgd_config_default(&spec->sgd);
  spec->sgd.batch = batch;
  spec->sgd.lr = lr;
  spec->sgd.seed = sgd_seed;
  spec->epochs = epochs;
  spec->init_seed = init_seed;
}

valley_status_t valley_exp_def1(const valley_prof_t *p, double L, double h, valley_prof_def1_t *o,
                                valley_error_t *err) {
  size_t imin = 0;
  for (size_t g = 1; g < p->n; g++)
    if (p->train[g] < p->train[imin]) imin = g;
  valley_prof_def1_config_t c;
  valley_prof_def1_config_default(&c);
  c.r_min = fmax(fabs(p->l[imin]) + h, 0.1 * L);
  return valley_prof_def1(p->l, p->train, p->n, &c, o, err);
}

valley_status_t valley_exp_pilot(valley_exp_run_t *r, const valley_exp_model_t *m,
                                 const valley_dir_config_t *dc, uint64_t dseed, uint64_t index,
                                 double rise, float *u, const valley_dataset_t *train,
                                 const valley_dataset_t *test, double *L, double *rise_lo,
                                 double *rise_hi, valley_error_t *err) {
  size_t np = m->net->n_params;
  valley_status_t st = valley_direction(m->net, m->theta, dc, dseed, index, u, err);
  if (st != VALLEY_OK) return st;
  double nu = valley_exp_norm(u, np), nt = valley_exp_norm(m->theta, np);
  if (!(nu > 0) || !(nt > 0))
    return VALLEY_ERROR(err, VALLEY_EDOM, "%s: a zero pilot direction or theta", r->exp->name);
  enum { K = VALLEY_EXP_LADDER_HI - VALLEY_EXP_LADDER_LO + 1 };
  double grid[2 * K + 1];
  for (int k = 0; k < K; k++) {
    double v = ldexp(nt / nu, VALLEY_EXP_LADDER_LO + k);
    grid[K + 1 + k] = v;
    grid[K - 1 - k] = -v;
  }
  grid[K] = 0.0;
  valley_prof_t p;
  const float *dirs[1] = {u};
  st = valley_exp_probe(r, m, 1, dirs, 2 * K + 1, grid, train, test, &p, err);
  if (st != VALLEY_OK) return st;
  int chosen = K - 1;
  for (int k = 0; k < K; k++)
    if (p.train[K - 1 - k] - p.train[K] >= rise && p.train[K + 1 + k] - p.train[K] >= rise) {
      chosen = k;
      break;
    }
  *L = grid[K + 1 + chosen];
  if (rise_lo != NULL) *rise_lo = p.train[K - 1 - chosen] - p.train[K];
  if (rise_hi != NULL) *rise_hi = p.train[K + 1 + chosen] - p.train[K];
  valley_prof_free(&p);
  return VALLEY_OK;
}

/* ---- registry and runner --------------------------------------------------------------------- */

static const valley_exp_t experiments[] = {
    VALLEY_EXPERIMENTS
};

const valley_exp_t *valley_exp_list(size_t *n) {
  *n = sizeof experiments / sizeof experiments[0];
  return experiments;
}

const valley_exp_t *valley_exp_find(const char *name) {
  size_t n;
  const valley_exp_t *e = valley_exp_list(&n);
  for (size_t i = 0; i < n; i++)
    if (strcmp(e[i].name, name) == 0) return &e[i];
  return NULL;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

valley_status_t valley_exp_execute(const valley_exp_t *e, const valley_exp_config_t *cfg,
                                   valley_exp_result_t *res, valley_error_t *err) {
  memset(res, 0, sizeof *res);
  if (cfg->out_dir == NULL)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%s: no output directory", e->name);
  valley_exp_run_t *r = calloc(1, sizeof *r);
  if (r == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "experiment state");
  r->exp = e;
  r->cfg = cfg;
  snprintf(res->report, sizeof res->report, "%s/%s.json", cfg->out_dir, e->name);
  valley_status_t st = valley_outfile_open(&r->report, res->report, err);
  if (st != VALLEY_OK) {
    free(r);
    return st;
  }
  double t0 = now_s();
  valley_json_begin(&r->json, r->report.f);
  valley_json_string(&r->json, "experiment", e->name);
  valley_json_build(&r->json);
  valley_json_string(&r->json, "claim", e->claim);
  valley_json_string(&r->json, "source", e->source);
  valley_json_string(&r->json, "mode", cfg->full ? "full" : "quick");
  valley_json_u64(&r->json, "seed", cfg->seed);
  valley_json_string(&r->json, "device", cfg->cuda ? "cuda" : "cpu");
  valley_json_object(&r->json, "results");
  st = e->run(r, err);
  valley_json_object_end(&r->json);
  if (st == VALLEY_OK && cfg->cancel != NULL && cfg->cancel(cfg->progress_ctx))
    st = VALLEY_ERROR(err, VALLEY_ECANCEL, "interrupted");
  if (st == VALLEY_OK && !r->have_verdict)
    st = VALLEY_ERROR(err, VALLEY_EINVAL, "%s set no verdict", e->name);
  res->seconds = now_s() - t0;
  if (st == VALLEY_OK) {
    valley_json_string(&r->json, "verdict", valley_exp_verdict_name(r->verdict));
    valley_json_string(&r->json, "summary", r->summary);
    valley_json_array(&r->json, "files");
    for (size_t i = 0; i < r->n_files; i++) valley_json_string(&r->json, NULL, r->files[i].path);
    valley_json_array_end(&r->json);
    valley_json_number(&r->json, "seconds", res->seconds);
    valley_json_end(&r->json);
    /* every file on disk first (a full disk shows here and leaves none of them), then the
     * renames: CSVs first, then the report, which never names a file that is not there */
    for (size_t i = 0; i < r->n_files && st == VALLEY_OK; i++)
      st = valley_outfile_sync(&r->files[i], err);
    if (st == VALLEY_OK) st = valley_outfile_sync(&r->report, err);
    for (size_t i = 0; i < r->n_files && st == VALLEY_OK; i++)
      st = valley_outfile_commit(&r->files[i], err);
    for (size_t i = 0; i < r->n_files; i++) valley_outfile_abort(&r->files[i]);
    if (st == VALLEY_OK)
      st = valley_outfile_commit(&r->report, err);
    else
      valley_outfile_abort(&r->report);
    res->verdict = r->verdict;
    snprintf(res->summary, sizeof res->summary, "%s", r->summary);
    res->n_files = r->n_files;
  } else {
    for (size_t i = 0; i < r->n_files; i++) valley_outfile_abort(&r->files[i]);
    valley_outfile_abort(&r->report);
  }
  free(r);
  return st;
}
