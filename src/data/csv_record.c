/* Cutting CSV records into fields (RFC 4180), in place.
 *
 * A field is quoted when its first character (after spaces, when trimming) is '"'; inside
 * it, "" stands for one quote and delimiters and newlines are text. A quote anywhere in an
 * unquoted field is an error, which keeps the cut rows in step with the quote-parity rule
 * that places row boundaries (csv_scan.c). Unquoted fields lose a trailing '\r' at the end
 * of a record and, when trimming, surrounding spaces and tabs. Fields are unescaped over
 * their own bytes and NUL-terminated where their delimiter or line end was.
 */
#include "data/csv.h"

#include <stdlib.h>
#include <string.h>

static int is_space(char c, char delimiter) {
  return (c == ' ' || c == '\t') && c != delimiter;
}

/* What follows a field: 0 a delimiter (more fields), 1 the end of the record. */
enum { FIELD_MORE = 0, FIELD_LAST = 1 };

/* Consume the delimiter or line end at *pos. Returns FIELD_MORE, FIELD_LAST or -1 when
 * something else is there. */
static int field_terminator(char **pos, char *end, char delimiter, int64_t *line) {
  char *p = *pos;
  if (p == end)
    return FIELD_LAST;
  if (*p == delimiter) {
    *pos = p + 1;
    return FIELD_MORE;
  }
  if (*p == '\n' || (*p == '\r' && (p + 1 == end || p[1] == '\n'))) {
    p += *p == '\r' ? 1 : 0;
    *line += p < end;
    *pos = p < end ? p + 1 : p;
    return FIELD_LAST;
  }
  return -1;
}

/* A quoted field starting at the quote *pos: unescape over its own bytes. */
static int cut_quoted(sm_ctx *ctx, const sm_source_spec *src, char **pos, char *end, char **field,
                      int *last, int64_t *line) {
  int64_t open_line = *line;
  char *p = *pos + 1, *w = *pos;
  *field = w;

  /* text up to the closing quote */
  for (;;) {
    if (p == end)
      return sm_fail(ctx, SM_EINPUT,
                     "%s:%lld: unbalanced quote: the field opened here is never "
                     "closed",
                     src->path, (long long)open_line);
    if (*p == '"' && p + 1 < end && p[1] == '"') {
      *w++ = '"';
      p += 2;
    } else if (*p == '"') {
      p++;
      break;
    } else {
      *line += *p == '\n';
      *w++ = *p++;
    }
  }

  /* spaces, then the delimiter or line end */
  while (src->trim && p < end && is_space(*p, src->delimiter))
    p++;
  int64_t here = *line;
  *last = field_terminator(&p, end, src->delimiter, line);
  if (*last < 0)
    return sm_fail(ctx, SM_EINPUT, "%s:%lld: unexpected character after a closing quote", src->path,
                   (long long)here);
  *w = '\0';
  *pos = p;
  return SM_OK;
}

/* An unquoted field: runs to the delimiter or line end. */
static int cut_plain(sm_ctx *ctx, const sm_source_spec *src, char **pos, char *end, char **field,
                     int *last, int64_t *line) {
  char *s = *pos, *p = *pos;
  while (p < end && *p != src->delimiter && *p != '\n') {
    if (*p == '"')
      return sm_fail(ctx, SM_EINPUT,
                     "%s:%lld: quote inside an unquoted field (quote the whole "
                     "field and double the quotes inside it)",
                     src->path, (long long)*line);
    p++;
  }

  /* a record's last field drops the '\r' of a CRLF line end */
  char *e = p;
  *last = (p == end || *p == '\n') ? FIELD_LAST : FIELD_MORE;
  if (*last == FIELD_LAST && e > s && e[-1] == '\r')
    e--;
  while (src->trim && e > s && is_space(e[-1], src->delimiter))
    e--;
  if (p < end) {
    *line += *p == '\n';
    p++;
  }
  *e = '\0';
  *field = s;
  *pos = p;
  return SM_OK;
}

