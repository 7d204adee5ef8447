/* Checks of Theorem 2 (He, Huang, Yuan 2019, Sec. 5.1, Appendix D) for `valley check`
 * (paper_checks/CLAIMS.md, docs/check_thm2.md): one check per step of the proof (Lemma 4,
 * Lemma 5, Theorem 6, Lemma 7, Theorem 8, the per-round bound, the Remark), the preconditions,
 * the conclusion E[w_bar] > c0 with Figure 5 and the events figure, and E[w_bar] against c0 over
 * a grid of valleys.  The decisions are the pure functions of check_thm2.h. */
#include "check_thm2.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "valley/outfile.h"
#include "valley/thm2_check.h"
#include "checks_internal.h"

/* ---- decisions (check_thm2.h) ---------------------------------------------------------------- */

valley_check_verdict_t valley_check_thm2_map(valley_verdict_t v) {
  switch (v) {
  case VALLEY_HOLDS: return VALLEY_CHECK_PASS;
  case VALLEY_FAILS: return VALLEY_CHECK_FAIL;
  case VALLEY_INCONCLUSIVE:
  case VALLEY_NOT_APPLICABLE: break;
  }
  return VALLEY_CHECK_INCONCLUSIVE;
}

valley_check_verdict_t valley_check_thm2_event(double claimed, uint64_t k, uint64_t n, double lo,
                                               double hi, int applicable) {
  if (!applicable) return VALLEY_CHECK_INCONCLUSIVE;
  return valley_check_thm2_map(valley_verdict_probability(claimed, k, n, lo, hi));
}

valley_check_verdict_t valley_check_thm2_bound(double bound, double lo, double hi, int applicable) {
  if (!applicable) return VALLEY_CHECK_INCONCLUSIVE;
  return valley_check_thm2_map(valley_verdict_lower_bound(bound, lo, hi));
}

valley_check_verdict_t valley_check_thm2_conclusion(double c0, double lo, double hi,
                                                    int applicable) {
  if (!applicable || isnan(c0)) return VALLEY_CHECK_INCONCLUSIVE;
  if (!(c0 > 0)) return VALLEY_CHECK_FAIL;
  return valley_check_thm2_bound(c0, lo, hi, 1);
}

valley_check_verdict_t valley_check_thm2_leq(double lhs, double rhs, double tol) {
  if (isnan(lhs) || isnan(rhs) || isnan(tol)) return VALLEY_CHECK_INCONCLUSIVE;
  return lhs <= rhs + tol ? VALLEY_CHECK_PASS : VALLEY_CHECK_FAIL;
}

valley_check_verdict_t valley_check_thm2_all(const valley_check_verdict_t *v, size_t n) {
  int fail = 0, pass = 1;
  for (size_t i = 0; i < n; i++) {
    if (v[i] == VALLEY_CHECK_FAIL) fail = 1;
    if (v[i] != VALLEY_CHECK_PASS) pass = 0;
  }
  if (fail) return VALLEY_CHECK_FAIL;
  return pass && n > 0 ? VALLEY_CHECK_PASS : VALLEY_CHECK_INCONCLUSIVE;
}

valley_check_verdict_t valley_check_thm2_preconditions(const valley_thm2_precond_t *pre, size_t n) {
  if (n == 0) return VALLEY_CHECK_INCONCLUSIVE;
  for (size_t i = 0; i < n; i++)
    if (!pre[i].holds) return VALLEY_CHECK_INCONCLUSIVE;
  return VALLEY_CHECK_PASS;
}

valley_check_verdict_t valley_check_thm2_grid(size_t n, const double *lo, const double *hi,
                                              const double *c0, const int *applicable) {
  size_t used = 0;
  int fail = 0, pass = 1;
  for (size_t i = 0; i < n; i++) {
    if (!applicable[i]) continue;
    used++;
    valley_check_verdict_t v = valley_check_thm2_conclusion(c0[i], lo[i], hi[i], 1);
    if (v == VALLEY_CHECK_FAIL) fail = 1;
    if (v != VALLEY_CHECK_PASS) pass = 0;
  }
  if (fail) return VALLEY_CHECK_FAIL;
  return pass && used > 0 ? VALLEY_CHECK_PASS : VALLEY_CHECK_INCONCLUSIVE;
}

static double lemma5_at(const valley_thm2_params_t *p, const valley_thm2_constants_t *k, double t) {
  return k->p_min - t * p->eta * p->a_plus - sqrt(2 * t) * p->eta * p->nu * k->L;
}

double valley_check_thm2_lemma5_margin(const valley_thm2_params_t *p,
                                       const valley_thm2_constants_t *k) {
  if (!k->tau_found || !isfinite(k->T_min) || k->T_min < 0) return NAN;
  double m = lemma5_at(p, k, k->T_min);
  for (double t = 0; t <= k->T_min; t += 1) m = fmin(m, lemma5_at(p, k, t));
  return m;
}

double valley_check_thm2_lemma7_value(const valley_thm2_params_t *p,
                                      const valley_thm2_constants_t *k, int sign) {
  if (!k->tau_found || !isfinite(k->T_max) || k->T_max < 0) return NAN;
  double T = k->T_max;
  double azuma = sqrt(2 * T) * p->eta * p->nu * k->L;
  return k->p_max - T * p->eta * p->b_plus + (sign > 0 ? azuma : -azuma);
}

double valley_check_thm2_remark_tau_bound(const valley_thm2_params_t *p) {
  if (p->nu == 0) return INFINITY;
  double c = -p->a_minus / p->a_plus;
  double x = (c - 3) * p->a_plus / (2 * p->nu) - 1;
  if (!(x >= 0)) return NAN;
  return exp(x * x) / 2;
}

