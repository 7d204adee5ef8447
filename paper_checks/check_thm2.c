/* Checks of Theorem 2 (He, Huang, Yuan 2019, Sec. 5.1, Appendix D) for `valley check`
 * (paper_checks/CLAIMS.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "valley/outfile.h"
#include "valley/thm2_check.h"
#include "checks_internal.h"

/* The default valley of `valley theorem2` at the run's scale. */
static void thm2_config(const valley_check_config_t *cc, valley_sgd1d_config_t *cfg) {
  valley_sgd1d_config_default(cfg);
  cfg->seed = cc->seed;
  cfg->threads = cc->threads;
  switch (cc->scale) {
  case VALLEY_CHECK_QUICK:
    cfg->chains = 256;
    cfg->steps = 200000;
    break;
  case VALLEY_CHECK_DEFAULT:
    break; /* 1024 chains x 10^6 steps, as `valley theorem2` */
  case VALLEY_CHECK_FULL:
    cfg->chains = 4096;
    cfg->steps = 10000000;
    break;
  }
}

static valley_check_verdict_t from_verdict(valley_verdict_t v) {
  switch (v) {
  case VALLEY_HOLDS: return VALLEY_CHECK_PASS;
  case VALLEY_FAILS: return VALLEY_CHECK_FAIL;
  default: return VALLEY_CHECK_INCONCLUSIVE;
  }
}

valley_status_t valley_check_thm2_wbar(valley_check_run_t *r, valley_error_t *err) {
  const valley_check_config_t *cc = valley_check_cfg(r);
  valley_json_t *j = valley_check_json(r);
  valley_sgd1d_config_t cfg;
  thm2_config(cc, &cfg);
  valley_thm2_report_t *rep = calloc(1, sizeof *rep);
  if (rep == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "the Theorem 2 report");
  valley_check_progress(r, "thm2-wbar: %zu chains x %llu steps", cfg.chains,
                        (unsigned long long)cfg.steps);
  valley_status_t st = valley_thm2_check(&cfg, rep, err);
  if (st != VALLEY_OK) {
    free(rep);
    return st;
  }
  const valley_thm2_event_t *e = NULL;
  for (int i = 0; i < rep->nevents; i++)
    if (strcmp(rep->events[i].name, "theorem2_bound") == 0 &&
        strcmp(rep->events[i].variant, "printed") == 0)
      e = &rep->events[i];
  if (e == NULL) {
    free(rep);
    return VALLEY_ERROR(err, VALLEY_EINVAL, "thm2-wbar: the report has no theorem2_bound event");
  }
  valley_json_number(j, "eta", cfg.eta);
  valley_json_number(j, "a_plus", cfg.valley.a_plus);
  valley_json_number(j, "a_minus", cfg.valley.a_minus);
  valley_json_number(j, "nu", cfg.nu);
  valley_json_u64(j, "chains", cfg.chains);
  valley_json_u64(j, "steps", cfg.steps);
  valley_json_u64(j, "rounds", rep->rounds);
  valley_json_number(j, "c0", rep->k.c0);
  valley_json_number(j, "E_wbar", rep->wbar.estimate);
  valley_json_number(j, "E_wbar_se", rep->wbar.stderr_);
  valley_json_number(j, "ci_lo", e->ci_lo);
  valley_json_number(j, "ci_hi", e->ci_hi);
  valley_json_string(j, "interval", "99.9% normal interval over chains");
  valley_check_verdict_t v = from_verdict(e->verdict);
  valley_check_verdict(r, v,
                       "E[w_bar] = %.4g (99.9%% interval [%.4g, %.4g]) against c0 = %.4g "
                       "(eta %g, a+ %g, a- %g, nu %g; %llu rounds)",
                       rep->wbar.estimate, e->ci_lo, e->ci_hi, rep->k.c0, cfg.eta,
                       cfg.valley.a_plus, cfg.valley.a_minus, cfg.nu,
                       (unsigned long long)rep->rounds);
  free(rep);

  /* Figure 5: one chain's iterates and their running average */
  enum { PATH_N = 2000 };
  double *w = malloc(PATH_N * sizeof *w);
  if (w == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "a sample path");
  if ((st = valley_sgd1d_path(&cfg, w, PATH_N, err)) != VALLEY_OK) {
    free(w);
    return st;
  }
  FILE *f;
  st = valley_check_figure(r, "thm2-figure5",
                           "Figure 5: the SGD iterates w_t of one chain on the canonical valley "
                           "(flat side w >= 0) and their running average, which settles on the "
                           "flat side.",
                           &f, err);
  if (st == VALLEY_OK) {
    valley_plots_trajectory_write(f, "Theorem 2, Figure 5: iterates and running average", w,
                                  PATH_N);
    valley_check_figure_plot(r, "set xlabel 'SGD step t'\nset ylabel 'w'\nset grid");
    valley_check_figure_plot(r, "plot DATA using 1:2 with lines lc rgb '#9bbbe0' title 'iterate "
                                "w_t', DATA using 1:3 with lines lw 2 lc rgb '#c0392b' title "
                                "'running average', 0 with lines dt 2 lc rgb 'black' title "
                                "'minimum w* = 0'");
  }
  free(w);
  return st;
}
