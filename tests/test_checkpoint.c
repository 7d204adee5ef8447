/* Checkpoints (sim/checkpoint.c): valley's format round trip byte for byte, every rejection
 * (checksum, truncation, magic, version, architecture), atomic writes leaving no temporary file
 * after a failure; .safetensors round trip, the PyTorch-named fixture of
 * tests/data/make_safetensors_fixture.py loaded and run forward against its expected logits,
 * malformed headers; the CNN (format version 2, conv tensor names) round trips and mismatches.
 * usage: test_checkpoint DATA_DIR */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "valley/checkpoint.h"
#include "valley/pcg.h"

#include "net_fixture.h"


static void fill(float *x, size_t n, valley_pcg32_t *rng) {
  for (size_t i = 0; i < n; i++) x[i] = (float)(valley_pcg32_open01(rng) * 2 - 1);
}

static unsigned char *slurp(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  *n = 0;
  if (f == NULL) return NULL;
  unsigned char *p = NULL;
  size_t cap = 0;
  for (;;) {
    p = realloc(p, cap + 4096);
    if (p == NULL) exit(2);
    size_t r = fread(p + cap, 1, 4096, f);
    cap += r;
    if (r < 4096) break;
  }
  fclose(f);
  *n = cap;
  return p;
}

static void spit(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
    fprintf(stderr, "test_checkpoint: cannot write %s\n", path);
    exit(2);
  }
}

/* Entries of dir other than "." and "..". */
static int dir_entries(const char *dir) {
  DIR *d = opendir(dir);
  int n = 0;
  if (d == NULL) return -1;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
  closedir(d);
  return n;
}

static int contains(const char *s, const char *word) { return strstr(s, word) != NULL; }

