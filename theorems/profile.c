/* 1-D profiles (include/valley/profile.h, docs/profiles.md): the CSV reader, Definition 1 by a
 * window search over finite-difference slopes and the shift gap of Definition 3 (He, Huang, Yuan
 * 2019, Sec. 3.1, 4.1, 4.2), and the symmetrized quadratic fits of the shift-curvature paper
 * (Appendix F, Figure 1). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "valley/profile.h"
#include "valley/outfile.h"

/* ---- reading -------------------------------------------------------------------------------- */

enum { COL_L, COL_TRAIN, COL_TEST, COL_TRAIN_ACC, COL_TEST_ACC, NCOLS };
static const char *const COL_NAMES[NCOLS] = {"l", "train_loss", "test_loss", "train_acc",
                                             "test_acc"};

void valley_prof_free(valley_prof_t *p) {
  free(p->l);
  free(p->train);
  free(p->test);
  free(p->train_acc);
  free(p->test_acc);
  memset(p, 0, sizeof *p);
}

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  char *e = s + strlen(s);
  while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n')) e--;
  *e = '\0';
  return s;
}

/* Splits s in place at commas into at most max fields (trimmed); returns the field count, which
 * may exceed max (the extra fields are not stored). */
static size_t split(char *s, char **fields, size_t max) {
  size_t n = 0;
  for (;;) {
    char *comma = strchr(s, ',');
    if (comma) *comma = '\0';
    if (n < max) fields[n] = trim(s);
    n++;
    if (!comma) return n;
    s = comma + 1;
  }
}

static int is_number(const char *s, double *v) {
  char *end;
  errno = 0;
  *v = strtod(s, &end);
  return end != s && *end == '\0';
}

/* The checks shared by the reader and valley_prof_from_arrays, on samples [0, n). */
static valley_status_t check_samples(const valley_prof_t *p, const char *where,
                                     valley_error_t *err) {
  if (p->n < VALLEY_PROF_MIN_POINTS)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%s: %zu data points; a profile needs at least %d",
                        where, p->n, VALLEY_PROF_MIN_POINTS);
  const double *cols[NCOLS] = {p->l, p->train, p->test, p->train_acc, p->test_acc};
  for (size_t i = 0; i < p->n; i++) {
    for (int c = 0; c < NCOLS; c++)
      if (cols[c] && !isfinite(cols[c][i]))
        return VALLEY_ERROR(err, VALLEY_EINVAL, "%s: point %zu: %s is not finite (%g)", where, i,
                            COL_NAMES[c], cols[c][i]);
    if (i > 0 && !(p->l[i] > p->l[i - 1]))
      return VALLEY_ERROR(err, VALLEY_EINVAL,
                          "%s: point %zu: l = %.17g is not greater than the previous l = %.17g "
                          "(l must be strictly increasing)", where, i, p->l[i], p->l[i - 1]);
    /* The fits raise l to the fourth power and square the losses and the slopes: beyond these
     * bounds their sums overflow or underflow (tests/test_numerics.sh tries the corners). */
    for (int c = 0; c < NCOLS; c++) {
      double lim = c == 0 ? 1e25 : 1e50;
      if (cols[c] && fabs(cols[c][i]) > lim)
        return VALLEY_ERROR(err, VALLEY_EINVAL, "%s: point %zu: %s = %g is beyond %g in "
                            "magnitude, where the fits would overflow", where, i, COL_NAMES[c],
                            cols[c][i], lim);
    }
    if (i > 0 && p->l[i] - p->l[i - 1] < 1e-25)
      return VALLEY_ERROR(err, VALLEY_EINVAL, "%s: point %zu: the step in l (%g) is below 1e-25, "
                          "where the fits would underflow", where, i, p->l[i] - p->l[i - 1]);
  }
  return VALLEY_OK;
}

static valley_status_t alloc_columns(valley_prof_t *p, size_t cap, int acc) {
  double **cols[NCOLS] = {&p->l, &p->train, &p->test, &p->train_acc, &p->test_acc};
  for (int c = 0; c < (acc ? NCOLS : 3); c++) {
    double *q = realloc(*cols[c], cap * sizeof *q);
    if (q == NULL) return VALLEY_ENOMEM;
    *cols[c] = q;
  }
  return VALLEY_OK;
}

