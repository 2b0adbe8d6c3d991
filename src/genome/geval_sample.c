/* The seeded sample of one set: the rows with the max_rows smallest keys, where a row's key
 * is a hash of (seed, set, global row index), gathered to every rank in global row order. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "genome/geval_internal.h"
#include "synthmpi/rng.h"

/* A row's key and its tie-breaker, the global row index: 16 bytes, sent as one unit. */
typedef struct row_key {
  uint64_t key;
  int64_t row;
} row_key;

static uint64_t sample_key(uint64_t seed, int set, int64_t row) {
  sm_rng r;
  sm_rng_init(&r, sm_hash64(seed ^ sm_hash64((uint64_t)set + 1)), SM_STREAM_EVAL, (uint64_t)row);
  uint64_t hi = sm_rng_u32(&r);
  return (hi << 32) | sm_rng_u32(&r);
}

static int key_cmp(const row_key *a, const row_key *b) {
  if (a->key != b->key)
    return a->key < b->key ? -1 : 1;
  return (a->row > b->row) - (a->row < b->row);
}

static int key_qsort_cmp(const void *a, const void *b) {
  return key_cmp(a, b);
}

void sm_geval_sample_free(sm_geval_sample *s) {
  if (!s)
    return;
  free(s->g);
  free(s->key);
  free(s->row);
  memset(s, 0, sizeof(*s));
}

/* Collective: counts of every rank (as int) and their displacements; total in *sum. */
static int gather_counts(sm_ctx *ctx, int64_t local, int *counts, int *displs, int64_t *sum) {
  int mine = (int)local;
  SM_MPI_CHECK(ctx, MPI_Allgather(&mine, 1, MPI_INT, counts, 1, MPI_INT, ctx->comm));
  *sum = 0;
  for (int r = 0; r < ctx->size; r++) {
    displs[r] = (int)*sum;
    *sum += counts[r];
  }
  return *sum > INT_MAX ? sm_fail(ctx, SM_EINPUT,
                                  "genome evaluation: sample of %lld rows is "
                                  "too large (lower max_rows)",
                                  (long long)*sum)
                        : SM_OK;
}

/* Collective: each rank's first counts[rank] keys to every rank. */
static int offer_keys(sm_ctx *ctx, MPI_Datatype key_type, const row_key *keys, const int *counts,
                      row_key *all) {
  SM_MPI_CHECK(ctx, MPI_Allgatherv(keys, counts[ctx->rank], key_type, all, counts,
                                   counts + ctx->size, key_type, ctx->comm));
  return SM_OK;
}

/* Collective: the want-th smallest key over all ranks. Each rank offers its want smallest
 * keys (keys sorted in place), so at most size * want keys travel. */
static int global_cutoff(sm_ctx *ctx, MPI_Datatype key_type, row_key *keys, int64_t n, int64_t want,
                         row_key *cut) {
  int *counts = sm_calloc(ctx, (size_t)ctx->size * 2, sizeof(int));
  SM_TRY(sm_agree(ctx, counts ? SM_OK : SM_ERR));
  qsort(keys, (size_t)n, sizeof(row_key), key_qsort_cmp);

  /* every rank's smallest keys, to every rank */
  int64_t offered = 0;
  int rc = gather_counts(ctx, n < want ? n : want, counts, counts + ctx->size, &offered);
  rc = sm_agree(ctx, rc);
  row_key *all = rc == SM_OK ? sm_malloc(ctx, (size_t)offered * sizeof(row_key)) : NULL;
  if (rc == SM_OK)
    rc = sm_agree(ctx, all ? SM_OK : SM_ERR);
  if (rc == SM_OK)
    rc = offer_keys(ctx, key_type, keys, counts, all);

  /* the cut is the want-th smallest of the offered keys */
  if (rc == SM_OK) {
    qsort(all, (size_t)offered, sizeof(row_key), key_qsort_cmp);
    *cut = all[want - 1];
  }
  free(all);
  free(counts);
  return rc;
}