static void test_roundtrip(check_t *t, const char *dir) {
  size_t w[] = {4, 5, 6, 3};
  valley_mlp_t *net = make_net(3, w, 1, 4);
  size_t np = net->n_params, half = net->n_buffers / 2;
  float *p = xmalloc(np * sizeof *p), *v = xmalloc(np * sizeof *v), *a = xmalloc(np * sizeof *a);
  valley_mlp_init(net, p, 7);
  valley_pcg32_t rng;
  valley_pcg32_seed(&rng, 3, 1);
  fill(v, np, &rng);
  fill(a, np, &rng);
  fill(net->running_mean, half, &rng);
  for (size_t i = 0; i < half; i++) net->running_var[i] = 0.5f + (float)i;
  char f1[512], f2[512];
  snprintf(f1, sizeof f1, "%s/a.ck", dir);
  snprintf(f2, sizeof f2, "%s/b.ck", dir);
  valley_error_t err;
  valley_checkpoint_extra_t ex = {v, a, 5};
  check(t, valley_checkpoint_save(f1, net, p, &ex, &err) == VALLEY_OK, "save checkpoint");

  valley_checkpoint_t *ck = NULL;
  valley_status_t st = valley_checkpoint_read(f1, net, &ck, &err);
  check(t, st == VALLEY_OK, "read checkpoint back (%s)", st ? err.message : "ok");
  if (ck != NULL) {
    check(t, ck->n_params == np && memcmp(ck->params, p, np * 4) == 0, "params equal");
    check(t, ck->n_buffers == net->n_buffers &&
                 memcmp(ck->running_mean, net->running_mean, half * 4) == 0 &&
                 memcmp(ck->running_var, net->running_var, half * 4) == 0,
          "BN running statistics equal");
    check(t, ck->velocity && memcmp(ck->velocity, v, np * 4) == 0, "velocity equal");
    check(t, ck->swa_avg && memcmp(ck->swa_avg, a, np * 4) == 0 && ck->swa_count == 5,
          "SWA average and count equal");
    valley_checkpoint_extra_t ex2 = {ck->velocity, ck->swa_avg, ck->swa_count};
    check(t, valley_checkpoint_save(f2, net, ck->params, &ex2, &err) == VALLEY_OK, "re-save");
    valley_checkpoint_free(ck);
  }
  size_t n1, n2;
  unsigned char *b1 = slurp(f1, &n1), *b2 = slurp(f2, &n2);
  check(t, b1 && b2 && n1 == n2 && memcmp(b1, b2, n1) == 0, "re-saved bytes identical (%zu)",
        n1);
  free(b2);

  /* load into a second network of the same shape */
  valley_mlp_t *net2 = make_net(3, w, 1, 4);
  float *p2 = xmalloc(np * sizeof *p2), *v2 = xmalloc(np * sizeof *v2);
  int hv = 0;
  check(t, valley_checkpoint_load(f1, net2, p2, v2, &hv, &err) == VALLEY_OK && hv &&
               memcmp(p2, p, np * 4) == 0 && memcmp(v2, v, np * 4) == 0 &&
               memcmp(net2->running_var, net->running_var, half * 4) == 0,
        "load into another network");
  /* no extras: flag clear */
  check(t, valley_checkpoint_save(f2, net, p, NULL, &err) == VALLEY_OK &&
               valley_checkpoint_load(f2, net2, p2, v2, &hv, &err) == VALLEY_OK && hv == 0,
        "checkpoint without velocity says so");

  /* corruptions: each a one-line error naming the file */
  unsigned char *c = xmalloc(n1);
  memcpy(c, b1, n1);
  c[n1 / 2] ^= 0x10;
  spit(f2, c, n1);
  st = valley_checkpoint_read(f2, NULL, &ck, &err);
  check(t, st == VALLEY_EINVAL && ck == NULL && contains(err.message, "checksum") &&
               contains(err.message, f2) && !contains(err.message, "\n"),
        "flipped bit: %s", err.message);
  spit(f2, b1, n1 - 7);
  st = valley_checkpoint_read(f2, NULL, &ck, &err);
  check(t, st == VALLEY_EINVAL && contains(err.message, "truncated"), "truncated: %s",
        err.message);
  spit(f2, b1, 10);
  st = valley_checkpoint_read(f2, NULL, &ck, &err);
  check(t, st == VALLEY_EINVAL && contains(err.message, "truncated"), "truncated header: %s",
        err.message);
  memcpy(c, b1, n1);
  c[0] = 'X';
  spit(f2, c, n1);
  st = valley_checkpoint_read(f2, NULL, &ck, &err);
  check(t, st == VALLEY_EINVAL && contains(err.message, "magic"), "wrong magic: %s",
        err.message);
  memcpy(c, b1, n1);
  c[8] = 3;
  spit(f2, c, n1);
  st = valley_checkpoint_read(f2, NULL, &ck, &err);
  check(t, st == VALLEY_EINVAL && contains(err.message, "version 3"), "wrong version: %s",
        err.message);
  free(c);
  size_t w3[] = {4, 5, 7, 3};
  valley_mlp_t *other = make_net(3, w3, 1, 4), *nobn = make_net(3, w, 0, 4);
  st = valley_checkpoint_read(f1, other, &ck, &err);
  check(t, st == VALLEY_EINVAL && contains(err.message, "architecture mismatch") &&
               contains(err.message, "4-5-6-3") && contains(err.message, "4-5-7-3"),
        "shape mismatch: %s", err.message);
  st = valley_checkpoint_read(f1, nobn, &ck, &err);
  check(t, st == VALLEY_EINVAL && contains(err.message, "architecture mismatch"),
        "BN mismatch: %s", err.message);
  st = valley_checkpoint_read("/nonexistent/x.ck", NULL, &ck, &err);
  check(t, st == VALLEY_EIO && contains(err.message, "/nonexistent/x.ck"), "missing file: %s",
        err.message);

  free(b1);
  free(p);
  free(v);
  free(a);
  free(p2);
  free(v2);
  valley_mlp_free(net);
  valley_mlp_free(net2);
  valley_mlp_free(other);
  valley_mlp_free(nobn);
  unlink(f1);
  unlink(f2);
}

