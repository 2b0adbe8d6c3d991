/* Utility: train on real rows and on synthetic rows, test both on held-out real rows.
 *
 * The three sets are subsampled and gathered to rank 0, which trains two XGBoost
 * classifiers with identical settings through the C API and scores them; the result is
 * broadcast so every rank returns the same struct.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xgboost/c_api.h>

#include "eval/eval_internal.h"

#define DEFAULT_ROUNDS 300
#define DEFAULT_DEPTH 6
#define DEFAULT_ETA 0.1

/* The check macro for XGBoost calls: non-zero is failure, words from XGBGetLastError. */
#define SM_XGB_CHECK(ctx, call)                                                                    \
  do {                                                                                             \
    if ((call) != 0)                                                                               \
      return sm_fail((ctx), SM_ERR, "%s:%d: %s failed: %s", __FILE__, __LINE__, #call,             \
                     XGBGetLastError());                                                           \
  } while (0)

/* A design matrix: numeric columns as they are, discrete columns one-hot. */
typedef struct design {
  int64_t n_rows;
  int n_features;
  float *x;   /* (n_rows, n_features) row-major; NaN = missing */
  float *y;   /* (n_rows) 0/1 label */
  int *label; /* (n_rows) the same label as int */
} design;

static void design_free(design *d) {
  free(d->x);
  free(d->y);
  free(d->label);
  memset(d, 0, sizeof(*d));
}

/* Features of every column but the target. */
static int feature_count(const sm_schema *sc, int target) {
  int n = 0;
  for (int j = 0; j < sc->n_cols; j++)
    if (j != target)
      n += sm_coltype_is_discrete(sc->cols[j].type) ? sc->cols[j].n_categories : 1;
  return n;
}

/* Write row i's features into out[n_features]. */
static void encode_row(const sm_schema *sc, int target, const sm_eval_sample *s, int64_t i,
                       float *out) {
  int f = 0;
  for (int j = 0; j < sc->n_cols; j++) {
    if (j == target)
      continue;
    double v = s->values[j][i];
    if (!sm_coltype_is_discrete(sc->cols[j].type)) {
      out[f++] = (float)v;
      continue;
    }

    /* one-hot; missing or an unknown code leaves all zeros */
    int k = sc->cols[j].n_categories;
    memset(out + f, 0, (size_t)k * sizeof(float));
    if (!isnan(v) && v >= 0 && v < k)
      out[f + (int)v] = 1.0f;
    f += k;
  }
}

/* Build the design of a sample; rows with a missing target are dropped. */
static int design_build(sm_ctx *ctx, const sm_schema *sc, int target, const sm_eval_sample *s,
                        design *d) {
  memset(d, 0, sizeof(*d));
  d->n_features = feature_count(sc, target);
  size_t n = (size_t)(s->n_rows > 0 ? s->n_rows : 1);
  d->x = sm_malloc(ctx, n * (size_t)(d->n_features > 0 ? d->n_features : 1) * sizeof(float));
  d->y = sm_malloc(ctx, n * sizeof(float));
  d->label = sm_malloc(ctx, n * sizeof(int));
  if (!d->x || !d->y || !d->label)
    return SM_ERR;
  for (int64_t i = 0; i < s->n_rows; i++) {
    double t = s->values[target][i];
    if (isnan(t))
      continue;
    encode_row(sc, target, s, i, d->x + d->n_rows * d->n_features);
    d->label[d->n_rows] = t == 1.0;
    d->y[d->n_rows] = (float)d->label[d->n_rows];
    d->n_rows++;
  }
  return SM_OK;
}

/* Both classes present? */
static int has_both_classes(const design *d) {
  int64_t pos = 0;
  for (int64_t i = 0; i < d->n_rows; i++)
    pos += d->label[i];
  return pos > 0 && pos < d->n_rows;
}

typedef struct booster_run {
  DMatrixHandle train, test;
  BoosterHandle booster;
} booster_run;

static void booster_run_free(booster_run *b) {
  if (b->booster)
    XGBoosterFree(b->booster);
  if (b->train)
    XGDMatrixFree(b->train);
  if (b->test)
    XGDMatrixFree(b->test);
}

