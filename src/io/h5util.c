/* HDF5 check macro support and small collective helpers. */
#include "io/h5util.h"

#include <stdlib.h>
#include <string.h>

/* Walk callback: keep the innermost (first) message of the error stack. */
static herr_t first_error(unsigned n, const H5E_error2_t *err, void *data) {
  char *out = data;
  if (n == 0)
    snprintf(out, 256, "%s (in %s)", err->desc ? err->desc : "?", err->func_name);
  return 0;
}

int sm_fail_h5(sm_ctx *ctx, const char *call, const char *file, int line) {
  char words[256] = "no detail on the HDF5 error stack";
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, first_error, words);
  H5Eclear2(H5E_DEFAULT);
  return sm_fail(ctx, SM_ERR, "%s:%d: %s failed: %s", file, line, call, words);
}

static hid_t mpio_fapl(sm_ctx *ctx) {
  hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
  if (fapl < 0 || H5Pset_fapl_mpio(fapl, ctx->comm, MPI_INFO_NULL) < 0) {
    sm_fail_h5(ctx, "H5Pset_fapl_mpio", __FILE__, __LINE__);
    return -1;
  }
  /* metadata reads go through rank 0 and writes are collective: fewer small I/Os */
  H5Pset_all_coll_metadata_ops(fapl, 1);
  H5Pset_coll_metadata_write(fapl, 1);
  return fapl;
}

hid_t sm_h5_create(sm_ctx *ctx, const char *path) {
  hid_t fapl = mpio_fapl(ctx);
  if (fapl < 0)
    return -1;
  /* the 1.8 object format or later: attributes larger than 64 KiB (wide schemas) */
  hid_t f = -1;
  if (H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST) < 0) {
    H5Pclose(fapl);
    sm_fail_h5(ctx, "H5Pset_libver_bounds", __FILE__, __LINE__);
    return -1;
  }
  H5E_BEGIN_TRY {
    f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  }
  H5E_END_TRY;
  H5Pclose(fapl);
  if (f < 0)
    sm_fail(ctx, SM_EINPUT, "%s: cannot create the file (is the directory writable?)", path);
  return f;
}

hid_t sm_h5_open(sm_ctx *ctx, const char *path, int writable) {
  hid_t fapl = mpio_fapl(ctx);
  if (fapl < 0)
    return -1;
  hid_t f = -1;
  H5E_BEGIN_TRY {
    f = H5Fopen(path, writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl);
  }
  H5E_END_TRY;
  H5Pclose(fapl);
  if (f < 0)
    sm_fail(ctx, SM_EINPUT, "%s: cannot open as an HDF5 file", path);
  return f;
}

hid_t sm_h5_try_open(hid_t loc, const char *name, H5I_type_t type) {
  hid_t id = -1;
  H5E_BEGIN_TRY {
    id = H5Oopen(loc, name, H5P_DEFAULT);
  }
  H5E_END_TRY;
  if (id >= 0 && H5Iget_type(id) != type) {
    H5Oclose(id);
    return -1;
  }
  return id;
}

/* Open a whole dataset for reading: the dataset, its dataspace and its element count. */
static int open_whole(sm_ctx *ctx, hid_t loc, const char *name, hid_t *dset, hid_t *space,
                      hssize_t *count) {
  *dset = sm_h5_try_open(loc, name, H5I_DATASET);
  if (*dset < 0)
    return sm_fail(ctx, SM_EINPUT, "dataset '%s' is missing", name);
  *space = H5Dget_space(*dset);
  SM_H5_CHECK(ctx, *space);
  *count = H5Sget_simple_extent_npoints(*space);
  SM_H5_CHECK(ctx, *count);
  return SM_OK;
}

