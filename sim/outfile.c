/* Output files that appear whole or not at all, for every file valley writes: a temporary file
 * beside the target (mkstemp, "PATH.tmp.XXXXXX"), write, fflush, fsync, close, rename over the
 * target, then fsync of the directory (best effort).  Any failure -- ENOSPC, EFBIG, EIO, an
 * unwritable or missing directory -- removes the temporary file, leaves the target as it was and
 * names the path and the cause in one line.  docs/reliability.md. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "valley/outfile.h"

valley_status_t valley_outfile_open(valley_outfile_t *o, const char *path, valley_error_t *err) {
  o->f = NULL;
  o->path = o->tmp = NULL;
  struct stat sb;
  if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) /* found now, not at the rename */
    return VALLEY_ERROR(err, VALLEY_EIO, "cannot write '%s': %s", path, strerror(EISDIR));
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
  /* mkstemp makes the file 0600; an output is for reading, as a plain fopen would make it
   * (0666 less the umask, which can only be read by setting it: set back at once; outputs are
   * opened by the main thread, outside parallel regions) */
  mode_t mask = umask(0);
  umask(mask);
  (void)fchmod(fd, 0666 & ~mask);
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

void valley_fsync_parent(const char *path) {
  char *dir = strdup(path);
  if (dir == NULL) return;
  char *slash = strrchr(dir, '/');
  const char *d = slash == NULL ? "." : (slash == dir ? "/" : (*slash = '\0', dir));
  int dfd = open(d, O_RDONLY);
  if (dfd >= 0) {
    (void)fsync(dfd); /* some file systems refuse fsync on a directory */
    close(dfd);
  }
  free(dir);
}

int valley_fflush_errno(FILE *f) {
  if (!ferror(f)) return fflush(f) != 0 ? errno : 0;
  /* The errno of the write that failed is long gone (libm and others set it since).  The stream
   * may still hold what it could not write: flushing again says why.  Otherwise one more byte
   * at the end of the file does (ENOSPC, EFBIG); the file is a temporary one, removed next. */
  clearerr(f);
  if (fflush(f) != 0) return errno;
  struct stat sb;
  char zero = 0;
  int fd = fileno(f);
  if (fstat(fd, &sb) == 0 && pwrite(fd, &zero, 1, sb.st_size) < 0) return errno;
  return EIO;
}

static valley_status_t fail(valley_outfile_t *o, const char *what, int e, valley_error_t *err) {
  valley_status_t st = VALLEY_ERROR(err, VALLEY_EIO, "cannot write '%s': %s%s%s", o->path, what,
                                    *what ? ": " : "", strerror(e));
  valley_outfile_abort(o);
  return st;
}

valley_status_t valley_outfile_sync(valley_outfile_t *o, valley_error_t *err) {
  if (o->f == NULL) return VALLEY_OK;
  /* flushed and on disk before the rename: a crash never leaves a renamed but empty file */
  int e = 0;
  const char *what = "";
  e = valley_fflush_errno(o->f);
  if (e == 0 && fsync(fileno(o->f)) != 0) e = errno, what = "fsync";
  if (fclose(o->f) != 0 && e == 0) e = errno, what = "close";
  o->f = NULL;
  return e != 0 ? fail(o, what, e, err) : VALLEY_OK;
}

valley_status_t valley_outfile_commit(valley_outfile_t *o, valley_error_t *err) {
  valley_status_t st = valley_outfile_sync(o, err);
  if (st != VALLEY_OK) return st;
  if (rename(o->tmp, o->path) != 0) return fail(o, "rename", errno, err);
  valley_fsync_parent(o->path);
  free(o->tmp);
  free(o->path);
  o->tmp = o->path = NULL;
  return VALLEY_OK;
}

valley_status_t valley_outfile_write_all(const char *path, const void *data, size_t n,
                                         valley_error_t *err) {
  valley_outfile_t o;
  valley_status_t st = valley_outfile_open(&o, path, err);
  if (st != VALLEY_OK) return st;
  if (n > 0 && fwrite(data, 1, n, o.f) != n) { /* errno is the cause, here and now */
    int e = errno ? errno : EIO;
    st = VALLEY_ERROR(err, VALLEY_EIO, "cannot write '%s': %s", path, strerror(e));
    valley_outfile_abort(&o);
    return st;
  }
  return valley_outfile_commit(&o, err);
}

FILE *valley_fopen_read(const char *path, const char *mode) {
  FILE *f = fopen(path, mode);
  struct stat sb;
  if (f != NULL && fstat(fileno(f), &sb) == 0 && S_ISDIR(sb.st_mode)) {
    fclose(f);
    errno = EISDIR; /* fopen opens a folder for reading; its first read fails, or worse */
    return NULL;
  }
  return f;
}
