/* The experiment loader on bad input: every error is SM_EINPUT with one line that names
 * the file, line and column (or the --set override) of the fault, the same on every rank. */
#include <stdio.h>
#include <string.h>

#include "config_files.h"
#include "synthmpi/config.h"
#include "synthmpi/model.h"
#include "test_util.h"

#define PATH_LEN 4096

/* A valid file (line numbers matter: cases below edit it). */
#define HEAD "version: 1\n"
#define DATA                                                                                       \
  "data:\n"                                                                                        \
  "  path: d.csv\n"                                                                                \
  "  columns:\n"                                                                                   \
  "    - {name: a, type: integer}\n"                                                               \
  "    - {name: b, type: categorical}\n"
#define MODEL                                                                                      \
  "model:\n"                                                                                       \
  "  kind: gaussian_copula\n"

typedef struct error_case {
  const char *name;
  const char *yaml;
  const char *override; /* one --set, or NULL */
  const char *want;     /* message after "<path>", or the whole message when it starts "--set" */
} error_case;

static const error_case cases[] = {
    /* the file as a whole */
    {"empty", "", NULL, ":1:1: the experiment file is empty"},
    {"comments", "# nothing here\n", NULL, ":1:1: the experiment file is empty"},
    {"top-list", "- a\n- b\n", NULL,
     ":1:1: expected a map of settings at the top level, got a list"},
    {"syntax", HEAD "data: [1, 2\nmodel: x\n", NULL, "SYNTAX"},
    {"tab-indent", HEAD "data:\n\tpath: x\n", NULL, "SYNTAX"},
    {"two-docs", HEAD DATA MODEL "---\nversion: 1\n", NULL,
     ":9:1: more than one YAML document (a second one starts here)"},
    {"bad-utf8", HEAD "name: \"ab\xff\"\n", NULL, "SYNTAX"},
    {"anchor", HEAD DATA "model: &m\n  kind: gaussian_copula\n", NULL,
     ":7:8: anchors and aliases are not supported ('&m')"},
    {"alias", HEAD "base: &b {a: 1}\n", NULL, ":2:7: anchors and aliases are not supported ('&b')"},
    {"alias-only", HEAD DATA MODEL "sampling: *s\n", NULL,
     ":9:11: aliases are not supported ('*s')"},
    {"dup-key", HEAD DATA MODEL "sampling:\n  rows: 1\n  rows: 2\n", NULL,
     ":11:3: duplicate key 'rows' (first at line 10)"},
    {"map-key", HEAD "[a]: 1\n", NULL, "SYNTAX"},

    /* keys and required keys */
    {"unknown-key", HEAD DATA MODEL "sampling:\n  rows: 10\n  rowz: 5\n", NULL,
     ":11:3: unknown key 'rowz' in sampling (known: rows, seed, output, chunk_rows, "
     "compression, overwrite, conditions, max_candidates, length)"},
    {"unknown-top", HEAD DATA MODEL "sampels: 1\n", NULL,
     ":9:1: unknown key 'sampels' at the top level (known: version, name, data, holdout, "
     "model, sampling, evaluation, runtime, privacy, sweep)"},
    {"no-version", DATA MODEL, NULL, ":1:1: missing required key 'version'"},
    {"no-model", HEAD DATA, NULL, ":1:1: missing required key 'model'"},
    {"no-data-path", HEAD "data:\n  columns: [{name: a}]\n" MODEL, NULL,
     ":3:3: data: missing required key 'path'"},
    {"no-columns", HEAD "data:\n  path: x.csv\n" MODEL, NULL,
     ":3:3: data: missing required key 'columns' (needed when header is false)"},
    {"no-kind", HEAD DATA "model:\n  factorization: auto\n", NULL,
     ":8:3: model: missing required key 'kind'"},

    /* types and ranges */
    {"rows-abc", HEAD DATA MODEL "sampling:\n  rows: abc\n", NULL,
     ":10:9: sampling.rows: expected a non-negative integer, got 'abc'"},
    {"rows-negative", HEAD DATA MODEL "sampling: {rows: -3}\n", NULL,
     ":9:18: sampling.rows: expected a non-negative integer, got '-3'"},
    {"compression", HEAD DATA MODEL "sampling:\n  compression: 10\n", NULL,
     ":10:16: sampling.compression: expected an integer from 0 to 9, got '10'"},
    {"seed-negative", HEAD DATA MODEL "sampling:\n  seed: -1\n", NULL,
     ":10:9: sampling.seed: expected an unsigned 64-bit integer, got '-1'"},
    {"seed-too-big", HEAD DATA MODEL "sampling:\n  seed: 18446744073709551616\n", NULL,
     ":10:9: sampling.seed: expected an unsigned 64-bit integer, got '18446744073709551616'"},
    {"bool", HEAD DATA MODEL "sampling:\n  overwrite: maybe\n", NULL,
     ":10:14: sampling.overwrite: expected true or false, got 'maybe'"},
    {"section-list", HEAD DATA MODEL "sampling: [1]\n", NULL,
     ":9:11: sampling: expected a map, got a list"},
    {"version-2", "version: 2\n" DATA MODEL, NULL,
     ":1:10: version: unsupported experiment version 2 (this synthmpi reads version 1)"},
    {"delimiter", HEAD "data:\n  path: d.csv\n  delimiter: ';;'\n  columns: [{name: a}]\n" MODEL,
     NULL, ":4:14: data.delimiter: expected one character (or \"\\t\"), got ';;'"},
    {"format", HEAD "data:\n  path: d.csv\n  format: parquet\n  columns: [{name: a}]\n" MODEL, NULL,
     ":4:11: data.format: unsupported format 'parquet' (supported: csv, fasta, hapt, vcf)"},
    {"log-level", HEAD DATA MODEL "runtime: {log_level: loud}\n", NULL,
     ":9:22: runtime.log_level: expected one of error, warn, info, debug, got 'loud'"},
    {"null-string", HEAD "data:\n  path: d.csv\n  missing: [null]\n  columns: [{name: a}]\n" MODEL,
     NULL, ":4:13: data.missing[0]: expected a string (quote it to mean the text), got null"},

    /* columns */
    {"dup-column", HEAD DATA "    - {name: a, type: boolean}\n" MODEL, NULL,
     ":7:14: data.columns[2]: duplicate column name 'a' (first at line 5)"},
    {"column-type", HEAD "data:\n  path: d.csv\n  columns:\n    - {name: a, type: text}\n" MODEL,
     NULL,
     ":5:23: data.columns[0].type: expected one of continuous, integer, categorical, boolean, "
     "datetime, got 'text'"},
    {"datetime-format",
     HEAD "data:\n  path: d.csv\n  columns:\n    - {name: t, type: datetime}\n" MODEL, NULL,
     ":5:7: data.columns[0]: a datetime column needs 'format' (e.g. \"%Y-%m-%d\")"},
    {"domain-order",
     HEAD
     "data:\n  path: d.csv\n  columns:\n    - {name: a, type: integer, domain: [9, 1]}\n" MODEL,
     NULL, ":5:40: data.columns[0].domain: lo 9 is greater than hi 1"},
    {"domain-size",
     HEAD
     "data:\n  path: d.csv\n  columns:\n    - {name: a, type: continuous, domain: [1]}\n" MODEL,
     NULL, ":5:43: data.columns[0].domain: expected [lo, hi], got a list of 1"},
    {"domain-untyped",
     HEAD "data:\n  path: d.csv\n  columns:\n    - {name: a, domain: [1, 2]}\n" MODEL, NULL,
     ":5:25: data.columns[0].domain: a domain needs the column's type"},
    {"column-key", HEAD "data:\n  path: d.csv\n  columns:\n    - {name: a, kind: integer}\n" MODEL,
     NULL,
     ":5:17: unknown key 'kind' in data.columns[0] (known: name, type, format, domain, "
     "strip_suffix, replace)"},

    /* holdout and evaluation */
    {"holdout-both", HEAD DATA MODEL "holdout:\n  path: t.csv\n  fraction: 0.2\n", NULL,
     ":10:3: holdout: give either path or fraction, not both"},
    {"holdout-fraction", HEAD DATA MODEL "holdout: {fraction: 1.5}\n", NULL,
     ":9:21: holdout.fraction: expected a number between 0 and 1 (exclusive), got '1.5'"},
    {"holdout-seed", HEAD DATA MODEL "holdout: {path: t.csv, seed: 3}\n", NULL,
     ":9:30: holdout.seed: only a holdout fraction takes a seed"},
    {"target", HEAD DATA MODEL "evaluation:\n  target: income\n", NULL,
     ":10:11: evaluation.target: 'income' is not a declared column"},
    {"utility", HEAD DATA MODEL "evaluation:\n  utility: true\n", NULL,
     ":10:12: evaluation.utility: needs evaluation.target (the column to predict)"},

    /* model kinds and parameters */
    {"model-kind", HEAD DATA "model:\n  kind: gan\n", NULL,
     ":8:9: model.kind: unknown model 'gan' (registered: %R, dna_markov (FASTA data))"},
    {"param-unknown", HEAD DATA MODEL "  factorisation: auto\n", NULL,
     ":9:3: unknown key 'factorisation' in model (known: kind, factorization, "
     "scalapack_min_columns, block_size, sketch_size, exact_distinct_max, min_eigenvalue)"},
    {"param-choice", HEAD DATA MODEL "  factorization: cholesky\n", NULL,
     ":9:18: model.factorization: expected one of auto, lapack, scalapack, got 'cholesky'"},
    {"param-range", HEAD DATA MODEL "  block_size: 0\n", NULL,
     ":9:15: model.block_size: expected an integer from 1 to 4096, got '0'"},
    {"param-real", HEAD DATA MODEL "  min_eigenvalue: 2\n", NULL,
     ":9:19: model.min_eigenvalue: expected a number from 0 to 1, got '2'"},

    /* overrides */
    {"set-unknown", HEAD DATA MODEL, "sampling.rowz=5",
     "--set sampling.rowz=5: unknown key 'rowz' in sampling (known: rows, seed, output, "
     "chunk_rows, compression, overwrite, conditions, max_candidates, length)"},
    {"set-value", HEAD DATA MODEL, "sampling.rows=-5",
     "--set sampling.rows=-5: sampling.rows: expected a non-negative integer, got '-5'"},
    {"set-no-equals", HEAD DATA MODEL, "sampling",
     "--set sampling: expected key=value, e.g. sampling.rows=1000"},
    {"set-empty-key", HEAD DATA MODEL, "sampling..rows=1",
     "--set sampling..rows=1: empty key in 'sampling..rows'"},
    {"set-not-map", HEAD DATA MODEL, "data.path.x=1",
     "--set data.path.x=1: 'data.path' is not a map"},
    {"set-syntax", HEAD DATA MODEL, "data.missing=[a, b", "SET-SYNTAX"},
    {"set-kind", HEAD DATA MODEL, "model.kind=gan",
     "--set model.kind=gan: model.kind: unknown model 'gan' "
     "(registered: %R, dna_markov (FASTA data))"},
};