valley_status_t valley_prof_from_arrays(size_t n, const double *l, const double *train,
                                        const double *test, const double *train_acc,
                                        const double *test_acc, valley_prof_t *p,
                                        valley_error_t *err) {
  memset(p, 0, sizeof *p);
  if ((train_acc == NULL) != (test_acc == NULL))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "profile: give train_acc and test_acc, or neither");
  int acc = train_acc != NULL;
  if (n < VALLEY_PROF_MIN_POINTS)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "profile: %zu data points; a profile needs at least %d",
                        n, VALLEY_PROF_MIN_POINTS);
  if (alloc_columns(p, n, acc) != VALLEY_OK) {
    valley_prof_free(p);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "profile: out of memory for %zu points", n);
  }
  p->n = n;
  const double *src[NCOLS] = {l, train, test, train_acc, test_acc};
  double *dst[NCOLS] = {p->l, p->train, p->test, p->train_acc, p->test_acc};
  for (int c = 0; c < (acc ? NCOLS : 3); c++) memcpy(dst[c], src[c], n * sizeof *dst[c]);
  valley_status_t st = check_samples(p, "profile", err);
  if (st != VALLEY_OK) valley_prof_free(p);
  return st;
}

#define READ_ERR(...)                                        \
  do {                                                       \
    st = VALLEY_ERROR(err, VALLEY_EINVAL, __VA_ARGS__);      \
    goto done;                                               \
  } while (0)

valley_status_t valley_prof_read(const char *path, valley_prof_t *p, valley_error_t *err) {
  memset(p, 0, sizeof *p);
  FILE *f = valley_fopen_read(path, "r");
  if (f == NULL)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%s: cannot open: %s", path, strerror(errno));
  valley_status_t st = VALLEY_OK;
  char *line = NULL, **fields = NULL;
  size_t linecap = 0, nfields = 0, cap = 0;
  long lineno = 0, line_of_prev = 0;
  int col[NCOLS] = {-1, -1, -1, -1, -1}, acc = 0, have_header = 0;
  while (getline(&line, &linecap, f) != -1) {
    lineno++;
    char *s = line;
    if (lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0) s += 3; /* a UTF-8 byte order mark */
    s = trim(s);
    if (*s == '\0' || *s == '#') continue;
    if (!have_header) {
      nfields = 1;
      for (const char *q = s; *q; q++) nfields += *q == ',';
      fields = malloc(nfields * sizeof *fields);
      if (fields == NULL) {
        st = VALLEY_ERROR(err, VALLEY_ENOMEM, "%s: out of memory", path);
        goto done;
      }
      split(s, fields, nfields);
      double v;
      if (is_number(fields[0], &v))
        READ_ERR("%s:%ld: no header line (the first line is numbers; need a header naming l, "
                 "train_loss, test_loss)", path, lineno);
      for (size_t k = 0; k < nfields; k++)
        for (int c = 0; c < NCOLS; c++)
          if (strcmp(fields[k], COL_NAMES[c]) == 0) {
            if (col[c] >= 0)
              READ_ERR("%s:%ld: column '%s' appears twice", path, lineno, COL_NAMES[c]);
            col[c] = (int)k;
          }
      for (int c = 0; c < 3; c++)
        if (col[c] < 0)
          READ_ERR("%s:%ld: the header has no '%s' column (need l, train_loss, test_loss)", path,
                   lineno, COL_NAMES[c]);
      if ((col[COL_TRAIN_ACC] < 0) != (col[COL_TEST_ACC] < 0))
        READ_ERR("%s:%ld: the header has '%s' without '%s' (give both accuracies or neither)",
                 path, lineno, col[COL_TRAIN_ACC] < 0 ? "test_acc" : "train_acc",
                 col[COL_TRAIN_ACC] < 0 ? "train_acc" : "test_acc");
      acc = col[COL_TRAIN_ACC] >= 0;
      have_header = 1;
      continue;
    }
    size_t nf = split(s, fields, nfields);
    if (nf != nfields)
      READ_ERR("%s:%ld: %zu fields, but the header has %zu", path, lineno, nf, nfields);
    if (p->n == cap) {
      cap = cap ? 2 * cap : 256;
      if (alloc_columns(p, cap, acc) != VALLEY_OK) {
        st = VALLEY_ERROR(err, VALLEY_ENOMEM, "%s: out of memory at line %ld", path, lineno);
        goto done;
      }
    }
    double *dst[NCOLS] = {p->l, p->train, p->test, p->train_acc, p->test_acc};
    for (int c = 0; c < (acc ? NCOLS : 3); c++) {
      const char *txt = fields[col[c]];
      double v;
      if (*txt == '\0') READ_ERR("%s:%ld: %s is empty", path, lineno, COL_NAMES[c]);
      if (!is_number(txt, &v))
        READ_ERR("%s:%ld: %s = '%s' is not a number", path, lineno, COL_NAMES[c], txt);
      if (!isfinite(v))
        READ_ERR("%s:%ld: %s = '%s' is not finite", path, lineno, COL_NAMES[c], txt);
      dst[c][p->n] = v;
    }
    if (p->n > 0 && !(p->l[p->n] > p->l[p->n - 1]))
      READ_ERR("%s:%ld: l = %.17g is not greater than l = %.17g on line %ld (l must be strictly "
               "increasing)", path, lineno, p->l[p->n], p->l[p->n - 1], line_of_prev);
    line_of_prev = lineno;
    p->n++;
  }
  if (ferror(f)) {
    st = VALLEY_ERROR(err, VALLEY_EIO, "%s: read error: %s", path, strerror(errno));
    goto done;
  }
  if (!have_header) READ_ERR("%s: no header line (the file has no data)", path);
  st = check_samples(p, path, err);
done:
  free(line);
  free(fields);
  fclose(f);
  if (st != VALLEY_OK) valley_prof_free(p);
  return st;
}

