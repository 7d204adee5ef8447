/* Resumable runs (include/valley/runck.h): a header line, the fingerprint, then CRC-checked
 * records appended and fsync'ed one by one. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "valley/outfile.h"
#include "valley/runck.h"
#include "netio_internal.h" /* crc32_of */

#define RUNCK_VERSION 1
#define RUNCK_MAX_FINGERPRINT (1u << 20)
#define RUNCK_MAX_RECORD ((uint64_t)1 << 40)

struct valley_runck {
  char *path;
  int fd;
  size_t nblocks, done;
  unsigned char **data; /* [nblocks]: NULL until done */
  size_t *len;          /* [nblocks] */
  off_t end;            /* the end of the last complete record */
};

/* "le64-8-8-4" on x86-64: byte order, then the sizes of size_t, double and float. */
static void abi_tag(char *buf, size_t n) {
  const uint16_t one = 1;
  unsigned char first;
  memcpy(&first, &one, 1);
  snprintf(buf, n, "%s%zu-%zu-%zu-%zu", first ? "le" : "be", sizeof(void *) * 8, sizeof(size_t),
           sizeof(double), sizeof(float));
}

static char *header_text(const char *fingerprint, size_t nblocks, size_t *n) {
  char abi[64];
  abi_tag(abi, sizeof abi);
  size_t fl = strlen(fingerprint);
  char line[160];
  int k = snprintf(line, sizeof line, "valley-runck %d %s %zu %zu\n", RUNCK_VERSION, abi, nblocks,
                   fl);
  char *h = malloc((size_t)k + fl + 2);
  if (h == NULL) return NULL;
  memcpy(h, line, (size_t)k);
  memcpy(h + k, fingerprint, fl);
  h[(size_t)k + fl] = '\n';
  h[(size_t)k + fl + 1] = '\0';
  *n = (size_t)k + fl + 1;
  return h;
}

static int write_all(int fd, const void *buf, size_t n) {
  const unsigned char *p = buf;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Reads exactly n bytes from a memory image at *pos; 0 when fewer are left. */
static int take(const unsigned char *img, size_t size, size_t *pos, void *out, size_t n) {
  if (size - *pos < n) return 0;
  memcpy(out, img + *pos, n);
  *pos += n;
  return 1;
}

/* Checks the header of img against the fingerprint and nblocks; *pos is where records start. */
static valley_status_t check_header(const char *path, const unsigned char *img, size_t size,
                                    const char *fingerprint, size_t nblocks, size_t *pos,
                                    valley_error_t *err) {
  const unsigned char *nl = memchr(img, '\n', size < 200 ? size : 200);
  if (nl == NULL || size < 13 || memcmp(img, "valley-runck ", 13) != 0)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%s: not a valley run checkpoint", path);
  char line[200];
  memcpy(line, img, (size_t)(nl - img));
  line[nl - img] = '\0';
  int version;
  char abi[64], want_abi[64];
  unsigned long long nb, fl;
  int used = 0;
  if (sscanf(line, "valley-runck %d %63s %llu %llu%n", &version, abi, &nb, &fl, &used) != 4 ||
      line[used] != '\0')
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%s: damaged run checkpoint header", path);
  char canon[200]; /* one spelling only: "valley-runck 1 le64-8-8-4 9 19", single spaces */
  snprintf(canon, sizeof canon, "valley-runck %d %s %llu %llu", version, abi, nb, fl);
  if (strcmp(canon, line) != 0)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%s: damaged run checkpoint header", path);
  if (version != RUNCK_VERSION)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%s: run checkpoint version %d (this valley reads %d)",
                        path, version, RUNCK_VERSION);
  abi_tag(want_abi, sizeof want_abi);
  if (strcmp(abi, want_abi) != 0)
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "%s: run checkpoint from another kind of machine (%s; this one is %s)",
                        path, abi, want_abi);
  size_t start = (size_t)(nl - img) + 1;
  if (fl > RUNCK_MAX_FINGERPRINT || size - start < fl + 1 || img[start + fl] != '\n')
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%s: damaged run checkpoint header", path);
  if (fl != strlen(fingerprint) || memcmp(img + start, fingerprint, fl) != 0 || nb != nblocks) {
    /* name the first setting that differs: the fingerprints are "... --flag value ..." */
    const char *file = (const char *)img + start;
    size_t i = 0, n = strlen(fingerprint);
    while (i < fl && i < n && file[i] == fingerprint[i]) i++;
    size_t from = i;
    while (from > 0 && !(fingerprint[from - 1] == ' ' && from + 1 < n &&
                         strncmp(fingerprint + from, "--", 2) == 0))
      from--;
    if (from > fl) from = fl;
    int wf = 0, wn = 0;
    while (from + (size_t)wf < fl && wf < 48 && !(file[from + wf] == ' ' && wf > 0 &&
                                                  strncmp(file + from + wf + 1, "--", 2) == 0))
      wf++;
    while (from + (size_t)wn < n && wn < 48 && !(fingerprint[from + wn] == ' ' && wn > 0 &&
                                                 strncmp(fingerprint + from + wn + 1, "--", 2) == 0))
      wn++;
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "%s: was written by a different run (it has '%.*s', this run '%.*s'); "
                        "remove it or give another file to start afresh", path, wf, file + from,
                        wn, fingerprint + from);
  }
  *pos = start + fl + 1;
  return VALLEY_OK;
}

