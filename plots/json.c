/* A small streaming JSON writer (numbers round-trip with %.17g; NaN and Inf become null). */
#include <inttypes.h>
#include <math.h>

#include "valley/json.h"

void valley_json_begin(valley_json_t *j, FILE *f) {
  j->f = f;
  j->depth = 0;
  j->need_comma[0] = 0;
  j->compact = 0;
  fputc('{', f);
}

void valley_json_begin_compact(valley_json_t *j, FILE *f) {
  valley_json_begin(j, f);
  j->compact = 1;
}

void valley_json_end(valley_json_t *j) { fputs(j->compact ? "}" : "\n}\n", j->f); }

static void indent(valley_json_t *j) {
  if (j->compact) return;
  fputc('\n', j->f);
  for (int i = 0; i <= j->depth; i++) fputs("  ", j->f);
}

static void put_string(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(f, "\\%c", *p);
    else if (*p == '\n')
      fputs("\\n", f);
    else if (*p < 0x20)
      fprintf(f, "\\u%04x", *p);
    else
      fputc(*p, f);
  }
  fputc('"', f);
}

static void key(valley_json_t *j, const char *k) {
  if (j->need_comma[j->depth]) fputc(',', j->f);
  j->need_comma[j->depth] = 1;
  indent(j);
  if (k != NULL) {
    put_string(j->f, k);
    fputs(j->compact ? ":" : ": ", j->f);
  }
}

static void open_(valley_json_t *j, const char *k, char c) {
  key(j, k);
  fputc(c, j->f);
  if (j->depth < 62) j->depth++;
  j->need_comma[j->depth] = 0;
}

static void close_(valley_json_t *j, char c) {
  int had = j->need_comma[j->depth];
  if (j->depth > 0) j->depth--;
  if (had) indent(j);
  fputc(c, j->f);
}

void valley_json_object(valley_json_t *j, const char *k) { open_(j, k, '{'); }
void valley_json_object_end(valley_json_t *j) { close_(j, '}'); }
void valley_json_array(valley_json_t *j, const char *k) { open_(j, k, '['); }
void valley_json_array_end(valley_json_t *j) { close_(j, ']'); }

void valley_json_number(valley_json_t *j, const char *k, double v) {
  key(j, k);
  if (isfinite(v))
    fprintf(j->f, "%.17g", v);
  else
    fputs("null", j->f);
}

void valley_json_u64(valley_json_t *j, const char *k, uint64_t v) {
  key(j, k);
  fprintf(j->f, "%" PRIu64, v);
}

void valley_json_string(valley_json_t *j, const char *k, const char *s) {
  key(j, k);
  put_string(j->f, s);
}

void valley_json_bool(valley_json_t *j, const char *k, int v) {
  key(j, k);
  fputs(v ? "true" : "false", j->f);
}

void valley_json_null(valley_json_t *j, const char *k) {
  key(j, k);
  fputs("null", j->f);
}

void valley_json_numbers(valley_json_t *j, const char *key, const double *v, size_t n) {
  valley_json_array(j, key);
  for (size_t i = 0; i < n; i++) valley_json_number(j, NULL, v[i]);
  valley_json_array_end(j);
}

void valley_json_raw(valley_json_t *j, const char *k, const char *text) {
  key(j, k);
  fputs(text, j->f);
}
