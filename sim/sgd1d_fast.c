/* The vectorised kernel of the 1-D SGD process (He, Huang, Yuan 2019, Sec. 5.1) on the canonical
 * valley with Uniform(-nu, nu) noise: VALLEY_LANES chains advanced in lock step, eight to a
 * vector (GCC/Clang vector extensions; AVX-512 where the machine has it).  Every lane performs
 * exactly the IEEE operations of the generic kernel (sgd1d.c) in the same order, so the two
 * agree bit for bit (tests/test_sgd1d.c). */
#include <stddef.h>
#include <string.h>

#include "sgd1d_block.h"
#include "valley/pcg.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512CD__) && defined(__BMI2__)
#define VALLEY_FAST_AVX512 1
#else
#define VALLEY_FAST_AVX512 0
#endif

#define W 8 /* lanes per vector */
#define NV (VALLEY_LANES / W)

typedef double vd __attribute__((vector_size(8 * W), aligned(8 * W)));
typedef uint64_t vu __attribute__((vector_size(8 * W), aligned(8 * W)));
typedef int64_t vi __attribute__((vector_size(8 * W), aligned(8 * W)));

/* m ? a : b with m all-ones or all-zeros per lane */
static inline vd sel_d(vu m, vd a, vd b) { return (vd)(((vu)a & m) | ((vu)b & ~m)); }
static inline vu sel_u(vu m, vu a, vu b) { return (a & m) | (b & ~m); }

/* PCG32 XSH-RR output of each lane's old state, as a double in (0, 1): (x + 0.5) 2^-32. */
static inline vd pcg_open01(vu *st, vu inc) {
  vu old = *st;
  *st = old * VALLEY_PCG32_MULT + inc;
  vu xs = (((old >> 18) ^ old) >> 27) & 0xffffffffu;
  vu rot = old >> 59;
  vu x = ((xs >> rot) | (xs << ((-rot) & 31u))) & 0xffffffffu;
  vd xd = __builtin_convertvector((vi)x, vd);
  return (xd + 0.5) * (1.0 / 4294967296.0);
}

static inline vu prev_sharp_vec(const valley_sgd1d_block_t *b, int v) {
  return ((const vu *)b->prev_sharp)[v];
}

/* env[min(idx, kp1)] for a table of at most 16 entries held in two vectors. */
static inline vd env_lookup16(vd lo, vd hi, vu idx, uint64_t kp1) {
  vu i = sel_u((vu)(idx < kp1), idx, (vu){0} + kp1);
#if defined(__GNUC__) && !defined(__clang__)
  return __builtin_shuffle(lo, hi, (vi)i);
#else
  vd e;
  for (int k = 0; k < W; k++) e[k] = i[k] < W ? lo[i[k]] : hi[i[k] - W];
  return e;
#endif
}

/* Round lengths waiting to enter the block's histogram: pushed branch-free (AVX-512 compress
 * where available), flushed when nearly full and at the end. */
#define HB_CAP 256
typedef struct {
  uint64_t len[HB_CAP + W];
  int n;
} hist_buf_t;

/* Adds n buffered round lengths to the block's histogram; returns the new count, 0. */
static int hist_flush_n(const uint64_t *hbuf, int n, valley_sgd1d_block_t *b) {
  for (int i = 0; i < n; i++)
    b->hist[hbuf[i] < VALLEY_SGD1D_HIST - 1 ? hbuf[i] : VALLEY_SGD1D_HIST - 1]++;
  return 0;
}

static inline void hist_flush(hist_buf_t *h, valley_sgd1d_block_t *b) {
  h->n = hist_flush_n(h->len, h->n, b);
}

static inline void hist_push(hist_buf_t *h, valley_sgd1d_block_t *b, vu ended, vu len) {
#if defined(__AVX512F__)
  __mmask8 m = _mm512_movepi64_mask((__m512i)ended);
  _mm512_storeu_si512((void *)&h->len[h->n], _mm512_maskz_compress_epi64(m, (__m512i)len));
  h->n += __builtin_popcount(m);
#else
  for (int i = 0; i < W; i++) {
    h->len[h->n] = len[i];
    h->n += ended[i] != 0;
  }
#endif
  if (h->n > HB_CAP - W) hist_flush(h, b);
}

