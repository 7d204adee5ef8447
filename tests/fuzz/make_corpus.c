/* Writes the fuzz harnesses' seed corpora (tests/fuzz/corpus/<name>/, docs/reliability.md):
 * small valid and near-valid files, the binary ones written by valley itself (checkpoints,
 * .safetensors, a sweep resume file).  Deterministic: re-running it leaves the corpora
 * byte-identical.  Run by tests/fuzz/make_corpus.sh (build the target replay_make_corpus first):
 *   make_corpus OUTDIR   (writes OUTDIR/<name>/<file>) */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "fuzz_net.h"
#include "fuzz_sweep.h"
#include "valley/runck.h"
#include "valley/checkpoint.h"
#include "valley/idx.h"
#include "valley/pcg.h"

static void die(const char *what) {
  fprintf(stderr, "make_corpus: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void path_of(const char *out, char *buf, size_t n, const char *name, const char *file) {
  snprintf(buf, n, "%s/%s", out, name);
  if (mkdir(buf, 0755) != 0 && errno != EEXIST) die(buf);
  snprintf(buf, n, "%s/%s/%s", out, name, file);
}

/* Writes prefix (plen bytes, may be 0) then data to OUT/name/file. */
static void put(const char *out, const char *name, const char *file, const void *prefix, size_t plen,
                const void *data, size_t n) {
  char p[4096];
  path_of(out, p, sizeof p, name, file);
  FILE *f = fopen(p, "wb");
  if (f == NULL) die(p);
  if ((plen && fwrite(prefix, 1, plen, f) != plen) || (n && fwrite(data, 1, n, f) != n)) die(p);
  if (fclose(f) != 0) die(p);
}

static void put_text(const char *out, const char *name, const char *file, const char *text) {
  put(out, name, file, NULL, 0, text, strlen(text));
}

static unsigned char *slurp(const char *p, size_t *n) {
  FILE *f = fopen(p, "rb");
  if (f == NULL) die(p);
  size_t cap = 1 << 16;
  unsigned char *b = malloc(cap);
  *n = 0;
  size_t got;
  while ((got = fread(b + *n, 1, cap - *n, f)) > 0) {
    *n += got;
    if (*n == cap) b = realloc(b, cap *= 2);
  }
  fclose(f);
  return b;
}

/* gzip of data (zlib's gzip wrapper, no name, mtime 0: the same bytes every run) */
static unsigned char *gzip_of(const unsigned char *data, size_t n, size_t *out_n) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) exit(1);
  size_t cap = deflateBound(&z, (uLong)n) + 64;
  unsigned char *out = malloc(cap);
  z.next_in = (unsigned char *)data;
  z.avail_in = (uInt)n;
  z.next_out = out;
  z.avail_out = (uInt)cap;
  if (deflate(&z, Z_FINISH) != Z_STREAM_END) exit(1);
  *out_n = z.total_out;
  deflateEnd(&z);
  return out;
}

static size_t idx_bytes(unsigned char *b, int type, int ndims, const uint32_t *dims,
                        size_t count, size_t esize) {
  size_t k = 0;
  b[k++] = 0;
  b[k++] = 0;
  b[k++] = (unsigned char)type;
  b[k++] = (unsigned char)ndims;
  for (int d = 0; d < ndims; d++)
    for (int s = 3; s >= 0; s--) b[k++] = (unsigned char)(dims[d] >> (8 * s));
  for (size_t i = 0; i < count * esize; i++) b[k++] = (unsigned char)((i * 37 + 11) % 10);
  return k;
}

