/* Private: pieces shared by the release writer, the readers, the CSV export and model files.
 *
 * Staging: a file is written as <path>.partial and renamed into place only after every
 * rank closed it and rank 0 synced it; on failure the partial file is removed.
 * Schema: stored as a JSON attribute "schema" on "/", the names in order as a JSON
 * attribute "columns", and each dictionary as a string dataset /categories/<name>.
 */
#ifndef SYNTHMPI_IO_IO_H
#define SYNTHMPI_IO_IO_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "synthmpi/config.h"
#include "synthmpi/model.h"
#include "synthmpi/table.h"

#define SM_RELEASE_FORMAT "synthmpi-release"
#define SM_MODEL_FORMAT "synthmpi-model"
#define SM_FORMAT_VERSION 1

/* A file being written beside its target. */
typedef struct sm_stage {
  char *path;    /* the target */
  char *partial; /* <path>.partial, where the data go first */
} sm_stage;

/* Collective. Check that path may be written: refuse an existing path unless overwrite,
 * create the directory (mkdir -p) and prove it writable by creating the partial file.
 * Fills st on every rank. Returns the agreed status (SM_EINPUT for unusable paths). */
int sm_stage_begin(sm_ctx *ctx, const char *path, int overwrite, sm_stage *st);

/* Collective. Called after every rank closed the partial file. Agrees on local_status;
 * on success rank 0 syncs the file, renames it into place and syncs the directory; on
 * any failure rank 0 removes the partial file. Returns the agreed status. */
int sm_stage_finish(sm_ctx *ctx, const sm_stage *st, int local_status);
void sm_stage_free(sm_stage *st);

/* Collective. The current time as ISO-8601 UTC, taken on rank 0 (same on every rank). */
int sm_io_now_utc(sm_ctx *ctx, char *buf, size_t size);

/* Collective. Attributes every synthmpi file carries on "/": format, format_version,
 * version, created, name, experiment, schema, columns; and the /categories group. */
int sm_io_write_header(sm_ctx *ctx, hid_t file, const char *format, const sm_experiment *e,
                       const sm_schema *schema);

/* Refuse column names that cannot be HDF5 link names ('/', "." or empty): SM_EINPUT. */
int sm_io_check_names(sm_ctx *ctx, const sm_schema *schema);

/* Collective. Open a finished synthmpi file read-only and check its format attribute.
 * want: the expected format, or NULL for either. Refuses "*.partial" files. On failure
 * *file is closed again (< 0) and the status is agreed. *format is malloc'd. */
int sm_io_open(sm_ctx *ctx, const char *path, const char *want, hid_t *file, char **format);

/* Close every object still open in the file, then the file itself (collective). */
void sm_io_close(hid_t file);

/* Collective. Rebuild the schema from the "schema" attribute and /categories. */
int sm_io_read_schema(sm_ctx *ctx, hid_t file, sm_schema *out);

/* Collective. Read rows [row0, row0 + n) of every column into t (capacity >= n rows;
 * n may be 0 on some ranks), converting to float64 with NaN for missing values. */
int sm_io_read_rows(sm_ctx *ctx, hid_t file, int64_t row0, int64_t n, sm_table *t);

/* A growing byte buffer. */
typedef struct sm_buf {
  char *data;
  size_t len, cap;
} sm_buf;

int sm_buf_append(sm_buf *b, const char *s, size_t n);
void sm_buf_free(sm_buf *b);

/* Append a string field, quoted per RFC 4180 when it holds the delimiter, a quote or a
 * line break. Values of a column get their text from sm_format_value (synthmpi/data.h). */
int sm_csv_append_field(sm_buf *b, const char *s, char delimiter);

/* Collective. The ledger as the JSON attribute "privacy_ledger" on obj; nothing when the
 * ledger is empty (not a private run). */
int sm_io_write_ledger(sm_ctx *ctx, hid_t obj, const sm_ledger *l);
/* Collective. Read "privacy_ledger" from obj into l when present (l stays empty if not). */
int sm_io_read_ledger(sm_ctx *ctx, hid_t obj, sm_ledger *l);

/* Collective. sm_model_load with the operations given (ops->kind must match the file's
 * kind); with ops NULL the kind is looked up in the registry. */
int sm_model_load_ops(sm_ctx *ctx, const char *path, const sm_model_ops *ops, sm_model *m);

#endif
