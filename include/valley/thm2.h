/* Theorem 2 of He, Huang, Yuan (2019), "Asymmetric Valleys": the constants of its proof
 * (Appendix D: Lemma 4, Lemma 5, Theorem 6, Lemma 7, Theorem 8, the Remark) and its
 * preconditions, as printed, plus labelled variants where the proof needs something else
 * (docs/theorem2.md). */
#ifndef VALLEY_THM2_H
#define VALLEY_THM2_H

#include <stdbool.h>

#include "valley/error.h"
#include "valley/sgd1d.h"

typedef struct {
  double eta;     /* learning rate, > 0 */
  double a_plus;  /* largest gradient on the flat side (w >= 0) */
  double a_minus; /* largest gradient on the sharp side (w < 0), < 0 */
  double b_plus;  /* smallest gradient on the flat side */
  double b_minus; /* smallest (most negative) gradient on the sharp side */
  double nu;      /* noise bound, |omega| < nu */
} valley_thm2_params_t;

/* Which T_max formula: the paper's, or the variant that Theorem 8's Azuma step supports. */
typedef enum {
  VALLEY_THM2_PRINTED = 0, /* T_max root of (b- - nu) + T b+ + sqrt(2T) nu L = 0 (Lemma 7) */
  VALLEY_THM2_AZUMA = 1    /* T_max root of (b- - nu) + T b+ - sqrt(2T) nu L = 0 (event E'_T) */
} valley_thm2_variant_t;

typedef struct {
  valley_thm2_variant_t variant;
  double p_min, p_max;    /* Lemma 4: p_min = -eta(a- + a+ + 2nu), p_max = -eta(b- - nu) */
  double c, c_prime;      /* c = -a-/a+, c' = -(b- - nu)/b+ */
  bool tau_found;         /* false when no tau >= 1 satisfies T_min + T_max <= tau/2 */
  double tau_star;        /* smallest tau >= 1 with T_min(tau) + T_max(tau) <= tau/2; NaN if none */
  double T_min, T_max;    /* at tau_star (NaN if !tau_found) */
  double L;               /* sqrt(log(2 tau_star)) */
  double c0;              /* T_min^2 / (2 T_max) eta a+ */
  double round_bound;     /* T_min^2 / T_max eta a+: the per-round bound in the final proof */
} valley_thm2_constants_t;

#define VALLEY_THM2_NPRECOND 10

typedef struct {
  const char *name;   /* short machine name, e.g. "p_min_positive" */
  const char *text;   /* the condition as written in the paper */
  bool holds;
  double margin;      /* signed: > 0 means holds with that much room (NaN if undefined) */
  char detail[160];   /* numbers behind the verdict */
} valley_thm2_precond_t;

/* Checks the parameters' domain (finite, eta > 0, nu >= 0, a_plus > 0, b_plus > 0): an input
 * error, unlike a violated precondition. */
valley_status_t valley_thm2_params_check(const valley_thm2_params_t *p, valley_error_t *err);

/* T_min(tau) and T_max(tau) as printed (variant PRINTED) or T_max with the Azuma sign
 * (variant AZUMA; T_min is the same in both).  NaN when a square-root argument is negative, the root Delta = sqrt(T) is negative, or
 * tau < 1/2. */
double valley_thm2_T_min(const valley_thm2_params_t *p, double tau);
double valley_thm2_T_max(const valley_thm2_params_t *p, double tau, valley_thm2_variant_t v);

/* All constants; tau_star by bracketing root search (GSL Brent) to 1e-12 relative.
 * Returns VALLEY_OK even when no tau_star exists (tau_found = false); EINVAL on bad params. */
valley_status_t valley_thm2_constants(const valley_thm2_params_t *p, valley_thm2_variant_t v,
                                      valley_thm2_constants_t *out, valley_error_t *err);

/* The VALLEY_THM2_NPRECOND preconditions, each with verdict and margin. */
void valley_thm2_preconditions(const valley_thm2_params_t *p, const valley_thm2_constants_t *k,
                               valley_thm2_precond_t out[VALLEY_THM2_NPRECOND]);

/* The round probes of the proof (sgd1d.h) from the constants of both variants:
 *   W0_RANGE: w0 in [p_min, p_max] (Lemma 4), with a rounding tolerance of 16 ulp-sized units;
 *   ENVELOPE: for t = 1..floor(T_min): w_t > w0 - t eta a+ - sqrt(2t) eta nu L >= 0 (Theorem 6,
 *             printed constants; disabled when T_min < 1 or no tau* exists);
 *   FLAT_RUN (_ALT): the first sharp iterate comes at t <= ceil(T_max) (Theorem 8; printed and
 *             Azuma T_max);
 *   MEAN_ABOVE (_ALT): round mean >= T_min^2 / T_max eta a+ (the final proof's per-round bound).
 * *envelope is allocated here (K + 1 entries); the caller frees it. */
valley_status_t valley_thm2_probes(const valley_thm2_params_t *p, const valley_thm2_constants_t *k,
                                   const valley_thm2_constants_t *k_azuma,
                                   valley_sgd1d_probes_t *out, double **envelope,
                                   valley_error_t *err);

#endif
