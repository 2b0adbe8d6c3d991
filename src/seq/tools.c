/* synthmpi inspect and export for sequence releases. */
#include <stdlib.h>
#include <string.h>

#include "io/h5util.h"
#include "io/io.h"
#include "seq/seq_internal.h"

/* FASTA lines hold this many bases. */
#define FASTA_LINE 60

static const char letters[4] = {'A', 'C', 'G', 'T'};

/* Rank 0: one attribute line, "?" when it is absent. */
static void print_attr(sm_ctx *ctx, hid_t file, const char *name, int is_int, FILE *out) {
  char *s = NULL;
  int64_t v = 0;
  if (H5Aexists(file, name) <= 0)
    fprintf(out, "%-15s ?\n", name);
  else if (is_int && sm_h5_get_attr_i64(ctx, file, name, &v) == SM_OK)
    fprintf(out, "%-15s %lld\n", name, (long long)v);
  else if (!is_int && sm_h5_get_attr_str(ctx, file, name, &s) == SM_OK)
    fprintf(out, "%-15s %s\n", name, s);
  free(s);
}

int sm_seq_inspect(sm_ctx *ctx, const char *path, FILE *out) {
  hid_t file = -1;
  char *format = NULL;
  SM_TRY(sm_io_open(ctx, path, SM_SEQ_RELEASE_FORMAT, &file, &format));
  free(format);

  /* attributes are read on every rank (collective file), printed by rank 0 */
  static const char *const text[] = {"format", "version", "created", "name", "model", "alphabet"};
  static const char *const ints[] = {"order", "rows", "length", "seed", "ranks"};
  if (ctx->rank == 0) {
    fprintf(out, "%-15s %s\n", "file", path);
    for (size_t i = 0; i < sizeof text / sizeof text[0]; i++)
      print_attr(ctx, file, text[i], 0, out);
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
      print_attr(ctx, file, ints[i], 1, out);
    fprintf(out, "%-15s /sequences (rows x length, uint8 letters A C G T)\n", "data");
    fflush(out);
  }
  sm_io_close(file);
  return SM_OK;
}

/* Rank 0. The sequences of s as FASTA records synth_<global index>. */
static int write_records(sm_ctx *ctx, const sm_seqset *s, FILE *f) {
  char line[FASTA_LINE + 1];
  for (int64_t i = 0; i < s->n; i++) {
    const uint8_t *c = s->codes + s->offset[i];
    int64_t len = s->offset[i + 1] - s->offset[i];
    if (fprintf(f, ">synth_%lld length=%lld\n", (long long)(s->first + i), (long long)len) < 0)
      return sm_fail(ctx, SM_ERR, "write error in the FASTA export");
    for (int64_t p = 0; p < len; p += FASTA_LINE) {
      int64_t n = len - p < FASTA_LINE ? len - p : FASTA_LINE;
      for (int64_t j = 0; j < n; j++)
        line[j] = letters[c[p + j]];
      line[n] = '\n';
      if (fwrite(line, 1, (size_t)n + 1, f) != (size_t)n + 1)
        return sm_fail(ctx, SM_ERR, "write error in the FASTA export");
    }
  }
  return SM_OK;
}

/* Collective. Rank 0 writes its own block, then receives and writes every other rank's
 * block in rank order, one block in memory at a time. */
static int write_in_turn(sm_ctx *ctx, const sm_seqset *mine, FILE *f) {
  int rc = ctx->rank == 0 ? write_records(ctx, mine, f) : SM_OK;
  for (int r = 1; r < ctx->size; r++) {
    SM_TRY(sm_agree(ctx, rc));
    if (ctx->rank == r)
      rc = sm_seq_send_block(ctx, mine, 0);
    if (ctx->rank == 0) {
      sm_seqset block;
      rc = sm_seq_recv_block(ctx, &block, r);
      if (rc == SM_OK)
        rc = write_records(ctx, &block, f);
      sm_seqset_free(&block);
    }
  }
  return sm_agree(ctx, rc);
}

int sm_seq_export_fasta(sm_ctx *ctx, const char *path, const char *output) {
  sm_seqset s;
  SM_TRY(sm_seq_release_read(ctx, path, &s));

  /* rank 0 writes output.partial, then renames it into place */
  char *tmp = NULL;
  FILE *f = NULL;
  int rc = SM_OK;
  if (ctx->rank == 0 && output) {
    size_t n = strlen(output) + 16;
    tmp = malloc(n);
    if (tmp)
      snprintf(tmp, n, "%s.partial", output);
    f = tmp ? fopen(tmp, "w") : NULL;
    rc = f ? SM_OK : sm_fail(ctx, SM_EINPUT, "%s: cannot write", output);
  }
  if (ctx->rank == 0 && !output)
    f = stdout;
  rc = sm_agree(ctx, rc);
  if (rc == SM_OK)
    rc = write_in_turn(ctx, &s, f);
  if (ctx->rank == 0 && output && f) {
    rc = fclose(f) != 0 && rc == SM_OK ? sm_fail(ctx, SM_ERR, "%s: write error", output) : rc;
    if (rc == SM_OK && rename(tmp, output) != 0)
      rc = sm_fail(ctx, SM_ERR, "%s: cannot rename into place", output);
    if (rc != SM_OK)
      remove(tmp);
  }
  if (ctx->rank == 0 && !output)
    fflush(stdout);
  free(tmp);
  sm_seqset_free(&s);
  return sm_agree(ctx, rc);
}
