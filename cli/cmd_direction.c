/* valley direction: a 1-D profile (train and test loss along w* + l u) checked against
 * Definition 1 and Definition 3 of He, Huang, Yuan (2019) (Sec. 3.1, 4.2, Figure 3) and fitted
 * as in the shift-curvature paper (Appendix F, Figure 1).  theorems/profile.c, docs/profiles.md. */
#include <math.h>
#include <string.h>

#include "cli.h"
#include "valley/outfile.h"
#include "valley/profile.h"

static const char *const CMD = "direction";

typedef struct {
  const char *profile, *fit_side, *csv;
  size_t smooth, min_points;
  double min_width, r_min, z, R, delta_min, delta_max, delta_step, fit_window;
  int json;
} args_t;

#define DIRECTION_OPTIONS(X, a)                                                                   \
  X("--profile", OPT_STRING, &a.profile, "FILE.csv", "the profile: columns l,train_loss,test_loss[,train_acc,test_acc] (docs/profiles.md)") \
  X("--smooth", OPT_SIZE, &a.smooth, "K", "Definition 1: slope at l_i = least-squares slope over samples i-K..i+K (K = 1: central difference)") \
  X("--min-width", OPT_DOUBLE, &a.min_width, "W", "Definition 1: windows have rbar - r >= W (0: 4 median sample spacings)") \
  X("--r-min", OPT_DOUBLE, &a.r_min, "R", "Definition 1: windows have r >= R")                   \
  X("--min-points", OPT_SIZE, &a.min_points, "N", "Definition 1: at least N slopes on each side in a window") \
  X("--z", OPT_DOUBLE, &a.z, "Z", "Definition 1: rank windows with slopes moved Z standard errors against the claim (0: raw)") \
  X("--R", OPT_DOUBLE, &a.R, "R", "Definition 3: the ball |v| <= R (0: half of min(-l_first, l_last))") \
  X("--delta-min", OPT_DOUBLE, &a.delta_min, "D", "Definition 3: first delta of the grid (with --delta-max; both 0: l_first + R)") \
  X("--delta-max", OPT_DOUBLE, &a.delta_max, "D", "Definition 3: last delta of the grid (both 0: l_last - R)") \
  X("--delta-step", OPT_DOUBLE, &a.delta_step, "H", "Definition 3: grid step (0: half the median sample spacing)") \
  X("--fit-window", OPT_DOUBLE, &a.fit_window, "W", "Appendix F: fit |l - l_min| <= W (0: the largest both branches have)") \
  X("--fit-side", OPT_STRING, &a.fit_side, "NAME", "Appendix F: paper (the branch toward the other minimum for test, the same way for train) | both") \
  X("--csv", OPT_STRING, &a.csv, "FILE.csv", "write delta,xi,xi_over_xi0 (Figure 3(b)) as CSV (atomic)") \
  X("--json", OPT_FLAG, &a.json, NULL, "print the report as JSON")

#define OPT_ENTRY(flag, kind, target, meta, help) {flag, kind, target, meta, help, 0},

static const char *const SUMMARY =
    "A 1-D profile along w* + l u (l = 0 is w*; train loss Lhat, test loss L):\n"
    "  Definition 1 (He, Huang, Yuan 2019): the window [r, rbar] and constants p, c > 1 with\n"
    "    Lhat' < p on the flat side and outward slope > c p on the sharp side, from\n"
    "    finite-difference slopes of the train loss: largest c, and the widest c > 1 window;\n"
    "  Definition 3: xi_delta = max_{|v|<=R} |L'(v + delta) - Lhat(v)|, L' = L - min L + min Lhat,\n"
    "    on a delta grid, its minimiser delta* and xi_delta*/xi_0 (Sec. 4.2, Figure 3);\n"
    "  Appendix F (shift-curvature paper): each curve reflected about its minimum and fitted by\n"
    "    c x^2 / 2; the shift s = l_min(test) - l_min(train) and s^2 c_test / 2.\n"
    "See docs/profiles.md.";

static void json_window(valley_json_t *j, const char *key, const valley_prof_window_t *w) {
  valley_json_object(j, key);
  valley_json_bool(j, "found", w->valid);
  if (w->valid) {
    valley_json_string(j, "flat_side", w->flat_side > 0 ? "positive" : "negative");
    valley_json_number(j, "r", w->r);
    valley_json_number(j, "rbar", w->rbar);
    valley_json_number(j, "p", w->p);
    valley_json_number(j, "cp", w->cp);
    valley_json_number(j, "c", w->c);
    valley_json_bool(j, "c_unbounded", isinf(w->c));
    valley_json_number(j, "p_conservative", w->p_hi);
    valley_json_number(j, "cp_conservative", w->cp_lo);
    valley_json_number(j, "c_conservative", w->c_conservative);
    valley_json_bool(j, "asymmetric", w->asymmetric);
    valley_json_bool(j, "asymmetric_conservative", w->asymmetric_conservative);
    valley_json_u64(j, "slopes_flat", w->n_flat);
    valley_json_u64(j, "slopes_sharp", w->n_sharp);
  }
  valley_json_object_end(j);
}

