/* sm_evaluate: fidelity against training and held-out rows, utility, privacy metrics,
 * the printed table and the JSON report. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"

/* Add a number, or null when it is undefined. */
static void add_score(cJSON *obj, const char *name, double v) {
  if (isnan(v))
    cJSON_AddNullToObject(obj, name);
  else
    cJSON_AddNumberToObject(obj, name, v);
}

/* {overall, column_shapes, column_pairs, columns: {name: score}, pairs: [...]} */
static cJSON *fidelity_json(const sm_schema *sc, const sm_fidelity *f) {
  cJSON *o = cJSON_CreateObject();
  add_score(o, "overall", f->overall);
  add_score(o, "column_shapes", f->column_shapes);
  add_score(o, "column_pairs", f->column_pairs);
  cJSON_AddNumberToObject(o, "real_rows", (double)f->n_real);
  cJSON_AddNumberToObject(o, "synthetic_rows", (double)f->n_synth);
  cJSON *cols = cJSON_AddObjectToObject(o, "columns");
  for (int j = 0; j < f->n_cols; j++)
    add_score(cols, sc->cols[j].name, f->shape[j]);
  cJSON *pairs = cJSON_AddArrayToObject(o, "pairs");
  for (int p = 0; p < f->n_pairs; p++) {
    cJSON *item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "a", sc->cols[f->pair_a[p]].name);
    cJSON_AddStringToObject(item, "b", sc->cols[f->pair_b[p]].name);
    cJSON_AddStringToObject(item, "metric",
                            f->pair_is_correlation[p] ? "correlation_similarity"
                                                      : "contingency_similarity");
    add_score(item, "score", f->pair[p]);
    cJSON_AddItemToArray(pairs, item);
  }
  return o;
}

/* {target, classifier: {...}, real: {auc, macro_f1}, synthetic: {...}} */
static cJSON *utility_json(const sm_eval_spec *spec, const sm_utility *u) {
  cJSON *o = cJSON_CreateObject();
  if (spec->target)
    cJSON_AddStringToObject(o, "target", spec->target);
  else
    cJSON_AddNullToObject(o, "target");
  cJSON_AddBoolToObject(o, "computed", u->done);
  if (u->reason[0])
    cJSON_AddStringToObject(o, "reason", u->reason);
  cJSON *clf = cJSON_AddObjectToObject(o, "classifier");
  cJSON_AddStringToObject(clf, "library", "xgboost");
  cJSON_AddStringToObject(clf, "objective", "binary:logistic");
  cJSON_AddStringToObject(clf, "tree_method", "hist");
  cJSON_AddNumberToObject(clf, "rounds", u->rounds);
  cJSON_AddNumberToObject(clf, "max_depth", u->max_depth);
  cJSON_AddNumberToObject(clf, "eta", u->eta);
  cJSON_AddNumberToObject(clf, "seed", 0);
  cJSON_AddNumberToObject(clf, "threshold", 0.5);
  cJSON *real = cJSON_AddObjectToObject(o, "real");
  add_score(real, "auc", u->auc_real);
  add_score(real, "macro_f1", u->f1_real);
  cJSON_AddNumberToObject(real, "train_rows", (double)u->n_real);
  cJSON *syn = cJSON_AddObjectToObject(o, "synthetic");
  add_score(syn, "auc", u->auc_synth);
  add_score(syn, "macro_f1", u->f1_synth);
  cJSON_AddNumberToObject(syn, "train_rows", (double)u->n_synth);
  cJSON_AddNumberToObject(o, "test_rows", (double)u->n_test);
  return o;
}

/* {dcr: {...}, identical_rows: {...}, membership_inference: {...}} */
static cJSON *privacy_json(const sm_privacy_metrics *p) {
  cJSON *o = cJSON_CreateObject();
  cJSON *dcr = cJSON_AddObjectToObject(o, "dcr");
  add_score(dcr, "synthetic_median", p->dcr_synth_median);
  add_score(dcr, "synthetic_p05", p->dcr_synth_p05);
  add_score(dcr, "holdout_median", p->dcr_hold_median);
  add_score(dcr, "holdout_p05", p->dcr_hold_p05);
  add_score(dcr, "share_closer_than_holdout_p05", p->dcr_share_closer);
  cJSON_AddNumberToObject(dcr, "synthetic_rows", (double)p->dcr_synth_rows);
  cJSON_AddNumberToObject(dcr, "holdout_rows", (double)p->dcr_hold_rows);
  cJSON_AddNumberToObject(dcr, "training_rows", (double)p->dcr_reference_rows);
  cJSON *same = cJSON_AddObjectToObject(o, "identical_rows");
  add_score(same, "synthetic_share", p->identical_synth);
  add_score(same, "holdout_share", p->identical_hold);
  cJSON *mia = cJSON_AddObjectToObject(o, "membership_inference");
  cJSON_AddBoolToObject(mia, "computed", p->mia_done);
  add_score(mia, "auc", p->mia_auc);
  add_score(mia, "advantage", p->mia_advantage);
  cJSON_AddNumberToObject(mia, "members", (double)p->mia_members);
  cJSON_AddNumberToObject(mia, "non_members", (double)p->mia_non_members);
  if (p->reason[0])
    cJSON_AddStringToObject(o, "reason", p->reason);
  return o;
}

