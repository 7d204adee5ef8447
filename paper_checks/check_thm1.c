/* Checks of Theorem 1 and Definitions 1-3 (He, Huang, Yuan 2019, Sec. 3-4, Appendices B-C) for
 * `valley check` (paper_checks/CLAIMS.md, docs/check_thm1.md):
 *  - thm1-statement: Theorem 1 under the conditions it states (the counterexamples of
 *    docs/theorem1.md, the counterexample search, and the gain-vs-bound sweep over l);
 *  - thm1-proof: Theorem 1 under the conditions Appendix B's proof uses;
 *  - def1-recovery: Definition 1's estimator (valley_prof_def1) on sampled valleys with known
 *    (rbar, r, p, c);
 *  - def3-shift-gap: Definition 3's shift gap (valley_prof_shift_gap) on profiles whose test curve
 *    is the train curve moved by a known delta.
 * Definition 2 ("a solution is an asymmetric valley if at least one direction is asymmetric") has
 * no estimator of its own in valley: it is Definition 1 on a direction that is found. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "valley/outfile.h"
#include "valley/profile.h"
#include "valley/thm1_check.h"
#include "check_thm1.h"
#include "checks_internal.h"

/* ---- the decisions ------------------------------------------------------------------------- */

valley_check_verdict_t valley_check_thm1_decide(uint64_t evaluated, uint64_t violations) {
  if (evaluated == 0) return VALLEY_CHECK_INCONCLUSIVE;
  return violations > 0 ? VALLEY_CHECK_FAIL : VALLEY_CHECK_PASS;
}

/* |hat - want| <= tol; a NaN want skips, a NaN hat fails. */
static int within(double hat, double want, double tol) {
  if (isnan(want)) return 1;
  return !isnan(hat) && fabs(hat - want) <= tol;
}

valley_check_verdict_t valley_check_def1_decide(const valley_check_def1_case_t *cs, size_t n,
                                                double rel_tol, double pos_tol,
                                                size_t *first_bad) {
  if (first_bad) *first_bad = n;
  if (n == 0) return VALLEY_CHECK_INCONCLUSIVE;
  for (size_t i = 0; i < n; i++) {
    const valley_check_def1_case_t *c = &cs[i];
    int ok = within(c->c_hat, c->c_true, rel_tol * fabs(c->c_true)) &&
             within(c->p_hat, c->p_true, rel_tol * fabs(c->p_true)) &&
             within(c->r_hat, c->r_true, pos_tol) && within(c->rbar_hat, c->rbar_true, pos_tol);
    if (!ok) {
      if (first_bad) *first_bad = i;
      return VALLEY_CHECK_FAIL;
    }
  }
  return VALLEY_CHECK_PASS;
}

valley_check_verdict_t valley_check_def3_decide(const valley_check_def3_case_t *cs, size_t n,
                                                size_t *first_bad) {
  if (first_bad) *first_bad = n;
  if (n == 0) return VALLEY_CHECK_INCONCLUSIVE;
  for (size_t i = 0; i < n; i++) {
    const valley_check_def3_case_t *c = &cs[i];
    int ok = !isnan(c->delta_star) && !isnan(c->xi_star) &&
             fabs(c->delta_star - c->delta_true) <= c->delta_tol && fabs(c->xi_star) <= c->xi_tol;
    if (!ok) {
      if (first_bad) *first_bad = i;
      return VALLEY_CHECK_FAIL;
    }
  }
  return VALLEY_CHECK_PASS;
}

/* ---- Theorem 1 ----------------------------------------------------------------------------- */

static uint64_t search_n(const valley_check_config_t *cc, valley_thm1_space_t space) {
  uint64_t n = space == VALLEY_THM1_SPACE_PROOF ? 20000 : 2000; /* quick */
  if (cc->scale == VALLEY_CHECK_DEFAULT) n *= 10;
  if (cc->scale == VALLEY_CHECK_FULL) n *= 100;
  return n;
}

static valley_status_t run_search(valley_check_run_t *r, valley_thm1_space_t space,
                                  valley_thm1_search_t **out, valley_error_t *err) {
  const valley_check_config_t *cc = valley_check_cfg(r);
  valley_thm1_search_opts_t so = {search_n(cc, space), cc->seed, space, 4, 8, cc->threads,
                                  NULL, NULL};
  valley_thm1_search_t *s = malloc(sizeof *s);
  if (s == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "the Theorem 1 search");
  valley_check_progress(r, "Theorem 1: %llu instances drawn from the %s's space",
                        (unsigned long long)so.n, valley_thm1_space_name(space));
  valley_status_t st = valley_thm1_search(&so, s, err);
  if (st != VALLEY_OK) {
    free(s);
    return st;
  }
  *out = s;
  return VALLEY_OK;
}

