/* .safetensors for the MLP: PyTorch-style tensor names, a strict parser for the JSON header, and
 * the same atomic writes as valley's own checkpoints (sim/checkpoint.c).  docs/checkpoints.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "valley/checkpoint.h"
#include "netio_internal.h"
#include "valley/outfile.h"

#define ST_MAX_HEADER (100u << 20) /* 100 MiB, as the safetensors reference implementation */
#define ST_MAX_TENSORS (6 * VALLEY_MLP_MAX_LAYERS)
#define BAD(...) (st = VALLEY_ERROR(err, VALLEY_EINVAL, __VA_ARGS__))

/* ---- safetensors ---------------------------------------------------------------------------- */

enum { ST_PARAMS = 0, ST_MEAN = 1, ST_VAR = 2, ST_FOLD = 3 }; /* where a tensor goes */

typedef struct {
  char name[40];
  int target;            /* ST_* */
  size_t offset, length; /* in the target array */
  size_t ndims, shape[4];
  int optional;          /* ST_FOLD: a PyTorch bias before BN, may be absent */
} st_spec_t;

/* The tensors of net in file order: per layer its segments (renamed), then the BN buffers; plus
 * the optional fc{l}.bias of BN layers (ST_FOLD, never written). */
static size_t st_specs(const valley_mlp_t *net, st_spec_t *sp) {
  size_t k = 0;
  int cnn = net->cfg.arch == VALLEY_ARCH_CNN;
  for (size_t l = 0; l < net->cfg.n_layers; l++) {
    size_t out = net->cfg.widths[l + 1];
    /* the CNN's first two layers are nn.Conv2d modules conv{l} */
    int conv = cnn && l + 1 < net->cfg.n_layers;
    for (size_t s = 0; s < net->n_segments; s++) {
      const valley_net_segment_t *g = &net->segments[s];
      if (g->layer != l) continue;
      st_spec_t *t = &sp[k++];
      memset(t, 0, sizeof *t);
      const char *nm = g->kind == VALLEY_NET_WEIGHT     ? (conv ? "conv%zu.weight" : "fc%zu.weight")
                       : g->kind == VALLEY_NET_BIAS     ? (conv ? "conv%zu.bias" : "fc%zu.bias")
                       : g->kind == VALLEY_NET_BN_SCALE ? "bn%zu.weight"
                                                        : "bn%zu.bias";
      snprintf(t->name, sizeof t->name, nm, l + 1);
      t->target = ST_PARAMS;
      t->offset = g->offset;
      t->length = g->length;
      t->ndims = g->ndims;
      for (size_t d = 0; d < 4; d++) t->shape[d] = d < g->ndims ? g->shape[d] : 0;
    }
    if (net->cfg.batch_norm && l + 1 < net->cfg.n_layers) {
      for (int j = 0; j < 3; j++) {
        st_spec_t *t = &sp[k++];
        memset(t, 0, sizeof *t);
        snprintf(t->name, sizeof t->name,
                 j == 0   ? "bn%zu.running_mean"
                 : j == 1 ? "bn%zu.running_var"
                 : conv   ? "conv%zu.bias"
                          : "fc%zu.bias",
                 l + 1);
        t->target = j == 0 ? ST_MEAN : j == 1 ? ST_VAR : ST_FOLD;
        t->optional = j == 2;
        t->offset = net->bn_off[l];
        t->length = out;
        t->ndims = 1;
        t->shape[0] = out;
      }
    }
  }
  return k;
}

static void json_puts(buf_t *b, const char *s) { buf_put(b, s, strlen(s)); }

