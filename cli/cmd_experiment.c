/* valley experiment: the papers' real-network experiments (issue 6, docs/experiments.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cli.h"
#include "valley/cuda.h"
#include "valley/experiment.h"

#define OPT_ENTRY(flag, kind, target, meta, help) {flag, kind, target, meta, help, 0},

typedef struct {
  int full, json, list;
  const char *out, *device, *data;
  uint64_t seed;
} exp_args_t;

#define EXP_OPTIONS(X, a)                                                                         \
  X("--full", OPT_FLAG, &a.full, NULL, "the documented full scale (default: the quick mode used by the tests)") \
  X("--out", OPT_STRING, &a.out, "DIR", "directory for NAME.json and NAME_*.csv (created when missing)") \
  X("--seed", OPT_U64, &a.seed, "S", "every draw of the experiment derives from S")            \
  X("--device", OPT_STRING, &a.device, "cpu|cuda", "where the direction probes run")           \
  X("--data", OPT_STRING, &a.data, "DIR", "Fashion-MNIST directory")                           \
  X("--list", OPT_FLAG, &a.list, NULL, "list the experiments and exit")                        \
  X("--json", OPT_FLAG, &a.json, NULL, "print the results as JSON")

static const char *const EXP_SUMMARY =
    "usage: valley experiment NAME|all [options]\n"
    "Runs one of the papers' real-network experiments (or all of them) on Fashion-MNIST networks\n"
    "that it trains itself: a report NAME.json with the numbers and the verdict (reproduced, not\n"
    "reproduced, inconclusive) and the figures' data NAME_*.csv.  See docs/experiments.md.";

static void progress_line(void *ctx, const char *line) {
  (void)ctx;
  fprintf(stderr, "%s\n", line);
}

static int list_experiments(int json) {
  size_t n;
  const valley_exp_t *e = valley_exp_list(&n);
  if (json) {
    valley_json_t j;
    valley_json_begin(&j, stdout);
    valley_json_build(&j);
    valley_json_array(&j, "experiments");
    for (size_t i = 0; i < n; i++) {
      valley_json_object(&j, NULL);
      valley_json_string(&j, "name", e[i].name);
      valley_json_string(&j, "claim", e[i].claim);
      valley_json_string(&j, "source", e[i].source);
      valley_json_object_end(&j);
    }
    valley_json_array_end(&j);
    valley_json_end(&j);
  } else {
    for (size_t i = 0; i < n; i++)
      printf("%-14s %s\n%-14s (%s)\n", e[i].name, e[i].claim, "", e[i].source);
  }
  return CLI_EXIT_OK;
}

int cli_cmd_experiment(int argc, char **argv) {
  const char *cmd = "experiment";
  exp_args_t a = {0, 0, 0, "experiments-out", "cpu", VALLEY_FASHION_MNIST_DIR, 1};
  const char *name = NULL;
  if (argc >= 1 && argv[0][0] != '-') {
    name = argv[0];
    argc--;
    argv++;
  }
  cli_opt_t opts[] = {EXP_OPTIONS(OPT_ENTRY, a)};
  size_t nopts = sizeof opts / sizeof opts[0];
  int rc = cli_parse_or_help(cmd, EXP_SUMMARY, argc, argv, opts, nopts);
  if (rc >= 0) return rc;
  if (a.list) return list_experiments(a.json);
  if (name == NULL)
    return cli_usage_error(cmd, "an experiment name (or all) is needed; --list lists them");
  size_t n_all;
  const valley_exp_t *all = valley_exp_list(&n_all);
  const valley_exp_t *one = strcmp(name, "all") == 0 ? NULL : valley_exp_find(name);
  if (strcmp(name, "all") != 0 && one == NULL)
    return cli_usage_error(cmd, "unknown experiment '%s' (--list lists them)", name);
  int cuda = strcmp(a.device, "cuda") == 0;
  if (!cuda && strcmp(a.device, "cpu") != 0)
    return cli_usage_error(cmd, "--device must be cpu or cuda (got '%s')", a.device);
  if (cuda) {
    char why[200];
    if (valley_cuda_devices(why, sizeof why, NULL, 0) < 1) {
      fprintf(stderr, "valley %s: --device cuda: %s\n", cmd, why);
      return CLI_EXIT_FAIL;
    }
  }
  struct stat sb;
  if (a.data != NULL && (stat(a.data, &sb) != 0 || !S_ISDIR(sb.st_mode)))
    return cli_usage_error(cmd, "--data %s: no such directory (Fashion-MNIST: Debian's "
                           "dataset-fashion-mnist, scripts/setup.sh installs it)", a.data);
  int created = 0; /* the --out folder made here is removed again if the run leaves it empty */
  if (stat(a.out, &sb) != 0) {
    if ((created = mkdir(a.out, 0777) == 0) == 0)
      return cli_usage_error(cmd, "--out %s: cannot create the directory: %s", a.out,
                             strerror(errno));
  } else if (!S_ISDIR(sb.st_mode)) {
    return cli_usage_error(cmd, "--out %s is not a directory", a.out);
  }
  valley_exp_config_t cfg;
  valley_exp_config_default(&cfg);
  cfg.full = a.full;
  cfg.data_dir = a.data;
  cfg.out_dir = a.out;
  cfg.seed = a.seed;
  cfg.cuda = cuda;
  cfg.progress = progress_line;
  cfg.cancel = cli_cancel_ctx; /* a signal stops the run after the current epoch */

  size_t first = 0, count = n_all;
  if (one != NULL) {
    first = (size_t)(one - all);
    count = 1;
  }
  valley_exp_result_t *res = calloc(count, sizeof *res);
  valley_status_t *sts = calloc(count, sizeof *sts);
  char (*msgs)[256] = calloc(count, sizeof *msgs);
  if (res == NULL || sts == NULL || msgs == NULL) {
    free(res);
    free(sts);
    free(msgs);
    fprintf(stderr, "valley %s: out of memory\n", cmd);
    return CLI_EXIT_FAIL;
  }
  int failed = 0;
  for (size_t i = 0; i < count && !cli_interrupted(); i++) {
    const valley_exp_t *e = &all[first + i];
    fprintf(stderr, "valley experiment %s (%s mode) ...\n", e->name, a.full ? "full" : "quick");
    valley_error_t err;
    sts[i] = valley_exp_execute(e, &cfg, &res[i], &err);
    if (sts[i] != VALLEY_OK) {
      snprintf(msgs[i], sizeof msgs[i], "%s", err.message);
      if (sts[i] != VALLEY_ECANCEL || !cli_interrupted()) /* else main says "interrupted" */
        fprintf(stderr, "valley %s %s: %s\n", cmd, e->name, err.message);
      failed = 1;
    }
  }
  if (created && (failed || cli_interrupted())) rmdir(a.out); /* only if empty */
  if (cli_interrupted()) { /* a signal: no report (main prints the one line) */
    free(res);
    free(sts);
    free(msgs);
    return CLI_EXIT_FAIL;
  }
  if (a.json) {
    valley_json_t j;
    valley_json_begin(&j, stdout);
    valley_json_string(&j, "command", "experiment");
    valley_json_string(&j, "version", VALLEY_VERSION);
    valley_json_build(&j);
    valley_json_string(&j, "mode", a.full ? "full" : "quick");
    valley_json_u64(&j, "seed", a.seed);
    valley_json_array(&j, "experiments");
    for (size_t i = 0; i < count; i++) {
      valley_json_object(&j, NULL);
      valley_json_string(&j, "name", all[first + i].name);
      valley_json_bool(&j, "ran", sts[i] == VALLEY_OK);
      if (sts[i] == VALLEY_OK) {
        valley_json_string(&j, "verdict", valley_exp_verdict_name(res[i].verdict));
        valley_json_string(&j, "summary", res[i].summary);
        valley_json_string(&j, "report", res[i].report);
        valley_json_number(&j, "seconds", res[i].seconds);
      } else {
        valley_json_string(&j, "error", msgs[i]);
      }
      valley_json_object_end(&j);
    }
    valley_json_array_end(&j);
    valley_json_end(&j);
  } else {
    for (size_t i = 0; i < count; i++) {
      if (sts[i] == VALLEY_OK)
        printf("%-14s %-15s %6.1f s  %s\n%-14s %s\n", all[first + i].name,
               valley_exp_verdict_name(res[i].verdict), res[i].seconds, res[i].report, "",
               res[i].summary);
      else
        printf("%-14s %-15s  %s\n", all[first + i].name, "DID NOT RUN", msgs[i]);
    }
  }
  free(res);
  free(sts);
  free(msgs);
  return failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