static void json_worst(valley_json_t *j, const char *key, const valley_thm1_worst_t *w) {
  if (!w->has) {
    valley_json_null(j, key);
    return;
  }
  valley_json_object(j, key);
  valley_json_number(j, "ratio", w->ratio);
  valley_json_number(j, "gain", w->gain);
  valley_json_number(j, "bound", w->bound);
  valley_json_u64(j, "d", w->inst.d);
  valley_json_u64(j, "k", w->inst.k);
  valley_json_string(j, "command", w->command);
  valley_json_object_end(j);
}

static void json_search(valley_json_t *j, const char *key, const valley_thm1_search_t *s) {
  valley_json_object(j, key);
  valley_json_u64(j, "evaluated", s->evaluated);
  valley_json_u64(j, "skipped", s->skipped);
  valley_json_u64(j, "violations", s->violations);
  valley_json_u64(j, "violations_breaking_l_upper_proof", s->viol_l_upper_proof);
  valley_json_u64(j, "violations_breaking_radius_proof", s->viol_radius);
  valley_json_u64(j, "violations_breaking_frame_proof", s->viol_frame);
  valley_json_u64(j, "violations_breaking_no_proof_condition", s->viol_none);
  valley_json_number(j, "min_ratio_holding", s->min_ratio_nonviolating);
  json_worst(j, "worst", &s->worst);
  json_worst(j, "worst_breaking_only_l_upper", &s->worst_only[VALLEY_THM1_ONLY_L_UPPER]);
  json_worst(j, "worst_breaking_only_radius", &s->worst_only[VALLEY_THM1_ONLY_RADIUS]);
  json_worst(j, "worst_breaking_only_frame", &s->worst_only[VALLEY_THM1_ONLY_FRAME]);
  valley_json_object_end(j);
}

/* The three counterexamples of docs/theorem1.md ("Findings"), each satisfying every stated
 * condition and breaking one condition of the proof. */
typedef struct {
  const char *name, *breaks;
  double gain, bound, bound_proof;
  int statement_applies, violated;
} pinned_t;

static valley_status_t pinned_case(int which, pinned_t *out, valley_error_t *err) {
  double p = 0.5, c = 3, l = 1.0, dbar[2] = {0.5, 0.5};
  static const double U[4] = {0.70710678118654752, 0.70710678118654752, -0.70710678118654752,
                              0.70710678118654752};
  valley_land_spec_t s;
  memset(&s, 0, sizeof s);
  s.d = s.k = 1;
  s.profile = VALLEY_PROFILE_LINEAR;
  s.r = 0.5;
  s.rbar = 2.0;
  s.q = VALLEY_Q_ZERO;
  s.frame = VALLEY_FRAME_U;
  s.omega = 1;
  s.p = &p;
  s.c = &c;
  s.l = &l;
  s.dbar = dbar;
  if (which == 0) { /* (a) max should be min */
    out->name = "(a) d=k=1, linear, r=0.5, rbar=2, dbar=0.5, p=0.5, c=3, l=1, xi=0";
    out->breaks = "l_i <= min{rbar - dbar_i, dbar_i - r}";
  } else if (which == 1) { /* (b) the radius of Assumption 1 */
    dbar[0] = 1.5;
    l = 0.4;
    s.q = VALLEY_Q_BUMP;
    s.xi = 0.3;
    out->name = "(b) d=k=1, linear, bump q, dbar=1.5, p=0.5, c=3, l=0.4, xi=0.3";
    out->breaks = "Assumption 1 at R' = ||l|| + ||dbar||";
  } else { /* (c) the frame of the shift */
    s.d = 2;
    c = 2;
    l = 0.2;
    dbar[0] = dbar[1] = 1.0;
    s.rbar = 3.0;
    s.basis = U;
    s.frame = VALLEY_FRAME_AXES;
    out->name = "(c) d=2, k=1, u=(1,1)/sqrt2, shift on the axes, dbar=(1,1), p=0.5, c=2, l=0.2";
    out->breaks = "<delta(s), u_i> = +-dbar_i";
  }
  valley_land_t L;
  valley_status_t st = valley_land_build(&s, &L, err);
  if (st != VALLEY_OK) return st;
  valley_thm1_options_t o;
  valley_thm1_options_default(&o);
  o.method = VALLEY_THM1_ENUMERATE;
  o.threads = 1;
  o.a2_samples = 0;
  o.gap_patterns = 0;
  valley_thm1_report_t rep;
  st = valley_thm1_check(&L, &o, &rep, err);
  valley_land_free(&L);
  if (st != VALLEY_OK) return st;
  out->gain = rep.gain;
  out->bound = rep.bound;
  out->bound_proof = rep.bound_proof;
  out->statement_applies = rep.statement_applies;
  out->violated = rep.statement_applies && rep.verdict == VALLEY_FAILS;
  valley_thm1_report_free(&rep);
  return VALLEY_OK;
}

