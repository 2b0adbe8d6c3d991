/* synthmpi eval: evaluate a release against the experiment's real data. */
#include <stdlib.h>

#include "cli/cli.h"
#include "genome/genome_internal.h"

int sm_cmd_eval(sm_ctx *ctx, const sm_cli_args *args) {
  sm_experiment e;
  sm_dataset d = {0};
  SM_TRY(sm_cli_load(ctx, args, &e));
  if (sm_genome_experiment(&e)) {
    int grc = sm_genome_eval(ctx, &e, args->release);
    sm_experiment_free(&e);
    return grc;
  }

  char *release = args->release ? sm_strdup(args->release) : sm_cli_release_path(&e);
  int rc = sm_cli_read_data(ctx, &e, &d);
  if (rc == SM_OK)
    rc = sm_cli_evaluate(ctx, &e, &d, release);

  free(release);
  sm_cli_dataset_free(&d);
  sm_experiment_free(&e);
  return rc;
}
