/* The release writer: every rank samples its block of rows in chunks and writes them
 * collectively to one HDF5 file, staged as <path>.partial. */
#include "synthmpi/release.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "io/h5util.h"
#include "io/io.h"
#include "io/release_internal.h"

/* Largest HDF5 chunk, in rows (8 MiB of float64). */
#define MAX_CHUNK_ROWS ((int64_t)1 << 20)
/* Seconds between progress lines. */
#define PROGRESS_EVERY 5.0
/* Rows per call of the model's sample: one block of every column stays in cache while it is
 * converted to its stored type. Blocks start at global multiples of this size, so a model
 * that works in aligned blocks of its own (TVAE: 1024 rows) never has one split by two
 * calls. */
#define SAMPLE_CALL_ROWS 1024

/* Progress of the write, for rank 0's log lines. */
typedef struct release_progress {
  double t0, last;          /* start, last line (MPI_Wtime) */
  int64_t rows;             /* global rows in the release */
  int64_t chunk;            /* rows per rank per iteration */
  double sampling, writing; /* this rank's seconds in each */
} release_progress;

static hid_t file_type(sm_coltype t) {
  if (t == SM_COL_INTEGER)
    return H5T_STD_I64LE;
  return sm_coltype_is_discrete(t) ? H5T_STD_I32LE : H5T_IEEE_F64LE;
}

static hid_t memory_type(sm_coltype t) {
  if (t == SM_COL_INTEGER)
    return H5T_NATIVE_INT64;
  return sm_coltype_is_discrete(t) ? H5T_NATIVE_INT32 : H5T_NATIVE_DOUBLE;
}

static size_t stored_size(sm_coltype t) {
  return sm_coltype_is_discrete(t) ? 4 : 8;
}

/* Bytes of the column data of a release of `rows` rows (without compression). */
static double data_bytes(const sm_schema *s, int64_t rows) {
  double bytes = 0;
  for (int j = 0; j < s->n_cols; j++)
    bytes += (double)stored_size(s->cols[j].type) * (double)rows;
  return bytes;
}

static const char *missing_words(sm_coltype t) {
  if (t == SM_COL_INTEGER)
    return "-9223372036854775808 (INT64_MIN)";
  return sm_coltype_is_discrete(t) ? "-1" : "NaN";
}

/* Local. Check the experiment's sampling settings and the schema before any work. */
static int check_request(sm_ctx *ctx, const sm_experiment *e, const sm_model *model) {
  const sm_sampling_spec *s = &e->sampling;
  if (!model || !model->ops || !model->ops->sample)
    return sm_fail(ctx, SM_ERR, "no fitted model to sample from");
  if (s->rows < 0)
    return sm_fail(ctx, SM_EINPUT, "sampling.rows must not be negative (got %lld)",
                   (long long)s->rows);
  if (s->chunk_rows < 1)
    return sm_fail(ctx, SM_EINPUT, "sampling.chunk_rows must be at least 1 (got %lld)",
                   (long long)s->chunk_rows);
  if (s->compression < 0 || s->compression > 9)
    return sm_fail(ctx, SM_EINPUT, "sampling.compression must be 0..9 (got %d)", s->compression);
  SM_TRY(sm_release_check_conditions(ctx, e, &model->schema));
  return sm_io_check_names(ctx, &model->schema);
}

/* Collective. Dataset creation properties: chunked by chunk_rows (capped), deflate when
 * asked. Empty releases are contiguous (a chunk may not exceed a fixed dimension). */
