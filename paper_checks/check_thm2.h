/* The decisions of the Theorem 2 checks (paper_checks/check_thm2.c, docs/check_thm2.md): small
 * pure functions, numbers in and a verdict out, so that tests/test_check_thm2.c can call them on
 * inputs with known answers.  Not installed. */
#ifndef VALLEY_CHECK_THM2_H
#define VALLEY_CHECK_THM2_H

#include <stddef.h>
#include <stdint.h>

#include "valley/check.h"
#include "valley/thm2.h"
#include "valley/verdict.h"

/* valley's verdict as a check verdict: holds -> PASS, fails -> FAIL, inconclusive and not
 * applicable (the claim is vacuous or its premises do not hold) -> INCONCLUSIVE. */
valley_check_verdict_t valley_check_thm2_map(valley_verdict_t v);

/* A claim "P(event) >= claimed" seen k times in n rounds, with the 99.9% interval [lo, hi] for
 * P(event) (valley_verdict_probability): claimed >= 1 is deterministic (one counterexample is a
 * FAIL); otherwise PASS when lo >= claimed, FAIL when hi < claimed, INCONCLUSIVE between.  Not
 * applicable (applicable == 0, claimed <= 0, n == 0) is INCONCLUSIVE. */
valley_check_verdict_t valley_check_thm2_event(double claimed, uint64_t k, uint64_t n, double lo,
                                               double hi, int applicable);

/* A claim "E[X] > bound" with the interval [lo, hi] for E[X]: PASS when lo > bound, FAIL when
 * hi <= bound, INCONCLUSIVE otherwise or when not applicable. */
valley_check_verdict_t valley_check_thm2_bound(double bound, double lo, double hi, int applicable);

/* Theorem 2's conclusion E[w_bar] > c0 > 0: INCONCLUSIVE when not applicable or c0 is NaN (no
 * tau*), FAIL when c0 <= 0 (the theorem promises c0 > 0), else valley_check_thm2_bound. */
valley_check_verdict_t valley_check_thm2_conclusion(double c0, double lo, double hi,
                                                    int applicable);

/* A deterministic inequality lhs <= rhs, allowing tol for rounding: PASS when lhs <= rhs + tol,
 * FAIL when lhs > rhs + tol, INCONCLUSIVE when either side is NaN. */
valley_check_verdict_t valley_check_thm2_leq(double lhs, double rhs, double tol);

/* Several verdicts that must all pass: FAIL if any FAIL, else PASS if all PASS (and n > 0), else
 * INCONCLUSIVE. */
valley_check_verdict_t valley_check_thm2_all(const valley_check_verdict_t *v, size_t n);

/* The preconditions (valley_thm2_preconditions): PASS when every one holds, INCONCLUSIVE (the
 * theorem does not apply; not a fault of the paper) otherwise. */
valley_check_verdict_t valley_check_thm2_preconditions(const valley_thm2_precond_t *pre, size_t n);

/* E[w_bar] > c0 > 0 over a grid of valleys (valley_check_thm2_conclusion at each point):
 * points with applicable[i] == 0 (a precondition fails) do not count.  FAIL if some applicable
 * point fails (hi[i] <= c0[i], or c0[i] <= 0); PASS if every applicable point passes (and there
 * is at least one); INCONCLUSIVE otherwise. */
valley_check_verdict_t valley_check_thm2_grid(size_t n, const double *lo, const double *hi,
                                              const double *c0, const int *applicable);

/* Lemma 5's left side p_min - t eta a+ - sqrt(2t) eta nu L at tau* (k: the printed constants),
 * minimised over t = 0, 1, ..., floor(T_min) and t = T_min; NaN when T_min is undefined.  The
 * lemma says it is >= 0. */
double valley_check_thm2_lemma5_margin(const valley_thm2_params_t *p,
                                       const valley_thm2_constants_t *k);

/* Lemma 7's left side at t = T_max (k's T_max, L at k's tau*), with the printed sign
 * (sign = -1: p_max - T eta b+ - sqrt(2T) eta nu L, what Lemma 7 states) or the sign that
 * Theorem 8's event E'_T needs (sign = +1: p_max - T eta b+ + sqrt(2T) eta nu L).  Both are
 * claimed < 0. */
double valley_check_thm2_lemma7_value(const valley_thm2_params_t *p,
                                      const valley_thm2_constants_t *k, int sign);

/* The Remark's largest tau for T_min >= 2: from (c - 3) a+ - 2 nu - 2 nu log^(1/2)(2 tau) >= 0,
 * tau <= exp(x^2) / 2 with x = (c - 3) a+ / (2 nu) - 1 (infinite for nu = 0; NaN when x < 0,
 * where no tau >= 1/2 satisfies the Remark's inequality). */
double valley_check_thm2_remark_tau_bound(const valley_thm2_params_t *p);

#endif
