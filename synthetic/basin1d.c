/* Synthetic 1-D landscapes for the SGD steady state (shift-curvature paper, Sec. 3.1 and
 * Appendix G.2): Gaussian-mixture basins, Theorem 2's valleys, noise models, test shifts, presets
 * and spec files.  The reading of the paper's parameter table is in docs/steady_state.md. */
#include "valley/basin1d.h"
#include "valley/outfile.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>

static const char *const dnoise_names[] = {"loss", "grad", "exp"};
static const char *const tshift_names[] = {"fixed", "average"};

VALLEY_NAME_FUNCS(valley_dnoise_parse, valley_dnoise_name, valley_dnoise_t, dnoise_names)
VALLEY_NAME_FUNCS(valley_tshift_parse, valley_tshift_name, valley_tshift_t, tshift_names)

#define INV_SQRT_2PI 0.398942280401432677939946059934381868

const char *const valley_basin1d_preset_names[] = {
    "fig4-left",        "fig4-right",       "fig6-one",         "fig6-three",
    "fig4-left-loss1",  "fig4-left-loss5",  "fig4-left-grad1",  "fig4-left-exp1",
    "fig6-three-loss1", "fig6-three-loss5", "fig6-three-grad1", "fig6-three-exp1",
    "valley",           NULL};

void valley_basin1d_defaults(valley_basin1d_t *b) {
  memset(b, 0, sizeof *b);
  b->kind = VALLEY_BLAND_MIXTURE;
  b->c = 0.001;
  b->lscale = 1.0;
  b->wscale = 0.0;
  b->noise = VALLEY_DNOISE_LOSS;
  b->test_shift = VALLEY_TSHIFT_FIXED;
  b->gh_nodes = 64;
  b->lo = -3.0;
  b->hi = 3.0;
  b->valley.kind = VALLEY_VALLEY1D_CANONICAL;
  b->valley.a_plus = b->valley.b_plus = 1.0;
  b->valley.a_minus = b->valley.b_minus = -3.0;
  b->valley.scale = 1.0;
}

static void set_mixture(valley_basin1d_t *b, size_t n, const double *m, const double *w,
                        const double *s, double shift) {
  b->n = n;
  for (size_t k = 0; k < n; k++) {
    b->minima[k] = m[k];
    b->weights[k] = w[k];
    b->sigmas[k] = s[k];
  }
  b->shift = shift;
}

valley_status_t valley_basin1d_preset(const char *name, valley_basin1d_t *out,
                                      valley_error_t *err) {
  static const double m2[] = {-1, 1}, m1[] = {0}, m3[] = {-1, 0, 1};
  static const double wl[] = {0.021, 0.1}, wr[] = {0.019, 0.1}, w1[] = {0.1},
                      w3[] = {0.1, 0.051, 0.3};
  static const double s2[] = {0.1, 0.5}, s1[] = {0.1}, s3[] = {0.1, 0.05, 0.3};
  valley_basin1d_defaults(out);
  if (name == NULL) return VALLEY_ERROR(err, VALLEY_EINVAL, "no preset name");
  /* Base landscapes of the paper's table (Figure 4 and G.2.6). */
  if (strncmp(name, "fig4-left", 9) == 0)
    set_mixture(out, 2, m2, wl, s2, 0.1);
  else if (strcmp(name, "fig4-right") == 0)
    set_mixture(out, 2, m2, wr, s2, 0.1);
  else if (strcmp(name, "fig6-one") == 0)
    set_mixture(out, 1, m1, w1, s1, 0.03);
  else if (strncmp(name, "fig6-three", 10) == 0)
    set_mixture(out, 3, m3, w3, s3, 0.1);
  else if (strcmp(name, "valley") == 0) {
    out->kind = VALLEY_BLAND_VALLEY; /* a+ = 1, a- = -3 */
    out->shift = 0.1;
  }
  else
    return VALLEY_ERROR(err, VALLEY_EINVAL, "unknown preset '%s'", name);
  /* Effective-potential variants: "-<noise><wscale>" after a base name. */
  const char *base_end = NULL;
  if (strncmp(name, "fig4-left", 9) == 0) base_end = name + 9;
  if (strncmp(name, "fig6-three", 10) == 0) base_end = name + 10;
  if (base_end && *base_end) {
    static const struct {
      const char *suffix;
      valley_dnoise_t noise;
      double w;
    } var[] = {{"-loss1", VALLEY_DNOISE_LOSS, 1},
               {"-loss5", VALLEY_DNOISE_LOSS, 5},
               {"-grad1", VALLEY_DNOISE_GRAD, 1},
               {"-exp1", VALLEY_DNOISE_EXP, 1}};
    size_t i;
    for (i = 0; i < sizeof var / sizeof var[0]; i++)
      if (strcmp(base_end, var[i].suffix) == 0) break;
    if (i == sizeof var / sizeof var[0])
      return VALLEY_ERROR(err, VALLEY_EINVAL, "unknown preset '%s'", name);
    out->noise = var[i].noise;
    out->wscale = var[i].w;
  }
  return valley_basin1d_init(out, err);
}

