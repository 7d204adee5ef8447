/* Benchmark: the machine limit of the Theorem 2 Monte Carlo on an NVIDIA GPU, the least work an
 * SGD step can take there: one thread per chain, PCG32 plus the update
 * w <- w - eta (g(w) + nu (2u - 1)) on the canonical valley, no round statistics and no probes
 * (the GPU counterpart of bench_limit.c).  The mean iterate is printed so that the loop cannot be
 * optimised away and can be compared with the Monte Carlo's E[w_bar].
 * usage: bench_limit_cuda [CHAINS [STEPS]]   prints one JSON line (exit 77 without a GPU). */
#include <cuda_runtime.h>

#include <stdio.h>
#include <stdlib.h>

namespace {

__global__ void limit(unsigned long long seed, size_t chains, unsigned long long steps,
                      double *mean) {
  size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x;
  if (i >= chains) return;
  const unsigned long long mult = 6364136223846793005ULL;
  unsigned long long inc = ((unsigned long long)i << 1) | 1ULL, st = 0;
  st = st * mult + inc;
  st += seed;
  st = st * mult + inc;
  double w = 0.0, sum = 0.0;
  for (unsigned long long t = 0; t < steps; t++) {
    unsigned long long old = st;
    st = old * mult + inc;
    unsigned xs = (unsigned)(((old >> 18) ^ old) >> 27), rot = (unsigned)(old >> 59);
    unsigned x = (xs >> rot) | (xs << ((0u - rot) & 31u));
    double omega = 0.5 * (((double)x + 0.5) * (1.0 / 2147483648.0) - 1.0);
    w = w - 0.01 * ((w >= 0 ? 1.0 : -20.0) + omega);
    sum += w;
  }
  mean[i] = sum / (double)steps;
}

} // namespace

int main(int argc, char **argv) {
  size_t chains = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 262144;
  unsigned long long steps = argc > 2 ? strtoull(argv[2], NULL, 10) : 100000;
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess || n < 1) {
    printf("{\"bench\": \"sgd1d_limit_cuda\", \"skipped\": \"no CUDA device\"}\n");
    return 77;
  }
  double *d = NULL;
  if (cudaMalloc(&d, chains * sizeof *d) != cudaSuccess) return 1;
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  float best = 1e30f;
  for (int r = 0; r < 3; r++) {
    cudaEventRecord(a);
    limit<<<(unsigned)((chains + 127) / 128), 128>>>(1, chains, steps, d);
    cudaEventRecord(b);
    cudaEventSynchronize(b);
    float ms = 0;
    cudaEventElapsedTime(&ms, a, b);
    if (ms < best) best = ms;
  }
  double *h = (double *)malloc(chains * sizeof *h);
  if (h == NULL || cudaMemcpy(h, d, chains * sizeof *h, cudaMemcpyDeviceToHost) != cudaSuccess)
    return 1;
  double m = 0.0;
  for (size_t i = 0; i < chains; i++) m += h[i];
  m /= (double)chains;
  printf("{\"bench\": \"sgd1d_limit_cuda\", \"chains\": %zu, \"steps\": %llu, \"seconds\": %.6f, "
         "\"steps_per_second\": %.6g, \"mean_w\": %.6f}\n",
         chains, steps, best / 1e3, (double)chains * (double)steps / (best / 1e3), m);
  free(h);
  cudaFree(d);
  return 0;
}
