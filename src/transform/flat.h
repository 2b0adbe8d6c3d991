/* Private: the flat encoding of the flow and diffusion models, and the quantile transform.
 *
 * An encoded row is the numeric columns' values first (one float each), then one one-hot
 * block per discrete column and per numeric column with missing values:
 *   numeric: standardised, (x - mean) / std (SM_FLAT_STANDARD), or mapped to a standard
 *            normal by the quantile transform (SM_FLAT_QUANTILE); missing values encode as 0;
 *   discrete: a one-hot over the dictionary, plus a last slot for missing when the training
 *            data had missing values;
 *   a numeric column with missing values also gets a block [present, missing].
 * Every statistic is computed from summaries merged over ranks, so each rank holds the same
 * encoding.
 *
 * The quantile transform (as scikit-learn's QuantileTransformer, which TabDDPM uses): Q
 * quantiles q_k of the training values at levels k / (Q - 1); a value x maps to the level
 * u interpolated between the quantiles around it (the mean of the first and last level when x
 * equals tied quantiles), clipped to [1e-7, 1 - 1e-7], then z = Phi^-1(u). The inverse maps
 * u = Phi(z) back by linear interpolation between the quantiles, so generated values fill the
 * gaps between observed ones instead of piling up on a few of them or at the range ends.
 */
#ifndef SYNTHMPI_TRANSFORM_FLAT_H
#define SYNTHMPI_TRANSFORM_FLAT_H

#include <stdint.h>

#include "synthmpi/core.h"
#include "synthmpi/table.h"

typedef enum sm_flat_mode { SM_FLAT_STANDARD = 0, SM_FLAT_QUANTILE = 1 } sm_flat_mode;

/* ---- the quantile transform of one column ------------------------------------------- */

typedef struct sm_quantile {
  int n;     /* quantiles (>= 2 once fitted, 0 when the column had no values) */
  double *q; /* (n) nondecreasing values at levels k / (n - 1) */
} sm_quantile;

/* Local. Quantiles at n_quantiles levels from sorted distinct values with their counts
 * (value[k] observed count[k] times): the value at level p is the one at position
 * p (N - 1) of the sorted N values, interpolated linearly between neighbours. */
int sm_quantile_fit(sm_ctx *ctx, sm_quantile *qt, const double *value, const double *count,
                    int64_t n, int n_quantiles);
void sm_quantile_free(sm_quantile *qt);
/* The level of x in [0, 1] (before clipping). */
double sm_quantile_level(const sm_quantile *qt, double x);
/* x to a standard normal score (clipped at the levels 1e-7 and 1 - 1e-7). */
double sm_quantile_forward(const sm_quantile *qt, double x);
/* A normal score back to a value, interpolating between the quantiles. */
double sm_quantile_inverse(const sm_quantile *qt, double z);

/* ---- the flat encoding -------------------------------------------------------------- */

typedef struct sm_flat_column {
  sm_coltype type;
  int numeric;     /* continuous, integer or datetime */
  int has_missing; /* the training data had missing values */
  double lo, hi;   /* observed range (numeric) */
  double mean, std;
  sm_quantile qt;   /* SM_FLAT_QUANTILE */
  int value;        /* numeric: index of its value in the row, else -1 */
  int block;        /* its one-hot block, or -1 */
  int n_categories; /* discrete */
} sm_flat_column;

typedef struct sm_flat {
  sm_flat_mode mode;
  int n_cols, n_num, n_blocks, width;
  int *block_start, *block_width, *block_column; /* (n_blocks) */
  sm_flat_column *cols;                          /* (n_cols) */
} sm_flat;

/* Collective. Fit on the rank-local rows of train (value summaries gathered over ranks);
 * n_quantiles 0 picks TabDDPM's max(min(N / 30, 1000), 10). */
int sm_flat_fit(sm_ctx *ctx, sm_flat *f, const sm_table *train, sm_flat_mode mode, int n_quantiles);
void sm_flat_free(sm_flat *f);

/* Local. Rows [r, r + n) of t into out (n, width): numeric values transformed, blocks exact
 * one-hots. */
void sm_flat_encode(const sm_flat *f, const sm_table *t, int64_t r, int64_t n, float *out);

/* Local. Rows of model output in (n, width) into rows [out_row, out_row + n) of out:
 * numeric values through the inverse transform (integers rounded, clamped to the observed
 * range), each block by its largest entry. */
void sm_flat_decode(const sm_flat *f, const float *in, int64_t n, sm_table *out, int64_t out_row);

/* Local. The positions of the values and blocks from the columns' kinds (fit and load). */
int sm_flat_layout(sm_ctx *ctx, sm_flat *f);

/* Collective save/load in an HDF5 group (hid_t as int64_t). */
int sm_flat_save(sm_ctx *ctx, const sm_flat *f, int64_t group);
int sm_flat_load(sm_ctx *ctx, sm_flat *f, int64_t group);

#endif
