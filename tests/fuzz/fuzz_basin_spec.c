/* Fuzzes the landscape spec reader (synthetic/basin1d.c valley_basin1d_read_spec: "key = value"
 * lines, number lists, '#' comments, then valley_basin1d_init's checks).  A spec that reads is
 * evaluated at a few points of its domain. */
#include "fuzz_util.h"
#include "valley/basin1d.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *path = fuzz_temp_file(data, size);
  valley_basin1d_t b;
  valley_error_t err;
  if (valley_basin1d_read_spec(path, &b, &err) == VALLEY_OK) {
    double u[4];
    for (int i = 0; i <= 4; i++) {
      double t = b.lo + (b.hi - b.lo) * i / 4.0;
      valley_basin1d_utr(&b, t, u);
      (void)valley_basin1d_utest(&b, t);
    }
  }
  fuzz_temp_remove(path);
  return 0;
}
