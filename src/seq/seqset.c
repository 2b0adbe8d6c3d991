/* Sets of sequences: gathering every rank's block, and cutting each sequence in two. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "seq/seq_internal.h"

/* Local. Room for n sequences and bases bases. */
static int seqset_alloc(sm_ctx *ctx, sm_seqset *s, int64_t n, int64_t bases) {
  memset(s, 0, sizeof(*s));
  s->n = n;
  s->offset = sm_calloc(ctx, (size_t)n + 1, sizeof(int64_t));
  s->codes = sm_malloc(ctx, (size_t)(bases > 0 ? bases : 1));
  return s->offset && s->codes ? SM_OK : SM_ERR;
}

/* Collective. counts[r] of every rank, and their running sums (int displacements). */
static int gather_sizes(sm_ctx *ctx, int64_t mine, int *counts, int *displ, int64_t *total) {
  int64_t *all = sm_malloc(ctx, (size_t)ctx->size * sizeof(int64_t));
  SM_TRY(sm_agree(ctx, all ? SM_OK : SM_ERR));
  int mrc = MPI_Allgather(&mine, 1, MPI_INT64_T, all, 1, MPI_INT64_T, ctx->comm);
  *total = 0;
  for (int r = 0; r < ctx->size && mrc == MPI_SUCCESS; r++) {
    displ[r] = (int)*total;
    counts[r] = (int)all[r];
    *total += all[r];
  }
  free(all);
  if (mrc != MPI_SUCCESS)
    return sm_fail_mpi(ctx, mrc, "MPI_Allgather", __FILE__, __LINE__);
  if (*total > 0x7fffffff)
    return sm_fail(ctx, SM_EINPUT, "%lld items exceed one MPI message", (long long)*total);
  return SM_OK;
}

int sm_seq_allgather(sm_ctx *ctx, const sm_seqset *s, sm_seqset *all) {
  int *counts = sm_calloc(ctx, (size_t)ctx->size, sizeof(int));
  int *displ = sm_calloc(ctx, (size_t)ctx->size, sizeof(int));
  int64_t *lens = sm_malloc(ctx, (size_t)(s->n > 0 ? s->n : 1) * sizeof(int64_t));
  int64_t *all_lens = sm_malloc(ctx, (size_t)(s->n_total > 0 ? s->n_total : 1) * sizeof(int64_t));
  int64_t n = 0, bases = 0;
  memset(all, 0, sizeof(*all));
  int rc = sm_agree(ctx, counts && displ && lens && all_lens ? SM_OK : SM_ERR);

  /* the lengths of every sequence, then the bases */
  for (int64_t i = 0; i < s->n && rc == SM_OK; i++)
    lens[i] = s->offset[i + 1] - s->offset[i];
  if (rc == SM_OK)
    rc = sm_agree(ctx, gather_sizes(ctx, s->n, counts, displ, &n));
  if (rc == SM_OK && MPI_Allgatherv(lens, (int)s->n, MPI_INT64_T, all_lens, counts, displ,
                                    MPI_INT64_T, ctx->comm) != MPI_SUCCESS)
    rc = sm_fail(ctx, SM_ERR, "MPI_Allgatherv of sequence lengths failed");
  rc = sm_agree(ctx, rc);
  if (rc == SM_OK)
    rc = sm_agree(ctx, gather_sizes(ctx, s->n ? s->offset[s->n] : 0, counts, displ, &bases));
  if (rc == SM_OK)
    rc = sm_agree(ctx, seqset_alloc(ctx, all, n, bases));
  if (rc == SM_OK && MPI_Allgatherv(s->codes, s->n ? (int)s->offset[s->n] : 0, MPI_BYTE, all->codes,
                                    counts, displ, MPI_BYTE, ctx->comm) != MPI_SUCCESS)
    rc = sm_fail(ctx, SM_ERR, "MPI_Allgatherv of sequences failed");
  rc = sm_agree(ctx, rc);

  /* offsets from the lengths */
  for (int64_t i = 0; i < n && rc == SM_OK; i++)
    all->offset[i + 1] = all->offset[i] + all_lens[i];
  all->n_total = n;
  free(counts);
  free(displ);
  free(lens);
  free(all_lens);
  if (rc != SM_OK)
    sm_seqset_free(all);
  return rc;
}

int sm_seq_split_tail(sm_ctx *ctx, const sm_seqset *s, double tail, sm_seqset *head,
                      sm_seqset *rest) {
  int64_t bases = s->n ? s->offset[s->n] : 0;
  SM_TRY(seqset_alloc(ctx, head, s->n, bases));
  SM_TRY(seqset_alloc(ctx, rest, s->n, bases));
  head->n_total = rest->n_total = s->n_total;
  head->first = rest->first = s->first;

  /* each sequence's first part to head, its last `tail` share to rest */
  for (int64_t i = 0; i < s->n; i++) {
    const uint8_t *c = s->codes + s->offset[i];
    int64_t len = s->offset[i + 1] - s->offset[i];
    int64_t back = (int64_t)((double)len * tail + 0.5);
    back = back < len ? back : 0;
    memcpy(head->codes + head->offset[i], c, (size_t)(len - back));
    head->offset[i + 1] = head->offset[i] + len - back;
    memcpy(rest->codes + rest->offset[i], c + len - back, (size_t)back);
    rest->offset[i + 1] = rest->offset[i] + back;
  }
  return SM_OK;
}

/* Tags of the three messages of a block. */
enum { TAG_HEAD = 71, TAG_OFFSETS = 72, TAG_CODES = 73 };

int sm_seq_send_block(sm_ctx *ctx, const sm_seqset *s, int dest) {
  int64_t head[3] = {s->n, s->first, s->n ? s->offset[s->n] : 0};
  if (head[0] + 1 > INT_MAX / 2 || head[2] > INT_MAX / 2)
    return sm_fail(ctx, SM_ERR, "a block of %lld bases is too large to send in one message",
                   (long long)head[2]);
  SM_MPI_CHECK(ctx, MPI_Send(head, 3, MPI_INT64_T, dest, TAG_HEAD, ctx->comm));
  SM_MPI_CHECK(ctx,
               MPI_Send(s->offset, (int)head[0] + 1, MPI_INT64_T, dest, TAG_OFFSETS, ctx->comm));
  SM_MPI_CHECK(ctx, MPI_Send(s->codes, (int)head[2], MPI_BYTE, dest, TAG_CODES, ctx->comm));
  return SM_OK;
}

int sm_seq_recv_block(sm_ctx *ctx, sm_seqset *out, int src) {
  int64_t head[3];
  memset(out, 0, sizeof(*out));
  SM_MPI_CHECK(ctx, MPI_Recv(head, 3, MPI_INT64_T, src, TAG_HEAD, ctx->comm, MPI_STATUS_IGNORE));
  SM_TRY(seqset_alloc(ctx, out, head[0], head[2]));
  out->first = head[1];
  SM_MPI_CHECK(ctx, MPI_Recv(out->offset, (int)head[0] + 1, MPI_INT64_T, src, TAG_OFFSETS,
                             ctx->comm, MPI_STATUS_IGNORE));
  SM_MPI_CHECK(ctx, MPI_Recv(out->codes, (int)head[2], MPI_BYTE, src, TAG_CODES, ctx->comm,
                             MPI_STATUS_IGNORE));
  return SM_OK;
}
