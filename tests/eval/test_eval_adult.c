/* The whole evaluation on Adult: train on adult.data, test on adult.test, against a
 * "release" made by permuting every column of adult.data independently (marginals kept,
 * dependence destroyed). Checks the JSON report and the published real-data AUC. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eval/eval_internal.h"
#include "eval_fixture.h"
#include "synthmpi/rng.h"
#include "test_util.h"

#define NCOL 15
#define MAXROWS 40000

static const char *names[NCOL] = {"age",
                                  "workclass",
                                  "fnlwgt",
                                  "education",
                                  "education_num",
                                  "marital_status",
                                  "occupation",
                                  "relationship",
                                  "race",
                                  "sex",
                                  "capital_gain",
                                  "capital_loss",
                                  "hours_per_week",
                                  "native_country",
                                  "income"};
static const int discrete[NCOL] = {0, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1};

/* Test fixture only: a tiny reader for the two Adult files ("a, b, c" rows; lines starting
 * with '|' and empty lines skipped; "?" missing; the test file's labels end in '.').
 * cell[i * NCOL + j] holds the text of row i, column j. */
typedef struct raw {
  int n;
  char **cell;
} raw;

static int read_raw(const char *path, raw *out) {
  FILE *fp = fopen(path, "r");
  char line[1024];
  out->n = 0;
  out->cell = malloc((size_t)MAXROWS * NCOL * sizeof(char *));
  if (!fp || !out->cell)
    return -1;
  while (fgets(line, sizeof line, fp) && out->n < MAXROWS) {
    if (line[0] == '|' || strlen(line) < 10)
      continue;
    char *save = NULL, *tok = strtok_r(line, ",\r\n", &save);
    for (int j = 0; j < NCOL && tok; j++, tok = strtok_r(NULL, ",\r\n", &save)) {
      while (*tok == ' ')
        tok++;
      size_t len = strlen(tok);
      if (len && tok[len - 1] == '.')
        tok[len - 1] = '\0';
      out->cell[out->n * NCOL + j] = sm_strdup(tok);
    }
    out->n++;
  }
  fclose(fp);
  return 0;
}

static int compare_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted dictionary of column j over both files ("?" excluded). */
static int dictionary(const raw *a, const raw *b, int j, char ***cats) {
  char **v = malloc((size_t)(a->n + b->n) * sizeof(char *));
  int n = 0, k = 0;
  for (int i = 0; i < a->n; i++)
    v[n++] = a->cell[i * NCOL + j];
  for (int i = 0; i < b->n; i++)
    v[n++] = b->cell[i * NCOL + j];
  qsort(v, (size_t)n, sizeof(char *), compare_str);
  for (int i = 0; i < n; i++)
    if (strcmp(v[i], "?") != 0 && (k == 0 || strcmp(v[i], v[k - 1]) != 0))
      v[k++] = v[i];
  *cats = v;
  return k;
}

/* Columns of a raw file as codes and numbers (NaN for "?"). */
static void to_columns(const raw *r, const sm_schema *s, double **v) {
  for (int j = 0; j < NCOL; j++) {
    for (int i = 0; i < r->n; i++) {
      const char *t = r->cell[i * NCOL + j];
      if (strcmp(t, "?") == 0)
        v[j][i] = NAN;
      else if (discrete[j])
        v[j][i] = sm_column_find_category(&s->cols[j], t);
      else
        v[j][i] = atof(t);
    }
  }
}

/* Permute every column independently (same on every rank). */
static void permute_columns(double **v, int n) {
  for (int j = 0; j < NCOL; j++) {
    sm_rng g;
    sm_rng_init(&g, 17, SM_STREAM_TEST, (uint64_t)j);
    for (int i = n - 1; i > 0; i--) {
      int k = (int)(sm_rng_uniform(&g) * (i + 1));
      double t = v[j][i];
      v[j][i] = v[j][k], v[j][k] = t;
    }
  }
}

static double json_num(const cJSON *root, const char *a, const char *b) {
  const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, a);
  const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, b);
  return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

/* Rank 0: read the report back and check it. */
static void check_report(const char *path) {
  FILE *fp = fopen(path, "r");
  static char text[1 << 20];
  size_t n = fp ? fread(text, 1, sizeof text - 1, fp) : 0;
  text[n] = '\0';
  if (fp)
    fclose(fp);
  cJSON *root = cJSON_Parse(text);
  CHECK(root != NULL);

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

  /* every rank reads both files and keeps its block */
  raw data, test;
  CHECK(read_raw(test_data("tabular/adult/adult.data"), &data) == 0);
  CHECK(read_raw(test_data("tabular/adult/adult.test"), &test) == 0);
  CHECK(data.n == 32561 && test.n == 16281);
  sm_coltype types[NCOL];
  int n_cats[NCOL];
  char **cats[NCOL];
  for (int j = 0; j < NCOL; j++) {
    types[j] = discrete[j] ? SM_COL_CATEGORICAL : SM_COL_INTEGER;
    n_cats[j] = discrete[j] ? dictionary(&data, &test, j, &cats[j]) : 0;
    cats[j] = discrete[j] ? cats[j] : NULL;
  }
  sm_column cols[NCOL];
  sm_schema s;
  fixture_schema(&s, cols, NCOL, names, types, n_cats, cats);
  CHECK(n_cats[14] == 2 && strcmp(cats[14][1], ">50K") == 0);

  /* global columns, the permuted release, and the rank blocks */
  double *dv[NCOL], *tv[NCOL], *pv[NCOL];
  for (int j = 0; j < NCOL; j++) {
    dv[j] = malloc((size_t)data.n * sizeof(double));
    pv[j] = malloc((size_t)data.n * sizeof(double));
    tv[j] = malloc((size_t)test.n * sizeof(double));
  }
  to_columns(&data, &s, dv);
  to_columns(&test, &s, tv);
  to_columns(&data, &s, pv);
  permute_columns(pv, data.n);
  sm_table train, hold, synth;
  CHECK(fixture_block(&ctx, &train, &s, dv, data.n) == SM_OK);
  CHECK(fixture_block(&ctx, &hold, &s, tv, test.n) == SM_OK);
  CHECK(fixture_block(&ctx, &synth, &s, pv, data.n) == SM_OK);

  /* evaluate and read the report back */
  sm_experiment e;
  memset(&e, 0, sizeof e);
  e.evaluation = (sm_eval_spec){.enabled = 1,
                                .target = "income",
                                .max_rows = 0,
                                .seed = 1,
                                .utility = 1,
                                .utility_max_rows = 0,
                                .utility_rounds = 300,
                                .utility_depth = 6,
                                .utility_eta = 0.1};
  char path[64], partial[80];
  snprintf(path, sizeof path, "eval_adult_np%d.json", ctx.size);
  snprintf(partial, sizeof partial, "%s.partial", path);
  CHECK(sm_evaluate(&ctx, &e, &train, &hold, &synth, path) == SM_OK);
  if (ctx.rank == 0) {
    check_report(path);
    CHECK(access(partial, F_OK) != 0);
  }
  sm_table_free(&train);
  sm_table_free(&hold);
  sm_table_free(&synth);
  sm_ctx_free(&ctx);
  return test_finish();
}
