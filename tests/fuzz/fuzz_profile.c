/* Fuzzes the profile CSV reader (theorems/profile.c valley_prof_read); a profile that reads, of
 * at most 64 points, then goes through what valley direction --profile computes from it:
 * Definition 1 on both curves, the shift gap and the curvature fits, with default settings. */
#include "fuzz_util.h"
#include "valley/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *path = fuzz_temp_file(data, size);
  valley_prof_t p;
  valley_error_t err;
  if (valley_prof_read(path, &p, &err) == VALLEY_OK) {
    if (p.n <= 64) {
      valley_prof_def1_config_t d1cfg;
      valley_prof_def1_config_default(&d1cfg);
      valley_prof_def1_t d1;
      (void)valley_prof_def1(p.l, p.train, p.n, &d1cfg, &d1, &err);
      (void)valley_prof_def1(p.l, p.test, p.n, &d1cfg, &d1, &err);
      valley_prof_gap_config_t gcfg = {0};
      valley_prof_gap_t gap;
      if (valley_prof_shift_gap(&p, &gcfg, &gap, &err) == VALLEY_OK) valley_prof_gap_free(&gap);
      valley_prof_curv_config_t ccfg = {0};
      valley_prof_curv_t curv;
      (void)valley_prof_curvature(&p, &ccfg, &curv, &err);
    }
    valley_prof_free(&p);
  }
  fuzz_temp_remove(path);
  return 0;
}
