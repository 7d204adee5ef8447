/* Output files that appear whole or not at all: written to a temporary file beside the target,
 * fflush'ed and fsync'ed, then renamed over it, then the directory fsync'ed (sim/outfile.c;
 * docs/reliability.md).  Every file valley writes goes through here. */
#ifndef VALLEY_OUTFILE_H
#define VALLEY_OUTFILE_H

#include <stddef.h>
#include <stdio.h>

#include "valley/error.h"
#include "valley/thm1_check.h"

typedef struct {
  FILE *f;          /* write here between open and commit */
  char *tmp, *path; /* owned */
} valley_outfile_t;

valley_status_t valley_outfile_open(valley_outfile_t *o, const char *path, valley_error_t *err);
/* Flushes, fsyncs and closes the temporary file without renaming it (commit then renames): a
 * set of files is synced first, then renamed, so that a full disk leaves none of them.  On
 * failure the temporary file is removed (as abort). */
valley_status_t valley_outfile_sync(valley_outfile_t *o, valley_error_t *err);
/* Syncs (unless done), renames into place, fsyncs the directory; on any failure removes the
 * temporary file. */
valley_status_t valley_outfile_commit(valley_outfile_t *o, valley_error_t *err);
/* Closes and removes the temporary file. */
void valley_outfile_abort(valley_outfile_t *o);
/* data[0..n-1] to path through open, fwrite, commit. */
valley_status_t valley_outfile_write_all(const char *path, const void *data, size_t n,
                                         valley_error_t *err);
/* fflush, and the cause of any write that failed on f before (0, or an errno: ENOSPC, EFBIG,
 * EIO); the stream's error flag is cleared.  May append a byte to find the cause: for files
 * that are removed on failure. */
int valley_fflush_errno(FILE *f);
/* fopen for reading that refuses a folder (NULL, errno EISDIR), as every input file is opened. */
FILE *valley_fopen_read(const char *path, const char *mode);
/* fsync of the directory holding path (best effort: errors are ignored). */
void valley_fsync_parent(const char *path);

/* One SGD sample path as CSV for gnuplot: "t,w,running_mean" after a '#' comment line (the
 * paper's Figure 5: iterates and their running average). */
void valley_plots_trajectory_write(FILE *f, const char *comment, const double *w, size_t n);

/* Theorem 1's gain and bounds against l as CSV for gnuplot (plots/theorem1_sweep.gp):
 * "t,l1,gain,bound,bound_proof,ratio,statement_applies,proof_applies,verdict" after a '#'
 * comment line. */
void valley_plots_thm1_sweep_write(FILE *f, const char *comment, const valley_thm1_sweep_row_t *rows,
                                   size_t n);

#endif
