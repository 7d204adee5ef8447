/* Resumable parameter-grid sweeps: the grid spec, the header fingerprint, and the JSON Lines file
 * appended one fsync'ed record per point (docs/sweeps.md). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "valley/sweep.h"
#include "valley/outfile.h"

static char *dup_n(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (d != NULL) {
    memcpy(d, s, n);
    d[n] = '\0';
  }
  return d;
}

void valley_sweep_grid_free(valley_sweep_grid_t *g) {
  for (size_t p = 0; p < g->nparams; p++) {
    for (size_t v = 0; v < g->nvalues[p]; v++) free(g->values[p][v]);
    free(g->values[p]);
  }
  free(g->canonical);
  memset(g, 0, sizeof *g);
}

/* The shortest %.Ng text that reads back to the same double (10, not 1e+01). */
static void number_token(double x, char *buf, size_t n) {
  char t[64];
  buf[0] = '\0';
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(t, sizeof t, "%.*g", prec, x);
    if (strtod(t, NULL) == x && (buf[0] == '\0' || strlen(t) < strlen(buf))) snprintf(buf, n, "%s", t);
  }
}

static int name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '+';
}

#define GRID_FAIL(...)                                                                          \
  do {                                                                                          \
    valley_sweep_grid_free(g);                                                                  \
    return VALLEY_ERROR(err, VALLEY_EINVAL, __VA_ARGS__);                                       \
  } while (0)

valley_status_t valley_sweep_grid_parse(valley_sweep_grid_t *g, const char *spec,
                                        const valley_sweep_param_t *allowed, size_t nallowed,
                                        valley_error_t *err) {
  memset(g, 0, sizeof *g);
  if (spec == NULL || *spec == '\0') GRID_FAIL("empty spec (expected NAME=V1,V2;NAME=...)");
  const char *q = spec;
  g->npoints = 1;
  while (1) {
    const char *semi = strchr(q, ';');
    size_t len = semi ? (size_t)(semi - q) : strlen(q);
    const char *eq = memchr(q, '=', len);
    if (eq == NULL)
      GRID_FAIL("'%.*s' is not NAME=V1,V2,... (parameters are separated by ';')", (int)len, q);
    size_t nlen = (size_t)(eq - q);
    const valley_sweep_param_t *a = NULL;
    for (size_t i = 0; i < nallowed; i++)
      if (strlen(allowed[i].name) == nlen && strncmp(allowed[i].name, q, nlen) == 0) a = &allowed[i];
    if (a == NULL) {
      char list[160] = "";
      for (size_t i = 0; i < nallowed; i++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", allowed[i].name);
      }
      GRID_FAIL("unknown parameter '%.*s' (can sweep: %s)", (int)nlen, q, list);
    }
    for (size_t p = 0; p < g->nparams; p++)
      if (g->name[p] == a->name) GRID_FAIL("parameter '%s' given twice", a->name);
    if (g->nparams == VALLEY_SWEEP_MAXP)
      GRID_FAIL("at most %d parameters", VALLEY_SWEEP_MAXP);
    size_t p = g->nparams++;
    g->name[p] = a->name;
    g->numeric[p] = a->numeric;
    const char *v = eq + 1, *end = q + len;
    size_t cap = 0;
    while (1) {
      const char *comma = memchr(v, ',', (size_t)(end - v));
      const char *ve = comma ? comma : end;
      size_t vlen = (size_t)(ve - v);
      if (vlen == 0) GRID_FAIL("empty value in '%.*s'", (int)len, q);
      char tok[64];
      if (vlen >= sizeof tok) GRID_FAIL("value '%.*s' is too long", (int)vlen, v);
      memcpy(tok, v, vlen);
      tok[vlen] = '\0';
      if (a->numeric) {
        char *e;
        errno = 0;
        double x = strtod(tok, &e);
        if (e == tok || *e != '\0' || errno == ERANGE || !isfinite(x))
          GRID_FAIL("%s=%s is not a finite number", a->name, tok);
        if (x == 0) x = 0; /* -0 -> 0 */
        if (strspn(tok + (tok[0] == '-' || tok[0] == '+'), "0123456789") ==
            vlen - (tok[0] == '-' || tok[0] == '+')) {
          /* an integer: every digit kept (a 64-bit seed is not a double), leading zeros dropped */
          int neg = tok[0] == '-';
          const char *d = tok + (tok[0] == '-' || tok[0] == '+');
          while (d[0] == '0' && d[1] != '\0') d++;
          char t2[64];
          snprintf(t2, sizeof t2, "%s%s", neg && strcmp(d, "0") != 0 ? "-" : "", d);
          memcpy(tok, t2, strlen(t2) + 1);
        } else {
          number_token(x, tok, sizeof tok);
        }
      } else {
        for (size_t i = 0; i < vlen; i++)
          if (!name_char(tok[i])) GRID_FAIL("%s=%s: names use letters, digits and -_.+", a->name, tok);
      }
      if (g->nvalues[p] == cap) {
        cap = cap ? 2 * cap : 8;
        char **nv = realloc(g->values[p], cap * sizeof *nv);
        if (nv == NULL) GRID_FAIL("out of memory");
        g->values[p] = nv;
      }
      if ((g->values[p][g->nvalues[p]] = dup_n(tok, strlen(tok))) == NULL)
        GRID_FAIL("out of memory");
      g->nvalues[p]++;
      if (g->npoints * g->nvalues[p] / g->nvalues[p] != g->npoints ||
          g->npoints > VALLEY_SWEEP_MAXPOINTS)
        GRID_FAIL("more than %d points", VALLEY_SWEEP_MAXPOINTS);
      if (comma == NULL) break;
      v = comma + 1;
    }
    g->npoints *= g->nvalues[p];
    if (g->npoints > VALLEY_SWEEP_MAXPOINTS) GRID_FAIL("more than %d points", VALLEY_SWEEP_MAXPOINTS);
    if (semi == NULL) break;
    q = semi + 1;
  }
  size_t clen = 1;
  for (size_t p = 0; p < g->nparams; p++) {
    clen += strlen(g->name[p]) + 2;
    for (size_t v = 0; v < g->nvalues[p]; v++) clen += strlen(g->values[p][v]) + 1;
  }
  if ((g->canonical = malloc(clen)) == NULL) GRID_FAIL("out of memory");
  char *c = g->canonical;
  for (size_t p = 0; p < g->nparams; p++) {
    c += sprintf(c, "%s%s=", p ? ";" : "", g->name[p]);
    for (size_t v = 0; v < g->nvalues[p]; v++) c += sprintf(c, "%s%s", v ? "," : "", g->values[p][v]);
  }
  return VALLEY_OK;
}

