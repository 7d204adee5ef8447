/* Theorem 1 (He, Huang, Yuan 2019): the landscapes, the exact and Monte Carlo gain, the bound,
 * the Definition 1/3 checkers and the counterexample search.
 * usage: test_thm1 reference/thm1_gain.txt */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "valley/thm1_check.h"

#define MAXD 16

/* ---- 1. against the independent mpmath reference (tests/reference/thm1_gain.py) ---------- */

typedef struct {
  char name[128], frame[16], profile[16], q[16];
  size_t d, k;
  double coupling, r, rbar, xi, omega;
  double p[MAXD], c[MAXD], l[MAXD], dbar[MAXD], b[MAXD * MAXD], a[MAXD];
  double gain_hat, q_part, gain, xi_A, xi_A_proof;
} ref_case_t;

static int read_values(FILE *f, const char *key, double *v, size_t n) {
  char k[64];
  if (fscanf(f, "%63s", k) != 1 || strcmp(k, key) != 0) return -1;
  for (size_t i = 0; i < n; i++)
    if (fscanf(f, "%lf", &v[i]) != 1) return -1;
  return 0;
}

static int read_word(FILE *f, const char *key, char *out, size_t size) {
  char k[64], fmt[16];
  if (fscanf(f, "%63s", k) != 1 || strcmp(k, key) != 0) return -1;
  snprintf(fmt, sizeof fmt, "%%%zus", size - 1);
  return fscanf(f, fmt, out) == 1 ? 0 : -1;
}

/* 1: read a case, 0: end of file, -1: malformed */
static int read_case(FILE *f, ref_case_t *c) {
  char line[256];
  do {
    if (fgets(line, sizeof line, f) == NULL) return 0;
  } while (line[0] == '#' || line[0] == '\n');
  if (sscanf(line, "case %127s", c->name) != 1) return -1;
  double dd, kk;
  if (read_values(f, "d", &dd, 1) || read_values(f, "k", &kk, 1)) return -1;
  c->d = (size_t)dd;
  c->k = (size_t)kk;
  if (c->d > MAXD || c->k > c->d) return -1;
  if (read_word(f, "frame", c->frame, sizeof c->frame) ||
      read_word(f, "profile", c->profile, sizeof c->profile) ||
      read_values(f, "coupling", &c->coupling, 1) || read_values(f, "r", &c->r, 1) ||
      read_values(f, "rbar", &c->rbar, 1) || read_values(f, "xi", &c->xi, 1) ||
      read_word(f, "q", c->q, sizeof c->q) || read_values(f, "omega", &c->omega, 1) ||
      read_values(f, "p", c->p, c->k) || read_values(f, "c", c->c, c->k) ||
      read_values(f, "l", c->l, c->k) || read_values(f, "dbar", c->dbar, c->d))
    return -1;
  for (size_t m = 0; m < c->d; m++)
    if (read_values(f, "b", c->b + m * c->d, c->d)) return -1;
  if (read_values(f, "a", c->a, c->d) || read_values(f, "gain_hat", &c->gain_hat, 1) ||
      read_values(f, "q_part", &c->q_part, 1) || read_values(f, "gain", &c->gain, 1) ||
      read_values(f, "xi_A", &c->xi_A, 1) || read_values(f, "xi_A_proof", &c->xi_A_proof, 1))
    return -1;
  char end[16];
  if (fscanf(f, "%15s", end) != 1 || strcmp(end, "end") != 0) return -1;
  if (fgets(line, sizeof line, f) == NULL) return 1;
  return 1;
}

