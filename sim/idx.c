/* IDX files (the MNIST distribution's format), Fashion-MNIST (Xiao, Rasul, Vollgraf 2017) from
 * Debian's dataset-fashion-mnist, CSV data sets, and seeded splits and subsets.
 * Formats, checks and the shuffle are described in docs/data.md. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "valley/idx.h"
#include "valley/pcg.h"

_Static_assert(sizeof(float) == 4 && sizeof(double) == 8, "IDX floats need IEEE 754 sizes");

/* ---- IDX types ------------------------------------------------------------------------------ */

size_t valley_idx_type_size(int type) {
  switch (type) {
    case VALLEY_IDX_UINT8:
    case VALLEY_IDX_INT8:
      return 1;
    case VALLEY_IDX_INT16:
      return 2;
    case VALLEY_IDX_INT32:
    case VALLEY_IDX_FLOAT32:
      return 4;
    case VALLEY_IDX_FLOAT64:
      return 8;
    default:
      return 0;
  }
}

const char *valley_idx_type_name(int type) {
  switch (type) {
    case VALLEY_IDX_UINT8:
      return "uint8";
    case VALLEY_IDX_INT8:
      return "int8";
    case VALLEY_IDX_INT16:
      return "int16";
    case VALLEY_IDX_INT32:
      return "int32";
    case VALLEY_IDX_FLOAT32:
      return "float32";
    case VALLEY_IDX_FLOAT64:
      return "float64";
    default:
      return "unknown";
  }
}

/* ---- reading through zlib ------------------------------------------------------------------- */

/* The error zlib recorded on gz (gzip or plain), as a valley error naming path. */
static valley_status_t gz_fail(gzFile gz, const char *path, valley_error_t *err) {
  int errnum = Z_OK;
  const char *msg = gzerror(gz, &errnum);
  size_t plen = strlen(path); /* zlib's message starts "path: " */
  if (strncmp(msg, path, plen) == 0 && msg[plen] == ':' && msg[plen + 1] == ' ') msg += plen + 2;
  switch (errnum) {
    case Z_ERRNO:
      return VALLEY_ERROR(err, VALLEY_EIO, "%s: read error: %s", path, strerror(errno));
    case Z_MEM_ERROR:
      return VALLEY_ERROR(err, VALLEY_ENOMEM, "%s: out of memory in zlib", path);
    case Z_BUF_ERROR:
      return VALLEY_ERROR(err, VALLEY_EIO, "%s: truncated gzip stream (zlib: %s)", path, msg);
    case Z_DATA_ERROR:
      return VALLEY_ERROR(err, VALLEY_EIO, "%s: corrupt gzip data (zlib: %s)", path, msg);
    default:
      return VALLEY_ERROR(err, VALLEY_EIO, "%s: gzip error %d (zlib: %s)", path, errnum, msg);
  }
}

/* Reads up to len bytes into buf; *got < len only at the end of the (decompressed) data. */
static valley_status_t gz_read_some(gzFile gz, const char *path, unsigned char *buf, size_t len,
                                    size_t *got, valley_error_t *err) {
  *got = 0;
  while (*got < len) {
    size_t chunk = len - *got;
    if (chunk > (size_t)1 << 30) chunk = (size_t)1 << 30;
    int r = gzread(gz, buf + *got, (unsigned)chunk);
    if (r < 0) return gz_fail(gz, path, err);
    if (r == 0) break;
    *got += (size_t)r;
  }
  int errnum = Z_OK;
  (void)gzerror(gz, &errnum);
  if (errnum != Z_OK) return gz_fail(gz, path, err); /* a cut gzip stream still returns data */
  return VALLEY_OK;
}

static valley_status_t gz_open(const char *path, gzFile *gz, valley_error_t *err) {
  errno = 0;
  struct stat sb;
  if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
    *gz = NULL;
    return VALLEY_ERROR(err, VALLEY_EIO, "%s: cannot open: %s", path, strerror(EISDIR));
  }
  *gz = gzopen(path, "rb");
  if (*gz == NULL) {
    if (errno != 0)
      return VALLEY_ERROR(err, VALLEY_EIO, "%s: cannot open: %s", path, strerror(errno));
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "%s: cannot open: out of memory in zlib", path);
  }
  (void)gzbuffer(*gz, 1u << 17);
  return VALLEY_OK;
}