/* Nesting one level deeper than allowed, as flow lists under a key. */
static char *deep_yaml(void) {
  static char text[512];
  char *p = text;
  p += sprintf(p, "version: 1\nx: ");
  for (int i = 0; i < 32; i++)
    *p++ = '[';
  for (int i = 0; i < 32; i++)
    *p++ = ']';
  sprintf(p, "\n");
  return text;
}

/* Load and compare the message; prints both on a mismatch. */
static void expect_error(sm_ctx *ctx, const char *path, const char *override, const char *want,
                         const char *name) {
  sm_experiment e;
  char *set[1] = {(char *) override};
  int rc = sm_experiment_load(ctx, path, override ? 1 : 0, set, &e);
  CHECK(rc == SM_EINPUT);
  CHECK(e.name == NULL && e.resolved == NULL); /* nothing half-made is handed back */

  /* "%R" stands for the registered model kinds, in registry order */
  char kinds[512] = "", wanted[2 * PATH_LEN];
  for (const sm_model_ops *const *m = sm_model_list(); *m; m++)
    snprintf(kinds + strlen(kinds), sizeof kinds - strlen(kinds), "%s%s",
             m == sm_model_list() ? "" : ", ", (*m)->kind);
  const char *mark = strstr(want, "%R");
  if (mark) {
    snprintf(wanted, sizeof wanted, "%.*s%s%s", (int)(mark - want), want, kinds, mark + 2);
    want = wanted;
  }

  /* positioned messages start with the path; libyaml's own wording is only located */
  char full[2 * PATH_LEN];
  int located = !strcmp(want, "SYNTAX") || !strcmp(want, "SET-SYNTAX");
  if (!strcmp(want, "SYNTAX"))
    snprintf(full, sizeof full, "%s:", path);
  else if (!strcmp(want, "SET-SYNTAX"))
    snprintf(full, sizeof full, "--set %s: ", override);
  else if (!strncmp(want, "--set", 5))
    snprintf(full, sizeof full, "%s", want);
  else
    snprintf(full, sizeof full, "%s%s", path, want);
  int ok = located ? !strncmp(ctx->msg, full, strlen(full)) && !strchr(ctx->msg, '\n')
                   : !strcmp(ctx->msg, full);
  if (!ok || rc != SM_EINPUT)
    fprintf(stderr, "%s: rc %d\n  got:  %s\n  want: %s%s\n", name, rc, ctx->msg, full,
            located ? "..." : "");
  CHECK(ok);
  sm_experiment_free(&e);
}