static void test_reference(check_t *t, const char *path) {
  FILE *f = fopen(path, "r");
  check(t, f != NULL, "open %s", path);
  if (f == NULL) return;
  ref_case_t *c = malloc(sizeof *c);
  int n = 0, rc;
  while ((rc = read_case(f, c)) == 1) {
    valley_land_spec_t s;
    memset(&s, 0, sizeof s);
    s.d = c->d;
    s.k = c->k;
    valley_profile_parse(c->profile, &s.profile);
    valley_qkind_parse(c->q, &s.q);
    valley_frame_parse(c->frame, &s.frame);
    s.gamma = c->coupling;
    s.r = c->r;
    s.rbar = c->rbar;
    s.p = c->p;
    s.c = c->c;
    s.l = c->l;
    s.dbar = c->dbar;
    s.xi = c->xi;
    s.omega = c->omega;
    s.basis = c->b;
    s.a = c->a;
    valley_land_t L;
    valley_error_t err;
    if (valley_land_build(&s, &L, &err) != VALLEY_OK) {
      check(t, 0, "%s: build: %s", c->name, err.message);
      continue;
    }
    valley_thm1_options_t o;
    valley_thm1_options_default(&o);
    o.method = VALLEY_THM1_ENUMERATE;
    o.a2_samples = 0;
    valley_thm1_report_t r;
    if (valley_thm1_check(&L, &o, &r, &err) != VALLEY_OK) {
      check(t, 0, "%s: check: %s", c->name, err.message);
      valley_land_free(&L);
      continue;
    }
    /* Rounding: each of the 2^d paired differences is a few ulps of the loss values, so the
     * allowance is 1e-12 of their mean magnitude (about 4500 ulps). */
    double scale = r.g.abs_mean + fabs(c->gain_hat);
    check(t, fabs(r.g.gain_hat - c->gain_hat) <= 1e-12 * scale,
          "%s: gain_hat %.17g vs reference %.17g", c->name, r.g.gain_hat, c->gain_hat);
    check(t, fabs(r.q_part - c->q_part) <= 1e-12 * (c->xi + fabs(c->q_part)),
          "%s: q_part %.17g vs reference %.17g", c->name, r.q_part, c->q_part);
    check(t, fabs(r.gain - c->gain) <= 1e-12 * (scale + c->xi),
          "%s: gain %.17g vs reference %.17g", c->name, r.gain, c->gain);
    check(t, fabs(r.xi_A.value - c->xi_A) <= 1e-12 * (c->xi + fabs(c->xi_A)),
          "%s: xi_A %.17g vs reference %.17g", c->name, r.xi_A.value, c->xi_A);
    check(t, fabs(r.xi_A_proof.value - c->xi_A_proof) <= 1e-12 * (c->xi + fabs(c->xi_A_proof)),
          "%s: xi_A_proof %.17g vs reference %.17g", c->name, r.xi_A_proof.value, c->xi_A_proof);
    valley_thm1_report_free(&r);
    valley_land_free(&L);
    n++;
  }
  check(t, rc == 0, "reference file parsed to the end (%d cases)", n);
  check(t, n >= 30, "at least 30 reference cases (got %d)", n);
  free(c);
  fclose(f);
}

/* ---- helpers ------------------------------------------------------------------------------- */

typedef struct {
  double p[MAXD], c[MAXD], l[MAXD], dbar[MAXD];
  valley_land_spec_t s;
} spec_buf_t;

static void spec_init(spec_buf_t *b, size_t d, size_t k, valley_profile_t prof, valley_qkind_t q,
                      valley_frame_t frame, uint64_t seed) {
  memset(b, 0, sizeof *b);
  b->s.d = d;
  b->s.k = k;
  b->s.profile = prof;
  b->s.q = q;
  b->s.frame = frame;
  b->s.r = 0.5;
  b->s.rbar = 2.0;
  b->s.xi = 0;
  b->s.omega = 1.3;
  b->s.gamma = 0.05;
  b->s.rotation_seed = seed;
  for (size_t i = 0; i < k; i++) {
    b->p[i] = 0.3 + 0.1 * (double)i;
    b->c[i] = 2.0 + 0.5 * (double)i;
    b->l[i] = 0.4;
  }
  for (size_t m = 0; m < d; m++) b->dbar[m] = 0.9 + 0.05 * (double)(m % 5);
  b->s.p = b->p;
  b->s.c = b->c;
  b->s.l = b->l;
  b->s.dbar = b->dbar;
}

static int run(const valley_land_spec_t *s, valley_thm1_method_t m, int threads, uint64_t samples,
               valley_thm1_report_t *r) {
  valley_land_t L;
  valley_error_t err;
  if (valley_land_build(s, &L, &err) != VALLEY_OK) {
    printf("build: %s\n", err.message);
    return -1;
  }
  valley_thm1_options_t o;
  valley_thm1_options_default(&o);
  o.method = m;
  o.threads = threads;
  o.samples = samples;
  o.a2_samples = 0;
  int rc = valley_thm1_check(&L, &o, r, &err) == VALLEY_OK ? 0 : -1;
  if (rc) printf("check: %s\n", err.message);
  valley_land_free(&L);
  return rc;
}

/* ---- 2. the tight case: gain = bound, independent of the rotation --------------------------- */

