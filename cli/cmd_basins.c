/* valley basins and valley steady-state: the SGD steady state of the shift-curvature paper on
 * 1-D landscapes (theorems/steady.c), its basins, weights, expected losses and their
 * approximations (eqs. (4)-(8)). */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "mpi.h"
#include "valley/basin1d.h"
#include "valley/fv.h"
#include "valley/langevin.h"
#include "valley/outfile.h"
#include "valley/steady.h"

typedef struct {
  const char *cmd;
  const char *preset, *spec, *minima, *weights, *sigmas, *noise, *test_shift;
  double c, lscale, wscale, shift, lo, hi;
  int gh_nodes;
  size_t grid;
  double epsrel;
  int quadrature;
  double T;
  const char *sweep, *csv, *out, *param_grid;
  size_t points, fv, particles, bins;
  int threads, json, sde;
  double dt, time;
  uint64_t seed;
  const char *sgd_lr, *sgd_noise, *start, *device, *checkpoint;
  valley_device_t dev;
  int gpu;
  const cli_opt_t *opts; /* the command's option table (--checkpoint's fingerprint) */
  size_t nopts;
} args_t;

/* Landscape flags, shared by both commands. */
#define LAND_OPTIONS(X, a)                                                                        \
  X("--preset", OPT_STRING, &a.preset, "NAME", "fig4-left | fig4-right | fig6-one | fig6-three | their -loss1/-loss5/-grad1/-exp1 variants | valley") \
  X("--spec", OPT_STRING, &a.spec, "FILE", "landscape spec file (docs/steady_state.md), instead of --preset") \
  X("--minima", OPT_STRING, &a.minima, "LIST", "override: mixture centres, comma-separated") \
  X("--weights", OPT_STRING, &a.weights, "LIST", "override: mixture weights (> 0), one per minimum") \
  X("--sigmas", OPT_STRING, &a.sigmas, "LIST", "override: mixture widths (> 0), one per minimum") \
  X("--c", OPT_DOUBLE, &a.c, "X", "override: the constant c inside the log (> 0)")                \
  X("--lscale", OPT_DOUBLE, &a.lscale, "X", "override: loss scale (> 0)")                         \
  X("--wscale", OPT_DOUBLE, &a.wscale, "X", "override: noise scale (>= 0; 0 = constant D)")       \
  X("--noise", OPT_STRING, &a.noise, "NAME", "override: loss (D = 1 + w (U - min U)) | grad (D = 1 + w U'^2) | exp (D = e^(w theta))") \
  X("--shift", OPT_DOUBLE, &a.shift, "S", "override: stddev_shift s, U_test(theta) = U_tr(theta + s)") \
  X("--test-shift", OPT_STRING, &a.test_shift, "NAME", "override: fixed | average (over s ~ N(0, s^2), Gauss-Hermite)") \
  X("--gh-nodes", OPT_INT, &a.gh_nodes, "N", "override: Gauss-Hermite nodes for --test-shift average (2..64)") \
  X("--lo", OPT_DOUBLE, &a.lo, "X", "override: domain start")                                     \
  X("--hi", OPT_DOUBLE, &a.hi, "X", "override: domain end")                                       \
  X("--grid", OPT_SIZE, &a.grid, "N", "grid intervals for v and the critical-point scan (>= 16)") \
  X("--epsrel", OPT_DOUBLE, &a.epsrel, "X", "relative tolerance of the adaptive quadratures")   \
  X("--quadrature", OPT_FLAG, &a.quadrature, NULL, "integrate U'/D by quadrature even where a closed form exists") \
  X("--threads", OPT_INT, &a.threads, "N", "OpenMP threads (0: all; results do not depend on it)") \
  X("--json", OPT_FLAG, &a.json, NULL, "print the report as JSON")

#define BASINS_OPTIONS(X, a)                                                                      \
  LAND_OPTIONS(X, a)                                                                              \
  X("--T", OPT_DOUBLE, &a.T, "X", "temperature T = learning rate / batch size (> 0)")             \
  X("--sweep", OPT_STRING, &a.sweep, "TMIN:TMAX:N", "N log-spaced temperatures instead of --T")   \
  X("--csv", OPT_STRING, &a.csv, "FILE.csv", "with --sweep: write the sweep as CSV (atomic)")  \
  X("--param-grid", OPT_STRING, &a.param_grid, "SPEC", "sweep a grid, e.g. 'T=0.05,0.1;wscale=0,1' (docs/sweeps.md)") \
  X("--out", OPT_STRING, &a.out, "FILE.jsonl", "with --param-grid: one JSON line per point (resumable)")

#define STEADY_OPTIONS(X, a)                                                                      \
  LAND_OPTIONS(X, a)                                                                              \
  X("--T", OPT_DOUBLE, &a.T, "X", "temperature T = learning rate / batch size (> 0)")             \
  X("--out", OPT_STRING, &a.out, "FILE.csv", "write theta, U_tr, U_test, D, v, rho, log rho on a grid (atomic)") \
  X("--points", OPT_SIZE, &a.points, "N", "grid points in --out (>= 2)")                         \
  X("--fv", OPT_SIZE, &a.fv, "CELLS", "cross-check: finite-volume steady state on CELLS cells, L1 to rho (0: off)") \
  X("--sde", OPT_FLAG, &a.sde, NULL, "cross-check: Euler-Maruyama ensemble of d theta = -U' dt + sqrt(T D) dW, histogram L1 to rho") \
  X("--sgd-lr", OPT_STRING, &a.sgd_lr, "LIST", "cross-check: discrete SGD at these learning rates (comma-separated), L1 to rho") \
  X("--sgd-noise", OPT_STRING, &a.sgd_noise, "NAME", "law of the SGD noise: gaussian | uniform | two-point") \
  X("--particles", OPT_SIZE, &a.particles, "N", "ensemble size for --sde / --sgd-lr")           \
  X("--dt", OPT_DOUBLE, &a.dt, "X", "Euler-Maruyama step (> 0)")                                 \
  X("--time", OPT_DOUBLE, &a.time, "X", "ensemble run time (steps = time / dt or time / lr)")     \
  X("--bins", OPT_SIZE, &a.bins, "N", "histogram bins on the domain (>= 2)")                     \
  X("--start", OPT_STRING, &a.start, "NAME", "ensemble start: rho (exact draws: tests stationarity) | uniform (tests convergence)") \
  X("--seed", OPT_U64, &a.seed, "N", "PCG32 seed; particle i draws from stream i")              \
  X("--device", OPT_STRING, &a.device, "NAME", "cpu | cuda: where --sde / --sgd-lr run (mixture landscapes; docs/cuda.md)") \
  X("--gpu", OPT_INT, &a.gpu, "N", "with --device cuda: the CUDA device's index")               \
  X("--checkpoint", OPT_STRING, &a.checkpoint, "FILE", "--sde / --sgd-lr: save the particles in blocks as they finish; an interrupted run given the same FILE resumes (docs/reliability.md)")

#define OPT_ENTRY(flag, kind, target, meta, help) {flag, kind, target, meta, help, 0},

