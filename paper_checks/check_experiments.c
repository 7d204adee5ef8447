/* The real-network experiments of issue 6 as checks of `valley check` (docs/experiments.md):
 * each runs its experiment (its quick mode at the default scale, its full mode at the full scale;
 * nothing at the quick scale, whose 30 s cannot hold them) in a temporary directory, maps its verdict (reproduced -> PASS, not reproduced -> NOT
 * REPRODUCED, inconclusive -> INCONCLUSIVE), and draws one directional-loss figure from the
 * experiment's own CSV files.  Without Fashion-MNIST the checks are SKIPPED. */
#define _GNU_SOURCE /* mkdtemp */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "valley/experiment.h"
#include "valley/idx.h"
#include "checks_internal.h"

#define XF_MAX_SRC 2
#define XF_MAX_FILTER 3
#define XF_MAX_COLS 64
#define XF_MAX_CURVES 12

/* Rows of one experiment CSV that make curves: x and y columns, rows where every filter column
 * equals its value, one curve per value of label_col (prefixed), or one curve `label`. */
typedef struct {
  const char *file;  /* the CSV's suffix: NAME_file.csv */
  const char *x, *y;
  const char *label_col, *label_prefix, *label;
  const char *fcol[XF_MAX_FILTER], *fval[XF_MAX_FILTER];
} xf_source_t;

typedef struct {
  const char *experiment;
  const char *caption, *xlabel, *ylabel;
  xf_source_t src[XF_MAX_SRC];
} xf_spec_t;

static const xf_spec_t xf_specs[] = {
    {"asym-common",
     "asym-common: the train loss along the first uniform direction (||u|| = ||theta||) at the SGD "
     "solution of each network; the two sides of l = 0 rise at different rates.",
     "l", "train loss", {{"profiles", "l", "train_loss", "network", "", NULL, {"family", "index"},
                          {"uniform", "0"}}}},
    {"shift-gap",
     "shift-gap: train and test loss along the first uniform direction (Figure 3(a)): the test "
     "curve is close to the train curve shifted sideways.",
     "l", "loss", {{"profiles", "l", "train_loss", NULL, NULL, "train", {"direction"}, {"0"}},
                   {"profiles", "l", "test_loss", NULL, NULL, "test", {"direction"}, {"0"}}}},
    {"assumption2",
     "assumption2 (Figure 4): the mean train loss along u through points w* + v - <v,u>u, v "
     "random in a ball of radius R (one curve per R / ||w*||).",
     "l", "mean train loss", {{"figure4", "l", "mean", "r_over_theta_norm", "R=", NULL, {NULL}, {NULL}}}},
    {"swa-vs-sgd",
     "swa-vs-sgd (Figure 7): train and test loss on the line from the SGD solution (l = 0) to "
     "the SWA solution (l = 1), first seed.",
     "l (0: SGD, 1: SWA)", "loss",
     {{"interp", "l", "train_loss_fixed", NULL, NULL, "train", {"seed"}, {"0"}},
      {"interp", "l", "test_loss_fixed", NULL, NULL, "test", {"seed"}, {"0"}}}},
    {"thm2-real",
     "thm2-real (Figure 6): the train loss along the fixed direction u through the SGD iterate "
     "of several epochs (first seed); stable curves make Theorem 2's 1-D argument apply.",
     "l (unit-norm u)", "train loss",
     {{"curves", "l", "train_loss", "epoch", "epoch", NULL, {"seed"}, {"0"}}}},
    {"illusions",
     "illusions (Figure 9): the train loss along the same filter-normalized ray from the SGD and "
     "from the SWA solution; SWA looks wider although both lie in one basin.",
     "l", "train loss", {{"rays_sgd", "l", "train_loss", NULL, NULL, "SGD", {"direction"}, {"0"}},
                         {"rays_swa", "l", "train_loss", NULL, NULL, "SWA", {"direction"}, {"0"}}}},
    {"batch-norm",
     "batch-norm (Appendix H, Figure 41): the train loss along the first BN-only and the first "
     "non-BN direction at the BN MLP's solution.",
     "l", "train loss", {{"profiles", "l", "train_loss", "family", "", NULL, {"network", "index"},
                          {"bn-mlp", "0"}}}},
    {"sign-noise",
     "sign-noise: the train loss along the first zero-mean (whole), positive (uniform) and "
     "sign-consistent (sign) direction at the BN MLP initialised with BN scales 1.",
     "l", "train loss", {{"profiles", "l", "train_loss", "family", "", NULL,
                          {"network", "seed", "direction"}, {"bn-ones", "0", "0"}}}},
    {"shift-curvature",
     "shift-curvature (Figure 1): the test loss on the line from the train minimum (r = 0) to "
     "the test minimum (r = 1), one curve per SGD temperature T (first seed).",
     "r", "test loss", {{"lines", "r", "test_loss", "T", "T=", NULL, {"seed"}, {"0"}}}},
};

/* ---- a small CSV reader: '#' lines skipped, the first other line is the header ---- */

typedef struct {
  size_t n_cols;
  char *cols[XF_MAX_COLS];
} xf_row_t;

