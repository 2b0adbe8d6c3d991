/* The sequence release: /sequences, n x length bytes 'A', 'C', 'G', 'T', written
 * collectively by every rank's block of rows and staged as <path>.partial. */
#include <stdlib.h>
#include <string.h>

#include "io/h5util.h"
#include "io/io.h"
#include "seq/cnn.h"
#include "seq/seq_internal.h"

#define SEQ_DATASET "sequences"
/* Largest chunk of the dataset, in bytes. */
#define MAX_CHUNK_BYTES ((int64_t)1 << 22)

static const char letters[4] = {'A', 'C', 'G', 'T'};

/* Collective. Chunked (rows of whole sequences), deflate when asked. */
static hid_t sequences_dcpl(sm_ctx *ctx, int64_t rows, int64_t length, int64_t chunk_rows,
                            int compression) {
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (dcpl < 0 || rows == 0 || length == 0)
    return dcpl;
  int64_t most = MAX_CHUNK_BYTES / length > 0 ? MAX_CHUNK_BYTES / length : 1;
  int64_t r = chunk_rows < rows ? chunk_rows : rows;
  hsize_t chunk[2] = {(hsize_t)(r < most ? r : most), (hsize_t)length};
  int bad = H5Pset_chunk(dcpl, 2, chunk) < 0;

  /* required in parallel: unfiltered chunks allocated at creation, filtered ones as
   * written collectively */
  if (!bad && compression > 0)
    bad = H5Pset_deflate(dcpl, (unsigned)compression) < 0;
  if (!bad && compression == 0)
    bad = H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) < 0;
  /* optional: every byte is written */
  if (!bad)
    bad = H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0;
  if (bad) {
    H5Pclose(dcpl);
    sm_fail_h5(ctx, "sequence dataset properties", __FILE__, __LINE__);
    return -1;
  }
  return dcpl;
}

/* Collective. The file's attributes: what it is, where it came from, how it was made. */
static int write_attributes(sm_ctx *ctx, hid_t file, const sm_seq_release *r) {
  char now[64];
  SM_TRY(sm_io_now_utc(ctx, now, sizeof now));
  SM_TRY(sm_h5_attr_str(ctx, file, "format", SM_SEQ_RELEASE_FORMAT));
  SM_TRY(sm_h5_attr_i64(ctx, file, "format_version", SM_FORMAT_VERSION));
  SM_TRY(sm_h5_attr_str(ctx, file, "version", SM_VERSION));
  SM_TRY(sm_h5_attr_str(ctx, file, "created", now));
  SM_TRY(sm_h5_attr_str(ctx, file, "name", r->experiment->name));
  SM_TRY(sm_h5_attr_str(ctx, file, "experiment", r->experiment->resolved));
  SM_TRY(sm_h5_attr_str(ctx, file, "model", r->experiment->model.kind));
  /* order: bases of context (a neural model's receptive field) */
  int order = r->cnn ? sm_cnn_receptive_field(r->cnn) : sm_markov_order(r->model);
  SM_TRY(sm_h5_attr_i64(ctx, file, "order", order));
  SM_TRY(sm_h5_attr_i64(ctx, file, "rows", r->rows));
  SM_TRY(sm_h5_attr_i64(ctx, file, "length", r->length));
  SM_TRY(sm_h5_attr_i64(ctx, file, "seed", (int64_t)r->experiment->sampling.seed));
  SM_TRY(sm_h5_attr_str(ctx, file, "alphabet", "ACGT"));
  return sm_h5_attr_i64(ctx, file, "ranks", ctx->size);
}

/* Collective. Rows [row0, row0 + n) of the dataset from buf (n = 0 selects nothing). */
static int write_rows(sm_ctx *ctx, hid_t dset, hid_t dxpl, int64_t row0, int64_t n, int64_t length,
                      const uint8_t *buf) {
  hsize_t start[2] = {(hsize_t)row0, 0}, count[2] = {(hsize_t)n, (hsize_t)length};
  hsize_t mdim[2] = {(hsize_t)(n > 0 ? n : 1), (hsize_t)(length > 0 ? length : 1)};
  hid_t mspace = H5Screate_simple(2, mdim, NULL), fspace = H5Dget_space(dset);
  SM_H5_CHECK(ctx, mspace);
  SM_H5_CHECK(ctx, fspace);
  if (n > 0 && length > 0)
    SM_H5_CHECK(ctx, H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL));
  else {
    SM_H5_CHECK(ctx, H5Sselect_none(fspace));
    SM_H5_CHECK(ctx, H5Sselect_none(mspace));
  }
  SM_H5_CHECK(ctx, H5Dwrite(dset, H5T_NATIVE_UCHAR, mspace, fspace, dxpl, buf));
  H5Sclose(mspace);
  H5Sclose(fspace);
  return SM_OK;
}

