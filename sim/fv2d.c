/* 2-D finite volumes for the Fokker-Planck equation with diagonal noise (shift-curvature paper,
 * Appendix B.1): dimension-split Scharfetter-Gummel fluxes, and the steady state as the
 * stationary vector of the cell chain by subtraction-free (Grassmann-Taksar-Heyman) band
 * elimination.  docs/fokker_planck_fv.md. */
#include "valley/fv.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define RESCALE_BIG 1e250 /* back substitution rescales when a density passes this */
#define RESIDUAL_FLOOR 1e-200 /* the residual skips cells below this fraction of the peak */

/* The four rates out of each cell (0: +x, 1: -x, 2: +y, 3: -y), rate[4 k + dir], zero at
 * walls. */
static valley_status_t build_rates(const valley_fp2d_t *p, double T, size_t nx, size_t ny,
                                   double hx, double hy, double *rate, valley_error_t *err) {
  size_t N = nx * ny;
  double cx = T / (2 * hx * hx), cy = T / (2 * hy * hy);
  for (size_t k = 0; k < 4 * N; k++) rate[k] = 0;
  /* d1 and d2 at the centres go to rate[4k+0] and rate[4k+2] first, then get multiplied */
  for (size_t j = 0; j < ny; j++)
    for (size_t i = 0; i < nx; i++) {
      double x = p->xlo + ((double)i + 0.5) * hx, y = p->ylo + ((double)j + 0.5) * hy;
      valley_fp2d_eval_t e;
      p->eval(x, y, p->params, &e);
      if (!(e.d1 > 0) || !(e.d2 > 0) || !isfinite(e.d1) || !isfinite(e.d2))
        return VALLEY_ERROR(err, VALLEY_EDOM, "at (%g, %g): d1 = %g, d2 = %g; need finite and "
                            "> 0", x, y, e.d1, e.d2);
      size_t k = j * nx + i;
      rate[4 * k + 0] = rate[4 * k + 1] = cx * e.d1;
      rate[4 * k + 2] = rate[4 * k + 3] = cy * e.d2;
    }
  /* x faces */
  for (size_t j = 0; j < ny; j++) {
    size_t k0 = j * nx;
    rate[4 * k0 + 1] = 0;
    for (size_t i = 1; i < nx; i++) {
      double x = p->xlo + (double)i * hx, y = p->ylo + ((double)j + 0.5) * hy;
      valley_fp2d_eval_t e;
      p->eval(x, y, p->params, &e);
      double z = 2 * e.Ux / (T * e.d1) * hx;
      if (!(e.d1 > 0) || !isfinite(z))
        return VALLEY_ERROR(err, VALLEY_EDOM, "at the x face (%g, %g): U_x = %g, d1 = %g; "
                            "need finite values and d1 > 0", x, y, e.Ux, e.d1);
      rate[4 * (k0 + i - 1) + 0] *= valley_fv_bernoulli(z);
      rate[4 * (k0 + i) + 1] *= valley_fv_bernoulli(-z);
    }
    rate[4 * (k0 + nx - 1) + 0] = 0;
  }
  /* y faces */
  for (size_t i = 0; i < nx; i++) {
    rate[4 * i + 3] = 0;
    for (size_t j = 1; j < ny; j++) {
      double x = p->xlo + ((double)i + 0.5) * hx, y = p->ylo + (double)j * hy;
      valley_fp2d_eval_t e;
      p->eval(x, y, p->params, &e);
      double z = 2 * e.Uy / (T * e.d2) * hy;
      if (!(e.d2 > 0) || !isfinite(z))
        return VALLEY_ERROR(err, VALLEY_EDOM, "at the y face (%g, %g): U_y = %g, d2 = %g; "
                            "need finite values and d2 > 0", x, y, e.Uy, e.d2);
      rate[4 * ((j - 1) * nx + i) + 2] *= valley_fv_bernoulli(z);
      rate[4 * (j * nx + i) + 3] *= valley_fv_bernoulli(-z);
    }
    rate[4 * ((ny - 1) * nx + i) + 2] = 0;
  }
  return VALLEY_OK;
}

/* The steady state is the null vector of A, by subtraction-free elimination of the chain's
 * states (eliminating state k leaves the chain watched on the rest, whose rate j -> i gains
 * (j -> k)(k -> i) / out_k, out_k the total rate from k to the rest; afterwards
 * pi_k = sum_j (j -> k) pi_j / out_k).  The grid is cut at row m = ny / 2, the separator: the
 * half below it (rows 0..m-1) is eliminated in the natural order, the half above it (rows
 * m+1..ny-1) in the reverse order, so both fill in only a band of width nx and only towards the
 * separator, and the two halves run at the same time; then the separator's nx states are
 * eliminated as a dense chain, and each half back-substitutes.  The cut does not depend on the
 * thread count, so neither does any number. */

