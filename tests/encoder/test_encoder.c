/* Mode-specific normalisation at several rank counts: the layout and round trip on real
 * Adult rows, encoding independent of the encoding rank, awkward columns (constant, all
 * but one missing, three distinct integers), decoding noise keyed by row, save/load. */
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adult.h"
#include "io/h5util.h"
#include "synthmpi/encoder.h"
#include "synthmpi/rng.h"
#include "test_util.h"

#define SEED 77
#define N_SMALL 3000
#define ROUND_TRIP_TOL 1e-6 /* relative to max(|x|, 1), before rounding */
#define CLIPPED 0.98999     /* |alpha| at the clip: the value is not recoverable */

enum { C_CONST, C_SPARSE, C_THREE, C_MIXTURE, C_CAT, N_SMALL_COLS };

/* ---- layout ------------------------------------------------------------------------ */

/* Spans follow the documented layout, back to back, and add up to the width. */
static void check_layout(const sm_encoder *enc) {
  int s = 0, start = 0;
  for (int j = 0; j < enc->n_cols; j++) {
    const sm_encoder_column *c = &enc->cols[j];
    int want[3], n = 0;
    if (c->numeric) {
      want[n++] = 1;
      want[n++] = c->bgm.n_modes;
      if (c->has_missing)
        want[n++] = 2;
    } else {
      want[n++] = c->n_categories + c->has_missing;
    }
    CHECK(c->first_span == s && c->n_spans == n);
    CHECK(c->value_span == (c->numeric ? s : -1));
    for (int i = 0; i < n && s + i < enc->n_spans; i++) {
      const sm_span *sp = &enc->spans[s + i];
      CHECK(sp->start == start && sp->width == want[i] && sp->column == j);
      CHECK(sp->kind == (c->numeric && i == 0 ? SM_SPAN_SCALAR : SM_SPAN_ONEHOT));
      start += want[i];
    }
    s += n;
  }
  CHECK(s == enc->n_spans && start == enc->width);
}

/* has_missing agrees with a count of NaN over all ranks. */
static void check_missing_flags(sm_ctx *ctx, const sm_encoder *enc, const sm_table *t) {
  for (int j = 0; j < t->schema.n_cols; j++) {
    int64_t m = 0;
    for (int64_t r = 0; r < t->n_rows; r++)
      m += isnan(t->values[j][r]);
    MPI_Allreduce(MPI_IN_PLACE, &m, 1, MPI_INT64_T, MPI_SUM, ctx->comm);
    CHECK(enc->cols[j].has_missing == (m > 0));
  }
}

/* ---- round trip -------------------------------------------------------------------- */

/* Encode the local rows and decode them (no noise); every code comes back exactly, every
 * numeric value whose alpha is not clipped within ROUND_TRIP_TOL (rounded types exactly).
 * Returns the clipped count over all ranks. */
static int64_t check_round_trip(sm_ctx *ctx, const sm_encoder *enc, const sm_table *t,
                                const char *label) {
  float *code = malloc((size_t)(t->n_rows * enc->width + 1) * sizeof(float));
  sm_table back;
  CHECK(sm_table_alloc(ctx, &back, &t->schema, t->n_rows) == SM_OK);
  sm_encoder_encode(enc, t, 0, t->n_rows, SEED, SM_STREAM_ENCODE, code);
  sm_encoder_decode(enc, code, NULL, t->n_rows, SEED, SM_STREAM_DECODE, t->row_offset, &back, 0);

  int64_t clipped = 0, bad = 0;
  double worst = 0;
  for (int j = 0; j < t->schema.n_cols; j++) {
    const sm_encoder_column *c = &enc->cols[j];
    int whole = c->type == SM_COL_INTEGER || c->type == SM_COL_DATETIME;
    for (int64_t r = 0; r < t->n_rows; r++) {
      double x = t->values[j][r], y = back.values[j][r];
      if (isnan(x) || !c->numeric) {
        bad += !(isnan(x) ? isnan(y) : x == y);
        continue;
      }
      if (fabs(code[r * enc->width + enc->spans[c->value_span].start]) > CLIPPED) {
        clipped++;
        continue;
      }
      double d = fabs(y - x) / fmax(fabs(x), 1);
      worst = whole ? worst : fmax(worst, d);
      bad += whole ? x != y : !(d <= ROUND_TRIP_TOL);
    }
  }
  MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT64_T, MPI_SUM, ctx->comm);
  MPI_Allreduce(MPI_IN_PLACE, &clipped, 1, MPI_INT64_T, MPI_SUM, ctx->comm);
  MPI_Allreduce(MPI_IN_PLACE, &worst, 1, MPI_DOUBLE, MPI_MAX, ctx->comm);
  if (ctx->rank == 0)
    printf("%s round trip: %lld wrong, %lld clipped, max relative difference %.3g (tol %.0g)\n",
           label, (long long)bad, (long long)clipped, worst, ROUND_TRIP_TOL);
  CHECK(bad == 0);
  sm_table_free(&back);
  free(code);
  return clipped;
}

