/* Persons and matrices: the person-level held-out split, row totals, variant lists shared
 * by every rank. */
#include <stdlib.h>
#include <string.h>

#include "genome/genome_internal.h"
#include "synthmpi/rng.h"

int sm_variants_alloc(sm_ctx *ctx, sm_variants *v, int64_t n) {
  memset(v, 0, sizeof(*v));
  size_t k = (size_t)(n > 0 ? n : 1);
  v->n = n;
  v->chrom = sm_calloc(ctx, k, sizeof(char *));
  v->id = sm_calloc(ctx, k, sizeof(char *));
  v->ref = sm_calloc(ctx, k, sizeof(char *));
  v->alt = sm_calloc(ctx, k, sizeof(char *));
  v->pos = sm_calloc(ctx, k, sizeof(int64_t));
  return v->chrom && v->id && v->ref && v->alt && v->pos ? SM_OK : SM_ERR;
}

/* Local. Pack the four string fields of every variant, NUL-separated; NULL fields as "". */
static int pack_variants(sm_ctx *ctx, const sm_variants *v, char **out, int64_t *len) {
  int64_t n = 0;
  char *const *fields[4] = {v->chrom, v->id, v->ref, v->alt};
  for (int64_t j = 0; j < v->n; j++)
    for (int f = 0; f < 4; f++)
      n += (int64_t)strlen(fields[f][j] ? fields[f][j] : "") + 1;
  *out = sm_malloc(ctx, (size_t)(n > 0 ? n : 1));
  if (!*out)
    return SM_ERR;
  char *p = *out;
  for (int64_t j = 0; j < v->n; j++)
    for (int f = 0; f < 4; f++) {
      const char *s = fields[f][j] ? fields[f][j] : "";
      size_t k = strlen(s) + 1;
      memcpy(p, s, k);
      p += k;
    }
  *len = n;
  return SM_OK;
}

/* Local. The inverse of pack_variants into v (allocated for n variants). */
static int unpack_variants(sm_ctx *ctx, const char *p, sm_variants *v) {
  char **fields[4] = {v->chrom, v->id, v->ref, v->alt};
  for (int64_t j = 0; j < v->n; j++)
    for (int f = 0; f < 4; f++) {
      if (!(fields[f][j] = sm_strdup(p)))
        return sm_fail(ctx, SM_ERR, "out of memory");
      p += strlen(p) + 1;
    }
  return SM_OK;
}

/* Collective. Rank 0's positions and packed strings to every rank. */
static int bcast_fields(sm_ctx *ctx, sm_variants *vars, char *packed, const int64_t head[2]) {
  SM_MPI_CHECK(ctx, MPI_Bcast(vars->pos, (int)head[0], MPI_INT64_T, 0, ctx->comm));
  SM_MPI_CHECK(ctx, MPI_Bcast(packed, (int)head[1], MPI_CHAR, 0, ctx->comm));
  return SM_OK;
}

int sm_variants_bcast(sm_ctx *ctx, sm_variants *vars) {
  /* sizes, then positions and the packed strings */
  int64_t head[2] = {vars->n, 0};
  char *packed = NULL;
  int rc = ctx->rank == 0 ? pack_variants(ctx, vars, &packed, &head[1]) : SM_OK;
  SM_TRY(sm_agree(ctx, rc));
  SM_MPI_CHECK(ctx, MPI_Bcast(head, 2, MPI_INT64_T, 0, ctx->comm));
  if (ctx->rank != 0) {
    rc = sm_variants_alloc(ctx, vars, head[0]);
    packed = rc == SM_OK ? sm_malloc(ctx, (size_t)(head[1] > 0 ? head[1] : 1)) : NULL;
    rc = packed ? rc : SM_ERR;
  }
  rc = sm_agree(ctx, rc);
  if (rc == SM_OK)
    rc = bcast_fields(ctx, vars, packed, head);
  if (rc == SM_OK && ctx->rank != 0)
    rc = unpack_variants(ctx, packed, vars);
  free(packed);
  return sm_agree(ctx, rc);
}