/* Collective: every rank's k rows g and keys kk into out (room made there) and all. */
static int exchange_rows(sm_ctx *ctx, MPI_Datatype key_type, const uint8_t *g, const row_key *kk,
                         int64_t k, const int *counts, sm_geval_sample *out, row_key *all) {
  /* rows travel as one contiguous type of n_vars bytes, so counts stay in rows */
  MPI_Datatype row_type;
  const int *displs = counts + ctx->size;
  SM_MPI_CHECK(ctx, MPI_Type_contiguous((int)out->n_vars, MPI_UINT8_T, &row_type));
  SM_MPI_CHECK(ctx, MPI_Type_commit(&row_type));
  SM_MPI_CHECK(ctx,
               MPI_Allgatherv(g, (int)k, row_type, out->g, counts, displs, row_type, ctx->comm));
  SM_MPI_CHECK(ctx, MPI_Type_free(&row_type));
  SM_MPI_CHECK(ctx, MPI_Allgatherv(kk, (int)k, key_type, all, counts, displs, key_type, ctx->comm));

  /* keys and row indices apart */
  for (int64_t i = 0; i < out->n_rows; i++) {
    out->key[i] = all[i].key;
    out->row[i] = all[i].row;
  }
  return SM_OK;
}

/* Collective: gather the kept local rows of m, with their keys, to every rank. */
static int gather_rows(sm_ctx *ctx, MPI_Datatype key_type, const sm_hapmat *m, const row_key *keys,
                       const unsigned char *keep, int64_t n, sm_geval_sample *out) {
  int64_t v = out->n_vars, k = 0;
  for (int64_t i = 0; i < n; i++)
    k += keep[i];

  /* the local rows and keys to send */
  uint8_t *g = sm_malloc(ctx, (size_t)(k > 0 ? k : 1) * (size_t)v);
  row_key *kk = sm_malloc(ctx, (size_t)(k > 0 ? k : 1) * sizeof(row_key));
  int *counts = sm_calloc(ctx, (size_t)ctx->size * 2, sizeof(int));
  int rc = sm_agree(ctx, g && kk && counts ? SM_OK : SM_ERR);
  for (int64_t i = 0, j = 0; rc == SM_OK && i < n; i++)
    if (keep[i]) {
      memcpy(g + j * v, m->g + i * v, (size_t)v);
      kk[j++] = keys[i];
    }

  /* sizes, then room for everything, then the rows */
  if (rc == SM_OK)
    rc = sm_agree(ctx, gather_counts(ctx, k, counts, counts + ctx->size, &out->n_rows));
  row_key *all = NULL;
  if (rc == SM_OK) {
    size_t rows = (size_t)(out->n_rows > 0 ? out->n_rows : 1);
    out->g = sm_malloc(ctx, rows * (size_t)v);
    out->key = sm_malloc(ctx, rows * sizeof(uint64_t));
    out->row = sm_malloc(ctx, rows * sizeof(int64_t));
    all = sm_malloc(ctx, rows * sizeof(row_key));
    rc = sm_agree(ctx, out->g && out->key && out->row && all ? SM_OK : SM_ERR);
  }
  if (rc == SM_OK)
    rc = exchange_rows(ctx, key_type, g, kk, k, counts, out, all);
  free(all);
  free(counts);
  free(kk);
  free(g);
  return rc;
}

/* Collective: keys of the local rows, and the kept flags of the sample. */
static int choose_rows(sm_ctx *ctx, MPI_Datatype key_type, int64_t n, int64_t offset, int64_t total,
                       int64_t max_rows, uint64_t seed, int set, row_key *keys,
                       unsigned char *keep) {
  for (int64_t i = 0; i < n; i++)
    keys[i] = (row_key){sample_key(seed, set, offset + i), offset + i};
  int64_t want = max_rows <= 0 || max_rows > total ? total : max_rows;
  if (want == total) {
    memset(keep, 1, (size_t)n);
    return SM_OK;
  }

  /* a sorted copy finds the cut; the rows at or below it are kept */
  row_key *sorted = sm_malloc(ctx, (size_t)(n > 0 ? n : 1) * sizeof(row_key));
  SM_TRY(sm_agree(ctx, sorted ? SM_OK : SM_ERR));
  memcpy(sorted, keys, (size_t)n * sizeof(row_key));
  row_key cut = {0, 0};
  int rc = global_cutoff(ctx, key_type, sorted, n, want, &cut);
  for (int64_t i = 0; i < n; i++)
    keep[i] = key_cmp(&keys[i], &cut) <= 0;
  free(sorted);
  return rc;
}

