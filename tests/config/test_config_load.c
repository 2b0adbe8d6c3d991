/* The experiment loader on valid input: every field of a full file, the defaults of a
 * minimal one, overrides, the resolved text read back, and the shipped Adult experiment
 * checked against the real data. Loaded collectively; every rank must end with the same
 * struct. */
#include <stdio.h>
#include <string.h>

#include "config_files.h"
#include "synthmpi/config.h"
#include "synthmpi/table.h"
#include "test_util.h"

#define PATH_LEN 4096

static const char *full_yaml =
    "version: 1\n"
    "name: full-test\n"
    "data:\n"
    "  path: in/train.csv\n"
    "  format: csv\n"
    "  header: false\n"
    "  skip_lines: 2\n"
    "  delimiter: \"\\t\"\n"
    "  missing: [\"?\", \"NA\"]\n"
    "  trim: false\n"
    "  columns:\n"
    "    - {name: age, type: integer, domain: [17, 90]}\n"
    "    - {name: workclass, type: categorical}\n"
    "    - {name: income, type: categorical, strip_suffix: \".\", domain: [\"<=50K\", "
    "\">50K\"]}\n"
    "    - {name: day, type: datetime, format: \"%Y%m%d\"}\n"
    "    - {name: flag, type: boolean}\n"
    "    - {name: x, replace: {\"a\": \"b\", \"c\": \"d\"}}\n"
    "    - {name: w, type: continuous, domain: [-1.5, 2.25]}\n"
    "holdout:\n"
    "  path: /abs/test.csv\n"
    "  skip_lines: 1\n"
    "  header: true\n"
    "model:\n"
    "  kind: gaussian_copula\n"
    "  factorization: scalapack\n"
    "  block_size: 64\n"
    "  min_eigenvalue: 1e-4\n"
    "sampling:\n"
    "  rows: 1000\n"
    "  seed: 18446744073709551615\n"
    "  output: release.h5\n"
    "  chunk_rows: 500\n"
    "  compression: 4\n"
    "  overwrite: true\n"
    "evaluation:\n"
    "  enabled: false\n"
    "  target: income\n"
    "  max_rows: 2000\n"
    "  seed: 9\n"
    "  utility: true\n"
    "  utility_max_rows: 3000\n"
    "  classifier: {rounds: 50, max_depth: 4, learning_rate: 0.25}\n"
    "runtime:\n"
    "  output_dir: out/here\n"
    "  log_level: debug\n"
    "  blas_threads: 2\n";

static const char *minimal_yaml = "version: 1\n"
                                  "data:\n"
                                  "  path: d.csv\n"
                                  "  columns: [{name: a}, {name: b, type: categorical}]\n"
                                  "model: {kind: gaussian_copula}\n";