#if VALLEY_FAST_AVX512
/* The statistics loop in AVX-512 (F, DQ and CD, with BMI2).  Every number comes from the same IEEE
 * operations as in the generic kernel, but the work is split in two (docs/performance.md):
 *
 * 1. The vector loop does per step only what cannot wait: the process, the trajectory sum, the
 *    open round's running sum, start step ts and first iterate w0, and the envelope comparison.
 *    A lane with no round yet has ts = -1 and scratch sum and w0, so no step needs an "in a
 *    round" mask.  It leaves in a chunk buffer, per step, the sum and w0 from before the step
 *    and two bit masks: which lanes are flat and which failed the envelope comparison.
 * 2. Every CH = 64 steps, a pass over the chunk turns each lane's 64 flat bits into its round
 *    starts (sharp -> flat) and first sharp iterates (flat -> sharp) and closes each finished
 *    round from the buffered sum and w0: mean, accumulators, probes, histogram.  It works on
 *    eight lanes at once, one round per lane per iteration in time order, with no branch that
 *    depends on a single lane.  A lane closes a round about once every 20 steps, so the closing
 *    work is done for real rounds only instead of for all eight lanes at every step.
 *
 * The envelope probe: a round's flat iterates come first, so "w_i >= 0 for i = 1..K" is
 * F >= K + 1 (a round shorter than K + 2 has a sharp iterate in 1..K); per step only
 * "w > w0 - env[t - ts]" is checked, while t - ts <= K, and a round passed if no comparison
 * failed after its start.  env[0] is +inf, so a round's first iterate never fails.  With
 * K <= 15 the table lives in two registers, rotated by t mod 16 so that ts itself is the
 * permutation index; longer envelopes are gathered. */
#define NI 4  /* vectors in flight */
#define CH 64 /* steps per chunk: one bit per step in a 64-bit word */

typedef struct { /* one vector of lanes */
  __m512i s, ts;
  __m512d w, sum, w0, traj;
  __mmask8 pflat; /* the previous iterate was flat */
} x512_t;

typedef struct {
  __m512i mult;
  __m512d zd, scale, off, nu, eta, ap, am;
} k512_t;

typedef struct { /* one chunk's buffers for NI vectors */
  _Alignas(64) double sum[CH][NI * W], w0[CH][NI * W];
  _Alignas(64) uint8_t flat[NI][CH];
  _Alignas(64) uint8_t fail[NI][CH];
} chunk_t;

static inline __attribute__((always_inline)) void step512(x512_t *x, __m512i inc,
                                                          const k512_t *k, __m512i tv,
                                                          __m512i tlo, __m512d elo, __m512d ehi,
                                                          const double *env, int small,
                                                          double *sum_out, double *w0_out,
                                                          uint8_t *flat_out, uint8_t *fail_out) {
  __m512i old = x->s;
  x->s = _mm512_add_epi64(_mm512_mullo_epi64(old, k->mult), inc);
  /* XSH-RR: the 32-bit rotation of the low half of each lane, the high half zeroed */
  __m512i xs = _mm512_srli_epi64(_mm512_xor_si512(_mm512_srli_epi64(old, 18), old), 27);
  __m512i rr = _mm512_maskz_rorv_epi32(0x5555, xs, _mm512_srli_epi64(old, 59));
  /* 2u - 1 = (x + 0.5) 2^-31 - 1, rounded once in both: fma(x, 2^-31, 2^-32 - 1) is the same
   * double (x 2^-31 and 1 - 2^-32 are exact) */
  __m512d omega =
      _mm512_mul_pd(k->nu, _mm512_fmadd_pd(_mm512_cvtepi64_pd(rr), k->scale, k->off));
  __m512d g = _mm512_mask_blend_pd(x->pflat, k->am, k->ap);
  __m512d w = _mm512_sub_pd(x->w, _mm512_mul_pd(k->eta, _mm512_add_pd(g, omega)));
  x->w = w;
  x->traj = _mm512_add_pd(x->traj, w);
  __mmask8 flat = _mm512_cmp_pd_mask(w, k->zd, _CMP_GE_OQ);
  __mmask8 start = _kandn_mask8(x->pflat, flat);
  _mm512_store_pd(sum_out, x->sum);
  _mm512_store_pd(w0_out, x->w0);
  /* a round starts: sum = w (0 + w in the generic kernel: equal, as w != -0 here) */
  x->ts = _mm512_mask_mov_epi64(x->ts, start, tv);
  x->sum = _mm512_mask_mov_pd(_mm512_add_pd(x->sum, w), start, w);
  x->w0 = _mm512_mask_mov_pd(x->w0, start, w);
  /* envelope: for t - ts <= K, fail unless w > w0 - env[t - ts] */
  __mmask8 chk = _mm512_cmpge_epi64_mask(x->ts, tlo);
  __m512d e;
  if (small)
    e = _mm512_permutex2var_pd(elo, x->ts, ehi);
  else
    e = _mm512_mask_i64gather_pd(k->zd, chk, _mm512_sub_epi64(tv, x->ts), env, 8);
  *fail_out = (uint8_t)_mm512_mask_cmp_pd_mask(chk, w, _mm512_sub_pd(x->w0, e), _CMP_NGT_UQ);
  *flat_out = (uint8_t)flat;
  x->pflat = flat;
}

