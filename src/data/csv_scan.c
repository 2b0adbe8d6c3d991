/* Parallel CSV scanning: the file prefix (skipped lines, header) and each rank's rows.
 *
 * Row boundaries: a row starts at the first data byte and after every newline that is
 * outside quotes. Every '"' flips the quote state (a doubled quote flips it twice), so the
 * state at any byte is the parity of the quotes before it. Each rank counts the quotes of
 * its byte range and an exclusive scan gives the state at the range's first byte; the
 * rank then claims the first row start inside its range, and rank r holds the rows from
 * its start up to the next claimed start (or the end of the file).
 */
#include "data/csv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Read exactly n bytes at offset, retrying short reads. Returns 0, or -1 with errno. */
static int read_at(int fd, char *buf, int64_t n, int64_t offset) {
  int64_t done = 0;
  while (done < n) {
    ssize_t got = pread(fd, buf + done, (size_t)(n - done), (off_t)(offset + done));
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0) {
      if (got == 0)
        errno = EIO;
      return -1;
    }
    done += got;
  }
  return 0;
}

/* Open the source read-only; on failure record "path: cannot open: reason". */
static int open_source(sm_ctx *ctx, const sm_source_spec *src, int *fd, int64_t *size) {
  struct stat st;
  *fd = open(src->path, O_RDONLY);
  if (*fd < 0)
    return sm_fail(ctx, SM_EINPUT, "%s: cannot open: %s", src->path, strerror(errno));
  if (fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(*fd);
    *fd = -1;
    return sm_fail(ctx, SM_EINPUT, "%s: not a readable regular file", src->path);
  }
  *size = (int64_t)st.st_size;
  return SM_OK;
}

/* Position after the line end that closes the line starting at pos, or -1 when the
 * buffer ends first. Quotes are ignored (skipped lines are free text). */
static int64_t line_end(const char *buf, int64_t len, int64_t pos) {
  const char *nl = memchr(buf + pos, '\n', (size_t)(len - pos));
  return nl ? (int64_t)(nl - buf) + 1 : -1;
}

/* Position after the first newline outside quotes from pos, or -1. */
static int64_t record_end(const char *buf, int64_t len, int64_t pos) {
  int quoted = 0;
  for (int64_t i = pos; i < len; i++) {
    if (buf[i] == '"')
      quoted = !quoted;
    else if (buf[i] == '\n' && !quoted)
      return i + 1;
  }
  return -1;
}

static int is_blank_line(const char *buf, int64_t len, int64_t pos) {
  if (buf[pos] == '\n')
    return 1;
  return buf[pos] == '\r' && (pos + 1 == len || buf[pos + 1] == '\n');
}

/* Scan the prefix held in buf (len bytes; eof when it is the whole file). Returns 1 when
 * more bytes are needed, else 0 with the data start, its line and the header's byte
 * range [*hdr_lo, *hdr_hi) (empty without a header). */
static int scan_prefix(const sm_source_spec *src, const char *buf, int64_t len, int eof,
                       int64_t *data_start, int64_t *data_line, int64_t *hdr_lo, int64_t *hdr_hi) {
  int64_t pos = 0, line = 1;

  /* a UTF-8 byte order mark at the start of the file */
  if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
    pos = 3;
  else if (len < 3 && !eof)
    return 1;

  /* skipped lines: free text, quotes ignored */
  for (int k = 0; k < src->skip_lines && pos < len; k++, line++) {
    int64_t e = line_end(buf, len, pos);
    if (e < 0 && !eof)
      return 1;
    pos = e < 0 ? len : e;
  }

  /* the header record, after any blank lines */
  *hdr_lo = *hdr_hi = pos;
  if (src->header) {
    while (pos < len && is_blank_line(buf, len, pos)) {
      int64_t e = line_end(buf, len, pos);
      pos = e < 0 ? len : e;
      line++;
    }
    int64_t e = record_end(buf, len, pos);
    if (e < 0 && !eof)
      return 1;
    *hdr_lo = pos;
    *hdr_hi = e < 0 ? len : e;
    for (int64_t i = pos; i < *hdr_hi; i++)
      line += buf[i] == '\n';
    pos = *hdr_hi;
  }
  *data_start = pos;
  *data_line = line;
  return 0;
}

