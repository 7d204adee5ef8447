/* IDX files, data sets, splits and CSV (sim/idx.c): small IDX and CSV files written byte by byte
 * (plain and gzip) into a temporary directory and read back; every corruption rejected with a
 * message that names the file and the fault; the split shuffle against an independent Python
 * reference (tests/data/shuffle_ref.py); and, when Debian's dataset-fashion-mnist is installed,
 * Fashion-MNIST itself against values computed independently from its files.
 * usage: test_idx */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "check.h"
#include "valley/idx.h"

/* ---- helpers -------------------------------------------------------------------------------- */

typedef struct {
  unsigned char *b;
  size_t n, cap;
} buf_t;

static void put(buf_t *B, const void *p, size_t n) {
  if (B->n + n > B->cap) {
    size_t cap = B->cap ? B->cap : 256;
    while (cap < B->n + n) cap *= 2;
    unsigned char *nb = realloc(B->b, cap);
    if (nb == NULL) {
      fprintf(stderr, "test_idx: out of memory\n");
      exit(2);
    }
    B->b = nb;
    B->cap = cap;
  }
  memcpy(B->b + B->n, p, n);
  B->n += n;
}

static void put_be32(buf_t *B, uint32_t v) {
  unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                        (unsigned char)v};
  put(B, b, 4);
}

/* An IDX file's bytes: magic 00 00 type ndims, big-endian sizes, then payload as given. */
static void idx_bytes(buf_t *B, int type, int ndims, const uint32_t *dims, const void *payload,
                      size_t len) {
  B->n = 0;
  unsigned char magic[4] = {0, 0, (unsigned char)type, (unsigned char)ndims};
  put(B, magic, 4);
  for (int d = 0; d < ndims; d++) put_be32(B, dims[d]);
  if (len > 0) put(B, payload, len);
}

static void write_file(const char *path, const void *p, size_t n, int gz) {
  int ok;
  if (gz) {
    gzFile g = gzopen(path, "wb9");
    ok = g != NULL && (n == 0 || gzwrite(g, p, (unsigned)n) == (int)n);
    if (g != NULL) ok = gzclose(g) == Z_OK && ok;
  } else {
    FILE *f = fopen(path, "wb");
    ok = f != NULL && fwrite(p, 1, n, f) == n;
    if (f != NULL) ok = fclose(f) == 0 && ok;
  }
  if (!ok) {
    fprintf(stderr, "test_idx: cannot write %s\n", path);
    exit(2);
  }
}

/* The bytes of a file (to corrupt a gzip file in place). */
static void read_file(const char *path, buf_t *B) {
  B->n = 0;
  FILE *f = fopen(path, "rb");
  unsigned char tmp[4096];
  size_t k;
  while (f != NULL && (k = fread(tmp, 1, sizeof tmp, f)) > 0) put(B, tmp, k);
  if (f != NULL) fclose(f);
}

static void rm_tree(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    struct dirent *e;
    while (d != NULL && (e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      char sub[1024];
      snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
      rm_tree(sub);
    }
    if (d != NULL) closedir(d);
    rmdir(path);
  } else {
    unlink(path);
  }
}

/* The call failed with `want`, and its message names `path` and contains `needle`. */
static void expect_err(check_t *t, valley_status_t got, valley_status_t want,
                       const valley_error_t *e, const char *path, const char *needle,
                       const char *what) {
  int ok = got == want && strstr(e->message, path) != NULL &&
           (needle == NULL || strstr(e->message, needle) != NULL);
  check(t, ok, "%s -> %s: \"%s\"", what, valley_strerror(got), got != VALLEY_OK ? e->message : "");
}

/* ---- 1. IDX files that are right ------------------------------------------------------------ */

static void test_idx_good(check_t *t, const char *dir) {
  char path[512];
  unsigned char px[60];
  for (int i = 0; i < 60; i++) px[i] = (unsigned char)(i * 37 % 256);
  uint32_t dims[3] = {5, 3, 4};
  buf_t B = {0};
  idx_bytes(&B, 0x08, 3, dims, px, sizeof px);
  for (int gz = 0; gz < 2; gz++) {
    snprintf(path, sizeof path, "%s/good%s", dir, gz ? ".idx.gz" : ".idx");
    write_file(path, B.b, B.n, gz);
    valley_idx_t m;
    valley_error_t err;
    valley_status_t st = valley_idx_read(path, &m, &err);
    check(t, st == VALLEY_OK, "%s 5 x 3 x 4 uint8 reads%s%s", gz ? "gzip" : "plain", st ? ": " : "",
          st ? err.message : "");
    if (st != VALLEY_OK) continue;
    check(t,
          m.type == VALLEY_IDX_UINT8 && m.ndims == 3 && m.dims[0] == 5 && m.dims[1] == 3 &&
              m.dims[2] == 4 && m.dims[3] == 0 && m.count == 60 && m.elem_size == 1,
          "%s: type %s, %d dims %zu x %zu x %zu, count %zu", gz ? "gzip" : "plain",
          valley_idx_type_name(m.type), m.ndims, m.dims[0], m.dims[1], m.dims[2], m.count);
    check(t, memcmp(m.data, px, 60) == 0, "%s: the 60 bytes read are those written",
          gz ? "gzip" : "plain");
    valley_idx_free(&m);
    check(t, m.data == NULL && m.count == 0, "valley_idx_free empties the record");
    valley_idx_free(&m);
  }

  /* a size of 0: no data, and a non-NULL data pointer */
  uint32_t zero[3] = {0, 28, 28};
  idx_bytes(&B, 0x08, 3, zero, NULL, 0);
  snprintf(path, sizeof path, "%s/empty3d.idx", dir);
  write_file(path, B.b, B.n, 0);
  valley_idx_t m;
  valley_error_t err;
  valley_status_t st = valley_idx_read(path, &m, &err);
  check(t, st == VALLEY_OK && m.count == 0 && m.data != NULL, "0 x 28 x 28 reads as 0 elements");
  valley_idx_free(&m);
  free(B.b);
}