/* Rank 0 writes the whole 1-D dataset in a collective call; others select nothing. */
static int write_small(sm_ctx *ctx, hid_t loc, const char *name, hid_t type, const void *v,
                       int64_t n) {
  hsize_t dims = (hsize_t)n;
  hid_t space = H5Screate_simple(1, &dims, NULL);
  SM_H5_CHECK(ctx, space);
  hid_t dset = H5Dcreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  SM_H5_CHECK(ctx, dset);

  /* collective transfer: the rank-0-only selection keeps the data written once */
  hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
  SM_H5_CHECK(ctx, H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE));
  if (ctx->rank != 0 || n == 0)
    H5Sselect_none(space);
  hid_t mem = H5Scopy(space);
  SM_H5_CHECK(ctx, H5Dwrite(dset, type, mem, space, dxpl, v));

  H5Sclose(mem);
  H5Pclose(dxpl);
  H5Dclose(dset);
  H5Sclose(space);
  return SM_OK;
}

int sm_h5_write_f64(sm_ctx *ctx, hid_t loc, const char *name, const double *v, int64_t n) {
  return write_small(ctx, loc, name, H5T_NATIVE_DOUBLE, v, n);
}

int sm_h5_write_i64(sm_ctx *ctx, hid_t loc, const char *name, const int64_t *v, int64_t n) {
  return write_small(ctx, loc, name, H5T_NATIVE_INT64, v, n);
}

static int read_small(sm_ctx *ctx, hid_t loc, const char *name, hid_t type, size_t elem, void **v,
                      int64_t *n) {
  hid_t dset = -1, space = -1;
  hssize_t count = 0;
  SM_TRY(open_whole(ctx, loc, name, &dset, &space, &count));

  /* every rank reads the whole dataset */
  *v = sm_malloc(ctx, (size_t)count * elem);
  if (!*v)
    return SM_ERR;
  if (count > 0)
    SM_H5_CHECK(ctx, H5Dread(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, *v));
  *n = count;
  H5Sclose(space);
  H5Dclose(dset);
  return SM_OK;
}

int sm_h5_read_f64(sm_ctx *ctx, hid_t loc, const char *name, double **v, int64_t *n) {
  return read_small(ctx, loc, name, H5T_NATIVE_DOUBLE, sizeof(double), (void **)v, n);
}

int sm_h5_read_i64(sm_ctx *ctx, hid_t loc, const char *name, int64_t **v, int64_t *n) {
  return read_small(ctx, loc, name, H5T_NATIVE_INT64, sizeof(int64_t), (void **)v, n);
}

/* A model dataset read back must hold the length the model expects. */
static int check_length(sm_ctx *ctx, const char *name, int64_t n, int64_t want) {
  if (n != want)
    return sm_fail(ctx, SM_EINPUT, "model dataset '%s' has %lld values, want %lld", name,
                   (long long)n, (long long)want);
  return SM_OK;
}

int sm_h5_read_f64_n(sm_ctx *ctx, hid_t loc, const char *name, int64_t want, double **v) {
  int64_t n = 0;
  SM_TRY(sm_h5_read_f64(ctx, loc, name, v, &n));
  return check_length(ctx, name, n, want);
}

int sm_h5_read_i64_n(sm_ctx *ctx, hid_t loc, const char *name, int64_t want, int64_t **v) {
  int64_t n = 0;
  SM_TRY(sm_h5_read_i64(ctx, loc, name, v, &n));
  return check_length(ctx, name, n, want);
}

int sm_h5_write_floats(sm_ctx *ctx, hid_t loc, const char *name, const float *v, size_t n) {
  double *d = sm_malloc(ctx, (n > 0 ? n : 1) * sizeof(double));
  for (size_t i = 0; d && i < n; i++)
    d[i] = v[i];
  int rc = sm_agree(ctx, d ? SM_OK : SM_ERR);
  if (rc == SM_OK)
    rc = sm_h5_write_f64(ctx, loc, name, d, (int64_t)n);
  free(d);
  return rc;
}

int sm_h5_read_floats(sm_ctx *ctx, hid_t loc, const char *name, float *v, size_t n) {
  double *d = NULL;
  int rc = sm_h5_read_f64_n(ctx, loc, name, (int64_t)n, &d);
  for (size_t i = 0; rc == SM_OK && i < n; i++)
    v[i] = (float)d[i];
  free(d);
  return rc;
}

