/* A streaming JSON writer for reports: numbers with %.17g (they round-trip), non-finite numbers
 * as null, strings escaped.  Used by the command line and by the experiments' reports. */
#ifndef VALLEY_JSON_H
#define VALLEY_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
  FILE *f;
  int depth;
  int need_comma[64];
  int compact; /* 1: one line, no spaces (valley_json_begin_compact) */
} valley_json_t;

void valley_json_begin(valley_json_t *j, FILE *f);
void valley_json_end(valley_json_t *j);
/* The same object on one line without spaces or a final newline (a JSON Lines record; the
 * grid sweeps of plots/sweep.c write one per grid point). */
void valley_json_begin_compact(valley_json_t *j, FILE *f);
void valley_json_object(valley_json_t *j, const char *key); /* key NULL inside arrays */
void valley_json_object_end(valley_json_t *j);
void valley_json_array(valley_json_t *j, const char *key);
void valley_json_array_end(valley_json_t *j);
void valley_json_number(valley_json_t *j, const char *key, double v);
void valley_json_u64(valley_json_t *j, const char *key, uint64_t v);
void valley_json_string(valley_json_t *j, const char *key, const char *s);
void valley_json_bool(valley_json_t *j, const char *key, int v);
void valley_json_null(valley_json_t *j, const char *key);
void valley_json_numbers(valley_json_t *j, const char *key, const double *v, size_t n);
/* text: a whole JSON value written elsewhere (an object from another writer), copied as is. */
void valley_json_raw(valley_json_t *j, const char *key, const char *text);
/* "build": {...}: valley's version, the compiler, flags and build type, GSL, zlib and OpenBLAS
 * (header and run-time versions), OpenMP, MPI and CUDA on or off (plots/build.c).  Every JSON
 * output of valley carries it (docs/reliability.md). */
void valley_json_build(valley_json_t *j);

#endif
