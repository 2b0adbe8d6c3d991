/* The Gaussian copula on real Adult rows at several rank counts: fidelity of a large
 * sample, rank-count independence of the fit, chunking-independent sampling, save/load. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adult.h"
#include "io/h5util.h"
#include "models/copula.h"
#include "models/models.h"
#include "synthmpi/rng.h"
#include "test_util.h"

#define SAMPLE_ROWS 100000

static const sm_model_ops *ops(void) {
  return &sm_model_gaussian_copula;
}

/* The Adult experiment with its model parameters at their declared defaults, or with
 * one "model.<name>=<value>" override. */
static void load_experiment(sm_ctx *ctx, const char *set, sm_experiment *e) {
  int rc = test_adult_experiment(ctx, set ? 1 : 0, &set, e);
  if (rc != SM_OK)
    fprintf(stderr, "experiment: %s\n", ctx->msg);
  CHECK(rc == SM_OK);
}

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Sorted non-missing values; returns their count. */
static int64_t sorted_present(const double *v, int64_t n, double *out) {
  int64_t m = 0;
  for (int64_t r = 0; r < n; r++)
    if (!isnan(v[r]))
      out[m++] = v[r];
  qsort(out, (size_t)m, sizeof(double), compare_double);
  return m;
}

/* Two-sample Kolmogorov-Smirnov distance between the present values of a and b. */
static double ks_distance(const double *a, int64_t na, const double *b, int64_t nb) {
  double *x = malloc((size_t)na * sizeof(double)), *y = malloc((size_t)nb * sizeof(double));
  int64_t n = sorted_present(a, na, x), m = sorted_present(b, nb, y), i = 0, k = 0;
  double d = 0;
  while (i < n && k < m) {
    double v = x[i] < y[k] ? x[i] : y[k];
    while (i < n && x[i] == v)
      i++;
    while (k < m && y[k] == v)
      k++;
    d = fmax(d, fabs((double)i / n - (double)k / m));
  }
  free(x);
  free(y);
  return d;
}

static double missing_rate(const double *v, int64_t n) {
  int64_t m = 0;
  for (int64_t r = 0; r < n; r++)
    m += isnan(v[r]);
  return (double)m / n;
}

/* Total variation distance between category frequencies (missing as a category). */
static double tv_distance(const double *a, int64_t na, const double *b, int64_t nb, int k) {
  double *p = calloc((size_t)k + 1, sizeof(double)), d = 0;
  for (int64_t r = 0; r < na; r++)
    p[isnan(a[r]) ? k : (int)a[r]] += 1.0 / na;
  for (int64_t r = 0; r < nb; r++)
    p[isnan(b[r]) ? k : (int)b[r]] -= 1.0 / nb;
  for (int c = 0; c <= k; c++)
    d += 0.5 * fabs(p[c]);
  free(p);
  return d;
}

/* Rank 0 gets every rank's block of release rows [0, total) of a sample table. */
static void gather_rows(sm_ctx *ctx, const sm_table *part, int64_t total, sm_table *all) {
  int *counts = malloc((size_t)ctx->size * sizeof(int));
  int *displs = malloc((size_t)ctx->size * sizeof(int));
  for (int r = 0; r < ctx->size; r++) {
    int64_t lo, hi;
    sm_partition(total, ctx->size, r, &lo, &hi);
    counts[r] = (int)(hi - lo);
    displs[r] = (int)lo;
  }
  for (int j = 0; j < part->schema.n_cols; j++)
    MPI_Gatherv(part->values[j], (int)part->n_rows, MPI_DOUBLE,
                ctx->rank == 0 ? all->values[j] : NULL, counts, displs, MPI_DOUBLE, 0, ctx->comm);
  free(counts);
  free(displs);
}