static int streq(const char *a, const char *b) {
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_full_columns(const sm_source_spec *d) {
  CHECK(d->n_columns == 7);
  if (d->n_columns != 8)
    return;
  const sm_column_spec *c = d->columns;
  CHECK(streq(c[0].name, "age") && c[0].type == SM_COL_INTEGER && c[0].has_domain);
  CHECK_CLOSE(c[0].lo, 17, 0);
  CHECK_CLOSE(c[0].hi, 90, 0);
  CHECK(c[0].line == 12 && c[0].column == 7);
  CHECK(c[1].type == SM_COL_CATEGORICAL && !c[1].has_domain && c[1].n_domain_categories == 0);
  CHECK(streq(c[2].strip_suffix, ".") && c[2].n_domain_categories == 2);
  CHECK(c[2].n_domain_categories == 2 && streq(c[2].domain_categories[0], "<=50K") &&
        streq(c[2].domain_categories[1], ">50K"));
  CHECK(c[3].type == SM_COL_DATETIME && streq(c[3].format, "%Y%m%d"));
  CHECK(c[4].type == SM_COL_BOOLEAN && !c[4].format);
  CHECK(c[5].type == -1 && c[5].n_replace == 2);
  CHECK(c[5].n_replace == 2 && streq(c[5].replace_from[0], "a") && streq(c[5].replace_to[0], "b") &&
        streq(c[5].replace_from[1], "c") && streq(c[5].replace_to[1], "d"));
  CHECK(c[6].type == SM_COL_CONTINUOUS && c[6].has_domain);
  CHECK_CLOSE(c[6].lo, -1.5, 0);
  CHECK_CLOSE(c[6].hi, 2.25, 0);
}

static void check_full(const sm_experiment *e, const char *dir) {
  char want[2 * PATH_LEN];

  /* top level and data */
  CHECK(e->version == 1 && streq(e->name, "full-test"));
  snprintf(want, sizeof want, "%s/in/train.csv", dir);
  CHECK(streq(e->data.path, want));
  CHECK(streq(e->data.format, "csv") && e->data.header == 0 && e->data.skip_lines == 2);
  CHECK(e->data.delimiter == '\t' && e->data.trim == 0);
  CHECK(e->data.n_missing == 2 && streq(e->data.missing[0], "?") &&
        streq(e->data.missing[1], "NA"));
  check_full_columns(&e->data);

  /* holdout file: data's settings with its own on top, columns copied */
  const sm_source_spec *h = &e->holdout.source;
  CHECK(e->holdout.kind == SM_HOLDOUT_FILE && streq(h->path, "/abs/test.csv"));
  CHECK(h->skip_lines == 1 && h->header == 1 && h->delimiter == '\t' && h->trim == 0);
  CHECK(h->n_missing == 2 && h->n_columns == 7);
  CHECK(h->n_columns == 7 && streq(h->columns[2].strip_suffix, "."));

  /* model parameters: given ones and declared defaults */
  CHECK(streq(e->model.kind, "gaussian_copula"));
  CHECK(streq(sm_params_str(&e->model.params, "factorization"), "scalapack"));
  CHECK_CLOSE(sm_params_num(&e->model.params, "block_size"), 64, 0);
  CHECK_CLOSE(sm_params_num(&e->model.params, "min_eigenvalue"), 1e-4, 0);
  CHECK_CLOSE(sm_params_num(&e->model.params, "sketch_size"), 4096, 0);

  /* sampling, evaluation, runtime */
  const sm_sampling_spec *s = &e->sampling;
  CHECK(s->rows == 1000 && s->seed == UINT64_MAX && streq(s->output, "release.h5"));
  CHECK(s->chunk_rows == 500 && s->compression == 4 && s->overwrite == 1);
  const sm_eval_spec *v = &e->evaluation;
  CHECK(v->enabled == 0 && streq(v->target, "income") && v->max_rows == 2000 && v->seed == 9);
  CHECK(v->utility == 1 && v->utility_max_rows == 3000);
  CHECK(v->utility_rounds == 50 && v->utility_depth == 4);
  CHECK_CLOSE(v->utility_eta, 0.25, 0);
  CHECK(streq(e->runtime.output_dir, "out/here") && e->runtime.log_level == SM_LOG_DEBUG);
  CHECK(e->runtime.blas_threads == 2);
}

static void check_defaults(const sm_experiment *e, const char *dir) {
  char want[2 * PATH_LEN];
  CHECK(streq(e->name, "minimal"));
  snprintf(want, sizeof want, "%s/d.csv", dir);
  CHECK(streq(e->data.path, want));
  CHECK(streq(e->data.format, "csv") && !e->data.header && e->data.skip_lines == 0);
  CHECK(e->data.delimiter == ',' && e->data.trim == 1);
  CHECK(e->data.n_missing == 1 && streq(e->data.missing[0], ""));
  CHECK(e->data.n_columns == 2 && e->data.columns[0].type == -1);
  CHECK(e->holdout.kind == SM_HOLDOUT_NONE);
  CHECK(streq(sm_params_str(&e->model.params, "factorization"), "auto"));
  CHECK_CLOSE(sm_params_num(&e->model.params, "scalapack_min_columns"), 64, 0);
  CHECK_CLOSE(sm_params_num(&e->model.params, "min_eigenvalue"), 1e-6, 0);
  CHECK(e->sampling.rows == 0 && e->sampling.seed == 1 && streq(e->sampling.output, "minimal.h5"));
  CHECK(e->sampling.chunk_rows == 65536 && e->sampling.compression == 0 && !e->sampling.overwrite);
  CHECK(e->evaluation.enabled == 1 && !e->evaluation.target && e->evaluation.utility == 0);
  CHECK(e->evaluation.max_rows == 100000 && e->evaluation.seed == 1);
  CHECK(e->evaluation.utility_max_rows == 50000 && e->evaluation.utility_rounds == 300);
  CHECK(e->evaluation.utility_depth == 6);
  CHECK_CLOSE(e->evaluation.utility_eta, 0.1, 0);
  CHECK(streq(e->runtime.output_dir, "runs/minimal") && e->runtime.log_level == SM_LOG_INFO);
  CHECK(e->runtime.blas_threads == 0);

  /* outputs join the output directory */
  char *out = sm_experiment_output(e, "report.json");
  CHECK(streq(out, "runs/minimal/report.json"));
  free(out);
}

/* Every rank must hold the same resolved text as rank 0. */
static void check_same_on_all_ranks(const sm_experiment *e) {
  int len = (int)strlen(e->resolved) + 1, len0 = len;
  MPI_Bcast(&len0, 1, MPI_INT, 0, MPI_COMM_WORLD);
  char *text0 = malloc((size_t)len0);
  memcpy(text0, e->resolved, (size_t)(len < len0 ? len : len0));
  MPI_Bcast(text0, len0, MPI_CHAR, 0, MPI_COMM_WORLD);
  CHECK(len == len0 && memcmp(text0, e->resolved, (size_t)len0) == 0);
  free(text0);
}

static void compare_sources(const sm_source_spec *a, const sm_source_spec *b) {
  CHECK(streq(a->path, b->path) && streq(a->format, b->format) && a->header == b->header);
  CHECK(a->skip_lines == b->skip_lines && a->delimiter == b->delimiter && a->trim == b->trim);
  CHECK(a->n_missing == b->n_missing && a->n_columns == b->n_columns);
  for (int i = 0; i < a->n_missing && i < b->n_missing; i++)
    CHECK(streq(a->missing[i], b->missing[i]));
  for (int j = 0; j < a->n_columns && j < b->n_columns; j++) {
    const sm_column_spec *x = &a->columns[j], *y = &b->columns[j];
    CHECK(streq(x->name, y->name) && x->type == y->type && streq(x->format, y->format));
    CHECK(x->has_domain == y->has_domain && x->lo == y->lo && x->hi == y->hi);
    CHECK(x->n_domain_categories == y->n_domain_categories && x->n_replace == y->n_replace);
    for (int k = 0; k < x->n_domain_categories && k < y->n_domain_categories; k++)
      CHECK(streq(x->domain_categories[k], y->domain_categories[k]));
    for (int k = 0; k < x->n_replace && k < y->n_replace; k++)
      CHECK(streq(x->replace_from[k], y->replace_from[k]) &&
            streq(x->replace_to[k], y->replace_to[k]));
    CHECK(streq(x->strip_suffix, y->strip_suffix));
  }
}

/* Field by field: a (loaded from the file) and b (loaded from a's resolved text). */
static void compare_experiments(const sm_experiment *a, const sm_experiment *b) {
  CHECK(a->version == b->version && streq(a->name, b->name));
  compare_sources(&a->data, &b->data);
  CHECK(a->holdout.kind == b->holdout.kind && a->holdout.fraction == b->holdout.fraction);
  CHECK(a->holdout.seed == b->holdout.seed);
  if (a->holdout.kind == SM_HOLDOUT_FILE)
    compare_sources(&a->holdout.source, &b->holdout.source);
  CHECK(streq(a->model.kind, b->model.kind) && a->model.params.n == b->model.params.n);
  for (int i = 0; i < a->model.params.n && i < b->model.params.n; i++)
    CHECK(a->model.params.num[i] == b->model.params.num[i] &&
          streq(a->model.params.str[i], b->model.params.str[i]));
  const sm_sampling_spec *s = &a->sampling, *t = &b->sampling;
  CHECK(s->rows == t->rows && s->seed == t->seed && streq(s->output, t->output));
  CHECK(s->chunk_rows == t->chunk_rows && s->compression == t->compression &&
        s->overwrite == t->overwrite);
  const sm_eval_spec *v = &a->evaluation, *w = &b->evaluation;
  CHECK(v->enabled == w->enabled && streq(v->target, w->target) && v->max_rows == w->max_rows);
  CHECK(v->seed == w->seed && v->utility == w->utility &&
        v->utility_max_rows == w->utility_max_rows);
  CHECK(v->utility_rounds == w->utility_rounds && v->utility_depth == w->utility_depth &&
        v->utility_eta == w->utility_eta);
  CHECK(streq(a->runtime.output_dir, b->runtime.output_dir));
  CHECK(a->runtime.log_level == b->runtime.log_level &&
        a->runtime.blas_threads == b->runtime.blas_threads);
  /* the text itself is a fixed point (apart from the comment naming the file) */
  const char *ra = strchr(a->resolved, '\n'), *rb = strchr(b->resolved, '\n');
  CHECK(ra && rb && strcmp(ra, rb) == 0);
}

/* Write e's resolved text to another folder, load it and compare. */
static void check_round_trip(sm_ctx *ctx, const sm_experiment *e, const char *dir,
                             const char *name) {
  char path[PATH_LEN];
  sm_experiment back;
  tmp_file_write(dir, name, e->resolved, path, sizeof path);
  int rc = sm_experiment_load(ctx, path, 0, NULL, &back);
  if (rc != SM_OK)
    fprintf(stderr, "resolved text does not load: %s\n%s", ctx->msg, e->resolved);
  CHECK(rc == SM_OK);
  if (rc == SM_OK)
    compare_experiments(e, &back);
  sm_experiment_free(&back);
}

static int load_text(sm_ctx *ctx, const char *dir, const char *name, const char *yaml,
                     int n_overrides, char **overrides, sm_experiment *e) {
  char path[PATH_LEN];
  tmp_file_write(dir, name, yaml, path, sizeof path);
  int rc = sm_experiment_load(ctx, path, n_overrides, overrides, e);
  if (rc != SM_OK)
    fprintf(stderr, "%s: unexpected failure: %s\n", name, ctx->msg);
  CHECK(rc == SM_OK);
  return rc;
}

static void test_full_and_defaults(sm_ctx *ctx, const char *dir) {
  sm_experiment e;
  char sub[PATH_LEN];
  snprintf(sub, sizeof sub, "%s/exp", dir);
  if (load_text(ctx, dir, "exp/full.yaml", full_yaml, 0, NULL, &e) == SM_OK) {
    check_full(&e, sub);
    check_same_on_all_ranks(&e);
    check_round_trip(ctx, &e, dir, "elsewhere/full-resolved.yaml");
  }
  sm_experiment_free(&e);

  if (load_text(ctx, dir, "minimal.yaml", minimal_yaml, 0, NULL, &e) == SM_OK) {
    check_defaults(&e, dir);
    check_round_trip(ctx, &e, dir, "elsewhere/minimal-resolved.yaml");
  }
  sm_experiment_free(&e);
}

static void test_overrides(sm_ctx *ctx, const char *dir) {
  char *set[] = {"sampling.rows=1000",
                 "model.factorization=lapack",
                 "holdout.fraction=0.2",
                 "evaluation.classifier.rounds=50",
                 "data.missing=[NA, \"\"]",
                 "name=renamed",
                 "data.columns=[{name: a, type: integer, domain: [0, 5]}]",
                 "sampling.rows=2000",
                 "evaluation.target=a",
                 "data.delimiter=\\t"};
  sm_experiment e;
  if (load_text(ctx, dir, "minimal.yaml", minimal_yaml, 10, set, &e) == SM_OK) {
    CHECK(e.sampling.rows == 2000); /* the later override wins */
    CHECK(streq(sm_params_str(&e.model.params, "factorization"), "lapack"));
    CHECK(e.holdout.kind == SM_HOLDOUT_FRACTION && e.holdout.seed == 1);
    CHECK_CLOSE(e.holdout.fraction, 0.2, 0);
    CHECK(e.evaluation.utility_rounds == 50 && e.evaluation.utility_depth == 6);
    CHECK(e.data.n_missing == 2 && streq(e.data.missing[0], "NA") && streq(e.data.missing[1], ""));
    CHECK(streq(e.name, "renamed") && streq(e.sampling.output, "renamed.h5"));
    CHECK(e.data.n_columns == 1 && e.data.columns[0].has_domain);
    CHECK(streq(e.evaluation.target, "a") && e.evaluation.utility == 1);
    CHECK(e.data.delimiter == '\t');
    check_round_trip(ctx, &e, dir, "elsewhere/overridden.yaml");
  }
  sm_experiment_free(&e);
}

/* Count comma-separated fields of the first line of a real data file. */
static int count_fields(const char *path) {
  FILE *f = fopen(path, "r");
  char line[4096];
  int n = 0;
  if (f && fgets(line, sizeof line, f)) {
    n = 1;
    for (const char *p = line; *p; p++)
      n += *p == ',';
  }
  if (f)
    fclose(f);
  return n;
}

static void test_adult(sm_ctx *ctx, const char *dir) {
  char path[PATH_LEN], want[PATH_LEN];
  const char *src = getenv("SYNTHMPI_SOURCE_DIR");
  snprintf(path, sizeof path, "%s/configs/adult-copula.yaml", src ? src : "..");
  sm_experiment e;
  int rc = sm_experiment_load(ctx, path, 0, NULL, &e);
  if (rc != SM_OK)
    fprintf(stderr, "adult-copula.yaml: %s\n", ctx->msg);
  CHECK(rc == SM_OK);
  if (rc != SM_OK)
    return;

  /* as written in the file */
  snprintf(want, sizeof want, "/configs/../data/tabular/adult/adult.data");
  size_t n = strlen(e.data.path), k = strlen(want);
  CHECK(n > k && strcmp(e.data.path + n - k, want) == 0 && e.data.path[0] == '/');
  CHECK(e.data.n_columns == 15 && e.holdout.kind == SM_HOLDOUT_FILE);
  CHECK(e.holdout.source.skip_lines == 1 && e.data.skip_lines == 0);
  CHECK(e.sampling.rows == 32561 && e.sampling.seed == 20261204);
  CHECK(streq(e.evaluation.target, "income") && e.evaluation.utility == 1);
  CHECK(e.data.n_missing == 1 && streq(e.data.missing[0], "?"));

  /* the declared columns match the real file: 15 fields, income last with its suffix */
  int fields = count_fields(test_data("tabular/adult/adult.data"));
  if (fields != e.data.n_columns)
    fprintf(stderr, "adult.data has %d fields, the config declares %d\n", fields, e.data.n_columns);
  CHECK(fields == e.data.n_columns);
  CHECK(e.data.n_columns == 15 && streq(e.data.columns[14].name, "income") &&
        streq(e.data.columns[14].strip_suffix, ".") && e.data.columns[14].n_domain_categories == 2);
  CHECK(e.data.n_columns == 15 && e.data.columns[0].type == SM_COL_INTEGER &&
        e.data.columns[1].type == SM_COL_CATEGORICAL);
  check_round_trip(ctx, &e, dir, "elsewhere/adult.yaml");
  sm_experiment_free(&e);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  char dir[1024];
  if (tmp_dir_make(dir, sizeof dir) != 0) {
    fprintf(stderr, "cannot make a temporary directory\n");
    MPI_Abort(MPI_COMM_WORLD, 1);
  }

  test_full_and_defaults(&ctx, dir);
  test_overrides(&ctx, dir);
  test_adult(&ctx, dir);

  tmp_dir_remove(dir);
  sm_ctx_free(&ctx);
  return test_finish();
}
