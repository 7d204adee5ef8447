/* valley theorem1 --directions: the file of k directions in R^d (docs/theorem1.md), read here
 * rather than in cli/cmd_theorem1.c so that tests/fuzz/fuzz_directions.c can reach it. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "valley/outfile.h"

int cli_read_directions(const char *cmd, const char *path, size_t d, size_t k, double *U) {
  FILE *f = valley_fopen_read(path, "r");
  if (f == NULL)
    return cli_usage_error(cmd, "--directions: cannot open '%s': %s", path, strerror(errno));
  char *line = NULL;
  size_t cap = 0, row = 0, lineno = 0;
  ssize_t len;
  int rc = 0;
  /* getline, not a fixed buffer: a long line is one line, never cut inside a number */
  while ((len = getline(&line, &cap, f)) >= 0) {
    lineno++;
    if (memchr(line, '\0', (size_t)len) != NULL) {
      rc = cli_usage_error(cmd, "--directions: line %zu holds a NUL byte", lineno);
      break;
    }
    char *h = strchr(line, '#');
    if (h) *h = '\0';
    char *q = line;
    size_t n = 0;
    while (1) {
      while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r' || *q == ',') q++;
      if (*q == '\0') break;
      char *end;
      double v = strtod(q, &end);
      if (end == q || !isfinite(v)) {
        rc = cli_usage_error(cmd, "--directions: line %zu: '%.20s' is not a number", lineno, q);
        break;
      }
      if (row < k && n < d) U[row * d + n] = v;
      n++;
      q = end;
    }
    if (rc) break;
    if (n == 0) continue;
    if (n != d) {
      rc = cli_usage_error(cmd, "--directions: line %zu has %zu numbers, expected d = %zu", lineno,
                           n, d);
      break;
    }
    row++;
  }
  if (rc == 0 && ferror(f))
    rc = cli_usage_error(cmd, "--directions: cannot read '%s': %s", path, strerror(errno));
  free(line);
  fclose(f);
  if (rc == 0 && row != k)
    rc = cli_usage_error(cmd, "--directions: %zu directions in '%s', expected k = %zu", row, path, k);
  return rc;
}
