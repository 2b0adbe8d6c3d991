/* Gaussian copula: empirical marginals and the correlation of normal scores.
 *
 * Fit (collective): each column gets a marginal as an inverse CDF (exact value counts,
 * a merged quantile summary, or frequency intervals of categories); every training row
 * becomes a vector of normal scores whose correlation is reduced over all ranks,
 * repaired to positive definite and factored as L L^T.
 * Sample (local): row i draws g ~ N(0, I) from its own stream, z = L g, u = Phi(z), and
 * each column maps u through its inverse CDF.
 */
#include "models/copula.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/models.h"
#include "synthmpi/linalg.h"
#include "synthmpi/rng.h"
#include "transform/marginal.h"

static const sm_param_desc copula_params[] = {
    {"factorization", SM_PARAM_STRING, "auto", 0, 0, "auto|lapack|scalapack",
     "Cholesky factor of the correlation: LAPACK on each rank, or ScaLAPACK on a grid"},
    {"scalapack_min_columns", SM_PARAM_INT, "64", 1, 1e9, NULL,
     "with factorization: auto, use ScaLAPACK from this many columns on"},
    {"block_size", SM_PARAM_INT, "32", 1, 4096, NULL, "ScaLAPACK block-cyclic block size"},
    {"sketch_size", SM_PARAM_INT, "4096", 64, 1e7, NULL,
     "quantile summary points per numeric column when values are too many to keep exactly"},
    {"exact_distinct_max", SM_PARAM_INT, "100000", 0, 1e8, NULL,
     "numeric columns with at most this many distinct values keep exact value counts"},
    {"min_eigenvalue", SM_PARAM_REAL, "1e-6", 0, 1, NULL,
     "eigenvalue floor when repairing the correlation matrix to positive definite"},
};
#define N_PARAMS ((int)(sizeof copula_params / sizeof copula_params[0]))

/* Rows per block when computing normal scores and when sampling. */
#define SCORE_BLOCK_ROWS 1024
#define SAMPLE_BLOCK_ROWS 256
/* Exact value counts are gathered when all ranks together hold at most this many times
 * exact_distinct_max distinct values. */
#define GATHER_FACTOR 4
/* Normal scores are clamped to +-Z_MAX (u within about 1e-17 of 0 or 1). */
#define Z_MAX 8.5

enum column_kind { COL_NUMERIC = 0, COL_DISCRETE = 1 };
enum marginal_kind { MARGINAL_NONE = 0, MARGINAL_EXACT = 1, MARGINAL_SKETCH = 2 };

/* ---- state -------------------------------------------------------------------------- */

void sm_copula_free(void *state) {
  copula_state *st = state;
  if (!st)
    return;
  for (int j = 0; j < st->n_cols && st->cols; j++) {
    sm_marginal_free(&st->cols[j].marginal);
    free(st->cols[j].segment_of_code);
  }
  free(st->cols);
  free(st->correlation);
  free(st->cholesky);
  sm_phi_table_free(&st->phi);
  free(st);
}

copula_state *sm_copula_state_alloc(sm_ctx *ctx, int n_cols) {
  copula_state *st = sm_calloc(ctx, 1, sizeof *st);
  if (!st)
    return NULL;
  st->n_cols = n_cols;
  st->cols = sm_calloc(ctx, (size_t)n_cols, sizeof *st->cols);
  st->correlation = sm_calloc(ctx, (size_t)n_cols * n_cols, sizeof(double));
  st->cholesky = sm_calloc(ctx, (size_t)n_cols * n_cols, sizeof(double));
  if (!st->cols || !st->correlation || !st->cholesky || sm_phi_table_init(ctx, &st->phi)) {
    sm_copula_free(st);
    return NULL;
  }
  return st;
}

const double *sm_copula_correlation(const void *state, int *n) {
  const copula_state *st = state;
  *n = st->n_cols;
  return st->correlation;
}

const double *sm_copula_cholesky(const void *state, int *n) {
  const copula_state *st = state;
  *n = st->n_cols;
  return st->cholesky;
}

