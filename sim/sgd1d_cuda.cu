/* The CUDA engine of the Theorem 2 Monte Carlo (include/valley/sgd1d.h, docs/cuda.md).
 *
 * One GPU thread per chain.  Each thread repeats, step by step, what the generic kernel of
 * sim/sgd1d.c does for one lane: the same PCG32 stream (chain i draws from stream i), the same
 * noise, the same update and the same round bookkeeping and probes, with the same IEEE double
 * operations in the same order.  The file is compiled with --fmad=false (no FMA contraction), as
 * the C code is with -ffp-contract=off, and CUDA's double division is correctly rounded, so on
 * the canonical (piecewise-linear) valley every chain's statistics are those of the CPU path bit
 * for bit.  The saturating valley calls the device's tanh, which is not glibc's: there the
 * trajectories agree only to the last bits of tanh (docs/cuda.md states the tolerance).
 *
 * Round statistics stay on the device: each thread accumulates its chain's rounds, sums, lengths
 * and probe counts in registers, and the round-length histogram is reduced in shared memory per
 * block and then into one device histogram (integer sums: exact in any order).  Only the
 * per-chain records (about 120 bytes a chain) and the histogram come back. */
#include <cuda_runtime.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_util.cuh"
#include "sgd1d_cuda_engine.h"

