/* Profiles (include/valley/profile.h): the CSV reader and its errors, Definition 1 on a
 * piecewise-linear asymmetric valley with a smooth core (exact, and with noise), the
 * Definition 3 shift gap of a shifted copy, and the Appendix F quadratic fits.  Every tolerance
 * is derived in docs/profiles.md ("Tests"). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "valley/pcg.h"
#include "valley/profile.h"

#define H 0.01
#define NGRID 601 /* l = (i - 300) h on [-3, 3]: l = 0 is a sample */

static double grid_l(size_t i) { return ((double)i - 300.0) * H; }

/* The asymmetric valley of test (a): slope p on the flat side (l > 0) and c p on the sharp side
 * beyond r0, a quadratic core inside, C^1 at +-r0; Lhat(-t) = c Lhat(t). */
static const double R0 = 0.5, P0 = 0.4, C0 = 3.0;
static double valley_a(double l) {
  double t = fabs(l), v = t <= R0 ? P0 * t * t / (2 * R0) : P0 * R0 / 2 + P0 * (t - R0);
  return l >= 0 ? v : C0 * v;
}

static double gauss(valley_pcg32_t *rng) {
  double u1 = valley_pcg32_open01(rng), u2 = valley_pcg32_open01(rng);
  return sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2);
}

/* The least-squares slope of e over samples i-K..i+K on the uniform grid (the same estimator as
 * the library's, written independently for a uniform grid): sum_j j e_{i+j} / (h sum_j j^2). */
static double ls_slope(const double *e, size_t i, size_t K) {
  double num = 0, den = 0;
  for (long j = -(long)K; j <= (long)K; j++) {
    num += (double)j * e[(long)i + j];
    den += (double)(j * j);
  }
  return num / (H * den);
}

static void test_def1_exact(check_t *t) {
  double l[NGRID], y[NGRID], ym[NGRID];
  for (size_t i = 0; i < NGRID; i++) {
    l[i] = grid_l(i);
    y[i] = valley_a(l[i]);
    ym[NGRID - 1 - i] = y[i]; /* the mirror image: flat side on l < 0 */
  }
  valley_prof_def1_config_t cfg;
  valley_prof_def1_config_default(&cfg);
  valley_prof_def1_t d;
  valley_error_t err;
  valley_status_t st = valley_prof_def1(l, y, NGRID, &cfg, &d, &err);
  check(t, st == VALLEY_OK, "def1 runs on the piecewise-linear valley");
  const valley_prof_window_t *b = &d.best;
  check(t, b->valid && b->flat_side == +1, "def1: flat side +l (got %d)", b->flat_side);
  check(t, close_rel(b->c, C0, 1e-9) && close_rel(b->p, P0, 1e-9),
        "def1: c = %.15g (want %g), p = %.15g (want %g): central differences are exact on the "
        "linear arms", b->c, C0, b->p, P0);
  check(t, b->r >= R0 - 1e-12 && b->r <= R0 + H + 1e-12,
        "def1: r = %.15g within one step above r0 = %g", b->r, R0);
  check(t, fabs(b->rbar - (3 - H)) < 1e-12, "def1: rbar = %.15g = the last sample with a slope",
        b->rbar);
  check(t, b->asymmetric && b->asymmetric_conservative, "def1: c > 1 found");
  check(t, fabs(d.config.min_width - 4 * H) < 1e-12, "def1: auto min width = 4 spacings (%g)",
        d.config.min_width);
  check(t, d.noise_sd < 1e-12, "def1: noise estimate %.3g ~ 0 on noise-free data", d.noise_sd);
  /* The widest window with c > 1 reaches into the core: c(window) = c t / r0 at its smallest
   * sharp sample t, > 1 first at t = 0.17. */
  check(t, d.widest.valid && fabs(d.widest.r - 0.17) < 1e-12 && close_rel(d.widest.c, C0 * 0.17 / R0, 1e-9),
        "def1: widest window with c > 1 starts at r = %.15g (want 0.17), c = %.15g (want %.15g)",
        d.widest.r, d.widest.c, C0 * 0.17 / R0);
  /* mirror image */
  st = valley_prof_def1(l, ym, NGRID, &cfg, &d, &err);
  check(t, st == VALLEY_OK && d.best.flat_side == -1 && close_rel(d.best.c, C0, 1e-9) &&
               close_rel(d.best.p, P0, 1e-9),
        "def1 mirrored: flat side -l (got %d), c = %.15g, p = %.15g", d.best.flat_side, d.best.c,
        d.best.p);
  /* A smooth asymmetric valley, a_+ l^2/2 and a_- l^2/2: slopes a t and 3 a t, so a window
   * [t_a, t_b] has c = 3 t_a / t_b; the best has the largest t_a at the minimum width. */
  for (size_t i = 0; i < NGRID; i++) y[i] = l[i] >= 0 ? 0.5 * l[i] * l[i] : 1.5 * l[i] * l[i];
  st = valley_prof_def1(l, y, NGRID, &cfg, &d, &err);
  double tb = 3 - H, ta = tb - 4 * H;
  check(t, st == VALLEY_OK && close_rel(d.best.c, 3 * ta / tb, 1e-9) &&
               fabs(d.best.r - ta) < 1e-12 && fabs(d.best.rbar - tb) < 1e-12,
        "def1 quadratic: best c = %.15g (want 3 t_a / t_b = %.15g) on [%.15g, %.15g]", d.best.c,
        3 * ta / tb, d.best.r, d.best.rbar);
  cfg.smooth = 400;
  check(t, valley_prof_def1(l, y, NGRID, &cfg, &d, &err) == VALLEY_EINVAL,
        "def1: smooth 400 on 601 points rejected: %s", err.message);
  valley_prof_def1_config_default(&cfg);
  check(t, valley_prof_def1(l + 301, y + 301, 300, &cfg, &d, &err) == VALLEY_EINVAL &&
               strstr(err.message, "l = 0") != NULL,
        "def1: a profile without l = 0 inside rejected: %s", err.message);
}

