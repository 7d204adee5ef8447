/* Output files written atomically, and the trajectory CSV of Figure 5 (He, Huang, Yuan 2019). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "valley/outfile.h"

valley_status_t valley_outfile_open(valley_outfile_t *o, const char *path, valley_error_t *err) {
  o->f = NULL;
  o->path = strdup(path);
  o->tmp = malloc(strlen(path) + 16);
  if (o->path == NULL || o->tmp == NULL) {
    free(o->path);
    free(o->tmp);
    o->path = o->tmp = NULL;
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory");
  }
  sprintf(o->tmp, "%s.tmp.XXXXXX", path);
  int fd = mkstemp(o->tmp);
  if (fd < 0 || (o->f = fdopen(fd, "w")) == NULL) {
    int e = errno;
    if (fd >= 0) {
      close(fd);
      unlink(o->tmp);
    }
    free(o->path);
    free(o->tmp);
    o->path = o->tmp = NULL;
    return VALLEY_ERROR(err, VALLEY_EIO, "cannot write '%s': %s", path, strerror(e));
  }
  return VALLEY_OK;
}

void valley_outfile_abort(valley_outfile_t *o) {
  if (o->f != NULL) fclose(o->f);
  if (o->tmp != NULL) unlink(o->tmp);
  free(o->tmp);
  free(o->path);
  o->f = NULL;
  o->tmp = o->path = NULL;
}

valley_status_t valley_outfile_commit(valley_outfile_t *o, valley_error_t *err) {
  /* flushed and on disk before the rename, as sim/checkpoint.c's writer: a crash never leaves a
   * renamed but empty file */
  int bad = ferror(o->f);
  bad |= fflush(o->f) != 0;
  bad |= fsync(fileno(o->f)) != 0;
  bad |= fclose(o->f) != 0;
  o->f = NULL;
  if (!bad && rename(o->tmp, o->path) == 0) {
    free(o->tmp);
    free(o->path);
    o->tmp = o->path = NULL;
    return VALLEY_OK;
  }
  int e = errno;
  valley_status_t st = VALLEY_ERROR(err, VALLEY_EIO, "cannot write '%s': %s", o->path,
                                    strerror(e));
  valley_outfile_abort(o);
  return st;
}

void valley_plots_trajectory_write(FILE *f, const char *comment, const double *w, size_t n) {
  if (comment != NULL) fprintf(f, "# %s\n", comment);
  fprintf(f, "t,w,running_mean\n");
  double sum = 0;
  for (size_t t = 0; t < n; t++) {
    sum += w[t];
    fprintf(f, "%zu,%.17g,%.17g\n", t, w[t], sum / (double)(t + 1));
  }
}

void valley_plots_thm1_sweep_write(FILE *f, const char *comment, const valley_thm1_sweep_row_t *rows,
                                   size_t n) {
  fprintf(f, "# %s\n", comment);
  fprintf(f, "t,l1,gain,bound,bound_proof,ratio,statement_applies,proof_applies,verdict\n");
  for (size_t i = 0; i < n; i++) {
    const valley_thm1_sweep_row_t *r = &rows[i];
    fprintf(f, "%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%d,%d,%s\n", r->t, r->l1, r->gain, r->bound,
            r->bound_proof, r->ratio, r->statement_applies, r->proof_applies,
            valley_verdict_name(r->verdict));
  }
}
