/* The zero-current formula rho ∝ exp(-2 v / T) in 2-D (shift-curvature paper, Appendix B.1)
 * against the finite-volume steady state: v as a line integral of V along two paths, the curl
 * of V, and the L1 distances.  docs/fokker_planck_fv.md. */
#include "valley/curl2d.h"

#include <math.h>
#include <stdlib.h>

#include "valley/fv.h"

/* 5-point Gauss-Legendre on [-1, 1] */
static const double gl_x[5] = {-0.9061798459386640, -0.5384693101056831, 0.0,
                               0.5384693101056831, 0.9061798459386640};
static const double gl_w[5] = {0.2369268850561891, 0.4786286704993665, 0.5688888888888889,
                               0.4786286704993665, 0.2369268850561891};

/* V_x (dir 0) or V_y (dir 1) at (x, y). */
static double vcomp(const valley_fp2d_t *p, double T, int dir, double x, double y) {
  valley_fp2d_eval_t e;
  p->eval(x, y, p->params, &e);
  return dir == 0 ? (e.Ux + 0.5 * T * e.d1x) / e.d1 : (e.Uy + 0.5 * T * e.d2y) / e.d2;
}

/* int_a^b of V_dir along the line where the other coordinate is `fixed`. */
static double seg(const valley_fp2d_t *p, double T, int dir, double fixed, double a, double b) {
  double c = 0.5 * (a + b), r = 0.5 * (b - a), s = 0;
  for (int q = 0; q < 5; q++) {
    double t = c + r * gl_x[q];
    s += gl_w[q] * (dir == 0 ? vcomp(p, T, 0, t, fixed) : vcomp(p, T, 1, fixed, t));
  }
  return r * s;
}

/* out[m * stride] = int_{z0}^{lo + (m + 1/2) h} V_dir, m < n, along the line at `fixed`. */
static void cumulate(const valley_fp2d_t *p, double T, int dir, double fixed, double lo, double h,
                     size_t n, double z0, double *out, size_t stride) {
  size_t m0 = 0; /* the first centre >= z0 */
  while (m0 < n && lo + ((double)m0 + 0.5) * h < z0) m0++;
  if (m0 < n) {
    double prevz = z0, acc = 0;
    for (size_t m = m0; m < n; m++) {
      double z = lo + ((double)m + 0.5) * h;
      acc += seg(p, T, dir, fixed, prevz, z);
      out[m * stride] = acc;
      prevz = z;
    }
  }
  double nextz = z0, acc = 0;
  for (size_t m = m0; m-- > 0;) {
    double z = lo + ((double)m + 0.5) * h;
    acc -= seg(p, T, dir, fixed, z, nextz);
    out[m * stride] = acc;
    nextz = z;
  }
}


static valley_status_t first_nonfinite(const double *a, size_t nx, size_t ny, const char *what,
                                       valley_error_t *err) {
  for (size_t k = 0; k < nx * ny; k++)
    if (!isfinite(a[k]))
      return VALLEY_ERROR(err, VALLEY_EDOM, "%s is %g at cell (%zu, %zu): V must be finite "
                          "(d1, d2 > 0)", what, a[k], k % nx, k / nx);
  return VALLEY_OK;
}