/* ---- shared -------------------------------------------------------------------------------- */

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

/* The Monte Carlo of the default valley, shared by the checks that read it (one run of it per
 * `valley check`). */
static valley_status_t thm2_make(valley_check_run_t *r, void *ctx, void **value,
                                 valley_error_t *err) {
  const valley_sgd1d_config_t *cfg = ctx;
  valley_thm2_report_t *rep = calloc(1, sizeof *rep);
  if (rep == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "the Theorem 2 report");
  *value = rep;
  valley_check_progress(r, "Theorem 2 Monte Carlo: %zu chains x %llu steps", cfg->chains,
                        (unsigned long long)cfg->steps);
  return valley_thm2_check(cfg, rep, err);
}

/* valley_thm2_check on the default valley; *out is allocated (free it), a copy of the run's
 * shared report. */
static valley_status_t thm2_run(valley_check_run_t *r, valley_sgd1d_config_t *cfg,
                                valley_thm2_report_t **out, valley_error_t *err) {
  thm2_config(valley_check_cfg(r), cfg);
  const void *shared = NULL;
  valley_status_t st = valley_check_shared(r, "thm2-default-valley", thm2_make, cfg, &shared, err);
  if (st != VALLEY_OK) return st;
  valley_thm2_report_t *rep = malloc(sizeof *rep);
  if (rep == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "the Theorem 2 report");
  memcpy(rep, shared, sizeof *rep);
  *out = rep;
  return VALLEY_OK;
}

/* Constants and preconditions only. */
static valley_status_t thm2_analyse(valley_check_run_t *r, valley_sgd1d_config_t *cfg,
                                    valley_thm2_report_t **out, valley_error_t *err) {
  thm2_config(valley_check_cfg(r), cfg);
  valley_thm2_report_t *rep = calloc(1, sizeof *rep);
  if (rep == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "the Theorem 2 report");
  valley_status_t st = valley_thm2_analyse(cfg, rep, err);
  if (st != VALLEY_OK) {
    free(rep);
    return st;
  }
  *out = rep;
  return VALLEY_OK;
}

static int all_hold(const valley_thm2_report_t *rep) {
  for (int i = 0; i < VALLEY_THM2_NPRECOND; i++)
    if (!rep->pre[i].holds) return 0;
  return 1;
}

static const valley_thm2_event_t *find_event(const valley_thm2_report_t *rep, const char *name,
                                             const char *variant) {
  for (int i = 0; i < rep->nevents; i++)
    if (strcmp(rep->events[i].name, name) == 0 && strcmp(rep->events[i].variant, variant) == 0)
      return &rep->events[i];
  return NULL;
}

static void json_valley(valley_json_t *j, const valley_sgd1d_config_t *cfg) {
  valley_json_object(j, "valley");
  valley_json_number(j, "eta", cfg->eta);
  valley_json_number(j, "a_plus", cfg->valley.a_plus);
  valley_json_number(j, "a_minus", cfg->valley.a_minus);
  valley_json_number(j, "b_plus", cfg->valley.b_plus);
  valley_json_number(j, "b_minus", cfg->valley.b_minus);
  valley_json_number(j, "nu", cfg->nu);
  valley_json_object_end(j);
}

static void json_constants(valley_json_t *j, const char *key, const valley_thm2_constants_t *k) {
  valley_json_object(j, key);
  valley_json_number(j, "p_min", k->p_min);
  valley_json_number(j, "p_max", k->p_max);
  valley_json_number(j, "tau_star", k->tau_star);
  valley_json_number(j, "T_min", k->T_min);
  valley_json_number(j, "T_max", k->T_max);
  valley_json_number(j, "L", k->L);
  valley_json_number(j, "c0", k->c0);
  valley_json_number(j, "round_bound", k->round_bound);
  valley_json_number(j, "c", k->c);
  valley_json_number(j, "c_prime", k->c_prime);
  valley_json_object_end(j);
}

static void json_mc(valley_json_t *j, const valley_sgd1d_config_t *cfg,
                    const valley_thm2_report_t *rep) {
  valley_json_u64(j, "chains", cfg->chains);
  valley_json_u64(j, "steps", cfg->steps);
  valley_json_u64(j, "rounds", rep->rounds);
  valley_json_string(j, "interval",
                     "99.9% normal interval over chains (one chain = one replicate)");
}

static void json_event(valley_json_t *j, const char *key, const valley_thm2_event_t *e,
                       valley_check_verdict_t v) {
  valley_json_object(j, key);
  valley_json_string(j, "claim", e->claim);
  valley_json_string(j, "variant", e->variant);
  if (e->is_bound) {
    valley_json_number(j, "threshold", e->threshold);
  } else {
    valley_json_number(j, "claimed_probability", e->claimed_probability);
    valley_json_u64(j, "rounds", e->n);
    valley_json_u64(j, "held", e->k);
  }
  valley_json_number(j, "observed", e->observed);
  valley_json_number(j, "ci_lo", e->ci_lo);
  valley_json_number(j, "ci_hi", e->ci_hi);
  valley_json_string(j, "verdict", valley_check_verdict_name(v));
  valley_json_object_end(j);
}

/* The check verdict of one event, from its numbers. */
static valley_check_verdict_t event_verdict(const valley_thm2_event_t *e) {
  int applicable = e->verdict != VALLEY_NOT_APPLICABLE;
  if (e->is_bound) return valley_check_thm2_bound(e->threshold, e->ci_lo, e->ci_hi, applicable);
  return valley_check_thm2_event(e->claimed_probability, e->k, e->n, e->ci_lo, e->ci_hi,
                                 applicable);
}