/* Big-endian element types to host values, each from bytes written by hand. */
static void test_idx_types(check_t *t, const char *dir) {
  char path[512];
  buf_t B = {0};
  valley_idx_t m;
  valley_error_t err;
  struct {
    int type;
    unsigned char bytes[16];
    size_t len, count;
  } cases[] = {
      {0x09, {0xFF, 0x7F, 0x80}, 3, 3},
      {0x0B, {0xFF, 0xFE, 0x01, 0x02}, 4, 2},
      {0x0C, {0x01, 0x02, 0x03, 0x04, 0xFF, 0xFF, 0xFF, 0xFF}, 8, 2},
      {0x0D, {0x3F, 0xC0, 0x00, 0x00, 0xC0, 0x49, 0x0F, 0xDB}, 8, 2},
      {0x0E, {0xBF, 0xD0, 0, 0, 0, 0, 0, 0, 0x40, 0x09, 0x21, 0xFB, 0x54, 0x44, 0x2D, 0x18}, 16, 2},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    uint32_t dims[1] = {(uint32_t)cases[c].count};
    idx_bytes(&B, cases[c].type, 1, dims, cases[c].bytes, cases[c].len);
    snprintf(path, sizeof path, "%s/type%02x.idx.gz", dir, cases[c].type);
    write_file(path, B.b, B.n, 1);
    valley_status_t st = valley_idx_read(path, &m, &err);
    const char *name = valley_idx_type_name(cases[c].type);
    if (st != VALLEY_OK) {
      check(t, 0, "%s reads: %s", name, err.message);
      continue;
    }
    int ok = (int)m.type == cases[c].type && m.count == cases[c].count &&
             m.elem_size == valley_idx_type_size(cases[c].type);
    switch (cases[c].type) {
      case 0x09: {
        const int8_t *v = m.data;
        ok = ok && v[0] == -1 && v[1] == 127 && v[2] == -128;
        break;
      }
      case 0x0B: {
        const int16_t *v = m.data;
        ok = ok && v[0] == -2 && v[1] == 258;
        break;
      }
      case 0x0C: {
        const int32_t *v = m.data;
        ok = ok && v[0] == 16909060 && v[1] == -1;
        break;
      }
      case 0x0D: {
        const float *v = m.data;
        ok = ok && v[0] == 1.5f && v[1] == -3.14159274f;
        break;
      }
      case 0x0E: {
        const double *v = m.data;
        ok = ok && v[0] == -0.25 && v[1] == 3.141592653589793;
        break;
      }
    }
    check(t, ok, "%s elements read big-endian into host values", name);
    valley_idx_free(&m);
  }
  check(t,
        valley_idx_type_size(0x0A) == 0 && strcmp(valley_idx_type_name(0x0A), "unknown") == 0 &&
            valley_idx_type_size(0x08) == 1 && valley_idx_type_size(0x0E) == 8,
        "type sizes and names; 0x0A is no IDX type");
  free(B.b);
}

/* ---- 2. IDX files that are wrong ------------------------------------------------------------ */

