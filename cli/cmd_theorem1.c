/* valley theorem1: Theorem 1 of He, Huang, Yuan (2019) checked (paper_checks/thm1_check.c). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include <unistd.h>
#include <zlib.h>

#include "valley/outfile.h"
#include "valley/thm1.h"
#include "valley/thm1_check.h"
#include "mpi.h"

static const char *const CMD = "theorem1";

typedef struct {
  size_t d, k;
  const char *p, *c, *dbar, *l, *profile, *q, *frame, *method, *directions, *sweep, *space,
      *checkpoint;
  double r, rbar, xi, omega, gamma;
  uint64_t rotation_seed, samples, seed, a2_samples, gap_patterns, search_n;
  size_t kmax, dmax;
  int threads, sweep_points, search, json;
} args_t;

#define THM1_OPTIONS(X, a)                                                                        \
  X("--d", OPT_SIZE, &a.d, "N", "dimension d (>= k)")                                              \
  X("--k", OPT_SIZE, &a.k, "N", "number of asymmetric directions k (1 <= k <= d)")                 \
  X("--p", OPT_STRING, &a.p, "LIST", "flat-side slopes p_i > 0 (one value, or k comma-separated)") \
  X("--c", OPT_STRING, &a.c, "LIST", "sharp/flat slope ratios c_i > 1 (one value, or k)")          \
  X("--dbar", OPT_STRING, &a.dbar, "LIST",                                                         \
    "shift sizes dbar in [r, rbar] (one value, k values -- the other d-k are r -- or d values)")  \
  X("--l", OPT_STRING, &a.l, "LIST", "bias l_i along u_i (one value, or k)")                       \
  X("--r", OPT_DOUBLE, &a.r, "X", "inner radius r of Definition 1 (> 0)")                          \
  X("--rbar", OPT_DOUBLE, &a.rbar, "X", "outer radius rbar of Definition 1 (> r)")                 \
  X("--xi", OPT_DOUBLE, &a.xi, "X", "amplitude of the perturbation q in L = Lhat(w - delta) + xi q(w) (>= 0)") \
  X("--q", OPT_STRING, &a.q, "NAME", "perturbation: zero | sin | bump (adversarial)")              \
  X("--q-freq", OPT_DOUBLE, &a.omega, "X", "frequency omega of q = sin(omega <a, w>) (> 0)")       \
  X("--profile", OPT_STRING, &a.profile, "NAME", "linear (tight) | smooth | coupled")              \
  X("--coupling", OPT_DOUBLE, &a.gamma, "X", "coupling gamma of the coupled profile (>= 0)")       \
  X("--rotation-seed", OPT_U64, &a.rotation_seed, "N",                                             \
    "Haar rotation from PCG32 seed N (0: the identity); also draws a for q = sin")                 \
  X("--directions", OPT_STRING, &a.directions, "FILE",                                             \
    "user directions: k lines of d numbers, orthonormal (replaces the rotation)")                  \
  X("--shift-frame", OPT_STRING, &a.frame, "NAME",                                                 \
    "u: delta = sum s_m dbar_m q_m (the proof's frame) | axes: delta = sum s_m dbar_m e_m")        \
  X("--method", OPT_STRING, &a.method, "NAME", "enumerate | monte-carlo | auto (enumerate up to d = 24)") \
  X("--samples", OPT_U64, &a.samples, "N", "Monte Carlo sign patterns (>= 2)")                    \
  X("--seed", OPT_U64, &a.seed, "N", "PCG32 seed of the Monte Carlo and of the sampled checks")   \
  X("--a2-samples", OPT_U64, &a.a2_samples, "N", "Assumption 2: offsets sampled per direction (0: skip)") \
  X("--gap-patterns", OPT_U64, &a.gap_patterns, "N",                                              \
    "Definition 3: patterns whose gap is also maximised numerically (d <= 64; 0: skip)")           \
  X("--threads", OPT_INT, &a.threads, "N", "OpenMP threads (0: all; results do not depend on it)") \
  X("--sweep-l", OPT_STRING, &a.sweep, "FILE.csv",                                                 \
    "write gain(l) and bound(l) for l_i = t max{rbar - dbar_i, dbar_i - r}, t in (0, 1]")         \
  X("--sweep-points", OPT_INT, &a.sweep_points, "N", "rows in --sweep-l (>= 2)")                  \
  X("--search", OPT_FLAG, &a.search, NULL, "search for instances where the gain falls below the bound") \
  X("--search-n", OPT_U64, &a.search_n, "N", "instances drawn by --search")                       \
  X("--search-space", OPT_STRING, &a.space, "NAME",                                                \
    "statement (what Theorem 1 states) | proof (what Appendix B uses)")                           \
  X("--search-kmax", OPT_SIZE, &a.kmax, "N", "largest k drawn by --search")                       \
  X("--search-dmax", OPT_SIZE, &a.dmax, "N", "largest d drawn by --search (<= 10)")               \
  X("--json", OPT_FLAG, &a.json, NULL, "print the report as JSON")                               \
  X("--checkpoint", OPT_STRING, &a.checkpoint, "FILE", "save the gain's blocks as they finish; an interrupted run given the same FILE resumes (docs/reliability.md)")

#define THM1_OPT_ENTRY(flag, kind, target, meta, help) {flag, kind, target, meta, help, 0},

static const char *const SUMMARY =
    "Theorem 1 of He, Huang, Yuan (2019), 'Asymmetric Valleys', Sec. 4.1 and Appendix B: at a\n"
    "minimiser w* with k asymmetric directions u_i, under a random shift delta_i = +-dbar_i,\n"
    "  E L(w*) - E L(w* + sum l_i u_i) >= sum (c_i - 1) l_i p_i / 2 - 2 k xi.\n"
    "valley builds landscapes that satisfy the assumptions by construction, computes the gain\n"
    "exactly over all 2^d sign patterns (or by Monte Carlo), and reports every condition of the\n"
    "statement and of the proof.  --search looks for counterexamples.  See docs/theorem1.md.";

/* "1,2,3" -> values; a single value is repeated to `want`; `alt` (when nonzero) is a second
 * accepted length. */