/* Fidelity of sample s against training rows t, column by column. */
static void check_fidelity(const sm_table *t, const sm_table *s, const char *label) {
  for (int j = 0; j < t->schema.n_cols; j++) {
    const sm_column *c = &t->schema.cols[j];
    double mt = missing_rate(t->values[j], t->n_rows), ms = missing_rate(s->values[j], s->n_rows);
    if (sm_coltype_is_discrete(c->type)) {
      double tv = tv_distance(t->values[j], t->n_rows, s->values[j], s->n_rows, c->n_categories);
      printf("%s %-15s TV %.4f missing %.4f/%.4f\n", label, c->name, tv, mt, ms);
      CHECK_CLOSE(tv, 0.0, 0.02);
    } else {
      double ks = ks_distance(t->values[j], t->n_rows, s->values[j], s->n_rows);
      printf("%s %-15s KS %.4f missing %.4f/%.4f\n", label, c->name, ks, mt, ms);
      CHECK_CLOSE(ks, 0.0, 0.02);
    }
    CHECK_CLOSE(ms, mt, 0.005);
  }
}

/* Integers are whole and every numeric value lies in the training range. */
static void check_ranges(const sm_table *t, const sm_table *s) {
  for (int j = 0; j < t->schema.n_cols; j++) {
    if (sm_coltype_is_discrete(t->schema.cols[j].type))
      continue;
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t r = 0; r < t->n_rows; r++)
      if (!isnan(t->values[j][r])) {
        lo = fmin(lo, t->values[j][r]);
        hi = fmax(hi, t->values[j][r]);
      }
    int64_t bad = 0;
    for (int64_t r = 0; r < s->n_rows; r++) {
      double v = s->values[j][r];
      bad += !isnan(v) &&
             (v < lo || v > hi || (t->schema.cols[j].type == SM_COL_INTEGER && v != floor(v)));
    }
    CHECK(bad == 0);
  }
}

/* Do two tables hold bitwise the same values? */
static int same_rows(const sm_table *a, const sm_table *b) {
  if (a->n_rows != b->n_rows)
    return 0;
  for (int j = 0; j < a->schema.n_cols; j++)
    if (memcmp(a->values[j], b->values[j], (size_t)a->n_rows * sizeof(double)) != 0)
      return 0;
  return 1;
}

/* Sample rows [row0, row0 + n) in calls of irregular sizes into one table. */
static void sample_chunked(sm_ctx *ctx, const void *state, const sm_schema *schema, uint64_t seed,
                           int64_t row0, int64_t n, sm_table *out) {
  static const int64_t sizes[] = {1, 7, 333, 4096, 2, 1000, 255, 257};
  sm_table_alloc(ctx, out, schema, n);
  for (int64_t done = 0, k = 0; done < n; k++) {
    int64_t m = sizes[k % 8] < n - done ? sizes[k % 8] : n - done;
    sm_table piece;
    sm_table_alloc(ctx, &piece, schema, m);
    CHECK(ops()->sample(ctx, state, seed, row0 + done, &piece) == SM_OK);
    for (int j = 0; j < schema->n_cols; j++)
      memcpy(out->values[j] + done, piece.values[j], (size_t)m * sizeof(double));
    sm_table_free(&piece);
    done += m;
  }
}

/* Values of sorted v below x (or at or below x with inclusive), by bisection. */
static int64_t count_below(const double *v, int64_t n, double x, int inclusive) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (v[mid] < x || (inclusive && v[mid] == x))
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* Reference: correlation of normal scores of two numeric columns, counted the slow way. */
static double reference_correlation(const sm_table *t, int a, int b) {
  int n = t->schema.n_cols, cols[2] = {a, b};
  double *sorted[2], *z = malloc((size_t)t->n_rows * 2 * sizeof(double));
  for (int c = 0; c < 2; c++) {
    sorted[c] = malloc((size_t)t->n_rows * sizeof(double));
    sorted_present(t->values[cols[c]], t->n_rows, sorted[c]);
  }
  for (int64_t r = 0; r < t->n_rows; r++) {
    sm_rng rng;
    sm_rng_init(&rng, SM_COPULA_FIT_SEED, SM_STREAM_FIT, (uint64_t)r);
    for (int j = 0; j < n; j++) {
      double draw = sm_rng_uniform(&rng);
      for (int c = 0; c < 2; c++) {
        if (j != cols[c])
          continue;
        /* the CDF step of x: rows below x, rows at or below x */
        double x = t->values[j][r];
        double below = count_below(sorted[c], t->n_rows, x, 0);
        double upto = count_below(sorted[c], t->n_rows, x, 1);
        double u = below / t->n_rows + draw * (upto / t->n_rows - below / t->n_rows);
        z[2 * r + c] = fmax(-8.5, fmin(8.5, sm_norm_quantile(u)));
      }
    }
  }
  double s[5] = {0};
  for (int64_t r = 0; r < t->n_rows; r++) {
    s[0] += z[2 * r];
    s[1] += z[2 * r + 1];
    s[2] += z[2 * r] * z[2 * r];
    s[3] += z[2 * r + 1] * z[2 * r + 1];
    s[4] += z[2 * r] * z[2 * r + 1];
  }
  double N = (double)t->n_rows, ca = s[2] / N - s[0] * s[0] / (N * N);
  double cb = s[3] / N - s[1] * s[1] / (N * N), cab = s[4] / N - s[0] * s[1] / (N * N);
  free(z);
  free(sorted[0]);
  free(sorted[1]);
  return cab / sqrt(ca * cb);
}

