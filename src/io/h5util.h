/* Private: the HDF5 check macro and small collective helpers shared by io/ and models/.
 *
 * Files are opened with the MPI-IO driver on ctx->comm. Metadata operations (create,
 * attributes) are collective: every rank makes the same calls with the same values.
 * Small datasets (model state) are written by rank 0 inside a collective call (other
 * ranks select nothing) and read by every rank.
 */
#ifndef SYNTHMPI_IO_H5UTIL_H
#define SYNTHMPI_IO_H5UTIL_H

#include <hdf5.h>
#include <stdint.h>

#include "synthmpi/core.h"

/* Record an HDF5 failure: file, line, the call and the top of HDF5's error stack. */
int sm_fail_h5(sm_ctx *ctx, const char *call, const char *file, int line);

/* The check macro for HDF5 calls returning herr_t or hid_t: negative is failure. */
#define SM_H5_CHECK(ctx, call)                                                                     \
  do {                                                                                             \
    if ((int64_t)(call) < 0)                                                                       \
      return sm_fail_h5((ctx), #call, __FILE__, __LINE__);                                         \
  } while (0)

/* Collective. Create (truncate) or open a file with the MPI-IO driver; < 0 on failure
 * with the reason in ctx. */
hid_t sm_h5_create(sm_ctx *ctx, const char *path);
hid_t sm_h5_open(sm_ctx *ctx, const char *path, int writable);

/* Open an object that may be absent, without HDF5 printing its error stack: the id when
 * name is an object of the given type (H5I_DATASET, H5I_GROUP), else a negative id
 * (nothing recorded in a context). */
hid_t sm_h5_try_open(hid_t loc, const char *name, H5I_type_t type);

/* Collective. Small whole datasets: written by rank 0, read by all ranks. */
int sm_h5_write_f64(sm_ctx *ctx, hid_t loc, const char *name, const double *v, int64_t n);
int sm_h5_write_i64(sm_ctx *ctx, hid_t loc, const char *name, const int64_t *v, int64_t n);
/* Read a 1-D dataset; *v is malloc'd, *n its length. */
int sm_h5_read_f64(sm_ctx *ctx, hid_t loc, const char *name, double **v, int64_t *n);
int sm_h5_read_i64(sm_ctx *ctx, hid_t loc, const char *name, int64_t **v, int64_t *n);
/* Read a 1-D dataset of a saved model that must hold exactly want values (*v malloc'd,
 * also on a length mismatch, which fails with SM_EINPUT). */
int sm_h5_read_f64_n(sm_ctx *ctx, hid_t loc, const char *name, int64_t want, double **v);
int sm_h5_read_i64_n(sm_ctx *ctx, hid_t loc, const char *name, int64_t want, int64_t **v);
/* Collective. n floats stored as a float64 dataset (exact: every float is a double). */
int sm_h5_write_floats(sm_ctx *ctx, hid_t loc, const char *name, const float *v, size_t n);
/* A float64 dataset of exactly n values into n floats (SM_EINPUT on a length mismatch). */
int sm_h5_read_floats(sm_ctx *ctx, hid_t loc, const char *name, float *v, size_t n);

/* Collective. Scalar attributes on an object (same value on every rank). */
int sm_h5_attr_str(sm_ctx *ctx, hid_t obj, const char *name, const char *value);
int sm_h5_attr_i64(sm_ctx *ctx, hid_t obj, const char *name, int64_t value);
int sm_h5_attr_f64(sm_ctx *ctx, hid_t obj, const char *name, double value);
/* Read attributes; a string is malloc'd. Returns SM_EINPUT when absent. */
int sm_h5_get_attr_str(sm_ctx *ctx, hid_t obj, const char *name, char **value);
int sm_h5_get_attr_i64(sm_ctx *ctx, hid_t obj, const char *name, int64_t *value);
int sm_h5_get_attr_f64(sm_ctx *ctx, hid_t obj, const char *name, double *value);

/* Collective. A 1-D dataset of fixed-length UTF-8 strings (width: the longest + 1),
 * written by rank 0, read by every rank. Read: *v is (n) malloc'd strings. */
int sm_h5_write_strings(sm_ctx *ctx, hid_t loc, const char *name, char *const *v, int n);
int sm_h5_read_strings(sm_ctx *ctx, hid_t loc, const char *name, char ***v, int *n);

/* Local. Close every dataset, group, attribute and named type still open in a file, so
 * that closing the file itself cannot fail after an early return. */
void sm_h5_close_objects(hid_t file);

#endif