static void test_atomic(check_t *t, const char *dir) {
  size_t w[] = {3, 4, 2};
  valley_mlp_t *net = make_net(2, w, 1, 4);
  float *p = xmalloc(net->n_params * sizeof *p);
  valley_mlp_init(net, p, 1);
  valley_error_t err;
  char sub[512], path[600];
  /* the target is a directory: the rename fails after the data are written */
  snprintf(sub, sizeof sub, "%s/atomic", dir);
  mkdir(sub, 0700);
  snprintf(path, sizeof path, "%s/target", sub);
  mkdir(path, 0700);
  valley_status_t st = valley_checkpoint_save(path, net, p, NULL, &err);
  check(t, st == VALLEY_EIO && dir_entries(sub) == 1, "rename failure leaves no temp file: %s",
        err.message);
  st = valley_safetensors_save(path, net, p, &err);
  check(t, st == VALLEY_EIO && dir_entries(sub) == 1,
        "safetensors rename failure leaves no temp file");
  rmdir(path);
  /* a directory that does not exist */
  snprintf(path, sizeof path, "%s/missing/x.ck", sub);
  st = valley_checkpoint_save(path, net, p, NULL, &err);
  check(t, st == VALLEY_EIO && contains(err.message, path) && dir_entries(sub) == 0,
        "nonexistent directory: %s", err.message);
  /* an unwritable directory (root ignores permissions) */
  if (geteuid() != 0) {
    chmod(sub, 0500);
    snprintf(path, sizeof path, "%s/x.ck", sub);
    st = valley_checkpoint_save(path, net, p, NULL, &err);
    chmod(sub, 0700);
    check(t, st == VALLEY_EIO && dir_entries(sub) == 0, "unwritable directory: %s",
          err.message);
  } else {
    printf("skip: unwritable-directory check (running as root)\n");
  }
  /* a write that fails part way (file-size limit: EFBIG, like ENOSPC on a full disk) */
  struct rlimit old, lim;
  if (getrlimit(RLIMIT_FSIZE, &old) == 0) {
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = 100;
    snprintf(path, sizeof path, "%s/big.ck", sub);
    int limited = setrlimit(RLIMIT_FSIZE, &lim) == 0;
    st = valley_checkpoint_save(path, net, p, NULL, &err);
    valley_status_t st2 = valley_safetensors_save(path, net, p, NULL);
    if (limited) setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    check(t, limited && st == VALLEY_EIO && st2 == VALLEY_EIO && dir_entries(sub) == 0,
          "write failure part way leaves nothing: %s", err.message);
  }
  /* an existing checkpoint survives a rejected overwrite untouched */
  snprintf(path, sizeof path, "%s/keep.ck", sub);
  check(t, valley_checkpoint_save(path, net, p, NULL, &err) == VALLEY_OK, "save keep.ck");
  size_t n0, n1;
  unsigned char *b0 = slurp(path, &n0);
  valley_checkpoint_save(path, net, NULL, NULL, &err);
  unsigned char *b1 = slurp(path, &n1);
  check(t, n0 == n1 && memcmp(b0, b1, n0) == 0 && dir_entries(sub) == 1,
        "rejected save leaves the old file");
  free(b0);
  free(b1);
  unlink(path);
  rmdir(sub);
  free(p);
  valley_mlp_free(net);
}

static void test_safetensors_roundtrip(check_t *t, const char *dir) {
  size_t w[] = {4, 5, 6, 3};
  valley_mlp_t *net = make_net(3, w, 1, 4), *net2 = make_net(3, w, 1, 4);
  size_t np = net->n_params, half = net->n_buffers / 2;
  float *p = xmalloc(np * sizeof *p), *p2 = xmalloc(np * sizeof *p2);
  valley_mlp_init(net, p, 11);
  valley_pcg32_t rng;
  valley_pcg32_seed(&rng, 4, 1);
  fill(net->running_mean, half, &rng);
  for (size_t i = 0; i < half; i++) net->running_var[i] = 1.5f + (float)i;
  char f1[512], f2[512];
  snprintf(f1, sizeof f1, "%s/a.safetensors", dir);
  snprintf(f2, sizeof f2, "%s/b.safetensors", dir);
  valley_error_t err;
  check(t, valley_safetensors_save(f1, net, p, &err) == VALLEY_OK, "save safetensors");
  valley_status_t st = valley_safetensors_load(f1, net2, p2, &err);
  check(t, st == VALLEY_OK, "load safetensors (%s)", st ? err.message : "ok");
  check(t, memcmp(p, p2, np * 4) == 0 &&
               memcmp(net->running_mean, net2->running_mean, half * 4) == 0 &&
               memcmp(net->running_var, net2->running_var, half * 4) == 0,
        "safetensors round trip: params and BN statistics equal");
  check(t, valley_safetensors_save(f2, net2, p2, &err) == VALLEY_OK, "re-save safetensors");
  size_t n1, n2;
  unsigned char *b1 = slurp(f1, &n1), *b2 = slurp(f2, &n2);
  check(t, b1 && b2 && n1 == n2 && memcmp(b1, b2, n1) == 0 && n1 > 8 &&
               (b1[0] | b1[1] << 8) % 8 == 0,
        "re-saved safetensors identical, header 8-byte aligned");
  free(b1);
  free(b2);
  size_t w3[] = {4, 5, 7, 3};
  valley_mlp_t *other = make_net(3, w3, 1, 4);
  float *p3 = xmalloc(other->n_params * sizeof *p3);
  st = valley_safetensors_load(f1, other, p3, &err);
  check(t, st == VALLEY_EINVAL && contains(err.message, "shape") && contains(err.message, f1),
        "safetensors shape mismatch: %s", err.message);
  free(p3);
  valley_mlp_free(other);
  unlink(f1);
  unlink(f2);
  free(p);
  free(p2);
  valley_mlp_free(net);
  valley_mlp_free(net2);
}