#if !(defined(__GFNI__) && defined(__AVX512VBMI__))
/* Lane i's bits of CH mask bytes (one per step) as one word, bit s for step s. */
static inline uint64_t lane_bits(const uint8_t *m, int i) {
  uint64_t r = 0;
  for (int g = 0; g < CH / 8; g++) {
    uint64_t q;
    memcpy(&q, m + 8 * g, 8);
    r |= _pext_u64(q, 0x0101010101010101ull << i) << (8 * g);
  }
  return r;
}
#endif

/* The lanes' words of NI * W mask bytes per step: words[j * W + i] holds bit i of the bytes of
 * vector j, bit s for step s.  With GFNI and VBMI: per vector one byte reversal, an 8 x 8 bit
 * transpose of each 8-step group (gf2p8affine against the identity) and an 8 x 8 byte
 * transpose; otherwise one pext per lane and group. */
static inline void lane_words(const uint8_t (*m)[CH], uint64_t *words) {
#if defined(__GFNI__) && defined(__AVX512VBMI__)
  _Alignas(64) static const uint8_t rev[64] = {
      7,  6,  5,  4,  3,  2,  1,  0,  15, 14, 13, 12, 11, 10, 9,  8,  23, 22, 21, 20, 19, 18,
      17, 16, 31, 30, 29, 28, 27, 26, 25, 24, 39, 38, 37, 36, 35, 34, 33, 32, 47, 46, 45, 44,
      43, 42, 41, 40, 55, 54, 53, 52, 51, 50, 49, 48, 63, 62, 61, 60, 59, 58, 57, 56};
  _Alignas(64) static const uint8_t tr[64] = {
      0, 8,  16, 24, 32, 40, 48, 56, 1, 9,  17, 25, 33, 41, 49, 57, 2, 10, 18, 26, 34, 42,
      50, 58, 3, 11, 19, 27, 35, 43, 51, 59, 4, 12, 20, 28, 36, 44, 52, 60, 5, 13, 21, 29,
      37, 45, 53, 61, 6, 14, 22, 30, 38, 46, 54, 62, 7, 15, 23, 31, 39, 47, 55, 63};
  const __m512i prev = _mm512_load_si512(rev), ptr = _mm512_load_si512(tr);
  const __m512i id = _mm512_set1_epi64((long long)0x8040201008040201ull);
  for (int j = 0; j < NI; j++) {
    __m512i x = _mm512_permutexvar_epi8(prev, _mm512_loadu_si512(m[j]));
    x = _mm512_gf2p8affine_epi64_epi8(id, x, 0);
    _mm512_storeu_si512(&words[j * W], _mm512_permutexvar_epi8(ptr, x));
  }
#else
  for (int j = 0; j < NI; j++)
    for (int i = 0; i < W; i++) words[j * W + i] = lane_bits(m[j], i);
#endif
}

/* Per-lane state of the closing pass, lane L of the NI vectors at index L. */
typedef struct {
  _Alignas(64) int64_t ts[NI * W]; /* round start (-1: none yet) */
  _Alignas(64) int64_t tsh[NI * W]; /* its first sharp step */
  _Alignas(64) int64_t tfail[NI * W]; /* the last envelope failure (-1: none) */
  _Alignas(64) uint64_t pflat[NI * W]; /* 1: the iterate before the chunk was flat */
} lanes_t;

/* Highest set bit's step t0 + (63 - lzcnt), where set; else dflt. */
static inline __m512i last_step(__m512i bits, __m512i t0p63, __m512i dflt) {
  return _mm512_mask_sub_epi64(dflt, _mm512_test_epi64_mask(bits, bits), t0p63,
                               _mm512_lzcnt_epi64(bits));
}

/* The closing pass over one chunk of n steps from step t0, eight lanes at a time (not inlined:
 * inlined, it costs the vector loop registers): lane L of the NI vectors is chain v0 * W + L of
 * the block.  Each lane's round starts in the chunk are taken lowest first, one per iteration
 * for all eight lanes (a lane with none left is masked off), so each lane's rounds close in
 * time order and its accumulators see the same additions in the same order as in the generic
 * kernel; the loop runs as many times as the busiest lane has starts. */
