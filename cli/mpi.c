/* MPI glue for the command-line program (cli/mpi.h, docs/mpi.md). */
#include "mpi.h"

#include <limits.h>
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

int cli_mpi_main(cli_mpi_cmd_fn fn, int argc, char **argv) {
  cli_mpi_t m;
  if (cli_mpi_begin(&m) != 0) return 1;
  int rc = fn(argc, argv, &m);
  cli_mpi_end(&m);
  return rc;
}

void cli_mpi_range_of(const cli_mpi_t *m, int rank, size_t total, size_t *first,
                      size_t *count) {
  size_t size = (size_t)m->size, r = (size_t)rank;
  size_t base = total / size, extra = total % size;
  *first = r * base + (r < extra ? r : extra);
  *count = base + (r < extra ? 1 : 0);
}

void cli_mpi_range(const cli_mpi_t *m, size_t chains, size_t *first, size_t *count) {
  cli_mpi_range_of(m, m->rank, chains, first, count);
}

valley_status_t cli_mpi_agree(const cli_mpi_t *m, valley_status_t st, int *own,
                              valley_error_t *err) {
  (void)m;
  int mine = (int)st, w = 0;
  MPI_Allreduce(&mine, &w, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  *own = st != VALLEY_OK;
  if (w != VALLEY_OK && st == VALLEY_OK)
    VALLEY_ERROR(err, (valley_status_t)w, "another MPI rank failed (see its message)");
  return (valley_status_t)w;
}

int cli_mpi_fail(const cli_mpi_t *m, const char *cmd, valley_status_t st, int own,
                 const valley_error_t *err) {
  if (m->rank == 0)
    fprintf(stderr, "valley %s: %s\n", cmd, err->message);
  else if (own)
    fprintf(m->err, "valley %s: MPI rank %d: %s\n", cmd, m->rank, err->message);
  return st == VALLEY_EINVAL ? 2 : 1;
}

valley_status_t cli_mpi_gather(const cli_mpi_t *m, const void *local, size_t total, size_t size,
                               void *full, valley_error_t *err) {
  if (total > (size_t)INT_MAX || size > (size_t)INT_MAX)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%zu pieces of %zu bytes: too many to gather over MPI",
                        total, size);
  int *counts = NULL, *displs = NULL;
  valley_status_t st = VALLEY_OK;
  if (m->rank == 0) {
    counts = malloc((size_t)m->size * sizeof *counts);
    displs = malloc((size_t)m->size * sizeof *displs);
    if (counts == NULL || displs == NULL) {
      st = VALLEY_ERROR(err, VALLEY_ENOMEM, "cannot allocate the gather of %d ranks", m->size);
    } else {
      for (int r = 0; r < m->size; r++) {
        size_t f, c;
        cli_mpi_range_of(m, r, total, &f, &c);
        counts[r] = (int)c;
        displs[r] = (int)f;
      }
    }
  }
  int own;
  if (cli_mpi_agree(m, st, &own, err) == VALLEY_OK) {
    size_t first, count;
    cli_mpi_range(m, total, &first, &count);
    MPI_Datatype rec;
    MPI_Type_contiguous((int)size, MPI_BYTE, &rec);
    MPI_Type_commit(&rec);
    MPI_Gatherv(local, (int)count, rec, full, counts, displs, rec, 0, MPI_COMM_WORLD);
    MPI_Type_free(&rec);
  } else {
    st = VALLEY_ENOMEM;
  }
  free(counts);
  free(displs);
  return st;
}

