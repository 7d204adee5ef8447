/* A small streaming JSON writer (numbers round-trip with %.17g; NaN and Inf become null). */
#include <inttypes.h>
#include <math.h>

#include "cli.h"

void cli_json_begin(cli_json_t *j, FILE *f) {
  j->f = f;
  j->depth = 0;
  j->need_comma[0] = 0;
  fputc('{', f);
}

void cli_json_end(cli_json_t *j) { fputs("\n}\n", j->f); }

static void indent(cli_json_t *j) {
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

static void key(cli_json_t *j, const char *k) {
  if (j->need_comma[j->depth]) fputc(',', j->f);
  j->need_comma[j->depth] = 1;
  indent(j);
  if (k != NULL) {
    put_string(j->f, k);
    fputs(": ", j->f);
  }
}

static void open_(cli_json_t *j, const char *k, char c) {
  key(j, k);
  fputc(c, j->f);
  if (j->depth < 62) j->depth++;
  j->need_comma[j->depth] = 0;
}

static void close_(cli_json_t *j, char c) {
  int had = j->need_comma[j->depth];
  if (j->depth > 0) j->depth--;
  if (had) indent(j);
  fputc(c, j->f);
}

void cli_json_object(cli_json_t *j, const char *k) { open_(j, k, '{'); }
void cli_json_object_end(cli_json_t *j) { close_(j, '}'); }
void cli_json_array(cli_json_t *j, const char *k) { open_(j, k, '['); }
void cli_json_array_end(cli_json_t *j) { close_(j, ']'); }

void cli_json_number(cli_json_t *j, const char *k, double v) {
  key(j, k);
  if (isfinite(v))
    fprintf(j->f, "%.17g", v);
  else
    fputs("null", j->f);
}

void cli_json_u64(cli_json_t *j, const char *k, uint64_t v) {
  key(j, k);
  fprintf(j->f, "%" PRIu64, v);
}

void cli_json_string(cli_json_t *j, const char *k, const char *s) {
  key(j, k);
  put_string(j->f, s);
}

void cli_json_bool(cli_json_t *j, const char *k, int v) {
  key(j, k);
  fputs(v ? "true" : "false", j->f);
}

void cli_json_null(cli_json_t *j, const char *k) {
  key(j, k);
  fputs("null", j->f);
}

void cli_json_numbers(cli_json_t *j, const char *key, const double *v, size_t n) {
  cli_json_array(j, key);
  for (size_t i = 0; i < n; i++) cli_json_number(j, NULL, v[i]);
  cli_json_array_end(j);
}