void valley_sweep_grid_point(const valley_sweep_grid_t *g, size_t index, const char **values) {
  for (size_t p = g->nparams; p-- > 0;) {
    values[p] = g->values[p][index % g->nvalues[p]];
    index /= g->nvalues[p];
  }
}

void valley_sweep_grid_describe(const valley_sweep_grid_t *g, size_t index, char *buf, size_t n) {
  const char *v[VALLEY_SWEEP_MAXP];
  valley_sweep_grid_point(g, index, v);
  buf[0] = '\0';
  for (size_t p = 0; p < g->nparams; p++) {
    size_t l = strlen(buf);
    if (l + 1 < n) snprintf(buf + l, n - l, "%s%s=%s", p ? ", " : "", g->name[p], v[p]);
  }
}

/* A compact JSON object built in memory; *out is the text (caller frees). */
typedef struct {
  FILE *f;
  char *text;
  size_t len;
} membuf_t;

static int membuf_open(membuf_t *m) {
  m->text = NULL;
  m->len = 0;
  m->f = open_memstream(&m->text, &m->len);
  return m->f != NULL;
}

static int membuf_close(membuf_t *m) {
  int bad = ferror(m->f);
  bad |= fclose(m->f) != 0;
  if (bad) {
    free(m->text);
    m->text = NULL;
  }
  return !bad;
}

char *valley_sweep_header(const char *command, const valley_sweep_grid_t *g,
                          const char *const *keys, const char *const *values, size_t n) {
  membuf_t m;
  if (!membuf_open(&m)) return NULL;
  valley_json_t j;
  valley_json_begin_compact(&j, m.f);
  valley_json_string(&j, "valley_sweep", command);
  valley_json_string(&j, "grid", g->canonical);
  for (size_t i = 0; i < n; i++) valley_json_string(&j, keys[i], values[i]);
  valley_json_build(&j); /* last: the settings before it stay a flat object of strings */
  valley_json_end(&j);
  return membuf_close(&m) ? m.text : NULL;
}

