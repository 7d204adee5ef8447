/* The decision rules of the steady-state checks (paper_checks/check_steady.c, group "steady";
 * shift-curvature-paper.txt eqs. (5)-(8), Figure 4 and G.2.6, Appendices A, B.1, C).  Each is a
 * pure function, numbers in and a verdict out, so tests/test_check_steady.c can call it on inputs
 * with known answers.  Not installed. */
#ifndef VALLEY_CHECK_STEADY_H
#define VALLEY_CHECK_STEADY_H

#include <stddef.h>

#include "valley/check.h"

/* Eq. (5) against the finite volumes: PASS when the L1 distance at the fine grid is <= bar and
 * the distance falls at least 3-fold from the coarse grid to the fine one (twice the cells; a
 * second-order scheme converging to eq. (5) gives 4); FAIL when the fine L1 is > bar and it
 * falls less than 1.5-fold (the FV converges to something else); INCONCLUSIVE otherwise.
 * *order = log2(l1_coarse / l1_fine). */
valley_check_verdict_t valley_steady_decide_fv(double l1_coarse, double l1_fine, double bar,
                                               double *order);

/* Eq. (6) against the exact basin weights: obs[i] = w_laplace / w_exact - 1, pred[i] its
 * leading Laplace correction.  PASS when every |obs| <= 2 |pred| + floor; else FAIL, *worst the
 * index of the largest |obs| / (2 |pred| + floor).  n = 0 or a NaN: INCONCLUSIVE. */
valley_check_verdict_t valley_steady_decide_laplace(size_t n, const double *obs,
                                                    const double *pred, double floor,
                                                    size_t *worst);

/* Eqs. (7), (8): "E_test = approximation + O(T)".  gap[i] = exact - approximation, oT[i] the
 * O(T) terms at the same (small) temperature.  PASS when every |gap| <= 2 |oT| + floor; else
 * FAIL, *worst as above.  n = 0 or a NaN: INCONCLUSIVE. */
valley_check_verdict_t valley_steady_decide_leading(size_t n, const double *gap, const double *oT,
                                                    double floor, size_t *worst);

/* +1 when y never falls by more than tol * max|y| from one point to the next (nondecreasing),
 * -1 when it never rises by more (nonincreasing), 2 when both (constant), 0 otherwise. */
int valley_steady_trend(size_t n, const double *y, double tol);

/* 1 when the smallest y is at neither end and lower than both ends; 0 otherwise. */
int valley_steady_interior_min(size_t n, const double *y);

/* A figure's statements: PASS when every ok[i] is nonzero, NOT REPRODUCED otherwise (n = 0:
 * INCONCLUSIVE). */
valley_check_verdict_t valley_steady_decide_statements(size_t n, const int *ok);

/* The zero-curl assumption.  Without curl the formula must match the finite volumes at the
 * FV's own error level: l1_nocurl <= 2 ref_nocurl (ref: the FV's change under refinement);
 * with curl it must not: l1_curl >= 10 ref_curl.  PASS when both; FAIL when the first fails
 * (the formula is wrong where the paper says it holds); INCONCLUSIVE when only the second fails
 * (the curl does not show at this size). */
valley_check_verdict_t valley_steady_decide_curl(double l1_nocurl, double ref_nocurl,
                                                 double l1_curl, double ref_curl);

/* Appendix C.  exact_diff: the largest change of an exact quantity (basin weight, E_test)
 * under the reparametrization; approx_hi, approx_lo: the largest change of the Laplace
 * quantities (weights, eq. (4)) at T and T/2.  PASS when exact_diff <= exact_tol and the
 * approximate change falls at least 1.5-fold when T halves (it is O(T)); FAIL when
 * exact_diff > exact_tol, or the approximate change does not fall (ratio < 1.2); INCONCLUSIVE
 * between. */
valley_check_verdict_t valley_steady_decide_reparam(double exact_diff, double exact_tol,
                                                    double approx_hi, double approx_lo);

/* Appendix A.  For runs i = 0..n-1: lamC[i] = step x the largest curvature that carries mass,
 * z[i] = (L1 - noise mean) / noise sd of the ensemble's histogram against eq. (5).  The claim:
 * the diffusion approximation holds for small steps and breaks down for large ones.  PASS when
 * every run with lamC <= small has z <= zcrit and some run with lamC >= large has z > zcrit;
 * NOT REPRODUCED when a small-step run has z > zcrit or no large-step run departs;
 * INCONCLUSIVE when there is no run in one of the two ranges. */
valley_check_verdict_t valley_steady_decide_sgd(size_t n, const double *lamC, const double *z,
                                                double small, double large, double zcrit);

#endif