/* The mixture g = c + sum w_k N_k and its first three derivatives. */
static void mixture(const valley_basin1d_t *b, double t, double g[4]) {
  g[0] = b->c;
  g[1] = g[2] = g[3] = 0.0;
  for (size_t k = 0; k < b->n; k++) {
    double s = b->sigmas[k], is2 = 1.0 / (s * s);
    double x = t - b->minima[k];
    double N = b->weights[k] * INV_SQRT_2PI / s * exp(-0.5 * x * x * is2);
    double xs = x * is2;
    g[0] += N;
    g[1] += -xs * N;
    g[2] += (xs * xs - is2) * N;
    g[3] += (-xs * xs * xs + 3.0 * xs * is2) * N;
  }
}

static void valley_derivs(const valley_valley1d_t *v, double w, double out[4]) {
  valley_valley1d_t copy = *v;
  out[0] = valley_valley1d_loss(w, &copy);
  out[1] = valley_valley1d_grad(w, &copy);
  out[2] = out[3] = 0.0;
  if (v->kind == VALLEY_VALLEY1D_SATURATING) {
    double s = v->scale;
    double amp = w >= 0 ? (v->a_plus - v->b_plus) : (v->b_minus - v->a_minus);
    double sgn = w >= 0 ? 1.0 : -1.0;
    double th = tanh(sgn * w / s), sech2 = 1.0 - th * th;
    out[2] = sgn * amp / s * sech2;
    out[3] = -2.0 * amp / (s * s) * th * sech2;
  }
}

void valley_basin1d_utr(const valley_basin1d_t *b, double theta, double out[4]) {
  if (b->kind == VALLEY_BLAND_VALLEY) {
    valley_derivs(&b->valley, theta, out);
    for (int i = 0; i < 4; i++) out[i] *= b->lscale;
    return;
  }
  double g[4];
  mixture(b, theta, g);
  double r1 = g[1] / g[0], r2 = g[2] / g[0], r3 = g[3] / g[0];
  double L = b->lscale;
  out[0] = -L * log(g[0]);
  out[1] = -L * r1;
  out[2] = -L * (r2 - r1 * r1);
  out[3] = -L * (r3 - 3.0 * r2 * r1 + 2.0 * r1 * r1 * r1);
}

double valley_basin1d_utest(const valley_basin1d_t *b, double theta) {
  double u[3];
  valley_basin1d_utest3(theta, b, u);
  return u[0];
}

void valley_basin1d_utest3(double theta, const void *params, double out[3]) {
  const valley_basin1d_t *b = params;
  double u[4];
  if (b->test_shift == VALLEY_TSHIFT_FIXED) {
    valley_basin1d_utr(b, theta + b->shift, u);
    out[0] = u[0];
    out[1] = u[1];
    out[2] = u[2];
    return;
  }
  out[0] = out[1] = out[2] = 0.0;
  for (int j = 0; j < b->gh_nodes; j++) {
    valley_basin1d_utr(b, theta + b->gh_x[j], u);
    out[0] += b->gh_w[j] * u[0];
    out[1] += b->gh_w[j] * u[1];
    out[2] += b->gh_w[j] * u[2];
  }
}

