/* valley CMD --grid SPEC --out FILE.jsonl: the command-line side of plots/sweep.c shared by
 * theorem2 and basins -- options set from grid tokens, every point checked before the file is
 * touched, the settings' fingerprint, interruption (cli/signals.c), and progress lines (docs/sweeps.md). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mpi.h"

typedef struct {
  const char *cmd;
  const valley_sweep_grid_t *g;
  cli_opt_t *swept[VALLEY_SWEEP_MAXP];
  cli_sweep_configure_fn configure;
  valley_sweep_point_fn point;
  void *arg;
} sweep_ctx_t;

/* Sets the swept options to point `index`'s tokens and configures; -1 when it is good. */
static int apply(sweep_ctx_t *c, size_t index, const char *const *v) {
  char desc[200], who[256];
  valley_sweep_grid_describe(c->g, index, desc, sizeof desc);
  snprintf(who, sizeof who, "%s: grid point %zu (%s)", c->cmd, index, desc);
  for (size_t p = 0; p < c->g->nparams; p++)
    if (cli_opt_set(who, c->swept[p], v[p]) != 0) return CLI_EXIT_USAGE;
  return c->configure(c->arg, who);
}

static valley_status_t point(size_t index, const char *const *v, valley_json_t *j, void *arg,
                             valley_error_t *err) {
  sweep_ctx_t *c = arg;
  if (apply(c, index, v) >= 0)
    return VALLEY_ERROR(err, VALLEY_EINVAL, "grid point %zu: bad settings", index);
  return c->point(index, v, j, c->arg, err);
}

static void progress(size_t done, size_t total, size_t resumed, const char *desc, void *arg) {
  const sweep_ctx_t *c = arg;
  if (desc == NULL) {
    if (resumed > 0)
      fprintf(stderr, "valley %s: resuming: %zu of %zu grid points already done\n", c->cmd,
              resumed, total);
    return;
  }
  fprintf(stderr, "valley %s: grid point %zu/%zu done (%s)\n", c->cmd, done, total, desc);
}

int cli_sweep(const char *cmd, const char *flag, const char *spec, const char *out,
              const valley_sweep_param_t *allowed, size_t nallowed, cli_opt_t *opts, size_t nopts,
              const char *const *skip, size_t nskip, cli_sweep_configure_fn configure,
              valley_sweep_point_fn pointfn, void *arg, const struct cli_mpi *mpi) {
  if (out == NULL) return cli_usage_error(cmd, "%s needs --out FILE.jsonl", flag);
  valley_sweep_grid_t g;
  valley_error_t err;
  if (valley_sweep_grid_parse(&g, spec, allowed, nallowed, &err) != VALLEY_OK)
    return cli_usage_error(cmd, "%s: %s", flag, err.message);
  sweep_ctx_t c = {cmd, &g, {NULL}, configure, pointfn, arg};
  int rc = -1;
  for (size_t p = 0; p < g.nparams && rc < 0; p++) {
    char f[64];
    snprintf(f, sizeof f, "--%s", g.name[p]);
    for (size_t i = 0; i < nopts; i++)
      if (strcmp(opts[i].flag, f) == 0) c.swept[p] = &opts[i];
    if (c.swept[p] == NULL) /* the command's table of sweepable names is wrong */
      rc = cli_usage_error(cmd, "%s: %s is not an option of valley %s", flag, f, cmd);
    else if (c.swept[p]->given)
      rc = cli_usage_error(cmd, "%s is given and swept by %s; give one", f, flag);
  }
  /* The fingerprint: every option not skipped or swept, as parsed (before any configure). */
  const char **keys = malloc(nopts * sizeof *keys), **vals = malloc(nopts * sizeof *vals);
  char(*text)[1024] = malloc(nopts * sizeof *text);
  char *header = NULL;
  size_t nk = 0;
  if (rc < 0 && (keys == NULL || vals == NULL || text == NULL)) {
    fprintf(stderr, "valley %s: out of memory\n", cmd);
    rc = CLI_EXIT_FAIL;
  }
  for (size_t i = 0; rc < 0 && i < nopts; i++) {
    int omit = 0;
    for (size_t k = 0; k < nskip; k++) omit |= strcmp(opts[i].flag, skip[k]) == 0;
    for (size_t p = 0; p < g.nparams; p++) omit |= c.swept[p] == &opts[i];
    if (omit) continue;
    char v[1000];
    cli_opt_format(&opts[i], v, sizeof v);
    /* "(default)" keeps an option left out apart from one given the same value (--lo 0). */
    snprintf(text[nk], sizeof text[nk], "%s%s%s", v, *v && !opts[i].given ? " " : "",
             opts[i].given ? "" : "(default)");
    keys[nk] = opts[i].flag;
    vals[nk] = text[nk];
    nk++;
  }
  if (rc < 0 && (header = valley_sweep_header(cmd, &g, keys, vals, nk)) == NULL) {
    fprintf(stderr, "valley %s: out of memory\n", cmd);
    rc = CLI_EXIT_FAIL;
  }
  for (size_t p = 0; p < g.nparams && rc < 0; p++) c.swept[p]->given = 1;
  /* Every point checked before the file is touched. */
  for (size_t i = 0; i < g.npoints && rc < 0; i++) {
    const char *v[VALLEY_SWEEP_MAXP];
    valley_sweep_grid_point(&g, i, v);
    rc = apply(&c, i, v);
  }
  if (rc < 0) {
    /* main's handler (cli/signals.c) sets the flag; a second signal kills, and a torn record
     * is cut on resume */
    valley_sweep_t s = {&g, out, header, point, &c, cli_stop_flag(), progress};
    size_t resumed, done;
    valley_status_t st;
#ifdef VALLEY_HAVE_MPI
    if (cli_mpi_split(mpi)) /* points by rank; rank 0 writes (its messages alone are shown) */
      st = cli_mpi_sweep_run(mpi, &s, &resumed, &done, &err);
    else
#else
    (void)mpi;
#endif
      st = valley_sweep_run(&s, &resumed, &done, &err);
    if (st == VALLEY_OK) {
      fprintf(stderr, "valley %s: sweep complete: %zu grid points in %s (%zu computed now)\n", cmd,
              g.npoints, out, done - resumed);
      rc = CLI_EXIT_OK;
    } else if (st == VALLEY_ECANCEL) {
      fprintf(stderr, "valley %s: interrupted by %s: %zu of %zu grid points are in %s; run the same "
                      "command again to resume\n", cmd, cli_signal_name(cli_interrupted()), done, g.npoints, out);
      rc = 128 + cli_interrupted();
    } else {
      fprintf(stderr, "valley %s: %s\n", cmd, err.message);
      rc = st == VALLEY_EINVAL ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
    }
  }
  free(header);
  free(keys);
  free(vals);
  free(text);
  valley_sweep_grid_free(&g);
  return rc;
}
