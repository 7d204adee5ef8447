/* The `valley check` runner (include/valley/check.h): runs checks, collects their numbers and
 * figures in a report folder built beside the target and renamed into place, renders the
 * figures with gnuplot (plots/gnuplot.c) when it is installed, and writes report.json, report.md and index.html
 * (paper_checks/check_report.c). */
#define _GNU_SOURCE /* open_memstream, mkdtemp, nftw */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "valley/check.h"
#include "valley/gnuplot.h"
#include "valley/outfile.h"
#include "checks_internal.h"

#define CHECK_GNUPLOT_TIMEOUT_S 60
#define CHECK_MAX_SHARED 16

/* The values shared by the checks of one run (valley_check_shared). */
typedef struct {
  size_t n;
  char key[CHECK_MAX_SHARED][64];
  void *value[CHECK_MAX_SHARED];
} check_shared_t;

static const char *const verdict_names[] = {"PASS", "FAIL", "NOT REPRODUCED", "INCONCLUSIVE",
                                            "SKIPPED"};
static const char *const scale_names[] = {"quick", "default", "full"};

const char *valley_check_verdict_name(valley_check_verdict_t v) {
  return valley_name_of((int)v, verdict_names, VALLEY_NAMES_N(verdict_names));
}

const char *valley_check_scale_name(valley_check_scale_t s) {
  return valley_name_of((int)s, scale_names, VALLEY_NAMES_N(scale_names));
}

void valley_check_config_default(valley_check_config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->scale = VALLEY_CHECK_DEFAULT;
  cfg->seed = 1;
}

struct valley_check_run {
  const valley_check_t *check;
  const valley_check_config_t *cfg;
  const char *fig_dir;
  valley_json_t json;
  FILE *numbers; /* open_memstream */
  char *numbers_text;
  size_t numbers_len;
  int have_verdict;
  valley_check_verdict_t verdict;
  char summary[640];
  size_t n_fig;
  valley_check_figure_t fig[VALLEY_CHECK_MAX_FIGURES];
  FILE *fig_data[VALLEY_CHECK_MAX_FIGURES];
  char *fig_plot[VALLEY_CHECK_MAX_FIGURES]; /* the plot commands, malloc'ed */
  check_shared_t *shared;                    /* the run's */
  int io_errno; /* a file of the report could not be written: the whole run stops */
};

const valley_check_config_t *valley_check_cfg(const valley_check_run_t *r) { return r->cfg; }

valley_json_t *valley_check_json(valley_check_run_t *r) { return &r->json; }

valley_status_t valley_check_shared(valley_check_run_t *r, const char *key,
                                    valley_status_t (*make)(valley_check_run_t *r, void *ctx,
                                                            void **value, valley_error_t *err),
                                    void *ctx, const void **value, valley_error_t *err) {
  check_shared_t *sh = r->shared;
  *value = NULL;
  for (size_t i = 0; i < sh->n; i++)
    if (strcmp(sh->key[i], key) == 0) {
      *value = sh->value[i];
      return VALLEY_OK;
    }
  if (sh->n >= CHECK_MAX_SHARED || strlen(key) >= sizeof sh->key[0])
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%s: shared value '%s': more than %d keys or too long",
                        r->check->name, key, CHECK_MAX_SHARED);
  void *v = NULL;
  valley_status_t st = make(r, ctx, &v, err);
  if (st != VALLEY_OK) {
    free(v);
    return st;
  }
  snprintf(sh->key[sh->n], sizeof sh->key[0], "%s", key);
  sh->value[sh->n++] = v;
  *value = v;
  return VALLEY_OK;
}

void valley_check_verdict(valley_check_run_t *r, valley_check_verdict_t v, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->summary, sizeof r->summary, fmt, ap);
  va_end(ap);
  r->verdict = v;
  r->have_verdict = 1;
}

void valley_check_progress(valley_check_run_t *r, const char *fmt, ...) {
  if (r->cfg->progress == NULL) return;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  r->cfg->progress(r->cfg->progress_ctx, line);
}

