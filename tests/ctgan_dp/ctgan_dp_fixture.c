/* Private CTGAN sessions on real Adult rows for the DP tests. */
#include "ctgan_dp_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adult.h"
#include "models/trainer.h"

int ctgan_dp_load(sm_ctx *ctx, int n_extra, const char *const *extra, sm_experiment *e) {
  const char *src = getenv("SYNTHMPI_SOURCE_DIR"), *data = getenv("SYNTHMPI_DATA");
  char path[4096], train[4200], test[4200];
  snprintf(path, sizeof path, "%s/configs/adult-ctgan-dp.yaml", src ? src : ".");
  snprintf(train, sizeof train, "data.path=%s/tabular/adult/adult.data", data ? data : "");
  snprintf(test, sizeof test, "holdout.path=%s/tabular/adult/adult.test", data ? data : "");
  char *sets[32] = {train, test};
  int n = 2;
  for (int i = 0; i < n_extra && n < 32; i++)
    sets[n++] = (char *)extra[i];
  int rc = sm_experiment_load(ctx, path, n, sets, e);
  if (rc != SM_OK)
    fprintf(stderr, "experiment: %s\n", ctx->msg);
  return rc;
}

int ctgan_dp_begin(sm_ctx *ctx, const sm_experiment *e, const sm_table *train, sm_ledger *l,
                   ctgan_session *s) {
  sm_fit_options opt = {.privacy = &e->privacy, .ledger = l};
  memset(l, 0, sizeof *l);
  int rc = sm_ctgan_begin(ctx, &e->model, &opt, train, s);
  if (rc != SM_OK)
    fprintf(stderr, "begin: %s\n", ctx->msg);
  return rc;
}