namespace {

const int kThreads = 128;
const unsigned long long kMult = 6364136223846793005ULL; /* VALLEY_PCG32_MULT */

enum { PROBE_W0_RANGE, PROBE_ONE_SHARP, PROBE_ENVELOPE, PROBE_FLAT_RUN, PROBE_MEAN_ABOVE,
       PROBE_MEAN_POSITIVE, PROBE_FLAT_RUN_ALT, PROBE_MEAN_ABOVE_ALT };

/* A chain's whole state between kernel launches. */
struct chain_state {
  unsigned long long st, inc;
  double w, sum, w0, mean_sum, traj_sum;
  unsigned long long F, S, rounds, len_sum, len_max;
  unsigned long long probe[VCU_SGD1D_NPROBE];
  unsigned prev_sharp, in_round, env_ok, pad;
};

struct params {
  double a_plus, a_minus, b_plus, b_minus, scale, d_plus, d_minus;
  double eta, nu, two_point;
  unsigned long long burn, K, frmax, frmax2;
  double w0_lo, w0_hi, thr, thr2;
};

__device__ __forceinline__ unsigned pcg_next(unsigned long long &st, unsigned long long inc) {
  unsigned long long old = st;
  st = old * kMult + inc;
  unsigned xs = (unsigned)(((old >> 18) ^ old) >> 27);
  unsigned rot = (unsigned)(old >> 59);
  return (xs >> rot) | (xs << ((0u - rot) & 31u));
}

/* valley_sgd1d_noise: Uniform(-nu, nu) as nu (2 u - 1) with u = (x + 0.5) 2^-32, or the two
 * points +-nu (1 - 1e-12) by the output's top bit.  2 u is formed as (x + 0.5) 2^-31: x + 0.5
 * has at most 33 significant bits, so both products are exact and equal. */
template <int NOISE>
__device__ __forceinline__ double noise(unsigned long long &st, unsigned long long inc,
                                        const params &p) {
  unsigned x = pcg_next(st, inc);
  if (NOISE == 1) return (x >> 31) ? p.two_point : -p.two_point;
  double u2 = ((double)x + 0.5) * (1.0 / 2147483648.0);
  return p.nu * (u2 - 1.0);
}

/* valley_valley1d_grad */
template <int KIND>
__device__ __forceinline__ double grad(double w, const params &p) {
  if (KIND == 1) {
    if (w >= 0) return p.b_plus + p.d_plus * tanh(w / p.scale);
    return p.a_minus + p.d_minus * tanh(-w / p.scale);
  }
  return w >= 0 ? p.a_plus : p.a_minus;
}

__global__ void seed_chains(chain_state *cs, size_t count, unsigned long long seed,
                            unsigned long long first, double w_init) {
  size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  if (i >= count) return;
  chain_state c;
  memset(&c, 0, sizeof c);
  /* valley_pcg32_seed(rng, seed, first + i) */
  c.st = 0;
  c.inc = ((first + i) << 1) | 1ULL;
  (void)pcg_next(c.st, c.inc);
  c.st += seed;
  (void)pcg_next(c.st, c.inc);
  c.w = w_init;
  c.prev_sharp = w_init < 0;
  cs[i] = c;
}

/* A finished round, kept until its lane's statistics take it in. */
struct closed_round {
  double sum, w0;
  unsigned long long len, F;
  bool ok;
};

struct accumulators {
  unsigned long long rounds, len_sum, len_max;
  double mean_sum;
  unsigned long long pc[VCU_SGD1D_NPROBE];
};

/* Adds one finished round to the chain's statistics and the block's histogram, as the generic
 * kernel does at a round's end. */
__device__ __forceinline__ void take_round(accumulators &a, const closed_round &r,
                                           const params &p, unsigned long long *sh) {
  double mean = r.sum / (double)r.len;
  a.rounds++;
  a.mean_sum += mean;
  a.len_sum += r.len;
  if (r.len > a.len_max) a.len_max = r.len;
  a.pc[PROBE_W0_RANGE] += r.w0 >= p.w0_lo && r.w0 <= p.w0_hi;
  a.pc[PROBE_ONE_SHARP] += r.len - r.F == 1;
  a.pc[PROBE_ENVELOPE] += r.ok;
  a.pc[PROBE_FLAT_RUN] += r.F <= p.frmax;
  a.pc[PROBE_MEAN_ABOVE] += mean >= p.thr;
  a.pc[PROBE_MEAN_POSITIVE] += mean > 0.0;
  a.pc[PROBE_FLAT_RUN_ALT] += r.F <= p.frmax2;
  a.pc[PROBE_MEAN_ABOVE_ALT] += mean >= p.thr2;
  atomicAdd(&sh[r.len < VCU_SGD1D_HIST - 1 ? r.len : VCU_SGD1D_HIST - 1], 1ULL);
}

/* Advances every chain from step t0 to step `until`.
 *
 * A round ends on about one step in 20, and with 32 lanes a warp would take the round-end branch
 * (a division, eight probes, a histogram atomic) on most steps.  Instead each lane holds its
 * finished round in registers, and the whole warp takes the held rounds in together only when
 * some lane finishes a second round while one is still held: the branch then runs about once per
 * dozen steps (1.2 to 1.3 times the steps per second of the plain branch on an H100,
 * docs/cuda.md).  Each lane still takes its rounds in their order, so every sum is the same. */
template <int KIND, int NOISE>
__global__ void __launch_bounds__(kThreads)
    advance(chain_state *__restrict__ cs, size_t count, params p,
            const double *__restrict__ env, unsigned long long t0, unsigned long long until,
            unsigned long long *__restrict__ hist) {
  __shared__ unsigned long long sh[VCU_SGD1D_HIST];
  for (int b = threadIdx.x; b < VCU_SGD1D_HIST; b += blockDim.x) sh[b] = 0;
  __syncthreads();
  size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  unsigned lanes = __ballot_sync(0xffffffffu, i < count);
  if (i < count) {
    chain_state c = cs[i];
    unsigned long long st = c.st, inc = c.inc;
    double w = c.w;
    unsigned long long t = t0;
    /* burn-in: the process alone */
    unsigned long long stop = until < p.burn ? until : p.burn;
    if (t < stop) {
      for (; t < stop; t++) w = w - p.eta * (grad<KIND>(w, p) + noise<NOISE>(st, inc, p));
      c.prev_sharp = !(w >= 0);
    }
    bool prev = c.prev_sharp != 0, inr = c.in_round != 0, ok = c.env_ok != 0;
    unsigned long long F = c.F, S = c.S;
    double sum = c.sum, w0 = c.w0, traj = c.traj_sum;
    accumulators a;
    a.rounds = c.rounds;
    a.len_sum = c.len_sum;
    a.len_max = c.len_max;
    a.mean_sum = c.mean_sum;
#pragma unroll
    for (int k = 0; k < VCU_SGD1D_NPROBE; k++) a.pc[k] = c.probe[k];
    closed_round held;
    bool holding = false;
    for (; t < until; t++) {
      double omega = noise<NOISE>(st, inc, p);
      w = w - p.eta * (grad<KIND>(w, p) + omega);
      bool flat = w >= 0;
      bool start = flat && prev;
      bool closing = start && inr;
      if (__any_sync(lanes, closing && holding)) {
        if (holding) take_round(a, held, p, sh);
        holding = false;
      }
      if (closing) {
        held.sum = sum;
        held.w0 = w0;
        held.len = F + S;
        held.F = F;
        held.ok = ok;
        holding = true;
      }
      if (start) {
        inr = true;
        F = S = 0;
        sum = 0.0;
        w0 = w;
        ok = true;
      }
      if (inr) {
        unsigned long long idx = F + S;
        if (idx >= 1 && idx <= p.K && !(flat && w > w0 - env[idx])) ok = false;
        if (flat)
          F++;
        else
          S++;
        sum = sum + w;
      }
      traj += w;
      prev = !flat;
    }
    if (holding) take_round(a, held, p, sh);
    c.st = st;
    c.w = w;
    c.prev_sharp = prev;
    c.in_round = inr;
    c.env_ok = ok;
    c.F = F;
    c.S = S;
    c.sum = sum;
    c.w0 = w0;
    c.traj_sum = traj;
    c.mean_sum = a.mean_sum;
    c.rounds = a.rounds;
    c.len_sum = a.len_sum;
    c.len_max = a.len_max;
#pragma unroll
    for (int k = 0; k < VCU_SGD1D_NPROBE; k++) c.probe[k] = a.pc[k];
    cs[i] = c;
  }
  __syncthreads();
  for (int b = threadIdx.x; b < VCU_SGD1D_HIST; b += blockDim.x)
    if (sh[b] != 0) atomicAdd(&hist[b], sh[b]);
}


/* Device buffers, freed on every return path. */
struct buffers {
  chain_state *cs = nullptr;
  double *env = nullptr;
  unsigned long long *hist = nullptr;
  chain_state *host = nullptr;  /* pageable: pinning 100+ MB costs more than it saves */
  ~buffers() {
    cudaFree(cs);
    cudaFree(env);
    cudaFree(hist);
    free(host);
  }
};


template <int KIND, int NOISE>
cudaError_t launch(unsigned blocks, chain_state *cs, size_t count, const params &p,
                   const double *env, unsigned long long t0, unsigned long long until,
                   unsigned long long *hist) {
  advance<KIND, NOISE><<<blocks, kThreads>>>(cs, count, p, env, t0, until, hist);
  return cudaGetLastError();
}

} // namespace