/* The sweep of `valley theorem1 --sweep-l` on d = k = 1, the smooth profile (core (-r, r)):
 * r = 0.5, rbar = 2, dbar = 0.7, p = 0.5, c = 3, xi = 0.  The statement allows
 * l <= max{rbar - dbar, dbar - r} = 1.3, the proof l <= min{...} = 0.2. */
#define SW_R 0.5
#define SW_RBAR 2.0
#define SW_DBAR 0.7
#define SW_P 0.5
#define SW_C 3.0

static valley_status_t sweep_figure(valley_check_run_t *r, valley_error_t *err) {
  const valley_check_config_t *cc = valley_check_cfg(r);
  int points = cc->scale == VALLEY_CHECK_QUICK ? 65 : cc->scale == VALLEY_CHECK_DEFAULT ? 260 : 1300;
  double p = SW_P, c = SW_C, l = 0, dbar = SW_DBAR;
  valley_land_spec_t s;
  memset(&s, 0, sizeof s);
  s.d = s.k = 1;
  s.profile = VALLEY_PROFILE_SMOOTH;
  s.r = SW_R;
  s.rbar = SW_RBAR;
  s.q = VALLEY_Q_ZERO;
  s.frame = VALLEY_FRAME_U;
  s.omega = 1;
  s.p = &p;
  s.c = &c;
  s.l = &l;
  s.dbar = &dbar;
  valley_thm1_options_t o;
  valley_thm1_options_default(&o);
  o.threads = 1;
  valley_thm1_sweep_row_t *rows = calloc((size_t)points, sizeof *rows);
  if (rows == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "the sweep");
  valley_status_t st = valley_thm1_sweep(&s, &o, points, rows, err);
  if (st != VALLEY_OK) {
    free(rows);
    return st;
  }
  double lmin = fmin(SW_RBAR - SW_DBAR, SW_DBAR - SW_R), lmax = fmax(SW_RBAR - SW_DBAR, SW_DBAR - SW_R);
  /* the worst row where only the statement's conditions hold, and the largest |gain - bound|
   * where the proof's hold */
  double worst_ratio = INFINITY, worst_l = NAN, worst_gain = NAN, worst_bound = NAN, dev = 0;
  int below = 0, proof_rows = 0;
  for (int i = 0; i < points; i++) {
    const valley_thm1_sweep_row_t *w = &rows[i];
    if (w->proof_applies) {
      proof_rows++;
      dev = fmax(dev, fabs(w->gain - w->bound));
    } else if (w->statement_applies) {
      if (w->verdict == VALLEY_FAILS) below++;
      if (w->ratio < worst_ratio) {
        worst_ratio = w->ratio;
        worst_l = w->l1;
        worst_gain = w->gain;
        worst_bound = w->bound;
      }
    }
  }
  valley_json_t *j = valley_check_json(r);
  valley_json_object(j, "sweep");
  valley_json_string(j, "landscape", "d=k=1, smooth, r=0.5, rbar=2, dbar=0.7, p=0.5, c=3, xi=0");
  valley_json_u64(j, "points", (uint64_t)points);
  valley_json_number(j, "l_max_statement", lmax);
  valley_json_number(j, "l_max_proof", lmin);
  valley_json_u64(j, "rows_proof_range", (uint64_t)proof_rows);
  valley_json_number(j, "max_abs_gain_minus_bound_proof_range", dev);
  valley_json_u64(j, "rows_below_bound_statement_only", (uint64_t)below);
  valley_json_number(j, "worst_ratio_statement_only", worst_ratio);
  valley_json_number(j, "worst_l", worst_l);
  valley_json_number(j, "worst_gain", worst_gain);
  valley_json_number(j, "worst_bound", worst_bound);
  valley_json_object_end(j);

  FILE *f;
  st = valley_check_figure(r, "thm1-sweep",
                           "Theorem 1's gain E L(w*) - E L(w* + l u) against its bound over l, on "
                           "a 1-D smooth asymmetric valley (r = 0.5, rbar = 2, dbar = 0.7, p = 0.5, "
                           "c = 3, xi = 0). Green: l <= min{rbar - dbar, dbar - r} = 0.2, where the "
                           "proof's conditions hold and gain = bound; red: the extra range "
                           "l <= max{...} = 1.3 that the statement allows, where the gain falls "
                           "below the bound and turns negative.",
                           &f, err);
  if (st == VALLEY_OK) {
    valley_plots_thm1_sweep_write(f, "Theorem 1: gain and bound against l (valley theorem1 --d 1 "
                                     "--k 1 --profile smooth --dbar 0.7 --sweep-l)",
                                  rows, (size_t)points);
    valley_check_figure_plot(r, "set xlabel 'l (bias along the asymmetric direction u)'\n"
                                "set ylabel 'E L(w*) - E L(w* + l u)'\nset grid\nset key top left");
    valley_check_figure_plot(r, "set object 1 rect from 0, graph 0 to %.17g, graph 1 fc rgb "
                                "'#cdebd0' fs solid 0.6 noborder behind",
                             lmin);
    valley_check_figure_plot(r, "set object 2 rect from %.17g, graph 0 to %.17g, graph 1 fc rgb "
                                "'#f6d5cf' fs solid 0.6 noborder behind",
                             lmin, lmax);
    valley_check_figure_plot(r, "set label 1 'proof''s range' at graph 0.02, graph 0.06\n"
                                "set label 2 'statement only' at first %.17g, graph 0.06",
                             lmin + 0.03);
    valley_check_figure_plot(
        r, "plot DATA using 2:3 with lines lw 2 lc rgb '#1f5fa8' title 'gain (exact, 2 patterns)', "
           "DATA using 2:4 with lines dt 2 lw 2 lc rgb 'black' title 'bound (c - 1) l p / 2 - 2 k xi', "
           "0 with lines lc rgb '#888888' notitle");
  }
  free(rows);
  return st;
}