/* Rank 0: write the text beside path and rename it into place. */
static int write_json(sm_ctx *ctx, const char *path, const char *text) {
  size_t n = strlen(path) + sizeof ".partial";
  char *partial = sm_malloc(ctx, n);
  if (!partial)
    return SM_ERR;
  snprintf(partial, n, "%s.partial", path);
  FILE *fp = fopen(partial, "w");
  int ok = fp && fputs(text, fp) >= 0 && fputc('\n', fp) != EOF;
  ok = (fp && fclose(fp) == 0) && ok;
  int rc = SM_OK;
  if (!ok || rename(partial, path) != 0) {
    rc = sm_fail(ctx, SM_ERR, "cannot write evaluation report %s", path);
    remove(partial);
  }
  free(partial);
  return rc;
}

/* Rank 0: build the whole report and write it. */
static int report_json(sm_ctx *ctx, const sm_experiment *e, const sm_table *train,
                       const sm_table *holdout, const sm_table *synth, const sm_fidelity *vs_train,
                       const sm_fidelity *vs_hold, const sm_utility *u,
                       const sm_privacy_metrics *priv, const char *path) {
  cJSON *root = cJSON_CreateObject();

  /* the fully resolved experiment (YAML text), as every output carries it */
  if (e->resolved)
    cJSON_AddStringToObject(root, "experiment", e->resolved);
  else
    cJSON_AddNullToObject(root, "experiment");
  cJSON *rows = cJSON_AddObjectToObject(root, "rows");
  cJSON_AddNumberToObject(rows, "training", (double)train->n_rows_total);
  cJSON_AddNumberToObject(rows, "holdout", holdout ? (double)holdout->n_rows_total : 0.0);
  cJSON_AddNumberToObject(rows, "synthetic", (double)synth->n_rows_total);
  cJSON_AddNumberToObject(rows, "max_rows", (double)e->evaluation.max_rows);
  cJSON_AddNumberToObject(rows, "seed", (double)e->evaluation.seed);
  cJSON_AddItemToObject(root, "vs_training", fidelity_json(&train->schema, vs_train));
  if (vs_hold)
    cJSON_AddItemToObject(root, "vs_holdout", fidelity_json(&train->schema, vs_hold));
  else
    cJSON_AddNullToObject(root, "vs_holdout");
  cJSON_AddItemToObject(root, "utility", utility_json(&e->evaluation, u));
  cJSON_AddItemToObject(root, "privacy", privacy_json(priv));
  if (e->privacy.enabled) {
    /* a private release: this evaluation read real data outside the budget */
    cJSON *note = cJSON_AddObjectToObject(root, "private_run");
    cJSON_AddBoolToObject(note, "private_release", !e->privacy.reproducible);
    cJSON_AddBoolToObject(note, "evaluation_is_private", 0);
    cJSON_AddStringToObject(note, "note",
                            "computed on the real data outside the privacy budget: reported "
                            "separately, not part of the release's guarantee");
  }
  char *text = cJSON_Print(root);
  int rc = text ? write_json(ctx, path, text) : sm_fail(ctx, SM_ERR, "out of memory (JSON)");
  free(text);
  cJSON_Delete(root);
  return rc;
}

/* The printed tables: a label column, then two right-aligned value columns (a
 * longer column name in "worst column" pushes its value right). */
#define LABEL_WIDTH 34
#define VALUE_WIDTH 13

/* The five lowest column scores against training. */
static void log_worst_columns(const sm_ctx *ctx, const sm_schema *sc, const sm_fidelity *f) {
  int shown[5] = {-1, -1, -1, -1, -1};
  for (int k = 0; k < 5 && k < f->n_cols; k++) {
    int best = -1;
    for (int j = 0; j < f->n_cols; j++) {
      int used = 0;
      for (int q = 0; q < k; q++)
        used |= shown[q] == j;
      if (!used && !isnan(f->shape[j]) && (best < 0 || f->shape[j] < f->shape[best]))
        best = j;
    }
    if (best < 0)
      break;
    shown[k] = best;
    sm_log(ctx, SM_LOG_INFO, "  worst column %d: %-*s%*.4f", k + 1, LABEL_WIDTH - 18,
           sc->cols[best].name, VALUE_WIDTH, f->shape[best]);
  }
}