static size_t xf_split(char *line, char **cols) {
  size_t n = 0;
  line[strcspn(line, "\r\n")] = '\0';
  for (char *p = line;; p++) {
    if (n < XF_MAX_COLS) cols[n++] = p;
    p = strchr(p, ',');
    if (p == NULL) break;
    *p = '\0';
  }
  return n;
}

static int xf_col(const xf_row_t *h, const char *name) {
  for (size_t i = 0; i < h->n_cols; i++)
    if (strcmp(h->cols[i], name) == 0) return (int)i;
  return -1;
}

/* Label text safe inside a gnuplot word list: no spaces or quotes. */
static void xf_label(char *out, size_t n, const char *prefix, const char *value) {
  snprintf(out, n, "%s%s", prefix, value);
  for (char *p = out; *p; p++)
    if (*p == ' ' || *p == '"' || *p == '\'') *p = '_';
  size_t len = strlen(out);
  if (len > 8 && strspn(value, "0123456789.eE+-") == strlen(value)) { /* a long number */
    double v = strtod(value, NULL);
    snprintf(out, n, "%s%.3g", prefix, v);
  }
}

/* Appends the curves of src to the figure CSV f ("curve,x,y"); labels are added to the word list
 * labels (size ln).  EIO / EINVAL naming the file. */
static valley_status_t xf_add(FILE *f, const char *dir, const char *exp, const xf_source_t *src,
                              char *labels, size_t ln, size_t *n_curves, valley_error_t *err) {
  char path[2048];
  if (snprintf(path, sizeof path, "%s/%s_%s.csv", dir, exp, src->file) >= (int)sizeof path)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "%s: a file name too long", dir);
  FILE *in = fopen(path, "r");
  if (in == NULL) return VALLEY_ERROR(err, VALLEY_EIO, "%s: %s", path, strerror(errno));
  char *hline = NULL, *line = NULL;
  size_t cap = 0, cap2 = 0;
  xf_row_t h = {0}, r = {0};
  valley_status_t st = VALLEY_OK;
  while (getline(&hline, &cap, in) > 0 && hline[0] == '#') {
  }
  if (hline == NULL || hline[0] == '#') {
    st = VALLEY_ERROR(err, VALLEY_EINVAL, "%s: no header line", path);
    goto done;
  }
  h.n_cols = xf_split(hline, h.cols);
  int ix = xf_col(&h, src->x), iy = xf_col(&h, src->y);
  int il = src->label_col != NULL ? xf_col(&h, src->label_col) : -1;
  int ifl[XF_MAX_FILTER];
  for (int k = 0; k < XF_MAX_FILTER; k++)
    ifl[k] = src->fcol[k] != NULL ? xf_col(&h, src->fcol[k]) : -2;
  int bad = ix < 0 || iy < 0 || (src->label_col != NULL && il < 0);
  for (int k = 0; k < XF_MAX_FILTER; k++) bad |= ifl[k] == -1;
  if (bad) {
    st = VALLEY_ERROR(err, VALLEY_EINVAL, "%s: a column of the figure is missing", path);
    goto done;
  }
  char last[64] = "";
  while (getline(&line, &cap2, in) > 0) {
    if (line[0] == '#') continue;
    r.n_cols = xf_split(line, r.cols);
    if (r.n_cols != h.n_cols) continue;
    int keep = 1;
    for (int k = 0; k < XF_MAX_FILTER; k++)
      if (ifl[k] >= 0 && strcmp(r.cols[ifl[k]], src->fval[k]) != 0) keep = 0;
    if (!keep) continue;
    char lab[64];
    if (il >= 0) xf_label(lab, sizeof lab, src->label_prefix, r.cols[il]);
    else xf_label(lab, sizeof lab, "", src->label);
    if (strcmp(lab, last) != 0) { /* a new curve (rows of one curve are contiguous) */
      if (*n_curves >= XF_MAX_CURVES) break;
      (*n_curves)++;
      snprintf(last, sizeof last, "%s", lab);
      size_t used = strlen(labels);
      snprintf(labels + used, ln - used, "%s%s", used > 0 ? " " : "", lab);
    }
    fprintf(f, "%s,%s,%s\n", lab, r.cols[ix], r.cols[iy]);
  }
done:
  free(hline);
  free(line);
  fclose(in);
  return st;
}

static const xf_spec_t *xf_find(const char *exp) {
  for (size_t i = 0; i < sizeof xf_specs / sizeof xf_specs[0]; i++)
    if (strcmp(xf_specs[i].experiment, exp) == 0) return &xf_specs[i];
  return NULL;
}

valley_check_verdict_t valley_check_from_experiment(valley_exp_verdict_t v) {
  switch (v) {
  case VALLEY_EXP_REPRODUCED: return VALLEY_CHECK_PASS;
  case VALLEY_EXP_NOT_REPRODUCED: return VALLEY_CHECK_NOT_REPRODUCED;
  default: return VALLEY_CHECK_INCONCLUSIVE;
  }
}

static void xf_progress(void *ctx, const char *line) {
  valley_check_progress((valley_check_run_t *)ctx, "  %s", line);
}

