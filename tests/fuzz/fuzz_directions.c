/* Fuzzes valley theorem1 --directions (cli/directions.c cli_read_directions).  The first byte
 * gives d = 1 + (b & 7) and k = 1 + (b >> 3 & 3) (k is capped at d); the rest is the file. */
#include "../../cli/cli.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t d = 1 + (data[0] & 7u), k = 1 + ((data[0] >> 3) & 3u);
  if (k > d) k = d;
  char *path = fuzz_temp_file(data + 1, size - 1);
  double *U = calloc(d * k, sizeof *U);
  if (U == NULL) abort();
  (void)cli_read_directions("theorem1", path, d, k, U);
  free(U);
  fuzz_temp_remove(path);
  return 0;
}
