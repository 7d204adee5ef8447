/* Theorem 2 of He, Huang, Yuan (2019) checked: its constants, its preconditions, and a Monte
 * Carlo of the 1-D SGD process with every event of the proof (Appendix D) beside the
 * probability the paper claims for it, and a verdict. */
#ifndef VALLEY_THM2_CHECK_H
#define VALLEY_THM2_CHECK_H

#include "valley/sgd1d.h"
#include "valley/stats.h"
#include "valley/thm2.h"
#include "valley/verdict.h"

#define VALLEY_THM2_MAX_EVENTS 12

typedef struct {
  const char *name;    /* machine name, e.g. "theorem6_flat_stay" */
  const char *claim;   /* the paper's statement, in words */
  const char *variant; /* "printed" or "azuma" (a labelled variant, docs/theorem2.md) */
  int is_bound;        /* 0: "P(event) >= claimed_probability"; 1: "statistic > threshold" */
  double claimed_probability;
  uint64_t n, k;       /* rounds, rounds where the event held */
  double observed, ci_lo, ci_hi; /* frequency (or statistic) with its 99.9% interval */
  double threshold;    /* for a bound */
  valley_verdict_t verdict;
} valley_thm2_event_t;

typedef struct {
  valley_sgd1d_config_t cfg;
  valley_thm2_params_t params;
  valley_thm2_constants_t k, k_azuma;
  valley_thm2_precond_t pre[VALLEY_THM2_NPRECOND];
  /* Monte Carlo */
  uint64_t rounds;
  valley_ratio_t wbar;       /* E[w_bar]: mean of round means */
  valley_ratio_t traj;       /* whole-trajectory average (what weight averaging returns) */
  valley_ratio_t round_len;  /* mean round length */
  uint64_t round_len_max;
  uint64_t hist[VALLEY_SGD1D_HIST];
  int nevents;
  valley_thm2_event_t events[VALLEY_THM2_MAX_EVENTS];
} valley_thm2_report_t;

/* Constants and preconditions only (no simulation). */
valley_status_t valley_thm2_analyse(const valley_sgd1d_config_t *cfg, valley_thm2_report_t *rep,
                                    valley_error_t *err);

/* The Monte Carlo of chains first .. first + res->chains - 1 (of rep->cfg.chains) with the
 * proof's events as probes; rep comes from valley_thm2_analyse.  The pieces of a run split by
 * chain (MPI ranks, docs/mpi.md). */
valley_status_t valley_thm2_simulate(const valley_thm2_report_t *rep, size_t first,
                                     valley_sgd1d_result_t *res, valley_error_t *err);

/* Fills rep's Monte Carlo part and the verdicts from the results of all rep->cfg.chains chains
 * (res->chain[i] is chain i; res->hist and samples_per_chain as valley_sgd1d_run sets them). */
valley_status_t valley_thm2_reduce(valley_thm2_report_t *rep, const valley_sgd1d_result_t *res,
                                   valley_error_t *err);

/* The whole check: analyse, simulate, reduce (valley_thm2_simulate of every chain, then
 * valley_thm2_reduce). */
valley_status_t valley_thm2_check(const valley_sgd1d_config_t *cfg, valley_thm2_report_t *rep,
                                  valley_error_t *err);

#endif
