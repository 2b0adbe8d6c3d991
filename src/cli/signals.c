/* Stop requests from signals: SIGTERM (scancel, the end of a time limit) and SIGUSR1
 * (the warning a job asks Slurm for with --signal). The handler only sets a flag; the
 * fit checks it at every step, together with the other ranks, writes a checkpoint and
 * returns SM_EINTERRUPTED. While a release is written, SIGTERM and SIGINT (Ctrl-C) stop
 * it at the next chunk and its unfinished file is removed; SIGUSR1 is ignored there.
 * The flag is the program's one global: a signal handler can reach nothing else. */
#include <signal.h>
#include <string.h>

#include "cli/cli.h"

static volatile sig_atomic_t stop_requested = 0;

static void request_stop(int signo) {
  (void)signo;
  stop_requested = 1;
}

static void set_handler(int signo, void (*handler)(int)) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sigaction(signo, &sa, NULL);
}

void sm_cli_init_signals(void) {
  /* a pre-emption warning outside a fit has nothing to save: it must not kill the job */
  set_handler(SIGUSR1, request_stop);

  /* past a file size limit (ulimit -f) a write fails with EFBIG and is reported, and the
   * unfinished file removed, instead of SIGXFSZ killing the process on the spot */
  set_handler(SIGXFSZ, SIG_IGN);
}

const volatile sig_atomic_t *sm_cli_catch_stop_signals(void) {
  stop_requested = 0;
  set_handler(SIGTERM, request_stop);
  set_handler(SIGUSR1, request_stop);
  return &stop_requested;
}

/* A handler that does nothing: the signal is taken and forgotten. */
static void ignore_signal(int signo) {
  (void)signo;
}

const volatile sig_atomic_t *sm_cli_catch_interrupt_signals(void) {
  stop_requested = 0;
  set_handler(SIGTERM, request_stop);
  set_handler(SIGINT, request_stop);
  set_handler(SIGUSR1, ignore_signal);
  return &stop_requested;
}

void sm_cli_release_interrupt_signals(void) {
  set_handler(SIGTERM, SIG_DFL);
  set_handler(SIGINT, SIG_DFL);
  set_handler(SIGUSR1, request_stop);
}

void sm_cli_release_stop_signals(void) {
  /* SIGTERM kills again; SIGUSR1 stays caught and is ignored */
  set_handler(SIGTERM, SIG_DFL);
}