valley_status_t valley_safetensors_save(const char *path, const valley_mlp_t *net,
                                        const float *params, valley_error_t *err) {
  if (path == NULL || net == NULL || params == NULL)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "path, net and params must not be NULL");
  st_spec_t sp[ST_MAX_TENSORS];
  size_t nt = st_specs(net, sp);
  buf_t h = {0}, b = {0};
  char tmp[160];
  json_puts(&h, "{\"__metadata__\":{\"format\":\"pt\",\"valley.architecture\":\"");
  json_puts(&h, valley_arch_name(net->cfg.arch));
  json_puts(&h, "\",");
  if (net->cfg.arch == VALLEY_ARCH_CNN) {
    snprintf(tmp, sizeof tmp, "\"valley.image\":\"%zu,%zu,%zu\",", net->cfg.in_channels,
             net->cfg.height, net->cfg.width);
    json_puts(&h, tmp);
  }
  json_puts(&h, "\"valley.widths\":\"");
  for (size_t l = 0; l <= net->cfg.n_layers; l++) {
    snprintf(tmp, sizeof tmp, "%s%zu", l ? "," : "", net->cfg.widths[l]);
    json_puts(&h, tmp);
  }
  snprintf(tmp, sizeof tmp, "\",\"valley.batch_norm\":\"%d\",\"valley.bn_eps\":\"%.17g\","
           "\"valley.bn_momentum\":\"%.17g\"}", net->cfg.batch_norm ? 1 : 0, net->cfg.bn_eps,
           net->cfg.bn_momentum);
  json_puts(&h, tmp);
  size_t off = 0;
  for (size_t i = 0; i < nt; i++) {
    if (sp[i].target == ST_FOLD) continue;
    json_puts(&h, ",\"");
    json_puts(&h, sp[i].name);
    json_puts(&h, "\":{\"dtype\":\"F32\",\"shape\":[");
    for (size_t d = 0; d < sp[i].ndims; d++) {
      snprintf(tmp, sizeof tmp, "%s%zu", d ? "," : "", sp[i].shape[d]);
      json_puts(&h, tmp);
    }
    json_puts(&h, "],");
    snprintf(tmp, sizeof tmp, "\"data_offsets\":[%zu,%zu]}", off, off + 4 * sp[i].length);
    json_puts(&h, tmp);
    off += 4 * sp[i].length;
  }
  json_puts(&h, "}");
  while (h.n % 8 != 0) json_puts(&h, " "); /* data starts 8-byte aligned, as safetensors pads */
  if (!h.oom) {
    put_u64(&b, h.n);
    buf_put(&b, h.p, h.n);
  }
  for (size_t i = 0; i < nt && !h.oom; i++) {
    const float *src = sp[i].target == ST_PARAMS ? params
                       : sp[i].target == ST_MEAN ? net->running_mean
                                                 : net->running_var;
    if (sp[i].target != ST_FOLD) put_f32s(&b, src + sp[i].offset, sp[i].length);
  }
  valley_status_t st;
  if (h.oom || b.oom)
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory writing '%s'", path);
  else
    st = valley_outfile_write_all(path, b.p, b.n, err);
  free(h.p);
  free(b.p);
  return st;
}

/* A strict JSON reader for the header: objects, arrays of non-negative integers, strings. */
typedef struct {
  const char *s;
  size_t i, n;
  const char *path;
  valley_error_t *err;
} json_t;

#define JBAD(j, what) \
  VALLEY_ERROR((j)->err, VALLEY_EINVAL, "'%s': bad safetensors header: %s at byte %zu", \
               (j)->path, (what), (j)->i)