static void json_def1(valley_json_t *j, const char *key, const valley_prof_def1_t *d) {
  valley_json_object(j, key);
  valley_json_number(j, "noise_sd", d->noise_sd);
  valley_json_number(j, "slope_se", d->slope_se);
  valley_json_number(j, "slope_median_abs", d->slope_abs);
  valley_json_u64(j, "slopes", d->slopes);
  valley_json_u64(j, "windows", d->windows);
  json_window(j, "best", &d->best);
  json_window(j, "widest", &d->widest);
  valley_json_object_end(j);
}

static void json_fit(valley_json_t *j, const char *key, const valley_prof_fit_t *f) {
  valley_json_object(j, key);
  valley_json_number(j, "l_min", f->l_min);
  valley_json_number(j, "min", f->y_min);
  valley_json_number(j, "c", f->c);
  valley_json_number(j, "rms", f->rms);
  valley_json_u64(j, "points", f->points);
  valley_json_string(j, "side", f->side < 0 ? "negative" : f->side > 0 ? "positive" : "both");
  valley_json_object_end(j);
}

static void print_window(const char *what, const valley_prof_window_t *w) {
  if (!w->valid) {
    printf("    %-7s none\n", what);
    return;
  }
  printf("    %-7s flat side %s, (rbar, r, p, c) = (%.6g, %.6g, %.6g, %.6g)%s; conservative c %.4g; "
         "%zu + %zu slopes\n", what, w->flat_side > 0 ? "+l" : "-l", w->rbar, w->r, w->p, w->c,
         isinf(w->c) ? " (flat side not rising: any c)" : "", w->c_conservative, w->n_flat,
         w->n_sharp);
}

static void print_def1(const char *curve, const valley_prof_def1_t *d) {
  const valley_prof_window_t *b = &d->best;
  printf("  %s: noise sd %.3g, slope s.e. %.3g (median |slope| %.3g), %zu slopes, %llu windows:\n"
         "    %s\n", curve, d->noise_sd, d->slope_se, d->slope_abs, d->slopes,
         (unsigned long long)d->windows,
         b->asymmetric_conservative ? "asymmetric: c > 1 even with the noise allowance"
         : b->asymmetric ? "c > 1 only without the noise allowance: not established"
                         : "no window with c > 1");
  if (d->slope_se > 0.1 * d->slope_abs)
    printf("    the slopes are noise-dominated (s.e. above 10%% of the median |slope|): "
           "try a larger --smooth\n");
  print_window("best", b);
  print_window("widest", &d->widest);
}