/* The CNN with BN: checkpoint (format version 2) and safetensors (conv names, 4-d shapes) round
 * trips byte for byte; an MLP or a CNN on other images cannot read it; MLP files stay version 1. */
static void test_cnn(check_t *t, const char *dir) {
  valley_mlp_t *net = make_cnn(2, 8, 8, 3, 4, 5, 1, 4), *net2 = make_cnn(2, 8, 8, 3, 4, 5, 1, 4);
  size_t np = net->n_params, half = net->n_buffers / 2, S = net->n_segments;
  float *p = xmalloc(np * sizeof *p), *p2 = xmalloc(np * sizeof *p2);
  float *vel = xmalloc(np * sizeof *vel), *swa = xmalloc(np * sizeof *swa);
  valley_pcg32_t rng;
  valley_pcg32_seed(&rng, 8, 1);
  valley_mlp_init(net, p, 5);
  fill(vel, np, &rng);
  fill(swa, np, &rng);
  fill(net->running_mean, half, &rng);
  for (size_t i = 0; i < half; i++) net->running_var[i] = 0.5f + 0.25f * (float)i;
  char f1[512], f2[512];
  snprintf(f1, sizeof f1, "%s/cnn1.vck", dir);
  snprintf(f2, sizeof f2, "%s/cnn2.vck", dir);
  valley_error_t err;
  valley_checkpoint_extra_t ex = {vel, swa, 3};
  valley_status_t st = valley_checkpoint_save(f1, net, p, &ex, &err);
  valley_checkpoint_t *ck = NULL;
  if (st == VALLEY_OK) st = valley_checkpoint_read(f1, net, &ck, &err);
  check(t, st == VALLEY_OK, "CNN checkpoint save and read (%s)", st ? err.message : "ok");
  if (st != VALLEY_OK) exit(2);
  size_t n1 = 0, n2 = 0;
  unsigned char *b1 = slurp(f1, &n1);
  check(t, b1 && b1[8] == 2 && b1[9] == 0 && n1 == 160 + 96 * S + 4 * (3 * np + 2 * half) + 4,
        "CNN checkpoint: version 2, %zu bytes = 160 + 96 S + 4 (3 P + B) + 4", n1);
  check(t, ck->cfg.arch == VALLEY_ARCH_CNN && ck->cfg.in_channels == 2 && ck->cfg.height == 8 &&
               ck->cfg.width == 8 && ck->cfg.widths[1] == 3 && ck->cfg.widths[2] == 4 &&
               ck->cfg.batch_norm && memcmp(ck->params, p, np * 4) == 0 &&
               memcmp(ck->running_mean, net->running_mean, half * 4) == 0 &&
               memcmp(ck->running_var, net->running_var, half * 4) == 0 &&
               memcmp(ck->velocity, vel, np * 4) == 0 && memcmp(ck->swa_avg, swa, np * 4) == 0 &&
               ck->swa_count == 3,
        "CNN checkpoint round trip: architecture, params, BN statistics, velocity, SWA equal");
  int hv = 0;
  st = valley_checkpoint_load(f1, net2, p2, NULL, &hv, &err);
  valley_checkpoint_extra_t ex2 = {ck->velocity, ck->swa_avg, ck->swa_count};
  if (st == VALLEY_OK) st = valley_checkpoint_save(f2, net2, p2, &ex2, &err);
  unsigned char *b2 = st == VALLEY_OK ? slurp(f2, &n2) : NULL;
  check(t, st == VALLEY_OK && b1 && b2 && n1 == n2 && memcmp(b1, b2, n1) == 0,
        "CNN checkpoint loaded into a second network and re-saved: identical bytes");
  free(b1);
  free(b2);
  valley_checkpoint_free(ck);
  /* the same widths as an MLP, and a CNN on 2 x 4 x 16 images (same table, other images) */
  size_t wm[] = {128, 3, 4, 5};
  valley_mlp_t *mlp = make_net(3, wm, 1, 4), *other = make_cnn(2, 4, 16, 3, 4, 5, 1, 4);
  float *pm = xmalloc(mlp->n_params * sizeof *pm);
  st = valley_checkpoint_load(f1, mlp, pm, NULL, NULL, &err);
  check(t, st == VALLEY_EINVAL && contains(err.message, "architecture mismatch") &&
               contains(err.message, "CNN on 2x8x8"),
        "CNN checkpoint into an MLP of the same widths: %s", err.message);
  st = valley_checkpoint_read(f1, other, &ck, &err);
  check(t, st == VALLEY_EINVAL && other->n_params == np && contains(err.message, "mismatch"),
        "CNN checkpoint against a CNN on 2x4x16 images (same parameter table): %s", err.message);
  /* MLP checkpoints keep format version 1 */
  st = valley_checkpoint_save(f2, mlp, pm, NULL, &err);
  b2 = slurp(f2, &n2);
  check(t, st == VALLEY_OK && b2 && b2[8] == 1 && n2 == 144 + 80 * mlp->n_segments +
                                                      4 * (mlp->n_params + mlp->n_buffers) + 4,
        "an MLP checkpoint is still version 1, %zu bytes", n2);
  free(b2);
  unlink(f1);
  unlink(f2);

  /* safetensors */
  snprintf(f1, sizeof f1, "%s/cnn1.safetensors", dir);
  snprintf(f2, sizeof f2, "%s/cnn2.safetensors", dir);
  st = valley_safetensors_save(f1, net, p, &err);
  valley_mlp_t *net3 = make_cnn(2, 8, 8, 3, 4, 5, 1, 4);
  float *p3 = xmalloc(np * sizeof *p3);
  if (st == VALLEY_OK) st = valley_safetensors_load(f1, net3, p3, &err);
  check(t, st == VALLEY_OK && memcmp(p, p3, np * 4) == 0 &&
               memcmp(net->running_mean, net3->running_mean, half * 4) == 0 &&
               memcmp(net->running_var, net3->running_var, half * 4) == 0,
        "CNN safetensors round trip: params and BN statistics equal (%s)",
        st ? err.message : "ok");
  st = valley_safetensors_save(f2, net3, p3, &err);
  b1 = slurp(f1, &n1);
  b2 = slurp(f2, &n2);
  check(t, st == VALLEY_OK && b1 && b2 && n1 == n2 && memcmp(b1, b2, n1) == 0,
        "CNN safetensors re-saved: identical bytes");
  /* the header names and shapes (PyTorch's Conv2d / BatchNorm2d / Linear state_dict) */
  size_t hl = b1 ? (size_t)b1[0] | (size_t)b1[1] << 8 : 0;
  char *h = xmalloc(hl + 1);
  if (b1) memcpy(h, b1 + 8, hl);
  h[hl] = '\0';
  check(t, contains(h, "\"conv1.weight\":{\"dtype\":\"F32\",\"shape\":[3,2,3,3]") &&
               contains(h, "\"conv2.weight\":{\"dtype\":\"F32\",\"shape\":[4,3,3,3]") &&
               contains(h, "\"bn1.weight\":{\"dtype\":\"F32\",\"shape\":[3]") &&
               contains(h, "\"bn2.running_var\":{\"dtype\":\"F32\",\"shape\":[4]") &&
               contains(h, "\"fc3.weight\":{\"dtype\":\"F32\",\"shape\":[5,16]") &&
               contains(h, "\"fc3.bias\"") && !contains(h, "conv1.bias") &&
               contains(h, "\"valley.architecture\":\"cnn\"") &&
               contains(h, "\"valley.image\":\"2,8,8\""),
        "CNN safetensors header: conv1.weight [3,2,3,3], conv2.weight [4,3,3,3], bn{1,2}.*, "
        "fc3.weight [5,16], architecture cnn, image 2,8,8");
  free(h);
  free(b1);
  free(b2);
  st = valley_safetensors_load(f1, mlp, pm, &err);
  check(t, st == VALLEY_EINVAL && contains(err.message, "conv1.weight"),
        "CNN safetensors into an MLP: %s", err.message);
  unlink(f1);
  unlink(f2);
  free(p3);
  free(pm);
  free(p);
  free(p2);
  free(vel);
  free(swa);
  valley_mlp_free(net3);
  valley_mlp_free(mlp);
  valley_mlp_free(other);
  valley_mlp_free(net);
  valley_mlp_free(net2);
}

