/* The decisions of the Theorem 1 and Definitions 1-3 checks of `valley check`
 * (paper_checks/check_thm1.c, docs/check_thm1.md): small pure functions, numbers in and a verdict
 * out, unit-tested by tests/test_check_thm1.c.  Not installed. */
#ifndef VALLEY_CHECK_THM1_H
#define VALLEY_CHECK_THM1_H

#include <stddef.h>
#include <stdint.h>

#include "valley/check.h"

/* Theorem 1 over a set of instances that all satisfy the conditions being tested (the
 * statement's or the proof's): `violations` of the `evaluated` instances have gain < bound (exact
 * enumeration, beyond rounding).  FAIL when there is at least one (a counterexample), PASS when
 * there is none, INCONCLUSIVE when nothing was evaluated. */
valley_check_verdict_t valley_check_thm1_decide(uint64_t evaluated, uint64_t violations);

/* Definition 1 on one sampled valley with known constants.  A NaN *_true skips that comparison
 * (the symmetric valley: only c = 1 is known). */
typedef struct {
  double c_true, c_hat;
  double p_true, p_hat;
  double r_true, r_hat;
  double rbar_true, rbar_hat;
} valley_check_def1_case_t;

/* PASS when every case has |c_hat - c| <= rel_tol c, |p_hat - p| <= rel_tol p,
 * |r_hat - r| <= pos_tol and |rbar_hat - rbar| <= pos_tol (a NaN estimate fails); FAIL otherwise
 * (*first_bad: the first failing case, n when none); INCONCLUSIVE when n = 0. */
valley_check_verdict_t valley_check_def1_decide(const valley_check_def1_case_t *cs, size_t n,
                                                double rel_tol, double pos_tol,
                                                size_t *first_bad);

/* Definition 3 on one profile whose test curve is the train curve moved by delta_true (plus a
 * constant): the shift gap's minimiser delta_star should be delta_true within delta_tol, and the
 * gap there xi_star should be 0 within xi_tol (the discretisation bound). */
typedef struct {
  double delta_true, delta_star, delta_tol;
  double xi_star, xi_tol;
} valley_check_def3_case_t;

/* PASS when every case is within its tolerances (a NaN fails); FAIL otherwise (*first_bad as
 * above); INCONCLUSIVE when n = 0. */
valley_check_verdict_t valley_check_def3_decide(const valley_check_def3_case_t *cs, size_t n,
                                                size_t *first_bad);

#endif