static int parse_list(const char *flag, const char *s, size_t want, size_t alt, double *out,
                      size_t *got) {
  size_t cap = want > alt ? want : alt;
  int m = cli_parse_numbers(s, out, cap);
  if (m < 0)
    return cli_usage_error(CMD, "%s: '%s' is not a comma-separated list of numbers", flag, s);
  if ((size_t)m > cap)
    return cli_usage_error(CMD, "%s has more than %zu values (one value, or %zu%s)", flag, cap,
                           want, alt ? " or d" : "");
  size_t n = (size_t)m;
  if (n == 1) {
    for (size_t i = 1; i < want; i++) out[i] = out[0];
    *got = want;
    return 0;
  }
  if (n != want && (alt == 0 || n != alt)) {
    if (alt)
      return cli_usage_error(CMD, "%s has %zu values; it needs 1, k = %zu or d = %zu", flag, n,
                             want, alt);
    return cli_usage_error(CMD, "%s has %zu values; it needs 1 or k = %zu", flag, n, want);
  }
  *got = n;
  return 0;
}

static void json_list(valley_json_t *j, const char *key, const double *v, size_t n) {
  valley_json_array(j, key);
  for (size_t i = 0; i < n; i++) valley_json_number(j, NULL, v[i]);
  valley_json_array_end(j);
}

static void json_params(valley_json_t *j, const valley_land_t *L, uint64_t rotation_seed,
                        const char *directions) {
  valley_json_object(j, "parameters");
  valley_json_u64(j, "d", L->d);
  valley_json_u64(j, "k", L->k);
  valley_json_string(j, "profile", valley_profile_name(L->profile));
  if (L->profile == VALLEY_PROFILE_COUPLED) valley_json_number(j, "coupling", L->gamma);
  valley_json_number(j, "r", L->r);
  valley_json_number(j, "rbar", L->rbar);
  json_list(j, "p", L->p, L->k);
  json_list(j, "c", L->c, L->k);
  json_list(j, "l", L->l, L->k);
  json_list(j, "dbar", L->dbar, L->d);
  valley_json_string(j, "q", valley_qkind_name(L->q));
  valley_json_number(j, "xi", L->xi);
  if (L->q == VALLEY_Q_SIN) valley_json_number(j, "q_freq", L->omega);
  if (L->q == VALLEY_Q_BUMP) valley_json_number(j, "bump_radius", L->rho);
  valley_json_string(j, "shift_frame", valley_frame_name(L->frame));
  if (directions != NULL)
    valley_json_string(j, "directions", directions);
  else
    valley_json_u64(j, "rotation_seed", rotation_seed);
  valley_json_object_end(j);
}

static void print_json(const args_t *a, const valley_land_t *L, const valley_thm1_report_t *r) {
  valley_json_t j;
  valley_json_begin(&j, stdout);
  valley_json_string(&j, "command", "theorem1");
  valley_json_string(&j, "version", VALLEY_VERSION);
  valley_json_build(&j);
  valley_json_string(&j, "paper", "He, Huang, Yuan (2019), Asymmetric Valleys, Theorem 1");
  json_params(&j, L, a->rotation_seed, a->directions);
  valley_json_string(&j, "method", valley_thm1_method_name(r->method));
  valley_json_u64(&j, "patterns", r->g.patterns);
  valley_json_number(&j, "gain", r->gain);
  if (r->g.exact) {
    valley_json_null(&j, "gain_ci");
  } else {
    valley_json_array(&j, "gain_ci");
    valley_json_number(&j, NULL, r->gain_ci[0]);
    valley_json_number(&j, NULL, r->gain_ci[1]);
    valley_json_array_end(&j);
    valley_json_number(&j, "gain_ci_level", 0.999);
    valley_json_number(&j, "gain_stderr", r->g.stderr_);
  }
  valley_json_number(&j, "gain_hat", r->g.gain_hat);
  valley_json_number(&j, "q_part", r->q_part);
  valley_json_number(&j, "bound", r->bound);
  valley_json_number(&j, "ratio", r->ratio);
  valley_json_string(&j, "verdict", valley_verdict_name(r->verdict));
  valley_json_object(&j, "xi_assumption1");
  valley_json_number(&j, "R", r->R);
  valley_json_number(&j, "value", r->xi_A.value);
  valley_json_bool(&j, "exact", r->xi_A.exact);
  valley_json_u64(&j, "numeric_patterns", r->gap_checked);
  valley_json_number(&j, "numeric_max_gap", r->gap_numeric_max);
  valley_json_object_end(&j);
  valley_json_object(&j, "proof_reading");
  valley_json_number(&j, "R_prime", r->Rp);
  valley_json_number(&j, "xi", r->xi_A_proof.value);
  valley_json_bool(&j, "xi_exact", r->xi_A_proof.exact);
  valley_json_number(&j, "bound", r->bound_proof);
  valley_json_number(&j, "ratio", r->ratio_proof);
  valley_json_string(&j, "verdict", valley_verdict_name(r->verdict_proof));
  valley_json_object_end(&j);
  valley_json_array(&j, "assumption2");
  for (size_t i = 0; i < L->k; i++) {
    valley_json_object(&j, NULL);
    valley_json_u64(&j, "i", i + 1);
    valley_json_number(&j, "p_prime", r->pp[i]);
    valley_json_number(&j, "c_prime", r->cc[i]);
    valley_json_number(&j, "p_sampled", r->p_hat[i]);
    valley_json_number(&j, "c_sampled", r->c_hat[i]);
    valley_json_object_end(&j);
  }
  valley_json_array_end(&j);
  valley_json_array(&j, "conditions");
  for (int i = 0; i < VALLEY_THM1_NCOND; i++) {
    valley_json_object(&j, NULL);
    valley_json_string(&j, "name", r->cond[i].name);
    valley_json_string(&j, "source", r->cond[i].source);
    valley_json_string(&j, "condition", r->cond[i].text);
    valley_json_bool(&j, "holds", r->cond[i].holds);
    valley_json_string(&j, "detail", r->cond[i].detail);
    valley_json_object_end(&j);
  }
  valley_json_array_end(&j);
  if (a->sweep != NULL) {
    valley_json_object(&j, "sweep");
    valley_json_string(&j, "file", a->sweep);
    valley_json_u64(&j, "points", (uint64_t)a->sweep_points);
    valley_json_object_end(&j);
  }
  valley_json_end(&j);
}

