/* The vectorised kernel of the Langevin and SGD ensembles for basin1d mixtures (shift-curvature
 * paper, eqs. (5), (10), (11); Appendix A for non-Gaussian minibatch noise): its own exp, log,
 * sin/cos and Box-Muller, eight lanes to a vector (GCC/Clang vector extensions, AVX-512 where the
 * machine has it), and the fast block of sim/langevin.c's 1-D runner.  docs/langevin.md
 * describes the methods and their accuracy. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "langevin_internal.h"
#include "valley/langevin.h"

#include "vec_math.h"

#define NV (LANES / W)

void valley_langevin_vexp(const double *x, double *y, size_t n) {
  for (size_t i = 0; i < n; i += W) {
    vd v = {0};
    for (size_t l = 0; l < W && i + l < n; l++) v[l] = x[i + l];
    vd r = v_exp(v);
    for (size_t l = 0; l < W && i + l < n; l++) y[i + l] = r[l];
  }
}

void valley_langevin_vlog(const double *x, double *y, size_t n) {
  for (size_t i = 0; i < n; i += W) {
    vd v = vset(1.0);
    for (size_t l = 0; l < W && i + l < n; l++) v[l] = x[i + l];
    vd r = v_log(v);
    for (size_t l = 0; l < W && i + l < n; l++) y[i + l] = r[l];
  }
}

void valley_langevin_vsincos2pi(const double *u, double *s, double *c, size_t n) {
  for (size_t i = 0; i < n; i += W) {
    vd v = {0}, sn, cs;
    for (size_t l = 0; l < W && i + l < n; l++) v[l] = u[i + l];
    v_sincos2pi(v, &sn, &cs);
    for (size_t l = 0; l < W && i + l < n; l++) {
      s[i + l] = sn[l];
      c[i + l] = cs[l];
    }
  }
}

void valley_langevin_vnormal(valley_pcg32_t *rng, double *z, size_t n) {
  size_t pairs = n / 2;
  for (size_t i = 0; i < pairs; i += W) {
    vd u1 = vset(1.0), u2 = {0}, z1, z2;
    for (size_t l = 0; l < W && i + l < pairs; l++) {
      u1[l] = 1.0 - valley_pcg32_double(rng);
      u2[l] = (double)valley_pcg32_next(rng) * 0x1p-32;
    }
    v_bm(u1, u2, &z1, &z2);
    for (size_t l = 0; l < W && i + l < pairs; l++) {
      z[2 * (i + l)] = z1[l];
      z[2 * (i + l) + 1] = z2[l];
    }
  }
}

/* ---------------------------------------------------------------------------------------- */
/* The fast kernel: basin1d mixtures, LANES particles a block.                              */

/* The vectorised kernel: the block's eight vectors advance in lock step over [t0, t1), in chunks
 * of CHUNK steps: first the chunk's noise for every lane (independent of theta, so this loop
 * runs at full throughput), then the drift steps, whose dependency chain is the exp.
 * `noise` and `dm` are constants in each instantiation (see valley_langevin_fast_block). */
#define CHUNK 16
/* The chunk's eta for steps [ta, tb) into buf[0 .. tb - ta - 1] (buf has CHUNK + 1 rows).
 * Gaussian: Box-Muller pairs start at even steps; the half of a pair that falls past the chunk
 * waits in zc.  The uniforms of all pairs are drawn first (PCG chains, eight vectors
 * interleaved), then transformed (independent items, one at a time). */
