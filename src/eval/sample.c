/* The evaluation sample: at most max_rows rows of a distributed table, chosen by a seeded
 * hash of the global row index and gathered in global row order. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"
#include "synthmpi/rng.h"

/* The row's sort key: 64 bits of the stream (seed, SM_STREAM_EVAL, row). */
static uint64_t row_key(uint64_t seed, int64_t row) {
  sm_rng r;
  sm_rng_init(&r, seed, SM_STREAM_EVAL, (uint64_t)row);
  uint64_t hi = sm_rng_u32(&r);
  return (hi << 32) | sm_rng_u32(&r);
}

/* Collective: global count of local keys <= bound. */
static int count_at_most(sm_ctx *ctx, const uint64_t *keys, int64_t n, uint64_t bound,
                         int64_t *total) {
  int64_t local = 0;
  for (int64_t i = 0; i < n; i++)
    local += keys[i] <= bound;
  SM_MPI_CHECK(ctx, MPI_Allreduce(&local, total, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  return SM_OK;
}

/* Collective: keep the rows with key below the threshold, then rows equal to it in rank
 * order until exactly `want` rows are kept. */
static int keep_below(sm_ctx *ctx, const uint64_t *keys, int64_t n, uint64_t threshold,
                      int64_t want, unsigned char *keep, int64_t *n_keep) {
  int64_t below = 0, ties = 0, below_total = 0, ties_before = 0;
  for (int64_t i = 0; i < n; i++) {
    below += keys[i] < threshold;
    ties += keys[i] == threshold;
  }
  SM_MPI_CHECK(ctx, MPI_Allreduce(&below, &below_total, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  SM_MPI_CHECK(ctx, MPI_Exscan(&ties, &ties_before, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  if (ctx->rank == 0)
    ties_before = 0;

  /* tied rows fill the remaining places */
  int64_t room = want - below_total - ties_before;
  *n_keep = 0;
  for (int64_t i = 0; i < n; i++) {
    keep[i] = keys[i] < threshold || (keys[i] == threshold && room-- > 0);
    *n_keep += keep[i];
  }
  return SM_OK;
}

int sm_eval_select(sm_ctx *ctx, const sm_table *t, int64_t max_rows, uint64_t seed,
                   unsigned char *keep, int64_t *n_keep) {
  /* small tables are taken whole */
  if (max_rows <= 0 || t->n_rows_total <= max_rows) {
    memset(keep, 1, (size_t)t->n_rows);
    *n_keep = t->n_rows;
    return SM_OK;
  }

  /* keys of the local rows */
  uint64_t *keys = sm_malloc(ctx, (size_t)(t->n_rows > 0 ? t->n_rows : 1) * sizeof(uint64_t));
  SM_TRY(sm_agree(ctx, keys ? SM_OK : SM_ERR));
  for (int64_t i = 0; i < t->n_rows; i++)
    keys[i] = row_key(seed, t->row_offset + i);

  /* bisect for the smallest key with at least max_rows keys at or below it */
  uint64_t lo = 0, hi = UINT64_MAX;
  int rc = SM_OK;
  while (lo < hi && rc == SM_OK) {
    uint64_t mid = lo + (hi - lo) / 2;
    int64_t count = 0;
    rc = count_at_most(ctx, keys, t->n_rows, mid, &count);
    if (count >= max_rows)
      hi = mid;
    else
      lo = mid + 1;
  }
  if (rc == SM_OK)
    rc = keep_below(ctx, keys, t->n_rows, lo, max_rows, keep, n_keep);
  free(keys);
  return rc;
}

void sm_eval_sample_free(sm_eval_sample *s) {
  if (!s)
    return;
  for (int j = 0; j < s->n_cols && s->values; j++)
    free(s->values[j]);
  free(s->values);
  free(s->index);
  memset(s, 0, sizeof(*s));
}

/* Collective: counts and displacements of every rank's part; *total is their sum. */
static int part_sizes(sm_ctx *ctx, int64_t n_local, int *counts, int *displs, int64_t *total) {
  if (n_local > INT_MAX)
    return sm_fail(ctx, SM_EINPUT, "evaluation sample of %lld rows on one rank is too large",
                   (long long)n_local);
  int mine = (int)n_local;
  SM_MPI_CHECK(ctx, MPI_Allgather(&mine, 1, MPI_INT, counts, 1, MPI_INT, ctx->comm));
  *total = 0;
  for (int r = 0; r < ctx->size; r++) {
    displs[r] = (int)*total;
    *total += counts[r];
    if (*total > INT_MAX)
      return sm_fail(ctx, SM_EINPUT,
                     "evaluation sample of more than %d rows: lower "
                     "evaluation.max_rows",
                     INT_MAX);
  }
  return SM_OK;
}

/* Collective: gather one array of the kept rows (double or int64) to root or to all. */
static int gather_part(sm_ctx *ctx, const void *send, int n, MPI_Datatype type, void *recv,
                       const int *counts, const int *displs, int root) {
  if (root < 0)
    SM_MPI_CHECK(ctx, MPI_Allgatherv(send, n, type, recv, counts, displs, type, ctx->comm));
  else
    SM_MPI_CHECK(ctx, MPI_Gatherv(send, n, type, recv, counts, displs, type, root, ctx->comm));
  return SM_OK;
}

typedef struct index_pos {
  int64_t index, pos;
} index_pos;

static int compare_index(const void *a, const void *b) {
  int64_t x = ((const index_pos *)a)->index, y = ((const index_pos *)b)->index;
  return (x > y) - (x < y);
}

/* Put the gathered rows in global row order (ranks may hold rows in any order). */
static int sort_rows(sm_ctx *ctx, sm_eval_sample *s) {
  int64_t n = s->n_rows;
  index_pos *order = sm_malloc(ctx, (size_t)(n > 0 ? n : 1) * sizeof(index_pos));
  double *tmp = sm_malloc(ctx, (size_t)(n > 0 ? n : 1) * sizeof(double));
  if (!order || !tmp) {
    free(order);
    free(tmp);
    return SM_ERR;
  }
  for (int64_t i = 0; i < n; i++)
    order[i] = (index_pos){s->index[i], i};
  qsort(order, (size_t)n, sizeof(index_pos), compare_index);

  /* permute every column through the scratch array */
  for (int j = 0; j < s->n_cols; j++) {
    for (int64_t i = 0; i < n; i++)
      tmp[i] = s->values[j][order[i].pos];
    memcpy(s->values[j], tmp, (size_t)n * sizeof(double));
  }
  for (int64_t i = 0; i < n; i++)
    s->index[i] = order[i].index;
  free(order);
  free(tmp);
  return SM_OK;
}

/* Allocate the receiving sample (rows only where they arrive). */
static int sample_alloc(sm_ctx *ctx, sm_eval_sample *s, int n_cols, int64_t n_rows) {
  s->n_cols = n_cols;
  s->n_rows = n_rows;
  size_t bytes = (size_t)(n_rows > 0 ? n_rows : 1);
  s->values = sm_calloc(ctx, (size_t)(n_cols > 0 ? n_cols : 1), sizeof(double *));
  s->index = sm_malloc(ctx, bytes * sizeof(int64_t));
  if (!s->values || !s->index)
    return SM_ERR;
  for (int j = 0; j < n_cols; j++)
    if (!(s->values[j] = sm_malloc(ctx, bytes * sizeof(double))))
      return SM_ERR;
  return SM_OK;
}

/* Collective: send the kept rows of every column and their global indices. */
static int gather_columns(sm_ctx *ctx, const sm_table *t, const unsigned char *keep, int n_keep,
                          const int *counts, const int *displs, int root, sm_eval_sample *out) {
  double *buf = sm_malloc(ctx, (size_t)(n_keep > 0 ? n_keep : 1) * sizeof(double));
  int64_t *idx = sm_malloc(ctx, (size_t)(n_keep > 0 ? n_keep : 1) * sizeof(int64_t));
  int rc = sm_agree(ctx, buf && idx ? SM_OK : SM_ERR);

  /* one gather per column, then one for the row indices */
  for (int j = 0; j < t->schema.n_cols && rc == SM_OK; j++) {
    int k = 0;
    for (int64_t i = 0; i < t->n_rows; i++)
      if (keep[i])
        buf[k++] = t->values[j][i];
    rc = gather_part(ctx, buf, n_keep, MPI_DOUBLE, out->values[j], counts, displs, root);
  }
  for (int64_t i = 0, k = 0; i < t->n_rows && rc == SM_OK; i++)
    if (keep[i])
      idx[k++] = t->row_offset + i;
  if (rc == SM_OK)
    rc = gather_part(ctx, idx, n_keep, MPI_INT64_T, out->index, counts, displs, root);
  free(buf);
  free(idx);
  return rc;
}

int sm_eval_gather(sm_ctx *ctx, const sm_table *t, int64_t max_rows, uint64_t seed, int root,
                   sm_eval_sample *out) {
  memset(out, 0, sizeof(*out));
  unsigned char *keep = sm_malloc(ctx, (size_t)(t->n_rows > 0 ? t->n_rows : 1));
  int *counts = sm_malloc(ctx, (size_t)ctx->size * sizeof(int));
  int *displs = sm_malloc(ctx, (size_t)ctx->size * sizeof(int));
  int rc = sm_agree(ctx, keep && counts && displs ? SM_OK : SM_ERR);

  /* choose rows, size the parts, then gather them */
  int64_t n_keep = 0, total = 0;
  if (rc == SM_OK)
    rc = sm_eval_select(ctx, t, max_rows, seed, keep, &n_keep);
  if (rc == SM_OK)
    rc = sm_agree(ctx, part_sizes(ctx, n_keep, counts, displs, &total));
  int here = root < 0 || root == ctx->rank;
  if (rc == SM_OK)
    rc = sm_agree(ctx, sample_alloc(ctx, out, t->schema.n_cols, here ? total : 0));
  if (rc == SM_OK)
    rc = gather_columns(ctx, t, keep, (int)n_keep, counts, displs, root, out);
  if (rc == SM_OK)
    rc = sm_agree(ctx, sort_rows(ctx, out));
  free(keep);
  free(counts);
  free(displs);
  if (rc != SM_OK)
    sm_eval_sample_free(out);
  return rc;
}
