/* Theorem 1 checked (He, Huang, Yuan 2019, Sec. 4.1 and Appendix B): gain against bound, the
 * conditions of the statement and of the proof, a sweep over l, a counterexample search. */
#include "valley/thm1_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "valley/pcg.h"
#include "valley/stats.h"
#ifdef VALLEY_HAVE_OPENMP
#include <omp.h>
#endif

/* Rounding allowance when an exact gain is compared with the bound: the gain is a compensated
 * sum of 2^d paired differences, each accurate to a few ulps of the terms. */
#define EXACT_REL_TOL 1e-12

static const char *const method_names[] = {"auto", "enumerate", "monte-carlo"};
static const char *const space_names[] = {"statement", "proof"};

VALLEY_NAME_FUNCS(valley_thm1_method_parse, valley_thm1_method_name, valley_thm1_method_t,
                  method_names)
VALLEY_NAME_FUNCS(valley_thm1_space_parse, valley_thm1_space_name, valley_thm1_space_t,
                  space_names)

void valley_thm1_options_default(valley_thm1_options_t *o) {
  memset(o, 0, sizeof *o);
  o->method = VALLEY_THM1_AUTO;
  o->samples = 1000000;
  o->seed = 1;
  o->a2_samples = 64;
  o->gap_patterns = 4;
}

void valley_thm1_report_free(valley_thm1_report_t *r) {
  free(r->pp);
  free(r->cc);
  free(r->p_hat);
  free(r->c_hat);
  r->pp = r->cc = r->p_hat = r->c_hat = NULL;
}

static void set_cond(valley_thm1_cond_t *c, const char *name, const char *source,
                     const char *text, int holds) {
  c->name = name;
  c->source = source;
  c->text = text;
  c->holds = holds;
  c->detail[0] = '\0';
}

/* gain >= bound?  Exact: with the rounding allowance; Monte Carlo: from the 99.9% interval. */
static valley_verdict_t judge(const valley_thm1_report_t *r, double bound, double scale) {
  if (r->g.exact) {
    double tol = EXACT_REL_TOL * scale;
    return r->gain >= bound - tol ? VALLEY_HOLDS : VALLEY_FAILS;
  }
  if (r->gain_ci[0] >= bound) return VALLEY_HOLDS;
  if (r->gain_ci[1] < bound) return VALLEY_FAILS;
  return VALLEY_INCONCLUSIVE;
}

/* l_i > 4 xi / ((c'_i - 1) p'_i) for all i; writes the tightest i into detail */
static int l_lower_holds(const valley_land_t *L, const valley_thm1_report_t *r, double xi,
                         char *detail, size_t size) {
  int ok = 1;
  size_t worst = 0;
  double worst_m = INFINITY;
  for (size_t i = 0; i < L->k; i++) {
    double need = 4 * xi / ((r->cc[i] - 1) * r->pp[i]);
    double m = L->l[i] - need;
    if (!(r->cc[i] > 1) || !(m > 0)) ok = 0;
    if (m < worst_m) {
      worst_m = m;
      worst = i;
    }
  }
  if (detail != NULL)
    snprintf(detail, size, "xi = %.6g; tightest i = %zu: l_i = %.6g vs 4 xi/((c'_i-1) p'_i) = %.6g",
             xi, worst + 1, L->l[worst],
             4 * xi / ((r->cc[worst] - 1) * r->pp[worst]));
  return ok;
}

valley_thm1_method_t valley_thm1_method_for(valley_thm1_method_t m, size_t d) {
  if (m == VALLEY_THM1_AUTO)
    m = d <= VALLEY_THM1_AUTO_MAX_D ? VALLEY_THM1_ENUMERATE : VALLEY_THM1_MONTE_CARLO;
  return m;
}

valley_status_t valley_thm1_check(const valley_land_t *L, const valley_thm1_options_t *o,
                                  valley_thm1_report_t *r, valley_error_t *err) {
  valley_thm1_method_t m = valley_thm1_method_for(o->method, L->d);
  double radii[2] = {L->norm_l, L->norm_l + L->norm_dbar};
  valley_thm1_gain_t g;
  valley_status_t st =
      m == VALLEY_THM1_ENUMERATE
          ? valley_thm1_enumerate(L, radii, o->threads, o->progress, o->progress_arg, &g, err)
          : valley_thm1_monte_carlo(L, o->samples, o->seed, o->threads, o->progress,
                                    o->progress_arg, &g, err);
  if (st != VALLEY_OK) {
    memset(r, 0, sizeof *r);
    return st;
  }
  return valley_thm1_check_gain(L, o, &g, r, err);
}