/* Rank 0: read the file's beginning until the prefix is complete and cut the header. */
static int prefix_local(sm_ctx *ctx, const sm_source_spec *src, csv_prefix *out) {
  int fd = -1;
  SM_TRY(open_source(ctx, src, &fd, &out->file_size));
  int rc = SM_OK;
  char *buf = NULL;
  int64_t len = 0, hdr_lo = 0, hdr_hi = 0;

  /* read growing blocks until the header (or the end of the file) is in the buffer */
  for (int64_t want = 65536;; want *= 2) {
    len = want < out->file_size ? want : out->file_size;
    char *grown = realloc(buf, (size_t)len + 1);
    if (!grown) {
      rc = sm_fail(ctx, SM_ERR, "out of memory reading the start of %s", src->path);
      break;
    }
    buf = grown;
    if (read_at(fd, buf, len, 0) != 0) {
      rc = sm_fail(ctx, SM_EINPUT, "%s: read failed: %s", src->path, strerror(errno));
      break;
    }
    int eof = len == out->file_size;
    if (scan_prefix(src, buf, len, eof, &out->data_start, &out->data_line, &hdr_lo, &hdr_hi) == 0)
      break;
  }
  close(fd);

  /* the header's fields, cut in place */
  if (rc == SM_OK && src->header && hdr_hi > hdr_lo) {
    char *pos = buf + hdr_lo;
    int64_t line = out->data_line;
    for (int64_t i = hdr_lo; i < hdr_hi; i++)
      line -= buf[i] == '\n';
    int cap = 0;
    rc = csv_record_cut(ctx, src, &pos, buf + hdr_hi, &out->names, &cap, &out->n_names, &line);
    for (int j = 0; rc == SM_OK && j < out->n_names; j++)
      if (!(out->names[j] = sm_strdup(out->names[j])))
        rc = sm_fail(ctx, SM_ERR, "out of memory copying the header");
  }
  free(buf);
  return rc;
}

/* Rank 0's prefix to every rank: four numbers, then the header names packed. */
static int prefix_bcast(sm_ctx *ctx, csv_prefix *p) {
  int64_t nums[4] = {p->file_size, p->data_start, p->data_line, p->n_names};
  SM_MPI_CHECK(ctx, MPI_Bcast(nums, 4, MPI_INT64_T, 0, ctx->comm));
  p->file_size = nums[0];
  p->data_start = nums[1];
  p->data_line = nums[2];

  /* names as one buffer of NUL-terminated strings */
  int bytes = 0;
  for (int j = 0; ctx->rank == 0 && j < p->n_names; j++)
    bytes += (int)strlen(p->names[j]) + 1;
  SM_MPI_CHECK(ctx, MPI_Bcast(&bytes, 1, MPI_INT, 0, ctx->comm));
  char *packed = sm_malloc(ctx, (size_t)bytes + 1);
  if (!packed)
    return SM_ERR;
  for (int j = 0, at = 0; ctx->rank == 0 && j < p->n_names; j++) {
    memcpy(packed + at, p->names[j], strlen(p->names[j]) + 1);
    at += (int)strlen(p->names[j]) + 1;
  }
  int mrc = MPI_Bcast(packed, bytes, MPI_CHAR, 0, ctx->comm);
  if (mrc != MPI_SUCCESS) {
    free(packed);
    return sm_fail_mpi(ctx, mrc, "MPI_Bcast(header names)", __FILE__, __LINE__);
  }

  /* other ranks unpack */
  int rc = SM_OK;
  if (ctx->rank != 0) {
    p->n_names = (int)nums[3];
    p->names = calloc((size_t)p->n_names + 1, sizeof(char *));
    for (int j = 0, at = 0; p->names && j < p->n_names; j++) {
      p->names[j] = sm_strdup(packed + at);
      at += (int)strlen(packed + at) + 1;
      if (!p->names[j])
        rc = SM_ERR;
    }
    if (!p->names || rc != SM_OK)
      rc = sm_fail(ctx, SM_ERR, "out of memory copying the header");
  }
  free(packed);
  return rc;
}

int csv_prefix_read(sm_ctx *ctx, const sm_source_spec *src, csv_prefix *out) {
  memset(out, 0, sizeof(*out));

  /* rank 0 reads the start of the file */
  int rc = ctx->rank == 0 ? prefix_local(ctx, src, out) : SM_OK;
  if (rc == SM_OK && ctx->rank == 0 && out->file_size == 0)
    rc = sm_fail(ctx, SM_EINPUT, "%s: empty file", src->path);
  if (rc == SM_OK && ctx->rank == 0 && out->data_start >= out->file_size)
    rc = sm_fail(ctx, SM_EINPUT, "%s: no data rows", src->path);
  SM_TRY(sm_agree(ctx, rc));

  /* everyone learns it */
  return sm_agree(ctx, prefix_bcast(ctx, out));
}

void csv_prefix_free(csv_prefix *p) {
  for (int j = 0; p && p->names && j < p->n_names; j++)
    free(p->names[j]);
  if (p)
    free(p->names);
}

/* Quotes and newlines in buf. */
static void count_bytes(const char *buf, int64_t n, int64_t *quotes, int64_t *newlines) {
  int64_t q = 0, nl = 0;
  for (int64_t i = 0; i < n; i++) {
    q += buf[i] == '"';
    nl += buf[i] == '\n';
  }
  *quotes = q;
  *newlines = nl;
}

/* The first row start in [lo, lo + n) given the quote state at lo and whether the byte
 * before lo is a newline; -1 when the range holds none. */
static int64_t first_row_start(const char *buf, int64_t n, int64_t lo, int quoted,
                               int after_newline) {
  if (n == 0)
    return -1;
  if (after_newline && !quoted)
    return lo;
  for (int64_t i = 0; i + 1 < n; i++) {
    if (buf[i] == '"')
      quoted = !quoted;
    else if (buf[i] == '\n' && !quoted)
      return lo + i + 1;
  }
  return -1;
}

