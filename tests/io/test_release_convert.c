/* The release writer's conversion of sampled values to their stored types: integer
 * columns are rounded half away from zero (llround) when a model gives a fraction, and
 * stored as int64 with INT64_MIN for missing; code columns become int32 with -1 for
 * missing; a code outside the column's categories stops the write with its row, on every
 * rank. Rows are written in blocks, so the rows cross block and chunk edges at 1, 2 and 3
 * ranks. */
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthmpi/release.h"
#include "test_util.h"
#include "testmodel.h"

#define ROWS 5003
#define CHUNK 1000
#define N_CATEGORIES 3

/* The model's values of row i: n = (i - 2500) / 2 (halves and whole numbers, both signs),
 * missing every 7th row; c = i mod 4, where 3 is missing (NaN) or, when bad_row is i, the
 * code 3 itself (one past the categories). */
static void convert_row(int64_t i, int64_t bad_row, double *n, double *c) {
  *n = i % 7 == 0 ? NAN : (double)(i - 2500) / 2.0;
  *c = i % 4 == 3 ? (i == bad_row ? 3.0 : NAN) : (double)(i % 4);
}

static int convert_sample(sm_ctx *ctx, const void *state, uint64_t seed, int64_t row0,
                          sm_table *out) {
  (void)ctx, (void)seed;
  int64_t bad_row = *(const int64_t *)state;
  for (int64_t i = 0; i < out->n_rows; i++)
    convert_row(row0 + i, bad_row, &out->values[0][i], &out->values[1][i]);
  return SM_OK;
}

static const sm_model_ops convert_ops = {
    .kind = "io_convert_model",
    .summary = "halves and codes for the conversion test",
    .sample = convert_sample,
    .free_state = free,
};

/* The two-column model; bad_row -1: every code valid. */
static void make_model(sm_model *m, int64_t bad_row) {
  memset(m, 0, sizeof *m);
  int64_t *state = malloc(sizeof *state);
  *state = bad_row;
  sm_column *cols = calloc(2, sizeof(sm_column));
  cols[0].name = sm_strdup("n");
  cols[0].type = SM_COL_INTEGER;
  cols[1].name = sm_strdup("c");
  cols[1].type = SM_COL_CATEGORICAL;
  cols[1].n_categories = N_CATEGORIES;
  cols[1].categories = calloc(N_CATEGORIES, sizeof(char *));
  for (int k = 0; k < N_CATEGORIES; k++)
    cols[1].categories[k] = sm_strdup(k == 0 ? "a" : k == 1 ? "b" : "c");
  m->ops = &convert_ops;
  m->state = state;
  m->schema.n_cols = 2;
  m->schema.cols = cols;
}

/* Read the whole dataset name of f as mem_type into buf; 0 on success. */
static int read_column(hid_t f, const char *name, hid_t mem_type, void *buf) {
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  if (d < 0)
    return -1;
  herr_t rc = H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
  H5Dclose(d);
  return rc < 0 ? -1 : 0;
}

/* Rank 0 reads both columns back and counts the values that differ from the expected
 * stored ones (-1: unreadable). */
static long check_stored(const char *path) {
  int64_t *n = malloc(ROWS * sizeof(int64_t));
  int32_t *c = malloc(ROWS * sizeof(int32_t));
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  long bad = -1;
  if (f >= 0 && read_column(f, "/columns/n", H5T_NATIVE_INT64, n) == 0 &&
      read_column(f, "/columns/c", H5T_NATIVE_INT32, c) == 0) {
    bad = 0;
    for (int64_t i = 0; i < ROWS; i++) {
      double x, y;
      convert_row(i, -1, &x, &y);
      int64_t want_n = isnan(x) ? INT64_MIN : llround(x);
      int32_t want_c = isnan(y) ? -1 : (int32_t)y;
      bad += n[i] != want_n || c[i] != want_c;
    }
  }
  if (f >= 0)
    H5Fclose(f);
  free(n);
  free(c);
  return bad;
}

int main(int argc, char **argv) {
  sm_ctx ctx;
  char *dir = test_io_begin(&argc, &argv, &ctx);
  CHECK(dir != NULL);
  ctx.log_level = SM_LOG_ERROR;
  sm_experiment e;
  test_experiment(&e, ROWS, 1, CHUNK, 0);

  /* valid values: rounded integers and codes, missing values as their markers */
  sm_model m;
  make_model(&m, -1);
  const char *path = test_path(0, dir, "convert.h5");
  CHECK(sm_release_write(&ctx, &e, &m, path) == SM_OK);
  sm_model_free(&m);
  if (ctx.rank == 0) {
    long bad = check_stored(path);
    printf("%d ranks: %d rows, %ld stored values differ from llround / codes\n", ctx.size, ROWS,
           bad);
    CHECK(bad == 0);
  }

  /* a code outside the categories: every rank fails, the message names the row */
  make_model(&m, 3003);
  int rc = sm_release_write(&ctx, &e, &m, test_path(1, dir, "bad.h5"));
  sm_model_free(&m);
  int64_t lo, hi;
  sm_partition(ROWS, ctx.size, ctx.rank, &lo, &hi);
  if (lo <= 3003 && 3003 < hi) {
    printf("bad code, rank %d: status %d: %s\n", ctx.rank, rc, ctx.msg);
    CHECK(strstr(ctx.msg, "row 3003: code 3 outside its 3 categories") != NULL);
  }
  CHECK(rc != SM_OK);
  CHECK(!test_exists(test_path(1, dir, "bad.h5")));

  test_experiment_free(&e);
  test_io_end(&ctx, dir);
  return test_finish();
}
