/* synthmpi fit: read the data, fit the model, save it to <output_dir>/model.h5. */
#include <stdlib.h>

#include "cli/cli.h"
#include "genome/genome_internal.h"
#include "synthmpi/release.h"

int sm_cmd_fit(sm_ctx *ctx, const sm_cli_args *args) {
  sm_experiment e;
  sm_dataset d = {0};
  sm_model m = {0};
  SM_TRY(sm_cli_load(ctx, args, &e));
  if (sm_genome_experiment(&e)) {
    int grc = sm_genome_fit(ctx, &e);
    sm_experiment_free(&e);
    return grc;
  }

  int rc = sm_cli_read_data(ctx, &e, &d);
  if (rc == SM_OK)
    rc = sm_cli_fit(ctx, &e, args, &d.train, &m);
  if (rc == SM_OK) {
    char *path = sm_cli_model_path(&e);
    rc = sm_model_save(ctx, &m, &e, path);
    if (rc == SM_OK)
      sm_log(ctx, SM_LOG_INFO, "model written: %s", path);
    free(path);
  }

  sm_model_free(&m);
  sm_cli_dataset_free(&d);
  sm_experiment_free(&e);
  return rc;
}