static const char *const BASINS_SUMMARY =
    "Basins of the SGD steady state rho ∝ exp(-2 v(theta, T) / T) (shift-curvature paper, eqs.\n"
    "(5)-(8), Sec. 3.1, Appendix B and G.2) on a 1-D landscape: the minima of the effective\n"
    "potential v, each basin's weight exactly (integral between the adjacent maxima of v) and by\n"
    "the Laplace formula (6), the O(T) bias of v's minima, E[U_train] and E[U_test] exactly and\n"
    "by eqs. (4), (7), (8), and the shift-curvature term.  --sweep adds the temperature that\n"
    "minimises E[U_test].  See docs/steady_state.md.";

static const char *const STEADY_SUMMARY =
    "The SGD steady state rho(theta) = exp(-2 v(theta, T) / T) / Z, v(theta, T) =\n"
    "int (U' + (T/2) D') / D (shift-curvature paper, eq. (5), Appendix B.1), by adaptive\n"
    "quadrature on a 1-D landscape: Z, the critical points of v, and rho, v, U on a grid\n"
    "(--out).  See docs/steady_state.md.";


static void args_default(args_t *a, const char *cmd) {
  memset(a, 0, sizeof *a);
  a->cmd = cmd;
  a->preset = "fig4-left";
  a->T = 0.1;
  a->grid = 6000;
  a->epsrel = 1e-12;
  a->points = 1201;
  a->particles = 20000;
  a->bins = 120;
  a->dt = 1e-4;
  a->time = 5;
  a->seed = 1;
  a->sgd_noise = "gaussian";
  a->start = "rho";
  a->device = "cpu";
}

/* The landscape from --preset / --spec and the overrides. */
static int build_landscape(args_t *a, cli_opt_t *o, size_t n, valley_basin1d_t *b) {
  valley_error_t err;
  if (cli_given(o, n, "--spec") && cli_given(o, n, "--preset"))
    return cli_usage_error(a->cmd, "give --preset or --spec, not both");
  if (a->spec) {
    if (valley_basin1d_read_spec(a->spec, b, &err) != VALLEY_OK)
      return cli_usage_error(a->cmd, "--spec: %s", err.message);
  } else if (valley_basin1d_preset(a->preset, b, &err) != VALLEY_OK) {
    return cli_usage_error(a->cmd, "--preset: %s", err.message);
  }
  const char *lf[3] = {"--minima", "--weights", "--sigmas"};
  const char *ls[3] = {a->minima, a->weights, a->sigmas};
  double *ld[3] = {b->minima, b->weights, b->sigmas};
  int cnt[3] = {-1, -1, -1};
  for (int i = 0; i < 3; i++) {
    if (ls[i] == NULL) continue;
    double v[VALLEY_BASIN1D_MAXK];
    cnt[i] = cli_parse_numbers(ls[i], v, VALLEY_BASIN1D_MAXK);
    if (cnt[i] < 0)
      return cli_usage_error(a->cmd, "%s: '%s' is not a comma-separated list of numbers", lf[i],
                             ls[i]);
    if (cnt[i] > VALLEY_BASIN1D_MAXK)
      return cli_usage_error(a->cmd, "%s: at most %d values", lf[i], VALLEY_BASIN1D_MAXK);
    memcpy(ld[i], v, (size_t)cnt[i] * sizeof v[0]);
  }
  if (cnt[0] >= 0 || cnt[1] >= 0 || cnt[2] >= 0) {
    if (b->kind != VALLEY_BLAND_MIXTURE)
      return cli_usage_error(a->cmd, "--minima/--weights/--sigmas need a mixture landscape");
    size_t k = cnt[0] >= 0 ? (size_t)cnt[0] : b->n;
    for (int i = 1; i < 3; i++)
      if ((cnt[i] >= 0 ? (size_t)cnt[i] : b->n) != k)
        return cli_usage_error(a->cmd, "%s has %zu values but there are %zu minima", lf[i],
                               cnt[i] >= 0 ? (size_t)cnt[i] : b->n, k);
    b->n = k;
  }
  if (cli_given(o, n, "--c") && !(a->c > 0))
    return cli_usage_error(a->cmd, "--c must be > 0 (got %g)", a->c);
  if (cli_given(o, n, "--lscale") && !(a->lscale > 0))
    return cli_usage_error(a->cmd, "--lscale must be > 0 (got %g)", a->lscale);
  if (cli_given(o, n, "--wscale") && !(a->wscale >= 0))
    return cli_usage_error(a->cmd, "--wscale must be >= 0 (got %g)", a->wscale);
  if (cli_given(o, n, "--c")) b->c = a->c;
  if (cli_given(o, n, "--lscale")) b->lscale = a->lscale;
  if (cli_given(o, n, "--wscale")) b->wscale = a->wscale;
  if (cli_given(o, n, "--shift")) b->shift = a->shift;
  if (cli_given(o, n, "--lo")) b->lo = a->lo;
  if (cli_given(o, n, "--hi")) b->hi = a->hi;
  if (cli_given(o, n, "--gh-nodes")) b->gh_nodes = a->gh_nodes;
  if ((cli_given(o, n, "--lo") || cli_given(o, n, "--hi")) && !(b->lo < b->hi))
    return cli_usage_error(a->cmd, "--lo %g must be below --hi %g", b->lo, b->hi);
  if (a->noise && valley_dnoise_parse(a->noise, &b->noise) != VALLEY_OK)
    return cli_usage_error(a->cmd, "--noise must be loss, grad or exp (got '%s')", a->noise);
  if (a->test_shift && valley_tshift_parse(a->test_shift, &b->test_shift) != VALLEY_OK)
    return cli_usage_error(a->cmd, "--test-shift must be fixed or average (got '%s')",
                           a->test_shift);
  if (valley_basin1d_init(b, &err) != VALLEY_OK) return cli_usage_error(a->cmd, "%s", err.message);
  if (a->grid < 16 || a->grid > 100000000)
    return cli_usage_error(a->cmd, "--grid must be in [16, 1e8] (got %zu)", a->grid);
  if (!(a->epsrel >= 1e-15 && a->epsrel <= 1e-3))
    return cli_usage_error(a->cmd, "--epsrel must be in [1e-15, 1e-3] (got %g)", a->epsrel);
  if (a->threads < 0) return cli_usage_error(a->cmd, "--threads must be >= 0 (got %d)", a->threads);
  return 0;
}

/* Both commands' start: flags, --help, the landscape, --T.  -1 to go on, else the exit status. */
static int start(args_t *a, const char *summary, int argc, char **argv, cli_opt_t *opts,
                 size_t nopts, valley_basin1d_t *b) {
  int rc = cli_parse_or_help(a->cmd, summary, argc, argv, opts, nopts);
  if (rc >= 0) return rc;
  if (build_landscape(a, opts, nopts, b)) return CLI_EXIT_USAGE;
  if (!(a->T > 0) || !isfinite(a->T))
    return cli_usage_error(a->cmd, "--T must be > 0 (got %g)", a->T);
  return -1;
}

static int prepare(args_t *a, const valley_basin1d_t *b, valley_fp1d_t *p,
                   valley_steady_ctx_t *ctx) {
  valley_basin1d_problem(b, p);
  valley_steady_config_t cfg = {a->grid, a->epsrel};
  valley_error_t err;
  valley_status_t st =
      valley_steady_prepare(ctx, p, valley_basin1d_utest3, b, &cfg, !a->quadrature, &err);
  if (st != VALLEY_OK) {
    cli_print_error(a->cmd, &err);
    return st == VALLEY_EINVAL || st == VALLEY_EDOM ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
  }
  return 0;
}

