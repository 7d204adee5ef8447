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
#include <dlfcn.h>

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

/* 3x3, padding 1 im2col for point q = blockIdx.y (in + q in_pstride, cols + q cols_pstride; a
 * stride of 0 shares one input or output): row (i H + h) W + w, column c 9 + kh 3 + kw of cols
 * (m H W x C 9) holds in(i, c, h + kh - 1, w + kw - 1), 0 outside the image, where in(i, c, h, w)
 * = in[i istride + c sc + h sh + w sw] (the CPU's im2col, sim/cnn.c, image by image). */
__global__ void im2col3x3(const float *in, size_t in_pstride, unsigned istride, unsigned C,
                          unsigned H, unsigned W, unsigned sc, unsigned sh, unsigned sw,
                          unsigned m, float *cols, size_t cols_pstride) {
  size_t q = blockIdx.y;
  const float *inq = in + q * in_pstride;
  float *cq = cols + q * cols_pstride;
  unsigned K = C * 9, total = m * H * W * K;
  for (unsigned idx = blockIdx.x * blockDim.x + threadIdx.x; idx < total;
       idx += gridDim.x * blockDim.x) {
    unsigned row = idx / K, col = idx % K;
    unsigned i = row / (H * W), hw = row % (H * W), h = hw / W, w = hw % W;
    unsigned c = col / 9, r = col % 9, ih = h + r / 3, iw = w + r % 3; /* input row ih - 1 */
    float v = 0.0f;
    if (ih >= 1 && ih <= H && iw >= 1 && iw <= W)
      v = inq[(size_t)i * istride + c * sc + (ih - 1) * sh + (iw - 1) * sw];
    cq[idx] = v;
  }
}

/* The conv layer's BN (or bias) and ReLU, then 2x2 max pooling, for point q = blockIdx.y: z is
 * NHWC (m images of H x W x C), a + q astride, or z0 + l_q zu_d for the split first layer; the
 * output (m x H/2 x W/2 x C NHWC, or per image in (C, H/2, W/2) order when flat) goes to
 * out + q ostride.  The CPU applies BN and ReLU to every element, then takes the maximum of the
 * four: the same floats. */
