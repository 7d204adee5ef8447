/* --checkpoint for the long Monte Carlo runs: the run's units (chains, blocks of samples,
 * particles) in groups, each group's record saved (valley/runck.h) as it ends, the saved ones
 * read back on a resumed run (docs/reliability.md, "Checkpoint and resume"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "valley/runck.h"

valley_status_t cli_ck_run(const cli_ck_t *c, valley_error_t *err) {
  /* groups never straddle a segment: segment k is units [k L, (k + 1) L), L = units / segments */
  size_t nseg = c->segments > 0 ? c->segments : 1, seglen = c->units / nseg;
  size_t gmax = c->max_groups / nseg > 0 ? c->max_groups / nseg : 1;
  size_t per = (seglen + gmax - 1) / gmax;
  if (per < c->min_group) per = c->min_group;
  size_t gps = (seglen + per - 1) / per, ng = nseg * gps;
  valley_runck_t *ck = NULL;
  valley_status_t st = valley_runck_open(c->path, c->fingerprint, ng, &ck, err);
  if (st != VALLEY_OK) return st;
  size_t resumed = valley_runck_done(ck);
  if (resumed > 0)
    fprintf(stderr, "valley %s: resuming from %s: %zu of %zu blocks of %s already done\n",
            c->cmd, c->path, resumed, ng, c->what);
  for (size_t b = 0; b < ng && st == VALLEY_OK; b++) {
    size_t k = b % gps, first = b / gps * seglen + k * per;
    size_t count = seglen - k * per < per ? seglen - k * per : per;
    size_t want = c->record_size(c->arg, count), len;
    const void *rec = valley_runck_get(ck, b, &len);
    if (rec == NULL) {
      void *buf = malloc(want > 0 ? want : 1);
      if (buf == NULL) {
        st = VALLEY_ERROR(err, VALLEY_ENOMEM, "out of memory (%zu bytes)", want);
        break;
      }
      cli_block_progress_t bp = {c->progress, c->progress_arg,
                                 (double)first / (double)c->units,
                                 (double)count / (double)c->units};
      st = c->run(c->arg, first, count, buf, cli_block_progress_cb, &bp, err);
      if (st == VALLEY_OK) st = valley_runck_put(ck, b, buf, want, err);
      free(buf);
      rec = st == VALLEY_OK ? valley_runck_get(ck, b, &len) : NULL;
    } else if (len != want) {
      st = VALLEY_ERROR(err, VALLEY_EINVAL, "%s: block %zu holds %zu bytes, expected %zu",
                        c->path, b, len, want);
      rec = NULL;
    }
    if (rec != NULL) c->merge(c->arg, first, count, rec);
  }
  if (st == VALLEY_ECANCEL) {
    /* this line says what is kept; main prints no other (cli_print_error skips the cancel) */
    VALLEY_ERROR(err, VALLEY_ECANCEL, "interrupted: %zu of %zu blocks of %s are saved in %s; run "
                 "the same command again to resume", valley_runck_done(ck), ng, c->what, c->path);
    if (cli_interrupted() != 0)
      fprintf(stderr, "valley %s: interrupted by %s: %zu of %zu blocks of %s are saved in %s; run "
                      "the same command again to resume\n", c->cmd,
              cli_signal_name(cli_interrupted()), valley_runck_done(ck), ng, c->what, c->path);
  }
  valley_runck_close(ck, 0);
  return st;
}

unsigned char *cli_ck_put(unsigned char *q, const void *src, size_t n) {
  memcpy(q, src, n);
  return q + n;
}

const unsigned char *cli_ck_add_counts(uint64_t *dst, const unsigned char *q, size_t n) {
  for (size_t i = 0; i < n; i++, q += sizeof(uint64_t)) {
    uint64_t v;
    memcpy(&v, q, sizeof v);
    dst[i] += v;
  }
  return q;
}
