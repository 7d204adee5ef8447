/* The grid, header and point of the sweep harnesses (tests/fuzz/make_corpus.c writes resume
 * files for the same header): "a=0,1,2;name=p,q", six points; a = 1 is an error record. */
#ifndef VALLEY_FUZZ_SWEEP_H
#define VALLEY_FUZZ_SWEEP_H

#include <stdlib.h>
#include <string.h>

#include "valley/sweep.h"

static const valley_sweep_param_t FUZZ_SWEEP_ALLOWED[] = {
    {"a", 1}, {"b", 1}, {"name", 0}, {"n", 1}, {"eta", 1}, {"T", 1}};
#define FUZZ_SWEEP_NALLOWED (sizeof FUZZ_SWEEP_ALLOWED / sizeof FUZZ_SWEEP_ALLOWED[0])
#define FUZZ_SWEEP_GRID "a=0,1,2;name=p,q"

static inline char *fuzz_sweep_header(const valley_sweep_grid_t *g) {
  const char *keys[2] = {"seed", "mode"}, *vals[2] = {"7", "fuzz"};
  return valley_sweep_header("fuzz", g, keys, vals, 2);
}

static inline valley_status_t fuzz_sweep_point(size_t index, const char *const *values,
                                               valley_json_t *j, void *arg, valley_error_t *err) {
  (void)arg;
  if (strcmp(values[0], "1") == 0) return VALLEY_ERROR(err, VALLEY_EDOM, "a = 1 fails");
  valley_json_number(j, "y", strtod(values[0], NULL) * 2 + (double)index);
  valley_json_string(j, "name", values[1]);
  return VALLEY_OK;
}

#endif
