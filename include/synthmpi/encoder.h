/* Mode-specific normalisation (the CTGAN/TVAE data transformer).
 *
 * Each continuous, integer or datetime column is modelled by a 1-D Bayesian Gaussian
 * mixture (up to max_modes components, Dirichlet-process weight prior; components below
 * weight_threshold dropped), fitted by variational EM on sufficient statistics allreduced
 * over ranks. A value x becomes [alpha, one-hot(mode)] with alpha = (x - mean_k) / (4 std_k)
 * clipped to [-0.99, 0.99], the mode k drawn from the posterior responsibilities. A numeric
 * column with missing values gets an extra 2-wide span [present, missing]. A categorical or
 * boolean column becomes a one-hot over its dictionary plus one slot for missing when the
 * column has missing values.
 */
#ifndef SYNTHMPI_ENCODER_H
#define SYNTHMPI_ENCODER_H

#include <stdint.h>

#include "synthmpi/core.h"
#include "synthmpi/table.h"

#define SM_MAX_MODES 10

typedef enum sm_span_kind {
  SM_SPAN_SCALAR = 0, /* one value in [-1, 1] (tanh output in the models) */
  SM_SPAN_ONEHOT = 1  /* a one-hot block (softmax output in the models) */
} sm_span_kind;

/* A contiguous block of the encoded row. */
typedef struct sm_span {
  sm_span_kind kind;
  int start, width; /* position in the encoded row */
  int column;       /* the table column it encodes */
} sm_span;

/* The fitted mixture of one numeric column (valid modes only). */
typedef struct sm_bgm {
  int n_modes;
  double weight[SM_MAX_MODES], mean[SM_MAX_MODES], std[SM_MAX_MODES];
  /* log responsibility of mode k at x, up to a shared constant:
   * resp_const[k] - 0.5 ((x - mean[k]) / std[k])^2 (the variational expectations) */
  double resp_const[SM_MAX_MODES];
  int iterations; /* EM iterations used */
  int converged;
} sm_bgm;

typedef struct sm_encoder_column {
  sm_coltype type;
  int numeric;      /* continuous, integer or datetime */
  int has_missing;  /* the training data had missing values in this column */
  double lo, hi;    /* value range, for clamping decoded values */
  sm_bgm bgm;       /* numeric columns */
  int n_categories; /* discrete columns */
  int value_span;   /* numeric: index of the scalar span (the one-hot of modes follows) */
  int first_span;   /* index of the column's first span */
  int n_spans;
} sm_encoder_column;

typedef struct sm_encoder {
  int n_cols;
  int width; /* encoded row width */
  int n_spans;
  sm_span *spans;          /* (n_spans) */
  sm_encoder_column *cols; /* (n_cols) */
} sm_encoder;

typedef struct sm_encoder_options {
  int max_modes;           /* 10 */
  double weight_threshold; /* 0.005 */
  int max_iter;            /* EM iteration bound, 100 */
  double tol;              /* convergence on the lower bound per row, 1e-3 */
  double concentration;    /* Dirichlet-process weight concentration prior, 1e-3 */
} sm_encoder_options;

void sm_encoder_default_options(sm_encoder_options *o);

/* Collective. Fit on the rank-local rows of train (statistics allreduced, so every rank
 * holds the same encoder, and the result does not depend on the rank count beyond
 * floating-point summation order). */
int sm_encoder_fit(sm_ctx *ctx, sm_encoder *enc, const sm_table *train,
                   const sm_encoder_options *opt);
void sm_encoder_free(sm_encoder *enc);

/* Local. Encode n local rows of t starting at local row r (global index
 * t->row_offset + r + i) into out (n, width). The mode of a numeric value is drawn from its
 * responsibilities with the stream (seed, purpose, global row). */
void sm_encoder_encode(const sm_encoder *enc, const sm_table *t, int64_t r, int64_t n,
                       uint64_t seed, uint32_t purpose, float *out);

/* Local. Decode n rows of model output (n, width) into rows [out_row, out_row + n) of out:
 * scalar spans are values in [-1, 1] (already through tanh); one-hot spans are scores,
 * decoded by argmax; sigma (width, may be NULL) adds N(0, sigma) noise to each scalar before
 * the inverse transform, drawn from (seed, purpose, global row global_row0 + i). Integers are
 * rounded and every numeric value is clamped to [lo, hi]. */
void sm_encoder_decode(const sm_encoder *enc, const float *in, const float *sigma, int64_t n,
                       uint64_t seed, uint32_t purpose, int64_t global_row0, sm_table *out,
                       int64_t out_row);

/* Collective save/load in an HDF5 group (hid_t as int64_t), as the models do. */
int sm_encoder_save(sm_ctx *ctx, const sm_encoder *enc, int64_t group);
int sm_encoder_load(sm_ctx *ctx, sm_encoder *enc, int64_t group);

#endif