valley_status_t valley_thm1_check_gain(const valley_land_t *L, const valley_thm1_options_t *o,
                                       const valley_thm1_gain_t *gain, valley_thm1_report_t *r,
                                       valley_error_t *err) {
  memset(r, 0, sizeof *r);
  size_t k = L->k, d = L->d;
  r->pp = malloc(k * sizeof *r->pp);
  r->cc = malloc(k * sizeof *r->cc);
  r->p_hat = malloc(k * sizeof *r->p_hat);
  r->c_hat = malloc(k * sizeof *r->c_hat);
  if (!r->pp || !r->cc || !r->p_hat || !r->c_hat) {
    valley_thm1_report_free(r);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory");
  }
  r->R = L->norm_l;
  r->Rp = L->norm_l + L->norm_dbar;
  r->method = valley_thm1_method_for(o->method, d);
  r->g = *gain;
  valley_status_t st = VALLEY_OK;
  r->q_part = valley_thm1_q_part(L);
  r->gain = r->g.gain_hat + r->q_part;
  if (r->g.exact) {
    r->gain_ci[0] = r->gain_ci[1] = NAN;
  } else {
    r->gain_ci[0] = r->gain - VALLEY_Z999 * r->g.stderr_;
    r->gain_ci[1] = r->gain + VALLEY_Z999 * r->g.stderr_;
  }
  r->xi_A = valley_thm1_xi_assumption1(L, r->R, r->g.sin_hi_max[0]);
  r->xi_A_proof = valley_thm1_xi_assumption1(L, r->Rp, r->g.sin_hi_max[1]);
  valley_thm1_assumption2_constants(L, r->pp, r->cc);
  r->bound = valley_thm1_bound(L, r->pp, r->cc, r->xi_A.value);
  r->bound_proof = valley_thm1_bound(L, r->pp, r->cc, r->xi_A_proof.value);
  r->ratio = r->gain / r->bound;
  r->ratio_proof = r->gain / r->bound_proof;

  /* Assumption 2: the construction's constants, and optionally a sampled check of them */
  valley_thm1_cond_t *c = &r->cond[VALLEY_THM1_C_ASSUMPTION2];
  int a2 = 1;
  for (size_t i = 0; i < k; i++) {
    a2 &= r->cc[i] > 1 && r->pp[i] > 0;
    r->p_hat[i] = r->c_hat[i] = NAN;
  }
  int sampled_ok = 1;
  double worst_excess = 0;
  if (o->a2_samples > 0) {
    for (size_t i = 0; i < k; i++) {
      valley_thm1_dir_t w;
      st = valley_thm1_assumption2_sampled(L, i, r->Rp, o->a2_samples, o->seed, &w, err);
      if (st != VALLEY_OK) {
        valley_thm1_report_free(r);
        return st;
      }
      r->p_hat[i] = w.p;
      r->c_hat[i] = w.c;
      double cp = r->cc[i] * r->pp[i];
      double ex1 = (w.p - r->pp[i]) / r->pp[i], ex2 = (cp - w.cp) / cp;
      if (ex1 > worst_excess) worst_excess = ex1;
      if (ex2 > worst_excess) worst_excess = ex2;
    }
    sampled_ok = worst_excess <= 1e-9;
  }
  set_cond(c, "assumption2", "statement",
           "Assumption 2 at R' = ||dbar|| + ||l||: every u_i (rbar, r, p'_i, c'_i)-asymmetric at "
           "every perpendicular offset, c'_i > 1", a2 && sampled_ok);
  {
    size_t iw = 0;
    for (size_t i = 1; i < k; i++)
      if (r->cc[i] < r->cc[iw]) iw = i;
    if (o->a2_samples > 0)
      snprintf(c->detail, sizeof c->detail,
               "by construction p'_i = p_i + gamma, c'_i p'_i = c_i p_i - gamma (smallest c' = "
               "%.6g at i = %zu); %llu sampled offsets per direction in B(%.6g): worst relative "
               "excess over the construction %.3g%s", r->cc[iw], iw + 1,
               (unsigned long long)o->a2_samples, r->Rp, worst_excess,
               sampled_ok ? "" : " (the sampled slopes break the construction's constants)");
    else
      snprintf(c->detail, sizeof c->detail,
               "by construction p'_i = p_i + gamma, c'_i p'_i = c_i p_i - gamma (smallest c' = "
               "%.6g at i = %zu); not sampled", r->cc[iw], iw + 1);
  }

  /* Definition 3 numerically on a few patterns: a lower estimate that must not exceed xi_A */
  r->gap_numeric_max = NAN;
  if (o->gap_patterns > 0 && d <= 64 && L->q != VALLEY_Q_ZERO) {
    valley_pcg32_t g;
    valley_pcg32_seed(&g, o->seed, UINT64_C(0x7468316761700000)); /* a stream of its own */
    r->gap_numeric_max = 0;
    for (uint64_t n = 0; n < o->gap_patterns; n++) {
      uint64_t bits = ((uint64_t)valley_pcg32_next(&g) << 32) | valley_pcg32_next(&g);
      if (d < 64) bits &= ((uint64_t)1 << d) - 1;
      double gap, ms;
      st = valley_thm1_shift_gap_numeric(L, bits, r->R, 8, o->seed, &gap, &ms, err);
      if (st != VALLEY_OK) {
        valley_thm1_report_free(r);
        return st;
      }
      if (gap > r->gap_numeric_max) r->gap_numeric_max = gap;
      r->gap_checked++;
    }
  }
  c = &r->cond[VALLEY_THM1_C_ASSUMPTION1];
  int gap_ok = isnan(r->gap_numeric_max) ||
               r->gap_numeric_max <= r->xi_A.value + 1e-9 * (L->xi + r->xi_A.value);
  set_cond(c, "assumption1", "statement",
           "Assumption 1 at R = ||l||_2: shift gap xi_delta(w*) <= xi for every sign pattern",
           gap_ok);
  int w = snprintf(c->detail, sizeof c->detail, "R = %.6g; xi = %.10g (%s; q = %s, amplitude %.6g)",
                   r->R, r->xi_A.value, r->xi_A.exact ? "exact" : "upper bound",
                   valley_qkind_name(L->q), L->xi);
  if (r->gap_checked > 0 && w > 0 && (size_t)w < sizeof c->detail)
    snprintf(c->detail + w, sizeof c->detail - (size_t)w,
             "; Nelder-Mead on %llu patterns finds gaps up to %.10g (a lower estimate)%s",
             (unsigned long long)r->gap_checked, r->gap_numeric_max,
             gap_ok ? "" : " -- ABOVE xi: the closed form is wrong");

  c = &r->cond[VALLEY_THM1_C_L_LOWER];
  set_cond(c, "l_lower", "statement", "l_i > 4 xi / ((c_i - 1) p_i) for every i", 0);
  c->holds = l_lower_holds(L, r, r->xi_A.value, c->detail, sizeof c->detail);

  /* the upper limits on l: max as stated, min as the proof uses */
  int up_max = 1, up_min = 1;
  size_t imax = 0, imin = 0;
  double mmax = INFINITY, mmin = INFINITY;
  for (size_t i = 0; i < k; i++) {
    double a = L->rbar - L->dbar[i], b = L->dbar[i] - L->r;
    double hi_max = a > b ? a : b, hi_min = a < b ? a : b;
    if (!(L->l[i] <= hi_max)) up_max = 0;
    if (!(L->l[i] <= hi_min)) up_min = 0;
    if (hi_max - L->l[i] < mmax) {
      mmax = hi_max - L->l[i];
      imax = i;
    }
    if (hi_min - L->l[i] < mmin) {
      mmin = hi_min - L->l[i];
      imin = i;
    }
  }
  c = &r->cond[VALLEY_THM1_C_L_UPPER];
  set_cond(c, "l_upper_statement", "statement", "l_i <= max{rbar - dbar_i, dbar_i - r} for every i",
           up_max);
  snprintf(c->detail, sizeof c->detail, "tightest i = %zu: l_i = %.6g, max{...} = %.6g", imax + 1,
           L->l[imax], mmax + L->l[imax]);
  c = &r->cond[VALLEY_THM1_C_P_L_UPPER];
  set_cond(c, "l_upper_proof", "proof",
           "l_i <= min{rbar - dbar_i, dbar_i - r} for every i (steps (3) and (4) of Appendix B use "
           "both)", up_min);
  snprintf(c->detail, sizeof c->detail, "tightest i = %zu: l_i = %.6g, min{...} = %.6g", imin + 1,
           L->l[imin], mmin + L->l[imin]);

  c = &r->cond[VALLEY_THM1_C_P_RADIUS];
  set_cond(c, "assumption1_radius_proof", "proof",
           "the gap at R' = ||l|| + ||dbar|| is no larger than at R = ||l|| (step 1 of Appendix B "
           "applies Definition 3 at v = y - delta, |v| <= ||l|| + ||dbar||)",
           r->xi_A_proof.value <= r->xi_A.value * (1 + 1e-12));
  snprintf(c->detail, sizeof c->detail, "xi at R = %.6g: %.10g; at R' = %.6g: %.10g (%s)", r->R,
           r->xi_A.value, r->Rp, r->xi_A_proof.value,
           r->xi_A_proof.exact ? "exact" : "upper bound");

  double frame_err = 0;
  for (size_t mm = 0; mm < d; mm++)
    for (size_t i = 0; i < k; i++) {
      double e = fabs(L->P[mm * k + i] - (mm == i ? 1.0 : 0.0));
      if (e > frame_err) frame_err = e;
    }
  c = &r->cond[VALLEY_THM1_C_P_FRAME];
  set_cond(c, "shift_frame_proof", "proof",
           "<delta(s), u_i> = s_i dbar_i for every pattern (Appendix B substitutes <delta_j, u_i> "
           "u_i = -dbar_i u_i, true when the shift's coordinates are the u_i)",
           frame_err <= 1e-12);
  snprintf(c->detail, sizeof c->detail, "shift frame %s; max |<b_m, u_i> - [m = i]| = %.3g",
           valley_frame_name(L->frame), frame_err);

  r->statement_applies = r->cond[VALLEY_THM1_C_ASSUMPTION2].holds &&
                         r->cond[VALLEY_THM1_C_L_LOWER].holds && r->cond[VALLEY_THM1_C_L_UPPER].holds;
  r->proof_applies = r->cond[VALLEY_THM1_C_ASSUMPTION2].holds && up_min &&
                     r->cond[VALLEY_THM1_C_P_FRAME].holds &&
                     l_lower_holds(L, r, r->xi_A_proof.value, NULL, 0);
  double scale = r->g.abs_mean + 2 * (double)k * r->xi_A_proof.value + fabs(r->q_part);
  for (size_t i = 0; i < k; i++) scale += fabs((r->cc[i] - 1) * L->l[i] * r->pp[i] / 2);
  r->verdict = r->statement_applies ? judge(r, r->bound, scale) : VALLEY_NOT_APPLICABLE;
  r->verdict_proof = r->proof_applies ? judge(r, r->bound_proof, scale) : VALLEY_NOT_APPLICABLE;
  return VALLEY_OK;
}

