/* Tests of PCG32 (M.E. O'Neill 2014; sim/pcg32.c, sim/pcg_gsl.c) in the spirit of GSL rng/test.c:
 * known answers computed independently, copy and restore, independent generators, jump-ahead,
 * and statistical checks with stated thresholds.  Fixed seeds throughout, so every run draws the
 * same numbers; the stated false-failure probabilities say how unlucky a seed would have to be.
 *
 * The known answers were computed independently of this C code with plain Python integers: the
 * lines below, saved as pcgref.py and run with `python3 pcgref.py` (Python 3.11.7):
 *   M = 2**64 - 1; A = 6364136223846793005
 *   def seed(s, q):                       # pcg32_srandom_r
 *       inc = ((q << 1) | 1) & M; st = (0 * A + inc) & M
 *       st = (st + s) & M; return [(st * A + inc) & M, inc]
 *   def nxt(g):                           # pcg32_random_r
 *       old = g[0]; g[0] = (old * A + g[1]) & M
 *       x = (((old >> 18) ^ old) >> 27) & 0xffffffff; r = old >> 59
 *       return ((x >> r) | (x << ((-r) & 31))) & 0xffffffff
 *   def bounded(g, b):                    # pcg32_boundedrand_r
 *       t = ((-b) & 0xffffffff) % b
 *       while True:
 *           r = nxt(g)
 *           if r >= t: return r % b
 *   def jump(g, n):                       # closed form s_n = A^n s + inc (A^n - 1)/(A - 1)
 *       S = ((pow(A, n, (A - 1) * 2**64) - 1) // (A - 1)) & M
 *       return [(pow(A, n, 2**64) * g[0] + g[1] * S) & M, g[1]]
 *   g = seed(42, 54); print([hex(nxt(g)) for _ in range(6)])
 *   g = seed(42, 54); print(hex(g[0]), [bounded(g, 6) for _ in range(10)])
 *   g = seed(42, 54); print([hex(bounded(g, 0x80000001)) for _ in range(6)])
 *   g = seed(42, 54); a = nxt(g); b = nxt(g); print((a >> 5) * 2**26 + (b >> 6))  # x 2^-53
 *   for n in (1000, 2**40, 0x123456789abcdef): print(hex(jump(seed(42, 54), n)[0]))
 * The jump uses the closed form (division by A - 1 done exactly modulo (A - 1) 2^64), a different
 * algorithm from the repeated squaring in valley_pcg32_advance; for n = 1000 it agrees with 1000
 * calls of nxt. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_randist.h>

#include "valley/pcg.h"

#define NDRAW 1000000

typedef struct {
  int passed, failed;
} tally_t;

static void check(tally_t *t, int ok, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("%s: ", ok ? "PASS" : "FAIL");
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  if (ok) t->passed++;
  else t->failed++;
}

static int same(const valley_pcg32_t *a, const valley_pcg32_t *b) {
  return a->state == b->state && a->inc == b->inc;
}

static void test_known_answers(tally_t *t) {
  static const uint32_t want[6] = {0xa15c02b7u, 0x7b47f409u, 0xba1d3330u,
                                   0x83d2f293u, 0xbfa4784bu, 0xcbed606eu};
  static const uint32_t want_d6[10] = {3, 3, 2, 1, 1, 4, 5, 3, 0, 2};
  static const uint32_t want_big[6] = {0x215c02b6u, 0x3a1d332fu, 0x03d2f292u,
                                       0x3fa4784au, 0x4bed606du, 0x3fc6a3acu};
  valley_pcg32_t g;
  valley_pcg32_seed(&g, 42u, 54u);
  check(t, g.state == UINT64_C(0x185706b82c2e03f8) && g.inc == 0x6du,
        "seed(42, 54) gives state 0x185706b82c2e03f8, inc 0x6d");
  int ok = 1;
  for (int i = 0; i < 6; i++) ok &= valley_pcg32_next(&g) == want[i];
  check(t, ok, "first 6 outputs of seed(42, 54) match pcg-c-basic's demo");
  valley_pcg32_seed(&g, 42u, 54u);
  ok = 1;
  for (int i = 0; i < 10; i++) ok &= valley_pcg32_bounded(&g, 6u) == want_d6[i];
  check(t, ok, "first 10 bounded(6) of seed(42, 54) match the Python reference");
  valley_pcg32_seed(&g, 42u, 54u);
  ok = 1;
  for (int i = 0; i < 6; i++) ok &= valley_pcg32_bounded(&g, 0x80000001u) == want_big[i];
  check(t, ok, "first 6 bounded(2^31 + 1) of seed(42, 54) match (the second output is rejected)");
  valley_pcg32_seed(&g, 42u, 54u);
  double d = valley_pcg32_double(&g);
  check(t, d == 5677329731624912.0 * 0x1p-53, "first double of seed(42, 54) is %.17g", d);
}

static void test_copy_restore(tally_t *t) {
  valley_pcg32_t g, saved;
  uint32_t first[100];
  valley_pcg32_seed(&g, 2024u, 7u);
  for (int i = 0; i < 50; i++) (void)valley_pcg32_next(&g);
  saved = g;
  for (int i = 0; i < 100; i++) first[i] = valley_pcg32_next(&g);
  g = saved;
  int ok = 1;
  for (int i = 0; i < 100; i++) ok &= valley_pcg32_next(&g) == first[i];
  check(t, ok, "restoring a copied state reproduces the next 100 outputs");
}

static void test_independent(tally_t *t) {
  valley_pcg32_t a, b, b_before;
  valley_pcg32_seed(&a, 12345u, 1u);
  valley_pcg32_seed(&b, 12345u, 2u);
  b_before = b;
  for (int i = 0; i < 1000; i++) (void)valley_pcg32_next(&a);
  check(t, same(&b, &b_before), "drawing from one generator leaves another untouched");
  valley_pcg32_seed(&a, 12345u, 1u);
  int agree = 0;
  for (int i = 0; i < 1000; i++) agree += valley_pcg32_next(&a) == valley_pcg32_next(&b);
  /* for unrelated streams P(any of 1000 agree) ~ 1000 2^-32 = 2.3e-7 */
  check(t, agree == 0, "streams 1 and 2 of the same initstate: %d of 1000 outputs agree", agree);
}