/* Local. Sample release rows [row0, row0 + n) as letters into buf. */
static int make_rows(sm_ctx *ctx, const sm_seq_release *r, int64_t row0, int64_t n, uint8_t *buf) {
  uint64_t seed = r->experiment->sampling.seed;
  if (r->cnn)
    SM_TRY(sm_cnn_sample(ctx, r->cnn, seed, row0, n, r->length, buf, NULL));
  for (int64_t i = 0; i < n; i++) {
    uint8_t *row = buf + i * r->length;
    if (!r->cnn)
      sm_markov_sample(r->model, seed, row0 + i, r->length, row);
    for (int64_t p = 0; p < r->length; p++)
      row[p] = (uint8_t)letters[row[p]];
  }
  return SM_OK;
}

/* Collective. Sample and write this rank's block in chunks; every rank takes part in as
 * many collective writes as the rank with the most chunks. */
static int fill(sm_ctx *ctx, hid_t dset, const sm_seq_release *r) {
  int64_t lo, hi, chunk = r->experiment->sampling.chunk_rows;
  int64_t most = MAX_CHUNK_BYTES / (r->length > 0 ? r->length : 1);
  chunk = chunk < most ? chunk : (most > 0 ? most : 1);
  sm_partition(r->rows, ctx->size, ctx->rank, &lo, &hi);
  int64_t mine = (hi - lo + chunk - 1) / chunk, iterations = 0;
  SM_MPI_CHECK(ctx, MPI_Allreduce(&mine, &iterations, 1, MPI_INT64_T, MPI_MAX, ctx->comm));
  uint8_t *buf = sm_malloc(ctx, (size_t)(chunk * r->length > 0 ? chunk * r->length : 1));
  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  int rc = sm_agree(ctx, buf && dxpl >= 0 ? SM_OK : SM_ERR);

  /* required: collective transfers (filtered chunks shared by ranks are written once) */
  if (rc == SM_OK && H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0)
    rc = sm_fail_h5(ctx, "H5Pset_dxpl_mpio", __FILE__, __LINE__);
  rc = sm_agree(ctx, rc);
  for (int64_t it = 0; it < iterations && rc == SM_OK; it++) {
    int64_t row0 = lo + it * chunk, n = hi - row0 < chunk ? hi - row0 : chunk;
    n = n > 0 ? n : 0;
    rc = sm_agree(ctx, make_rows(ctx, r, row0, n, buf));
    if (rc == SM_OK)
      rc = sm_agree(ctx, write_rows(ctx, dset, dxpl, row0, n, r->length, buf));
  }
  if (dxpl >= 0)
    H5Pclose(dxpl);
  free(buf);
  return rc;
}