valley_status_t valley_curl2d_potential(const valley_fp2d_t *p, double T, size_t nx, size_t ny,
                                        double x0, double y0, valley_curl2d_path_t path,
                                        double *v, valley_error_t *err) {
  valley_status_t st = valley_fp2d_check_args(p, T, nx, ny, err);
  if (st != VALLEY_OK) return st;
  if (v == NULL) return VALLEY_ERROR(err, VALLEY_EINVAL, "the output array is NULL");
  if (path != VALLEY_CURL2D_XY && path != VALLEY_CURL2D_YX && path != VALLEY_CURL2D_AVG)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "path %d: not one of xy, yx, avg", (int)path);
  if (!(x0 >= p->xlo && x0 <= p->xhi && y0 >= p->ylo && y0 <= p->yhi))
    return VALLEY_ERROR(err, VALLEY_EDOM, "reference point (%g, %g) outside the box "
                        "[%g, %g] x [%g, %g]", x0, y0, p->xlo, p->xhi, p->ylo, p->yhi);
  if (path == VALLEY_CURL2D_AVG) {
    double *w = malloc(nx * ny * sizeof *w);
    if (w == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory for %zu x %zu", nx, ny);
    st = valley_curl2d_potential(p, T, nx, ny, x0, y0, VALLEY_CURL2D_XY, v, err);
    if (st == VALLEY_OK)
      st = valley_curl2d_potential(p, T, nx, ny, x0, y0, VALLEY_CURL2D_YX, w, err);
    if (st == VALLEY_OK)
      for (size_t k = 0; k < nx * ny; k++) v[k] = 0.5 * (v[k] + w[k]);
    free(w);
    return st;
  }
  double hx = (p->xhi - p->xlo) / (double)nx, hy = (p->yhi - p->ylo) / (double)ny;
  /* the first leg into row 0 (xy) or column 0 (yx) of v, then every column (row) from there */
  if (path == VALLEY_CURL2D_XY) {
    cumulate(p, T, 0, y0, p->xlo, hx, nx, x0, v, 1);
#ifdef VALLEY_HAVE_OPENMP
#pragma omp parallel for schedule(static) default(none) shared(p, T, v, nx, ny, hx, hy, y0)
#endif
    for (size_t i = 0; i < nx; i++) {
      double a = v[i], x = p->xlo + ((double)i + 0.5) * hx;
      cumulate(p, T, 1, x, p->ylo, hy, ny, y0, v + i, nx);
      for (size_t j = 0; j < ny; j++) v[j * nx + i] += a;
    }
  } else {
    cumulate(p, T, 1, x0, p->ylo, hy, ny, y0, v, nx);
#ifdef VALLEY_HAVE_OPENMP
#pragma omp parallel for schedule(static) default(none) shared(p, T, v, nx, ny, hx, hy, x0)
#endif
    for (size_t j = 0; j < ny; j++) {
      double a = v[j * nx], y = p->ylo + ((double)j + 0.5) * hy;
      cumulate(p, T, 0, y, p->xlo, hx, nx, x0, v + j * nx, 1);
      for (size_t i = 0; i < nx; i++) v[j * nx + i] += a;
    }
  }
  return first_nonfinite(v, nx, ny, "v", err);
}

void valley_curl2d_density(const double *v, size_t n, double T, double area, double *rho) {
  double vmin = INFINITY, tot = 0;
  for (size_t k = 0; k < n; k++)
    if (v[k] < vmin) vmin = v[k];
  for (size_t k = 0; k < n; k++) {
    rho[k] = exp(-2.0 * (v[k] - vmin) / T);
    tot += rho[k];
  }
  for (size_t k = 0; k < n; k++) rho[k] /= tot * area;
}

/* d/dz of f at node m of n equally spaced ones (stride s), second order. */
static double diff(const double *f, size_t m, size_t n, size_t s, double h) {
  /* one-sided ones as differences, so that a constant gives exactly 0 */
  if (m == 0) return (4 * (f[s] - f[0]) - (f[2 * s] - f[0])) / (2 * h);
  if (m == n - 1)
    return (4 * (f[m * s] - f[(m - 1) * s]) - (f[m * s] - f[(m - 2) * s])) / (2 * h);
  return (f[(m + 1) * s] - f[(m - 1) * s]) / (2 * h);
}

valley_status_t valley_curl2d_curl_max(const valley_fp2d_t *p, double T, size_t nx, size_t ny,
                                       double *curl_max, valley_error_t *err) {
  valley_status_t st = valley_fp2d_check_args(p, T, nx, ny, err);
  if (st != VALLEY_OK) return st;
  double hx = (p->xhi - p->xlo) / (double)nx, hy = (p->yhi - p->ylo) / (double)ny;
  double *vx = malloc(nx * ny * sizeof *vx), *vy = malloc(nx * ny * sizeof *vy);
  if (vx == NULL || vy == NULL) {
    free(vx);
    free(vy);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory for %zu x %zu", nx, ny);
  }
  for (size_t j = 0; j < ny; j++)
    for (size_t i = 0; i < nx; i++) {
      double x = p->xlo + ((double)i + 0.5) * hx, y = p->ylo + ((double)j + 0.5) * hy;
      vx[j * nx + i] = vcomp(p, T, 0, x, y);
      vy[j * nx + i] = vcomp(p, T, 1, x, y);
    }
  st = first_nonfinite(vx, nx, ny, "V_x", err);
  if (st == VALLEY_OK) st = first_nonfinite(vy, nx, ny, "V_y", err);
  double m = 0;
  if (st == VALLEY_OK)
    for (size_t j = 0; j < ny; j++)
      for (size_t i = 0; i < nx; i++) {
        double c = diff(vy + j * nx, i, nx, 1, hx) - diff(vx + i, j, ny, nx, hy);
        if (fabs(c) > m) m = fabs(c);
      }
  free(vx);
  free(vy);
  if (st == VALLEY_OK) *curl_max = m;
  return st;
}

