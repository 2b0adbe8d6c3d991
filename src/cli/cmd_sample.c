/* synthmpi sample: write the release from a saved model (no real data read). */
#include <stdlib.h>

#include "cli/cli.h"
#include "genome/genome_internal.h"
#include "models/models.h"
#include "synthmpi/release.h"

int sm_cmd_sample(sm_ctx *ctx, const sm_cli_args *args) {
  sm_experiment e;
  sm_model m = {0};
  SM_TRY(sm_cli_load(ctx, args, &e));
  if (sm_genome_experiment(&e)) {
    int grc = sm_genome_sample(ctx, &e, args->model);
    sm_experiment_free(&e);
    return grc;
  }

  /* the model file: --model, else the one fit wrote */
  char *path = args->model ? sm_strdup(args->model) : sm_cli_model_path(&e);
  int rc = sm_model_load(ctx, path, &m);
  if (rc == SM_OK && e.sampling.rows == 0)
    rc = sm_fail(ctx, SM_EINPUT, "sampling.rows must be set when sampling from a saved model");

  /* sampling-time settings of the experiment's model section (TabDDPM's sample_steps) */
  if (rc == SM_OK)
    sm_model_sampling_settings(&m, &e.model);
  if (rc == SM_OK)
    rc = sm_cli_sample(ctx, &e, &m, 0);

  free(path);
  sm_model_free(&m);
  sm_experiment_free(&e);
  return rc;
}