int cli_mpi_bcast_int(const cli_mpi_t *m, int v) {
  (void)m;
  MPI_Bcast(&v, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return v;
}

void cli_mpi_sum_u64(const cli_mpi_t *m, const uint64_t *mine, uint64_t *sum, size_t n) {
  /* in pieces of at most INT_MAX counts */
  for (size_t i = 0; i < n; i += (size_t)INT_MAX) {
    size_t c = n - i < (size_t)INT_MAX ? n - i : (size_t)INT_MAX;
    MPI_Reduce(mine + i, m->rank == 0 ? sum + i : NULL, (int)c, MPI_UINT64_T, MPI_SUM, 0,
               MPI_COMM_WORLD);
  }
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

/* ---- valley theorem1 ------------------------------------------------------------------------ */

valley_status_t cli_mpi_thm1_gain(const cli_mpi_t *m, const valley_land_t *L,
                                  const valley_thm1_options_t *o, valley_thm1_gain_t *g, int *own,
                                  valley_error_t *err) {
  int enumerate = valley_thm1_method_for(o->method, L->d) == VALLEY_THM1_ENUMERATE;
  double radii[2] = {L->norm_l, L->norm_l + L->norm_dbar};
  size_t total = enumerate ? (size_t)valley_thm1_enumerate_nblocks(L->d)
                           : (size_t)valley_thm1_monte_carlo_nblocks(o->samples);
  size_t size = enumerate ? sizeof(valley_thm1_enum_block_t) : sizeof(valley_thm1_mc_block_t);
  size_t first, count;
  cli_mpi_range(m, total, &first, &count);
  /* 1. every rank runs its blocks (progress: rank 0's share) */
  valley_status_t st = VALLEY_OK, all;
  if (enumerate && L->d > VALLEY_THM1_ENUM_MAX_D)
    st = VALLEY_ERROR(err, VALLEY_EINVAL,
                      "--method enumerate: d = %zu is above %d; use --method monte-carlo", L->d,
                      VALLEY_THM1_ENUM_MAX_D);
  else if (!enumerate && o->samples < 2)
    st = VALLEY_ERROR(err, VALLEY_EINVAL, "--samples must be >= 2 (got %llu)",
                      (unsigned long long)o->samples);
  else if (total > (size_t)INT_MAX)
    st = VALLEY_ERROR(err, VALLEY_EINVAL, "--samples: %zu blocks are too many for MPI", total);
  void *local = st == VALLEY_OK ? malloc(count > 0 ? count * size : 1) : NULL;
  if (st == VALLEY_OK && local == NULL)
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "rank %d: out of memory for %zu blocks", m->rank, count);
  valley_progress_fn progress = m->rank == 0 ? o->progress : NULL;
  if (st == VALLEY_OK && count > 0)
    st = enumerate ? valley_thm1_enumerate_blocks(L, radii, first, count, o->threads, progress,
                                                  o->progress_arg, local, err)
                   : valley_thm1_monte_carlo_blocks(L, o->samples, o->seed, first, count,
                                                    o->threads, progress, o->progress_arg, local,
                                                    err);
  void *full = NULL;
  if (st == VALLEY_OK && m->rank == 0 && (full = malloc(total * size)) == NULL)
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory for %zu blocks", total);
  all = cli_mpi_agree(m, st, own, err);
  /* 2. rank 0 gathers them in block order and reduces as the single-process run does */
  if (all == VALLEY_OK) all = cli_mpi_gather(m, local, total, size, full, err);
  if (all == VALLEY_OK && m->rank == 0) {
    if (enumerate)
      valley_thm1_enumerate_reduce(L, full, g);
    else
      valley_thm1_monte_carlo_reduce(full, o->samples, g);
  }
  free(local);
  free(full);
  return all;
}

valley_status_t cli_mpi_thm1_sweep(const cli_mpi_t *m, const valley_land_spec_t *spec,
                                   const valley_thm1_options_t *o, int points,
                                   valley_thm1_sweep_row_t *rows, int *own, valley_error_t *err) {
  size_t first, count;
  cli_mpi_range(m, points > 0 ? (size_t)points : 0, &first, &count);
  valley_status_t st = VALLEY_OK, all;
  valley_thm1_sweep_row_t *local = malloc((count > 0 ? count : 1) * sizeof *local);
  if (local == NULL || (m->rank == 0 && rows == NULL))
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "rank %d: out of memory for --sweep-l", m->rank);
  else if (count > 0)
    st = valley_thm1_sweep_range(spec, o, points, (int)first, (int)count, local, err);
  all = cli_mpi_agree(m, st, own, err);
  if (all == VALLEY_OK)
    all = cli_mpi_gather(m, local, points > 0 ? (size_t)points : 0, sizeof *local,
                         m->rank == 0 ? rows : NULL, err);
  free(local);
  return all;
}

