/* A progress bar on stderr for long runs: only on a terminal, only after 2 s.  Its callback
 * also cancels the run once a signal has asked valley to stop. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress_init(cli_progress_t *p, const char *label) {
  p->t0 = now();
  p->shown = 0;
  p->enabled = isatty(STDERR_FILENO);
  p->label = label;
}

int cli_progress_cb(double fraction, void *arg) {
  cli_progress_t *p = arg;
  if (cli_interrupted()) return 1; /* a signal: the run stops (cli/signals.c) */
  if (!p->enabled) return 0;
  double el = now() - p->t0;
  if (el < 2.0 && !p->shown) return 0;
  p->shown = 1;
  int width = 40, fill = (int)(fraction * width + 0.5);
  double eta = fraction > 0 ? el * (1 - fraction) / fraction : 0;
  fprintf(stderr, "\r%s [", p->label);
  for (int i = 0; i < width; i++) fputc(i < fill ? '#' : '.', stderr);
  fprintf(stderr, "] %3.0f%%  %.0f s left ", 100 * fraction, eta);
  fflush(stderr);
  return 0;
}

void cli_progress_done(cli_progress_t *p) {
  if (p->shown) fputs("\r\033[K", stderr);
}

int cli_block_progress_cb(double fraction, void *arg) {
  const cli_block_progress_t *b = arg;
  return b->cb != NULL ? b->cb(b->base + b->span * fraction, b->arg) : 0;
}