/* ---- awkward columns --------------------------------------------------------------- */

static double mixture_value(int64_t i) {
  sm_rng r;
  sm_rng_init(&r, 2024, SM_STREAM_TEST, (uint64_t)i);
  double u = sm_rng_uniform(&r), z = sm_rng_normal(&r);
  return u < 0.3 ? -5 + z : 10 + 2 * z;
}

/* This rank's block of N_SMALL rows of the five small columns. */
static void small_table(sm_ctx *ctx, sm_table *t) {
  static const char *names[N_SMALL_COLS] = {"constant", "sparse", "three", "mixture", "cat"};
  static const sm_coltype types[N_SMALL_COLS] = {
      SM_COL_CONTINUOUS, SM_COL_CONTINUOUS, SM_COL_INTEGER, SM_COL_CONTINUOUS, SM_COL_CATEGORICAL};
  static char *cats[3] = {"a", "b", "c"};
  sm_column cols[N_SMALL_COLS];
  memset(cols, 0, sizeof cols);
  for (int j = 0; j < N_SMALL_COLS; j++) {
    cols[j].name = (char *)names[j];
    cols[j].type = types[j];
  }
  cols[C_CAT].n_categories = 3;
  cols[C_CAT].categories = cats;
  sm_schema schema = {N_SMALL_COLS, cols};

  int64_t lo, hi;
  sm_partition(N_SMALL, ctx->size, ctx->rank, &lo, &hi);
  CHECK(sm_table_alloc(ctx, t, &schema, hi - lo) == SM_OK);
  t->row_offset = lo;
  t->n_rows_total = N_SMALL;
  for (int64_t r = 0; r < hi - lo; r++) {
    int64_t g = lo + r;
    t->values[C_CONST][r] = 3.5;
    t->values[C_SPARSE][r] = g == 0 ? 42 : NAN;
    t->values[C_THREE][r] = (double)((int[]){1, 2, 5})[g % 3];
    t->values[C_MIXTURE][r] = mixture_value(g);
    t->values[C_CAT][r] = g % 7 == 0 ? NAN : (double)(g % 3);
  }
}

static void test_small_columns(sm_ctx *ctx) {
  sm_table t;
  sm_encoder enc;
  small_table(ctx, &t);
  int rc = sm_encoder_fit(ctx, &enc, &t, NULL);
  CHECK(rc == SM_OK);
  if (rc != SM_OK) {
    fprintf(stderr, "fit: %s\n", ctx->msg);
    sm_table_free(&t);
    return;
  }
  check_layout(&enc);
  check_missing_flags(ctx, &enc, &t);
  if (ctx->rank == 0)
    for (int j = 0; j < enc.n_cols; j++)
      printf("small %-8s modes %d iterations %d width %d\n", t.schema.cols[j].name,
             enc.cols[j].bgm.n_modes, enc.cols[j].bgm.iterations,
             enc.spans[enc.cols[j].first_span + enc.cols[j].n_spans - 1].start +
                 enc.spans[enc.cols[j].first_span + enc.cols[j].n_spans - 1].width -
                 enc.spans[enc.cols[j].first_span].start);

  /* a constant and a single present value: one mode at the value */
  CHECK(enc.cols[C_CONST].bgm.n_modes == 1 && !enc.cols[C_CONST].has_missing);
  CHECK_CLOSE(enc.cols[C_CONST].bgm.mean[0], 3.5, 1e-12);
  CHECK(enc.cols[C_SPARSE].bgm.n_modes == 1 && enc.cols[C_SPARSE].has_missing);
  CHECK_CLOSE(enc.cols[C_SPARSE].bgm.mean[0], 42, 1e-12);
  CHECK(enc.cols[C_THREE].bgm.n_modes <= 3);
  CHECK(enc.cols[C_CAT].has_missing && enc.spans[enc.cols[C_CAT].first_span].width == 4);
  CHECK(enc.cols[C_THREE].lo == 1 && enc.cols[C_THREE].hi == 5);

  /* round trip: nothing clipped except mixture tails */
  int64_t clipped = check_round_trip(ctx, &enc, &t, "small");
  CHECK(clipped < N_SMALL / 100);
  sm_encoder_free(&enc);
  sm_table_free(&t);
}

