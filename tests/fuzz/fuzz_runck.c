/* Fuzzes the resumable-run file (sim/runck.c: --checkpoint, net train --state).  The header's
 * own block count and fingerprint are read from the input (when it has them) so that the
 * records behind a well-formed header are reached; the file is opened with them, every block
 * read back, one missing block put, and closed; then opened again with another fingerprint (it
 * must be refused), and read as a training state. */
#include <stdio.h>

#include "fuzz_util.h"
#include "valley/runck.h"

/* "valley-runck V ABI NBLOCKS FPLEN\nFINGERPRINT\n": the block count and the fingerprint as the
 * file says, or 4 and "fuzz" */
static void header_claims(const uint8_t *data, size_t size, size_t *nblocks, char **fp) {
  *nblocks = 4;
  *fp = NULL;
  const uint8_t *nl = memchr(data, '\n', size < 200 ? size : 200);
  if (nl != NULL) {
    char line[201];
    memcpy(line, data, (size_t)(nl - data));
    line[nl - data] = '\0';
    unsigned long long nb, fl;
    if (sscanf(line, "valley-runck %*d %*s %llu %llu", &nb, &fl) == 2) {
      if (nb >= 1 && nb <= 4096) *nblocks = (size_t)nb;
      size_t start = (size_t)(nl - data) + 1;
      if (fl <= size - start) {
        *fp = malloc((size_t)fl + 1);
        if (*fp == NULL) abort();
        memcpy(*fp, data + start, (size_t)fl);
        (*fp)[fl] = '\0';
      }
    }
  }
  if (*fp == NULL) {
    *fp = malloc(5);
    if (*fp == NULL) abort();
    memcpy(*fp, "fuzz", 5);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t nblocks;
  char *fp;
  header_claims(data, size, &nblocks, &fp);
  char *path = fuzz_temp_file(data, size);
  valley_error_t err;
  valley_runck_t *ck = NULL;
  if (valley_runck_open(path, fp, nblocks, &ck, &err) == VALLEY_OK) {
    size_t done = 0, missing = nblocks;
    for (size_t b = 0; b < nblocks; b++) {
      size_t len = 0;
      const unsigned char *rec = valley_runck_get(ck, b, &len);
      if (rec != NULL) {
        unsigned sum = 0; /* touch every byte: ASan sees a record shorter than it says */
        for (size_t i = 0; i < len; i++) sum += rec[i];
        if (sum == 0xffffffffu) abort(); /* never: keeps the reads */
        done++;
      } else if (missing == nblocks) {
        missing = b;
      }
    }
    if (done != valley_runck_done(ck)) abort();
    if (missing < nblocks) {
      const double v[2] = {1.0, 2.0};
      (void)valley_runck_put(ck, missing, v, sizeof v, &err);
    }
    valley_runck_close(ck, 0);
    /* another run's fingerprint (this one with a byte more) is refused */
    size_t fl = strlen(fp);
    char *other = malloc(fl + 2);
    if (other == NULL) abort();
    memcpy(other, fp, fl);
    other[fl] = 'x';
    other[fl + 1] = '\0';
    if (valley_runck_open(path, other, nblocks, &ck, &err) == VALLEY_OK) abort();
    free(other);
  }
  void *state = NULL;
  size_t len = 0;
  if (valley_runck_load_state(path, fp, &state, &len, &err) == VALLEY_OK) free(state);
  fuzz_temp_remove(path);
  free(fp);
  return 0;
}