/* ---- sweep --------------------------------------------------------------------------------- */

valley_status_t valley_thm1_sweep(const valley_land_spec_t *spec, const valley_thm1_options_t *o,
                                  int points, valley_thm1_sweep_row_t *rows, valley_error_t *err) {
  return valley_thm1_sweep_range(spec, o, points, 0, points, rows, err);
}

valley_status_t valley_thm1_sweep_range(const valley_land_spec_t *spec,
                                        const valley_thm1_options_t *o, int points, int first,
                                        int count, valley_thm1_sweep_row_t *rows,
                                        valley_error_t *err) {
  if (first < 0 || count < 0 || first > points || count > points - first)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "rows %d + %d of a sweep of %d", first, count, points);
  size_t k = spec->k;
  double *l = malloc(k * sizeof *l);
  if (l == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory");
  valley_land_spec_t s = *spec;
  s.l = l;
  valley_thm1_options_t oo = *o;
  oo.method = VALLEY_THM1_ENUMERATE;
  oo.a2_samples = 0;
  oo.gap_patterns = 0;
  oo.progress = NULL;
  valley_status_t st = VALLEY_OK;
  for (int j = first + 1; j <= first + count && st == VALLEY_OK; j++) {
    double t = (double)j / points;
    for (size_t i = 0; i < k; i++) {
      double a = spec->rbar - spec->dbar[i], b = spec->dbar[i] - spec->r;
      l[i] = t * (a > b ? a : b);
    }
    valley_land_t L;
    st = valley_land_build(&s, &L, err);
    if (st != VALLEY_OK) break;
    valley_thm1_report_t r;
    st = valley_thm1_check(&L, &oo, &r, err);
    if (st == VALLEY_OK) {
      valley_thm1_sweep_row_t *w = &rows[j - 1 - first];
      w->t = t;
      w->l1 = l[0];
      w->gain = r.gain;
      w->bound = r.bound;
      w->bound_proof = r.bound_proof;
      w->ratio = r.ratio;
      w->statement_applies = r.statement_applies;
      w->proof_applies = r.proof_applies;
      w->verdict = r.verdict;
      valley_thm1_report_free(&r);
    }
    valley_land_free(&L);
  }
  free(l);
  return st;
}

