/* Reading releases back: this rank's block of rows, and a printed summary of a file. */
#include "synthmpi/release.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/h5util.h"
#include "io/io.h"

/* Collective. Schema, row count and this rank's block from an open release. */
static int read_block(sm_ctx *ctx, hid_t file, sm_table *out) {
  sm_schema schema;
  int64_t rows = 0, lo, hi;
  int rc = sm_io_read_schema(ctx, file, &schema);
  if (rc == SM_OK)
    rc = sm_h5_get_attr_i64(ctx, file, "rows", &rows);
  if (rc == SM_OK && rows < 0)
    rc = sm_fail(ctx, SM_EINPUT, "the rows attribute is negative (%lld)", (long long)rows);
  rc = sm_agree(ctx, rc);

  /* every rank reads its block of the rows */
  sm_partition(rows, ctx->size, ctx->rank, &lo, &hi);
  if (rc == SM_OK)
    rc = sm_agree(ctx, sm_table_alloc(ctx, out, &schema, hi - lo));
  if (rc == SM_OK) {
    out->row_offset = lo;
    out->n_rows_total = rows;
  }

  /* an empty release has no storage to read from (every rank knows rows) */
  if (rc == SM_OK && rows > 0)
    rc = sm_agree(ctx, sm_io_read_rows(ctx, file, lo, hi - lo, out));
  sm_schema_free(&schema);
  return rc;
}

int sm_release_read(sm_ctx *ctx, const char *path, sm_table *out) {
  memset(out, 0, sizeof(*out));
  hid_t file;
  char *format;
  SM_TRY(sm_io_open(ctx, path, SM_RELEASE_FORMAT, &file, &format));
  int rc = read_block(ctx, file, out);
  sm_io_close(file);
  free(format);
  if (rc != SM_OK)
    sm_table_free(out);
  return rc;
}

/* An attribute as text for printing ("?" when absent); malloc'd. */
static char *attr_text(sm_ctx *ctx, hid_t file, const char *name) {
  char *s = NULL;
  if (H5Aexists(file, name) <= 0)
    return sm_strdup("?");
  hid_t attr = H5Aopen(file, name, H5P_DEFAULT), type = attr >= 0 ? H5Aget_type(attr) : -1;
  int is_string = type >= 0 && H5Tget_class(type) == H5T_STRING;
  if (type >= 0)
    H5Tclose(type);
  if (attr >= 0)
    H5Aclose(attr);

  /* integers print as integers, strings as they are */
  int64_t v;
  if (is_string && sm_h5_get_attr_str(ctx, file, name, &s) == SM_OK)
    return s;
  if (!is_string && sm_h5_get_attr_i64(ctx, file, name, &v) == SM_OK) {
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)v);
    return sm_strdup(buf);
  }
  return sm_strdup("?");
}

/* Rank 0: the column table. */
static void print_columns(FILE *out, const sm_schema *s) {
  fprintf(out, "columns (%d):\n", s->n_cols);
  fprintf(out, "  %-24s %-12s %s\n", "name", "type", "categories or range");
  for (int j = 0; j < s->n_cols; j++) {
    const sm_column *c = &s->cols[j];
    char detail[128];
    if (sm_coltype_is_discrete(c->type))
      snprintf(detail, sizeof detail, "%d categories", c->n_categories);
    else if (c->type == SM_COL_DATETIME)
      snprintf(detail, sizeof detail, "[%.17g, %.17g] s, format %s", c->lo, c->hi,
               c->datetime_format ? c->datetime_format : "?");
    else
      snprintf(detail, sizeof detail, "[%.17g, %.17g]%s", c->lo, c->hi,
               c->has_domain ? " (declared)" : "");
    fprintf(out, "  %-24s %-12s %s\n", c->name, sm_coltype_name(c->type), detail);
  }
}

/* Rank 0: the experiment text, indented. */
static void print_indented(FILE *out, const char *text) {
  fprintf(out, "experiment:\n");
  const char *line = text;
  while (*line) {
    const char *end = strchr(line, '\n');
    int n = end ? (int)(end - line) : (int)strlen(line);
    fprintf(out, "    %.*s\n", n, line);
    line += n + (end ? 1 : 0);
  }
}

/* The header lines: (label, attribute) pairs for each kind of file. */
static const char *const release_fields[][2] = {
    {"rows:", "rows"},       {"synthmpi:", "version"}, {"model:", "model"}, {"seed:", "seed"},
    {"created:", "created"}, {"ranks:", "ranks"},      {"name:", "name"}};
static const char *const model_fields[][2] = {
    {"synthmpi:", "version"}, {"kind:", "kind"}, {"created:", "created"}, {"name:", "name"}};

/* Collective (attribute reads); rank 0 prints. */
static int print_summary(sm_ctx *ctx, const char *path, hid_t file, const char *format, FILE *out) {
  int is_release = strcmp(format, SM_RELEASE_FORMAT) == 0;
  const char *const(*fields)[2] = is_release ? release_fields : model_fields;
  int n_fields = is_release ? 7 : 4;
  struct stat sb;
  double bytes = stat(path, &sb) == 0 ? (double)sb.st_size : 0;
  if (ctx->rank == 0)
    fprintf(out, "%-10s %s\n%-10s %.1f MB (%.0f bytes)\n", "format:", format, "size:", bytes / 1e6,
            bytes);

  /* attributes as text, read by every rank (metadata reads are collective) */
  for (int i = 0; i < n_fields; i++) {
    char *v = attr_text(ctx, file, fields[i][1]);
    if (ctx->rank == 0)
      fprintf(out, "%-10s %s\n", fields[i][0], v ? v : "?");
    free(v);
  }

  /* the schema, then the experiment */
  sm_schema schema;
  SM_TRY(sm_io_read_schema(ctx, file, &schema));
  char *experiment = attr_text(ctx, file, "experiment");
  char *ledger =
      H5Aexists(file, "privacy_ledger") > 0 ? attr_text(ctx, file, "privacy_ledger") : NULL;
  if (ctx->rank == 0) {
    fprintf(out, "%-10s %s\n", "privacy:", ledger ? ledger : "none (not a private run)");
    print_columns(out, &schema);
    print_indented(out, experiment ? experiment : "");
    fflush(out);
  }
  free(experiment);
  free(ledger);
  sm_schema_free(&schema);
  return SM_OK;
}

int sm_release_inspect(sm_ctx *ctx, const char *path, FILE *out) {
  hid_t file;
  char *format;
  SM_TRY(sm_io_open(ctx, path, NULL, &file, &format));
  int rc = sm_agree(ctx, print_summary(ctx, path, file, format, out));
  sm_io_close(file);
  free(format);
  return rc;
}
