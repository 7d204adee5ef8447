/* The decisions of the Theorem 2 checks (paper_checks/check_thm2.h) on inputs with known
 * answers, PASS, FAIL and INCONCLUSIVE alike, and the deterministic quantities of Lemma 5, Lemma 7
 * and the Remark on the default valley and in closed form. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "../paper_checks/check_thm2.h"
#include "check.h"

#define PASS VALLEY_CHECK_PASS
#define FAIL VALLEY_CHECK_FAIL
#define INC VALLEY_CHECK_INCONCLUSIVE

int main(void) {
  check_t t = {0, 0};
  /* mapping */
  check(&t, valley_check_thm2_map(VALLEY_HOLDS) == PASS, "holds -> PASS");
  check(&t, valley_check_thm2_map(VALLEY_FAILS) == FAIL, "fails -> FAIL");
  check(&t, valley_check_thm2_map(VALLEY_INCONCLUSIVE) == INC, "inconclusive -> INCONCLUSIVE");
  check(&t, valley_check_thm2_map(VALLEY_NOT_APPLICABLE) == INC, "not applicable -> INCONCLUSIVE");

  /* events: deterministic claims (Lemma 4, round mean > 0) */
  check(&t, valley_check_thm2_event(1.0, 100, 100, 1, 1, 1) == PASS, "P = 1, 100/100: PASS");
  check(&t, valley_check_thm2_event(1.0, 99, 100, 0.97, 1, 1) == FAIL,
        "P = 1, one counterexample: FAIL");
  check(&t, valley_check_thm2_event(1.0, 100, 100, 1, 1, 0) == INC,
        "preconditions fail: INCONCLUSIVE");
  check(&t, valley_check_thm2_event(1.0, 0, 0, NAN, NAN, 1) == INC, "no rounds: INCONCLUSIVE");
  /* events: probabilistic claims, as Theorem 8 on the default valley (docs/theorem2.md) */
  check(&t, valley_check_thm2_event(0.7310, 74, 1000000, 0.000070, 0.000078, 1) == FAIL,
        "Theorem 8 printed: 0.000074 [0.000070, 0.000078] < 0.7310: FAIL");
  check(&t, valley_check_thm2_event(0.6491, 1000, 1000, 1, 1, 1) == PASS,
        "Theorem 8 Azuma: 1 >= 0.6491: PASS");
  check(&t, valley_check_thm2_event(0.5, 500, 1000, 0.45, 0.55, 1) == INC,
        "interval straddles the claim: INCONCLUSIVE");
  check(&t, valley_check_thm2_event(-0.2, 5, 10, 0.2, 0.8, 1) == INC,
        "vacuous claim (P <= 0): INCONCLUSIVE");

  /* bounds: E[w_bar] > c0 */
  check(&t, valley_check_thm2_bound(0.05397, 0.094960, 0.094963, 1) == PASS,
        "E[w_bar] 0.09496 > c0 0.054: PASS");
  check(&t, valley_check_thm2_bound(0.1, 0.05, 0.09, 1) == FAIL, "interval below c0: FAIL");
  check(&t, valley_check_thm2_bound(0.1, 0.09, 0.11, 1) == INC, "straddles c0: INCONCLUSIVE");
  check(&t, valley_check_thm2_bound(NAN, 0.09, 0.11, 1) == INC, "no c0: INCONCLUSIVE");
  check(&t, valley_check_thm2_bound(0.05, 0.09, 0.11, 0) == INC, "not applicable: INCONCLUSIVE");

  /* the conclusion E[w_bar] > c0 > 0 */
  check(&t, valley_check_thm2_conclusion(0.05397, 0.094960, 0.094963, 1) == PASS,
        "conclusion: E[w_bar] 0.09496 > c0 0.054 > 0: PASS");
  check(&t, valley_check_thm2_conclusion(-0.01, 0.09, 0.1, 1) == FAIL,
        "conclusion: c0 = -0.01 <= 0: FAIL");
  check(&t, valley_check_thm2_conclusion(0.1, 0.05, 0.09, 1) == FAIL,
        "conclusion: interval below c0: FAIL");
  check(&t, valley_check_thm2_conclusion(0.1, 0.09, 0.11, 1) == INC,
        "conclusion: straddles: INCONCLUSIVE");
  check(&t, valley_check_thm2_conclusion(NAN, 0.09, 0.11, 1) == INC,
        "conclusion: no tau*, no c0: INCONCLUSIVE");
  double lo3[2] = {0.09, 0.05}, hi3[2] = {0.1, 0.06}, c03[2] = {0.05, -0.01};
  int app3[2] = {1, 1};
  check(&t, valley_check_thm2_grid(2, lo3, hi3, c03, app3) == FAIL,
        "grid: an applicable point with c0 <= 0: FAIL");

  /* deterministic inequalities */
  check(&t, valley_check_thm2_leq(1, 2, 0) == PASS, "1 <= 2: PASS");
  check(&t, valley_check_thm2_leq(2, 1, 0) == FAIL, "2 <= 1: FAIL");
  check(&t, valley_check_thm2_leq(1 + 1e-15, 1, 1e-14) == PASS, "equality within tol: PASS");
  check(&t, valley_check_thm2_leq(NAN, 1, 0) == INC, "NaN: INCONCLUSIVE");

  /* combination */
  valley_check_verdict_t a[3] = {PASS, PASS, PASS}, b[3] = {PASS, INC, PASS},
                         c[3] = {PASS, INC, FAIL};
  check(&t, valley_check_thm2_all(a, 3) == PASS, "all PASS: PASS");
  check(&t, valley_check_thm2_all(b, 3) == INC, "one INCONCLUSIVE: INCONCLUSIVE");
  check(&t, valley_check_thm2_all(c, 3) == FAIL, "one FAIL: FAIL");
  check(&t, valley_check_thm2_all(a, 0) == INC, "nothing: INCONCLUSIVE");

  /* grid */
  double lo[3] = {0.09, 0.05, 0.2}, hi[3] = {0.1, 0.06, 0.3}, c0[3] = {0.05, 0.04, 0.5};
  int app_all[3] = {1, 1, 0}, app_three[3] = {1, 1, 1}, app_none[3] = {0, 0, 0};
  check(&t, valley_check_thm2_grid(3, lo, hi, c0, app_all) == PASS,
        "grid: applicable points above c0, the failing one outside the preconditions: PASS");
  check(&t, valley_check_thm2_grid(3, lo, hi, c0, app_three) == FAIL,
        "grid: one applicable point below c0: FAIL");
  check(&t, valley_check_thm2_grid(3, lo, hi, c0, app_none) == INC,
        "grid: no applicable point: INCONCLUSIVE");
  double lo2[2] = {0.09, 0.039}, hi2[2] = {0.1, 0.041}, c02[2] = {0.05, 0.04};
  int app2[2] = {1, 1};
  check(&t, valley_check_thm2_grid(2, lo2, hi2, c02, app2) == INC,
        "grid: one interval straddles c0: INCONCLUSIVE");

  /* preconditions */
  valley_thm2_params_t p = {0.01, 1, -20, 1, -20, 0.5}; /* the default valley */
  valley_thm2_constants_t k, ka;
  valley_thm2_constants(&p, VALLEY_THM2_PRINTED, &k, NULL);
  valley_thm2_constants(&p, VALLEY_THM2_AZUMA, &ka, NULL);
  valley_thm2_precond_t pre[VALLEY_THM2_NPRECOND];
  valley_thm2_preconditions(&p, &k, pre);
  check(&t, valley_check_thm2_preconditions(pre, VALLEY_THM2_NPRECOND) == PASS,
        "default valley: every precondition holds: PASS");
  valley_thm2_params_t q = {0.01, 1, -10, 1, -10, 0.5}; /* c' = 10.5 > e^{10/3}/6 = 4.67 */
  valley_thm2_constants_t kq;
  valley_thm2_constants(&q, VALLEY_THM2_PRINTED, &kq, NULL);
  valley_thm2_preconditions(&q, &kq, pre);
  check(&t, valley_check_thm2_preconditions(pre, VALLEY_THM2_NPRECOND) == INC,
        "c = 10: c' bound fails: INCONCLUSIVE (the theorem does not apply)");

  /* Lemma 5 on the default valley: >= 0, and 0 at t = T_min (T_min is the root) */
  double m = valley_check_thm2_lemma5_margin(&p, &k);
  check(&t, m >= -1e-15 && m < 1e-12, "Lemma 5 margin on the default valley %.3g: 0 at T_min", m);
  /* nu = 0: T_min = -(a- + a+)/a+ = 19, margin = min over t of eta(19 - t) = 0 at t = 19 */
  valley_thm2_params_t z = {0.01, 1, -20, 1, -20, 0};
  valley_thm2_constants_t kz;
  valley_thm2_constants(&z, VALLEY_THM2_PRINTED, &kz, NULL);
  check(&t, fabs(valley_check_thm2_lemma5_margin(&z, &kz)) < 1e-14,
        "Lemma 5, nu = 0: margin %.3g = 0", valley_check_thm2_lemma5_margin(&z, &kz));
  valley_thm2_constants_t kbad = kz;
  kbad.T_min = 25; /* a T_min beyond the root: the lemma's inequality fails */
  check(&t, valley_check_thm2_leq(-valley_check_thm2_lemma5_margin(&z, &kbad), 0, 1e-14) == FAIL,
        "Lemma 5 with T_min = 25 > 19 (nu = 0): margin %.3g < 0: FAIL",
        valley_check_thm2_lemma5_margin(&z, &kbad));

  /* Lemma 7: 0 as printed (T_max is the root); the sign Theorem 8 needs is positive with the
   * printed T_max and 0 with the Azuma-sign T_max */
  double l7 = valley_check_thm2_lemma7_value(&p, &k, -1);
  double need = valley_check_thm2_lemma7_value(&p, &k, +1);
  double need_a = valley_check_thm2_lemma7_value(&p, &ka, +1);
  check(&t, fabs(l7) < 1e-15, "Lemma 7 as printed: %.3g = 0", l7);
  check(&t, need > 0.01, "Theorem 8 needs < 0; printed T_max gives %.4g > 0", need);
  check(&t, fabs(need_a) < 1e-15, "Azuma-sign T_max gives %.3g = 0", need_a);
  /* nu = 0: T_max = -b-/b+ = 20 and p_max - T_max eta b+ = 0.2 - 0.2 = 0 */
  check(&t, fabs(valley_check_thm2_lemma7_value(&z, &kz, -1)) < 1e-15, "Lemma 7, nu = 0: 0");

  /* Remark: tau <= e^{x^2}/2, x = (c - 3) a+/(2 nu) - 1 = 16 on the default valley */
  double tb = valley_check_thm2_remark_tau_bound(&p);
  check(&t, close_rel(tb, exp(256.0) / 2, 1e-14), "Remark tau bound %.6g = e^256/2", tb);
  /* a- = -c a+ makes p_min = (c - 1) eta a+ - 2 eta nu exactly, so the Remark's bound is sharp */
  check(&t, close_rel(valley_thm2_T_min(&p, tb), 2, 1e-10),
        "T_min at the Remark's tau bound %.17g = 2 (sharp)", valley_thm2_T_min(&p, tb));
  valley_thm2_params_t small = {0.01, 1, -3.5, 1, -3.5, 0.5}; /* x = 0.5 - 1 < 0 */
  check(&t, isnan(valley_check_thm2_remark_tau_bound(&small)), "x < 0: no tau bound (NaN)");
  check(&t, isinf(valley_check_thm2_remark_tau_bound(&z)), "nu = 0: no limit on tau");
  check(&t, k.T_max <= k.c_prime && ka.T_max > k.c_prime,
        "T_max <= c' = %.4g for the printed T_max %.4g, not for the Azuma-sign %.4g", k.c_prime,
        k.T_max, ka.T_max);
  return check_done(&t);
}
