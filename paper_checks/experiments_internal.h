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
valley_status_t valley_exp_run_thm2_real(valley_exp_run_t *r, valley_error_t *err);
valley_status_t valley_exp_run_sign_noise(valley_exp_run_t *r, valley_error_t *err);
valley_status_t valley_exp_run_batch_norm(valley_exp_run_t *r, valley_error_t *err);
valley_status_t valley_exp_run_shift_curvature(valley_exp_run_t *r, valley_error_t *err);

/* ---- helpers shared by the experiments (paper_checks/experiment.c) ---- */

/* The splitmix64 finalizer of x + the golden-ratio increment: seeds for sub-streams. */
uint64_t valley_exp_mix(uint64_t x);
/* A seed for (what, a, b) under the experiment's seed: mix(mix(mix(seed ^ mix(what)) + a) + b). */
uint64_t valley_exp_seed(uint64_t seed, uint64_t what, uint64_t a, uint64_t b);
/* Euclidean norm of n floats, summed in double. */
double valley_exp_norm(const float *v, size_t n);
/* qsort comparison of doubles, ascending. */
int valley_exp_cmp_double(const void *a, const void *b);
/* Mean, standard error sd / sqrt(n) and sample standard deviation (n - 1) of x[0..n-1]; se and
 * sd are NaN for n < 2.  se or sd may be NULL. */
void valley_exp_mean_se(const double *x, size_t n, double *mean, double *se, double *sd);

/* The BN MLP widths[0]-widths[1]-widths[2]-widths[3] trained by SGD with the defaults of
 * valley_sgd_config_default (momentum 0.9, weight decay 5e-4, constant lr) but batch and lr;
 * no SWA.  Callers change what else they need. */
void valley_exp_spec_bn_mlp(valley_exp_train_t *spec, const size_t widths[4], size_t batch,
                            double lr, size_t epochs, uint64_t init_seed, uint64_t sgd_seed);

/* Definition 1 (valley_prof_def1 with its defaults) on the train loss of p, with windows from
 * r >= max(|l_min| + h, L / 10), l_min the sampled minimum, h the grid step, L the half-width:
 * the rule of asym-common and of the experiments after it. */
valley_status_t valley_exp_def1(const valley_prof_t *p, double L, double h, valley_prof_def1_t *o,
                                valley_error_t *err);

/* The pilot rule of asym-common and shift-gap: the direction `index` of (dc, dseed) at m is
 * probed on the ladder l = +-2^k ||theta|| / ||u||, k = VALLEY_EXP_LADDER_LO .. _HI; *L is the
 * smallest rung where the train loss has risen by at least `rise` on both sides (the top rung
 * when none), *rise_lo and *rise_hi (may be NULL) the rises there.  u: n_params floats of
 * scratch (the pilot direction on return).  EDOM for a zero direction or theta. */
#define VALLEY_EXP_LADDER_LO (-10)
#define VALLEY_EXP_LADDER_HI 2
valley_status_t valley_exp_pilot(valley_exp_run_t *r, const valley_exp_model_t *m,
                                 const valley_dir_config_t *dc, uint64_t dseed, uint64_t index,
                                 double rise, float *u, const valley_dataset_t *train,
                                 const valley_dataset_t *test, double *L, double *rise_lo,
                                 double *rise_hi, valley_error_t *err);

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
  {"thm2-real",                                                                                  \
   "projected onto a fixed asymmetric direction, the loss along the SGD trajectory is stable, "  \
   "and Theorem 2's 1-D SGD on that profile predicts SWA's bias to the flat side",               \
   "asymmetric-valleys-paper.txt Sec. 5.1-5.2, Theorem 2, Figure 6", valley_exp_run_thm2_real},  \
  {"illusions",                                                                                  \
   "random rays from SGD and SWA solutions (and from large- and small-batch solutions) show "    \
   "apparent width differences between points of the same basin",                               \
   "asymmetric-valleys-paper.txt Sec. 6.2, Figures 9-10, Appendix G", valley_exp_run_illusions}, \
  {"batch-norm",                                                                                 \
   "BN directions are more asymmetric than non-BN ones, SWA over the BN parameters alone beats " \
   "SWA over as many random non-BN parameters, and SWA gains more with BN than without",        \
   "asymmetric-valleys-paper.txt Appendix H, Figures 41-46", valley_exp_run_batch_norm},         \
  {"sign-noise",                                                                                 \
   "1-D loss curves are asymmetric along sign-consistent noise and symmetric along zero-mean "  \
   "noise; along positive noise only when the BN scales are initialised to ones",              \
   "asymmetric-valley-talk-2024.txt (Exploring Asymmetric Valley)", valley_exp_run_sign_noise},  \
  {"shift-curvature",                                                                            \
   "higher SGD temperature T = lr/batch gives lower train and test curvature and lower "        \
   "shift-curvature along the line between nearby train and test minima, and the test loss at " \
   "the train minimum is U_test + (1/2) s^T C_test s (eq. 3); T alone, not lr or batch "         \
   "separately, sets the result",                                                                \
   "shift-curvature-paper.txt Sec. 3, eq. (3), Figures 1-3, Appendix F, Appendix G.1 / Figure "  \
   "5 left",                                                                                     \
   valley_exp_run_shift_curvature}

#endif
