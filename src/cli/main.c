/* synthmpi: parse the command line, run one subcommand, exit with its status.
 *
 * Every rank runs the same path and returns the same status, so the exit code is the
 * same on every rank: 0 done, 1 failure, 2 bad input or configuration, 3 refused by a
 * privacy budget. */
#include <string.h>

#include "cli/cli.h"

typedef int (*sm_command_fn)(sm_ctx *ctx, const sm_cli_args *args);

static const struct {
  const char *name;
  sm_command_fn fn;
} commands[] = {
    {"run", sm_cmd_run},         {"fit", sm_cmd_fit},         {"sample", sm_cmd_sample},
    {"eval", sm_cmd_eval},       {"check", sm_cmd_check},     {"inspect", sm_cmd_inspect},
    {"export", sm_cmd_export},   {"privacy", sm_cmd_privacy}, {"sweep", sm_cmd_sweep},
    {"summary", sm_cmd_summary},
};

static int dispatch(sm_ctx *ctx, const sm_cli_args *args) {
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (strcmp(commands[i].name, args->command) == 0)
      return commands[i].fn(ctx, args);
  return sm_fail(ctx, SM_EINPUT, "unknown command '%s' (try synthmpi --help)", args->command);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  if (sm_ctx_init(&ctx, MPI_COMM_WORLD) != SM_OK) {
    fprintf(stderr, "synthmpi: error: cannot set up the MPI communicator\n");
    MPI_Abort(MPI_COMM_WORLD, SM_ERR);
  }

  /* parse, then run; -1 from the parser means help or version was printed */
  sm_cli_init_signals();
  sm_cli_args args;
  int rc = sm_cli_parse(&ctx, argc, argv, &args);
  if (rc == SM_OK)
    rc = dispatch(&ctx, &args);
  if (rc < 0)
    rc = SM_OK;

  /* every rank learns the outcome; rank 0 prints the one error line */
  rc = sm_agree(&ctx, rc);
  if (rc != SM_OK)
    sm_report_error(&ctx);

  sm_ctx_free(&ctx);
  MPI_Finalize();
  return rc;
}
