/* Evaluation of a release against real rows: fidelity, utility and privacy metrics. */
#ifndef SYNTHMPI_EVAL_H
#define SYNTHMPI_EVAL_H

#include "synthmpi/config.h"
#include "synthmpi/table.h"

typedef struct sm_fidelity {
  double column_shapes; /* mean of KS / TV complements */
  double column_pairs;  /* mean of correlation / contingency similarities */
  double overall;       /* mean of the two */
  int n_cols;
  double *shape;            /* (n_cols) per-column score; NaN when a set has no values */
  int n_pairs;              /* n_cols * (n_cols - 1) / 2, in order (0,1), (0,2), ..., (1,2), ... */
  int *pair_a;              /* (n_pairs) first column of each pair */
  int *pair_b;              /* (n_pairs) second column, pair_a < pair_b */
  int *pair_is_correlation; /* (n_pairs) 1: correlation similarity, 0: contingency */
  double *pair;             /* (n_pairs) per-pair score; NaN when undefined */
  int64_t n_real, n_synth;  /* rows of each set in the evaluated sample */
} sm_fidelity;

typedef struct sm_utility {
  int done;                        /* computed (target given and both sets usable) */
  double auc_real, f1_real;        /* classifier trained on real training rows */
  double auc_synth, f1_synth;      /* trained on synthetic rows; both tested on holdout */
  int64_t n_real, n_synth, n_test; /* rows used (missing targets dropped) */
  int rounds, max_depth;           /* classifier settings used */
  double eta;
  char reason[256]; /* why a score is missing (NaN), or empty */
} sm_utility;

/* Privacy metrics of a release against its training rows, with held-out real rows as the
 * baseline. Distances are the distance to closest record (DCR) defined in
 * sm_privacy_metrics_compute. A figure that cannot be computed is NaN, reason says why. */
typedef struct sm_privacy_metrics {
  double dcr_synth_median, dcr_synth_p05; /* DCR of sampled synthetic rows to training */
  double dcr_hold_median, dcr_hold_p05;   /* DCR of sampled held-out rows (baseline) */
  double dcr_share_closer;                /* share of synthetic DCRs below dcr_hold_p05 */
  int64_t dcr_synth_rows, dcr_hold_rows;  /* query rows sampled from each set */
  int64_t dcr_reference_rows;             /* training rows searched */
  double identical_synth; /* share of all synthetic rows equal to some training row */
  double identical_hold;  /* share of all held-out rows equal to some training row */
  int mia_done;           /* membership inference computed (needs held-out rows) */
  double mia_auc;         /* ROC AUC of -(DCR to synthetic) for members vs non-members */
  double mia_advantage;   /* max over thresholds of TPR - FPR */
  int64_t mia_members, mia_non_members;
  char reason[256]; /* why a figure is NaN, or empty */
} sm_privacy_metrics;

/* Collective. Evaluate synth against train (and against holdout when it has rows);
 * rank 0 prints a table and writes JSON to json_path (NULL: no file). */
int sm_evaluate(sm_ctx *ctx, const sm_experiment *e, const sm_table *train, const sm_table *holdout,
                const sm_table *synth, const char *json_path);

/* Collective. Column shapes and column pair trends of synth against real, on a seeded
 * subsample of at most spec->max_rows rows of each (<= 0: all rows). Every rank gets
 * every score. Free with sm_fidelity_free. */
int sm_fidelity_compute(sm_ctx *ctx, const sm_eval_spec *spec, const sm_table *real,
                        const sm_table *synth, sm_fidelity *out);
void sm_fidelity_free(sm_fidelity *f);

/* Collective. Train on real (train) and on synthetic rows, test both on holdout, with
 * XGBoost on rank 0; every rank gets the result. A score that cannot be computed is NaN
 * with the reason in out->reason (not a failure). */
int sm_utility_compute(sm_ctx *ctx, const sm_eval_spec *spec, const sm_table *train,
                       const sm_table *holdout, const sm_table *synth, sm_utility *out);

/* Collective. Privacy metrics of synth against train, with holdout (may be NULL or empty)
 * as the baseline. Uses at most 2000 sampled query rows per set for DCR, at most 100000
 * sampled rows of the searched set, and 1000 members and 1000 non-members for the
 * attack; rows are chosen by spec->seed, so every figure is the same at any rank count. */
int sm_privacy_metrics_compute(sm_ctx *ctx, const sm_eval_spec *spec, const sm_table *train,
                               const sm_table *holdout, const sm_table *synth,
                               sm_privacy_metrics *out);

#endif