/* A PyTorch-style CNN file with conv biases in front of BN2d: each folds into its running mean
 * (mu - b, one float subtraction), everything else lands where its name says. */
static void test_cnn_fold(check_t *t, const char *dir) {
  valley_mlp_t *net = make_cnn(1, 4, 4, 1, 1, 2, 1, 2);
  const char *names[] = {"conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias",
                         "bn1.running_mean", "bn1.running_var", "conv2.weight", "conv2.bias",
                         "bn2.weight", "bn2.bias", "bn2.running_mean", "bn2.running_var",
                         "fc3.weight", "fc3.bias"};
  const char *shapes[] = {"[1,1,3,3]", "[1]", "[1]", "[1]", "[1]", "[1]", "[1,1,3,3]",
                          "[1]", "[1]", "[1]", "[1]", "[1]", "[2,1]", "[2]"};
  const size_t counts[] = {9, 1, 1, 1, 1, 1, 9, 1, 1, 1, 1, 1, 2, 2};
  char h[2048];
  size_t k = (size_t)snprintf(h, sizeof h, "{"), off = 0;
  for (size_t i = 0; i < 14; i++) {
    k += (size_t)snprintf(h + k, sizeof h - k,
                          "%s\"%s\":{\"dtype\":\"F32\",\"shape\":%s,\"data_offsets\":[%zu,%zu]}",
                          i ? "," : "", names[i], shapes[i], off, off + 4 * counts[i]);
    off += 4 * counts[i];
  }
  k += (size_t)snprintf(h + k, sizeof h - k, "}");
  float data[32];
  for (size_t i = 0; i < 32; i++) data[i] = 0.125f * (float)(i + 1);
  data[9] = 0.25f;   /* conv1.bias */
  data[12] = 0.5f;   /* bn1.running_mean */
  data[23] = -0.75f; /* conv2.bias */
  data[26] = 1.0f;   /* bn2.running_mean */
  unsigned char *b = xmalloc(8 + k + sizeof data);
  for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)k >> (8 * i));
  memcpy(b + 8, h, k);
  memcpy(b + 8 + k, data, sizeof data); /* little-endian host, as the tests assume */
  char path[512];
  snprintf(path, sizeof path, "%s/fold.safetensors", dir);
  spit(path, b, 8 + k + sizeof data);
  free(b);
  float *p = xmalloc(net->n_params * sizeof *p);
  valley_error_t err;
  valley_status_t st = valley_safetensors_load(path, net, p, &err);
  const valley_net_segment_t *w1 = valley_mlp_segment(net, "conv1.weight");
  const valley_net_segment_t *w2 = valley_mlp_segment(net, "conv2.weight");
  const valley_net_segment_t *f3 = valley_mlp_segment(net, "fc3.weight");
  int ok = st == VALLEY_OK && net->running_mean[0] == 0.5f - 0.25f &&
           net->running_mean[1] == 1.0f + 0.75f && net->running_var[0] == data[13] &&
           net->running_var[1] == data[27] && memcmp(p + w1->offset, data, 9 * 4) == 0 &&
           memcmp(p + w2->offset, data + 14, 9 * 4) == 0 &&
           memcmp(p + f3->offset, data + 28, 4 * 4) == 0 && p[net->g_off[0]] == data[10] &&
           p[net->s_off[1]] == data[25];
  check(t, ok, "CNN safetensors with PyTorch conv biases before BN: folded into the running "
        "means (%s)", st ? err.message : "ok");
  unlink(path);
  free(p);
  valley_mlp_free(net);
}

