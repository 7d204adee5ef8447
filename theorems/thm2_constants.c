/* Theorem 2 of He, Huang, Yuan (2019): the constants of its proof (Appendix D) and its
 * preconditions.  Formulas as printed; the AZUMA variant of T_max is the one Theorem 8's event
 * E'_T supports (docs/theorem2.md). */
#include "valley/thm2.h"

#include <float.h>
#include <math.h>
#include <stdio.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_roots.h>

valley_status_t valley_thm2_params_check(const valley_thm2_params_t *p, valley_error_t *err) {
  const struct {
    const char *flag;
    double v;
  } all[] = {{"--eta", p->eta},     {"--a-plus", p->a_plus},   {"--a-minus", p->a_minus},
             {"--b-plus", p->b_plus}, {"--b-minus", p->b_minus}, {"--nu", p->nu}};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    if (!isfinite(all[i].v))
      return VALLEY_ERROR(err, VALLEY_EINVAL, "%s must be a finite number", all[i].flag);
  if (!(p->eta > 0)) return VALLEY_ERROR(err, VALLEY_EINVAL, "--eta must be > 0 (got %g)", p->eta);
  if (!(p->nu >= 0)) return VALLEY_ERROR(err, VALLEY_EINVAL, "--nu must be >= 0 (got %g)", p->nu);
  if (!(p->a_plus > 0))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "--a-plus must be > 0 (got %g)", p->a_plus);
  if (!(p->b_plus > 0))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "--b-plus must be > 0 (got %g)", p->b_plus);
  /* The constants square the gradients (the discriminants of Lemmas 5 and 7) and SGD adds eta
   * times them to w every step: beyond 1e100 they overflow a double. Refused, not computed. */
  double g = fmax(fmax(fabs(p->a_minus), p->a_plus), fmax(fmax(fabs(p->b_minus), p->b_plus), p->nu));
  if (g > 1e100)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "the gradients and nu must be at most 1e100 in "
                        "magnitude (largest: %g): the constants square them and would overflow", g);
  if (p->eta * g > 1e100)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "--eta times the largest gradient or nu is %g > 1e100: "
                        "SGD's steps and p_min, p_max would overflow", p->eta * g);
  return VALLEY_OK;
}

/* The nonnegative root Delta of  k D^2 + s sqrt(2) nu L D + m = 0  (m < 0 for a real positive root),
 * i.e. Delta = (-s sqrt(2) nu L + sqrt(2 nu^2 L^2 - 4 k m)) / (2k), written without cancellation
 * when -4km > 0.  s = +1: Lemma 5 / Lemma 7 as printed; s = -1: the Azuma-sign variant. */
static double delta_root(double k, double m, double nu, double L, double s) {
  double q = M_SQRT2 * nu * L;
  double disc = q * q - 4.0 * k * m;
  if (!(disc >= 0)) return NAN;
  double r = sqrt(disc);
  if (s > 0 && m < 0) return (-4.0 * k * m) / (2.0 * k * (q + r)); /* (-q + r)/(2k), stable */
  double d = (-s * q + r) / (2.0 * k);
  return d >= 0 ? d : NAN; /* a negative root leaves Lemma 5's interval [0, Delta] empty */
}

static double L_of(double tau) { return tau >= 0.5 ? sqrt(log(2.0 * tau)) : NAN; }

double valley_thm2_T_min(const valley_thm2_params_t *p, double tau) {
  double d = delta_root(p->a_plus, p->a_minus + p->a_plus + 2.0 * p->nu, p->nu, L_of(tau), 1.0);
  return d * d;
}

double valley_thm2_T_max(const valley_thm2_params_t *p, double tau, valley_thm2_variant_t v) {
  double s = v == VALLEY_THM2_AZUMA ? -1.0 : 1.0;
  double d = delta_root(p->b_plus, p->b_minus - p->nu, p->nu, L_of(tau), s);
  return d * d;
}

