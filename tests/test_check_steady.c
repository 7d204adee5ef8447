/* The decision rules of the steady-state checks (paper_checks/check_steady.h) on inputs whose
 * verdicts are known, every verdict each rule can give included. */
#include <math.h>
#include <stddef.h>

#include "check.h"
#include "check_steady.h"

int main(void) {
  check_t t = {0, 0};
  double order = NAN;
  /* eq. (5) vs finite volumes */
  valley_check_verdict_t v = valley_steady_decide_fv(4e-5, 1e-5, 1e-4, &order);
  check(&t, v == VALLEY_CHECK_PASS && fabs(order - 2) < 1e-12,
        "fv: second order below the bar passes (order %g)", order);
  check(&t, valley_steady_decide_fv(1e-15, 1e-15, 1e-4, NULL) == VALLEY_CHECK_PASS,
        "fv: rounding-level agreement passes without an order");
  check(&t, valley_steady_decide_fv(0.05, 0.049, 1e-4, NULL) == VALLEY_CHECK_FAIL,
        "fv: a distance that does not shrink fails");
  check(&t, valley_steady_decide_fv(4e-4, 2e-4, 1e-4, NULL) == VALLEY_CHECK_INCONCLUSIVE,
        "fv: converging but above the bar is inconclusive");
  check(&t, valley_steady_decide_fv(NAN, 1e-5, 1e-4, NULL) == VALLEY_CHECK_INCONCLUSIVE,
        "fv: NaN is inconclusive");
  /* eq. (6) */
  size_t w;
  double obs1[3] = {1e-3, -2e-4, 5e-6}, pred1[3] = {8e-4, -1.5e-4, 4e-6};
  check(&t, valley_steady_decide_laplace(3, obs1, pred1, 1e-9, &w) == VALLEY_CHECK_PASS,
        "laplace: errors within twice the leading correction pass");
  double obs2[3] = {1e-3, -2e-2, 5e-6};
  v = valley_steady_decide_laplace(3, obs2, pred1, 1e-9, &w);
  check(&t, v == VALLEY_CHECK_FAIL && w == 1, "laplace: an error 130x the correction fails, at index %zu", w);
  check(&t, valley_steady_decide_laplace(0, obs1, pred1, 1e-9, &w) == VALLEY_CHECK_INCONCLUSIVE,
        "laplace: nothing to judge is inconclusive");
  /* eqs. (7), (8): fig6-three's numbers at T = 1e-4 fail, fig6-one's pass */
  double gap[2] = {2.24e-5, -0.0695}, oT[2] = {2.5e-5, 2.5e-5};
  check(&t, valley_steady_decide_leading(1, gap, oT, 3e-8, &w) == VALLEY_CHECK_PASS,
        "leading: a gap of the size of the O(T) terms passes");
  check(&t, valley_steady_decide_leading(2, gap, oT, 3e-8, &w) == VALLEY_CHECK_FAIL && w == 1,
        "leading: a gap 2800x the O(T) terms fails");
  double gnan[1] = {NAN};
  check(&t, valley_steady_decide_leading(1, gnan, oT, 3e-8, &w) == VALLEY_CHECK_INCONCLUSIVE,
        "leading: NaN is inconclusive");
  /* trends */
  double up[4] = {1, 2, 2, 3}, down[4] = {3, 2, 2, 1}, bump[4] = {1, 3, 2, 4}, flat[3] = {1, 1, 1};
  double wiggle[3] = {1, 1 - 1e-15, 2};
  check(&t, valley_steady_trend(4, up, 0) == 1, "trend: nondecreasing");
  check(&t, valley_steady_trend(4, down, 0) == -1, "trend: nonincreasing");
  check(&t, valley_steady_trend(4, bump, 0) == 0, "trend: neither");
  check(&t, valley_steady_trend(3, flat, 0) == 2, "trend: constant");
  check(&t, valley_steady_trend(3, wiggle, 1e-12) == 1, "trend: rounding-level dips ignored");
  double vmin[5] = {3, 2, 1, 2, 4}, endmin[4] = {1, 2, 3, 4}, nomin[2] = {2, 1};
  check(&t, valley_steady_interior_min(5, vmin) == 1, "interior minimum found");
  check(&t, valley_steady_interior_min(4, endmin) == 0, "minimum at an end is not interior");
  check(&t, valley_steady_interior_min(2, nomin) == 0, "two points have no interior");
  int oks[3] = {1, 1, 1}, bad[3] = {1, 0, 1};
  check(&t, valley_steady_decide_statements(3, oks) == VALLEY_CHECK_PASS, "statements: all hold");
  check(&t, valley_steady_decide_statements(3, bad) == VALLEY_CHECK_NOT_REPRODUCED,
        "statements: one fails -> not reproduced");
  check(&t, valley_steady_decide_statements(0, oks) == VALLEY_CHECK_INCONCLUSIVE,
        "statements: none -> inconclusive");
  /* zero curl: docs/fokker_planck_fv.md's numbers */
  check(&t, valley_steady_decide_curl(7.6e-4, 5.7e-3, 0.066, 2.66e-3) == VALLEY_CHECK_PASS,
        "curl: matches without, misses with");
  check(&t, valley_steady_decide_curl(0.05, 5.7e-3, 0.066, 2.66e-3) == VALLEY_CHECK_FAIL,
        "curl: a mismatch without curl fails");
  check(&t, valley_steady_decide_curl(7.6e-4, 5.7e-3, 0.01, 2.66e-3) == VALLEY_CHECK_INCONCLUSIVE,
        "curl: a curl effect within 10x the FV error is inconclusive");
  /* reparametrization */
  check(&t, valley_steady_decide_reparam(1e-15, 1e-8, 1.4e-3, 2.8e-4) == VALLEY_CHECK_PASS,
        "reparam: exact invariance and O(T) approximations pass");
  check(&t, valley_steady_decide_reparam(1e-3, 1e-8, 1.4e-3, 2.8e-4) == VALLEY_CHECK_FAIL,
        "reparam: exact quantities that change fail");
  check(&t, valley_steady_decide_reparam(1e-15, 1e-8, 0.0099, 0.0145) == VALLEY_CHECK_FAIL,
        "reparam: approximations that do not improve fail");
  check(&t, valley_steady_decide_reparam(1e-15, 1e-8, 0.013, 0.01) == VALLEY_CHECK_INCONCLUSIVE,
        "reparam: a 1.3x improvement is inconclusive");
  /* Appendix A: docs/steady_state.md's fig4-left runs */
  double lamC[5] = {0.03, 0.1, 0.3, 1.0, 2.0}, z[5] = {0.3, -2.1, -0.7, 12.6, 114};
  check(&t, valley_steady_decide_sgd(5, lamC, z, 0.1, 1.0, 4) == VALLEY_CHECK_PASS,
        "sgd: small steps agree, large ones depart");
  double zbad[5] = {6, -2.1, -0.7, 12.6, 114};
  check(&t, valley_steady_decide_sgd(5, lamC, zbad, 0.1, 1.0, 4) == VALLEY_CHECK_NOT_REPRODUCED,
        "sgd: a small step that departs -> not reproduced");
  double zflat[5] = {0.3, -2.1, -0.7, 1, 2};
  check(&t, valley_steady_decide_sgd(5, lamC, zflat, 0.1, 1.0, 4) == VALLEY_CHECK_NOT_REPRODUCED,
        "sgd: no breakdown at large steps -> not reproduced");
  check(&t, valley_steady_decide_sgd(3, lamC, z, 0.1, 1.0, 4) == VALLEY_CHECK_INCONCLUSIVE,
        "sgd: no large-step run -> inconclusive");
  return check_done(&t);
}