static void test_tight(check_t *t) {
  double worst_rel = 0, worst_rot = 0;
  int ok = 1;
  for (size_t k = 1; k <= 12; k++) {
    size_t d = k + k % 3;
    double g0 = 0;
    for (uint64_t seed = 0; seed <= 3; seed++) {
      spec_buf_t b;
      spec_init(&b, d, k, VALLEY_PROFILE_LINEAR, VALLEY_Q_ZERO, VALLEY_FRAME_U, seed);
      valley_thm1_report_t r;
      if (run(&b.s, VALLEY_THM1_ENUMERATE, 0, 0, &r) != 0) {
        ok = 0;
        continue;
      }
      /* the closed form: sum (c_i - 1) l_i p_i / 2 */
      double want = 0;
      for (size_t i = 0; i < k; i++) want += (b.c[i] - 1) * b.l[i] * b.p[i] / 2;
      double rel = fabs(r.gain - want) / want, relb = fabs(r.bound - want) / want;
      if (rel > worst_rel) worst_rel = rel;
      if (relb > worst_rel) worst_rel = relb;
      if (seed == 0) g0 = r.gain;
      double rot = fabs(r.gain - g0) / fabs(g0);
      if (rot > worst_rot) worst_rot = rot;
      ok &= r.verdict == VALLEY_HOLDS && r.proof_applies;
      valley_thm1_report_free(&r);
    }
  }
  check(t, ok, "tight case k = 1..12: every run holds and the proof's conditions hold");
  check(t, worst_rel <= 1e-12, "tight case: gain = bound = closed form to 1e-12 (worst %.3g)",
        worst_rel);
  check(t, worst_rot <= 1e-10, "tight case: independent of the rotation to 1e-10 (worst %.3g)",
        worst_rot);
}

/* ---- 3. Gray-code enumeration against direct evaluation in R^d ----------------------------- */

static void test_gray_vs_direct(check_t *t) {
  valley_profile_t profs[3] = {VALLEY_PROFILE_LINEAR, VALLEY_PROFILE_SMOOTH, VALLEY_PROFILE_COUPLED};
  valley_frame_t frames[2] = {VALLEY_FRAME_U, VALLEY_FRAME_AXES};
  for (int pi = 0; pi < 3; pi++)
    for (int fi = 0; fi < 2; fi++) {
      size_t d = 13, k = 4; /* two Gray blocks of 2^12 */
      spec_buf_t b;
      spec_init(&b, d, k, profs[pi], VALLEY_Q_ZERO, frames[fi], 7);
      b.l[1] = 1.3; /* beyond min{...}: paths cross the core */
      valley_land_t L;
      valley_error_t err;
      if (valley_land_build(&b.s, &L, &err) != VALLEY_OK) {
        check(t, 0, "build: %s", err.message);
        continue;
      }
      double delta[MAXD], x[MAXD], z[MAXD];
      double sum = 0, abs_sum = 0;
      for (uint64_t bits = 0; bits < ((uint64_t)1 << d); bits++) {
        valley_land_shift(&L, bits, delta);
        for (size_t j = 0; j < d; j++) x[j] = -delta[j];
        double a0 = valley_land_hat(&L, x, z);
        for (size_t j = 0; j < d; j++) x[j] = L.xl[j] - delta[j];
        double a1 = valley_land_hat(&L, x, z);
        sum += a0 - a1;
        abs_sum += fabs(a0) + fabs(a1);
      }
      double direct = ldexp(sum, -(int)d), scale = ldexp(abs_sum, -(int)d);
      valley_thm1_report_t r1, r2;
      valley_thm1_options_t o;
      valley_thm1_options_default(&o);
      o.method = VALLEY_THM1_ENUMERATE;
      o.a2_samples = 0;
      o.threads = 1;
      valley_thm1_check(&L, &o, &r1, &err);
      o.threads = 2;
      valley_thm1_check(&L, &o, &r2, &err);
      check(t, fabs(r1.g.gain_hat - direct) <= 1e-12 * scale,
            "%s/%s: Gray-code gain %.17g = direct sum over R^d %.17g",
            valley_profile_name(profs[pi]), valley_frame_name(frames[fi]), r1.g.gain_hat, direct);
      check(t, r1.g.gain_hat == r2.g.gain_hat, "%s/%s: 1 and 2 threads give identical bits",
            valley_profile_name(profs[pi]), valley_frame_name(frames[fi]));
      valley_thm1_report_free(&r1);
      valley_thm1_report_free(&r2);
      valley_land_free(&L);
    }
}