static int write_attr(sm_ctx *ctx, hid_t obj, const char *name, hid_t type, const void *v) {
  hid_t space = H5Screate(H5S_SCALAR);
  SM_H5_CHECK(ctx, space);
  hid_t attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  SM_H5_CHECK(ctx, attr);
  SM_H5_CHECK(ctx, H5Awrite(attr, type, v));
  H5Aclose(attr);
  H5Sclose(space);
  return SM_OK;
}

int sm_h5_attr_str(sm_ctx *ctx, hid_t obj, const char *name, const char *value) {
  hid_t type = H5Tcopy(H5T_C_S1);
  SM_H5_CHECK(ctx, type);
  H5Tset_size(type, strlen(value) + 1);
  H5Tset_strpad(type, H5T_STR_NULLTERM);
  H5Tset_cset(type, H5T_CSET_UTF8);
  int rc = write_attr(ctx, obj, name, type, value);
  H5Tclose(type);
  return rc;
}

int sm_h5_attr_i64(sm_ctx *ctx, hid_t obj, const char *name, int64_t value) {
  return write_attr(ctx, obj, name, H5T_NATIVE_INT64, &value);
}

int sm_h5_attr_f64(sm_ctx *ctx, hid_t obj, const char *name, double value) {
  return write_attr(ctx, obj, name, H5T_NATIVE_DOUBLE, &value);
}

static hid_t open_attr(sm_ctx *ctx, hid_t obj, const char *name) {
  htri_t exists = H5Aexists(obj, name);
  if (exists <= 0) {
    sm_fail(ctx, SM_EINPUT, "attribute '%s' is missing", name);
    return -1;
  }
  return H5Aopen(obj, name, H5P_DEFAULT);
}

int sm_h5_get_attr_str(sm_ctx *ctx, hid_t obj, const char *name, char **value) {
  hid_t attr = open_attr(ctx, obj, name);
  if (attr < 0)
    return SM_EINPUT;
  hid_t type = H5Aget_type(attr);
  SM_H5_CHECK(ctx, type);
  size_t size = H5Tget_size(type);

  /* read as a fixed-length string of the stored size, always terminated */
  hid_t mem = H5Tcopy(H5T_C_S1);
  SM_H5_CHECK(ctx, mem);
  SM_H5_CHECK(ctx, H5Tset_size(mem, size));
  SM_H5_CHECK(ctx, H5Tset_cset(mem, H5Tget_cset(type))); /* no ASCII <-> UTF-8 conversion */
  *value = sm_calloc(ctx, size + 1, 1);
  if (!*value)
    return SM_ERR;
  SM_H5_CHECK(ctx, H5Aread(attr, mem, *value));
  H5Tclose(mem);
  H5Tclose(type);
  H5Aclose(attr);
  return SM_OK;
}

/* A scalar numeric attribute read as the given memory type. */
static int read_attr(sm_ctx *ctx, hid_t obj, const char *name, hid_t type, void *value) {
  hid_t attr = open_attr(ctx, obj, name);
  if (attr < 0)
    return SM_EINPUT;
  SM_H5_CHECK(ctx, H5Aread(attr, type, value));
  H5Aclose(attr);
  return SM_OK;
}

int sm_h5_get_attr_i64(sm_ctx *ctx, hid_t obj, const char *name, int64_t *value) {
  return read_attr(ctx, obj, name, H5T_NATIVE_INT64, value);
}

int sm_h5_get_attr_f64(sm_ctx *ctx, hid_t obj, const char *name, double *value) {
  return read_attr(ctx, obj, name, H5T_NATIVE_DOUBLE, value);
}