/* The start of point `index`'s record: {"index":I,"point":{...} */
static char *record_prefix(const valley_sweep_grid_t *g, size_t index, valley_json_t *j,
                           membuf_t *m) {
  const char *v[VALLEY_SWEEP_MAXP];
  valley_sweep_grid_point(g, index, v);
  valley_json_begin_compact(j, m->f);
  valley_json_u64(j, "index", index);
  valley_json_object(j, "point");
  for (size_t p = 0; p < g->nparams; p++) {
    if (g->numeric[p])
      valley_json_raw(j, g->name[p], v[p]);
    else
      valley_json_string(j, g->name[p], v[p]);
  }
  valley_json_object_end(j);
  fflush(m->f);
  return m->text;
}

/* Reads one JSON string at *s (after the quote); the unescaped text goes to out (size n). */
static int read_string(const char **s, char *out, size_t n) {
  const char *p = *s;
  size_t k = 0;
  while (*p && *p != '"') {
    char c = *p++;
    if (c == '\\') {
      c = *p++;
      if (c == 'n') c = '\n';
      else if (c == 'u') { /* control characters only (the writer's \u00XX) */
        /* exactly four hex digits: sscanf's "%4x" took fewer (or a sign, or spaces), and the
         * p += 4 after it then stepped over the string's terminator (tests/fuzz/regress) */
        unsigned u = 0;
        for (int d = 0; d < 4; d++) {
          char h = p[d];
          int x = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10
                  : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
          if (x < 0) return 0;
          u = 16 * u + (unsigned)x;
        }
        c = (char)u;
        p += 4;
      } else if (c == '\0') return 0;
    }
    if (k + 1 < n) out[k++] = c;
  }
  if (*p != '"') return 0;
  out[k] = '\0';
  *s = p + 1;
  return 1;
}

/* Finds key's value in a flat JSON object of strings; 1 when found. */
static int header_get(const char *h, const char *key, char *out, size_t n) {
  const char *p = h;
  if (*p++ != '{') return 0;
  char k[128];
  while (*p == '"') {
    p++;
    if (!read_string(&p, k, sizeof k) || *p++ != ':' || *p++ != '"') return 0;
    if (!read_string(&p, out, n)) return 0;
    if (strcmp(k, key) == 0) return 1;
    if (*p == ',') p++;
  }
  return 0;
}

/* Names the first setting in which two headers differ. */
static void header_diff(const char *path, const char *old, const char *cur, valley_error_t *err) {
  const char *p = cur + 1;
  char k[128], vc[1024], vo[1024];
  while (*p == '"') {
    p++;
    if (!read_string(&p, k, sizeof k)) break;
    if (strcmp(k, "build") == 0) { /* the settings agree; the build object (last) does not */
      const char *bo = strstr(old, ",\"build\":{");
      VALLEY_ERROR(err, VALLEY_EINVAL, "%s was written by %s build of valley (its header's "
                   "\"build\" %s) and another build may not give the same bytes; use another "
                   "--out or remove it", path, bo ? "another" : "an older",
                   bo ? "differs from this binary's" : "is missing");
      return;
    }
    if (*p++ != ':' || *p++ != '"' || !read_string(&p, vc, sizeof vc)) break;
    if (!header_get(old, k, vo, sizeof vo)) {
      VALLEY_ERROR(err, VALLEY_EINVAL, "%s holds a different sweep: it has no setting '%s' (this "
                   "run: %s); use another --out or remove it", path, k, vc);
      return;
    }
    if (strcmp(vo, vc) != 0) {
      VALLEY_ERROR(err, VALLEY_EINVAL, "%s holds a different sweep: %s is '%s' there but '%s' in "
                   "this run; use another --out or remove it", path, k, vo, vc);
      return;
    }
    if (*p == ',') p++;
  }
  VALLEY_ERROR(err, VALLEY_EINVAL, "%s holds a different sweep (its header has settings this run "
               "does not); use another --out or remove it", path);
}

static valley_status_t write_all(int fd, const char *s, size_t n, const char *path,
                                 valley_error_t *err) {
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return VALLEY_ERROR(err, VALLEY_EIO, "%s: write: %s", path, strerror(errno));
    s += w;
    n -= (size_t)w;
  }
  if (fsync(fd) != 0) return VALLEY_ERROR(err, VALLEY_EIO, "%s: fsync: %s", path, strerror(errno));
  return VALLEY_OK;
}