/* Fit on this rank's block of the full table with the given parameters. */
static void *fit_blocks(sm_ctx *ctx, const sm_table *full, const sm_params *p) {
  sm_table part;
  CHECK(test_table_block(ctx, full, &part) == SM_OK);
  sm_model_spec spec = {.kind = "gaussian_copula", .params = *p};
  void *state = NULL;
  int rc = ops()->fit(ctx, &spec, NULL, &part, &state);
  if (rc != SM_OK)
    fprintf(stderr, "fit failed: %s\n", ctx->msg);
  CHECK(rc == SM_OK);
  sm_table_free(&part);
  return state;
}

/* Sample SAMPLE_ROWS release rows split over the ranks; rank 0 checks them against
 * one call for all rows and against the training data. */
static void check_sample(sm_ctx *ctx, const void *state, const sm_table *full, const char *label) {
  int64_t lo, hi;
  sm_partition(SAMPLE_ROWS, ctx->size, ctx->rank, &lo, &hi);
  sm_table part, all, one;
  sm_table_alloc(ctx, &part, &full->schema, hi - lo);
  sm_table_alloc(ctx, &all, &full->schema, ctx->rank == 0 ? SAMPLE_ROWS : 1);
  double t0 = MPI_Wtime();
  CHECK(ops()->sample(ctx, state, 2024, lo, &part) == SM_OK);
  double t1 = MPI_Wtime();
  gather_rows(ctx, &part, SAMPLE_ROWS, &all);
  if (ctx->rank == 0) {
    printf("%s sampled %lld rows in %.3f s (%.2f M rows/s)\n", label, (long long)part.n_rows,
           t1 - t0, part.n_rows / (t1 - t0) / 1e6);
    sm_table_alloc(ctx, &one, &full->schema, SAMPLE_ROWS);
    CHECK(ops()->sample(ctx, state, 2024, 0, &one) == SM_OK);
    CHECK(same_rows(&one, &all));
    check_fidelity(full, &all, label);
    check_ranges(full, &all);
    sm_table_free(&one);
  }
  sm_table_free(&part);
  sm_table_free(&all);
}

/* The fit does not depend on the rank count: rank 0 alone refits on all rows. */
static void check_rank_independence(sm_ctx *ctx, const void *state, const sm_table *full,
                                    const sm_params *p) {
  if (ctx->rank != 0)
    return;
  sm_ctx self;
  sm_ctx_init(&self, MPI_COMM_SELF);
  self.log_level = SM_LOG_WARN;
  void *alone = fit_blocks(&self, full, p);
  int n = 0;
  const double *c = sm_copula_correlation(state, &n), *d = sm_copula_correlation(alone, &n);
  double diff = 0;
  for (int k = 0; k < n * n; k++)
    diff = fmax(diff, fabs(c[k] - d[k]));
  printf("correlation, %d ranks vs 1: max diff %.3g\n", ctx->size, diff);
  CHECK_CLOSE(diff, 0.0, 1e-9);

  /* numeric pairs against the slow reference; L L^T reproduces the correlation */
  static const int numeric[] = {0, 2, 4, 10, 12};
  for (int a = 0; a < 5; a++)
    for (int b = 0; b < a; b++) {
      double want = reference_correlation(full, numeric[a], numeric[b]);
      CHECK_CLOSE(c[numeric[a] * n + numeric[b]], want, 1e-9);
    }
  const double *l = sm_copula_cholesky(state, &n);
  double err = 0;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      double s = 0;
      for (int k = 0; k < n; k++)
        s += l[i * n + k] * l[j * n + k];
      err = fmax(err, fabs(s - c[i * n + j]));
    }
  CHECK_CLOSE(err, 0.0, 1e-12);
  ops()->free_state(alone);
  sm_ctx_free(&self);
}