void valley_prof_write(FILE *f, const char *comment, const valley_prof_t *p) {
  if (comment != NULL) fprintf(f, "# %s\n", comment);
  fprintf(f, "l,train_loss,test_loss%s\n", p->train_acc ? ",train_acc,test_acc" : "");
  for (size_t i = 0; i < p->n; i++) {
    fprintf(f, "%.17g,%.17g,%.17g", p->l[i], p->train[i], p->test[i]);
    if (p->train_acc) fprintf(f, ",%.17g,%.17g", p->train_acc[i], p->test_acc[i]);
    fputc('\n', f);
  }
}

double valley_prof_interp(const double *l, const double *y, size_t n, double x) {
  /* a rounding allowance at the ends, so grids computed as lo + k h reach them */
  double tol = 1e-12 * (l[n - 1] - l[0]);
  if (!(x >= l[0] - tol && x <= l[n - 1] + tol)) return NAN;
  if (x <= l[0]) return y[0];
  if (x >= l[n - 1]) return y[n - 1];
  size_t lo = 0, hi = n - 1; /* l[lo] <= x < l[hi] */
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (l[mid] <= x)
      lo = mid;
    else
      hi = mid;
  }
  return y[lo] + (y[hi] - y[lo]) * ((x - l[lo]) / (l[hi] - l[lo]));
}

static double median_spacing(const double *l, size_t n, double *work) {
  for (size_t i = 0; i + 1 < n; i++) work[i] = l[i + 1] - l[i];
  gsl_sort(work, 1, n - 1);
  return gsl_stats_median_from_sorted_data(work, 1, n - 1);
}

/* ---- Definition 1 ---------------------------------------------------------------------------- */

void valley_prof_def1_config_default(valley_prof_def1_config_t *cfg) {
  cfg->smooth = 1;
  cfg->min_width = 0;
  cfg->r_min = 0;
  cfg->min_points = 3;
  cfg->z = 2;
  cfg->tie = 1e-9;
}

/* Noise sd of y: 1.4826 MAD of the third divided differences, each divided by its noise sd
 * (sigma sqrt(sum w_j^2)); smooth curves contribute O(h^3 y''') and kinks only a few outliers. */