valley_status_t cli_mpi_thm1_search(const cli_mpi_t *m, const valley_thm1_search_opts_t *o,
                                    valley_thm1_search_t *res, int *own, valley_error_t *err) {
  valley_status_t st = valley_thm1_search_begin(o, res, err), all;
  if ((all = cli_mpi_agree(m, st, own, err)) != VALLEY_OK) return all;
  uint64_t slice = valley_thm1_search_slice(o);
  size_t most = (size_t)(slice / (uint64_t)m->size + 1);
  valley_thm1_search_row_t *local = malloc(most * sizeof *local), *full = NULL;
  if (local == NULL) st = VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory for the search");
  if (m->rank == 0 && st == VALLEY_OK && (full = malloc(slice * sizeof *full)) == NULL)
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory for the search");
  all = cli_mpi_agree(m, st, own, err);
  /* slice by slice, as the single-process search: the rows split by rank, added on rank 0 */
  for (uint64_t b0 = 0; b0 < o->n && all == VALLEY_OK; b0 += slice) {
    uint64_t b1 = b0 + slice < o->n ? b0 + slice : o->n;
    size_t first, count;
    cli_mpi_range(m, (size_t)(b1 - b0), &first, &count);
    st = count > 0 ? valley_thm1_search_rows(o, b0 + first, count, local, err) : VALLEY_OK;
    if ((all = cli_mpi_agree(m, st, own, err)) != VALLEY_OK) break;
    if ((all = cli_mpi_gather(m, local, (size_t)(b1 - b0), sizeof *local, full, err)) != VALLEY_OK)
      break;
    if (m->rank == 0) {
      valley_thm1_search_add(o, res, full, b0, b1 - b0);
      if (o->progress != NULL) o->progress((double)b1 / (double)o->n, o->progress_arg);
    }
  }
  if (all == VALLEY_OK && m->rank == 0) valley_thm1_search_end(res);
  free(local);
  free(full);
  return all;
}

/* ---- Langevin ensembles --------------------------------------------------------------------- */

valley_status_t cli_mpi_langevin1d(const cli_mpi_t *m, const valley_fp1d_t *prob,
                                   const valley_basin1d_t *b,
                                   const valley_langevin1d_config_t *cfg,
                                   valley_langevin1d_result_t *res, int *own, valley_error_t *err) {
  size_t first, count;
  cli_mpi_range(m, cfg->particles, &first, &count);
  valley_langevin1d_config_t c = *cfg;
  c.first_particle = cfg->first_particle + first;
  c.particles = count;
  c.theta0 = cfg->theta0 != NULL ? cfg->theta0 + first : NULL;
  if (m->rank != 0) c.progress = NULL;
  valley_status_t st = VALLEY_OK, all;
  /* a rank beyond the particles runs nothing and adds zero histograms */
  valley_langevin1d_result_t *part = valley_langevin1d_result_alloc(count, cfg->bins);
  if (part == NULL)
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "rank %d: ensemble of %zu", m->rank, count);
  else if (count > 0)
    st = b != NULL ? valley_langevin1d_run_basin(b, &c, part, err)
                   : valley_langevin1d_run(prob, &c, part, err);
  if ((all = cli_mpi_agree(m, st, own, err)) == VALLEY_OK)
    all = cli_mpi_gather(m, part->theta, cfg->particles, sizeof(double),
                         m->rank == 0 ? res->theta : NULL, err);
  if (all == VALLEY_OK) {
    cli_mpi_sum_u64(m, part->hist, m->rank == 0 ? res->hist : NULL, cfg->bins);
    cli_mpi_sum_u64(m, part->path_hist, m->rank == 0 ? res->path_hist : NULL, cfg->bins);
    cli_mpi_sum_u64(m, &part->path_samples, m->rank == 0 ? &res->path_samples : NULL, 1);
    if (m->rank == 0) { /* rank 0 always has particles (particles >= 1) */
      res->lo = part->lo;
      res->hi = part->hi;
      res->fast = part->fast;
    }
  }
  valley_langevin1d_result_free(part);
  return all;
}