typedef struct {
  const valley_thm2_params_t *p;
  valley_thm2_variant_t v;
} f_args_t;

/* f(tau) = T_min(tau) + T_max(tau) - tau/2; tau* is its smallest zero (or 1 if f(1) <= 0). */
static double f_tau(double tau, void *arg) {
  const f_args_t *a = arg;
  return valley_thm2_T_min(a->p, tau) + valley_thm2_T_max(a->p, tau, a->v) - 0.5 * tau;
}

/* Brent's method on [lo, hi] with f(lo) > 0 >= f(hi), to 1e-13 relative. */
static valley_status_t brent(gsl_function *F, double lo, double hi, double *root,
                             valley_error_t *err) {
  gsl_root_fsolver *s = gsl_root_fsolver_alloc(gsl_root_fsolver_brent);
  if (s == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "cannot allocate the root solver");
  gsl_root_fsolver_set(s, F, lo, hi);
  int status = GSL_CONTINUE;
  for (int it = 0; it < 500 && status == GSL_CONTINUE; it++) {
    if (gsl_root_fsolver_iterate(s) != GSL_SUCCESS) break;
    status = gsl_root_test_interval(gsl_root_fsolver_x_lower(s), gsl_root_fsolver_x_upper(s), 0,
                                    1e-13);
  }
  *root = gsl_root_fsolver_root(s);
  gsl_root_fsolver_free(s);
  if (status != GSL_SUCCESS)
    return VALLEY_ERROR(err, VALLEY_ENOROOT, "tau* search did not converge in [%g, %g]", lo, hi);
  return VALLEY_OK;
}

/* Brackets the first sign change of f on [1, inf): doubling, then a geometric scan of the
 * last doubling interval so that an earlier crossing is not skipped. */
static int bracket(gsl_function *F, double *lo, double *hi) {
  double a = 1.0, b = 2.0;
  while (GSL_FN_EVAL(F, b) > 0) {
    if (!(b < 1e300)) return 0;
    a = b;
    b *= 2.0;
  }
  if (!isfinite(GSL_FN_EVAL(F, b))) return 0;
  const int n = 64;
  double prev = a;
  for (int i = 1; i <= n; i++) {
    double x = a * pow(b / a, (double)i / n);
    if (i == n) x = b;
    if (GSL_FN_EVAL(F, x) <= 0) {
      *lo = prev;
      *hi = x;
      return 1;
    }
    prev = x;
  }
  return 0;
}

valley_status_t valley_thm2_constants(const valley_thm2_params_t *p, valley_thm2_variant_t v,
                                      valley_thm2_constants_t *k, valley_error_t *err) {
  valley_status_t st = valley_thm2_params_check(p, err);
  if (st != VALLEY_OK) return st;
  k->variant = v;
  k->p_min = -p->eta * (p->a_minus + p->a_plus + 2.0 * p->nu);
  k->p_max = -p->eta * (p->b_minus - p->nu);
  k->c = -p->a_minus / p->a_plus;
  k->c_prime = -(p->b_minus - p->nu) / p->b_plus;
  k->tau_found = false;
  k->tau_star = k->T_min = k->T_max = k->L = k->c0 = k->round_bound = NAN;

  f_args_t args = {p, v};
  gsl_function F = {f_tau, &args};
  double f1 = f_tau(1.0, &args);
  if (isnan(f1)) return VALLEY_OK; /* a square-root argument is negative: no tau* */
  double tau = NAN;
  if (f1 <= 0) {
    tau = 1.0;
  } else {
    double lo = 1.0, hi = 2.0;
    if (!bracket(&F, &lo, &hi)) return VALLEY_OK;
    gsl_error_handler_t *old = gsl_set_error_handler_off();
    st = brent(&F, lo, hi, &tau, err);
    gsl_set_error_handler(old);
    if (st != VALLEY_OK) return st;
  }
  k->tau_found = true;
  k->tau_star = tau;
  k->L = L_of(tau);
  k->T_min = valley_thm2_T_min(p, tau);
  k->T_max = valley_thm2_T_max(p, tau, v);
  k->round_bound = k->T_min * k->T_min / k->T_max * p->eta * p->a_plus;
  k->c0 = 0.5 * k->round_bound;
  return VALLEY_OK;
}