static valley_status_t missing_event(valley_thm2_report_t *rep, const char *name,
                                     valley_error_t *err) {
  free(rep);
  return VALLEY_ERROR(err, VALLEY_EINVAL, "the Theorem 2 report has no event %s", name);
}

/* ", preconditions: all hold" or the names of those that fail. */
static void precond_note(const valley_thm2_report_t *rep, char *buf, size_t n) {
  size_t used = (size_t)snprintf(buf, n, "%s",
                                 all_hold(rep) ? "" : "; not applicable, failed preconditions:");
  for (int i = 0; i < VALLEY_THM2_NPRECOND && used < n; i++)
    if (!rep->pre[i].holds) used += (size_t)snprintf(buf + used, n - used, " %s", rep->pre[i].name);
}

/* ---- Lemma 4 ------------------------------------------------------------------------------- */

valley_status_t valley_check_thm2_lemma4(valley_check_run_t *r, valley_error_t *err) {
  valley_sgd1d_config_t cfg;
  valley_thm2_report_t *rep;
  valley_status_t st = thm2_run(r, &cfg, &rep, err);
  if (st != VALLEY_OK) return st;
  const valley_thm2_event_t *a = find_event(rep, "lemma4_w0_in_range", "printed");
  const valley_thm2_event_t *b = find_event(rep, "lemma4_one_sharp_iterate", "printed");
  if (a == NULL || b == NULL) return missing_event(rep, "lemma4_*", err);
  valley_check_verdict_t v[2] = {event_verdict(a), event_verdict(b)};
  valley_json_t *j = valley_check_json(r);
  json_valley(j, &cfg);
  json_mc(j, &cfg, rep);
  valley_json_number(j, "p_min", rep->k.p_min);
  valley_json_number(j, "p_max", rep->k.p_max);
  json_event(j, "w0_in_range", a, v[0]);
  json_event(j, "one_sharp_iterate", b, v[1]);
  char note[256];
  precond_note(rep, note, sizeof note);
  valley_check_verdict(r, valley_check_thm2_all(v, 2),
                       "w0 in [p_min, p_max] = [%.4g, %.4g] in %llu of %llu rounds (claimed: "
                       "all; %s); one sharp iterate per round in %llu of %llu (claimed: all; "
                       "%s)%s",
                       rep->k.p_min, rep->k.p_max, (unsigned long long)a->k,
                       (unsigned long long)a->n, valley_check_verdict_name(v[0]),
                       (unsigned long long)b->k, (unsigned long long)b->n,
                       valley_check_verdict_name(v[1]), note);
  free(rep);
  return VALLEY_OK;
}

/* ---- Lemma 5 ------------------------------------------------------------------------------- */

/* Rounding allowance for the deterministic inequalities: a few ulps of the terms' size. */
static double tol_of(const valley_thm2_params_t *p, const valley_thm2_constants_t *k) {
  double s = fabs(k->p_min) + fabs(k->p_max) +
             p->eta * (p->a_plus + fabs(p->a_minus) + fabs(p->b_minus) + 2 * p->nu) *
                 (1 + fabs(k->T_min) + fabs(k->T_max));
  return 64 * 2.220446049250313e-16 * s;
}

valley_status_t valley_check_thm2_lemma5(valley_check_run_t *r, valley_error_t *err) {
  valley_sgd1d_config_t cfg;
  valley_thm2_report_t *rep;
  valley_status_t st = thm2_analyse(r, &cfg, &rep, err);
  if (st != VALLEY_OK) return st;
  const valley_thm2_params_t *p = &rep->params;
  const valley_thm2_constants_t *k = &rep->k;
  double m = valley_check_thm2_lemma5_margin(p, k);
  double tol = tol_of(p, k);
  /* Lemma 5: margin >= 0, i.e. -margin <= 0 */
  valley_check_verdict_t v = valley_check_thm2_leq(-m, 0, tol);
  /* and T_min is the largest such t: just past it the left side is negative */
  double past = lemma5_at(p, k, k->T_min * (1 + 1e-6) + 1e-9);
  valley_json_t *j = valley_check_json(r);
  json_valley(j, &cfg);
  json_constants(j, "printed", k);
  valley_json_number(j, "min_margin", m);
  valley_json_number(j, "margin_at_T_min", lemma5_at(p, k, k->T_min));
  valley_json_number(j, "margin_just_past_T_min", past);
  valley_json_number(j, "tolerance", tol);
  valley_check_verdict(r, v,
                       "min over t = 0..T_min of p_min - t eta a+ - sqrt(2t) eta nu L = %.3g "
                       "(claimed >= 0; tolerance %.1g) with T_min = %.6g, tau* = %.6g, p_min = "
                       "%.4g; at t = T_min it is %.2g (T_min is the root), just past it %.2g",
                       m, tol, k->T_min, k->tau_star, k->p_min, lemma5_at(p, k, k->T_min), past);
  free(rep);
  return VALLEY_OK;
}

/* ---- Theorem 6 ----------------------------------------------------------------------------- */

valley_status_t valley_check_thm2_theorem6(valley_check_run_t *r, valley_error_t *err) {
  valley_sgd1d_config_t cfg;
  valley_thm2_report_t *rep;
  valley_status_t st = thm2_run(r, &cfg, &rep, err);
  if (st != VALLEY_OK) return st;
  const valley_thm2_event_t *e = find_event(rep, "theorem6_flat_stay", "printed");
  if (e == NULL) return missing_event(rep, "theorem6_flat_stay", err);
  valley_check_verdict_t v = event_verdict(e);
  valley_json_t *j = valley_check_json(r);
  json_valley(j, &cfg);
  json_mc(j, &cfg, rep);
  json_constants(j, "printed", &rep->k);
  json_event(j, "flat_stay", e, v);
  char note[256];
  precond_note(rep, note, sizeof note);
  valley_check_verdict(r, v,
                       "P(for all t = 1..T_min: w_t > w0 - t eta a+ - sqrt(2t) eta nu L >= 0) = "
                       "%.6f [%.6f, %.6f] (%llu of %llu rounds) against the claimed >= 1 - "
                       "T_min/tau* = %.4f (T_min %.4g, tau* %.4g)%s",
                       e->observed, e->ci_lo, e->ci_hi, (unsigned long long)e->k,
                       (unsigned long long)e->n, e->claimed_probability, rep->k.T_min,
                       rep->k.tau_star, note);
  free(rep);
  return VALLEY_OK;
}