static int name_ok(const char *s) {
  if (*s == '\0' || strlen(s) >= sizeof(((valley_check_figure_t *)0)->name)) return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
          *s == '-' || *s == '_'))
      return 0;
  return 1;
}

static char *path_join(const char *dir, const char *name, const char *ext) {
  size_t len = strlen(dir) + strlen(name) + strlen(ext) + 3;
  char *p = malloc(len);
  if (p != NULL) snprintf(p, len, "%s/%s%s", dir, name, ext);
  return p;
}

/* Creates dir/name+ext (it must not exist); *path (may be NULL) gets its name, to free. */
static valley_status_t create_file(const char *dir, const char *name, const char *ext, FILE **f,
                                   char **path, int *io_errno, valley_error_t *err) {
  *f = NULL;
  char *p = path_join(dir, name, ext);
  if (p == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "a file name");
  *f = fopen(p, "wx");
  if (*f == NULL && io_errno != NULL) *io_errno = errno;
  valley_status_t st = *f != NULL ? VALLEY_OK
                                  : VALLEY_ERROR(err, VALLEY_EIO, "%s: %s", p, strerror(errno));
  if (path != NULL && st == VALLEY_OK) *path = p;
  else free(p);
  return st;
}

valley_status_t valley_check_figure(valley_check_run_t *r, const char *name, const char *caption,
                                    FILE **data, valley_error_t *err) {
  *data = NULL;
  if (!name_ok(name))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%s: bad figure name '%s'", r->check->name, name);
  if (r->n_fig >= VALLEY_CHECK_MAX_FIGURES)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%s: more than %d figures", r->check->name,
                        VALLEY_CHECK_MAX_FIGURES);
  for (size_t i = 0; i < r->n_fig; i++)
    if (strcmp(r->fig[i].name, name) == 0)
      return VALLEY_ERROR(err, VALLEY_EINVAL, "%s: figure '%s' twice", r->check->name, name);
  FILE *f;
  valley_status_t st = create_file(r->fig_dir, name, ".csv", &f, NULL, &r->io_errno, err);
  if (st != VALLEY_OK) return st;
  valley_check_figure_t *g = &r->fig[r->n_fig];
  memset(g, 0, sizeof *g);
  snprintf(g->name, sizeof g->name, "%s", name);
  snprintf(g->caption, sizeof g->caption, "%s", caption);
  r->fig_data[r->n_fig] = f;
  r->fig_plot[r->n_fig] = NULL;
  r->n_fig++;
  *data = f;
  return VALLEY_OK;
}

void valley_check_figure_plot(valley_check_run_t *r, const char *fmt, ...) {
  if (r->n_fig == 0) return;
  char **p = &r->fig_plot[r->n_fig - 1];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  size_t old = *p != NULL ? strlen(*p) : 0;
  char *q = realloc(*p, old + (size_t)n + 2);
  if (q == NULL) return; /* the script then lacks these lines; rendering reports it */
  va_start(ap, fmt);
  vsnprintf(q + old, (size_t)n + 1, fmt, ap);
  va_end(ap);
  if (n == 0 || q[old + (size_t)n - 1] != '\n') {
    q[old + (size_t)n] = '\n';
    q[old + (size_t)n + 1] = '\0';
  }
  *p = q;
}

/* The gnuplot script of figure i (plots/gnuplot.c). */
static valley_status_t write_script(valley_check_run_t *r, size_t i, valley_error_t *err) {
  const valley_check_figure_t *g = &r->fig[i];
  FILE *f;
  char *path = NULL;
  valley_status_t st = create_file(r->fig_dir, g->name, ".gp", &f, &path, &r->io_errno, err);
  if (st != VALLEY_OK) return st;
  char origin[160];
  snprintf(origin, sizeof origin, "valley check, %s", r->check->name);
  valley_gnuplot_script_write(f, g->name, origin, g->caption, r->fig_plot[i]);
  int e = valley_fflush_errno(f);
  if (fclose(f) != 0 && e == 0) e = errno;
  if (e != 0) {
    r->io_errno = e;
    st = VALLEY_ERROR(err, VALLEY_EIO, "cannot write '%s': %s", path, strerror(e));
  }
  free(path);
  return st;
}

