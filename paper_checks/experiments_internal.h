/* The experiments' run functions and the registry (paper_checks/exp_*.c; docs/experiments.md).
 * Not installed. */
#ifndef VALLEY_EXPERIMENTS_INTERNAL_H
#define VALLEY_EXPERIMENTS_INTERNAL_H

#include "valley/experiment.h"

valley_status_t valley_exp_run_asym_common(valley_exp_run_t *r, valley_error_t *err);
valley_status_t valley_exp_run_shift_gap(valley_exp_run_t *r, valley_error_t *err);
valley_status_t valley_exp_run_assumption2(valley_exp_run_t *r, valley_error_t *err);
valley_status_t valley_exp_run_illusions(valley_exp_run_t *r, valley_error_t *err);
valley_status_t valley_exp_run_swa_vs_sgd(valley_exp_run_t *r, valley_error_t *err);

/* name, claim, source, run: the order is issue 6's */
#define VALLEY_EXPERIMENTS                                                                       \
  {"asym-common",                                                                                \
   "SGD solutions have (rbar, r, p, c)-asymmetric directions with c > 2, found by random "      \
   "directions with decent probability",                                                         \
   "asymmetric-valleys-paper.txt Sec. 3.2, Appendix A; asymmetric-valleys-rebuttal.txt",         \
   valley_exp_run_asym_common},                                                                  \
  {"shift-gap",                                                                                  \
   "along asymmetric directions the test loss is the train loss shifted: the gap xi_delta is "   \
   "minimised at a delta > 0 well below xi_0",                                                   \
   "asymmetric-valleys-paper.txt Sec. 4.2, Figure 3, Appendix C", valley_exp_run_shift_gap},     \
  {"assumption2",                                                                                \
   "Assumption 2: the loss along u at w* + v - <v,u>u, v random in B(R), keeps the asymmetry "   \
   "of the direction",                                                                           \
   "asymmetric-valleys-paper.txt Sec. 4.2, Figure 4", valley_exp_run_assumption2},              \
  {"swa-vs-sgd",                                                                                 \
   "SWA generalizes better than SGD and sits on the flat side of asymmetric directions",        \
   "asymmetric-valleys-paper.txt Sec. 6.1, Table 1, Figures 7-8, Appendices E-F",               \
   valley_exp_run_swa_vs_sgd},                                                                   \
  {"illusions",                                                                                  \
   "random rays from SGD and SWA solutions (and from large- and small-batch solutions) show "    \
   "apparent width differences between points of the same basin",                               \
   "asymmetric-valleys-paper.txt Sec. 6.2, Figures 9-10, Appendix G", valley_exp_run_illusions}

#endif
