/* MPI for the command-line program (built with -DVALLEY_MPI=ON only; docs/mpi.md).  The library
 * stays MPI-free: this file splits a command's independent pieces (chains, blocks of sign
 * patterns, instances, particles, grid points) into contiguous ranges across ranks, runs each
 * rank's range with the library's range functions, gathers the per-piece results to rank 0 in
 * index order and lets rank 0 reduce them with the library's own reduction, so that the output is
 * byte for byte the single-process one whatever the number of ranks. */
#ifndef VALLEY_CLI_MPI_H
#define VALLEY_CLI_MPI_H

#include <stddef.h>
#include <stdio.h>

#include "valley/direction.h"
#include "valley/langevin.h"
#include "valley/sweep.h"
#include "valley/thm1_check.h"
#include "valley/thm2_check.h"

typedef struct cli_mpi {
  int rank, size;
  int initialized; /* this process called MPI_Init (and so must call MPI_Finalize) */
  FILE *err;       /* this rank's own stderr (ranks other than 0 have stdout and stderr muted) */
} cli_mpi_t;

/* Usable in every build (the commands include this header with or without MPI; m NULL: one
 * process). */
static inline int cli_mpi_rank(const cli_mpi_t *m) { return m != NULL ? m->rank : 0; }

/* A command that may run across ranks: mpi is NULL (one process) or the started ranks. */
typedef int (*cli_mpi_cmd_fn)(int argc, char **argv, const cli_mpi_t *mpi);

#ifndef VALLEY_HAVE_MPI
/* fn with mpi = NULL (a build without MPI). */
static inline int cli_mpi_main(cli_mpi_cmd_fn fn, int argc, char **argv) {
  return fn(argc, argv, NULL);
}
static inline int cli_mpi_split(const cli_mpi_t *m) {
  (void)m;
  return 0;
}
static inline int cli_mpi_sync_failed(const cli_mpi_t *m, int ok) {
  (void)m;
  return !ok;
}
#else
/* 1 when the run is split across several ranks. */
static inline int cli_mpi_split(const cli_mpi_t *m) { return m != NULL && m->size > 1; }

/* MPI_Init; on ranks other than 0, stdout and stderr then go to /dev/null (so that only rank 0
 * prints help, usage errors and the report) and m->err keeps the rank's stderr for errors of its
 * own.  Returns 0, or nonzero (with a message) when MPI cannot start. */
int cli_mpi_begin(cli_mpi_t *m);

/* MPI_Finalize (and closes m->err). */
void cli_mpi_end(cli_mpi_t *m);

/* cli_mpi_begin, fn with the ranks, cli_mpi_end; fn's exit status (1 when MPI cannot start). */
int cli_mpi_main(cli_mpi_cmd_fn fn, int argc, char **argv);

/* Chains of rank r: contiguous blocks in rank order, the first chains % size ranks one chain
 * more than the others (rank r's first chain is r * (chains / size) + min(r, chains % size)). */
void cli_mpi_range(const cli_mpi_t *m, size_t chains, size_t *first, size_t *count);

/* The same split for any rank r of m (the pieces of rank r of m->size). */
void cli_mpi_range_of(const cli_mpi_t *m, int r, size_t total, size_t *first, size_t *count);

/* 1 on every rank when ok is 0 on some rank (collective). */
int cli_mpi_any_failed(const cli_mpi_t *m, int ok);
/* cli_mpi_any_failed when split, else !ok. */
static inline int cli_mpi_sync_failed(const cli_mpi_t *m, int ok) {
  return cli_mpi_split(m) ? cli_mpi_any_failed(m, ok) : !ok;
}

/* Agrees on a status (collective): returns the worst status of all ranks, the same on every rank;
 * *own is 1 when this rank failed itself (err holds its message), and on a rank that did not,
 * err then says that another rank failed. */
valley_status_t cli_mpi_agree(const cli_mpi_t *m, valley_status_t st, int *own,
                              valley_error_t *err);

/* Prints a failed command's message once: rank 0 "valley CMD: message", another rank that failed
 * itself "valley CMD: MPI rank N: message" on its own stderr.  Returns the exit status (2 for
 * EINVAL, 1 otherwise) for every rank. */
int cli_mpi_fail(const cli_mpi_t *m, const char *cmd, valley_status_t st, int own,
                 const valley_error_t *err);

/* Gathers to rank 0, in rank order, records of `size` bytes split by cli_mpi_range over
 * `total`: local holds this rank's, full (rank 0 only, else NULL) receives all `total`.
 * Collective.  EINVAL when total exceeds INT_MAX (MPI counts are int). */
valley_status_t cli_mpi_gather(const cli_mpi_t *m, const void *local, size_t total, size_t size,
                               void *full, valley_error_t *err);

/* Rank 0's v, on every rank (collective). */
int cli_mpi_bcast_int(const cli_mpi_t *m, int v);

