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

/* name, paper, where, sentence, command, run */
#define VALLEY_CHECKS                                                                             \
  {"thm2-wbar", "asymmetric-valleys-paper.txt", "Theorem 2 (Sec. 5.1), Figure 5",               \
   "averaged SGD on a 1-D asymmetric valley is biased to the flat side: E[w_bar] > c0 > 0",     \
   "valley theorem2", valley_check_thm2_wbar}

#endif
