/* Fuzzes the grid-sweep resume path (plots/sweep.c valley_sweep_run on an existing file: the
 * header check, torn records cut away, the records checked against the grid's points, then the
 * remaining points appended).  The input is the JSON Lines file found on resuming the six-point
 * sweep of fuzz_sweep.h.  The header ends with the build object of the valley that wrote it
 * (plots/build.c), which differs from machine to machine; so that the committed seeds reach the
 * records on any build, a build object at the end of the input's first line is replaced by this
 * binary's before the file is written (a header with another build is refused, and tested,
 * anyway: other_header.jsonl, and any mutation of the settings). */
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
  /* the input's first line: ...,"build":{...}}\n -> this binary's build object */
  const char *hb = strstr(header, ",\"build\":{");
  const uint8_t *nl = memchr(data, '\n', size);
  uint8_t *fixed = NULL;
  size_t fsize = size;
  if (hb != NULL && nl != NULL) {
    size_t line = (size_t)(nl - data), at = line;
    for (size_t i = 0; i + 9 <= line; i++)
      if (memcmp(data + i, ",\"build\":{", 10) == 0) {
        at = i;
        break;
      }
    if (at < line) {
      size_t hbl = strlen(hb);
      fsize = at + hbl + (size - line);
      fixed = malloc(fsize);
      if (fixed == NULL) abort();
      memcpy(fixed, data, at);
      memcpy(fixed + at, hb, hbl);
      memcpy(fixed + at + hbl, nl, size - line);
    }
  }
  char *path = fuzz_temp_file(fixed != NULL ? fixed : data, fsize);
  free(fixed);
  valley_sweep_t s = {&g, path, header, fuzz_sweep_point, NULL, NULL, NULL};
  size_t resumed, done;
  (void)valley_sweep_run(&s, &resumed, &done, &err);
  fuzz_temp_remove(path);
  free(header);
  valley_sweep_grid_free(&g);
  return 0;
}