/* ---- Lemma 7 ------------------------------------------------------------------------------- */

valley_status_t valley_check_thm2_lemma7(valley_check_run_t *r, valley_error_t *err) {
  valley_sgd1d_config_t cfg;
  valley_thm2_report_t *rep;
  valley_status_t st = thm2_analyse(r, &cfg, &rep, err);
  if (st != VALLEY_OK) return st;
  const valley_thm2_params_t *p = &rep->params;
  double tol = tol_of(p, &rep->k);
  double printed = valley_check_thm2_lemma7_value(p, &rep->k, -1);
  double needed = valley_check_thm2_lemma7_value(p, &rep->k, +1);
  double needed_azuma = valley_check_thm2_lemma7_value(p, &rep->k_azuma, +1);
  /* Lemma 7 as printed: value < 0.  T_max is defined as the root, so the value is 0 up to
   * rounding: the strict "<" is read as "<= 0 within rounding" (the proof's own "(b- - nu) +
   * T_max b+ + sqrt(2 T_max) nu L >= 0 holds by the definition of T_max" is the non-strict one). */
  valley_check_verdict_t v = valley_check_thm2_leq(printed, 0, tol);
  valley_json_t *j = valley_check_json(r);
  json_valley(j, &cfg);
  json_constants(j, "printed", &rep->k);
  json_constants(j, "azuma", &rep->k_azuma);
  valley_json_number(j, "lemma7_printed", printed);
  valley_json_number(j, "theorem8_needs_printed_T_max", needed);
  valley_json_number(j, "theorem8_needs_azuma_T_max", needed_azuma);
  valley_json_number(j, "tolerance", tol);
  valley_check_verdict(r, v,
                       "as printed, p_max - T_max eta b+ - sqrt(2 T_max) eta nu L = %.2g (claimed "
                       "< 0; 0 up to rounding, T_max = %.4g is its root); but Theorem 8 needs the "
                       "+sqrt term (event E'_T): %.4g > 0 with the printed T_max, %.2g with the "
                       "Azuma-sign T_max = %.4g (docs/theorem2.md)",
                       printed, rep->k.T_max, needed, needed_azuma, rep->k_azuma.T_max);
  free(rep);
  return VALLEY_OK;
}

/* ---- Theorem 8 ----------------------------------------------------------------------------- */

valley_status_t valley_check_thm2_theorem8(valley_check_run_t *r, valley_error_t *err) {
  valley_sgd1d_config_t cfg;
  valley_thm2_report_t *rep;
  valley_status_t st = thm2_run(r, &cfg, &rep, err);
  if (st != VALLEY_OK) return st;
  const valley_thm2_event_t *e = find_event(rep, "theorem8_sharp_by_T_max", "printed");
  const valley_thm2_event_t *a = find_event(rep, "theorem8_sharp_by_T_max", "azuma");
  if (e == NULL || a == NULL) return missing_event(rep, "theorem8_sharp_by_T_max", err);
  valley_check_verdict_t v = event_verdict(e), va = event_verdict(a);
  valley_json_t *j = valley_check_json(r);
  json_valley(j, &cfg);
  json_mc(j, &cfg, rep);
  json_constants(j, "printed", &rep->k);
  json_constants(j, "azuma", &rep->k_azuma);
  json_event(j, "printed", e, v);
  json_event(j, "azuma", a, va);
  char note[256];
  precond_note(rep, note, sizeof note);
  valley_check_verdict(r, v,
                       "P(first sharp iterate at t <= ceil(T_max)) = %.6f [%.6f, %.6f] against "
                       "the claimed >= 1 - T_max/tau* = %.4f with the printed T_max = %.4g (%s); "
                       "with the Azuma-sign T_max = %.4g: %.6f [%.6f, %.6f] against >= %.4f (%s)%s",
                       e->observed, e->ci_lo, e->ci_hi, e->claimed_probability, rep->k.T_max,
                       valley_check_verdict_name(v), rep->k_azuma.T_max, a->observed, a->ci_lo,
                       a->ci_hi, a->claimed_probability, valley_check_verdict_name(va), note);
  free(rep);
  return VALLEY_OK;
}

/* ---- the per-round bound of the final proof ------------------------------------------------ */