static void idx_corpus(const char *out) {
  unsigned char b[1024];
  uint32_t img[3] = {3, 2, 2}, lab[1] = {6}, mat[2] = {2, 3}, f1[1] = {4};
  size_t n = idx_bytes(b, 0x08, 3, img, 12, 1);
  put(out, "idx", "images_u8_3x2x2", NULL, 0, b, n);
  size_t gn;
  unsigned char *gz = gzip_of(b, n, &gn);
  put(out, "idx", "images_u8_3x2x2.gz", NULL, 0, gz, gn);
  put(out, "idx", "truncated_gzip", NULL, 0, gz, gn - 5);
  free(gz);
  put(out, "idx", "truncated_data", NULL, 0, b, n - 3);
  n = idx_bytes(b, 0x08, 1, lab, 6, 1);
  put(out, "idx", "labels_u8_6", NULL, 0, b, n);
  n = idx_bytes(b, 0x0B, 2, mat, 6, 2);
  put(out, "idx", "int16_2x3", NULL, 0, b, n);
  n = idx_bytes(b, 0x0D, 1, f1, 4, 4);
  put(out, "idx", "float32_4", NULL, 0, b, n);
  n = idx_bytes(b, 0x0E, 1, f1, 4, 8);
  put(out, "idx", "float64_4_trailing", NULL, 0, b, n + 2);
  n = idx_bytes(b, 0x0C, 2, mat, 6, 4);
  put(out, "idx", "int32_2x3", NULL, 0, b, n);
  static const unsigned char huge[] = {0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3};
  put(out, "idx", "huge_dims", NULL, 0, huge, sizeof huge);
}

static void csv_corpus(const char *out) {
  const unsigned char any = 0, one_by_four = 1, two_by_two = 2;
  const char *plain = "label,pixel1,pixel2,pixel3,pixel4\n3,0,128,255,7\n9,1,2,3,4\r\n\n0, 5 ,6,\t7,8\n";
  put(out, "csv", "header_1x4", &one_by_four, 1, plain, strlen(plain));
  put(out, "csv", "header_any", &any, 1, plain, strlen(plain));
  const char *noh = "1,0,0,0,0\n0,255,255,255,255\n";
  put(out, "csv", "noheader_2x2", &two_by_two, 1, noh, strlen(noh));
  size_t gn;
  unsigned char *gz = gzip_of((const unsigned char *)noh, strlen(noh), &gn);
  put(out, "csv", "noheader_2x2.gz", &two_by_two, 1, gz, gn);
  free(gz);
  const char *bad = "1,0,0\n2,1\n";
  put(out, "csv", "ragged", &any, 1, bad, strlen(bad));
  const char *big = "12,300,-1,4\n";
  put(out, "csv", "out_of_range", &any, 1, big, strlen(big));
}

static void fill(float *v, size_t n, uint64_t seed) {
  valley_pcg32_t r;
  valley_pcg32_seed(&r, seed, 1);
  for (size_t i = 0; i < n; i++) v[i] = (float)valley_pcg32_next(&r) / 4294967296.0f - 0.5f;
}

/* valley's own checkpoint of net `which` (fuzz_net.h), with or without velocity and SWA */
static void checkpoint_file(const char *out, int which, int extras, const char *file, unsigned char mode) {
  valley_mlp_t *net = fuzz_net(which);
  size_t np = net->n_params;
  float *p = malloc(np * sizeof *p), *v = malloc(np * sizeof *v), *a = malloc(np * sizeof *a);
  fill(p, np, 1);
  fill(v, np, 2);
  fill(a, np, 3);
  for (size_t i = 0; i < net->n_buffers / 2; i++) {
    net->running_mean[i] = 0.25f * (float)i;
    net->running_var[i] = 1.0f + (float)i;
  }
  valley_checkpoint_extra_t ex = {v, a, 5};
  char tmp[4096];
  path_of(out, tmp, sizeof tmp, "checkpoint", "tmp.ck");
  valley_error_t err;
  if (valley_checkpoint_save(tmp, net, p, extras ? &ex : NULL, &err) != VALLEY_OK) {
    fprintf(stderr, "make_corpus: %s\n", err.message);
    exit(1);
  }
  size_t n;
  unsigned char *b = slurp(tmp, &n);
  unlink(tmp);
  put(out, "checkpoint", file, &mode, 1, b, n);
  /* near-valid: a width changed, CRC fixed up by the harness (mode bit 0) */
  if (which == 0 && extras) {
    unsigned char fix = (unsigned char)(mode | 1u);
    b[24 + 8] = 7;
    put(out, "checkpoint", "mlp_bn_width_changed_crcfix", &fix, 1, b, n);
    put(out, "checkpoint", "mlp_bn_truncated", &mode, 1, b, n / 2);
  }
  free(b);
  /* the same network as .safetensors */
  path_of(out, tmp, sizeof tmp, "safetensors", "tmp.st");
  if (valley_safetensors_save(tmp, net, p, &err) == VALLEY_OK) {
    b = slurp(tmp, &n);
    unlink(tmp);
    unsigned char w = (unsigned char)which;
    char name[64];
    snprintf(name, sizeof name, "net%d.safetensors", which);
    put(out, "safetensors", name, &w, 1, b, n);
    if (which == 0) { /* near-valid: a header length past the end, a dtype changed */
      unsigned char c0 = b[0];
      b[0] = 0xff;
      put(out, "safetensors", "net0_header_too_long", &w, 1, b, n);
      b[0] = c0;
      char *f32 = memmem(b, n, "F32", 3);
      if (f32) {
        memcpy(f32, "F16", 3);
        put(out, "safetensors", "net0_f16", &w, 1, b, n);
      }
    }
    free(b);
  } else {
    unlink(tmp);
  }
  free(p);
  free(v);
  free(a);
  valley_mlp_free(net);
}