static void test_idx_errors(check_t *t, const char *dir) {
  char path[512], what[600];
  buf_t B = {0}, G = {0};
  valley_idx_t m;
  valley_error_t err;
  unsigned char px[60] = {0};
  uint32_t dims[3] = {5, 3, 4};
  valley_status_t st;

  snprintf(path, sizeof path, "%s/no-such-file.idx", dir);
  st = valley_idx_read(path, &m, &err);
  expect_err(t, st, VALLEY_EIO, &err, path, "No such file", "missing file");
  check(t, m.data == NULL, "a failed read leaves an empty record");
  st = valley_idx_read(dir, &m, &err);
  expect_err(t, st, VALLEY_EIO, &err, dir, "Is a directory", "a directory");

  struct {
    const char *name, *needle;
    int gz;
  } bad[] = {
      {"empty.idx", "truncated: 0 bytes, shorter than the 4-byte IDX magic", 0},
      {"two-bytes.idx", "truncated: 2 bytes", 0},
      {"magic.idx", "wrong magic number 01 00 08 03", 0},
      {"text.idx", "wrong magic number 50 35 0a 33", 0},
      {"type.idx", "unsupported IDX element type 0x0a", 0},
      {"ndims0.idx", "unsupported number of dimensions 0", 1},
      {"ndims9.idx", "unsupported number of dimensions 9", 0},
      {"cut-header.idx",
       "truncated: the header of 3 dimensions needs 12 bytes of sizes, the file "
       "has 7",
       0},
      {"short.idx",
       "truncated: the header declares 5 x 3 x 4 uint8 (60 bytes of data), the file "
       "holds 59",
       0},
      {"short.idx.gz",
       "truncated: the header declares 5 x 3 x 4 uint8 (60 bytes of data), the "
       "decompressed file holds 59",
       1},
      {"long.idx", "over-long: 3 extra bytes in the file after the 60 bytes", 0},
      {"long.idx.gz", "over-long: 5000 extra bytes in the decompressed file after the 60 bytes", 1},
      {"overflow.idx", "(4294967295 x 4294967295 x 4294967295 x 4294967295 int32) overflow", 0},
      {"huge.idx",
       "truncated: the header declares 4294967295 uint8 (4294967295 bytes of data), "
       "the file holds 10",
       0},
  };
  for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
    const char *n = bad[c].name;
    if (strcmp(n, "empty.idx") == 0) {
      B.n = 0;
    } else if (strcmp(n, "two-bytes.idx") == 0) {
      idx_bytes(&B, 0x08, 3, dims, px, 60);
      B.n = 2;
    } else if (strcmp(n, "magic.idx") == 0) {
      idx_bytes(&B, 0x08, 3, dims, px, 60);
      B.b[0] = 1;
    } else if (strcmp(n, "text.idx") == 0) {
      B.n = 0;
      put(&B, "P5\n3 4\n255\n", 11);
    } else if (strcmp(n, "type.idx") == 0) {
      idx_bytes(&B, 0x0A, 3, dims, px, 60);
    } else if (strcmp(n, "ndims0.idx") == 0) {
      idx_bytes(&B, 0x08, 0, dims, px, 60);
    } else if (strcmp(n, "ndims9.idx") == 0) {
      uint32_t d9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
      idx_bytes(&B, 0x08, 9, d9, px, 1);
    } else if (strcmp(n, "cut-header.idx") == 0) {
      idx_bytes(&B, 0x08, 3, dims, px, 60);
      B.n = 11;
    } else if (strncmp(n, "short", 5) == 0) {
      idx_bytes(&B, 0x08, 3, dims, px, 59);
    } else if (strcmp(n, "long.idx") == 0) {
      idx_bytes(&B, 0x08, 3, dims, px, 60);
      put(&B, "abc", 3);
    } else if (strcmp(n, "long.idx.gz") == 0) {
      idx_bytes(&B, 0x08, 3, dims, px, 60);
      for (int k = 0; k < 100; k++) put(&B, px, 50);
    } else if (strcmp(n, "overflow.idx") == 0) {
      uint32_t d4[4] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
      idx_bytes(&B, 0x0C, 4, d4, px, 8);
    } else if (strcmp(n, "huge.idx") == 0) { /* must not allocate 4 GiB to find out */
      uint32_t d1[1] = {0xFFFFFFFFu};
      idx_bytes(&B, 0x08, 1, d1, px, 10);
    }
    snprintf(path, sizeof path, "%s/%s", dir, n);
    write_file(path, B.b, B.n, bad[c].gz);
    st = valley_idx_read(path, &m, &err);
    snprintf(what, sizeof what, "%s%s", n, bad[c].gz ? " (gzip)" : "");
    expect_err(t, st, VALLEY_EINVAL, &err, path, bad[c].needle, what);
    if (st == VALLEY_OK) valley_idx_free(&m);
  }

  /* gzip faults: zlib's own words follow ours */
  unsigned char big[3000];
  for (int i = 0; i < 3000; i++) big[i] = (unsigned char)((i * i) % 251);
  uint32_t dbig[1] = {3000};
  idx_bytes(&B, 0x08, 1, dbig, big, sizeof big);
  snprintf(path, sizeof path, "%s/gz-ok.idx.gz", dir);
  write_file(path, B.b, B.n, 1);
  read_file(path, &G);
  check(t, G.n > 30 && G.b[0] == 0x1f && G.b[1] == 0x8b, "gzip fixture written (%zu bytes)", G.n);
  struct {
    const char *name, *needle;
  } gzbad[] = {
      {"gz-cut.idx.gz", "truncated gzip stream"},
      {"gz-cut-trailer.idx.gz", "truncated gzip stream"},
      {"gz-blocktype.idx.gz", "corrupt gzip data (zlib: invalid block type)"},
      {"gz-crc.idx.gz", "corrupt gzip data (zlib: incorrect data check)"},
      {"gz-length.idx.gz", "corrupt gzip data (zlib: incorrect length check)"},
      {"gz-method.idx.gz", "corrupt gzip data (zlib: unknown compression method)"},
  };
  for (size_t c = 0; c < sizeof gzbad / sizeof gzbad[0]; c++) {
    buf_t C = {0};
    put(&C, G.b, G.n);
    const char *n = gzbad[c].name;
    if (strcmp(n, "gz-cut.idx.gz") == 0) C.n = G.n / 2;
    if (strcmp(n, "gz-cut-trailer.idx.gz") == 0) C.n = G.n - 4;   /* all data, no length */
    if (strcmp(n, "gz-blocktype.idx.gz") == 0) C.b[10] |= 0x06;   /* BTYPE 11: reserved */
    if (strcmp(n, "gz-crc.idx.gz") == 0) C.b[G.n - 8] ^= 0x01;    /* the CRC-32 trailer */
    if (strcmp(n, "gz-length.idx.gz") == 0) C.b[G.n - 4] ^= 0x01; /* the ISIZE trailer */
    if (strcmp(n, "gz-method.idx.gz") == 0) C.b[2] = 7;           /* CM 7: not deflate */
    snprintf(path, sizeof path, "%s/%s", dir, n);
    write_file(path, C.b, C.n, 0);
    st = valley_idx_read(path, &m, &err);
    expect_err(t, st, VALLEY_EIO, &err, path, gzbad[c].needle, n);
    if (st == VALLEY_OK) valley_idx_free(&m);
    free(C.b);
  }
  free(B.b);
  free(G.b);
}

/* ---- 3. data sets from IDX pairs ------------------------------------------------------------ */

/* n examples of rows x cols bytes (byte k of example i: (7 i + 3 k) mod 256), labels i mod
 * classes, written as dir/<stem>-images.idx[.gz] and dir/<stem>-labels.idx[.gz]. */
static void write_pair(const char *dir, const char *iname, const char *lname, uint32_t n,
                       uint32_t rows, uint32_t cols, unsigned classes, int gz) {
  buf_t B = {0};
  size_t dim = (size_t)rows * cols;
  unsigned char *px = malloc(n * dim + 1), *lb = malloc(n + 1);
  for (size_t i = 0; i < n; i++) {
    for (size_t k = 0; k < dim; k++) px[i * dim + k] = (unsigned char)((7 * i + 3 * k) % 256);
    lb[i] = (unsigned char)(i % classes);
  }
  char path[512];
  uint32_t dims[3] = {n, rows, cols};
  idx_bytes(&B, 0x08, 3, dims, px, n * dim);
  snprintf(path, sizeof path, "%s/%s", dir, iname);
  write_file(path, B.b, B.n, gz);
  idx_bytes(&B, 0x08, 1, dims, lb, n);
  snprintf(path, sizeof path, "%s/%s", dir, lname);
  write_file(path, B.b, B.n, gz);
  free(px);
  free(lb);
  free(B.b);
}