valley_status_t valley_check_thm1_statement(valley_check_run_t *r, valley_error_t *err) {
  valley_json_t *j = valley_check_json(r);
  pinned_t pin[3];
  uint64_t pinned_violations = 0;
  valley_status_t st;
  for (int i = 0; i < 3; i++) {
    if ((st = pinned_case(i, &pin[i], err)) != VALLEY_OK) return st;
    pinned_violations += (uint64_t)pin[i].violated;
  }
  valley_json_array(j, "counterexamples");
  for (int i = 0; i < 3; i++) {
    valley_json_object(j, NULL);
    valley_json_string(j, "instance", pin[i].name);
    valley_json_number(j, "gain", pin[i].gain);
    valley_json_number(j, "bound", pin[i].bound);
    valley_json_number(j, "bound_xi_at_R_prime", pin[i].bound_proof);
    valley_json_bool(j, "statement_conditions_hold", pin[i].statement_applies);
    valley_json_bool(j, "gain_below_bound", pin[i].violated);
    valley_json_string(j, "breaks_proof_condition", pin[i].breaks);
    valley_json_object_end(j);
  }
  valley_json_array_end(j);
  valley_thm1_search_t *s;
  if ((st = run_search(r, VALLEY_THM1_SPACE_STATEMENT, &s, err)) != VALLEY_OK) return st;
  json_search(j, "search_statement_space", s);
  uint64_t evaluated = s->evaluated + 3, violations = s->violations + pinned_violations;
  valley_check_verdict_t v = valley_check_thm1_decide(evaluated, violations);
  if (v == VALLEY_CHECK_FAIL)
    valley_check_verdict(
        r, v,
        "gain < bound in %llu of %llu instances that satisfy every stated condition (%llu of %llu "
        "drawn, all breaking a proof condition: l<=min %llu, radius %llu, frame %llu). "
        "Closed form (a): gain %.3g < bound %.3g; (b): %.3g < %.3g; (c): %.4g < %.3g. "
        "Worst drawn gain/bound %.3g; worst breaking only l<=min %.3g, only the radius %.3g, "
        "only the frame %.3g (commands in report.json)",
        (unsigned long long)violations, (unsigned long long)evaluated,
        (unsigned long long)s->violations, (unsigned long long)s->evaluated,
        (unsigned long long)s->viol_l_upper_proof, (unsigned long long)s->viol_radius,
        (unsigned long long)s->viol_frame, pin[0].gain, pin[0].bound, pin[1].gain, pin[1].bound,
        pin[2].gain, pin[2].bound, s->worst.ratio,
        s->worst_only[VALLEY_THM1_ONLY_L_UPPER].has ? s->worst_only[VALLEY_THM1_ONLY_L_UPPER].ratio : NAN,
        s->worst_only[VALLEY_THM1_ONLY_RADIUS].has ? s->worst_only[VALLEY_THM1_ONLY_RADIUS].ratio : NAN,
        s->worst_only[VALLEY_THM1_ONLY_FRAME].has ? s->worst_only[VALLEY_THM1_ONLY_FRAME].ratio : NAN);
  else
    valley_check_verdict(r, v,
                         "no instance with gain < bound among %llu satisfying the stated "
                         "conditions (closest gain/bound %.15g)",
                         (unsigned long long)evaluated, s->min_ratio_nonviolating);
  free(s);
  return sweep_figure(r, err);
}

