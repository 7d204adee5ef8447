/* Fuzzes the grid-sweep spec parser (plots/sweep.c valley_sweep_grid_parse, as given to
 * --sweep-grid): the input is the spec.  A spec that parses has its header built and every point
 * (up to 64) described. */
#include "fuzz_sweep.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *spec = fuzz_string(data, size);
  valley_sweep_grid_t g;
  valley_error_t err;
  if (valley_sweep_grid_parse(&g, spec, FUZZ_SWEEP_ALLOWED, FUZZ_SWEEP_NALLOWED, &err) ==
      VALLEY_OK) {
    free(fuzz_sweep_header(&g));
    for (size_t i = 0; i < g.npoints && i < 64; i++) {
      const char *v[VALLEY_SWEEP_MAXP];
      char desc[512];
      valley_sweep_grid_point(&g, i, v);
      valley_sweep_grid_describe(&g, i, desc, sizeof desc);
    }
    valley_sweep_grid_free(&g);
  }
  free(spec);
  return 0;
}