typedef struct {
  size_t n;     /* local states; the last nx of them are the separator row */
  int reverse;  /* local index l is global l (lower half) or N - 1 - l (upper half) */
  double *G;    /* G[i * W + (j - i + w)] = rate j -> i (local indices), |j - i| <= w */
  double *out;  /* out_k of each eliminated state */
  double *pi;   /* local densities */
  size_t bad;   /* a state with no way onward (rates underflowed), or n */
  int scaled;   /* times pi was divided by RESCALE_BIG */
} half_t;

static size_t to_local(const half_t *h, size_t N, size_t k) { return h->reverse ? N - 1 - k : k; }

/* The rate k -> k2 (global) into the half. */
static void put_rate(half_t *h, size_t nx, size_t N, size_t k, size_t k2, double r) {
  size_t w = nx, W = 2 * nx + 1, a = to_local(h, N, k), b = to_local(h, N, k2);
  h->G[b * W + w + a - b] = r; /* a - b wraps for a < b; the sum is in range */
}

static void fill_halves(const double *rate, size_t nx, size_t ny, half_t *lo, half_t *hi) {
  size_t N = nx * ny, m = ny / 2, W = 2 * nx + 1;
  for (size_t k = 0; k < lo->n * W; k++) lo->G[k] = 0;
  for (size_t k = 0; k < hi->n * W; k++) hi->G[k] = 0;
  for (size_t k = 0; k < N; k++) {
    size_t row = k / nx;
    size_t nb[4] = {k + 1, k - 1, k + nx, k - nx};
    for (int d = 0; d < 4; d++) {
      double r = rate[4 * k + (size_t)d];
      if (!(r > 0)) continue; /* walls */
      size_t row2 = nb[d] / nx;
      /* an edge within the separator row, or touching a row below it, belongs to the lower
       * half; an edge touching a row above it to the upper half */
      half_t *h = (row < m || row2 < m || (row == m && row2 == m)) ? lo : hi;
      put_rate(h, nx, N, k, nb[d], r);
    }
  }
}

/* Eliminates the local states 0 .. n - nx - 1 (all but the separator). */
static void half_eliminate(half_t *h, size_t nx) {
  size_t n = h->n, w = nx, W = 2 * nx + 1;
  double *G = h->G;
  h->bad = n;
  for (size_t k = 0; k + nx < n; k++) {
    size_t end = k + w < n - 1 ? k + w : n - 1; /* the last state coupled to k */
    double o = 0;
    for (size_t i = k + 1; i <= end; i++) o += G[i * W + w + k - i];
    if (!(o > 0)) {
      h->bad = k;
      return;
    }
    h->out[k] = o;
    const double *gk = G + k * W + w - k; /* gk[j] = rate j -> k */
    for (size_t i = k + 1; i <= end; i++) {
      double *gi = G + i * W + w - i; /* gi[j] = rate j -> i */
      double f = gi[k] / o;
      if (f == 0) continue;
      for (size_t j = k + 1; j < i; j++) gi[j] += f * gk[j];
      for (size_t j = i + 1; j <= end; j++) gi[j] += f * gk[j];
    }
  }
}

/* pi_k = sum_{j = k+1}^{end} g[j] pi[j] / out: when that passes RESCALE_BIG (or overflows),
 * pi[k+1 .. n-1] are divided by RESCALE_BIG first (those that then underflow are below 1e-250 of
 * the rest), as many times as it takes; *scaled counts the divisions. */
static double back_one(const double *g, double *pi, size_t k, size_t end, size_t n, double out,
                       int *scaled) {
  for (;;) {
    double s = 0;
    for (size_t j = k + 1; j <= end; j++) s += g[j] * pi[j];
    double v = s / out;
    if (!(v > RESCALE_BIG)) return v; /* (a NaN, which cannot arise, would end here too) */
    for (size_t j = k + 1; j < n; j++) pi[j] /= RESCALE_BIG;
    (*scaled)++;
  }
}

/* pi of the eliminated states from the separator's (already in the last nx entries). */
static void half_back(half_t *h, size_t nx) {
  size_t n = h->n, w = nx, W = 2 * nx + 1;
  h->scaled = 0;
  for (size_t k = n - nx; k-- > 0;) {
    size_t end = k + w < n - 1 ? k + w : n - 1;
    h->pi[k] = back_one(h->G + k * W + w - k, h->pi, k, end, n, h->out[k], &h->scaled);
  }
}