static __attribute__((noinline)) void chunk_close(
    valley_sgd1d_block_t *restrict b, int v0, const chunk_t *c, lanes_t *ln, int64_t t0, int n,
    const valley_sgd1d_kprobes_t *pr) {
  _Alignas(64) uint64_t flw[NI * W], faw[NI * W];
  _Alignas(64) uint64_t hb[NI * W * CH + W];
  int nh = 0;
  lane_words(c->flat, flw);
  lane_words(c->fail, faw);
  const __m512i nm = _mm512_set1_epi64(n == CH ? -1LL : (long long)((1ull << n) - 1u));
  const __m512i one = _mm512_set1_epi64(1), zi = _mm512_setzero_si512();
  const __m512i t0v = _mm512_set1_epi64(t0), t0p63 = _mm512_set1_epi64(t0 + 63);
  const __m512i Kp1 = _mm512_set1_epi64((long long)(pr->K + 1));
  const __m512i frm = _mm512_set1_epi64((long long)pr->flat_run_max);
  const __m512i frm2 = _mm512_set1_epi64((long long)pr->flat_run_max_alt);
  const __m512i hmax = _mm512_set1_epi64(VALLEY_SGD1D_HIST - 1);
  const __m512d lo = _mm512_set1_pd(pr->w0_lo), hi = _mm512_set1_pd(pr->w0_hi),
                thr = _mm512_set1_pd(pr->mean_threshold),
                thr2 = _mm512_set1_pd(pr->mean_threshold_alt), zd = _mm512_setzero_pd();
  for (int j = 0; j < NI; j++) {
    const int g0 = (v0 + j) * W;
    __m512i fl = _mm512_and_si512(_mm512_load_si512(&flw[j * W]), nm);
    __m512i fa = _mm512_and_si512(_mm512_load_si512(&faw[j * W]), nm);
    __m512i before =
        _mm512_or_si512(_mm512_slli_epi64(fl, 1), _mm512_load_si512(&ln->pflat[j * W]));
    __m512i starts = _mm512_andnot_si512(before, fl);
    __m512i tosharp = _mm512_and_si512(_mm512_andnot_si512(fl, before), nm);
    __m512i ts = _mm512_load_si512(&ln->ts[j * W]);
    __m512i tsh0 = _mm512_load_si512(&ln->tsh[j * W]);
    __m512i tf0 = _mm512_load_si512(&ln->tfail[j * W]);
    /* the chunk buffers' column of each lane */
    __m512i col = _mm512_add_epi64(_mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0),
                                   _mm512_set1_epi64(j * W));
    __mmask8 act = (__mmask8)(b->nactive - g0 >= W ? 0xff : b->nactive - g0 <= 0 ? 0
                              : (1u << (b->nactive - g0)) - 1u);
    __m512i rounds = _mm512_load_si512(&b->rounds[g0]);
    __m512i len_sum = _mm512_load_si512(&b->len_sum[g0]);
    __m512i len_max = _mm512_load_si512(&b->len_max[g0]);
    __m512d mean_sum = _mm512_load_pd(&b->mean_sum[g0]);
    __m512i p[VALLEY_SGD1D_NPROBE];
    for (int q = 0; q < VALLEY_SGD1D_NPROBE; q++) p[q] = _mm512_load_si512(&b->probe[q][g0]);
    __mmask8 more = _mm512_test_epi64_mask(starts, starts);
    while (more) {
      __m512i low = _mm512_and_si512(starts, _mm512_sub_epi64(zi, starts));
      starts = _mm512_xor_si512(starts, low);
      __m512i below = _mm512_sub_epi64(low, one);
      __m512i sidx = _mm512_sub_epi64(_mm512_set1_epi64(63), _mm512_lzcnt_epi64(low));
      __m512i t = _mm512_add_epi64(t0v, sidx);
      __mmask8 cl = _mm512_mask_cmpge_epi64_mask(more, ts, zi);
      if (cl) {
        /* close the round [ts, t): its first sharp and last failure before t */
        __m512i tsh = last_step(_mm512_and_si512(tosharp, below), t0p63, tsh0);
        __m512i lastfail = last_step(_mm512_and_si512(fa, below), t0p63, tf0);
        __m512i len = _mm512_sub_epi64(t, ts), F = _mm512_sub_epi64(tsh, ts);
        /* [s][col] */
        __m512i gi = _mm512_add_epi64(_mm512_slli_epi64(sidx, __builtin_ctz(NI * W)), col);
        __m512d sum = _mm512_mask_i64gather_pd(zd, cl, gi, &c->sum[0][0], 8);
        __m512d w0 = _mm512_mask_i64gather_pd(zd, cl, gi, &c->w0[0][0], 8);
        __m512d mean = _mm512_maskz_div_pd(cl, sum, _mm512_cvtepu64_pd(len));
        rounds = _mm512_mask_add_epi64(rounds, cl, rounds, one);
        mean_sum = _mm512_mask_add_pd(mean_sum, cl, mean_sum, mean);
        len_sum = _mm512_mask_add_epi64(len_sum, cl, len_sum, len);
        len_max = _mm512_mask_max_epu64(len_max, cl, len_max, len);
        __mmask8 m;
        m = _mm512_mask_cmp_pd_mask(_mm512_mask_cmp_pd_mask(cl, w0, lo, _CMP_GE_OQ), w0, hi,
                                    _CMP_LE_OQ);
        p[VALLEY_PROBE_W0_RANGE] = _mm512_mask_add_epi64(p[VALLEY_PROBE_W0_RANGE], m,
                                                         p[VALLEY_PROBE_W0_RANGE], one);
        m = _mm512_mask_cmpeq_epi64_mask(cl, _mm512_sub_epi64(len, F), one);
        p[VALLEY_PROBE_ONE_SHARP] = _mm512_mask_add_epi64(p[VALLEY_PROBE_ONE_SHARP], m,
                                                          p[VALLEY_PROBE_ONE_SHARP], one);
        m = _mm512_mask_cmplt_epi64_mask(_mm512_mask_cmpge_epu64_mask(cl, F, Kp1), lastfail, ts);
        p[VALLEY_PROBE_ENVELOPE] = _mm512_mask_add_epi64(p[VALLEY_PROBE_ENVELOPE], m,
                                                         p[VALLEY_PROBE_ENVELOPE], one);
        m = _mm512_mask_cmple_epu64_mask(cl, F, frm);
        p[VALLEY_PROBE_FLAT_RUN] = _mm512_mask_add_epi64(p[VALLEY_PROBE_FLAT_RUN], m,
                                                         p[VALLEY_PROBE_FLAT_RUN], one);
        m = _mm512_mask_cmp_pd_mask(cl, mean, thr, _CMP_GE_OQ);
        p[VALLEY_PROBE_MEAN_ABOVE] = _mm512_mask_add_epi64(p[VALLEY_PROBE_MEAN_ABOVE], m,
                                                           p[VALLEY_PROBE_MEAN_ABOVE], one);
        m = _mm512_mask_cmp_pd_mask(cl, mean, zd, _CMP_GT_OQ);
        p[VALLEY_PROBE_MEAN_POSITIVE] = _mm512_mask_add_epi64(
            p[VALLEY_PROBE_MEAN_POSITIVE], m, p[VALLEY_PROBE_MEAN_POSITIVE], one);
        m = _mm512_mask_cmple_epu64_mask(cl, F, frm2);
        p[VALLEY_PROBE_FLAT_RUN_ALT] = _mm512_mask_add_epi64(p[VALLEY_PROBE_FLAT_RUN_ALT], m,
                                                             p[VALLEY_PROBE_FLAT_RUN_ALT], one);
        m = _mm512_mask_cmp_pd_mask(cl, mean, thr2, _CMP_GE_OQ);
        p[VALLEY_PROBE_MEAN_ABOVE_ALT] = _mm512_mask_add_epi64(
            p[VALLEY_PROBE_MEAN_ABOVE_ALT], m, p[VALLEY_PROBE_MEAN_ABOVE_ALT], one);
        /* histogram bins of the real chains' rounds, compressed into a buffer */
        m = cl & act;
        _mm512_storeu_si512(&hb[nh], _mm512_maskz_compress_epi64(m, _mm512_min_epu64(len, hmax)));
        nh += __builtin_popcount(m);
      }
      ts = _mm512_mask_mov_epi64(ts, more, t);
      more = _mm512_test_epi64_mask(starts, starts);
    }
    _mm512_store_si512(&b->rounds[g0], rounds);
    _mm512_store_si512(&b->len_sum[g0], len_sum);
    _mm512_store_si512(&b->len_max[g0], len_max);
    _mm512_store_pd(&b->mean_sum[g0], mean_sum);
    for (int q = 0; q < VALLEY_SGD1D_NPROBE; q++) _mm512_store_si512(&b->probe[q][g0], p[q]);
    _mm512_store_si512(&ln->ts[j * W], ts);
    _mm512_store_si512(&ln->tsh[j * W], last_step(tosharp, t0p63, tsh0));
    _mm512_store_si512(&ln->tfail[j * W], last_step(fa, t0p63, tf0));
    _mm512_store_si512(&ln->pflat[j * W],
                       _mm512_and_si512(_mm512_srli_epi64(fl, (unsigned)(n - 1)), one));
  }
  for (int i = 0; i < nh; i++) b->hist[hb[i]]++;
}

