/* The flat encoding in an HDF5 group: per-column arrays and the quantiles end to end. */
#include <stdlib.h>
#include <string.h>

#include "io/h5util.h"
#include "transform/flat.h"

/* Per-column fields saved as float64 arrays, in this order. */
enum {
  F_TYPE,
  F_NUMERIC,
  F_MISSING,
  F_LO,
  F_HI,
  F_MEAN,
  F_STD,
  F_CATEGORIES,
  F_QUANTILES,
  N_FIELDS
};

int sm_flat_save(sm_ctx *ctx, const sm_flat *f, int64_t group) {
  hid_t g = (hid_t)group;
  size_t n = (size_t)(f->n_cols > 0 ? f->n_cols : 1);
  int64_t n_q = 0;
  for (int j = 0; j < f->n_cols; j++)
    n_q += f->cols[j].qt.n;
  double *fields = sm_calloc(ctx, n * N_FIELDS, sizeof(double));
  double *q = sm_calloc(ctx, (size_t)n_q + 1, sizeof(double));
  int rc = sm_agree(ctx, fields && q ? SM_OK : SM_ERR);

  /* (n_cols, N_FIELDS) row-major, then every column's quantiles */
  for (int j = 0, used = 0; rc == SM_OK && j < f->n_cols; j++) {
    const sm_flat_column *c = &f->cols[j];
    double *row = fields + (size_t)j * N_FIELDS;
    row[F_TYPE] = c->type;
    row[F_NUMERIC] = c->numeric;
    row[F_MISSING] = c->has_missing;
    row[F_LO] = c->lo;
    row[F_HI] = c->hi;
    row[F_MEAN] = c->mean;
    row[F_STD] = c->std;
    row[F_CATEGORIES] = c->n_categories;
    row[F_QUANTILES] = c->qt.n;
    if (c->qt.n > 0)
      memcpy(q + used, c->qt.q, (size_t)c->qt.n * sizeof(double));
    used += c->qt.n;
  }
  if (rc == SM_OK)
    rc = sm_h5_attr_i64(ctx, g, "mode", f->mode);
  if (rc == SM_OK)
    rc = sm_h5_write_f64(ctx, g, "columns", fields, (int64_t)f->n_cols * N_FIELDS);
  if (rc == SM_OK)
    rc = sm_h5_write_f64(ctx, g, "quantiles", q, n_q + 1); /* never empty: one 0 ends it */
  free(fields);
  free(q);
  return sm_agree(ctx, rc);
}

/* Local. Columns from the saved arrays; SM_EINPUT when they do not add up. */
static int unpack(sm_ctx *ctx, sm_flat *f, const double *fields, int64_t n_fields, const double *q,
                  int64_t n_q) {
  f->n_cols = (int)(n_fields / N_FIELDS);
  f->cols = sm_calloc(ctx, (size_t)(f->n_cols > 0 ? f->n_cols : 1), sizeof(sm_flat_column));
  if (!f->cols)
    return SM_ERR;
  int64_t used = 0;
  for (int j = 0; j < f->n_cols; j++) {
    const double *row = fields + (size_t)j * N_FIELDS;
    sm_flat_column *c = &f->cols[j];
    c->type = (sm_coltype)row[F_TYPE];
    c->numeric = row[F_NUMERIC] != 0;
    c->has_missing = row[F_MISSING] != 0;
    c->lo = row[F_LO];
    c->hi = row[F_HI];
    c->mean = row[F_MEAN];
    c->std = row[F_STD];
    c->n_categories = (int)row[F_CATEGORIES];
    int k = (int)row[F_QUANTILES];
    if (k < 0 || used + k > n_q || c->n_categories < 0)
      return sm_fail(ctx, SM_EINPUT, "flat encoding: column %d does not fit the saved arrays", j);
    if (k == 0)
      continue;
    c->qt.q = sm_malloc(ctx, (size_t)k * sizeof(double));
    if (!c->qt.q)
      return SM_ERR;
    memcpy(c->qt.q, q + used, (size_t)k * sizeof(double));
    c->qt.n = k;
    used += k;
  }
  return sm_flat_layout(ctx, f);
}

int sm_flat_load(sm_ctx *ctx, sm_flat *f, int64_t group) {
  hid_t g = (hid_t)group;
  double *fields = NULL, *q = NULL;
  int64_t n_fields = 0, n_q = 0, mode = 0;
  memset(f, 0, sizeof *f);
  int rc = sm_h5_get_attr_i64(ctx, g, "mode", &mode);
  if (rc == SM_OK)
    rc = sm_h5_read_f64(ctx, g, "columns", &fields, &n_fields);
  if (rc == SM_OK)
    rc = sm_h5_read_f64(ctx, g, "quantiles", &q, &n_q);
  if (rc == SM_OK && (n_fields % N_FIELDS != 0 || mode < 0 || mode > 1))
    rc = sm_fail(ctx, SM_EINPUT, "flat encoding: malformed group");
  f->mode = (sm_flat_mode)mode;
  if (rc == SM_OK)
    rc = unpack(ctx, f, fields, n_fields, q, n_q - 1);
  free(fields);
  free(q);
  if (rc != SM_OK)
    sm_flat_free(f);
  return sm_agree(ctx, rc);
}
