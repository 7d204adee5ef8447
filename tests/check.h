/* Minimal test bookkeeping shared by valley's C tests: one line per failed check, and the
 * closing line "N passed, M failed" that ctest logs show. */
#ifndef VALLEY_TESTS_CHECK_H
#define VALLEY_TESTS_CHECK_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

typedef struct {
  int passed, failed;
} check_t;

static inline void check(check_t *t, int ok, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static inline void check(check_t *t, int ok, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("%s: ", ok ? "ok  " : "FAIL");
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  if (ok)
    t->passed++;
  else
    t->failed++;
}

/* |got - want| <= rel |want| (NaN only equals NaN). */
static inline int close_rel(double got, double want, double rel) {
  if (isnan(want)) return isnan(got);
  return fabs(got - want) <= rel * fabs(want);
}

static inline int check_done(const check_t *t) {
  printf("%d passed, %d failed\n", t->passed, t->failed);
  return t->failed == 0 ? 0 : 1;
}

#endif