static void jws(json_t *j) {
  while (j->i < j->n &&
         (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' || j->s[j->i] == '\r'))
    j->i++;
}

static valley_status_t jchar(json_t *j, char c) {
  jws(j);
  if (j->i >= j->n || j->s[j->i] != c) {
    char what[32];
    snprintf(what, sizeof what, "expected '%c'", c);
    return JBAD(j, what);
  }
  j->i++;
  return VALLEY_OK;
}

static int jpeek(json_t *j, char c) {
  jws(j);
  return j->i < j->n && j->s[j->i] == c;
}

/* A string into out (at most cap - 1 bytes; longer is an error; out NULL: checked, not kept).
 * Escapes: \" \\ \/ \b \f \n \r \t and \u00XX below 0x80; control characters and other
 * escapes are rejected. */
static valley_status_t jstring(json_t *j, char *out, size_t cap) {
  valley_status_t st = jchar(j, '"');
  if (st != VALLEY_OK) return st;
  size_t k = 0;
  for (;;) {
    if (j->i >= j->n) return JBAD(j, "unterminated string");
    unsigned char c = (unsigned char)j->s[j->i++];
    if (c == '"') break;
    if (c < 0x20) return JBAD(j, "control character in string");
    if (c == '\\') {
      if (j->i >= j->n) return JBAD(j, "unterminated string");
      char e = j->s[j->i++];
      const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
      const char *q = e ? strchr(from, e) : NULL;
      if (q != NULL) {
        c = (unsigned char)to[q - from];
      } else if (e == 'u') {
        unsigned v = 0;
        for (int d = 0; d < 4; d++, j->i++) {
          if (j->i >= j->n) return JBAD(j, "bad \\u escape");
          char h = j->s[j->i];
          int x = h >= '0' && h <= '9' ? h - '0'
                  : h >= 'a' && h <= 'f' ? h - 'a' + 10
                  : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                         : -1;
          if (x < 0) return JBAD(j, "bad \\u escape");
          v = v * 16 + (unsigned)x;
        }
        if (v == 0 || v >= 0x80) return JBAD(j, "unsupported \\u escape (only ASCII)");
        c = (unsigned char)v;
      } else {
        return JBAD(j, "bad escape in string");
      }
    }
    if (out == NULL) continue; /* skipped (metadata values): any length */
    if (k + 1 >= cap) return JBAD(j, "string too long");
    out[k++] = (char)c;
  }
  if (out != NULL) out[k] = '\0';
  return VALLEY_OK;
}

/* A non-negative integer without sign, fraction, exponent or leading zeros. */
static valley_status_t juint(json_t *j, uint64_t *v) {
  jws(j);
  if (j->i >= j->n || j->s[j->i] < '0' || j->s[j->i] > '9') return JBAD(j, "expected an integer");
  if (j->s[j->i] == '0' && j->i + 1 < j->n && j->s[j->i + 1] >= '0' && j->s[j->i + 1] <= '9')
    return JBAD(j, "leading zero");
  uint64_t x = 0;
  while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9') {
    unsigned d = (unsigned)(j->s[j->i] - '0');
    if (x > (UINT64_MAX - d) / 10) return JBAD(j, "integer too large");
    x = x * 10 + d;
    j->i++;
  }
  if (j->i < j->n && (j->s[j->i] == '.' || j->s[j->i] == 'e' || j->s[j->i] == 'E'))
    return JBAD(j, "expected an integer");
  *v = x;
  return VALLEY_OK;
}

/* [u, u, ...] with at most cap entries. */
static valley_status_t juints(json_t *j, uint64_t *v, size_t cap, size_t *n) {
  valley_status_t st = jchar(j, '[');
  *n = 0;
  if (st != VALLEY_OK) return st;
  if (jpeek(j, ']')) return jchar(j, ']');
  for (;;) {
    if (*n >= cap) return JBAD(j, "array too long");
    if ((st = juint(j, &v[(*n)++])) != VALLEY_OK) return st;
    if (jpeek(j, ',')) {
      j->i++;
      continue;
    }
    return jchar(j, ']');
  }
}

typedef struct {
  char name[64], dtype[16];
  size_t ndims;
  uint64_t shape[4], begin, end;
} st_entry_t;

/* {"dtype": ..., "shape": [...], "data_offsets": [b, e]}, each key exactly once. */
static valley_status_t jtensor(json_t *j, st_entry_t *t) {
  valley_status_t st = jchar(j, '{');
  int seen[3] = {0, 0, 0};
  if (st != VALLEY_OK) return st;
  for (;;) {
    char key[32];
    if ((st = jstring(j, key, sizeof key)) != VALLEY_OK) return st;
    if ((st = jchar(j, ':')) != VALLEY_OK) return st;
    int which = strcmp(key, "dtype") == 0 ? 0 : strcmp(key, "shape") == 0 ? 1
                : strcmp(key, "data_offsets") == 0 ? 2 : -1;
    if (which < 0) return JBAD(j, "unknown key in tensor entry");
    if (seen[which]++) return JBAD(j, "duplicate key in tensor entry");
    if (which == 0) {
      st = jstring(j, t->dtype, sizeof t->dtype);
    } else if (which == 1) {
      st = juints(j, t->shape, 4, &t->ndims);
    } else {
      uint64_t o[2];
      size_t no;
      st = juints(j, o, 2, &no);
      if (st == VALLEY_OK && no != 2) return JBAD(j, "data_offsets needs two integers");
      t->begin = o[0];
      t->end = o[1];
    }
    if (st != VALLEY_OK) return st;
    if (jpeek(j, ',')) {
      j->i++;
      continue;
    }
    if ((st = jchar(j, '}')) != VALLEY_OK) return st;
    break;
  }
  if (!seen[0] || !seen[1] || !seen[2])
    return JBAD(j, "tensor entry lacks dtype, shape or data_offsets");
  return VALLEY_OK;
}

/* {"k": "v", ...} */
static valley_status_t jmetadata(json_t *j) {
  valley_status_t st = jchar(j, '{');
  if (st != VALLEY_OK || jpeek(j, '}')) return st != VALLEY_OK ? st : jchar(j, '}');
  for (;;) {
    if ((st = jstring(j, NULL, 0)) != VALLEY_OK || (st = jchar(j, ':')) != VALLEY_OK ||
        (st = jstring(j, NULL, 0)) != VALLEY_OK)
      return st;
    if (jpeek(j, ',')) {
      j->i++;
      continue;
    }
    return jchar(j, '}');
  }
}

static valley_status_t jheader(json_t *j, st_entry_t *e, size_t cap, size_t *n) {
  valley_status_t st = jchar(j, '{');
  int meta = 0;
  *n = 0;
  if (st != VALLEY_OK) return st;
  if (!jpeek(j, '}')) {
    for (;;) {
      char key[64];
      if ((st = jstring(j, key, sizeof key)) != VALLEY_OK || (st = jchar(j, ':')) != VALLEY_OK)
        return st;
      if (strcmp(key, "__metadata__") == 0) {
        if (meta++) return JBAD(j, "duplicate __metadata__");
        st = jmetadata(j);
      } else {
        for (size_t k = 0; k < *n; k++)
          if (strcmp(e[k].name, key) == 0) return JBAD(j, "duplicate tensor name");
        if (*n >= cap) return JBAD(j, "too many tensors");
        memset(&e[*n], 0, sizeof e[*n]);
        memcpy(e[*n].name, key, sizeof key);
        st = jtensor(j, &e[(*n)++]);
      }
      if (st != VALLEY_OK) return st;
      if (jpeek(j, ',')) {
        j->i++;
        continue;
      }
      break;
    }
  }
  if ((st = jchar(j, '}')) != VALLEY_OK) return st;
  jws(j);
  if (j->i != j->n) return JBAD(j, "trailing characters after the header object");
  return VALLEY_OK;
}

static int cmp_begin(const void *a, const void *b) {
  const st_entry_t *x = *(const st_entry_t *const *)a, *y = *(const st_entry_t *const *)b;
  return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : 0;
}

static void shape_str(char *s, size_t cap, size_t nd, const uint64_t *sh) {
  size_t k = (size_t)snprintf(s, cap, "[");
  for (size_t d = 0; d < nd && k < cap; d++)
    k += (size_t)snprintf(s + k, cap - k, "%s%llu", d ? ", " : "", (unsigned long long)sh[d]);
  if (k < cap) snprintf(s + k, cap - k, "]");
}

static valley_status_t st_apply(const char *path, const unsigned char *p, size_t n,
                                valley_mlp_t *net, float *params, valley_error_t *err) {
  valley_status_t st = VALLEY_OK;
  if (n < 8) return BAD("'%s': too short for a safetensors header length (%zu bytes)", path, n);
  uint64_t hn = get_u64(p);
  if (hn > n - 8)
    return BAD("'%s': header length %llu exceeds the file (%zu bytes)", path,
               (unsigned long long)hn, n);
  if (hn > ST_MAX_HEADER)
    return BAD("'%s': header length %llu over the limit", path, (unsigned long long)hn);
  st_entry_t ent[ST_MAX_TENSORS + 8];
  size_t ne;
  json_t j = {(const char *)p + 8, 0, (size_t)hn, path, err};
  if ((st = jheader(&j, ent, sizeof ent / sizeof ent[0], &ne)) != VALLEY_OK) return st;
  const unsigned char *data = p + 8 + hn;
  size_t dn = n - 8 - (size_t)hn;
  const st_entry_t *sorted[ST_MAX_TENSORS + 8];
  for (size_t k = 0; k < ne; k++) {
    st_entry_t *t = &ent[k];
    sorted[k] = t;
    if (t->begin > t->end || t->end > dn)
      return BAD("'%s': tensor %s: data_offsets [%llu, %llu] out of range (data is %zu bytes)",
                 path, t->name, (unsigned long long)t->begin, (unsigned long long)t->end, dn);
    size_t len = strlen(t->name), sz;
    int counter = len > 20 && strcmp(t->name + len - 20, ".num_batches_tracked") == 0;
    if (strcmp(t->dtype, "F32") == 0)
      sz = 4;
    else if (counter && strcmp(t->dtype, "I64") == 0)
      sz = 8;
    else if (counter && strcmp(t->dtype, "I32") == 0)
      sz = 4;
    else
      return BAD("'%s': tensor %s: dtype %s, only F32 is supported", path, t->name, t->dtype);
    uint64_t count = 1;
    for (size_t d = 0; d < t->ndims; d++)
      count = t->shape[d] != 0 && count > UINT64_MAX / 8 / t->shape[d] ? UINT64_MAX / 8
                                                                       : count * t->shape[d];
    if (count * sz != t->end - t->begin)
      return BAD("'%s': tensor %s: data_offsets [%llu, %llu] do not match its shape", path,
                 t->name, (unsigned long long)t->begin, (unsigned long long)t->end);
  }
  qsort(sorted, ne, sizeof sorted[0], cmp_begin);
  /* each non-empty tensor against the furthest-reaching non-empty one before it (comparing
   * neighbours only missed A = [0, 8), C = [4, 12) with an empty B = [4, 4) sorted between) */
  const st_entry_t *reach = NULL;
  for (size_t k = 0; k < ne; k++) {
    if (sorted[k]->begin == sorted[k]->end) continue;
    if (reach != NULL && sorted[k]->begin < reach->end)
      return BAD("'%s': tensors %s and %s overlap", path, reach->name, sorted[k]->name);
    if (reach == NULL || sorted[k]->end > reach->end) reach = sorted[k];
  }

  st_spec_t sp[ST_MAX_TENSORS];
  size_t nt = st_specs(net, sp);
  int found[ST_MAX_TENSORS] = {0};
  for (size_t k = 0; k < ne; k++) {
    const st_entry_t *t = &ent[k];
    size_t i = 0;
    while (i < nt && strcmp(sp[i].name, t->name) != 0) i++;
    if (i == nt) {
      size_t len = strlen(t->name);
      if (len > 20 && strcmp(t->name + len - 20, ".num_batches_tracked") == 0) continue;
      return BAD("'%s': unexpected tensor %s for this network", path, t->name);
    }
    if (strcmp(t->dtype, "F32") != 0)
      return BAD("'%s': tensor %s: dtype %s, only F32 is supported", path, t->name, t->dtype);
    uint64_t want[4];
    int same = t->ndims == sp[i].ndims;
    for (size_t d = 0; d < sp[i].ndims; d++) {
      want[d] = sp[i].shape[d];
      if (same && t->shape[d] != want[d]) same = 0;
    }
    if (!same) {
      char a[64], b[64];
      shape_str(a, sizeof a, t->ndims, t->shape);
      shape_str(b, sizeof b, sp[i].ndims, want);
      return BAD("'%s': tensor %s: shape %s, network expects %s", path, t->name, a, b);
    }
    found[i] = (int)k + 1;
  }
  for (size_t i = 0; i < nt; i++)
    if (!found[i] && !sp[i].optional) return BAD("'%s': missing tensor %s", path, sp[i].name);

  size_t half = net->n_buffers / 2;
  float *np_ = malloc((net->n_params + 2 * half + 1) * sizeof *np_);
  if (np_ == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory reading '%s'", path);
  float *rm = np_ + net->n_params, *rv = rm + half;
  for (size_t i = 0; i < nt; i++) {
    if (!found[i] || sp[i].target == ST_FOLD) continue;
    float *dst = sp[i].target == ST_PARAMS ? np_ : sp[i].target == ST_MEAN ? rm : rv;
    get_f32s(dst + sp[i].offset, data + ent[found[i] - 1].begin, sp[i].length);
  }
  /* BN(W a + b) with running mean m is BN(W a) with running mean m - b (and, in training mode,
   * batch statistics cancel b exactly), so a PyTorch bias before BN folds into the mean. */
  for (size_t i = 0; i < nt; i++) {
    if (!found[i] || sp[i].target != ST_FOLD) continue;
    float *b = malloc(sp[i].length * sizeof *b + 1);
    if (b == NULL) {
      free(np_);
      return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory reading '%s'", path);
    }
    get_f32s(b, data + ent[found[i] - 1].begin, sp[i].length);
    for (size_t k = 0; k < sp[i].length; k++) rm[sp[i].offset + k] -= b[k];
    free(b);
  }
  memcpy(params, np_, net->n_params * sizeof *params);
  if (half) {
    memcpy(net->running_mean, rm, half * sizeof *rm);
    memcpy(net->running_var, rv, half * sizeof *rv);
  }
  free(np_);
  return VALLEY_OK;
}

valley_status_t valley_safetensors_load(const char *path, valley_mlp_t *net, float *params,
                                        valley_error_t *err) {
  if (path == NULL || net == NULL || params == NULL)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "path, net and params must not be NULL");
  unsigned char *p;
  size_t n;
  valley_status_t st = valley_netio_read_all(path, &p, &n, err);
  if (st != VALLEY_OK) return st;
  st = st_apply(path, p, n, net, params, err);
  free(p);
  return st;
}
