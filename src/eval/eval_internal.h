/* Private: evaluation kernels on plain arrays, and the seeded row sample they run on.
 *
 * Kernels take the values of one set as float64 arrays with NaN for missing; discrete
 * columns hold dictionary codes. They are serial: the distributed code gathers a sample
 * to every rank first, so any rank computes the same number from the same bytes.
 */
#ifndef SYNTHMPI_EVAL_INTERNAL_H
#define SYNTHMPI_EVAL_INTERNAL_H

#include <stdint.h>

#include "synthmpi/eval.h"

#define SM_EVAL_BINS 10 /* equal-width bins for numeric columns in contingency tables */

/* Rows of a distributed table gathered in global row order. */
typedef struct sm_eval_sample {
  int64_t n_rows;
  int n_cols;
  double **values; /* (n_cols) arrays of (n_rows) values */
  int64_t *index;  /* (n_rows) global row index of each row, increasing */
} sm_eval_sample;

/* Collective. Mark the rows of t that are in the seeded sample of at most max_rows rows
 * (max_rows <= 0: all). keep has t->n_rows entries; the choice depends only on
 * (seed, global row index), not on the number of ranks. */
int sm_eval_select(sm_ctx *ctx, const sm_table *t, int64_t max_rows, uint64_t seed,
                   unsigned char *keep, int64_t *n_keep);

/* Collective. Gather the seeded sample of t to every rank (root < 0) or to root only
 * (other ranks get an empty sample). Free with sm_eval_sample_free. */
int sm_eval_gather(sm_ctx *ctx, const sm_table *t, int64_t max_rows, uint64_t seed, int root,
                   sm_eval_sample *out);
void sm_eval_sample_free(sm_eval_sample *s);

/* 1 - KS statistic of the non-missing values; NaN when either set has none. */
double sm_eval_ks_complement(const double *real, int64_t nr, const double *syn, int64_t ns);

/* 1 - total variation distance of the code frequencies (missing dropped); NaN when
 * either set has no values. Codes must lie in [0, n_categories). */
double sm_eval_tv_complement(const double *real, int64_t nr, const double *syn, int64_t ns,
                             int n_categories);

/* 1 - |r_real - r_syn| / 2 with Pearson's r over rows where both values are present;
 * NaN when r is undefined in either set (fewer than 2 rows or no spread). */
double sm_eval_correlation_similarity(const double *ra, const double *rb, int64_t nr,
                                      const double *sa, const double *sb, int64_t ns);

/* 1 - 1/2 sum |P_real(a,b) - P_syn(a,b)| over the joint frequencies of two code columns,
 * rows with a missing value dropped; NaN when either set has no complete rows. */
double sm_eval_contingency_similarity(const double *ra, const double *rb, int64_t nr,
                                      const double *sa, const double *sb, int64_t ns);

/* Codes of a numeric column in SM_EVAL_BINS equal-width bins over the real values'
 * [min, max] (numpy histogram edges); values outside go to the end bins; NaN stays. */
void sm_eval_bin(const double *real, int64_t nr, const double *x, int64_t n, double *codes);

/* ROC AUC of scores against 0/1 labels, ties given average ranks; NaN with one class. */
double sm_eval_roc_auc(const double *score, const int *label, int64_t n);

/* Macro F1 over the classes 0..n_classes-1 that occur in truth or pred. */
double sm_eval_macro_f1(const int *truth, const int *pred, int64_t n, int n_classes);

/* Per-column scaling of the privacy distance, from the training rows. */
typedef struct sm_eval_scale {
  int n_cols;
  unsigned char *mismatch; /* (n_cols) 1: a differing value counts 1 (discrete, or no range) */
  double *lo, *range;      /* (n_cols) numeric: |a - b| / range, capped at 1 */
} sm_eval_scale;

/* Collective. Training range of every numeric column. Free with sm_eval_scale_free. */
int sm_eval_scale_init(sm_ctx *ctx, const sm_table *train, sm_eval_scale *out);
void sm_eval_scale_free(sm_eval_scale *s);

/* Distance of two rows given as scaled values (numeric: (x - lo) / range; NaN missing):
 * the sum over columns of each column's term, each in [0, 1]. */
double sm_eval_row_distance(const sm_eval_scale *sc, const double *a, const double *b);

/* Collective. dist[q] = distance from query row q to its nearest row in the seeded sample
 * of at most max_ref rows of ref (<= 0: all), divided by the column count, so it lies in
 * [0, 1]; INFINITY when ref has no rows. Every rank gets every distance. */
int sm_eval_nearest(sm_ctx *ctx, const sm_eval_scale *sc, const sm_table *ref, int64_t max_ref,
                    uint64_t seed, const sm_eval_sample *query, double *dist);

/* Quantile q of n sorted values, linear between order statistics (numpy's default). */
double sm_eval_quantile(const double *sorted, int64_t n, double q);

/* Largest TPR - FPR over all score thresholds (label 1 positive); NaN with one class. */
double sm_eval_max_advantage(const double *score, const int *label, int64_t n);

/* Row sample sizes of the privacy metrics (sm_privacy_metrics_compute uses the defaults). */
typedef struct sm_privacy_limits {
  int64_t query_rows;     /* DCR query rows of each set (2000) */
  int64_t reference_rows; /* rows of the searched set (100000) */
  int64_t attack_rows;    /* members and non-members each (1000) */
  int64_t max_hashes;     /* training rows whose hashes every rank may hold (1 << 27) */
} sm_privacy_limits;

/* Collective. sm_privacy_metrics_compute with given sample sizes. */
int sm_privacy_metrics_limited(sm_ctx *ctx, const sm_eval_spec *spec, const sm_privacy_limits *lim,
                               const sm_table *train, const sm_table *holdout,
                               const sm_table *synth, sm_privacy_metrics *out);

#endif