static void basin_eval(double theta, const void *params, valley_fp1d_eval_t *e) {
  const valley_basin1d_t *b = params;
  double u[4];
  valley_basin1d_utr(b, theta, u);
  e->U = u[0];
  e->dU = u[1];
  e->d2U = u[2];
  double w = b->wscale;
  switch (b->noise) {
  case VALLEY_DNOISE_GRAD:
    e->D = 1.0 + w * u[1] * u[1];
    e->dD = 2.0 * w * u[1] * u[2];
    e->d2D = 2.0 * w * (u[2] * u[2] + u[1] * u[3]);
    break;
  case VALLEY_DNOISE_EXP:
    e->D = exp(w * theta);
    e->dD = w * e->D;
    e->d2D = w * w * e->D;
    break;
  case VALLEY_DNOISE_LOSS:
  default:
    e->D = 1.0 + w * (u[0] - b->umin);
    e->dD = w * u[1];
    e->d2D = w * u[2];
    break;
  }
}

/* F = int U'/D: U when D is constant; log(1 + w (U - umin)) / w for the loss model. */
static double basin_antideriv(double theta, const void *params) {
  const valley_basin1d_t *b = params;
  double u[4];
  valley_basin1d_utr(b, theta, u);
  if (b->wscale == 0.0) return u[0];
  return log1p(b->wscale * (u[0] - b->umin)) / b->wscale;
}

void valley_basin1d_problem(const valley_basin1d_t *b, valley_fp1d_t *out) {
  out->eval = basin_eval;
  out->params = b;
  out->lo = b->lo;
  out->hi = b->hi;
  out->antideriv = (b->wscale == 0.0 || b->noise == VALLEY_DNOISE_LOSS) ? basin_antideriv : NULL;
}

/* min U_tr on [lo, hi]: the best of a grid, refined by golden section. */
static double find_umin(const valley_basin1d_t *b) {
  enum { NGRID = 6000 };
  double h = (b->hi - b->lo) / NGRID, best = INFINITY, bx = b->lo, u[4];
  for (int i = 0; i <= NGRID; i++) {
    double x = i == NGRID ? b->hi : b->lo + i * h;
    valley_basin1d_utr(b, x, u);
    if (u[0] < best) {
      best = u[0];
      bx = x;
    }
  }
  double a = fmax(b->lo, bx - h), c = fmin(b->hi, bx + h);
  const double gr = 0.381966011250105151795413165634361882;
  double x1 = a + gr * (c - a), x2 = c - gr * (c - a), f1, f2;
  valley_basin1d_utr(b, x1, u);
  f1 = u[0];
  valley_basin1d_utr(b, x2, u);
  f2 = u[0];
  for (int it = 0; it < 200 && c - a > 1e-15 * (1 + fabs(bx)); it++) {
    if (f1 < f2) {
      c = x2;
      x2 = x1;
      f2 = f1;
      x1 = a + gr * (c - a);
      valley_basin1d_utr(b, x1, u);
      f1 = u[0];
    } else {
      a = x1;
      x1 = x2;
      f1 = f2;
      x2 = c - gr * (c - a);
      valley_basin1d_utr(b, x2, u);
      f2 = u[0];
    }
  }
  return fmin(best, fmin(f1, f2));
}