static double noise_sd(const double *l, const double *y, size_t n, double *work) {
  size_t m = n - 3;
  for (size_t i = 0; i < m; i++) {
    double d = 0, s2 = 0;
    for (size_t j = 0; j < 4; j++) {
      double w = 1;
      for (size_t k = 0; k < 4; k++)
        if (k != j) w *= l[i + j] - l[i + k];
      d += y[i + j] / w;
      s2 += 1 / (w * w);
    }
    work[i] = d / sqrt(s2);
  }
  gsl_sort(work, 1, m);
  double med = gsl_stats_median_from_sorted_data(work, 1, m);
  for (size_t i = 0; i < m; i++) work[i] = fabs(work[i] - med);
  gsl_sort(work, 1, m);
  return 1.482602218505602 * gsl_stats_median_from_sorted_data(work, 1, m);
}

typedef struct {
  double t;        /* distance from w*: |l| */
  double g, gp, gm; /* outward slope, and +- z standard errors */
} side_pt_t;

/* Running extremes of one side's slopes over a window. */
typedef struct {
  double max_g, min_g, max_gp, min_gm;
  size_t n;
} side_acc_t;

static void acc_reset(side_acc_t *a) {
  a->max_g = a->max_gp = -INFINITY;
  a->min_g = a->min_gm = INFINITY;
  a->n = 0;
}

static void acc_add(side_acc_t *a, const side_pt_t *q) {
  a->max_g = fmax(a->max_g, q->g);
  a->min_g = fmin(a->min_g, q->g);
  a->max_gp = fmax(a->max_gp, q->gp);
  a->min_gm = fmin(a->min_gm, q->gm);
  a->n++;
}

/* Definition 1's c from the tightest constants: NaN when cp <= 0 (no c > 0 can hold), +inf when
 * p <= 0 < cp (every p > 0 holds on the flat side, so every c does). */
static double def1_ratio(double cp, double p) {
  if (!(cp > 0)) return NAN;
  return p > 0 ? cp / p : INFINITY;
}

static int near(double a, double b, double tie) {
  return a == b || fabs(a - b) <= tie * fmax(fabs(a), fabs(b));
}

static void window_fill(valley_prof_window_t *w, int side, double r, double rbar,
                        const side_acc_t *flat, const side_acc_t *sharp) {
  w->valid = 1;
  w->flat_side = side;
  w->r = r;
  w->rbar = rbar;
  w->p = flat->max_g;
  w->cp = sharp->min_g;
  w->c = def1_ratio(w->cp, w->p);
  w->p_hi = flat->max_gp;
  w->cp_lo = sharp->min_gm;
  w->c_conservative = def1_ratio(w->cp_lo, w->p_hi);
  w->asymmetric = w->c > 1;
  w->asymmetric_conservative = w->c_conservative > 1;
  w->n_flat = flat->n;
  w->n_sharp = sharp->n;
}

static void window_invalid(valley_prof_window_t *w) {
  memset(w, 0, sizeof *w);
  w->r = w->rbar = w->p = w->cp = w->c = w->p_hi = w->cp_lo = w->c_conservative = NAN;
}

/* The ranking key: c_conservative, or 0 where the conservative sharp slope is not positive. */
static double rank_key(const valley_prof_window_t *w) {
  return isnan(w->c_conservative) ? 0 : w->c_conservative;
}

static void consider(valley_prof_def1_t *out, int side, double r, double rbar,
                     const side_acc_t *flat, const side_acc_t *sharp, double tie) {
  out->windows++;
  if (!(sharp->min_g > 0)) return; /* no c > 0: not a candidate */
  valley_prof_window_t w;
  window_fill(&w, side, r, rbar, flat, sharp);
  double k = rank_key(&w), width = rbar - r;
  valley_prof_window_t *b = &out->best;
  if (!b->valid) {
    *b = w;
  } else {
    double kb = rank_key(b);
    if (near(k, kb, tie) ? width > b->rbar - b->r : k > kb) *b = w;
  }
  if (k > 1) {
    valley_prof_window_t *v = &out->widest;
    double wv = v->rbar - v->r;
    if (!v->valid || width > wv || (width == wv && k > rank_key(v))) *v = w;
  }
}