/* Reads the whole file (NUL-terminated) into *buf. */
static valley_status_t slurp(int fd, const char *path, char **buf, size_t *len, valley_error_t *err) {
  struct stat sb;
  if (fstat(fd, &sb) != 0) return VALLEY_ERROR(err, VALLEY_EIO, "%s: %s", path, strerror(errno));
  size_t n = (size_t)sb.st_size, got = 0;
  if ((*buf = malloc(n + 1)) == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "%s: out of memory", path);
  while (got < n) {
    ssize_t r = read(fd, *buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      free(*buf);
      return VALLEY_ERROR(err, VALLEY_EIO, "%s: read: %s", path, r < 0 ? strerror(errno) : "short");
    }
    got += (size_t)r;
  }
  (*buf)[n] = '\0';
  *len = n;
  return VALLEY_OK;
}

/* Checks the existing records; *keep = bytes of the file that stay, *nrec = records in them. */
static valley_status_t scan(const valley_sweep_t *s, const char *buf, size_t len, size_t *keep,
                            size_t *nrec, valley_error_t *err) {
  *keep = 0;
  *nrec = 0;
  if (memchr(buf, '\0', len) != NULL)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%s is not a valley sweep file (binary data)", s->path);
  const char *nl = memchr(buf, '\n', len);
  size_t hlen = strlen(s->header);
  if (nl == NULL) { /* only a torn header: it must be the start of ours */
    if (len > hlen || memcmp(buf, s->header, len) != 0)
      return VALLEY_ERROR(err, VALLEY_EINVAL, "%s is not a valley sweep file (no header line)",
                          s->path);
    return VALLEY_OK;
  }
  size_t l0 = (size_t)(nl - buf);
  if (strncmp(buf, "{\"valley_sweep\":", 16) != 0)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%s is not a valley sweep file (its first line is not "
                        "a sweep header)", s->path);
  if (l0 != hlen || memcmp(buf, s->header, hlen) != 0) {
    char *old = dup_n(buf, l0);
    if (old == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory");
    header_diff(s->path, old, s->header, err);
    free(old);
    return VALLEY_EINVAL;
  }
  size_t pos = l0 + 1;
  while (pos < len) {
    const char *e = memchr(buf + pos, '\n', len - pos);
    if (e == NULL) break; /* a torn record: cut away */
    size_t rl = (size_t)(e - (buf + pos));
    if (*nrec >= s->grid->npoints)
      return VALLEY_ERROR(err, VALLEY_EINVAL, "%s has more records than the grid's %zu points",
                          s->path, s->grid->npoints);
    membuf_t m;
    if (!membuf_open(&m)) return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory");
    valley_json_t j;
    const char *pre = record_prefix(s->grid, *nrec, &j, &m);
    size_t pl = pre ? strlen(pre) : 0;
    int ok = pre != NULL && rl > pl + 1 && memcmp(buf + pos, pre, pl) == 0 &&
             (buf[pos + pl] == ',' || buf[pos + pl] == '}') && buf[pos + rl - 1] == '}';
    membuf_close(&m);
    free(m.text);
    if (!ok)
      return VALLEY_ERROR(err, VALLEY_EINVAL, "%s: line %zu is not the record of grid point %zu; "
                          "the file is damaged (remove it to start again)", s->path, *nrec + 2,
                          *nrec);
    (*nrec)++;
    pos += rl + 1;
    *keep = pos;
  }
  if (*keep == 0) *keep = l0 + 1;
  return VALLEY_OK;
}

valley_status_t valley_sweep_open(const valley_sweep_t *s, valley_sweep_file_t *f,
                                  size_t *resumed, valley_error_t *err) {
  *resumed = 0;
  f->fd = open(s->path, O_RDWR | O_CREAT, 0644);
  if (f->fd < 0) return VALLEY_ERROR(err, VALLEY_EIO, "%s: %s", s->path, strerror(errno));
  int fd = f->fd;
  /* One sweep per file at a time: a second process appending would interleave records. */
  if (flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
    close(fd); /* (file systems without flock, ENOLCK/ENOSYS: go on unlocked) */
    f->fd = -1;
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%s is being written by another sweep", s->path);
  }
  char *buf = NULL;
  size_t len = 0, keep = 0, nrec = 0;
  valley_status_t st = slurp(fd, s->path, &buf, &len, err);
  if (st == VALLEY_OK) st = scan(s, buf, len, &keep, &nrec, err);
  free(buf);
  if (st == VALLEY_OK && keep < len && ftruncate(fd, (off_t)keep) != 0)
    st = VALLEY_ERROR(err, VALLEY_EIO, "%s: truncate: %s", s->path, strerror(errno));
  if (st == VALLEY_OK && lseek(fd, (off_t)keep, SEEK_SET) < 0)
    st = VALLEY_ERROR(err, VALLEY_EIO, "%s: seek: %s", s->path, strerror(errno));
  if (st == VALLEY_OK && keep == 0) { /* a new file (or a torn header): the header first */
    size_t hl = strlen(s->header);
    char *h = malloc(hl + 2);
    if (h == NULL) st = VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory");
    else {
      memcpy(h, s->header, hl);
      h[hl] = '\n';
      st = write_all(fd, h, hl + 1, s->path, err);
      free(h);
      if (st == VALLEY_OK) valley_fsync_parent(s->path); /* the new file's directory entry */
    }
  }
  if (st != VALLEY_OK) {
    close(fd);
    f->fd = -1;
    return st;
  }
  *resumed = nrec;
  return VALLEY_OK;
}

valley_status_t valley_sweep_record(const valley_sweep_t *s, size_t i, char **line, size_t *len,
                                    int *failed, valley_error_t *err) {
  *line = NULL;
  *len = 0;
  *failed = 0;
  membuf_t m;
  if (!membuf_open(&m)) return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory");
  valley_json_t j;
  record_prefix(s->grid, i, &j, &m);
  const char *v[VALLEY_SWEEP_MAXP];
  valley_sweep_grid_point(s->grid, i, v);
  valley_status_t st = s->point(i, v, &j, s->arg, err);
  if (st == VALLEY_EINVAL || st == VALLEY_EDOM || st == VALLEY_ENOROOT || st == VALLEY_ENUMERIC) {
    /* the parameters' fault, not the run's (numerical trouble included: a T too small, SGD that
     * blows up at that point): the point's record says so and the sweep goes on */
    fclose(m.f);
    free(m.text);
    if (!membuf_open(&m)) return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory");
    record_prefix(s->grid, i, &j, &m);
    valley_json_string(&j, "error", err->message);
    *failed = 1;
    st = VALLEY_OK;
  }
  valley_json_end(&j);
  fputc('\n', m.f);
  if (!membuf_close(&m) && st == VALLEY_OK) st = VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory");
  if (st != VALLEY_OK) {
    free(m.text);
    return st;
  }
  *line = m.text;
  *len = m.len;
  return VALLEY_OK;
}

valley_status_t valley_sweep_append(const valley_sweep_t *s, valley_sweep_file_t *f,
                                    const char *line, size_t len, valley_error_t *err) {
  return write_all(f->fd, line, len, s->path, err);
}

valley_status_t valley_sweep_close(const valley_sweep_t *s, valley_sweep_file_t *f,
                                   valley_error_t *err) {
  int bad = f->fd >= 0 && close(f->fd) != 0;
  f->fd = -1;
  if (bad) return VALLEY_ERROR(err, VALLEY_EIO, "%s: close: %s", s->path, strerror(errno));
  return VALLEY_OK;
}

void valley_sweep_point_done(const valley_sweep_t *s, size_t i, size_t resumed, int failed,
                             const char *message) {
  if (s->progress == NULL) return;
  char desc[512];
  valley_sweep_grid_describe(s->grid, i, desc, sizeof desc);
  if (failed) {
    size_t l = strlen(desc);
    snprintf(desc + l, sizeof desc - l, "; error: %s", message);
  }
  s->progress(i + 1, s->grid->npoints, resumed, desc, s->arg);
}

valley_status_t valley_sweep_run(const valley_sweep_t *s, size_t *resumed, size_t *done,
                                 valley_error_t *err) {
  *resumed = *done = 0;
  valley_sweep_file_t f;
  size_t nrec;
  valley_status_t st = valley_sweep_open(s, &f, &nrec, err);
  if (st != VALLEY_OK) return st;
  *resumed = *done = nrec;
  if (s->progress) s->progress(nrec, s->grid->npoints, nrec, NULL, s->arg);
  for (size_t i = nrec; st == VALLEY_OK && i < s->grid->npoints; i++) {
    if (s->stop != NULL && *s->stop) {
      st = VALLEY_ERROR(err, VALLEY_ECANCEL, "interrupted");
      break;
    }
    char *line;
    size_t len;
    int failed;
    st = valley_sweep_record(s, i, &line, &len, &failed, err);
    if (st == VALLEY_OK) st = valley_sweep_append(s, &f, line, len, err);
    free(line);
    if (st != VALLEY_OK) break;
    *done = i + 1;
    valley_sweep_point_done(s, i, nrec, failed, err->message);
  }
  valley_status_t cst = valley_sweep_close(s, &f, st == VALLEY_OK ? err : NULL);
  return st != VALLEY_OK ? st : cst;
}
