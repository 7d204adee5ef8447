/* Synthetic 1-D landscapes for the SGD steady state (shift-curvature paper, Sec. 3.1, Appendix
 * G.2 and its parameter table for "Figure 4 and G.2.6").  valley's reading of that table
 * (docs/steady_state.md says why):
 *   U_tr(theta)   = -lscale log(c + sum_k weights_k N(theta; minima_k, sigmas_k^2))
 *   U_test(theta) = U_tr(theta + s), s = stddev_shift, or averaged over s ~ N(0, stddev_shift^2)
 *                   by Gauss-Hermite quadrature
 *   D(theta)      = noise model, below (constant 1 when wscale = 0, as in every preset)
 * on the domain [-3, 3] unless given.  Also the 1-D asymmetric valleys of Theorem 2 (valley1d.h)
 * as U_tr, and user landscapes from a spec file. */
#ifndef VALLEY_BASIN1D_H
#define VALLEY_BASIN1D_H

#include <stddef.h>

#include "valley/error.h"
#include "valley/fp1d.h"
#include "valley/valley1d.h"

#define VALLEY_BASIN1D_MAXK 16 /* mixture components */
#define VALLEY_BASIN1D_MAXGH 64 /* Gauss-Hermite nodes */

typedef enum {
  VALLEY_BLAND_MIXTURE = 0, /* -lscale log(c + sum_k w_k N(theta; m_k, s_k^2)) */
  VALLEY_BLAND_VALLEY = 1   /* lscale * a valley1d loss (Theorem 2's valleys) */
} valley_bland_kind_t;

typedef enum {
  VALLEY_DNOISE_LOSS = 0, /* D = 1 + wscale (U - min U): the reading of wscale */
  VALLEY_DNOISE_GRAD = 1, /* D = 1 + wscale U'^2: noise that grows with the gradient */
  VALLEY_DNOISE_EXP = 2   /* D = exp(wscale theta): D' != 0 at the minima, so an O(T) bias */
} valley_dnoise_t;

typedef enum {
  VALLEY_TSHIFT_FIXED = 0,   /* U_test(theta) = U_tr(theta + s) */
  VALLEY_TSHIFT_AVERAGE = 1  /* E_{s ~ N(0, stddev_shift^2)} U_tr(theta + s), Gauss-Hermite */
} valley_tshift_t;

typedef struct {
  valley_bland_kind_t kind;
  size_t n;                               /* mixture components, 1..VALLEY_BASIN1D_MAXK */
  double minima[VALLEY_BASIN1D_MAXK];
  double weights[VALLEY_BASIN1D_MAXK];    /* > 0 */
  double sigmas[VALLEY_BASIN1D_MAXK];     /* > 0 */
  double c;                               /* > 0 (keeps the log finite in the tails) */
  valley_valley1d_t valley;               /* kind valley */
  double lscale;                          /* > 0 */
  double wscale;                          /* >= 0 */
  valley_dnoise_t noise;
  double shift;                           /* stddev_shift s */
  valley_tshift_t test_shift;
  int gh_nodes;                           /* Gauss-Hermite nodes for the average, 2..64 */
  double lo, hi;                          /* domain */
  /* Filled by valley_basin1d_init: */
  double umin;                            /* min U_tr on the domain */
  double gh_x[VALLEY_BASIN1D_MAXGH], gh_w[VALLEY_BASIN1D_MAXGH]; /* shifts and weights */
} valley_basin1d_t;

valley_status_t valley_dnoise_parse(const char *name, valley_dnoise_t *out);
const char *valley_dnoise_name(valley_dnoise_t v);
valley_status_t valley_tshift_parse(const char *name, valley_tshift_t *out);
const char *valley_tshift_name(valley_tshift_t v);

/* The names of the presets, NULL-terminated: fig4-left, fig4-right, fig6-one, fig6-three, and
 * the effective-potential variants (docs/steady_state.md). */
extern const char *const valley_basin1d_preset_names[];

/* A preset by name, initialised (EINVAL naming the name when unknown). */
valley_status_t valley_basin1d_preset(const char *name, valley_basin1d_t *out, valley_error_t *err);

/* Defaults (c = 0.001, lscale = 1, wscale = 0, noise loss, shift 0, fixed, 64 nodes, [-3, 3]),
 * kind mixture with n = 0: the caller fills the components, then calls init. */
void valley_basin1d_defaults(valley_basin1d_t *b);

/* Checks the parameters (EINVAL/EDOM naming the first bad one: a non-positive sigma or weight,
 * c <= 0, lo >= hi, a minimum outside the domain, ...) and fills umin and the Gauss-Hermite
 * table. */
valley_status_t valley_basin1d_init(valley_basin1d_t *b, valley_error_t *err);

/* Reads a spec file (format in docs/steady_state.md: "key = value" lines, lists as
 * space-separated numbers, '#' comments) over the defaults, then init.  Errors name the file and
 * the line. */
valley_status_t valley_basin1d_read_spec(const char *path, valley_basin1d_t *out,
                                         valley_error_t *err);

/* U_tr and its derivatives up to the third; U_test. */
void valley_basin1d_utr(const valley_basin1d_t *b, double theta, double out[4]);
double valley_basin1d_utest(const valley_basin1d_t *b, double theta);
/* U_test and its first two derivatives, shaped as steady.h's valley_utest_fn (params: b). */
void valley_basin1d_utest3(double theta, const void *params, double out[3]);

/* The Fokker-Planck problem of the landscape (params points at b, which must outlive it). */
void valley_basin1d_problem(const valley_basin1d_t *b, valley_fp1d_t *out);

#endif
