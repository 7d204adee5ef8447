/* The `valley check` runner (paper_checks/check.c) on made-up checks with known outcomes: every
 * verdict is carried to the report as set, a check that errs or sets no verdict is recorded as
 * not run and its figures are removed, bad figure names are refused, and the experiments'
 * verdicts map as documented (docs/check.md). */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "../paper_checks/checks_internal.h"

static valley_status_t c_pass(valley_check_run_t *r, valley_error_t *err) {
  FILE *f;
  valley_status_t st = valley_check_figure(r, "fig-ok", "a straight line, to be drawn.", &f, err);
  if (st != VALLEY_OK) return st;
  fprintf(f, "# a line\nx,y\n0,0\n1,1\n");
  valley_check_figure_plot(r, "plot DATA using 1:2 with lines");
  valley_json_number(valley_check_json(r), "answer", 42);
  valley_check_verdict(r, VALLEY_CHECK_PASS, "42 as claimed");
  return VALLEY_OK;
}
static valley_status_t c_fail(valley_check_run_t *r, valley_error_t *err) {
  (void)err;
  valley_check_verdict(r, VALLEY_CHECK_FAIL, "counterexample x = %g", 0.5);
  return VALLEY_OK;
}
static valley_status_t c_notrep(valley_check_run_t *r, valley_error_t *err) {
  (void)err;
  valley_check_verdict(r, VALLEY_CHECK_NOT_REPRODUCED, "0/10 runs show it");
  return VALLEY_OK;
}
static valley_status_t c_inconc(valley_check_run_t *r, valley_error_t *err) {
  (void)err;
  valley_check_verdict(r, VALLEY_CHECK_INCONCLUSIVE, "interval [0.4, 0.6] straddles 0.5");
  return VALLEY_OK;
}
static valley_status_t c_skip(valley_check_run_t *r, valley_error_t *err) {
  (void)err;
  valley_check_verdict(r, VALLEY_CHECK_SKIPPED, "no data here");
  return VALLEY_OK;
}
static valley_status_t c_error(valley_check_run_t *r, valley_error_t *err) {
  FILE *f;
  valley_status_t st = valley_check_figure(r, "fig-orphan", "never finished.", &f, err);
  if (st != VALLEY_OK) return st;
  fprintf(f, "x,y\n");
  return VALLEY_ERROR(err, VALLEY_EIO, "the disk is on fire");
}
static valley_status_t c_silent(valley_check_run_t *r, valley_error_t *err) {
  (void)r;
  (void)err;
  return VALLEY_OK;
}
static valley_status_t c_badfig(valley_check_run_t *r, valley_error_t *err) {
  FILE *f;
  valley_status_t st = valley_check_figure(r, "no/slashes", "x", &f, err);
  valley_check_verdict(r, st == VALLEY_EINVAL && f == NULL ? VALLEY_CHECK_PASS : VALLEY_CHECK_FAIL,
                       "a bad figure name is refused");
  return VALLEY_OK;
}

/* valley_check_shared: two checks see one value, made once (the second sees the first's mark). */
static valley_status_t make_one(valley_check_run_t *r, void *ctx, void **value,
                                valley_error_t *err) {
  (void)r;
  (void)ctx;
  int *v = malloc(sizeof *v);
  if (v == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "an int");
  *v = 1;
  *value = v;
  return VALLEY_OK;
}
static valley_status_t c_share1(valley_check_run_t *r, valley_error_t *err) {
  const void *v;
  valley_status_t st = valley_check_shared(r, "k", make_one, NULL, &v, err);
  if (st != VALLEY_OK) return st;
  int *mark = (int *)(uintptr_t)v; /* the test marks it to see whether it is made again */
  *mark = 7;
  valley_check_verdict(r, VALLEY_CHECK_PASS, "made");
  return VALLEY_OK;
}
static valley_status_t c_share2(valley_check_run_t *r, valley_error_t *err) {
  const void *v;
  valley_status_t st = valley_check_shared(r, "k", make_one, NULL, &v, err);
  if (st != VALLEY_OK) return st;
  valley_check_verdict(r, *(const int *)v == 7 ? VALLEY_CHECK_PASS : VALLEY_CHECK_FAIL,
                       "shared value %d", *(const int *)v);
  return VALLEY_OK;
}

static int exists(const char *dir, const char *name) {
  char p[1024];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return access(p, F_OK) == 0;
}