/* ---- counterexample search ----------------------------------------------------------------- */

static double unif(valley_pcg32_t *g) { return valley_pcg32_double(g); }
static double log_unif(valley_pcg32_t *g, double lo10, double hi10) {
  return pow(10.0, lo10 + (hi10 - lo10) * unif(g));
}

void valley_thm1_instance_spec(const valley_thm1_instance_t *in, valley_land_spec_t *s) {
  memset(s, 0, sizeof *s);
  s->d = in->d;
  s->k = in->k;
  s->profile = in->profile;
  s->gamma = in->gamma;
  s->r = in->r;
  s->rbar = in->rbar;
  s->p = in->p;
  s->c = in->c;
  s->l = in->l;
  s->dbar = in->dbar;
  s->frame = in->frame;
  s->q = in->q;
  s->xi = in->xi;
  s->omega = in->omega;
  s->rotation_seed = in->rotation_seed;
}

/* Draws instance `index`: everything Theorem 1's statement (space statement) or the proof (space
 * proof) allows, within the ranges docs/theorem1.md lists.  Returns 0 when it cannot be built. */
static int draw_instance(const valley_thm1_search_opts_t *o, uint64_t index,
                         valley_thm1_instance_t *in, valley_land_t *L) {
  valley_pcg32_t g;
  valley_pcg32_seed(&g, o->seed, index);
  memset(in, 0, sizeof *in);
  int proof = o->space == VALLEY_THM1_SPACE_PROOF;
  in->k = 1 + valley_pcg32_bounded(&g, (uint32_t)o->kmax);
  size_t dspan = o->dmax - in->k + 1;
  if (dspan > 4) dspan = 4;
  in->d = in->k + valley_pcg32_bounded(&g, (uint32_t)dspan);
  in->profile = (valley_profile_t)valley_pcg32_bounded(&g, 3);
  in->q = (valley_qkind_t)valley_pcg32_bounded(&g, 3);
  in->frame = proof ? VALLEY_FRAME_U : (valley_frame_t)valley_pcg32_bounded(&g, 2);
  in->rotation_seed = valley_pcg32_bounded(&g, 4) == 0 ? 0 : 1 + valley_pcg32_next(&g);
  in->r = log_unif(&g, -1.0, 0.3);
  in->rbar = in->r * (1 + log_unif(&g, -1.0, 1.0));
  for (size_t m = 0; m < in->d; m++) {
    uint32_t e = valley_pcg32_bounded(&g, 5);
    double t = proof ? 0.02 + 0.96 * unif(&g) : (e == 0 ? 0.0 : e == 1 ? 1.0 : unif(&g));
    in->dbar[m] = in->r + t * (in->rbar - in->r);
    if (in->dbar[m] > in->rbar) in->dbar[m] = in->rbar;
  }
  double gmax = INFINITY;
  for (size_t i = 0; i < in->k; i++) {
    in->c[i] = 1 + log_unif(&g, -1.5, 1.0);
    in->p[i] = log_unif(&g, -2.0, 1.0);
    double gm = 0.45 * (in->c[i] - 1) * in->p[i];
    if (gm < gmax) gmax = gm;
    double a = in->rbar - in->dbar[i], b = in->dbar[i] - in->r;
    double up = proof ? (a < b ? a : b) : (a > b ? a : b);
    in->l[i] = valley_pcg32_bounded(&g, 4) == 0 ? up : up * (1 - unif(&g));
  }
  in->gamma = in->profile == VALLEY_PROFILE_COUPLED ? gmax * unif(&g) : 0.0;
  in->omega = log_unif(&g, -0.5, 0.5);
  /* xi: inside the lower condition l_i > 4 xi_A / ((c'_i - 1) p'_i), with xi_A = f xi */
  in->xi = in->q == VALLEY_Q_ZERO ? 0.0 : 1.0;
  double xi_draw = unif(&g), xi_big = log_unif(&g, -1.0, 0.5);
  valley_land_spec_t s;
  valley_thm1_instance_spec(in, &s);
  if (valley_land_build(&s, L, NULL) != VALLEY_OK) return 0;
  if (in->q != VALLEY_Q_ZERO) {
    double R = proof ? L->norm_l + L->norm_dbar : L->norm_l;
    valley_thm1_xi_t f = valley_thm1_xi_assumption1(L, R, NAN); /* per unit amplitude */
    double pp[VALLEY_THM1_SEARCH_MAX_D], cc[VALLEY_THM1_SEARCH_MAX_D], lim = INFINITY, sum = 0;
    valley_thm1_assumption2_constants(L, pp, cc);
    for (size_t i = 0; i < in->k; i++) {
      double li = (cc[i] - 1) * pp[i] * in->l[i] / 4;
      if (li < lim) lim = li;
      sum += (cc[i] - 1) * pp[i] * in->l[i] / 2;
    }
    in->xi = f.value > 0 ? xi_draw * lim / f.value : xi_big * sum;
    L->xi = in->xi; /* xi enters nothing that the build derived */
  }
  return 1;
}