/* Set one booster parameter from a formatted value. */
static int set_param(sm_ctx *ctx, BoosterHandle h, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int set_param(sm_ctx *ctx, BoosterHandle h, const char *name, const char *fmt, ...) {
  char value[64];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(value, sizeof value, fmt, ap);
  va_end(ap);
  SM_XGB_CHECK(ctx, XGBoosterSetParam(h, name, value));
  return SM_OK;
}

/* Train on tr for u's settings and write the probabilities of te's rows into prob. */
static int train_predict(sm_ctx *ctx, const sm_utility *u, const design *tr, const design *te,
                         booster_run *b, double *prob) {
  /* data: missing values are NaN */
  SM_XGB_CHECK(ctx, XGDMatrixCreateFromMat(tr->x, (bst_ulong)tr->n_rows, (bst_ulong)tr->n_features,
                                           NAN, &b->train));
  SM_XGB_CHECK(ctx, XGDMatrixSetFloatInfo(b->train, "label", tr->y, (bst_ulong)tr->n_rows));
  SM_XGB_CHECK(ctx, XGDMatrixCreateFromMat(te->x, (bst_ulong)te->n_rows, (bst_ulong)te->n_features,
                                           NAN, &b->test));

  /* the same settings for every training set */
  SM_XGB_CHECK(ctx, XGBoosterCreate(&b->train, 1, &b->booster));
  SM_TRY(set_param(ctx, b->booster, "objective", "binary:logistic"));
  SM_TRY(set_param(ctx, b->booster, "tree_method", "hist"));
  SM_TRY(set_param(ctx, b->booster, "max_depth", "%d", u->max_depth));
  SM_TRY(set_param(ctx, b->booster, "eta", "%.17g", u->eta));
  SM_TRY(set_param(ctx, b->booster, "nthread", "2"));
  SM_TRY(set_param(ctx, b->booster, "seed", "0"));
  SM_TRY(set_param(ctx, b->booster, "verbosity", "0"));
  for (int it = 0; it < u->rounds; it++)
    SM_XGB_CHECK(ctx, XGBoosterUpdateOneIter(b->booster, it, b->train));

  /* probabilities of the positive class on the test rows */
  bst_ulong n_out = 0;
  const float *out = NULL;
  SM_XGB_CHECK(ctx, XGBoosterPredict(b->booster, b->test, 0, 0, 0, &n_out, &out));
  if ((int64_t)n_out != te->n_rows)
    return sm_fail(ctx, SM_ERR, "XGBoost returned %llu predictions for %lld rows",
                   (unsigned long long)n_out, (long long)te->n_rows);
  for (int64_t i = 0; i < te->n_rows; i++)
    prob[i] = out[i];
  return SM_OK;
}

/* Train on tr, test on te: ROC AUC and macro F1 at threshold 0.5 (positive when p > 0.5,
 * as XGBClassifier.predict). */
static int fit_and_score(sm_ctx *ctx, const sm_utility *u, const design *tr, const design *te,
                         double *auc, double *f1) {
  double *prob = sm_malloc(ctx, (size_t)(te->n_rows + 1) * sizeof(double));
  int *pred = sm_malloc(ctx, (size_t)(te->n_rows + 1) * sizeof(int));
  booster_run b = {0};
  int rc = prob && pred ? train_predict(ctx, u, tr, te, &b, prob) : SM_ERR;
  if (rc == SM_OK) {
    for (int64_t i = 0; i < te->n_rows; i++)
      pred[i] = prob[i] > 0.5;
    *auc = sm_eval_roc_auc(prob, te->label, te->n_rows);
    *f1 = sm_eval_macro_f1(te->label, pred, te->n_rows, 2);
  }
  booster_run_free(&b);
  free(prob);
  free(pred);
  return rc;
}

/* Append a sentence to the reason. */
static void add_reason(sm_utility *u, const char *what) {
  size_t len = strlen(u->reason);
  snprintf(u->reason + len, sizeof u->reason - len, "%s%s", len ? "; " : "", what);
}

/* Rank 0: build the designs and score both classifiers. */
static int score_on_root(sm_ctx *ctx, const sm_schema *sc, int target, sm_eval_sample *sets,
                         sm_utility *u) {
  design d[3] = {{0}, {0}, {0}}; /* real training, synthetic, holdout */
  int rc = SM_OK;
  for (int k = 0; k < 3 && rc == SM_OK; k++)
    rc = design_build(ctx, sc, target, &sets[k], &d[k]);
  u->n_real = d[0].n_rows;
  u->n_synth = d[1].n_rows;
  u->n_test = d[2].n_rows;

  /* a set whose target has one class cannot train or test a binary classifier */
  int test_ok = rc == SM_OK && has_both_classes(&d[2]);
  if (rc == SM_OK && !test_ok)
    add_reason(u, "held-out rows have one target class only: AUC undefined");
  if (test_ok && has_both_classes(&d[0]))
    rc = fit_and_score(ctx, u, &d[0], &d[2], &u->auc_real, &u->f1_real);
  else if (test_ok)
    add_reason(u, "real training rows have one target class only");
  if (rc == SM_OK && test_ok && has_both_classes(&d[1]))
    rc = fit_and_score(ctx, u, &d[1], &d[2], &u->auc_synth, &u->f1_synth);
  else if (rc == SM_OK && test_ok)
    add_reason(u, "synthetic rows have one target class only");
  for (int k = 0; k < 3; k++)
    design_free(&d[k]);
  u->done = !isnan(u->auc_real) || !isnan(u->auc_synth);
  return rc;
}

/* The settings and an empty result. */
static void utility_init(const sm_eval_spec *spec, sm_utility *u) {
  memset(u, 0, sizeof(*u));
  u->auc_real = u->f1_real = u->auc_synth = u->f1_synth = NAN;
  u->rounds = spec->utility_rounds > 0 ? spec->utility_rounds : DEFAULT_ROUNDS;
  u->max_depth = spec->utility_depth > 0 ? spec->utility_depth : DEFAULT_DEPTH;
  u->eta = spec->utility_eta > 0 ? spec->utility_eta : DEFAULT_ETA;
}

/* Whether utility applies; *target is the target column. Returns a failure only for a
 * target that names no column. */
static int utility_applies(sm_ctx *ctx, const sm_eval_spec *spec, const sm_table *train,
                           const sm_table *holdout, int *target, sm_utility *u) {
  *target = -1;
  if (!spec->utility || !spec->target) {
    add_reason(u, "not requested (evaluation.utility and evaluation.target)");
    return SM_OK;
  }
  int j = sm_schema_find(&train->schema, spec->target);
  if (j < 0)
    return sm_fail(ctx, SM_EINPUT, "evaluation.target '%s' is not a column of the data",
                   spec->target);
  const sm_column *c = &train->schema.cols[j];
  if (!holdout || holdout->n_rows_total == 0)
    add_reason(u, "no held-out rows to test on");
  else if (!sm_coltype_is_discrete(c->type))
    add_reason(u, "the target must be categorical or boolean");
  else if (c->n_categories != 2)
    snprintf(u->reason, sizeof u->reason,
             "target '%s' has %d categories; only binary "
             "targets are supported",
             c->name, c->n_categories);
  else
    *target = j;
  return SM_OK;
}

/* Collective: rank 0's result to every rank. */
static int share_result(sm_ctx *ctx, sm_utility *u) {
  SM_MPI_CHECK(ctx, MPI_Bcast(u, (int)sizeof(*u), MPI_BYTE, 0, ctx->comm));
  return SM_OK;
}

int sm_utility_compute(sm_ctx *ctx, const sm_eval_spec *spec, const sm_table *train,
                       const sm_table *holdout, const sm_table *synth, sm_utility *out) {
  utility_init(spec, out);
  int target = -1;
  SM_TRY(sm_agree(ctx, utility_applies(ctx, spec, train, holdout, &target, out)));
  if (target < 0)
    return SM_OK;

  /* the three samples on rank 0 */
  sm_eval_sample sets[3] = {{0}, {0}, {0}};
  const sm_table *tables[3] = {train, synth, holdout};
  int rc = SM_OK;
  for (int k = 0; k < 3 && rc == SM_OK; k++)
    rc = sm_eval_gather(ctx, tables[k], spec->utility_max_rows, spec->seed, 0, &sets[k]);

  /* train and test there, then share */
  if (rc == SM_OK && ctx->rank == 0)
    rc = score_on_root(ctx, &train->schema, target, sets, out);
  for (int k = 0; k < 3; k++)
    sm_eval_sample_free(&sets[k]);
  SM_TRY(sm_agree(ctx, rc));
  return share_result(ctx, out);
}