/* ds holds write_pair's examples, at rows index[]. */
static int pair_matches(const valley_dataset_t *ds, unsigned classes) {
  for (size_t i = 0; i < ds->n; i++) {
    size_t r = ds->index[i];
    if (ds->y[i] != r % classes) return 0;
    for (size_t k = 0; k < ds->dim; k++)
      if (ds->x[i * ds->dim + k] != (float)((7 * r + 3 * k) % 256) / 255.0f) return 0;
  }
  return 1;
}

static void test_dataset_idx(check_t *t, const char *dir) {
  char ip[512], lp[512];
  valley_dataset_t ds;
  valley_error_t err;
  valley_status_t st;
  write_pair(dir, "p-images.gz", "p-labels.gz", 6, 2, 3, 3, 1);
  snprintf(ip, sizeof ip, "%s/p-images.gz", dir);
  snprintf(lp, sizeof lp, "%s/p-labels.gz", dir);
  st = valley_dataset_load_idx(ip, lp, 3, &ds, &err);
  check(t, st == VALLEY_OK, "IDX pair loads%s%s", st ? ": " : "", st ? err.message : "");
  if (st == VALLEY_OK) {
    int idx_ok = 1;
    for (size_t i = 0; i < ds.n; i++) idx_ok = idx_ok && ds.index[i] == i;
    check(t, ds.n == 6 && ds.dim == 6 && ds.rows == 2 && ds.cols == 3 && ds.n_classes == 3,
          "6 examples of 2 x 3, 3 classes (got %zu of %zu x %zu, %u)", ds.n, ds.rows, ds.cols,
          ds.n_classes);
    check(t, idx_ok && pair_matches(&ds, 3), "pixels are v/255 as floats, labels and rows kept");
    float lo = 1, hi = 0;
    for (size_t k = 0; k < ds.n * ds.dim; k++) {
      lo = ds.x[k] < lo ? ds.x[k] : lo;
      hi = ds.x[k] > hi ? ds.x[k] : hi;
    }
    check(t, lo >= 0 && hi <= 1, "pixels in [0, 1] (%g .. %g)", lo, hi);
    valley_dataset_free(&ds);
    check(t, ds.x == NULL && ds.n == 0, "valley_dataset_free empties the data set");
  }

  /* 2-D images: rows 1, cols dim */
  buf_t B = {0};
  unsigned char px[12] = {0, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, lb[4] = {0, 1, 0, 1};
  uint32_t d2[2] = {4, 3}, d1[1] = {4}, d1short[1] = {3};
  idx_bytes(&B, 0x08, 2, d2, px, 12);
  snprintf(ip, sizeof ip, "%s/flat-images.idx", dir);
  write_file(ip, B.b, B.n, 0);
  idx_bytes(&B, 0x08, 1, d1, lb, 4);
  snprintf(lp, sizeof lp, "%s/flat-labels.idx", dir);
  write_file(lp, B.b, B.n, 0);
  st = valley_dataset_load_idx(ip, lp, 2, &ds, &err);
  check(t,
        st == VALLEY_OK && ds.n == 4 && ds.rows == 1 && ds.cols == 3 && ds.x[0] == 0.0f &&
            ds.x[1] == 1.0f,
        "n x dim images load as 1 x dim; 0 -> 0 and 255 -> 1 exactly");
  if (st == VALLEY_OK) valley_dataset_free(&ds);

  /* faults: each names the file at fault (both, when they disagree) */
  st = valley_dataset_load_idx(ip, lp, 1, &ds, &err);
  expect_err(t, st, VALLEY_EINVAL, &err, lp, "label 1 of example 1 is outside 0..0",
             "a label outside 0..n_classes-1");
  check(t, ds.x == NULL && ds.n == 0, "a failed load leaves an empty data set");
  char lp3[512];
  idx_bytes(&B, 0x08, 1, d1short, lb, 3);
  snprintf(lp3, sizeof lp3, "%s/three-labels.idx", dir);
  write_file(lp3, B.b, B.n, 0);
  st = valley_dataset_load_idx(ip, lp3, 2, &ds, &err);
  expect_err(t, st, VALLEY_EINVAL, &err, ip, "4 images but 3 labels", "count mismatch");
  check(t, st != VALLEY_OK && strstr(err.message, lp3) != NULL,
        "count mismatch names the labels file too");
  st = valley_dataset_load_idx(lp, lp, 2, &ds, &err);
  expect_err(t, st, VALLEY_EINVAL, &err, lp, "images must be uint8 (IDX type 0x08) with 3",
             "1-D images");
  st = valley_dataset_load_idx(ip, ip, 2, &ds, &err);
  expect_err(t, st, VALLEY_EINVAL, &err, ip, "labels must be uint8 (IDX type 0x08) with 1",
             "2-D labels");
  char ip16[512];
  int16_t w[12] = {0};
  idx_bytes(&B, 0x0B, 2, d2, w, sizeof w);
  snprintf(ip16, sizeof ip16, "%s/int16-images.idx", dir);
  write_file(ip16, B.b, B.n, 0);
  st = valley_dataset_load_idx(ip16, lp, 2, &ds, &err);
  expect_err(t, st, VALLEY_EINVAL, &err, ip16, "holds 4 x 3 int16", "int16 images");
  char ip0[512];
  uint32_t d0[3] = {0, 28, 28};
  idx_bytes(&B, 0x08, 3, d0, NULL, 0);
  snprintf(ip0, sizeof ip0, "%s/no-images.idx", dir);
  write_file(ip0, B.b, B.n, 0);
  st = valley_dataset_load_idx(ip0, lp, 2, &ds, &err);
  expect_err(t, st, VALLEY_EINVAL, &err, ip0, "no image data (0 x 28 x 28 uint8)", "no images");
  char missing[512];
  snprintf(missing, sizeof missing, "%s/missing-labels.idx", dir);
  st = valley_dataset_load_idx(ip, missing, 2, &ds, &err);
  expect_err(t, st, VALLEY_EIO, &err, missing, "cannot open", "missing labels file");
  check(t,
        valley_dataset_load_idx(ip, lp, 0, &ds, &err) == VALLEY_EINVAL &&
            valley_dataset_load_idx(ip, lp, 257, &ds, &err) == VALLEY_EINVAL,
        "n_classes 0 and 257 are rejected: %s", err.message);
  free(B.b);
}

/* Fashion-MNIST's loader on a small stand-in directory (the files' names, 28 x 28). */
static void test_fashion_standin(check_t *t, const char *tmp) {
  char dir[512], dir27[512], empty[512], path[600];
  valley_dataset_t ds;
  valley_error_t err;
  valley_status_t st;
  snprintf(dir, sizeof dir, "%s/fm", tmp);
  snprintf(dir27, sizeof dir27, "%s/fm27", tmp);
  snprintf(empty, sizeof empty, "%s/fm-empty", tmp);
  mkdir(dir, 0700);
  mkdir(dir27, 0700);
  mkdir(empty, 0700);
  write_pair(dir, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 12, 28, 28, 10, 1);
  write_pair(dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 7, 28, 28, 10, 0);
  st = valley_dataset_load_fashion_mnist(dir, "train", &ds, &err);
  check(
      t,
      st == VALLEY_OK && ds.n == 12 && ds.dim == 784 && ds.n_classes == 10 && pair_matches(&ds, 10),
      "stand-in train split (gzip) loads%s%s", st ? ": " : "", st ? err.message : "");
  if (st == VALLEY_OK) valley_dataset_free(&ds);
  st = valley_dataset_load_fashion_mnist(dir, "test", &ds, &err);
  check(t, st == VALLEY_OK && ds.n == 7 && ds.rows == 28 && pair_matches(&ds, 10),
        "stand-in test split, files without .gz, loads%s%s", st ? ": " : "", st ? err.message : "");
  if (st == VALLEY_OK) valley_dataset_free(&ds);
  st = valley_dataset_load_fashion_mnist(dir, "valid", &ds, &err);
  check(t, st == VALLEY_EINVAL && strstr(err.message, "'valid'") != NULL,
        "split 'valid' is rejected: %s", err.message);
  check(t, valley_dataset_load_fashion_mnist(dir, NULL, &ds, &err) == VALLEY_EINVAL,
        "split NULL is rejected");

  st = valley_dataset_load_fashion_mnist(empty, "train", &ds, &err);
  snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", empty);
  expect_err(t, st, VALLEY_EIO, &err, path, "install the Debian package dataset-fashion-mnist",
             "empty directory");

  write_pair(dir27, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 3, 27, 28, 10, 1);
  snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir27);
  st = valley_dataset_load_fashion_mnist(dir27, "train", &ds, &err);
  expect_err(t, st, VALLEY_EINVAL, &err, path, "are 28 x 28, this file's are 27 x 28",
             "27 x 28 images");
  check(t, ds.x == NULL, "the rejected data set is freed and empty");
  write_pair(dir27, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 12, 28, 28, 11, 1);
  snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte.gz", dir27);
  st = valley_dataset_load_fashion_mnist(dir27, "test", &ds, &err);
  expect_err(t, st, VALLEY_EINVAL, &err, path, "label 10 of example 10 is outside 0..9",
             "label 10");
}

