/* Data sets for network training: the IDX file format (LeCun et al., the MNIST distribution),
 * Fashion-MNIST (Xiao, Rasul, Vollgraf 2017) from Debian's dataset-fashion-mnist package, a
 * CSV format for other data, and train/validation splits and subsets by seed.
 *
 * Files are read through zlib, so each may be gzip-compressed or plain.  Every error names the
 * file and what is wrong with it.  docs/data.md describes the formats and the split algorithm. */
#ifndef VALLEY_IDX_H
#define VALLEY_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "valley/error.h"

/* ---- IDX files -------------------------------------------------------------------------------
 * Magic 00 00 TYPE NDIMS, then NDIMS big-endian uint32 sizes, then the product of the sizes
 * elements of TYPE, big-endian, row-major; nothing after them. */

#define VALLEY_IDX_MAX_DIMS 8

typedef enum {
  VALLEY_IDX_UINT8 = 0x08,
  VALLEY_IDX_INT8 = 0x09,
  VALLEY_IDX_INT16 = 0x0B,
  VALLEY_IDX_INT32 = 0x0C,
  VALLEY_IDX_FLOAT32 = 0x0D,
  VALLEY_IDX_FLOAT64 = 0x0E
} valley_idx_type_t;

typedef struct {
  valley_idx_type_t type;
  int ndims;                        /* 1..VALLEY_IDX_MAX_DIMS */
  size_t dims[VALLEY_IDX_MAX_DIMS]; /* dims[0] is the slowest index; unused ones are 0 */
  size_t count;                     /* dims[0] * ... * dims[ndims-1] elements */
  size_t elem_size;                 /* bytes per element: 1, 2, 4 or 8 */
  void *data; /* count elements in host byte order: uint8_t, int8_t, int16_t, int32_t, float or
                 double by type; never NULL after a successful read */
} valley_idx_t;

/* Bytes per element of an IDX type; 0 for a byte that is no IDX type. */
size_t valley_idx_type_size(int type);
/* "uint8", "int8", "int16", "int32", "float32", "float64"; "unknown" otherwise. */
const char *valley_idx_type_name(int type);

/* Reads a whole IDX file, gzip or plain.  Errors (out is then empty, free-able):
 *   EIO    the file cannot be opened or read, or its gzip stream is corrupt or cut short;
 *   EINVAL the file is no IDX file (magic), its type or number of dimensions is unsupported, its
 *          sizes overflow, or its length disagrees with its header (truncated or over-long). */
valley_status_t valley_idx_read(const char *path, valley_idx_t *out, valley_error_t *err);

/* Frees what valley_idx_read allocated and empties idx; safe on an empty or failed one. */
void valley_idx_free(valley_idx_t *idx);

/* ---- data sets ------------------------------------------------------------------------------ */

/* Where Debian's dataset-fashion-mnist package installs its four files. */
#define VALLEY_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* The PCG32 stream (the ASCII bytes "data") of the shuffles behind splits and subsets; the seed
 * is the PCG32 initstate. */
#define VALLEY_DATASET_PCG_STREAM UINT64_C(0x64617461)

/* n labelled examples of dim features each.  Owns x, y and index. */
typedef struct {
  size_t n;           /* examples */
  size_t dim;         /* features per example: rows * cols */
  size_t rows, cols;  /* image shape (28 x 28 for Fashion-MNIST; 1 x dim when not an image) */
  unsigned n_classes; /* labels are 0..n_classes-1 */
  float *x;           /* n * dim values in [0, 1], row-major: example i is x[i*dim .. i*dim+dim-1];
                         a byte v is stored as the float nearest to v / 255 */
  uint8_t *y;         /* n labels */
  size_t *index;      /* n: the row of the loaded file each example came from (0..n-1 after a
                         load; splits and subsets carry it through) */
} valley_dataset_t;

/* Frees a data set and empties it; safe on an empty or failed one. */
void valley_dataset_free(valley_dataset_t *ds);

/* Fashion-MNIST split "train" (60,000 examples) or "test" (10,000) from dir (NULL: the Debian
 * package's directory).  Reads <prefix>-images-idx3-ubyte.gz and <prefix>-labels-idx1-ubyte.gz
 * (prefix train or t10k), or the same names without .gz when the .gz file is absent.  Checks
 * 28 x 28 uint8 images, as many labels as images, labels 0..9. */
valley_status_t valley_dataset_load_fashion_mnist(const char *dir, const char *split,
                                                  valley_dataset_t *out, valley_error_t *err);

/* Any IDX pair: images of type uint8 with 3 dimensions (n, rows, cols) or 2 (n, dim), scaled by
 * 1/255; labels of type uint8 with 1 dimension (n), each below n_classes (1..256).  Errors name
 * the file (both files when their counts differ). */
valley_status_t valley_dataset_load_idx(const char *images_path, const char *labels_path,
                                        unsigned n_classes, valley_dataset_t *out,
                                        valley_error_t *err);

/* CSV, gzip or plain: one example per line, "label,v1,v2,...,vD", every field a decimal integer,
 * label 0..n_classes-1 and values 0..255 (scaled by 1/255 as in IDX).  An optional first line
 * whose first field starts with a letter, '_' or '"' is a header and is skipped (so the Kaggle
 * "label,pixel1,..." files read as they are).  Spaces and tabs around fields, a trailing '\r'
 * and empty lines are ignored.  D is that of the first example; every line must have it.
 * rows, cols: the image shape, with rows * cols == D checked; 0, 0 takes any D as 1 x D. */
valley_status_t valley_dataset_load_csv(const char *path, size_t rows, size_t cols,
                                        unsigned n_classes, valley_dataset_t *out,
                                        valley_error_t *err);

/* The seeded permutation behind splits and subsets, its first k entries (k <= n <= 2^32 - 1):
 * p = 0, 1, ..., n-1; PCG32 seeded (seed, VALLEY_DATASET_PCG_STREAM); for i = 0 .. k-1:
 * j = i + valley_pcg32_bounded(rng, n - i), swap p[i] and p[j].  perm has room for n entries
 * (all are written; the first k are those of the full shuffle, k = n - 1 or n gives all). */
valley_status_t valley_dataset_permutation(size_t n, size_t k, uint64_t seed, size_t *perm,
                                           valley_error_t *err);

/* valid: the examples at p[0..n_valid-1] of the seed's permutation of src's n examples; train:
 * the other n - n_valid.  Both keep src's order (ascending row), copy their examples, and may be
 * empty (0 <= n_valid <= n).  The same seed gives the same split on every machine. */
valley_status_t valley_dataset_split(const valley_dataset_t *src, size_t n_valid, uint64_t seed,
                                     valley_dataset_t *train, valley_dataset_t *valid,
                                     valley_error_t *err);

/* n examples of src (0 <= n <= src->n) chosen by the seed: the valid part of
 * valley_dataset_split(src, n, seed, ...). */
valley_status_t valley_dataset_subset(const valley_dataset_t *src, size_t n, uint64_t seed,
                                      valley_dataset_t *out, valley_error_t *err);

#endif