static void checkpoint_corpus(const char *out) {
  /* mode: bits 1-2 pick read (0) or load into net 0, 1, 2 */
  checkpoint_file(out, 0, 1, "mlp_bn_extras_read", 0);
  checkpoint_file(out, 0, 0, "mlp_bn_load", 2);
  checkpoint_file(out, 1, 0, "mlp_load", 4);
  checkpoint_file(out, 2, 1, "cnn_load", 6);
  /* the PyTorch-named fixture of tests/data */
  const char *fx = getenv("VALLEY_FIXTURE");
  if (fx != NULL) {
    size_t n;
    unsigned char *b = slurp(fx, &n);
    unsigned char w = 0;
    put(out, "safetensors", "pytorch_fixture", &w, 1, b, n);
    free(b);
  }
}

static void profile_corpus(const char *out) {
  char buf[2048];
  size_t k = (size_t)snprintf(buf, sizeof buf, "# a profile\nl,train_loss,test_loss,train_acc,test_acc\n");
  for (int i = -5; i <= 5; i++) {
    double l = 0.2 * i, tr = i < 0 ? -2.0 * l : 0.5 * l, te = (l - 0.1) * (l - 0.1);
    k += (size_t)snprintf(buf + k, sizeof buf - k, "%g,%g,%g,0.9,0.8\n", l, tr, te);
  }
  put_text(out, "profile", "with_acc.csv", buf);
  k = (size_t)snprintf(buf, sizeof buf, "test_loss,extra,l,train_loss\n");
  for (int i = -3; i <= 3; i++)
    k += (size_t)snprintf(buf + k, sizeof buf - k, "%g,x,%g,%g\n\n", 0.1 * i * i, 0.5 * i,
                          0.2 * i * i + (i > 0 ? 0.1 * i : 0));
  put_text(out, "profile", "reordered.csv", buf);
  put_text(out, "profile", "not_increasing.csv",
           "l,train_loss,test_loss\n-1,1,1\n0,0,0\n0,1,1\n1,1,1\n2,2,2\n");
  put_text(out, "profile", "nan.csv", "l,train_loss,test_loss\n-1,1,nan\n0,0,0\n1,1,1\n2,2,2\n3,3,3\n");
  put_text(out, "profile", "one_acc.csv", "l,train_loss,test_loss,train_acc\n-1,1,1,1\n");
}