/* ---- 4. the shuffle, splits and subsets ---------------------------------------------------- */

static void test_permutation(check_t *t) {
  /* tests/data/shuffle_ref.py: PCG32 and the forward Fisher-Yates shuffle written afresh */
  static const size_t p10[10] = {3, 7, 9, 1, 5, 8, 6, 4, 0, 2};
  static const size_t p20_0[20] = {10, 13, 1, 6, 8, 16, 2, 19, 0,  7,
                                   15, 14, 9, 3, 4, 17, 5, 12, 11, 18};
  static const size_t p20_max[20] = {17, 12, 18, 5, 16, 3, 15, 19, 10, 7,
                                     8,  11, 9,  2, 14, 0, 1,  13, 6,  4};
  static const size_t p1000_5[5] = {49, 63, 204, 586, 34};
  size_t p[1000];
  valley_error_t err;
  valley_dataset_permutation(10, 10, 42, p, &err);
  check(t, memcmp(p, p10, sizeof p10) == 0, "n = 10, seed 42: the Python reference's shuffle");
  valley_dataset_permutation(10, 3, 42, p, &err);
  check(t, memcmp(p, p10, 3 * sizeof p[0]) == 0, "k = 3 steps give the full shuffle's first 3");
  valley_dataset_permutation(20, 20, 0, p, &err);
  check(t, memcmp(p, p20_0, sizeof p20_0) == 0, "n = 20, seed 0: the reference");
  valley_dataset_permutation(20, 20, UINT64_MAX, p, &err);
  check(t, memcmp(p, p20_max, sizeof p20_max) == 0, "n = 20, seed 2^64 - 1: the reference");
  valley_dataset_permutation(1000, 5, 7, p, &err);
  check(t, memcmp(p, p1000_5, sizeof p1000_5) == 0, "n = 1000, k = 5, seed 7: the reference");
  valley_dataset_permutation(1000, 1000, 7, p, &err);
  unsigned char seen[1000] = {0};
  int perm_ok = 1;
  for (size_t i = 0; i < 1000; i++) {
    perm_ok = perm_ok && p[i] < 1000 && !seen[p[i]];
    if (p[i] < 1000) seen[p[i]] = 1;
  }
  check(t, perm_ok && memcmp(p, p1000_5, sizeof p1000_5) == 0,
        "n = 1000: a permutation, whose first 5 are the k = 5 ones");
  check(t, valley_dataset_permutation(5, 6, 1, p, &err) == VALLEY_EINVAL, "k > n: %s", err.message);
  if (SIZE_MAX > UINT32_MAX)
    check(t, valley_dataset_permutation((size_t)UINT32_MAX + 1, 0, 1, p, &err) == VALLEY_EINVAL,
          "n = 2^32: %s", err.message);
  check(t, valley_dataset_permutation(0, 0, 1, NULL, &err) == VALLEY_OK, "n = 0 is fine");

  /* uniformity over seeds 0..5999 of the 6 orders of 3 things: chi-square with 5 degrees of
   * freedom below 20.5 (p = 0.001); and of where item 0 of 10 lands, seeds 0..9999: 9 degrees of
   * freedom below 27.9 (p = 0.001).  Deterministic: the seeds are fixed. */
  double counts[6] = {0}, pos[10] = {0};
  for (uint64_t s = 0; s < 6000; s++) {
    valley_dataset_permutation(3, 3, s, p, &err);
    counts[p[0] * 2 + (p[1] > p[2] ? 1 : 0)] += 1;
  }
  for (uint64_t s = 0; s < 10000; s++) {
    valley_dataset_permutation(10, 10, s, p, &err);
    for (int i = 0; i < 10; i++)
      if (p[i] == 0) pos[i] += 1;
  }
  double c3 = 0, c10 = 0;
  for (int k = 0; k < 6; k++) c3 += (counts[k] - 1000) * (counts[k] - 1000) / 1000;
  for (int k = 0; k < 10; k++) c10 += (pos[k] - 1000) * (pos[k] - 1000) / 1000;
  check(t, c3 < 20.5, "the 6 orders of 3 items are equally likely: chi2 = %.2f < 20.5 (5 dof)", c3);
  check(t, c10 < 27.9, "item 0 of 10 lands anywhere equally: chi2 = %.2f < 27.9 (9 dof)", c10);
}