static void json_landscape(valley_json_t *j, const valley_basin1d_t *b, const args_t *a,
                           const valley_steady_ctx_t *ctx) {
  valley_json_object(j, "landscape");
  valley_json_string(j, "source", a->spec ? "spec" : "preset");
  valley_json_string(j, "name", a->spec ? a->spec : a->preset);
  valley_json_string(j, "kind", b->kind == VALLEY_BLAND_MIXTURE ? "mixture" : "valley");
  if (b->kind == VALLEY_BLAND_MIXTURE) {
    valley_json_numbers(j, "mixture_minima", b->minima, b->n);
    valley_json_numbers(j, "mixture_weights", b->weights, b->n);
    valley_json_numbers(j, "mixture_sigmas", b->sigmas, b->n);
    valley_json_number(j, "c", b->c);
  } else {
    valley_json_number(j, "a_plus", b->valley.a_plus);
    valley_json_number(j, "a_minus", b->valley.a_minus);
  }
  valley_json_number(j, "lscale", b->lscale);
  valley_json_number(j, "wscale", b->wscale);
  valley_json_string(j, "noise", valley_dnoise_name(b->noise));
  valley_json_number(j, "stddev_shift", b->shift);
  valley_json_string(j, "test_shift", valley_tshift_name(b->test_shift));
  valley_json_number(j, "lo", b->lo);
  valley_json_number(j, "hi", b->hi);
  valley_json_number(j, "min_U_train", b->umin);
  valley_json_numbers(j, "train_minima", ctx->theta_tr, ctx->ntr);
  valley_json_string(j, "v_method", ctx->closed_form ? "closed form" : "adaptive quadrature");
  valley_json_object_end(j);
}

/* Per-basin arrays of one field. */
#define BASIN_ARRAY(j, key, s, field)                                                            \
  do {                                                                                           \
    valley_json_array(j, key);                                                                      \
    for (size_t k_ = 0; k_ < (s)->nbasins; k_++) valley_json_number(j, NULL, (s)->basin[k_].field); \
    valley_json_array_end(j);                                                                       \
  } while (0)

static void json_solution(valley_json_t *j, const valley_steady_t *s) {
  valley_json_number(j, "T", s->T);
  BASIN_ARRAY(j, "minima", s, mu);
  valley_json_numbers(j, "maxima", s->maxima, s->nmax);
  BASIN_ARRAY(j, "basin_lo", s, a);
  BASIN_ARRAY(j, "basin_hi", s, b);
  valley_json_array(j, "boundary");
  for (size_t k = 0; k < s->nbasins; k++) valley_json_bool(j, NULL, s->basin[k].boundary);
  valley_json_array_end(j);
  BASIN_ARRAY(j, "weights_exact", s, weight);
  BASIN_ARRAY(j, "log_weights_exact", s, log_weight);
  BASIN_ARRAY(j, "weights_laplace", s, weight_laplace);
  BASIN_ARRAY(j, "log_weights_laplace", s, log_weight_laplace);
  BASIN_ARRAY(j, "v_at_minima", s, v_mu);
  BASIN_ARRAY(j, "v_curvature", s, v2);
  BASIN_ARRAY(j, "train_minimum", s, theta_tr);
  BASIN_ARRAY(j, "train_curvature", s, C_tr);
  BASIN_ARRAY(j, "bias", s, bias);
  BASIN_ARRAY(j, "bias_predicted", s, bias_pred);
  BASIN_ARRAY(j, "test_minimum", s, theta_test);
  BASIN_ARRAY(j, "test_curvature", s, C_test);
  BASIN_ARRAY(j, "shift", s, shift);
  BASIN_ARRAY(j, "basin_shift_curvature", s, shift_curvature);
  BASIN_ARRAY(j, "basin_E_train", s, E_train);
  BASIN_ARRAY(j, "basin_E_test", s, E_test);
  valley_json_number(j, "log_Z", s->log_Z);
  valley_json_number(j, "E_train", s->E_train);
  valley_json_number(j, "E_test", s->E_test);
  valley_json_number(j, "E_train_laplace", s->E_train_laplace);
  valley_json_number(j, "E_test_eq4", s->E_test_eq4);
  valley_json_number(j, "E_test_eq7", s->E_test_eq7);
  valley_json_number(j, "E_test_eq8", s->E_test_eq8);
  valley_json_number(j, "shift_curvature", s->shift_curvature);
  valley_json_number(j, "laplace_max_rel_error", s->laplace_max_rel);
  valley_json_number(j, "weight_without_training_minimum", s->unmatched_weight);
}

static void print_solution(const valley_steady_t *s) {
  printf("T = %.6g   log Z = %.12g\n", s->T, s->log_Z);
  printf("  %-3s %-22s %-13s %-13s %-13s %-11s %-11s %-11s\n", "k", "basin", "minimum of v",
         "weight", "Laplace (6)", "v''", "bias", "O(T) pred.");
  for (size_t k = 0; k < s->nbasins; k++) {
    const valley_steady_basin_t *B = &s->basin[k];
    char basin[64];
    snprintf(basin, sizeof basin, "[%.4g, %.4g]%s", B->a, B->b, B->boundary ? "*" : "");
    printf("  %-3zu %-22s %-13.8g %-13.6e %-13.6e %-11.5g %-11.3e %-11.3e\n", k, basin, B->mu,
           B->weight, B->weight_laplace, B->v2, B->bias, B->bias_pred);
  }
  printf("  E[U_train] = %.10g (train analogue of eq. (4): %.10g)\n", s->E_train,
         s->E_train_laplace);
  printf("  E[U_test]  = %.10g   eq. (4) %.10g   eq. (7) %.10g   eq. (8) %.10g\n", s->E_test,
         s->E_test_eq4, s->E_test_eq7, s->E_test_eq8);
  printf("  shift-curvature sum_k w_k s_k^2 C_k / 2 = %.8g\n", s->shift_curvature);
  if (s->unmatched_weight > 0)
    printf("  basins of v that hold no training minimum carry weight %.6g: eqs. (4), (7) and the\n"
           "  shift-curvature sum skip them (the paper indexes basins by training minima)\n",
           s->unmatched_weight);
  for (size_t k = 0; k < s->nbasins; k++)
    if (s->basin[k].boundary)
      printf("  (* basin %zu has no interior minimum of v: its lowest point is a domain end)\n", k);
}

