/* Tables for evaluation tests: a fixed schema and row blocks over the ranks (tests only). */
#ifndef SYNTHMPI_TEST_EVAL_FIXTURE_H
#define SYNTHMPI_TEST_EVAL_FIXTURE_H

#include <string.h>

#include "synthmpi/core.h"
#include "synthmpi/table.h"

/* Fill a schema from parallel arrays (names and categories are copied by the table). */
static void fixture_schema(sm_schema *s, sm_column *cols, int n, const char **names,
                           const sm_coltype *types, const int *n_cats, char ***cats) {
  memset(cols, 0, (size_t)n * sizeof(sm_column));
  for (int j = 0; j < n; j++) {
    cols[j].name = (char *)names[j];
    cols[j].type = types[j];
    cols[j].n_categories = n_cats[j];
    cols[j].categories = cats[j];
  }
  s->n_cols = n;
  s->cols = cols;
}

/* This rank's block of a global table given column-wise (global[j][i]). */
static int fixture_block(sm_ctx *ctx, sm_table *t, const sm_schema *s, double **global,
                         int64_t n_total) {
  int64_t lo, hi;
  sm_partition(n_total, ctx->size, ctx->rank, &lo, &hi);
  if (sm_table_alloc(ctx, t, s, hi - lo) != SM_OK)
    return SM_ERR;
  t->row_offset = lo;
  t->n_rows_total = n_total;
  for (int j = 0; j < s->n_cols; j++)
    memcpy(t->values[j], global[j] + lo, (size_t)(hi - lo) * sizeof(double));
  return SM_OK;
}

#endif