/* Advances vectors v0 .. v0 + NI - 1 of b from step t to step until with statistics on.
 * rot: for K <= 15 (small), the envelope table rotated for each t mod 16: rot[t % 16][m] is
 * env[(t - m) mod 16]. */
static inline __attribute__((always_inline)) void stats512(
    valley_sgd1d_block_t *restrict b, int v0, uint64_t t, uint64_t until,
    const valley_sgd1d_config_t *cfg, const valley_sgd1d_kprobes_t *pr, const double (*rot)[16],
    int small) {
  k512_t k;
  k.mult = _mm512_set1_epi64((long long)VALLEY_PCG32_MULT);
  k.zd = _mm512_setzero_pd();
  k.scale = _mm512_set1_pd(1.0 / 2147483648.0);
  k.off = _mm512_set1_pd(1.0 / 4294967296.0 - 1.0);
  k.nu = _mm512_set1_pd(cfg->nu);
  k.eta = _mm512_set1_pd(cfg->eta);
  k.ap = _mm512_set1_pd(cfg->valley.a_plus);
  k.am = _mm512_set1_pd(cfg->valley.a_minus);
  const double *env = pr->env;
  const long long K = (long long)pr->K;
  const __m512i one = _mm512_set1_epi64(1);

  x512_t x[NI];
  __m512i inc[NI];
  lanes_t ln;
  for (int j = 0; j < NI; j++) {
    const size_t o = (size_t)(v0 + j) * W;
    x[j].s = _mm512_load_si512(&b->st[o]);
    inc[j] = _mm512_load_si512(&b->inc[o]);
    x[j].w = _mm512_load_pd(&b->w[o]);
    x[j].pflat = (__mmask8)~_mm512_test_epi64_mask(_mm512_load_si512(&b->prev_sharp[o]), one);
    x[j].ts = _mm512_load_si512(&b->ts[o]);
    x[j].sum = _mm512_load_pd(&b->sum[o]);
    x[j].w0 = _mm512_load_pd(&b->w0[o]);
    x[j].traj = _mm512_load_pd(&b->traj_sum[o]);
  }
  for (int L = 0; L < NI * W; L++) {
    const size_t gl = (size_t)v0 * W + (size_t)L;
    ln.ts[L] = b->ts[gl];
    ln.tsh[L] = b->tsh[gl];
    ln.tfail[L] = b->tfail[gl];
    ln.pflat[L] = !b->prev_sharp[gl];
  }
  chunk_t c;
  __m512d elo = _mm512_setzero_pd(), ehi = _mm512_setzero_pd();
  for (uint64_t t0 = t; t0 < until; t0 += CH) {
    int n = until - t0 < CH ? (int)(until - t0) : CH;
    for (int s = 0; s < n; s++) {
      long long tt = (long long)(t0 + (uint64_t)s);
      __m512i tv = _mm512_set1_epi64(tt), tlo = _mm512_set1_epi64(tt - K);
      if (small) {
        elo = _mm512_load_pd(rot[tt & 15]);
        ehi = _mm512_load_pd(rot[tt & 15] + 8);
      }
      for (int j = 0; j < NI; j++)
        step512(&x[j], inc[j], &k, tv, tlo, elo, ehi, env, small, &c.sum[s][j * W],
                &c.w0[s][j * W], &c.flat[j][s], &c.fail[j][s]);
    }
    chunk_close(b, v0, &c, &ln, (int64_t)t0, n, pr);
  }
  for (int j = 0; j < NI; j++) {
    const size_t o = (size_t)(v0 + j) * W;
    _mm512_store_si512(&b->st[o], x[j].s);
    _mm512_store_pd(&b->w[o], x[j].w);
    _mm512_store_si512(&b->prev_sharp[o], _mm512_maskz_mov_epi64((__mmask8)~x[j].pflat, one));
    _mm512_store_pd(&b->sum[o], x[j].sum);
    _mm512_store_pd(&b->w0[o], x[j].w0);
    _mm512_store_pd(&b->traj_sum[o], x[j].traj);
  }
  for (int L = 0; L < NI * W; L++) { /* ts: the vector loop's and this pass's agree */
    const size_t gl = (size_t)v0 * W + (size_t)L;
    b->ts[gl] = ln.ts[L];
    b->tsh[gl] = ln.tsh[L];
    b->tfail[gl] = ln.tfail[L];
  }
}

