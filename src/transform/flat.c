/* The flat encoding: fitting from summaries merged over ranks, encoding and decoding. */
#include "transform/flat.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synthmpi/nn.h"
#include "transform/marginal.h"

/* Distinct values gathered exactly up to this many over all ranks; beyond, each rank sends a
 * sketch of FLAT_SKETCH_POINTS points (then the quantiles depend slightly on the rank
 * count). */
#define FLAT_GATHER_MAX 4000000
#define FLAT_SKETCH_POINTS 50000

void sm_flat_free(sm_flat *f) {
  if (!f)
    return;
  for (int j = 0; f->cols && j < f->n_cols; j++)
    sm_quantile_free(&f->cols[j].qt);
  free(f->cols);
  free(f->block_start);
  free(f->block_width);
  free(f->block_column);
  memset(f, 0, sizeof *f);
}

int sm_flat_layout(sm_ctx *ctx, sm_flat *f) {
  int n = f->n_cols > 0 ? f->n_cols : 1;
  f->block_start = sm_malloc(ctx, (size_t)n * sizeof(int));
  f->block_width = sm_malloc(ctx, (size_t)n * sizeof(int));
  f->block_column = sm_malloc(ctx, (size_t)n * sizeof(int));
  if (!f->block_start || !f->block_width || !f->block_column)
    return SM_ERR;
  f->n_num = 0;
  f->n_blocks = 0;
  for (int j = 0; j < f->n_cols; j++)
    f->cols[j].value = f->cols[j].numeric ? f->n_num++ : -1;
  f->width = f->n_num;
  for (int j = 0; j < f->n_cols; j++) {
    sm_flat_column *c = &f->cols[j];
    int w = c->numeric ? (c->has_missing ? 2 : 0) : c->n_categories + c->has_missing;
    c->block = w > 0 ? f->n_blocks : -1;
    if (w == 0)
      continue;
    f->block_start[f->n_blocks] = f->width;
    f->block_width[f->n_blocks] = w;
    f->block_column[f->n_blocks++] = j;
    f->width += w;
  }
  return SM_OK;
}

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Local. This rank's present values of x as sorted distinct points with counts. */
static int local_points(sm_ctx *ctx, const double *x, int64_t n, sm_wpoint **out, int64_t *m,
                        int64_t *missing) {
  double *v = sm_malloc(ctx, (size_t)(n > 0 ? n : 1) * sizeof(double));
  *out = sm_malloc(ctx, (size_t)(n > 0 ? n : 1) * sizeof(sm_wpoint));
  *m = 0;
  *missing = 0;
  if (!v || !*out) {
    free(v);
    return SM_ERR;
  }
  int64_t k = 0;
  for (int64_t r = 0; r < n; r++)
    if (isnan(x[r]))
      (*missing)++;
    else
      v[k++] = x[r];
  qsort(v, (size_t)k, sizeof(double), compare_double);
  for (int64_t r = 0; r < k; r++) {
    if (*m > 0 && (*out)[*m - 1].value == v[r])
      (*out)[*m - 1].weight += 1.0;
    else
      (*out)[(*m)++] = (sm_wpoint){v[r], 1.0, 1.0};
  }
  free(v);
  return SM_OK;
}

/* Collective. Every rank's points gathered on every rank, merged and sorted. */
static int gather_points(sm_ctx *ctx, const sm_wpoint *mine, int64_t m, sm_wpoint **all,
                         int64_t *n_all) {
  int count = (int)(3 * m), *counts = sm_malloc(ctx, (size_t)ctx->size * sizeof(int));
  int *displs = sm_malloc(ctx, (size_t)ctx->size * sizeof(int));
  SM_TRY(sm_agree(ctx, counts && displs ? SM_OK : SM_ERR));
  int rc = SM_OK;
  int mpi = MPI_Allgather(&count, 1, MPI_INT, counts, 1, MPI_INT, ctx->comm);
  if (mpi != MPI_SUCCESS)
    rc = sm_fail_mpi(ctx, mpi, "MPI_Allgather", __FILE__, __LINE__);
  int64_t total = 0;
  for (int r = 0; rc == SM_OK && r < ctx->size; r++) {
    displs[r] = (int)total;
    total += counts[r];
  }
  *all = sm_malloc(ctx, (size_t)(total > 0 ? total : 3) * sizeof(double));
  rc = sm_agree(ctx, rc == SM_OK && !*all ? SM_ERR : rc);
  if (rc == SM_OK) {
    mpi = MPI_Allgatherv(mine, count, MPI_DOUBLE, *all, counts, displs, MPI_DOUBLE, ctx->comm);
    if (mpi != MPI_SUCCESS)
      rc = sm_fail_mpi(ctx, mpi, "MPI_Allgatherv", __FILE__, __LINE__);
  }
  free(counts);
  free(displs);
  *n_all = rc == SM_OK ? sm_wpoints_merge(*all, total / 3) : 0;
  return sm_agree(ctx, rc);
}

