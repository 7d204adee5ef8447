/* PCG32: 64-bit LCG state, XSH-RR 32-bit output, selectable streams, O(log n) jump-ahead.
 *
 * The generator of M.E. O'Neill, "PCG: A Family of Simple Fast Space-Efficient Statistically
 * Good Algorithms for Random Number Generation" (2014); identical output to pcg-cpp's pcg32
 * (setseq_xsh_rr_64_32) and pcg-c-basic's pcg32_random_r.  The caller owns every state.     */
#ifndef VALLEY_PCG_H
#define VALLEY_PCG_H

#include <stdint.h>

#include <gsl/gsl_rng.h>

#define VALLEY_PCG32_MULT UINT64_C(6364136223846793005)

typedef struct {
  uint64_t state; /* LCG state */
  uint64_t inc;   /* stream increment, always odd */
} valley_pcg32_t;

/* Seeds like pcg32_srandom_r / pcg32(initstate, initseq): stream `seq` (any 64-bit value; only
 * its low 63 bits select the stream). */
void valley_pcg32_seed(valley_pcg32_t *rng, uint64_t initstate, uint64_t seq);

/* Next 32-bit output (XSH-RR of the old state), then one LCG step. */
static inline uint32_t valley_pcg32_next(valley_pcg32_t *rng) {
  uint64_t old = rng->state;
  rng->state = old * VALLEY_PCG32_MULT + rng->inc;
  uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
  uint32_t rot = (uint32_t)(old >> 59u);
  return (xorshifted >> rot) | (xorshifted << ((-rot) & 31u));
}

/* Advances the state by delta steps (delta may be read as negative mod 2^64) in O(log delta). */
void valley_pcg32_advance(valley_pcg32_t *rng, uint64_t delta);

/* Uniform integer in [0, bound), bound >= 1, without modulo bias (pcg32_boundedrand_r). */
uint32_t valley_pcg32_bounded(valley_pcg32_t *rng, uint32_t bound);

/* Uniform double in the open interval (0, 1) from one output: (x + 0.5) 2^-32. */
static inline double valley_pcg32_open01(valley_pcg32_t *rng) {
  return ((double)valley_pcg32_next(rng) + 0.5) * (1.0 / 4294967296.0);
}

/* Uniform double in [0, 1) with 53 random bits, from two outputs (high word first). */
double valley_pcg32_double(valley_pcg32_t *rng);

/* PCG32 as a GSL generator: get() returns the 32-bit output; get_double() returns x 2^-32 in
 * [0, 1); set(seed) seeds stream 0 with initstate = seed. */
extern const gsl_rng_type *const valley_gsl_rng_pcg32;

/* A gsl_rng drawing from PCG32 stream `seq` seeded with `initstate`; NULL when out of memory
 * (GSL's error handler, unless turned off, aborts first).
 * Free with gsl_rng_free. */
gsl_rng *valley_pcg32_gsl_alloc(uint64_t initstate, uint64_t seq);

/* The PCG32 state inside a gsl_rng of type valley_gsl_rng_pcg32. */
valley_pcg32_t *valley_pcg32_gsl_state(gsl_rng *r);

#endif