static int same_dataset(const valley_dataset_t *a, const valley_dataset_t *b) {
  return a->n == b->n && a->dim == b->dim && a->rows == b->rows && a->cols == b->cols &&
         a->n_classes == b->n_classes &&
         (a->n == 0 || (memcmp(a->x, b->x, a->n * a->dim * sizeof(float)) == 0 &&
                        memcmp(a->y, b->y, a->n) == 0 &&
                        memcmp(a->index, b->index, a->n * sizeof(size_t)) == 0));
}

static void test_split(check_t *t, const char *dir) {
  char ip[512], lp[512];
  valley_dataset_t ds, tr, va, tr2, va2, sub;
  valley_error_t err;
  write_pair(dir, "s-images", "s-labels", 50, 2, 2, 10, 0);
  snprintf(ip, sizeof ip, "%s/s-images", dir);
  snprintf(lp, sizeof lp, "%s/s-labels", dir);
  if (valley_dataset_load_idx(ip, lp, 10, &ds, &err) != VALLEY_OK) {
    check(t, 0, "split fixture loads: %s", err.message);
    return;
  }
  valley_status_t st = valley_dataset_split(&ds, 12, 5, &tr, &va, &err);
  check(t,
        st == VALLEY_OK && tr.n == 38 && va.n == 12 && tr.dim == 4 && va.rows == 2 &&
            tr.n_classes == 10,
        "split 50 into 38 + 12");
  if (st != VALLEY_OK) {
    valley_dataset_free(&ds);
    return;
  }
  int seen[50] = {0}, asc = 1;
  for (size_t i = 0; i < tr.n; i++) {
    seen[tr.index[i]]++;
    asc = asc && (i == 0 || tr.index[i] > tr.index[i - 1]);
  }
  for (size_t i = 0; i < va.n; i++) {
    seen[va.index[i]]++;
    asc = asc && (i == 0 || va.index[i] > va.index[i - 1]);
  }
  int cover = 1;
  for (int i = 0; i < 50; i++) cover = cover && seen[i] == 1;
  check(t, cover, "the parts are disjoint and their union is the whole");
  check(t, asc, "each part keeps the source's order");
  check(t, pair_matches(&tr, 10) && pair_matches(&va, 10),
        "each example's pixels and label are its source row's");
  size_t p[50];
  valley_dataset_permutation(50, 12, 5, p, &err);
  int in_valid = 1;
  for (size_t i = 0; i < 12; i++) {
    int found = 0;
    for (size_t j = 0; j < va.n; j++) found |= va.index[j] == p[i];
    in_valid = in_valid && found;
  }
  check(t, in_valid, "valid holds the permutation's first 12 rows");

  valley_dataset_split(&ds, 12, 5, &tr2, &va2, &err);
  check(t, same_dataset(&tr, &tr2) && same_dataset(&va, &va2), "same seed, same split");
  valley_dataset_free(&tr2);
  valley_dataset_free(&va2);
  valley_dataset_split(&ds, 12, 6, &tr2, &va2, &err);
  check(t, !same_dataset(&va, &va2), "seed 6 gives another split than seed 5");
  valley_dataset_free(&tr2);
  valley_dataset_free(&va2);

  st = valley_dataset_subset(&ds, 12, 5, &sub, &err);
  check(t, st == VALLEY_OK && same_dataset(&sub, &va), "subset(12, seed 5) = split's valid part");
  valley_dataset_free(&sub);

  /* a split of a split: index still names the loaded file's rows */
  valley_dataset_split(&tr, 8, 9, &tr2, &va2, &err);
  check(t, tr2.n == 30 && va2.n == 8 && pair_matches(&tr2, 10) && pair_matches(&va2, 10),
        "a split of a split keeps the original rows in index");
  valley_dataset_free(&tr2);
  valley_dataset_free(&va2);

  st = valley_dataset_split(&ds, 0, 5, &tr2, &va2, &err);
  check(t, st == VALLEY_OK && va2.n == 0 && va2.x == NULL && same_dataset(&tr2, &ds),
        "n_valid = 0: valid empty, train the whole in order");
  valley_dataset_free(&tr2);
  valley_dataset_free(&va2);
  st = valley_dataset_split(&ds, 50, 5, &tr2, &va2, &err);
  check(t, st == VALLEY_OK && tr2.n == 0 && same_dataset(&va2, &ds), "n_valid = n: train empty");
  valley_dataset_free(&tr2);
  valley_dataset_free(&va2);
  st = valley_dataset_subset(&ds, 50, 1, &sub, &err);
  check(t, st == VALLEY_OK && same_dataset(&sub, &ds), "subset of all n is the whole, in order");
  valley_dataset_free(&sub);

  st = valley_dataset_split(&ds, 51, 5, &tr2, &va2, &err);
  check(t, st == VALLEY_EINVAL && tr2.x == NULL && va2.x == NULL, "n_valid = 51 > 50: %s",
        err.message);
  check(t, valley_dataset_subset(&ds, 51, 5, &sub, &err) == VALLEY_EINVAL, "subset 51 > 50: %s",
        err.message);
  check(t, valley_dataset_split(&ds, 5, 5, &ds, &va2, &err) == VALLEY_EINVAL && ds.n == 50,
        "splitting into the source is refused and leaves it intact");
  check(t, valley_dataset_split(&ds, 5, 5, &tr2, &tr2, &err) == VALLEY_EINVAL,
        "the two parts must differ");
  valley_dataset_free(&tr);
  valley_dataset_free(&va);
  valley_dataset_free(&ds);
}

