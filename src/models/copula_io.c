/* Gaussian copula: saving the fitted state to an HDF5 group and loading it back.
 *
 * The group holds attributes (model, n_columns, n_train_rows, clipped_eigenvalues,
 * factorization), per-column arrays, every marginal's segments concatenated in column
 * order, and the correlation and its Cholesky factor (n, n) row-major.
 */
#include <stdlib.h>
#include <string.h>

#include "io/h5util.h"
#include "models/copula.h"

/* Per-column scalars and the concatenated segments of all marginals, as saved. */
typedef struct copula_arrays {
  int64_t *type, *kind, *n_categories, *n_segments; /* (n_cols) */
  double *missing_rate, *lo, *hi;                   /* (n_cols) */
  double *bound, *seg_lo, *seg_hi;                  /* (total segments + n_cols), (total) */
  int64_t total;                                    /* segments over all columns */
} copula_arrays;

static void arrays_free(copula_arrays *a) {
  free(a->type);
  free(a->kind);
  free(a->n_categories);
  free(a->n_segments);
  free(a->missing_rate);
  free(a->lo);
  free(a->hi);
  free(a->bound);
  free(a->seg_lo);
  free(a->seg_hi);
  memset(a, 0, sizeof *a);
}

/* Flatten the state into arrays (local). */
static int arrays_from_state(sm_ctx *ctx, const copula_state *st, copula_arrays *a) {
  int n = st->n_cols;
  memset(a, 0, sizeof *a);
  for (int j = 0; j < n; j++)
    a->total += st->cols[j].marginal.n_segments;
  size_t nc = (size_t)(n > 0 ? n : 1), ns = (size_t)(a->total > 0 ? a->total : 1);
  a->type = sm_malloc(ctx, nc * sizeof(int64_t));
  a->kind = sm_malloc(ctx, nc * sizeof(int64_t));
  a->n_categories = sm_malloc(ctx, nc * sizeof(int64_t));
  a->n_segments = sm_malloc(ctx, nc * sizeof(int64_t));
  a->missing_rate = sm_malloc(ctx, nc * sizeof(double));
  a->lo = sm_malloc(ctx, nc * sizeof(double));
  a->hi = sm_malloc(ctx, nc * sizeof(double));
  a->bound = sm_malloc(ctx, (ns + nc) * sizeof(double));
  a->seg_lo = sm_malloc(ctx, ns * sizeof(double));
  a->seg_hi = sm_malloc(ctx, ns * sizeof(double));
  if (!a->type || !a->kind || !a->n_categories || !a->n_segments || !a->missing_rate || !a->lo ||
      !a->hi || !a->bound || !a->seg_lo || !a->seg_hi)
    return SM_ERR;

  int64_t s = 0, b = 0;
  for (int j = 0; j < n; j++) {
    const copula_column *col = &st->cols[j];
    const sm_marginal *m = &col->marginal;
    a->type[j] = col->type;
    a->kind[j] = col->kind;
    a->n_categories[j] = col->n_categories;
    a->n_segments[j] = m->n_segments;
    a->missing_rate[j] = col->missing_rate;
    a->lo[j] = col->lo;
    a->hi[j] = col->hi;
    memcpy(a->seg_lo + s, m->lo, (size_t)m->n_segments * sizeof(double));
    memcpy(a->seg_hi + s, m->hi, (size_t)m->n_segments * sizeof(double));
    memcpy(a->bound + b, m->bound, (size_t)(m->n_segments + 1) * sizeof(double));
    s += m->n_segments;
    b += m->n_segments + 1;
  }
  return SM_OK;
}

/* Collective. The attributes, arrays and matrices of a state flattened into a. */
static int write_group(sm_ctx *ctx, hid_t g, const copula_state *st, const copula_arrays *a) {
  int n = st->n_cols;
  int64_t nb = a->total + n, nn = (int64_t)n * n;

  /* every rank makes the same calls; rank 0's data is what is written */
  SM_TRY(sm_h5_attr_str(ctx, g, "model", "gaussian_copula"));
  SM_TRY(sm_h5_attr_i64(ctx, g, "n_columns", n));
  SM_TRY(sm_h5_attr_i64(ctx, g, "n_train_rows", st->n_train));
  SM_TRY(sm_h5_attr_i64(ctx, g, "clipped_eigenvalues", st->clipped));
  SM_TRY(sm_h5_attr_i64(ctx, g, "factorization", st->method));
  SM_TRY(sm_h5_write_i64(ctx, g, "column_type", a->type, n));
  SM_TRY(sm_h5_write_i64(ctx, g, "column_kind", a->kind, n));
  SM_TRY(sm_h5_write_i64(ctx, g, "n_categories", a->n_categories, n));
  SM_TRY(sm_h5_write_i64(ctx, g, "n_segments", a->n_segments, n));
  SM_TRY(sm_h5_write_f64(ctx, g, "missing_rate", a->missing_rate, n));
  SM_TRY(sm_h5_write_f64(ctx, g, "range_lo", a->lo, n));
  SM_TRY(sm_h5_write_f64(ctx, g, "range_hi", a->hi, n));
  SM_TRY(sm_h5_write_f64(ctx, g, "segment_bound", a->bound, nb));
  SM_TRY(sm_h5_write_f64(ctx, g, "segment_lo", a->seg_lo, a->total));
  SM_TRY(sm_h5_write_f64(ctx, g, "segment_hi", a->seg_hi, a->total));
  SM_TRY(sm_h5_write_f64(ctx, g, "correlation", st->correlation, nn));
  return sm_h5_write_f64(ctx, g, "cholesky", st->cholesky, nn);
}

