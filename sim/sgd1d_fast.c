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
#if defined(__AVX512F__) && defined(__AVX512DQ__)
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
/* The statistics loop of one vector in AVX-512 (F and DQ): per lane, the same IEEE operations as
 * the portable loop below and as the generic kernel, with lane masks in mask registers.
 * A round lasts at least two iterates, so no lane closes rounds in two consecutive steps: the
 * loop takes steps in pairs and closes the (at most one per lane) finished rounds of a pair
 * together, which halves the cost of the division, the probes and the accumulators. */
typedef struct {
  __m512i s, c, F, idx; /* idx: position in the open round (its length so far) */
  __m512d w, sum, w0, traj;
  __mmask8 prev, inr, ok;
} st512_t;

typedef struct { /* the round a step closed, as it was just before the step */
  __m512i len, F;
  __m512d sum, w0;
  __mmask8 ok, ended;
} close512_t;

typedef struct {
  __m512i mult, m32, c31, one, zi, K, Kp1, frmax, frmax2;
  __m512d zd, half, scale, two, onev, nu, eta, ap, am, lo, hi, thr, thr2, env_lo, env_hi;
} k512_t;

static inline __attribute__((always_inline)) void step512(st512_t *x, const k512_t *k,
                                                          close512_t *cl) {
  __m512i old = x->s;
  x->s = _mm512_add_epi64(_mm512_mullo_epi64(old, k->mult), x->c);
  __m512i xs = _mm512_and_si512(
      _mm512_srli_epi64(_mm512_xor_si512(_mm512_srli_epi64(old, 18), old), 27), k->m32);
  __m512i rot = _mm512_srli_epi64(old, 59);
  __m512i r = _mm512_and_si512(
      _mm512_or_si512(_mm512_srlv_epi64(xs, rot),
                      _mm512_sllv_epi64(xs, _mm512_and_si512(_mm512_sub_epi64(k->zi, rot), k->c31))),
      k->m32);
  __m512d u = _mm512_mul_pd(_mm512_add_pd(_mm512_cvtepi64_pd(r), k->half), k->scale);
  __m512d omega = _mm512_mul_pd(k->nu, _mm512_sub_pd(_mm512_mul_pd(k->two, u), k->onev));
  __m512d g = _mm512_mask_blend_pd(_mm512_cmp_pd_mask(x->w, k->zd, _CMP_GE_OQ), k->am, k->ap);
  __m512d w = _mm512_sub_pd(x->w, _mm512_mul_pd(k->eta, _mm512_add_pd(g, omega)));
  x->w = w;
  x->traj = _mm512_add_pd(x->traj, w);
  __mmask8 flat = _mm512_cmp_pd_mask(w, k->zd, _CMP_GE_OQ);
  __mmask8 start = flat & x->prev;
  cl->ended = start & x->inr;
  cl->len = x->idx;
  cl->F = x->F;
  cl->sum = x->sum;
  cl->w0 = x->w0;
  cl->ok = x->ok;
  /* open a new round at `start` */
  __mmask8 inr = x->inr | start;
  __m512i F = _mm512_maskz_mov_epi64((__mmask8)~start, x->F);
  __m512i idx = _mm512_maskz_mov_epi64((__mmask8)~start, x->idx);
  __m512d sum = _mm512_maskz_mov_pd((__mmask8)~start, x->sum);
  __m512d w0 = _mm512_mask_mov_pd(x->w0, start, w);
  __mmask8 ok = x->ok | start;
  /* the iterate joins the open round; envelope check for 1 <= idx <= K */
  __mmask8 chk = _mm512_mask_cmple_epu64_mask(_mm512_mask_cmpge_epu64_mask(inr, idx, k->one),
                                              idx, k->K);
  __m512d e = _mm512_permutex2var_pd(k->env_lo, _mm512_min_epu64(idx, k->Kp1), k->env_hi);
  __mmask8 pass = flat & _mm512_cmp_pd_mask(w, _mm512_sub_pd(w0, e), _CMP_GT_OQ);
  x->ok = ok & (__mmask8)(~chk | pass);
  x->F = _mm512_mask_add_epi64(F, inr & flat, F, k->one);
  x->idx = _mm512_mask_add_epi64(idx, inr, idx, k->one);
  x->sum = _mm512_mask_add_pd(sum, inr, sum, w);
  x->w0 = w0;
  x->inr = inr;
  x->prev = (__mmask8)~flat;
}

typedef struct {
  __m512i rounds, len_sum, len_max, pc[VALLEY_SGD1D_NPROBE];
  __m512d mean_sum;
} acc512_t;

