/* Theorem 1 checked: the gain against the bound, each condition of the statement and of the
 * proof with holds/fails, a sweep over l, and a counterexample search.  docs/theorem1.md. */
#ifndef VALLEY_THM1_CHECK_H
#define VALLEY_THM1_CHECK_H

#include <stdint.h>

#include "valley/thm1.h"
#include "valley/verdict.h"

typedef enum {
  VALLEY_THM1_AUTO = 0,       /* enumerate when d <= VALLEY_THM1_AUTO_MAX_D, else Monte Carlo */
  VALLEY_THM1_ENUMERATE = 1,
  VALLEY_THM1_MONTE_CARLO = 2
} valley_thm1_method_t;

#define VALLEY_THM1_AUTO_MAX_D 24

valley_status_t valley_thm1_method_parse(const char *name, valley_thm1_method_t *out);
const char *valley_thm1_method_name(valley_thm1_method_t m);

typedef struct {
  valley_thm1_method_t method;
  uint64_t samples, seed; /* Monte Carlo */
  int threads;            /* 0: all */
  uint64_t a2_samples;    /* Assumption 2: sampled offsets per direction (0: construction only) */
  uint64_t gap_patterns;  /* Definition 3: patterns whose gap is also maximised numerically
                             (0: none; only for d <= 64) */
  valley_progress_fn progress;
  void *progress_arg;
} valley_thm1_options_t;

void valley_thm1_options_default(valley_thm1_options_t *o);

/* Indices into valley_thm1_report_t.cond. */
enum {
  VALLEY_THM1_C_ASSUMPTION1 = 0, /* statement: Assumption 1 at R = ||l||, with xi_A */
  VALLEY_THM1_C_ASSUMPTION2,     /* statement: Assumption 2, c'_i > 1 (and the sampled check) */
  VALLEY_THM1_C_L_LOWER,         /* statement: l_i > 4 xi / ((c_i - 1) p_i) */
  VALLEY_THM1_C_L_UPPER,         /* statement: l_i <= max{rbar - dbar_i, dbar_i - r} */
  VALLEY_THM1_C_P_L_UPPER,       /* proof: l_i <= min{rbar - dbar_i, dbar_i - r} */
  VALLEY_THM1_C_P_RADIUS,        /* proof: the gap at R' = ||l|| + ||dbar|| is no larger */
  VALLEY_THM1_C_P_FRAME,         /* proof: <delta(s), u_i> = +-dbar_i */
  VALLEY_THM1_NCOND
};

typedef struct {
  const char *name;   /* "l_upper_statement" */
  const char *source; /* "statement" or "proof" */
  const char *text;   /* the condition as a formula */
  int holds;
  char detail[320];
} valley_thm1_cond_t;

typedef struct {
  valley_thm1_method_t method; /* as run (never AUTO) */
  valley_thm1_gain_t g;
  double q_part, gain;
  double gain_ci[2];           /* 99.9% interval (Monte Carlo); NaN when exact */
  double R, Rp;                /* ||l||, ||l|| + ||dbar|| */
  valley_thm1_xi_t xi_A, xi_A_proof;
  double bound, bound_proof;   /* with xi_A, and with xi_A_proof */
  double ratio, ratio_proof;   /* gain / bound */
  int statement_applies, proof_applies;
  valley_verdict_t verdict, verdict_proof;
  valley_thm1_cond_t cond[VALLEY_THM1_NCOND];
  double *pp, *cc;             /* k: Assumption 2's p'_i, c'_i (owned) */
  double *p_hat, *c_hat;       /* k: sampled worst p, c (owned; NaN when not sampled) */
  uint64_t gap_checked;        /* patterns checked numerically */
  double gap_numeric_max;      /* the largest numerical gap found at R (a lower estimate) */
} valley_thm1_report_t;

/* Runs the check.  The report owns arrays: free with valley_thm1_report_free. */
valley_status_t valley_thm1_check(const valley_land_t *L, const valley_thm1_options_t *o,
                                  valley_thm1_report_t *r, valley_error_t *err);
/* The method valley_thm1_check runs for `m` in dimension d (AUTO resolved). */
valley_thm1_method_t valley_thm1_method_for(valley_thm1_method_t m, size_t d);
/* valley_thm1_check with the gain computed elsewhere (valley_thm1_enumerate or
 * valley_thm1_monte_carlo with the check's radii ||l||, ||l|| + ||dbar|| and options, or their
 * block pieces): everything else, the same report bit for bit. */
valley_status_t valley_thm1_check_gain(const valley_land_t *L, const valley_thm1_options_t *o,
                                       const valley_thm1_gain_t *gain, valley_thm1_report_t *r,
                                       valley_error_t *err);
void valley_thm1_report_free(valley_thm1_report_t *r);

/* ---- sweep over l -------------------------------------------------------------------------- */

typedef struct {
  double t;           /* l_i = t max{rbar - dbar_i, dbar_i - r} */
  double l1;          /* l_1 */
  double gain, bound, bound_proof, ratio;
  int statement_applies, proof_applies;
  valley_verdict_t verdict;
} valley_thm1_sweep_row_t;

/* `points` values t = j / points, j = 1..points, each checked by enumeration (the spec's l is
 * ignored).  rows: `points` entries. */
