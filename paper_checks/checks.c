/* The registry of `valley check` (paper_checks/checks_internal.h, paper_checks/CLAIMS.md). */
#include <string.h>

#include "checks_internal.h"

static const valley_check_t checks[] = {VALLEY_CHECKS};

const valley_check_t *valley_check_list(size_t *n) {
  *n = sizeof checks / sizeof checks[0];
  return checks;
}

const valley_check_t *valley_check_find(const char *name) {
  for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
    if (strcmp(checks[i].name, name) == 0) return &checks[i];
  return NULL;
}
