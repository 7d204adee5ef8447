/* The checks of `valley check` (paper_checks/check_*.c), their registry, and the report writers
 * (paper_checks/check_report.c).  Not installed.  To add a check: write its run function in a
 * check_*.c file, declare it here, add a row to VALLEY_CHECKS and to paper_checks/CLAIMS.md. */
#ifndef VALLEY_CHECKS_INTERNAL_H
#define VALLEY_CHECKS_INTERNAL_H

#include "valley/check.h"
#include "valley/experiment.h"

/* report.json, report.md and index.html in dir for the results of rep; numbers[i] is check i's
 * numbers object as JSON text (NULL when it did not run).  EIO / ENOMEM. */
valley_status_t valley_check_write_reports(const valley_check_config_t *cfg,
                                           const valley_check_report_t *rep,
                                           const char *const *numbers, const char *dir,
                                           valley_error_t *err);

/* Removes a directory tree (the runner's temporary folders). */
void valley_check_rm_tree(const char *dir);

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

/* group thm1: Theorem 1 and Definitions 1-3 (paper_checks/check_thm1.c) */
valley_status_t valley_check_thm1_statement(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_thm1_proof(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_def1_recovery(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_def3_shift_gap(valley_check_run_t *r, valley_error_t *err);

/* the real-network experiments (paper_checks/check_experiments.c) */
valley_status_t valley_check_exp_asym_common(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_exp_shift_gap(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_exp_assumption2(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_exp_swa_vs_sgd(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_exp_thm2_real(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_exp_illusions(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_exp_batch_norm(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_exp_sign_noise(valley_check_run_t *r, valley_error_t *err);
valley_status_t valley_check_exp_shift_curvature(valley_check_run_t *r, valley_error_t *err);
/* reproduced -> PASS, not reproduced -> NOT REPRODUCED, inconclusive -> INCONCLUSIVE */
valley_check_verdict_t valley_check_from_experiment(valley_exp_verdict_t v);

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
  /* ---- thm2: Theorem 2 and the steps of its proof (check_thm2.c) ---- */                       \
  {"thm2-wbar", "asymmetric-valleys-paper.txt", "Theorem 2 (Sec. 5.1), Figure 5",                 \
   "averaged SGD on a 1-D asymmetric valley is biased to the flat side: E[w_bar] > c0 > 0",       \
   "valley theorem2", valley_check_thm2_wbar},                                                    \
  {"thm2-preconditions", "asymmetric-valleys-paper.txt", "Theorem 2 (Sec. 5.1), Appendix D",      \
   "the assumptions of Theorem 2 (b- <= a- < 0 < b+ <= a+, c' < e^{c/3}/6, nu <= a+) and those "  \
   "its proof needs (p_min > 0, real T_min and T_max, tau > T_min, T_min >= 1) hold",             \
   "valley theorem2", valley_check_thm2_preconds},                                                \
  {"thm2-lemma4", "asymmetric-valleys-paper.txt", "Appendix D, Lemma 4",                          \
   "every round starts at w0 in [p_min, p_max], and SGD stays on the sharp side for one "         \
   "iterate per round",                                                                           \
   "valley theorem2", valley_check_thm2_lemma4},                                                  \
  {"thm2-lemma5", "asymmetric-valleys-paper.txt", "Appendix D, Lemma 5",                          \
   "for all t <= T_min, p_min - t eta a+ - sqrt(2t) eta nu log^{1/2}(2 tau) >= 0",                \
   "valley theorem2 --json", valley_check_thm2_lemma5},                                           \
  {"thm2-theorem6", "asymmetric-valleys-paper.txt", "Appendix D, Theorem 6",                      \
   "with probability >= 1 - T_min/tau, for all t <= T_min: w_t > w0 - t eta a+ - sqrt(2t) eta "   \
   "nu log^{1/2}(2 tau) >= 0",                                                                    \
   "valley theorem2", valley_check_thm2_theorem6},                                                \
  {"thm2-lemma7", "asymmetric-valleys-paper.txt", "Appendix D, Lemma 7",                          \
   "p_max - T_max eta b+ - sqrt(2 T_max) eta nu log^{1/2}(2 tau) < 0",                            \
   "valley theorem2 --json", valley_check_thm2_lemma7},                                           \
  {"thm2-theorem8", "asymmetric-valleys-paper.txt", "Appendix D, Theorem 8",                      \
   "if w0 <= p_max, with probability >= 1 - T_max/tau, w_{T_max} < 0",                            \
   "valley theorem2", valley_check_thm2_theorem8},                                                \
  {"thm2-remark", "asymmetric-valleys-paper.txt", "Appendix D, Remark",                           \
   "T_min >= 1 (>= 2 for tau <= e^{x^2}/2), T_min <= -(a- + a+ + 2 nu)/a+ < c, T_max <= c' < "    \
   "e^{c/3}/6, and some tau has (T_min + T_max)/tau <= 1/2",                                      \
   "valley theorem2 --json", valley_check_thm2_remark},                                           \
  {"thm2-round-mean", "asymmetric-valleys-paper.txt", "Appendix D, proof of Theorem 2",           \
   "with probability >= 1 - (T_min + T_max)/tau a round's mean is >= T_min^2/T_max eta a+, "      \
   "and it is always > 0",                                                                        \
   "valley theorem2", valley_check_thm2_round_mean},                                              \
  {"thm2-grid", "asymmetric-valleys-paper.txt", "Theorem 2 (Sec. 5.1)",                           \
   "E[w_bar] > c0 > 0 on every valley that satisfies the assumptions (c = -a-/a+ and nu varied)", \
   "valley theorem2 --c C --nu NU", valley_check_thm2_grid_run},                                  \
  /* ---- thm1: Theorem 1 and Definitions 1-3 (check_thm1.c) ---- */                              \
  {"thm1-statement", "asymmetric-valleys-paper.txt", "Theorem 1 (Sec. 4.1), as stated",           \
   "if Assumption 1 holds for R = norm(l), Assumption 2 for R' = norm(dbar) + norm(l) and "       \
   "4 xi / ((c_i - 1) p_i) < l_i <= max{rbar - dbar_i, dbar_i - r}, then E L(w*) - "              \
   "E L(w* + sum l_i u_i) >= sum (c_i - 1) l_i p_i / 2 - 2 k xi",                                 \
   "valley theorem1 --search", valley_check_thm1_statement},                                      \
  {"thm1-proof", "asymmetric-valleys-paper.txt", "Theorem 1, Appendix B (the proof's conditions)",\
   "the same bound under the conditions the proof uses: l_i <= min{rbar - dbar_i, dbar_i - r}, "  \
   "Assumption 1 at R' = norm(l) + norm(dbar), the shift drawn in the u_i frame",                 \
   "valley theorem1 --search --search-space proof", valley_check_thm1_proof},                     \
  {"def1-recovery", "asymmetric-valleys-paper.txt", "Definition 1 (Sec. 3.1)",                    \
   "u is (rbar, r, p, c)-asymmetric if d/dl Lhat(w + l u) < p and d/dl Lhat(w - l u) > c p for "  \
   "l in (r, rbar): the estimator recovers known (rbar, r, p, c), and c = 1 when symmetric",      \
   "valley direction --profile FILE", valley_check_def1_recovery},                                \
  {"def3-shift-gap", "asymmetric-valleys-paper.txt", "Definition 3 (Sec. 4.1), Figure 3(b)",      \
   "xi_delta(w) = max over v in B(R) of abs(L'(w + v + delta) - Lhat(w + v)): a test curve equal to the "\
   "train curve moved by delta gives xi = 0 at that delta",                                       \
   "valley direction --profile FILE --csv gap.csv", valley_check_def3_shift_gap},                 \
  /* ---- steady: the SGD steady state, shift-curvature paper (check_steady.c) ---- */            \
  {"steady-eq5", "shift-curvature-paper.txt", "eq. (5), Appendix B.1",                            \
   "rho = exp(-2 v / T) / Z is the steady state of the SGD Fokker-Planck equation (10)",          \
   "valley steady-state --preset fig4-left --T 0.1 --fv 24000", valley_check_steady_eq5},         \
  {"steady-eq6", "shift-curvature-paper.txt", "eq. (6), Appendix B.2",                            \
   "the basin weights are w_k ∝ exp(-2 v(mu_k) / T) |v''(mu_k)|^(-1/2) (Laplace)",                \
   "valley basins --preset fig6-three --T 0.01", valley_check_steady_eq6},                        \
  {"steady-eq78", "shift-curvature-paper.txt", "eqs. (7), (8)",                                   \
   "E_rho[U_test] = sum_k w_k (U_k^test + 1/2 s_k C_k^test s_k) + O(T)",                          \
   "valley basins --preset fig6-three --T 0.0001", valley_check_steady_eq78},                     \
  {"steady-fig4-left", "shift-curvature-paper.txt", "Figure 4 (left), Sec. 3.1",                  \
   "as T increases, weight moves to the wider minimum with lower shift-curvature, test error "    \
   "decreases and training error increases; a non-zero finite optimal temperature",               \
   "valley basins --preset fig4-left --sweep 0.01:1:40", valley_check_steady_fig4_left},          \
  {"steady-fig4-right", "shift-curvature-paper.txt", "Figure 4 (right), Sec. 3.1",                \
   "minimum at 1 is deeper and wider: both training and test error worsen as T increases",        \
   "valley basins --preset fig4-right --sweep 0.01:1:40", valley_check_steady_fig4_right},        \
  {"steady-figG26-left", "shift-curvature-paper.txt", "Figure G.2.6 (left), Appendix G.2",        \
   "one basin: train and test error both increase as temperature increases",                      \
   "valley basins --preset fig6-one --sweep 0.001:1:40", valley_check_steady_figG26_left},        \
  {"steady-figG26-right", "shift-curvature-paper.txt", "Figure G.2.6 (right), Appendix G.2",      \
   "three basins: mass moves from the narrow deep minimum at 0 to the wider ones, preferring "    \
   "the widest at 1; test error decreases while training error increases",                        \
   "valley basins --preset fig6-three --sweep 0.01:1:40", valley_check_steady_figG26_right},      \
  {"steady-b1", "shift-curvature-paper.txt", "Appendix B.1, examples 1-2",                        \
   "non-constant or anisotropic noise can have a zero-current steady state with the closed-form " \
   "v: D = U gives v = (1 + T/2) log U; D = 1/f'(U) gives v = f(U) - (T/2) log f'(U); D = "       \
   "Hessian^-1 with quadratic U gives v = |grad U|^2 / 2",                                        \
   "valley check --only steady-b1", valley_check_steady_b1},                                      \
  {"steady-curl", "shift-curvature-paper.txt", "Assumption 1 (Appendix B.1), footnote 4",         \
   "eq. (5) needs V = D^-1 (grad U + (T/2) div D) to have zero curl (a zero-current steady state)",\
   "valley fp2d --example curl --cells 128", valley_check_steady_curl},                           \
  {"steady-reparam", "shift-curvature-paper.txt", "Appendix C, Sec. 2",                           \
   "E_rho[U_test] and the basin weights are reparametrization-invariant, and so is every term "   \
   "of (4) approximately (small s_k, b_k = O(T)), although curvature is not",                     \
   "valley check --only steady-reparam", valley_check_steady_reparam},                            \
  {"steady-sgd", "shift-curvature-paper.txt", "Appendix A (when is the diffusion approximation "  \
   "accurate)", "the SGD diffusion approximation holds for small learning rates and breaks down " \
   "for large ones (large expected change per update)",                                           \
   "valley steady-state --preset fig4-left --T 0.1 --sde --sgd-lr 0.0003,0.001,0.003,0.01,0.02 "  \
   "--time 3", valley_check_steady_sgd},                                                          \
  /* ---- the real-network experiments (check_experiments.c) ---- */                              \
  {"exp-asym-common", "asymmetric-valleys-paper.txt",                                             \
   "Sec. 3.2, Appendix A; asymmetric-valleys-rebuttal.txt",                                       \
   "SGD solutions have (rbar, r, p, c)-asymmetric directions with c > 2, found by random "        \
   "directions with decent probability",                                                          \
   "valley experiment asym-common --full", valley_check_exp_asym_common},                         \
  {"exp-shift-gap", "asymmetric-valleys-paper.txt",                                               \
   "Sec. 4.2, Figure 3, Appendix C",                                                              \
   "along asymmetric directions the test loss is the train loss shifted: the gap xi_delta is"     \
   " minimised at a delta > 0 well below xi_0",                                                   \
   "valley experiment shift-gap --full", valley_check_exp_shift_gap},                             \
  {"exp-assumption2", "asymmetric-valleys-paper.txt",                                             \
   "Sec. 4.2, Figure 4",                                                                          \
   "Assumption 2: the loss along u at w* + v - <v,u>u, v random in B(R), keeps the asymmetry"     \
   " of the direction",                                                                           \
   "valley experiment assumption2 --full", valley_check_exp_assumption2},                         \
  {"exp-swa-vs-sgd", "asymmetric-valleys-paper.txt",                                              \
   "Sec. 6.1, Table 1, Figures 7-8, Appendices E-F",                                              \
   "SWA generalizes better than SGD and sits on the flat side of asymmetric directions",          \
   "valley experiment swa-vs-sgd --full", valley_check_exp_swa_vs_sgd},                           \
  {"exp-thm2-real", "asymmetric-valleys-paper.txt",                                               \
   "Sec. 5.1-5.2, Theorem 2, Figure 6",                                                           \
   "projected onto a fixed asymmetric direction, the loss along the SGD trajectory is "           \
   "stable, and Theorem 2's 1-D SGD on that profile predicts SWA's bias to the flat side",        \
   "valley experiment thm2-real --full", valley_check_exp_thm2_real},                             \
  {"exp-illusions", "asymmetric-valleys-paper.txt",                                               \
   "Sec. 6.2, Figures 9-10, Appendix G",                                                          \
   "random rays from SGD and SWA solutions (and from large- and small-batch solutions) show "     \
   "apparent width differences between points of the same basin",                                 \
   "valley experiment illusions --full", valley_check_exp_illusions},                             \
  {"exp-batch-norm", "asymmetric-valleys-paper.txt",                                              \
   "Appendix H, Figures 41-46",                                                                   \
   "BN directions are more asymmetric than non-BN ones, SWA over the BN parameters alone "        \
   "beats SWA over as many random non-BN parameters, and SWA gains more with BN than without",    \
   "valley experiment batch-norm --full", valley_check_exp_batch_norm},                           \
  {"exp-sign-noise", "asymmetric-valley-talk-2024.txt",                                           \
   "(Exploring Asymmetric Valley)",                                                               \
   "1-D loss curves are asymmetric along sign-consistent noise and symmetric along zero-mean"     \
   " noise; along positive noise only when the BN scales are initialised to ones",                \
   "valley experiment sign-noise --full", valley_check_exp_sign_noise},                           \
  {"exp-shift-curvature", "shift-curvature-paper.txt",                                            \
   "Sec. 3, eq. (3), Figures 1-3, Appendix F, Appendix G.1 / Figure 5 left",                      \
   "higher SGD temperature T = lr/batch gives lower train and test curvature and lower "          \
   "shift-curvature along the line between nearby train and test minima, and the test loss "      \
   "at the train minimum is U_test + (1/2) s^T C_test s (eq. 3); T alone, not lr or batch "       \
   "separately, sets the result",                                                                 \
   "valley experiment shift-curvature --full", valley_check_exp_shift_curvature}

#endif