/* Collective. Create, fill and close the partial file. */
static int write_partial(sm_ctx *ctx, const sm_seq_release *r, const char *partial) {
  hid_t file = sm_h5_create(ctx, partial);
  int rc = sm_agree(ctx, file < 0 ? SM_EINPUT : SM_OK);
  if (rc != SM_OK)
    return rc;
  const sm_sampling_spec *s = &r->experiment->sampling;
  hsize_t dims[2] = {(hsize_t)r->rows, (hsize_t)r->length};
  hid_t space = H5Screate_simple(2, dims, NULL);
  hid_t dcpl = sequences_dcpl(ctx, r->rows, r->length, s->chunk_rows, s->compression);
  hid_t dset = -1;
  rc = write_attributes(ctx, file, r);
  if (rc == SM_OK && (space < 0 || dcpl < 0))
    rc = sm_fail(ctx, SM_ERR, "cannot describe the sequence dataset");
  if (rc == SM_OK) {
    dset = H5Dcreate2(file, SEQ_DATASET, H5T_STD_U8LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    rc = dset < 0 ? sm_fail_h5(ctx, "H5Dcreate2(sequences)", __FILE__, __LINE__) : SM_OK;
  }
  if (rc == SM_OK)
    rc = sm_h5_attr_str(ctx, dset, "letters", "ASCII A, C, G, T; one row per sequence");
  rc = sm_agree(ctx, rc);
  if (rc == SM_OK)
    rc = fill(ctx, dset, r);
  if (dcpl >= 0)
    H5Pclose(dcpl);
  if (space >= 0)
    H5Sclose(space);
  sm_h5_close_objects(file);
  int closed = H5Fclose(file) < 0 ? sm_fail_h5(ctx, "H5Fclose", __FILE__, __LINE__) : SM_OK;
  return rc != SM_OK ? rc : closed;
}

int sm_seq_release_write(sm_ctx *ctx, const sm_seq_release *r, const char *path) {
  if (r->rows < 0 || r->length < 1)
    return sm_fail(ctx, SM_EINPUT, "sampling: rows must be >= 0 and length >= 1 (got %lld, %lld)",
                   (long long)r->rows, (long long)r->length);
  if (r->experiment->sampling.chunk_rows < 1)
    return sm_fail(ctx, SM_EINPUT, "sampling.chunk_rows must be at least 1");
  sm_stage st;
  SM_TRY(sm_stage_begin(ctx, path, r->experiment->sampling.overwrite, &st));
  int rc = write_partial(ctx, r, st.partial);
  rc = sm_stage_finish(ctx, &st, rc);
  sm_stage_free(&st);
  return rc;
}

/* Collective. Open a finished sequence release; its dataset and shape. */
static int open_release(sm_ctx *ctx, const char *path, hid_t *file, hid_t *dset, int64_t *rows,
                        int64_t *length) {
  char *format = NULL;
  *dset = -1;
  SM_TRY(sm_io_open(ctx, path, SM_SEQ_RELEASE_FORMAT, file, &format));
  free(format);
  *dset = sm_h5_try_open(*file, SEQ_DATASET, H5I_DATASET);
  hid_t space = *dset >= 0 ? H5Dget_space(*dset) : -1;
  hsize_t dims[2] = {0, 0};
  int ok = space >= 0 && H5Sget_simple_extent_ndims(space) == 2 &&
           H5Sget_simple_extent_dims(space, dims, NULL) == 2;
  if (space >= 0)
    H5Sclose(space);
  *rows = (int64_t)dims[0], *length = (int64_t)dims[1];
  int rc = ok ? SM_OK : sm_fail(ctx, SM_EINPUT, "%s: no 2-D /sequences dataset", path);
  rc = sm_agree(ctx, rc);
  if (rc != SM_OK)
    sm_io_close(*file);
  return rc;
}

/* Local. Letters back to codes; SM_EINPUT on anything else. */
static int to_codes(sm_ctx *ctx, const char *path, uint8_t *c, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const char *at = memchr(letters, c[i], 4);
    if (!at)
      return sm_fail(ctx, SM_EINPUT, "%s: byte %d in /sequences is not A, C, G or T", path, c[i]);
    c[i] = (uint8_t)(at - letters);
  }
  return SM_OK;
}

int sm_seq_release_read(sm_ctx *ctx, const char *path, sm_seqset *out) {
  hid_t file = -1, dset = -1;
  int64_t rows = 0, length = 0, lo, hi;
  memset(out, 0, sizeof(*out));
  SM_TRY(open_release(ctx, path, &file, &dset, &rows, &length));
  sm_partition(rows, ctx->size, ctx->rank, &lo, &hi);
  out->n = hi - lo, out->n_total = rows, out->first = lo;
  out->offset = sm_calloc(ctx, (size_t)(hi - lo + 1), sizeof(int64_t));
  out->codes = sm_malloc(ctx, (size_t)((hi - lo) * length > 0 ? (hi - lo) * length : 1));
  int rc = sm_agree(ctx, out->offset && out->codes ? SM_OK : SM_ERR);

  /* this rank's block of rows, read independently */
  if (rc == SM_OK && hi > lo && length > 0) {
    hsize_t start[2] = {(hsize_t)lo, 0}, count[2] = {(hsize_t)(hi - lo), (hsize_t)length};
    hid_t fspace = H5Dget_space(dset), mspace = H5Screate_simple(2, count, NULL);
    if (fspace < 0 || mspace < 0 ||
        H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
        H5Dread(dset, H5T_NATIVE_UCHAR, mspace, fspace, H5P_DEFAULT, out->codes) < 0)
      rc = sm_fail_h5(ctx, "reading /sequences", __FILE__, __LINE__);
    if (fspace >= 0)
      H5Sclose(fspace);
    if (mspace >= 0)
      H5Sclose(mspace);
  }
  for (int64_t i = 0; i < hi - lo && rc == SM_OK; i++)
    out->offset[i + 1] = out->offset[i] + length;
  if (rc == SM_OK)
    rc = to_codes(ctx, path, out->codes, (hi - lo) * length);
  sm_io_close(file);
  rc = sm_agree(ctx, rc);
  if (rc != SM_OK)
    sm_seqset_free(out);
  return rc;
}

int sm_seq_is_release(sm_ctx *ctx, const char *path, int *yes) {
  *yes = 0;
  hid_t file = sm_h5_open(ctx, path, 0);
  if (file < 0)
    return SM_OK;
  char *format = NULL;
  if (H5Aexists(file, "format") > 0 && sm_h5_get_attr_str(ctx, file, "format", &format) == SM_OK)
    *yes = strcmp(format, SM_SEQ_RELEASE_FORMAT) == 0;
  free(format);
  sm_io_close(file);
  return SM_OK;
}
