/* synthmpi check: validate the experiment without running it; print it resolved. */
#include <stdio.h>
#include <unistd.h>

#include "cli/cli.h"
#include "genome/genome_internal.h"

int sm_cmd_check(sm_ctx *ctx, const sm_cli_args *args) {
  sm_experiment e;
  SM_TRY(sm_cli_load(ctx, args, &e));

  /* the input files must be readable (checked on rank 0, agreed by all) */
  int rc = SM_OK;
  if (ctx->rank == 0 && access(e.data.path, R_OK) != 0)
    rc = sm_fail(ctx, SM_EINPUT, "%s: data file not readable", e.data.path);
  if (ctx->rank == 0 && rc == SM_OK && e.holdout.kind == SM_HOLDOUT_FILE &&
      access(e.holdout.source.path, R_OK) != 0)
    rc = sm_fail(ctx, SM_EINPUT, "%s: holdout file not readable", e.holdout.source.path);
  rc = sm_agree(ctx, rc);
  if (rc == SM_OK && sm_genome_experiment(&e))
    rc = sm_genome_check(ctx, &e);

  if (rc == SM_OK && ctx->rank == 0) {
    fputs(e.resolved, stdout);
    fflush(stdout);
    sm_log(ctx, SM_LOG_INFO, "%s: experiment is valid", args->target);
  }
  sm_experiment_free(&e);
  return rc;
}