static hid_t column_dcpl(sm_ctx *ctx, int64_t rows, int64_t chunk_rows, int compression) {
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (dcpl < 0 || rows == 0)
    return dcpl;
  hsize_t chunk = (hsize_t)(chunk_rows < rows ? chunk_rows : rows);
  if (chunk > (hsize_t)MAX_CHUNK_ROWS)
    chunk = (hsize_t)MAX_CHUNK_ROWS;
  if (H5Pset_chunk(dcpl, 1, &chunk) < 0)
    goto fail;

  /* required in parallel: unfiltered chunks are allocated when the dataset is created;
   * filtered ones (HDF5 >= 1.10.2) are allocated collectively as they are written */
  if (compression > 0 && H5Pset_deflate(dcpl, (unsigned)compression) < 0)
    goto fail;
  if (compression == 0 && H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) < 0)
    goto fail;

  /* optional: every element is written, so fill values would be written in vain */
  if (H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0)
    goto fail;
  return dcpl;

fail:
  H5Pclose(dcpl);
  sm_fail_h5(ctx, "dataset creation properties", __FILE__, __LINE__);
  return -1;
}

/* Collective. The per-column attributes: type, missing value, datetime format. */
static int column_attrs(sm_ctx *ctx, hid_t dset, const sm_column *c) {
  SM_TRY(sm_h5_attr_str(ctx, dset, "type", sm_coltype_name(c->type)));
  SM_TRY(sm_h5_attr_str(ctx, dset, "missing_value", missing_words(c->type)));
  if (c->type == SM_COL_DATETIME)
    SM_TRY(sm_h5_attr_str(ctx, dset, "format", c->datetime_format ? c->datetime_format : ""));
  if (sm_coltype_is_discrete(c->type)) {
    char where[1024];
    snprintf(where, sizeof where, "/categories/%s", c->name);
    SM_TRY(sm_h5_attr_str(ctx, dset, "categories", where));
  }
  return SM_OK;
}