/* Where the paper's approximations and the exact value part, say so. */
static void print_disagreement(const valley_steady_t *s, size_t n) {
  double worst7 = 0, worst8 = 0, worstL = 0, T7 = 0, T8 = 0, TL = 0;
  for (size_t i = 0; i < n; i++) {
    double r7 = fabs(s[i].E_test_eq7 - s[i].E_test) / fabs(s[i].E_test);
    double r8 = fabs(s[i].E_test_eq8 - s[i].E_test) / fabs(s[i].E_test);
    if (r7 > worst7) worst7 = r7, T7 = s[i].T;
    if (r8 > worst8) worst8 = r8, T8 = s[i].T;
    if (s[i].laplace_max_rel > worstL) worstL = s[i].laplace_max_rel, TL = s[i].T;
  }
  printf("\napproximations against the exact steady state:\n");
  printf("  eq. (7) vs exact E[U_test]: worst relative difference %.3g (T = %.4g)\n", worst7, T7);
  printf("  eq. (8) vs exact E[U_test]: worst relative difference %.3g (T = %.4g)\n", worst8, T8);
  printf("  Laplace weights (6) vs exact: worst relative difference %.3g (T = %.4g)\n", worstL, TL);
  if (worst7 > 0.01 || worst8 > 0.01)
    printf("  The paper's approximations (7)/(8) are off by more than 1%% here: they keep only\n"
           "  the leading order in T and a quadratic test loss at each minimum.\n");
}

static int parse_sweep(const args_t *a, double *Tmin, double *Tmax, size_t *n) {
  char *end;
  const char *s = a->sweep;
  *Tmin = strtod(s, &end);
  if (end == s || *end != ':') goto bad;
  s = end + 1;
  *Tmax = strtod(s, &end);
  if (end == s || *end != ':') goto bad;
  s = end + 1;
  unsigned long long v = strtoull(s, &end, 10);
  if (end == s || *end != '\0' || s[0] == '-') goto bad;
  *n = (size_t)v;
  if (!(*Tmin > 0) || !isfinite(*Tmin) || !(*Tmax >= *Tmin) || !isfinite(*Tmax))
    return cli_usage_error(a->cmd, "--sweep: need 0 < TMIN <= TMAX (got '%s')", a->sweep);
  if (*n < 1 || *n > 1000000)
    return cli_usage_error(a->cmd, "--sweep: N must be in [1, 1e6] (got '%s')", a->sweep);
  return 0;
bad:
  return cli_usage_error(a->cmd, "--sweep: expected TMIN:TMAX:N (got '%s')", a->sweep);
}

/* The exact weight of the basin holding U_tr's k-th minimum (NaN when none holds it). */
static double weight_of_train_min(const valley_steady_t *s, double theta) {
  for (size_t k = 0; k < s->nbasins; k++)
    if (theta >= s->basin[k].a && theta <= s->basin[k].b) return s->basin[k].weight;
  return NAN;
}

static void write_sweep_csv(FILE *f, const args_t *a, const valley_steady_ctx_t *ctx,
                            const valley_steady_t *s, size_t n) {
  fprintf(f, "# valley basins --sweep %s (%s %s): weights are those of the basins holding the "
             "training minima\n", a->sweep, a->spec ? "spec" : "preset",
          a->spec ? a->spec : a->preset);
  fprintf(f, "T,E_train,E_test,E_test_eq4,E_test_eq7,E_test_eq8,shift_curvature");
  for (size_t k = 0; k < ctx->ntr; k++) fprintf(f, ",w(theta=%.5g)", ctx->theta_tr[k]);
  fputc('\n', f);
  for (size_t i = 0; i < n; i++) {
    fprintf(f, "%.10g,%.12g,%.12g,%.12g,%.12g,%.12g,%.12g", s[i].T, s[i].E_train, s[i].E_test,
            s[i].E_test_eq4, s[i].E_test_eq7, s[i].E_test_eq8, s[i].shift_curvature);
    for (size_t k = 0; k < ctx->ntr; k++)
      fprintf(f, ",%.12g", weight_of_train_min(&s[i], ctx->theta_tr[k]));
    fputc('\n', f);
  }
}

typedef struct {
  args_t *a;
  cli_opt_t *opts;
  size_t nopts;
  valley_basin1d_t b;
} run_t;

/* --param-grid: the landscape and --T from the options' current values (-1 when good). */
static int configure(void *arg, const char *cmd) {
  run_t *c = arg;
  const char *saved = c->a->cmd;
  c->a->cmd = cmd;
  int rc = build_landscape(c->a, c->opts, c->nopts, &c->b) ? CLI_EXIT_USAGE : -1;
  if (rc < 0 && (!(c->a->T > 0) || !isfinite(c->a->T)))
    rc = cli_usage_error(cmd, "--T must be > 0 (got %g)", c->a->T);
  c->a->cmd = saved;
  return rc;
}

/* One grid point: the landscape and the steady state at T, as --json writes them. */
static valley_status_t sweep_point(size_t index, const char *const *values, valley_json_t *j,
                                   void *arg, valley_error_t *err) {
  (void)index;
  (void)values;
  run_t *c = arg;
  valley_fp1d_t p;
  valley_steady_ctx_t ctx;
  valley_basin1d_problem(&c->b, &p);
  valley_steady_config_t cfg = {c->a->grid, c->a->epsrel};
  valley_status_t st =
      valley_steady_prepare(&ctx, &p, valley_basin1d_utest3, &c->b, &cfg, !c->a->quadrature, err);
  if (st != VALLEY_OK) return st;
  valley_steady_t s;
  st = valley_steady_sweep(&ctx, &c->a->T, 1, c->a->threads, &s, cli_sweep_cancel_cb, NULL, err);
  if (st == VALLEY_OK) {
    json_landscape(j, &c->b, c->a, &ctx);
    json_solution(j, &s);
  }
  valley_steady_ctx_free(&ctx);
  return st;
}

static const valley_sweep_param_t SWEEPABLE[] = {{"T", 1},      {"preset", 0}, {"c", 1},
                                                 {"lscale", 1}, {"wscale", 1}, {"shift", 1},
                                                 {"noise", 0}};
static const char *const UNFINGERPRINTED[] = {"--threads", "--json", "--param-grid", "--out",
                                              "--sweep", "--csv"};

/* mpi: NULL, or the MPI ranks (cli/mpi.h, docs/mpi.md): every rank parses and checks the same
 * arguments; --param-grid's points are shared by the ranks (rank 0 writes the file); without it,
 * rank 0 alone computes and reports. */