/* Local. Mean, std, range and (quantile mode) quantiles from the merged points. */
static int numeric_stats(sm_ctx *ctx, sm_flat_column *c, const sm_wpoint *p, int64_t n,
                         sm_flat_mode mode, int n_quantiles) {
  double w = 0, s = 0, ss = 0;
  for (int64_t k = 0; k < n; k++) {
    w += p[k].weight;
    s += p[k].weight * p[k].value;
  }
  c->mean = w > 0 ? s / w : 0.0;
  for (int64_t k = 0; k < n; k++)
    ss += p[k].weight * (p[k].value - c->mean) * (p[k].value - c->mean);
  c->std = w > 1 ? sqrt(ss / w) : 0.0;
  if (!(c->std > 1e-12))
    c->std = 1.0;
  c->lo = n > 0 ? p[0].value : 0.0;
  c->hi = n > 0 ? p[n - 1].value : 0.0;
  if (mode != SM_FLAT_QUANTILE || n == 0)
    return SM_OK;

  /* quantiles: TabDDPM's count unless one was given */
  int q = n_quantiles > 0 ? n_quantiles : (int)fmax(fmin(floor(w / 30), 1000), 10);
  double *value = sm_malloc(ctx, (size_t)n * sizeof(double));
  double *count = sm_malloc(ctx, (size_t)n * sizeof(double));
  int rc = value && count ? SM_OK : SM_ERR;
  for (int64_t k = 0; rc == SM_OK && k < n; k++) {
    value[k] = p[k].value;
    count[k] = p[k].weight;
  }
  if (rc == SM_OK)
    rc = sm_quantile_fit(ctx, &c->qt, value, count, n, q);
  free(value);
  free(count);
  return rc;
}

/* Collective. One numeric column's statistics from every rank's values. */
static int fit_numeric(sm_ctx *ctx, sm_flat_column *c, const double *x, int64_t n,
                       sm_flat_mode mode, int n_quantiles) {
  sm_wpoint *mine = NULL, *all = NULL;
  int64_t m = 0, missing = 0, n_all = 0;
  int rc = sm_agree(ctx, local_points(ctx, x, n, &mine, &m, &missing));
  int64_t sums[2] = {m, missing};
  if (rc == SM_OK) {
    int mpi = MPI_Allreduce(MPI_IN_PLACE, sums, 2, MPI_INT64_T, MPI_SUM, ctx->comm);
    if (mpi != MPI_SUCCESS)
      rc = sm_fail_mpi(ctx, mpi, "MPI_Allreduce", __FILE__, __LINE__);
  }

  /* large columns: each rank sends a sketch instead of every distinct value */
  if (rc == SM_OK && sums[0] > FLAT_GATHER_MAX) {
    double total = 0;
    for (int64_t k = 0; k < m; k++)
      total += mine[k].weight;
    sm_wpoint *sketch = sm_malloc(ctx, (3 * FLAT_SKETCH_POINTS + 2) * sizeof(sm_wpoint));
    rc = sm_agree(ctx, sketch ? SM_OK : SM_ERR);
    if (rc == SM_OK) {
      m = m > 0 ? sm_wpoints_compress(mine, m, total, FLAT_SKETCH_POINTS, sketch) : 0;
      free(mine);
      mine = sketch;
    }
  }
  if (rc == SM_OK)
    rc = gather_points(ctx, mine, m, &all, &n_all);
  c->has_missing = sums[1] > 0;
  if (rc == SM_OK)
    rc = sm_agree(ctx, numeric_stats(ctx, c, all, n_all, mode, n_quantiles));
  free(mine);
  free(all);
  return rc;
}