static void print_list(const char *name, const double *v, size_t n) {
  printf(" %s=", name);
  for (size_t i = 0; i < n; i++) printf("%s%g", i ? "," : "", v[i]);
}

static void print_disagreement(const valley_thm1_report_t *r) {
  printf("\nThe paper and valley disagree: the gain falls below Theorem 1's bound although every "
         "condition of the statement holds.\nConditions the proof uses that fail here:\n");
  int any = 0;
  for (int i = 0; i < VALLEY_THM1_NCOND; i++)
    if (strcmp(r->cond[i].source, "proof") == 0 && !r->cond[i].holds) {
      printf("  - %s\n", r->cond[i].text);
      any = 1;
    }
  if (!any) printf("  (none -- this would contradict the proof itself; please report it)\n");
  printf("See docs/theorem1.md.\n");
}

static void print_text(const args_t *a, const valley_land_t *L, const valley_thm1_report_t *r) {
  printf("valley theorem1: He, Huang, Yuan (2019), Theorem 1 -- a flat-side bias generalises "
         "better under a random shift\n\n");
  printf("landscape   d=%zu k=%zu profile=%s", L->d, L->k, valley_profile_name(L->profile));
  if (L->profile == VALLEY_PROFILE_COUPLED) printf(" coupling=%g", L->gamma);
  printf(" q=%s xi=%g", valley_qkind_name(L->q), L->xi);
  if (L->q == VALLEY_Q_SIN) printf(" q-freq=%g", L->omega);
  printf(" shift-frame=%s", valley_frame_name(L->frame));
  if (a->directions)
    printf(" directions=%s\n", a->directions);
  else
    printf(" rotation-seed=%" PRIu64 "\n", a->rotation_seed);
  printf("           r=%g rbar=%g", L->r, L->rbar);
  print_list("p", L->p, L->k);
  print_list("c", L->c, L->k);
  print_list("l", L->l, L->k);
  print_list("dbar", L->dbar, L->d);
  printf("\n\n");
  if (r->g.exact)
    printf("gain        %.15g  (exact: all %" PRIu64 " sign patterns)\n", r->gain, r->g.patterns);
  else
    printf("gain        %.10g  99.9%% CI [%.10g, %.10g]  (Monte Carlo: %" PRIu64 " patterns)\n",
           r->gain, r->gain_ci[0], r->gain_ci[1], r->g.patterns);
  printf("            = %.15g (Lhat part) + %.15g (xi q part)\n", r->g.gain_hat, r->q_part);
  printf("bound       %.15g  = sum (c'_i - 1) l_i p'_i / 2 - 2 k xi, xi = %.10g (%s, R = ||l|| "
         "= %.6g)\n", r->bound, r->xi_A.value, r->xi_A.exact ? "exact" : "upper bound", r->R);
  printf("gain/bound  %.15g\n", r->ratio);
  printf("verdict     %s%s\n\n", valley_verdict_name(r->verdict),
         r->verdict == VALLEY_NOT_APPLICABLE ? " (a condition of the statement fails)" : "");
  printf("conditions of the statement\n");
  for (int i = 0; i < VALLEY_THM1_NCOND; i++)
    if (strcmp(r->cond[i].source, "statement") == 0)
      printf("  %-6s %s\n         %s\n", r->cond[i].holds ? "holds" : "FAILS", r->cond[i].text,
             r->cond[i].detail);
  printf("\nconditions the proof (Appendix B) uses\n");
  for (int i = 0; i < VALLEY_THM1_NCOND; i++)
    if (strcmp(r->cond[i].source, "proof") == 0)
      printf("  %-6s %s\n         %s\n", r->cond[i].holds ? "holds" : "FAILS", r->cond[i].text,
             r->cond[i].detail);
  printf("\nproof reading (xi at R' = %.6g: %.10g): bound %.15g, gain/bound %.15g, verdict %s\n",
         r->Rp, r->xi_A_proof.value, r->bound_proof, r->ratio_proof,
         valley_verdict_name(r->verdict_proof));
  if (r->verdict == VALLEY_FAILS) print_disagreement(r);
  if (a->sweep) printf("\nwrote %s (%d rows)\n", a->sweep, a->sweep_points);
}