/* ---- decoding noise ---------------------------------------------------------------- */

/* With noise, release row i decodes the same whether decoded in one call or in pieces. */
static void test_decode_noise(sm_ctx *ctx, const sm_encoder *enc, const sm_table *t) {
  int64_t n = t->n_rows < 500 ? t->n_rows : 500, cut = n / 3;
  float *code = malloc((size_t)(n * enc->width + 1) * sizeof(float));
  float *sigma = malloc((size_t)enc->width * sizeof(float));
  for (int k = 0; k < enc->width; k++)
    sigma[k] = 0.05f;
  sm_table one, two;
  sm_table_alloc(ctx, &one, &t->schema, n);
  sm_table_alloc(ctx, &two, &t->schema, n);
  sm_encoder_encode(enc, t, 0, n, SEED, SM_STREAM_ENCODE, code);
  sm_encoder_decode(enc, code, sigma, n, SEED, SM_STREAM_DECODE, 1000, &one, 0);
  sm_encoder_decode(enc, code, sigma, cut, SEED, SM_STREAM_DECODE, 1000, &two, 0);
  sm_encoder_decode(enc, code + cut * enc->width, sigma, n - cut, SEED, SM_STREAM_DECODE,
                    1000 + cut, &two, cut);
  int64_t differ = 0, moved = 0;
  for (int j = 0; j < t->schema.n_cols; j++)
    for (int64_t r = 0; r < n; r++) {
      double a = one.values[j][r], b = two.values[j][r];
      differ += !(a == b || (isnan(a) && isnan(b)));
      moved += enc->cols[j].numeric && !isnan(a) && a != t->values[j][r];
    }
  CHECK(differ == 0);
  CHECK(moved > 0);
  sm_table_free(&one);
  sm_table_free(&two);
  free(sigma);
  free(code);
}

/* ---- Adult ------------------------------------------------------------------------- */

/* Encoding a row gives the same floats on whichever rank encodes it: this rank's rows
 * against the same rows encoded from the whole file on one rank. */
static void check_rank_invariance(sm_ctx *ctx, const sm_encoder *enc, const sm_experiment *e,
                                  const sm_table *t) {
  sm_table full;
  CHECK(test_adult_read_all(ctx, e, &full) == SM_OK);
  size_t w = (size_t)enc->width, n = (size_t)t->n_rows;
  float *mine = malloc((n * w + 1) * sizeof(float)), *theirs = malloc((n * w + 1) * sizeof(float));
  sm_encoder_encode(enc, t, 0, t->n_rows, SEED, SM_STREAM_ENCODE, mine);
  sm_encoder_encode(enc, &full, t->row_offset, t->n_rows, SEED, SM_STREAM_ENCODE, theirs);
  int same = memcmp(mine, theirs, n * w * sizeof(float)) == 0;
  CHECK(same);
  CHECK(full.row_offset == 0 && full.n_rows == t->n_rows_total);
  free(mine);
  free(theirs);
  sm_table_free(&full);
}

