/* `valley check` (issue 7; docs/check.md): every claim of the papers that valley can test, run
 * as a check with a verdict, the numbers behind it, its figures and the command that reruns it,
 * collected in one report folder: index.html, report.md, report.json and figures/ (for each
 * figure a CSV, a gnuplot script, and the PNG and SVG that gnuplot renders from them).
 * paper_checks/CLAIMS.md lists the claims, one row per check. */
#ifndef VALLEY_CHECK_H
#define VALLEY_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "valley/error.h"
#include "valley/json.h"

typedef enum {
  VALLEY_CHECK_PASS = 0,           /* the claim holds, within the stated uncertainty */
  VALLEY_CHECK_FAIL = 1,           /* a stated result is violated: a counterexample, or an
                                      interval entirely on the wrong side */
  VALLEY_CHECK_NOT_REPRODUCED = 2, /* an empirical claim that valley's numbers do not show */
  VALLEY_CHECK_INCONCLUSIVE = 3,   /* the uncertainty straddles the claim */
  VALLEY_CHECK_SKIPPED = 4         /* could not run here (no data, no GPU): the summary says why */
} valley_check_verdict_t;

/* "PASS", "FAIL", "NOT REPRODUCED", "INCONCLUSIVE", "SKIPPED". */
const char *valley_check_verdict_name(valley_check_verdict_t v);

typedef enum {
  VALLEY_CHECK_QUICK = 0,   /* the whole run in well under 30 s on 2 cores (tests) */
  VALLEY_CHECK_DEFAULT = 1, /* the whole run in under 5 minutes on 2 cores */
  VALLEY_CHECK_FULL = 2     /* the papers' scale */
} valley_check_scale_t;

/* "quick", "default", "full". */
const char *valley_check_scale_name(valley_check_scale_t s);

typedef struct {
  valley_check_scale_t scale;
  const char *data_dir; /* Fashion-MNIST; NULL: the Debian package's */
  uint64_t seed;        /* every draw of every check derives from it */
  int threads;          /* 0: OpenMP's default */
  /* progress lines, may be NULL */
  void (*progress)(void *ctx, const char *line);
  void *progress_ctx;
  /* may be NULL; nonzero stops the run between checks and renderings (ECANCEL, no report) */
  int (*cancel)(void *ctx);
} valley_check_config_t;

/* default scale, data NULL, seed 1, threads 0, no progress */
void valley_check_config_default(valley_check_config_t *cfg);

/* ---- inside a check -------------------------------------------------------------------------- */

typedef struct valley_check_run valley_check_run_t;

const valley_check_config_t *valley_check_cfg(const valley_check_run_t *r);

/* The writer of the check's "numbers" object in report.json: the check adds its keys. */
valley_json_t *valley_check_json(valley_check_run_t *r);

/* The verdict and a one-line summary with the numbers behind it (printf style); a FAIL or NOT
 * REPRODUCED summary says what failed, with numbers.  A check that sets no verdict is an error. */
void valley_check_verdict(valley_check_run_t *r, valley_check_verdict_t v, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* A value that several checks of one run need, computed once (e.g. the Theorem 2 Monte Carlo
 * that five checks read): the first call with `key` runs make(r, ctx, &value, err) and keeps
 * value (malloc'ed by make; the run frees it at its end); later calls with the same key return
 * the same value.  *value is owned by the run: read it, do not free it.  A failed make is not
 * kept.  At most 16 keys per run.  EINVAL (too many keys) or make's status. */
valley_status_t valley_check_shared(valley_check_run_t *r, const char *key,
                                    valley_status_t (*make)(valley_check_run_t *r, void *ctx,
                                                            void **value, valley_error_t *err),
                                    void *ctx, const void **value, valley_error_t *err);

/* A progress line (printf style). */
void valley_check_progress(valley_check_run_t *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* A figure of this check: `name` (letters, digits, '-' and '_') becomes figures/name.csv,
 * figures/name.gp, figures/name.png and figures/name.svg; `caption` is what the figure shows, in
 * one or two sentences (the report prints it under the picture).  *data is the CSV stream
 * (write a '#' comment line, then a header line, then rows; committed with the report).  The
 * gnuplot commands come from valley_check_figure_plot.  At most VALLEY_CHECK_MAX_FIGURES.
 * EINVAL (bad name, too many) / EIO. */
valley_status_t valley_check_figure(valley_check_run_t *r, const char *name, const char *caption,
                                    FILE **data, valley_error_t *err);

/* The gnuplot commands of the figure opened last (printf style, may be called several times;
 * lines separated by '\n').  The data file is `name.csv` in the script's own directory and the
 * framework has already set "set datafile separator ','" and "set key autotitle columnhead";
 * refer to the file as DATA (a gnuplot string variable the framework defines).  Use one `plot`
 * (or `splot`) command, no `set terminal` and no `set output`: the framework renders the same
 * commands to PNG (pngcairo) and to SVG. */
void valley_check_figure_plot(valley_check_run_t *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- the registry ---------------------------------------------------------------------------- */

typedef struct {
  const char *name;     /* "thm2-wbar" */
  const char *paper;    /* "asymmetric-valleys-paper.txt" */
  const char *where;    /* "Theorem 2" */
  const char *sentence; /* the paper's statement, quoted or closely paraphrased */
  const char *command;  /* the valley command that reruns the computation behind the check */
  valley_status_t (*run)(valley_check_run_t *r, valley_error_t *err);
} valley_check_t;

const valley_check_t *valley_check_list(size_t *n);
const valley_check_t *valley_check_find(const char *name);

/* ---- a whole run ----------------------------------------------------------------------------- */

#define VALLEY_CHECK_MAX_FIGURES 8

typedef struct {
  char name[64];
  char caption[384];
  int rendered; /* name.png and name.svg were made */
} valley_check_figure_t;

typedef struct {
  const valley_check_t *check;
  int ran;                        /* 0: the check stopped with an error (message in summary) */
  valley_check_verdict_t verdict; /* when ran */
  char summary[640];
  double seconds;
  size_t n_figures;
  valley_check_figure_t figures[VALLEY_CHECK_MAX_FIGURES];
  int rendered;                   /* every figure rendered to PNG and SVG */
} valley_check_result_t;

typedef struct {
  size_t n;
  valley_check_result_t *results; /* [n] */
  int gnuplot;                    /* gnuplot was found and rendered the figures */
  char gnuplot_note[256];         /* why the pictures were not rendered, when not */
  double seconds;
} valley_check_report_t;

/* Runs the checks checks[0..n-1] (all of the registry when checks is NULL) and writes the report
 * folder out_dir: it is built beside out_dir and renamed into place at the end, replacing an
 * older report; an error leaves out_dir as it was.  A check that fails to run (an error) is
 * recorded and the others still run.  *rep is filled (free with valley_check_report_free).
 * EINVAL / EIO / ENOMEM for the report itself. */
valley_status_t valley_check_run_all(const valley_check_config_t *cfg, const valley_check_t *const *checks,
                                     size_t n, const char *out_dir, valley_check_report_t *rep,
                                     valley_error_t *err);
void valley_check_report_free(valley_check_report_t *rep);

#endif
