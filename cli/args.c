/* valley command line: option parsing and --help from one table per command. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "cli.h"

int cli_usage_error(const char *cmd, const char *fmt, ...) {
  fprintf(stderr, "valley %s: ", cmd);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return CLI_EXIT_USAGE;
}

static int parse_double(const char *s, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end != '\0' || !isfinite(v)) return -1;
  *out = v;
  return 0;
}

/* A nonnegative integer, also written as 1e6 (an exact integer below 2^64). */
static int parse_u64(const char *s, uint64_t *out) {
  if (*s == '\0' || *s == '-' || *s == '+') return -1;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (*end == '\0' && end != s && errno == 0) {
    *out = v;
    return 0;
  }
  double d;
  if (parse_double(s, &d) != 0 || d < 0 || d >= 18446744073709551616.0 || d != floor(d)) return -1;
  *out = (uint64_t)d;
  return 0;
}

int cli_opt_set(const char *cmd, cli_opt_t *o, const char *val) {
  uint64_t u;
  switch (o->kind) {
  case OPT_DOUBLE:
    if (parse_double(val, (double *)o->target) != 0)
      return cli_usage_error(cmd, "%s must be a finite number (got '%s')", o->flag, val);
    break;
  case OPT_U64:
  case OPT_SIZE:
  case OPT_INT:
    if (parse_u64(val, &u) != 0)
      return cli_usage_error(cmd, "%s must be a nonnegative integer (got '%s')", o->flag, val);
    if (o->kind == OPT_U64) {
      *(uint64_t *)o->target = u;
    } else if (o->kind == OPT_SIZE) {
      if (u > SIZE_MAX) return cli_usage_error(cmd, "%s is too large (got '%s')", o->flag, val);
      *(size_t *)o->target = (size_t)u;
    } else {
      if (u > 4096) return cli_usage_error(cmd, "%s must be at most 4096 (got '%s')", o->flag, val);
      *(int *)o->target = (int)u;
    }
    break;
  case OPT_STRING:
    if (*val == '\0') return cli_usage_error(cmd, "%s must not be empty", o->flag);
    *(const char **)o->target = val;
    break;
  case OPT_FLAG:
    *(int *)o->target = 1;
    break;
  }
  return 0;
}

void cli_opt_format(const cli_opt_t *o, char *buf, size_t n) {
  switch (o->kind) {
  case OPT_DOUBLE: snprintf(buf, n, "%.17g", *(const double *)o->target); break;
  case OPT_U64: snprintf(buf, n, "%" PRIu64, *(const uint64_t *)o->target); break;
  case OPT_SIZE: snprintf(buf, n, "%zu", *(const size_t *)o->target); break;
  case OPT_INT:
  case OPT_FLAG: snprintf(buf, n, "%d", *(const int *)o->target); break;
  case OPT_STRING: {
    const char *s = *(const char *const *)o->target;
    snprintf(buf, n, "%s", s ? s : "");
    break;
  }
  }
}

static cli_opt_t *find(cli_opt_t *opts, size_t n, const char *flag, size_t len) {
  for (size_t i = 0; i < n; i++)
    if (strlen(opts[i].flag) == len && strncmp(opts[i].flag, flag, len) == 0) return &opts[i];
  return NULL;
}

int cli_parse(const char *cmd, int argc, char **argv, cli_opt_t *opts, size_t nopts) {
  for (int i = 0; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) return 1;
    if (strncmp(arg, "--", 2) != 0)
      return cli_usage_error(cmd, "unexpected argument '%s' (see valley %s --help)", arg, cmd);
    const char *eq = strchr(arg, '=');
    size_t len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
    cli_opt_t *o = find(opts, nopts, arg, len);
    if (o == NULL)
      return cli_usage_error(cmd, "unknown option '%.*s' (see valley %s --help)", (int)len, arg,
                             cmd);
    if (o->given) return cli_usage_error(cmd, "%s given twice", o->flag);
    o->given = 1;
    if (o->kind == OPT_FLAG) {
      if (eq != NULL) return cli_usage_error(cmd, "%s takes no value", o->flag);
      *(int *)o->target = 1;
      continue;
    }
    const char *val;
    if (eq != NULL) {
      val = eq + 1;
    } else {
      if (i + 1 >= argc) return cli_usage_error(cmd, "%s needs a value (%s)", o->flag, o->meta);
      val = argv[++i];
    }
    if (cli_opt_set(cmd, o, val) != 0) return CLI_EXIT_USAGE;
  }
  return 0;
}