static void test_fixture(check_t *t, const char *data) {
  char path[512], exp[512];
  snprintf(path, sizeof path, "%s/mlp_fixture.safetensors", data);
  snprintf(exp, sizeof exp, "%s/mlp_fixture_expected.txt", data);
  size_t w[] = {4, 5, 3};
  valley_mlp_t *net = make_net(2, w, 1, 4);
  float *p = xmalloc(net->n_params * sizeof *p);
  valley_error_t err;
  valley_status_t st = valley_safetensors_load(path, net, p, &err);
  check(t, st == VALLEY_OK, "load PyTorch-named fixture (%s)", st ? err.message : "ok");
  FILE *f = fopen(exp, "r");
  check(t, f != NULL, "open %s", exp);
  if (st != VALLEY_OK || f == NULL) {
    if (f) fclose(f);
    free(p);
    valley_mlp_free(net);
    return;
  }
  char line[1024];
  double x[2][4], want[2][3], mag[2][3];
  size_t rows = 0;
  while (rows < 2 && fgets(line, sizeof line, f) != NULL) {
    if (line[0] == '#') continue;
    double *r[10] = {&x[rows][0], &x[rows][1], &x[rows][2], &x[rows][3], &want[rows][0],
                     &want[rows][1], &want[rows][2], &mag[rows][0], &mag[rows][1], &mag[rows][2]};
    if (sscanf(line, "%lf %lf %lf %lf %lf %lf %lf %lf %lf %lf", r[0], r[1], r[2], r[3], r[4],
               r[5], r[6], r[7], r[8], r[9]) == 10)
      rows++;
  }
  fclose(f);
  check(t, rows == 2, "two fixture inputs");
  float xb[8];
  uint8_t y[2] = {0, 0};
  for (size_t i = 0; i < 2 * 4; i++) xb[i] = (float)x[i / 4][i % 4];
  st = valley_mlp_batch(net, p, xb, y, rows, VALLEY_NET_EVAL, NULL, NULL, NULL, &err);
  check(t, st == VALLEY_OK, "eval forward");
  /* float32 rounding: each logit's error is a small multiple of u = 2^-24 times the sum of the
   * magnitudes of the terms it is built from (M, computed by the script); 32 u M bounds it
   * with room (5-term dot products, BN's 5 operations, the folded bias, a 6-term dot). */
  const float *logits = valley_mlp_logits(net);
  double worst = 0;
  int ok = st == VALLEY_OK;
  for (size_t r = 0; r < rows && ok; r++)
    for (size_t k = 0; k < 3; k++) {
      double e = fabs(logits[r * 3 + k] - want[r][k]), tol = 32 * ldexp(1, -24) * mag[r][k];
      if (e > tol) ok = 0;
      if (e / mag[r][k] > worst) worst = e / mag[r][k];
    }
  check(t, ok, "fixture logits within 32 u M (worst |error|/M = %.2g u)", worst / ldexp(1, -24));
  free(p);
  valley_mlp_free(net);
}

