/* Private: what the Gaussian copula exposes beyond its operation table (tests use it). */
#ifndef SYNTHMPI_MODELS_COPULA_H
#define SYNTHMPI_MODELS_COPULA_H

#include <stdint.h>

#include "synthmpi/core.h"
#include "synthmpi/table.h"
#include "transform/marginal.h"

/* Seed of the fit's draws inside CDF steps: stream (seed, SM_STREAM_FIT, global row),
 * one uniform per column in column order. */
#define SM_COPULA_FIT_SEED UINT64_C(0x73796e74686d7069)

/* The fitted correlation of normal scores and its lower Cholesky factor, (n, n)
 * row-major each; n is the number of columns. */
const double *sm_copula_correlation(const void *state, int *n);
const double *sm_copula_cholesky(const void *state, int *n);

/* The fitted state, shared by the fit and sampling (copula.c) and the model file
 * (copula_io.c). */
typedef struct copula_column {
  sm_coltype type;
  int kind;            /* enum column_kind (copula.c) */
  int summary;         /* enum marginal_kind (copula.c), numeric, for the log */
  int n_categories;    /* discrete: dictionary size; code n_categories is "missing" */
  double missing_rate; /* share of training rows missing */
  double lo, hi;       /* numeric: values are clamped to [lo, hi] */
  sm_marginal marginal;
  int *segment_of_code; /* discrete, fit only: (n_categories + 1) segment of each code */
} copula_column;

typedef struct copula_state {
  int n_cols;
  int64_t n_train;     /* training rows over all ranks */
  int clipped;         /* eigenvalues clipped by the repair */
  int method;          /* sm_factor_method used */
  copula_column *cols; /* (n_cols) */
  double *correlation; /* (n_cols, n_cols) */
  double *cholesky;    /* (n_cols, n_cols) lower */
  sm_phi_table phi;
} copula_state;

/* A state of n_cols zeroed columns with its matrices allocated; NULL when out of memory
 * (recorded in ctx). Free with sm_copula_free, which accepts NULL. */
copula_state *sm_copula_state_alloc(sm_ctx *ctx, int n_cols);
void sm_copula_free(void *state);

/* Collective. The model operations save and load (see synthmpi/model.h). */
int sm_copula_save(sm_ctx *ctx, const void *state, int64_t group);
int sm_copula_load(sm_ctx *ctx, int64_t group, void **state);

#endif
