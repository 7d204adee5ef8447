/* The checks of `valley check` (paper_checks/check_*.c), their registry, and the report writers
 * (paper_checks/check_report.c).  Not installed.  To add a check: write its run function in a
 * check_*.c file, declare it here, add a row to VALLEY_CHECKS and to paper_checks/CLAIMS.md. */
#ifndef VALLEY_CHECKS_INTERNAL_H
#define VALLEY_CHECKS_INTERNAL_H

#include "valley/check.h"

/* report.json, report.md and index.html in dir for the results of rep; numbers[i] is check i's
 * numbers object as JSON text (NULL when it did not run).  EIO / ENOMEM. */
valley_status_t valley_check_write_reports(const valley_check_config_t *cfg,
                                           const valley_check_report_t *rep,
                                           const char *const *numbers, const char *dir,
                                           valley_error_t *err);

/* ---- the checks ---- */
valley_status_t valley_check_thm2_wbar(valley_check_run_t *r, valley_error_t *err);
/* group thm1: Theorem 1 and Definitions 1-3 (paper_checks/check_thm1.c) */
valley_status_t valley_check_thm1_statement(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_thm1_proof(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_def1_recovery(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_def3_shift_gap(valley_check_run_t *r, valley_error_t *err);

/* name, paper, where, sentence, command, run */
#define VALLEY_CHECKS                                                                             \
  {"thm2-wbar", "asymmetric-valleys-paper.txt", "Theorem 2 (Sec. 5.1), Figure 5",               \
   "averaged SGD on a 1-D asymmetric valley is biased to the flat side: E[w_bar] > c0 > 0",     \
   "valley theorem2", valley_check_thm2_wbar},                                                  \
  /* group thm1: Theorem 1 and Definitions 1-3 */                                                \
  {"thm1-statement", "asymmetric-valleys-paper.txt", "Theorem 1 (Sec. 4.1), as stated",          \
   "if Assumption 1 holds for R = norm(l), Assumption 2 for R' = norm(dbar) + norm(l) and "             \
   "4 xi / ((c_i - 1) p_i) < l_i <= max{rbar - dbar_i, dbar_i - r}, then E L(w*) - "              \
   "E L(w* + sum l_i u_i) >= sum (c_i - 1) l_i p_i / 2 - 2 k xi",                               \
   "valley theorem1 --search", valley_check_thm1_statement},                                    \
  {"thm1-proof", "asymmetric-valleys-paper.txt", "Theorem 1, Appendix B (the proof's conditions)", \
   "the same bound under the conditions the proof uses: l_i <= min{rbar - dbar_i, dbar_i - r}, " \
   "Assumption 1 at R' = norm(l) + norm(dbar), the shift drawn in the u_i frame",                    \
   "valley theorem1 --search --search-space proof", valley_check_thm1_proof},                   \
  {"def1-recovery", "asymmetric-valleys-paper.txt", "Definition 1 (Sec. 3.1)",                   \
   "u is (rbar, r, p, c)-asymmetric if d/dl Lhat(w + l u) < p and d/dl Lhat(w - l u) > c p for " \
   "l in (r, rbar): the estimator recovers known (rbar, r, p, c), and c = 1 when symmetric",    \
   "valley direction --profile FILE", valley_check_def1_recovery},                              \
  {"def3-shift-gap", "asymmetric-valleys-paper.txt", "Definition 3 (Sec. 4.1), Figure 3(b)",     \
   "xi_delta(w) = max over v in B(R) of abs(L'(w + v + delta) - Lhat(w + v)): a test curve equal to the " \
   "train curve moved by delta gives xi = 0 at that delta",                                      \
   "valley direction --profile FILE --csv gap.csv", valley_check_def3_shift_gap}

#endif
