/* Fuzzes the grid-sweep resume path (plots/sweep.c valley_sweep_run on an existing file: the
 * header check, torn records cut away, the records checked against the grid's points, then the
 * remaining points appended).  The input is the JSON Lines file found on resuming the six-point
 * sweep of fuzz_sweep.h. */
#include "fuzz_sweep.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  valley_sweep_grid_t g;
  valley_error_t err;
  if (valley_sweep_grid_parse(&g, FUZZ_SWEEP_GRID, FUZZ_SWEEP_ALLOWED, FUZZ_SWEEP_NALLOWED,
                              &err) != VALLEY_OK)
    abort();
  char *header = fuzz_sweep_header(&g);
  if (header == NULL) abort();
  char *path = fuzz_temp_file(data, size);
  valley_sweep_t s = {&g, path, header, fuzz_sweep_point, NULL, NULL, NULL};
  size_t resumed, done;
  (void)valley_sweep_run(&s, &resumed, &done, &err);
  fuzz_temp_remove(path);
  free(header);
  valley_sweep_grid_free(&g);
  return 0;
}
