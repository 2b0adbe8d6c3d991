/* Private: the command-line front end. One file per subcommand. */
#ifndef SYNTHMPI_CLI_CLI_H
#define SYNTHMPI_CLI_CLI_H

#include <signal.h>

#include "synthmpi/config.h"
#include "synthmpi/core.h"
#include "synthmpi/model.h"
#include "synthmpi/table.h"

#define SM_CLI_MAX_SETS 64

/* Parsed command line, the same on every rank. */
typedef struct sm_cli_args {
  const char *command; /* run, fit, sample, eval, check, inspect, export, privacy, ... */
  const char *target;  /* the experiment file, or the file to inspect/export */
  int n_sets;          /* --set key=value overrides */
  char *sets[SM_CLI_MAX_SETS];
  const char *model;   /* --model FILE (sample) */
  const char *release; /* --release FILE (eval) */
  const char *format;  /* --format (export) */
  const char *output;  /* --output FILE (export) */
  int verbosity;       /* -q: -1, -v: +1 */
  int resume;          /* --resume: continue a fit from its checkpoint */
  int argc;            /* the raw command line, for commands that parse their own options */
  char **argv;
} sm_cli_args;

/* Real data read for a run: training rows and (possibly empty) held-out rows. */
typedef struct sm_dataset {
  sm_table train;
  sm_table holdout;
} sm_dataset;

/* Parse argv; returns SM_OK, SM_EINPUT (usage error, message in ctx), or -1 after
 * printing help or the version (exit 0). */
int sm_cli_parse(sm_ctx *ctx, int argc, char **argv, sm_cli_args *args);
void sm_cli_usage(const sm_ctx *ctx, FILE *out);
/* Split argv[*i], "--opt value" or "--opt=value", into name (size bytes) and *value,
 * advancing *i past a separate value; `who` prefixes the error messages. */
int sm_cli_option_value(sm_ctx *ctx, const char *who, int argc, char **argv, int *i, char *name,
                        size_t size, const char **value);

/* Shared steps of the pipeline (pipeline.c). All collective. */
int sm_cli_load(sm_ctx *ctx, const sm_cli_args *args, sm_experiment *e);
int sm_cli_read_data(sm_ctx *ctx, const sm_experiment *e, sm_dataset *d);
void sm_cli_dataset_free(sm_dataset *d);
int sm_cli_fit(sm_ctx *ctx, const sm_experiment *e, const sm_cli_args *args, const sm_table *train,
               sm_model *m);
int sm_cli_sample(sm_ctx *ctx, sm_experiment *e, const sm_model *m, int64_t train_rows);
int sm_cli_evaluate(sm_ctx *ctx, const sm_experiment *e, const sm_dataset *d, const char *release);
/* Output paths under runtime.output_dir (malloc'd). */
char *sm_cli_release_path(const sm_experiment *e);
char *sm_cli_model_path(const sm_experiment *e);
char *sm_cli_eval_path(const sm_experiment *e);

/* SIGTERM and SIGUSR1 (Slurm's pre-emption warning) ask a fit to checkpoint and stop;
 * returns the flag they set (signals.c). */
const volatile sig_atomic_t *sm_cli_catch_stop_signals(void);
/* Back to the default actions once the fit is over. */
void sm_cli_release_stop_signals(void);
/* SIGTERM and SIGINT stop the writing of a release (its unfinished file is removed);
 * SIGUSR1 is ignored meanwhile. Returns the flag they set (signals.c). */
const volatile sig_atomic_t *sm_cli_catch_interrupt_signals(void);
/* SIGTERM and SIGINT kill again; SIGUSR1 back to its state at start. */
void sm_cli_release_interrupt_signals(void);
/* At start: SIGUSR1 caught (a warning outside a fit is ignored), SIGTERM left alone,
 * SIGXFSZ ignored (writes past a file size limit fail with EFBIG instead). */
void sm_cli_init_signals(void);
char *sm_cli_checkpoint_path(const sm_experiment *e);

/* The subcommands. */
int sm_cmd_run(sm_ctx *ctx, const sm_cli_args *args);
int sm_cmd_fit(sm_ctx *ctx, const sm_cli_args *args);
int sm_cmd_sample(sm_ctx *ctx, const sm_cli_args *args);
int sm_cmd_eval(sm_ctx *ctx, const sm_cli_args *args);
int sm_cmd_check(sm_ctx *ctx, const sm_cli_args *args);
int sm_cmd_inspect(sm_ctx *ctx, const sm_cli_args *args);
int sm_cmd_export(sm_ctx *ctx, const sm_cli_args *args);
int sm_cmd_privacy(sm_ctx *ctx, const sm_cli_args *args);
int sm_cmd_sweep(sm_ctx *ctx, const sm_cli_args *args);
int sm_cmd_summary(sm_ctx *ctx, const sm_cli_args *args);

#endif