/* The separator as a dense chain S[s * nx + t] = rate t -> s (s != t), from both halves'
 * eliminations; its null vector into psep (max 1).  Returns the state with no way onward, or
 * nx. */
static size_t separator_solve(const half_t *lo, const half_t *hi, size_t nx, size_t N, double *S,
                              double *osep, double *psep) {
  size_t w = nx, W = 2 * nx + 1, m0 = lo->n - nx; /* global index of separator cell 0 */
  for (size_t s = 0; s < nx; s++)
    for (size_t t = 0; t < nx; t++) {
      if (s == t) {
        S[s * nx + t] = 0;
        continue;
      }
      size_t as = to_local(lo, N, m0 + s), at = to_local(lo, N, m0 + t);
      size_t bs = to_local(hi, N, m0 + s), bt = to_local(hi, N, m0 + t);
      S[s * nx + t] = lo->G[as * W + w + at - as] + hi->G[bs * W + w + bt - bs];
    }
  for (size_t k = 0; k + 1 < nx; k++) {
    double o = 0;
    for (size_t i = k + 1; i < nx; i++) o += S[i * nx + k];
    if (!(o > 0)) return k;
    osep[k] = o;
    for (size_t i = k + 1; i < nx; i++) {
      double f = S[i * nx + k] / o;
      if (f == 0) continue;
      for (size_t j = k + 1; j < nx; j++)
        if (j != i) S[i * nx + j] += f * S[k * nx + j];
    }
  }
  psep[nx - 1] = 1;
  int scaled = 0;
  for (size_t k = nx - 1; k-- > 0;)
    psep[k] = back_one(S + k * nx, psep, k, nx - 1, nx, osep[k], &scaled);
  double mx = 0;
  for (size_t k = 0; k < nx; k++)
    if (psep[k] > mx) mx = psep[k];
  for (size_t k = 0; k < nx; k++) psep[k] /= mx;
  return nx;
}

void valley_fv2d_result_free(valley_fv2d_result_t *r) {
  if (r == NULL) return;
  free(r->x);
  free(r->y);
  free(r->rho);
  r->x = r->y = r->rho = NULL;
}

valley_status_t valley_fv2d_steady(const valley_fp2d_t *p, double T, size_t nx, size_t ny,
                                   valley_fv2d_result_t *out, valley_error_t *err) {
  if (out == NULL) return VALLEY_ERROR(err, VALLEY_EINVAL, "the result pointer is NULL");
  out->x = out->y = out->rho = NULL;
  valley_status_t st0 = valley_fp2d_check_args(p, T, nx, ny, err);
  if (st0 != VALLEY_OK) return st0;
  size_t W = 2 * nx + 1;
  if (ny > SIZE_MAX / nx || (nx * ny + nx) > SIZE_MAX / sizeof(double) / W)
    return VALLEY_ERROR(err, VALLEY_ENOMEM, "grid %zu x %zu: band too large", nx, ny);
  size_t N = nx * ny, m = ny / 2;
  double hx = (p->xhi - p->xlo) / (double)nx, hy = (p->yhi - p->ylo) / (double)ny;
  half_t hv[2] = {{(m + 1) * nx, 0, NULL, NULL, NULL, 0, 0},
                  {(ny - m) * nx, 1, NULL, NULL, NULL, 0, 0}};
  double *rate = malloc(4 * N * sizeof *rate), *pi = malloc(N * sizeof *pi);
  double *xs = malloc(nx * sizeof *xs), *ys = malloc(ny * sizeof *ys);
  double *S = malloc(nx * nx * sizeof *S), *osep = malloc(nx * sizeof *osep);
  int okmem = rate && pi && xs && ys && S && osep;
  for (int q = 0; q < 2; q++) {
    hv[q].G = malloc(hv[q].n * W * sizeof(double));
    hv[q].out = malloc(hv[q].n * sizeof(double));
    hv[q].pi = malloc(hv[q].n * sizeof(double));
    okmem = okmem && hv[q].G && hv[q].out && hv[q].pi;
  }
  valley_status_t st = VALLEY_OK;
  if (!okmem) {
    st = VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory for the %zu x %zu band elimination "
                      "(%zu doubles)", nx, ny, (N + nx) * W);
    goto done;
  }
  st = build_rates(p, T, nx, ny, hx, hy, rate, err);
  if (st != VALLEY_OK) goto done;
  fill_halves(rate, nx, ny, &hv[0], &hv[1]);
