/* Checkpoints of the MLP in valley's binary format (header, segment table, float32 data,
 * CRC-32), built in memory byte by byte in little-endian order and written atomically (temporary
 * file beside the target, fsync, rename); sim/safetensors.c has the .safetensors side.
 * docs/checkpoints.md describes the formats. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "valley/checkpoint.h"
#include "valley/outfile.h"
#include "netio_internal.h"

#define CK_HEADER_BYTES 144u   /* version 1 (MLP) */
#define CK_SEGMENT_BYTES 80u
#define CK2_HEADER_BYTES 160u  /* version 2 (CNN): + arch, in_channels, height, width */
#define CK2_SEGMENT_BYTES 96u  /* + shape[2], shape[3] */
#define CK_FLAG_VELOCITY 1u
#define CK_FLAG_SWA 2u

/* ---- files ---------------------------------------------------------------------------------- */

valley_status_t valley_netio_read_all(const char *path, unsigned char **data, size_t *n,
                                      valley_error_t *err) {
  *data = NULL;
  *n = 0;
  FILE *f = valley_fopen_read(path, "rb");
  if (f == NULL)
    return VALLEY_ERROR(err, VALLEY_EIO, "cannot read '%s': %s", path, strerror(errno));
  long size = -1;
  if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
  if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
    int e = errno;
    fclose(f);
    return VALLEY_ERROR(err, VALLEY_EIO, "cannot read '%s': %s", path, strerror(e));
  }
  unsigned char *p = malloc(size > 0 ? (size_t)size : 1);
  if (p == NULL) {
    fclose(f);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory reading '%s'", path);
  }
  if (fread(p, 1, (size_t)size, f) != (size_t)size || ferror(f)) {
    fclose(f);
    free(p);
    return VALLEY_ERROR(err, VALLEY_EIO, "cannot read '%s': short read", path);
  }
  fclose(f);
  *data = p;
  *n = (size_t)size;
  return VALLEY_OK;
}

/* ---- valley checkpoint ---------------------------------------------------------------------- */

/* A segment name as 32 bytes, zero-padded (no garbage after the terminator). */
static void name32(char out[32], const char *s) {
  memset(out, 0, 32);
  for (size_t k = 0; k < 31 && s[k] != '\0'; k++) out[k] = s[k];
}

valley_status_t valley_checkpoint_save(const char *path, const valley_mlp_t *net,
                                       const float *params,
                                       const valley_checkpoint_extra_t *extra,
                                       valley_error_t *err) {
  if (path == NULL || net == NULL || params == NULL)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "path, net and params must not be NULL");
  const float *vel = extra ? extra->velocity : NULL, *swa = extra ? extra->swa_avg : NULL;
  buf_t b = {0};
  const valley_mlp_config_t *c = &net->cfg;
  /* MLPs keep version 1 byte for byte; the CNN needs version 2 (image fields, 4-d shapes) */
  int v2 = c->arch != VALLEY_ARCH_MLP;
  buf_put(&b, VALLEY_CHECKPOINT_MAGIC, 8);
  put_u32(&b, v2 ? VALLEY_CHECKPOINT_VERSION_CNN : VALLEY_CHECKPOINT_VERSION);
  put_u32(&b, (vel ? CK_FLAG_VELOCITY : 0u) | (swa ? CK_FLAG_SWA : 0u));
  put_u32(&b, (uint32_t)c->n_layers);
  put_u32(&b, c->batch_norm ? 1u : 0u);
  for (size_t l = 0; l <= VALLEY_MLP_MAX_LAYERS; l++)
    put_u64(&b, l <= c->n_layers ? (uint64_t)c->widths[l] : 0u);
  put_f64(&b, c->bn_eps);
  put_f64(&b, c->bn_momentum);
  put_u64(&b, net->n_params);
  put_u64(&b, net->n_buffers);
  put_u64(&b, net->n_segments);
  put_u64(&b, swa ? extra->swa_count : 0u);
  if (v2) {
    put_u32(&b, (uint32_t)c->arch);
    put_u32(&b, (uint32_t)c->in_channels);
    put_u32(&b, (uint32_t)c->height);
    put_u32(&b, (uint32_t)c->width);
  }
  for (size_t s = 0; s < net->n_segments; s++) {
    const valley_net_segment_t *g = &net->segments[s];
    char name[32];
    name32(name, g->name);
    buf_put(&b, name, 32);
    put_u32(&b, (uint32_t)g->layer);
    put_u32(&b, (uint32_t)g->kind);
    put_u64(&b, g->offset);
    put_u64(&b, g->length);
    put_u32(&b, (uint32_t)g->ndims);
    put_u32(&b, 0u);
    put_u64(&b, g->shape[0]);
    put_u64(&b, g->ndims >= 2 ? g->shape[1] : 0u);
    if (v2) {
      put_u64(&b, g->ndims >= 3 ? g->shape[2] : 0u);
      put_u64(&b, g->ndims >= 4 ? g->shape[3] : 0u);
    }
  }
  put_f32s(&b, params, net->n_params);
  put_f32s(&b, net->running_mean, net->n_buffers / 2);
  put_f32s(&b, net->running_var, net->n_buffers / 2);
  if (vel) put_f32s(&b, vel, net->n_params);
  if (swa) put_f32s(&b, swa, net->n_params);
  if (!b.oom) put_u32(&b, crc32_of(b.p, b.n));
  if (b.oom) {
    free(b.p);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory writing '%s'", path);
  }
  valley_status_t st = valley_outfile_write_all(path, b.p, b.n, err);
  free(b.p);
  return st;
}