/* Append one field pointer, growing the array. */
static int push_field(sm_ctx *ctx, char ***fields, int *cap, int n, char *field) {
  if (n == *cap) {
    int grown_cap = *cap ? 2 * *cap : 16;
    char **grown = realloc(*fields, (size_t)grown_cap * sizeof(char *));
    if (!grown)
      return sm_fail(ctx, SM_ERR, "out of memory cutting fields");
    *fields = grown;
    *cap = grown_cap;
  }
  (*fields)[n] = field;
  return SM_OK;
}

int csv_record_cut(sm_ctx *ctx, const sm_source_spec *src, char **pos, char *end, char ***fields,
                   int *cap, int *n_found, int64_t *line) {
  char *p = *pos;
  int n = 0, last = FIELD_MORE;

  /* fields until the line end that is outside quotes */
  while (last == FIELD_MORE) {
    char *field = NULL;
    while (src->trim && p < end && is_space(*p, src->delimiter))
      p++;
    if (p < end && *p == '"')
      SM_TRY(cut_quoted(ctx, src, &p, end, &field, &last, line));
    else
      SM_TRY(cut_plain(ctx, src, &p, end, &field, &last, line));
    SM_TRY(push_field(ctx, fields, cap, n++, field));
  }
  *n_found = n;
  *pos = p;
  return SM_OK;
}

/* Make room for one more row of n_fields cells. */
static int rows_grow(sm_ctx *ctx, csv_rows *r, int64_t *cap) {
  if (r->n_rows < *cap)
    return SM_OK;
  int64_t grown_cap = *cap ? 2 * *cap : 1024;
  char **cells = realloc(r->cells, (size_t)(grown_cap * r->n_fields) * sizeof(char *));
  if (cells)
    r->cells = cells;
  int64_t *line = realloc(r->line, (size_t)grown_cap * sizeof(int64_t));
  if (line)
    r->line = line;
  if (!cells || !line)
    return sm_fail(ctx, SM_ERR, "out of memory holding %lld rows", (long long)grown_cap);
  *cap = grown_cap;
  return SM_OK;
}

int csv_rows_cut(sm_ctx *ctx, const sm_source_spec *src, csv_chunk *chunk, int n_fields,
                 csv_rows *out) {
  memset(out, 0, sizeof(*out));
  out->n_fields = n_fields;
  char *p = chunk->bytes, *end = chunk->bytes + (chunk->end - chunk->start);
  int64_t line = chunk->first_line, cap = 0;
  char **fields = NULL;
  int field_cap = 0, n_found = 0, rc = SM_OK;

  while (rc == SM_OK && p < end) {
    /* blank lines (empty, or a lone CR before the newline) are skipped */
    if (*p == '\n' || (*p == '\r' && (p + 1 == end || p[1] == '\n'))) {
      p += (*p == '\r' && p + 1 < end) ? 2 : 1;
      line++;
      continue;
    }

    /* one record; its field count must match */
    int64_t row_line = line;
    rc = csv_record_cut(ctx, src, &p, end, &fields, &field_cap, &n_found, &line);
    if (rc == SM_OK && n_found != n_fields)
      rc = sm_fail(ctx, SM_EINPUT, "%s:%lld: expected %d fields, found %d", src->path,
                   (long long)row_line, n_fields, n_found);
    if (rc == SM_OK)
      rc = rows_grow(ctx, out, &cap);
    if (rc == SM_OK) {
      memcpy(out->cells + out->n_rows * n_fields, fields, (size_t)n_fields * sizeof(char *));
      out->line[out->n_rows++] = row_line;
    }
  }
  free(fields);
  return rc;
}

void csv_rows_free(csv_rows *r) {
  if (!r)
    return;
  free(r->cells);
  free(r->line);
  memset(r, 0, sizeof(*r));
}
