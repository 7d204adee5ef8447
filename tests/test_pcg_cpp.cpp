// valley's PCG32 (M.E. O'Neill 2014; sim/pcg32.c) against the reference pcg-cpp's pcg32
// (Debian libpcg-cpp-dev, <pcg_random.hpp>), bit for bit: plain outputs for several seeds and
// streams, outputs after jump-ahead by several deltas (forward and "negative"), bounded draws.
// Build as gnu++14 (CMake's default for C++14) or C++17: valley/pcg.h uses hex float constants.
#include <cinttypes>
#include <cstdarg>
#include <cstdio>

#include <pcg_random.hpp>

extern "C" {
#include "valley/pcg.h"
}

namespace {

const int kDraws = 10000;

struct Tally {
  int passed = 0, failed = 0;
};

void check(Tally &t, bool ok, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::printf("%s: ", ok ? "PASS" : "FAIL");
  std::vprintf(fmt, ap);
  std::printf("\n");
  va_end(ap);
  if (ok) t.passed++;
  else t.failed++;
}

// Index of the first of kDraws outputs where the two generators differ, or -1 if none does.
int first_mismatch(pcg32 &ref, valley_pcg32_t *rng) {
  for (int i = 0; i < kDraws; i++)
    if (ref() != valley_pcg32_next(rng)) return i;
  return -1;
}

struct Seed {
  uint64_t initstate, seq;
};

const Seed kSeeds[] = {
    {42u, 54u},
    {0u, 0u},
    {1u, 1u},
    {UINT64_C(0xdeadbeefcafef00d), UINT64_C(0x7fffffffffffffff)},
    {UINT64_MAX, UINT64_MAX},
    {UINT64_C(0x853c49e6748fea9b), UINT64_C(0xda3e39cb94b95bdb)},  // pcg-c-basic's default
};

const uint64_t kDeltas[] = {
    0u, 1u, 1000u, UINT64_C(1) << 40, UINT64_C(0x123456789abcdef), UINT64_C(1) << 63,
    UINT64_MAX,                        // -1: one step back
    0u - UINT64_C(0x123456789abcdef),  // a large "negative" delta
};

const uint32_t kBounds[] = {1u, 2u, 6u, 10u, 1000u, 0x80000001u, 0xfffffffeu};

// One check line: `what` for the generator seeded with s, passing when bad < 0.
void report(Tally &t, const Seed &s, int bad, const char *what) {
  char where[48] = "";
  if (bad >= 0) std::snprintf(where, sizeof where, " (first mismatch at draw %d)", bad);
  check(t, bad < 0, "seed(0x%" PRIx64 ", 0x%" PRIx64 ") %s: %d draws equal pcg32's%s",
        s.initstate, s.seq, what, kDraws, where);
}

}  // namespace

int main() {
  Tally t;
  char what[64];
  for (const Seed &s : kSeeds) {
    pcg32 ref(s.initstate, s.seq);
    valley_pcg32_t rng;
    valley_pcg32_seed(&rng, s.initstate, s.seq);
    report(t, s, first_mismatch(ref, &rng), "next");

    for (uint64_t d : kDeltas) {
      pcg32 ref_adv(s.initstate, s.seq);
      valley_pcg32_seed(&rng, s.initstate, s.seq);
      ref_adv.advance(d);
      valley_pcg32_advance(&rng, d);
      std::snprintf(what, sizeof what, "advance(0x%" PRIx64 ") then next", d);
      report(t, s, first_mismatch(ref_adv, &rng), what);
    }

    for (uint32_t b : kBounds) {
      pcg32 ref_b(s.initstate, s.seq);
      valley_pcg32_seed(&rng, s.initstate, s.seq);
      int bad = -1;
      for (int i = 0; i < kDraws && bad < 0; i++)
        if (ref_b(b) != valley_pcg32_bounded(&rng, b)) bad = i;
      std::snprintf(what, sizeof what, "bounded(%" PRIu32 ")", b);
      report(t, s, bad, what);
    }
  }
  std::printf("%d passed, %d failed\n", t.passed, t.failed);
  return t.failed == 0 ? 0 : 1;
}
