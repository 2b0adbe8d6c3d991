/* Mode-specific normalisation: saving a fitted encoder into an HDF5 group and loading it.
 *
 * The group holds the attributes transform, n_columns and width, per-column arrays
 * (column_type, has_missing, n_categories, n_modes, iterations, converged, range_lo,
 * range_hi) and the modes as (n_columns, SM_MAX_MODES) row-major arrays (mode_weight,
 * mode_mean, mode_std, mode_resp_const; zero past a column's modes). Arrays hold at least
 * one entry. The spans are laid out again on load.
 */
#include <stdlib.h>
#include <string.h>

#include "io/h5util.h"
#include "transform/encoder_internal.h"

#define N_INT_ARRAYS 6
#define N_COL_F64 2
#define N_MODE_F64 4

static const char *const int_names[N_INT_ARRAYS] = {"column_type", "has_missing", "n_categories",
                                                    "n_modes",     "iterations",  "converged"};
static const char *const col_f64_names[N_COL_F64] = {"range_lo", "range_hi"};
static const char *const mode_names[N_MODE_F64] = {"mode_weight", "mode_mean", "mode_std",
                                                   "mode_resp_const"};

/* The saved arrays: ints (N_INT_ARRAYS, n), column doubles (N_COL_F64, n), modes
 * (N_MODE_F64, n * SM_MAX_MODES); n at least 1. */
typedef struct encoder_arrays {
  int64_t n;
  int64_t *ints[N_INT_ARRAYS];
  double *cols[N_COL_F64];
  double *modes[N_MODE_F64];
} encoder_arrays;

static void arrays_free(encoder_arrays *a) {
  for (int i = 0; i < N_INT_ARRAYS; i++)
    free(a->ints[i]);
  for (int i = 0; i < N_COL_F64; i++)
    free(a->cols[i]);
  for (int i = 0; i < N_MODE_F64; i++)
    free(a->modes[i]);
  memset(a, 0, sizeof *a);
}

static int arrays_alloc(sm_ctx *ctx, encoder_arrays *a, int n_cols) {
  memset(a, 0, sizeof *a);
  a->n = n_cols > 0 ? n_cols : 1;
  for (int i = 0; i < N_INT_ARRAYS; i++)
    if (!(a->ints[i] = sm_calloc(ctx, (size_t)a->n, sizeof(int64_t))))
      return SM_ERR;
  for (int i = 0; i < N_COL_F64; i++)
    if (!(a->cols[i] = sm_calloc(ctx, (size_t)a->n, sizeof(double))))
      return SM_ERR;
  for (int i = 0; i < N_MODE_F64; i++)
    if (!(a->modes[i] = sm_calloc(ctx, (size_t)a->n * SM_MAX_MODES, sizeof(double))))
      return SM_ERR;
  return SM_OK;
}

/* Flatten the columns of enc into a (local). */
static void arrays_from_encoder(const sm_encoder *enc, encoder_arrays *a) {
  for (int j = 0; j < enc->n_cols; j++) {
    const sm_encoder_column *c = &enc->cols[j];
    int64_t v[N_INT_ARRAYS] = {c->type,        c->has_missing,    c->n_categories,
                               c->bgm.n_modes, c->bgm.iterations, c->bgm.converged};
    for (int i = 0; i < N_INT_ARRAYS; i++)
      a->ints[i][j] = v[i];
    a->cols[0][j] = c->lo;
    a->cols[1][j] = c->hi;
    for (int k = 0; k < c->bgm.n_modes; k++) {
      a->modes[0][j * SM_MAX_MODES + k] = c->bgm.weight[k];
      a->modes[1][j * SM_MAX_MODES + k] = c->bgm.mean[k];
      a->modes[2][j * SM_MAX_MODES + k] = c->bgm.std[k];
      a->modes[3][j * SM_MAX_MODES + k] = c->bgm.resp_const[k];
    }
  }
}

/* Collective. Attributes and arrays into group g. */
static int write_group(sm_ctx *ctx, hid_t g, const sm_encoder *enc, const encoder_arrays *a) {
  SM_TRY(sm_h5_attr_str(ctx, g, "transform", "mode_specific_normalisation"));
  SM_TRY(sm_h5_attr_i64(ctx, g, "n_columns", enc->n_cols));
  SM_TRY(sm_h5_attr_i64(ctx, g, "width", enc->width));
  for (int i = 0; i < N_INT_ARRAYS; i++)
    SM_TRY(sm_h5_write_i64(ctx, g, int_names[i], a->ints[i], a->n));
  for (int i = 0; i < N_COL_F64; i++)
    SM_TRY(sm_h5_write_f64(ctx, g, col_f64_names[i], a->cols[i], a->n));
  for (int i = 0; i < N_MODE_F64; i++)
    SM_TRY(sm_h5_write_f64(ctx, g, mode_names[i], a->modes[i], a->n * SM_MAX_MODES));
  return SM_OK;
}