static void test_advance(tally_t *t) {
  static const uint64_t ns[] = {0u, 1u, 2u, 3u, 1000u, 65537u, 1234567u};
  valley_pcg32_t g, h, orig;
  valley_pcg32_seed(&orig, 42u, 54u);
  for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
    g = h = orig;
    for (uint64_t i = 0; i < ns[k]; i++) (void)valley_pcg32_next(&g);
    valley_pcg32_advance(&h, ns[k]);
    check(t, same(&g, &h), "advance(%llu) equals %llu calls of next", (unsigned long long)ns[k],
          (unsigned long long)ns[k]);
  }
  static const struct {
    uint64_t n, state;
  } jumps[] = {{1000u, UINT64_C(0x77d57a2a8f8fc510)},
               {UINT64_C(1) << 40, UINT64_C(0xdce675b82c2e03f8)},
               {UINT64_C(0x123456789abcdef), UINT64_C(0x667c2c4515c8d7e7)}};
  for (size_t k = 0; k < sizeof jumps / sizeof jumps[0]; k++) {
    h = orig;
    valley_pcg32_advance(&h, jumps[k].n);
    check(t, h.state == jumps[k].state, "advance(0x%llx) matches the closed form",
          (unsigned long long)jumps[k].n);
  }
  g = h = orig;
  valley_pcg32_advance(&g, UINT64_C(1) << 40);
  valley_pcg32_advance(&h, UINT64_C(1) << 39);
  valley_pcg32_advance(&h, UINT64_C(1) << 39);
  check(t, same(&g, &h), "advance(2^40) equals advance(2^39) twice");
  h = orig;
  valley_pcg32_advance(&h, (UINT64_C(1) << 40) - 1u);
  (void)valley_pcg32_next(&h);
  check(t, same(&g, &h), "advance(2^40) equals advance(2^40 - 1) then one next");
  static const uint64_t back[] = {1u, 1000u, UINT64_C(1) << 40, UINT64_C(0x123456789abcdef),
                                  UINT64_MAX};
  for (size_t k = 0; k < sizeof back / sizeof back[0]; k++) {
    g = orig;
    valley_pcg32_advance(&g, back[k]);
    valley_pcg32_advance(&g, 0u - back[k]);
    check(t, same(&g, &orig), "advance(-0x%llx) undoes advance(0x%llx)",
          (unsigned long long)back[k], (unsigned long long)back[k]);
  }
  g = orig;
  uint32_t x = valley_pcg32_next(&g);
  valley_pcg32_advance(&g, UINT64_MAX);
  check(t, same(&g, &orig) && valley_pcg32_next(&g) == x, "advance(2^64 - 1) steps back once");
}

static void test_bounded(tally_t *t) {
  static const uint32_t bounds[] = {1u, 2u, 3u, 7u, 10u, 1000u, 0x80000001u, 0xffffffffu};
  valley_pcg32_t g;
  valley_pcg32_seed(&g, 99u, 3u);
  for (size_t k = 0; k < sizeof bounds / sizeof bounds[0]; k++) {
    int ok = 1;
    for (int i = 0; i < 100000; i++) ok &= valley_pcg32_bounded(&g, bounds[k]) < bounds[k];
    check(t, ok, "bounded(%lu) < %lu over 1e5 draws", (unsigned long)bounds[k],
          (unsigned long)bounds[k]);
  }
  long count[10] = {0};
  for (int i = 0; i < NDRAW; i++) count[valley_pcg32_bounded(&g, 10u)]++;
  double chi2 = 0.0, expect = NDRAW / 10.0;
  for (int j = 0; j < 10; j++) chi2 += ((double)count[j] - expect) * ((double)count[j] - expect);
  chi2 /= expect;
  /* 33.72 is the 0.9999 quantile of chi-square with 9 degrees of freedom: a uniform generator
   * fails this check with probability 1e-4 */
  check(t, chi2 < 33.72, "bounded(10) chi-square over 1e6 draws = %.2f < 33.72", chi2);
}

