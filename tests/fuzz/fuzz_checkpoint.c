/* Fuzzes valley's checkpoint reader (sim/checkpoint.c valley_checkpoint_read and
 * valley_checkpoint_load).  The first byte is the mode, the rest the file:
 *   bit 0  replace the file's last 4 bytes by the CRC-32 of the others, as the writer does, so
 *          that mutations get past the checksum into the header and table checks;
 *   bits 1-2  0: valley_checkpoint_read with no expected architecture; 1, 2, 3:
 *          valley_checkpoint_load into net 0, 1 or 2 of fuzz_net.h. */
#include <zlib.h>

#include "fuzz_net.h"
#include "fuzz_util.h"
#include "valley/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  unsigned mode = data[0];
  size_t n = size - 1;
  uint8_t *file = malloc(n > 0 ? n : 1);
  if (file == NULL) abort();
  memcpy(file, data + 1, n);
  if ((mode & 1u) && n >= 4) {
    uLong crc = crc32(crc32(0L, Z_NULL, 0), file, (uInt)(n - 4));
    for (int k = 0; k < 4; k++) file[n - 4 + (size_t)k] = (uint8_t)(crc >> (8 * k));
  }
  char *path = fuzz_temp_file(file, n);
  free(file);
  valley_error_t err;
  unsigned target = (mode >> 1) & 3u;
  if (target == 0) {
    valley_checkpoint_t *ck;
    if (valley_checkpoint_read(path, NULL, &ck, &err) == VALLEY_OK) valley_checkpoint_free(ck);
  } else {
    valley_mlp_t *net = fuzz_net((int)target - 1);
    float *params = calloc(net->n_params, sizeof *params);
    float *vel = calloc(net->n_params, sizeof *vel);
    if (params == NULL || vel == NULL) abort();
    int has_vel;
    (void)valley_checkpoint_load(path, net, params, vel, &has_vel, &err);
    free(params);
    free(vel);
    valley_mlp_free(net);
  }
  fuzz_temp_remove(path);
  return 0;
}