/* A safetensors file with header h (length from strlen unless hlen_override) and nd data
 * bytes; returns the load's status and leaves the message in err. */
static valley_status_t try_header(const char *path, const char *h, uint64_t hlen_override,
                                  size_t nd, valley_mlp_t *net, float *p, valley_error_t *err) {
  size_t hn = strlen(h);
  unsigned char *b = xmalloc(8 + hn + nd);
  uint64_t len = hlen_override ? hlen_override : hn;
  for (int i = 0; i < 8; i++) b[i] = (unsigned char)(len >> (8 * i));
  memcpy(b + 8, h, hn);
  spit(path, b, 8 + hn + nd);
  free(b);
  return valley_safetensors_load(path, net, p, err);
}

static void test_malformed(check_t *t, const char *dir) {
  size_t w[] = {2, 1}; /* one layer: fc1.weight [1, 2], fc1.bias [1] */
  valley_mlp_t *net = make_net(1, w, 0, 4);
  float p[3] = {0, 0, 0};
  char path[512];
  snprintf(path, sizeof path, "%s/bad.safetensors", dir);
  valley_error_t err;
#define W "\"fc1.weight\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,8]}"
#define B "\"fc1.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}"
  struct {
    const char *h;
    uint64_t hlen;
    size_t nd;
    const char *word, *what;
  } cases[] = {
      {"{" W "," B "}", 0, 12, NULL, "well-formed"},
      {"{" W "," B "}    ", 0, 12, NULL, "trailing spaces (padding)"},
      {"{" W "," B, 0, 12, "expected '}'", "missing brace"},
      {"{" W "," B ",}", 0, 12, "expected '\"'", "trailing comma"},
      {"{" W "," B "}x", 0, 12, "trailing characters", "garbage after the object"},
      {"{" W ";" B "}", 0, 12, "expected '}'", "bad separator"},
      {"{\"fc1.weight\":{\"dtype\":\"F16\",\"shape\":[1,2],\"data_offsets\":[0,4]}," B "}", 0, 12,
       "dtype F16", "dtype F16"},
      {"{" W ",\"fc1.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,16]}}", 0, 12,
       "out of range", "offsets beyond the data"},
      {"{" W ",\"fc1.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 0, 12,
       "overlap", "overlapping offsets"},
      {"{" W ",\"bn1.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[0],\"data_offsets\":"
       "[2,2]},\"fc1.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 0, 12,
       "overlap", "overlapping offsets across an empty tensor"},
      {"{" W ",\"fc1.bias\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,11]}}", 0, 12,
       "do not match", "offsets not matching the shape"},
      {"{" W ",\"fc1.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 0, 16,
       "shape [2], network expects [1]", "shape mismatch"},
      {"{" W "}", 0, 12, "missing tensor fc1.bias", "missing tensor"},
      {"{" W "," B ",\"fc9.bias\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[12,12]}}", 0,
       12, "unexpected tensor fc9.bias", "unknown tensor"},
      {"{" W "," W "," B "}", 0, 12, "duplicate", "duplicate name"},
      {"{" W "," B "}", 4096, 12, "exceeds the file", "header length beyond the file"},
      {"{\"fc1.weight\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[0,08]}," B "}", 0, 12,
       "leading zero", "leading zero"},
      {"{\"fc1.weight\":{\"dtype\":\"F32\",\"shape\":[1,-2],\"data_offsets\":[0,8]}," B "}", 0,
       12, "expected an integer", "negative dimension"},
      {"{\"fc1.weight\":{\"dtype\":\"F32\",\"shape\":[1,2]}," B "}", 0, 12, "lacks",
       "missing data_offsets"},
      {"{\"__metadata__\":{\"a\":1}," W "," B "}", 0, 12, "expected '\"'", "non-string metadata"},
      {"", 0, 0, "expected '{'", "empty header"},
  };
#undef W
#undef B
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    memset(&err, 0, sizeof err);
    valley_status_t st = try_header(path, cases[i].h, cases[i].hlen, cases[i].nd, net, p, &err);
    if (cases[i].word == NULL)
      check(t, st == VALLEY_OK, "%s accepted (%s)", cases[i].what, st ? err.message : "ok");
    else
      check(t, st == VALLEY_EINVAL && contains(err.message, cases[i].word) &&
                   contains(err.message, path),
            "%s rejected: %s", cases[i].what, err.message);
  }
  spit(path, "abc", 3);
  check(t, valley_safetensors_load(path, net, p, &err) == VALLEY_EINVAL, "3-byte file: %s",
        err.message);
  unlink(path);
  valley_mlp_free(net);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: test_checkpoint DATA_DIR\n");
    return 2;
  }
  char dir[] = "/tmp/valley_ckpt_XXXXXX";
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 2;
  }
  check_t t = {0, 0};
  test_roundtrip(&t, dir);
  test_atomic(&t, dir);
  test_safetensors_roundtrip(&t, dir);
  test_cnn(&t, dir);
  test_cnn_fold(&t, dir);
  test_fixture(&t, argv[1]);
  test_malformed(&t, dir);
  check(&t, dir_entries(dir) == 0, "no files left in the scratch directory");
  rmdir(dir);
  return check_done(&t);
}
