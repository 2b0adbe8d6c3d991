/* The whole evaluation on Adult: train on adult.data, test on adult.test (both read as
 * configs/adult-copula.yaml declares them), against a "release" made by permuting every
 * column of adult.data independently (marginals kept, dependence destroyed). Checks the
 * JSON report and the published real-data AUC. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adult.h"
#include "eval/eval_internal.h"
#include "synthmpi/rng.h"
#include "test_util.h"

/* Permute every column independently (same on every rank). */
static void permute_columns(sm_table *t) {
  double **v = t->values;
  int64_t n = t->n_rows;
  for (int j = 0; j < t->schema.n_cols; j++) {
    sm_rng g;
    sm_rng_init(&g, 17, SM_STREAM_TEST, (uint64_t)j);
    for (int64_t i = n - 1; i > 0; i--) {
      int64_t k = (int64_t)(sm_rng_uniform(&g) * (double)(i + 1));
      double tmp = v[j][i];
      v[j][i] = v[j][k], v[j][k] = tmp;
    }
  }
}

static double json_num(const cJSON *root, const char *a, const char *b) {
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, a);
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, b);
  return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

/* Rank 0: read the report back and check it against the experiment that made it. */
static void check_report(const char *path, const sm_experiment *e) {
  FILE *fp = fopen(path, "r");
  static char text[1 << 20];
  size_t n = fp ? fread(text, 1, sizeof text - 1, fp) : 0;
  text[n] = '\0';
  if (fp)
    fclose(fp);
  cJSON *root = cJSON_Parse(text);
  CHECK(root != NULL);

  /* the fully resolved experiment, word for word */
  const cJSON *exp = cJSON_GetObjectItemCaseSensitive(root, "experiment");
  CHECK(cJSON_IsString(exp) && e->resolved && strcmp(exp->valuestring, e->resolved) == 0);
  CHECK(cJSON_IsString(exp) && strstr(exp->valuestring, "gaussian_copula") != NULL);

  /* marginals are kept exactly, dependence is not */
  CHECK(json_num(root, "vs_training", "column_shapes") == 1.0);
  CHECK(json_num(root, "vs_training", "column_pairs") < 0.95);
  double hold = json_num(root, "vs_holdout", "overall");
  CHECK(hold > 0.5 && hold < 1.0);
  const cJSON *vt = cJSON_GetObjectItemCaseSensitive(root, "vs_training");
  CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(vt, "pairs")) == 105);
  CHECK(json_num(vt, "columns", "age") == 1.0);
  CHECK(json_num(root, "rows", "training") == 32561 && json_num(root, "rows", "holdout") == 16281);

  /* real-data utility near the published 0.927; the permuted release learns little */
  const cJSON *u = cJSON_GetObjectItemCaseSensitive(root, "utility");
  double auc = json_num(u, "real", "auc"), f1 = json_num(u, "real", "macro_f1");
  double syn = json_num(u, "synthetic", "auc");
  printf("adult: vs training pairs %.4f, vs holdout overall %.4f; real AUC %.4f F1 %.4f; "
         "permuted AUC %.4f\n",
         json_num(root, "vs_training", "column_pairs"), hold, auc, f1, syn);
  CHECK(auc > 0.9 && f1 > 0.75);
  CHECK(syn < 0.75);
  cJSON_Delete(root);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);

  /* this rank's blocks of both files; every rank reads all of adult.data for the release */
  sm_experiment e;
  sm_table train, hold, all, synth;
  int rc = test_adult_experiment(&ctx, 0, NULL, &e);
  if (rc == SM_OK)
    rc = test_adult_read(&ctx, &e, &train, &hold);
  if (rc == SM_OK)
    rc = test_adult_read_all(&ctx, &e, &all);
  if (rc != SM_OK)
    fprintf(stderr, "reading Adult: %s\n", ctx.msg);
  CHECK(rc == SM_OK);
  if (sm_agree(&ctx, rc) != SM_OK)
    return test_finish();
  CHECK(train.n_rows_total == 32561 && hold.n_rows_total == 16281);
  const sm_column *income = &train.schema.cols[14];
  CHECK(income->n_categories == 2 && strcmp(income->categories[1], ">50K") == 0);

  /* the permuted release, split over the ranks like the training rows */
  permute_columns(&all);
  CHECK(test_table_block(&ctx, &all, &synth) == SM_OK);
  sm_table_free(&all);

  /* evaluate with the experiment's settings and read the report back */
  char path[64], partial[80];
  snprintf(path, sizeof path, "eval_adult_np%d.json", ctx.size);
  snprintf(partial, sizeof partial, "%s.partial", path);
  CHECK(sm_evaluate(&ctx, &e, &train, &hold, &synth, path) == SM_OK);
  if (ctx.rank == 0) {
    check_report(path, &e);
    CHECK(access(partial, F_OK) != 0);
  }
  sm_table_free(&train);
  sm_table_free(&hold);
  sm_table_free(&synth);
  sm_experiment_free(&e);
  sm_ctx_free(&ctx);
  return test_finish();
}