valley_status_t valley_check_thm1_proof(valley_check_run_t *r, valley_error_t *err) {
  valley_json_t *j = valley_check_json(r);
  valley_thm1_search_t *s;
  valley_status_t st = run_search(r, VALLEY_THM1_SPACE_PROOF, &s, err);
  if (st != VALLEY_OK) return st;
  json_search(j, "search_proof_space", s);
  valley_check_verdict_t v = valley_check_thm1_decide(s->evaluated, s->violations);
  if (v == VALLEY_CHECK_FAIL)
    valley_check_verdict(r, v,
                         "gain < bound in %llu of %llu instances satisfying the proof's "
                         "conditions; worst gain/bound %.6g (gain %.6g, bound %.6g): %.300s",
                         (unsigned long long)s->violations, (unsigned long long)s->evaluated,
                         s->worst.ratio, s->worst.gain, s->worst.bound, s->worst.command);
  else if (v == VALLEY_CHECK_PASS)
    valley_check_verdict(r, v,
                         "no counterexample in %llu instances with l_i <= min{rbar - dbar_i, "
                         "dbar_i - r}, xi at R' = norm(l) + norm(dbar), shift in the u frame "
                         "(k <= 4, d <= 8, 3 profiles x 3 perturbations); closest gain/bound "
                         "%.15g",
                         (unsigned long long)s->evaluated, s->min_ratio_nonviolating);
  else
    valley_check_verdict(r, v, "no instance could be evaluated (%llu skipped)",
                         (unsigned long long)s->skipped);
  free(s);
  return VALLEY_OK;
}

/* ---- Definition 1 -------------------------------------------------------------------------- */

/* A C^1 asymmetric valley with a quadratic core on (-r, r): slope p on the flat side (l > 0) and
 * c p on the sharp side for r <= |l| <= rbar; beyond rbar both sides steepen by 2 p (slopes 3 p
 * and (c + 2) p, ratio below c when c > 1; the symmetric valley stays symmetric), which ends
 * Definition 1's best window at rbar.  Lhat(-t) = c Lhat(t) for t <= rbar. */
typedef struct {
  double rbar, r, p, c;
} def1_valley_t;

static double def1_h(const def1_valley_t *v, double l) {
  double t = fabs(l);
  double y = t <= v->r ? v->p * t * t / (2 * v->r) : v->p * v->r / 2 + v->p * (t - v->r);
  if (l < 0) y *= v->c;
  return t > v->rbar ? y + 2 * v->p * (t - v->rbar) : y;
}

static const def1_valley_t DEF1_CASES[] = {
    {2.0, 0.6, 0.03, 15}, /* the paper's Figure 2 direction: (2.0, 0.6, 0.03, 15) */
    {3.0, 0.5, 0.4, 3},   {2.0, 0.5, 0.4, 1.2}, {2.5, 0.3, 1.0, 2},
    {2.0, 0.5, 0.2, 5},   {2.0, 0.5, 0.4, 1},   /* the symmetric valley: c = 1 */
};
#define DEF1_N (sizeof DEF1_CASES / sizeof DEF1_CASES[0])

