/* Shared by the fuzz harnesses (docs/reliability.md): the loaders take paths, so each input
 * is written to a fresh temporary file (mkstemp under $TMPDIR, else /tmp) that the harness
 * removes after the call.  Header-only: each harness is one translation unit plus its driver
 * (libFuzzer's, or replay.c in every build). */
#ifndef VALLEY_FUZZ_UTIL_H
#define VALLEY_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Writes data to a new temporary file; returns its malloc'd path (NULL when that fails, which
 * aborts: a harness that silently tests nothing would hide bugs). */
static inline char *fuzz_temp_file(const uint8_t *data, size_t size) {
  const char *dir = getenv("TMPDIR");
  if (dir == NULL || *dir == '\0') dir = "/tmp";
  size_t n = strlen(dir) + 32;
  char *path = malloc(n);
  if (path == NULL) abort();
  snprintf(path, n, "%s/valley_fuzz_XXXXXX", dir);
  int fd = mkstemp(path);
  if (fd < 0) {
    perror("fuzz: mkstemp");
    abort();
  }
  size_t done = 0;
  while (done < size) {
    ssize_t w = write(fd, data + done, size - done);
    if (w <= 0) {
      perror("fuzz: write");
      abort();
    }
    done += (size_t)w;
  }
  close(fd);
  return path;
}

static inline void fuzz_temp_remove(char *path) {
  unlink(path);
  free(path);
}

/* The input as a NUL-terminated string (malloc'd; bytes after an embedded NUL are cut off by C
 * string handling as they would be in argv). */
static inline char *fuzz_string(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (s == NULL) abort();
  memcpy(s, data, size);
  s[size] = '\0';
  return s;
}

#endif