int cli_cmd_direction(int argc, char **argv) {
  args_t a;
  memset(&a, 0, sizeof a);
  valley_prof_def1_config_t d1cfg;
  valley_prof_def1_config_default(&d1cfg);
  a.smooth = d1cfg.smooth;
  a.min_points = d1cfg.min_points;
  a.z = d1cfg.z;
  a.fit_side = "paper";
  cli_opt_t opts[] = {DIRECTION_OPTIONS(OPT_ENTRY, a)};
  size_t nopts = sizeof opts / sizeof opts[0];
  int rc = cli_parse_or_help(CMD, SUMMARY, argc, argv, opts, nopts);
  if (rc >= 0) return rc;
  if (a.profile == NULL) return cli_usage_error(CMD, "--profile FILE.csv is required");
  if (a.smooth < 1) return cli_usage_error(CMD, "--smooth must be >= 1 (got %zu)", a.smooth);
  if (a.min_points < 1) return cli_usage_error(CMD, "--min-points must be >= 1 (got %zu)", a.min_points);
  if (a.min_width < 0) return cli_usage_error(CMD, "--min-width must be >= 0 (got %g)", a.min_width);
  if (a.r_min < 0) return cli_usage_error(CMD, "--r-min must be >= 0 (got %g)", a.r_min);
  if (a.z < 0) return cli_usage_error(CMD, "--z must be >= 0 (got %g)", a.z);
  if (a.R < 0) return cli_usage_error(CMD, "--R must be > 0, or 0 for auto (got %g)", a.R);
  if (a.delta_step < 0)
    return cli_usage_error(CMD, "--delta-step must be > 0, or 0 for auto (got %g)", a.delta_step);
  if (cli_given(opts, nopts, "--delta-min") != cli_given(opts, nopts, "--delta-max"))
    return cli_usage_error(CMD, "give --delta-min and --delta-max together");
  if (a.delta_min > a.delta_max)
    return cli_usage_error(CMD, "--delta-min %g is above --delta-max %g", a.delta_min, a.delta_max);
  if (a.fit_window < 0)
    return cli_usage_error(CMD, "--fit-window must be > 0, or 0 for auto (got %g)", a.fit_window);
  int both = strcmp(a.fit_side, "both") == 0;
  if (!both && strcmp(a.fit_side, "paper") != 0)
    return cli_usage_error(CMD, "--fit-side must be paper or both (got '%s')", a.fit_side);
  d1cfg.smooth = a.smooth;
  d1cfg.min_width = a.min_width;
  d1cfg.r_min = a.r_min;
  d1cfg.min_points = a.min_points;
  d1cfg.z = a.z;

  valley_prof_t p;
  valley_error_t err;
  valley_status_t st = valley_prof_read(a.profile, &p, &err);
  if (st != VALLEY_OK) {
    fprintf(stderr, "valley %s: --profile: %s\n", CMD, err.message);
    return st == VALLEY_ENOMEM ? CLI_EXIT_FAIL : CLI_EXIT_USAGE;
  }
  valley_prof_def1_t d1tr;
  valley_prof_gap_config_t gcfg = {a.R, a.delta_min, a.delta_max, a.delta_step};
  valley_prof_gap_t gap = {0};
  valley_prof_curv_config_t ccfg = {a.fit_window, both};
  valley_prof_curv_t curv;
  valley_outfile_t out = {NULL, NULL, NULL};
  rc = CLI_EXIT_OK;
  st = valley_prof_def1(p.l, p.train, p.n, &d1cfg, &d1tr, &err);
  if (st == VALLEY_OK) st = valley_prof_shift_gap(&p, &gcfg, &gap, &err);
  if (st != VALLEY_OK) {
    fprintf(stderr, "valley %s: %s: %s\n", CMD, a.profile, err.message);
    rc = st == VALLEY_ENOMEM ? CLI_EXIT_FAIL : CLI_EXIT_USAGE;
    goto done;
  }
  /* A minimum at the profile's edge leaves only the curvature part undone: reported, not fatal. */
  valley_error_t cerr;
  int curv_ok = valley_prof_curvature(&p, &ccfg, &curv, &cerr) == VALLEY_OK;
  if (!curv_ok && cerr.code != VALLEY_EDOM) {
    fprintf(stderr, "valley %s: %s: %s\n", CMD, a.profile, cerr.message);
    rc = CLI_EXIT_USAGE;
    goto done;
  }
  if (a.csv) {
    if (valley_outfile_open(&out, a.csv, &err) != VALLEY_OK) {
      rc = cli_usage_error(CMD, "--csv: %s", err.message);
      goto done;
    }
    char comment[600];
    snprintf(comment, sizeof comment, "valley direction --profile %s: Definition 3 shift gap, "
             "R = %.17g, linear interpolation", a.profile, gap.config.R);
    valley_prof_gap_write(out.f, comment, &gap);
    if (valley_outfile_commit(&out, &err) != VALLEY_OK) {
      fprintf(stderr, "valley %s: --csv: %s\n", CMD, err.message);
      rc = CLI_EXIT_FAIL;
      goto done;
    }
  }
  double acc0_tr = p.train_acc ? valley_prof_interp(p.l, p.train_acc, p.n, 0) : NAN;
  double acc0_te = p.test_acc ? valley_prof_interp(p.l, p.test_acc, p.n, 0) : NAN;
  if (a.json) {
    valley_json_t j;
    valley_json_begin(&j, stdout);
    valley_json_string(&j, "command", CMD);
    valley_json_string(&j, "version", VALLEY_VERSION);
    valley_json_build(&j);
    valley_json_object(&j, "profile");
    valley_json_string(&j, "path", a.profile);
    valley_json_u64(&j, "points", p.n);
    valley_json_number(&j, "l_first", p.l[0]);
    valley_json_number(&j, "l_last", p.l[p.n - 1]);
    valley_json_bool(&j, "has_accuracy", p.train_acc != NULL);
    if (p.train_acc) {
      valley_json_number(&j, "train_acc_at_0", acc0_tr);
      valley_json_number(&j, "test_acc_at_0", acc0_te);
    }
    valley_json_object_end(&j);
    valley_json_object(&j, "definition1");
    valley_json_string(&j, "slopes_by", "least-squares slope over samples i-K..i+K");
    valley_json_u64(&j, "smooth", d1tr.config.smooth);
    valley_json_number(&j, "min_width", d1tr.config.min_width);
    valley_json_number(&j, "r_min", d1tr.config.r_min);
    valley_json_u64(&j, "min_points", d1tr.config.min_points);
    valley_json_number(&j, "z", d1tr.config.z);
    valley_json_number(&j, "tie", d1tr.config.tie);
    json_def1(&j, "train", &d1tr);
    valley_json_object_end(&j);
    valley_json_object(&j, "shift_gap");
    valley_json_string(&j, "interpolation", "linear");
    valley_json_number(&j, "R", gap.config.R);
    valley_json_number(&j, "delta_min", gap.config.delta_min);
    valley_json_number(&j, "delta_max", gap.config.delta_max);
    valley_json_number(&j, "delta_step", gap.config.delta_step);
    valley_json_number(&j, "min_train", gap.min_train);
    valley_json_number(&j, "min_test", gap.min_test);
    valley_json_number(&j, "xi_0", gap.xi0);
    valley_json_number(&j, "delta_star", gap.delta_star);
    valley_json_number(&j, "xi_star", gap.xi_star);
    valley_json_number(&j, "ratio", gap.ratio);
    valley_json_numbers(&j, "delta", gap.delta, gap.n);
    valley_json_numbers(&j, "xi", gap.xi, gap.n);
    valley_json_object_end(&j);
    valley_json_object(&j, "curvature");
    valley_json_bool(&j, "available", curv_ok);
    if (!curv_ok) {
      valley_json_string(&j, "reason", cerr.message);
    } else {
      valley_json_string(&j, "fit_side", both ? "both" : "paper");
      valley_json_number(&j, "window", curv.config.window);
      json_fit(&j, "train", &curv.train);
      json_fit(&j, "test", &curv.test);
      valley_json_number(&j, "shift", curv.shift);
      valley_json_number(&j, "shift_curvature", curv.shift_curvature);
      valley_json_number(&j, "test_at_train_min", curv.test_at_train_min);
      valley_json_number(&j, "test_predicted", curv.test_predicted);
    }
    valley_json_object_end(&j);
    valley_json_end(&j);
  } else {
    printf("valley direction: %s, %zu points, l in [%g, %g]%s\n", a.profile, p.n, p.l[0],
           p.l[p.n - 1], p.train_acc ? ", with accuracies" : "");
    if (p.train_acc) printf("  accuracy at w* (l = 0): train %.6g, test %.6g\n", acc0_tr, acc0_te);
    printf("\nDefinition 1 (slopes: least squares over %zu samples; windows rbar - r >= %g, "
           "r >= %g, >= %zu slopes a side; ranked by c with slopes moved %g s.e.):\n",
           2 * d1tr.config.smooth + 1, d1tr.config.min_width, d1tr.config.r_min,
           d1tr.config.min_points, d1tr.config.z);
    print_def1("train", &d1tr);
    printf("\nDefinition 3 (R = %g, delta in [%g, %g] step %g, linear interpolation):\n",
           gap.config.R, gap.config.delta_min, gap.config.delta_max, gap.config.delta_step);
    printf("  xi_0 = %.6g, delta* = %.6g, xi_delta* = %.6g, xi_delta*/xi_0 = %.4g\n", gap.xi0,
           gap.delta_star, gap.xi_star, gap.ratio);
    if (!curv_ok) {
      printf("\nAppendix F: not available: %s\n", cerr.message);
    } else {
      printf("\nAppendix F (fit c x^2 / 2 on %s, |x| <= %g):\n",
             curv.train.side == 0 ? "both sides" : "the paper's branches", curv.config.window);
      printf("  train: minimum %.6g at l = %.6g, c = %.6g (rms %.3g, %zu points)\n",
             curv.train.y_min, curv.train.l_min, curv.train.c, curv.train.rms, curv.train.points);
      printf("  test:  minimum %.6g at l = %.6g, c = %.6g (rms %.3g, %zu points)\n",
             curv.test.y_min, curv.test.l_min, curv.test.c, curv.test.rms, curv.test.points);
      printf("  shift s = %.6g, shift-curvature s^2 c_test / 2 = %.6g; test loss at the train "
             "minimum %.6g vs min + shift-curvature %.6g\n", curv.shift, curv.shift_curvature,
             curv.test_at_train_min, curv.test_predicted);
    }
    if (a.csv) printf("\n  wrote %s\n", a.csv);
  }
done:
  valley_prof_gap_free(&gap);
  valley_prof_free(&p);
  return rc;
}