/* ---- 5. CSV --------------------------------------------------------------------------------- */

static void test_csv(check_t *t, const char *dir) {
  char path[512], ip[512], lp[512];
  valley_dataset_t ds, ref;
  valley_error_t err;
  valley_status_t st;
  /* write_pair's 6 examples of 2 x 3, as IDX and as CSV with a header, blanks and CRLF */
  write_pair(dir, "c-images", "c-labels", 6, 2, 3, 3, 0);
  snprintf(ip, sizeof ip, "%s/c-images", dir);
  snprintf(lp, sizeof lp, "%s/c-labels", dir);
  valley_dataset_load_idx(ip, lp, 3, &ref, &err);
  buf_t B = {0};
  char line[256];
  put(&B, "label,pixel1,pixel2,pixel3,pixel4,pixel5,pixel6\r\n\n", 50);
  for (int i = 0; i < 6; i++) {
    int w = snprintf(line, sizeof line, "%d", i % 3);
    for (int k = 0; k < 6; k++)
      w += snprintf(line + w, sizeof line - (size_t)w, k == 2 ? ", %d " : ",%d",
                    (7 * i + 3 * k) % 256);
    w += snprintf(line + w, sizeof line - (size_t)w, i == 5 ? "" : "\r\n");
    put(&B, line, (size_t)w);
  }
  for (int gz = 0; gz < 2; gz++) {
    snprintf(path, sizeof path, "%s/data%s", dir, gz ? ".csv.gz" : ".csv");
    write_file(path, B.b, B.n, gz);
    st = valley_dataset_load_csv(path, 2, 3, 3, &ds, &err);
    check(t, st == VALLEY_OK && same_dataset(&ds, &ref),
          "%s CSV = the same data as IDX, bit for bit%s%s", gz ? "gzip" : "plain", st ? ": " : "",
          st ? err.message : "");
    if (st == VALLEY_OK) valley_dataset_free(&ds);
  }
  st = valley_dataset_load_csv(path, 0, 0, 3, &ds, &err);
  check(t, st == VALLEY_OK && ds.rows == 1 && ds.cols == 6 && ds.n == 6,
        "shape 0 x 0 takes the width: 1 x 6");
  if (st == VALLEY_OK) valley_dataset_free(&ds);
  st = valley_dataset_load_csv(path, 3, 3, 3, &ds, &err);
  expect_err(t, st, VALLEY_EINVAL, &err, path,
             ":3: 6 values after the label, but the image shape "
             "3 x 3 needs 9",
             "shape 3 x 3");
  check(t, valley_dataset_load_csv(path, 0, 6, 3, &ds, &err) == VALLEY_EINVAL,
        "shape 0 x 6 is rejected: %s", err.message);
  free(B.b);

  struct {
    const char *text, *needle;
  } bad[] = {
      {"1,0,255\n2,0,256\n", ":2: value 2 is above 255"},
      {"1,0,255\n10,0,1\n", ":2: the label is outside 0..9"},
      {"1,2,3\n1,2\n", ":2: 1 value after the label, but line 1 has 2"},
      {"label,a,b\n1,2,3\n1,2,3,4\n", ":3: more than the 2 values after the label that line 2"},
      {"1,2,3\n1,1.5,3\n", ":2: value 1 is not a decimal integer in 0..255"},
      {"1,2,3\n1,,3\n", ":2: value 1 is not a decimal integer"},
      {"1,2,3\n1,2,3,\n", ":2: more than the 2 values"},
      {"1,2,3\n-1,2,3\n", ":2: the label is not a decimal integer"},
      {"1,2,3\nlabel,a,b\n", ":2: the label is not a decimal integer"},
      {"1 2,3\n", ":1: the label is not a decimal integer"},
      {"3\n", ":1: no values after the label"},
      {"", ": no examples"},
      {"label,pixel1\n\n", ": no examples"},
  };
  for (size_t c = 0; c < sizeof bad / sizeof bad[0]; c++) {
    snprintf(path, sizeof path, "%s/bad%zu.csv", dir, c);
    write_file(path, bad[c].text, strlen(bad[c].text), 0);
    st = valley_dataset_load_csv(path, 0, 0, 10, &ds, &err);
    char what[64];
    snprintf(what, sizeof what, "bad CSV %zu", c);
    expect_err(t, st, VALLEY_EINVAL, &err, path, bad[c].needle, what);
    if (st == VALLEY_OK) valley_dataset_free(&ds);
  }
  snprintf(path, sizeof path, "%s/missing.csv", dir);
  st = valley_dataset_load_csv(path, 0, 0, 10, &ds, &err);
  expect_err(t, st, VALLEY_EIO, &err, path, "No such file", "missing CSV");

  /* a line longer than the reader's first buffer */
  buf_t L = {0};
  put(&L, "7", 1);
  for (int k = 0; k < 3000; k++) put(&L, ",255", 4);
  put(&L, "\n", 1);
  snprintf(path, sizeof path, "%s/long.csv", dir);
  write_file(path, L.b, L.n, 1);
  st = valley_dataset_load_csv(path, 0, 0, 10, &ds, &err);
  check(t, st == VALLEY_OK && ds.n == 1 && ds.dim == 3000 && ds.y[0] == 7 && ds.x[2999] == 1.0f,
        "a 12 kB line reads whole%s%s", st ? ": " : "", st ? err.message : "");
  if (st == VALLEY_OK) valley_dataset_free(&ds);
  free(L.b);
  valley_dataset_free(&ref);
}

