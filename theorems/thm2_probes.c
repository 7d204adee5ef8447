/* The events of Theorem 2's proof (He, Huang, Yuan 2019, Appendix D) as round probes for the
 * 1-D SGD simulator. */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "valley/thm2.h"

static uint64_t ceil_u64(double x) {
  if (!(x >= 0)) return 0;
  if (!(x < 1.8e19)) return UINT64_MAX;
  return (uint64_t)ceil(x);
}

valley_status_t valley_thm2_probes(const valley_thm2_params_t *p, const valley_thm2_constants_t *k,
                                   const valley_thm2_constants_t *k_azuma,
                                   valley_sgd1d_probes_t *out, double **envelope,
                                   valley_error_t *err) {
  double scale = fabs(k->p_min) + fabs(k->p_max) +
                 p->eta * (fabs(p->a_plus) + fabs(p->a_minus) + fabs(p->b_minus) + 2 * p->nu);
  out->w0_lo = k->p_min;
  out->w0_hi = k->p_max;
  out->tol = 16 * DBL_EPSILON * scale;
  size_t K = 0;
  if (k->tau_found && k->T_min >= 1) {
    if (k->T_min > 1e8)
      return VALLEY_ERROR(err, VALLEY_EDOM, "T_min = %g is too large to probe", k->T_min);
    K = (size_t)floor(k->T_min);
  }
  *envelope = calloc(K + 1, sizeof **envelope);
  if (*envelope == NULL) return VALLEY_ERROR(err, VALLEY_ENOMEM, "cannot allocate the envelope");
  for (size_t t = 1; t <= K; t++) /* Theorem 6: w0 - t eta a+ - sqrt(2t) eta nu log^(1/2)(2tau) */
    (*envelope)[t] = (double)t * p->eta * p->a_plus + sqrt(2.0 * (double)t) * p->eta * p->nu * k->L;
  out->envelope_len = K;
  out->envelope = *envelope;
  out->flat_run_max = k->tau_found ? ceil_u64(k->T_max) : UINT64_MAX;
  out->flat_run_max_alt = k_azuma->tau_found ? ceil_u64(k_azuma->T_max) : UINT64_MAX;
  out->mean_threshold = k->tau_found ? k->round_bound : -INFINITY;
  out->mean_threshold_alt = k_azuma->tau_found ? k_azuma->round_bound : -INFINITY;
  return VALLEY_OK;
}