valley_status_t valley_check_thm2_round_mean(valley_check_run_t *r, valley_error_t *err) {
  valley_sgd1d_config_t cfg;
  valley_thm2_report_t *rep;
  valley_status_t st = thm2_run(r, &cfg, &rep, err);
  if (st != VALLEY_OK) return st;
  const valley_thm2_event_t *e = find_event(rep, "round_mean_bound", "printed");
  const valley_thm2_event_t *a = find_event(rep, "round_mean_bound", "azuma");
  const valley_thm2_event_t *q = find_event(rep, "round_mean_positive", "printed");
  if (e == NULL || a == NULL || q == NULL) return missing_event(rep, "round_mean_*", err);
  valley_check_verdict_t v[2] = {event_verdict(e), event_verdict(q)}, va = event_verdict(a);
  valley_json_t *j = valley_check_json(r);
  json_valley(j, &cfg);
  json_mc(j, &cfg, rep);
  json_constants(j, "printed", &rep->k);
  json_constants(j, "azuma", &rep->k_azuma);
  json_event(j, "round_bound_printed", e, v[0]);
  json_event(j, "round_bound_azuma", a, va);
  json_event(j, "round_mean_positive", q, v[1]);
  char note[256];
  precond_note(rep, note, sizeof note);
  valley_check_verdict(r, valley_check_thm2_all(v, 2),
                       "P(round mean >= T_min^2/T_max eta a+ = %.4g) = %.6f [%.6f, %.6f] against "
                       "the claimed >= %.4f (printed T_max; %s); Azuma-sign T_max (bound %.4g): "
                       "%.6f [%.6f, %.6f] against >= %.4f (%s); round mean > 0 in %llu of %llu "
                       "rounds (%s)%s",
                       rep->k.round_bound, e->observed, e->ci_lo, e->ci_hi, e->claimed_probability,
                       valley_check_verdict_name(v[0]), rep->k_azuma.round_bound, a->observed,
                       a->ci_lo, a->ci_hi, a->claimed_probability, valley_check_verdict_name(va),
                       (unsigned long long)q->k, (unsigned long long)q->n,
                       valley_check_verdict_name(v[1]), note);
  free(rep);
  return VALLEY_OK;
}

/* ---- the Remark ---------------------------------------------------------------------------- */

enum { REMARK_N = 6 };

valley_status_t valley_check_thm2_remark(valley_check_run_t *r, valley_error_t *err) {
  valley_sgd1d_config_t cfg;
  valley_thm2_report_t *rep;
  valley_status_t st = thm2_analyse(r, &cfg, &rep, err);
  if (st != VALLEY_OK) return st;
  const valley_thm2_params_t *p = &rep->params;
  const valley_thm2_constants_t *k = &rep->k, *ka = &rep->k_azuma;
  double tol = tol_of(p, k);
  double c = k->c, cp = k->c_prime;
  double tmin_cap = -(p->a_minus + p->a_plus + 2 * p->nu) / p->a_plus;
  double cp_cap = exp(c / 3) / 6;
  double tau_b = valley_check_thm2_remark_tau_bound(p);
  double tmin_at_b = isnan(tau_b) ? NAN : valley_thm2_T_min(p, fmin(tau_b, 1e300));
  double ratio = k->tau_found ? (k->T_min + k->T_max) / k->tau_star : NAN;
  valley_check_verdict_t v[REMARK_N] = {
      valley_check_thm2_leq(1, k->T_min, tol),            /* T_min(tau*) >= 1 */
      valley_check_thm2_leq(k->T_min, tmin_cap, tol),     /* T_min <= -(a- + a+ + 2 nu)/a+ */
      valley_check_thm2_leq(tmin_cap, c, 0),              /* ... < c */
      valley_check_thm2_leq(k->T_max, cp, tol),           /* T_max <= c' */
      valley_check_thm2_leq(2, tmin_at_b, tol),           /* tau <= tau_b gives T_min >= 2 */
      k->tau_found ? valley_check_thm2_leq(ratio, 0.5, tol) : VALLEY_CHECK_FAIL};
  valley_check_verdict_t all = valley_check_thm2_all(v, REMARK_N);
  static const char *const names[REMARK_N] = {"T_min_ge_1", "T_min_le_cap", "cap_lt_c",
                                              "T_max_le_c_prime", "T_min_ge_2_at_tau_bound",
                                              "tau_with_ratio_le_half"};
  valley_json_t *j = valley_check_json(r);
  json_valley(j, &cfg);
  json_constants(j, "printed", k);
  json_constants(j, "azuma", ka);
  valley_json_number(j, "T_min_cap", tmin_cap);
  valley_json_number(j, "c_prime_cap", cp_cap);
  valley_json_number(j, "tau_bound_T_min_ge_2", tau_b);
  valley_json_number(j, "T_min_at_tau_bound", tmin_at_b);
  valley_json_number(j, "ratio_at_tau_star", ratio);
  valley_json_object(j, "items");
  for (int i = 0; i < REMARK_N; i++)
    valley_json_string(j, names[i], valley_check_verdict_name(v[i]));
  valley_json_object_end(j);
  valley_json_bool(j, "azuma_T_max_le_c_prime", ka->T_max <= cp);
  char failed[160] = "";
  size_t used = 0;
  for (int i = 0; i < REMARK_N; i++)
    if (v[i] != VALLEY_CHECK_PASS && used < sizeof failed)
      used += (size_t)snprintf(failed + used, sizeof failed - used, " %s", names[i]);
  valley_check_verdict(r, all,
                       "T_min(tau*) = %.4g >= 1; T_min <= -(a- + a+ + 2nu)/a+ = %.4g < c = %.4g; "
                       "T_max = %.4g <= c' = %.4g < e^(c/3)/6 = %.4g; at the Remark's tau <= "
                       "e^(x^2)/2 = %.3g, T_min = %.4g >= 2; (T_min + T_max)/tau* = %.4g <= 1/2"
                       "%s%s; "
                       "the Azuma-sign T_max = %.4g %s c' = %.4g%s",
                       k->T_min, tmin_cap, c, k->T_max, cp, cp_cap, tau_b, tmin_at_b, ratio,
                       used ? "; not met:" : "", failed, ka->T_max, ka->T_max <= cp ? "<=" : ">",
                       cp,
                       ka->T_max <= cp ? "" : " (T_max <= c' holds for the printed T_max only)");
  /* the Remark's constants as functions of tau */
  FILE *f;
  st = valley_check_figure(r, "thm2-remark-T",
                           "T_min(tau) and T_max(tau) on the default valley, T_max as printed and "
                           "with the Azuma sign, against the Remark's bounds T_min <= -(a- + a+ "
                           "+ 2nu)/a+ and T_max <= c' (dashed); the dotted line is tau/2, and tau* "
                           "is where T_min + T_max meets it.",
                           &f, err);
  if (st == VALLEY_OK) {
    fprintf(f, "# Theorem 2, the Remark: T_min(tau), T_max(tau) printed and Azuma-sign, default "
               "valley\n");
    fprintf(f, "tau,T_min,T_max_printed,T_max_azuma,T_min_cap,c_prime,tau_half\n");
    for (int i = 0; i <= 120; i++) {
      double tau = pow(10.0, 6.0 * i / 120.0);
      fprintf(f, "%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g\n", tau, valley_thm2_T_min(p, tau),
              valley_thm2_T_max(p, tau, VALLEY_THM2_PRINTED),
              valley_thm2_T_max(p, tau, VALLEY_THM2_AZUMA), tmin_cap, cp, tau / 2);
    }
    valley_check_figure_plot(r, "set logscale x\nset xlabel 'tau' noenhanced\nset ylabel "
                                "'steps' noenhanced\nset yrange [0:62]\nset grid\nset key top "
                                "right noenhanced\nset arrow from %g, graph 0 to %g, graph 1 "
                                "nohead lw 1.5 lc rgb 'gray'\nset label 'tau* = %.3g' at %g, 5 "
                                "offset 0.5, 0",
                             k->tau_star, k->tau_star, k->tau_star, k->tau_star);
    valley_check_figure_plot(
        r, "plot DATA using 1:2 with lines lw 2 lc rgb '#1f77b4' title 'T_min', DATA using 1:3 "
           "with lines lw 2 lc rgb '#c0392b' title 'T_max (printed)', DATA using 1:4 with lines "
           "lw 2 lc rgb '#2ca02c' title 'T_max (Azuma sign)', DATA using 1:5 with lines dt 2 lc "
           "rgb '#1f77b4' title 'Remark: T_min cap -(a- + a+ + 2nu)/a+', DATA using 1:6 with "
           "lines dt 2 lc rgb '#c0392b' title \"Remark: T_max cap c'\", DATA using 1:7 with "
           "lines dt 3 lw 2 lc rgb 'black' title 'tau/2', DATA using 1:($2+$3) with lines dt 4 "
           "lc rgb 'black' title 'T_min + T_max (printed)'");
  }
  free(rep);
  return st;
}

