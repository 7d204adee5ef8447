/* Theorem 2 of He, Huang, Yuan (2019) checked end to end: constants (theorems/), the SGD Monte
 * Carlo with the proof's events as round probes (sim/), and a verdict per event. */
#include "valley/thm2_check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

valley_status_t valley_thm2_analyse(const valley_sgd1d_config_t *cfg, valley_thm2_report_t *rep,
                                    valley_error_t *err) {
  memset(rep, 0, sizeof *rep);
  rep->cfg = *cfg;
  valley_status_t st = valley_sgd1d_config_check(cfg, err);
  if (st != VALLEY_OK) return st;
  valley_thm2_params_t p = {cfg->eta,          cfg->valley.a_plus,  cfg->valley.a_minus,
                            cfg->valley.b_plus, cfg->valley.b_minus, cfg->nu};
  rep->params = p;
  st = valley_thm2_constants(&p, VALLEY_THM2_PRINTED, &rep->k, err);
  if (st != VALLEY_OK) return st;
  st = valley_thm2_constants(&p, VALLEY_THM2_AZUMA, &rep->k_azuma, err);
  if (st != VALLEY_OK) return st;
  valley_thm2_preconditions(&p, &rep->k, rep->pre);
  return VALLEY_OK;
}

static int all_preconditions_hold(const valley_thm2_report_t *rep) {
  for (int i = 0; i < VALLEY_THM2_NPRECOND; i++)
    if (!rep->pre[i].holds) return 0;
  return 1;
}

/* P(event) with a 99.9% interval from the per-chain replicates. */
static void add_probability(valley_thm2_report_t *rep, const valley_sgd1d_result_t *res,
                            valley_probe_t probe, const char *name, const char *claim,
                            const char *variant, double claimed, int premises) {
  valley_thm2_event_t *e = &rep->events[rep->nevents++];
  e->name = name;
  e->claim = claim;
  e->variant = variant;
  e->is_bound = 0;
  e->claimed_probability = claimed;
  e->threshold = NAN;
  e->n = rep->rounds;
  e->k = 0;
  for (size_t c = 0; c < res->chains; c++) e->k += res->chain[c].probe[probe];
  valley_ratio_t r = valley_ratio_estimate(&res->chain[0].probe[probe], &res->chain[0].rounds,
                                           res->chains, sizeof res->chain[0], 1, 1);
  e->observed = r.estimate;
  double half = isnan(r.stderr_) ? NAN : VALLEY_Z999 * r.stderr_;
  e->ci_lo = fmax(0.0, r.estimate - half);
  e->ci_hi = fmin(1.0, r.estimate + half);
  if (isnan(half)) e->ci_lo = e->ci_hi = NAN;
  e->verdict = premises ? valley_verdict_probability(claimed, e->k, e->n, e->ci_lo, e->ci_hi)
                        : VALLEY_NOT_APPLICABLE;
}

static void add_bound(valley_thm2_report_t *rep, const char *name, const char *claim,
                      const char *variant, double c0, int premises) {
  valley_thm2_event_t *e = &rep->events[rep->nevents++];
  e->name = name;
  e->claim = claim;
  e->variant = variant;
  e->is_bound = 1;
  e->claimed_probability = NAN;
  e->n = rep->rounds;
  e->k = 0;
  e->observed = rep->wbar.estimate;
  double half = VALLEY_Z999 * rep->wbar.stderr_;
  e->ci_lo = rep->wbar.estimate - half;
  e->ci_hi = rep->wbar.estimate + half;
  e->threshold = c0;
  e->verdict = premises && rep->rounds > 0 ? valley_verdict_lower_bound(c0, e->ci_lo, e->ci_hi)
                                           : VALLEY_NOT_APPLICABLE;
}

static double one_minus(double num, double tau) { return 1.0 - num / tau; }

static void judge(valley_thm2_report_t *rep, const valley_sgd1d_result_t *res, size_t K) {
  const valley_thm2_constants_t *k = &rep->k, *a = &rep->k_azuma;
  int pre = all_preconditions_hold(rep);
  rep->nevents = 0;
  add_probability(rep, res, VALLEY_PROBE_W0_RANGE, "lemma4_w0_in_range",
                  "Lemma 4: every round starts at w0 in [p_min, p_max]", "printed", 1.0, pre);
  add_probability(rep, res, VALLEY_PROBE_ONE_SHARP, "lemma4_one_sharp_iterate",
                  "Lemma 4 (proof): SGD stays on the sharp side for one iterate per round",
                  "printed", 1.0, pre);
  add_probability(rep, res, VALLEY_PROBE_ENVELOPE, "theorem6_flat_stay",
                  "Theorem 6: for all t <= T_min, w_t > w0 - t eta a+ - sqrt(2t) eta nu "
                  "log^(1/2)(2 tau) >= 0, with probability >= 1 - T_min/tau",
                  "printed", one_minus(k->T_min, k->tau_star), pre && K > 0);
  add_probability(rep, res, VALLEY_PROBE_FLAT_RUN, "theorem8_sharp_by_T_max",
                  "Theorem 8: w_{T_max} < 0 (the first sharp iterate comes at t <= T_max), with "
                  "probability >= 1 - T_max/tau",
                  "printed", one_minus(k->T_max, k->tau_star), pre);
  add_probability(rep, res, VALLEY_PROBE_FLAT_RUN_ALT, "theorem8_sharp_by_T_max",
                  "Theorem 8 with T_max from the Azuma sign: the first sharp iterate comes at "
                  "t <= T_max, with probability >= 1 - T_max/tau",
                  "azuma", one_minus(a->T_max, a->tau_star), pre && a->tau_found);
  add_probability(rep, res, VALLEY_PROBE_MEAN_ABOVE, "round_mean_bound",
                  "Proof of Theorem 2: a round's mean is >= T_min^2/T_max eta a+ with probability "
                  ">= 1 - (T_min + T_max)/tau",
                  "printed", one_minus(k->T_min + k->T_max, k->tau_star), pre);
  add_probability(rep, res, VALLEY_PROBE_MEAN_ABOVE_ALT, "round_mean_bound",
                  "Proof of Theorem 2 with Azuma-sign T_max: a round's mean is >= T_min^2/T_max "
                  "eta a+ with probability >= 1 - (T_min + T_max)/tau",
                  "azuma", one_minus(a->T_min + a->T_max, a->tau_star), pre && a->tau_found);
  add_probability(rep, res, VALLEY_PROBE_MEAN_POSITIVE, "round_mean_positive",
                  "Proof of Theorem 2 (trivial bound): every round's mean is > 0", "printed", 1.0,
                  pre);
  add_bound(rep, "theorem2_bound", "Theorem 2: E[w_bar] > c0 > 0", "printed", k->c0,
            pre && k->tau_found);
  add_bound(rep, "theorem2_bound", "Theorem 2 with Azuma-sign T_max: E[w_bar] > c0 > 0", "azuma",
            a->c0, pre && a->tau_found);
}

