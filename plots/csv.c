/* The trajectory CSV of Figure 5 (He, Huang, Yuan 2019). */
#include "valley/outfile.h"

void valley_plots_trajectory_write(FILE *f, const char *comment, const double *w, size_t n) {
  if (comment != NULL) fprintf(f, "# %s\n", comment);
  fprintf(f, "t,w,running_mean\n");
  double sum = 0;
  for (size_t t = 0; t < n; t++) {
    sum += w[t];
    fprintf(f, "%zu,%.17g,%.17g\n", t, w[t], sum / (double)(t + 1));
  }
}

void valley_plots_thm1_sweep_write(FILE *f, const char *comment, const valley_thm1_sweep_row_t *rows,
                                   size_t n) {
  fprintf(f, "# %s\n", comment);
  fprintf(f, "t,l1,gain,bound,bound_proof,ratio,statement_applies,proof_applies,verdict\n");
  for (size_t i = 0; i < n; i++) {
    const valley_thm1_sweep_row_t *r = &rows[i];
    fprintf(f, "%.17g,%.17g,%.17g,%.17g,%.17g,%.17g,%d,%d,%s\n", r->t, r->l1, r->gain, r->bound,
            r->bound_proof, r->ratio, r->statement_applies, r->proof_applies,
            valley_verdict_name(r->verdict));
  }
}
