/* Landscapes in R^d for Theorem 1 (He, Huang, Yuan 2019, Sec. 4.1): separable asymmetric
 * valleys along k orthonormal directions, a sign shift, a perturbation q.  docs/theorem1.md. */
#include "valley/landscape.h"

#include <gsl/gsl_linalg.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "valley/pcg.h"

#define ORTHO_TOL 1e-10 /* |<u_i, u_j> - [i == j]| allowed in user-given directions */

static const char *const profile_names[] = {"linear", "smooth", "coupled"};
static const char *const qkind_names[] = {"zero", "sin", "bump"};
static const char *const frame_names[] = {"u", "axes"};

VALLEY_NAME_FUNCS(valley_profile_parse, valley_profile_name, valley_profile_t, profile_names)
VALLEY_NAME_FUNCS(valley_qkind_parse, valley_qkind_name, valley_qkind_t, qkind_names)
VALLEY_NAME_FUNCS(valley_frame_parse, valley_frame_name, valley_frame_t, frame_names)

static double dot(const double *x, const double *y, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += x[i] * y[i];
  return s;
}

/* ---- profiles ------------------------------------------------------------------------------ */

double valley_land_h(const valley_land_t *L, size_t i, double t) {
  double p = L->p[i], cp = L->c[i] * L->p[i], r = L->r;
  if (L->profile == VALLEY_PROFILE_LINEAR) return t >= 0 ? p * t : -cp * t;
  if (t >= 0) return t <= r ? p * t * t / (2 * r) : p * r / 2 + p * (t - r);
  return t >= -r ? cp * t * t / (2 * r) : cp * r / 2 + cp * (-t - r);
}

double valley_land_dh(const valley_land_t *L, size_t i, double t) {
  double p = L->p[i], cp = L->c[i] * L->p[i], r = L->r;
  if (L->profile == VALLEY_PROFILE_LINEAR) return t >= 0 ? p : -cp;
  if (t >= 0) return t <= r ? p * t / r : p;
  return t >= -r ? cp * t / r : -cp;
}

double valley_land_hat_z(const valley_land_t *L, const double *z) {
  double s = 0;
  for (size_t i = 0; i < L->k; i++) s += valley_land_h(L, i, z[i]);
  if (L->profile == VALLEY_PROFILE_COUPLED && L->k >= 2 && L->gamma != 0) {
    /* sum_{i<j} a_i a_j = ((sum a)^2 - sum a^2) / 2 with a_i = sin^2 z_i >= 0 */
    double s1 = 0, s2 = 0;
    for (size_t i = 0; i < L->k; i++) {
      double si = sin(z[i]), ai = si * si;
      s1 += ai;
      s2 += ai * ai;
    }
    s += L->gamma * (s1 * s1 - s2) / (2.0 * (double)(L->k - 1));
  }
  return s;
}

void valley_land_grad_z(const valley_land_t *L, const double *z, double *dz) {
  for (size_t i = 0; i < L->k; i++) dz[i] = valley_land_dh(L, i, z[i]);
  if (L->profile == VALLEY_PROFILE_COUPLED && L->k >= 2 && L->gamma != 0) {
    double s1 = 0;
    for (size_t i = 0; i < L->k; i++) {
      double si = sin(z[i]);
      s1 += si * si;
    }
    for (size_t i = 0; i < L->k; i++) {
      double si = sin(z[i]);
      dz[i] += L->gamma * sin(2 * z[i]) * (s1 - si * si) / (double)(L->k - 1);
    }
  }
}

double valley_land_hat(const valley_land_t *L, const double *x, double *z) {
  for (size_t i = 0; i < L->k; i++) z[i] = dot(x, L->Q + i * L->d, L->d);
  return valley_land_hat_z(L, z);
}

double valley_land_dir_deriv(const valley_land_t *L, const double *x, const double *e,
                             double *z) {
  for (size_t i = 0; i < L->k; i++) z[i] = dot(x, L->Q + i * L->d, L->d);
  valley_land_grad_z(L, z, z + L->k);
  double s = 0;
  for (size_t i = 0; i < L->k; i++) s += z[L->k + i] * dot(e, L->Q + i * L->d, L->d);
  return s;
}

static double bump_phi(double t) {
  if (!(t < 1)) return 0;
  double u = 1 - t * t;
  return u * u;
}

double valley_land_q(const valley_land_t *L, const double *w) {
  switch (L->q) {
  case VALLEY_Q_SIN:
    return sin(L->omega * dot(L->a, w, L->d));
  case VALLEY_Q_BUMP: {
    double s = 0;
    for (size_t j = 0; j < L->d; j++) s += (w[j] - L->xl[j]) * (w[j] - L->xl[j]);
    return bump_phi(sqrt(s) / L->rho);
  }
  case VALLEY_Q_ZERO:
  default:
    return 0;
  }
}