static int fmt_list(char *buf, size_t size, const double *v, size_t n) {
  int w = 0;
  for (size_t i = 0; i < n; i++)
    w += snprintf(buf + w, size > (size_t)w ? size - (size_t)w : 0, "%s%.17g", i ? "," : "", v[i]);
  return w;
}

void valley_thm1_instance_command(const valley_thm1_instance_t *in, char *buf, size_t size) {
  char p[512], c[512], l[512], db[512];
  fmt_list(p, sizeof p, in->p, in->k);
  fmt_list(c, sizeof c, in->c, in->k);
  fmt_list(l, sizeof l, in->l, in->k);
  fmt_list(db, sizeof db, in->dbar, in->d);
  int w = snprintf(buf, size,
                   "valley theorem1 --d %zu --k %zu --profile %s --r %.17g --rbar %.17g --p %s "
                   "--c %s --dbar %s --l %s --q %s --xi %.17g",
                   in->d, in->k, valley_profile_name(in->profile), in->r, in->rbar, p, c, db, l,
                   valley_qkind_name(in->q), in->xi);
  if (in->profile == VALLEY_PROFILE_COUPLED && w >= 0 && (size_t)w < size)
    w += snprintf(buf + w, size - (size_t)w, " --coupling %.17g", in->gamma);
  if (in->q == VALLEY_Q_SIN && w >= 0 && (size_t)w < size)
    w += snprintf(buf + w, size - (size_t)w, " --q-freq %.17g", in->omega);
  if (w >= 0 && (size_t)w < size)
    snprintf(buf + w, size - (size_t)w,
             " --rotation-seed %llu --shift-frame %s --method enumerate",
             (unsigned long long)in->rotation_seed, valley_frame_name(in->frame));
}