/* ---- numeric marginals -------------------------------------------------------------- */

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Local exact (value, count) pairs of the non-missing values; *missing counts NaNs. */
static int local_pairs(sm_ctx *ctx, const double *x, int64_t n, sm_wpoint **out, int64_t *count,
                       int64_t *missing) {
  double *v = sm_malloc(ctx, (size_t)n * sizeof(double));
  *out = sm_malloc(ctx, (size_t)n * sizeof(sm_wpoint));
  if (!v || !*out) {
    free(v);
    return SM_ERR;
  }

  /* sort the present values, then count runs */
  int64_t m = 0;
  for (int64_t r = 0; r < n; r++)
    if (!isnan(x[r]))
      v[m++] = x[r];
  *missing = n - m;
  qsort(v, (size_t)m, sizeof(double), compare_double);
  int64_t d = 0;
  for (int64_t r = 0; r < m; r++) {
    if (d > 0 && (*out)[d - 1].value == v[r])
      (*out)[d - 1].weight += 1.0;
    else
      (*out)[d++] = (sm_wpoint){v[r], 1.0, 1.0};
  }
  free(v);
  *count = d;
  return SM_OK;
}

/* Collective: every rank receives every rank's points, in rank order. */
static int gather_points(sm_ctx *ctx, const sm_wpoint *mine, int64_t n, sm_wpoint **all,
                         int64_t *n_all) {
  int *counts = sm_malloc(ctx, (size_t)ctx->size * sizeof(int));
  int *displs = sm_malloc(ctx, (size_t)ctx->size * sizeof(int));
  int rc = (counts && displs) ? SM_OK : SM_ERR;
  if (rc == SM_OK && 3 * n > INT32_MAX)
    rc = sm_fail(ctx, SM_ERR, "a quantile summary is too large to gather (%lld points)",
                 (long long)n);
  int mine3 = (int)(3 * n);
  rc = sm_agree(ctx, rc);
  if (rc == SM_OK)
    rc = MPI_Allgather(&mine3, 1, MPI_INT, counts, 1, MPI_INT, ctx->comm) == MPI_SUCCESS
             ? SM_OK
             : sm_fail(ctx, SM_ERR, "MPI_Allgather of summary sizes failed");

  /* displacements in doubles; the total must fit an int for Allgatherv */
  int64_t total = 0;
  for (int r = 0; rc == SM_OK && r < ctx->size; r++) {
    displs[r] = (int)total;
    total += counts[r];
  }
  if (rc == SM_OK && total > INT32_MAX)
    rc = sm_fail(ctx, SM_ERR, "quantile summaries too large to gather");
  *all = rc == SM_OK ? sm_malloc(ctx, (size_t)(total > 0 ? total : 1) * sizeof(double)) : NULL;
  rc = sm_agree(ctx, rc == SM_OK && !*all ? SM_ERR : rc);
  if (rc == SM_OK) {
    int mpi_rc =
        MPI_Allgatherv(mine, mine3, MPI_DOUBLE, *all, counts, displs, MPI_DOUBLE, ctx->comm);
    if (mpi_rc != MPI_SUCCESS)
      rc = sm_fail_mpi(ctx, mpi_rc, "MPI_Allgatherv", __FILE__, __LINE__);
  }
  *n_all = total / 3;
  free(counts);
  free(displs);
  return rc;
}

/* Sketch path: compress locally, gather, merge, compress again. Collective. */
static int merged_sketch(sm_ctx *ctx, const sm_wpoint *pairs, int64_t d, int64_t k,
                         sm_wpoint **merged, int64_t *n_merged) {
  double local_total = 0;
  for (int64_t i = 0; i < d; i++)
    local_total += pairs[i].weight;
  sm_wpoint *local = sm_malloc(ctx, (size_t)(3 * k + 2) * sizeof(sm_wpoint));
  int64_t n_local = local ? sm_wpoints_compress(pairs, d, local_total, k, local) : 0;
  int rc = sm_agree(ctx, local ? SM_OK : SM_ERR);
  if (rc == SM_OK)
    rc = gather_points(ctx, local, n_local, merged, n_merged);
  free(local);
  if (rc == SM_OK)
    *n_merged = sm_wpoints_merge(*merged, *n_merged);
  return rc;
}