void valley_land_shift(const valley_land_t *L, uint64_t bits, double *delta) {
  size_t d = L->d;
  memset(delta, 0, d * sizeof *delta);
  for (size_t m = 0; m < d; m++) {
    double s = ((bits >> m) & 1u) ? L->dbar[m] : -L->dbar[m];
    if (L->frame == VALLEY_FRAME_AXES) {
      delta[m] += s;
    } else {
      const double *b = L->Q + m * d;
      for (size_t j = 0; j < d; j++) delta[j] += s * b[j];
    }
  }
}

/* ---- bases --------------------------------------------------------------------------------- */

/* Householder QR of the d x n matrix A (row-major, d >= n); writes the full orthogonal factor
 * with the signs of R's diagonal made positive: Qfull[j*d + m] = component j of column m. */
static valley_status_t qr_full(size_t d, size_t n, const double *A, double *Qfull,
                               valley_error_t *err) {
  gsl_matrix *M = gsl_matrix_alloc(d, n), *Qm = gsl_matrix_alloc(d, d), *R = gsl_matrix_alloc(d, n);
  gsl_vector *tau = gsl_vector_alloc(n);
  if (M == NULL || Qm == NULL || R == NULL || tau == NULL) {
    if (M) gsl_matrix_free(M);
    if (Qm) gsl_matrix_free(Qm);
    if (R) gsl_matrix_free(R);
    if (tau) gsl_vector_free(tau);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory for a %zu x %zu QR factorisation", d, n);
  }
  for (size_t j = 0; j < d; j++)
    for (size_t m = 0; m < n; m++) gsl_matrix_set(M, j, m, A[j * n + m]);
  gsl_linalg_QR_decomp(M, tau);
  gsl_linalg_QR_unpack(M, tau, Qm, R);
  for (size_t m = 0; m < d; m++) {
    double sg = (m < n && gsl_matrix_get(R, m, m) < 0) ? -1.0 : 1.0;
    for (size_t j = 0; j < d; j++) Qfull[j * d + m] = sg * gsl_matrix_get(Qm, j, m);
  }
  gsl_matrix_free(M);
  gsl_matrix_free(Qm);
  gsl_matrix_free(R);
  gsl_vector_free(tau);
  return VALLEY_OK;
}

valley_status_t valley_rotation_haar(size_t d, uint64_t seed, double *Q, valley_error_t *err) {
  if (seed == 0) {
    for (size_t m = 0; m < d; m++)
      for (size_t j = 0; j < d; j++) Q[m * d + j] = m == j ? 1.0 : 0.0;
    return VALLEY_OK;
  }
  double *G = malloc(d * d * sizeof *G), *F = malloc(d * d * sizeof *F);
  gsl_rng *rng = valley_pcg32_gsl_alloc(seed, 0);
  if (G == NULL || F == NULL || rng == NULL) {
    free(G);
    free(F);
    if (rng) gsl_rng_free(rng);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory for a %zu x %zu rotation", d, d);
  }
  for (size_t i = 0; i < d * d; i++) G[i] = gsl_ran_gaussian_ziggurat(rng, 1.0);
  gsl_rng_free(rng);
  valley_status_t st = qr_full(d, d, G, F, err);
  if (st == VALLEY_OK) /* row m of Q = column m of the orthogonal factor */
    for (size_t m = 0; m < d; m++)
      for (size_t j = 0; j < d; j++) Q[m * d + j] = F[j * d + m];
  free(G);
  free(F);
  return st;
}

/* Rows 0..k-1 = the given directions (checked orthonormal), rows k..d-1 = a completion. */
static valley_status_t complete_basis(size_t d, size_t k, const double *U, double *Q,
                                      valley_error_t *err) {
  for (size_t i = 0; i < k; i++) {
    for (size_t j = 0; j < d; j++)
      if (!isfinite(U[i * d + j]))
        return VALLEY_ERROR(err, VALLEY_EINVAL, "--directions: u_%zu has a non-finite entry", i + 1);
    for (size_t i2 = 0; i2 <= i; i2++) {
      double g = dot(U + i * d, U + i2 * d, d), want = i == i2 ? 1.0 : 0.0;
      if (!(fabs(g - want) <= ORTHO_TOL)) {
        if (i == i2)
          return VALLEY_ERROR(err, VALLEY_EINVAL,
                              "--directions: u_%zu is not a unit vector (|u|^2 = %.17g, "
                              "tolerance %g)", i + 1, g, ORTHO_TOL);
        return VALLEY_ERROR(err, VALLEY_EINVAL,
                            "--directions: u_%zu and u_%zu are not orthogonal (<u_%zu,u_%zu> = "
                            "%.3g, tolerance %g)", i2 + 1, i + 1, i2 + 1, i + 1, g, ORTHO_TOL);
      }
    }
  }
  double *A = malloc(d * k * sizeof *A), *F = malloc(d * d * sizeof *F);
  if (A == NULL || F == NULL) {
    free(A);
    free(F);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory completing the directions");
  }
  for (size_t j = 0; j < d; j++)
    for (size_t i = 0; i < k; i++) A[j * k + i] = U[i * d + j];
  valley_status_t st = qr_full(d, k, A, F, err);
  if (st == VALLEY_OK) {
    memcpy(Q, U, k * d * sizeof *Q);
    for (size_t m = k; m < d; m++)
      for (size_t j = 0; j < d; j++) Q[m * d + j] = F[j * d + m];
  }
  free(A);
  free(F);
  return st;
}