/* ---- the run --------------------------------------------------------------------------------- */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

void valley_check_rm_tree(const char *dir) { nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* fsync of every file and folder of the report, children first, before it is renamed into
 * place: the report appears whole or not at all, gnuplot's pictures included. */
static int sync_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)ftw;
  int fd = open(path, O_RDONLY);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  int e = errno;
  close(fd);
  errno = e;
  /* a folder that refuses fsync is tolerated (some file systems do); a file is not */
  return rc != 0 && flag == FTW_F ? -1 : 0;
}

static int cancelled(const valley_check_config_t *cfg) {
  return cfg->cancel != NULL && cfg->cancel(cfg->progress_ctx);
}

static void remove_figures(const valley_check_run_t *r) {
  static const char *const ext[] = {".csv", ".gp", ".png", ".svg"};
  for (size_t i = 0; i < r->n_fig; i++)
    for (size_t e = 0; e < 4; e++) {
      char *p = path_join(r->fig_dir, r->fig[i].name, ext[e]);
      if (p != NULL) remove(p);
      free(p);
    }
}

/* One check: its numbers (as JSON text) and figures; res filled; the check's own status is
 * recorded, not returned.  Returns 0, or the errno of a report file that could not be written
 * (a full disk: the run stops). */
static int run_one(const valley_check_config_t *cfg, const valley_check_t *c, const char *fig_dir,
                   check_shared_t *shared, valley_check_result_t *res, char **numbers) {
  valley_check_run_t r;
  memset(&r, 0, sizeof r);
  r.check = c;
  r.cfg = cfg;
  r.fig_dir = fig_dir;
  r.shared = shared;
  memset(res, 0, sizeof *res);
  res->check = c;
  *numbers = NULL;
  r.numbers = open_memstream(&r.numbers_text, &r.numbers_len);
  double t0 = now_s();
  valley_error_t err;
  memset(&err, 0, sizeof err);
  valley_status_t st;
  if (r.numbers == NULL) {
    st = VALLEY_ERROR(&err, VALLEY_ENOMEM, "a memory stream");
  } else {
    valley_json_begin(&r.json, r.numbers);
    st = c->run(&r, &err);
    valley_json_end(&r.json);
    if (st == VALLEY_OK && !r.have_verdict)
      st = VALLEY_ERROR(&err, VALLEY_EINVAL, "%s set no verdict", c->name);
  }
  for (size_t i = 0; i < r.n_fig; i++) {
    if (r.fig_data[i] != NULL) {
      int e = valley_fflush_errno(r.fig_data[i]);
      if (fclose(r.fig_data[i]) != 0 && e == 0) e = errno;
      if (e != 0 && r.io_errno == 0) r.io_errno = e;
      if (e != 0 && st == VALLEY_OK)
        st = VALLEY_ERROR(&err, VALLEY_EIO, "%s: figure %s: %s", c->name, r.fig[i].name,
                          strerror(e));
    }
    r.fig_data[i] = NULL;
  }
  for (size_t i = 0; i < r.n_fig && st == VALLEY_OK; i++) st = write_script(&r, i, &err);
  if (r.numbers != NULL) fclose(r.numbers);
  res->seconds = now_s() - t0;
  if (st == VALLEY_OK) {
    res->ran = 1;
    res->verdict = r.verdict;
    snprintf(res->summary, sizeof res->summary, "%s", r.summary);
    res->n_figures = r.n_fig;
    memcpy(res->figures, r.fig, r.n_fig * sizeof r.fig[0]);
    *numbers = r.numbers_text;
    r.numbers_text = NULL;
  } else {
    res->ran = 0;
    snprintf(res->summary, sizeof res->summary, "could not run: %s", err.message);
    remove_figures(&r);
  }
  free(r.numbers_text);
  for (size_t i = 0; i < r.n_fig; i++) free(r.fig_plot[i]);
  return r.io_errno;
}

