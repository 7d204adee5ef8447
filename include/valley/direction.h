/* Directions in the parameter space of an MLP and the probe kernel that samples the train and
 * test loss along theta + l u for a grid of l and many directions at once.
 *
 * Families: Gaussian; filter-normalized (Li et al. 2018, "Visualizing the loss landscape of
 * neural nets"); whole-vector normalized (the asymmetric-valley talk, 2024); uniform on [0, 1]
 * per coordinate (He, Huang, Yuan 2019, Sec. 3.2); sign-consistent (the talk); restricted to the
 * BN parameters or to the others (the paper's BN experiment); the line between two solutions.
 * docs/directions.md gives every definition, the draw order and the probe's formulation. */
#ifndef VALLEY_DIRECTION_H
#define VALLEY_DIRECTION_H

#include <stddef.h>
#include <stdint.h>

#include "valley/error.h"
#include "valley/idx.h"
#include "valley/net.h"
#include "valley/profile.h"

/* Direction `index` of seed `seed` draws from PCG32(seed, VALLEY_DIRECTION_STREAM + index);
 * the high word spells "dirn", so no index meets the network's init or shuffle streams. */
#define VALLEY_DIRECTION_STREAM UINT64_C(0x6469726e00000000)

typedef enum {
  VALLEY_DIR_GAUSSIAN = 0, /* N(0, 1) per coordinate (Box-Muller cosine, two outputs) */
  VALLEY_DIR_UNIFORM01 = 1 /* U[0, 1) per coordinate: (output >> 8) 2^-24, one output */
} valley_dir_dist_t;

typedef enum {
  VALLEY_DIR_SUPPORT_ALL = 0, /* every parameter */
  VALLEY_DIR_SUPPORT_BN = 1,  /* BN scales and shifts only, zero elsewhere */
  VALLEY_DIR_SUPPORT_NON_BN = 2 /* weights and biases only, zero on BN parameters */
} valley_dir_support_t;

typedef enum {
  VALLEY_DIR_NORM_NONE = 0,   /* the raw draw */
  VALLEY_DIR_NORM_FILTER = 1, /* each weight row and each 1-D segment to the norm of theta's */
  VALLEY_DIR_NORM_UNIT = 2,   /* ||u|| = 1 */
  VALLEY_DIR_NORM_THETA = 3   /* ||u|| = ||theta restricted to the support|| (the talk's) */
} valley_dir_norm_t;

typedef struct {
  valley_dir_dist_t dist;
  int sign_consistent;          /* u <- |u| sign(theta) (sign(0) = 0) before normalization */
  valley_dir_support_t support;
  valley_dir_norm_t norm;
} valley_dir_config_t;

/* The named families (docs/directions.md): each is one configuration. */
typedef enum {
  VALLEY_DIR_FAMILY_GAUSSIAN = 0, /* "gaussian": Gaussian, all, no normalization */
  VALLEY_DIR_FAMILY_FILTER = 1,   /* "filter":   Gaussian, all, filter-normalized */
  VALLEY_DIR_FAMILY_WHOLE = 2,    /* "whole":    Gaussian, all, ||u|| = ||theta|| */
  VALLEY_DIR_FAMILY_UNIFORM = 3,  /* "uniform":  U[0,1), all, ||u|| = ||theta|| */
  VALLEY_DIR_FAMILY_SIGN = 4,     /* "sign":     Gaussian, sign-consistent, ||u|| = ||theta|| */
  VALLEY_DIR_FAMILY_BN = 5,       /* "bn":       Gaussian, BN only, ||u|| = ||theta_BN|| */
  VALLEY_DIR_FAMILY_NON_BN = 6    /* "non-bn":   Gaussian, non-BN, ||u|| = ||theta_non-BN|| */
} valley_dir_family_t;

valley_status_t valley_dir_family_parse(const char *s, valley_dir_family_t *out);
const char *valley_dir_family_name(valley_dir_family_t f);

/* The configuration of a family; EINVAL for an unknown one. */
valley_status_t valley_dir_config_family(valley_dir_family_t family, valley_dir_config_t *cfg,
                                         valley_error_t *err);

/* u (net->n_params floats): direction `index` of `seed` for the network at theta.  Every
 * coordinate draws from the stream in parameter order whatever the support, so the BN-only and
 * non-BN directions of one (seed, index) add up to the unrestricted one before normalization.
 * A part whose draw is zero (or whose theta is zero, for the theta-scaled norms) stays zero.
 * EINVAL for a bad configuration. */
valley_status_t valley_direction(const valley_mlp_t *net, const float *theta,
                                 const valley_dir_config_t *cfg, uint64_t seed, uint64_t index,
                                 float *u, valley_error_t *err);

/* The line between two solutions: u = theta_b - theta_a (n floats), so l = 0 is theta_a and
 * l = 1 is theta_b. */
void valley_direction_line(size_t n, const float *theta_a, const float *theta_b, float *u);

/* ---- probe -----------------------------------------------------------------------------------
 * For every direction u_d and every grid value l_g: mean cross-entropy and accuracy on the train
 * and test sets at theta + l_g u_d, in EVAL mode (BN normalizes by the network's running
 * statistics, held fixed along the line).  Each perturbed parameter is formed in float as
 * theta[k] + (float)l u[k].  Results do not depend on the OpenMP thread count. */
typedef struct {
  size_t batch;    /* data rows per pass, >= 1; default 512 */
  int split_first; /* 1 (default): first layer as X W^T + l X U^T: per batch one GEMM X W^T
                      and one X [U_1; ...; U_8]^T for up to 8 directions, then an axpy per
                      grid point; 0: X (W + l U)^T per point (as valley_mlp_batch) */
} valley_probe_config_t;

void valley_probe_config_default(valley_probe_config_t *cfg);

/* Directions that share one stacked first-layer GEMM, in order from the first one given: runs of
 * valley_probe on consecutive ranges that start at multiples of VALLEY_PROBE_CHUNK give, direction
 * for direction, the profiles of one run on all of them bit for bit (cli/mpi.c splits the
 * directions across MPI ranks so). */
#define VALLEY_PROBE_CHUNK 8

/* dirs[0..n_dirs-1]: net->n_params floats each; grid: n_grid finite values, strictly
 * increasing.  out[0..n_dirs-1] are filled (l, train, test, train_acc, test_acc), to be freed
 * with valley_prof_free; on error every out[d] is empty.  The net is only read (its
 * configuration and running statistics).  EINVAL / ENOMEM. */
valley_status_t valley_probe(const valley_mlp_t *net, const float *theta, size_t n_dirs,
                             const float *const *dirs, size_t n_grid, const double *grid,
                             const valley_dataset_t *train, const valley_dataset_t *test,
                             const valley_probe_config_t *cfg, valley_prof_t *out,
                             valley_error_t *err);

#endif
