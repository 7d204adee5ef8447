/* valley command line: option tables, JSON output, progress bar (internal to the CLI). */
#ifndef VALLEY_CLI_H
#define VALLEY_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "valley/json.h"
#include "valley/sweep.h"

/* Exit statuses. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1  /* a run that could not finish (out of memory, I/O) */
#define CLI_EXIT_USAGE 2 /* bad input */

typedef enum { OPT_DOUBLE, OPT_U64, OPT_SIZE, OPT_INT, OPT_STRING, OPT_FLAG } cli_opt_kind_t;

/* One option: its flag, what it writes, and its help.  The table is the one place an option is
 * declared: parser, --help text and the "parameters" echo all read it. */
typedef struct {
  const char *flag; /* "--eta" */
  cli_opt_kind_t kind;
  void *target;     /* double*, uint64_t*, size_t*, int*, const char**, int* */
  const char *meta; /* "X" in "--eta X"; NULL for flags */
  const char *help;
  int given;        /* set by the parser */
} cli_opt_t;

/* Parses argv[first..argc-1] into the table.  Returns 0, or 1 when --help was given (help is
 * printed), or 2 after printing a one-line error "valley CMD: ..." to stderr. */
int cli_parse(const char *cmd, int argc, char **argv, cli_opt_t *opts, size_t nopts);

/* Sets one option from its text, as the parser does (0, or CLI_EXIT_USAGE after a one-line error). */
int cli_opt_set(const char *cmd, cli_opt_t *o, const char *val);
/* The option's current value as text ("" for an unset string). */
void cli_opt_format(const cli_opt_t *o, char *buf, size_t n);

/* Whether the flag was given on the command line (0 for a flag not in the table). */
int cli_given(const cli_opt_t *opts, size_t nopts, const char *flag);

/* cli_parse, and --help printed with `summary`: -1 to go on, else the exit status to return
 * (CLI_EXIT_OK after --help, CLI_EXIT_USAGE after a parse error). */
int cli_parse_or_help(const char *cmd, const char *summary, int argc, char **argv, cli_opt_t *opts,
                      size_t nopts);

/* "1,2,3" -> out[0..]: the count, -1 when a token is not a finite number, max + 1 when there
 * are more than max. */
int cli_parse_numbers(const char *s, double *out, size_t max);

/* valley theorem1 --directions (cli/directions.c): k lines of d numbers (separated by spaces, tabs
 * or commas; '#' starts a comment; blank lines skipped) into U (k * d, row-major).  0, or
 * CLI_EXIT_USAGE after a one-line error "valley CMD: --directions: ..." naming the line. */
int cli_read_directions(const char *cmd, const char *path, size_t d, size_t k, double *U);

/* Prints "usage" and every option with its current (default) value. */
void cli_help(FILE *f, const char *cmd, const char *summary, const cli_opt_t *opts, size_t nopts);

/* One-line error, "valley CMD: message", to stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;


/* Progress bar on stderr: shown only when stderr is a terminal and the run has lasted 2 s. */
typedef struct {
  double t0;
  int shown;
  int enabled;
  const char *label;
} cli_progress_t;

void cli_progress_init(cli_progress_t *p, const char *label);
int cli_progress_cb(double fraction, void *arg); /* valley_sgd1d_config_t.progress */
void cli_progress_done(cli_progress_t *p);

/* A parameter-grid sweep for a command (cli/sweep.c, docs/sweeps.md).  `opts` are parsed; each
 * grid parameter NAME sets option --NAME.  configure(arg, cmd) checks and derives the settings
 * from the options' current values (printing "valley CMD: ..." and returning the exit status on
 * bad input, else -1); point(...) computes one point after configure.  Every point is configured
 * once before the file is touched.  Options in `skip` (and the swept ones) stay out of the
 * file's fingerprint.  Returns the exit status (130 after SIGINT). */
typedef int (*cli_sweep_configure_fn)(void *arg, const char *cmd);
struct cli_mpi; /* cli/mpi.h: NULL, or the MPI ranks that share the grid's points (docs/mpi.md) */
int cli_sweep(const char *cmd, const char *flag, const char *spec, const char *out,
              const valley_sweep_param_t *allowed, size_t nallowed, cli_opt_t *opts, size_t nopts,
              const char *const *skip, size_t nskip, cli_sweep_configure_fn configure,
              valley_sweep_point_fn point, void *arg, const struct cli_mpi *mpi);

/* A progress callback for a sweep point's computation: nonzero (cancel) once SIGINT has asked the
 * sweep to stop, so that a long point stops at once (its record is not written). */
int cli_sweep_cancel_cb(double fraction, void *arg);

/* Subcommands. */
int cli_cmd_theorem1(int argc, char **argv);
int cli_cmd_theorem2(int argc, char **argv);
int cli_cmd_basins(int argc, char **argv);
int cli_cmd_steady_state(int argc, char **argv);
int cli_cmd_fp2d(int argc, char **argv);
int cli_cmd_direction(int argc, char **argv);
int cli_cmd_net(int argc, char **argv);
int cli_cmd_experiment(int argc, char **argv);
int cli_cmd_check(int argc, char **argv);

#endif
