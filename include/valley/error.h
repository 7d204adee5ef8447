/* valley error codes and error records.
 *
 * One X-macro list generates the enum and the names.  Errors are returned as codes; the details
 * (function, line, message) go into a caller-owned valley_error_t, never a global.           */
#ifndef VALLEY_ERROR_H
#define VALLEY_ERROR_H

#include <stddef.h>

#define VALLEY_ERROR_LIST(X)                                             \
  X(VALLEY_OK, 0, "success")                                             \
  X(VALLEY_EINVAL, 1, "invalid argument")                                \
  X(VALLEY_ENOMEM, 2, "out of memory")                                   \
  X(VALLEY_EDOM, 3, "argument outside the domain")                       \
  X(VALLEY_ENOROOT, 4, "no root in the search interval")                 \
  X(VALLEY_EIO, 5, "input/output error")                                 \
  X(VALLEY_ECANCEL, 6, "cancelled")                                      \
  X(VALLEY_ENUMERIC, 7, "numerical failure (overflow, no convergence, blow-up)")

typedef enum {
#define VALLEY_X_ENUM(name, value, text) name = value,
  VALLEY_ERROR_LIST(VALLEY_X_ENUM)
#undef VALLEY_X_ENUM
} valley_status_t;

typedef struct {
  valley_status_t code;
  const char *function; /* where it was raised (static string) */
  int line;
  char message[256];
} valley_error_t;

/* The text of a code ("invalid argument"); never NULL. */
const char *valley_strerror(valley_status_t code);

/* Fills err (when not NULL) and returns code.  printf-style message. */
valley_status_t valley_error_set(valley_error_t *err, valley_status_t code, const char *function,
                                 int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* Name tables for enums: the index of `name` in names[0..n-1] (EINVAL when absent), and the
 * name of index v ("unknown" when out of range). */
valley_status_t valley_name_index(const char *name, const char *const *names, size_t n, int *out);
const char *valley_name_of(int v, const char *const *names, size_t n);
#define VALLEY_NAMES_N(table) (sizeof(table) / sizeof((table)[0]))

/* valley_X_parse / valley_X_name over a name table (valley_name_index). */
#define VALLEY_NAME_FUNCS(parse, name, type, table)                                          \
  valley_status_t parse(const char *s, type *out) {                                          \
    int v;                                                                                   \
    valley_status_t st = valley_name_index(s, table, VALLEY_NAMES_N(table), &v);             \
    if (st == VALLEY_OK) *out = (type)v;                                                     \
    return st;                                                                               \
  }                                                                                          \
  const char *name(type v) { return valley_name_of((int)v, table, VALLEY_NAMES_N(table)); }

#define VALLEY_ERROR(err, code, ...) valley_error_set((err), (code), __func__, __LINE__, __VA_ARGS__)

#endif