/* libyaml's syntax errors: located at the line and column of the fault. */
static void check_syntax_positions(sm_ctx *ctx, const char *dir) {
  char path[PATH_LEN], want[PATH_LEN + 16];
  tmp_file_write(dir, "syntax.yaml", HEAD "data: [1, 2\nmodel: x\n", path, sizeof path);
  sm_experiment e;
  CHECK(sm_experiment_load(ctx, path, 0, NULL, &e) == SM_EINPUT);
  snprintf(want, sizeof want, "%s:3:6: ", path);
  if (strncmp(ctx->msg, want, strlen(want)) != 0)
    fprintf(stderr, "syntax position: got %s, want %s...\n", ctx->msg, want);
  CHECK(strncmp(ctx->msg, want, strlen(want)) == 0);

  tmp_file_write(dir, "utf8.yaml", HEAD "name: \"ab\xff\"\n", path, sizeof path);
  CHECK(sm_experiment_load(ctx, path, 0, NULL, &e) == SM_EINPUT);
  snprintf(want, sizeof want, "%s:2:10: invalid", path);
  if (strncmp(ctx->msg, want, strlen(want)) != 0)
    fprintf(stderr, "utf-8 position: got %s, want %s...\n", ctx->msg, want);
  CHECK(strncmp(ctx->msg, want, strlen(want)) == 0);
}