/* (b) noise: Lhat + sigma N(0,1) from PCG32 seed 7.  With E = max |LS slope of the noise| over
 * the samples and s = z se: c_hat >= (cp - E - s) / (p + E + s) (an arm window's conservative
 * c, which the chosen window's c_hat exceeds), and, since Lhat(-t) = c Lhat(t) makes every
 * window's exact ratio <= c and r >= r_min keeps the flat slope >= p r_min / r0 = pm,
 * c_hat <= (c pm + E) / (pm - E). */
static void test_def1_noise(check_t *t) {
  double l[NGRID], y[NGRID], e[NGRID];
  const double sigmas[3] = {1e-5, 1e-4, 1e-3};
  for (int s = 0; s < 3; s++) {
    for (size_t K = 1; K <= 4; K += 3) {
      valley_pcg32_t rng;
      valley_pcg32_seed(&rng, 7, (uint64_t)s);
      for (size_t i = 0; i < NGRID; i++) {
        l[i] = grid_l(i);
        e[i] = sigmas[s] * gauss(&rng);
        y[i] = valley_a(l[i]) + e[i];
      }
      valley_prof_def1_config_t cfg;
      valley_prof_def1_config_default(&cfg);
      cfg.smooth = K;
      cfg.r_min = R0 / 2;
      valley_prof_def1_t d;
      valley_error_t err;
      valley_status_t st = valley_prof_def1(l, y, NGRID, &cfg, &d, &err);
      double E = 0;
      for (size_t i = K; i + K < NGRID; i++) E = fmax(E, fabs(ls_slope(e, i, K)));
      double zs = cfg.z * d.noise_sd / (H * sqrt((double)(K * (K + 1) * (2 * K + 1)) / 3));
      double lo = (C0 * P0 - E - zs) / (P0 + E + zs), pm = P0 * cfg.r_min / R0;
      double hi = E < pm ? (C0 * pm + E) / (pm - E) : INFINITY;
      check(t, st == VALLEY_OK && d.best.valid && d.best.c >= lo && d.best.c <= hi &&
                   d.best.r >= cfg.r_min,
            "def1 noise sigma %g, K %zu: c_hat = %.5g in [%.5g, %.5g] (rel. error %.2g), "
            "c_cons = %.4g, p = %.5g, window [%.3g, %.3g]",
            sigmas[s], K, d.best.c, lo, hi, fabs(d.best.c / C0 - 1), d.best.c_conservative,
            d.best.p, d.best.r, d.best.rbar);
      /* MAD of 598 third differences: relative sd of the estimate ~ 1.67 / sqrt(598) = 7% */
      if (K == 1)
        check(t, fabs(d.noise_sd / sigmas[s] - 1) < 0.25,
              "def1 noise sigma %g: estimated %.4g", sigmas[s], d.noise_sd);
    }
  }
}