static double l1(const double *a, const double *b, size_t n, double area) {
  double s = 0;
  for (size_t k = 0; k < n; k++) s += fabs(a[k] - b[k]);
  return s * area;
}

void valley_curl2d_free(valley_curl2d_t *r) {
  if (r == NULL) return;
  free(r->x);
  free(r->y);
  free(r->rho_fv);
  free(r->rho_xy);
  free(r->rho_yx);
  free(r->rho_avg);
  r->x = r->y = r->rho_fv = r->rho_xy = r->rho_yx = r->rho_avg = NULL;
}

valley_status_t valley_curl2d_compare(const valley_fp2d_t *p, double T, size_t nx, size_t ny,
                                      double x0, double y0, valley_curl2d_t *out,
                                      valley_error_t *err) {
  if (out == NULL) return VALLEY_ERROR(err, VALLEY_EINVAL, "the result pointer is NULL");
  out->x = out->y = out->rho_fv = out->rho_xy = out->rho_yx = out->rho_avg = NULL;
  valley_fv2d_result_t fv;
  valley_status_t st = valley_fv2d_steady(p, T, nx, ny, &fv, err);
  if (st != VALLEY_OK) return st;
  size_t n = nx * ny;
  double area = fv.hx * fv.hy;
  out->nx = nx;
  out->ny = ny;
  out->hx = fv.hx;
  out->hy = fv.hy;
  out->x = fv.x;
  out->y = fv.y;
  out->rho_fv = fv.rho;
  out->fv_residual = fv.residual;
  out->rho_xy = malloc(n * sizeof(double));
  out->rho_yx = malloc(n * sizeof(double));
  out->rho_avg = malloc(n * sizeof(double));
  if (out->rho_xy == NULL || out->rho_yx == NULL || out->rho_avg == NULL) {
    valley_curl2d_free(out);
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory for %zu x %zu", nx, ny);
  }
  /* v along xy into rho_xy, yx into rho_yx, their mean into rho_avg; then the densities */
  st = valley_curl2d_potential(p, T, nx, ny, x0, y0, VALLEY_CURL2D_XY, out->rho_xy, err);
  if (st == VALLEY_OK)
    st = valley_curl2d_potential(p, T, nx, ny, x0, y0, VALLEY_CURL2D_YX, out->rho_yx, err);
  if (st == VALLEY_OK) st = valley_curl2d_curl_max(p, T, nx, ny, &out->curl_max, err);
  if (st != VALLEY_OK) {
    valley_curl2d_free(out);
    return st;
  }
  for (size_t k = 0; k < n; k++) out->rho_avg[k] = 0.5 * (out->rho_xy[k] + out->rho_yx[k]);
  valley_curl2d_density(out->rho_xy, n, T, area, out->rho_xy);
  valley_curl2d_density(out->rho_yx, n, T, area, out->rho_yx);
  valley_curl2d_density(out->rho_avg, n, T, area, out->rho_avg);
  out->l1_xy = l1(out->rho_xy, out->rho_fv, n, area);
  out->l1_yx = l1(out->rho_yx, out->rho_fv, n, area);
  out->l1_avg = l1(out->rho_avg, out->rho_fv, n, area);
  out->l1_paths = l1(out->rho_xy, out->rho_yx, n, area);
  return VALLEY_OK;
}

valley_status_t valley_curl2d_bin_probs(const valley_curl2d_t *r, const double *rho, size_t bx,
                                        size_t by, double *p, valley_error_t *err) {
  if (bx == 0 || by == 0 || r->nx % bx != 0 || r->ny % by != 0)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%zu x %zu bins must divide the %zu x %zu grid", bx,
                        by, r->nx, r->ny);
  size_t fx = r->nx / bx, fy = r->ny / by;
  for (size_t k = 0; k < bx * by; k++) p[k] = 0.0;
  for (size_t j = 0; j < r->ny; j++)
    for (size_t i = 0; i < r->nx; i++) p[(j / fy) * bx + i / fx] += rho[j * r->nx + i] * r->hx * r->hy;
  return VALLEY_OK;
}
