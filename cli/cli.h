/* valley command line: option tables, JSON output, progress bar (internal to the CLI). */
#ifndef VALLEY_CLI_H
#define VALLEY_CLI_H

#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "valley/json.h"
#include "valley/sweep.h"

/* Exit statuses. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1  /* a run that could not finish (out of memory, I/O, numerical failure) */
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

/* The settings of a run as one line, "valley CMD --flag value ... {"build":{...}}", every option
 * but the skipped ones (options left out marked "(default)"), then the build object (valley's
 * version, compiler, flags, libraries): a resumable run's fingerprint (valley/runck.h).
 * malloc'ed; NULL when out of memory. */
char *cli_fingerprint(const char *cmd, const cli_opt_t *opts, size_t nopts,
                      const char *const *skip, size_t nskip);

/* fp followed by " file-crc32 XXXXXXXX" of path's contents (a file whose contents, not name, are
 * settings); frees fp.  NULL when out of memory; an unreadable file gives "unreadable". */
char *cli_fingerprint_file(char *fp, const char *path);

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

/* A long run done in blocks (--checkpoint): the block's own fractions mapped onto the whole run,
 * [base, base + span], and passed on to cb (which may be NULL). */
typedef struct {
  int (*cb)(double fraction, void *arg);
  void *arg;
  double base, span;
} cli_block_progress_t;
int cli_block_progress_cb(double fraction, void *arg);

/* A Monte Carlo run of `units` independent units (chains, sample blocks, particles) with
 * --checkpoint FILE (cli/ckrun.c): the units in about max_groups groups of at least min_group,
 * each group run by run(), its record (record_size(count) bytes) saved as it ends, and every
 * group's record, saved now or read back, handed to merge() in group order.  A resumed run
 * therefore merges the same bytes as an uninterrupted one.  ECANCEL (from run) gets a message
 * that says how much is saved; the file is left for the caller to remove once its output is out. */
typedef struct {
  const char *cmd, *path, *fingerprint, *what; /* what: "chains", "particles", ... */
  size_t units, max_groups, min_group;
  size_t segments; /* 0 or 1, or: units is `segments` runs of units / segments each (several
                      ensembles in one file); no group straddles two */
  size_t (*record_size)(void *arg, size_t count);
  valley_status_t (*run)(void *arg, size_t first, size_t count, void *record,
                         int (*progress)(double, void *), void *progress_arg, valley_error_t *err);
  void (*merge)(void *arg, size_t first, size_t count, const void *record);
  void *arg;
  int (*progress)(double fraction, void *arg); /* the whole run's, may be NULL */
  void *progress_arg;
} cli_ck_t;
valley_status_t cli_ck_run(const cli_ck_t *c, valley_error_t *err);
/* Records are the units' raw numbers one array after another: n bytes of src at q, and the next
 * place; n counts (uint64_t) at q added into dst, and the next place. */
unsigned char *cli_ck_put(unsigned char *q, const void *src, size_t n);
const unsigned char *cli_ck_add_counts(uint64_t *dst, const unsigned char *q, size_t n);

/* A parameter-grid sweep for a command (cli/sweep.c, docs/sweeps.md).  `opts` are parsed; each
 * grid parameter NAME sets option --NAME.  configure(arg, cmd) checks and derives the settings
 * from the options' current values (printing "valley CMD: ..." and returning the exit status on
 * bad input, else -1); point(...) computes one point after configure.  Every point is configured
 * once before the file is touched.  Options in `skip` (and the swept ones) stay out of the
 * file's fingerprint.  Returns the exit status (128 + the signal after SIGINT, SIGTERM, SIGHUP). */
typedef int (*cli_sweep_configure_fn)(void *arg, const char *cmd);
struct cli_mpi; /* cli/mpi.h: NULL, or the MPI ranks that share the grid's points (docs/mpi.md) */
int cli_sweep(const char *cmd, const char *flag, const char *spec, const char *out,
              const valley_sweep_param_t *allowed, size_t nallowed, cli_opt_t *opts, size_t nopts,
              const char *const *skip, size_t nskip, cli_sweep_configure_fn configure,
              valley_sweep_point_fn point, void *arg, const struct cli_mpi *mpi);

/* Signals (cli/signals.c): SIGINT, SIGTERM and SIGHUP set a flag that long runs poll; a second
 * signal kills.  install is called once by main before the command runs. */
void cli_signals_install(void);
/* The signal caught (SIGINT, SIGTERM, SIGHUP), 0 while none was. */
int cli_interrupted(void);
/* The flag itself, for valley_sweep_t.stop. */
volatile sig_atomic_t *cli_stop_flag(void);
/* Progress/cancel callbacks: nonzero (cancel) once a signal asked valley to stop. */
int cli_cancel_cb(double fraction, void *arg);
int cli_cancel_ctx(void *ctx);
/* "valley CMD: message" on stderr, unless the error is the cancellation a signal asked for
 * (main then prints the one "interrupted" line). */
void cli_print_error(const char *cmd, const valley_error_t *err);
/* "SIGINT", "SIGTERM", "SIGHUP". */
const char *cli_signal_name(int sig);
/* The exit status of a run cancelled by a signal that printed its own line saying what it kept
 * (a --checkpoint or --state run): 128 + the signal (130 when none was caught).  Other commands
 * return CLI_EXIT_FAIL and main prints "interrupted by ...; no output written". */
int cli_cancel_status(void);
/* The sweep points' callback (a long point stops at once; its record is not written). */
#define cli_sweep_cancel_cb cli_cancel_cb

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
