/* Resumable parameter-grid sweeps (docs/sweeps.md): a grid spec "c=10,20;nu=0.25,0.5" read into a
 * Cartesian product, and a JSON Lines file with one record per grid point, appended with fsync
 * after each record so that an interrupted sweep resumes where it stopped, to the same bytes. */
#ifndef VALLEY_SWEEP_H
#define VALLEY_SWEEP_H

#include <signal.h>
#include <stddef.h>

#include "valley/error.h"
#include "valley/json.h"

#define VALLEY_SWEEP_MAXP 6          /* parameters in one grid */
#define VALLEY_SWEEP_MAXPOINTS 1000000 /* points in one grid */

/* A parameter a command lets a grid sweep: its name in the spec and whether it is a number. */
typedef struct {
  const char *name;
  int numeric;
} valley_sweep_param_t;

typedef struct {
  size_t nparams;
  const char *name[VALLEY_SWEEP_MAXP]; /* the allowed table's names (not owned) */
  int numeric[VALLEY_SWEEP_MAXP];
  size_t nvalues[VALLEY_SWEEP_MAXP];
  char **values[VALLEY_SWEEP_MAXP];    /* canonical tokens: numbers in their shortest round-trip form */
  size_t npoints;
  char *canonical; /* the spec rewritten from the tokens: "c=10,20;nu=0.25,0.5" */
} valley_sweep_grid_t;

/* Parses SPEC = NAME=V1,V2,...[;NAME=...]; names from `allowed`, each at most once; numeric
 * values finite numbers.  On failure g is empty (nothing to free) and err names the problem. */
valley_status_t valley_sweep_grid_parse(valley_sweep_grid_t *g, const char *spec,
                                        const valley_sweep_param_t *allowed, size_t nallowed,
                                        valley_error_t *err);
void valley_sweep_grid_free(valley_sweep_grid_t *g);
/* The tokens of point `index` (0 <= index < npoints): the first parameter varies slowest, the last
 * fastest, each through its values in the order given. */
void valley_sweep_grid_point(const valley_sweep_grid_t *g, size_t index, const char **values);
/* "c=10, nu=0.25" for messages. */
void valley_sweep_grid_describe(const valley_sweep_grid_t *g, size_t index, char *buf, size_t n);

/* The header line (a flat JSON object of strings, no newline) that fingerprints a sweep: the
 * command, the canonical grid and every setting that is not swept.  Caller frees. */
char *valley_sweep_header(const char *command, const valley_sweep_grid_t *g,
                          const char *const *keys, const char *const *values, size_t n);

/* Writes the results of point `index` (whose tokens are `values`) into the open record j.  An
 * EINVAL, EDOM or ENOROOT return (the parameters' fault) makes the record {"index", "point",
 * "error": message} and the sweep goes on; any other error stops it. */
typedef valley_status_t (*valley_sweep_point_fn)(size_t index, const char *const *values,
                                                 valley_json_t *j, void *arg, valley_error_t *err);

typedef struct {
  const valley_sweep_grid_t *grid;
  const char *path;   /* the JSON Lines file */
  const char *header; /* valley_sweep_header */
  valley_sweep_point_fn point;
  void *arg;
  volatile sig_atomic_t *stop; /* checked before each point; may be NULL */
  /* after each finished point (and once, with done = resumed, at the start); may be NULL */
  void (*progress)(size_t done, size_t total, size_t resumed, const char *point, void *arg);
} valley_sweep_t;

/* Runs the sweep: reads `path` if it exists (a header different from s->header is EINVAL naming
 * the first difference; a torn last record is cut away; records must be the grid's first points
 * in order), then computes and appends the remaining points.  *resumed: records found complete;
 * *done: records in the file at the end.  Returns VALLEY_ECANCEL when *s->stop was set. */
valley_status_t valley_sweep_run(const valley_sweep_t *s, size_t *resumed, size_t *done,
                                 valley_error_t *err);

/* valley_sweep_run in pieces, for running the points elsewhere (cli/mpi.c computes them on
 * several MPI ranks and writes them from one): open takes the lock, checks and repairs the file
 * and writes the header as valley_sweep_run does (*resumed: the records found complete); record
 * computes point i's JSON line, newline included (*line malloc'd; *failed = 1 for an error record,
 * err then holds the point's message), whoever calls it; append writes a record with one write
 * and fsync; point_done reports point i to s->progress as valley_sweep_run does; close releases
 * the file.  Appending the records of points resumed, resumed + 1, ... in order gives the file
 * valley_sweep_run writes, byte for byte. */
typedef struct {
  int fd;
} valley_sweep_file_t;
valley_status_t valley_sweep_open(const valley_sweep_t *s, valley_sweep_file_t *f,
                                  size_t *resumed, valley_error_t *err);
valley_status_t valley_sweep_record(const valley_sweep_t *s, size_t i, char **line, size_t *len,
                                    int *failed, valley_error_t *err);
valley_status_t valley_sweep_append(const valley_sweep_t *s, valley_sweep_file_t *f,
                                    const char *line, size_t len, valley_error_t *err);
void valley_sweep_point_done(const valley_sweep_t *s, size_t i, size_t resumed, int failed,
                             const char *message);
valley_status_t valley_sweep_close(const valley_sweep_t *s, valley_sweep_file_t *f,
                                   valley_error_t *err);

#endif