valley_status_t valley_thm2_simulate(const valley_thm2_report_t *rep, size_t first,
                                     valley_sgd1d_result_t *res, valley_error_t *err) {
  valley_sgd1d_probes_t probes;
  double *envelope = NULL;
  valley_status_t st = valley_thm2_probes(&rep->params, &rep->k, &rep->k_azuma, &probes,
                                          &envelope, err);
  if (st != VALLEY_OK) return st;
  st = valley_sgd1d_run_range(&rep->cfg, &probes, first, res, err);
  free(envelope);
  return st;
}

valley_status_t valley_thm2_reduce(valley_thm2_report_t *rep, const valley_sgd1d_result_t *res,
                                   valley_error_t *err) {
  if (res->chains != rep->cfg.chains)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "result holds %zu chains, configuration %zu",
                        res->chains, rep->cfg.chains);
  /* the envelope's length K, for the verdict of Theorem 6 */
  valley_sgd1d_probes_t probes;
  double *envelope = NULL;
  valley_status_t st = valley_thm2_probes(&rep->params, &rep->k, &rep->k_azuma, &probes,
                                          &envelope, err);
  if (st != VALLEY_OK) return st;
  free(envelope);
  const valley_sgd1d_chain_t *c0 = &res->chain[0];
  size_t n = res->chains, s = sizeof *c0;
  /* SGD blow-up: an iterate, or a sum of iterates, that left the doubles (a huge --w-init, or
   * eta times the gradient near the limit) is a numerical failure, never a mean of inf or NaN. */
  for (size_t c = 0; c < n; c++)
    if (!isfinite(res->chain[c].traj_sum) || !isfinite(res->chain[c].mean_sum))
      return VALLEY_ERROR(err, VALLEY_ENUMERIC,
                          "SGD blew up: chain %zu's sum of iterates is %g and of round means %g "
                          "(w0 = %g, eta = %g: the iterates or their sums overflow a double); "
                          "numerical failure, no estimate",
                          c, res->chain[c].traj_sum, res->chain[c].mean_sum, rep->cfg.w_init,
                          rep->params.eta);
  rep->rounds = 0;
  rep->round_len_max = 0;
  for (size_t c = 0; c < n; c++) {
    rep->rounds += res->chain[c].rounds;
    if (res->chain[c].len_max > rep->round_len_max) rep->round_len_max = res->chain[c].len_max;
  }
  rep->wbar = valley_ratio_estimate(&c0->mean_sum, &c0->rounds, n, s, 0, 1);
  rep->round_len = valley_ratio_estimate(&c0->len_sum, &c0->rounds, n, s, 1, 1);
  /* trajectory: y = sum of iterates, x = samples (the same for every chain) */
  double *x = malloc(n * sizeof *x);
  if (x == NULL) {
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "cannot allocate %zu doubles", n);
  } else {
    for (size_t c = 0; c < n; c++) x[c] = (double)res->samples_per_chain;
    double *y = malloc(n * sizeof *y);
    if (y == NULL) {
      st = VALLEY_ERROR(err, VALLEY_ENOMEM, "cannot allocate %zu doubles", n);
    } else {
      for (size_t c = 0; c < n; c++) y[c] = res->chain[c].traj_sum;
      rep->traj = valley_ratio_estimate(y, x, n, sizeof(double), 0, 0);
      free(y);
    }
    free(x);
  }
  memcpy(rep->hist, res->hist, sizeof rep->hist);
  judge(rep, res, probes.envelope_len);
  return st;
}

valley_status_t valley_thm2_check(const valley_sgd1d_config_t *cfg, valley_thm2_report_t *rep,
                                  valley_error_t *err) {
  valley_status_t st = valley_thm2_analyse(cfg, rep, err);
  if (st != VALLEY_OK) return st;
  valley_sgd1d_result_t *res = valley_sgd1d_result_alloc(cfg->chains);
  if (res == NULL)
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "cannot allocate results for %zu chains",
                        cfg->chains);
  st = valley_thm2_simulate(rep, 0, res, err);
  if (st == VALLEY_OK) st = valley_thm2_reduce(rep, res, err);
  valley_sgd1d_result_free(res);
  return st;
}