/* (c) the test curve is the train curve shifted by s (and raised by 0.3, which Definition 3's
 * L' removes).  Lhat(l) = exp(a l) - a l - 1, a = 0.8. */
static double smooth_f(double x) { return exp(0.8 * x) - 0.8 * x - 1; }

static void make_shifted(valley_prof_t *p, double s) {
  double l[NGRID], tr[NGRID], te[NGRID];
  for (size_t i = 0; i < NGRID; i++) {
    l[i] = grid_l(i);
    tr[i] = smooth_f(l[i]);
    te[i] = smooth_f(l[i] - s) + 0.3;
  }
  valley_error_t err;
  if (valley_prof_from_arrays(NGRID, l, tr, te, NULL, NULL, p, &err) != VALLEY_OK) {
    fprintf(stderr, "%s\n", err.message);
    exit(2);
  }
}

static void test_gap(check_t *t) {
  valley_prof_t p;
  valley_prof_gap_config_t cfg = {0, 0, 0, 0};
  valley_prof_gap_t g;
  valley_error_t err;
  make_shifted(&p, 0.3);
  valley_status_t st = valley_prof_shift_gap(&p, &cfg, &g, &err);
  check(t, st == VALLEY_OK && g.config.R == 1.5 && g.config.delta_min == -1.5 &&
               g.config.delta_max == 1.5 && fabs(g.config.delta_step - H / 2) < 1e-15 && g.n == 601,
        "gap: auto R = %g, delta grid [%g, %g] step %g, %zu points", g.config.R,
        g.config.delta_min, g.config.delta_max, g.config.delta_step, g.n);
  check(t, fabs(g.delta_star - 0.3) < 1e-9 && g.xi_star < 1e-12 && g.ratio < 1e-10 && g.xi0 > 0.1,
        "gap, shift 0.3 on the grid: delta* = %.15g, xi* = %.3g, xi0 = %.4g, ratio %.3g",
        g.delta_star, g.xi_star, g.xi0, g.ratio);
  check(t, fabs(valley_prof_xi(&p, 1.5, 0) - g.xi0) == 0 &&
               isnan(valley_prof_xi(&p, 1.5, 1.6)),
        "gap: valley_prof_xi agrees at 0 and is NaN where the window leaves the profile");
  valley_prof_gap_free(&g);
  valley_prof_free(&p);
  /* off the grid: the nearest grid point is within step/2 = 0.0025, where
   * xi <= 0.0025 max|f'| + (3/8) h^2 max|f''| <= 0.0025 * 1.862 + 0.8e-4 = 0.00473 (max over
   * |v| <= R + 0.0025) */
  const double shifts[2] = {0.2371, -0.4129};
  for (int k = 0; k < 2; k++) {
    make_shifted(&p, shifts[k]);
    st = valley_prof_shift_gap(&p, &cfg, &g, &err);
    check(t, st == VALLEY_OK && fabs(g.delta_star - shifts[k]) <= g.config.delta_step &&
                 g.xi_star <= 0.0048 && g.ratio < 0.05,
          "gap, shift %g off the grid: delta* = %.6g (within step %g), xi* = %.3g <= 0.0048, "
          "xi*/xi0 = %.3g", shifts[k], g.delta_star, g.config.delta_step, g.xi_star, g.ratio);
    valley_prof_gap_free(&g);
    valley_prof_free(&p);
  }
  make_shifted(&p, 0.3);
  valley_prof_gap_config_t badcfg = {3.5, 0, 0, 0};
  check(t, valley_prof_shift_gap(&p, &badcfg, &g, &err) == VALLEY_EINVAL,
        "gap: R beyond the profile rejected: %s", err.message);
  valley_prof_free(&p);
}