valley_status_t valley_check_def1_recovery(valley_check_run_t *r, valley_error_t *err) {
  const valley_check_config_t *cc = valley_check_cfg(r);
  double h = cc->scale == VALLEY_CHECK_QUICK ? 0.01 : cc->scale == VALLEY_CHECK_DEFAULT ? 0.005 : 0.002;
  valley_check_def1_case_t cs[DEF1_N];
  int flat[DEF1_N];
  valley_prof_def1_config_t cfg;
  valley_prof_def1_config_default(&cfg);
  valley_status_t st = VALLEY_OK;
  size_t maxn = 0;
  for (size_t i = 0; i < DEF1_N; i++) {
    size_t half = (size_t)ceil(1.5 * DEF1_CASES[i].rbar / h);
    if (2 * half + 1 > maxn) maxn = 2 * half + 1;
  }
  double *l = malloc(2 * maxn * sizeof *l);
  if (l == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "the Definition 1 profiles");
  double *y = l + maxn;
  for (size_t i = 0; i < DEF1_N && st == VALLEY_OK; i++) {
    const def1_valley_t *v = &DEF1_CASES[i];
    size_t half = (size_t)ceil(1.5 * v->rbar / h), n = 2 * half + 1;
    for (size_t m = 0; m < n; m++) {
      l[m] = ((double)m - (double)half) * h;
      y[m] = def1_h(v, l[m]);
    }
    valley_prof_def1_t d;
    st = valley_prof_def1(l, y, n, &cfg, &d, err);
    if (st != VALLEY_OK) break;
    int sym = v->c == 1;
    cs[i].c_true = v->c;
    cs[i].c_hat = d.best.c;
    cs[i].p_true = sym ? NAN : v->p;
    cs[i].p_hat = d.best.p;
    /* the window: r within a sample above r (the first stencil wholly on the arm), rbar within
     * a sample below rbar (the last stencil wholly below the kink at rbar) */
    cs[i].r_true = sym ? NAN : v->r;
    cs[i].r_hat = d.best.r;
    cs[i].rbar_true = sym ? NAN : v->rbar;
    cs[i].rbar_hat = d.best.rbar;
    flat[i] = d.best.flat_side;
  }
  if (st != VALLEY_OK) {
    free(l);
    return st;
  }
  free(l);
  const double rel_tol = 1e-9, pos_tol = 1.5 * h;
  size_t bad;
  valley_check_verdict_t v = valley_check_def1_decide(cs, DEF1_N, rel_tol, pos_tol, &bad);
  valley_json_t *j = valley_check_json(r);
  valley_json_number(j, "h", h);
  valley_json_number(j, "rel_tol", rel_tol);
  valley_json_number(j, "pos_tol", pos_tol);
  valley_json_array(j, "cases");
  double worst_rel = 0;
  for (size_t i = 0; i < DEF1_N; i++) {
    valley_json_object(j, NULL);
    valley_json_number(j, "rbar", DEF1_CASES[i].rbar);
    valley_json_number(j, "r", DEF1_CASES[i].r);
    valley_json_number(j, "p", DEF1_CASES[i].p);
    valley_json_number(j, "c", DEF1_CASES[i].c);
    valley_json_number(j, "c_hat", cs[i].c_hat);
    valley_json_number(j, "p_hat", cs[i].p_hat);
    valley_json_number(j, "r_hat", cs[i].r_hat);
    valley_json_number(j, "rbar_hat", cs[i].rbar_hat);
    valley_json_u64(j, "flat_side_positive", flat[i] == 1);
    valley_json_object_end(j);
    worst_rel = fmax(worst_rel, fabs(cs[i].c_hat / cs[i].c_true - 1));
  }
  valley_json_array_end(j);
  valley_json_number(j, "max_rel_error_c", worst_rel);
  if (v == VALLEY_CHECK_PASS)
    valley_check_verdict(r, v,
                         "%zu sampled valleys (h = %g): c recovered to %.2g relative (c = 1.2 ... 15, "
                         "incl. the paper's (2.0, 0.6, 0.03, 15)), p to 1e-9, r and rbar within "
                         "%g; the symmetric valley gives c = %.15g",
                         DEF1_N, h, worst_rel, pos_tol, cs[DEF1_N - 1].c_hat);
  else if (v == VALLEY_CHECK_FAIL)
    valley_check_verdict(r, v,
                         "case (rbar %g, r %g, p %g, c %g): got c %.10g, p %.10g, r %.6g, "
                         "rbar %.6g (tolerances %g relative, %g in position)",
                         DEF1_CASES[bad].rbar, DEF1_CASES[bad].r, DEF1_CASES[bad].p,
                         DEF1_CASES[bad].c, cs[bad].c_hat, cs[bad].p_hat, cs[bad].r_hat,
                         cs[bad].rbar_hat, rel_tol, pos_tol);
  else
    valley_check_verdict(r, v, "no case ran");

  FILE *f;
  st = valley_check_figure(r, "def1-recovery",
                           "Definition 1's estimator (valley_prof_def1, best window) on sampled "
                           "C^1 valleys with known (rbar, r, p, c): estimated c against the true "
                           "c; the points lie on the identity line, including the symmetric "
                           "valley at c = 1.",
                           &f, err);
  if (st == VALLEY_OK) {
    fprintf(f, "# Definition 1 recovery, h = %g\n", h);
    fprintf(f, "c_true,c_hat,p_true,p_hat,r_true,r_hat,rbar_true,rbar_hat\n");
    for (size_t i = 0; i < DEF1_N; i++)
      fprintf(f, "%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%.17g\n", DEF1_CASES[i].c,
              cs[i].c_hat, DEF1_CASES[i].p, cs[i].p_hat, DEF1_CASES[i].r, cs[i].r_hat,
              DEF1_CASES[i].rbar, cs[i].rbar_hat);
    valley_check_figure_plot(r, "set xlabel 'true c'\nset ylabel 'estimated c'\nset logscale xy\n"
                                "set xrange [0.8:20]\nset yrange [0.8:20]\nset grid\n"
                                "set key top left");
    valley_check_figure_plot(r, "plot x with lines dt 2 lc rgb 'black' title 'identity', DATA "
                                "using 1:2 with points pt 7 ps 1.5 lc rgb '#c0392b' title "
                                "'valley\\_prof\\_def1 estimate'");
  }
  return st;
}

