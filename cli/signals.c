/* SIGINT, SIGTERM and SIGHUP for every command (docs/reliability.md).  The first signal
 * only records its number; long runs poll it through their progress/cancel callbacks, stop,
 * remove their temporary files and return; main prints "interrupted" and exits with 128 +
 * the signal.  The handler is installed with SA_RESETHAND and also puts the other two signals
 * back to their default action, so a second signal kills as it would without valley's
 * handler. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* The signal that asked valley to stop, 0 before any: the one piece of process-wide mutable
 * state in valley (a handler can reach nothing else; docs/reliability.md). */
static volatile sig_atomic_t caught_signal;

static const int handled[] = {SIGINT, SIGTERM, SIGHUP};

static void on_signal(int sig) {
  caught_signal = sig;
  for (size_t i = 0; i < sizeof handled / sizeof handled[0]; i++)
    signal(handled[i], SIG_DFL); /* async-signal-safe; a second signal kills */
}

void cli_signals_install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  for (size_t i = 0; i < sizeof handled / sizeof handled[0]; i++) {
    struct sigaction old;
    /* SIGHUP ignored by whoever started valley (nohup) stays ignored.  SIGINT is caught even
     * when ignored: a shell without job control starts background jobs with SIGINT ignored,
     * and `kill -INT` is how scripts stop them (tests/test_sweep.sh). */
    if (handled[i] == SIGHUP && sigaction(SIGHUP, NULL, &old) == 0 && old.sa_handler == SIG_IGN)
      continue;
    sigaction(handled[i], &sa, NULL);
  }
}

int cli_interrupted(void) { return caught_signal; }

volatile sig_atomic_t *cli_stop_flag(void) { return &caught_signal; }

int cli_cancel_cb(double fraction, void *arg) {
  (void)fraction;
  (void)arg;
  return caught_signal != 0;
}

int cli_cancel_ctx(void *ctx) {
  (void)ctx;
  return caught_signal != 0;
}

void cli_print_error(const char *cmd, const valley_error_t *err) {
  if (err->code == VALLEY_ECANCEL && caught_signal != 0) return;
  fprintf(stderr, "valley %s: %s\n", cmd, err->message);
}

const char *cli_signal_name(int sig) {
  switch (sig) {
  case SIGINT: return "SIGINT";
  case SIGTERM: return "SIGTERM";
  case SIGHUP: return "SIGHUP";
  default: return "a signal";
  }
}

int cli_cancel_status(void) {
  int sig = caught_signal;
  return sig != 0 ? 128 + sig : 130;
}