int sm_copula_save(sm_ctx *ctx, const void *state, int64_t group) {
  const copula_state *st = state;
  copula_arrays a;
  int rc = sm_agree(ctx, arrays_from_state(ctx, st, &a));
  if (rc == SM_OK)
    rc = write_group(ctx, (hid_t)group, st, &a);
  arrays_free(&a);
  return sm_agree(ctx, rc);
}

/* Read every array of a saved model with n columns (local reads). */
static int read_arrays(sm_ctx *ctx, hid_t g, int n, copula_arrays *a) {
  memset(a, 0, sizeof *a);
  SM_TRY(sm_h5_read_i64_n(ctx, g, "column_type", n, &a->type));
  SM_TRY(sm_h5_read_i64_n(ctx, g, "column_kind", n, &a->kind));
  SM_TRY(sm_h5_read_i64_n(ctx, g, "n_categories", n, &a->n_categories));
  SM_TRY(sm_h5_read_i64_n(ctx, g, "n_segments", n, &a->n_segments));
  for (int j = 0; j < n; j++) {
    if (a->n_segments[j] < 0 || a->n_segments[j] > INT32_MAX)
      return sm_fail(ctx, SM_EINPUT, "model column %d has a bad segment count", j);
    a->total += a->n_segments[j];
  }
  SM_TRY(sm_h5_read_f64_n(ctx, g, "missing_rate", n, &a->missing_rate));
  SM_TRY(sm_h5_read_f64_n(ctx, g, "range_lo", n, &a->lo));
  SM_TRY(sm_h5_read_f64_n(ctx, g, "range_hi", n, &a->hi));
  SM_TRY(sm_h5_read_f64_n(ctx, g, "segment_bound", a->total + n, &a->bound));
  SM_TRY(sm_h5_read_f64_n(ctx, g, "segment_lo", a->total, &a->seg_lo));
  SM_TRY(sm_h5_read_f64_n(ctx, g, "segment_hi", a->total, &a->seg_hi));
  return SM_OK;
}

/* Rebuild the columns of st from the arrays (local). */
static int state_from_arrays(sm_ctx *ctx, copula_state *st, const copula_arrays *a) {
  int64_t s = 0, b = 0;
  for (int j = 0; j < st->n_cols; j++) {
    copula_column *col = &st->cols[j];
    col->type = (sm_coltype)a->type[j];
    col->kind = (int)a->kind[j];
    col->n_categories = (int)a->n_categories[j];
    col->missing_rate = a->missing_rate[j];
    col->lo = a->lo[j];
    col->hi = a->hi[j];
    int ns = (int)a->n_segments[j];
    SM_TRY(sm_marginal_from_segments(ctx, &col->marginal, ns, a->bound + b, a->seg_lo + s,
                                     a->seg_hi + s));
    s += ns;
    b += ns + 1;
  }
  return SM_OK;
}

static int load_into(sm_ctx *ctx, hid_t g, copula_state **out) {
  int64_t n = 0, v = 0;
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "n_columns", &n));
  if (n < 0 || n > 1000000)
    return sm_fail(ctx, SM_EINPUT, "model has a bad column count %lld", (long long)n);
  copula_state *st = sm_copula_state_alloc(ctx, (int)n);
  if (!st)
    return SM_ERR;
  *out = st;
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "n_train_rows", &st->n_train));
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "clipped_eigenvalues", &v));
  st->clipped = (int)v;
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "factorization", &v));
  st->method = (int)v;

  /* per-column arrays and marginals, then the matrices */
  copula_arrays a;
  int rc = read_arrays(ctx, g, (int)n, &a);
  if (rc == SM_OK)
    rc = state_from_arrays(ctx, st, &a);
  arrays_free(&a);
  double *c = NULL, *l = NULL;
  if (rc == SM_OK)
    rc = sm_h5_read_f64_n(ctx, g, "correlation", n * n, &c);
  if (rc == SM_OK)
    rc = sm_h5_read_f64_n(ctx, g, "cholesky", n * n, &l);
  if (rc == SM_OK) {
    memcpy(st->correlation, c, (size_t)(n * n) * sizeof(double));
    memcpy(st->cholesky, l, (size_t)(n * n) * sizeof(double));
  }
  free(c);
  free(l);
  return rc;
}

int sm_copula_load(sm_ctx *ctx, int64_t group, void **state) {
  copula_state *st = NULL;
  int rc = sm_agree(ctx, load_into(ctx, (hid_t)group, &st));
  if (rc != SM_OK) {
    sm_copula_free(st);
    return rc;
  }
  *state = st;
  return SM_OK;
}
