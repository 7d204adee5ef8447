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

/* group steady (paper_checks/check_steady.c): the SGD steady state, shift-curvature paper */
valley_status_t valley_check_steady_eq5(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_steady_eq6(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_steady_eq78(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_steady_fig4_left(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_steady_fig4_right(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_steady_figG26_left(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_steady_figG26_right(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_steady_b1(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_steady_curl(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_steady_reparam(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_steady_sgd(valley_check_run_t *r, valley_error_t *err);

/* name, paper, where, sentence, command, run */
#define VALLEY_CHECKS                                                                             \
  {"thm2-wbar", "asymmetric-valleys-paper.txt", "Theorem 2 (Sec. 5.1), Figure 5",               \
   "averaged SGD on a 1-D asymmetric valley is biased to the flat side: E[w_bar] > c0 > 0",     \
   "valley theorem2", valley_check_thm2_wbar},                                                  \
  /* group steady: the SGD steady state (shift-curvature-paper.txt) */                          \
  {"steady-eq5", "shift-curvature-paper.txt", "eq. (5), Appendix B.1",                          \
   "rho = exp(-2 v / T) / Z is the steady state of the SGD Fokker-Planck equation (10)",         \
   "valley steady-state --preset fig4-left --T 0.1 --fv 24000", valley_check_steady_eq5},        \
  {"steady-eq6", "shift-curvature-paper.txt", "eq. (6), Appendix B.2",                          \
   "the basin weights are w_k ∝ exp(-2 v(mu_k) / T) |v''(mu_k)|^(-1/2) (Laplace)",              \
   "valley basins --preset fig6-three --T 0.01", valley_check_steady_eq6},                       \
  {"steady-eq78", "shift-curvature-paper.txt", "eqs. (7), (8)",                                 \
   "E_rho[U_test] = sum_k w_k (U_k^test + 1/2 s_k C_k^test s_k) + O(T)",                         \
   "valley basins --preset fig6-three --T 0.0001", valley_check_steady_eq78},                    \
  {"steady-fig4-left", "shift-curvature-paper.txt", "Figure 4 (left), Sec. 3.1",                \
   "as T increases, weight moves to the wider minimum with lower shift-curvature, test error "  \
   "decreases and training error increases; a non-zero finite optimal temperature",             \
   "valley basins --preset fig4-left --sweep 0.01:1:40", valley_check_steady_fig4_left},        \
  {"steady-fig4-right", "shift-curvature-paper.txt", "Figure 4 (right), Sec. 3.1",              \
   "minimum at 1 is deeper and wider: both training and test error worsen as T increases",      \
   "valley basins --preset fig4-right --sweep 0.01:1:40", valley_check_steady_fig4_right},      \
  {"steady-figG26-left", "shift-curvature-paper.txt", "Figure G.2.6 (left), Appendix G.2",     \
   "one basin: train and test error both increase as temperature increases",                    \
   "valley basins --preset fig6-one --sweep 0.001:1:40", valley_check_steady_figG26_left},      \
  {"steady-figG26-right", "shift-curvature-paper.txt", "Figure G.2.6 (right), Appendix G.2",   \
   "three basins: mass moves from the narrow deep minimum at 0 to the wider ones, preferring "  \
   "the widest at 1; test error decreases while training error increases",                     \
   "valley basins --preset fig6-three --sweep 0.01:1:40", valley_check_steady_figG26_right},   \
  {"steady-b1", "shift-curvature-paper.txt", "Appendix B.1, examples 1-2",                      \
   "non-constant or anisotropic noise can have a zero-current steady state with the closed-form " \
   "v: D = U gives v = (1 + T/2) log U; D = 1/f'(U) gives v = f(U) - (T/2) log f'(U); D = "     \
   "Hessian^-1 with quadratic U gives v = |grad U|^2 / 2",                                        \
   "valley check --only steady-b1", valley_check_steady_b1},                        \
  {"steady-curl", "shift-curvature-paper.txt", "Assumption 1 (Appendix B.1), footnote 4",       \
   "eq. (5) needs V = D^-1 (grad U + (T/2) div D) to have zero curl (a zero-current steady state)", \
   "valley fp2d --example curl --cells 128", valley_check_steady_curl},                          \
  {"steady-reparam", "shift-curvature-paper.txt", "Appendix C, Sec. 2",                         \
   "E_rho[U_test] and the basin weights are reparametrization-invariant, and so is every term "  \
   "of (4) approximately (small s_k, b_k = O(T)), although curvature is not",                                                         \
   "valley check --only steady-reparam", valley_check_steady_reparam},                          \
  {"steady-sgd", "shift-curvature-paper.txt", "Appendix A (when is the diffusion approximation " \
   "accurate)", "the SGD diffusion approximation holds for small learning rates and breaks down " \
   "for large ones (large expected change per update)",                                          \
   "valley steady-state --preset fig4-left --T 0.1 --sde --sgd-lr 0.0003,0.001,0.003,0.01,0.02 " \
   "--time 3", valley_check_steady_sgd}

#endif