extern "C" int vcu_sgd1d_run(const vcu_sgd1d_t *p, vcu_sgd1d_chain_t *out, uint64_t *hist,
                             char *msg, size_t msg_len) {
  int drc = vcu_use_device(p->device, msg, msg_len);
  if (drc != 0) return drc;
  if ((p->kind != 0 && p->kind != 1) || (p->noise != 0 && p->noise != 1) || p->count == 0 ||
      p->segments == 0) {
    vcu_say(msg, msg_len, "the CUDA kernel runs the canonical and saturating valleys with uniform or "
                      "two-point noise only");
    return 5;
  }
  params q;
  q.a_plus = p->a_plus;
  q.a_minus = p->a_minus;
  q.b_plus = p->b_plus;
  q.b_minus = p->b_minus;
  q.scale = p->scale;
  q.d_plus = p->a_plus - p->b_plus;   /* as valley_valley1d_grad forms them */
  q.d_minus = p->b_minus - p->a_minus;
  q.eta = p->eta;
  q.nu = p->nu;
  q.two_point = p->nu * (1.0 - 1e-12); /* as valley_sgd1d_noise */
  q.burn = p->burn_in;
  q.K = p->K;
  q.frmax = p->flat_run_max;
  q.frmax2 = p->flat_run_max_alt;
  q.w0_lo = p->w0_lo;
  q.w0_hi = p->w0_hi;
  q.thr = p->mean_threshold;
  q.thr2 = p->mean_threshold_alt;

  buffers b;
  size_t n = p->count;
  unsigned blocks = (unsigned)((n + kThreads - 1) / kThreads);
  VCU_CHECK(cudaMalloc(&b.cs, n * sizeof *b.cs));
  VCU_CHECK(cudaMalloc(&b.env, (p->K + 2) * sizeof *b.env));
  VCU_CHECK(cudaMalloc(&b.hist, VCU_SGD1D_HIST * sizeof *b.hist));
  b.host = static_cast<chain_state *>(malloc(n * sizeof *b.host));
  if (b.host == nullptr) {
    vcu_say(msg, msg_len, "cannot allocate %zu chain records on the host", n);
    return 2;
  }
  VCU_CHECK(cudaMemcpy(b.env, p->env, (p->K + 2) * sizeof *b.env, cudaMemcpyHostToDevice));
  VCU_CHECK(cudaMemset(b.hist, 0, VCU_SGD1D_HIST * sizeof *b.hist));
  seed_chains<<<blocks, kThreads>>>(b.cs, n, p->seed, p->first, p->w_init);
  VCU_CHECK(cudaGetLastError());

  unsigned long long t = 0;
  for (size_t seg = 1; seg <= p->segments; seg++) {
    unsigned long long until =
        seg == p->segments ? p->steps : p->steps / p->segments * (unsigned long long)seg;
    if (until > t) {
      cudaError_t le;
      if (p->kind == 0)
        le = p->noise == 0 ? launch<0, 0>(blocks, b.cs, n, q, b.env, t, until, b.hist)
                           : launch<0, 1>(blocks, b.cs, n, q, b.env, t, until, b.hist);
      else
        le = p->noise == 0 ? launch<1, 0>(blocks, b.cs, n, q, b.env, t, until, b.hist)
                           : launch<1, 1>(blocks, b.cs, n, q, b.env, t, until, b.hist);
      VCU_CHECK(le);
      VCU_CHECK(cudaDeviceSynchronize());
      t = until;
    }
    if (p->progress != NULL && p->progress((double)until / (double)p->steps, p->progress_arg)) {
      vcu_say(msg, msg_len, "run cancelled after %llu of %llu steps", until,
          (unsigned long long)p->steps);
      return 6;
    }
  }
  VCU_CHECK(cudaMemcpy(b.host, b.cs, n * sizeof *b.cs, cudaMemcpyDeviceToHost));
  unsigned long long h[VCU_SGD1D_HIST];
  VCU_CHECK(cudaMemcpy(h, b.hist, sizeof h, cudaMemcpyDeviceToHost));
  for (int k = 0; k < VCU_SGD1D_HIST; k++) hist[k] = h[k];
  for (size_t i = 0; i < n; i++) {
    const chain_state &c = b.host[i];
    vcu_sgd1d_chain_t &o = out[i];
    o.rounds = c.rounds;
    o.mean_sum = c.mean_sum;
    o.traj_sum = c.traj_sum;
    o.len_sum = c.len_sum;
    o.len_max = c.len_max;
    for (int k = 0; k < VCU_SGD1D_NPROBE; k++) o.probe[k] = c.probe[k];
    o.final_w = c.w;
  }
  return 0;
}
