/* synthmpi summary: one table of the evaluations of several runs (a sweep's points).
 *
 * usage: synthmpi summary DIR... [--output FILE]
 *
 * Reads DIR/evaluation.json of every run directory, in the order given (the point column
 * is that position, from 0). The swept values are the settings of the resolved experiments
 * (recorded in each evaluation.json) that differ between the runs, runtime.output_dir
 * aside. Prints a table and writes the same rows as CSV to FILE (default summary.csv).
 * Rank 0 does the work; other ranks only agree on the outcome. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

#define SUMMARY_MAX_JSON (256L * 1024 * 1024)
#define SUMMARY_MAX_KEYS 512

/* The metrics of one run, in table order; NAN when the evaluation has none. */
enum { M_TRAIN, M_HOLDOUT, M_SHAPES, M_PAIRS, M_AUC, M_F1, M_REAL_AUC, M_REAL_F1, M_COUNT };
static const char *const metric_names[M_COUNT] = {
    "overall_vs_training", "overall_vs_holdout", "column_shapes", "column_pairs",
    "utility_auc",         "utility_f1",         "real_auc",      "real_f1"};
/* the same, short, for the printed table */
static const char *const metric_titles[M_COUNT] = {"train", "holdout", "shapes",   "pairs",
                                                   "AUC",   "F1",      "real AUC", "real F1"};
static const char *const metric_paths[M_COUNT][3] = {{"vs_training", "overall", NULL},
                                                     {"vs_holdout", "overall", NULL},
                                                     {"vs_holdout", "column_shapes", NULL},
                                                     {"vs_holdout", "column_pairs", NULL},
                                                     {"utility", "synthetic", "auc"},
                                                     {"utility", "synthetic", "macro_f1"},
                                                     {"utility", "real", "auc"},
                                                     {"utility", "real", "macro_f1"}};

typedef struct run_summary {
  const char *dir;
  double metric[M_COUNT];
  int n_settings;
  char *keys[SUMMARY_MAX_KEYS];   /* flattened resolved experiment: "section.key" */
  char *values[SUMMARY_MAX_KEYS]; /* its value as written, quotes removed */
} run_summary;

/* ---- reading one run ------------------------------------------------------------------ */

/* The whole file (malloc'd, NUL-terminated), at most SUMMARY_MAX_JSON bytes. */
static int read_text(sm_ctx *ctx, const char *path, char **out) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return sm_fail(ctx, SM_EINPUT, "%s: cannot open: %s", path, strerror(errno));
  char *buf = NULL;
  long n = -1;
  if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n <= SUMMARY_MAX_JSON &&
      fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
      fread(buf, 1, (size_t)n, f) == (size_t)n) {
    buf[n] = '\0';
    fclose(f);
    *out = buf;
    return SM_OK;
  }
  fclose(f);
  free(buf);
  return sm_fail(ctx, SM_EINPUT, "%s: cannot read (or larger than 256 MiB)", path);
}

/* A number under the path of object keys, or NAN. */
static double json_number(const cJSON *root, const char *const *path) {
  const cJSON *node = root;
  for (int i = 0; i < 3 && path[i] && node; i++)
    node = cJSON_GetObjectItemCaseSensitive(node, path[i]);
  return cJSON_IsNumber(node) ? node->valuedouble : NAN;
}

/* Add "key" = value (both copied, value's surrounding quotes removed). */
static int add_setting(sm_ctx *ctx, run_summary *r, const char *key, const char *value) {
  if (r->n_settings == SUMMARY_MAX_KEYS)
    return sm_fail(ctx, SM_EINPUT, "%s: more than %d settings in the experiment", r->dir,
                   SUMMARY_MAX_KEYS);
  size_t n = strlen(value);
  if (n >= 2 && value[0] == '"' && value[n - 1] == '"') {
    value++;
    n -= 2;
  }
  r->keys[r->n_settings] = sm_strdup(key);
  r->values[r->n_settings] = strndup(value, n);
  if (!r->keys[r->n_settings] || !r->values[r->n_settings])
    return sm_fail(ctx, SM_ERR, "out of memory");
  r->n_settings++;
  return SM_OK;
}

/* Append a nested line (a list item under the last key) to the last setting's value. */
static int extend_setting(sm_ctx *ctx, run_summary *r, const char *line) {
  if (r->n_settings == 0)
    return SM_OK;
  char **v = &r->values[r->n_settings - 1];
  size_t n = strlen(*v) + strlen(line) + 2;
  char *joined = malloc(n);
  if (!joined)
    return sm_fail(ctx, SM_ERR, "out of memory");
  snprintf(joined, n, "%s%s%s", *v, (*v)[0] ? " " : "", line);
  free(*v);
  *v = joined;
  return SM_OK;
}

