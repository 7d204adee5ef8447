/* Fuzzes the .safetensors loader (sim/safetensors.c valley_safetensors_load: the 8-byte header
 * length, the header JSON parsed strictly, the tensor table, dtypes, shapes and offsets).  The
 * first byte picks the network (fuzz_net.h, modulo 3); the rest is the file. */
#include "fuzz_net.h"
#include "fuzz_util.h"
#include "valley/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  char *path = fuzz_temp_file(data + 1, size - 1);
  valley_mlp_t *net = fuzz_net(data[0] % 3);
  float *params = calloc(net->n_params, sizeof *params);
  if (params == NULL) abort();
  valley_error_t err;
  (void)valley_safetensors_load(path, net, params, &err);
  free(params);
  valley_mlp_free(net);
  fuzz_temp_remove(path);
  return 0;
}