/* "60000 x 28 x 28 uint8" */
static void idx_shape(const valley_idx_t *m, char *s, size_t size) {
  size_t used = 0;
  s[0] = '\0';
  for (int d = 0; d < m->ndims && used < size; d++) {
    int w = snprintf(s + used, size - used, "%s%zu", d ? " x " : "", m->dims[d]);
    if (w < 0) return;
    used += (size_t)w;
  }
  if (used < size) snprintf(s + used, size - used, " %s", valley_idx_type_name((int)m->type));
}

static uint64_t be_load(const unsigned char *b, size_t size) {
  uint64_t v = 0;
  for (size_t k = 0; k < size; k++) v = (v << 8) | b[k];
  return v;
}

/* Big-endian elements to host order, in place (each element is rewritten where it lies). */
static void idx_to_host(valley_idx_t *m) {
  unsigned char *b = m->data;
  size_t s = m->elem_size;
  if (s == 1) return;
  for (size_t i = 0; i < m->count; i++) {
    uint64_t v = be_load(b + i * s, s);
    if (s == 2) {
      uint16_t u = (uint16_t)v;
      memcpy(b + i * s, &u, 2);
    } else if (s == 4) {
      uint32_t u = (uint32_t)v;
      memcpy(b + i * s, &u, 4);
    } else if (s == 8) {
      memcpy(b + i * s, &v, 8);
    }
  }
}

void valley_idx_free(valley_idx_t *idx) {
  if (idx == NULL) return;
  free(idx->data);
  memset(idx, 0, sizeof *idx);
}

/* The header: magic and sizes; fills out's type, ndims, dims, count and elem_size. */
static valley_status_t idx_header(gzFile gz, const char *path, valley_idx_t *out,
                                  valley_error_t *err) {
  unsigned char h[4 * VALLEY_IDX_MAX_DIMS];
  size_t got;
  valley_status_t st = gz_read_some(gz, path, h, 4, &got, err);
  if (st != VALLEY_OK) return st;
  if (got < 4)
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "%s: truncated: %zu bytes, shorter than the 4-byte IDX magic number", path,
                        got);
  if (h[0] != 0 || h[1] != 0)
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "%s: not an IDX file: wrong magic number %02x %02x %02x %02x (an IDX file "
                        "starts 00 00 <type> <number of dimensions>)",
                        path, h[0], h[1], h[2], h[3]);
  if (valley_idx_type_size(h[2]) == 0)
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "%s: unsupported IDX element type 0x%02x (supported: 0x08 uint8, 0x09 "
                        "int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64)",
                        path, h[2]);
  if (h[3] < 1 || h[3] > VALLEY_IDX_MAX_DIMS)
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "%s: unsupported number of dimensions %d in the IDX magic number "
                        "(supported: 1 to %d)",
                        path, h[3], VALLEY_IDX_MAX_DIMS);
  out->type = (valley_idx_type_t)h[2];
  out->ndims = h[3];
  out->elem_size = valley_idx_type_size(h[2]);
  size_t hb = 4 * (size_t)out->ndims;
  st = gz_read_some(gz, path, h, hb, &got, err);
  if (st != VALLEY_OK) return st;
  if (got < hb)
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "%s: truncated: the header of %d dimensions needs %zu bytes of sizes, the "
                        "file has %zu",
                        path, out->ndims, hb, got);
  size_t count = 1;
  int overflow = 0;
  for (int d = 0; d < out->ndims; d++) {
    out->dims[d] = (size_t)be_load(h + 4 * d, 4);
    if (out->dims[d] != 0 && count > SIZE_MAX / out->elem_size / out->dims[d]) overflow = 1;
    count *= out->dims[d];
  }
  if (overflow) {
    char shape[160];
    idx_shape(out, shape, sizeof shape);
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%s: the header's sizes (%s) overflow memory sizes",
                        path, shape);
  }
  out->count = count;
  return VALLEY_OK;
}

/* The data: exactly count * elem_size bytes, then the end of the file.  The buffer grows as data
 * arrives, so a header claiming more than the file holds costs no more than the file. */