static valley_status_t read_image(const char *path, int fd, unsigned char **img, size_t *size,
                                  valley_error_t *err) {
  struct stat sb;
  if (fstat(fd, &sb) != 0)
    return VALLEY_ERROR(err, VALLEY_EIO, "%s: %s", path, strerror(errno));
  size_t n = (size_t)sb.st_size;
  unsigned char *buf = malloc(n > 0 ? n : 1);
  if (buf == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "%s: out of memory (%zu bytes)", path, n);
  size_t got = 0;
  while (got < n) {
    ssize_t r = pread(fd, buf + got, n - got, (off_t)got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      int e = r < 0 ? errno : EIO;
      free(buf);
      return VALLEY_ERROR(err, VALLEY_EIO, "%s: read error: %s", path, strerror(e));
    }
    got += (size_t)r;
  }
  *img = buf;
  *size = n;
  return VALLEY_OK;
}

/* Reads the complete records of img from pos into ck; ck->end is where the good part ends. */
static valley_status_t read_records(valley_runck_t *ck, const unsigned char *img, size_t size,
                                    size_t pos, valley_error_t *err) {
  ck->end = (off_t)pos;
  for (;;) {
    uint64_t block, len;
    uint32_t crc = 0;
    size_t p = pos;
    if (!take(img, size, &p, &block, sizeof block) || !take(img, size, &p, &len, sizeof len))
      break;
    if (len > RUNCK_MAX_RECORD || size - p < len || size - p - len < sizeof crc) break;
    const unsigned char *data = img + p;
    p += (size_t)len;
    take(img, size, &p, &crc, sizeof crc);
    /* the CRC covers block, length and bytes, which lie together in the file */
    if (crc != crc32_of(img + pos, sizeof block + sizeof len + (size_t)len)) break; /* torn or damaged: cut here */
    if (block >= ck->nblocks)
      return VALLEY_ERROR(err, VALLEY_EINVAL, "%s: block %" PRIu64 " of a run of %zu blocks",
                          ck->path, block, ck->nblocks);
    if (ck->data[block] != NULL)
      return VALLEY_ERROR(err, VALLEY_EINVAL, "%s: block %" PRIu64 " appears twice", ck->path,
                          block);
    unsigned char *copy = malloc(len > 0 ? (size_t)len : 1);
    if (copy == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "%s: out of memory", ck->path);
    memcpy(copy, data, (size_t)len);
    ck->data[block] = copy;
    ck->len[block] = (size_t)len;
    ck->done++;
    pos = p;
    ck->end = (off_t)pos;
  }
  return VALLEY_OK;
}