static void json_range(valley_json_t *j, const char *key, const double r[2]) {
  valley_json_array(j, key);
  valley_json_number(j, NULL, r[0]);
  valley_json_number(j, NULL, r[1]);
  valley_json_array_end(j);
}

static void json_counts(valley_json_t *j, const char *key, const uint64_t *v, const char *const *names,
                        int n) {
  valley_json_object(j, key);
  for (int i = 0; i < n; i++) valley_json_u64(j, names[i], v[i]);
  valley_json_object_end(j);
}

static const char *const PROFILES[] = {"linear", "smooth", "coupled"};
static const char *const QS[] = {"zero", "sin", "bump"};
static const char *const FRAMES[] = {"u", "axes"};

static void json_worst(valley_json_t *j, const char *key, const valley_thm1_worst_t *wr) {
  if (!wr->has) {
    valley_json_null(j, key);
    return;
  }
  const valley_thm1_instance_t *w = &wr->inst;
  valley_json_object(j, key);
  valley_json_number(j, "ratio", wr->ratio);
  valley_json_number(j, "gain", wr->gain);
  valley_json_number(j, "bound", wr->bound);
  valley_json_u64(j, "index", wr->index);
  valley_json_object(j, "params");
  valley_json_u64(j, "d", w->d);
  valley_json_u64(j, "k", w->k);
  valley_json_string(j, "profile", valley_profile_name(w->profile));
  valley_json_number(j, "coupling", w->gamma);
  valley_json_number(j, "r", w->r);
  valley_json_number(j, "rbar", w->rbar);
  json_list(j, "p", w->p, w->k);
  json_list(j, "c", w->c, w->k);
  json_list(j, "l", w->l, w->k);
  json_list(j, "dbar", w->dbar, w->d);
  valley_json_string(j, "q", valley_qkind_name(w->q));
  valley_json_number(j, "xi", w->xi);
  valley_json_number(j, "q_freq", w->omega);
  valley_json_string(j, "shift_frame", valley_frame_name(w->frame));
  valley_json_u64(j, "rotation_seed", w->rotation_seed);
  valley_json_object_end(j);
  valley_json_string(j, "command", wr->command);
  valley_json_object_end(j);
}

static void print_search_json(const valley_thm1_search_opts_t *o, const valley_thm1_search_t *s) {
  valley_json_t j;
  valley_json_begin(&j, stdout);
  valley_json_string(&j, "command", "theorem1");
  valley_json_string(&j, "version", VALLEY_VERSION);
  valley_json_build(&j);
  valley_json_string(&j, "paper", "He, Huang, Yuan (2019), Asymmetric Valleys, Theorem 1");
  valley_json_object(&j, "search");
  valley_json_string(&j, "space", valley_thm1_space_name(o->space));
  valley_json_u64(&j, "seed", o->seed);
  valley_json_u64(&j, "drawn", o->n);
  valley_json_u64(&j, "evaluated", s->evaluated);
  valley_json_u64(&j, "skipped", s->skipped);
  valley_json_u64(&j, "violations", s->violations);
  valley_json_object(&j, "violations_breaking");
  valley_json_u64(&j, "l_upper_proof", s->viol_l_upper_proof);
  valley_json_u64(&j, "assumption1_radius_proof", s->viol_radius);
  valley_json_u64(&j, "shift_frame_proof", s->viol_frame);
  valley_json_u64(&j, "no_proof_condition", s->viol_none);
  valley_json_object_end(&j);
  valley_json_number(&j, "min_ratio_holding", s->min_ratio_nonviolating);
  json_worst(&j, "worst", &s->worst);
  valley_json_object(&j, "worst_breaking_only");
  json_worst(&j, "l_upper_proof", &s->worst_only[VALLEY_THM1_ONLY_L_UPPER]);
  json_worst(&j, "assumption1_radius_proof", &s->worst_only[VALLEY_THM1_ONLY_RADIUS]);
  json_worst(&j, "shift_frame_proof", &s->worst_only[VALLEY_THM1_ONLY_FRAME]);
  valley_json_object_end(&j);
  valley_json_object(&j, "coverage");
  valley_json_u64(&j, "kmax", o->kmax);
  valley_json_u64(&j, "dmax", o->dmax);
  json_counts(&j, "profile", s->by_profile, PROFILES, 3);
  json_counts(&j, "q", s->by_q, QS, 3);
  json_counts(&j, "shift_frame", s->by_frame, FRAMES, 2);
  json_counts(&j, "violations_by_profile", s->viol_by_profile, PROFILES, 3);
  json_counts(&j, "violations_by_q", s->viol_by_q, QS, 3);
  json_counts(&j, "violations_by_shift_frame", s->viol_by_frame, FRAMES, 2);
  json_range(&j, "c", s->range_c);
  json_range(&j, "p", s->range_p);
  json_range(&j, "r", s->range_r);
  json_range(&j, "rbar_over_r", s->range_rbar_over_r);
  json_range(&j, "l_over_statement_max", s->range_l_frac);
  valley_json_object_end(&j);
  valley_json_object_end(&j);
  valley_json_end(&j);
}