/* Mean of NDRAW uniforms within 5 sigma of 1/2, sigma = sqrt(1/12/NDRAW) = 2.9e-4: a fair
 * generator fails with probability 5.7e-7. */
static void test_doubles(tally_t *t) {
  const double five_sigma = 5.0 * sqrt(1.0 / 12.0 / NDRAW);
  valley_pcg32_t g;
  valley_pcg32_seed(&g, 7u, 11u);
  double sum = 0.0;
  int ok = 1;
  for (int i = 0; i < NDRAW; i++) {
    double u = valley_pcg32_open01(&g);
    ok &= u > 0.0 && u < 1.0;
    sum += u;
  }
  check(t, ok, "open01 in (0, 1) over 1e6 draws");
  check(t, fabs(sum / NDRAW - 0.5) < five_sigma, "open01 mean %.6f within 5 sigma of 1/2",
        sum / NDRAW);
  sum = 0.0;
  ok = 1;
  for (int i = 0; i < NDRAW; i++) {
    double u = valley_pcg32_double(&g);
    ok &= u >= 0.0 && u < 1.0;
    sum += u;
  }
  check(t, ok, "double in [0, 1) over 1e6 draws");
  check(t, fabs(sum / NDRAW - 0.5) < five_sigma, "double mean %.6f within 5 sigma of 1/2",
        sum / NDRAW);
}

static void test_gsl(tally_t *t) {
  gsl_rng *r = valley_pcg32_gsl_alloc(42u, 54u);
  if (r == NULL) {
    check(t, 0, "valley_pcg32_gsl_alloc(42, 54) returned NULL");
    return;
  }
  check(t, strcmp(gsl_rng_name(r), "valley_pcg32") == 0 && gsl_rng_min(r) == 0u &&
               gsl_rng_max(r) == 0xffffffffUL,
        "gsl_rng name valley_pcg32, min 0, max 0xffffffff");
  valley_pcg32_t copy = *valley_pcg32_gsl_state(r);
  int ok = 1;
  for (int i = 0; i < 10000; i++) ok &= gsl_rng_get(r) == valley_pcg32_next(&copy);
  check(t, ok, "gsl_rng_get equals valley_pcg32_next on a copy of the state");
  ok = 1;
  for (int i = 0; i < 100000; i++) {
    double u = gsl_rng_uniform(r);
    ok &= u >= 0.0 && u < 1.0 && u == (double)valley_pcg32_next(&copy) * 0x1p-32;
  }
  check(t, ok, "gsl_rng_uniform is next * 2^-32, in [0, 1)");
  gsl_rng *c = gsl_rng_clone(r);
  ok = c != NULL;
  for (int i = 0; ok && i < 10000; i++) ok &= gsl_rng_get(c) == gsl_rng_get(r);
  check(t, ok, "gsl_rng_clone reproduces the sequence");
  gsl_rng_free(c);
  valley_pcg32_t g;
  gsl_rng_set(r, 42u);
  valley_pcg32_seed(&g, 42u, 0u);
  check(t, same(valley_pcg32_gsl_state(r), &g), "gsl_rng_set(r, 42) seeds stream 0 with 42");
  gsl_rng_free(r);
  r = valley_pcg32_gsl_alloc(31337u, 5u);
  if (r == NULL) {
    check(t, 0, "valley_pcg32_gsl_alloc(31337, 5) returned NULL");
    return;
  }
  /* mean of NDRAW standard normals has sigma 1e-3; the sample variance has sigma
   * sqrt(2 / NDRAW) = 1.41e-3.  5-sigma bounds: false failure 5.7e-7 each (normal approx.) */
  double sum = 0.0, sum2 = 0.0;
  for (int i = 0; i < NDRAW; i++) {
    double z = gsl_ran_gaussian_ziggurat(r, 1.0);
    sum += z;
    sum2 += z * z;
  }
  double mean = sum / NDRAW, var = (sum2 - NDRAW * mean * mean) / (NDRAW - 1);
  check(t, fabs(mean) < 5.0 / sqrt(NDRAW), "ziggurat mean %.5f within 5 sigma of 0", mean);
  check(t, fabs(var - 1.0) < 5.0 * sqrt(2.0 / NDRAW), "ziggurat variance %.5f within 5 sigma of 1",
        var);
  gsl_rng_free(r);
}

int main(void) {
  tally_t t = {0, 0};
  test_known_answers(&t);
  test_copy_restore(&t);
  test_independent(&t);
  test_advance(&t);
  test_bounded(&t);
  test_doubles(&t);
  test_gsl(&t);
  printf("%d passed, %d failed\n", t.passed, t.failed);
  return t.failed == 0 ? 0 : 1;
}