#define ADD_IF(acc, m) (acc) = _mm512_mask_add_epi64((acc), (m), (acc), k->one)

static inline __attribute__((always_inline)) int close512(acc512_t *a, const k512_t *k,
                                                          const close512_t *c, __mmask8 active,
                                                          uint64_t *hbuf, int hn) {
  __mmask8 ended = c->ended;
  __m512i len = c->len, F = c->F;
  __m512i len1 = _mm512_mask_mov_epi64(len, _mm512_cmpeq_epi64_mask(len, k->zi), k->one);
  __m512d mean = _mm512_div_pd(c->sum, _mm512_cvtepi64_pd(len1));
  ADD_IF(a->rounds, ended);
  a->mean_sum = _mm512_mask_add_pd(a->mean_sum, ended, a->mean_sum, mean);
  a->len_sum = _mm512_mask_add_epi64(a->len_sum, ended, a->len_sum, len);
  a->len_max = _mm512_mask_max_epu64(a->len_max, ended, a->len_max, len);
  ADD_IF(a->pc[VALLEY_PROBE_W0_RANGE],
         _mm512_mask_cmp_pd_mask(_mm512_mask_cmp_pd_mask(ended, c->w0, k->lo, _CMP_GE_OQ), c->w0,
                                 k->hi, _CMP_LE_OQ));
  ADD_IF(a->pc[VALLEY_PROBE_ONE_SHARP],
         _mm512_mask_cmpeq_epi64_mask(ended, len, _mm512_add_epi64(F, k->one)));
  ADD_IF(a->pc[VALLEY_PROBE_ENVELOPE], ended & c->ok);
  ADD_IF(a->pc[VALLEY_PROBE_FLAT_RUN], _mm512_mask_cmple_epu64_mask(ended, F, k->frmax));
  ADD_IF(a->pc[VALLEY_PROBE_MEAN_ABOVE], _mm512_mask_cmp_pd_mask(ended, mean, k->thr, _CMP_GE_OQ));
  ADD_IF(a->pc[VALLEY_PROBE_MEAN_POSITIVE],
         _mm512_mask_cmp_pd_mask(ended, mean, k->zd, _CMP_GT_OQ));
  ADD_IF(a->pc[VALLEY_PROBE_FLAT_RUN_ALT], _mm512_mask_cmple_epu64_mask(ended, F, k->frmax2));
  ADD_IF(a->pc[VALLEY_PROBE_MEAN_ABOVE_ALT],
         _mm512_mask_cmp_pd_mask(ended, mean, k->thr2, _CMP_GE_OQ));
  __mmask8 he = ended & active;
  _mm512_storeu_si512((void *)&hbuf[hn], _mm512_maskz_compress_epi64(he, len));
  return hn + __builtin_popcount(he);
}
#undef ADD_IF