void cli_help(FILE *f, const char *cmd, const char *summary, const cli_opt_t *opts, size_t n) {
  fprintf(f, "usage: valley %s [options]\n\n%s\n\noptions:\n", cmd, summary);
  for (size_t i = 0; i < n; i++) {
    const cli_opt_t *o = &opts[i];
    char head[64];
    snprintf(head, sizeof head, "%s%s%s", o->flag, o->meta ? " " : "", o->meta ? o->meta : "");
    char def[64] = "";
    switch (o->kind) {
    case OPT_DOUBLE: snprintf(def, sizeof def, " (default %g)", *(const double *)o->target); break;
    case OPT_U64:
      snprintf(def, sizeof def, " (default %" PRIu64 ")", *(const uint64_t *)o->target);
      break;
    case OPT_SIZE: snprintf(def, sizeof def, " (default %zu)", *(const size_t *)o->target); break;
    case OPT_INT: snprintf(def, sizeof def, " (default %d)", *(const int *)o->target); break;
    case OPT_STRING:
      if (*(const char *const *)o->target != NULL)
        snprintf(def, sizeof def, " (default %s)", *(const char *const *)o->target);
      break;
    case OPT_FLAG: break;
    }
    fprintf(f, "  %-22s %s%s\n", head, o->help, def);
  }
  fprintf(f, "  %-22s %s\n", "--help", "print this help and exit");
}

int cli_parse_numbers(const char *s, double *out, size_t max) {
  size_t n = 0;
  const char *q = s;
  while (1) {
    char *end;
    errno = 0;
    double v = strtod(q, &end);
    if (end == q || errno == ERANGE || !isfinite(v) || (*end != ',' && *end != '\0')) return -1;
    if (n >= max) return (int)max + 1;
    out[n++] = v;
    if (*end == '\0') break;
    q = end + 1;
  }
  return (int)n;
}

int cli_parse_or_help(const char *cmd, const char *summary, int argc, char **argv, cli_opt_t *opts,
                      size_t nopts) {
  int rc = cli_parse(cmd, argc, argv, opts, nopts);
  if (rc == 1) {
    cli_help(stdout, cmd, summary, opts, nopts);
    return CLI_EXIT_OK;
  }
  return rc == 0 ? -1 : CLI_EXIT_USAGE;
}

int cli_given(const cli_opt_t *opts, size_t nopts, const char *flag) {
  for (size_t i = 0; i < nopts; i++)
    if (strcmp(opts[i].flag, flag) == 0) return opts[i].given;
  return 0;
}

char *cli_fingerprint(const char *cmd, const cli_opt_t *opts, size_t nopts,
                      const char *const *skip, size_t nskip) {
  size_t cap = 256, len = 0;
  char *s = malloc(cap);
  if (s == NULL) return NULL;
  len = (size_t)snprintf(s, cap, "valley %s", cmd); /* the version is in the build object */
  for (size_t i = 0; i < nopts; i++) {
    int omit = 0;
    for (size_t k = 0; k < nskip; k++) omit |= strcmp(opts[i].flag, skip[k]) == 0;
    if (omit) continue;
    char v[1100];
    cli_opt_format(&opts[i], v, sizeof v);
    size_t need = strlen(opts[i].flag) + strlen(v) + 16;
    if (len + need >= cap) {
      while (len + need >= cap) cap *= 2;
      char *t = realloc(s, cap);
      if (t == NULL) {
        free(s);
        return NULL;
      }
      s = t;
    }
    len += (size_t)snprintf(s + len, cap - len, " %s %s%s", opts[i].flag, v,
                            opts[i].given ? "" : "(default)");
  }
  /* the build too: another compiler or flags may round differently (sweeps refuse it alike) */
  char *b = NULL;
  size_t blen = 0;
  FILE *m = open_memstream(&b, &blen);
  if (m != NULL) {
    valley_json_t j;
    valley_json_begin_compact(&j, m);
    valley_json_build(&j);
    valley_json_end(&j);
  }
  if (m == NULL || fclose(m) != 0) {
    free(b);
    free(s);
    return NULL;
  }
  char *t = realloc(s, len + blen + 2);
  if (t == NULL) {
    free(b);
    free(s);
    return NULL;
  }
  s = t;
  s[len] = ' ';
  memcpy(s + len + 1, b, blen + 1);
  free(b);
  for (char *c = s; *c; c++)
    if (*c == '\n' || *c == '\r') *c = ' ';
  return s;
}

char *cli_fingerprint_file(char *fp, const char *path) {
  uLong crc = crc32(0L, Z_NULL, 0);
  FILE *f = fopen(path, "rb");
  int ok = f != NULL;
  if (f != NULL) {
    unsigned char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) crc = crc32(crc, buf, (uInt)n);
    ok = !ferror(f);
    fclose(f);
  }
  size_t len = strlen(fp);
  char *out = realloc(fp, len + 32);
  if (out == NULL) {
    free(fp);
    return NULL;
  }
  if (ok)
    snprintf(out + len, 32, " file-crc32 %08lx", crc);
  else
    snprintf(out + len, 32, " file unreadable");
  return out;
}
