/* MPI for valley theorem2 (built with -DVALLEY_MPI=ON only; docs/mpi.md).  The library stays
 * MPI-free: this file splits the chains across ranks, runs each rank's range with
 * valley_thm2_simulate, gathers the per-chain results to rank 0 in chain order and lets rank 0
 * reduce them with valley_thm2_reduce, so that the report is byte for byte the single-process
 * one whatever the number of ranks. */
#ifndef VALLEY_CLI_MPI_H
#define VALLEY_CLI_MPI_H

#include <stddef.h>
#include <stdio.h>

#include "valley/thm2_check.h"

typedef struct cli_mpi {
  int rank, size;
  int initialized; /* this process called MPI_Init (and so must call MPI_Finalize) */
  FILE *err;       /* this rank's own stderr (ranks other than 0 have stdout and stderr muted) */
} cli_mpi_t;

/* MPI_Init; on ranks other than 0, stdout and stderr then go to /dev/null (so that only rank 0
 * prints help, usage errors and the report) and m->err keeps the rank's stderr for errors of its
 * own.  Returns 0, or nonzero (with a message) when MPI cannot start. */
int cli_mpi_begin(cli_mpi_t *m);

/* MPI_Finalize (and closes m->err). */
void cli_mpi_end(cli_mpi_t *m);

/* Chains of rank r: contiguous blocks in rank order, the first chains % size ranks one chain
 * more than the others (rank r's first chain is r * (chains / size) + min(r, chains % size)). */
void cli_mpi_range(const cli_mpi_t *m, size_t chains, size_t *first, size_t *count);

/* 1 on every rank when ok is 0 on some rank (collective). */
int cli_mpi_any_failed(const cli_mpi_t *m, int ok);

/* valley_thm2_check across the ranks: rep from valley_thm2_analyse on every rank; on return
 * rep is complete on rank 0.  Collective; the status is the same on every rank.  *own is 1 on
 * a rank that failed itself (err then holds its message); on the others err says only that
 * another rank failed. */
valley_status_t cli_mpi_thm2_run(const cli_mpi_t *m, valley_thm2_report_t *rep, int *own,
                                 valley_error_t *err);

#endif
