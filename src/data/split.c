/* Holdout split by a seeded draw per global row index. */
#include "synthmpi/data.h"
#include "synthmpi/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Row i goes to the holdout when the uniform draw of (seed, HOLDOUT, i) is below fraction. */
static int row_held_out(uint64_t seed, int64_t global_row, double fraction) {
  sm_rng r;
  sm_rng_init(&r, seed, SM_STREAM_HOLDOUT, (uint64_t)global_row);
  return sm_rng_uniform(&r) < fraction;
}

/* Collective: row offset, total and missing counts of a table filled on every rank. */
static int table_settle(sm_ctx *ctx, sm_table *t) {
  int64_t n = t->n_rows, before = 0;
  SM_MPI_CHECK(ctx, MPI_Exscan(&n, &before, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  SM_MPI_CHECK(ctx, MPI_Allreduce(&n, &t->n_rows_total, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  t->row_offset = ctx->rank == 0 ? 0 : before;

  /* missing counts describe the rows each table holds */
  for (int j = 0; j < t->schema.n_cols; j++) {
    int64_t missing = 0;
    for (int64_t i = 0; i < t->n_rows; i++)
      missing += isnan(t->values[j][i]);
    SM_MPI_CHECK(ctx, MPI_Allreduce(&missing, &t->schema.cols[j].n_missing, 1, MPI_INT64_T, MPI_SUM,
                                    ctx->comm));
  }
  return SM_OK;
}

/* Local: count the held-out rows, allocate both tables and copy the rows over. */
static int split_local(sm_ctx *ctx, const sm_table *all, double fraction, uint64_t seed,
                       sm_table *train, sm_table *holdout) {
  char *held = sm_malloc(ctx, (size_t)(all->n_rows ? all->n_rows : 1));
  if (!held)
    return SM_ERR;
  int64_t n_held = 0;
  for (int64_t i = 0; i < all->n_rows; i++)
    n_held += held[i] = (char)row_held_out(seed, all->row_offset + i, fraction);

  /* both tables keep the schema */
  int rc = sm_table_alloc(ctx, train, &all->schema, all->n_rows - n_held);
  if (rc == SM_OK)
    rc = sm_table_alloc(ctx, holdout, &all->schema, n_held);
  for (int j = 0; rc == SM_OK && j < all->schema.n_cols; j++) {
    int64_t a = 0, b = 0;
    for (int64_t i = 0; i < all->n_rows; i++) {
      if (held[i])
        holdout->values[j][b++] = all->values[j][i];
      else
        train->values[j][a++] = all->values[j][i];
    }
  }
  free(held);
  return rc;
}

int sm_split_fraction(sm_ctx *ctx, const sm_table *all, double fraction, uint64_t seed,
                      sm_table *train, sm_table *holdout) {
  memset(train, 0, sizeof(*train));
  memset(holdout, 0, sizeof(*holdout));
  int rc = SM_OK;
  if (!(fraction >= 0 && fraction <= 1))
    rc = sm_fail(ctx, SM_EINPUT, "holdout fraction %g is not in [0, 1]", fraction);

  /* rows split locally, then offsets and counts agreed */
  if (rc == SM_OK)
    rc = split_local(ctx, all, fraction, seed, train, holdout);
  rc = sm_agree(ctx, rc);
  if (rc == SM_OK)
    rc = sm_agree(ctx, table_settle(ctx, train));
  if (rc == SM_OK)
    rc = sm_agree(ctx, table_settle(ctx, holdout));
  if (rc != SM_OK) {
    sm_table_free(train);
    sm_table_free(holdout);
  }
  return rc;
}