valley_status_t valley_basin1d_init(valley_basin1d_t *b, valley_error_t *err) {
  if (!isfinite(b->lo) || !isfinite(b->hi) || !(b->lo < b->hi))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "domain: need finite lo < hi (got [%g, %g])", b->lo,
                        b->hi);
  if (!(b->lscale > 0) || !isfinite(b->lscale))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "lscale must be > 0 (got %g)", b->lscale);
  if (!(b->wscale >= 0) || !isfinite(b->wscale))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "wscale must be >= 0 (got %g)", b->wscale);
  if ((unsigned)b->noise > VALLEY_DNOISE_EXP)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "unknown noise model %d", (int)b->noise);
  if (!isfinite(b->shift))
    return VALLEY_ERROR(err, VALLEY_EINVAL, "stddev_shift must be finite (got %g)", b->shift);
  if ((unsigned)b->test_shift > VALLEY_TSHIFT_AVERAGE)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "unknown test shift %d", (int)b->test_shift);
  if (b->gh_nodes < 2 || b->gh_nodes > VALLEY_BASIN1D_MAXGH)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "gh_nodes must be in 2..%d (got %d)",
                        VALLEY_BASIN1D_MAXGH, b->gh_nodes);
  if (b->kind == VALLEY_BLAND_VALLEY) {
    valley_status_t st = valley_valley1d_check(&b->valley, err);
    if (st != VALLEY_OK) return st;
    if (!(b->lo < 0 && b->hi > 0))
      return VALLEY_ERROR(err, VALLEY_EDOM,
                          "domain [%g, %g] excludes the valley's minimum at 0", b->lo, b->hi);
  } else if (b->kind == VALLEY_BLAND_MIXTURE) {
    if (b->n < 1 || b->n > VALLEY_BASIN1D_MAXK)
      return VALLEY_ERROR(err, VALLEY_EINVAL, "minima: need 1..%d components (got %zu)",
                          VALLEY_BASIN1D_MAXK, b->n);
    if (!(b->c > 0) || !isfinite(b->c))
      return VALLEY_ERROR(err, VALLEY_EINVAL, "c must be > 0 (got %g)", b->c);
    for (size_t k = 0; k < b->n; k++) {
      if (!isfinite(b->minima[k]))
        return VALLEY_ERROR(err, VALLEY_EINVAL, "minima[%zu] must be finite", k);
      if (!(b->weights[k] > 0) || !isfinite(b->weights[k]))
        return VALLEY_ERROR(err, VALLEY_EINVAL, "weights[%zu] must be > 0 (got %g)", k,
                            b->weights[k]);
      if (!(b->sigmas[k] > 0) || !isfinite(b->sigmas[k]))
        return VALLEY_ERROR(err, VALLEY_EINVAL, "sigmas[%zu] must be > 0 (got %g)", k,
                            b->sigmas[k]);
      if (b->minima[k] <= b->lo || b->minima[k] >= b->hi)
        return VALLEY_ERROR(err, VALLEY_EDOM, "domain [%g, %g] excludes minima[%zu] = %g",
                            b->lo, b->hi, k, b->minima[k]);
    }
  } else {
    return VALLEY_ERROR(err, VALLEY_EINVAL, "unknown landscape kind %d", (int)b->kind);
  }
  b->umin = find_umin(b);
  if (!isfinite(b->umin))
    return VALLEY_ERROR(err, VALLEY_EDOM, "the training loss is not finite on the domain");
  /* Gauss-Hermite: int e^{-x^2} f(x) dx ~ sum w_j f(x_j); s = sqrt(2) stddev x_j. */
  memset(b->gh_x, 0, sizeof b->gh_x);
  memset(b->gh_w, 0, sizeof b->gh_w);
  if (b->test_shift == VALLEY_TSHIFT_AVERAGE) {
    gsl_integration_fixed_workspace *ws =
        gsl_integration_fixed_alloc(gsl_integration_fixed_hermite, (size_t)b->gh_nodes, 0.0, 1.0,
                                    0.0, 0.0);
    if (ws == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "Gauss-Hermite table");
    const double *x = gsl_integration_fixed_nodes(ws), *w = gsl_integration_fixed_weights(ws);
    double sum = 0.0;
    for (int j = 0; j < b->gh_nodes; j++) sum += w[j];
    for (int j = 0; j < b->gh_nodes; j++) {
      b->gh_x[j] = sqrt(2.0) * b->shift * x[j];
      b->gh_w[j] = w[j] / sum;
    }
    gsl_integration_fixed_free(ws);
  }
  return VALLEY_OK;
}