#define SEARCH_SLICE 65536 /* instances evaluated between reductions: bounded memory */

typedef valley_thm1_search_row_t search_row_t;

static void worst_update(valley_thm1_worst_t *w, const search_row_t *row, uint64_t i,
                         const valley_thm1_search_opts_t *o) {
  if (w->has && !(row->ratio < w->ratio)) return;
  valley_land_t L;
  if (!draw_instance(o, i, &w->inst, &L)) return; /* built before, so this does not happen */
  valley_land_free(&L);
  w->has = 1;
  w->ratio = row->ratio;
  w->gain = row->gain;
  w->bound = row->bound;
  w->index = i;
}

static void range_add(double r[2], double v) {
  if (v < r[0]) r[0] = v;
  if (v > r[1]) r[1] = v;
}

/* Draws and evaluates instance i into row (row->built = 0 when it cannot be built); returns
 * nonzero on a failure other than that. */
static int search_one(const valley_thm1_search_opts_t *o, const valley_thm1_options_t *opt,
                      uint64_t i, search_row_t *row) {
  valley_thm1_instance_t in;
  valley_land_t L;
  memset(row, 0, sizeof *row);
  if (!draw_instance(o, i, &in, &L)) return 0;
  valley_thm1_report_t r;
  if (valley_thm1_check(&L, opt, &r, NULL) != VALLEY_OK) {
    valley_land_free(&L);
    return 1;
  }
  int proof = o->space == VALLEY_THM1_SPACE_PROOF;
  row->built = 1;
  row->ratio = proof ? r.ratio_proof : r.ratio;
  row->gain = r.gain;
  row->bound = proof ? r.bound_proof : r.bound;
  row->violates = (proof ? r.verdict_proof : r.verdict) == VALLEY_FAILS;
  row->why = (unsigned char)((!r.cond[VALLEY_THM1_C_P_L_UPPER].holds) |
                             (!r.cond[VALLEY_THM1_C_P_RADIUS].holds) << 1 |
                             (!r.cond[VALLEY_THM1_C_P_FRAME].holds) << 2);
  row->profile = (unsigned char)in.profile;
  row->q = (unsigned char)in.q;
  row->frame = (unsigned char)in.frame;
  double *g = row->range;
  g[0] = g[2] = g[6] = INFINITY;
  g[1] = g[3] = g[7] = -INFINITY;
  g[4] = in.r;
  g[5] = in.rbar / in.r;
  for (size_t m = 0; m < in.k; m++) {
    range_add(g + 0, in.c[m]);
    range_add(g + 2, in.p[m]);
    double a = in.rbar - in.dbar[m], b = in.dbar[m] - in.r;
    range_add(g + 6, in.l[m] / (a > b ? a : b));
  }
  valley_thm1_report_free(&r);
  valley_land_free(&L);
  return 0;
}

