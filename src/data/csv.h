/* Private: the pieces of the parallel CSV reader.
 *
 * The reader runs in phases, each ending with every rank agreeing on the status:
 *   prefix   rank 0 skips the leading lines and reads the header; all ranks learn where
 *            the data rows begin (csv_prefix_read);
 *   chunk    every rank reads its byte range and the ranks agree on row boundaries, so
 *            rank r holds the whole rows [start_r, start_{r+1}) (csv_chunk_read);
 *   rows     each rank cuts its rows into fields in place (csv_rows_cut);
 *   columns  types, dictionaries and values (reader.c, dictionary.c).
 */
#ifndef SYNTHMPI_DATA_CSV_H
#define SYNTHMPI_DATA_CSV_H

#include <stdint.h>

#include "synthmpi/config.h"
#include "synthmpi/table.h"

/* Where the data rows begin; the same on every rank after csv_prefix_read. */
typedef struct csv_prefix {
  int64_t file_size;  /* bytes in the file */
  int64_t data_start; /* byte offset of the first data row */
  int64_t data_line;  /* 1-based file line of that byte */
  int n_names;        /* header fields; 0 without a header */
  char **names;       /* (n_names) header names */
} csv_prefix;

/* This rank's whole rows: the file bytes [start, end), NUL-terminated and writable. */
typedef struct csv_chunk {
  char *bytes;        /* (end - start + 1) */
  int64_t start, end; /* byte range in the file; start == end when the rank has no rows */
  int64_t first_line; /* file line of bytes[0] */
} csv_chunk;

/* The chunk's records cut into fields; cells point into the chunk's bytes (or at a
 * replacement string after value mapping); NULL marks a missing value. */
typedef struct csv_rows {
  int n_fields;   /* fields per record */
  int64_t n_rows; /* records on this rank */
  char **cells;   /* (n_rows, n_fields) row-major */
  int64_t *line;  /* (n_rows) file line where each record starts */
} csv_rows;

/* Collective. Find the first data byte (after a BOM, src->skip_lines lines, blank lines
 * and the header when src->header) and the header names. Errors name src->path. */
int csv_prefix_read(sm_ctx *ctx, const sm_source_spec *src, csv_prefix *out);
void csv_prefix_free(csv_prefix *p);

/* Collective. Read this rank's share of [data_start, file_size) plus the rest of its last
 * row, with row boundaries agreed across ranks even when quoted fields hold newlines. */
int csv_chunk_read(sm_ctx *ctx, const sm_source_spec *src, const csv_prefix *pre, csv_chunk *out);
void csv_chunk_free(csv_chunk *c);

/* Local. Cut the chunk's records into n_fields fields each, skipping blank lines.
 * A record with another field count or an unbalanced quote fails with path:line. */
int csv_rows_cut(sm_ctx *ctx, const sm_source_spec *src, csv_chunk *chunk, int n_fields,
                 csv_rows *out);
void csv_rows_free(csv_rows *r);

/* Local. Cut one record starting at *pos (before end) into fields, in place; advances
 * *pos past the record's line end and *line by the newlines passed. *fields grows as
 * needed (*cap entries); *n_found receives the field count. */
int csv_record_cut(sm_ctx *ctx, const sm_source_spec *src, char **pos, char *end, char ***fields,
                   int *cap, int *n_found, int64_t *line);

/* Collective. Merge the distinct strings every rank holds in values (n local entries,
 * duplicates allowed) into one sorted (strcmp) dictionary set on col. */
int csv_dictionary_merge(sm_ctx *ctx, char **values, int64_t n, sm_column *col);

/* Local. Sort strings (strcmp) and drop duplicates in place; returns the new count. */
int64_t csv_sort_unique(char **strings, int64_t n);

/* Local. Text to value; each returns 1 when s is a valid value of the kind, else 0.
 * Integers: optional sign and digits, magnitude at most 2^53. Finite numbers: strtod syntax, no
 * NaN or infinity. Booleans: true/false, yes/no, t/f, 1/0 (any case) to 1/0. Datetimes:
 * the whole text matches the strptime format; seconds since the epoch, UTC. */
int csv_parse_integer(const char *s, double *v);
int csv_parse_finite(const char *s, double *v);
int csv_parse_boolean(const char *s, double *v);
int csv_parse_datetime(const char *s, const char *format, double *v);

/* The datetime format used when a column declares none. */
#define CSV_DEFAULT_DATETIME_FORMAT "%Y-%m-%d"

/* Integers are held as doubles: larger magnitudes would not be exact. */
#define CSV_INTEGER_MAX 9007199254740992LL /* 2^53 */

#endif
