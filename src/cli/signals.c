/* Stop requests from signals: SIGTERM (scancel, the end of a time limit) and SIGUSR1
 * (the warning a job asks Slurm for with --signal). The handler only sets a flag; the
 * fit checks it at every step, together with the other ranks, writes a checkpoint and
 * returns SM_EINTERRUPTED. The flag is the program's one global: a signal handler can
 * reach nothing else. */
#include <signal.h>
#include <string.h>

#include "cli/cli.h"

static volatile sig_atomic_t stop_requested = 0;

static void request_stop(int signo) {
  (void)signo;
  stop_requested = 1;
}

static void set_handler(void (*handler)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);
}

const volatile sig_atomic_t *sm_cli_catch_stop_signals(void) {
  stop_requested = 0;
  set_handler(request_stop);
  return &stop_requested;
}

void sm_cli_release_stop_signals(void) {
  set_handler(SIG_DFL);
}
