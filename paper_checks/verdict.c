/* Verdicts on claims from Monte Carlo estimates (include/valley/verdict.h). */
#include "valley/verdict.h"

#include <math.h>

const char *valley_verdict_name(valley_verdict_t v) {
  switch (v) {
  case VALLEY_HOLDS: return "holds";
  case VALLEY_FAILS: return "fails";
  case VALLEY_INCONCLUSIVE: return "inconclusive";
  case VALLEY_NOT_APPLICABLE: return "not applicable";
  }
  return "unknown";
}

valley_verdict_t valley_verdict_probability(double p, uint64_t k, uint64_t n, double lo,
                                            double hi) {
  if (n == 0 || isnan(p) || p <= 0) return VALLEY_NOT_APPLICABLE;
  if (p >= 1) return k == n ? VALLEY_HOLDS : VALLEY_FAILS;
  if (isnan(lo) || isnan(hi)) return VALLEY_INCONCLUSIVE;
  if (hi < p) return VALLEY_FAILS;
  if (lo >= p) return VALLEY_HOLDS;
  return VALLEY_INCONCLUSIVE;
}

valley_verdict_t valley_verdict_lower_bound(double bound, double lo, double hi) {
  if (isnan(bound)) return VALLEY_NOT_APPLICABLE;
  if (isnan(lo) || isnan(hi)) return VALLEY_INCONCLUSIVE;
  if (lo > bound) return VALLEY_HOLDS;
  if (hi <= bound) return VALLEY_FAILS;
  return VALLEY_INCONCLUSIVE;
}