valley_status_t cli_mpi_langevin2d(const cli_mpi_t *m, const valley_fp2d_t *prob,
                                   const valley_langevin2d_config_t *cfg,
                                   valley_langevin2d_result_t *res, int *own, valley_error_t *err) {
  size_t first, count;
  cli_mpi_range(m, cfg->particles, &first, &count);
  valley_langevin2d_config_t c = *cfg;
  c.first_particle = cfg->first_particle + first;
  c.particles = count;
  c.x0 = cfg->x0 != NULL ? cfg->x0 + first : NULL;
  c.y0 = cfg->y0 != NULL ? cfg->y0 + first : NULL;
  if (m->rank != 0) c.progress = NULL;
  valley_status_t st = VALLEY_OK, all;
  size_t cells = cfg->nx * cfg->ny;
  valley_langevin2d_result_t *part = valley_langevin2d_result_alloc(count, cfg->nx, cfg->ny);
  if (part == NULL)
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "rank %d: ensemble of %zu", m->rank, count);
  else if (count > 0)
    st = valley_langevin2d_run(prob, &c, part, err);
  if ((all = cli_mpi_agree(m, st, own, err)) == VALLEY_OK)
    all = cli_mpi_gather(m, part->x, cfg->particles, sizeof(double), m->rank == 0 ? res->x : NULL,
                         err);
  if (all == VALLEY_OK)
    all = cli_mpi_gather(m, part->y, cfg->particles, sizeof(double), m->rank == 0 ? res->y : NULL,
                         err);
  if (all == VALLEY_OK) {
    cli_mpi_sum_u64(m, part->hist, m->rank == 0 ? res->hist : NULL, cells);
    cli_mpi_sum_u64(m, part->path_hist, m->rank == 0 ? res->path_hist : NULL, cells);
    cli_mpi_sum_u64(m, &part->path_samples, m->rank == 0 ? &res->path_samples : NULL, 1);
    if (m->rank == 0) {
      res->xlo = part->xlo;
      res->xhi = part->xhi;
      res->ylo = part->ylo;
      res->yhi = part->yhi;
    }
  }
  valley_langevin2d_result_free(part);
  return all;
}

/* ---- parameter-grid sweeps ------------------------------------------------------------------ */

typedef struct {
  int st, failed;
  uint64_t len;
  char message[sizeof(((valley_error_t *)0)->message)];
} point_info_t;

