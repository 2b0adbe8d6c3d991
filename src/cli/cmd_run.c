/* synthmpi run: read, fit, save the model, write the release, evaluate. */
#include <stdlib.h>

#include "cli/cli.h"
#include "synthmpi/release.h"

int sm_cmd_run(sm_ctx *ctx, const sm_cli_args *args) {
  sm_experiment e;
  sm_dataset d = {0};
  sm_model m = {0};
  char *model_path = NULL, *release_path = NULL;
  SM_TRY(sm_cli_load(ctx, args, &e));

  /* read and fit */
  int rc = sm_cli_read_data(ctx, &e, &d);
  if (rc == SM_OK)
    rc = sm_cli_fit(ctx, &e, &d.train, &m);

  /* keep the fitted model beside the release, then sample */
  if (rc == SM_OK) {
    model_path = sm_cli_model_path(&e);
    rc = sm_model_save(ctx, &m, &e, model_path);
  }
  if (rc == SM_OK)
    rc = sm_cli_sample(ctx, &e, &m, d.train.n_rows_total);

  /* evaluate the release as written */
  if (rc == SM_OK && e.evaluation.enabled) {
    release_path = sm_cli_release_path(&e);
    rc = sm_cli_evaluate(ctx, &e, &d, release_path);
  }

  sm_model_free(&m);
  sm_cli_dataset_free(&d);
  free(model_path);
  free(release_path);
  sm_experiment_free(&e);
  return rc;
}
