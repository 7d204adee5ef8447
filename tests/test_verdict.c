/* Verdicts (paper_checks/verdict.c) and the replicate ratio estimator (sim/stats.c), against
 * values worked out by hand. */
#include <stdint.h>

#include "check.h"
#include "valley/stats.h"
#include "valley/verdict.h"

int main(void) {
  check_t t = {0, 0};
  /* deterministic claims: one counterexample refutes */
  check(&t, valley_verdict_probability(1.0, 10, 10, 1, 1) == VALLEY_HOLDS, "P=1, 10/10: holds");
  check(&t, valley_verdict_probability(1.0, 9, 10, 0.8, 1) == VALLEY_FAILS, "P=1, 9/10: fails");
  check(&t, valley_verdict_probability(1.0, 0, 0, NAN, NAN) == VALLEY_NOT_APPLICABLE,
        "no trials: not applicable");
  /* probabilistic claims against the interval */
  check(&t, valley_verdict_probability(0.7, 90, 100, 0.85, 0.95) == VALLEY_HOLDS,
        "P>=0.7 with CI [0.85,0.95]: holds");
  check(&t, valley_verdict_probability(0.7, 50, 100, 0.4, 0.6) == VALLEY_FAILS,
        "P>=0.7 with CI [0.4,0.6]: fails");
  check(&t, valley_verdict_probability(0.7, 70, 100, 0.65, 0.75) == VALLEY_INCONCLUSIVE,
        "P>=0.7 with CI [0.65,0.75]: inconclusive");
  check(&t, valley_verdict_probability(-0.2, 0, 100, 0, 0) == VALLEY_NOT_APPLICABLE,
        "claimed probability <= 0 is vacuous");
  check(&t, valley_verdict_lower_bound(0.05, 0.09, 0.1) == VALLEY_HOLDS, "E > c0 confirmed");
  check(&t, valley_verdict_lower_bound(0.05, 0.01, 0.04) == VALLEY_FAILS, "E > c0 refuted");
  check(&t, valley_verdict_lower_bound(0.05, 0.04, 0.06) == VALLEY_INCONCLUSIVE,
        "E > c0 straddled");
  check(&t, valley_verdict_lower_bound(NAN, 0.04, 0.06) == VALLEY_NOT_APPLICABLE,
        "undefined bound: not applicable");
  /* ratio estimator: y = (1, 2, 3), x = (1, 1, 2): R = 6/4 = 1.5; residuals y - R x =
   * (-0.5, 0.5, 0); SE = sqrt(0.5 / (3 * 2)) / (4/3) = 0.21650635094610965 */
  double y[] = {1, 2, 3};
  uint64_t x[] = {1, 1, 2};
  double xd[] = {1, 1, 2};
  valley_ratio_t r = valley_ratio_estimate(y, xd, 3, sizeof(double), 0, 0);
  check(&t, close_rel(r.estimate, 1.5, 1e-15) && close_rel(r.stderr_, 0.21650635094610965, 1e-14),
        "ratio estimate %.17g, stderr %.17g", r.estimate, r.stderr_);
  valley_ratio_t r2 = valley_ratio_estimate(y, x, 3, 0, 0, 1); /* stride 0 reads y[0], x[0] */
  check(&t, close_rel(r2.estimate, 1.0, 1e-15), "stride 0 repeats the first replicate");
  valley_ratio_t r3 = valley_ratio_estimate(y, xd, 0, sizeof(double), 0, 0);
  check(&t, isnan(r3.estimate), "no replicates: NaN");
  return check_done(&t);
}