VINLINE void fast_noise(vd buf[][NV], vu *s, const vu *inc, vd *zc, uint64_t ta, uint64_t tb,
                        const valley_lnoise_t noise) {
  if (noise != VALLEY_LNOISE_GAUSSIAN) {
    for (uint64_t t = ta; t < tb; t++) {
#pragma GCC unroll 8
      for (int v = 0; v < NV; v++) {
        vu o = pcg_out(&s[v], inc[v]);
        if (noise == VALLEY_LNOISE_UNIFORM) {
          vd u = (u64_to_d(o) + 0.5) * 0x1p-32;
          buf[t - ta][v] = SQRT3 * (2.0 * u - 1.0);
        } else {
          buf[t - ta][v] = vsel((vi)((o >> 31) != 0), vset(1.0), vset(-1.0));
        }
      }
    }
    return;
  }
  size_t r0 = 0;
  if (ta & 1u) { /* the second half of the pair drawn at step ta - 1 */
    for (int v = 0; v < NV; v++) buf[0][v] = zc[v];
    r0 = 1;
  }
  size_t npair = ((size_t)(tb - ta) - r0 + 1) / 2;
  vd u1[CHUNK / 2 + 1][NV], u2[CHUNK / 2 + 1][NV];
  for (size_t j = 0; j < npair; j++) {
#pragma GCC unroll 8
    for (int v = 0; v < NV; v++) {
      vu o1 = pcg_out(&s[v], inc[v]), o2 = pcg_out(&s[v], inc[v]), o3 = pcg_out(&s[v], inc[v]);
      u1[j][v] = 1.0 - u64_to_d(((o1 >> 5) << 26) | (o2 >> 6)) * 0x1p-53;
      u2[j][v] = u64_to_d(o3) * 0x1p-32;
    }
  }
  for (size_t j = 0; j < npair; j++)
    for (int v = 0; v < NV; v++)
      v_bm(u1[j][v], u2[j][v], &buf[r0 + 2 * j][v], &buf[r0 + 2 * j + 1][v]);
  if (r0 + 2 * npair > (size_t)(tb - ta)) /* odd tail: its second half waits */
    for (int v = 0; v < NV; v++) zc[v] = buf[tb - ta][v];
}