int sm_geval_sample_gather(sm_ctx *ctx, const sm_hapmat *m, int64_t n_vars, int64_t max_rows,
                           uint64_t seed, int set, sm_geval_sample *out) {
  memset(out, 0, sizeof(*out));
  out->n_vars = n_vars;
  int64_t n = m ? m->n_rows : 0, offset = 0, total = 0;

  /* global row indices of the local rows */
  SM_MPI_CHECK(ctx, MPI_Exscan(&n, &offset, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  if (ctx->rank == 0)
    offset = 0;
  SM_MPI_CHECK(ctx, MPI_Allreduce(&n, &total, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  if (n > INT_MAX)
    return sm_agree(
        ctx, sm_fail(ctx, SM_EINPUT, "genome evaluation: %lld rows on one rank", (long long)n));
  SM_TRY(sm_agree(ctx, SM_OK));

  /* the key type: 16 bytes, one row_key */
  MPI_Datatype key_type;
  SM_MPI_CHECK(ctx, MPI_Type_contiguous((int)sizeof(row_key), MPI_BYTE, &key_type));
  SM_MPI_CHECK(ctx, MPI_Type_commit(&key_type));

  /* choose, then gather */
  row_key *keys = sm_malloc(ctx, (size_t)(n > 0 ? n : 1) * sizeof(row_key));
  unsigned char *keep = sm_malloc(ctx, (size_t)(n > 0 ? n : 1));
  int rc = sm_agree(ctx, keys && keep ? SM_OK : SM_ERR);
  if (rc == SM_OK)
    rc = choose_rows(ctx, key_type, n, offset, total, max_rows, seed, set, keys, keep);
  if (rc == SM_OK)
    rc = gather_rows(ctx, key_type, m, keys, keep, n, out);
  free(keep);
  free(keys);
  if (rc != SM_OK)
    sm_geval_sample_free(out);
  SM_MPI_CHECK(ctx, MPI_Type_free(&key_type));
  return rc;
}

/* A sample row's key beside its index, to sort indices by key. */
typedef struct keyed_index {
  row_key k;
  int64_t i;
} keyed_index;

static int keyed_cmp(const void *a, const void *b) {
  return key_cmp(&((const keyed_index *)a)->k, &((const keyed_index *)b)->k);
}

static int index_cmp(const void *a, const void *b) {
  int64_t i = *(const int64_t *)a, j = *(const int64_t *)b;
  return (i > j) - (i < j);
}

int64_t *sm_geval_sample_first(sm_ctx *ctx, const sm_geval_sample *s, int64_t n) {
  size_t rows = (size_t)(s->n_rows > 0 ? s->n_rows : 1);
  int64_t *idx = sm_malloc(ctx, rows * sizeof(int64_t));
  keyed_index *ki = sm_malloc(ctx, rows * sizeof(keyed_index));
  if (!idx || !ki) {
    free(idx);
    free(ki);
    return NULL;
  }

  /* the n smallest keys, then back to global row order */
  for (int64_t i = 0; i < s->n_rows; i++)
    ki[i] = (keyed_index){{s->key[i], s->row[i]}, i};
  qsort(ki, (size_t)s->n_rows, sizeof(keyed_index), keyed_cmp);
  for (int64_t i = 0; i < n; i++)
    idx[i] = ki[i].i;
  qsort(idx, (size_t)n, sizeof(int64_t), index_cmp);
  free(ki);
  return idx;
}