static void basin_corpus(const char *out) {
  put_text(out, "basin_spec", "mixture.spec",
           "# two basins\nkind = mixture\nminima = -1.5 1.0\nweights = 0.5, 0.5\nsigmas = [0.3 0.6]\n"
           "c = 0.001\nlscale = 1\nwscale = 0.5\nnoise = grad\nstddev_shift = 0.2\n"
           "test_shift = average\ngh_nodes = 16\ndomain = -3 3\n");
  put_text(out, "basin_spec", "valley.spec",
           "kind = valley\nvalley = saturating\na_plus = 1\na_minus = 3\nb_plus = 0.5\nb_minus = 0.5\n"
           "scale = 1\ndomain = -2 2\nnoise = exp\nwscale = 0.1\n");
  put_text(out, "basin_spec", "mismatch.spec", "minima = 0\nweights = 1 2\nsigmas = 1\n");
  put_text(out, "basin_spec", "bad_key.spec", "minima = 0\nweights = 1\nsigmas = 1\nfoo = 2\n");
  put_text(out, "basin_spec", "outside.spec", "minima = 5\nweights = 1\nsigmas = 1\ndomain = -1 1\n");
}

static void args_corpus(const char *out) {
  /* first byte: the option kind (double, u64, size, int, string, flag) */
  static const char *const vals[] = {"0.25", "1e6", "18446744073709551615", "4096", "name", ""};
  for (unsigned char kind = 0; kind < 6; kind++) {
    char file[32];
    snprintf(file, sizeof file, "kind%u", kind);
    put(out, "args", file, &kind, 1, vals[kind], strlen(vals[kind]));
  }
  const unsigned char k0 = 0;
  const char *list = "1,2.5,-3e-2,4,5,6,7,8,9";
  put(out, "args", "numbers", &k0, 1, list, strlen(list));
  const char *argv = "--d\n1.5\n--u=7\n--z\n12\n--i=3\n--s\nhello\n--f";
  put(out, "args", "argv", &k0, 1, argv, strlen(argv));
  const char *bad = "--d=inf\n--f=1\n--x";
  put(out, "args", "argv_bad", &k0, 1, bad, strlen(bad));
  const unsigned char k1 = 1;
  put(out, "args", "u64_neg", &k1, 1, "-1", 2);
  put(out, "args", "u64_2e64", &k1, 1, "2e19", 4);
}

static void directions_corpus(const char *out) {
  /* first byte: d = 1 + (b & 7), k = 1 + (b >> 3 & 3) */
  const unsigned char d3k2 = 2 | (1 << 3), d2k1 = 1, d4k4 = 3 | (3 << 3);
  const char *a = "# two directions in R^3\n1 0 0\n0, 1, 0   # second\n\n";
  put(out, "directions", "d3k2", &d3k2, 1, a, strlen(a));
  const char *b = "0.6\t0.8\n";
  put(out, "directions", "d2k1", &d2k1, 1, b, strlen(b));
  const char *c = "1 0 0 0\n0 1 0 0\n0 0 1 0\n0 0 0 1e-3\n";
  put(out, "directions", "d4k4", &d4k4, 1, c, strlen(c));
  const char *bad = "1 0 x\n";
  put(out, "directions", "not_a_number", &d3k2, 1, bad, strlen(bad));
  const char *few = "1 0\n";
  put(out, "directions", "too_few", &d3k2, 1, few, strlen(few));
}

