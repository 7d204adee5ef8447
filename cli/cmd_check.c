/* valley check: every claim of the papers that valley can test, in one report (issue 7,
 * docs/check.md, paper_checks/CLAIMS.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "valley/check.h"
#include "valley/idx.h"

#define OPT_ENTRY(flag, kind, target, meta, help) {flag, kind, target, meta, help, 0},

typedef struct {
  int quick, full, json, list, threads;
  const char *out, *only, *data;
  uint64_t seed;
} check_args_t;

#define CHECK_OPTIONS(X, a)                                                                       \
  X("--quick", OPT_FLAG, &a.quick, NULL, "a small scale for tests (the whole run well under 30 s)") \
  X("--full", OPT_FLAG, &a.full, NULL, "the papers' scale (default: under 5 minutes on 2 cores)") \
  X("--only", OPT_STRING, &a.only, "NAME[,NAME...]", "run only these checks (--list lists them)") \
  X("--out", OPT_STRING, &a.out, "DIR", "the report folder (replaced whole at the end; default valley-report)") \
  X("--seed", OPT_U64, &a.seed, "S", "every draw of every check derives from S")               \
  X("--threads", OPT_INT, &a.threads, "N", "OpenMP threads (0: all; results do not depend on it)") \
  X("--data", OPT_STRING, &a.data, "DIR", "Fashion-MNIST directory")                           \
  X("--list", OPT_FLAG, &a.list, NULL, "list the checks and exit")                              \
  X("--json", OPT_FLAG, &a.json, NULL, "print report.json's summary (name, verdict, summary) on stdout")

static const char *const CHECK_SUMMARY =
    "usage: valley check [options]\n"
    "Runs every check of the papers' claims (paper_checks/CLAIMS.md) and writes a report folder:\n"
    "index.html, report.md, report.json and figures/ (CSV data, gnuplot scripts, PNG and SVG).\n"
    "Exit status: 0 when every check ran, whatever the verdicts; 1 when a check could not run;\n"
    "2 for bad arguments.  See docs/check.md.";

static void progress_line(void *ctx, const char *line) {
  (void)ctx;
  fprintf(stderr, "%s\n", line);
}

static int list_checks(int json) {
  size_t n;
  const valley_check_t *c = valley_check_list(&n);
  valley_json_t j;
  if (json) {
    valley_json_begin(&j, stdout);
    valley_json_build(&j);
    valley_json_array(&j, "checks");
  }
  for (size_t i = 0; i < n; i++) {
    if (json) {
      valley_json_object(&j, NULL);
      valley_json_string(&j, "name", c[i].name);
      valley_json_string(&j, "paper", c[i].paper);
      valley_json_string(&j, "where", c[i].where);
      valley_json_string(&j, "claim", c[i].sentence);
      valley_json_string(&j, "command", c[i].command);
      valley_json_object_end(&j);
    } else {
      printf("%-22s %s, %s\n%-22s %s\n", c[i].name, c[i].paper, c[i].where, "", c[i].sentence);
    }
  }
  if (json) {
    valley_json_array_end(&j);
    valley_json_end(&j);
  }
  return CLI_EXIT_OK;
}

/* The checks named in a comma-separated list, in the registry's order; NULL after a usage
 * error (printed). */
static const valley_check_t **select_checks(const char *cmd, const char *only, size_t *n_sel) {
  size_t n;
  const valley_check_t *all = valley_check_list(&n);
  const valley_check_t **sel = calloc(n > 0 ? n : 1, sizeof *sel);
  char *copy = strdup(only);
  int *want = calloc(n > 0 ? n : 1, sizeof *want);
  if (sel == NULL || copy == NULL || want == NULL) {
    fprintf(stderr, "valley %s: out of memory\n", cmd);
    goto fail;
  }
  for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok != NULL;
       tok = strtok_r(NULL, ",", &save)) {
    const valley_check_t *c = valley_check_find(tok);
    if (c == NULL) {
      cli_usage_error(cmd, "--only: unknown check '%s' (--list lists them)", tok);
      goto fail;
    }
    want[c - all] = 1;
  }
  *n_sel = 0;
  for (size_t i = 0; i < n; i++)
    if (want[i]) sel[(*n_sel)++] = &all[i];
  if (*n_sel == 0) {
    cli_usage_error(cmd, "--only: no check named");
    goto fail;
  }
  free(copy);
  free(want);
  return sel;
fail:
  free(sel);
  free(copy);
  free(want);
  return NULL;
}