/* Adds row i to the tallies (in index order: the result does not depend on threads). */
static void search_reduce(const valley_thm1_search_opts_t *o, valley_thm1_search_t *res,
                          const search_row_t *row, uint64_t i) {
  if (!row->built) {
    res->skipped++;
    return;
  }
  res->evaluated++;
  res->by_profile[row->profile]++;
  res->by_q[row->q]++;
  res->by_frame[row->frame]++;
  const double *g = row->range;
  range_add(res->range_c, g[0]);
  range_add(res->range_c, g[1]);
  range_add(res->range_p, g[2]);
  range_add(res->range_p, g[3]);
  range_add(res->range_r, g[4]);
  range_add(res->range_rbar_over_r, g[5]);
  range_add(res->range_l_frac, g[6]);
  range_add(res->range_l_frac, g[7]);
  if (row->violates) {
    res->violations++;
    res->viol_by_profile[row->profile]++;
    res->viol_by_q[row->q]++;
    res->viol_by_frame[row->frame]++;
    if (row->why & 1) res->viol_l_upper_proof++;
    if (row->why & 2) res->viol_radius++;
    if (row->why & 4) res->viol_frame++;
    if (row->why == 0) res->viol_none++;
  } else if (row->ratio < res->min_ratio_nonviolating) {
    res->min_ratio_nonviolating = row->ratio;
  }
  worst_update(&res->worst, row, i, o);
  static const unsigned char single[3] = {1, 2, 4};
  if (row->violates)
    for (int c = 0; c < 3; c++)
      if (row->why == single[c]) worst_update(&res->worst_only[c], row, i, o);
}