static int basins(int argc, char **argv, const cli_mpi_t *mpi) {
  args_t a;
  args_default(&a, "basins");
  cli_opt_t opts[] = {BASINS_OPTIONS(OPT_ENTRY, a)};
  size_t nopts = sizeof opts / sizeof opts[0];
  valley_basin1d_t b;
  int rc = start(&a, BASINS_SUMMARY, argc, argv, opts, nopts, &b);
  if (rc >= 0) return rc;
  if (a.param_grid == NULL && cli_mpi_rank(mpi) != 0) return CLI_EXIT_OK;
  if (a.param_grid != NULL) {
    if (a.sweep || a.csv) return cli_usage_error(a.cmd, "--sweep/--csv do not go with --param-grid");
    if (a.json)
      return cli_usage_error(a.cmd, "--json does not go with --param-grid (--out is JSON Lines)");
    run_t run = {&a, opts, nopts, b};
    return cli_sweep(a.cmd, "--param-grid", a.param_grid, a.out, SWEEPABLE,
                     sizeof SWEEPABLE / sizeof SWEEPABLE[0], opts, nopts, UNFINGERPRINTED,
                     sizeof UNFINGERPRINTED / sizeof UNFINGERPRINTED[0], configure, sweep_point,
                     &run, mpi);
  }
  if (a.out != NULL) return cli_usage_error(a.cmd, "--out needs --param-grid");
  if (cli_given(opts, nopts, "--T") && a.sweep)
    return cli_usage_error(a.cmd, "give --T or --sweep, not both");
  double Tmin = a.T, Tmax = a.T;
  size_t nT = 1;
  if (a.sweep && parse_sweep(&a, &Tmin, &Tmax, &nT)) return CLI_EXIT_USAGE;
  if (a.csv && !a.sweep) return cli_usage_error(a.cmd, "--csv needs --sweep");

  valley_fp1d_t p;
  valley_steady_ctx_t ctx;
  if ((rc = prepare(&a, &b, &p, &ctx)) != 0) return rc;
  double *T = malloc(nT * sizeof *T);
  valley_steady_t *s = malloc(nT * sizeof *s);
  valley_outfile_t out = {NULL, NULL, NULL};
  valley_error_t err;
  rc = CLI_EXIT_OK;
  if (T == NULL || s == NULL) {
    fprintf(stderr, "valley %s: out of memory for %zu temperatures\n", a.cmd, nT);
    rc = CLI_EXIT_FAIL;
    goto done;
  }
  if (a.csv && valley_outfile_open(&out, a.csv, &err) != VALLEY_OK) {
    rc = cli_usage_error(a.cmd, "--csv: %s", err.message);
    goto done;
  }
  valley_steady_logspace(Tmin, Tmax, nT, T);
  cli_progress_t prog;
  cli_progress_init(&prog, "basins");
  valley_status_t st = valley_steady_sweep(&ctx, T, nT, a.threads, s, cli_progress_cb, &prog, &err);
  cli_progress_done(&prog);
  double Topt = NAN, Eopt = NAN;
  int interior = 0;
  if (st == VALLEY_OK && a.sweep)
    st = valley_steady_optimal_T(&ctx, T, s, nT, &Topt, &Eopt, &interior, &err);
  if (st != VALLEY_OK) {
    if (a.csv) valley_outfile_abort(&out);
    cli_print_error(a.cmd, &err);
    rc = st == VALLEY_EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
    goto done;
  }
  if (a.csv) {
    write_sweep_csv(out.f, &a, &ctx, s, nT);
    if (valley_outfile_commit(&out, &err) != VALLEY_OK) {
      fprintf(stderr, "valley %s: --csv: %s\n", a.cmd, err.message);
      rc = CLI_EXIT_FAIL;
      goto done;
    }
  }
  if (a.json) {
    valley_json_t j;
    valley_json_begin(&j, stdout);
    valley_json_string(&j, "command", a.cmd);
    valley_json_string(&j, "version", VALLEY_VERSION);
    valley_json_build(&j);
    json_landscape(&j, &b, &a, &ctx);
    if (!a.sweep) {
      json_solution(&j, &s[0]);
    } else {
      valley_json_array(&j, "sweep");
      for (size_t i = 0; i < nT; i++) {
        valley_json_object(&j, NULL);
        json_solution(&j, &s[i]);
        valley_json_object_end(&j);
      }
      valley_json_array_end(&j);
      valley_json_object(&j, "optimal_T");
      valley_json_number(&j, "T", Topt);
      valley_json_number(&j, "E_test", Eopt);
      valley_json_bool(&j, "interior", interior);
      valley_json_object_end(&j);
    }
    valley_json_end(&j);
  } else {
    printf("valley basins: %s %s, noise %s (wscale %g), stddev_shift %g (%s), domain [%g, %g]\n",
           a.spec ? "spec" : "preset", a.spec ? a.spec : a.preset, valley_dnoise_name(b.noise),
           b.wscale, b.shift, valley_tshift_name(b.test_shift), b.lo, b.hi);
    printf("v by %s; training minima:", ctx.closed_form ? "closed form" : "adaptive quadrature");
    for (size_t k = 0; k < ctx.ntr; k++) printf(" %.8g", ctx.theta_tr[k]);
    printf("\n\n");
    if (!a.sweep) {
      print_solution(&s[0]);
    } else {
      printf("%-11s %-13s %-13s %-13s %-13s %-11s\n", "T", "E[U_train]", "E[U_test]",
             "eq. (7)", "eq. (8)", "shift-curv.");
      for (size_t i = 0; i < nT; i++)
        printf("%-11.5g %-13.9g %-13.9g %-13.9g %-13.9g %-11.5g\n", s[i].T, s[i].E_train,
               s[i].E_test, s[i].E_test_eq7, s[i].E_test_eq8, s[i].shift_curvature);
      printf("\noptimal temperature: T* = %.10g, E[U_test] = %.10g (%s)\n", Topt, Eopt,
             interior ? "interior minimum" : "at an end of the sweep: no interior optimum");
    }
    print_disagreement(s, nT);
  }
done:
  free(T);
  free(s);
  valley_steady_ctx_free(&ctx);
  return rc;
}

#define MAX_ENS 17

typedef struct {
  valley_langevin_scheme_t scheme;
  double step;
  uint64_t steps;
  valley_langevin_l1_t l1;
} ens_t;

/* Ensemble r (0: the SDE when --sde, then one per --sgd-lr rate). */
static void ens_config(const args_t *a, const valley_steady_t *s, valley_lnoise_t noise,
                       const double *lrs, int r, const double *theta0,
                       valley_langevin1d_config_t *cfg, ens_t *e) {
  valley_langevin1d_config_default(cfg);
  e->scheme = (a->sde && r == 0) ? VALLEY_LANGEVIN_EM : VALLEY_LANGEVIN_SGD;
  e->step = e->scheme == VALLEY_LANGEVIN_EM ? a->dt : lrs[r - (a->sde ? 1 : 0)];
  e->steps = (uint64_t)ceil(a->time / e->step);
  cfg->scheme = e->scheme;
  cfg->noise = e->scheme == VALLEY_LANGEVIN_EM ? VALLEY_LNOISE_GAUSSIAN : noise;
  cfg->T = s->T;
  cfg->step = e->step;
  cfg->particles = a->particles;
  cfg->steps = e->steps;
  cfg->seed = a->seed;
  cfg->theta0 = theta0;
  cfg->bins = a->bins;
  cfg->threads = a->threads;
  cfg->device = a->dev;
  cfg->cuda_device = a->gpu;
}

/* --checkpoint (cli/ckrun.c): every ensemble's particles in blocks, each block's final positions
 * and histograms saved as it ends; particle i's path does not depend on its block (first_particle,
 * as under MPI) and the histograms are integer counts, so a resumed run reports the bytes of an
 * uninterrupted one. */
typedef struct {
  const valley_basin1d_t *b;
  valley_langevin1d_config_t cfg[MAX_ENS];
  valley_langevin1d_result_t *res[MAX_ENS];
  size_t particles, bins;
} steady_ck_t;

static size_t steady_record_size(void *arg, size_t count) {
  const steady_ck_t *t = arg;
  return count * sizeof(double) + 2 * t->bins * sizeof(uint64_t) + sizeof(uint64_t);
}