/* One line of the resolved experiment: "key: value" at the top, "  key: value" inside a
 * section, deeper lines belong to the key before them. */
static int flatten_line(sm_ctx *ctx, run_summary *r, char *line, char *section, size_t size) {
  size_t indent = strspn(line, " ");
  char *colon = strchr(line, ':');
  if (!line[indent] || line[indent] == '#')
    return SM_OK;
  if (indent > 2 || line[indent] == '-' || !colon)
    return extend_setting(ctx, r, line + indent);

  /* "key:" opens a section at the top level; otherwise key and value */
  *colon = '\0';
  const char *value = colon + 1 + strspn(colon + 1, " ");
  if (indent == 0 && !value[0]) {
    snprintf(section, size, "%s", line);
    return SM_OK;
  }
  char key[256];
  snprintf(key, sizeof key, "%s%s%s", indent ? section : "", indent ? "." : "", line + indent);
  return add_setting(ctx, r, key, value);
}

/* The resolved experiment's settings as "section.key" = value, in file order. */
static int flatten_experiment(sm_ctx *ctx, run_summary *r, const char *text) {
  char *copy = sm_strdup(text);
  char section[128] = "";
  int rc = copy ? SM_OK : sm_fail(ctx, SM_ERR, "out of memory");
  for (char *save = NULL, *line = copy ? strtok_r(copy, "\n", &save) : NULL; line && rc == SM_OK;
       line = strtok_r(NULL, "\n", &save))
    rc = flatten_line(ctx, r, line, section, sizeof section);
  free(copy);
  return rc;
}

/* DIR/evaluation.json into r. */
static int read_run(sm_ctx *ctx, const char *dir, run_summary *r) {
  char path[4096];
  char *text = NULL;
  r->dir = dir;
  snprintf(path, sizeof path, "%s/evaluation.json", dir);
  SM_TRY(read_text(ctx, path, &text));
  cJSON *root = cJSON_Parse(text);
  free(text);
  if (!cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return sm_fail(ctx, SM_EINPUT, "%s: not a synthmpi evaluation (JSON object expected)", path);
  }

  /* the metrics, then the experiment that made them */
  for (int m = 0; m < M_COUNT; m++)
    r->metric[m] = json_number(root, metric_paths[m]);
  const cJSON *experiment = cJSON_GetObjectItemCaseSensitive(root, "experiment");
  int rc = cJSON_IsString(experiment) ? flatten_experiment(ctx, r, experiment->valuestring)
                                      : sm_fail(ctx, SM_EINPUT,
                                                "%s: has no \"experiment\" (the resolved "
                                                "settings)",
                                                path);
  cJSON_Delete(root);
  return rc;
}

static void run_free(run_summary *r) {
  for (int i = 0; i < r->n_settings; i++) {
    free(r->keys[i]);
    free(r->values[i]);
  }
}

/* ---- the table ------------------------------------------------------------------------ */

static const char *setting(const run_summary *r, const char *key) {
  for (int i = 0; i < r->n_settings; i++)
    if (!strcmp(r->keys[i], key))
      return r->values[i];
  return "";
}

/* The settings of the first run whose value differs in some other run (indices into runs[0]). */
static int swept_keys(const run_summary *runs, int n_runs, int *swept) {
  int n = 0;
  for (int i = 0; i < runs[0].n_settings; i++) {
    const char *key = runs[0].keys[i];
    if (!strcmp(key, "runtime.output_dir"))
      continue;
    for (int r = 1; r < n_runs; r++)
      if (strcmp(setting(&runs[r], key), runs[0].values[i]) != 0) {
        swept[n++] = i;
        break;
      }
  }
  return n;
}

