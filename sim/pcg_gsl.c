/* PCG32 (M.E. O'Neill 2014) as a GSL random number generator type, written like the generators
 * in GSL's rng/ directory: the state lives in each gsl_rng, the type descriptor is constant. */
#include "valley/pcg.h"

static void pcg_gsl_set(void *state, unsigned long int seed) {
  valley_pcg32_seed(state, seed, 0u);
}

static unsigned long int pcg_gsl_get(void *state) { return valley_pcg32_next(state); }

static double pcg_gsl_get_double(void *state) {
  return (double)valley_pcg32_next(state) * 0x1p-32;
}

static const gsl_rng_type pcg_gsl_type = {
    "valley_pcg32",         /* name */
    0xffffffffUL,           /* max */
    0UL,                    /* min */
    sizeof(valley_pcg32_t), /* size */
    &pcg_gsl_set,
    &pcg_gsl_get,
    &pcg_gsl_get_double,
};

const gsl_rng_type *const valley_gsl_rng_pcg32 = &pcg_gsl_type;

gsl_rng *valley_pcg32_gsl_alloc(uint64_t initstate, uint64_t seq) {
  gsl_rng *r = gsl_rng_alloc(valley_gsl_rng_pcg32);
  if (r == NULL) return NULL;
  valley_pcg32_seed(valley_pcg32_gsl_state(r), initstate, seq);
  return r;
}

valley_pcg32_t *valley_pcg32_gsl_state(gsl_rng *r) { return r->state; }