/* Limits: nesting, size, and a file that is not there. */
static void check_limits(sm_ctx *ctx, const char *dir) {
  char path[PATH_LEN], want[2 * PATH_LEN];
  tmp_file_write(dir, "deep.yaml", deep_yaml(), path, sizeof path);
  expect_error(ctx, path, NULL, ":2:35: nesting deeper than 32 levels", "deep");

  /* one byte over 1 MiB, all comments */
  size_t big = 1024 * 1024 + 1;
  char *text = malloc(big + 1);
  for (size_t i = 0; i < big; i++)
    text[i] = (i % 64 == 63) ? '\n' : (i % 64 == 0 ? '#' : 'x');
  text[big] = '\0';
  tmp_file_write(dir, "big.yaml", text, path, sizeof path);
  free(text);
  snprintf(want, sizeof want,
           "%s: larger than 1048576 bytes (1 MiB); an experiment file is a "
           "few kilobytes",
           path);
  expect_error(ctx, path, NULL, want + strlen(path), "big");

  snprintf(path, sizeof path, "%s/missing.yaml", dir);
  expect_error(ctx, path, NULL, ": cannot open: No such file or directory", "missing");
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  sm_ctx ctx;
  sm_ctx_init(&ctx, MPI_COMM_WORLD);
  char dir[1024], path[PATH_LEN], name[128];
  if (tmp_dir_make(dir, sizeof dir) != 0)
    MPI_Abort(MPI_COMM_WORLD, 1);

  /* the same valid file loads: the cases fail because of their edits */
  tmp_file_write(dir, "valid.yaml", HEAD DATA MODEL, path, sizeof path);
  sm_experiment e;
  CHECK(sm_experiment_load(&ctx, path, 0, NULL, &e) == SM_OK);
  sm_experiment_free(&e);

  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    snprintf(name, sizeof name, "%s.yaml", cases[i].name);
    tmp_file_write(dir, name, cases[i].yaml, path, sizeof path);
    expect_error(&ctx, path, cases[i].override, cases[i].want, cases[i].name);
  }
  check_syntax_positions(&ctx, dir);
  check_limits(&ctx, dir);

  tmp_dir_remove(dir);
  sm_ctx_free(&ctx);
  return test_finish();
}