/* Save into a group of a fresh file, load it back: the same encoder, the same encoding. */
static void check_save_load(sm_ctx *ctx, const sm_encoder *enc, const sm_table *t) {
  char dir[256] = "/tmp/synthmpi-encoder.XXXXXX", path[300];
  if (ctx->rank == 0 && !mkdtemp(dir))
    dir[0] = 0;
  MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, ctx->comm);
  CHECK(dir[0] != 0);
  snprintf(path, sizeof path, "%s/encoder.h5", dir);

  /* write */
  hid_t f = sm_h5_create(ctx, path);
  CHECK(f >= 0);
  hid_t g = H5Gcreate2(f, "encoder", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  CHECK(sm_encoder_save(ctx, enc, g) == SM_OK);
  H5Gclose(g);
  H5Fclose(f);

  /* read and compare */
  sm_encoder back;
  f = sm_h5_open(ctx, path, 0);
  g = H5Gopen2(f, "encoder", H5P_DEFAULT);
  int rc = sm_encoder_load(ctx, &back, g);
  CHECK(rc == SM_OK);
  H5Gclose(g);
  H5Fclose(f);
  if (rc == SM_OK) {
    CHECK(back.n_cols == enc->n_cols && back.width == enc->width && back.n_spans == enc->n_spans);
    CHECK(memcmp(back.spans, enc->spans, (size_t)enc->n_spans * sizeof(sm_span)) == 0);
    for (int j = 0; j < enc->n_cols; j++) {
      const sm_encoder_column *a = &enc->cols[j], *b = &back.cols[j];
      CHECK(a->type == b->type && a->numeric == b->numeric && a->has_missing == b->has_missing);
      CHECK(a->n_categories == b->n_categories && a->lo == b->lo && a->hi == b->hi);
      CHECK(a->bgm.n_modes == b->bgm.n_modes && a->bgm.iterations == b->bgm.iterations);
      size_t m = (size_t)a->bgm.n_modes * sizeof(double);
      CHECK(!memcmp(a->bgm.weight, b->bgm.weight, m) && !memcmp(a->bgm.mean, b->bgm.mean, m));
      CHECK(!memcmp(a->bgm.std, b->bgm.std, m) && !memcmp(a->bgm.resp_const, b->bgm.resp_const, m));
    }
    size_t n = (size_t)t->n_rows * (size_t)enc->width + 1;
    float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float));
    sm_encoder_encode(enc, t, 0, t->n_rows, SEED, SM_STREAM_ENCODE, x);
    sm_encoder_encode(&back, t, 0, t->n_rows, SEED, SM_STREAM_ENCODE, y);
    CHECK(memcmp(x, y, (n - 1) * sizeof(float)) == 0);
    free(x);
    free(y);
    sm_encoder_free(&back);
  }

  /* clean up */
  MPI_Barrier(ctx->comm);
  if (ctx->rank == 0) {
    unlink(path);
    rmdir(dir);
  }
}

static void test_adult(sm_ctx *ctx) {
  sm_experiment e;
  sm_table t;
  sm_encoder enc;
  CHECK(test_adult_experiment(ctx, 0, NULL, &e) == SM_OK);
  CHECK(test_adult_read(ctx, &e, &t, NULL) == SM_OK);
  int rc = sm_encoder_fit(ctx, &enc, &t, NULL);
  CHECK(rc == SM_OK);
  if (rc != SM_OK) {
    fprintf(stderr, "fit: %s\n", ctx->msg);
    return;
  }

  /* the layout, reported column by column */
  check_layout(&enc);
  check_missing_flags(ctx, &enc, &t);
  if (ctx->rank == 0) {
    for (int j = 0; j < enc.n_cols; j++) {
      const sm_encoder_column *c = &enc.cols[j];
      printf("adult %-15s %-11s modes %2d categories %2d missing %d iterations %3d\n",
             t.schema.cols[j].name, sm_coltype_name(c->type), c->bgm.n_modes, c->n_categories,
             c->has_missing, c->bgm.iterations);
    }
    printf("adult encoded width %d (%d spans)\n", enc.width, enc.n_spans);
  }

  /* round trip, rank independence, noise keyed by row, save/load */
  check_round_trip(ctx, &enc, &t, "adult");
  check_rank_invariance(ctx, &enc, &e, &t);
  test_decode_noise(ctx, &enc, &t);
  check_save_load(ctx, &enc, &t);
  sm_encoder_free(&enc);
  sm_table_free(&t);
  sm_experiment_free(&e);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  ctx.log_level = SM_LOG_WARN;
  test_small_columns(&ctx);
  test_adult(&ctx);
  sm_ctx_free(&ctx);
  return test_finish();
}
