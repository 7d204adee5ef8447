/* MPI glue for valley theorem2 (cli/mpi.h, docs/mpi.md). */
#include "mpi.h"

#include <mpi.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_mpi_begin(cli_mpi_t *m) {
  memset(m, 0, sizeof *m);
  m->size = 1;
  m->err = stderr;
  if (MPI_Init(NULL, NULL) != MPI_SUCCESS) {
    fputs("valley: MPI_Init failed\n", stderr);
    return 1;
  }
  m->initialized = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &m->rank);
  MPI_Comm_size(MPI_COMM_WORLD, &m->size);
  if (m->rank != 0) {
    int fd = dup(STDERR_FILENO);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
      if (fd >= 0) close(fd);
    } else {
      m->err = f;
    }
    fflush(stdout);
    fflush(stderr);
    if (freopen("/dev/null", "w", stdout) == NULL || freopen("/dev/null", "w", stderr) == NULL)
      fprintf(m->err, "valley: rank %d: cannot mute its output\n", m->rank);
  } else if (m->size > 1) {
    fprintf(stderr, "valley: %d MPI ranks\n", m->size);
  }
  return 0;
}

void cli_mpi_end(cli_mpi_t *m) {
  if (m->err != NULL && m->err != stderr) fclose(m->err);
  m->err = stderr;
  if (m->initialized) MPI_Finalize();
  m->initialized = 0;
}

void cli_mpi_range(const cli_mpi_t *m, size_t chains, size_t *first, size_t *count) {
  size_t size = (size_t)m->size, r = (size_t)m->rank;
  size_t base = chains / size, extra = chains % size;
  *first = r * base + (r < extra ? r : extra);
  *count = base + (r < extra ? 1 : 0);
}

int cli_mpi_any_failed(const cli_mpi_t *m, int ok) {
  (void)m;
  int bad = !ok, any = 0;
  MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return any;
}

/* Status of the worst rank (0 when all are VALLEY_OK): every rank returns the same. */
static valley_status_t worst(valley_status_t st, valley_status_t *all) {
  int mine = (int)st, w = 0;
  MPI_Allreduce(&mine, &w, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  *all = (valley_status_t)w;
  return st;
}

valley_status_t cli_mpi_thm2_run(const cli_mpi_t *m, valley_thm2_report_t *rep, int *own,
                                 valley_error_t *err) {
  size_t chains = rep->cfg.chains, first, count;
  cli_mpi_range(m, chains, &first, &count);

  /* 1. every rank runs its own chains, as the single-process run would */
  valley_sgd1d_result_t *local = valley_sgd1d_result_alloc(count);
  valley_status_t st = VALLEY_OK, all;
  if (local == NULL)
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "rank %d: cannot allocate results for %zu chains",
                      m->rank, count);
  else if (count > 0)
    st = valley_thm2_simulate(rep, first, local, err);
  worst(st, &all);
  if (all != VALLEY_OK) {
    valley_sgd1d_result_free(local);
    if (st == VALLEY_OK) VALLEY_ERROR(err, all, "another MPI rank failed (see its message)");
    *own = st != VALLEY_OK;
    return all;
  }

  /* 2. rank 0 gathers the per-chain structs in chain order and sums the histograms */
  valley_sgd1d_result_t *full = NULL;
  int *counts = NULL, *displs = NULL;
  if (m->rank == 0) {
    full = valley_sgd1d_result_alloc(chains);
    counts = malloc((size_t)m->size * sizeof *counts);
    displs = malloc((size_t)m->size * sizeof *displs);
    if (full == NULL || counts == NULL || displs == NULL) {
      st = VALLEY_ERROR(err, VALLEY_ENOMEM, "cannot allocate results for %zu chains", chains);
    } else {
      for (int r = 0; r < m->size; r++) {
        cli_mpi_t mr = *m;
        mr.rank = r;
        size_t f, c;
        cli_mpi_range(&mr, chains, &f, &c);
        counts[r] = (int)c; /* chains <= 2^26 (valley_sgd1d_config_check) */
        displs[r] = (int)f;
      }
    }
  }
  worst(st, &all);
  if (all == VALLEY_OK) {
    MPI_Datatype chain_t;
    MPI_Type_contiguous((int)sizeof(valley_sgd1d_chain_t), MPI_BYTE, &chain_t);
    MPI_Type_commit(&chain_t);
    MPI_Gatherv(local->chain, (int)count, chain_t, m->rank == 0 ? full->chain : NULL, counts,
                displs, chain_t, 0, MPI_COMM_WORLD);
    MPI_Type_free(&chain_t);
    MPI_Reduce(local->hist, m->rank == 0 ? full->hist : NULL, VALLEY_SGD1D_HIST, MPI_UINT64_T,
               MPI_SUM, 0, MPI_COMM_WORLD);
    /* 3. rank 0 reduces exactly as the single-process run does */
    if (m->rank == 0) {
      full->samples_per_chain = rep->cfg.steps - rep->cfg.burn_in;
      st = valley_thm2_reduce(rep, full, err);
    }
    worst(st, &all);
  } else if (st == VALLEY_OK) {
    VALLEY_ERROR(err, all, "MPI rank 0 failed (see its message)");
  }
  free(counts);
  free(displs);
  valley_sgd1d_result_free(full);
  valley_sgd1d_result_free(local);
  *own = st != VALLEY_OK;
  return all;
}