void valley_checkpoint_free(valley_checkpoint_t *ck) {
  if (ck == NULL) return;
  free(ck->params);
  free(ck->running_mean);
  free(ck->running_var);
  free(ck->velocity);
  free(ck->swa_avg);
  free(ck);
}

static int same_arch(const valley_mlp_config_t *a, const valley_mlp_config_t *b) {
  if (a->n_layers != b->n_layers || !a->batch_norm != !b->batch_norm) return 0;
  if (a->arch != b->arch) return 0;
  if (a->arch == VALLEY_ARCH_CNN && (a->in_channels != b->in_channels ||
                                     a->height != b->height || a->width != b->width))
    return 0;
  for (size_t l = 0; l <= a->n_layers; l++)
    if (a->widths[l] != b->widths[l]) return 0;
  return a->bn_eps == b->bn_eps && a->bn_momentum == b->bn_momentum;
}

static void arch_string(const valley_mlp_config_t *c, char *s, size_t n) {
  size_t k = 0;
  if (c->arch == VALLEY_ARCH_CNN)
    k = (size_t)snprintf(s, n, "CNN on %zux%zux%zu images, ", c->in_channels, c->height,
                         c->width);
  else
    k = (size_t)snprintf(s, n, "MLP ");
  for (size_t l = 0; l <= c->n_layers && k < n; l++)
    k += (size_t)snprintf(s + k, n - k, "%s%zu", l ? "-" : "", c->widths[l]);
  if (k < n)
    snprintf(s + k, n - k, "%s (eps %g, momentum %g)", c->batch_norm ? " with BN" : "",
             c->bn_eps, c->bn_momentum);
}

/* The segment table at t (n_segments entries of segbytes: 80 in version 1, 96 in 2) equals
 * net's. */
static int same_table(const unsigned char *t, const valley_mlp_t *net, size_t segbytes) {
  for (size_t s = 0; s < net->n_segments; s++, t += segbytes) {
    const valley_net_segment_t *g = &net->segments[s];
    char name[32];
    name32(name, g->name);
    if (memcmp(t, name, 32) != 0 || get_u32(t + 32) != g->layer ||
        get_u32(t + 36) != (uint32_t)g->kind || get_u64(t + 40) != g->offset ||
        get_u64(t + 48) != g->length || get_u32(t + 56) != g->ndims || get_u32(t + 60) != 0 ||
        get_u64(t + 64) != g->shape[0] || get_u64(t + 72) != (g->ndims >= 2 ? g->shape[1] : 0))
      return 0;
    if (segbytes == CK2_SEGMENT_BYTES &&
        (get_u64(t + 80) != (g->ndims >= 3 ? g->shape[2] : 0) ||
         get_u64(t + 88) != (g->ndims >= 4 ? g->shape[3] : 0)))
      return 0;
    if (segbytes == CK_SEGMENT_BYTES && g->ndims > 2) return 0;
  }
  return 1;
}

#define BAD(...) (st = VALLEY_ERROR(err, VALLEY_EINVAL, __VA_ARGS__))

