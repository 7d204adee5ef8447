/* The CUDA engine of the direction probe (include/valley/cuda.h, docs/cuda.md).
 *
 * For a chunk of directions, every grid point p = (d, g) gets its own parameter vector
 * theta + l_g u_d in device memory.  Then, per batch of data rows:
 *   layer 0  split:  Z0 = X W0^T (one GEMM) and ZU_d = X U_d^T (one strided-batched GEMM over
 *                    the chunk's directions), then a kernel forms Z0 + l ZU_d for every point
 *                    and applies the EVAL-mode BN (or the bias) and the ReLU in the same pass;
 *            no split: A_p = X W_p^T, one strided-batched GEMM over the points (X shared);
 *   layer l  A_p <- A_p W_p^T (one strided-batched GEMM over the points), then BN / bias / ReLU;
 *   loss     one block per point: the cross-entropy of each row in double, summed in a fixed
 *            order (per-thread strided sums, then a shared-memory tree), added to the point's
 *            double accumulator batch after batch.
 * Every reduction has a fixed order and cuBLAS is deterministic for a fixed configuration, so a
 * run repeats bit for bit.  GEMMs run in plain FP32 (CUBLAS_DEFAULT_MATH: no TF32). */
#include <cuda_runtime.h>
#include <cublas_v2.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "probe_cuda_engine.h"

namespace {

const int kThreads = 256;

struct layer_args {
  int bn;            /* BN (else bias) */
  int relu;
  size_t d;          /* output features */
  size_t g_off, s_off, b_off, bn_off;
};

/* pts[q pstride + k] = theta[k] + lp[q] dirs[(q / n_grid) pstride + k] for the chunk's points */
__global__ void form_params(float *pts, const float *theta, const float *dirs,
                            const float *lp, size_t n_params, size_t pstride, size_t n_grid,
                            size_t n_pts) {
  size_t total = n_pts * n_params;
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
       i += (size_t)gridDim.x * blockDim.x) {
    size_t q = i / n_params, k = i % n_params;
    pts[q * pstride + k] = theta[k] + lp[q] * dirs[(q / n_grid) * pstride + k];
  }
}

/* The layer's bias or EVAL-mode BN, then the ReLU, on point q = blockIdx.y's m x d block of a
 * (point stride astride), in place; with z0 != NULL the input is first formed as
 * z0 + l_q zu_d (the split first layer), with the CPU probe's float operations.  Indices within
 * a point are 32-bit (the engine checks m d < 2^31). */
__global__ void post_layer(float *a, size_t astride, unsigned per, const float *z0,
                           const float *zu, const float *lp, size_t n_grid, const float *pts,
                           size_t pstride, const float *rm, const float *inv, layer_args la) {
  size_t q = blockIdx.y;
  float *aq = a + q * astride;
  const float *pp = pts + q * pstride;
  const float *zuq = z0 != NULL ? zu + (q / n_grid) * (size_t)per : NULL;
  float lq = lp[q];
  unsigned d = (unsigned)la.d;
  for (unsigned r = blockIdx.x * blockDim.x + threadIdx.x; r < per; r += gridDim.x * blockDim.x) {
    unsigned j = r % d;
    float z = z0 != NULL ? z0[r] + lq * zuq[r] : aq[r];
    float v;
    if (la.bn) {
      float xh = (z - rm[la.bn_off + j]) * inv[la.bn_off + j];
      v = pp[la.g_off + j] * xh + pp[la.s_off + j];
    } else {
      v = z + pp[la.b_off + j];
    }
    aq[r] = la.relu && v < 0.0f ? 0.0f : v;
  }
}

/* Cross-entropy of the rows of point q = blockIdx.y, one row per thread, blocks of kThreads
 * rows: each block's sums (double loss, count right), by a fixed shared-memory tree, go to
 * part[q gridDim.x + blockIdx.x]. */