static valley_status_t steady_ck_block(void *arg, size_t first, size_t count, void *record,
                                       int (*progress)(double, void *), void *progress_arg,
                                       valley_error_t *err) {
  const steady_ck_t *t = arg;
  size_t r = first / t->particles, lf = first % t->particles;
  valley_langevin1d_config_t c = t->cfg[r];
  c.first_particle = lf;
  c.particles = count;
  c.theta0 = c.theta0 != NULL ? c.theta0 + lf : NULL;
  c.progress = progress;
  c.progress_arg = progress_arg;
  valley_langevin1d_result_t *part = valley_langevin1d_result_alloc(count, t->bins);
  if (part == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "ensemble of %zu", count);
  valley_status_t st = valley_langevin1d_run_basin(t->b, &c, part, err);
  if (st == VALLEY_OK) {
    unsigned char *q = cli_ck_put(record, part->theta, count * sizeof(double));
    q = cli_ck_put(q, part->hist, t->bins * sizeof(uint64_t));
    q = cli_ck_put(q, part->path_hist, t->bins * sizeof(uint64_t));
    cli_ck_put(q, &part->path_samples, sizeof(uint64_t));
  }
  valley_langevin1d_result_free(part);
  return st;
}

static void steady_ck_merge(void *arg, size_t first, size_t count, const void *record) {
  const steady_ck_t *t = arg;
  valley_langevin1d_result_t *res = t->res[first / t->particles];
  const unsigned char *q = record;
  memcpy(res->theta + first % t->particles, q, count * sizeof(double));
  q = cli_ck_add_counts(res->hist, q + count * sizeof(double), t->bins);
  q = cli_ck_add_counts(res->path_hist, q, t->bins);
  cli_ck_add_counts(&res->path_samples, q, 1);
}

static valley_status_t run_ensembles_ck(const args_t *a, const valley_basin1d_t *b,
                                        const valley_steady_t *s, valley_lnoise_t noise,
                                        const double *lrs, int nlr, const double *theta0,
                                        const double *p, ens_t *ens, int *nens,
                                        valley_error_t *err) {
  int n = (a->sde ? 1 : 0) + nlr;
  steady_ck_t t;
  memset(&t, 0, sizeof t);
  t.b = b;
  t.particles = a->particles;
  t.bins = a->bins;
  valley_status_t st = VALLEY_OK;
  for (int r = 0; r < n; r++) {
    ens_config(a, s, noise, lrs, r, theta0, &t.cfg[r], &ens[r]);
    if ((t.res[r] = valley_langevin1d_result_alloc(a->particles, a->bins)) == NULL)
      st = VALLEY_ERROR(err, VALLEY_ENOMEM, "ensemble of %zu", a->particles);
    else if (st == VALLEY_OK) /* before the file is made */
      st = valley_langevin1d_config_check(&t.cfg[r], err);
  }
  *nens = n;
  char *fp = NULL;
  if (st == VALLEY_OK) {
    static const char *const skip[] = {"--threads", "--json", "--checkpoint", "--out", "--points",
                                       "--fv", "--gpu"};
    fp = cli_fingerprint(a->cmd, a->opts, a->nopts, skip, sizeof skip / sizeof skip[0]);
    if (fp != NULL && a->spec != NULL) fp = cli_fingerprint_file(fp, a->spec);
    if (fp == NULL) st = VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory");
  }
  cli_progress_t prog;
  cli_progress_init(&prog, "ensembles");
  if (st == VALLEY_OK) {
    cli_ck_t c = {a->cmd, a->checkpoint, fp, "particles", (size_t)n * a->particles, 64, 1024,
                  (size_t)n, steady_record_size, steady_ck_block, steady_ck_merge, &t,
                  cli_progress_cb, &prog};
    st = cli_ck_run(&c, err);
  }
  cli_progress_done(&prog);
  for (int r = 0; r < n && st == VALLEY_OK; r++) {
    t.res[r]->lo = b->lo;
    t.res[r]->hi = b->hi;
    st = valley_langevin_l1(p, t.res[r]->hist, a->bins, 200, a->seed, &ens[r].l1, err);
  }
  for (int r = 0; r < n; r++) valley_langevin1d_result_free(t.res[r]);
  free(fp);
  return st;
}

/* The SDE and SGD cross-checks: each ensemble's final histogram against rho's bins. */
/* mpi: NULL, or the MPI ranks: every rank draws the same starts; the particles are split across
 * the ranks (cli_mpi_langevin1d) and rank 0 alone compares the histograms with rho.  *own: this
 * rank failed itself. */
static valley_status_t run_ensembles(const args_t *a, const valley_basin1d_t *b,
                                     const valley_steady_ctx_t *ctx, const valley_steady_t *s,
                                     valley_lnoise_t noise, const double *lrs, int nlr,
                                     ens_t *ens, int *nens, const cli_mpi_t *mpi, int *own,
                                     valley_error_t *err) {
  *nens = 0;
  *own = 1;
  int root = cli_mpi_rank(mpi) == 0;
  double *theta0 = NULL, *p = root ? malloc(a->bins * sizeof *p) : NULL;
  valley_langevin1d_result_t *res =
      root ? valley_langevin1d_result_alloc(a->particles, a->bins) : NULL;
  valley_status_t st = VALLEY_OK;
  if (root && (p == NULL || res == NULL))
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "ensemble of %zu", a->particles);
  if (st == VALLEY_OK && root) st = valley_steady_bin_probs(ctx, s, a->bins, p, err);
  if (st == VALLEY_OK && strcmp(a->start, "rho") == 0) {
    theta0 = malloc(a->particles * sizeof *theta0);
    if (theta0 == NULL) st = VALLEY_ERROR(err, VALLEY_ENOMEM, "ensemble of %zu", a->particles);
    /* a seed of its own, so the start and the noise never share a stream */
    if (st == VALLEY_OK)
      st = valley_steady_sample(ctx, s, 20000, a->particles, a->seed ^ UINT64_C(0x9e3779b97f4a7c15),
                                theta0, err);
  }
#ifdef VALLEY_HAVE_MPI
  if (cli_mpi_split(mpi)) st = cli_mpi_agree(mpi, st, own, err); /* the starts; rank 0's p */
#endif
  if (st == VALLEY_OK && a->checkpoint != NULL) {
    st = run_ensembles_ck(a, b, s, noise, lrs, nlr, theta0, p, ens, nens, err);
    free(theta0);
    free(p);
    valley_langevin1d_result_free(res);
    return st;
  }
  for (int r = 0; r < (a->sde ? 1 : 0) + nlr && st == VALLEY_OK; r++) {
    valley_langevin1d_config_t cfg;
    ens_t *e = &ens[(*nens)++];
    ens_config(a, s, noise, lrs, r, theta0, &cfg, e);
    cli_progress_t prog;
    cli_progress_init(&prog, e->scheme == VALLEY_LANGEVIN_EM ? "sde" : "sgd");
    cfg.progress = cli_progress_cb;
    cfg.progress_arg = &prog;
#ifdef VALLEY_HAVE_MPI
    if (cli_mpi_split(mpi)) {
      st = cli_mpi_langevin1d(mpi, NULL, b, &cfg, res, own, err); /* the same on every rank */
      cli_progress_done(&prog);
      if (st == VALLEY_OK) {
        if (root) st = valley_langevin_l1(p, res->hist, a->bins, 200, a->seed, &e->l1, err);
        st = cli_mpi_agree(mpi, st, own, err);
      }
      continue;
    }
#endif
    st = valley_langevin1d_run_basin(b, &cfg, res, err);
    cli_progress_done(&prog);
    if (st == VALLEY_OK) st = valley_langevin_l1(p, res->hist, a->bins, 200, a->seed, &e->l1, err);
  }
  free(theta0);
  free(p);
  valley_langevin1d_result_free(res);
  return st;
}