int sm_encoder_save(sm_ctx *ctx, const sm_encoder *enc, int64_t group) {
  encoder_arrays a;
  int rc = arrays_alloc(ctx, &a, enc->n_cols);
  if (rc == SM_OK)
    arrays_from_encoder(enc, &a);
  rc = sm_agree(ctx, rc);
  if (rc == SM_OK)
    rc = write_group(ctx, (hid_t)group, enc, &a);
  arrays_free(&a);
  return sm_agree(ctx, rc);
}

/* Read one array of the expected length (local). */
static int read_array(sm_ctx *ctx, hid_t g, const char *name, int is_int, int64_t want, void **v) {
  int64_t n = 0;
  if (is_int)
    SM_TRY(sm_h5_read_i64(ctx, g, name, (int64_t **)v, &n));
  else
    SM_TRY(sm_h5_read_f64(ctx, g, name, (double **)v, &n));
  if (n != want)
    return sm_fail(ctx, SM_EINPUT, "encoder dataset '%s' has %lld values, want %lld", name,
                   (long long)n, (long long)want);
  return SM_OK;
}

static int read_arrays(sm_ctx *ctx, hid_t g, int n_cols, encoder_arrays *a) {
  memset(a, 0, sizeof *a);
  a->n = n_cols > 0 ? n_cols : 1;
  for (int i = 0; i < N_INT_ARRAYS; i++)
    SM_TRY(read_array(ctx, g, int_names[i], 1, a->n, (void **)&a->ints[i]));
  for (int i = 0; i < N_COL_F64; i++)
    SM_TRY(read_array(ctx, g, col_f64_names[i], 0, a->n, (void **)&a->cols[i]));
  for (int i = 0; i < N_MODE_F64; i++)
    SM_TRY(read_array(ctx, g, mode_names[i], 0, a->n * SM_MAX_MODES, (void **)&a->modes[i]));
  return SM_OK;
}

/* Rebuild column j from the arrays, checking what the layout relies on. */
static int column_from_arrays(sm_ctx *ctx, const encoder_arrays *a, int j, sm_encoder_column *c) {
  int64_t type = a->ints[0][j], n_cat = a->ints[2][j], n_modes = a->ints[3][j];
  if (type < SM_COL_CONTINUOUS || type > SM_COL_DATETIME || n_cat < 0 || n_cat > INT32_MAX)
    return sm_fail(ctx, SM_EINPUT, "encoder column %d has a bad type or category count", j);
  c->type = (sm_coltype)type;
  c->numeric = !sm_coltype_is_discrete(c->type);
  if (c->numeric && (n_modes < 1 || n_modes > SM_MAX_MODES))
    return sm_fail(ctx, SM_EINPUT, "encoder column %d has a bad mode count", j);
  c->has_missing = a->ints[1][j] != 0;
  c->n_categories = (int)n_cat;
  c->bgm.n_modes = c->numeric ? (int)n_modes : 0;
  c->bgm.iterations = (int)a->ints[4][j];
  c->bgm.converged = (int)a->ints[5][j];
  c->lo = a->cols[0][j];
  c->hi = a->cols[1][j];
  for (int k = 0; k < c->bgm.n_modes; k++) {
    c->bgm.weight[k] = a->modes[0][j * SM_MAX_MODES + k];
    c->bgm.mean[k] = a->modes[1][j * SM_MAX_MODES + k];
    c->bgm.std[k] = a->modes[2][j * SM_MAX_MODES + k];
    c->bgm.resp_const[k] = a->modes[3][j * SM_MAX_MODES + k];
  }
  return SM_OK;
}

static int load_into(sm_ctx *ctx, hid_t g, sm_encoder *enc) {
  int64_t n = 0, width = 0;
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "n_columns", &n));
  SM_TRY(sm_h5_get_attr_i64(ctx, g, "width", &width));
  if (n < 0 || n > 1000000)
    return sm_fail(ctx, SM_EINPUT, "encoder has a bad column count %lld", (long long)n);

  /* the columns, then the spans laid out again and checked against the saved width */
  enc->cols = sm_calloc(ctx, (size_t)(n > 0 ? n : 1), sizeof(sm_encoder_column));
  if (!enc->cols)
    return SM_ERR;
  enc->n_cols = (int)n;
  encoder_arrays a;
  int rc = read_arrays(ctx, g, (int)n, &a);
  for (int j = 0; j < enc->n_cols && rc == SM_OK; j++)
    rc = column_from_arrays(ctx, &a, j, &enc->cols[j]);
  arrays_free(&a);
  SM_TRY(rc);
  SM_TRY(sm_encoder_layout(ctx, enc));
  if (enc->width != width)
    return sm_fail(ctx, SM_EINPUT, "encoder width %d does not match the saved %lld", enc->width,
                   (long long)width);
  return SM_OK;
}

int sm_encoder_load(sm_ctx *ctx, sm_encoder *enc, int64_t group) {
  memset(enc, 0, sizeof *enc);
  int rc = sm_agree(ctx, load_into(ctx, (hid_t)group, enc));
  if (rc != SM_OK)
    sm_encoder_free(enc);
  return rc;
}