__global__ void xent_rows(const float *a, size_t astride, unsigned m, unsigned c,
                          const uint8_t *y, double *part_loss, unsigned *part_right) {
  __shared__ double sl[kThreads];
  __shared__ unsigned sr[kThreads];
  size_t q = blockIdx.y;
  unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
  double tl = 0.0;
  unsigned tr = 0;
  if (i < m) {
    const float *z = a + q * astride + (size_t)i * c;
    unsigned arg = 0;
    for (unsigned k = 1; k < c; k++)
      if (z[k] > z[arg]) arg = k;
    double mx = (double)z[arg], s = 0.0;
    for (unsigned k = 0; k < c; k++) s += exp((double)z[k] - mx);
    tl = mx + log(s) - (double)z[y[i]];
    tr = arg == y[i];
  }
  sl[threadIdx.x] = tl;
  sr[threadIdx.x] = tr;
  __syncthreads();
  for (int h = kThreads / 2; h > 0; h /= 2) {
    if ((int)threadIdx.x < h) {
      sl[threadIdx.x] += sl[threadIdx.x + h];
      sr[threadIdx.x] += sr[threadIdx.x + h];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    part_loss[q * gridDim.x + blockIdx.x] = sl[0];
    part_right[q * gridDim.x + blockIdx.x] = sr[0];
  }
}

/* acc[q] += the point's nb block sums, in block order (one thread per point). */
__global__ void add_parts(const double *part_loss, const unsigned *part_right, unsigned nb,
                          size_t n_pts, double *acc_loss, unsigned long long *acc_right) {
  size_t q = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  if (q >= n_pts) return;
  double l = 0.0;
  unsigned long long r = 0;
  for (unsigned b = 0; b < nb; b++) {
    l += part_loss[q * nb + b];
    r += part_right[q * nb + b];
  }
  acc_loss[q] += l;
  acc_right[q] += r;
}

/* a[i] in [-0.5, 0.5): a multiplicative hash of i (benchmark operands, not all alike) */
__global__ void fill_pattern(float *a, size_t n, unsigned salt) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x)
    a[i] = (float)(((unsigned)i * 2654435761u + salt * 40503u) >> 8) * 0x1p-24f - 0.5f;
}

unsigned grid_for(size_t total) {
  size_t b = (total + kThreads - 1) / kThreads;
  if (b > 65535u * 16u) b = 65535u * 16u;
  return b < 1 ? 1u : (unsigned)b;
}

void say(char *msg, size_t len, const char *fmt, ...) {
  if (msg == NULL || len == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, len, fmt, ap);
  va_end(ap);
}

const char *cublas_text(cublasStatus_t s) { return cublasGetStatusString(s); }

/* Device buffers of one probe; every pointer starts NULL and is freed once. */
struct bufs {
  float *theta = nullptr, *dirs = nullptr, *pts = nullptr, *lp = nullptr;
  float *rm = nullptr, *inv = nullptr, *a = nullptr, *b = nullptr, *z0 = nullptr, *zu = nullptr;
  float *x[2] = {nullptr, nullptr};
  uint8_t *y[2] = {nullptr, nullptr};
  double *acc_loss = nullptr, *part_loss = nullptr;
  unsigned long long *acc_right = nullptr;
  unsigned *part_right = nullptr;
  cublasHandle_t h = nullptr;
  ~bufs() {
    void *all[] = {theta, dirs, pts, lp, rm, inv, a, b, z0, zu, x[0], x[1], y[0], y[1],
                   acc_loss, acc_right, part_loss, part_right};
    for (void *p : all)
      if (p != nullptr) cudaFree(p);
    if (h != nullptr) cublasDestroy(h);
  }
};

size_t round_up(size_t n, size_t k) { return (n + k - 1) / k * k; }

} // namespace

#define CU(call)                                                                          \
  do {                                                                                    \
    cudaError_t e_ = (call);                                                              \
    if (e_ != cudaSuccess) {                                                              \
      say(msg, msg_len, "%s: %s", #call, cudaGetErrorString(e_));                         \
      return e_ == cudaErrorMemoryAllocation ? 2 : 5;                                     \
    }                                                                                     \
  } while (0)
#define CB(call)                                                                          \
  do {                                                                                    \
    cublasStatus_t s_ = (call);                                                           \
    if (s_ != CUBLAS_STATUS_SUCCESS) {                                                    \
      say(msg, msg_len, "%s: %s", #call, cublas_text(s_));                                \
      return s_ == CUBLAS_STATUS_ALLOC_FAILED ? 2 : 5;                                    \
    }                                                                                     \
  } while (0)

extern "C" int vcu_devices(char *why, size_t why_len, char *name, size_t name_len) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n < 1) {
    const char *w = e == cudaErrorNoDevice || (e == cudaSuccess && n < 1) ? "no CUDA device"
                    : e == cudaErrorInsufficientDriver
                        ? "no CUDA driver (or one older than this build's runtime)"
                        : cudaGetErrorString(e);
    say(why, why_len, "%s", w);
    (void)cudaGetLastError(); /* clear the sticky state of the failed call */
    return 0;
  }
  if (name != NULL && name_len > 0) {
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess)
      say(name, name_len, "%s", prop.name);
    else
      say(name, name_len, "device 0");
  }
  return n;
}