/* Rank 0's status, counts and message on every rank. */
static valley_status_t share(const cli_mpi_t *m, valley_status_t st, size_t *a, size_t *b,
                             valley_error_t *err) {
  (void)m;
  uint64_t v[3] = {(uint64_t)st, (uint64_t)*a, (uint64_t)*b};
  MPI_Bcast(v, 3, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  MPI_Bcast(err->message, (int)sizeof err->message, MPI_CHAR, 0, MPI_COMM_WORLD);
  *a = (size_t)v[1];
  *b = (size_t)v[2];
  err->code = (valley_status_t)v[0];
  return (valley_status_t)v[0];
}

valley_status_t cli_mpi_sweep_run(const cli_mpi_t *m, const valley_sweep_t *s, size_t *resumed,
                                  size_t *done, valley_error_t *err) {
  size_t n = s->grid->npoints, size = (size_t)m->size;
  int root = m->rank == 0;
  valley_sweep_file_t f = {-1};
  valley_status_t st = VALLEY_OK;
  err->message[0] = '\0';
  *resumed = *done = 0;
  if (root) st = valley_sweep_open(s, &f, resumed, err);
  if ((st = share(m, st, resumed, done, err)) != VALLEY_OK) return st;
  *done = *resumed;
  if (root && s->progress) s->progress(*resumed, n, *resumed, NULL, s->arg);
  point_info_t *info = root ? malloc(size * sizeof *info) : NULL;
  int *counts = root ? malloc(size * sizeof *counts) : NULL;
  int *displs = root ? malloc(size * sizeof *displs) : NULL;
  if (root && (info == NULL || counts == NULL || displs == NULL))
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory for the sweep's %zu ranks", size);
  size_t zero = 0;
  st = share(m, st, &zero, &zero, err);
  for (size_t base = *resumed; st == VALLEY_OK && base < n; base += size) {
    /* 1. a stop requested on any rank ends the sweep between rounds */
    int stop = s->stop != NULL && *s->stop, any = 0;
    MPI_Allreduce(&stop, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (any) {
      st = VALLEY_ERROR(err, VALLEY_ECANCEL, "interrupted");
      break;
    }
    /* 2. point base + rank on every rank */
    size_t i = base + (size_t)m->rank;
    point_info_t mine;
    memset(&mine, 0, sizeof mine);
    char *line = NULL;
    size_t len = 0;
    if (i < n) {
      valley_error_t e;
      e.message[0] = '\0';
      mine.st = (int)valley_sweep_record(s, i, &line, &len, &mine.failed, &e);
      memcpy(mine.message, e.message, sizeof mine.message);
      if (mine.st != VALLEY_OK || len > (size_t)INT_MAX / size) {
        if (mine.st == VALLEY_OK)
          snprintf(mine.message, sizeof mine.message, "grid point %zu: its record is too long", i);
        mine.st = mine.st != VALLEY_OK ? mine.st : VALLEY_EINVAL;
        len = 0;
      }
      mine.len = len;
    }
    /* 3. the round's records to rank 0, in rank (= grid) order */
    MPI_Gather(&mine, (int)sizeof mine, MPI_BYTE, info, (int)sizeof mine, MPI_BYTE, 0,
               MPI_COMM_WORLD);
    char *all = NULL;
    size_t total = 0;
    if (root) {
      for (size_t r = 0; r < size; r++) {
        counts[r] = (int)info[r].len;
        displs[r] = (int)total;
        total += info[r].len;
      }
      all = malloc(total > 0 ? total : 1);
    }
    int ok = !root || all != NULL, all_ok = 0;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (!all_ok) {
      free(line);
      st = VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory for the sweep's records");
      break;
    }
    MPI_Gatherv(line != NULL ? line : "", (int)len, MPI_CHAR, all, counts, displs, MPI_CHAR, 0,
                MPI_COMM_WORLD);
    free(line);
    /* 4. rank 0 appends them in order, up to the first failed point */
    if (root) {
      for (size_t r = 0; r < size && base + r < n && st == VALLEY_OK; r++) {
        if (info[r].st != VALLEY_OK) {
          st = (valley_status_t)info[r].st;
          memcpy(err->message, info[r].message, sizeof err->message);
          break;
        }
        st = valley_sweep_append(s, &f, all + displs[r], (size_t)info[r].len, err);
        if (st != VALLEY_OK) break;
        *done = base + r + 1;
        valley_sweep_point_done(s, base + r, *resumed, info[r].failed, info[r].message);
      }
    }
    free(all);
    st = share(m, st, resumed, done, err);
  }
  if (root) {
    valley_error_t e;
    valley_status_t cst = valley_sweep_close(s, &f, &e);
    if (st == VALLEY_OK && cst != VALLEY_OK) {
      st = cst;
      *err = e;
    }
  }
  free(info);
  free(counts);
  free(displs);
  return share(m, st, resumed, done, err);
}

/* ---- direction probes ----------------------------------------------------------------------- */

void cli_mpi_probe_range(const cli_mpi_t *m, size_t n_dirs, size_t *first, size_t *count) {
  size_t c = VALLEY_PROBE_CHUNK, nch = (n_dirs + c - 1) / c, fc, cc;
  cli_mpi_range(m, nch, &fc, &cc);
  *first = fc * c;
  size_t end = (fc + cc) * c < n_dirs ? (fc + cc) * c : n_dirs;
  *count = cc > 0 ? end - *first : 0;
}

valley_status_t cli_mpi_probe(const cli_mpi_t *m, const valley_mlp_t *net, const float *theta,
                              size_t n_dirs, const float *const *dirs, size_t n_grid,
                              const double *grid, const valley_dataset_t *train,
                              const valley_dataset_t *test, const valley_probe_config_t *cfg,
                              valley_prof_t *out, int *own, valley_error_t *err) {
  size_t c = VALLEY_PROBE_CHUNK, nch = (n_dirs + c - 1) / c, fc, cc, first, count;
  cli_mpi_range(m, nch, &fc, &cc);
  cli_mpi_probe_range(m, n_dirs, &first, &count);
  for (size_t k = 0; k < n_dirs; k++) memset(&out[k], 0, sizeof out[k]);
  /* one record per chunk: for each of its c directions l, train, test, train_acc, test_acc */
  size_t per = 5 * n_grid, rec = c * per;
  valley_status_t st = VALLEY_OK, all;
  valley_prof_t *mine = calloc(count > 0 ? count : 1, sizeof *mine);
  double *local = calloc(cc > 0 ? cc * rec : 1, sizeof *local), *full = NULL;
  if (mine == NULL || local == NULL)
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "rank %d: out of memory for %zu profiles", m->rank,
                      count);
  else if (count > 0)
    st = valley_probe(net, theta, count, dirs + first, n_grid, grid, train, test, cfg, mine, err);
  if (st == VALLEY_OK) {
    for (size_t j = 0; j < count; j++) {
      const double *src[5] = {mine[j].l, mine[j].train, mine[j].test, mine[j].train_acc,
                              mine[j].test_acc};
      for (int q = 0; q < 5; q++)
        memcpy(local + j * per + (size_t)q * n_grid, src[q], n_grid * sizeof *local);
      valley_prof_free(&mine[j]);
    }
  }
  if (st == VALLEY_OK && m->rank == 0 && (full = malloc(nch * rec * sizeof *full)) == NULL)
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory for %zu profiles", n_dirs);
  free(mine);
  all = cli_mpi_agree(m, st, own, err);
  if (all == VALLEY_OK) all = cli_mpi_gather(m, local, nch, rec * sizeof *local, full, err);
  free(local);
  if (all == VALLEY_OK && m->rank == 0) {
    for (size_t k = 0; k < n_dirs && all == VALLEY_OK; k++) {
      valley_prof_t *p = &out[k];
      double **dst[5] = {&p->l, &p->train, &p->test, &p->train_acc, &p->test_acc};
      p->n = n_grid;
      for (int q = 0; q < 5; q++) {
        *dst[q] = malloc(n_grid * sizeof **dst[q]);
        if (*dst[q] == NULL) {
          all = VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory for %zu profiles", n_dirs);
          *own = 1;
          break;
        }
        memcpy(*dst[q], full + k * per + (size_t)q * n_grid, n_grid * sizeof **dst[q]);
      }
    }
    if (all != VALLEY_OK)
      for (size_t k = 0; k < n_dirs; k++) valley_prof_free(&out[k]);
  }
  free(full);
  return all;
}
