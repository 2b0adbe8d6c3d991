/* CSV export of a release: ranks format rows in turn and write at computed byte offsets.
 *
 * Rows are handed out round-robin in slices: iteration k gives rank r the global rows
 * [(k * size + r) * slice, ...), so the ranks' texts of one iteration are consecutive in
 * the file and MPI_Exscan of their lengths gives each rank its offset. Memory holds one
 * slice per rank, whatever the size of the release.
 */
#include "synthmpi/release.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "io/h5util.h"
#include "io/io.h"
#include "synthmpi/data.h"

/* Values formatted per rank per iteration (the slice is this divided by the columns). */
#define SLICE_VALUES ((int64_t)1 << 20)
#define MAX_SLICE_ROWS ((int64_t)65536)

int sm_buf_append(sm_buf *b, const char *s, size_t n) {
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p)
      return SM_ERR;
    b->data = p;
    b->cap = cap;
  }
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = '\0';
  return SM_OK;
}

void sm_buf_free(sm_buf *b) {
  if (!b)
    return;
  free(b->data);
  memset(b, 0, sizeof(*b));
}

int sm_csv_append_field(sm_buf *b, const char *s, char delimiter) {
  size_t n = strlen(s);
  int quote = 0;
  for (size_t i = 0; i < n && !quote; i++)
    quote = s[i] == delimiter || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
  if (!quote)
    return sm_buf_append(b, s, n);

  /* RFC 4180: enclose in quotes, double the quotes inside */
  int rc = sm_buf_append(b, "\"", 1);
  for (size_t i = 0; i < n && rc == SM_OK; i++)
    rc = s[i] == '"' ? sm_buf_append(b, "\"\"", 2) : sm_buf_append(b, s + i, 1);
  return rc == SM_OK ? sm_buf_append(b, "\"", 1) : rc;
}

/* Append one value of column c as a CSV field: the text of sm_format_value, quoted when
 * needed (categories are user strings); a missing value appends nothing. */
static int append_value(sm_buf *b, const sm_column *c, double v, char delimiter) {
  char text[256];
  int n = sm_format_value(c, v, text, (int)sizeof text);
  if (n < (int)sizeof text)
    return sm_csv_append_field(b, text, delimiter);

  /* a category longer than the buffer: format it again at its full length */
  char *long_text = malloc((size_t)n + 1);
  if (!long_text)
    return SM_ERR;
  sm_format_value(c, v, long_text, n + 1);
  int rc = sm_csv_append_field(b, long_text, delimiter);
  free(long_text);
  return rc;
}

/* Local. Format the rows of t as CSV lines into b (emptied first). */
static int format_rows(sm_ctx *ctx, const sm_table *t, sm_buf *b) {
  b->len = 0;
  int rc = SM_OK;
  for (int64_t i = 0; i < t->n_rows && rc == SM_OK; i++) {
    for (int j = 0; j < t->schema.n_cols && rc == SM_OK; j++) {
      if (j > 0)
        rc = sm_buf_append(b, ",", 1);
      if (rc == SM_OK)
        rc = append_value(b, &t->schema.cols[j], t->values[j][i], ',');
    }
    if (rc == SM_OK)
      rc = sm_buf_append(b, "\n", 1);
  }
  if (rc != SM_OK)
    return sm_fail(ctx, SM_ERR, "out of memory formatting CSV");
  if (b->len > INT_MAX)
    return sm_fail(ctx, SM_ERR, "CSV export: a slice of %zu bytes is too large", b->len);
  return SM_OK;
}

/* Collective. Write each rank's text at base + (lengths of the lower ranks); advance base
 * by the total. */