/* ---- the preconditions --------------------------------------------------------------------- */

valley_status_t valley_check_thm2_preconds(valley_check_run_t *r, valley_error_t *err) {
  valley_sgd1d_config_t cfg;
  valley_thm2_report_t *rep;
  valley_status_t st = thm2_analyse(r, &cfg, &rep, err);
  if (st != VALLEY_OK) return st;
  valley_check_verdict_t v = valley_check_thm2_preconditions(rep->pre, VALLEY_THM2_NPRECOND);
  valley_json_t *j = valley_check_json(r);
  json_valley(j, &cfg);
  json_constants(j, "printed", &rep->k);
  valley_json_array(j, "preconditions");
  int nfail = 0;
  for (int i = 0; i < VALLEY_THM2_NPRECOND; i++) {
    const valley_thm2_precond_t *q = &rep->pre[i];
    valley_json_object(j, NULL);
    valley_json_string(j, "name", q->name);
    valley_json_string(j, "text", q->text);
    valley_json_bool(j, "holds", q->holds);
    valley_json_number(j, "margin", q->margin);
    valley_json_string(j, "detail", q->detail);
    valley_json_object_end(j);
    if (!q->holds) nfail++;
  }
  valley_json_array_end(j);
  char note[256];
  precond_note(rep, note, sizeof note);
  const valley_thm2_constants_t *k = &rep->k;
  valley_check_verdict(r, v,
                       "%d of %d preconditions hold on the default valley (eta %g, a+ = b+ = %g, "
                       "a- = b- = %g, nu %g): c' = %.4g < e^(c/3)/6 = %.4g, nu <= a+, p_min = %.4g "
                       "> 0, tau* = %.4g > T_min = %.4g >= 1, square-root arguments > 0; c0 = %.4g "
                       "> 0%s",
                       VALLEY_THM2_NPRECOND - nfail, VALLEY_THM2_NPRECOND, cfg.eta,
                       cfg.valley.a_plus, cfg.valley.a_minus, cfg.nu, k->c_prime,
                       exp(k->c / 3) / 6, k->p_min, k->tau_star, k->T_min, k->c0, note);
  free(rep);
  return VALLEY_OK;
}

/* ---- the conclusion: E[w_bar] > c0, Figure 5, the events figure ----------------------------- */