valley_status_t valley_runck_open(const char *path, const char *fingerprint, size_t nblocks,
                                  valley_runck_t **out, valley_error_t *err) {
  *out = NULL;
  if (path == NULL || fingerprint == NULL || nblocks == 0 || nblocks > ((size_t)1 << 24))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "run checkpoint: bad arguments");
  if (strlen(fingerprint) > RUNCK_MAX_FINGERPRINT)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "run checkpoint: fingerprint too long");
  valley_runck_t *ck = calloc(1, sizeof *ck);
  if (ck == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory");
  ck->fd = -1;
  ck->nblocks = nblocks;
  ck->path = strdup(path);
  ck->data = calloc(nblocks, sizeof *ck->data);
  ck->len = calloc(nblocks, sizeof *ck->len);
  valley_status_t st = VALLEY_OK;
  if (ck->path == NULL || ck->data == NULL || ck->len == NULL)
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory");
  int created = 0;
  if (st == VALLEY_OK) {
    ck->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (ck->fd >= 0)
      created = 1;
    else if (errno == EEXIST)
      ck->fd = open(path, O_RDWR | O_CLOEXEC);
    if (ck->fd < 0)
      st = VALLEY_ERROR(err, VALLEY_EIO, "cannot open '%s': %s", path, strerror(errno));
  }
  if (st == VALLEY_OK && created) {
    size_t hn;
    char *h = header_text(fingerprint, nblocks, &hn);
    if (h == NULL) {
      st = VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory");
    } else if (write_all(ck->fd, h, hn) != 0 || fsync(ck->fd) != 0) {
      st = VALLEY_ERROR(err, VALLEY_EIO, "cannot write '%s': %s", path, strerror(errno));
    }
    free(h);
    ck->end = (off_t)hn;
    if (st != VALLEY_OK) {
      close(ck->fd);
      ck->fd = -1;
      unlink(path); /* a header half written is no checkpoint */
    }
  } else if (st == VALLEY_OK) {
    unsigned char *img = NULL;
    size_t size = 0, pos = 0;
    st = read_image(path, ck->fd, &img, &size, err);
    if (st == VALLEY_OK) st = check_header(path, img, size, fingerprint, nblocks, &pos, err);
    if (st == VALLEY_OK) st = read_records(ck, img, size, pos, err);
    if (st == VALLEY_OK && (size_t)ck->end < size && ftruncate(ck->fd, ck->end) != 0)
      st = VALLEY_ERROR(err, VALLEY_EIO, "%s: cannot cut its damaged tail: %s", path,
                        strerror(errno));
    free(img);
  }
  if (st != VALLEY_OK) {
    valley_runck_close(ck, 0);
    return st;
  }
  *out = ck;
  return VALLEY_OK;
}

size_t valley_runck_done(const valley_runck_t *ck) { return ck->done; }

const void *valley_runck_get(const valley_runck_t *ck, size_t block, size_t *len) {
  if (block >= ck->nblocks || ck->data[block] == NULL) return NULL;
  if (len != NULL) *len = ck->len[block];
  return ck->data[block];
}

valley_status_t valley_runck_put(valley_runck_t *ck, size_t block, const void *data, size_t len,
                                 valley_error_t *err) {
  if (block >= ck->nblocks || ck->data[block] != NULL)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%s: block %zu is out of range or already done",
                        ck->path, block);
  unsigned char *copy = malloc(len > 0 ? len : 1);
  if (copy == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "%s: out of memory", ck->path);
  memcpy(copy, data, len);
  uint64_t b = block, l = len;
  size_t n = sizeof b + sizeof l + len + sizeof(uint32_t);
  unsigned char *rec = malloc(n);
  if (rec == NULL) {
    free(copy);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "%s: out of memory", ck->path);
  }
  memcpy(rec, &b, sizeof b);
  memcpy(rec + sizeof b, &l, sizeof l);
  memcpy(rec + sizeof b + sizeof l, data, len);
  uint32_t crc = crc32_of(rec, sizeof b + sizeof l + len);
  memcpy(rec + sizeof b + sizeof l + len, &crc, sizeof crc);
  int bad = lseek(ck->fd, ck->end, SEEK_SET) < 0 || write_all(ck->fd, rec, n) != 0 ||
            fsync(ck->fd) != 0;
  int e = errno;
  free(rec);
  if (bad) {
    free(copy);
    (void)!ftruncate(ck->fd, ck->end); /* keep the file a sequence of whole records */
    return VALLEY_ERROR(err, VALLEY_EIO, "cannot write '%s': %s", ck->path, strerror(e));
  }
  ck->end += (off_t)n;
  ck->data[block] = copy;
  ck->len[block] = len;
  ck->done++;
  return VALLEY_OK;
}