/* ---- spec files ---- */

/* Reads up to max numbers from s; -1 when a token is not a number. */
static int parse_list(char *s, double *out, int max) {
  int n = 0;
  char *save = NULL;
  for (char *tok = strtok_r(s, " \t,[]", &save); tok; tok = strtok_r(NULL, " \t,[]", &save)) {
    if (n == max) return max + 1;
    char *end;
    errno = 0;
    double v = strtod(tok, &end);
    if (*end != '\0' || errno == ERANGE || !isfinite(v)) return -1;
    out[n++] = v;
  }
  return n;
}

static char *trim(char *s) {
  while (isspace((unsigned char)*s)) s++;
  char *e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
  return s;
}

#define SPEC_ERR(code, ...)                                                                  \
  do {                                                                                       \
    char msg_[200];                                                                          \
    snprintf(msg_, sizeof msg_, __VA_ARGS__);                                                \
    fclose(f);                                                                               \
    return VALLEY_ERROR(err, code, "%s:%d: %s", path, lineno, msg_);                         \
  } while (0)

valley_status_t valley_basin1d_read_spec(const char *path, valley_basin1d_t *out,
                                         valley_error_t *err) {
  valley_basin1d_defaults(out);
  FILE *f = valley_fopen_read(path, "r");
  if (f == NULL)
    return VALLEY_ERROR(err, VALLEY_EIO, "%s: cannot open: %s", path, strerror(errno));
  char line[4096];
  int lineno = 0;
  int nmin = -1, nw = -1, ns = -1;
  int line_min = 0, line_w = 0, line_s = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    if (strchr(line, '\n') == NULL && !feof(f)) SPEC_ERR(VALLEY_EINVAL, "line too long");
    char *hash = strchr(line, '#');
    if (hash) *hash = '\0';
    char *s = trim(line);
    if (*s == '\0') continue;
    char *eq = strchr(s, '=');
    if (eq == NULL) SPEC_ERR(VALLEY_EINVAL, "expected 'key = value'");
    *eq = '\0';
    char *key = trim(s), *val = trim(eq + 1);
    if (*val == '\0') SPEC_ERR(VALLEY_EINVAL, "'%s' has no value", key);
    double v[VALLEY_BASIN1D_MAXK];
    int n;
    if (strcmp(key, "minima") == 0 || strcmp(key, "weights") == 0 ||
        strcmp(key, "sigmas") == 0) {
      n = parse_list(val, v, VALLEY_BASIN1D_MAXK);
      if (n < 0) SPEC_ERR(VALLEY_EINVAL, "'%s': not a list of finite numbers", key);
      if (n == 0 || n > VALLEY_BASIN1D_MAXK)
        SPEC_ERR(VALLEY_EINVAL, "'%s': need 1..%d numbers", key, VALLEY_BASIN1D_MAXK);
      if (key[0] != 'm')
        for (int i = 0; i < n; i++)
          if (!(v[i] > 0)) SPEC_ERR(VALLEY_EINVAL, "'%s': value %d must be > 0 (got %g)", key, i, v[i]);
      double *dst = key[0] == 'm' ? out->minima : key[0] == 'w' ? out->weights : out->sigmas;
      memcpy(dst, v, (size_t)n * sizeof v[0]);
      if (key[0] == 'm') {
        nmin = n;
        line_min = lineno;
      } else if (key[0] == 'w') {
        nw = n;
        line_w = lineno;
      } else {
        ns = n;
        line_s = lineno;
      }
    } else if (strcmp(key, "domain") == 0) {
      n = parse_list(val, v, 2);
      if (n != 2) SPEC_ERR(VALLEY_EINVAL, "'domain': need two finite numbers lo hi");
      out->lo = v[0];
      out->hi = v[1];
    } else if (strcmp(key, "kind") == 0) {
      if (strcmp(val, "mixture") == 0)
        out->kind = VALLEY_BLAND_MIXTURE;
      else if (strcmp(val, "valley") == 0)
        out->kind = VALLEY_BLAND_VALLEY;
      else
        SPEC_ERR(VALLEY_EINVAL, "'kind': expected mixture or valley (got '%s')", val);
    } else if (strcmp(key, "noise") == 0) {
      if (valley_dnoise_parse(val, &out->noise) != VALLEY_OK)
        SPEC_ERR(VALLEY_EINVAL, "'noise': expected loss, grad or exp (got '%s')", val);
    } else if (strcmp(key, "test_shift") == 0) {
      if (valley_tshift_parse(val, &out->test_shift) != VALLEY_OK)
        SPEC_ERR(VALLEY_EINVAL, "'test_shift': expected fixed or average (got '%s')", val);
    } else if (strcmp(key, "valley") == 0) {
      if (valley_valley1d_kind_parse(val, &out->valley.kind) != VALLEY_OK)
        SPEC_ERR(VALLEY_EINVAL, "'valley': expected canonical or saturating (got '%s')", val);
    } else {
      static const char *const scalar_keys[] = {"c",      "lscale",  "wscale", "stddev_shift",
                                                "shift",  "gh_nodes", "a_plus", "a_minus",
                                                "b_plus", "b_minus", "scale"};
      size_t i;
      for (i = 0; i < sizeof scalar_keys / sizeof scalar_keys[0]; i++)
        if (strcmp(key, scalar_keys[i]) == 0) break;
      if (i == sizeof scalar_keys / sizeof scalar_keys[0]) SPEC_ERR(VALLEY_EINVAL, "unknown key '%s'", key);
      n = parse_list(val, v, 1);
      if (n != 1) SPEC_ERR(VALLEY_EINVAL, "'%s': need one finite number", key);
      double *targets[] = {&out->c,              &out->lscale,        &out->wscale,
                           &out->shift,          &out->shift,         NULL,
                           &out->valley.a_plus,  &out->valley.a_minus, &out->valley.b_plus,
                           &out->valley.b_minus, &out->valley.scale};
      if ((i <= 1 && !(v[0] > 0)) || (i == 2 && !(v[0] >= 0)))
        SPEC_ERR(VALLEY_EINVAL, "'%s' must be %s 0 (got %g)", key, i == 2 ? ">=" : ">", v[0]);
      if (targets[i]) {
        *targets[i] = v[0];
      } else {
        if (v[0] != floor(v[0]) || v[0] < 2 || v[0] > VALLEY_BASIN1D_MAXGH)
          SPEC_ERR(VALLEY_EINVAL, "'gh_nodes': need an integer in 2..%d", VALLEY_BASIN1D_MAXGH);
        out->gh_nodes = (int)v[0];
      }
    }
  }
  if (ferror(f)) SPEC_ERR(VALLEY_EIO, "read error");
  fclose(f);
  if (out->kind == VALLEY_BLAND_MIXTURE) {
    if (nmin < 0) return VALLEY_ERROR(err, VALLEY_EINVAL, "%s: no 'minima' line", path);
    if (nw != nmin)
      return VALLEY_ERROR(err, VALLEY_EINVAL,
                          "%s:%d: 'weights' has %d numbers but 'minima' (line %d) has %d", path,
                          nw < 0 ? lineno : line_w, nw < 0 ? 0 : nw, line_min, nmin);
    if (ns != nmin)
      return VALLEY_ERROR(err, VALLEY_EINVAL,
                          "%s:%d: 'sigmas' has %d numbers but 'minima' (line %d) has %d", path,
                          ns < 0 ? lineno : line_s, ns < 0 ? 0 : ns, line_min, nmin);
    out->n = (size_t)nmin;
  }
  valley_error_t inner = {0};
  valley_status_t st = valley_basin1d_init(out, &inner);
  if (st != VALLEY_OK) return VALLEY_ERROR(err, st, "%s: %s", path, inner.message);
  return VALLEY_OK;
}