/* Collective. Create /columns and one dataset per column. */
static int create_columns(sm_ctx *ctx, release_writer *w, const sm_schema *s,
                          const sm_sampling_spec *spec) {
  hid_t group = H5Gcreate2(w->file, "columns", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  SM_H5_CHECK(ctx, group);
  hsize_t dims = (hsize_t)spec->rows;
  hid_t space = H5Screate_simple(1, &dims, NULL);
  SM_H5_CHECK(ctx, space);
  hid_t dcpl = column_dcpl(ctx, spec->rows, spec->chunk_rows, spec->compression);
  if (dcpl < 0)
    return SM_ERR;

  /* datasets in schema order */
  for (int j = 0; j < s->n_cols; j++) {
    const sm_column *c = &s->cols[j];
    w->dsets[j] =
        H5Dcreate2(group, c->name, file_type(c->type), space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    SM_H5_CHECK(ctx, w->dsets[j]);
    SM_TRY(column_attrs(ctx, w->dsets[j], c));
  }
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Gclose(group);
  return SM_OK;
}

/* Collective. Create the partial file with its attributes and empty datasets. */
static int writer_open(sm_ctx *ctx, release_writer *w, const sm_experiment *e,
                       const sm_model *model, const char *partial) {
  w->n_cols = model->schema.n_cols;
  w->dsets = sm_calloc(ctx, (size_t)(w->n_cols > 0 ? w->n_cols : 1), sizeof(hid_t));
  if (!w->dsets)
    return SM_ERR;
  for (int j = 0; j < w->n_cols; j++)
    w->dsets[j] = -1;
  w->file = sm_h5_create(ctx, partial);
  if (w->file < 0)
    return SM_EINPUT;

  /* provenance, then what this release is */
  SM_TRY(sm_io_write_header(ctx, w->file, SM_RELEASE_FORMAT, e, &model->schema));
  SM_TRY(sm_h5_attr_i64(ctx, w->file, "rows", e->sampling.rows));
  SM_TRY(sm_h5_attr_i64(ctx, w->file, "seed", (int64_t)e->sampling.seed));
  SM_TRY(sm_h5_attr_str(ctx, w->file, "model", model->ops->kind ? model->ops->kind : ""));
  SM_TRY(sm_h5_attr_i64(ctx, w->file, "ranks", ctx->size));
  SM_TRY(sm_io_write_ledger(ctx, w->file, &model->ledger));

  /* required: collective transfers, so filtered chunks shared by ranks are written once */
  w->dxpl = H5Pcreate(H5P_DATASET_XFER);
  SM_H5_CHECK(ctx, w->dxpl);
  SM_H5_CHECK(ctx, H5Pset_dxpl_mpio(w->dxpl, H5FD_MPIO_COLLECTIVE));
  return create_columns(ctx, w, &model->schema, &e->sampling);
}

/* Collective. Close everything; returns the first failure of H5Fclose. */
static int writer_close(sm_ctx *ctx, release_writer *w) {
  for (int j = 0; j < w->n_cols && w->dsets; j++)
    if (w->dsets[j] >= 0)
      H5Dclose(w->dsets[j]);
  free(w->dsets);
  w->dsets = NULL;
  if (w->dxpl >= 0)
    H5Pclose(w->dxpl);
  if (w->file < 0)
    return SM_OK;
  sm_h5_close_objects(w->file);
  SM_H5_CHECK(ctx, H5Fclose(w->file));
  return SM_OK;
}

/* Local. In place: values [first, first + n) of a sampled float64 integer column become
 * int64. Whole numbers, the usual case, skip llround. row0: the global row of v[0]. */
static int integers_to_disk(sm_ctx *ctx, const sm_column *c, double *v, int64_t first, int64_t n,
                            int64_t row0) {
  for (int64_t i = first; i < first + n; i++) {
    double x = v[i];
    int64_t k = INT64_MIN;
    if (!isnan(x)) {
      if (!(fabs(x) < 9.2e18))
        return sm_fail(ctx, SM_ERR, "column '%s', row %lld: %g does not fit in int64", c->name,
                       (long long)(row0 + i), x);
      k = (int64_t)x;
      k = (double)k == x ? k : (int64_t)llround(x);
    }
    memcpy(v + i, &k, 8);
  }
  return SM_OK;
}

/* A code that is not one of the column's categories (NaN, a missing value, is not). */
static int bad_code(double x, double top) {
  return !isnan(x) && !(x >= 0 && x < top && x == floor(x));
}

/* Local. In place: values [first, first + n) of a sampled float64 code column, n at most
 * SAMPLE_CALL_ROWS, become int32 codes (-1 for missing) packed from the front of the array:
 * code i goes to bytes [4i, 4i + 4), which hold no value not yet converted. The codes are
 * made in a buffer with the validity folded into one flag; only a block with a bad code is
 * scanned again, for the message. */
static int codes_to_disk(sm_ctx *ctx, const sm_column *c, double *v, int64_t first, int64_t n,
                         int64_t row0) {
  int32_t code[SAMPLE_CALL_ROWS];
  const double *x = v + first;
  double top = (double)c->n_categories;
  int bad = 0;
  for (int64_t i = 0; i < n; i++) {
    int in = (x[i] >= 0) & (x[i] < top); /* 0 for NaN */
    int32_t k = (int32_t)(in ? x[i] : -1.0);
    code[i] = k;
    bad |= (x[i] == x[i]) & ((in ^ 1) | ((double)k != x[i]));
  }
  for (int64_t i = 0; bad && i < n; i++)
    if (bad_code(x[i], top))
      return sm_fail(ctx, SM_ERR, "column '%s', row %lld: code %g outside its %d categories",
                     c->name, (long long)(row0 + first + i), x[i], c->n_categories);
  memcpy((char *)v + 4 * first, code, (size_t)n * 4);
  return SM_OK;
}

/* Local. In place: values [first, first + n) of a sampled float64 column become its stored
 * type (float64 columns stay as they are); in order of first, so packed codes never
 * overwrite a value not yet converted. */
static int to_disk(sm_ctx *ctx, const sm_column *c, double *v, int64_t first, int64_t n,
                   int64_t row0) {
  if (c->type == SM_COL_INTEGER)
    return integers_to_disk(ctx, c, v, first, n, row0);
  if (sm_coltype_is_discrete(c->type))
    return codes_to_disk(ctx, c, v, first, n, row0);
  return SM_OK;
}

/* Local. Sample rows [row0, row0 + n) into the reused chunk table t, in stored types: block
 * by block (SAMPLE_CALL_ROWS, globally aligned) through the view table, whose value
 * pointers (view_values, n_cols) are moved along t's columns, each block converted while
 * it is in cache. */
static int make_chunk(sm_ctx *ctx, const sm_model *model, const sm_experiment *e, int64_t row0,
                      int64_t n, sm_table *t, double **view_values) {
  sm_table view = *t;
  view.values = view_values;
  view.n_rows_total = e->sampling.rows;
  for (int64_t a = row0, b; a < row0 + n; a = b) {
    b = (a / SAMPLE_CALL_ROWS + 1) * SAMPLE_CALL_ROWS; /* at most SAMPLE_CALL_ROWS rows */
    b = b < row0 + n ? b : row0 + n;

    /* the block's values, then their stored types */
    for (int j = 0; j < t->schema.n_cols; j++)
      view_values[j] = t->values[j] + (a - row0);
    view.n_rows = b - a;
    view.row_offset = a;
    SM_TRY(model->ops->sample(ctx, model->state, e->sampling.seed, a, &view));
    for (int j = 0; j < t->schema.n_cols; j++)
      SM_TRY(to_disk(ctx, &t->schema.cols[j], t->values[j], a - row0, b - a, row0));
  }
  return SM_OK;
}

/* Collective. Write rows [row0, row0 + n) of every column; n = 0 selects nothing. */
static int write_chunk(sm_ctx *ctx, const release_writer *w, const sm_table *t, int64_t row0,
                       int64_t n) {
  hsize_t start = (hsize_t)row0, count = (hsize_t)n, mdim = (hsize_t)(n > 0 ? n : 1);
  hid_t mspace = H5Screate_simple(1, &mdim, NULL);
  SM_H5_CHECK(ctx, mspace);
  if (n == 0)
    SM_H5_CHECK(ctx, H5Sselect_none(mspace));
  int rc = SM_OK;
  for (int j = 0; j < w->n_cols; j++) {
    hid_t fspace = H5Dget_space(w->dsets[j]);
    SM_H5_CHECK(ctx, fspace);
    if (n > 0)
      SM_H5_CHECK(ctx, H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, NULL, &count, NULL));
    else
      SM_H5_CHECK(ctx, H5Sselect_none(fspace));

    /* required: H5Dwrite is collective, so a rank whose write failed (a full disk) still
     * makes the other columns' calls; returning early would leave the others waiting */
    hid_t mtype = memory_type(t->schema.cols[j].type);
    if (H5Dwrite(w->dsets[j], mtype, mspace, fspace, w->dxpl, t->values[j]) < 0 && rc == SM_OK)
      rc = sm_fail_h5(ctx, "H5Dwrite", __FILE__, __LINE__);
    H5Sclose(fspace);
  }
  H5Sclose(mspace);
  return rc;
}

/* Rank 0: a progress line at most every PROGRESS_EVERY seconds. Rows written so far are
 * known without communication: every rank is at the same iteration. */
static void log_progress(const sm_ctx *ctx, release_progress *p, int64_t iteration) {
  double now = MPI_Wtime();
  if (ctx->rank != 0 || now - p->last < PROGRESS_EVERY)
    return;
  int64_t done = 0, lo, hi, upto = (iteration + 1) * p->chunk;
  for (int r = 0; r < ctx->size; r++) {
    sm_partition(p->rows, ctx->size, r, &lo, &hi);
    done += (hi - lo) < upto ? (hi - lo) : upto;
  }
  p->last = now;
  sm_log(ctx, SM_LOG_INFO, "release: %lld of %lld rows (%.0f%%), %.0f rows/s", (long long)done,
         (long long)p->rows, 100.0 * (double)done / (double)p->rows, (double)done / (now - p->t0));
}

/* Local. The failure of a write stopped by a signal. */
static int stopped(sm_ctx *ctx, int64_t row0) {
  return sm_fail(ctx, SM_ERR,
                 "stopped by a signal while writing the release (at row %lld): the unfinished "
                 "file was removed, nothing was released",
                 (long long)row0);
}

/* Collective. Sample and write this rank's block in chunks; the number of iterations is
 * the largest over ranks, so every rank takes part in every collective write. A stop request
 * (*stop, when stop is not NULL) is honoured at the next chunk, on every rank together. */
static int write_rows(sm_ctx *ctx, const release_writer *w, const sm_experiment *e,
                      const sm_model *model, release_progress *p, const release_stop *halt) {
  int64_t lo, hi, chunk = e->sampling.chunk_rows, rows = e->sampling.rows;
  sm_partition(rows, ctx->size, ctx->rank, &lo, &hi);
  int64_t mine = (hi - lo + chunk - 1) / chunk, iterations = 0;
  SM_MPI_CHECK(ctx, MPI_Allreduce(&mine, &iterations, 1, MPI_INT64_T, MPI_MAX, ctx->comm));

  /* one chunk table and its block view, reused: memory does not grow with rows */
  sm_table t;
  int64_t cap = hi - lo < chunk ? hi - lo : chunk;
  int n_cols = model->schema.n_cols;
  double **view = sm_malloc(ctx, (size_t)(n_cols > 0 ? n_cols : 1) * sizeof(double *));
  int rc = sm_table_alloc(ctx, &t, &model->schema, cap > 0 ? cap : 1);
  rc = sm_agree(ctx, rc == SM_OK && !view ? SM_ERR : rc);
  p->chunk = chunk;
  for (int64_t it = 0; it < iterations && rc == SM_OK; it++) {
    int64_t row0 = lo + it * chunk, n = hi - row0 < chunk ? hi - row0 : chunk;
    n = n > 0 ? n : 0;
    double t0 = MPI_Wtime();
    int64_t left = rows - it * chunk * ctx->size, next = chunk * ctx->size;
    if (halt->stop && *halt->stop) {
      rc = sm_agree(ctx, stopped(ctx, row0));
    } else {
      /* the chunk, and room for the write (agreed in the same step) */
      rc = n > 0 ? make_chunk(ctx, model, e, row0, n, &t, view) : SM_OK;
      if (rc == SM_OK)
        rc = sm_release_room(ctx, halt, &model->schema, left < next ? left : next);
      rc = sm_agree(ctx, rc);
    }
    double t1 = MPI_Wtime();
    if (rc == SM_OK)
      *halt->broken = (rc = sm_agree(ctx, write_chunk(ctx, w, &t, row0, n))) != SM_OK;
    p->sampling += t1 - t0;
    p->writing += MPI_Wtime() - t1;
    log_progress(ctx, p, it);
  }
  free(view);
  sm_table_free(&t);
  return rc;
}

/* Collective. Create, fill and close the partial file. *halt->broken: a write failed (a
 * full disk), after which HDF5 can neither close the file nor drop it (the close fails again
 * and leaves state that crashes or blocks at exit); the file is then left open. */
static int write_partial(sm_ctx *ctx, const sm_experiment *e, const sm_model *model,
                         const char *partial, release_progress *p, const release_stop *halt) {
  release_writer w = {-1, -1, NULL, 0};
  int rc = sm_agree(ctx, writer_open(ctx, &w, e, model, partial));
  if (rc == SM_OK && e->sampling.n_conditions > 0)
    rc = sm_release_write_conditioned(ctx, &w, e, model, halt);
  else if (rc == SM_OK)
    rc = write_rows(ctx, &w, e, model, p, halt);
  if (*halt->broken)
    return rc;
  int closed = sm_agree(ctx, writer_close(ctx, &w));
  *halt->broken = closed != SM_OK;
  return rc != SM_OK ? rc : closed;
}

/* Rank 0. An uncompressed release larger than the file size limit or the free space of its
 * file system is refused before anything is written (HDF5 cannot always close a file whose
 * writes failed); a compressed one, whose size is not known in advance, only gets a warning.
 * Without figures (statvfs fails) the write itself has the last word. */
static int check_space(sm_ctx *ctx, const sm_experiment *e, const sm_schema *s,
                       const sm_stage *st) {
  double need = data_bytes(s, e->sampling.rows);
  struct rlimit fsize;
  if (e->sampling.compression == 0 && getrlimit(RLIMIT_FSIZE, &fsize) == 0 &&
      fsize.rlim_cur != RLIM_INFINITY && need > (double)fsize.rlim_cur)
    return sm_fail(ctx, SM_ERR,
                   "%s: the release needs %.3g GB but the file size limit (ulimit -f) is "
                   "%.3g GB: raise the limit, lower sampling.rows or set sampling.compression",
                   st->path, need / 1e9, (double)fsize.rlim_cur / 1e9);
  struct statvfs fs;
  if (statvfs(st->partial, &fs) != 0)
    return SM_OK;
  double avail = (double)fs.f_bavail * (double)fs.f_frsize;
  if (need <= avail)
    return SM_OK;
  if (e->sampling.compression > 0) {
    sm_log(ctx, SM_LOG_WARN,
           "%s: %.3g GB uncompressed, %.3g GB free there: the release fits only if deflate "
           "shrinks it enough",
           st->path, need / 1e9, avail / 1e9);
    return SM_OK;
  }
  return sm_fail(ctx, SM_ERR,
                 "%s: the release needs %.3g GB (%lld rows of %.0f bytes) but its file "
                 "system has %.3g GB free: free space, choose another runtime.output_dir, "
                 "lower sampling.rows or set sampling.compression",
                 st->path, need / 1e9, (long long)e->sampling.rows,
                 need / (double)(e->sampling.rows > 0 ? e->sampling.rows : 1), avail / 1e9);
}

/* Rank 0, after a failed write and before the partial file is removed: HDF5 says only
 * "file write failed", so name a full file system when that is the likely cause. */
static void explain_failed_write(sm_ctx *ctx, const sm_stage *st) {
  struct statvfs fs;
  if (ctx->rank != 0 || ctx->status == SM_OK || statvfs(st->partial, &fs) != 0)
    return;
  double avail = (double)fs.f_bavail * (double)fs.f_frsize;
  size_t n = strlen(ctx->msg);
  if (avail < 64e6 && n < sizeof ctx->msg)
    snprintf(ctx->msg + n, sizeof ctx->msg - n,
             "; the file system of %s has %.1f MB free: it is probably full", st->path,
             avail / 1e6);
}

/* Collective. Check the space, write the partial file and finish the stage. */
static int stage_and_write(sm_ctx *ctx, const sm_experiment *e, const sm_model *model, sm_stage *st,
                           release_progress *p, const volatile sig_atomic_t *stop) {
  int space = ctx->rank == 0 ? check_space(ctx, e, &model->schema, st) : SM_OK;
  int rc = sm_agree(ctx, space);
  if (rc != SM_OK)
    return sm_stage_finish(ctx, st, rc);
  int broken = 0;
  release_stop halt = {stop, &broken, st->path, st->partial};
  int written = write_partial(ctx, e, model, st->partial, p, &halt);
  if (written != SM_OK && !(stop && *stop))
    explain_failed_write(ctx, st);
  rc = sm_stage_finish(ctx, st, written);

  /* a file HDF5 cannot close would crash or block the exit: with the partial file
   * removed and the error said, the job ends here, on every rank together */
  if (broken) {
    sm_report_error(ctx);
    MPI_Abort(ctx->comm, SM_ERR);
  }
  return rc;
}

int sm_release_write_until(sm_ctx *ctx, const sm_experiment *e, const sm_model *model,
                           const char *path, const volatile sig_atomic_t *stop) {
  double t0 = MPI_Wtime();
  SM_TRY(sm_agree(ctx, check_request(ctx, e, model)));
  release_progress p = {t0, t0, e->sampling.rows, e->sampling.chunk_rows, 0.0, 0.0};

  /* refuse or prepare the target before any work; then the space it needs */
  sm_stage st;
  int rc = sm_stage_begin(ctx, path, e->sampling.overwrite, &st);
  if (rc == SM_OK)
    rc = stage_and_write(ctx, e, model, &st, &p, stop);
  sm_stage_free(&st);
  SM_TRY(rc);

  /* the final line: size of the data written, the rate, and the slowest rank's split
   * between making rows (sampling, stored types) and writing them */
  double bytes = data_bytes(&model->schema, e->sampling.rows), seconds = MPI_Wtime() - t0;
  double split[2] = {p.sampling, p.writing};
  SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, split, 2, MPI_DOUBLE, MPI_MAX, ctx->comm));
  sm_log(ctx, SM_LOG_INFO,
         "release: wrote %lld rows to %s in %.2f s (%.1f MB/s); making rows %.2f s, "
         "writing %.2f s",
         (long long)e->sampling.rows, path, seconds, bytes / 1e6 / (seconds > 0 ? seconds : 1),
         split[0], split[1]);
  return SM_OK;
}