void valley_runck_close(valley_runck_t *ck, int remove) {
  if (ck == NULL) return;
  if (ck->fd >= 0) close(ck->fd);
  if (remove && ck->path != NULL) unlink(ck->path);
  if (ck->data != NULL)
    for (size_t i = 0; i < ck->nblocks; i++) free(ck->data[i]);
  free(ck->data);
  free(ck->len);
  free(ck->path);
  free(ck);
}

valley_status_t valley_runck_save_state(const char *path, const char *fingerprint,
                                        const void *data, size_t len, valley_error_t *err) {
  size_t hn;
  char *h = header_text(fingerprint, 1, &hn);
  if (h == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory");
  uint64_t b = 0, l = len;
  size_t n = hn + sizeof b + sizeof l + len + sizeof(uint32_t);
  unsigned char *img = malloc(n);
  if (img == NULL) {
    free(h);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory (%zu bytes)", n);
  }
  memcpy(img, h, hn);
  memcpy(img + hn, &b, sizeof b);
  memcpy(img + hn + sizeof b, &l, sizeof l);
  memcpy(img + hn + sizeof b + sizeof l, data, len);
  uint32_t crc = crc32_of(img + hn, sizeof b + sizeof l + len);
  memcpy(img + n - sizeof crc, &crc, sizeof crc);
  free(h);
  valley_status_t st = valley_outfile_write_all(path, img, n, err);
  free(img);
  return st;
}

valley_status_t valley_runck_load_state(const char *path, const char *fingerprint, void **data,
                                        size_t *len, valley_error_t *err) {
  *data = NULL;
  *len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return VALLEY_OK;
    return VALLEY_ERROR(err, VALLEY_EIO, "cannot open '%s': %s", path, strerror(errno));
  }
  unsigned char *img = NULL;
  size_t size = 0, pos = 0;
  valley_status_t st = read_image(path, fd, &img, &size, err);
  close(fd);
  if (st == VALLEY_OK) st = check_header(path, img, size, fingerprint, 1, &pos, err);
  valley_runck_t ck = {(char *)path, -1, 1, 0, NULL, NULL, 0};
  unsigned char *slot = NULL;
  size_t slot_len = 0;
  ck.data = &slot;
  ck.len = &slot_len;
  if (st == VALLEY_OK) st = read_records(&ck, img, size, pos, err);
  if (st == VALLEY_OK && (ck.done != 1 || (size_t)ck.end != size))
    st = VALLEY_ERROR(err, VALLEY_EINVAL, "%s: damaged or cut training state", path);
  free(img);
  if (st != VALLEY_OK) {
    free(slot);
    return st;
  }
  *data = slot;
  *len = slot_len;
  return VALLEY_OK;
}

void valley_runck_remove_stale(const char *path) {
  const char *slash = strrchr(path, '/');
  const char *base = slash != NULL ? slash + 1 : path;
  size_t dl = slash != NULL ? (size_t)(slash - path) : 0, bl = strlen(base);
  char *dir = malloc(dl + 2);
  if (dir == NULL) return;
  if (slash == NULL)
    strcpy(dir, ".");
  else if (dl == 0)
    strcpy(dir, "/");
  else
    memcpy(dir, path, dl), dir[dl] = '\0';
  DIR *d = opendir(dir);
  if (d != NULL) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      size_t n = strlen(e->d_name);
      if (n != bl + 11 || strncmp(e->d_name, base, bl) != 0 ||
          strncmp(e->d_name + bl, ".tmp.", 5) != 0)
        continue;
      size_t fl = strlen(dir) + 1 + n + 1;
      char *full = malloc(fl);
      if (full == NULL) break;
      snprintf(full, fl, "%s/%s", dir, e->d_name);
      unlink(full);
      free(full);
    }
    closedir(d);
  }
  free(dir);
}
