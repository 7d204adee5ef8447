/* PLACEHOLDER: being written (issue 6).  Must be replaced or removed from the registry before
 * landing. */
#include "experiments_internal.h"

valley_status_t valley_exp_run_assumption2(valley_exp_run_t *r, valley_error_t *err) {
  (void)r;
  return VALLEY_ERROR(err, VALLEY_EINVAL, "not written yet");
}