extern "C" int vcu_probe(const vcu_net_t *net, const float *theta, size_t n_dirs,
                         const float *const *dirs, size_t n_grid, const double *grid,
                         const vcu_set_t sets[2], size_t batch, int split_first,
                         size_t mem_limit_mb, int device, double *loss, size_t *right, char *msg,
                         size_t msg_len) {
  char why[160];
  int ndev = vcu_devices(why, sizeof why, NULL, 0);
  if (ndev < 1) {
    say(msg, msg_len, "%s", why);
    return 5;
  }
  if (device < 0 || device >= ndev) {
    say(msg, msg_len, "CUDA device %d does not exist (%d present)", device, ndev);
    return 5;
  }
  CU(cudaSetDevice(device));
  size_t L = net->n_layers, np = net->n_params, d0 = net->widths[0], d1 = net->widths[1];
  size_t C = net->widths[L], wmax = 0;
  for (size_t l = 1; l <= L; l++)
    if (net->widths[l] > wmax) wmax = net->widths[l];
  size_t pstride = round_up(np, 64); /* 256-byte aligned parameter vectors */
  size_t nmax = sets[0].n > sets[1].n ? sets[0].n : sets[1].n;
  size_t m = batch < nmax ? batch : nmax;
  size_t astride = round_up(m * wmax, 64);

  size_t free_b = 0, total_b = 0;
  CU(cudaMemGetInfo(&free_b, &total_b));
  size_t limit = mem_limit_mb > 0 ? mem_limit_mb << 20 : free_b / 2;
  size_t fixed = 4 * (pstride + 2 * net->n_bn + 64) + 4 * d0 * (sets[0].n + sets[1].n) +
                 sets[0].n + sets[1].n + (split_first ? 4 * m * d1 : 0) + (1u << 20);
  /* per direction: its vector, n_grid parameter vectors and activations, its X U^T, and the
     accumulators and l values */
  size_t per_dir = 4 * pstride + n_grid * (4 * pstride + 8 * astride + 28 + 12 * ((m + 255) / 256)) +
                   (split_first ? 4 * m * d1 : 0);
  if (fixed + per_dir > limit) {
    say(msg, msg_len,
        "the probe needs %.1f MB of device memory for one direction's %zu points at batch %zu, "
        "more than the %.1f MB allowed; lower the batch",
        (double)(fixed + per_dir) / 1048576.0, n_grid, m, (double)limit / 1048576.0);
    return 2;
  }
  if (m * wmax >= ((size_t)1 << 31)) {
    say(msg, msg_len, "batch %zu x width %zu is too large for one pass; lower the batch", m, wmax);
    return 2;
  }
  if (n_grid > 65535) {
    say(msg, msg_len, "%zu grid points per direction: at most 65535", n_grid);
    return 5;
  }
  size_t dchunk = (limit - fixed) / per_dir;
  if (dchunk > n_dirs) dchunk = n_dirs;
  if (dchunk * n_grid > 65535) dchunk = 65535 / n_grid; /* points are a grid's y dimension */
  size_t pmax = dchunk * n_grid;

  bufs B;
  CB(cublasCreate(&B.h));
  CB(cublasSetMathMode(B.h, CUBLAS_DEFAULT_MATH));
  CU(cudaMalloc(&B.theta, 4 * pstride));
  CU(cudaMalloc(&B.dirs, 4 * pstride * dchunk));
  CU(cudaMalloc(&B.pts, 4 * pstride * pmax));
  CU(cudaMalloc(&B.lp, 4 * pmax));
  CU(cudaMalloc(&B.rm, 4 * (net->n_bn + 1)));
  CU(cudaMalloc(&B.inv, 4 * (net->n_bn + 1)));
  CU(cudaMalloc(&B.a, 4 * astride * pmax));
  CU(cudaMalloc(&B.b, 4 * astride * pmax));
  if (split_first) {
    CU(cudaMalloc(&B.z0, 4 * m * d1));
    CU(cudaMalloc(&B.zu, 4 * m * d1 * dchunk));
  }
  CU(cudaMalloc(&B.acc_loss, 8 * pmax));
  CU(cudaMalloc(&B.acc_right, 8 * pmax));
  size_t nb_max = (m + kThreads - 1) / kThreads;
  CU(cudaMalloc(&B.part_loss, 8 * pmax * nb_max));
  CU(cudaMalloc(&B.part_right, 4 * pmax * nb_max));
  CU(cudaMemcpy(B.theta, theta, 4 * np, cudaMemcpyHostToDevice));
  if (net->n_bn > 0) {
    CU(cudaMemcpy(B.rm, net->running_mean, 4 * net->n_bn, cudaMemcpyHostToDevice));
    CU(cudaMemcpy(B.inv, net->invstd, 4 * net->n_bn, cudaMemcpyHostToDevice));
  }
  for (int s = 0; s < 2; s++) {
    CU(cudaMalloc(&B.x[s], 4 * d0 * sets[s].n));
    CU(cudaMalloc(&B.y[s], sets[s].n));
    CU(cudaMemcpy(B.x[s], sets[s].x, 4 * d0 * sets[s].n, cudaMemcpyHostToDevice));
    CU(cudaMemcpy(B.y[s], sets[s].y, sets[s].n, cudaMemcpyHostToDevice));
  }

  const float one = 1.0f, zero = 0.0f;
  size_t n_pts_all = n_dirs * n_grid;
  double *hl = new double[pmax];
  unsigned long long *hr = new unsigned long long[pmax];
  float *lp_h = new float[pmax];
  struct freer {
    double *l;
    unsigned long long *r;
    float *f;
    ~freer() {
      delete[] l;
      delete[] r;
      delete[] f;
    }
  } hold{hl, hr, lp_h};

  for (size_t c0 = 0; c0 < n_dirs; c0 += dchunk) {
    size_t dc = n_dirs - c0 < dchunk ? n_dirs - c0 : dchunk, P = dc * n_grid;
    for (size_t q = 0; q < P; q++) lp_h[q] = (float)grid[q % n_grid];
    CU(cudaMemcpy(B.lp, lp_h, 4 * P, cudaMemcpyHostToDevice));
    for (size_t d = 0; d < dc; d++)
      CU(cudaMemcpy(B.dirs + d * pstride, dirs[c0 + d], 4 * np, cudaMemcpyHostToDevice));
    form_params<<<grid_for(P * np), kThreads>>>(B.pts, B.theta, B.dirs, B.lp, np, pstride,
                                                n_grid, P);
    CU(cudaGetLastError());
    for (int s = 0; s < 2; s++) {
      CU(cudaMemset(B.acc_loss, 0, 8 * P));
      CU(cudaMemset(B.acc_right, 0, 8 * P));
      for (size_t i0 = 0; i0 < sets[s].n; i0 += m) {
        size_t mb = sets[s].n - i0 < m ? sets[s].n - i0 : m;
        const float *xb = B.x[s] + i0 * d0;
        /* column-major view: row-major Z (mb x d) is Z^T (d x mb) = W (d x din) X^T */
        layer_args la;
        memset(&la, 0, sizeof la);
        if (split_first) {
          CB(cublasSgemm(B.h, CUBLAS_OP_T, CUBLAS_OP_N, (int)d1, (int)mb, (int)d0, &one,
                         B.theta + net->w_off[0], (int)d0, xb, (int)d0, &zero, B.z0, (int)d1));
          CB(cublasSgemmStridedBatched(B.h, CUBLAS_OP_T, CUBLAS_OP_N, (int)d1, (int)mb,
                                       (int)d0, &one, B.dirs + net->w_off[0], (int)d0,
                                       (long long)pstride, xb, (int)d0, 0, &zero, B.zu,
                                       (int)d1, (long long)(mb * d1), (int)dc));
        } else {
          CB(cublasSgemmStridedBatched(B.h, CUBLAS_OP_T, CUBLAS_OP_N, (int)d1, (int)mb,
                                       (int)d0, &one, B.pts + net->w_off[0], (int)d0,
                                       (long long)pstride, xb, (int)d0, 0, &zero, B.a, (int)d1,
                                       (long long)astride, (int)P));
        }
        float *a = B.a, *b = B.b;
        for (size_t l = 0; l < L; l++) {
          size_t din = net->widths[l], dout = net->widths[l + 1];
          if (l > 0)
            CB(cublasSgemmStridedBatched(B.h, CUBLAS_OP_T, CUBLAS_OP_N, (int)dout, (int)mb,
                                         (int)din, &one, B.pts + net->w_off[l], (int)din,
                                         (long long)pstride, a, (int)din, (long long)astride,
                                         &zero, b, (int)dout, (long long)astride, (int)P));
          float *out = l > 0 ? b : a;
          la.bn = net->bn && l + 1 < L;
          la.relu = l + 1 < L;
          la.d = dout;
          la.g_off = net->g_off[l];
          la.s_off = net->s_off[l];
          la.b_off = net->b_off[l];
          la.bn_off = net->bn_off[l];
          int fused = split_first && l == 0;
          unsigned per = (unsigned)(mb * dout), pb = (per + kThreads - 1) / kThreads;
          dim3 pg(pb < 4096 ? pb : 4096, (unsigned)P);
          post_layer<<<pg, kThreads>>>(out, astride, per, fused ? B.z0 : nullptr,
                                       fused ? B.zu : nullptr, B.lp, n_grid, B.pts, pstride, B.rm,
                                       B.inv, la);
          CU(cudaGetLastError());
          if (l > 0) {
            float *t = a;
            a = b;
            b = t;
          }
        }
        unsigned nb = (unsigned)((mb + kThreads - 1) / kThreads);
        xent_rows<<<dim3(nb, (unsigned)P), kThreads>>>(a, astride, (unsigned)mb, (unsigned)C,
                                                       B.y[s] + i0, B.part_loss, B.part_right);
        add_parts<<<(unsigned)((P + 127) / 128), 128>>>(B.part_loss, B.part_right, nb, P,
                                                        B.acc_loss, B.acc_right);
        CU(cudaGetLastError());
      }
      CU(cudaMemcpy(hl, B.acc_loss, 8 * P, cudaMemcpyDeviceToHost));
      CU(cudaMemcpy(hr, B.acc_right, 8 * P, cudaMemcpyDeviceToHost));
      for (size_t q = 0; q < P; q++) {
        size_t k = c0 * n_grid + q + (s == 1 ? n_pts_all : 0);
        loss[k] = hl[q];
        right[k] = (size_t)hr[q];
      }
    }
  }
  CU(cudaDeviceSynchronize());
  return 0;
}