/* (d) Appendix F fits. */
static void test_curvature(check_t *t) {
  double l[NGRID], tr[NGRID], te[NGRID];
  for (size_t i = 0; i < NGRID; i++) {
    l[i] = grid_l(i);
    tr[i] = 0.5 * 2 * (l[i] - 0.13) * (l[i] - 0.13) + 0.05;
    te[i] = 0.5 * 5 * (l[i] - 0.61) * (l[i] - 0.61) + 0.4;
  }
  valley_prof_t p;
  valley_error_t err;
  valley_prof_from_arrays(NGRID, l, tr, te, NULL, NULL, &p, &err);
  valley_prof_curv_config_t cfg = {0, 0};
  valley_prof_curv_t c;
  valley_status_t st = valley_prof_curvature(&p, &cfg, &c, &err);
  check(t, st == VALLEY_OK && fabs(c.train.l_min - 0.13) < 1e-12 && fabs(c.test.l_min - 0.61) < 1e-12 &&
               fabs(c.train.y_min - 0.05) < 1e-12 && fabs(c.test.y_min - 0.4) < 1e-12,
        "curvature: refined minima %.15g, %.15g (want 0.13, 0.61): the 3-point parabola is exact",
        c.train.l_min, c.test.l_min);
  check(t, close_rel(c.train.c, 2, 1e-9) && close_rel(c.test.c, 5, 1e-9) && c.train.rms < 1e-12,
        "curvature: c_train = %.15g (want 2), c_test = %.15g (want 5)", c.train.c, c.test.c);
  check(t, c.train.side == -1 && c.test.side == -1 && fabs(c.config.window - 3.13) < 1e-12,
        "curvature: s > 0 fits the l < l_min branches (side %d, %d), window %.15g = 3.13",
        c.train.side, c.test.side, c.config.window);
  check(t, close_rel(c.shift, 0.48, 1e-12) && close_rel(c.shift_curvature, 0.576, 1e-10),
        "curvature: s = %.15g (0.48), shift-curvature = %.15g (0.576)", c.shift, c.shift_curvature);
  /* the linear interpolation error at l_min(train) is at most h^2 c_test / 8 = 6.3e-5 */
  check(t, fabs(c.test_at_train_min - 0.976) < 6.3e-5 && fabs(c.test_predicted - 0.976) < 1e-10,
        "curvature: test at the train minimum %.10g, predicted %.10g (0.976)",
        c.test_at_train_min, c.test_predicted);
  valley_prof_free(&p);
  /* Asymmetric curves: the paper's branches.  Test minimum at 0.6 (a sample), curvature 3 on
   * the left and 1 on the right; train at 0, 2 on the left and 7 on the right.  s > 0: both fits
   * use the left branches, so 3 and 2, not 1 and 7.  The three-point vertex at a kink is off by
   * e = h (a_L - a_R) / (2 (a_L + a_R)): +h/4 for the test curve, -5h/18 for the train curve, so
   * s = 0.6 + h/4 + 5h/18; the fits then err by ~2.5 |e| / W < 0.3%. */
  for (size_t i = 0; i < NGRID; i++) {
    double x = l[i] - 0.6;
    te[i] = 0.5 * (x < 0 ? 3 : 1) * x * x;
    tr[i] = 0.5 * (l[i] < 0 ? 2 : 7) * l[i] * l[i];
  }
  valley_prof_from_arrays(NGRID, l, tr, te, NULL, NULL, &p, &err);
  st = valley_prof_curvature(&p, &cfg, &c, &err);
  check(t, st == VALLEY_OK && close_rel(c.test.c, 3, 0.01) && close_rel(c.train.c, 2, 0.01) &&
               fabs(c.shift - (0.6 + H / 4 + 5 * H / 18)) < 1e-9,
        "curvature, asymmetric: c_test = %.6g (3), c_train = %.6g (2), s = %.9g (0.6 + h/4 + "
        "5h/18 = %.9g)", c.test.c, c.train.c, c.shift, 0.6 + H / 4 + 5 * H / 18);
  cfg.both_sides = 1;
  st = valley_prof_curvature(&p, &cfg, &c, &err);
  check(t, st == VALLEY_OK && c.test.side == 0 && c.test.c > 1.2 && c.test.c < 2.8,
        "curvature, both sides: c_test = %.4g lies between the branches' 1 and 3", c.test.c);
  valley_prof_free(&p);
  for (size_t i = 0; i < NGRID; i++) te[i] = -l[i];
  valley_prof_from_arrays(NGRID, l, tr, te, NULL, NULL, &p, &err);
  st = valley_prof_curvature(&p, &cfg, &c, &err);
  check(t, st == VALLEY_EDOM && strstr(err.message, "edge") != NULL,
        "curvature: a test minimum at the edge is EDOM: %s", err.message);
  valley_prof_free(&p);
}

