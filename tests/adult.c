/* Test helper: Adult through the experiment file and sm_read_source. */
#include "adult.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synthmpi/data.h"

#define MAX_OVERRIDES 8

int test_adult_experiment(sm_ctx *ctx, int n_overrides, const char *const *overrides,
                          sm_experiment *e) {
  const char *dir = getenv("SYNTHMPI_SOURCE_DIR");
  const char *data = getenv("SYNTHMPI_DATA");
  if (n_overrides > MAX_OVERRIDES - 2)
    return sm_fail(ctx, SM_ERR, "too many overrides (%d)", n_overrides);

  /* the real files first, then the caller's overrides */
  char path[4096], data_set[4200], test_set[4200];
  char *sets[MAX_OVERRIDES] = {data_set, test_set};
  snprintf(path, sizeof path, "%s/configs/adult-copula.yaml", dir ? dir : ".");
  snprintf(data_set, sizeof data_set, "data.path=%s/tabular/adult/adult.data",
           data ? data : "../shared/data");
  snprintf(test_set, sizeof test_set, "holdout.path=%s/tabular/adult/adult.test",
           data ? data : "../shared/data");
  for (int i = 0; i < n_overrides; i++)
    sets[2 + i] = (char *)overrides[i];
  return sm_experiment_load(ctx, path, 2 + n_overrides, sets, e);
}

int test_adult_read(sm_ctx *ctx, const sm_experiment *e, sm_table *train, sm_table *holdout) {
  SM_TRY(sm_read_source(ctx, &e->data, NULL, train));
  if (!holdout)
    return SM_OK;
  int rc = sm_read_source(ctx, &e->holdout.source, &train->schema, holdout);
  if (rc != SM_OK)
    sm_table_free(train);
  return rc;
}

int test_adult_read_all(sm_ctx *ctx, const sm_experiment *e, sm_table *full) {
  sm_ctx self;
  SM_TRY(sm_ctx_init(&self, MPI_COMM_SELF));
  self.log_level = SM_LOG_WARN;
  int rc = sm_read_source(&self, &e->data, NULL, full);
  if (rc != SM_OK)
    sm_fail(ctx, rc, "%s", self.msg);
  sm_ctx_free(&self);
  return rc;
}

int test_table_block(sm_ctx *ctx, const sm_table *full, sm_table *part) {
  int64_t lo, hi;
  sm_partition(full->n_rows, ctx->size, ctx->rank, &lo, &hi);
  SM_TRY(sm_table_alloc(ctx, part, &full->schema, hi - lo));
  for (int j = 0; j < full->schema.n_cols; j++)
    memcpy(part->values[j], full->values[j] + lo, (size_t)(hi - lo) * sizeof(double));
  part->row_offset = lo;
  part->n_rows_total = full->n_rows;
  return SM_OK;
}