valley_status_t valley_prof_def1(const double *l, const double *y, size_t n,
                                 const valley_prof_def1_config_t *cfg,
                                 valley_prof_def1_t *out, valley_error_t *err) {
  memset(out, 0, sizeof *out);
  window_invalid(&out->best);
  window_invalid(&out->widest);
  out->noise_sd = out->slope_se = out->slope_abs = NAN;
  out->config = *cfg;
  if (n < VALLEY_PROF_MIN_POINTS)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "Definition 1: %zu points; need at least %d", n,
                        VALLEY_PROF_MIN_POINTS);
  if (!(l[0] < 0 && l[n - 1] > 0))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "Definition 1: the profile must have l = 0 (w*) "
                        "strictly inside [%g, %g]", l[0], l[n - 1]);
  if (cfg->smooth < 1 || 2 * cfg->smooth + 1 > n)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "Definition 1: smooth K = %zu must be >= 1 with "
                        "2K + 1 <= %zu points", cfg->smooth, n);
  if (!(cfg->min_width >= 0) || !isfinite(cfg->min_width) || !(cfg->r_min >= 0) ||
      !isfinite(cfg->r_min) || cfg->min_points < 1 || !(cfg->z >= 0) || !isfinite(cfg->z) ||
      !(cfg->tie >= 0 && cfg->tie < 1))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "Definition 1: need min_width >= 0, r_min >= 0, "
                        "min_points >= 1, z >= 0 and 0 <= tie < 1");
  size_t K = cfg->smooth;
  double *work = malloc(n * sizeof *work);
  side_pt_t *pos = malloc(n * sizeof *pos), *neg = malloc(n * sizeof *neg);
  double *T = malloc(2 * n * sizeof *T);
  if (work == NULL || pos == NULL || neg == NULL || T == NULL) {
    free(work);
    free(pos);
    free(neg);
    free(T);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "Definition 1: out of memory for %zu points", n);
  }
  if (cfg->min_width == 0) out->config.min_width = 4 * median_spacing(l, n, work);
  double sigma = noise_sd(l, y, n, work);
  out->noise_sd = sigma;
  /* slopes: least squares over i-K..i+K */
  size_t np = 0, nn = 0, ns = 0;
  for (size_t i = K; i + K < n; i++) {
    double xb = 0, yb = 0;
    for (size_t j = i - K; j <= i + K; j++) {
      xb += l[j];
      yb += y[j];
    }
    xb /= (double)(2 * K + 1);
    yb /= (double)(2 * K + 1);
    double sxx = 0, sxy = 0;
    for (size_t j = i - K; j <= i + K; j++) {
      sxx += (l[j] - xb) * (l[j] - xb);
      sxy += (l[j] - xb) * (y[j] - yb);
    }
    double g = sxy / sxx, se = sigma / sqrt(sxx), zs = cfg->z * se;
    work[ns] = se;
    T[ns++] = fabs(g);
    if (l[i] > 0) pos[np++] = (side_pt_t){l[i], g, g + zs, g - zs};
    if (l[i] < 0) neg[nn++] = (side_pt_t){-l[i], -g, -g + zs, -g - zs};
  }
  out->slopes = np + nn;
  gsl_sort(work, 1, ns);
  out->slope_se = gsl_stats_median_from_sorted_data(work, 1, ns);
  gsl_sort(T, 1, ns);
  out->slope_abs = gsl_stats_median_from_sorted_data(T, 1, ns);
  /* neg was filled outward-in: reverse to increasing distance */
  for (size_t i = 0; i < nn / 2; i++) {
    side_pt_t tmp = neg[i];
    neg[i] = neg[nn - 1 - i];
    neg[nn - 1 - i] = tmp;
  }
  /* candidate ends: the distinct distances of both sides, merged */
  size_t nt = 0, a = 0, b = 0;
  while (a < np || b < nn) {
    double t = (b >= nn || (a < np && pos[a].t <= neg[b].t)) ? pos[a++].t : neg[b++].t;
    if (nt == 0 || t > T[nt - 1]) T[nt++] = t;
  }
  double wmin = out->config.min_width * (1 - 1e-9);
  size_t ip = 0, in = 0; /* first samples at distance >= T[i] */
  for (size_t i = 0; i < nt; i++) {
    while (ip < np && pos[ip].t < T[i]) ip++;
    while (in < nn && neg[in].t < T[i]) in++;
    if (T[i] < cfg->r_min) continue;
    side_acc_t P, N;
    acc_reset(&P);
    acc_reset(&N);
    size_t jp = ip, jn = in;
    for (size_t j = i; j < nt; j++) {
      while (jp < np && pos[jp].t <= T[j]) acc_add(&P, &pos[jp++]);
      while (jn < nn && neg[jn].t <= T[j]) acc_add(&N, &neg[jn++]);
      if (T[j] - T[i] < wmin || P.n < cfg->min_points || N.n < cfg->min_points) continue;
      consider(out, +1, T[i], T[j], &P, &N, cfg->tie);
      consider(out, -1, T[i], T[j], &N, &P, cfg->tie);
    }
  }
  free(work);
  free(pos);
  free(neg);
  free(T);
  return VALLEY_OK;
}