/* Collective. Whether a discrete column has missing values anywhere. */
static int fit_discrete(sm_ctx *ctx, sm_flat_column *c, const sm_column *sc, const double *x,
                        int64_t n) {
  int64_t missing = 0;
  for (int64_t r = 0; r < n; r++)
    missing += isnan(x[r]);
  SM_MPI_CHECK(ctx, MPI_Allreduce(MPI_IN_PLACE, &missing, 1, MPI_INT64_T, MPI_SUM, ctx->comm));
  c->has_missing = missing > 0;
  c->n_categories = sc->n_categories;
  return SM_OK;
}

int sm_flat_fit(sm_ctx *ctx, sm_flat *f, const sm_table *train, sm_flat_mode mode,
                int n_quantiles) {
  memset(f, 0, sizeof *f);
  f->mode = mode;
  f->n_cols = train->schema.n_cols;
  f->cols = sm_calloc(ctx, (size_t)(f->n_cols > 0 ? f->n_cols : 1), sizeof(sm_flat_column));
  int rc = sm_agree(ctx, f->cols ? SM_OK : SM_ERR);

  /* each column's statistics, in column order on every rank */
  for (int j = 0; rc == SM_OK && j < f->n_cols; j++) {
    const sm_column *sc = &train->schema.cols[j];
    sm_flat_column *c = &f->cols[j];
    c->type = sc->type;
    c->numeric = !sm_coltype_is_discrete(sc->type);
    if (c->numeric)
      rc = fit_numeric(ctx, c, train->values[j], train->n_rows, mode, n_quantiles);
    else
      rc = sm_agree(ctx, fit_discrete(ctx, c, sc, train->values[j], train->n_rows));
  }
  if (rc == SM_OK)
    rc = sm_agree(ctx, sm_flat_layout(ctx, f));
  if (rc != SM_OK)
    sm_flat_free(f);
  return rc;
}

/* The encoded value of a present numeric x. */
static float encode_value(const sm_flat *f, const sm_flat_column *c, double x) {
  if (f->mode == SM_FLAT_QUANTILE)
    return (float)sm_quantile_forward(&c->qt, x);
  return (float)((x - c->mean) / c->std);
}

void sm_flat_encode(const sm_flat *f, const sm_table *t, int64_t r, int64_t n, float *out) {
  size_t w = (size_t)f->width;
  memset(out, 0, (size_t)n * w * sizeof(float));
  for (int j = 0; j < f->n_cols; j++) {
    const sm_flat_column *c = &f->cols[j];
    const double *x = t->values[j] + r;
    int start = c->block >= 0 ? f->block_start[c->block] : -1;
    for (int64_t i = 0; i < n; i++) {
      float *row = out + (size_t)i * w;
      int miss = isnan(x[i]);
      if (c->numeric) {
        row[c->value] = miss ? 0.0f : encode_value(f, c, x[i]);
        if (start >= 0)
          row[start + miss] = 1.0f;
      } else {
        row[start + (miss ? c->n_categories : (int)x[i])] = 1.0f;
      }
    }
  }
}

/* A numeric value from its encoding: inverse transform, rounding, clamping. */
static double decode_value(const sm_flat *f, const sm_flat_column *c, float v) {
  double x =
      f->mode == SM_FLAT_QUANTILE ? sm_quantile_inverse(&c->qt, v) : (double)v * c->std + c->mean;
  if (c->type == SM_COL_INTEGER)
    x = nearbyint(x);
  return x < c->lo ? c->lo : x > c->hi ? c->hi : x;
}

void sm_flat_decode(const sm_flat *f, const float *in, int64_t n, sm_table *out, int64_t out_row) {
  size_t w = (size_t)f->width;
  for (int j = 0; j < f->n_cols; j++) {
    const sm_flat_column *c = &f->cols[j];
    double *x = out->values[j] + out_row;
    int start = c->block >= 0 ? f->block_start[c->block] : -1;
    for (int64_t i = 0; i < n; i++) {
      const float *row = in + (size_t)i * w;
      if (c->numeric) {
        int miss = start >= 0 && row[start + 1] > row[start];
        x[i] = miss ? NAN : decode_value(f, c, row[c->value]);
      } else {
        int k = sm_argmax(row + start, c->n_categories + c->has_missing);
        x[i] = k == c->n_categories ? NAN : (double)k;
      }
    }
  }
}