/* ---- build --------------------------------------------------------------------------------- */

void valley_land_free(valley_land_t *L) {
  free(L->p);
  free(L->c);
  free(L->l);
  free(L->dbar);
  free(L->Q);
  free(L->a);
  free(L->xl);
  free(L->xl_proj);
  free(L->P);
  memset(L, 0, sizeof *L);
}

static valley_status_t check_spec(const valley_land_spec_t *s, valley_error_t *err) {
  if (s->d < 1 || s->d > VALLEY_LAND_MAX_D)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "--d must be in [1, %d] (got %zu)", VALLEY_LAND_MAX_D,
                        s->d);
  if (s->k < 1) return VALLEY_ERROR(err, VALLEY_EINVAL, "--k must be >= 1 (got %zu)", s->k);
  if (s->k > s->d)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "--k: k = %zu is larger than --d = %zu", s->k, s->d);
  if (!(s->r > 0) || !isfinite(s->r))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "--r must be a finite number > 0 (got %g)", s->r);
  if (!(s->rbar > s->r) || !isfinite(s->rbar))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "--rbar must be finite and > --r = %g (got %g)", s->r,
                        s->rbar);
  for (size_t i = 0; i < s->k; i++) {
    if (!(s->p[i] > 0) || !isfinite(s->p[i]))
      return VALLEY_ERROR(err, VALLEY_EINVAL, "--p: p_%zu = %g must be a finite slope > 0", i + 1,
                          s->p[i]);
    if (!(s->c[i] > 1) || !isfinite(s->c[i]))
      return VALLEY_ERROR(err, VALLEY_EINVAL, "--c: c_%zu = %g must be > 1 (Definition 1)", i + 1,
                          s->c[i]);
    if (!isfinite(s->l[i]))
      return VALLEY_ERROR(err, VALLEY_EINVAL, "--l: l_%zu is not a finite number", i + 1);
  }
  for (size_t m = 0; m < s->d; m++)
    if (!(s->dbar[m] >= s->r && s->dbar[m] <= s->rbar))
      return VALLEY_ERROR(err, VALLEY_EINVAL,
                          "--dbar: dbar_%zu = %g is outside [r, rbar] = [%g, %g] (Assumption 1)",
                          m + 1, s->dbar[m], s->r, s->rbar);
  if (!(s->gamma >= 0) || !isfinite(s->gamma))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "--coupling must be a finite number >= 0 (got %g)",
                        s->gamma);
  if (!(s->xi >= 0) || !isfinite(s->xi))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "--xi must be a finite number >= 0 (got %g)", s->xi);
  if (s->q == VALLEY_Q_SIN && (!(s->omega > 0) || !isfinite(s->omega)))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "--q-freq must be a finite number > 0 (got %g)",
                        s->omega);
  if (s->frame == VALLEY_FRAME_AXES && s->d > 64)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "--shift-frame axes needs --d <= 64 (got %zu)", s->d);
  /* The loss reaches c_i p_i (|l_i| + rbar) along u_i; the gain and the bound sum and square such
   * values over 2^k patterns.  Beyond 1e100 they overflow a double: refused, not computed. */
  for (size_t i = 0; i < s->k; i++) {
    double top = s->c[i] * s->p[i] * (fabs(s->l[i]) + s->rbar + 1.0);
    if (!(top <= 1e100))
      return VALLEY_ERROR(err, VALLEY_EINVAL, "--p, --c, --l, --rbar: the loss along u_%zu reaches "
                          "c p (|l| + rbar) = %g > 1e100, where the gain's sums would overflow",
                          i + 1, top);
  }
  if (!(s->xi <= 1e100) || !(s->gamma <= 1e100))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "--xi and --coupling must be at most 1e100 (got %g, %g)",
                        s->xi, s->gamma);
  return VALLEY_OK;
}