/* A CSV field: quoted when it holds a comma, quote or line break. */
static void csv_field(FILE *f, const char *s) {
  if (!strpbrk(s, ",\"\n")) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"')
      fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

static void print_row(FILE *table, FILE *csv, const run_summary *runs, int r, const int *swept,
                      int n_swept) {
  fprintf(table, "%5d", r);
  fprintf(csv, "%d", r);
  for (int s = 0; s < n_swept; s++) {
    const char *v = setting(&runs[r], runs[0].keys[swept[s]]);
    fprintf(table, "  %14.14s", v);
    fputc(',', csv);
    csv_field(csv, v);
  }
  for (int m = 0; m < M_COUNT; m++) {
    double x = runs[r].metric[m];
    if (isnan(x)) {
      fprintf(table, "  %10s", "-");
      fputs(",", csv);
    } else {
      fprintf(table, "  %10.4f", x);
      fprintf(csv, ",%.17g", x);
    }
  }
  fprintf(table, "  %s\n", runs[r].dir);
  fputc(',', csv);
  csv_field(csv, runs[r].dir);
  fputc('\n', csv);
}

static void print_header(FILE *table, FILE *csv, const run_summary *runs, const int *swept,
                         int n_swept) {
  fprintf(table, "%5s", "point");
  fputs("point", csv);
  for (int s = 0; s < n_swept; s++) {
    const char *key = runs[0].keys[swept[s]];
    const char *dot = strrchr(key, '.');
    fprintf(table, "  %14.14s", dot ? dot + 1 : key);
    fputc(',', csv);
    csv_field(csv, key);
  }
  for (int m = 0; m < M_COUNT; m++) {
    fprintf(table, "  %10.10s", metric_titles[m]);
    fprintf(csv, ",%s", metric_names[m]);
  }
  fputs("  dir\n", table);
  fputs(",dir\n", csv);
}

/* Table to stdout and CSV to path; rank 0. */
static int write_summary(sm_ctx *ctx, const run_summary *runs, int n_runs, const char *path) {
  int *swept = malloc(sizeof(int) * (size_t)(runs[0].n_settings + 1));
  FILE *csv = fopen(path, "w");
  int rc = SM_OK;
  if (!swept || !csv)
    rc = sm_fail(ctx, swept ? SM_EINPUT : SM_ERR, "%s: cannot write: %s", path, strerror(errno));

  /* header, then one row per run */
  if (rc == SM_OK) {
    int n_swept = swept_keys(runs, n_runs, swept);
    print_header(stdout, csv, runs, swept, n_swept);
    for (int r = 0; r < n_runs; r++)
      print_row(stdout, csv, runs, r, swept, n_swept);
    fflush(stdout);
  }
  if (csv && fclose(csv) != 0 && rc == SM_OK)
    rc = sm_fail(ctx, SM_ERR, "%s: cannot write: %s", path, strerror(errno));
  free(swept);
  if (rc == SM_OK)
    sm_log(ctx, SM_LOG_INFO, "summary of %d run%s written: %s", n_runs, n_runs == 1 ? "" : "s",
           path);
  return rc;
}

/* ---- the command ----------------------------------------------------------------------- */

/* DIRs and --output from the raw command line (after "summary"). */
static int parse_summary_args(sm_ctx *ctx, const sm_cli_args *args, const char **dirs, int *n_dirs,
                              const char **output) {
  int i = 1;
  while (i < args->argc && strcmp(args->argv[i], "summary") != 0)
    i++;
  *n_dirs = 0;
  *output = "summary.csv";
  for (i++; i < args->argc; i++) {
    const char *a = args->argv[i];
    if (!strcmp(a, "--output") || !strcmp(a, "-o")) {
      if (++i == args->argc)
        return sm_fail(ctx, SM_EINPUT, "summary: %s needs a file", a);
      *output = args->argv[i];
    } else if (!strncmp(a, "--output=", 9)) {
      *output = a + 9;
    } else if (a[0] == '-' && a[1] != '\0') {
      return sm_fail(ctx, SM_EINPUT,
                     "summary: unknown option '%s' (usage: synthmpi summary "
                     "DIR... [--output FILE])",
                     a);
    } else {
      dirs[(*n_dirs)++] = a;
    }
  }
  if (*n_dirs == 0)
    return sm_fail(ctx, SM_EINPUT,
                   "summary: no run directories given (usage: synthmpi "
                   "summary DIR... [--output FILE])");
  return SM_OK;
}

/* Rank 0's part: read every run, then write the table. */
static int summarize(sm_ctx *ctx, const sm_cli_args *args) {
  const char **dirs = calloc((size_t)args->argc + 1, sizeof(char *));
  const char *output = NULL;
  int n_dirs = 0;
  if (!dirs)
    return sm_fail(ctx, SM_ERR, "out of memory");
  int rc = parse_summary_args(ctx, args, dirs, &n_dirs, &output);
  run_summary *runs = rc == SM_OK ? calloc((size_t)n_dirs, sizeof(run_summary)) : NULL;
  if (rc == SM_OK && !runs)
    rc = sm_fail(ctx, SM_ERR, "out of memory");

  /* every run must have its evaluation: a missing one is named, not skipped */
  for (int r = 0; rc == SM_OK && r < n_dirs; r++)
    rc = read_run(ctx, dirs[r], &runs[r]);
  if (rc == SM_OK)
    rc = write_summary(ctx, runs, n_dirs, output);

  for (int r = 0; runs && r < n_dirs; r++)
    run_free(&runs[r]);
  free(runs);
  free(dirs);
  return rc;
}

int sm_cmd_summary(sm_ctx *ctx, const sm_cli_args *args) {
  int rc = ctx->rank == 0 ? summarize(ctx, args) : SM_OK;
  return sm_agree(ctx, rc);
}