void valley_check_report_free(valley_check_report_t *rep) {
  if (rep == NULL) return;
  free(rep->results);
  rep->results = NULL;
  rep->n = 0;
}

valley_status_t valley_check_run_all(const valley_check_config_t *cfg,
                                     const valley_check_t *const *checks, size_t n,
                                     const char *out_dir, valley_check_report_t *rep,
                                     valley_error_t *err) {
  memset(rep, 0, sizeof *rep);
  size_t n_all = 0;
  const valley_check_t *all = valley_check_list(&n_all);
  if (checks == NULL) n = n_all;
  if (out_dir == NULL || *out_dir == '\0')
    return VALLEY_ERROR(err, VALLEY_EINVAL, "--out: an output directory is needed");
  size_t len = strlen(out_dir);
  char *tmp = malloc(len + 16), *figs = malloc(len + 32), *old = malloc(len + 16);
  char **numbers = calloc(n > 0 ? n : 1, sizeof *numbers);
  rep->results = calloc(n > 0 ? n : 1, sizeof *rep->results);
  check_shared_t shared;
  shared.n = 0;
  valley_status_t st = VALLEY_OK;
  if (tmp == NULL || figs == NULL || old == NULL || numbers == NULL || rep->results == NULL) {
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "the report");
    free(tmp);
    tmp = NULL;
    goto done;
  }
  snprintf(tmp, len + 16, "%s.tmp-XXXXXX", out_dir);
  if (mkdtemp(tmp) == NULL) {
    st = VALLEY_ERROR(err, VALLEY_EIO, "%s: cannot create a directory beside it: %s", out_dir,
                      strerror(errno));
    free(tmp);
    tmp = NULL;
    goto done;
  }
  chmod(tmp, 0755); /* mkdtemp makes it 0700; a report is for reading */
  snprintf(figs, len + 32, "%s/figures", tmp);
  if (mkdir(figs, 0755) != 0) {
    st = VALLEY_ERROR(err, VALLEY_EIO, "%s: %s", figs, strerror(errno));
    goto done;
  }
  double t0 = now_s();
  rep->n = n;
  for (size_t i = 0; i < n; i++) {
    const valley_check_t *c = checks != NULL ? checks[i] : &all[i];
    if (cancelled(cfg)) {
      st = VALLEY_ERROR(err, VALLEY_ECANCEL, "interrupted");
      goto done;
    }
    if (cfg->progress != NULL) {
      char line[256];
      snprintf(line, sizeof line, "[%zu/%zu] %s ...", i + 1, n, c->name);
      cfg->progress(cfg->progress_ctx, line);
    }
    int io = run_one(cfg, c, figs, &shared, &rep->results[i], &numbers[i]);
    if (io != 0) { /* the report's own files (full disk, file size limit): no report at all */
      st = VALLEY_ERROR(err, VALLEY_EIO, "cannot write the report '%s': %s", out_dir,
                        strerror(io));
      goto done;
    }
    if (cfg->progress != NULL) {
      char line[800];
      const valley_check_result_t *x = &rep->results[i];
      snprintf(line, sizeof line, "[%zu/%zu] %s: %s (%.1f s)", i + 1, n, c->name,
               x->ran ? valley_check_verdict_name(x->verdict) : "ERROR", x->seconds);
      cfg->progress(cfg->progress_ctx, line);
    }
  }
  /* rendering */
  char *gnuplot = valley_gnuplot_find();
  rep->gnuplot = gnuplot != NULL;
  if (gnuplot == NULL)
    snprintf(rep->gnuplot_note, sizeof rep->gnuplot_note,
             "gnuplot was not found on PATH: the figures' data and scripts are written, the "
             "pictures were not rendered (Debian: apt-get install gnuplot-nox)");
  size_t n_bad = 0;
  for (size_t i = 0; i < n; i++) {
    valley_check_result_t *x = &rep->results[i];
    int all_ok = 1;
    for (size_t k = 0; k < x->n_figures; k++) {
      if (cancelled(cfg)) {
        free(gnuplot);
        st = VALLEY_ERROR(err, VALLEY_ECANCEL, "interrupted");
        goto done;
      }
      if (gnuplot != NULL) {
        if (cfg->progress != NULL) {
          char line[160];
          snprintf(line, sizeof line, "rendering %s", x->figures[k].name);
          cfg->progress(cfg->progress_ctx, line);
        }
        x->figures[k].rendered =
            valley_gnuplot_render(gnuplot, figs, x->figures[k].name, CHECK_GNUPLOT_TIMEOUT_S);
      }
      all_ok &= x->figures[k].rendered;
      n_bad += !x->figures[k].rendered && gnuplot != NULL;
    }
    x->rendered = all_ok;
  }
  free(gnuplot);
  if (rep->gnuplot && n_bad > 0) {
    rep->gnuplot = 0;
    snprintf(rep->gnuplot_note, sizeof rep->gnuplot_note,
             "gnuplot failed on %zu figure(s): their data and scripts are written, the pictures "
             "are missing",
             n_bad);
  }
  rep->seconds = now_s() - t0;
  if ((st = valley_check_write_reports(cfg, rep, (const char *const *)numbers, tmp, err)) !=
      VALLEY_OK) {
    if (st == VALLEY_EIO) { /* named by the folder asked for, not by the temporary one */
      char why[256];
      snprintf(why, sizeof why, "%s", err->message);
      st = VALLEY_ERROR(err, VALLEY_EIO, "the report '%s' (built in '%s'): %s", out_dir, tmp, why);
    }
    goto done;
  }
  if (nftw(tmp, sync_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
    st = VALLEY_ERROR(err, VALLEY_EIO, "%s: cannot write the report: %s", out_dir,
                      strerror(errno));
    goto done;
  }
  if (cancelled(cfg)) {
    st = VALLEY_ERROR(err, VALLEY_ECANCEL, "interrupted");
    goto done;
  }
  /* into place: an older report is moved aside first, then removed */
  struct stat sb;
  int had_old = 0;
  if (stat(out_dir, &sb) == 0) {
    if (!S_ISDIR(sb.st_mode)) {
      st = VALLEY_ERROR(err, VALLEY_EINVAL, "--out %s: exists and is not a directory", out_dir);
      goto done;
    }
    snprintf(old, len + 16, "%s.old-XXXXXX", out_dir);
    if (mkdtemp(old) == NULL || rename(out_dir, old) != 0) {
      int e = errno;
      rmdir(old);
      errno = e;
      st = VALLEY_ERROR(err, VALLEY_EIO, "%s: cannot move the older report aside: %s", out_dir,
                        strerror(errno));
      goto done;
    }
    had_old = 1;
  }
  if (rename(tmp, out_dir) != 0) {
    st = VALLEY_ERROR(err, VALLEY_EIO, "%s: %s", out_dir, strerror(errno));
    if (had_old) rename(old, out_dir);
    goto done;
  }
  free(tmp);
  tmp = NULL;
  valley_fsync_parent(out_dir);
  if (had_old) valley_check_rm_tree(old);
done:
  if (tmp != NULL) {
    valley_check_rm_tree(tmp);
    free(tmp);
  }
  free(figs);
  free(old);
  if (numbers != NULL)
    for (size_t i = 0; i < n; i++) free(numbers[i]);
  free(numbers);
  for (size_t i = 0; i < shared.n; i++) free(shared.value[i]);
  if (st != VALLEY_OK) valley_check_report_free(rep);
  return st;
}