/* The start claimed by the next rank that claims one, or file_size. */
static int next_start(sm_ctx *ctx, int64_t mine, int64_t file_size, int64_t *end) {
  int64_t *starts = sm_malloc(ctx, (size_t)ctx->size * sizeof(int64_t));
  if (!starts)
    return SM_ERR;
  int mrc = MPI_Allgather(&mine, 1, MPI_INT64_T, starts, 1, MPI_INT64_T, ctx->comm);
  *end = file_size;
  for (int r = ctx->rank + 1; r < ctx->size; r++)
    if (starts[r] >= 0) {
      *end = starts[r];
      break;
    }
  free(starts);
  if (mrc != MPI_SUCCESS)
    return sm_fail_mpi(ctx, mrc, "MPI_Allgather(row starts)", __FILE__, __LINE__);
  return SM_OK;
}

/* Read this rank's range [lo, hi) and the byte before it. */
static int read_range(sm_ctx *ctx, const sm_source_spec *src, int fd, int64_t lo, int64_t hi,
                      int64_t data_start, char **buf, int *after_newline) {
  char before = '\n';
  *buf = sm_malloc(ctx, (size_t)(hi - lo) + 1);
  if (!*buf)
    return SM_ERR;
  if (read_at(fd, *buf, hi - lo, lo) != 0 || (lo > data_start && read_at(fd, &before, 1, lo - 1)))
    return sm_fail(ctx, SM_EINPUT, "%s: read failed: %s", src->path, strerror(errno));
  *after_newline = before == '\n';
  return SM_OK;
}

/* Keep [start, end) of the file: move the part already read to the front, read the rest. */
static int extend_to_row_end(sm_ctx *ctx, const sm_source_spec *src, int fd, char *buf, int64_t lo,
                             int64_t hi, csv_chunk *c) {
  int64_t len = c->end - c->start, have = hi - c->start;
  memmove(buf, buf + (c->start - lo), (size_t)have);
  char *grown = realloc(buf, (size_t)len + 1);
  if (!grown) {
    free(buf);
    return sm_fail(ctx, SM_ERR, "out of memory reading %s", src->path);
  }
  c->bytes = grown;
  c->bytes[len] = '\0';
  if (len > have && read_at(fd, c->bytes + have, len - have, hi) != 0)
    return sm_fail(ctx, SM_EINPUT, "%s: read failed: %s", src->path, strerror(errno));
  return SM_OK;
}

/* The collective part of csv_chunk_read after the range is read: quote state, line
 * number and row start of every rank. */
static int agree_rows(sm_ctx *ctx, const csv_prefix *pre, const char *buf, int64_t lo, int64_t hi,
                      int after_newline, csv_chunk *c) {
  int64_t counts[2], before[2] = {0, 0};
  count_bytes(buf, hi - lo, &counts[0], &counts[1]);
  SM_MPI_CHECK(ctx, MPI_Exscan(counts, before, 2, MPI_INT64_T, MPI_SUM, ctx->comm));
  if (ctx->rank == 0)
    before[0] = before[1] = 0;

  /* the first row start in the range: rank 0's range begins with the first row */
  int quoted = (int)(before[0] & 1);
  int64_t start = lo == pre->data_start && lo < hi
                      ? lo
                      : first_row_start(buf, hi - lo, lo, quoted, after_newline);
  int64_t end = 0;
  SM_TRY(next_start(ctx, start, pre->file_size, &end));

  /* line of the first byte held */
  c->start = start < 0 ? hi : start;
  c->end = start < 0 ? hi : end;
  c->first_line = pre->data_line + before[1];
  for (int64_t i = 0; i < c->start - lo; i++)
    c->first_line += buf[i] == '\n';
  return SM_OK;
}

int csv_chunk_read(sm_ctx *ctx, const sm_source_spec *src, const csv_prefix *pre, csv_chunk *out) {
  memset(out, 0, sizeof(*out));
  int fd = -1;
  int64_t size = 0, lo = 0, hi = 0;
  char *buf = NULL;
  int after_newline = 0;

  /* every rank reads its block of the data bytes */
  int rc = open_source(ctx, src, &fd, &size);
  if (rc == SM_OK && size != pre->file_size)
    rc = sm_fail(ctx, SM_EINPUT, "%s: file changed while being read", src->path);
  sm_partition(pre->file_size - pre->data_start, ctx->size, ctx->rank, &lo, &hi);
  lo += pre->data_start;
  hi += pre->data_start;
  if (rc == SM_OK)
    rc = read_range(ctx, src, fd, lo, hi, pre->data_start, &buf, &after_newline);
  rc = sm_agree(ctx, rc);

  /* agree on row starts, then complete the last row */
  if (rc == SM_OK)
    rc = sm_agree(ctx, agree_rows(ctx, pre, buf, lo, hi, after_newline, out));
  if (rc == SM_OK) {
    rc = extend_to_row_end(ctx, src, fd, buf, lo, hi, out);
    buf = NULL;
  }
  free(buf);
  if (fd >= 0)
    close(fd);
  return sm_agree(ctx, rc);
}

void csv_chunk_free(csv_chunk *c) {
  if (c)
    free(c->bytes);
}