/* The check's cancel (a signal, through the CLI) reaches the experiment's training loop. */
static int xf_cancel(void *ctx) {
  const valley_check_config_t *cc = valley_check_cfg((const valley_check_run_t *)ctx);
  return cc->cancel != NULL && cc->cancel(cc->progress_ctx);
}

/* The check of experiment `name`. */
static valley_status_t run_experiment(valley_check_run_t *r, const char *name,
                                      valley_error_t *err) {
  const valley_check_config_t *cc = valley_check_cfg(r);
  valley_json_t *j = valley_check_json(r);
  const valley_exp_t *e = valley_exp_find(name);
  const xf_spec_t *spec = xf_find(name);
  if (e == NULL || spec == NULL)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "no experiment '%s'", name);
  if (cc->scale == VALLEY_CHECK_QUICK) {
    valley_json_string(j, "experiment", name);
    valley_check_verdict(r, VALLEY_CHECK_SKIPPED,
                         "not run at the quick scale, which must stay under 30 s: the default "
                         "scale runs the experiment's quick mode, --full its full mode, and "
                         "ctest runs it as experiment_%s",
                         name);
    return VALLEY_OK;
  }
  const char *data = cc->data_dir != NULL ? cc->data_dir : VALLEY_FASHION_MNIST_DIR;
  struct stat sb;
  if (stat(data, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
    valley_json_string(j, "data", data);
    valley_check_verdict(r, VALLEY_CHECK_SKIPPED,
                         "Fashion-MNIST is not installed (%s; scripts/setup.sh installs "
                         "Debian's dataset-fashion-mnist)",
                         data);
    return VALLEY_OK;
  }
  const char *tmpdir = getenv("TMPDIR");
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/valley-check-%s-XXXXXX",
           tmpdir != NULL && *tmpdir ? tmpdir : "/tmp", name);
  if (mkdtemp(dir) == NULL)
    return VALLEY_ERROR(err, VALLEY_EIO, "%s: a temporary directory: %s", name, strerror(errno));
  valley_exp_config_t ec;
  valley_exp_config_default(&ec);
  ec.full = cc->scale == VALLEY_CHECK_FULL;
  ec.data_dir = data;
  ec.out_dir = dir;
  ec.seed = cc->seed;
  ec.progress = xf_progress;
  ec.progress_ctx = r;
  ec.cancel = xf_cancel;
  valley_exp_result_t res;
  valley_status_t st = valley_exp_execute(e, &ec, &res, err);
  if (st == VALLEY_OK) {
    valley_json_string(j, "experiment", name);
    valley_json_string(j, "mode", ec.full ? "full" : "quick");
    valley_json_string(j, "experiment_verdict", valley_exp_verdict_name(res.verdict));
    valley_json_string(j, "experiment_summary", res.summary);
    valley_json_number(j, "experiment_seconds", res.seconds);
    valley_json_string(j, "full_mode_results", "docs/experiments.md");
    FILE *f = NULL;
    char fig[64], labels[1024] = "";
    snprintf(fig, sizeof fig, "exp-%s", name);
    st = valley_check_figure(r, fig, spec->caption, &f, err);
    size_t n_curves = 0;
    if (st == VALLEY_OK) {
      fprintf(f, "# %s\ncurve,x,y\n", spec->caption);
      for (int k = 0; k < XF_MAX_SRC && st == VALLEY_OK && spec->src[k].file != NULL; k++)
        st = xf_add(f, dir, name, &spec->src[k], labels, sizeof labels, &n_curves, err);
    }
    if (st == VALLEY_OK) {
      valley_check_figure_plot(r, "set xlabel '%s'\nset ylabel '%s'\nset grid\nset key outside right", spec->xlabel, spec->ylabel);
      valley_check_figure_plot(r, "LABELS = \"%s\"", labels);
      valley_check_figure_plot(r, "plot for [c in LABELS] DATA using 2:(strcol(1) eq c ? $3 : "
                                  "1/0) with linespoints pt 7 ps 0.5 lw 2 title c");
    }
    valley_check_verdict(r, valley_check_from_experiment(res.verdict),
                         "%s mode: %s (full mode: docs/experiments.md)",
                         ec.full ? "full" : "quick", res.summary);
  }
  valley_check_rm_tree(dir);
  return st;
}

#define XF_CHECK(fn, name)                                                                       \
  valley_status_t fn(valley_check_run_t *r, valley_error_t *err) {                             \
    return run_experiment(r, name, err);                                                       \
  }
XF_CHECK(valley_check_exp_asym_common, "asym-common")
XF_CHECK(valley_check_exp_shift_gap, "shift-gap")
XF_CHECK(valley_check_exp_assumption2, "assumption2")
XF_CHECK(valley_check_exp_swa_vs_sgd, "swa-vs-sgd")
XF_CHECK(valley_check_exp_thm2_real, "thm2-real")
XF_CHECK(valley_check_exp_illusions, "illusions")
XF_CHECK(valley_check_exp_batch_norm, "batch-norm")
XF_CHECK(valley_check_exp_sign_noise, "sign-noise")
XF_CHECK(valley_check_exp_shift_curvature, "shift-curvature")