valley_status_t valley_thm1_search_begin(const valley_thm1_search_opts_t *o,
                                         valley_thm1_search_t *res, valley_error_t *err) {
  memset(res, 0, sizeof *res);
  if (o->n < 1) return VALLEY_ERROR(err, VALLEY_EINVAL, "--search-n must be >= 1");
  if (o->kmax < 1 || o->kmax > o->dmax || o->dmax > VALLEY_THM1_SEARCH_MAX_D)
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "--search-kmax and --search-dmax need 1 <= kmax <= dmax <= %d (got %zu, "
                        "%zu)", VALLEY_THM1_SEARCH_MAX_D, o->kmax, o->dmax);
  res->min_ratio_nonviolating = INFINITY;
  double *rg[] = {res->range_c, res->range_p, res->range_r, res->range_rbar_over_r,
                  res->range_l_frac};
  for (int j = 0; j < 5; j++) {
    rg[j][0] = INFINITY;
    rg[j][1] = -INFINITY;
  }
  return VALLEY_OK;
}

uint64_t valley_thm1_search_slice(const valley_thm1_search_opts_t *o) {
  uint64_t slice = (o->n + 63) / 64;
  return slice > SEARCH_SLICE ? SEARCH_SLICE : slice;
}

valley_status_t valley_thm1_search_rows(const valley_thm1_search_opts_t *o, uint64_t first,
                                        uint64_t count, valley_thm1_search_row_t *rows,
                                        valley_error_t *err) {
  valley_thm1_options_t opt;
  valley_thm1_options_default(&opt);
  opt.method = VALLEY_THM1_ENUMERATE;
  opt.threads = 1;
  opt.a2_samples = 0;
  opt.gap_patterns = 0;
#ifdef VALLEY_HAVE_OPENMP
  int nt = o->threads > 0 ? o->threads : omp_get_max_threads();
#endif
  int failed = 0;
  int64_t lo = (int64_t)first, hi = (int64_t)(first + count);
#ifdef VALLEY_HAVE_OPENMP
#pragma omp parallel for num_threads(nt) schedule(dynamic, 16) reduction(| : failed)
#endif
  for (int64_t i = lo; i < hi; i++) failed |= search_one(o, &opt, (uint64_t)i, &rows[i - lo]);
  if (failed) return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory in the search");
  return VALLEY_OK;
}

void valley_thm1_search_add(const valley_thm1_search_opts_t *o, valley_thm1_search_t *res,
                            const valley_thm1_search_row_t *rows, uint64_t first,
                            uint64_t count) {
  for (uint64_t i = first; i < first + count; i++) search_reduce(o, res, &rows[i - first], i);
}

void valley_thm1_search_end(valley_thm1_search_t *res) {
  valley_thm1_worst_t *all[4] = {&res->worst, &res->worst_only[0], &res->worst_only[1],
                                 &res->worst_only[2]};
  for (int c = 0; c < 4; c++)
    if (all[c]->has) valley_thm1_instance_command(&all[c]->inst, all[c]->command,
                                                  sizeof all[c]->command);
}

valley_status_t valley_thm1_search(const valley_thm1_search_opts_t *o, valley_thm1_search_t *res,
                                   valley_error_t *err) {
  valley_status_t st = valley_thm1_search_begin(o, res, err);
  if (st != VALLEY_OK) return st;
  uint64_t slice = valley_thm1_search_slice(o);
  search_row_t *rows = malloc(slice * sizeof *rows);
  if (rows == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory for the search");
  for (uint64_t b0 = 0; b0 < o->n; b0 += slice) {
    uint64_t b1 = b0 + slice < o->n ? b0 + slice : o->n;
    st = valley_thm1_search_rows(o, b0, b1 - b0, rows, err);
    if (st != VALLEY_OK) break;
    valley_thm1_search_add(o, res, rows, b0, b1 - b0);
    if (o->progress != NULL && o->progress((double)b1 / (double)o->n, o->progress_arg) != 0) {
      st = VALLEY_ERROR(err, VALLEY_ECANCEL, "search cancelled");
      break;
    }
  }
  free(rows);
  if (st == VALLEY_OK) valley_thm1_search_end(res);
  return st;
}