int cli_cmd_check(int argc, char **argv) {
  const char *cmd = "check";
  check_args_t a = {0, 0, 0, 0, 0, "valley-report", NULL, VALLEY_FASHION_MNIST_DIR, 1};
  cli_opt_t opts[] = {CHECK_OPTIONS(OPT_ENTRY, a)};
  int rc = cli_parse_or_help(cmd, CHECK_SUMMARY, argc, argv, opts, sizeof opts / sizeof opts[0]);
  if (rc >= 0) return rc;
  if (a.list) return list_checks(a.json);
  if (a.quick && a.full) return cli_usage_error(cmd, "--quick and --full exclude each other");
  if (a.threads < 0) return cli_usage_error(cmd, "--threads must be >= 0 (got %d)", a.threads);
  if (a.out == NULL || *a.out == '\0') return cli_usage_error(cmd, "--out needs a directory");
  struct stat sb;
  if (stat(a.out, &sb) == 0 && !S_ISDIR(sb.st_mode))
    return cli_usage_error(cmd, "--out %s exists and is not a directory", a.out);
  { /* the folder the report goes in must be there and writable: bad input, found before the run */
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", a.out);
    size_t len = strlen(parent);
    while (len > 1 && parent[len - 1] == '/') parent[--len] = '\0';
    char *slash = strrchr(parent, '/');
    const char *dir = slash == NULL ? "." : (slash == parent ? "/" : (*slash = '\0', parent));
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode) || access(dir, W_OK | X_OK) != 0)
      return cli_usage_error(cmd, "--out %s: cannot create it in '%s': %s", a.out, dir,
                             stat(dir, &sb) != 0     ? strerror(errno)
                             : !S_ISDIR(sb.st_mode) ? strerror(ENOTDIR)
                                                    : strerror(EACCES));
  }
  const valley_check_t **sel = NULL;
  size_t n_sel = 0;
  if (a.only != NULL && (sel = select_checks(cmd, a.only, &n_sel)) == NULL) return CLI_EXIT_USAGE;
  valley_check_config_t cfg;
  valley_check_config_default(&cfg);
  cfg.scale = a.quick ? VALLEY_CHECK_QUICK : a.full ? VALLEY_CHECK_FULL : VALLEY_CHECK_DEFAULT;
  cfg.seed = a.seed;
  cfg.threads = a.threads;
  cfg.data_dir = a.data;
  cfg.progress = progress_line;
  cfg.cancel = cli_cancel_ctx; /* a signal stops the run between checks */
  valley_check_report_t rep;
  valley_error_t err;
  valley_status_t st = valley_check_run_all(&cfg, sel, sel != NULL ? n_sel : 0, a.out, &rep, &err);
  free(sel);
  if (st != VALLEY_OK) {
    cli_print_error(cmd, &err);
    return st == VALLEY_EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
  }
  int all_ran = 1;
  size_t cnt[6] = {0};
  for (size_t i = 0; i < rep.n; i++) {
    all_ran &= rep.results[i].ran;
    cnt[rep.results[i].ran ? (size_t)rep.results[i].verdict : 5]++;
  }
  if (a.json) {
    valley_json_t j;
    valley_json_begin(&j, stdout);
    valley_json_string(&j, "command", "check");
    valley_json_string(&j, "version", VALLEY_VERSION);
    valley_json_build(&j);
    valley_json_string(&j, "scale", valley_check_scale_name(cfg.scale));
    valley_json_u64(&j, "seed", cfg.seed);
    valley_json_string(&j, "report", a.out);
    valley_json_bool(&j, "figures_rendered", rep.gnuplot);
    valley_json_array(&j, "checks");
    for (size_t i = 0; i < rep.n; i++) {
      const valley_check_result_t *x = &rep.results[i];
      valley_json_object(&j, NULL);
      valley_json_string(&j, "name", x->check->name);
      valley_json_bool(&j, "ran", x->ran);
      valley_json_string(&j, "verdict", x->ran ? valley_check_verdict_name(x->verdict) : "ERROR");
      valley_json_string(&j, "summary", x->summary);
      valley_json_number(&j, "seconds", x->seconds);
      valley_json_object_end(&j);
    }
    valley_json_array_end(&j);
    valley_json_end(&j);
  } else {
    for (size_t i = 0; i < rep.n; i++) {
      const valley_check_result_t *x = &rep.results[i];
      printf("%-22s %-15s %s\n", x->check->name,
             x->ran ? valley_check_verdict_name(x->verdict) : "ERROR", x->summary);
    }
    printf("\n%zu checks: %zu PASS, %zu FAIL, %zu NOT REPRODUCED, %zu INCONCLUSIVE, %zu SKIPPED, "
           "%zu could not run; %.1f s.  Report: %s/index.html\n",
           rep.n, cnt[0], cnt[1], cnt[2], cnt[3], cnt[4], cnt[5], rep.seconds, a.out);
    if (!rep.gnuplot) printf("Figures: %s.\n", rep.gnuplot_note);
  }
  valley_check_report_free(&rep);
  return all_ran ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}
