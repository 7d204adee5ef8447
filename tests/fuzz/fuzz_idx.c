/* Fuzzes the IDX reader (sim/idx.c valley_idx_read), gzip or plain: the input is the file.  A
 * file that reads is also loaded as both halves of an IDX data set (valley_dataset_load_idx),
 * which checks types, shapes and labels. */
#include "fuzz_util.h"
#include "valley/idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *path = fuzz_temp_file(data, size);
  valley_idx_t m;
  valley_error_t err;
  if (valley_idx_read(path, &m, &err) == VALLEY_OK) {
    valley_idx_free(&m);
    valley_dataset_t ds;
    if (valley_dataset_load_idx(path, path, 256, &ds, &err) == VALLEY_OK) valley_dataset_free(&ds);
  } else {
    valley_idx_free(&m); /* documented safe on a failed read */
  }
  fuzz_temp_remove(path);
  return 0;
}
