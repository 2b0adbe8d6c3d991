/* Private: the MST model's state, shared by mst.c (fit), mst_estimate.c (the tree model
 * from noisy marginals), mst_sample.c and mst_io.c. */
#ifndef SYNTHMPI_MODELS_MST_H
#define SYNTHMPI_MODELS_MST_H

#include <stdint.h>

#include "synthmpi/ledger.h"
#include "synthmpi/model.h"

/* One attribute: a column's domain (bins or categories, then missing as the last value)
 * and its compression (values with tiny noisy counts merged into one bucket). */
typedef struct mst_attr {
  int type;           /* sm_coltype of the column */
  int n_values;       /* domain size: bins or categories, + 1 for missing */
  int n_comp;         /* compressed domain size */
  double lo, width;   /* numeric: first bin edge and bin width */
  int *comp_of;       /* (n_values) compressed value of each domain value */
  double *noisy;      /* (n_values) noisy 1-way counts of the domain values */
  int *member;        /* (n_values) domain values ordered by compressed value */
  int *member_start;  /* (n_comp + 1) each compressed value's run in member */
  uint32_t *member_u; /* (n_values) cumulative share of each member within its run, as a
                       * 32-bit threshold (the last of a run is UINT32_MAX) */
  double *value_base; /* (n_values) numeric: the bin's first value (integers: first whole
                       * number) */
  uint32_t *value_n;  /* (n_values) integers: whole numbers in the bin */
} mst_attr;

/* Alias table of one discrete distribution over n values (Walker/Vose). */
typedef struct mst_alias {
  uint32_t *keep; /* (n) keep value v when the fraction is below keep[v] */
  int *alias;     /* (n) the value taken otherwise */
} mst_alias;

/* The fitted model: a tree over the attributes with P(root) and P(child | parent). */
typedef struct mst_state {
  int n_attrs;
  int64_t n_train;   /* rows of the training data (public) */
  mst_attr *attrs;   /* (n_attrs) */
  int *parent;       /* (n_attrs) parent in the rooted tree, -1 for the root */
  int *order;        /* (n_attrs) attributes in sampling order, root first */
  double **joint;    /* (n_attrs) estimated (parent, child) counts (n_comp[p], n_comp[c]);
                      * the root: its estimated 1-way counts (n_comp) */
  double **noisy2;   /* (n_attrs) noisy 2-way measurement of the edge to the parent, or
                      * NULL for the root (n_comp[p], n_comp[c]) */
  mst_alias **alias; /* (n_attrs) per parent value (root: one table) */
  sm_ledger ledger;  /* what the fit spent */
} mst_state;

void sm_mst_free(void *state);
/* An empty state for n attributes (arrays per attribute still NULL). */
mst_state *sm_mst_state_alloc(sm_ctx *ctx, int n_attrs);
/* Fill an attribute's member arrays from comp_of, n_comp and noisy (local). */
int sm_mst_attr_members(sm_ctx *ctx, mst_attr *a);

/* Local. Euclidean projection of v (n) onto {x >= 0, sum x = total}, in place. */
int sm_mst_project_simplex(sm_ctx *ctx, double *v, int n, double total);

/* Local. From the noisy 1-way (compressed) and 2-way measurements with their noise
 * variances, the consistent tree model: st->joint for every attribute. */
int sm_mst_estimate(sm_ctx *ctx, mst_state *st, double **noisy1, double var1, double var2);

/* Local. Alias tables of P(root) and P(child | parent) from st->joint. */
int sm_mst_build_alias(sm_ctx *ctx, mst_state *st);

/* Local. Rows [row0, row0 + out->n_rows); row i from (seed, SM_STREAM_SAMPLE, i). */
int sm_mst_sample(sm_ctx *ctx, const void *state, uint64_t seed, int64_t row0, sm_table *out);

int sm_mst_save(sm_ctx *ctx, const void *state, int64_t group);
int sm_mst_load(sm_ctx *ctx, int64_t group, void **state);

/* The domain value of a column value: bin, category, or n_values - 1 when missing. */
int sm_mst_value_index(const mst_attr *a, double x);

#endif