static void sweep_corpus(const char *out) {
  put_text(out, "sweep_grid", "numbers", "a=10,20;b=0.25,0.5");
  put_text(out, "sweep_grid", "strings", "name=p,q,r;n=1e3,1000,7");
  put_text(out, "sweep_grid", "all", "a=1;b=2;name=x;n=3;eta=0.1,0.2;T=1e-3");
  put_text(out, "sweep_grid", "dup", "a=1;a=2");
  put_text(out, "sweep_grid", "unknown", "z=1");
  put_text(out, "sweep_grid", "empty_value", "a=1,,2");
  /* resume files: the sweep run by valley itself, then cut and damaged */
  valley_sweep_grid_t g;
  valley_error_t err;
  if (valley_sweep_grid_parse(&g, FUZZ_SWEEP_GRID, FUZZ_SWEEP_ALLOWED, FUZZ_SWEEP_NALLOWED,
                              &err) != VALLEY_OK)
    exit(1);
  char *header = fuzz_sweep_header(&g);
  char tmp[4096];
  path_of(out, tmp, sizeof tmp, "sweep_resume", "tmp.jsonl");
  unlink(tmp);
  valley_sweep_t s = {&g, tmp, header, fuzz_sweep_point, NULL, NULL, NULL};
  size_t resumed, done;
  if (valley_sweep_run(&s, &resumed, &done, &err) != VALLEY_OK) {
    fprintf(stderr, "make_corpus: %s\n", err.message);
    exit(1);
  }
  size_t n;
  unsigned char *b = slurp(tmp, &n);
  unlink(tmp);
  put(out, "sweep_resume", "complete.jsonl", NULL, 0, b, n);
  const unsigned char *nl = memchr(b, '\n', n);
  size_t hl = (size_t)(nl - b) + 1;
  put(out, "sweep_resume", "header_only.jsonl", NULL, 0, b, hl);
  put(out, "sweep_resume", "torn_header.jsonl", NULL, 0, b, hl / 2);
  put(out, "sweep_resume", "torn_record.jsonl", NULL, 0, b, hl + (n - hl) / 3);
  const unsigned char *nl2 = memchr(b + hl, '\n', n - hl);
  size_t two = (size_t)(nl2 - b) + 1;
  put(out, "sweep_resume", "one_record.jsonl", NULL, 0, b, two);
  unsigned char *c = malloc(n);
  memcpy(c, b, n);
  c[hl + 3] ^= 0x20; /* a damaged record */
  put(out, "sweep_resume", "damaged_record.jsonl", NULL, 0, c, n);
  memcpy(c, b, n);
  c[5] ^= 0x01; /* another sweep's header */
  put(out, "sweep_resume", "other_header.jsonl", NULL, 0, c, n);
  free(c);
  free(b);
  free(header);
  valley_sweep_grid_free(&g);
}

/* resumable-run files (sim/runck.c): written by the library, then cut and damaged */
static void runck_corpus(const char *out) {
  char tmp[4096];
  path_of(out, tmp, sizeof tmp, "runck", "tmp.ck");
  unlink(tmp);
  valley_runck_t *ck;
  valley_error_t err;
  const char *fp = "valley theorem2 --chains 4096 --eta 0.01(default)";
  if (valley_runck_open(tmp, fp, 4, &ck, &err) != VALLEY_OK) exit(1);
  double a[6] = {1, -2.5, 3e300, 0, 5, 6};
  uint64_t h[3] = {7, 0, 9};
  if (valley_runck_put(ck, 2, a, sizeof a, &err) != VALLEY_OK ||
      valley_runck_put(ck, 0, h, sizeof h, &err) != VALLEY_OK)
    exit(1);
  valley_runck_close(ck, 0);
  size_t n;
  unsigned char *b = slurp(tmp, &n);
  unlink(tmp);
  put(out, "runck", "two_blocks.ck", NULL, 0, b, n);
  put(out, "runck", "torn.ck", NULL, 0, b, n - 5);
  const unsigned char *nl = memchr(b, '\n', n);
  size_t hl = (size_t)(nl - b) + 1 + strlen(fp) + 1;
  put(out, "runck", "header_only.ck", NULL, 0, b, hl);
  unsigned char *c = malloc(n);
  memcpy(c, b, n);
  c[n - 2] ^= 0x10; /* a damaged CRC */
  put(out, "runck", "bad_crc.ck", NULL, 0, c, n);
  memcpy(c, b, n);
  c[hl] = 9; /* a block beyond the run */
  put(out, "runck", "bad_block.ck", NULL, 0, c, n);
  free(c);
  free(b);
  path_of(out, tmp, sizeof tmp, "runck", "state.ck");
  float s[4] = {1, 2, 3, 4};
  if (valley_runck_save_state(tmp, fp, s, sizeof s, &err) != VALLEY_OK) exit(1);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: make_corpus OUTDIR\n");
    return 2;
  }
  const char *out = argv[1];
  if (mkdir(out, 0755) != 0 && errno != EEXIST) die(out);
  idx_corpus(out);
  csv_corpus(out);
  checkpoint_corpus(out);
  profile_corpus(out);
  basin_corpus(out);
  args_corpus(out);
  directions_corpus(out);
  sweep_corpus(out);
  runck_corpus(out);
  return 0;
}