/* ---- Definition 3 ---------------------------------------------------------------------------- */

static double min_of(const double *y, size_t n) {
  double m = y[0];
  for (size_t i = 1; i < n; i++) m = fmin(m, y[i]);
  return m;
}

/* The first index with l[i] > x (n when none). */
static size_t first_above(const double *l, size_t n, double x) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (l[mid] > x)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

/* Linear interpolation at nondecreasing x (valley_prof_interp's formula, found by walking). */
typedef struct {
  const double *l, *y;
  size_t n, j;
} walk_t;

static double walk_at(walk_t *w, double x) {
  const double *l = w->l, *y = w->y;
  if (x <= l[0]) return y[0];
  if (x >= l[w->n - 1]) return y[w->n - 1];
  while (l[w->j + 1] <= x) w->j++;
  size_t lo = w->j, hi = lo + 1;
  return y[lo] + (y[hi] - y[lo]) * ((x - l[lo]) / (l[hi] - l[lo]));
}

/* max over |v| <= R of |L'(v + delta) - Lhat(v)|: the difference of two piecewise-linear
 * interpolants is piecewise linear, so its largest modulus is at v = +-R, a train sample in
 * (-R, R) or a test sample l_k - delta in (-R, R). */
static double xi_at(const valley_prof_t *p, double mtr, double mte, double R, double delta) {
  const double *l = p->l;
  size_t n = p->n;
  double tol = 1e-12 * (l[n - 1] - l[0]);
  if (-R < l[0] - tol || R > l[n - 1] + tol || delta - R < l[0] - tol || delta + R > l[n - 1] + tol)
    return NAN;
  double vs[2] = {-R, R}, xi = 0;
  for (int k = 0; k < 2; k++) {
    double f = (valley_prof_interp(l, p->test, n, vs[k] + delta) - mte) -
               (valley_prof_interp(l, p->train, n, vs[k]) - mtr);
    xi = fmax(xi, fabs(f));
  }
  /* walkers start one sample below their first point */
  size_t a = first_above(l, n, -R), b = first_above(l, n, delta - R);
  walk_t te = {l, p->test, n, b > 0 ? b - 1 : 0}, tr = {l, p->train, n, a > 0 ? a - 1 : 0};
  for (size_t i = a; i < n && l[i] < R; i++) {
    if (l[i] <= -R) continue;
    double f = (walk_at(&te, l[i] + delta) - mte) - (p->train[i] - mtr);
    xi = fmax(xi, fabs(f));
  }
  for (size_t i = b; i < n; i++) {
    double v = l[i] - delta;
    if (v >= R) break;
    if (v <= -R) continue;
    double f = (p->test[i] - mte) - (walk_at(&tr, v) - mtr);
    xi = fmax(xi, fabs(f));
  }
  return xi;
}

double valley_prof_xi(const valley_prof_t *p, double R, double delta) {
  return xi_at(p, min_of(p->train, p->n), min_of(p->test, p->n), R, delta);
}

void valley_prof_gap_free(valley_prof_gap_t *g) {
  free(g->delta);
  free(g->xi);
  g->delta = g->xi = NULL;
  g->n = 0;
}