/* ---- 6. Debian's Fashion-MNIST -------------------------------------------------------------- */

/* Known values, computed independently of valley (Python's gzip module on the Debian files,
 * dataset-fashion-mnist 0.0~git20200523.55506a9-1): the sum of all pixel bytes, the mean and
 * the standard deviation of the pixels / 255 (train 0.2860 and 0.3530: the figures widely used to
 * normalise Fashion-MNIST), and the first ten labels in file order.  The byte sum is exact; the
 * mean and deviation of valley's floats agree with the exact ones to 1e-7 relative (each float
 * is within 2^-24 relative of v/255). */
static void test_fashion_debian(check_t *t) {
  char probe[256];
  snprintf(probe, sizeof probe, "%s/train-images-idx3-ubyte.gz", VALLEY_FASHION_MNIST_DIR);
  if (access(probe, R_OK) != 0) {
    printf(
        "skip: %s is absent (install the Debian package dataset-fashion-mnist, as "
        "scripts/setup.sh does); Fashion-MNIST checks not run\n",
        probe);
    return;
  }
  static const struct {
    const char *split;
    size_t n;
    unsigned long long byte_sum;
    double mean, sd;
    uint8_t first[10];
  } want[2] = {
      {"train",
       60000,
       3431114169ULL,
       0.2860405969887955,
       0.3530242445149226,
       {9, 0, 0, 3, 0, 2, 7, 2, 5, 5}},
      {"test",
       10000,
       573469082ULL,
       0.28684928071228494,
       0.35244415324744,
       {9, 2, 1, 1, 6, 1, 4, 6, 5, 7}},
  };
  for (int s = 0; s < 2; s++) {
    valley_dataset_t ds;
    valley_error_t err;
    valley_status_t st = valley_dataset_load_fashion_mnist(NULL, want[s].split, &ds, &err);
    check(t, st == VALLEY_OK, "Fashion-MNIST %s loads from %s%s%s", want[s].split,
          VALLEY_FASHION_MNIST_DIR, st ? ": " : "", st ? err.message : "");
    if (st != VALLEY_OK) continue;
    check(t, ds.n == want[s].n && ds.rows == 28 && ds.cols == 28 && ds.dim == 784,
          "%s: %zu images of %zu x %zu (want %zu of 28 x 28)", want[s].split, ds.n, ds.rows,
          ds.cols, want[s].n);
    size_t hist[10] = {0};
    for (size_t i = 0; i < ds.n; i++) hist[ds.y[i]]++;
    int flat = 1;
    for (int c = 0; c < 10; c++) flat = flat && hist[c] == want[s].n / 10;
    check(t, flat, "%s: each class %zu times (class 0: %zu, class 9: %zu)", want[s].split,
          want[s].n / 10, hist[0], hist[9]);
    check(t, memcmp(ds.y, want[s].first, 10) == 0, "%s: the first ten labels", want[s].split);
    unsigned long long bytes = 0;
    double sum = 0, sum2 = 0;
    int exact = 1;
    for (size_t k = 0; k < ds.n * ds.dim; k++) {
      float x = ds.x[k];
      unsigned v = (unsigned)(x * 255.0f + 0.5f);
      exact = exact && (float)v / 255.0f == x;
      bytes += v;
      sum += x;
      sum2 += (double)x * x;
    }
    double cnt = (double)(ds.n * ds.dim), mean = sum / cnt;
    double sd = sqrt(sum2 / cnt - mean * mean);
    check(t, exact && bytes == want[s].byte_sum, "%s: every pixel is v/255; the bytes sum to %llu",
          want[s].split, bytes);
    check(t, close_rel(mean, want[s].mean, 1e-7), "%s: mean pixel %.10f (want %.10f)",
          want[s].split, mean, want[s].mean);
    check(t, close_rel(sd, want[s].sd, 1e-7), "%s: pixel sd %.10f (want %.10f)", want[s].split, sd,
          want[s].sd);
    if (s == 0) {
      valley_dataset_t a, b;
      int ok = valley_dataset_subset(&ds, 1000, 2019, &a, &err) == VALLEY_OK;
      ok = ok && valley_dataset_subset(&ds, 1000, 2019, &b, &err) == VALLEY_OK;
      check(t, ok && a.n == 1000 && same_dataset(&a, &b),
            "train: a 1000-example subset by seed "
            "is reproducible");
      valley_dataset_free(&a);
      valley_dataset_free(&b);
    }
    valley_dataset_free(&ds);
  }
}

int main(void) {
  check_t t = {0, 0};
  char dir[] = "/tmp/valley_idx_XXXXXX";
  if (mkdtemp(dir) == NULL) {
    perror("test_idx: mkdtemp");
    return 2;
  }
  test_idx_good(&t, dir);
  test_idx_types(&t, dir);
  test_idx_errors(&t, dir);
  test_dataset_idx(&t, dir);
  test_fashion_standin(&t, dir);
  test_permutation(&t);
  test_split(&t, dir);
  test_csv(&t, dir);
  test_fashion_debian(&t);
  rm_tree(dir);
  return check_done(&t);
}