valley_status_t valley_land_build(const valley_land_spec_t *s, valley_land_t *L,
                                  valley_error_t *err) {
  memset(L, 0, sizeof *L);
  valley_status_t st = check_spec(s, err);
  if (st != VALLEY_OK) return st;
  size_t d = s->d, k = s->k;
  L->d = d;
  L->k = k;
  L->profile = s->profile;
  L->gamma = s->profile == VALLEY_PROFILE_COUPLED ? s->gamma : 0.0;
  L->r = s->r;
  L->rbar = s->rbar;
  L->frame = s->frame;
  L->q = s->q;
  L->xi = s->xi;
  L->omega = s->omega;
  L->p = malloc(k * sizeof *L->p);
  L->c = malloc(k * sizeof *L->c);
  L->l = malloc(k * sizeof *L->l);
  L->xl_proj = malloc(k * sizeof *L->xl_proj);
  L->dbar = malloc(d * sizeof *L->dbar);
  L->a = malloc(d * sizeof *L->a);
  L->xl = malloc(d * sizeof *L->xl);
  L->Q = malloc(d * d * sizeof *L->Q);
  L->P = malloc(d * k * sizeof *L->P);
  if (!L->p || !L->c || !L->l || !L->xl_proj || !L->dbar || !L->a || !L->xl || !L->Q || !L->P) {
    valley_land_free(L);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory for a landscape with d = %zu", d);
  }
  memcpy(L->p, s->p, k * sizeof *L->p);
  memcpy(L->c, s->c, k * sizeof *L->c);
  memcpy(L->l, s->l, k * sizeof *L->l);
  memcpy(L->dbar, s->dbar, d * sizeof *L->dbar);

  if (s->basis != NULL) {
    st = complete_basis(d, d, s->basis, L->Q, err); /* checks that all d rows are orthonormal */
  } else if (s->directions != NULL) {
    st = complete_basis(d, k, s->directions, L->Q, err);
  } else {
    st = valley_rotation_haar(d, s->rotation_seed, L->Q, err);
  }
  if (st != VALLEY_OK) {
    valley_land_free(L);
    return st;
  }

  /* q = sin: the unit vector a */
  if (s->a != NULL) {
    memcpy(L->a, s->a, d * sizeof *L->a);
  } else {
    gsl_rng *rng = valley_pcg32_gsl_alloc(s->rotation_seed, 1);
    if (rng == NULL) {
      valley_land_free(L);
      return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory");
    }
    double n2 = 0;
    for (size_t j = 0; j < d; j++) {
      L->a[j] = gsl_ran_gaussian_ziggurat(rng, 1.0);
      n2 += L->a[j] * L->a[j];
    }
    gsl_rng_free(rng);
    for (size_t j = 0; j < d; j++) L->a[j] /= sqrt(n2);
  }

  /* x_l, its projections, the shift projections P, the norms */
  memset(L->xl, 0, d * sizeof *L->xl);
  double nl = 0, nd = 0;
  for (size_t i = 0; i < k; i++) {
    for (size_t j = 0; j < d; j++) L->xl[j] += L->l[i] * L->Q[i * d + j];
    nl += L->l[i] * L->l[i];
  }
  for (size_t i = 0; i < k; i++) L->xl_proj[i] = dot(L->xl, L->Q + i * d, d);
  for (size_t m = 0; m < d; m++) {
    nd += L->dbar[m] * L->dbar[m];
    for (size_t i = 0; i < k; i++)
      L->P[m * k + i] = L->frame == VALLEY_FRAME_AXES ? L->Q[i * d + m]
                                                      : dot(L->Q + m * d, L->Q + i * d, d);
  }
  L->norm_l = sqrt(nl);
  L->norm_dbar = sqrt(nd);
  /* D^2 = |dbar|^2 - 2 max_s <delta(s), x_l> + |x_l|^2, max_s <delta(s), x_l> = sum_m dbar_m
   * |<b_m, x_l>| */
  double cross = 0, nxl = dot(L->xl, L->xl, d);
  for (size_t m = 0; m < d; m++) {
    double bx = L->frame == VALLEY_FRAME_AXES ? L->xl[m] : dot(L->Q + m * d, L->xl, d);
    cross += L->dbar[m] * fabs(bx);
  }
  double d2 = nd - 2 * cross + nxl;
  L->dmin = d2 > 0 ? sqrt(d2) : 0.0;
  L->rho = L->norm_l < L->dmin ? L->norm_l : L->dmin;
  if (L->q == VALLEY_Q_BUMP && !(L->rho > 0)) {
    valley_land_free(L);
    return VALLEY_ERROR(err, VALLEY_EINVAL,
                        "--q bump needs ||l|| > 0 and the biased point x_l away from every shift "
                        "delta(s) (min_s |delta(s) - x_l| = %g)", d2 > 0 ? sqrt(d2) : 0.0);
  }
  return VALLEY_OK;
}