int sm_hapmat_rows_total(sm_ctx *ctx, const sm_hapmat *m, int64_t *total) {
  int64_t n = m->n_rows;
  SM_MPI_CHECK(ctx, MPI_Allreduce(&n, total, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  return SM_OK;
}

/* Local. An empty matrix shaped like m for up to rows rows. */
static int hapmat_like(sm_ctx *ctx, const sm_hapmat *m, int64_t rows, sm_hapmat *out) {
  memset(out, 0, sizeof(*out));
  size_t r = (size_t)(rows > 0 ? rows : 1);
  out->n_vars = m->n_vars;
  out->ploidy_coded = m->ploidy_coded;
  out->g = sm_malloc(ctx, r * (size_t)(m->n_vars > 0 ? m->n_vars : 1));
  out->person = sm_calloc(ctx, r, sizeof(int64_t));
  out->row_id = m->row_id ? sm_calloc(ctx, r, sizeof(char *)) : NULL;
  return out->g && out->person && (out->row_id || !m->row_id) ? SM_OK : SM_ERR;
}

/* Local. Append row i of m to out. */
static int append_row(const sm_hapmat *m, int64_t i, sm_hapmat *out) {
  int64_t r = out->n_rows++;
  memcpy(out->g + r * m->n_vars, m->g + i * m->n_vars, (size_t)m->n_vars);
  out->person[r] = m->person[i];
  if (m->row_id && m->row_id[i] && !(out->row_id[r] = sm_strdup(m->row_id[i])))
    return SM_ERR;
  return SM_OK;
}

int sm_hapmat_split(sm_ctx *ctx, const sm_hapmat *all, double fraction, uint64_t seed,
                    sm_hapmat *train, sm_hapmat *holdout) {
  int rc = hapmat_like(ctx, all, all->n_rows, train);
  if (rc == SM_OK)
    rc = hapmat_like(ctx, all, all->n_rows, holdout);

  /* one draw per person, from the person's own stream */
  for (int64_t i = 0; i < all->n_rows && rc == SM_OK; i++) {
    sm_rng r;
    sm_rng_init(&r, seed, SM_STREAM_HOLDOUT, (uint64_t)all->person[i]);
    int held = sm_rng_uniform(&r) < fraction;
    if (append_row(all, i, held ? holdout : train) != SM_OK)
      rc = sm_fail(ctx, SM_ERR, "out of memory splitting persons");
  }
  return rc;
}

/* Collective. Every rank's (variants, bytes) pair into both (2 * size). */
static int gather_sizes(sm_ctx *ctx, const int mine[2], int *both) {
  SM_MPI_CHECK(ctx, MPI_Allgather(mine, 2, MPI_INT, both, 2, MPI_INT, ctx->comm));
  return SM_OK;
}

/* Collective. Positions and packed strings of every rank, in rank order. */
static int gather_fields(sm_ctx *ctx, const sm_variants *local, const char *packed,
                         const int mine[2], sm_variants *out, char *all, const int *counts) {
  int size = ctx->size;
  const int *displs = counts + size, *lens = counts + 2 * size, *ldispls = counts + 3 * size;
  SM_MPI_CHECK(ctx, MPI_Allgatherv(local->pos, mine[0], MPI_INT64_T, out->pos, counts, displs,
                                   MPI_INT64_T, ctx->comm));
  SM_MPI_CHECK(ctx,
               MPI_Allgatherv(packed, mine[1], MPI_CHAR, all, lens, ldispls, MPI_CHAR, ctx->comm));
  return SM_OK;
}

int sm_variants_allgather(sm_ctx *ctx, const sm_variants *local, sm_variants *out) {
  memset(out, 0, sizeof(*out));
  char *packed = NULL, *all = NULL;
  int64_t len = 0, n = local->n;
  int size = ctx->size;
  int *counts = sm_calloc(ctx, (size_t)size * 4, sizeof(int)), *displs = counts + size;
  int *lens = counts + 2 * size, *ldispls = counts + 3 * size;
  int rc = counts ? pack_variants(ctx, local, &packed, &len) : SM_ERR;
  SM_TRY(sm_agree(ctx, rc));

  /* how many variants and bytes each rank holds */
  int mine[2] = {(int)n, (int)len}, *both = sm_calloc(ctx, (size_t)size * 2, sizeof(int));
  rc = both && n <= INT32_MAX && len <= INT32_MAX ? SM_OK : sm_fail(ctx, SM_ERR, "variants");
  rc = sm_agree(ctx, rc);
  if (rc == SM_OK)
    rc = gather_sizes(ctx, mine, both);
  int64_t total = 0, bytes = 0;
  for (int r = 0; r < size && rc == SM_OK; r++) {
    counts[r] = both[2 * r], lens[r] = both[2 * r + 1];
    displs[r] = (int)total, ldispls[r] = (int)bytes;
    total += counts[r], bytes += lens[r];
  }

  /* positions and strings in rank order */
  if (rc == SM_OK)
    rc = sm_variants_alloc(ctx, out, total);
  all = rc == SM_OK ? sm_malloc(ctx, (size_t)(bytes > 0 ? bytes : 1)) : NULL;
  rc = sm_agree(ctx, all ? rc : SM_ERR);
  if (rc == SM_OK)
    rc = gather_fields(ctx, local, packed, mine, out, all, counts);
  if (rc == SM_OK)
    rc = unpack_variants(ctx, all, out);
  free(packed), free(all), free(counts), free(both);
  return sm_agree(ctx, rc);
}