valley_status_t valley_prof_shift_gap(const valley_prof_t *p,
                                      const valley_prof_gap_config_t *cfg,
                                      valley_prof_gap_t *out, valley_error_t *err) {
  memset(out, 0, sizeof *out);
  const double *l = p->l;
  size_t n = p->n;
  if (n < VALLEY_PROF_MIN_POINTS || !(l[0] < 0 && l[n - 1] > 0))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "Definition 3: the profile must have at least %d "
                        "points and l = 0 (w*) strictly inside", VALLEY_PROF_MIN_POINTS);
  valley_prof_gap_config_t c = *cfg;
  double reach = fmin(-l[0], l[n - 1]);
  if (c.R == 0) c.R = 0.5 * reach;
  if (!(c.R > 0) || !(c.R <= reach))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "Definition 3: R = %g must be in (0, %g] so that "
                        "[-R, R] lies in the profile [%g, %g]", c.R, reach, l[0], l[n - 1]);
  if (c.delta_min == 0 && c.delta_max == 0) {
    c.delta_min = l[0] + c.R;
    c.delta_max = l[n - 1] - c.R;
  }
  double *work = malloc(n * sizeof *work);
  if (work == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "Definition 3: out of memory");
  if (c.delta_step == 0) c.delta_step = 0.5 * median_spacing(l, n, work);
  free(work);
  if (!isfinite(c.delta_min) || !isfinite(c.delta_max) || !(c.delta_min <= c.delta_max) ||
      !(c.delta_step > 0) || !isfinite(c.delta_step))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "Definition 3: need delta_min <= delta_max and "
                        "delta_step > 0 (got %g, %g, %g)", c.delta_min, c.delta_max, c.delta_step);
  double steps = floor((c.delta_max - c.delta_min) / c.delta_step * (1 + 1e-12));
  if (!(steps < 1e7))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "Definition 3: %g grid points of delta (at most "
                        "1e7)", steps + 1);
  out->config = c;
  out->n = (size_t)steps + 1;
  out->delta = malloc(out->n * sizeof *out->delta);
  out->xi = malloc(out->n * sizeof *out->xi);
  if (out->delta == NULL || out->xi == NULL) {
    valley_prof_gap_free(out);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "Definition 3: out of memory for %g deltas", steps + 1);
  }
  out->min_train = min_of(p->train, n);
  out->min_test = min_of(p->test, n);
  out->xi0 = xi_at(p, out->min_train, out->min_test, c.R, 0);
  out->delta_star = out->xi_star = NAN;
  for (size_t k = 0; k < out->n; k++) {
    out->delta[k] = c.delta_min + (double)k * c.delta_step;
    out->xi[k] = xi_at(p, out->min_train, out->min_test, c.R, out->delta[k]);
    if (out->xi[k] < out->xi_star || (isnan(out->xi_star) && !isnan(out->xi[k]))) {
      out->xi_star = out->xi[k];
      out->delta_star = out->delta[k];
    }
  }
  out->ratio = out->xi0 > 0 ? out->xi_star / out->xi0 : NAN;
  return VALLEY_OK;
}

void valley_prof_gap_write(FILE *f, const char *comment, const valley_prof_gap_t *g) {
  if (comment != NULL) fprintf(f, "# %s\n", comment);
  fprintf(f, "delta,xi,xi_over_xi0\n");
  for (size_t k = 0; k < g->n; k++) {
    if (isnan(g->xi[k])) continue; /* outside the profile: no value, and no NaN in the file */
    fprintf(f, "%.17g,%.17g", g->delta[k], g->xi[k]);
    if (g->xi0 > 0)
      fprintf(f, ",%.17g\n", g->xi[k] / g->xi0);
    else
      fprintf(f, ",\n");
  }
}

/* ---- Appendix F ------------------------------------------------------------------------------ */

