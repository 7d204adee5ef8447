/* Internal to sim/checkpoint.c and sim/safetensors.c: a little-endian byte buffer, and whole-file
 * reads and atomic writes.  Not installed. */
#ifndef VALLEY_NETIO_INTERNAL_H
#define VALLEY_NETIO_INTERNAL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "valley/error.h"

/* ---- little-endian byte buffer -------------------------------------------------------------- */

typedef struct {
  unsigned char *p;
  size_t n, cap;
  int oom;
} buf_t;

static inline void buf_put(buf_t *b, const void *src, size_t n) {
  if (b->oom) return;
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + n) cap *= 2;
    unsigned char *q = realloc(b->p, cap);
    if (q == NULL) {
      b->oom = 1;
      return;
    }
    b->p = q;
    b->cap = cap;
  }
  memcpy(b->p + b->n, src, n);
  b->n += n;
}

static inline void put_u32(buf_t *b, uint32_t v) {
  unsigned char c[4];
  for (int i = 0; i < 4; i++) c[i] = (unsigned char)(v >> (8 * i));
  buf_put(b, c, 4);
}

static inline void put_u64(buf_t *b, uint64_t v) {
  unsigned char c[8];
  for (int i = 0; i < 8; i++) c[i] = (unsigned char)(v >> (8 * i));
  buf_put(b, c, 8);
}

static inline void put_f64(buf_t *b, double x) {
  uint64_t v;
  memcpy(&v, &x, 8);
  put_u64(b, v);
}

static inline void put_f32s(buf_t *b, const float *x, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint32_t v;
    memcpy(&v, &x[i], 4);
    put_u32(b, v);
  }
}

static inline uint32_t get_u32(const unsigned char *c) {
  return (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24;
}

static inline uint64_t get_u64(const unsigned char *c) {
  return (uint64_t)get_u32(c) | (uint64_t)get_u32(c + 4) << 32;
}

static inline double get_f64(const unsigned char *c) {
  uint64_t v = get_u64(c);
  double x;
  memcpy(&x, &v, 8);
  return x;
}

static inline void get_f32s(float *x, const unsigned char *c, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint32_t v = get_u32(c + 4 * i);
    memcpy(&x[i], &v, 4);
  }
}

static inline uint32_t crc32_of(const unsigned char *p, size_t n) {
  uLong crc = crc32(0L, Z_NULL, 0);
  while (n > 0) {
    uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
    crc = crc32(crc, p, chunk);
    p += chunk;
    n -= chunk;
  }
  return (uint32_t)crc;
}

/* The whole file into a malloc'ed buffer (*data, *n); EIO naming the file. */
valley_status_t valley_netio_read_all(const char *path, unsigned char **data, size_t *n,
                                      valley_error_t *err);

#endif
