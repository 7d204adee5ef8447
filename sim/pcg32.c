/* PCG32 (XSH-RR on a 64-bit LCG with selectable streams): seeding, O(log n) jump-ahead,
 * unbiased bounded integers and 53-bit doubles.
 *
 * M.E. O'Neill, "PCG: A Family of Simple Fast Space-Efficient Statistically Good Algorithms
 * for Random Number Generation" (2014); seeding and bounded draws as in pcg-c-basic, jump-ahead
 * by F.B. Brown, "Random Number Generation with Arbitrary Stride" (1994). */
#include "valley/pcg.h"

void valley_pcg32_seed(valley_pcg32_t *rng, uint64_t initstate, uint64_t seq) {
  rng->state = 0u;
  rng->inc = (seq << 1u) | 1u;
  (void)valley_pcg32_next(rng);
  rng->state += initstate;
  (void)valley_pcg32_next(rng);
}

/* delta steps of s -> M s + c compose to s -> acc_mult s + acc_plus; the map for 2^k steps is
 * squared from the one for 2^(k-1) steps, and folded in where bit k of delta is set. */
void valley_pcg32_advance(valley_pcg32_t *rng, uint64_t delta) {
  uint64_t cur_mult = VALLEY_PCG32_MULT, cur_plus = rng->inc;
  uint64_t acc_mult = 1u, acc_plus = 0u;
  while (delta > 0u) {
    if (delta & 1u) {
      acc_mult *= cur_mult;
      acc_plus = acc_plus * cur_mult + cur_plus;
    }
    cur_plus = (cur_mult + 1u) * cur_plus;
    cur_mult *= cur_mult;
    delta >>= 1u;
  }
  rng->state = acc_mult * rng->state + acc_plus;
}

/* Rejects outputs below 2^32 mod bound, so that each residue is hit equally often. */
uint32_t valley_pcg32_bounded(valley_pcg32_t *rng, uint32_t bound) {
  uint32_t threshold = (0u - bound) % bound;
  for (;;) {
    uint32_t r = valley_pcg32_next(rng);
    if (r >= threshold) return r % bound;
  }
}

/* (a/2^5 * 2^26 + b/2^6) 2^-53, a the first output and b the second: the top 27 bits of a over
 * the top 26 bits of b, as in MT19937's genrand_res53.  Largest value 1 - 2^-53. */
double valley_pcg32_double(valley_pcg32_t *rng) {
  uint64_t hi = valley_pcg32_next(rng) >> 5u;
  uint64_t lo = valley_pcg32_next(rng) >> 6u;
  return (double)((hi << 26u) | lo) * 0x1p-53;
}