static int write_slice(sm_ctx *ctx, MPI_File fh, const sm_buf *b, int64_t *base) {
  int64_t len = (int64_t)b->len, before = 0, total = 0;
  SM_MPI_CHECK(ctx, MPI_Exscan(&len, &before, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  SM_MPI_CHECK(ctx, MPI_Allreduce(&len, &total, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  if (ctx->rank == 0)
    before = 0; /* MPI_Exscan leaves rank 0's result undefined */
  MPI_Status status;
  SM_MPI_CHECK(ctx, MPI_File_write_at_all(fh, (MPI_Offset)(*base + before), b->data ? b->data : "",
                                          (int)len, MPI_BYTE, &status));
  *base += total;
  return SM_OK;
}

/* Local. The header line (every rank makes the same; rank 0 writes it). */
static int format_header(sm_ctx *ctx, const sm_schema *s, sm_buf *b) {
  int rc = SM_OK;
  for (int j = 0; j < s->n_cols && rc == SM_OK; j++) {
    if (j > 0)
      rc = sm_buf_append(b, ",", 1);
    if (rc == SM_OK)
      rc = sm_csv_append_field(b, s->cols[j].name, ',');
  }
  if (rc == SM_OK)
    rc = sm_buf_append(b, "\n", 1);
  return rc == SM_OK ? SM_OK : sm_fail(ctx, SM_ERR, "out of memory formatting CSV");
}

/* Collective. The header, then every slice of rows in global order. */
static int export_rows(sm_ctx *ctx, hid_t file, const sm_table *proto, MPI_File fh) {
  int64_t rows = proto->n_rows_total, base = 0;
  int64_t cols = proto->schema.n_cols > 0 ? proto->schema.n_cols : 1;
  int64_t slice = SLICE_VALUES / cols;
  slice = slice < 1 ? 1 : (slice > MAX_SLICE_ROWS ? MAX_SLICE_ROWS : slice);
  int64_t per_iteration = slice * ctx->size;
  int64_t iterations = (rows + per_iteration - 1) / per_iteration;

  /* the header goes first, from rank 0 */
  sm_buf b = {0};
  int rc = sm_agree(ctx, ctx->rank == 0 ? format_header(ctx, &proto->schema, &b) : SM_OK);
  if (rc == SM_OK)
    rc = sm_agree(ctx, write_slice(ctx, fh, &b, &base));

  /* slices: read collectively, format locally, write collectively */
  sm_table t;
  memset(&t, 0, sizeof t);
  if (rc == SM_OK)
    rc = sm_agree(ctx, sm_table_alloc(ctx, &t, &proto->schema, slice));
  for (int64_t k = 0; k < iterations && rc == SM_OK; k++) {
    int64_t row0 = (k * ctx->size + ctx->rank) * slice;
    int64_t n = row0 >= rows ? 0 : (rows - row0 < slice ? rows - row0 : slice);
    rc = sm_agree(ctx, sm_io_read_rows(ctx, file, row0 < rows ? row0 : rows, n, &t));
    if (rc == SM_OK)
      rc = sm_agree(ctx, format_rows(ctx, &t, &b));
    if (rc == SM_OK)
      rc = sm_agree(ctx, write_slice(ctx, fh, &b, &base));
  }
  sm_table_free(&t);
  sm_buf_free(&b);
  return rc;
}

/* Collective. Open the partial CSV (truncated), export, close. */
static int export_to(sm_ctx *ctx, hid_t file, const sm_table *proto, const char *partial) {
  MPI_File fh;
  int mode = MPI_MODE_CREATE | MPI_MODE_WRONLY;
  int opened = MPI_File_open(ctx->comm, partial, mode, MPI_INFO_NULL, &fh);
  int rc = sm_agree(ctx, opened == MPI_SUCCESS
                             ? SM_OK
                             : sm_fail(ctx, SM_EINPUT, "%s: cannot open for writing", partial));
  if (rc != SM_OK) {
    if (opened == MPI_SUCCESS)
      MPI_File_close(&fh);
    return rc;
  }

  /* a stale partial file from an earlier attempt may be longer than this one */
  rc = sm_agree(ctx, MPI_File_set_size(fh, 0) == MPI_SUCCESS
                         ? SM_OK
                         : sm_fail(ctx, SM_ERR, "%s: cannot truncate", partial));
  if (rc == SM_OK)
    rc = export_rows(ctx, file, proto, fh);
  int closed = MPI_File_close(&fh);
  if (rc == SM_OK && closed != MPI_SUCCESS)
    rc = sm_fail_mpi(ctx, closed, "MPI_File_close", __FILE__, __LINE__);
  return rc;
}

/* Collective. Schema and row count of an open release, in an empty table. */
static int release_shape(sm_ctx *ctx, hid_t file, sm_table *proto) {
  sm_schema schema;
  int64_t rows = 0;
  memset(proto, 0, sizeof(*proto));
  SM_TRY(sm_io_read_schema(ctx, file, &schema));
  int rc = sm_h5_get_attr_i64(ctx, file, "rows", &rows);
  if (rc == SM_OK)
    rc = sm_table_alloc(ctx, proto, &schema, 0);
  proto->n_rows_total = rows;
  sm_schema_free(&schema);
  return rc;
}

int sm_release_export_csv(sm_ctx *ctx, const char *path, const char *csv_path) {
  hid_t file;
  char *format;
  SM_TRY(sm_io_open(ctx, path, SM_RELEASE_FORMAT, &file, &format));
  free(format);
  sm_table proto;
  int rc = sm_agree(ctx, release_shape(ctx, file, &proto));

  /* an existing CSV is replaced, atomically, once the new one is complete */
  sm_stage st;
  if (rc == SM_OK) {
    rc = sm_stage_begin(ctx, csv_path, 1, &st);
    if (rc == SM_OK)
      rc = sm_stage_finish(ctx, &st, export_to(ctx, file, &proto, st.partial));
    sm_stage_free(&st);
  }
  sm_table_free(&proto);
  sm_io_close(file);
  if (rc == SM_OK)
    sm_log(ctx, SM_LOG_INFO, "export: %s written", csv_path);
  return rc;
}