valley_status_t valley_thm1_sweep(const valley_land_spec_t *spec, const valley_thm1_options_t *o,
                                  int points, valley_thm1_sweep_row_t *rows, valley_error_t *err);
/* Rows first .. first + count - 1 of that sweep (t = j / points, j = first + 1 .. first + count)
 * into rows[0 .. count-1]: the same rows, bit for bit, as the whole sweep's. */
valley_status_t valley_thm1_sweep_range(const valley_land_spec_t *spec,
                                        const valley_thm1_options_t *o, int points, int first,
                                        int count, valley_thm1_sweep_row_t *rows,
                                        valley_error_t *err);

/* ---- counterexample search ----------------------------------------------------------------- */

#define VALLEY_THM1_SEARCH_MAX_D 10

typedef enum {
  VALLEY_THM1_SPACE_STATEMENT = 0, /* the ranges Theorem 1's statement allows */
  VALLEY_THM1_SPACE_PROOF = 1      /* the ranges Appendix B's proof uses */
} valley_thm1_space_t;

valley_status_t valley_thm1_space_parse(const char *name, valley_thm1_space_t *out);
const char *valley_thm1_space_name(valley_thm1_space_t s);

typedef struct {
  uint64_t n, seed;
  valley_thm1_space_t space;
  size_t kmax, dmax; /* 1 <= kmax <= dmax <= VALLEY_THM1_SEARCH_MAX_D */
  int threads;
  valley_progress_fn progress;
  void *progress_arg;
} valley_thm1_search_opts_t;

/* One sampled instance, enough to rebuild it (and to print a command). */
typedef struct {
  size_t d, k;
  valley_profile_t profile;
  valley_qkind_t q;
  valley_frame_t frame;
  double gamma, r, rbar, xi, omega;
  double p[VALLEY_THM1_SEARCH_MAX_D], c[VALLEY_THM1_SEARCH_MAX_D], l[VALLEY_THM1_SEARCH_MAX_D];
  double dbar[VALLEY_THM1_SEARCH_MAX_D];
  uint64_t rotation_seed;
} valley_thm1_instance_t;

void valley_thm1_instance_spec(const valley_thm1_instance_t *in, valley_land_spec_t *spec);

/* The instance with the smallest gain/bound in some class. */
typedef struct {
  int has;
  double ratio, gain, bound;
  uint64_t index;
  valley_thm1_instance_t inst;
  char command[2048];
} valley_thm1_worst_t;

/* Violation classes by the one proof condition an instance breaks. */
enum { VALLEY_THM1_ONLY_L_UPPER = 0, VALLEY_THM1_ONLY_RADIUS = 1, VALLEY_THM1_ONLY_FRAME = 2 };

typedef struct {
  uint64_t evaluated, violations;
  uint64_t skipped;            /* draws that could not be built */
  /* violations whose instance breaks each proof condition, and those that break none */
  uint64_t viol_l_upper_proof, viol_radius, viol_frame, viol_none;
  uint64_t by_profile[3], by_q[3], by_frame[2]; /* instances evaluated */
  uint64_t viol_by_profile[3], viol_by_q[3], viol_by_frame[2];
  double min_ratio_nonviolating; /* the closest approach among instances that hold */
  double range_c[2], range_p[2], range_r[2], range_rbar_over_r[2], range_l_frac[2];
  valley_thm1_worst_t worst;     /* over every instance */
  valley_thm1_worst_t worst_only[3]; /* over violations breaking exactly one proof condition */
} valley_thm1_search_t;

valley_status_t valley_thm1_search(const valley_thm1_search_opts_t *o, valley_thm1_search_t *res,
                                   valley_error_t *err);

/* The search in pieces, for splitting it across processes (cli/mpi.c): begin checks the
 * options and zeroes res; rows evaluates instances [first, first + count) into rows[0 .. count-1]
 * (OpenMP, o->threads; each instance draws from PCG32 (seed, stream index), so a row does not
 * depend on who computes it); add folds rows into res, and must see every instance once, in index
 * order, in slices of at most valley_thm1_search_slice(o) rows; end writes the worst instances'
 * commands.  begin, then rows + add over 0 .. n-1, then end, is valley_thm1_search bit for bit. */
typedef struct {
  double ratio, gain, bound;
  double range[8]; /* c min/max, p min/max, r, rbar/r, l/max{..} min/max */
  unsigned char built, violates, why; /* why: bit 0 l_upper_proof, 1 radius, 2 frame */
  unsigned char profile, q, frame;
} valley_thm1_search_row_t;
valley_status_t valley_thm1_search_begin(const valley_thm1_search_opts_t *o,
                                         valley_thm1_search_t *res, valley_error_t *err);
uint64_t valley_thm1_search_slice(const valley_thm1_search_opts_t *o);
valley_status_t valley_thm1_search_rows(const valley_thm1_search_opts_t *o, uint64_t first,
                                        uint64_t count, valley_thm1_search_row_t *rows,
                                        valley_error_t *err);
void valley_thm1_search_add(const valley_thm1_search_opts_t *o, valley_thm1_search_t *res,
                            const valley_thm1_search_row_t *rows, uint64_t first,
                            uint64_t count);
void valley_thm1_search_end(valley_thm1_search_t *res);

/* "valley theorem1 --d 2 ... --method enumerate" for an instance (%.17g numbers). */
void valley_thm1_instance_command(const valley_thm1_instance_t *in, char *buf, size_t size);

#endif