static valley_status_t idx_data(gzFile gz, const char *path, valley_idx_t *out,
                                valley_error_t *err) {
  size_t bytes = out->count * out->elem_size;
  size_t cap = bytes < ((size_t)1 << 20) ? bytes : ((size_t)1 << 20);
  unsigned char *buf = malloc(cap > 0 ? cap : 1);
  if (buf == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "%s: out of memory", path);
  size_t have = 0;
  for (;;) {
    size_t got;
    valley_status_t st = gz_read_some(gz, path, buf + have, cap - have, &got, err);
    if (st != VALLEY_OK) {
      free(buf);
      return st;
    }
    have += got;
    if (have < cap || cap == bytes) break;
    size_t ncap = cap <= bytes / 2 ? 2 * cap : bytes;
    unsigned char *nb = realloc(buf, ncap);
    if (nb == NULL) {
      free(buf);
      return VALLEY_ERROR(err, VALLEY_ENOMEM, "%s: out of memory for %zu bytes", path, ncap);
    }
    buf = nb;
    cap = ncap;
  }
  out->data = buf;
  char shape[160];
  const char *what = gzdirect(gz) ? "file" : "decompressed file";
  if (have < bytes) {
    idx_shape(out, shape, sizeof shape);
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "%s: truncated: the header declares %s (%zu bytes of data), the %s holds "
                        "%zu",
                        path, shape, bytes, what, have);
  }
  unsigned char probe[4096];
  size_t extra = 0, got;
  do {
    valley_status_t st = gz_read_some(gz, path, probe, sizeof probe, &got, err);
    if (st != VALLEY_OK) return st;
    extra += got;
  } while (got == sizeof probe);
  if (extra > 0) {
    idx_shape(out, shape, sizeof shape);
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "%s: over-long: %zu extra bytes in the %s after the %zu bytes of data its "
                        "header declares (%s)",
                        path, extra, what, bytes, shape);
  }
  return VALLEY_OK;
}

valley_status_t valley_idx_read(const char *path, valley_idx_t *out, valley_error_t *err) {
  if (out == NULL) return VALLEY_ERROR(err, VALLEY_EINVAL, "no IDX record to read into");
  memset(out, 0, sizeof *out);
  if (path == NULL) return VALLEY_ERROR(err, VALLEY_EINVAL, "no IDX file named");
  gzFile gz;
  valley_status_t st = gz_open(path, &gz, err);
  if (st != VALLEY_OK) return st;
  st = idx_header(gz, path, out, err);
  if (st == VALLEY_OK) st = idx_data(gz, path, out, err);
  (void)gzclose(gz);
  if (st != VALLEY_OK) {
    valley_idx_free(out);
    return st;
  }
  idx_to_host(out);
  return VALLEY_OK;
}

/* ---- data sets ------------------------------------------------------------------------------ */

void valley_dataset_free(valley_dataset_t *ds) {
  if (ds == NULL) return;
  free(ds->x);
  free(ds->y);
  free(ds->index);
  memset(ds, 0, sizeof *ds);
}

/* Room for n examples of dim values (nothing allocated when n is 0). */
static valley_status_t dataset_alloc(valley_dataset_t *d, size_t n, size_t dim,
                                     valley_error_t *err) {
  d->n = n;
  d->dim = dim;
  if (n == 0) return VALLEY_OK;
  if (dim > SIZE_MAX / sizeof(float) / n || n > SIZE_MAX / sizeof(size_t))
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "%zu x %zu values overflow memory sizes", n, dim);
  d->x = malloc(n * dim * sizeof(float));
  d->y = malloc(n);
  d->index = malloc(n * sizeof(size_t));
  if (d->x == NULL || d->y == NULL || d->index == NULL) {
    valley_dataset_free(d);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory for %zu examples of %zu values", n, dim);
  }
  return VALLEY_OK;
}

/* v / 255 rounded to the nearest float, for every byte v. */
static void byte_scale(float lut[256]) {
  for (int v = 0; v < 256; v++) lut[v] = (float)v / 255.0f;
}