/* ---- 4. Monte Carlo against enumeration ----------------------------------------------------- */

static void test_monte_carlo(check_t *t) {
  spec_buf_t b;
  spec_init(&b, 12, 3, VALLEY_PROFILE_SMOOTH, VALLEY_Q_ZERO, VALLEY_FRAME_AXES, 3);
  b.l[0] = 1.2;
  valley_thm1_report_t ex, mc1, mc2;
  if (run(&b.s, VALLEY_THM1_ENUMERATE, 0, 0, &ex) || run(&b.s, VALLEY_THM1_MONTE_CARLO, 1, 200000, &mc1) ||
      run(&b.s, VALLEY_THM1_MONTE_CARLO, 2, 200000, &mc2)) {
    check(t, 0, "Monte Carlo runs");
    return;
  }
  /* |MC - exact| <= 4.892 stderr: two-sided normal tail 1e-6, the false-failure probability
   * (200000 samples: the CLT is accurate far beyond this; seed 1 fixed). */
  double z = fabs(mc1.gain - ex.gain) / mc1.g.stderr_;
  check(t, mc1.g.stderr_ > 0 && z <= 4.892,
        "Monte Carlo %.10g +- %.3g agrees with enumeration %.10g (z = %.3f, P(false fail) = 1e-6)",
        mc1.gain, mc1.g.stderr_, ex.gain, z);
  check(t, ex.gain >= mc1.gain_ci[0] || ex.gain <= mc1.gain_ci[1], "exact gain inside the 99.9%% CI "
        "or reported outside it");
  check(t, mc1.gain == mc2.gain && mc1.g.stderr_ == mc2.g.stderr_,
        "Monte Carlo: 1 and 2 threads give identical bits");
  check(t, isnan(ex.gain_ci[0]) && ex.g.exact, "enumeration: no interval");
  valley_thm1_report_free(&ex);
  valley_thm1_report_free(&mc1);
  valley_thm1_report_free(&mc2);
}

/* ---- 5. Definition 1 checker, Assumption 2 sampling ----------------------------------------- */

static void test_definition1(check_t *t) {
  spec_buf_t b;
  spec_init(&b, 5, 3, VALLEY_PROFILE_LINEAR, VALLEY_Q_ZERO, VALLEY_FRAME_U, 11);
  valley_land_t L;
  valley_error_t err;
  valley_land_build(&b.s, &L, &err);
  double x0[MAXD] = {0}, scratch[4 * MAXD];
  for (size_t i = 0; i < 3; i++) {
    valley_thm1_dir_t c = valley_thm1_direction_constants(&L, x0, L.Q + i * L.d, 32, scratch);
    check(t, fabs(c.p - b.p[i]) <= 1e-14 && fabs(c.c - b.c[i]) <= 1e-13,
          "linear, u_%zu: tightest p = %.17g (want %g), largest c = %.17g (want %g)", i + 1, c.p,
          b.p[i], c.c, b.c[i]);
  }
  valley_land_free(&L);

  /* coupled: the sampled constants lie inside the construction's, and the checker's sup agrees
   * with a finite-difference maximum over a dense grid (a different algorithm) */
  spec_init(&b, 4, 3, VALLEY_PROFILE_COUPLED, VALLEY_Q_ZERO, VALLEY_FRAME_U, 5);
  b.s.gamma = 0.2;
  valley_land_build(&b.s, &L, &err);
  double v[MAXD] = {0.7, -0.4, 0.9, 0.3}, y[MAXD], z[MAXD];
  double dv = 0;
  for (size_t j = 0; j < 4; j++) dv += v[j] * L.Q[j];
  for (size_t j = 0; j < 4; j++) v[j] -= dv * L.Q[j]; /* perpendicular to u_1 */
  valley_thm1_dir_t c = valley_thm1_direction_constants(&L, v, L.Q, 64, scratch);
  double fd_max = -INFINITY, h = 1e-6;
  for (int g = 0; g <= 20000; g++) {
    double tt = L.r + (L.rbar - L.r) * g / 20000.0, fp, fm;
    for (size_t j = 0; j < 4; j++) y[j] = v[j] + (tt + h) * L.Q[j];
    fp = valley_land_hat(&L, y, z);
    for (size_t j = 0; j < 4; j++) y[j] = v[j] + (tt - h) * L.Q[j];
    fm = valley_land_hat(&L, y, z);
    double s = (fp - fm) / (2 * h);
    if (s > fd_max) fd_max = s;
  }
  check(t, fabs(c.p - fd_max) <= 1e-6, "coupled: sup of the flat-side slope %.10g = finite-"
        "difference grid maximum %.10g", c.p, fd_max);
  check(t, c.p <= b.p[0] + 0.2 + 1e-12 && c.cp >= b.c[0] * b.p[0] - 0.2 - 1e-12,
        "coupled: p %.6g <= p + gamma, cp %.6g >= c p - gamma", c.p, c.cp);
  valley_thm1_dir_t w;
  valley_thm1_assumption2_sampled(&L, 1, 3.0, 200, 1, &w, &err);
  check(t, w.p <= b.p[1] + 0.2 + 1e-12 && w.cp >= b.c[1] * b.p[1] - 0.2 - 1e-12 && w.p > b.p[1],
        "coupled: sampled Assumption 2 constants (%.6g, %.6g) within the construction's and "
        "strictly tighter than gamma = 0", w.p, w.c);
  valley_land_free(&L);
}

