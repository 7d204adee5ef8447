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
/* Theorem 2, the steps of its proof (paper_checks/check_thm2.c, docs/check_thm2.md) */
valley_status_t valley_check_thm2_preconds(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_thm2_lemma4(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_thm2_lemma5(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_thm2_theorem6(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_thm2_lemma7(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_thm2_theorem8(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_thm2_remark(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_thm2_round_mean(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_thm2_grid_run(valley_check_run_t *r, valley_error_t *err);

/* name, paper, where, sentence, command, run */
#define VALLEY_CHECKS                                                                             \
  {"thm2-wbar", "asymmetric-valleys-paper.txt", "Theorem 2 (Sec. 5.1), Figure 5",               \
   "averaged SGD on a 1-D asymmetric valley is biased to the flat side: E[w_bar] > c0 > 0",     \
   "valley theorem2", valley_check_thm2_wbar},                                                 \
  /* ---- thm2: the steps of Theorem 2's proof (Appendix D) ---- */                              \
  {"thm2-preconditions", "asymmetric-valleys-paper.txt", "Theorem 2 (Sec. 5.1), Appendix D",    \
   "the assumptions of Theorem 2 (b- <= a- < 0 < b+ <= a+, c' < e^{c/3}/6, nu <= a+) and those "  \
   "its proof needs (p_min > 0, real T_min and T_max, tau > T_min, T_min >= 1) hold",            \
   "valley theorem2", valley_check_thm2_preconds},                                               \
  {"thm2-lemma4", "asymmetric-valleys-paper.txt", "Appendix D, Lemma 4",                        \
   "every round starts at w0 in [p_min, p_max], and SGD stays on the sharp side for one "       \
   "iterate per round",                                                                          \
   "valley theorem2", valley_check_thm2_lemma4},                                                 \
  {"thm2-lemma5", "asymmetric-valleys-paper.txt", "Appendix D, Lemma 5",                        \
   "for all t <= T_min, p_min - t eta a+ - sqrt(2t) eta nu log^{1/2}(2 tau) >= 0",               \
   "valley theorem2 --json", valley_check_thm2_lemma5},                                          \
  {"thm2-theorem6", "asymmetric-valleys-paper.txt", "Appendix D, Theorem 6",                    \
   "with probability >= 1 - T_min/tau, for all t <= T_min: w_t > w0 - t eta a+ - sqrt(2t) eta " \
   "nu log^{1/2}(2 tau) >= 0",                                                                   \
   "valley theorem2", valley_check_thm2_theorem6},                                               \
  {"thm2-lemma7", "asymmetric-valleys-paper.txt", "Appendix D, Lemma 7",                        \
   "p_max - T_max eta b+ - sqrt(2 T_max) eta nu log^{1/2}(2 tau) < 0",                           \
   "valley theorem2 --json", valley_check_thm2_lemma7},                                          \
  {"thm2-theorem8", "asymmetric-valleys-paper.txt", "Appendix D, Theorem 8",                    \
   "if w0 <= p_max, with probability >= 1 - T_max/tau, w_{T_max} < 0",                          \
   "valley theorem2", valley_check_thm2_theorem8},                                               \
  {"thm2-remark", "asymmetric-valleys-paper.txt", "Appendix D, Remark",                         \
   "T_min >= 1 (>= 2 for tau <= e^{x^2}/2), T_min <= -(a- + a+ + 2 nu)/a+ < c, T_max <= c' < "   \
   "e^{c/3}/6, and some tau has (T_min + T_max)/tau <= 1/2",                                     \
   "valley theorem2 --json", valley_check_thm2_remark},                                          \
  {"thm2-round-mean", "asymmetric-valleys-paper.txt", "Appendix D, proof of Theorem 2",         \
   "with probability >= 1 - (T_min + T_max)/tau a round's mean is >= T_min^2/T_max eta a+, "    \
   "and it is always > 0",                                                                       \
   "valley theorem2", valley_check_thm2_round_mean},                                             \
  {"thm2-grid", "asymmetric-valleys-paper.txt", "Theorem 2 (Sec. 5.1)",                         \
   "E[w_bar] > c0 > 0 on every valley that satisfies the assumptions (c = -a-/a+ and nu varied)", \
   "valley theorem2 --c C --nu NU", valley_check_thm2_grid_run}

#endif