static valley_status_t events_figure(valley_check_run_t *r, const valley_thm2_report_t *rep,
                                     valley_error_t *err) {
  FILE *f;
  valley_status_t st = valley_check_figure(
      r, "thm2-events",
      "Every event of Theorem 2's proof on the default valley: the observed frequency over all "
      "rounds with its 99.9% interval (blue; narrower than the dot) beside the probability the "
      "paper claims for it (red diamond; printed constants, and the Azuma-sign T_max variant "
      "marked 'azuma'). Theorem 8 and the per-round bound fail with the printed T_max.",
      &f, err);
  if (st != VALLEY_OK) return st;
  fprintf(f, "# Theorem 2 events: observed frequency (99.9%% interval over chains) and the "
             "claimed lower bound\n");
  fprintf(f, "index,event,claimed,observed,ci_lo,ci_hi\n");
  int idx = 0;
  for (int i = 0; i < rep->nevents; i++) {
    const valley_thm2_event_t *e = &rep->events[i];
    if (e->is_bound) continue;
    const char *lab = e->name;
    char label[96];
    snprintf(label, sizeof label, "%s%s", lab, strcmp(e->variant, "azuma") == 0 ? " (azuma)" : "");
    fprintf(f, "%d,%s,%.9g,%.9g,%.9g,%.9g\n", ++idx, label, e->claimed_probability, e->observed,
            e->ci_lo, e->ci_hi);
  }
  valley_check_figure_plot(r, "set ylabel 'probability'\nset yrange [-0.05:1.1]\nset xrange "
                              "[0.5:%d.5]\nset xtics rotate by -30 font ',8' noenhanced\nset grid "
                              "ytics\nset key at graph 0.98, graph 0.3 right\nset bmargin 8\n"
                              "set rmargin 12",
                           idx);
  valley_check_figure_plot(r, "plot DATA using 1:(1/0):xtic(2) notitle, DATA using ($1-0.12):4:5:6 "
                              "with yerrorbars pt 7 ps 1.2 lw 2 lc rgb '#1f77b4' title 'observed "
                              "frequency (99.9%% interval)', DATA using ($1+0.12):3 with points "
                              "pt 13 ps 2 lc rgb '#c0392b' title 'claimed lower bound'");
  return VALLEY_OK;
}