extern "C" int vcu_sgemm_gflops(size_t n, int reps, double *gflops, char *msg, size_t msg_len) {
  char why[160];
  *gflops = 0.0;
  if (vcu_devices(why, sizeof why, NULL, 0) < 1) {
    say(msg, msg_len, "%s", why);
    return 5;
  }
  bufs B;
  CB(cublasCreate(&B.h));
  CB(cublasSetMathMode(B.h, CUBLAS_DEFAULT_MATH));
  CU(cudaMalloc(&B.a, 4 * n * n));
  CU(cudaMalloc(&B.b, 4 * n * n));
  CU(cudaMalloc(&B.pts, 4 * n * n));
  fill_pattern<<<grid_for(n * n), kThreads>>>(B.a, n * n, 1u);
  fill_pattern<<<grid_for(n * n), kThreads>>>(B.b, n * n, 2u);
  CU(cudaGetLastError());
  cudaEvent_t e0, e1;
  CU(cudaEventCreate(&e0));
  CU(cudaEventCreate(&e1));
  const float one = 1.0f, zero = 0.0f;
  double best = 0.0;
  int ni = (int)n;
  for (int r = 0; r <= reps; r++) { /* r = 0 warms up */
    CU(cudaEventRecord(e0));
    CB(cublasSgemm(B.h, CUBLAS_OP_N, CUBLAS_OP_N, ni, ni, ni, &one, B.a, ni, B.b, ni, &zero,
                   B.pts, ni));
    CU(cudaEventRecord(e1));
    CU(cudaEventSynchronize(e1));
    float ms = 0.0f;
    CU(cudaEventElapsedTime(&ms, e0, e1));
    double g = 2.0 * (double)n * (double)n * (double)n / (ms * 1e-3) / 1e9;
    if (r > 0 && g > best) best = g;
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  *gflops = best;
  return 0;
}