/* ---- Definition 3 -------------------------------------------------------------------------- */

static const double DEF3_SHIFTS[] = {0.3, 0.2371, -0.4129, 0.0};
#define DEF3_N (sizeof DEF3_SHIFTS / sizeof DEF3_SHIFTS[0])

valley_status_t valley_check_def3_shift_gap(valley_check_run_t *r, valley_error_t *err) {
  const valley_check_config_t *cc = valley_check_cfg(r);
  double h = cc->scale == VALLEY_CHECK_QUICK ? 0.01 : cc->scale == VALLEY_CHECK_DEFAULT ? 0.005 : 0.002;
  const def1_valley_t tv = {10.0, 0.5, 0.4, 3}; /* the train curve: arms out to the ends */
  size_t half = (size_t)llround(3.0 / h), n = 2 * half + 1;
  double *buf = malloc(3 * n * sizeof *buf);
  if (buf == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "the Definition 3 profiles");
  double *l = buf, *tr = l + n, *te = tr + n;
  for (size_t m = 0; m < n; m++) {
    l[m] = ((double)m - (double)half) * h;
    tr[m] = def1_h(&tv, l[m]);
  }
  /* the discretisation bound (docs/profiles.md): the nearest grid delta is within step/2, so
   * xi <= (step/2) max|Lhat'| + (3/8) h^2 max|Lhat''|, with max|Lhat'| = c p and
   * max|Lhat''| = c p / r */
  const double step = h / 2, dmax = tv.c * tv.p, ddmax = tv.c * tv.p / tv.r;
  valley_check_def3_case_t cs[DEF3_N];
  double xi0[DEF3_N], ratio[DEF3_N];
  valley_status_t st = VALLEY_OK;
  valley_prof_gap_t fig = {0};
  int have_fig = 0;
  for (size_t i = 0; i < DEF3_N && st == VALLEY_OK; i++) {
    double delta = DEF3_SHIFTS[i];
    for (size_t m = 0; m < n; m++) te[m] = def1_h(&tv, l[m] - delta) + 0.3;
    valley_prof_t p;
    if ((st = valley_prof_from_arrays(n, l, tr, te, NULL, NULL, &p, err)) != VALLEY_OK) break;
    valley_prof_gap_config_t gc = {0, 0, 0, 0};
    valley_prof_gap_t g;
    st = valley_prof_shift_gap(&p, &gc, &g, err);
    valley_prof_free(&p);
    if (st != VALLEY_OK) break;
    double k = delta / step;
    int on_grid = fabs(k - nearbyint(k)) < 1e-9;
    cs[i].delta_true = delta;
    cs[i].delta_star = g.delta_star;
    cs[i].delta_tol = on_grid ? 1e-9 : step;
    cs[i].xi_star = g.xi_star;
    cs[i].xi_tol = on_grid ? 1e-12 : step / 2 * dmax + 0.375 * h * h * ddmax;
    xi0[i] = g.xi0;
    ratio[i] = g.ratio;
    if (i == 1) {
      fig = g;
      have_fig = 1;
    } else {
      valley_prof_gap_free(&g);
    }
  }
  free(buf);
  if (st != VALLEY_OK) {
    if (have_fig) valley_prof_gap_free(&fig);
    return st;
  }
  size_t bad;
  valley_check_verdict_t v = valley_check_def3_decide(cs, DEF3_N, &bad);
  valley_json_t *j = valley_check_json(r);
  valley_json_number(j, "h", h);
  valley_json_number(j, "delta_step", step);
  valley_json_string(j, "train", "C^1 asymmetric valley: core (-0.5, 0.5), p = 0.4, c = 3");
  valley_json_string(j, "test", "train(l - delta) + 0.3");
  valley_json_array(j, "cases");
  for (size_t i = 0; i < DEF3_N; i++) {
    valley_json_object(j, NULL);
    valley_json_number(j, "delta", cs[i].delta_true);
    valley_json_number(j, "delta_star", cs[i].delta_star);
    valley_json_number(j, "delta_tol", cs[i].delta_tol);
    valley_json_number(j, "xi_star", cs[i].xi_star);
    valley_json_number(j, "xi_tol", cs[i].xi_tol);
    valley_json_number(j, "xi0", xi0[i]);
    valley_json_number(j, "xi_star_over_xi0", ratio[i]);
    valley_json_object_end(j);
  }
  valley_json_array_end(j);
  if (v == VALLEY_CHECK_PASS)
    valley_check_verdict(r, v,
                         "test = train moved by delta: delta* = %.6g, %.6g, %.6g, %.6g for delta = "
                         "%g, %g, %g, %g (within %g); xi_delta* = %.2g, %.2g, %.2g, %.2g (bounds "
                         "1e-12 on the grid, %.2g off it); xi*/xi0 = %.2g, %.2g, %.2g",
                         cs[0].delta_star, cs[1].delta_star, cs[2].delta_star, cs[3].delta_star,
                         DEF3_SHIFTS[0], DEF3_SHIFTS[1], DEF3_SHIFTS[2], DEF3_SHIFTS[3], step,
                         cs[0].xi_star, cs[1].xi_star, cs[2].xi_star, cs[3].xi_star, cs[1].xi_tol,
                         ratio[0], ratio[1], ratio[2]);
  else if (v == VALLEY_CHECK_FAIL)
    valley_check_verdict(r, v,
                         "delta = %g: delta* = %.10g (tolerance %g), xi_delta* = %.3g (bound %.3g)",
                         cs[bad].delta_true, cs[bad].delta_star, cs[bad].delta_tol,
                         cs[bad].xi_star, cs[bad].xi_tol);
  else
    valley_check_verdict(r, v, "no case ran");

  FILE *f;
  st = valley_check_figure(r, "def3-shift-gap",
                           "Definition 3's (delta, R)-shift gap xi_delta against delta, for a test "
                           "curve equal to the train curve moved by delta = 0.2371 (off the delta "
                           "grid) plus 0.3: the gap drops to ~0 at the true shift (dashed line).",
                           &f, err);
  if (st == VALLEY_OK) {
    valley_prof_gap_write(f, "Definition 3: shift gap against delta, true shift 0.2371", &fig);
    valley_check_figure_plot(r, "set xlabel 'delta'\n"
                                "set ylabel 'shift gap xi_{delta}'\nset grid\nset key top left\n"
                                "set xrange [-1.5:1.5]\nset arrow 1 from %.17g, graph 0 to %.17g, "
                                "graph 1 nohead dt 2 lw 2 lc rgb 'black'\nset label 1 'true shift "
                                "%g' at first %.17g, graph 0.9",
                             DEF3_SHIFTS[1], DEF3_SHIFTS[1], DEF3_SHIFTS[1], DEF3_SHIFTS[1] + 0.05);
    valley_check_figure_plot(r, "plot DATA using 1:2 with lines lw 2 lc rgb '#1f5fa8' title "
                                "'xi_{delta} (valley\\_prof\\_shift\\_gap)'");
  }
  valley_prof_gap_free(&fig);
  return st;
}