/* The sampled minimum and the vertex of the parabola through it and its neighbours. */
static valley_status_t refine_min(const double *l, const double *y, size_t n, const char *what,
                                  valley_prof_fit_t *fit, valley_error_t *err) {
  size_t i = 0;
  for (size_t k = 1; k < n; k++)
    if (y[k] < y[i]) i = k;
  fit->index = i;
  if (i == 0 || i == n - 1)
    return VALLEY_ERROR(err, VALLEY_EDOM, "Appendix F: the %s minimum is at the edge of the "
                        "profile (l = %g): not a local minimum", what, l[i]);
  double x0 = l[i - 1], x1 = l[i], x2 = l[i + 1];
  double d1 = (y[i] - y[i - 1]) / (x1 - x0);
  double a = ((y[i + 1] - y[i]) / (x2 - x1) - d1) / (x2 - x0);
  if (a > 0) {
    double xs = fmin(fmax(0.5 * (x0 + x1) - d1 / (2 * a), x0), x2);
    fit->l_min = xs;
    fit->y_min = y[i - 1] + d1 * (xs - x0) + a * (xs - x0) * (xs - x1);
  } else {
    fit->l_min = x1;
    fit->y_min = y[i];
  }
  return VALLEY_OK;
}

static double extent(const double *l, size_t n, double lm, int side) {
  if (side < 0) return lm - l[0];
  if (side > 0) return l[n - 1] - lm;
  return fmin(lm - l[0], l[n - 1] - lm);
}

/* y - y_min = c x^2 / 2 through the minimum, x = side (l - l_min) in (0, W] (|x| for side 0). */
static valley_status_t fit_branch(const double *l, const double *y, size_t n, double W,
                                  const char *what, valley_prof_fit_t *fit, valley_error_t *err) {
  double s4 = 0, s2y = 0;
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    double x = l[i] - fit->l_min;
    x = fit->side == 0 ? fabs(x) : fit->side * x;
    if (!(x > 0 && x <= W)) continue;
    s4 += x * x * x * x;
    s2y += x * x * (y[i] - fit->y_min);
    m++;
  }
  if (m < 2)
    return VALLEY_ERROR(err, VALLEY_EDOM, "Appendix F: the %s branch (side %+d, window %g) has "
                        "%zu samples; need 2", what, fit->side, W, m);
  fit->c = 2 * s2y / s4;
  double ss = 0;
  for (size_t i = 0; i < n; i++) {
    double x = l[i] - fit->l_min;
    x = fit->side == 0 ? fabs(x) : fit->side * x;
    if (!(x > 0 && x <= W)) continue;
    double e = y[i] - fit->y_min - 0.5 * fit->c * x * x;
    ss += e * e;
  }
  fit->rms = sqrt(ss / (double)m);
  fit->points = m;
  return VALLEY_OK;
}

valley_status_t valley_prof_curvature(const valley_prof_t *p,
                                      const valley_prof_curv_config_t *cfg,
                                      valley_prof_curv_t *out, valley_error_t *err) {
  memset(out, 0, sizeof *out);
  out->config = *cfg;
  if (!(cfg->window >= 0) || !isfinite(cfg->window))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "Appendix F: window must be >= 0 (got %g)",
                        cfg->window);
  valley_status_t st = refine_min(p->l, p->train, p->n, "train loss", &out->train, err);
  if (st == VALLEY_OK) st = refine_min(p->l, p->test, p->n, "test loss", &out->test, err);
  if (st != VALLEY_OK) return st;
  out->shift = out->test.l_min - out->train.l_min;
  int side = cfg->both_sides || out->shift == 0 ? 0 : out->shift > 0 ? -1 : +1;
  out->train.side = out->test.side = side;
  double W = cfg->window;
  if (W == 0)
    W = fmin(extent(p->l, p->n, out->train.l_min, side), extent(p->l, p->n, out->test.l_min, side));
  out->config.window = W;
  st = fit_branch(p->l, p->train, p->n, W, "train loss", &out->train, err);
  if (st == VALLEY_OK) st = fit_branch(p->l, p->test, p->n, W, "test loss", &out->test, err);
  if (st != VALLEY_OK) return st;
  out->shift_curvature = 0.5 * out->shift * out->shift * out->test.c;
  out->test_at_train_min = valley_prof_interp(p->l, p->test, p->n, out->train.l_min);
  out->test_predicted = out->test.y_min + out->shift_curvature;
  return VALLEY_OK;
}