int sm_release_write(sm_ctx *ctx, const sm_experiment *e, const sm_model *model, const char *path) {
  return sm_release_write_until(ctx, e, model, path, NULL);
}

int sm_release_room(sm_ctx *ctx, const release_stop *halt, const sm_schema *s, int64_t rows) {
  if (ctx->rank != 0 || !halt->partial)
    return SM_OK;
  double need = data_bytes(s, rows) + 1e6;

  /* the file system's free space */
  struct statvfs fs;
  double avail =
      statvfs(halt->partial, &fs) == 0 ? (double)fs.f_bavail * (double)fs.f_frsize : INFINITY;
  if (avail < need)
    return sm_fail(ctx, SM_ERR,
                   "%s: the file system has %.1f MB free, less than the next write may need "
                   "(%.1f MB uncompressed): stopped before it, and the unfinished file was "
                   "removed; free space or choose another runtime.output_dir",
                   halt->path, avail / 1e6, need / 1e6);

  /* the file size limit (ulimit -f), against the file's size so far */
  struct rlimit lim;
  struct stat sb;
  if (getrlimit(RLIMIT_FSIZE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY &&
      stat(halt->partial, &sb) == 0 && (double)sb.st_size + need > (double)lim.rlim_cur)
    return sm_fail(ctx, SM_ERR,
                   "%s: the next write may pass the file size limit (ulimit -f, %.1f MB; the "
                   "file has %.1f MB): stopped before it, and the unfinished file was removed",
                   halt->path, (double)lim.rlim_cur / 1e6, (double)sb.st_size / 1e6);
  return SM_OK;
}

int sm_release_chunk_to_disk(sm_ctx *ctx, sm_table *t, int64_t row0) {
  /* in blocks of at most SAMPLE_CALL_ROWS rows (codes_to_disk's buffer), in order */
  for (int64_t a = 0; a < t->n_rows; a += SAMPLE_CALL_ROWS) {
    int64_t n = t->n_rows - a < SAMPLE_CALL_ROWS ? t->n_rows - a : SAMPLE_CALL_ROWS;
    for (int j = 0; j < t->schema.n_cols; j++)
      SM_TRY(to_disk(ctx, &t->schema.cols[j], t->values[j], a, n, row0));
  }
  return SM_OK;
}

int sm_release_write_slab(sm_ctx *ctx, const release_writer *w, const sm_table *t, int64_t row0,
                          int64_t n) {
  return write_chunk(ctx, w, t, row0, n);
}
