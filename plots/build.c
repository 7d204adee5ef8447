/* The "build" object of every JSON output: what built this valley and what it runs against, so
 * that a result can be reproduced (docs/reliability.md).  Compile-time facts come from
 * CMake (VALLEY_BUILD_* defines on this file) and from the headers; run-time versions from the
 * libraries themselves (gsl_version, zlibVersion, openblas_get_config).  Nothing here depends on
 * the run (threads, ranks, time): two runs of one binary write the same bytes. */
#include <stdio.h>
#include <string.h>

#include <cblas.h>
#include <gsl/gsl_version.h>
#include <zlib.h>

#include "valley/json.h"

#ifndef VALLEY_VERSION
#define VALLEY_VERSION "unknown"
#endif
#ifndef VALLEY_BUILD_TYPE
#define VALLEY_BUILD_TYPE "unknown"
#endif
#ifndef VALLEY_BUILD_C_FLAGS
#define VALLEY_BUILD_C_FLAGS "unknown"
#endif
#ifndef VALLEY_BUILD_COMPILER
#define VALLEY_BUILD_COMPILER "unknown"
#endif

/* " OpenBLAS 0.3.21 " -> "0.3.21" (the header's version has spaces and a name around it). */
static void openblas_version(char *out, size_t n) {
  const char *v = "";
#ifdef OPENBLAS_VERSION
  v = OPENBLAS_VERSION;
#endif
  while (*v == ' ') v++;
  if (strncmp(v, "OpenBLAS ", 9) == 0) v += 9;
  snprintf(out, n, "%s", v);
  size_t k = strlen(out);
  while (k > 0 && out[k - 1] == ' ') out[--k] = '\0';
}

void valley_json_build(valley_json_t *j) {
  valley_json_object(j, "build");
  valley_json_string(j, "valley", VALLEY_VERSION);
  valley_json_string(j, "build_type", VALLEY_BUILD_TYPE);
  valley_json_string(j, "compiler", VALLEY_BUILD_COMPILER);
  valley_json_string(j, "c_flags", VALLEY_BUILD_C_FLAGS);
  valley_json_string(j, "gsl_header", GSL_VERSION);
  valley_json_string(j, "gsl_runtime", gsl_version);
  valley_json_string(j, "zlib_header", ZLIB_VERSION);
  valley_json_string(j, "zlib_runtime", zlibVersion());
  char ob[64];
  openblas_version(ob, sizeof ob);
  valley_json_string(j, "openblas_header", ob);
  valley_json_string(j, "openblas_runtime", openblas_get_config());
#ifdef _OPENMP
  valley_json_bool(j, "openmp", 1);
  valley_json_u64(j, "openmp_version", (unsigned long long)_OPENMP);
#else
  valley_json_bool(j, "openmp", 0);
#endif
#ifdef VALLEY_BUILD_MPI
  valley_json_bool(j, "mpi", 1);
  valley_json_string(j, "mpi_standard", VALLEY_BUILD_MPI);
#else
  valley_json_bool(j, "mpi", 0);
#endif
#ifdef VALLEY_HAVE_CUDA
  valley_json_bool(j, "cuda", 1);
#ifdef VALLEY_BUILD_CUDA
  valley_json_string(j, "cuda_compiler", VALLEY_BUILD_CUDA);
#endif
#else
  valley_json_bool(j, "cuda", 0);
#endif
  valley_json_object_end(j);
}