__global__ void post_pool(const float *a, size_t astride, const float *z0, const float *zu,
                          size_t zu_dstride, const float *lp, size_t n_grid, const float *pts,
                          size_t pstride, const float *rm, const float *inv, layer_args la,
                          unsigned m, unsigned H, unsigned W, int flat, float *out,
                          size_t ostride) {
  size_t q = blockIdx.y;
  const float *aq = a != NULL ? a + q * astride : NULL;
  const float *zuq = z0 != NULL ? zu + (q / n_grid) * zu_dstride : NULL;
  const float *pp = pts + q * pstride;
  float lq = lp[q], *oq = out + q * ostride;
  unsigned C = (unsigned)la.d, Ho = H / 2, Wo = W / 2, total = m * Ho * Wo * C;
  for (unsigned idx = blockIdx.x * blockDim.x + threadIdx.x; idx < total;
       idx += gridDim.x * blockDim.x) {
    unsigned c = idx % C, t = idx / C, pw = t % Wo, ph = (t / Wo) % Ho, i = t / (Wo * Ho);
    float best = 0.0f;
    for (unsigned k = 0; k < 4; k++) {
      unsigned r = ((i * H + 2 * ph + k / 2) * W + 2 * pw + k % 2) * C + c;
      float z = z0 != NULL ? z0[r] + lq * zuq[r] : aq[r];
      float v;
      if (la.bn) {
        float xh = (z - rm[la.bn_off + c]) * inv[la.bn_off + c];
        v = pp[la.g_off + c] * xh + pp[la.s_off + c];
      } else {
        v = z + pp[la.b_off + c];
      }
      v = v > 0.0f ? v : 0.0f;
      if (k == 0 || v > best) best = v;
    }
    if (flat)
      oq[(size_t)i * (C * Ho * Wo) + (c * Ho + ph) * Wo + pw] = best;
    else
      oq[idx] = best;
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

const char *cublas_text(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_NOT_INITIALIZED: return "cuBLAS not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "cuBLAS allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "invalid value";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "architecture mismatch";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "execution failed";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "cuBLAS internal error";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "not supported";
    default: return "cuBLAS error";
  }
}

/* cuBLAS is opened at the first probe, not linked: its libraries (about 600 MB with cuBLASLt)
 * would otherwise be mapped by every valley process at start, 0.4 s each, GPU or not. */
struct cublas_api {
  void *dl = nullptr;
  decltype(&cublasCreate) create = nullptr;
  decltype(&cublasDestroy) destroy = nullptr;
  decltype(&cublasSetMathMode) set_math_mode = nullptr;
  decltype(&cublasSgemm) sgemm = nullptr;
  decltype(&cublasSgemmStridedBatched) sgemm_batched = nullptr;
};

/* Opens libcublas.so.<major of this build's CUDA> by the loader's search, then in the toolkit's
 * library directory of the build (VALLEY_CUBLAS_DIR), then libcublas.so; 0 with msg on failure. */
int cublas_open(cublas_api *api, char *msg, size_t msg_len) {
  char name[64];
  snprintf(name, sizeof name, "libcublas.so.%d", CUDART_VERSION / 1000);
  api->dl = dlopen(name, RTLD_NOW | RTLD_LOCAL);
#ifdef VALLEY_CUBLAS_DIR
  /* the toolkit this was built with: its lib directory, or lib64 beside a lib */
  for (int k = 0; k < 2 && api->dl == nullptr; k++) {
    char path[512];
    snprintf(path, sizeof path, "%s%s/%s", VALLEY_CUBLAS_DIR, k ? "64" : "", name);
    api->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  }
#endif
  if (api->dl == nullptr) api->dl = dlopen("libcublas.so", RTLD_NOW | RTLD_LOCAL);
  if (api->dl == nullptr) {
    say(msg, msg_len, "cannot open %s: %s", name, dlerror());
    return 0;
  }
  api->create = reinterpret_cast<decltype(api->create)>(dlsym(api->dl, "cublasCreate_v2"));
  api->destroy = reinterpret_cast<decltype(api->destroy)>(dlsym(api->dl, "cublasDestroy_v2"));
  api->set_math_mode =
      reinterpret_cast<decltype(api->set_math_mode)>(dlsym(api->dl, "cublasSetMathMode"));
  api->sgemm = reinterpret_cast<decltype(api->sgemm)>(dlsym(api->dl, "cublasSgemm_v2"));
  api->sgemm_batched = reinterpret_cast<decltype(api->sgemm_batched)>(
      dlsym(api->dl, "cublasSgemmStridedBatched"));
  if (!api->create || !api->destroy || !api->set_math_mode || !api->sgemm ||
      !api->sgemm_batched) {
    say(msg, msg_len, "%s lacks a cuBLAS function this build needs", name);
    return 0;
  }
  return 1;
}

/* Device buffers of one probe; every pointer starts NULL and is freed once. */
struct bufs {
  float *theta = nullptr, *dirs = nullptr, *pts = nullptr, *lp = nullptr;
  float *rm = nullptr, *inv = nullptr, *a = nullptr, *b = nullptr, *z0 = nullptr, *zu = nullptr;
  float *x[2] = {nullptr, nullptr}, *cols = nullptr;
  uint8_t *y[2] = {nullptr, nullptr};
  double *acc_loss = nullptr, *part_loss = nullptr;
  unsigned long long *acc_right = nullptr;
  unsigned *part_right = nullptr;
  cublasHandle_t h = nullptr;
  cublas_api api;
  ~bufs() {
    void *all[] = {theta, dirs, pts, lp, rm, inv, a, b, z0, zu, x[0], x[1], cols, y[0], y[1],
                   acc_loss, acc_right, part_loss, part_right};
    for (void *p : all)
      if (p != nullptr) cudaFree(p);
    if (h != nullptr) api.destroy(h);
    if (api.dl != nullptr) dlclose(api.dl);
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

namespace {

struct geom_t {
  size_t r1, k1;     /* rows and depth of the first layer's GEMM: m, widths[0] (MLP); m H W,
                        9 in_channels (CNN, on the im2col of the batch) */
  size_t astride;    /* floats per point in each of the two activation buffers */
  size_t fixed;      /* bytes independent of the number of directions */
  size_t per_dir;    /* bytes per direction of a chunk */
};

size_t max_of(size_t a, size_t b) { return a > b ? a : b; }

geom_t geometry(const vcu_net_t *net, size_t m, size_t n_grid, size_t pstride, int split,
                const vcu_set_t sets[2]) {
  geom_t g;
  size_t L = net->n_layers, d0 = net->widths[0], d1 = net->widths[1], act = 0;
  if (net->arch == 1) {
    size_t H = net->height, W = net->width, c1 = d1, c2 = net->widths[2];
    size_t hw2 = (H / 2) * (W / 2), f = c2 * (H / 4) * (W / 4);
    g.r1 = m * H * W;
    g.k1 = 9 * net->in_channels;
    /* z1 (direct first layer), p1, the im2col of p1, z2, the flattened pool, the logits */
    act = max_of(max_of(split ? 0 : g.r1 * c1, m * hw2 * c1), m * hw2 * 9 * c1);
    act = max_of(max_of(act, m * hw2 * c2), max_of(m * f, m * net->widths[3]));
  } else {
    g.r1 = m;
    g.k1 = d0;
    for (size_t l = 1; l <= L; l++) act = max_of(act, m * net->widths[l]);
  }
  g.astride = round_up(act, 64);
  g.fixed = 4 * (pstride + 2 * net->n_bn + 64) + 4 * d0 * (sets[0].n + sets[1].n) + sets[0].n +
            sets[1].n + (split ? 4 * g.r1 * d1 : 0) + (net->arch == 1 ? 4 * g.r1 * g.k1 : 0) +
            ((size_t)1 << 20);
  /* its vector, n_grid parameter vectors, activations, l values, accumulators and block sums,
     and its share of the split first layer */
  g.per_dir = 4 * pstride + n_grid * (4 * pstride + 8 * g.astride + 28 + 12 * ((m + 255) / 256)) +
              (split ? 4 * g.r1 * d1 : 0);
  return g;
}

unsigned blocks_for(size_t per) {
  size_t b = (per + kThreads - 1) / kThreads;
  return (unsigned)(b < 4096 ? (b < 1 ? 1 : b) : 4096);
}

/* The CNN on the batch xb (mb images) for the chunk's P points: conv1 (split or direct), BN or
 * bias, ReLU, pool; im2col and conv2 per point; BN or bias, ReLU, pool to (C, H, W) order; fc3
 * and its bias.  *logits: the points' mb x classes logits (point stride astride). */
int cnn_batch(const vcu_net_t *net, bufs *B, const float *xb, size_t mb, size_t P, size_t dc,
              size_t n_grid, size_t pstride, size_t astride, int split, const float **logits,
              char *msg, size_t msg_len) {
  const float one = 1.0f, zero = 0.0f;
  unsigned cin = (unsigned)net->in_channels, H = (unsigned)net->height, W = (unsigned)net->width;
  unsigned c1 = (unsigned)net->widths[1], c2 = (unsigned)net->widths[2];
  unsigned cls = (unsigned)net->widths[3], H2 = H / 2, W2 = W / 2, K1 = 9 * cin, K2 = 9 * c1;
  unsigned F = c2 * (H / 4) * (W / 4), R1 = (unsigned)mb * H * W, R2 = (unsigned)mb * H2 * W2;
  unsigned m = (unsigned)mb, Pu = (unsigned)P;
  im2col3x3<<<dim3(blocks_for((size_t)R1 * K1), 1), kThreads>>>(
      xb, 0, (unsigned)net->widths[0], cin, H, W, H * W, W, 1, m, B->cols, 0);
  CU(cudaGetLastError());
  layer_args la;
  memset(&la, 0, sizeof la);
  la.relu = 1;
  for (int l = 0; l < 2; l++) {
    la.d = l == 0 ? c1 : c2;
    la.bn = net->bn;
    la.g_off = net->g_off[l];
    la.s_off = net->s_off[l];
    la.b_off = net->b_off[l];
    la.bn_off = net->bn_off[l];
    unsigned hh = l == 0 ? H : H2, ww = l == 0 ? W : W2;
    size_t pool_out = (size_t)m * (hh / 2) * (ww / 2) * la.d;
    if (l == 0 && split) {
      /* Z0 = cols X W1^T and Z_U = cols U_d^T: row-major (R1 x c1) is column-major c1 x R1 */
      CB(B->api.sgemm(B->h, CUBLAS_OP_T, CUBLAS_OP_N, (int)c1, (int)R1, (int)K1, &one,
                     B->theta + net->w_off[0], (int)K1, B->cols, (int)K1, &zero, B->z0, (int)c1));
      CB(B->api.sgemm_batched(B->h, CUBLAS_OP_T, CUBLAS_OP_N, (int)c1, (int)R1, (int)K1,
                                   &one, B->dirs + net->w_off[0], (int)K1, (long long)pstride,
                                   B->cols, (int)K1, 0, &zero, B->zu, (int)c1,
                                   (long long)R1 * c1, (int)dc));
      post_pool<<<dim3(blocks_for(pool_out), Pu), kThreads>>>(
          nullptr, 0, B->z0, B->zu, (size_t)R1 * c1, B->lp, n_grid, B->pts, pstride, B->rm,
          B->inv, la, m, hh, ww, 0, B->b, astride);
    } else {
      /* layer 0: the shared im2col; layer 1: each point's im2col of its pooled p1 (in B->b) */
      const float *cols = B->cols;
      long long cstride = 0;
      unsigned rows = R1, K = K1;
      if (l == 1) {
        im2col3x3<<<dim3(blocks_for((size_t)R2 * K2), Pu), kThreads>>>(
            B->b, astride, H2 * W2 * c1, c1, H2, W2, 1, W2 * c1, c1, m, B->a, astride);
        CU(cudaGetLastError());
        cols = B->a;
        cstride = (long long)astride;
        rows = R2;
        K = K2;
      }
      float *z = l == 0 ? B->a : B->b;
      CB(B->api.sgemm_batched(B->h, CUBLAS_OP_T, CUBLAS_OP_N, (int)la.d, (int)rows, (int)K,
                                   &one, B->pts + net->w_off[l], (int)K, (long long)pstride, cols,
                                   (int)K, cstride, &zero, z, (int)la.d, (long long)astride,
                                   (int)P));
      post_pool<<<dim3(blocks_for(pool_out), Pu), kThreads>>>(
          z, astride, nullptr, nullptr, 0, B->lp, n_grid, B->pts, pstride, B->rm, B->inv, la, m,
          hh, ww, l == 1, l == 0 ? B->b : B->a, astride);
    }
    CU(cudaGetLastError());
  }
  /* flat (B->a, mb x F) -> logits (B->b) = flat W3^T + b3 */
  CB(B->api.sgemm_batched(B->h, CUBLAS_OP_T, CUBLAS_OP_N, (int)cls, (int)m, (int)F, &one,
                               B->pts + net->w_off[2], (int)F, (long long)pstride, B->a, (int)F,
                               (long long)astride, &zero, B->b, (int)cls, (long long)astride,
                               (int)P));
  memset(&la, 0, sizeof la);
  la.d = cls;
  la.b_off = net->b_off[2];
  unsigned per = m * cls;
  post_layer<<<dim3(blocks_for(per), Pu), kThreads>>>(B->b, astride, per, nullptr, nullptr,
                                                      B->lp, n_grid, B->pts, pstride, B->rm,
                                                      B->inv, la);
  CU(cudaGetLastError());
  *logits = B->b;
  return 0;
}

} // namespace

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
                         size_t mem_limit_mb, size_t chunk_dirs, int device, double *loss,
                         size_t *right, char *msg, size_t msg_len) {
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
  size_t C = net->widths[L];
  int cnn = net->arch == 1;
  size_t pstride = round_up(np, 64); /* 256-byte aligned parameter vectors */
  size_t nmax = sets[0].n > sets[1].n ? sets[0].n : sets[1].n;
  size_t m = batch < nmax ? batch : nmax;
  /* The largest batch (halving from the requested one) whose buffers for one direction fit in
     the limit: a fixed limit, not the free memory, so the same call always runs the same GEMM
     shapes and repeats bit for bit. */
  size_t limit = (mem_limit_mb > 0 ? mem_limit_mb : 4096) << 20;
  geom_t g;
  for (;;) {
    g = geometry(net, m, n_grid, pstride, split_first, sets);
    if (g.fixed + g.per_dir <= limit || m == 1) break;
    m = (m + 1) / 2;
  }
  if (g.fixed + g.per_dir > limit) {
    say(msg, msg_len,
        "the probe needs %.1f MB of device memory for one direction's %zu points even at batch "
        "1, more than the %.1f MB allowed; raise the limit",
        (double)(g.fixed + g.per_dir) / 1048576.0, n_grid, (double)limit / 1048576.0);
    return 2;
  }
  if (g.astride >= ((size_t)1 << 31) || g.r1 * g.k1 >= ((size_t)1 << 31)) {
    say(msg, msg_len, "batch %zu is too large for 32-bit indexing within a point", m);
    return 2;
  }
  if (n_grid > 65535) {
    say(msg, msg_len, "%zu grid points per direction: at most 65535", n_grid);
    return 5;
  }
  size_t astride = g.astride, R1 = g.r1, K1 = g.k1;
  size_t dchunk = (limit - g.fixed) / g.per_dir;
  if (dchunk > n_dirs) dchunk = n_dirs;
  if (chunk_dirs > 0 && dchunk > chunk_dirs) dchunk = chunk_dirs;
  if (dchunk * n_grid > 65535) dchunk = 65535 / n_grid; /* points are a grid's y dimension */
  size_t pmax = dchunk * n_grid;

  bufs B;
  if (!cublas_open(&B.api, msg, msg_len)) return 5;
  CB(B.api.create(&B.h));
  CB(B.api.set_math_mode(B.h, CUBLAS_DEFAULT_MATH));
  CU(cudaMalloc(&B.theta, 4 * pstride));
  CU(cudaMalloc(&B.dirs, 4 * pstride * dchunk));
  CU(cudaMalloc(&B.pts, 4 * pstride * pmax));
  CU(cudaMalloc(&B.lp, 4 * pmax));
  CU(cudaMalloc(&B.rm, 4 * (net->n_bn + 1)));
  CU(cudaMalloc(&B.inv, 4 * (net->n_bn + 1)));
  CU(cudaMalloc(&B.a, 4 * astride * pmax));
  CU(cudaMalloc(&B.b, 4 * astride * pmax));
  if (split_first) {
    CU(cudaMalloc(&B.z0, 4 * R1 * d1));
    CU(cudaMalloc(&B.zu, 4 * R1 * d1 * dchunk));
  }
  if (cnn) CU(cudaMalloc(&B.cols, 4 * R1 * K1));
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
        const float *logits;
        if (!cnn) {
          /* column-major view: row-major Z (mb x d) is Z^T (d x mb) = W (d x din) X^T */
          layer_args la;
          memset(&la, 0, sizeof la);
          if (split_first) {
            CB(B.api.sgemm(B.h, CUBLAS_OP_T, CUBLAS_OP_N, (int)d1, (int)mb, (int)d0, &one,
                           B.theta + net->w_off[0], (int)d0, xb, (int)d0, &zero, B.z0, (int)d1));
            CB(B.api.sgemm_batched(B.h, CUBLAS_OP_T, CUBLAS_OP_N, (int)d1, (int)mb,
                                         (int)d0, &one, B.dirs + net->w_off[0], (int)d0,
                                         (long long)pstride, xb, (int)d0, 0, &zero, B.zu,
                                         (int)d1, (long long)(mb * d1), (int)dc));
          } else {
            CB(B.api.sgemm_batched(B.h, CUBLAS_OP_T, CUBLAS_OP_N, (int)d1, (int)mb,
                                         (int)d0, &one, B.pts + net->w_off[0], (int)d0,
                                         (long long)pstride, xb, (int)d0, 0, &zero, B.a, (int)d1,
                                         (long long)astride, (int)P));
          }
          float *a = B.a, *b = B.b;
          for (size_t l = 0; l < L; l++) {
            size_t din = net->widths[l], dout = net->widths[l + 1];
            if (l > 0)
              CB(B.api.sgemm_batched(B.h, CUBLAS_OP_T, CUBLAS_OP_N, (int)dout, (int)mb,
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
          logits = a;
        } else {
          int rc = cnn_batch(net, &B, xb, mb, P, dc, n_grid, pstride, astride, split_first,
                             &logits, msg, msg_len);
          if (rc != 0) return rc;
        }
        CU(cudaGetLastError());
        unsigned nb = (unsigned)((mb + kThreads - 1) / kThreads);
        xent_rows<<<dim3(nb, (unsigned)P), kThreads>>>(logits, astride, (unsigned)mb, (unsigned)C,
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
  if (!cublas_open(&B.api, msg, msg_len)) return 5;
  CB(B.api.create(&B.h));
  CB(B.api.set_math_mode(B.h, CUBLAS_DEFAULT_MATH));
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
    CB(B.api.sgemm(B.h, CUBLAS_OP_N, CUBLAS_OP_N, ni, ni, ni, &one, B.a, ni, B.b, ni, &zero,
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