/* Compress merged points once more when they are more than k (local). */
static int recompress(sm_ctx *ctx, sm_wpoint **p, int64_t *n, int64_t k) {
  if (*n <= 3 * k + 2)
    return SM_OK;
  double total = 0;
  for (int64_t i = 0; i < *n; i++)
    total += (*p)[i].weight;
  sm_wpoint *out = sm_malloc(ctx, (size_t)(3 * k + 2) * sizeof(sm_wpoint));
  if (!out)
    return SM_ERR;
  *n = sm_wpoints_compress(*p, *n, total, k, out);
  free(*p);
  *p = out;
  return SM_OK;
}

/* Collective: the marginal of numeric column j from every rank's values. */
static int fit_numeric(sm_ctx *ctx, copula_column *col, const double *x, int64_t n,
                       int64_t exact_max, int64_t k) {
  sm_wpoint *pairs = NULL, *all = NULL;
  int64_t d = 0, missing = 0, n_all = 0;
  int rc = sm_agree(ctx, local_pairs(ctx, x, n, &pairs, &d, &missing));

  /* global sizes: most distinct values on a rank, their sum, missing and present rows */
  int64_t most = d, sums[3] = {d, missing, n - missing};
  if (rc == SM_OK) {
    SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, &most, 1, MPI_INT64_T, MPI_MAX, ctx->comm));
    SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, sums, 3, MPI_INT64_T, MPI_SUM, ctx->comm));
  }
  int64_t rows = sums[1] + sums[2];
  col->missing_rate = rows > 0 ? (double)sums[1] / (double)rows : 1.0;
  col->summary = MARGINAL_NONE;

  /* exact counts when they can be gathered and prove few enough; else a merged sketch */
  int gather = most <= exact_max && sums[0] <= GATHER_FACTOR * (exact_max > 0 ? exact_max : 1);
  if (rc == SM_OK && sums[2] > 0 && gather) {
    rc = gather_points(ctx, pairs, d, &all, &n_all);
    n_all = rc == SM_OK ? sm_wpoints_merge(all, n_all) : 0;
    col->summary = n_all <= exact_max ? MARGINAL_EXACT : MARGINAL_SKETCH;
  } else if (rc == SM_OK && sums[2] > 0) {
    rc = merged_sketch(ctx, pairs, d, k, &all, &n_all);
    col->summary = MARGINAL_SKETCH;
  }
  if (rc == SM_OK && col->summary == MARGINAL_SKETCH)
    rc = recompress(ctx, &all, &n_all, k);

  /* the inverse CDF and the observed range (the same on every rank) */
  if (rc == SM_OK && n_all > 0) {
    rc =
        sm_marginal_from_points(ctx, &col->marginal, all, n_all, col->summary == MARGINAL_EXACT, k);
    col->lo = all[0].value;
    col->hi = all[n_all - 1].value;
  }
  free(pairs);
  free(all);
  return sm_agree(ctx, rc);
}

/* ---- categorical marginals ---------------------------------------------------------- */

typedef struct category_count {
  double count;
  int code;
} category_count;

/* Categories by global frequency, most frequent first; ties by code. */
static int compare_category(const void *a, const void *b) {
  const category_count *x = a, *y = b;
  if (x->count != y->count)
    return x->count < y->count ? 1 : -1;
  return (x->code > y->code) - (x->code < y->code);
}

