/* Numerical trouble is an error (VALLEY_ENUMERIC) with a message naming it, never a number
 * (docs/reliability.md).  The cases the command line cannot reach; tests/test_numerics.sh
 * has the ones it can:
 *   - a root search that cannot converge (U' is NaN next to its root, finite at every node, so
 *     the scan brackets the root and Brent's method meets the NaN);
 *   - exp(-2 v / T) at a tiny T: the basin integral underflows to 0;
 *   - the same landscape at a sane T solves (the checks are not always failing). */
#include <math.h>
#include <string.h>

#include "check.h"
#include "valley/steady.h"

/* U = (x - 0.3037)^2 / 2, D = 1; U' is NaN within 0.002 of the minimum when nan_near_root. */
static void quad_eval(double x, const void *params, valley_fp1d_eval_t *e) {
  int nan_near_root = *(const int *)params;
  e->U = 0.5 * (x - 0.3037) * (x - 0.3037);
  e->dU = nan_near_root && fabs(x - 0.3037) < 0.002 ? NAN : x - 0.3037;
  e->d2U = 1.0;
  e->D = 1.0;
  e->dD = e->d2D = 0.0;
}

static double quad_F(double x, const void *params) {
  (void)params;
  return 0.5 * (x - 0.3037) * (x - 0.3037);
}

int main(void) {
  check_t t = {0, 0};
  valley_steady_config_t cfg;
  valley_steady_config_default(&cfg);
  /* nodes at multiples of 0.125 on [-1, 1], and valley_fp1d_check's points at multiples of 0.01:
   * none within 0.002 of 0.3037 */
  cfg.grid = 16;
  valley_error_t err;
  memset(&err, 0, sizeof err);

  int nan_near_root = 1;
  valley_fp1d_t p = {quad_eval, &nan_near_root, -1.0, 1.0, quad_F};
  valley_steady_ctx_t ctx;
  valley_status_t st = valley_steady_prepare(&ctx, &p, NULL, NULL, &cfg, 1, &err);
  check(&t, st == VALLEY_ENUMERIC && strstr(err.message, "root search") &&
                strstr(err.message, "did not converge"),
        "a root search that meets NaN: ENUMERIC naming it (%s)", err.message);
  if (st == VALLEY_OK) valley_steady_ctx_free(&ctx);

  nan_near_root = 0;
  st = valley_steady_prepare(&ctx, &p, NULL, NULL, &cfg, 1, &err);
  check(&t, st == VALLEY_OK, "the same landscape without the NaN prepares (%s)",
        st == VALLEY_OK ? "ok" : err.message);
  if (st == VALLEY_OK) {
    valley_steady_t s;
    st = valley_steady_solve(&ctx, 0.1, &s, &err);
    check(&t, st == VALLEY_OK && s.nbasins == 1 && isfinite(s.log_Z) &&
                  close_rel(s.basin[0].weight, 1.0, 1e-12),
          "T = 0.1: one basin of weight 1, log Z finite (%s)", st == VALLEY_OK ? "ok" : err.message);
    st = valley_steady_solve(&ctx, 1e-300, &s, &err);
    check(&t, st == VALLEY_ENUMERIC && strstr(err.message, "too narrow for the quadrature"),
          "T = 1e-300: exp(-2 v / T) underflows: ENUMERIC naming it (%s)", err.message);
    valley_steady_ctx_free(&ctx);
  }
  check(&t, strcmp(valley_strerror(VALLEY_ENUMERIC), "numerical failure (overflow, no "
                   "convergence, blow-up)") == 0, "valley_strerror(VALLEY_ENUMERIC)");
  return check_done(&t);
}
