/* valley error codes (include/valley/error.h). */
#include "valley/error.h"
#include "valley/device.h"

#include <string.h>

#include <stdarg.h>
#include <stdio.h>

const char *valley_strerror(valley_status_t code) {
  switch (code) {
#define VALLEY_X_CASE(name, value, text) \
  case name:                             \
    return text;
    VALLEY_ERROR_LIST(VALLEY_X_CASE)
#undef VALLEY_X_CASE
  }
  return "unknown error";
}

valley_status_t valley_error_set(valley_error_t *err, valley_status_t code, const char *function,
                                 int line, const char *fmt, ...) {
  if (err != NULL) {
    err->code = code;
    err->function = function;
    err->line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
  }
  return code;
}

valley_status_t valley_name_index(const char *name, const char *const *names, size_t n, int *out) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(name, names[i]) == 0) {
      *out = (int)i;
      return VALLEY_OK;
    }
  return VALLEY_EINVAL;
}

const char *valley_name_of(int v, const char *const *names, size_t n) {
  return v >= 0 && (size_t)v < n ? names[v] : "unknown";
}

static const char *const device_names[] = {"cpu", "cuda"};

VALLEY_NAME_FUNCS(valley_device_parse, valley_device_name, valley_device_t, device_names)
