/* Evaluation of a release against real rows: fidelity and utility. */
#ifndef SYNTHMPI_EVAL_H
#define SYNTHMPI_EVAL_H

#include "synthmpi/config.h"
#include "synthmpi/table.h"

typedef struct sm_fidelity {
  double column_shapes; /* mean of KS / TV complements */
  double column_pairs;  /* mean of correlation / contingency similarities */
  double overall;       /* mean of the two */
  int n_cols;
  double *shape; /* (n_cols) per-column score */
} sm_fidelity;

typedef struct sm_utility {
  int done;                   /* computed (target given and both sets usable) */
  double auc_real, f1_real;   /* classifier trained on real training rows */
  double auc_synth, f1_synth; /* trained on synthetic rows; both tested on holdout */
} sm_utility;

/* Collective. Evaluate synth against train (and against holdout when it has rows);
 * rank 0 prints a table and writes JSON to json_path (NULL: no file). */
int sm_evaluate(sm_ctx *ctx, const sm_experiment *e, const sm_table *train, const sm_table *holdout,
                const sm_table *synth, const char *json_path);

#endif