valley_status_t valley_dataset_load_idx(const char *images_path, const char *labels_path,
                                        unsigned n_classes, valley_dataset_t *out,
                                        valley_error_t *err) {
  if (out == NULL) return VALLEY_ERROR(err, VALLEY_EINVAL, "no data set to load into");
  memset(out, 0, sizeof *out);
  if (images_path == NULL || labels_path == NULL)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "the images and the labels file must both be named");
  if (n_classes < 1 || n_classes > 256)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "n_classes = %u is outside 1..256 (uint8 labels)",
                        n_classes);
  valley_idx_t im, lb;
  valley_status_t st = valley_idx_read(images_path, &im, err);
  if (st != VALLEY_OK) return st;
  st = valley_idx_read(labels_path, &lb, err);
  if (st != VALLEY_OK) {
    valley_idx_free(&im);
    return st;
  }
  char shape[160];
  idx_shape(&im, shape, sizeof shape);
  if (im.type != VALLEY_IDX_UINT8 || (im.ndims != 2 && im.ndims != 3)) {
    st = VALLEY_ERROR(err, VALLEY_EINVAL,
                      "%s: images must be uint8 (IDX type 0x08) with 3 dimensions (n x rows x "
                      "cols) or 2 (n x dim); this file holds %s",
                      images_path, shape);
  } else if (im.dims[0] == 0 || im.count == 0) {
    st = VALLEY_ERROR(err, VALLEY_EINVAL, "%s: no image data (%s)", images_path, shape);
  } else if (lb.type != VALLEY_IDX_UINT8 || lb.ndims != 1) {
    idx_shape(&lb, shape, sizeof shape);
    st = VALLEY_ERROR(err, VALLEY_EINVAL,
                      "%s: labels must be uint8 (IDX type 0x08) with 1 dimension; this file "
                      "holds %s",
                      labels_path, shape);
  } else if (lb.dims[0] != im.dims[0]) {
    st = VALLEY_ERROR(err, VALLEY_EINVAL, "%s and %s: %zu images but %zu labels", images_path,
                      labels_path, im.dims[0], lb.dims[0]);
  } else {
    const uint8_t *y = lb.data;
    for (size_t i = 0; i < lb.count; i++)
      if (y[i] >= n_classes) {
        st = VALLEY_ERROR(err, VALLEY_EINVAL, "%s: label %u of example %zu is outside 0..%u",
                          labels_path, y[i], i, n_classes - 1);
        break;
      }
  }
  if (st == VALLEY_OK) {
    size_t n = im.dims[0], dim = im.count / n;
    st = dataset_alloc(out, n, dim, err);
    if (st == VALLEY_OK) {
      out->rows = im.ndims == 3 ? im.dims[1] : 1;
      out->cols = im.ndims == 3 ? im.dims[2] : im.dims[1];
      out->n_classes = n_classes;
      float lut[256];
      byte_scale(lut);
      const uint8_t *px = im.data;
      for (size_t k = 0; k < n * dim; k++) out->x[k] = lut[px[k]];
      memcpy(out->y, lb.data, n);
      for (size_t i = 0; i < n; i++) out->index[i] = i;
    }
  }
  valley_idx_free(&im);
  valley_idx_free(&lb);
  return st;
}

/* dir/name, or dir/name without its ".gz" when only that exists; NULL when out of memory. */
static char *pick_path(const char *dir, const char *name) {
  size_t len = strlen(dir) + strlen(name) + 2;
  char *p = malloc(len);
  if (p == NULL) return NULL;
  snprintf(p, len, "%s/%s", dir, name);
  if (access(p, F_OK) != 0) {
    p[len - 4] = '\0'; /* drop ".gz" */
    if (access(p, F_OK) != 0) p[len - 4] = '.';
  }
  return p;
}

valley_status_t valley_dataset_load_fashion_mnist(const char *dir, const char *split,
                                                  valley_dataset_t *out, valley_error_t *err) {
  if (out == NULL) return VALLEY_ERROR(err, VALLEY_EINVAL, "no data set to load into");
  memset(out, 0, sizeof *out);
  const char *prefix;
  if (split != NULL && strcmp(split, "train") == 0)
    prefix = "train";
  else if (split != NULL && strcmp(split, "test") == 0)
    prefix = "t10k";
  else
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "Fashion-MNIST split '%s' is unknown (it is \"train\" or \"test\")",
                        split != NULL ? split : "(null)");
  if (dir == NULL) dir = VALLEY_FASHION_MNIST_DIR;
  char iname[64], lname[64];
  snprintf(iname, sizeof iname, "%s-images-idx3-ubyte.gz", prefix);
  snprintf(lname, sizeof lname, "%s-labels-idx1-ubyte.gz", prefix);
  char *ipath = pick_path(dir, iname), *lpath = pick_path(dir, lname);
  valley_status_t st = VALLEY_OK;
  if (ipath == NULL || lpath == NULL) {
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory");
  } else {
    const char *missing = access(ipath, F_OK) != 0   ? ipath
                          : access(lpath, F_OK) != 0 ? lpath
                                                     : NULL;
    if (missing != NULL)
      st = VALLEY_ERROR(err, VALLEY_EIO,
                        "%s: no such file, with or without .gz (install the Debian package "
                        "dataset-fashion-mnist, as scripts/setup.sh does, or name the directory "
                        "that holds Fashion-MNIST's IDX files)",
                        missing);
  }
  if (st == VALLEY_OK) st = valley_dataset_load_idx(ipath, lpath, 10, out, err);
  if (st == VALLEY_OK && (out->rows != 28 || out->cols != 28)) {
    st = VALLEY_ERROR(err, VALLEY_EINVAL,
                      "%s: Fashion-MNIST images are 28 x 28, this file's are %zu x %zu", ipath,
                      out->rows, out->cols);
    valley_dataset_free(out);
  }
  free(ipath);
  free(lpath);
  return st;
}