/* Rank 0: a table's heading line. */
static void log_heading(const sm_ctx *ctx, const char *title, const char *a, const char *b) {
  sm_log(ctx, SM_LOG_INFO, "%-*s%*s%*s", LABEL_WIDTH, title, VALUE_WIDTH, a, VALUE_WIDTH, b);
}

/* Rank 0: one row of two values, or of one (b_shown 0) in the first column. */
static void log_row(const sm_ctx *ctx, const char *label, double a, double b, int b_shown) {
  if (b_shown)
    sm_log(ctx, SM_LOG_INFO, "  %-*s%*.4f%*.4f", LABEL_WIDTH - 2, label, VALUE_WIDTH, a,
           VALUE_WIDTH, b);
  else
    sm_log(ctx, SM_LOG_INFO, "  %-*s%*.4f", LABEL_WIDTH - 2, label, VALUE_WIDTH, a);
}

/* Rank 0 prints the summary table. */
static void log_summary(const sm_ctx *ctx, const sm_schema *sc, const sm_fidelity *vt,
                        const sm_fidelity *vh, const sm_utility *u) {
  log_heading(ctx, "evaluation", "vs training", "vs holdout");
  log_row(ctx, "overall", vt->overall, vh ? vh->overall : NAN, 1);
  log_row(ctx, "column shapes", vt->column_shapes, vh ? vh->column_shapes : NAN, 1);
  log_row(ctx, "column pairs", vt->column_pairs, vh ? vh->column_pairs : NAN, 1);
  log_worst_columns(ctx, sc, vt);
  log_heading(ctx, "utility", "AUC", "macro F1");
  log_row(ctx, "trained on real", u->auc_real, u->f1_real, 1);
  log_row(ctx, "trained on synth", u->auc_synth, u->f1_synth, 1);
  if (u->reason[0])
    sm_log(ctx, SM_LOG_INFO, "  utility note: %s", u->reason);
}

/* Rank 0 prints the privacy table; the attack's figures have one value each. */
static void log_privacy(const sm_ctx *ctx, const sm_privacy_metrics *p) {
  log_heading(ctx, "privacy", "synthetic", "holdout");
  log_row(ctx, "DCR median", p->dcr_synth_median, p->dcr_hold_median, 1);
  log_row(ctx, "DCR 5th percentile", p->dcr_synth_p05, p->dcr_hold_p05, 1);
  log_row(ctx, "identical to train", p->identical_synth, p->identical_hold, 1);
  log_row(ctx, "closer than holdout p05", p->dcr_share_closer, NAN, 0);
  log_row(ctx, "membership AUC", p->mia_auc, NAN, 0);
  log_row(ctx, "membership advantage", p->mia_advantage, NAN, 0);
  if (p->reason[0])
    sm_log(ctx, SM_LOG_INFO, "  privacy note: %s", p->reason);
}

int sm_evaluate(sm_ctx *ctx, const sm_experiment *e, const sm_table *train, const sm_table *holdout,
                const sm_table *synth, const char *json_path) {
  sm_fidelity vt = {0}, vh = {0};
  sm_utility u;
  sm_privacy_metrics priv;
  int have_hold = holdout && holdout->n_rows_total > 0;

  /* fidelity against training rows, then against held-out rows */
  int rc = sm_fidelity_compute(ctx, &e->evaluation, train, synth, &vt);
  if (rc == SM_OK && have_hold)
    rc = sm_fidelity_compute(ctx, &e->evaluation, holdout, synth, &vh);
  if (rc == SM_OK)
    rc = sm_utility_compute(ctx, &e->evaluation, train, holdout, synth, &u);
  if (rc == SM_OK)
    rc = sm_privacy_metrics_compute(ctx, &e->evaluation, train, have_hold ? holdout : NULL, synth,
                                    &priv);

  /* rank 0 reports */
  if (rc == SM_OK) {
    log_summary(ctx, &train->schema, &vt, have_hold ? &vh : NULL, &u);
    log_privacy(ctx, &priv);
    int local = SM_OK;
    if (ctx->rank == 0 && json_path)
      local = report_json(ctx, e, train, holdout, synth, &vt, have_hold ? &vh : NULL, &u, &priv,
                          json_path);
    rc = sm_agree(ctx, local);
  }
  sm_fidelity_free(&vt);
  sm_fidelity_free(&vh);
  return rc;
}