/* Frequency intervals of the sorted categories: code c (NaN for missing) on [a, b). */
static int intervals_from_counts(sm_ctx *ctx, copula_column *col, category_count *cc,
                                 double total) {
  int n = col->n_categories + 1, s = 0;
  double *bound = sm_malloc(ctx, (size_t)(n + 1) * sizeof(double));
  double *value = sm_malloc(ctx, (size_t)n * sizeof(double));
  int rc = (bound && value) ? SM_OK : SM_ERR;

  /* categories never seen get no interval; the last interval ends at exactly 1 */
  double cum = 0;
  for (int i = 0; rc == SM_OK && i < n && cc[i].count > 0; i++, s++) {
    bound[s] = cum / total;
    cum += cc[i].count;
    value[s] = cc[i].code == col->n_categories ? NAN : (double)cc[i].code;
    col->segment_of_code[cc[i].code] = s;
  }
  if (rc == SM_OK && s > 0) {
    bound[s] = 1.0;
    rc = sm_marginal_from_segments(ctx, &col->marginal, s, bound, value, value);
  }
  free(bound);
  free(value);
  return rc;
}

/* Collective: frequency intervals of a categorical or boolean column. */
static int fit_discrete(sm_ctx *ctx, copula_column *col, const double *x, int64_t n) {
  int k = col->n_categories;
  category_count *cc = sm_calloc(ctx, (size_t)k + 1, sizeof *cc);
  double *counts = sm_calloc(ctx, (size_t)k + 1, sizeof(double));
  col->segment_of_code = sm_calloc(ctx, (size_t)k + 1, sizeof(int));
  int rc = (cc && counts && col->segment_of_code) ? SM_OK : SM_ERR;

  /* local counts; a code outside the dictionary is bad input */
  for (int64_t r = 0; rc == SM_OK && r < n; r++) {
    double c = x[r];
    if (isnan(c))
      counts[k] += 1.0;
    else if (c >= 0 && c < k && c == floor(c))
      counts[(int)c] += 1.0;
    else
      rc = sm_fail(ctx, SM_EINPUT, "category code %g outside the dictionary of %d", c, k);
  }
  rc = sm_agree(ctx, rc);
  if (rc == SM_OK) {
    SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, counts, k + 1, MPI_DOUBLE, MPI_SUM, ctx->comm));

    /* order by frequency and lay out the intervals */
    double total = 0;
    for (int c = 0; c <= k; c++) {
      cc[c] = (category_count){counts[c], c};
      total += counts[c];
    }
    qsort(cc, (size_t)k + 1, sizeof *cc, compare_category);
    col->missing_rate = total > 0 ? counts[k] / total : 1.0;
    rc = total > 0 ? intervals_from_counts(ctx, col, cc, total) : SM_OK;
  }
  free(cc);
  free(counts);
  return sm_agree(ctx, rc);
}

/* ---- normal scores and their correlation -------------------------------------------- */

/* Normal score of one value: a uniform draw r inside its CDF step, through Phi^-1. */
static double normal_score(const copula_column *col, double x, double r) {
  double a, b;
  if (col->marginal.n_segments == 0)
    return 0.0;
  if (col->kind == COL_DISCRETE) {
    int s = col->segment_of_code[isnan(x) ? col->n_categories : (int)x];
    a = col->marginal.bound[s];
    b = col->marginal.bound[s + 1];
  } else if (isnan(x)) {
    return 0.0;
  } else {
    sm_marginal_step(&col->marginal, x, &a, &b);
  }
  double z = sm_norm_quantile(a + r * (b - a));
  return z < -Z_MAX ? -Z_MAX : z > Z_MAX ? Z_MAX : z;
}

/* Scores of rows [r0, r0 + m) into z (m, n), one stream per global row. */
static void score_block(const copula_state *st, const sm_table *t, int64_t r0, int64_t m,
                        double *z) {
  int n = st->n_cols;
  for (int64_t r = 0; r < m; r++) {
    sm_rng rng;
    sm_rng_init(&rng, SM_COPULA_FIT_SEED, SM_STREAM_FIT, (uint64_t)(t->row_offset + r0 + r));
    for (int j = 0; j < n; j++) {
      double u = sm_rng_uniform(&rng);
      z[r * n + j] = normal_score(&st->cols[j], t->values[j][r0 + r], u);
    }
  }
}