/* ---- CSV ------------------------------------------------------------------------------------ */

/* One line without its '\n' into *buf (grown as needed): 1, or 0 at the end, or an error. */
static valley_status_t csv_line(gzFile gz, const char *path, char **buf, size_t *cap, int *more,
                                valley_error_t *err) {
  size_t len = 0;
  *more = 0;
  for (;;) {
    if (*cap - len < 2) {
      size_t ncap = *cap * 2;
      char *nb = realloc(*buf, ncap);
      if (nb == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "%s: out of memory", path);
      *buf = nb;
      *cap = ncap;
    }
    if (gzgets(gz, *buf + len, (int)(*cap - len)) == NULL) {
      int errnum = Z_OK;
      (void)gzerror(gz, &errnum);
      if (errnum != Z_OK) return gz_fail(gz, path, err);
      (*buf)[len] = '\0';
      *more = len > 0;
      return VALLEY_OK;
    }
    len += strlen(*buf + len);
    if (len > 0 && (*buf)[len - 1] == '\n') {
      (*buf)[--len] = '\0';
      *more = 1;
      return VALLEY_OK;
    }
  }
}

/* A decimal integer field: blanks, digits, blanks.  0 when fine, 1 when no number, 2 above max. */
static int csv_uint(const char **p, unsigned max, unsigned *v) {
  const char *s = *p;
  while (*s == ' ' || *s == '\t') s++;
  if (*s < '0' || *s > '9') return 1;
  unsigned long acc = 0;
  while (*s >= '0' && *s <= '9') {
    if (acc <= max) acc = acc * 10 + (unsigned long)(*s - '0');
    s++;
  }
  while (*s == ' ' || *s == '\t') s++;
  *p = s;
  if (acc > max) return 2;
  *v = (unsigned)acc;
  return 0;
}

typedef struct {
  float *x;
  uint8_t *y;
  size_t n, cap, dim;
} csv_rows_t;

/* Parses one data line into the next row; fields are label, then dim (or, on the first line,
 * any number of) values. */