#ifdef VALLEY_HAVE_OPENMP
#pragma omp parallel for schedule(static, 1) default(none) shared(hv, nx)
#endif
  for (int q = 0; q < 2; q++) half_eliminate(&hv[q], nx);
  for (int q = 0; q < 2; q++)
    if (hv[q].bad != hv[q].n) {
      size_t k = q == 0 ? hv[q].bad : N - 1 - hv[q].bad;
      st = VALLEY_ERROR(err, VALLEY_EDOM, "cell (%zu, %zu) has no rate onward (rates "
                        "underflow: T = %g is too small for a %zu x %zu grid; use more cells)", k % nx,
                        k / nx, T, nx, ny);
      goto done;
    }
  size_t bad = separator_solve(&hv[0], &hv[1], nx, N, S, osep, pi);
  if (bad != nx) {
    st = VALLEY_ERROR(err, VALLEY_EDOM, "separator cell (%zu, %zu) has no rate onward (rates "
                      "underflow: T = %g is too small for a %zu x %zu grid; use more cells)", bad, m, T,
                      nx, ny);
    goto done;
  }
  for (int q = 0; q < 2; q++)
    for (size_t s = 0; s < nx; s++) hv[q].pi[to_local(&hv[q], N, m * nx + s)] = pi[s];
#ifdef VALLEY_HAVE_OPENMP
#pragma omp parallel for schedule(static, 1) default(none) shared(hv, nx)
#endif
  for (int q = 0; q < 2; q++) half_back(&hv[q], nx);
  /* bring both halves to the same scale (the lesser one's values may underflow to 0: they are
   * below 1e-250 of the other's), then back to the global order */
  int sc = hv[0].scaled > hv[1].scaled ? hv[0].scaled : hv[1].scaled;
  for (int q = 0; q < 2; q++) {
    for (int c = hv[q].scaled; c < sc; c++)
      for (size_t l = 0; l < hv[q].n; l++) hv[q].pi[l] /= RESCALE_BIG;
    for (size_t l = 0; l < hv[q].n; l++) pi[q == 0 ? l : N - 1 - l] = hv[q].pi[l];
  }
  double tot = 0;
  for (size_t k = 0; k < N; k++) tot += pi[k];
  if (!(tot > 0) || !isfinite(tot)) {
    st = VALLEY_ERROR(err, VALLEY_EDOM, "the %zu x %zu elimination summed to %g (T = %g): rates "
                      "out of range", nx, ny, tot, T);
    goto done;
  }
  for (size_t k = 0; k < N; k++) pi[k] /= tot * hx * hy;
  /* the residual of A pi = 0, cell by cell, with the original rates, where the density is
   * above RESIDUAL_FLOOR of its peak (further out in- and outflows may be subnormal) */
  double res = 0, pmax = 0;
  for (size_t k = 0; k < N; k++)
    if (pi[k] > pmax) pmax = pi[k];
  for (size_t k = 0; k < N; k++) {
    if (!(pi[k] > RESIDUAL_FLOOR * pmax)) continue;
    double outflow = pi[k] * (rate[4 * k] + rate[4 * k + 1] + rate[4 * k + 2] + rate[4 * k + 3]);
    double inflow = 0;
    if (k % nx + 1 < nx) inflow += rate[4 * (k + 1) + 1] * pi[k + 1];
    if (k % nx > 0) inflow += rate[4 * (k - 1) + 0] * pi[k - 1];
    if (k + nx < N) inflow += rate[4 * (k + nx) + 3] * pi[k + nx];
    if (k >= nx) inflow += rate[4 * (k - nx) + 2] * pi[k - nx];
    if (inflow + outflow > 0) {
      double r = fabs(inflow - outflow) / (inflow + outflow);
      if (r > res) res = r;
    }
  }
  for (size_t i = 0; i < nx; i++) xs[i] = p->xlo + ((double)i + 0.5) * hx;
  for (size_t j = 0; j < ny; j++) ys[j] = p->ylo + ((double)j + 0.5) * hy;
  out->nx = nx;
  out->ny = ny;
  out->hx = hx;
  out->hy = hy;
  out->x = xs;
  out->y = ys;
  out->rho = pi;
  out->residual = res;
  pi = xs = ys = NULL;
done:
  free(rate);
  free(pi);
  free(xs);
  free(ys);
  free(S);
  free(osep);
  for (int q = 0; q < 2; q++) {
    free(hv[q].G);
    free(hv[q].out);
    free(hv[q].pi);
  }
  return st;
}