/* Collective: correlation of the normal scores of all training rows. */
static int score_correlation(sm_ctx *ctx, copula_state *st, const sm_table *t) {
  int n = st->n_cols;
  size_t nn = (size_t)n * n;
  double *sums = sm_calloc(ctx, nn + n + 1, sizeof(double)); /* S, column sums, count */
  double *z = sm_malloc(ctx, (size_t)SCORE_BLOCK_ROWS * n * sizeof(double));
  int rc = sm_agree(ctx, (sums && z) ? SM_OK : SM_ERR);

  /* local Z^T Z and column sums, a block of rows at a time */
  for (int64_t r0 = 0; rc == SM_OK && r0 < t->n_rows; r0 += SCORE_BLOCK_ROWS) {
    int64_t m = t->n_rows - r0 < SCORE_BLOCK_ROWS ? t->n_rows - r0 : SCORE_BLOCK_ROWS;
    score_block(st, t, r0, m, z);
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, n, (int)m, 1.0, z, n, 1.0, sums, n);
    for (int64_t r = 0; r < m; r++)
      for (int j = 0; j < n; j++)
        sums[nn + j] += z[r * n + j];
  }
  sums[nn + n] = (double)t->n_rows;
  if (rc == SM_OK) {
    int mpi_rc =
        MPI_Allreduce(MPI_IN_PLACE, sums, (int)(nn + n + 1), MPI_DOUBLE, MPI_SUM, ctx->comm);
    if (mpi_rc != MPI_SUCCESS)
      rc = sm_fail_mpi(ctx, mpi_rc, "MPI_Allreduce", __FILE__, __LINE__);
  }

  /* covariance to correlation; a column without variance is uncorrelated */
  double count = sums[nn + n] > 0 ? sums[nn + n] : 1.0, *c = st->correlation;
  for (int i = 0; rc == SM_OK && i < n; i++)
    for (int j = 0; j <= i; j++)
      c[i * n + j] = sums[i * n + j] / count - sums[nn + i] * sums[nn + j] / (count * count);
  for (int i = 0; rc == SM_OK && i < n; i++)
    for (int j = 0; j < i; j++) {
      double vi = c[i * n + i], vj = c[j * n + j];
      double r = vi > 1e-12 && vj > 1e-12 ? c[i * n + j] / sqrt(vi * vj) : 0.0;
      c[i * n + j] = c[j * n + i] = r;
    }
  for (int i = 0; rc == SM_OK && i < n; i++)
    c[i * n + i] = 1.0;
  free(sums);
  free(z);
  return rc;
}

/* ---- fit ---------------------------------------------------------------------------- */

/* The factorization method from the parameters and the column count. */
static sm_factor_method choose_method(const sm_params *p, int n) {
  const char *name = sm_params_str(p, "factorization");
  if (strcmp(name, "lapack") == 0)
    return SM_FACTOR_LAPACK;
  if (strcmp(name, "scalapack") == 0)
    return SM_FACTOR_SCALAPACK;
  return n >= sm_params_num(p, "scalapack_min_columns") ? SM_FACTOR_SCALAPACK : SM_FACTOR_LAPACK;
}

/* Collective: every column's marginal. */
static int fit_marginals(sm_ctx *ctx, copula_state *st, const sm_table *t, const sm_params *p) {
  int64_t exact_max = (int64_t)sm_params_num(p, "exact_distinct_max");
  int64_t k = (int64_t)sm_params_num(p, "sketch_size");
  for (int j = 0; j < st->n_cols; j++) {
    const sm_column *sc = &t->schema.cols[j];
    copula_column *col = &st->cols[j];
    col->type = sc->type;
    col->kind = sm_coltype_is_discrete(sc->type) ? COL_DISCRETE : COL_NUMERIC;
    col->n_categories = sc->n_categories;
    if (col->kind == COL_DISCRETE)
      SM_TRY(fit_discrete(ctx, col, t->values[j], t->n_rows));
    else
      SM_TRY(fit_numeric(ctx, col, t->values[j], t->n_rows, exact_max, k));

    /* a declared domain replaces the observed range */
    if (col->kind == COL_NUMERIC && sc->has_domain) {
      col->lo = sc->lo;
      col->hi = sc->hi;
    }
  }
  return SM_OK;
}