static void set(valley_thm2_precond_t *c, const char *name, const char *text, double margin,
                bool strict) {
  c->name = name;
  c->text = text;
  c->margin = margin;
  c->holds = strict ? margin > 0 : margin >= 0;
}

void valley_thm2_preconditions(const valley_thm2_params_t *p, const valley_thm2_constants_t *k,
                               valley_thm2_precond_t out[VALLEY_THM2_NPRECOND]) {
  double L = k->L;
  double sq_min = 2 * p->nu * p->nu * L * L - 4 * p->a_plus * (p->a_minus + p->a_plus + 2 * p->nu);
  double sq_max = 2 * p->nu * p->nu * L * L - 4 * p->b_plus * (p->b_minus - p->nu);
  double bound_cp = exp(k->c / 3.0) / 6.0;
  int i = 0;
  set(&out[i], "a_minus_negative", "a- < 0", -p->a_minus, true);
  snprintf(out[i++].detail, sizeof out[0].detail, "a- = %.10g", p->a_minus);
  set(&out[i], "b_plus_positive", "0 < b+", p->b_plus, true);
  snprintf(out[i++].detail, sizeof out[0].detail, "b+ = %.10g", p->b_plus);
  set(&out[i], "b_plus_le_a_plus", "b+ <= a+", p->a_plus - p->b_plus, false);
  snprintf(out[i++].detail, sizeof out[0].detail, "b+ = %.10g, a+ = %.10g", p->b_plus, p->a_plus);
  set(&out[i], "b_minus_le_a_minus", "b- <= a-", p->a_minus - p->b_minus, false);
  snprintf(out[i++].detail, sizeof out[0].detail, "b- = %.10g, a- = %.10g", p->b_minus,
           p->a_minus);
  set(&out[i], "c_prime_bound", "c' < e^{c/3}/6", bound_cp - k->c_prime, true);
  snprintf(out[i++].detail, sizeof out[0].detail, "c' = %.10g, e^{c/3}/6 = %.10g (c = %.10g)",
           k->c_prime, bound_cp, k->c);
  set(&out[i], "nu_le_a_plus", "nu <= a+", p->a_plus - p->nu, false);
  snprintf(out[i++].detail, sizeof out[0].detail, "nu = %.10g, a+ = %.10g", p->nu, p->a_plus);
  set(&out[i], "p_min_positive", "p_min > 0", k->p_min, true);
  snprintf(out[i++].detail, sizeof out[0].detail, "p_min = %.10g", k->p_min);
  double m = sq_min < sq_max ? sq_min : sq_max;
  if (!k->tau_found) m = NAN;
  set(&out[i], "sqrt_args_positive", "2 nu^2 L^2 - 4 a+(a- + a+ + 2 nu) > 0 and 2 nu^2 L^2 - 4 b+(b- - nu) > 0 at tau*",
      m, true);
  snprintf(out[i++].detail, sizeof out[0].detail, "%.10g and %.10g at tau* = %.10g", sq_min, sq_max,
           k->tau_star);
  set(&out[i], "tau_star_gt_T_min", "tau* > T_min (Theorem 6)", k->tau_star - k->T_min, true);
  snprintf(out[i++].detail, sizeof out[0].detail, "tau* = %.10g, T_min = %.10g%s", k->tau_star,
           k->T_min, k->tau_found ? "" : " (no tau >= 1 has T_min + T_max <= tau/2)");
  set(&out[i], "T_min_ge_1", "T_min(tau*) >= 1 (Remark)", k->T_min - 1.0, false);
  snprintf(out[i++].detail, sizeof out[0].detail, "T_min = %.10g", k->T_min);
}
