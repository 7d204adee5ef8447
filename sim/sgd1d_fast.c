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

static inline void hist_flush(hist_buf_t *h, valley_sgd1d_block_t *b) {
  for (int i = 0; i < h->n; i++) {
    uint64_t len = h->len[i];
    b->hist[len < VALLEY_SGD1D_HIST - 1 ? len : VALLEY_SGD1D_HIST - 1]++;
  }
  h->n = 0;
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