int sm_h5_write_strings(sm_ctx *ctx, hid_t loc, const char *name, char *const *v, int n) {
  /* one buffer of fixed-width fields, zero padded */
  size_t width = 1;
  for (int i = 0; i < n; i++)
    if (strlen(v[i]) + 1 > width)
      width = strlen(v[i]) + 1;
  char *packed = sm_calloc(ctx, (size_t)(n > 0 ? n : 1), width);
  if (!packed)
    return SM_ERR;
  for (int i = 0; i < n; i++)
    memcpy(packed + (size_t)i * width, v[i], strlen(v[i]));

  hid_t type = H5Tcopy(H5T_C_S1);
  int rc = SM_ERR;
  if (type >= 0 && H5Tset_size(type, width) >= 0 && H5Tset_strpad(type, H5T_STR_NULLTERM) >= 0 &&
      H5Tset_cset(type, H5T_CSET_UTF8) >= 0)
    rc = write_small(ctx, loc, name, type, packed, n);
  else
    sm_fail_h5(ctx, "H5Tset_size", __FILE__, __LINE__);
  if (type >= 0)
    H5Tclose(type);
  free(packed);
  return rc;
}

/* Split a fixed-width buffer into (n) malloc'd strings. */
static int unpack_strings(sm_ctx *ctx, const char *packed, size_t width, int n, char ***v) {
  *v = sm_calloc(ctx, (size_t)(n > 0 ? n : 1), sizeof(char *));
  if (!*v)
    return SM_ERR;
  for (int i = 0; i < n; i++) {
    (*v)[i] = sm_calloc(ctx, width + 1, 1);
    if (!(*v)[i])
      return SM_ERR;
    memcpy((*v)[i], packed + (size_t)i * width, width);
  }
  return SM_OK;
}

int sm_h5_read_strings(sm_ctx *ctx, hid_t loc, const char *name, char ***v, int *n) {
  hid_t dset = -1, space = -1;
  hssize_t count = 0;
  SM_TRY(open_whole(ctx, loc, name, &dset, &space, &count));

  /* width as stored */
  hid_t ftype = H5Dget_type(dset);
  SM_H5_CHECK(ctx, ftype);
  size_t width = H5Tget_size(ftype);
  if (H5Tget_class(ftype) != H5T_STRING || H5Tis_variable_str(ftype) != 0 || width == 0)
    return sm_fail(ctx, SM_EINPUT, "dataset '%s' does not hold fixed-length strings", name);

  /* every rank reads the whole dataset */
  hid_t mem = H5Tcopy(H5T_C_S1);
  SM_H5_CHECK(ctx, mem);
  SM_H5_CHECK(ctx, H5Tset_size(mem, width));
  SM_H5_CHECK(ctx, H5Tset_cset(mem, H5Tget_cset(ftype)));
  char *packed = sm_calloc(ctx, (size_t)(count > 0 ? count : 1), width);
  if (!packed)
    return SM_ERR;
  if (count > 0)
    SM_H5_CHECK(ctx, H5Dread(dset, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, packed));
  *n = (int)count;
  int rc = unpack_strings(ctx, packed, width, (int)count, v);

  free(packed);
  H5Tclose(mem);
  H5Tclose(ftype);
  H5Sclose(space);
  H5Dclose(dset);
  return rc;
}

void sm_h5_close_objects(hid_t file) {
  if (file < 0)
    return;
  unsigned types =
      H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE | H5F_OBJ_ATTR | H5F_OBJ_LOCAL;
  ssize_t n = H5Fget_obj_count(file, types);
  if (n <= 0)
    return;
  hid_t *ids = malloc((size_t)n * sizeof(hid_t));
  if (!ids)
    return;

  /* attributes first: they pin their objects */
  n = H5Fget_obj_ids(file, types, (size_t)n, ids);
  for (ssize_t i = 0; i < n; i++)
    if (H5Iget_type(ids[i]) == H5I_ATTR)
      H5Aclose(ids[i]);
  for (ssize_t i = 0; i < n; i++) {
    H5I_type_t t = H5Iget_type(ids[i]);
    if (t == H5I_DATASET || t == H5I_GROUP || t == H5I_DATATYPE)
      H5Oclose(ids[i]);
  }
  free(ids);
}
