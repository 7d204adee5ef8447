/* valley: numerical checks of SGD and loss-landscape theory. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "valley/json.h"

static const struct {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *summary;
} commands[] = {
    {"theorem1", cli_cmd_theorem1,
     "Theorem 1 (He, Huang, Yuan 2019): a flat-side bias lowers the expected loss under a random "
     "shift; exact gain against the bound, every condition, counterexample search"},
    {"theorem2", cli_cmd_theorem2,
     "Theorem 2 (He, Huang, Yuan 2019): averaged SGD on a 1-D asymmetric valley is biased to "
     "the flat side; constants, preconditions, Monte Carlo of every event of the proof"},
    {"basins", cli_cmd_basins,
     "SGD steady state (shift-curvature paper, eqs. (4)-(8)): basin weights exact and Laplace, "
     "expected train/test loss, optimal temperature"},
    {"steady-state", cli_cmd_steady_state,
     "the steady state rho ∝ exp(-2 v / T) on a 1-D landscape: v, Z, rho on a grid"},
    {"fp2d", cli_cmd_fp2d,
     "2-D: the zero-current formula against the finite-volume steady state, with and without curl"},
    {"direction", cli_cmd_direction,
     "a 1-D train/test profile (CSV): Definition 1 window search, Definition 3 shift gap, "
     "Appendix F curvature fits and shift-curvature"},
    {"check", cli_cmd_check,
     "every claim of the papers checked: a report folder (index.html, report.md, report.json, "
     "figures) with a verdict per claim"},
    {"experiment", cli_cmd_experiment,
     "the papers' real-network experiments on Fashion-MNIST: a JSON report with a verdict and "
     "the figures' data per experiment"},
    {"net", cli_cmd_net,
     "MLP on Fashion-MNIST: train (SGD, step schedule, SWA) to a checkpoint, eval, probe loss "
     "profiles along random directions"},
};

static void usage(FILE *f) {
  fprintf(f, "usage: valley COMMAND [options]\n       valley COMMAND --help\n\ncommands:\n");
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "  %-13s %s\n  %-13s %s\n", "help", "this text", "version", "print the version (--json: with the build: compiler, flags, libraries)");
}

int main(int argc, char **argv) {
  if (argc < 2) { /* one line, as every bad input (valley help lists the commands) */
    fprintf(stderr, "valley: no command given; usage: valley COMMAND [options] (see valley help)\n");
    return CLI_EXIT_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
    if (argc > 2) {
      for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[2], commands[i].name) == 0) {
          char help[] = "--help";
          char *args[] = {help};
          return commands[i].run(1, args);
        }
    }
    usage(stdout);
    return CLI_EXIT_OK;
  }
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
    /* --json: the build object every JSON output carries (plots/build.c) */
    if (argc == 3 && strcmp(argv[2], "--json") == 0) {
      valley_json_t j;
      valley_json_begin(&j, stdout);
      valley_json_string(&j, "command", "version");
      valley_json_string(&j, "version", VALLEY_VERSION);
      valley_json_build(&j);
      valley_json_end(&j);
      return CLI_EXIT_OK;
    }
    if (argc > 2) {
      fprintf(stderr, "valley version: unknown option '%s' (only --json)\n", argv[2]);
      return CLI_EXIT_USAGE;
    }
    printf("valley %s\n", VALLEY_VERSION);
    return CLI_EXIT_OK;
  }
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(cmd, commands[i].name) == 0) {
      cli_signals_install();
      int rc = commands[i].run(argc - 2, argv + 2);
      /* The report on stdout (JSON, text) goes where the shell sent it: a full disk there is
       * not silent.  The cause is the flush that fails again, else EIO. */
      int e = 0;
      if (ferror(stdout)) {
        clearerr(stdout);
        e = fflush(stdout) != 0 ? errno : EIO;
      } else if (fflush(stdout) != 0) {
        e = errno;
      }
      if (e != 0 && rc == CLI_EXIT_OK) {
        fprintf(stderr, "valley %s: cannot write the standard output: %s\n", cmd, strerror(e));
        rc = CLI_EXIT_FAIL;
      }
      int sig = cli_interrupted();
      /* A command stopped by a signal removed its temporary files; a grid sweep printed its
       * own line (what is in the file, how to resume). */
      if (sig != 0 && rc != 128 + sig) {
        fprintf(stderr, "valley %s: interrupted by %s; no output written\n", cmd,
                cli_signal_name(sig));
        rc = 128 + sig;
      }
      return rc;
    }
  fprintf(stderr, "valley: unknown command '%s' (see valley help)\n", cmd);
  return CLI_EXIT_USAGE;
}