VINLINE void fast_block_impl(const mixture_t *M, run1d_t *R, size_t blk, uint64_t t0,
                             uint64_t t1, uint64_t *hrow, const valley_lnoise_t noise,
                             const dmodel_t dm) {
  const size_t o = blk * LANES;
  const double lo = R->lo, hi = R->hi, hT = R->hT, amp0 = sqrt(R->hT), hL = R->h * M->L;
  const double c = M->c, L = M->L, umin = M->umin, ws = M->ws;
  const int K = M->K;
  vd th[NV], zc[NV];
  vu s[NV], inc[NV];
  vd buf[CHUNK + 1][NV];
  for (int v = 0; v < NV; v++) {
    th[v] = *(const vd *)&R->th[o + (size_t)v * W];
    zc[v] = *(const vd *)&R->zc[o + (size_t)v * W];
    s[v] = *(const vu *)&R->e.st[o + (size_t)v * W];
    inc[v] = *(const vu *)&R->e.inc[o + (size_t)v * W];
  }
  uint64_t next = first_record(t0, R->e.burn, R->e.rec);
  for (uint64_t ta = t0; ta < t1; ta += CHUNK) {
    uint64_t tb = t1 - ta < CHUNK ? t1 : ta + CHUNK;
    fast_noise(buf, s, inc, zc, ta, tb, noise);
    for (uint64_t t = ta; t < tb; t++) {
      /* the eight vectors interleaved: eight independent exp chains in flight */
      vd g[NV], gp[NV], y[NV];
#pragma GCC unroll 8
      for (int v = 0; v < NV; v++) {
        g[v] = vset(c);
        gp[v] = vset(0.0);
      }
      for (int k = 0; k < K; k++) {
        const double mk = M->m[k], ak = M->a[k], nbk = -M->b[k], b2k = M->b2[k];
#pragma GCC unroll 8
        for (int v = 0; v < NV; v++) {
          vd d = th[v] - mk;
          vd ae = ak * v_exp_neg((d * d) * nbk);
          g[v] = g[v] + ae;
          gp[v] = gp[v] - (ae * d) * b2k;
        }
      }
      vi in = ~(vi){0}; /* all lanes inside so far */
#pragma GCC unroll 8
      for (int v = 0; v < NV; v++) {
        vd x = th[v], eta = buf[t - ta][v];
        vd gq = gp[v] / g[v]; /* U' = -L g'/g */
        if (dm == DM_CONST) {
          y[v] = (x + hL * gq) + amp0 * eta;
        } else {
          vd dU = -L * gq;
          vd D;
          if (dm == DM_LOSS)
            D = 1.0 + ws * (-L * v_log_normal(g[v]) - umin); /* g >= c > 0 */
          else if (dm == DM_GRAD)
            D = 1.0 + ws * (dU * dU);
          else
            D = v_exp(ws * x);
          y[v] = (x + hL * gq) + vsqrt(hT * D) * eta;
        }
        in &= (vi)(y[v] >= lo) & (vi)(y[v] <= hi); /* false for NaN */
      }
      int all_inside = 1;
#if defined(__AVX512F__)
      all_inside = _mm512_cmpeq_epi64_mask((__m512i)in, _mm512_set1_epi64(-1)) == 0xff;
#else
      for (int l = 0; l < W; l++) all_inside &= in[l] != 0;
#endif
      if (!all_inside) { /* rare: fold the lanes outside, one by one */
        for (int v = 0; v < NV; v++)
          for (int l = 0; l < W; l++) {
            double f = fold(y[v][l], lo, hi);
            if (isnan(f)) {
              size_t i = o + (size_t)v * W + (size_t)l;
              if (R->e.dead[i] == 0) {
                R->e.dead[i] = t + 1;
                R->e.dead_from[i] = th[v][l];
              }
              f = lo;
            }
            y[v][l] = f;
          }
      }
#pragma GCC unroll 8
      for (int v = 0; v < NV; v++) th[v] = y[v];
      if (t + 1 == next) {
        for (int v = 0; v < NV; v++)
          for (int l = 0; l < W; l++)
            if (o + (size_t)v * W + (size_t)l < R->e.n)
              hrow[bin_of(th[v][l], lo, R->scale, R->bins)]++;
        next += R->e.rec;
      }
    }
  }
  for (int v = 0; v < NV; v++) {
    *(vd *)&R->th[o + (size_t)v * W] = th[v];
    *(vd *)&R->zc[o + (size_t)v * W] = zc[v];
    *(vu *)&R->e.st[o + (size_t)v * W] = s[v];
  }
}

#define FAST_CASE(nz, d)                                     \
  case (int)(nz) * 4 + (int)(d):                             \
    fast_block_impl(M, R, blk, t0, t1, hrow, (nz), (d));     \
    break;

void valley_langevin_fast_block(const mixture_t *M, run1d_t *R, size_t blk, uint64_t t0,
                                uint64_t t1, uint64_t *hrow) {
  switch ((int)R->noise * 4 + (int)M->dm) {
    FAST_CASE(VALLEY_LNOISE_GAUSSIAN, DM_CONST)
    FAST_CASE(VALLEY_LNOISE_GAUSSIAN, DM_LOSS)
    FAST_CASE(VALLEY_LNOISE_GAUSSIAN, DM_GRAD)
    FAST_CASE(VALLEY_LNOISE_GAUSSIAN, DM_EXP)
    FAST_CASE(VALLEY_LNOISE_UNIFORM, DM_CONST)
    FAST_CASE(VALLEY_LNOISE_UNIFORM, DM_LOSS)
    FAST_CASE(VALLEY_LNOISE_UNIFORM, DM_GRAD)
    FAST_CASE(VALLEY_LNOISE_UNIFORM, DM_EXP)
    FAST_CASE(VALLEY_LNOISE_TWO_POINT, DM_CONST)
    FAST_CASE(VALLEY_LNOISE_TWO_POINT, DM_LOSS)
    FAST_CASE(VALLEY_LNOISE_TWO_POINT, DM_GRAD)
    FAST_CASE(VALLEY_LNOISE_TWO_POINT, DM_EXP)
  default:
    break;
  }
}
#undef FAST_CASE
