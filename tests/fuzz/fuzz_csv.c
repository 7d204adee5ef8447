/* Fuzzes the CSV data-set reader (sim/idx.c valley_dataset_load_csv), gzip or plain.  The first
 * byte picks the image shape and the number of classes (bits 0-1: 0 x 0 (any), 1 x 4, 2 x 2,
 * 28 x 28; bits 2-3: 10, 2, 1 or 256 classes); the rest is the file. */
#include "fuzz_util.h"
#include "valley/idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  static const size_t ROWS[4] = {0, 1, 2, 28}, COLS[4] = {0, 4, 2, 28};
  static const unsigned CLASSES[4] = {10, 2, 1, 256};
  size_t shape = data[0] & 3u;
  unsigned classes = CLASSES[(data[0] >> 2) & 3u];
  char *path = fuzz_temp_file(data + 1, size - 1);
  valley_dataset_t ds;
  valley_error_t err;
  if (valley_dataset_load_csv(path, ROWS[shape], COLS[shape], classes, &ds, &err) == VALLEY_OK) {
    valley_dataset_t tr, va;
    if (valley_dataset_split(&ds, ds.n / 2, 1, &tr, &va, &err) == VALLEY_OK) {
      valley_dataset_free(&tr);
      valley_dataset_free(&va);
    }
  }
  valley_dataset_free(&ds); /* documented safe on a failed load */
  fuzz_temp_remove(path);
  return 0;
}