/* Chunked calls give bitwise the rows of one call. */
static void check_chunking(sm_ctx *ctx, const void *state, const sm_schema *schema) {
  sm_table whole, pieces;
  sm_table_alloc(ctx, &whole, schema, 20000);
  CHECK(ops()->sample(ctx, state, 77, 1000003, &whole) == SM_OK);
  sample_chunked(ctx, state, schema, 77, 1000003, 20000, &pieces);
  CHECK(same_rows(&whole, &pieces));
  sm_table_free(&whole);
  sm_table_free(&pieces);
}

/* Save, load, and sample the same rows from both. */
static void check_round_trip(sm_ctx *ctx, const void *state, const sm_schema *schema) {
  char path[64];
  snprintf(path, sizeof path, "copula_model_np%d.h5", ctx->size);
  hid_t f = sm_h5_create(ctx, path);
  CHECK(f >= 0);
  hid_t g = H5Gcreate2(f, "model", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  CHECK(ops()->save(ctx, state, g) == SM_OK);
  H5Gclose(g);
  H5Fclose(f);

  void *loaded = NULL;
  f = sm_h5_open(ctx, path, 0);
  g = H5Gopen2(f, "model", H5P_DEFAULT);
  int rc = ops()->load(ctx, g, &loaded);
  if (rc != SM_OK)
    fprintf(stderr, "load failed: %s\n", ctx->msg);
  CHECK(rc == SM_OK);
  H5Gclose(g);
  H5Fclose(f);
  if (rc != SM_OK)
    return;

  sm_table a, b;
  sm_table_alloc(ctx, &a, schema, 5000);
  sm_table_alloc(ctx, &b, schema, 5000);
  CHECK(ops()->sample(ctx, state, 9, 12345 + ctx->rank, &a) == SM_OK);
  CHECK(ops()->sample(ctx, loaded, 9, 12345 + ctx->rank, &b) == SM_OK);
  CHECK(same_rows(&a, &b));
  sm_table_free(&a);
  sm_table_free(&b);
  ops()->free_state(loaded);
  if (ctx->rank == 0)
    remove(path);
}

/* A constant column, an all-missing column, a partly missing integer column and a
 * categorical column of which only one category occurs. */
static void check_degenerate(sm_ctx *ctx, const sm_params *p) {
  enum { ROWS = 3001 };
  sm_schema schema = {4, calloc(4, sizeof(sm_column))};
  static const char *const cats[] = {"a", "b", "c"};
  const char *names[] = {"constant", "empty", "digits", "one_category"};
  sm_coltype types[] = {SM_COL_CONTINUOUS, SM_COL_CONTINUOUS, SM_COL_INTEGER, SM_COL_CATEGORICAL};
  for (int j = 0; j < 4; j++) {
    schema.cols[j].name = (char *)names[j];
    schema.cols[j].type = types[j];
  }
  schema.cols[3].n_categories = 3;
  schema.cols[3].categories = (char **)cats;

  /* this rank's rows of the global table */
  int64_t lo, hi;
  sm_partition(ROWS, ctx->size, ctx->rank, &lo, &hi);
  sm_table t;
  sm_table_alloc(ctx, &t, &schema, hi - lo);
  t.row_offset = lo;
  for (int64_t r = 0; r < hi - lo; r++) {
    int64_t g = lo + r;
    t.values[0][r] = 3.5;
    t.values[1][r] = NAN;
    t.values[2][r] = g % 10 == 3 ? NAN : (double)(g * 7 % 10);
    t.values[3][r] = 1;
  }
  sm_model_spec spec = {.kind = "gaussian_copula", .params = *p};
  void *state = NULL;
  CHECK(ops()->fit(ctx, &spec, NULL, &t, &state) == SM_OK);

  /* sample and check each column */
  sm_table s;
  sm_table_alloc(ctx, &s, &schema, 20000);
  CHECK(ops()->sample(ctx, state, 5, 0, &s) == SM_OK);
  int64_t bad = 0, miss = 0;
  for (int64_t r = 0; r < s.n_rows; r++) {
    double d = s.values[2][r];
    bad += s.values[0][r] != 3.5 || !isnan(s.values[1][r]) || s.values[3][r] != 1;
    bad += !isnan(d) && (d < 0 || d > 9 || d != floor(d));
    miss += isnan(d);
  }
  CHECK(bad == 0);
  CHECK_CLOSE((double)miss / s.n_rows, 0.1, 0.01);
  sm_table_free(&s);
  sm_table_free(&t);
  ops()->free_state(state);
  free(schema.cols);
}

/* With ScaLAPACK chosen from one column on, the factor matches LAPACK's. */
static void check_scalapack(sm_ctx *ctx, const void *lapack_state, const sm_table *full) {
  sm_experiment e;
  load_experiment(ctx, "model.scalapack_min_columns=1", &e);
  void *state = fit_blocks(ctx, full, &e.model.params);
  int n = 0;
  const double *a = sm_copula_cholesky(lapack_state, &n), *b = sm_copula_cholesky(state, &n);
  double diff = 0;
  for (int k = 0; k < n * n; k++)
    diff = fmax(diff, fabs(a[k] - b[k]));
  if (ctx->rank == 0)
    printf("Cholesky, ScaLAPACK vs LAPACK: max diff %.3g\n", diff);
  CHECK_CLOSE(diff, 0.0, 1e-10);
  ops()->free_state(state);
  sm_experiment_free(&e);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);

  /* every rank reads all training rows; fits use this rank's block */
  sm_experiment e;
  sm_table full;
  load_experiment(&ctx, NULL, &e);
  int rc = test_failures ? SM_ERR : test_adult_read_all(&ctx, &e, &full);
  if (rc != SM_OK)
    fprintf(stderr, "reading Adult: %s\n", ctx.msg);
  CHECK(rc == SM_OK && full.n_rows == 32561);
  if (sm_agree(&ctx, rc) != SM_OK)
    return test_finish();

  /* default parameters: every Adult column keeps exact counts */
  void *state = fit_blocks(&ctx, &full, &e.model.params);
  check_sample(&ctx, state, &full, "exact");
  check_rank_independence(&ctx, state, &full, &e.model.params);
  check_chunking(&ctx, state, &full.schema);
  check_round_trip(&ctx, state, &full.schema);
  check_scalapack(&ctx, state, &full);
  ops()->free_state(state);
  check_degenerate(&ctx, &e.model.params);
  sm_experiment_free(&e);

  /* few exact values allowed: wide columns go through merged quantile summaries */
  load_experiment(&ctx, "model.exact_distinct_max=50", &e);
  state = fit_blocks(&ctx, &full, &e.model.params);
  check_sample(&ctx, state, &full, "sketch");
  if (ctx.rank == 0) {
    int64_t zeros = 0, zeros_s = 0;
    sm_table s;
    sm_table_alloc(&ctx, &s, &full.schema, SAMPLE_ROWS);
    ops()->sample(&ctx, state, 3, 0, &s);
    for (int64_t r = 0; r < SAMPLE_ROWS; r++)
      zeros_s += s.values[10][r] == 0;
    for (int64_t r = 0; r < full.n_rows; r++)
      zeros += full.values[10][r] == 0;
    printf("capital_gain == 0: %.4f sampled, %.4f real\n", (double)zeros_s / SAMPLE_ROWS,
           (double)zeros / full.n_rows);
    CHECK_CLOSE((double)zeros_s / SAMPLE_ROWS, (double)zeros / full.n_rows, 0.005);
    sm_table_free(&s);
  }
  check_chunking(&ctx, state, &full.schema);
  check_round_trip(&ctx, state, &full.schema);
  ops()->free_state(state);
  sm_experiment_free(&e);
  sm_table_free(&full);
  sm_ctx_free(&ctx);
  return test_finish();
}