/* Rank 0's summary line of the fit. */
static void log_fit(const sm_ctx *ctx, const copula_state *st, double seconds) {
  int exact = 0, sketched = 0, discrete = 0;
  for (int j = 0; j < st->n_cols; j++) {
    discrete += st->cols[j].kind == COL_DISCRETE;
    exact += st->cols[j].kind == COL_NUMERIC && st->cols[j].summary == MARGINAL_EXACT;
    sketched += st->cols[j].kind == COL_NUMERIC && st->cols[j].summary == MARGINAL_SKETCH;
  }
  sm_log(ctx, SM_LOG_INFO,
         "gaussian_copula: %d columns (%d exact, %d sketched, %d categorical), %lld rows, "
         "%d eigenvalues clipped, Cholesky by %s, %.2f s",
         st->n_cols, exact, sketched, discrete, (long long)st->n_train, st->clipped,
         st->method == SM_FACTOR_SCALAPACK ? "ScaLAPACK" : "LAPACK", seconds);
}

static int copula_fit(sm_ctx *ctx, const sm_model_spec *spec, const sm_fit_options *opt,
                      const sm_table *train, void **state) {
  double t0 = MPI_Wtime();
  const sm_params *p = &spec->params;
  int n = train->schema.n_cols;
  copula_state *st = sm_copula_state_alloc(ctx, n);
  SM_TRY(sm_agree(ctx, st ? SM_OK : SM_ERR));
  int64_t rows = train->n_rows;
  int rc = MPI_Allreduce(MPI_IN_PLACE, &rows, 1, MPI_INT64_T, MPI_SUM, ctx->comm);
  rc = rc == MPI_SUCCESS ? SM_OK : sm_fail_mpi(ctx, rc, "MPI_Allreduce", __FILE__, __LINE__);
  st->n_train = rows;

  /* marginals, then the correlation of normal scores */
  if (rc == SM_OK)
    rc = fit_marginals(ctx, st, train, p);
  if (rc == SM_OK)
    rc = score_correlation(ctx, st, train);

  /* repair to positive definite and factor (every rank holds the same matrix) */
  if (rc == SM_OK) {
    st->clipped =
        sm_repair_correlation(ctx, st->correlation, n, sm_params_num(p, "min_eigenvalue"));
    rc = sm_agree(ctx, st->clipped < 0 ? -st->clipped : SM_OK);
  }
  if (rc == SM_OK) {
    memcpy(st->cholesky, st->correlation, (size_t)n * n * sizeof(double));
    st->method = choose_method(p, n);
    rc = sm_cholesky(ctx, st->cholesky, n, st->method, (int)sm_params_num(p, "block_size"));
    rc = sm_agree(ctx, rc);
  }
  if (rc != SM_OK) {
    sm_copula_free(st);
    return rc;
  }
  log_fit(ctx, st, MPI_Wtime() - t0);
  *state = st;
  return SM_OK;
}

/* ---- sample ------------------------------------------------------------------------- */

/* Standard normals of rows [row, row + m) into g (m, n): row i from (seed, SAMPLE, i). */
static void draw_normals(uint64_t seed, int64_t row, int64_t m, int n, double *g) {
  for (int64_t r = 0; r < m; r++) {
    sm_rng rng;
    sm_rng_init(&rng, seed, SM_STREAM_SAMPLE, (uint64_t)(row + r));
    for (int j = 0; j < n; j++)
      g[r * n + j] = sm_normal_from_u32(sm_rng_u32(&rng));
  }
}