static void stats_avx512(valley_sgd1d_block_t *restrict b, int v, uint64_t t, uint64_t until,
                         const valley_sgd1d_config_t *cfg, const valley_sgd1d_kprobes_t *pr,
                         vd env_lo, vd env_hi) {
  k512_t k;
  k.mult = _mm512_set1_epi64((long long)VALLEY_PCG32_MULT);
  k.m32 = _mm512_set1_epi64(0xffffffffLL);
  k.c31 = _mm512_set1_epi64(31);
  k.one = _mm512_set1_epi64(1);
  k.zi = _mm512_setzero_si512();
  k.K = _mm512_set1_epi64((long long)pr->K);
  k.Kp1 = _mm512_set1_epi64((long long)(pr->K + 1));
  k.frmax = _mm512_set1_epi64((long long)pr->flat_run_max);
  k.frmax2 = _mm512_set1_epi64((long long)pr->flat_run_max_alt);
  k.zd = _mm512_setzero_pd();
  k.half = _mm512_set1_pd(0.5);
  k.scale = _mm512_set1_pd(1.0 / 4294967296.0);
  k.two = _mm512_set1_pd(2.0);
  k.onev = _mm512_set1_pd(1.0);
  k.nu = _mm512_set1_pd(cfg->nu);
  k.eta = _mm512_set1_pd(cfg->eta);
  k.ap = _mm512_set1_pd(cfg->valley.a_plus);
  k.am = _mm512_set1_pd(cfg->valley.a_minus);
  k.lo = _mm512_set1_pd(pr->w0_lo);
  k.hi = _mm512_set1_pd(pr->w0_hi);
  k.thr = _mm512_set1_pd(pr->mean_threshold);
  k.thr2 = _mm512_set1_pd(pr->mean_threshold_alt);
  k.env_lo = (__m512d)env_lo;
  k.env_hi = (__m512d)env_hi;

  const size_t o = (size_t)v * W;
  st512_t x;
  x.s = _mm512_load_si512(&b->st[o]);
  x.c = _mm512_load_si512(&b->inc[o]);
  x.w = _mm512_load_pd(&b->w[o]);
  x.prev = _mm512_test_epi64_mask(_mm512_load_si512(&b->prev_sharp[o]), k.one);
  x.inr = _mm512_test_epi64_mask(_mm512_load_si512(&b->in_round[o]), k.one);
  x.ok = _mm512_test_epi64_mask(_mm512_load_si512(&b->env_ok[o]), k.one);
  x.F = _mm512_load_si512(&b->F[o]);
  x.idx = _mm512_add_epi64(x.F, _mm512_load_si512(&b->S[o]));
  x.sum = _mm512_load_pd(&b->sum[o]);
  x.w0 = _mm512_load_pd(&b->w0[o]);
  x.traj = _mm512_load_pd(&b->traj_sum[o]);
  acc512_t a;
  a.rounds = _mm512_load_si512(&b->rounds[o]);
  a.len_sum = _mm512_load_si512(&b->len_sum[o]);
  a.len_max = _mm512_load_si512(&b->len_max[o]);
  a.mean_sum = _mm512_load_pd(&b->mean_sum[o]);
  for (int p = 0; p < VALLEY_SGD1D_NPROBE; p++) a.pc[p] = _mm512_load_si512(&b->probe[p][o]);
  int nact = b->nactive - v * W;
  __mmask8 active = nact >= W ? 0xff : nact <= 0 ? 0 : (__mmask8)((1u << nact) - 1u);
  uint64_t hbuf[HB_CAP + W];
  int hn = 0;

  uint64_t tt = t;
  for (; tt + 2 <= until; tt += 2) {
    close512_t c1, c2, c;
    step512(&x, &k, &c1);
    step512(&x, &k, &c2);
    /* c1.ended and c2.ended are disjoint: merge into one closing record */
    c.ended = c1.ended | c2.ended;
    c.len = _mm512_mask_blend_epi64(c1.ended, c2.len, c1.len);
    c.F = _mm512_mask_blend_epi64(c1.ended, c2.F, c1.F);
    c.sum = _mm512_mask_blend_pd(c1.ended, c2.sum, c1.sum);
    c.w0 = _mm512_mask_blend_pd(c1.ended, c2.w0, c1.w0);
    c.ok = (c1.ended & c1.ok) | (c2.ended & c2.ok);
    hn = close512(&a, &k, &c, active, hbuf, hn);
    if (hn > HB_CAP - W) hn = hist_flush_n(hbuf, hn, b);
  }
  if (tt < until) {
    close512_t c1;
    step512(&x, &k, &c1);
    hn = close512(&a, &k, &c1, active, hbuf, hn);
  }
  hist_flush_n(hbuf, hn, b);
  _mm512_store_si512(&b->st[o], x.s);
  _mm512_store_pd(&b->w[o], x.w);
  _mm512_store_si512(&b->prev_sharp[o], _mm512_maskz_mov_epi64(x.prev, k.one));
  _mm512_store_si512(&b->in_round[o], _mm512_maskz_mov_epi64(x.inr, k.one));
  _mm512_store_si512(&b->env_ok[o], _mm512_maskz_mov_epi64(x.ok, k.one));
  _mm512_store_si512(&b->F[o], x.F);
  _mm512_store_si512(&b->S[o], _mm512_sub_epi64(x.idx, x.F));
  _mm512_store_pd(&b->sum[o], x.sum);
  _mm512_store_pd(&b->w0[o], x.w0);
  _mm512_store_pd(&b->traj_sum[o], x.traj);
  _mm512_store_si512(&b->rounds[o], a.rounds);
  _mm512_store_si512(&b->len_sum[o], a.len_sum);
  _mm512_store_si512(&b->len_max[o], a.len_max);
  _mm512_store_pd(&b->mean_sum[o], a.mean_sum);
  for (int p = 0; p < VALLEY_SGD1D_NPROBE; p++) _mm512_store_si512(&b->probe[p][o], a.pc[p]);
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
  if (small_env) {
    for (int v = 0; v < NV; v++) stats_avx512(b, v, t, until, cfg, pr, env_lo, env_hi);
  } else
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