/* stats512 for K <= 15 (the envelope table in two registers) and for longer envelopes */
static __attribute__((noinline)) void stats512_small(valley_sgd1d_block_t *restrict b, int v0,
                                                     uint64_t t, uint64_t until,
                                                     const valley_sgd1d_config_t *cfg,
                                                     const valley_sgd1d_kprobes_t *pr,
                                                     const double (*rot)[16]) {
  stats512(b, v0, t, until, cfg, pr, rot, 1);
}

static __attribute__((noinline)) void stats512_gather(valley_sgd1d_block_t *restrict b, int v0,
                                                      uint64_t t, uint64_t until,
                                                      const valley_sgd1d_config_t *cfg,
                                                      const valley_sgd1d_kprobes_t *pr) {
  stats512(b, v0, t, until, cfg, pr, NULL, 0);
}
#endif

void valley_sgd1d_fast_advance(valley_sgd1d_block_t *restrict b,
                               const valley_sgd1d_config_t *cfg,
                               const valley_sgd1d_kprobes_t *pr, uint64_t until) {
  const double eta = cfg->eta, nu = cfg->nu;
  const double a_plus = cfg->valley.a_plus, a_minus = cfg->valley.a_minus;
  const uint64_t burn = cfg->burn_in;
  const double *restrict env = pr->env;
  const uint64_t K = pr->K, Kp1 = pr->K + 1;
  const uint64_t frmax = pr->flat_run_max, frmax2 = pr->flat_run_max_alt;
  const double lo = pr->w0_lo, hi = pr->w0_hi;
  const double thr = pr->mean_threshold, thr2 = pr->mean_threshold_alt;
  const vu one = (vu){0} + 1;

  vu *st = (vu *)b->st, *inc = (vu *)b->inc, *prevp = (vu *)b->prev_sharp;
  vd *wv = (vd *)b->w;
  uint64_t t = b->t;

  /* Burn-in: the process alone; the state stays in registers. */
  if (t < burn && t < until) {
    uint64_t stop = until < burn ? until : burn;
    vu s[NV], c[NV];
    vd w[NV];
    for (int v = 0; v < NV; v++) {
      s[v] = st[v];
      c[v] = inc[v];
      w[v] = wv[v];
    }
    for (; t < stop; t++) {
      for (int v = 0; v < NV; v++) {
        vd u = pcg_open01(&s[v], c[v]);
        vd omega = nu * (2.0 * u - 1.0);
        vd g = sel_d((vu)(w[v] >= 0.0), (vd){0} + a_plus, (vd){0} + a_minus);
        w[v] = w[v] - eta * (g + omega);
      }
    }
    for (int v = 0; v < NV; v++) {
      st[v] = s[v];
      wv[v] = w[v];
      prevp[v] = (vu)(w[v] < 0.0) & one;
    }
  }

  if (t >= until) {
    b->t = t;
    return;
  }
  /* Statistics on: one vector at a time over the whole time range, so its state lives in
   * registers; vectors (and so lanes) are independent. */
  int small_env = Kp1 < 16; /* the envelope table fits two vectors: look up by permutation */
  vd env_lo = {0}, env_hi = {0};
  for (uint64_t i = 0; small_env && i <= Kp1; i++) {
    if (i < W)
      env_lo[i] = env[i];
    else
      env_hi[i - W] = env[i];
  }
#if VALLEY_FAST_AVX512
  {
    _Alignas(64) double rot[16][16];
    int small = K <= 15;
    for (int r = 0; r < 16; r++)
      for (int m = 0; m < 16; m++) {
        uint64_t i = (uint64_t)(r - m) & 15u;
        rot[r][m] = small && i <= K ? env[i] : 0.0;
      }
    for (int v = 0; v < NV; v += NI) {
      if (small)
        stats512_small(b, v, t, until, cfg, pr, (const double(*)[16])rot);
      else
        stats512_gather(b, v, t, until, cfg, pr);
    }
    b->t = until;
    return;
  }
#endif
  for (int v = 0; v < NV; v++) {
    vu s = st[v], c = inc[v], prev = -prev_sharp_vec(b, v);
    vd w = wv[v];
    vu inr = -((vu *)b->in_round)[v], F = ((vu *)b->F)[v], S = ((vu *)b->S)[v];
    vu ok = -((vu *)b->env_ok)[v];
    vd sum = ((vd *)b->sum)[v], w0 = ((vd *)b->w0)[v];
    vu rounds = ((vu *)b->rounds)[v], len_sum = ((vu *)b->len_sum)[v];
    vu len_max = ((vu *)b->len_max)[v];
    vd mean_sum = ((vd *)b->mean_sum)[v], traj = ((vd *)b->traj_sum)[v];
    vu pr_[VALLEY_SGD1D_NPROBE];
    for (int p = 0; p < VALLEY_SGD1D_NPROBE; p++) pr_[p] = ((vu *)b->probe[p])[v];
    vu active; /* padded lanes of the last block stay out of the histogram */
    for (int i = 0; i < W; i++) active[i] = v * W + i < b->nactive ? ~(uint64_t)0 : 0;
    hist_buf_t hb;
    hb.n = 0;
    uint64_t tt = t;
    for (; tt < until; tt++) {
      vd u = pcg_open01(&s, c);
      vd omega = nu * (2.0 * u - 1.0);
      vd g = sel_d((vu)(w >= 0.0), (vd){0} + a_plus, (vd){0} + a_minus);
      w = w - eta * (g + omega);
      traj += w;

      vu flat = (vu)(w >= 0.0); /* masks: all ones or zero per lane */
      vu start = flat & prev;
      vu ended = start & inr;
      /* close the round that `start` ends */
      vu len = F + S;
      vd lend = __builtin_convertvector((vi)(len | ((vu)(len == 0) & 1u)), vd);
      vd mean = sum / lend;
      rounds -= ended;
      mean_sum += sel_d(ended, mean, (vd){0});
      len_sum += ended & len;
      len_max = sel_u(ended & (vu)(len > len_max), len, len_max);
      pr_[VALLEY_PROBE_W0_RANGE] -= ended & (vu)(w0 >= lo) & (vu)(w0 <= hi);
      pr_[VALLEY_PROBE_ONE_SHARP] -= ended & (vu)(S == 1);
      pr_[VALLEY_PROBE_ENVELOPE] -= ended & ok;
      pr_[VALLEY_PROBE_FLAT_RUN] -= ended & (vu)(F <= frmax);
      pr_[VALLEY_PROBE_MEAN_ABOVE] -= ended & (vu)(mean >= thr);
      pr_[VALLEY_PROBE_MEAN_POSITIVE] -= ended & (vu)(mean > 0.0);
      pr_[VALLEY_PROBE_FLAT_RUN_ALT] -= ended & (vu)(F <= frmax2);
      pr_[VALLEY_PROBE_MEAN_ABOVE_ALT] -= ended & (vu)(mean >= thr2);
      hist_push(&hb, b, ended & active, len);
      /* open a new round at `start` */
      inr |= start;
      F &= ~start;
      S &= ~start;
      sum = sel_d(start, (vd){0}, sum);
      w0 = sel_d(start, w, w0);
      ok |= start;
      /* the iterate joins the open round; envelope check (Theorem 6 style) for 1 <= idx <= K */
      vu idx = F + S;
      vu chk = inr & (vu)(idx >= 1) & (vu)(idx <= K);
      vd e;
      if (small_env)
        e = env_lookup16(env_lo, env_hi, idx, Kp1);
      else
        for (int i = 0; i < W; i++) e[i] = env[idx[i] < Kp1 ? idx[i] : Kp1];
      vu pass = flat & (vu)(w > w0 - e);
      ok &= ~chk | pass;
      F -= inr & flat;
      S -= inr & ~flat;
      sum = sel_d(inr, sum + w, sum);
      prev = ~flat;
    }
    hist_flush(&hb, b);
    st[v] = s;
    wv[v] = w;
    ((vu *)b->prev_sharp)[v] = prev & 1u;
    ((vu *)b->in_round)[v] = inr & 1u;
    ((vu *)b->F)[v] = F;
    ((vu *)b->S)[v] = S;
    ((vu *)b->env_ok)[v] = ok & 1u;
    ((vd *)b->sum)[v] = sum;
    ((vd *)b->w0)[v] = w0;
    ((vu *)b->rounds)[v] = rounds;
    ((vu *)b->len_sum)[v] = len_sum;
    ((vu *)b->len_max)[v] = len_max;
    ((vd *)b->mean_sum)[v] = mean_sum;
    ((vd *)b->traj_sum)[v] = traj;
    for (int p = 0; p < VALLEY_SGD1D_NPROBE; p++) ((vu *)b->probe[p])[v] = pr_[p];
  }
  t = until;
  b->t = t;
}