int main(void) {
  check_t t = {0, 0};
  static const valley_check_t made[] = {
      {"a-pass", "p", "w", "s", "valley a", c_pass},
      {"a-fail", "p", "w", "s", "valley b", c_fail},
      {"a-notrep", "p", "w", "s", "valley c", c_notrep},
      {"a-inconc", "p", "w", "s", "valley d", c_inconc},
      {"a-skip", "p", "w", "s", "valley e", c_skip},
      {"an-error", "p", "w", "s", "valley f", c_error},
      {"a-silent", "p", "w", "s", "valley g", c_silent},
      {"a-badfig", "p", "w", "s", "valley h", c_badfig},
      {"a-share1", "p", "w", "s", "valley i", c_share1},
      {"a-share2", "p", "w", "s", "valley j", c_share2},
  };
  enum { N = sizeof made / sizeof made[0] };
  const valley_check_t *sel[N];
  for (int i = 0; i < N; i++) sel[i] = &made[i];
  char base[] = "/tmp/valley-test-check-XXXXXX";
  if (mkdtemp(base) == NULL) return 2;
  char out[1100];
  snprintf(out, sizeof out, "%s/report", base);
  valley_check_config_t cfg;
  valley_check_config_default(&cfg);
  cfg.scale = VALLEY_CHECK_QUICK;
  valley_check_report_t rep;
  valley_error_t err;
  valley_status_t st = valley_check_run_all(&cfg, sel, N, out, &rep, &err);
  check(&t, st == VALLEY_OK && rep.n == N, "the run completes with %zu results", rep.n);
  if (st != VALLEY_OK) return check_done(&t);
  const valley_check_verdict_t want[5] = {VALLEY_CHECK_PASS, VALLEY_CHECK_FAIL,
                                          VALLEY_CHECK_NOT_REPRODUCED, VALLEY_CHECK_INCONCLUSIVE,
                                          VALLEY_CHECK_SKIPPED};
  for (int i = 0; i < 5; i++)
    check(&t, rep.results[i].ran && rep.results[i].verdict == want[i],
          "%s: %s as set", made[i].name, valley_check_verdict_name(rep.results[i].verdict));
  check(&t, !rep.results[5].ran && strstr(rep.results[5].summary, "the disk is on fire") != NULL,
        "a check that errs is not run: '%s'", rep.results[5].summary);
  check(&t, !rep.results[6].ran && strstr(rep.results[6].summary, "no verdict") != NULL,
        "a check with no verdict is not run: '%s'", rep.results[6].summary);
  check(&t, rep.results[7].ran && rep.results[7].verdict == VALLEY_CHECK_PASS,
        "a bad figure name is refused with EINVAL");
  check(&t, rep.results[9].ran && rep.results[9].verdict == VALLEY_CHECK_PASS,
        "a shared value is made once per run: %s", rep.results[9].summary);
  char figs[1200];
  snprintf(figs, sizeof figs, "%s/figures", out);
  check(&t, exists(figs, "fig-ok.csv") && exists(figs, "fig-ok.gp") && !exists(figs, "fig-orphan.csv"),
        "the finished check's figure files are there, the failed check's are removed");
  check(&t, exists(out, "report.json") && exists(out, "report.md") && exists(out, "index.html"),
        "report.json, report.md and index.html are written");
  check(&t, rep.results[0].n_figures == 1 && strcmp(rep.results[0].figures[0].name, "fig-ok") == 0,
        "the figure is recorded");
  /* the report's counts */
  char path[1200];
  snprintf(path, sizeof path, "%s/report.json", out);
  FILE *f = fopen(path, "r");
  char buf[16384];
  size_t n = f != NULL ? fread(buf, 1, sizeof buf - 1, f) : 0;
  buf[n] = '\0';
  if (f != NULL) fclose(f);
  check(&t, strstr(buf, "\"PASS\": 4") != NULL && strstr(buf, "\"FAIL\": 1") != NULL &&
                strstr(buf, "\"ERROR\": 2") != NULL && strstr(buf, "\"answer\": 42") != NULL,
        "report.json counts 4 PASS, 1 FAIL, 2 not run, and holds the numbers");
  valley_check_report_free(&rep);
  /* an output path whose parent does not exist: an error, nothing made */
  char nowhere[1200];
  snprintf(nowhere, sizeof nowhere, "%s/no/such/dir", base);
  st = valley_check_run_all(&cfg, sel, 1, nowhere, &rep, &err);
  check(&t, st == VALLEY_EIO, "a missing parent directory: EIO (%s)", err.message);
  /* the experiments' verdicts */
  check(&t, valley_check_from_experiment(VALLEY_EXP_REPRODUCED) == VALLEY_CHECK_PASS &&
                valley_check_from_experiment(VALLEY_EXP_NOT_REPRODUCED) ==
                    VALLEY_CHECK_NOT_REPRODUCED &&
                valley_check_from_experiment(VALLEY_EXP_INCONCLUSIVE) == VALLEY_CHECK_INCONCLUSIVE,
        "experiments: reproduced -> PASS, not reproduced -> NOT REPRODUCED, inconclusive -> "
        "INCONCLUSIVE");
  check(&t, strcmp(valley_check_verdict_name(VALLEY_CHECK_NOT_REPRODUCED), "NOT REPRODUCED") == 0,
        "verdict names");
  valley_check_rm_tree(base);
  return check_done(&t);
}