/* Numeric values: integers and datetimes rounded, all clamped to the column's range. */
static void finish_numeric(const copula_column *col, double *v, int64_t m) {
  int whole = col->type == SM_COL_INTEGER || col->type == SM_COL_DATETIME;
  for (int64_t r = 0; r < m; r++) {
    double x = whole ? nearbyint(v[r]) : v[r];
    v[r] = x < col->lo ? col->lo : x > col->hi ? col->hi : x;
  }
}

/* Missing numeric values: one draw per such column from (seed, MISSING, i). */
static void draw_missing(const copula_state *st, uint64_t seed, int64_t row, int64_t m,
                         int64_t offset, sm_table *out) {
  for (int64_t r = 0; r < m; r++) {
    sm_rng rng;
    sm_rng_init(&rng, seed, SM_STREAM_MISSING, (uint64_t)(row + r));
    for (int j = 0; j < st->n_cols; j++) {
      const copula_column *col = &st->cols[j];
      if (col->kind != COL_NUMERIC || !(col->missing_rate > 0))
        continue;
      double u = ((double)sm_rng_u32(&rng) + 0.5) * 0x1.0p-32;
      if (u < col->missing_rate)
        out->values[j][offset + r] = NAN;
    }
  }
}

/* g <- g L^T row by row, in place (last column first). A fixed loop rather than BLAS:
 * each row's sums are then made in one order whatever the block size, so a row's values
 * do not depend on how rows are split into chunks or ranks. */
static void correlate_rows(const double *l, int n, int64_t m, double *g) {
  for (int64_t r = 0; r < m; r++) {
    double *x = g + r * n;
    for (int j = n - 1; j >= 0; j--) {
      const double *lj = l + (size_t)j * n;
      double s = 0.0;
      for (int k = 0; k <= j; k++)
        s += lj[k] * x[k];
      x[j] = s;
    }
  }
}

static int has_missing(const copula_state *st) {
  for (int j = 0; j < st->n_cols; j++)
    if (st->cols[j].kind == COL_NUMERIC && st->cols[j].missing_rate > 0)
      return 1;
  return 0;
}

static int copula_sample(sm_ctx *ctx, const void *state, uint64_t seed, int64_t row0,
                         sm_table *out) {
  const copula_state *st = state;
  int n = st->n_cols, missing = has_missing(st);
  if (out->schema.n_cols != n)
    return sm_fail(ctx, SM_EINPUT, "sample: table has %d columns, the model %d", out->schema.n_cols,
                   n);
  double *g = sm_malloc(ctx, (size_t)SAMPLE_BLOCK_ROWS * (n > 0 ? n : 1) * sizeof(double));
  if (!g)
    return SM_ERR;

  for (int64_t r0 = 0; n > 0 && r0 < out->n_rows; r0 += SAMPLE_BLOCK_ROWS) {
    int64_t m = out->n_rows - r0 < SAMPLE_BLOCK_ROWS ? out->n_rows - r0 : SAMPLE_BLOCK_ROWS;

    /* correlated normals: rows of G times L^T */
    draw_normals(seed, row0 + r0, m, n, g);
    correlate_rows(st->cholesky, n, m, g);

    /* each column through Phi and its inverse CDF */
    for (int j = 0; j < n; j++) {
      const copula_column *col = &st->cols[j];
      double *v = out->values[j] + r0;
      if (col->marginal.n_segments == 0) {
        for (int64_t r = 0; r < m; r++)
          v[r] = NAN;
        continue;
      }
      sm_marginal_sample(&col->marginal, &st->phi, g + j, n, m, v);
      if (col->kind == COL_NUMERIC)
        finish_numeric(col, v, m);
    }
    if (missing)
      draw_missing(st, seed, row0 + r0, m, r0, out);
  }
  free(g);
  return SM_OK;
}

const sm_model_ops sm_model_gaussian_copula = {
    .kind = "gaussian_copula",
    .summary = "Gaussian copula: empirical marginals and a normal-score correlation",
    .params = copula_params,
    .n_params = N_PARAMS,
    .fit = copula_fit,
    .sample = copula_sample,
    .save = sm_copula_save,
    .load = sm_copula_load,
    .free_state = sm_copula_free,
};
