/* Checkpoints of the MLP (include/valley/net.h): valley's own binary format (architecture,
 * segment table, float32 parameters, BN running statistics, optional SGD velocity and SWA
 * average, CRC-32), and .safetensors with PyTorch-style tensor names.  Both are written
 * atomically (temporary file beside the target, fsync, rename).  docs/checkpoints.md gives the
 * formats byte by byte and the tensor-name mapping. */
#ifndef VALLEY_CHECKPOINT_H
#define VALLEY_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "valley/error.h"
#include "valley/net.h"

#define VALLEY_CHECKPOINT_MAGIC "VALLEYCK" /* 8 bytes, no terminator in the file */
#define VALLEY_CHECKPOINT_VERSION 1u     /* MLPs (written byte for byte as before) */
#define VALLEY_CHECKPOINT_VERSION_CNN 2u /* the CNN: image fields and 4-d shapes */

/* What a checkpoint holds besides the network's own parameters and BN buffers. */
typedef struct {
  const float *velocity; /* SGD momentum velocity, n_params floats, or NULL (absent) */
  const float *swa_avg;  /* SWA running average, n_params floats, or NULL (absent) */
  uint64_t swa_count;    /* models in swa_avg (stored only with swa_avg) */
} valley_checkpoint_extra_t;

/* A checkpoint read back: owns all its arrays. */
typedef struct {
  valley_mlp_config_t cfg;
  size_t n_params, n_buffers;  /* as in valley_mlp_t */
  float *params;               /* n_params */
  float *running_mean;         /* n_buffers / 2 (NULL when 0) */
  float *running_var;          /* n_buffers / 2 (NULL when 0) */
  float *velocity;             /* n_params, or NULL when the file has none */
  float *swa_avg;              /* n_params, or NULL when the file has none */
  uint64_t swa_count;
} valley_checkpoint_t;

/* Writes net's architecture and segment table, params (n_params floats), net's running BN
 * statistics and the extras (extra may be NULL) to path, atomically.  Same inputs give the same
 * bytes.  EINVAL / ENOMEM / EIO; on failure neither path nor a temporary file is left changed. */
valley_status_t valley_checkpoint_save(const char *path, const valley_mlp_t *net,
                                       const float *params,
                                       const valley_checkpoint_extra_t *extra,
                                       valley_error_t *err);

/* Reads and verifies path (magic, version, size, CRC-32, internal consistency of the table).
 * expect (may be NULL): the architecture must match it (widths, BN flag, eps, momentum, segment
 * table).  EINVAL (bad or mismatching file; the message names the file and the problem) /
 * ENOMEM / EIO (cannot read).  *out is NULL on failure. */
valley_status_t valley_checkpoint_read(const char *path, const valley_mlp_t *expect,
                                       valley_checkpoint_t **out, valley_error_t *err);
void valley_checkpoint_free(valley_checkpoint_t *ck);

/* valley_checkpoint_read against net, then copies the parameters into params (n_params floats),
 * the running statistics into net, the velocity into velocity (when both the file has one and
 * velocity is not NULL; *has_velocity, when not NULL, says whether the file has one).  Nothing
 * is changed on failure. */
valley_status_t valley_checkpoint_load(const char *path, valley_mlp_t *net, float *params,
                                       float *velocity, int *has_velocity, valley_error_t *err);

/* .safetensors: F32 tensors fc{l}.weight [out, in], fc{l}.bias [out], bn{l}.weight (scale),
 * bn{l}.bias (shift), bn{l}.running_mean, bn{l}.running_var (docs/checkpoints.md), and
 * __metadata__ with the architecture.  Atomic, deterministic.  EINVAL / ENOMEM / EIO. */
valley_status_t valley_safetensors_save(const char *path, const valley_mlp_t *net,
                                        const float *params, valley_error_t *err);

/* Loads path into params (n_params floats) and net's running statistics.  Every tensor of net
 * must be present, F32, with net's shape; a fc{l}.bias on a layer with BN (as PyTorch's
 * nn.Linear has) is folded into the running mean (exact in EVAL and TRAIN modes);
 * bn{l}.num_batches_tracked (I64/I32, PyTorch) is ignored; any other tensor is an error.  The
 * header JSON is parsed strictly.  EINVAL (message names the file and the problem) / ENOMEM /
 * EIO.  Nothing is changed on failure. */
valley_status_t valley_safetensors_load(const char *path, valley_mlp_t *net, float *params,
                                        valley_error_t *err);

#endif