static valley_status_t csv_parse(csv_rows_t *r, const char *line, const char *path, size_t lineno,
                                 size_t first_line, unsigned n_classes, const float lut[256],
                                 valley_error_t *err) {
  if (r->n == 0) { /* the first example fixes dim */
    size_t commas = 0;
    for (const char *c = line; *c; c++) commas += *c == ',';
    if (commas == 0)
      return VALLEY_ERROR(err, VALLEY_EINVAL, "%s:%zu: no values after the label", path, lineno);
    r->dim = commas;
  }
  if (r->n == r->cap) {
    size_t ncap = r->cap ? 2 * r->cap : 256;
    if (ncap > SIZE_MAX / sizeof(float) / r->dim)
      return VALLEY_ERROR(err, VALLEY_ENOMEM, "%s:%zu: too many examples", path, lineno);
    float *nx = realloc(r->x, ncap * r->dim * sizeof(float));
    if (nx != NULL) r->x = nx;
    uint8_t *ny = nx != NULL ? realloc(r->y, ncap) : NULL;
    if (ny != NULL) r->y = ny;
    if (nx == NULL || ny == NULL)
      return VALLEY_ERROR(err, VALLEY_ENOMEM, "%s:%zu: out of memory", path, lineno);
    r->cap = ncap;
  }
  const char *p = line;
  unsigned v;
  int bad = csv_uint(&p, n_classes - 1, &v);
  if (bad == 1 || (*p != ',' && *p != '\0'))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%s:%zu: the label is not a decimal integer", path,
                        lineno);
  if (bad == 2)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%s:%zu: the label is outside 0..%u", path, lineno,
                        n_classes - 1);
  r->y[r->n] = (uint8_t)v;
  float *x = r->x + r->n * r->dim;
  size_t k = 0;
  while (*p == ',') {
    p++;
    if (k == r->dim)
      return VALLEY_ERROR(err, VALLEY_EINVAL,
                          "%s:%zu: more than the %zu values after the label that line %zu has",
                          path, lineno, r->dim, first_line);
    bad = csv_uint(&p, 255, &v);
    if (bad == 1 || (*p != ',' && *p != '\0'))
      return VALLEY_ERROR(err, VALLEY_EINVAL,
                          "%s:%zu: value %zu is not a decimal integer in 0..255", path, lineno,
                          k + 1);
    if (bad == 2)
      return VALLEY_ERROR(err, VALLEY_EINVAL, "%s:%zu: value %zu is above 255", path, lineno,
                          k + 1);
    x[k++] = lut[v];
  }
  if (k != r->dim)
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "%s:%zu: %zu value%s after the label, but line %zu has %zu", path, lineno,
                        k, k == 1 ? "" : "s", first_line, r->dim);
  r->n++;
  return VALLEY_OK;
}

valley_status_t valley_dataset_load_csv(const char *path, size_t rows, size_t cols,
                                        unsigned n_classes, valley_dataset_t *out,
                                        valley_error_t *err) {
  if (out == NULL) return VALLEY_ERROR(err, VALLEY_EINVAL, "no data set to load into");
  memset(out, 0, sizeof *out);
  if (path == NULL) return VALLEY_ERROR(err, VALLEY_EINVAL, "no CSV file named");
  if (n_classes < 1 || n_classes > 256)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "n_classes = %u is outside 1..256 (uint8 labels)",
                        n_classes);
  if ((rows == 0) != (cols == 0))
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "image shape %zu x %zu: give both sizes, or 0 x 0 for any width", rows,
                        cols);
  gzFile gz;
  valley_status_t st = gz_open(path, &gz, err);
  if (st != VALLEY_OK) return st;
  float lut[256];
  byte_scale(lut);
  size_t cap = 4096, lineno = 0, first_line = 0;
  char *buf = malloc(cap);
  csv_rows_t r = {NULL, NULL, 0, 0, 0};
  if (buf == NULL) st = VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory");
  int more = 1;
  while (st == VALLEY_OK) {
    st = csv_line(gz, path, &buf, &cap, &more, err);
    if (st != VALLEY_OK || !more) break;
    lineno++;
    size_t len = strlen(buf);
    if (len > 0 && buf[len - 1] == '\r') buf[--len] = '\0';
    const char *s = buf;
    while (*s == ' ' || *s == '\t') s++;
    if (*s == '\0') continue;
    if (first_line == 0 && r.n == 0 &&
        ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '"' || *s == '_')) {
      first_line = SIZE_MAX; /* a header: only the first line may be one */
      continue;
    }
    if (r.n == 0) first_line = lineno;
    st = csv_parse(&r, buf, path, lineno, first_line, n_classes, lut, err);
    if (st == VALLEY_OK && r.n == 1 && rows != 0 && rows * cols != r.dim)
      st = VALLEY_ERROR(err, VALLEY_EINVAL,
                        "%s:%zu: %zu values after the label, but the image shape %zu x %zu needs "
                        "%zu",
                        path, lineno, r.dim, rows, cols, rows * cols);
  }
  (void)gzclose(gz);
  free(buf);
  if (st == VALLEY_OK && r.n == 0) st = VALLEY_ERROR(err, VALLEY_EINVAL, "%s: no examples", path);
  if (st == VALLEY_OK) st = dataset_alloc(out, r.n, r.dim, err);
  if (st == VALLEY_OK) {
    memcpy(out->x, r.x, r.n * r.dim * sizeof(float));
    memcpy(out->y, r.y, r.n);
    for (size_t i = 0; i < r.n; i++) out->index[i] = i;
    out->rows = rows != 0 ? rows : 1;
    out->cols = rows != 0 ? cols : r.dim;
    out->n_classes = n_classes;
  }
  free(r.x);
  free(r.y);
  return st;
}