/* mpi: NULL, or the MPI ranks (cli/mpi.h, docs/mpi.md): every rank parses, checks and solves
 * the same steady state; the ensembles' particles are split across the ranks; rank 0 alone runs
 * --fv, writes --out and reports. */
static int steady_state(int argc, char **argv, const cli_mpi_t *mpi) {
  int root = cli_mpi_rank(mpi) == 0;
  args_t a;
  args_default(&a, "steady-state");
  cli_opt_t opts[] = {STEADY_OPTIONS(OPT_ENTRY, a)};
  size_t nopts = sizeof opts / sizeof opts[0];
  a.opts = opts;
  a.nopts = nopts;
  valley_basin1d_t b;
  int rc = start(&a, STEADY_SUMMARY, argc, argv, opts, nopts, &b);
  if (rc >= 0) return rc;
  double lrs[MAX_ENS];
  int nlr = 0;
  valley_lnoise_t noise;
  if (a.sgd_lr) {
    nlr = cli_parse_numbers(a.sgd_lr, lrs, MAX_ENS - 1);
    if (nlr < 0) return cli_usage_error(a.cmd, "--sgd-lr: '%s' is not a comma-separated list of numbers", a.sgd_lr);
    if (nlr > MAX_ENS - 1) return cli_usage_error(a.cmd, "--sgd-lr: at most %d learning rates", MAX_ENS - 1);
    for (int i = 0; i < nlr; i++)
      if (!(lrs[i] > 0)) return cli_usage_error(a.cmd, "--sgd-lr: learning rates must be > 0 (got %g)", lrs[i]);
  }
  if (valley_lnoise_parse(a.sgd_noise, &noise) != VALLEY_OK)
    return cli_usage_error(a.cmd, "--sgd-noise must be gaussian, uniform or two-point (got '%s')", a.sgd_noise);
  if (valley_device_parse(a.device, &a.dev) != VALLEY_OK)
    return cli_usage_error(a.cmd, "--device must be cpu or cuda (got '%s')", a.device);
  if (a.gpu < 0) return cli_usage_error(a.cmd, "--gpu must be >= 0 (got %d)", a.gpu);
  if (strcmp(a.start, "rho") != 0 && strcmp(a.start, "uniform") != 0)
    return cli_usage_error(a.cmd, "--start must be rho or uniform (got '%s')", a.start);
  if (!(a.dt > 0) || !isfinite(a.dt)) return cli_usage_error(a.cmd, "--dt must be > 0 (got %g)", a.dt);
  if (!(a.time > 0) || !isfinite(a.time)) return cli_usage_error(a.cmd, "--time must be > 0 (got %g)", a.time);
  if (a.particles < 1 || a.particles > 100000000)
    return cli_usage_error(a.cmd, "--particles must be in [1, 1e8] (got %zu)", a.particles);
  if (a.bins < 2 || a.bins > 1000000)
    return cli_usage_error(a.cmd, "--bins must be in [2, 1e6] (got %zu)", a.bins);
  if ((a.sde || nlr) && a.time / fmin(a.dt, nlr ? lrs[0] : a.dt) > 1e10)
    return cli_usage_error(a.cmd, "--time / --dt: more than 1e10 steps");
  if (a.fv != 0 && (a.fv < 3 || a.fv > 10000000))
    return cli_usage_error(a.cmd, "--fv must be 0 or in [3, 1e7] cells (got %zu)", a.fv);
  if (a.points < 2 || a.points > 100000000)
    return cli_usage_error(a.cmd, "--points must be in [2, 1e8] (got %zu)", a.points);
  if (a.checkpoint != NULL && !(a.sde || nlr))
    return cli_usage_error(a.cmd, "--checkpoint saves --sde / --sgd-lr ensembles; give one");
  if (a.checkpoint != NULL && cli_mpi_split(mpi))
    return root ? cli_usage_error(a.cmd, "--checkpoint is for one process (under mpirun the "
                                         "ranks' particles are not saved)")
                : CLI_EXIT_USAGE;
  valley_outfile_t out = {NULL, NULL, NULL};
  valley_error_t err;
  if (!root) a.out = NULL; /* only rank 0 writes; the others follow its success or failure */
  int opened = a.out == NULL || valley_outfile_open(&out, a.out, &err) == VALLEY_OK;
  if (cli_mpi_sync_failed(mpi, opened))
    return root ? cli_usage_error(a.cmd, "--out: %s", err.message) : CLI_EXIT_USAGE;
  valley_fp1d_t p;
  valley_steady_ctx_t ctx;
  if ((rc = prepare(&a, &b, &p, &ctx)) != 0) {
    if (a.out) valley_outfile_abort(&out);
    return rc;
  }
  valley_steady_t s;
  valley_status_t st = valley_steady_solve(&ctx, a.T, &s, &err);
  if (st != VALLEY_OK) {
    if (a.out) valley_outfile_abort(&out);
    valley_steady_ctx_free(&ctx);
    cli_print_error(a.cmd, &err);
    return st == VALLEY_EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
  }
  int wrote = 1;
  if (a.out) {
    fprintf(out.f, "# valley steady-state --T %.17g (%s %s): rho = exp(-2 v / T) / Z, log Z = "
                   "%.17g, v(lo) = 0\n",
            a.T, a.spec ? "spec" : "preset", a.spec ? a.spec : a.preset, s.log_Z);
    fprintf(out.f, "theta,U_train,U_test,D,v,rho,log_rho\n");
    for (size_t i = 0; i < a.points; i++) {
      double x = i + 1 == a.points ? b.hi : b.lo + (b.hi - b.lo) * (double)i / (double)(a.points - 1);
      valley_fp1d_eval_t e;
      p.eval(x, p.params, &e);
      double lr = valley_steady_log_density(&ctx, &s, x);
      fprintf(out.f, "%.12g,%.12g,%.12g,%.12g,%.12g,%.12g,%.12g\n", x, e.U,
              valley_basin1d_utest(&b, x), e.D, valley_steady_v(&ctx, x, a.T), exp(lr), lr);
    }
    /* on disk now (a full disk shows before the long cross-checks); renamed into place only
     * after them, so that an interrupted run leaves no file */
    wrote = valley_outfile_sync(&out, &err) == VALLEY_OK;
    if (!wrote) fprintf(stderr, "valley %s: --out: %s\n", a.cmd, err.message);
  }
  if (cli_mpi_sync_failed(mpi, wrote)) { /* rank 0 could not write --out */
    valley_steady_ctx_free(&ctx);
    return CLI_EXIT_FAIL;
  }
  /* Cross-check: the finite-volume steady state, cell masses against rho's. */
  double fv_l1 = NAN, fv_change = NAN;
  int fv_steps = 0;
  if (a.fv > 0 && root) {
    valley_fv1d_result_t fr;
    st = valley_fv1d_steady(&p, a.T, a.fv, 1e-12, 400, &fr, &err);
    if (st == VALLEY_OK) {
      for (size_t i = 0; i < fr.cells; i++) fr.rho[i] *= fr.h;
      st = valley_steady_l1_bins(&ctx, &s, fr.cells, fr.rho, &fv_l1, &err);
      fv_steps = fr.steps;
      fv_change = fr.change;
      valley_fv1d_result_free(&fr);
    }
    if (st != VALLEY_OK) {
      valley_steady_ctx_free(&ctx);
      if (a.out) valley_outfile_abort(&out);
      fprintf(stderr, "valley %s: --fv: %s\n", a.cmd, err.message);
      rc = st == VALLEY_EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
#ifdef VALLEY_HAVE_MPI
      if (cli_mpi_split(mpi)) cli_mpi_bcast_int(mpi, rc);
#endif
      return rc;
    }
  }
#ifdef VALLEY_HAVE_MPI
  if (cli_mpi_split(mpi) && (rc = cli_mpi_bcast_int(mpi, 0)) != 0) { /* rank 0's --fv failed */
    valley_steady_ctx_free(&ctx);
    if (a.out) valley_outfile_abort(&out);
    return rc;
  }
#endif
  ens_t ens[MAX_ENS];
  int nens = 0;
  if (a.sde || nlr) {
    int own;
    st = run_ensembles(&a, &b, &ctx, &s, noise, lrs, nlr, ens, &nens, mpi, &own, &err);
    if (st != VALLEY_OK) {
      valley_steady_ctx_free(&ctx);
      if (a.out) valley_outfile_abort(&out);
      if (root) {
        if (err.code != VALLEY_ECANCEL || !cli_interrupted()) /* main says "interrupted" */
          fprintf(stderr, "valley %s: ensemble: %s\n", a.cmd, err.message);
      }
#ifdef VALLEY_HAVE_MPI
      else if (own)
        fprintf(mpi->err, "valley %s: MPI rank %d: ensemble: %s\n", a.cmd, mpi->rank, err.message);
#endif
      return st == VALLEY_EINVAL ? CLI_EXIT_USAGE : st == VALLEY_ECANCEL && a.checkpoint != NULL ? cli_cancel_status() : CLI_EXIT_FAIL;
    }
  }
  if (!root) {
    valley_steady_ctx_free(&ctx);
    return CLI_EXIT_OK;
  }
  if (a.out && (cli_interrupted() || valley_outfile_commit(&out, &err) != VALLEY_OK)) {
    if (!cli_interrupted()) fprintf(stderr, "valley %s: --out: %s\n", a.cmd, err.message);
    valley_outfile_abort(&out);
    valley_steady_ctx_free(&ctx);
    return CLI_EXIT_FAIL;
  }
  if (a.json) {
    valley_json_t j;
    valley_json_begin(&j, stdout);
    valley_json_string(&j, "command", a.cmd);
    valley_json_string(&j, "version", VALLEY_VERSION);
    valley_json_build(&j);
    json_landscape(&j, &b, &a, &ctx);
    json_solution(&j, &s);
    if (nens > 0) {
      valley_json_array(&j, "ensembles");
      for (int i = 0; i < nens; i++) {
        valley_json_object(&j, NULL);
        valley_json_string(&j, "scheme", valley_langevin_scheme_name(ens[i].scheme));
        valley_json_string(&j, "noise", ens[i].scheme == VALLEY_LANGEVIN_EM ? "gaussian" : valley_lnoise_name(noise));
        valley_json_number(&j, "step", ens[i].step);
        valley_json_u64(&j, "steps", ens[i].steps);
        valley_json_string(&j, "device", valley_device_name(a.dev));
        valley_json_u64(&j, "particles", a.particles);
        valley_json_string(&j, "start", a.start);
        valley_json_u64(&j, "bins", a.bins);
        valley_json_number(&j, "L1_to_rho", ens[i].l1.l1);
        valley_json_number(&j, "sampling_noise_mean", ens[i].l1.noise_mean);
        valley_json_number(&j, "sampling_noise_sd", ens[i].l1.noise_sd);
        valley_json_number(&j, "z", (ens[i].l1.l1 - ens[i].l1.noise_mean) / ens[i].l1.noise_sd);
        valley_json_object_end(&j);
      }
      valley_json_array_end(&j);
    }
    if (a.fv > 0) {
      valley_json_object(&j, "finite_volume");
      valley_json_u64(&j, "cells", a.fv);
      valley_json_number(&j, "L1_to_rho", fv_l1);
      valley_json_u64(&j, "steps", (uint64_t)fv_steps);
      valley_json_number(&j, "march_distance_to_steady", fv_change);
      valley_json_object_end(&j);
    }
    valley_json_number(&j, "v_star", s.v_star);
    valley_json_end(&j);
  } else {
    printf("valley steady-state: %s %s, noise %s (wscale %g), domain [%g, %g]; v by %s\n\n",
           a.spec ? "spec" : "preset", a.spec ? a.spec : a.preset, valley_dnoise_name(b.noise),
           b.wscale, b.lo, b.hi, ctx.closed_form ? "closed form" : "adaptive quadrature");
    print_solution(&s);
    printf("  maxima of v:");
    for (size_t k = 0; k < s.nmax; k++) printf(" %.8g", s.maxima[k]);
    printf("%s\n", s.nmax ? "" : " none");
    if (a.fv > 0)
      printf("  finite volumes (Scharfetter-Gummel, %zu cells): L1 to rho = %.3g (%s 1e-4)\n",
             a.fv, fv_l1, fv_l1 < 1e-4 ? "below" : "ABOVE");
    for (int i = 0; i < nens; i++) {
      const ens_t *e = &ens[i];
      double z = (e->l1.l1 - e->l1.noise_mean) / e->l1.noise_sd;
      printf("  %s %s %-9g (%" PRIu64 " steps, %zu particles from %s): L1 to rho = %.4g; sampling "
             "noise alone: %.4g +- %.2g (z = %.1f%s)\n",
             e->scheme == VALLEY_LANGEVIN_EM ? "Euler-Maruyama, dt" : "SGD, learning rate",
             e->scheme == VALLEY_LANGEVIN_EM ? "" : valley_lnoise_name(noise), e->step, e->steps,
             a.particles, a.start, e->l1.l1, e->l1.noise_mean, e->l1.noise_sd, z,
             z > 5 ? ": NOT rho" : ": consistent with rho");
    }
    if (a.out) printf("  wrote %s (%zu points)\n", a.out, a.points);
  }
  valley_steady_ctx_free(&ctx);
  if (a.checkpoint != NULL) {
    if (fflush(stdout) != 0) {
      fprintf(stderr, "valley %s: cannot write the report; %s is kept\n", a.cmd, a.checkpoint);
      return CLI_EXIT_FAIL;
    }
    unlink(a.checkpoint); /* the report is out: nothing left to resume */
  }
  return CLI_EXIT_OK;
}

int cli_cmd_basins(int argc, char **argv) { return cli_mpi_main(basins, argc, argv); }

int cli_cmd_steady_state(int argc, char **argv) { return cli_mpi_main(steady_state, argc, argv); }