static void print_search_text(const valley_thm1_search_opts_t *o, const valley_thm1_search_t *s) {
  printf("valley theorem1 --search: counterexamples to He, Huang, Yuan (2019), Theorem 1\n\n");
  printf("space       %s (%s)\n", valley_thm1_space_name(o->space),
         o->space == VALLEY_THM1_SPACE_PROOF
             ? "l_i <= min{rbar - dbar_i, dbar_i - r}, xi at R' = ||l|| + ||dbar||, shift in the "
               "u frame: what Appendix B uses"
             : "l_i <= max{rbar - dbar_i, dbar_i - r}, xi at R = ||l||, shift in either frame: "
               "what Theorem 1 states");
  printf("drawn       %" PRIu64 " instances (seed %" PRIu64 "), %" PRIu64 " evaluated exactly, %"
         PRIu64 " could not be built\n", o->n, o->seed, s->evaluated, s->skipped);
  printf("coverage    k = 1..%zu, d = k..%zu; profiles linear/smooth/coupled %" PRIu64 "/%" PRIu64
         "/%" PRIu64 "; q zero/sin/bump %" PRIu64 "/%" PRIu64 "/%" PRIu64 "; frames u/axes %"
         PRIu64 "/%" PRIu64 "\n", o->kmax, o->dmax, s->by_profile[0], s->by_profile[1],
         s->by_profile[2], s->by_q[0], s->by_q[1], s->by_q[2], s->by_frame[0], s->by_frame[1]);
  printf("            c in [%.3g, %.3g], p in [%.3g, %.3g], r in [%.3g, %.3g], rbar/r in [%.3g, "
         "%.3g], l_i/max{..} in [%.3g, %.3g]\n", s->range_c[0], s->range_c[1], s->range_p[0],
         s->range_p[1], s->range_r[0], s->range_r[1], s->range_rbar_over_r[0],
         s->range_rbar_over_r[1], s->range_l_frac[0], s->range_l_frac[1]);
  printf("violations  %" PRIu64 " (gain < bound)\n", s->violations);
  if (s->violations > 0) {
    printf("            breaking the proof's l_i <= min{...}: %" PRIu64 "; its radius R' = ||l|| + "
           "||dbar||: %" PRIu64 "; its shift frame: %" PRIu64 "; none of these: %" PRIu64 "\n",
           s->viol_l_upper_proof, s->viol_radius, s->viol_frame, s->viol_none);
  }
  if (s->worst.has) {
    printf("worst       gain/bound = %.15g (gain %.10g, bound %.10g; instance %" PRIu64 ")\n",
           s->worst.ratio, s->worst.gain, s->worst.bound, s->worst.index);
    printf("reproduce   %s\n", s->worst.command);
  }
  static const char *const why[3] = {"only l_i <= min{...}", "only the radius R'",
                                     "only the shift frame"};
  for (int c = 0; c < 3; c++)
    if (s->worst_only[c].has)
      printf("worst breaking %s: gain/bound = %.10g\n  %s\n", why[c], s->worst_only[c].ratio,
             s->worst_only[c].command);
  if (s->violations > 0 && o->space == VALLEY_THM1_SPACE_STATEMENT)
    printf("\nThe paper and valley disagree: Theorem 1 as stated has counterexamples.  Each one "
           "breaks a condition\nthat the proof in Appendix B uses but the statement does not "
           "impose; see docs/theorem1.md.\n");
  else if (s->violations == 0)
    printf("\nNo counterexample in this space; the closest approach was gain/bound = %.15g.\n",
           s->min_ratio_nonviolating);
}

/* --checkpoint (cli/ckrun.c): the gain's blocks (valley_thm1_*_blocks: 2^12 patterns or 4096
 * samples each) in at most 64 groups, each group's block records saved as it ends; the reduction
 * sees the same records in block order, so a resumed run prints the bytes of an uninterrupted
 * one.  Assumption 2, Definition 3 and --sweep-l, which follow the gain, are recomputed. */
typedef struct {
  const valley_land_t *L;
  const valley_thm1_options_t *o;
  int enumerate;
  size_t size;    /* bytes per block record */
  void *blocks;   /* [total] */
} thm1_ck_t;

static size_t thm1_record_size(void *arg, size_t count) {
  return count * ((const thm1_ck_t *)arg)->size;
}

static valley_status_t thm1_ck_block(void *arg, size_t first, size_t count, void *record,
                                     int (*progress)(double, void *), void *progress_arg,
                                     valley_error_t *err) {
  const thm1_ck_t *t = arg;
  double radii[2] = {t->L->norm_l, t->L->norm_l + t->L->norm_dbar};
  return t->enumerate
             ? valley_thm1_enumerate_blocks(t->L, radii, first, count, t->o->threads, progress,
                                            progress_arg, record, err)
             : valley_thm1_monte_carlo_blocks(t->L, t->o->samples, t->o->seed, first, count,
                                              t->o->threads, progress, progress_arg, record, err);
}