/* ---- splits and subsets --------------------------------------------------------------------- */

valley_status_t valley_dataset_permutation(size_t n, size_t k, uint64_t seed, size_t *perm,
                                           valley_error_t *err) {
  if (n > UINT32_MAX)
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "n = %zu examples: the shuffle draws 32-bit indices (n <= 4294967295)", n);
  if (k > n) return VALLEY_ERROR(err, VALLEY_EINVAL, "k = %zu shuffle steps exceed n = %zu", k, n);
  if (perm == NULL && n > 0) return VALLEY_ERROR(err, VALLEY_EINVAL, "no permutation array");
  for (size_t i = 0; i < n; i++) perm[i] = i;
  valley_pcg32_t rng;
  valley_pcg32_seed(&rng, seed, VALLEY_DATASET_PCG_STREAM);
  for (size_t i = 0; i < k; i++) {
    size_t j = i + valley_pcg32_bounded(&rng, (uint32_t)(n - i));
    size_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  return VALLEY_OK;
}

static void copy_meta(valley_dataset_t *d, const valley_dataset_t *src) {
  d->rows = src->rows;
  d->cols = src->cols;
  d->n_classes = src->n_classes;
}

/* valid gets the examples at perm[0..n_valid-1], train (when not NULL) the others; src order. */
static valley_status_t select_split(const valley_dataset_t *src, size_t n_valid, uint64_t seed,
                                    valley_dataset_t *train, valley_dataset_t *valid,
                                    valley_error_t *err) {
  if (valid == NULL) return VALLEY_ERROR(err, VALLEY_EINVAL, "no data set to split into");
  if (src == valid || src == train || train == valid)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "a split's source and parts must be distinct");
  memset(valid, 0, sizeof *valid);
  if (train != NULL) memset(train, 0, sizeof *train);
  if (src == NULL) return VALLEY_ERROR(err, VALLEY_EINVAL, "no data set to split");
  size_t n = src->n, dim = src->dim;
  if (n > 0 && (src->x == NULL || src->y == NULL || src->index == NULL))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "the data set to split has no data");
  if (n_valid > n)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "cannot take %zu examples out of %zu", n_valid, n);
  size_t *perm = malloc((n > 0 ? n : 1) * sizeof *perm);
  unsigned char *mark = calloc(n > 0 ? n : 1, 1);
  valley_status_t st = VALLEY_OK;
  if (perm == NULL || mark == NULL) st = VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory");
  if (st == VALLEY_OK) st = valley_dataset_permutation(n, n_valid, seed, perm, err);
  if (st == VALLEY_OK) st = dataset_alloc(valid, n_valid, dim, err);
  if (st == VALLEY_OK && train != NULL) st = dataset_alloc(train, n - n_valid, dim, err);
  if (st == VALLEY_OK) {
    copy_meta(valid, src);
    if (train != NULL) copy_meta(train, src);
    for (size_t i = 0; i < n_valid; i++) mark[perm[i]] = 1;
    size_t iv = 0, it = 0;
    for (size_t i = 0; i < n; i++) {
      valley_dataset_t *d = mark[i] ? valid : train;
      if (d == NULL) continue;
      size_t *at = mark[i] ? &iv : &it;
      memcpy(d->x + *at * dim, src->x + i * dim, dim * sizeof(float));
      d->y[*at] = src->y[i];
      d->index[*at] = src->index[i];
      (*at)++;
    }
  } else {
    valley_dataset_free(valid);
    if (train != NULL) valley_dataset_free(train);
  }
  free(perm);
  free(mark);
  return st;
}

valley_status_t valley_dataset_split(const valley_dataset_t *src, size_t n_valid, uint64_t seed,
                                     valley_dataset_t *train, valley_dataset_t *valid,
                                     valley_error_t *err) {
  if (train == NULL) return VALLEY_ERROR(err, VALLEY_EINVAL, "no data set to split into");
  return select_split(src, n_valid, seed, train, valid, err);
}

valley_status_t valley_dataset_subset(const valley_dataset_t *src, size_t n, uint64_t seed,
                                      valley_dataset_t *out, valley_error_t *err) {
  return select_split(src, n, seed, NULL, out, err);
}
