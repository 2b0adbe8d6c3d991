/* synthmpi run: read, fit, save the model, write the release, evaluate. */
#include <stdlib.h>

#include <unistd.h>

#include "cli/cli.h"
#include "genome/genome_internal.h"
#include "synthmpi/release.h"
#include "synthmpi/seq.h"

/* Collective: an existing release without sampling.overwrite is refused before any work, so
 * a run that would fail at the end writes no model either. */
static int check_release_free(sm_ctx *ctx, const sm_experiment *e) {
  char *path = sm_cli_release_path(e);
  int exists = 0;
  if (!path)
    return sm_fail(ctx, SM_ERR, "out of memory");
  if (ctx->rank == 0)
    exists = access(path, F_OK) == 0;
  int mrc = MPI_Bcast(&exists, 1, MPI_INT, 0, ctx->comm);
  int rc =
      mrc != MPI_SUCCESS ? sm_fail_mpi(ctx, mrc, "MPI_Bcast(exists)", __FILE__, __LINE__)
      : exists && !e->sampling.overwrite
          ? sm_fail(ctx, SM_EINPUT, "%s exists (set sampling.overwrite: true to replace it)", path)
          : SM_OK;
  free(path);
  return rc;
}

int sm_cmd_run(sm_ctx *ctx, const sm_cli_args *args) {
  sm_experiment e;
  sm_dataset d = {0};
  sm_model m = {0};
  char *model_path = NULL, *release_path = NULL;
  SM_TRY(sm_cli_load(ctx, args, &e));
  if (sm_genome_experiment(&e)) {
    int grc = sm_genome_run(ctx, &e);
    sm_experiment_free(&e);
    return grc;
  }

  /* sequence data have their own pipeline */
  if (sm_seq_experiment(&e)) {
    int seq_rc = sm_seq_run(ctx, &e);
    sm_experiment_free(&e);
    return seq_rc;
  }

  /* read and fit */
  int rc = check_release_free(ctx, &e);
  if (rc == SM_OK)
    rc = sm_cli_read_data(ctx, &e, &d);
  if (rc == SM_OK)
    rc = sm_cli_fit(ctx, &e, args, &d.train, &m);

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