static void thm1_ck_merge(void *arg, size_t first, size_t count, const void *record) {
  const thm1_ck_t *t = arg;
  memcpy((unsigned char *)t->blocks + first * t->size, record, count * t->size);
}

static valley_status_t gain_checkpointed(const args_t *a, const cli_opt_t *opts, size_t nopts,
                                         const valley_land_t *L, const double *U,
                                         const valley_thm1_options_t *o, valley_thm1_gain_t *g,
                                         valley_error_t *err) {
  thm1_ck_t t = {L, o, valley_thm1_method_for(o->method, L->d) == VALLEY_THM1_ENUMERATE, 0, NULL};
  if (!t.enumerate && o->samples < 2)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "--samples must be >= 2 (got %" PRIu64 ")",
                        o->samples);
  uint64_t total = t.enumerate ? valley_thm1_enumerate_nblocks(L->d)
                               : valley_thm1_monte_carlo_nblocks(o->samples);
  t.size = t.enumerate ? sizeof(valley_thm1_enum_block_t) : sizeof(valley_thm1_mc_block_t);
  static const char *const skip[] = {"--threads", "--json", "--checkpoint", "--sweep-l",
                                     "--sweep-points"};
  char *fp = cli_fingerprint(CMD, opts, nopts, skip, sizeof skip / sizeof skip[0]);
  t.blocks = malloc((size_t)total * t.size);
  if (fp == NULL || t.blocks == NULL) {
    free(fp);
    free(t.blocks);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory for %" PRIu64 " blocks", total);
  }
  if (a->directions != NULL) {
    /* the file's numbers, not its name, are the settings */
    uLong crc = crc32(0L, (const Bytef *)U, (uInt)(a->k * a->d * sizeof *U));
    char *fp2 = malloc(strlen(fp) + 40);
    if (fp2 != NULL) sprintf(fp2, "%s directions-crc32 %08lx", fp, crc);
    free(fp);
    fp = fp2;
    if (fp == NULL) {
      free(t.blocks);
      return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory");
    }
  }
  cli_ck_t c = {CMD, a->checkpoint, fp, "the gain", (size_t)total, 64, 16, 1, thm1_record_size,
                thm1_ck_block, thm1_ck_merge, &t, o->progress, o->progress_arg};
  valley_status_t st = cli_ck_run(&c, err);
  if (st == VALLEY_OK) {
    if (t.enumerate)
      valley_thm1_enumerate_reduce(L, t.blocks, g);
    else
      valley_thm1_monte_carlo_reduce(t.blocks, o->samples, g);
  }
  free(t.blocks);
  free(fp);
  return st;
}

/* mpi: NULL, or the MPI ranks (cli/mpi.h, docs/mpi.md): every rank parses and checks the same
 * arguments and builds the same landscape (only rank 0's stdout and stderr are open); the gain's
 * blocks, or the search's instances, are split across the ranks; rank 0 alone finishes the check,
 * writes --sweep-l and reports. */