/* ---- 6. Definition 3: numerical shift gap against the closed forms -------------------------- */

static double sin_max_dense(double lo, double hi) {
  double m = -2;
  for (int g = 0; g <= 200000; g++) {
    double s = sin(lo + (hi - lo) * g / 200000.0);
    if (s > m) m = s;
  }
  return m;
}

static void test_shift_gap(check_t *t) {
  /* bump, d > k: m_s = 0, gap = xi phi(max(0, |delta - x_l| - R)/rho) */
  spec_buf_t b;
  spec_init(&b, 3, 1, VALLEY_PROFILE_LINEAR, VALLEY_Q_BUMP, VALLEY_FRAME_U, 2);
  b.s.xi = 0.3;
  b.l[0] = 0.3;
  valley_land_t L;
  valley_error_t err;
  valley_land_build(&b.s, &L, &err);
  for (uint64_t bits = 0; bits < 8; bits++) {
    double delta[MAXD], gap, m;
    valley_land_shift(&L, bits, delta);
    double dist = 0;
    for (size_t j = 0; j < 3; j++) dist += (delta[j] - L.xl[j]) * (delta[j] - L.xl[j]);
    /* a radius that leaves the ball 0.25, 0.5 or 0.75 bump radii short of x_l (or past it) */
    double R = sqrt(dist) - L.rho * 0.25 * (double)(bits % 4);
    double e = sqrt(dist) - R, tt = (e > 0 ? e : 0) / L.rho;
    double want = tt < 1 ? b.s.xi * (1 - tt * tt) * (1 - tt * tt) : 0;
    valley_thm1_shift_gap_numeric(&L, bits, R, 12, 1, &gap, &m, &err);
    check(t, gap <= want + 1e-12 && gap >= want - 1e-6 && fabs(m) <= 1e-9,
          "bump, pattern %llu: numerical gap %.10g (lower estimate) vs closed form %.10g, m_s = "
          "%.2g", (unsigned long long)bits, gap, want, m);
  }
  valley_land_free(&L);
  /* sin, d > k: m_s = -xi, gap = xi (1 + max sin over [theta -+ omega R]) */
  spec_init(&b, 3, 1, VALLEY_PROFILE_SMOOTH, VALLEY_Q_SIN, VALLEY_FRAME_U, 4);
  b.s.xi = 0.2;
  b.s.omega = 0.8;
  valley_land_build(&b.s, &L, &err);
  for (uint64_t bits = 0; bits < 8; bits += 3) {
    double delta[MAXD], R = 0.6, gap, m;
    valley_land_shift(&L, bits, delta);
    double th = 0;
    for (size_t j = 0; j < 3; j++) th += L.a[j] * delta[j];
    th *= L.omega;
    double want = b.s.xi * (1 + sin_max_dense(th - L.omega * R, th + L.omega * R));
    valley_thm1_shift_gap_numeric(&L, bits, R, 16, 1, &gap, &m, &err);
    check(t, fabs(gap - want) <= 1e-6 && fabs(m + b.s.xi) <= 1e-6,
          "sin, pattern %llu: numerical gap %.10g vs closed form %.10g; m_s = %.10g vs -xi",
          (unsigned long long)bits, gap, want, m);
  }
  valley_land_free(&L);
}

/* ---- 7. the findings, pinned ---------------------------------------------------------------- */

