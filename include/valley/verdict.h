/* Verdicts on a paper's claims from Monte Carlo estimates with confidence intervals. */
#ifndef VALLEY_VERDICT_H
#define VALLEY_VERDICT_H

#include <stdint.h>

typedef enum {
  VALLEY_HOLDS = 0,          /* confirmed: the whole interval satisfies the claim */
  VALLEY_FAILS = 1,          /* refuted: a counterexample, or the whole interval violates it */
  VALLEY_INCONCLUSIVE = 2,   /* the interval straddles the claimed value */
  VALLEY_NOT_APPLICABLE = 3  /* the claim is vacuous or its premises do not hold */
} valley_verdict_t;

const char *valley_verdict_name(valley_verdict_t v);

/* A claim "P(event) >= p" seen k times in n trials with a confidence interval [lo, hi] for
 * P(event).  p >= 1 is a deterministic claim: one counterexample (k < n) refutes it and no
 * interval is needed.  p <= 0 is vacuous (not applicable); so is n = 0. */
valley_verdict_t valley_verdict_probability(double p, uint64_t k, uint64_t n, double lo, double hi);

/* A claim "E[X] > bound" with a confidence interval [lo, hi] for E[X]. */
valley_verdict_t valley_verdict_lower_bound(double bound, double lo, double hi);

#endif