static int theorem1(int argc, char **argv, const cli_mpi_t *mpi) {
  args_t a;
  memset(&a, 0, sizeof a);
  a.d = 4;
  a.k = 2;
  a.p = "0.5";
  a.c = "3";
  a.dbar = "1";
  a.l = "0.5";
  a.r = 0.5;
  a.rbar = 2.0;
  a.q = "zero";
  a.omega = 1.0;
  a.profile = "linear";
  a.gamma = 0.1;
  a.rotation_seed = 1;
  a.frame = "u";
  a.method = "auto";
  a.samples = 1000000;
  a.seed = 1;
  a.a2_samples = 64;
  a.gap_patterns = 4;
  a.sweep_points = 101;
  a.search_n = 20000;
  a.space = "statement";
  a.kmax = 4;
  a.dmax = 8;
  cli_opt_t opts[] = {THM1_OPTIONS(THM1_OPT_ENTRY, a)};
  size_t nopts = sizeof opts / sizeof opts[0];
  int rc = cli_parse_or_help(CMD, SUMMARY, argc, argv, opts, nopts);
  if (rc >= 0) return rc;
  valley_error_t err;

  if (a.search && a.checkpoint != NULL)
    return cli_usage_error(CMD, "--checkpoint does not go with --search");
  if (a.checkpoint != NULL && cli_mpi_split(mpi))
    return cli_usage_error(CMD, "--checkpoint is for one process (under mpirun the ranks' blocks "
                                "are not saved)");
  if (a.search) {
    valley_thm1_search_opts_t so = {a.search_n, a.seed, VALLEY_THM1_SPACE_STATEMENT, a.kmax,
                                    a.dmax, a.threads, NULL, NULL};
    if (valley_thm1_space_parse(a.space, &so.space) != VALLEY_OK)
      return cli_usage_error(CMD, "--search-space must be statement or proof (got '%s')", a.space);
    if (a.search_n < 1 || a.search_n > 100000000)
      return cli_usage_error(CMD, "--search-n must be in [1, 1e8] (got %" PRIu64 ")", a.search_n);
    if (a.kmax < 1 || a.dmax > VALLEY_THM1_SEARCH_MAX_D || a.kmax > a.dmax)
      return cli_usage_error(CMD, "--search-kmax and --search-dmax need 1 <= kmax <= dmax <= %d "
                                  "(got %zu, %zu)", VALLEY_THM1_SEARCH_MAX_D, a.kmax, a.dmax);
    cli_progress_t prog;
    cli_progress_init(&prog, "theorem1 --search");
    so.progress = cli_progress_cb;
    so.progress_arg = &prog;
    valley_thm1_search_t *s = malloc(sizeof *s);
    if (s == NULL) {
      fprintf(stderr, "valley %s: out of memory\n", CMD);
      return CLI_EXIT_FAIL;
    }
    valley_status_t st;
#ifdef VALLEY_HAVE_MPI
    if (cli_mpi_split(mpi)) {
      int own;
      st = cli_mpi_thm1_search(mpi, &so, s, &own, &err);
      cli_progress_done(&prog);
      if (st != VALLEY_OK || mpi->rank != 0) {
        free(s);
        return st != VALLEY_OK ? cli_mpi_fail(mpi, CMD, st, own, &err) : CLI_EXIT_OK;
      }
    } else
#endif
    {
      st = valley_thm1_search(&so, s, &err);
      cli_progress_done(&prog);
    }
    if (st != VALLEY_OK) {
      free(s);
      cli_print_error(CMD, &err);
      return st == VALLEY_EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
    }
    if (a.json)
      print_search_json(&so, s);
    else
      print_search_text(&so, s);
    free(s);
    return CLI_EXIT_OK;
  }

  valley_land_spec_t spec;
  memset(&spec, 0, sizeof spec);
  if (valley_profile_parse(a.profile, &spec.profile) != VALLEY_OK)
    return cli_usage_error(CMD, "--profile must be linear, smooth or coupled (got '%s')", a.profile);
  if (valley_qkind_parse(a.q, &spec.q) != VALLEY_OK)
    return cli_usage_error(CMD, "--q must be zero, sin or bump (got '%s')", a.q);
  if (valley_frame_parse(a.frame, &spec.frame) != VALLEY_OK)
    return cli_usage_error(CMD, "--shift-frame must be u or axes (got '%s')", a.frame);
  valley_thm1_options_t o;
  valley_thm1_options_default(&o);
  if (valley_thm1_method_parse(a.method, &o.method) != VALLEY_OK)
    return cli_usage_error(CMD, "--method must be enumerate, monte-carlo or auto (got '%s')",
                           a.method);
  if (a.k < 1) return cli_usage_error(CMD, "--k must be >= 1 (got %zu)", a.k);
  if (a.d < 1 || a.d > VALLEY_LAND_MAX_D)
    return cli_usage_error(CMD, "--d must be in [1, %d] (got %zu)", VALLEY_LAND_MAX_D, a.d);
  if (a.k > a.d) return cli_usage_error(CMD, "--k: k = %zu is larger than --d = %zu", a.k, a.d);
  if (o.method == VALLEY_THM1_ENUMERATE && a.d > VALLEY_THM1_ENUM_MAX_D)
    return cli_usage_error(CMD, "--method enumerate needs --d <= %d (got %zu); use monte-carlo",
                           VALLEY_THM1_ENUM_MAX_D, a.d);
  if (a.sweep_points < 2) return cli_usage_error(CMD, "--sweep-points must be >= 2");
  if (a.sweep != NULL && a.d > VALLEY_THM1_AUTO_MAX_D)
    return cli_usage_error(CMD, "--sweep-l enumerates; it needs --d <= %d (got %zu)",
                           VALLEY_THM1_AUTO_MAX_D, a.d);
  if (a.samples < 2) return cli_usage_error(CMD, "--samples must be >= 2");
  o.samples = a.samples;
  o.seed = a.seed;
  o.threads = a.threads;
  o.a2_samples = a.a2_samples;
  o.gap_patterns = a.gap_patterns;

  double *buf = calloc(3 * a.k + 2 * a.d + a.k * a.d, sizeof *buf);
  if (buf == NULL) {
    fprintf(stderr, "valley %s: out of memory\n", CMD);
    return CLI_EXIT_FAIL;
  }
  double *p = buf, *c = p + a.k, *l = c + a.k, *dbar = l + a.k, *U = dbar + a.d + a.d;
  size_t n;
  if (parse_list("--p", a.p, a.k, 0, p, &n) || parse_list("--c", a.c, a.k, 0, c, &n) ||
      parse_list("--l", a.l, a.k, 0, l, &n) ||
      parse_list("--dbar", a.dbar, a.k, a.d != a.k ? a.d : 0, dbar, &n)) {
    free(buf);
    return CLI_EXIT_USAGE;
  }
  if (n == a.k)
    for (size_t m = a.k; m < a.d; m++) dbar[m] = a.r;
  if (a.directions != NULL && cli_read_directions(CMD, a.directions, a.d, a.k, U) != 0) {
    free(buf);
    return CLI_EXIT_USAGE;
  }
  spec.d = a.d;
  spec.k = a.k;
  spec.gamma = a.gamma;
  spec.r = a.r;
  spec.rbar = a.rbar;
  spec.p = p;
  spec.c = c;
  spec.l = l;
  spec.dbar = dbar;
  spec.xi = a.xi;
  spec.omega = a.omega;
  spec.directions = a.directions != NULL ? U : NULL;
  spec.rotation_seed = a.rotation_seed;
  valley_land_t L;
  valley_status_t st = valley_land_build(&spec, &L, &err);
  if (st != VALLEY_OK) {
    free(buf);
    if (st == VALLEY_EINVAL) return cli_usage_error(CMD, "%s", err.message);
    cli_print_error(CMD, &err);
    return CLI_EXIT_FAIL;
  }

  valley_outfile_t out = {NULL, NULL, NULL};
  /* only rank 0 writes --sweep-l; the others follow its success or failure */
  const char *sweep_file = cli_mpi_split(mpi) && cli_mpi_rank(mpi) != 0 ? NULL : a.sweep;
  int opened = sweep_file == NULL || valley_outfile_open(&out, sweep_file, &err) == VALLEY_OK;
  if (cli_mpi_sync_failed(mpi, opened)) {
    valley_land_free(&L);
    free(buf);
    return cli_mpi_rank(mpi) == 0 ? cli_usage_error(CMD, "--sweep-l: %s", err.message)
                              : CLI_EXIT_USAGE;
  }
  cli_progress_t prog;
  cli_progress_init(&prog, "theorem1");
  o.progress = cli_progress_cb;
  o.progress_arg = &prog;
  valley_thm1_report_t rep;
  valley_thm1_sweep_row_t *swept = NULL; /* --sweep-l's rows, when computed across the ranks */
#ifdef VALLEY_HAVE_MPI
  if (cli_mpi_split(mpi)) {
    /* the gain's blocks, then --sweep-l's rows, across the ranks; rank 0 finishes alone */
    valley_thm1_gain_t g;
    int own;
    st = cli_mpi_thm1_gain(mpi, &L, &o, &g, &own, &err);
    cli_progress_done(&prog);
    if (st == VALLEY_OK && a.sweep != NULL) {
      if (mpi->rank == 0) swept = malloc((size_t)a.sweep_points * sizeof *swept);
      st = cli_mpi_thm1_sweep(mpi, &spec, &o, a.sweep_points, swept, &own, &err);
    }
    if (st != VALLEY_OK || mpi->rank != 0) {
      if (sweep_file != NULL) valley_outfile_abort(&out);
      free(swept);
      valley_land_free(&L);
      free(buf);
      return st != VALLEY_OK ? cli_mpi_fail(mpi, CMD, st, own, &err) : CLI_EXIT_OK;
    }
    st = valley_thm1_check_gain(&L, &o, &g, &rep, &err);
  } else
#endif
  if (a.checkpoint != NULL) {
    valley_thm1_gain_t g;
    st = gain_checkpointed(&a, opts, nopts, &L, U, &o, &g, &err);
    cli_progress_done(&prog);
    if (st == VALLEY_OK) st = valley_thm1_check_gain(&L, &o, &g, &rep, &err);
  } else {
    st = valley_thm1_check(&L, &o, &rep, &err);
    cli_progress_done(&prog);
  }
  if (st == VALLEY_OK && a.sweep != NULL) {
    valley_thm1_sweep_row_t *rows =
        swept != NULL ? swept : malloc((size_t)a.sweep_points * sizeof *rows);
    if (rows == NULL) {
      st = VALLEY_ERROR(&err, VALLEY_ENOMEM, "out of memory for --sweep-l");
    } else {
      if (swept == NULL) st = valley_thm1_sweep(&spec, &o, a.sweep_points, rows, &err);
      swept = NULL; /* rows owns it now */
      if (st == VALLEY_OK) {
        char comment[512];
        snprintf(comment, sizeof comment,
                 "valley theorem1 --sweep-l: d=%zu k=%zu profile=%s q=%s xi=%g frame=%s; l_i = t "
                 "max{rbar-dbar_i, dbar_i-r}; bound uses xi at R=||l||, bound_proof at "
                 "R'=||l||+||dbar||", a.d, a.k, a.profile, a.q, a.xi, a.frame);
        valley_plots_thm1_sweep_write(out.f, comment, rows, (size_t)a.sweep_points);
        st = valley_outfile_commit(&out, &err);
      }
      free(rows);
    }
    if (st != VALLEY_OK && out.f != NULL) valley_outfile_abort(&out);
    if (st != VALLEY_OK) valley_thm1_report_free(&rep);
  } else if (st != VALLEY_OK && a.sweep != NULL) {
    valley_outfile_abort(&out);
  }
  free(swept); /* a failed check: the rows were not written */
  if (st != VALLEY_OK) {
    valley_land_free(&L);
    free(buf);
    cli_print_error(CMD, &err);
    return st == VALLEY_EINVAL ? CLI_EXIT_USAGE : st == VALLEY_ECANCEL && a.checkpoint != NULL ? cli_cancel_status() : CLI_EXIT_FAIL;
  }
  if (a.json)
    print_json(&a, &L, &rep);
  else
    print_text(&a, &L, &rep);
  valley_thm1_report_free(&rep);
  valley_land_free(&L);
  free(buf);
  if (a.checkpoint != NULL) {
    if (fflush(stdout) != 0) {
      fprintf(stderr, "valley %s: cannot write the report; %s is kept\n", CMD, a.checkpoint);
      return CLI_EXIT_FAIL;
    }
    unlink(a.checkpoint); /* the report is out: nothing left to resume */
  }
  return CLI_EXIT_OK;
}

int cli_cmd_theorem1(int argc, char **argv) { return cli_mpi_main(theorem1, argc, argv); }