valley_status_t valley_check_thm2_wbar(valley_check_run_t *r, valley_error_t *err) {
  valley_sgd1d_config_t cfg;
  valley_thm2_report_t *rep;
  valley_status_t st = thm2_run(r, &cfg, &rep, err);
  if (st != VALLEY_OK) return st;
  const valley_thm2_event_t *e = find_event(rep, "theorem2_bound", "printed");
  const valley_thm2_event_t *a = find_event(rep, "theorem2_bound", "azuma");
  if (e == NULL || a == NULL) return missing_event(rep, "theorem2_bound", err);
  valley_check_verdict_t v = valley_check_thm2_conclusion(e->threshold, e->ci_lo, e->ci_hi,
                                                          e->verdict != VALLEY_NOT_APPLICABLE);
  valley_check_verdict_t va = valley_check_thm2_conclusion(a->threshold, a->ci_lo, a->ci_hi,
                                                           a->verdict != VALLEY_NOT_APPLICABLE);
  valley_json_t *j = valley_check_json(r);
  json_valley(j, &cfg);
  json_mc(j, &cfg, rep);
  json_constants(j, "printed", &rep->k);
  json_constants(j, "azuma", &rep->k_azuma);
  valley_json_number(j, "c0", rep->k.c0);
  valley_json_number(j, "E_wbar", rep->wbar.estimate);
  valley_json_number(j, "E_wbar_se", rep->wbar.stderr_);
  valley_json_number(j, "ci_lo", e->ci_lo);
  valley_json_number(j, "ci_hi", e->ci_hi);
  valley_json_number(j, "trajectory_average", rep->traj.estimate);
  json_event(j, "printed", e, v);
  json_event(j, "azuma", a, va);
  char note[256];
  precond_note(rep, note, sizeof note);
  valley_check_verdict(r, v,
                       "E[w_bar] = %.4g (99.9%% interval [%.4g, %.4g]) against c0 = %.4g > 0 (%s; "
                       "Azuma-sign c0 = %.4g: %s) (eta %g, a+ %g, a- %g, nu %g; %llu "
                       "rounds)%s",
                       rep->wbar.estimate, e->ci_lo, e->ci_hi, rep->k.c0,
                       valley_check_verdict_name(v), rep->k_azuma.c0,
                       valley_check_verdict_name(va), cfg.eta, cfg.valley.a_plus,
                       cfg.valley.a_minus, cfg.nu, (unsigned long long)rep->rounds, note);
  st = events_figure(r, rep, err);
  free(rep);
  if (st != VALLEY_OK) return st;

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

/* ---- E[w_bar] against c0 over a grid of valleys -------------------------------------------- */

enum { GRID_NC = 4, GRID_NNU = 3, GRID_N = GRID_NC * GRID_NNU };

valley_status_t valley_check_thm2_grid_run(valley_check_run_t *r, valley_error_t *err) {
  static const double cs[GRID_NC] = {10, 20, 30, 50};
  static const double nus[GRID_NNU] = {0.25, 0.5, 1.0};
  const valley_check_config_t *cc = valley_check_cfg(r);
  valley_sgd1d_config_t base;
  thm2_config(cc, &base);
  switch (cc->scale) {
  case VALLEY_CHECK_QUICK:
    base.chains = 32;
    base.steps = 100000;
    break;
  case VALLEY_CHECK_DEFAULT:
    base.chains = 128;
    base.steps = 1000000;
    break;
  case VALLEY_CHECK_FULL:
    base.chains = 1024;
    base.steps = 10000000;
    break;
  }
  valley_thm2_report_t *rep = calloc(1, sizeof *rep);
  if (rep == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "the Theorem 2 report");
  double c_[GRID_N], nu_[GRID_N], est[GRID_N], lo[GRID_N], hi[GRID_N], c0[GRID_N], c0a[GRID_N];
  int app[GRID_N];
  valley_check_progress(r, "thm2-grid: %d valleys, %zu chains x %llu steps each", GRID_N,
                        base.chains, (unsigned long long)base.steps);
  valley_status_t st = VALLEY_OK;
  for (int i = 0; i < GRID_N && st == VALLEY_OK; i++) {
    valley_sgd1d_config_t cfg = base;
    c_[i] = cs[i % GRID_NC]; /* rows grouped by nu, c increasing (one line per nu) */
    nu_[i] = nus[i / GRID_NC];
    cfg.valley.a_minus = cfg.valley.b_minus = -c_[i] * cfg.valley.a_plus;
    cfg.nu = cfg.sigma = nu_[i];
    st = valley_thm2_check(&cfg, rep, err);
    if (st != VALLEY_OK) break;
    const valley_thm2_event_t *e = find_event(rep, "theorem2_bound", "printed");
    if (e == NULL) {
      st = VALLEY_ERROR(err, VALLEY_EINVAL, "the Theorem 2 report has no theorem2_bound event");
      break;
    }
    est[i] = rep->wbar.estimate;
    lo[i] = e->ci_lo;
    hi[i] = e->ci_hi;
    c0[i] = rep->k.tau_found ? rep->k.c0 : NAN;
    c0a[i] = rep->k_azuma.tau_found ? rep->k_azuma.c0 : NAN;
    app[i] = all_hold(rep) && rep->k.tau_found;
  }
  free(rep);
  if (st != VALLEY_OK) return st;
  valley_check_verdict_t v = valley_check_thm2_grid(GRID_N, lo, hi, c0, app);
  valley_json_t *j = valley_check_json(r);
  valley_json_number(j, "eta", base.eta);
  valley_json_number(j, "a_plus", base.valley.a_plus);
  valley_json_u64(j, "chains", base.chains);
  valley_json_u64(j, "steps", base.steps);
  valley_json_array(j, "points");
  int napp = 0, nabove = 0;
  double min_gap = INFINITY; /* min over applicable points of lo - c0 */
  for (int i = 0; i < GRID_N; i++) {
    valley_json_object(j, NULL);
    valley_json_number(j, "c", c_[i]);
    valley_json_number(j, "nu", nu_[i]);
    valley_json_number(j, "E_wbar", est[i]);
    valley_json_number(j, "ci_lo", lo[i]);
    valley_json_number(j, "ci_hi", hi[i]);
    valley_json_number(j, "c0", c0[i]);
    valley_json_number(j, "c0_azuma", c0a[i]);
    valley_json_bool(j, "preconditions_hold", app[i]);
    valley_json_object_end(j);
    if (app[i]) {
      napp++;
      if (lo[i] > c0[i]) nabove++;
      if (lo[i] - c0[i] < min_gap) min_gap = lo[i] - c0[i];
    }
  }
  valley_json_array_end(j);
  int nout_pos = 0, nout = 0;
  for (int i = 0; i < GRID_N; i++)
    if (!app[i]) {
      nout++;
      if (lo[i] > 0) nout_pos++;
    }
  valley_check_verdict(r, v,
                       "E[w_bar] > c0 > 0 (99.9%% interval above c0) at %d of the %d grid valleys "
                       "where the preconditions hold (c in {10,20,30,50} x nu in {0.25,0.5,1}, "
                       "eta %g, a+ = b+ = %g, b- = a-; smallest lo - c0 = %.3g); outside them "
                       "(%d valleys, not judged) E[w_bar] > 0 at %d",
                       nabove, napp, base.eta, base.valley.a_plus, min_gap, nout, nout_pos);
  FILE *f;
  st = valley_check_figure(r, "thm2-wbar-grid",
                           "Theorem 2 over a grid of canonical valleys (eta 0.01, a+ = 1, "
                           "a- = -c): E[w_bar] with its 99.9% interval (points) against the "
                           "printed c0 (dashed) for three noise bounds nu; the three E[w_bar] "
                           "curves lie on top of each other (E[w_bar] is close to (c - 1) eta a+ "
                           "/ 2 whatever nu); open squares mark valleys outside the theorem's "
                           "preconditions (c' >= e^(c/3)/6).",
                           &f, err);
  if (st != VALLEY_OK) return st;
  fprintf(f, "# Theorem 2 grid: E[w_bar] (99.9%% interval over chains) and c0 (printed, Azuma "
             "variant); applicable = every precondition holds\n");
  fprintf(f, "c,nu,E_wbar,ci_lo,ci_hi,c0,c0_azuma,applicable\n");
  for (int i = 0; i < GRID_N; i++)
    fprintf(f, "%g,%g,%.9g,%.9g,%.9g,%.9g,%.9g,%d\n", c_[i], nu_[i], est[i], lo[i], hi[i], c0[i],
            c0a[i], app[i]);
  valley_check_figure_plot(r, "set logscale x\nset xtics (10, 20, 30, 50)\nset xlabel 'c = "
                              "-a-/a+' noenhanced\nset ylabel 'E[w_bar] and c0' noenhanced\nset "
                              "grid\nset key top left\nset xrange [8:60]");
  static const char *const col[GRID_NNU] = {"#1f77b4", "#2ca02c", "#c0392b"};
  char plot[2048];
  size_t used = (size_t)snprintf(plot, sizeof plot, "plot ");
  for (int n = 0; n < GRID_NNU; n++)
    used += (size_t)snprintf(plot + used, sizeof plot - used,
                             "DATA every ::%d::%d using 1:3:4:5 with yerrorlines pt 7 lc rgb "
                             "'%s' title 'E[w\\_bar], nu = %g', DATA every ::%d::%d using 1:6 "
                             "with lines dt 2 lw 2 lc rgb '%s' title 'c0, nu = %g', ",
                             n * GRID_NC, n * GRID_NC + GRID_NC - 1, col[n], nus[n], n * GRID_NC,
                             n * GRID_NC + GRID_NC - 1, col[n], nus[n]);
  snprintf(plot + used, sizeof plot - used,
           "DATA using 1:($8==0?$3:1/0) with points pt 4 ps 2.5 lc rgb 'black' title 'outside the "
           "preconditions'");
  valley_check_figure_plot(r, "%s", plot);
  return VALLEY_OK;
}