/* Sums `n` uint64_t counts of every rank into rank 0's `sum` (collective; exact in any order). */
void cli_mpi_sum_u64(const cli_mpi_t *m, const uint64_t *mine, uint64_t *sum, size_t n);

/* valley_thm2_check across the ranks: rep from valley_thm2_analyse on every rank; on return
 * rep is complete on rank 0.  Collective; the status is the same on every rank.  *own is 1 on
 * a rank that failed itself (err then holds its message); on the others err says only that
 * another rank failed. */
valley_status_t cli_mpi_thm2_run(const cli_mpi_t *m, valley_thm2_report_t *rep, int *own,
                                 valley_error_t *err);


/* valley theorem1's gain across the ranks: the blocks of the enumeration or of the Monte Carlo
 * (valley_thm1_method_for(o->method, L->d)) split by rank, gathered and reduced on rank 0, where
 * g is then the single-process gain bit for bit.  Collective; status as cli_mpi_agree. */
valley_status_t cli_mpi_thm1_gain(const cli_mpi_t *m, const valley_land_t *L,
                                  const valley_thm1_options_t *o, valley_thm1_gain_t *g, int *own,
                                  valley_error_t *err);

/* valley theorem1 --sweep-l across the ranks: its `points` rows split by rank
 * (valley_thm1_sweep_range), gathered in row order into rows (rank 0 only: `points` rows; NULL
 * elsewhere).  Collective. */
valley_status_t cli_mpi_thm1_sweep(const cli_mpi_t *m, const valley_land_spec_t *spec,
                                   const valley_thm1_options_t *o, int points,
                                   valley_thm1_sweep_row_t *rows, int *own, valley_error_t *err);

/* valley theorem1 --search across the ranks: each slice of instances split by rank, its rows
 * gathered to rank 0 and added there in index order; res complete on rank 0.  Collective. */
valley_status_t cli_mpi_thm1_search(const cli_mpi_t *m, const valley_thm1_search_opts_t *o,
                                    valley_thm1_search_t *res, int *own, valley_error_t *err);

/* A Langevin ensemble across the ranks: the particles split by rank (first_particle), each rank
 * running valley_langevin1d_run_basin (b != NULL) or valley_langevin1d_run (prob) on its range;
 * rank 0 gathers the final positions in particle order and sums the histograms, so that res
 * there is the single-process result bit for bit.  cfg->theta0: the whole ensemble's, on every
 * rank.  res: allocated for cfg->particles on rank 0, may be NULL elsewhere.  Collective. */
valley_status_t cli_mpi_langevin1d(const cli_mpi_t *m, const valley_fp1d_t *prob,
                                   const valley_basin1d_t *b,
                                   const valley_langevin1d_config_t *cfg,
                                   valley_langevin1d_result_t *res, int *own, valley_error_t *err);
/* The same in 2-D (valley_langevin2d_run). */
valley_status_t cli_mpi_langevin2d(const cli_mpi_t *m, const valley_fp2d_t *prob,
                                   const valley_langevin2d_config_t *cfg,
                                   valley_langevin2d_result_t *res, int *own, valley_error_t *err);

/* valley_sweep_run across the ranks (docs/mpi.md): rank 0 alone opens, checks, repairs and
 * appends to the file; the remaining points go in rounds of one point per rank (point
 * resumed + k size + r on rank r), each computed with valley_sweep_record, and rank 0 appends a
 * round's records in grid order, each with its own write and fsync, before the next round.  A
 * stop request (SIGINT on any rank) ends the sweep before the next round; a failed point ends it
 * after the records before it.  Collective; status, *resumed, *done and err are rank 0's, on
 * every rank. */
valley_status_t cli_mpi_sweep_run(const cli_mpi_t *m, const valley_sweep_t *s, size_t *resumed,
                                  size_t *done, valley_error_t *err);

/* The directions of rank m->rank in valley net probe: whole chunks of VALLEY_PROBE_CHUNK, the
 * chunks split by cli_mpi_range; [*first, *first + *count) of n_dirs. */
void cli_mpi_probe_range(const cli_mpi_t *m, size_t n_dirs, size_t *first, size_t *count);

/* valley_probe across the ranks: each rank probes its directions (cli_mpi_probe_range; dirs[k]
 * is needed only for those), and rank 0 gathers the profiles in direction order: out[0 ..
 * n_dirs-1] are then, on rank 0, the single-process profiles bit for bit (free them with
 * valley_prof_free; elsewhere they stay empty).  Collective; status as cli_mpi_agree. */
valley_status_t cli_mpi_probe(const cli_mpi_t *m, const valley_mlp_t *net, const float *theta,
                              size_t n_dirs, const float *const *dirs, size_t n_grid,
                              const double *grid, const valley_dataset_t *train,
                              const valley_dataset_t *test, const valley_probe_config_t *cfg,
                              valley_prof_t *out, int *own, valley_error_t *err);

#endif /* VALLEY_HAVE_MPI */

#endif