static uint64_t mul_sat(uint64_t a, uint64_t b) {
  return a != 0 && b > UINT64_MAX / a ? UINT64_MAX : a * b;
}
static uint64_t add_sat(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

/* The number of parameters c's table has (sim/net.c's and sim/cnn.c's layouts), saturating, without
 * building the network: a header whose widths ask for more parameters than the file stores is
 * rejected before valley_mlp_alloc allocates for them (a 20 KB file asked for 3 GB;
 * tests/fuzz/regress/checkpoint). */
static uint64_t arch_params(const valley_mlp_config_t *c) {
  uint64_t n = 0;
  if (c->arch == VALLEY_ARCH_CNN) {
    uint64_t c1 = c->widths[1], c2 = c->widths[2], cls = c->widths[3];
    uint64_t per = c->batch_norm ? 2u : 1u; /* BN scale and shift, or a bias */
    n = add_sat(mul_sat(mul_sat(c1, c->in_channels), 9), mul_sat(per, c1));
    n = add_sat(n, add_sat(mul_sat(mul_sat(c2, c1), 9), mul_sat(per, c2)));
    uint64_t F = mul_sat(c2, mul_sat(c->height / 4, c->width / 4));
    return add_sat(n, add_sat(mul_sat(cls, F), cls));
  }
  for (size_t l = 0; l < c->n_layers; l++) {
    uint64_t per = c->batch_norm && l + 1 < c->n_layers ? 2u : 1u;
    n = add_sat(n, add_sat(mul_sat(c->widths[l], c->widths[l + 1]),
                           mul_sat(per, c->widths[l + 1])));
  }
  return n;
}

static valley_status_t parse_checkpoint(const char *path, const unsigned char *p, size_t n,
                                        const valley_mlp_t *expect, valley_checkpoint_t *ck,
                                        valley_error_t *err) {
  valley_status_t st = VALLEY_OK;
  if (n < 8) return BAD("'%s': truncated (%zu bytes)", path, n);
  if (memcmp(p, VALLEY_CHECKPOINT_MAGIC, 8) != 0)
    return BAD("'%s': not a valley checkpoint (bad magic)", path);
  if (n < 12) return BAD("'%s': truncated (%zu bytes)", path, n);
  uint32_t version = get_u32(p + 8);
  if (version != VALLEY_CHECKPOINT_VERSION && version != VALLEY_CHECKPOINT_VERSION_CNN)
    return BAD("'%s': unsupported format version %u (this build reads %u and %u)", path,
               (unsigned)version, VALLEY_CHECKPOINT_VERSION, VALLEY_CHECKPOINT_VERSION_CNN);
  size_t hbytes = version == 1 ? CK_HEADER_BYTES : CK2_HEADER_BYTES;
  size_t segbytes = version == 1 ? CK_SEGMENT_BYTES : CK2_SEGMENT_BYTES;
  if (n < hbytes + 4) return BAD("'%s': truncated (%zu bytes)", path, n);
  uint32_t flags = get_u32(p + 12);
  uint64_t np = get_u64(p + 112), nb = get_u64(p + 120), nseg = get_u64(p + 128);
  uint64_t arrays = (flags & CK_FLAG_VELOCITY ? 1u : 0u) + (flags & CK_FLAG_SWA ? 1u : 0u) + 1u;
  /* counts larger than the file cannot be right; this also keeps the sums below from overflow */
  if (np > n / 4 || nb > n / 4 || nseg > n / segbytes)
    return BAD("'%s': truncated or corrupt (header counts exceed the file's %zu bytes)", path, n);
  uint64_t want = hbytes + segbytes * nseg + 4 * (arrays * np + nb) + 4;
  if (n < want)
    return BAD("'%s': truncated (%zu bytes, header says %llu)", path, n,
               (unsigned long long)want);
  if (n > want)
    return BAD("'%s': %zu bytes, header says %llu (trailing data)", path, n,
               (unsigned long long)want);
  uint32_t stored = get_u32(p + n - 4), computed = crc32_of(p, n - 4);
  if (stored != computed)
    return BAD("'%s': checksum mismatch (stored 0x%08x, computed 0x%08x)", path,
               (unsigned)stored, (unsigned)computed);
  if (flags & ~(CK_FLAG_VELOCITY | CK_FLAG_SWA))
    return BAD("'%s': unknown flags 0x%x", path, (unsigned)flags);

  valley_mlp_config_t *c = &ck->cfg;
  valley_mlp_config_default(c);
  uint32_t L = get_u32(p + 16), bn = get_u32(p + 20);
  if (L < 1 || L > VALLEY_MLP_MAX_LAYERS || bn > 1)
    return BAD("'%s': bad architecture (%u layers, batch_norm %u)", path, (unsigned)L,
               (unsigned)bn);
  c->n_layers = L;
  c->batch_norm = (int)bn;
  for (size_t l = 0; l <= VALLEY_MLP_MAX_LAYERS; l++) {
    uint64_t w = get_u64(p + 24 + 8 * l);
    if ((l <= L && (w == 0 || w > n)) || (l > L && w != 0))
      return BAD("'%s': bad architecture (width %zu is %llu)", path, l, (unsigned long long)w);
    if (l <= L) c->widths[l] = (size_t)w;
  }
  c->bn_eps = get_f64(p + 96);
  c->bn_momentum = get_f64(p + 104);
  if (version == VALLEY_CHECKPOINT_VERSION_CNN) {
    uint32_t arch = get_u32(p + 144), ic = get_u32(p + 148), h = get_u32(p + 152),
             w = get_u32(p + 156);
    if (arch != VALLEY_ARCH_MLP && arch != VALLEY_ARCH_CNN)
      return BAD("'%s': bad architecture (unknown kind %u)", path, (unsigned)arch);
    if (arch == VALLEY_ARCH_MLP && (ic || h || w))
      return BAD("'%s': bad architecture (image fields on an MLP)", path);
    c->arch = (valley_arch_t)arch;
    c->in_channels = ic;
    c->height = h;
    c->width = w;
  }
  if (arch_params(c) > np)
    return BAD("'%s': segment table inconsistent with the architecture (its widths need more "
               "than the %llu parameters stored)", path, (unsigned long long)np);
  valley_mlp_t *ref;
  valley_error_t e2;
  if (valley_mlp_alloc(c, 1, &ref, &e2) != VALLEY_OK)
    return e2.code == VALLEY_ENOMEM ? VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory")
                                    : BAD("'%s': bad architecture: %s", path, e2.message);
  int ok = ref->n_params == np && ref->n_buffers == nb && ref->n_segments == nseg &&
           same_table(p + hbytes, ref, segbytes);
  valley_mlp_free(ref);
  if (!ok) return BAD("'%s': segment table inconsistent with the architecture", path);
  if (expect != NULL &&
      (!same_arch(c, &expect->cfg) || expect->n_params != np || expect->n_segments != nseg ||
       !same_table(p + hbytes, expect, segbytes))) {
    char got[200], exp[200];
    arch_string(c, got, sizeof got);
    arch_string(&expect->cfg, exp, sizeof exp);
    return BAD("'%s': architecture mismatch: file has %s, expected %s", path, got, exp);
  }
  ck->n_params = (size_t)np;
  ck->n_buffers = (size_t)nb;
  size_t half = (size_t)nb / 2;
  ck->swa_count = flags & CK_FLAG_SWA ? get_u64(p + 136) : 0;
  ck->params = malloc(np ? np * 4 : 1);
  if (half) {
    ck->running_mean = malloc(half * 4);
    ck->running_var = malloc(half * 4);
  }
  if (flags & CK_FLAG_VELOCITY) ck->velocity = malloc(np ? np * 4 : 1);
  if (flags & CK_FLAG_SWA) ck->swa_avg = malloc(np ? np * 4 : 1);
  if (ck->params == NULL || (half && (!ck->running_mean || !ck->running_var)) ||
      ((flags & CK_FLAG_VELOCITY) && !ck->velocity) || ((flags & CK_FLAG_SWA) && !ck->swa_avg))
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory reading '%s'", path);
  const unsigned char *d = p + hbytes + segbytes * nseg;
  get_f32s(ck->params, d, (size_t)np);
  d += 4 * np;
  if (half) {
    get_f32s(ck->running_mean, d, half);
    get_f32s(ck->running_var, d + 4 * half, half);
  }
  d += 4 * nb;
  if (ck->velocity) {
    get_f32s(ck->velocity, d, (size_t)np);
    d += 4 * np;
  }
  if (ck->swa_avg) get_f32s(ck->swa_avg, d, (size_t)np);
  return VALLEY_OK;
}

valley_status_t valley_checkpoint_read(const char *path, const valley_mlp_t *expect,
                                       valley_checkpoint_t **out, valley_error_t *err) {
  *out = NULL;
  if (path == NULL) return VALLEY_ERROR(err, VALLEY_EINVAL, "path must not be NULL");
  unsigned char *p;
  size_t n;
  valley_status_t st = valley_netio_read_all(path, &p, &n, err);
  if (st != VALLEY_OK) return st;
  valley_checkpoint_t *ck = calloc(1, sizeof *ck);
  if (ck == NULL) {
    free(p);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory");
  }
  st = parse_checkpoint(path, p, n, expect, ck, err);
  free(p);
  if (st != VALLEY_OK) {
    valley_checkpoint_free(ck);
    return st;
  }
  *out = ck;
  return VALLEY_OK;
}

valley_status_t valley_checkpoint_load(const char *path, valley_mlp_t *net, float *params,
                                       float *velocity, int *has_velocity, valley_error_t *err) {
  if (net == NULL || params == NULL)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "net and params must not be NULL");
  valley_checkpoint_t *ck;
  valley_status_t st = valley_checkpoint_read(path, net, &ck, err);
  if (st != VALLEY_OK) return st;
  memcpy(params, ck->params, ck->n_params * sizeof *params);
  if (ck->n_buffers) {
    memcpy(net->running_mean, ck->running_mean, ck->n_buffers / 2 * sizeof(float));
    memcpy(net->running_var, ck->running_var, ck->n_buffers / 2 * sizeof(float));
  }
  if (velocity != NULL && ck->velocity != NULL)
    memcpy(velocity, ck->velocity, ck->n_params * sizeof *velocity);
  if (has_velocity != NULL) *has_velocity = ck->velocity != NULL;
  valley_checkpoint_free(ck);
  return VALLEY_OK;
}