static void test_findings(check_t *t) {
  /* (a) l_i <= max{...} as stated: d = k = 1, dbar = r = 0.5, rbar = 2, l = 1 = rbar - dbar
   * crosses the core.  Closed form: gain = p ((c + 1) r - 2 l) / 2 = 0 for p = 0.5, c = 3. */
  spec_buf_t b;
  spec_init(&b, 1, 1, VALLEY_PROFILE_LINEAR, VALLEY_Q_ZERO, VALLEY_FRAME_U, 0);
  b.p[0] = 0.5;
  b.c[0] = 3;
  b.dbar[0] = 0.5;
  b.l[0] = 1.0;
  valley_thm1_report_t r;
  run(&b.s, VALLEY_THM1_ENUMERATE, 0, 0, &r);
  check(t, fabs(r.gain - 0.0) <= 1e-15 && fabs(r.bound - 0.5) <= 1e-15 &&
               r.verdict == VALLEY_FAILS && r.statement_applies &&
               !r.cond[VALLEY_THM1_C_P_L_UPPER].holds,
        "finding (a): l <= max{...} admits gain %.3g < bound %.3g", r.gain, r.bound);
  valley_thm1_report_free(&r);

  /* (b) radius: a bump at x_l outside every B(delta(s), ||l||) leaves Assumption 1's xi = 0
   * while lowering the gain by xi.  d = k = 1, dbar = 1.5, l = 0.4: |x_l - delta| >= 1.1 >= 2 l */
  spec_init(&b, 1, 1, VALLEY_PROFILE_LINEAR, VALLEY_Q_BUMP, VALLEY_FRAME_U, 0);
  b.p[0] = 0.5;
  b.c[0] = 3;
  b.dbar[0] = 1.5;
  b.l[0] = 0.4;
  b.s.xi = 0.3;
  run(&b.s, VALLEY_THM1_ENUMERATE, 0, 0, &r);
  /* closed form: tight gain (c-1) l p / 2 = 0.2, minus xi = 0.3 */
  check(t, fabs(r.gain - (0.2 - 0.3)) <= 1e-15 && r.xi_A.value == 0 && r.verdict == VALLEY_FAILS &&
               r.cond[VALLEY_THM1_C_P_L_UPPER].holds && !r.cond[VALLEY_THM1_C_P_RADIUS].holds &&
               r.verdict_proof != VALLEY_FAILS && r.gain >= r.bound_proof,
        "finding (b): radius ||l|| admits gain %.3g < bound %.3g; with xi at R' the bound %.3g "
        "holds", r.gain, r.bound, r.bound_proof);
  valley_thm1_report_free(&r);

  /* (c) frame: u = (1,1)/sqrt(2), shift on the axes with dbar = (1, 1): half the patterns have
   * <delta, u> = 0, inside the core.  Closed form (linear): gain = p l (c - 3) / 4 + ... */
  double U[4] = {0.70710678118654752, 0.70710678118654752, -0.70710678118654752,
                 0.70710678118654752};
  spec_init(&b, 2, 1, VALLEY_PROFILE_LINEAR, VALLEY_Q_ZERO, VALLEY_FRAME_AXES, 0);
  b.p[0] = 0.5;
  b.c[0] = 2;
  b.dbar[0] = b.dbar[1] = 1.0;
  b.s.r = 0.5;
  b.s.rbar = 3.0;
  b.l[0] = 0.2;
  b.s.basis = U;
  run(&b.s, VALLEY_THM1_ENUMERATE, 0, 0, &r);
  /* patterns: <delta,u> = +-sqrt2 (both in (r, rbar - l)): (c - 1) p l / 2 on average;
   * <delta,u> = 0 twice: 0 -> l on the flat side costs p l.  gain = ((c-1) p l/2 - p l)/2 */
  double want = ((b.c[0] - 1) * 0.5 * 0.2 / 2 - 0.5 * 0.2) / 2;
  check(t, fabs(r.gain - want) <= 1e-15 && r.verdict == VALLEY_FAILS &&
               !r.cond[VALLEY_THM1_C_P_FRAME].holds && r.cond[VALLEY_THM1_C_P_L_UPPER].holds,
        "finding (c): axes shift with a rotated u admits gain %.6g (closed form %.6g) < bound %.3g",
        r.gain, want, r.bound);
  valley_thm1_report_free(&r);

  /* the search: the statement's space has counterexamples of each kind, all breaking a proof
   * condition; the proof's space has none */
  valley_thm1_search_opts_t so = {5000, 1, VALLEY_THM1_SPACE_STATEMENT, 4, 8, 0, NULL, NULL};
  valley_thm1_search_t *s = malloc(sizeof *s);
  valley_error_t err;
  valley_thm1_search(&so, s, &err);
  check(t, s->violations > 0 && s->viol_none == 0 && s->worst_only[0].has &&
               s->worst_only[1].has && s->worst_only[2].has && s->worst.ratio < 0,
        "search, statement space: %llu violations of %llu, none without a broken proof "
        "condition, each kind found", (unsigned long long)s->violations,
        (unsigned long long)s->evaluated);
  so.space = VALLEY_THM1_SPACE_PROOF;
  valley_thm1_search(&so, s, &err);
  check(t, s->violations == 0 && s->evaluated == 5000 && s->min_ratio_nonviolating >= 1 - 1e-10,
        "search, proof space: no violation in %llu instances (closest gain/bound %.15g)",
        (unsigned long long)s->evaluated, s->min_ratio_nonviolating);
  free(s);
}