/* (e) the reader */
static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    perror(path);
    exit(2);
  }
  fputs(text, f);
  fclose(f);
}

static const char GOOD5[] = "0.1,0.2,0.3\n0.2,0.2,0.3\n0.3,0.2,0.3\n0.4,0.2,0.3\n";

static void test_reader(check_t *t, const char *dir) {
  char path[512];
  valley_prof_t p;
  valley_error_t err;
  struct {
    const char *name, *text, *want;
  } bad[] = {
      {"nan.csv", "l,train_loss,test_loss\n0,1,2\n0.1,1,nan\n", ":3: test_loss = 'nan' is not finite"},
      {"inf.csv", "l,train_loss,test_loss\n0,1,2\n0.1,-inf,2\n", ":3: train_loss = '-inf' is not finite"},
      {"mono.csv", "l,train_loss,test_loss\n# c\n0,1,2\n0.1,1,2\n0.1,1,2\n", ":5: l = 0.10000000000000001 is not greater than l = 0.10000000000000001 on line 4"},
      {"few.csv", "l,train_loss,test_loss\n0,1,2\n0.1,1,2\n0.2,1,2\n0.3,1,2\n", "4 data points; a profile needs at least 5"},
      {"nocol.csv", "l,train_loss,test\n0,1,2\n", ":1: the header has no 'test_loss' column"},
      {"word.csv", "l,train_loss,test_loss\n0,1,2\n0.1,abc,2\n", ":3: train_loss = 'abc' is not a number"},
      {"empty_field.csv", "l,train_loss,test_loss\n0,,2\n", ":2: train_loss is empty"},
      {"ragged.csv", "l,train_loss,test_loss\n0,1,2\n0.1,1\n", ":3: 2 fields, but the header has 3"},
      {"twice.csv", "l,train_loss,test_loss,l\n0,1,2,3\n", ":1: column 'l' appears twice"},
      {"oneacc.csv", "l,train_loss,test_loss,train_acc\n0,1,2,3\n", ":1: the header has 'train_acc' without 'test_acc'"},
      {"empty.csv", "# only a comment\n\n", "no header line (the file has no data)"},
      {"noheader.csv", GOOD5, ":1: no header line"},
      {"acc_nan.csv", "l,train_loss,test_loss,train_acc,test_acc\n0,1,2,0.5,NaN\n", ":2: test_acc = 'NaN' is not finite"},
  };
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    snprintf(path, sizeof path, "%s/%s", dir, bad[k].name);
    write_file(path, bad[k].text);
    valley_status_t st = valley_prof_read(path, &p, &err);
    check(t, st == VALLEY_EINVAL && strstr(err.message, path) == err.message &&
                 strstr(err.message, bad[k].want) != NULL && p.n == 0 && p.l == NULL,
          "reader rejects %s: %s", bad[k].name, err.message);
  }
  snprintf(path, sizeof path, "%s/missing.csv", dir);
  check(t, valley_prof_read(path, &p, &err) == VALLEY_EINVAL && strstr(err.message, path) &&
               strstr(err.message, "cannot open"),
        "reader rejects a missing file: %s", err.message);
  /* columns in any order, extra columns ignored, comments, blank lines, CRLF, spaces */
  snprintf(path, sizeof path, "%s/good.csv", dir);
  write_file(path, "\xEF\xBB\xBF# from a framework\r\nepoch, test_acc,test_loss,l,train_loss,train_acc\r\n"
                   "1,0.9,2.5,-0.2,1.5,0.95\r\n\r\n1,0.9,2.4,-0.1,1.4,0.96\r\n# mid\n"
                   "1, 0.91 ,2.3,0,1.3,0.97\n1,0.9,2.4,0.1,1.4,0.96\n1,0.9,2.5,0.2,1e0,0.95\n");
  valley_status_t st = valley_prof_read(path, &p, &err);
  check(t, st == VALLEY_OK && p.n == 5 && p.l[0] == -0.2 && p.l[4] == 0.2 && p.train[4] == 1.0 &&
               p.test[2] == 2.3 && p.train_acc && p.train_acc[2] == 0.97 && p.test_acc[2] == 0.91,
        "reader: columns by name in any order, comments, CRLF, spaces, a byte order mark (%s)",
        st == VALLEY_OK ? "ok" : err.message);
  /* round trip through the writer, bit for bit */
  snprintf(path, sizeof path, "%s/rt.csv", dir);
  FILE *f = fopen(path, "w");
  valley_prof_t q = {0};
  if (f && st == VALLEY_OK) {
    p.train[1] = 0.1 + 0.2; /* a value that needs 17 digits */
    valley_prof_write(f, "round trip", &p);
    fclose(f);
    st = valley_prof_read(path, &q, &err);
  }
  int same = st == VALLEY_OK && q.n == p.n;
  for (size_t i = 0; same && i < p.n; i++)
    same = q.l[i] == p.l[i] && q.train[i] == p.train[i] && q.test[i] == p.test[i] &&
           q.train_acc[i] == p.train_acc[i] && q.test_acc[i] == p.test_acc[i];
  check(t, same, "writer -> reader round trip is exact");
  valley_prof_free(&p);
  valley_prof_free(&q);
  double l[5] = {0, 1, 2, 3, 4}, y[5] = {0, 1, NAN, 3, 4};
  check(t, valley_prof_from_arrays(5, l, l, y, NULL, NULL, &p, &err) == VALLEY_EINVAL &&
               strstr(err.message, "point 2: test_loss is not finite") && p.l == NULL,
        "from_arrays rejects NaN: %s", err.message);
  for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
    snprintf(path, sizeof path, "%s/%s", dir, bad[k].name);
    unlink(path);
  }
  const char *mine[2] = {"good.csv", "rt.csv"};
  for (int k = 0; k < 2; k++) {
    snprintf(path, sizeof path, "%s/%s", dir, mine[k]);
    unlink(path);
  }
}

int main(void) {
  check_t t = {0, 0};
  clock_t t0 = clock();
  char dir[] = "/tmp/valley_test_profile.XXXXXX";
  if (mkdtemp(dir) == NULL) {
    perror("mkdtemp");
    return 2;
  }
  test_def1_exact(&t);
  test_def1_noise(&t);
  test_gap(&t);
  test_curvature(&t);
  test_reader(&t, dir);
  if (rmdir(dir) != 0) perror(dir);
  printf("cpu time %.3f s\n", (double)(clock() - t0) / CLOCKS_PER_SEC);
  return check_done(&t);
}
