/* Landscapes in R^d for Theorem 1 of He, Huang, Yuan (2019): separable asymmetric valleys
 * along k orthonormal directions (optionally coupled), a random sign shift delta, and a
 * population loss L_s(w) = Lhat(w - delta(s)) + xi q(w).  The model is written out in
 * docs/theorem1.md; the empirical minimiser is the origin. */
#ifndef VALLEY_LANDSCAPE_H
#define VALLEY_LANDSCAPE_H

#include <stddef.h>
#include <stdint.h>

#include "valley/error.h"

/* The largest dimension valley builds landscapes for (dense d x d basis). */
#define VALLEY_LAND_MAX_D 4096

typedef enum {
  VALLEY_PROFILE_LINEAR = 0,  /* h(t) = p t (t >= 0), -c p t (t < 0): the tight case */
  VALLEY_PROFILE_SMOOTH = 1,  /* C^1 quadratic core on (-r, r), the same slopes outside */
  VALLEY_PROFILE_COUPLED = 2  /* smooth + gamma B(z), B = sum_{i<j} sin^2 z_i sin^2 z_j/(k-1) */
} valley_profile_t;

typedef enum {
  VALLEY_Q_ZERO = 0, /* q = 0 */
  VALLEY_Q_SIN = 1,  /* q(w) = sin(omega <a, w>) */
  VALLEY_Q_BUMP = 2  /* q(w) = phi(|w - x_l| / rho): raises the loss at the biased point */
} valley_qkind_t;

typedef enum {
  VALLEY_FRAME_U = 0,   /* delta(s) = sum_m s_m dbar_m q_m (the basis that holds the u_i) */
  VALLEY_FRAME_AXES = 1 /* delta(s) = sum_m s_m dbar_m e_m (the standard basis) */
} valley_frame_t;

/* What a landscape is built from.  Arrays belong to the caller and are copied. */
typedef struct {
  size_t d, k;                /* 1 <= k <= d <= VALLEY_LAND_MAX_D */
  valley_profile_t profile;
  double gamma;               /* coupling strength (profile coupled), >= 0 */
  double r, rbar;             /* 0 < r < rbar */
  const double *p, *c, *l;    /* k values each: slopes p > 0, ratios c > 1, the bias l */
  const double *dbar;         /* d values, r <= dbar_m <= rbar */
  valley_frame_t frame;
  valley_qkind_t q;
  double xi, omega;           /* q's amplitude (>= 0) and frequency (sin, > 0) */
  /* The basis: either basis (d*d, row m = q_m, orthonormal), or directions (k*d, rows u_i,
   * orthonormal, completed by a QR factorisation), or neither: a Haar rotation from PCG32 seed
   * rotation_seed, stream 0 (rotation_seed 0: the identity). */
  const double *basis, *directions;
  uint64_t rotation_seed;
  const double *a;            /* q = sin: the unit vector a (d values); NULL: drawn from PCG32
                                 seed rotation_seed, stream 1 */
} valley_land_spec_t;

typedef struct {
  size_t d, k;
  valley_profile_t profile;
  double gamma, r, rbar;
  double *p, *c, *l;        /* k */
  double *dbar;             /* d */
  double *Q;                /* d*d, row m is q_m; rows 0..k-1 are u_1..u_k */
  valley_frame_t frame;
  valley_qkind_t q;
  double xi, omega;
  double *a;                /* d (sin) */
  double *xl;               /* d: x_l = sum_i l_i u_i */
  double *xl_proj;          /* k: <x_l, u_i> */
  double *P;                /* d*k: P[m*k + i] = <b_m, u_i>, b_m the shift basis vector */
  double rho;               /* bump radius (q = bump) */
  double dmin;              /* D = min_s |delta(s) - x_l| (closed form) */
  double norm_l, norm_dbar; /* ||l||_2, ||dbar||_2 */
} valley_land_t;

/* Names <-> enums; parse returns EINVAL for an unknown name. */
valley_status_t valley_profile_parse(const char *name, valley_profile_t *out);
const char *valley_profile_name(valley_profile_t v);
valley_status_t valley_qkind_parse(const char *name, valley_qkind_t *out);
const char *valley_qkind_name(valley_qkind_t v);
valley_status_t valley_frame_parse(const char *name, valley_frame_t *out);
const char *valley_frame_name(valley_frame_t v);

/* Checks the spec (messages name the CLI flag: "--c: c_2 = 0.5 must be > 1") and builds the
 * landscape.  EINVAL for bad input, ENOMEM.  On failure nothing needs freeing. */
valley_status_t valley_land_build(const valley_land_spec_t *spec, valley_land_t *land,
                                  valley_error_t *err);
void valley_land_free(valley_land_t *land);

/* A Haar-distributed orthogonal d x d matrix (rows) from PCG32 seed, stream 0; seed 0 gives
 * the identity.  ENOMEM only. */
valley_status_t valley_rotation_haar(size_t d, uint64_t seed, double *Q, valley_error_t *err);

/* Profile h_i and its derivative at t. */
double valley_land_h(const valley_land_t *L, size_t i, double t);
double valley_land_dh(const valley_land_t *L, size_t i, double t);

/* Lhat from the projections z (k values), and its partial derivatives dz (k values). */
double valley_land_hat_z(const valley_land_t *L, const double *z);
void valley_land_grad_z(const valley_land_t *L, const double *z, double *dz);

/* Lhat(x) (z: k scratch) and the directional derivative <grad Lhat(x), e> (z: 2k scratch) for
 * x, e in R^d. */
double valley_land_hat(const valley_land_t *L, const double *x, double *z);
double valley_land_dir_deriv(const valley_land_t *L, const double *x, const double *e, double *z);

/* q(w), without the amplitude xi. */
double valley_land_q(const valley_land_t *L, const double *w);

/* delta(s) for the sign pattern given by bits (bit m set: s_m = +1), d <= 64. */
void valley_land_shift(const valley_land_t *L, uint64_t bits, double *delta);

#endif