/* ---- 7. the runs in pieces (cli/mpi.c): block ranges and search slices concatenate to the whole
 * run bit for bit ------------------------------------------------------------------------------ */

static int same_gain(const valley_thm1_gain_t *a, const valley_thm1_gain_t *b) {
  return memcmp(a, b, sizeof *a) == 0;
}

static void test_pieces(check_t *t) {
  spec_buf_t b;
  spec_init(&b, 15, 3, VALLEY_PROFILE_SMOOTH, VALLEY_Q_SIN, VALLEY_FRAME_U, 5); /* 8 blocks */
  b.s.xi = 0.01;
  valley_land_t L;
  valley_error_t err;
  if (valley_land_build(&b.s, &L, &err) != VALLEY_OK) {
    check(t, 0, "build: %s", err.message);
    return;
  }
  double radii[2] = {L.norm_l, L.norm_l + L.norm_dbar};
  /* enumeration: the 8 blocks cut as 3 + 0 + 4 + 1, with 1, 2 and 1 threads */
  uint64_t nb = valley_thm1_enumerate_nblocks(L.d);
  valley_thm1_enum_block_t eb[8];
  uint64_t cut[5] = {0, 3, 3, 7, 8};
  int ok = nb == 8;
  for (int p = 0; p < 4 && ok; p++)
    ok = valley_thm1_enumerate_blocks(&L, radii, cut[p], cut[p + 1] - cut[p], 1 + p % 2, NULL,
                                      NULL, eb + cut[p], &err) == VALLEY_OK;
  valley_thm1_gain_t whole, parts;
  memset(&whole, 0, sizeof whole);
  memset(&parts, 0, sizeof parts);
  ok = ok && valley_thm1_enumerate(&L, radii, 0, NULL, NULL, &whole, &err) == VALLEY_OK;
  if (ok) valley_thm1_enumerate_reduce(&L, eb, &parts);
  check(t, ok && same_gain(&whole, &parts),
        "enumeration: blocks 0-2, none, 3-6, 7 reduce to the whole run bit for bit");
  check(t, valley_thm1_enumerate_blocks(&L, radii, 7, 2, 1, NULL, NULL, eb, &err) == VALLEY_EINVAL,
        "enumeration: a range past the last block is refused (%s)", err.message);

  /* Monte Carlo: 5 blocks (the last one short), cut as 2 + 3 */
  uint64_t samples = 4 * 4096 + 100;
  valley_thm1_mc_block_t mb[5];
  ok = valley_thm1_monte_carlo_nblocks(samples) == 5 &&
       valley_thm1_monte_carlo_blocks(&L, samples, 9, 0, 2, 2, NULL, NULL, mb, &err) == VALLEY_OK &&
       valley_thm1_monte_carlo_blocks(&L, samples, 9, 2, 3, 1, NULL, NULL, mb + 2, &err) == VALLEY_OK &&
       valley_thm1_monte_carlo(&L, samples, 9, 0, NULL, NULL, &whole, &err) == VALLEY_OK;
  memset(&parts, 0, sizeof parts);
  if (ok) valley_thm1_monte_carlo_reduce(mb, samples, &parts);
  check(t, ok && same_gain(&whole, &parts) && whole.patterns == samples,
        "Monte Carlo: blocks 0-1 and 2-4 reduce to the whole run bit for bit");

  /* the check from a gain computed elsewhere: the same report */
  valley_thm1_options_t o;
  valley_thm1_options_default(&o);
  o.method = VALLEY_THM1_ENUMERATE;
  o.a2_samples = 4;
  o.gap_patterns = 1;
  valley_thm1_report_t r1, r2;
  ok = valley_thm1_check(&L, &o, &r1, &err) == VALLEY_OK;
  valley_thm1_enumerate_reduce(&L, eb, &parts);
  ok = ok && valley_thm1_check_gain(&L, &o, &parts, &r2, &err) == VALLEY_OK;
  check(t, ok && r1.gain == r2.gain && r1.bound == r2.bound && r1.verdict == r2.verdict &&
               r1.xi_A.value == r2.xi_A.value && r1.p_hat[0] == r2.p_hat[0] &&
               r1.gap_numeric_max == r2.gap_numeric_max &&
               strcmp(r1.cond[VALLEY_THM1_C_ASSUMPTION1].detail,
                      r2.cond[VALLEY_THM1_C_ASSUMPTION1].detail) == 0,
        "valley_thm1_check_gain on the reduced blocks is valley_thm1_check");
  if (ok) {
    valley_thm1_report_free(&r1);
    valley_thm1_report_free(&r2);
  }
  valley_land_free(&L);

  /* the sweep over l: rows 0-1 and 2-4 of 5 are the whole sweep's */
  {
    valley_thm1_options_t so;
    valley_thm1_options_default(&so);
    valley_thm1_sweep_row_t wr[5], pr[5];
    memset(wr, 0, sizeof wr);
    memset(pr, 0, sizeof pr);
    ok = valley_thm1_sweep(&b.s, &so, 5, wr, &err) == VALLEY_OK &&
         valley_thm1_sweep_range(&b.s, &so, 5, 0, 2, pr, &err) == VALLEY_OK &&
         valley_thm1_sweep_range(&b.s, &so, 5, 2, 3, pr + 2, &err) == VALLEY_OK;
    check(t, ok && memcmp(wr, pr, sizeof wr) == 0 && wr[4].t == 1.0,
          "sweep over l: rows 0-1 and 2-4 are the whole sweep's bit for bit");
    check(t, valley_thm1_sweep_range(&b.s, &so, 5, 4, 2, pr, &err) == VALLEY_EINVAL,
          "sweep over l: a range past the last row is refused (%s)", err.message);
  }

  /* the search: rows of 0-99 computed as 0-36 and 37-99 and added in two slices */
  valley_thm1_search_opts_t so = {100, 3, VALLEY_THM1_SPACE_STATEMENT, 3, 6, 2, NULL, NULL};
  valley_thm1_search_t *sa = malloc(sizeof *sa), *sb = malloc(sizeof *sb);
  valley_thm1_search_row_t *rows = malloc(100 * sizeof *rows);
  ok = sa && sb && rows && valley_thm1_search(&so, sa, &err) == VALLEY_OK &&
       valley_thm1_search_begin(&so, sb, &err) == VALLEY_OK &&
       valley_thm1_search_slice(&so) == 2;
  so.threads = 1;
  ok = ok && valley_thm1_search_rows(&so, 0, 37, rows, &err) == VALLEY_OK &&
       valley_thm1_search_rows(&so, 37, 63, rows + 37, &err) == VALLEY_OK;
  if (ok) {
    for (uint64_t i = 0; i < 100; i += 2) valley_thm1_search_add(&so, sb, rows + i, i, 2);
    valley_thm1_search_end(sb);
  }
  check(t, ok && sa->evaluated == sb->evaluated && sa->violations == sb->violations &&
               sa->min_ratio_nonviolating == sb->min_ratio_nonviolating &&
               sa->worst.ratio == sb->worst.ratio && sa->worst.index == sb->worst.index &&
               strcmp(sa->worst.command, sb->worst.command) == 0 &&
               memcmp(sa->range_l_frac, sb->range_l_frac, sizeof sa->range_l_frac) == 0 &&
               memcmp(sa->by_q, sb->by_q, sizeof sa->by_q) == 0,
        "search: rows in two ranges, added in slices, give the whole search");
  free(sa);
  free(sb);
  free(rows);
}

int main(int argc, char **argv) {
  check_t t = {0, 0};
  if (argc > 1) test_reference(&t, argv[1]);
  test_tight(&t);
  test_gray_vs_direct(&t);
  test_monte_carlo(&t);
  test_definition1(&t);
  test_shift_gap(&t);
  test_findings(&t);
  test_pieces(&t);
  return check_done(&t);
}
