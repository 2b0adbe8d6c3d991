/* Reading releases back, CSV export parsed back, inspect, h5dump, model files. */
#define _XOPEN_SOURCE 700
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/io.h"
#include "synthmpi/release.h"
#include "test_util.h"
#include "testmodel.h"

#define SEED 77ULL
#define SCALE 0.001
#define ROWS 20011

/* Same value, or both missing. */
static int same(double a, double b) {
  return (isnan(a) && isnan(b)) || a == b;
}

/* sm_release_read gives this rank's block, equal to the model's values. */
static void test_read(sm_ctx *ctx, const char *path) {
  sm_table t;
  CHECK(sm_release_read(ctx, path, &t) == SM_OK);
  int64_t lo, hi;
  sm_partition(ROWS, ctx->size, ctx->rank, &lo, &hi);
  CHECK(t.n_rows_total == ROWS && t.row_offset == lo && t.n_rows == hi - lo);
  CHECK(t.schema.n_cols == TEST_COLS);
  CHECK(t.schema.cols[2].n_categories == 4 &&
        strcmp(t.schema.cols[2].categories[1], "line\nbreak") == 0);
  CHECK(t.schema.cols[4].datetime_format &&
        strcmp(t.schema.cols[4].datetime_format, "%Y-%m-%d %H:%M:%S") == 0);
  CHECK(t.schema.cols[5].has_domain && t.schema.cols[5].hi == 1000);

  /* every value, exactly */
  long bad = 0;
  double v[TEST_COLS];
  for (int64_t i = 0; i < t.n_rows; i++) {
    test_model_row(SEED, lo + i, SCALE, v);
    for (int j = 0; j < TEST_COLS; j++)
      if (!same(t.values[j][i], v[j]) && bad++ < 5)
        fprintf(stderr, "row %lld column %d: read %.17g, model %.17g\n", (long long)(lo + i), j,
                t.values[j][i], v[j]);
  }
  CHECK(bad == 0);
  sm_table_free(&t);
}

/* One CSV field from *p (RFC 4180); returns it malloc'd and moves *p past the comma. */
static char *next_field(const char **p, int *end_of_line) {
  const char *s = *p;
  size_t cap = strlen(s) + 1, n = 0;
  char *out = malloc(cap);
  if (*s == '"') {
    for (s++; *s && !(*s == '"' && s[1] != '"'); s++) {
      out[n++] = *s;
      if (*s == '"')
        s++;
    }
    s++;
  } else {
    while (*s && *s != ',' && *s != '\n')
      out[n++] = *s++;
  }
  out[n] = '\0';
  *end_of_line = *s != ',';
  *p = *s ? s + 1 : s;
  return out;
}

/* The text of a field parsed back to the table's float64 (NaN when empty). */
static double parse_value(int j, const char *text, const sm_model *m) {
  if (!*text)
    return NAN;
  const sm_column *c = &m->schema.cols[j];
  if (sm_coltype_is_discrete(c->type))
    return sm_column_find_category(c, text);
  if (c->type == SM_COL_DATETIME) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!strptime(text, c->datetime_format, &tm))
      return -1;
    return (double)timegm(&tm);
  }
  return strtod(text, NULL);
}

/* Rank 0 parses the whole CSV and compares every row with the model. */
static void check_csv(const char *csv, const sm_model *m) {
  FILE *f = fopen(csv, "rb");
  CHECK(f != NULL);
  if (!f)
    return;
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  rewind(f);
  char *text = calloc((size_t)size + 1, 1);
  CHECK(fread(text, 1, (size_t)size, f) == (size_t)size);
  fclose(f);

  /* header: names in order, the one with a comma quoted */
  CHECK(strncmp(text, "x,n,c,b,d,\"price, usd\"\n", 23) == 0);
  const char *p = strchr(text, '\n') + 1;
  long rows = 0, bad = 0;
  double v[TEST_COLS];
  while (*p) {
    test_model_row(SEED, rows, SCALE, v);
    for (int j = 0, eol = 0; j < TEST_COLS; j++) {
      char *field = next_field(&p, &eol);
      double got = parse_value(j, field, m);
      if (!same(got, v[j]) && bad++ < 5)
        fprintf(stderr, "csv row %ld column %d: '%s' -> %.17g, model %.17g\n", rows, j, field, got,
                v[j]);
      if (eol != (j == TEST_COLS - 1))
        bad++;
      free(field);
    }
    rows++;
  }
  printf("csv: %ld rows, %ld mismatches\n", rows, bad);
  CHECK(rows == ROWS);
  CHECK(bad == 0);
  free(text);
}

/* Rank 0 checks that inspect printed the header, the columns and the experiment. */
static void check_inspect(sm_ctx *ctx, const char *path, const char *const *want, int n) {
  FILE *out = ctx->rank == 0 ? tmpfile() : stdout;
  CHECK(sm_release_inspect(ctx, path, out) == SM_OK);
  if (ctx->rank != 0)
    return;
  char text[16384] = "";
  rewind(out);
  size_t len = fread(text, 1, sizeof text - 1, out);
  text[len] = '\0';
  fclose(out);
  fputs(text, stdout);
  for (int i = 0; i < n; i++)
    if (!strstr(text, want[i])) {
      fprintf(stderr, "inspect output lacks '%s':\n%s\n", want[i], text);
      CHECK(0);
    }
}

/* h5dump -H reads the layout (when the tool is installed). */
static void check_h5dump(const sm_ctx *ctx, const char *path) {
  if (ctx->rank != 0 || system("command -v h5dump > /dev/null 2>&1") != 0)
    return;
  char cmd[4400];
  snprintf(cmd, sizeof cmd, "h5dump -H '%s' > /dev/null", path);
  CHECK(system(cmd) == 0);
}

/* Save and load the test model; the loaded one samples the same rows. */
static void test_model_file(sm_ctx *ctx, const char *dir, const sm_experiment *e) {
  sm_model m, loaded;
  test_model_make(&m, 2.5, 123456789);
  const char *path = test_path(2, dir, "model.h5");
  CHECK(sm_model_save(ctx, &m, e, path) == SM_OK);
  CHECK(sm_model_load_ops(ctx, path, &test_model_ops, &loaded) == SM_OK);
  const test_model_state *s = loaded.state;
  CHECK(loaded.ops == &test_model_ops && s);
  CHECK(s && s->scale == 2.5 && s->fail_row == 123456789);
  CHECK(loaded.schema.n_cols == TEST_COLS);
  CHECK(strcmp(loaded.schema.cols[5].name, "price, usd") == 0);
  CHECK(loaded.schema.cols[3].n_categories == 2);

  /* sampling from both gives the same rows */
  sm_table a, b;
  sm_table_alloc(ctx, &a, &m.schema, 50);
  sm_table_alloc(ctx, &b, &loaded.schema, 50);
  CHECK(m.ops->sample(ctx, m.state, 9, 1000, &a) == SM_OK);
  CHECK(loaded.ops->sample(ctx, loaded.state, 9, 1000, &b) == SM_OK);
  for (int j = 0; j < TEST_COLS; j++)
    for (int i = 0; i < 50; i++)
      CHECK(same(a.values[j][i], b.values[j][i]));
  sm_table_free(&a);
  sm_table_free(&b);

  const char *want[] = {"synthmpi-model", "io_test_model", "columns (6)",
                        "experiment:", "    name: io-test"};
  check_inspect(ctx, path, want, 5);
  sm_model_free(&loaded);
  sm_model_free(&m);
}

int main(int argc, char **argv) {
  sm_ctx ctx;
  char *dir = test_io_begin(&argc, &argv, &ctx);
  CHECK(dir != NULL);

  /* a release to read back */
  sm_model m;
  sm_experiment e;
  test_model_make(&m, SCALE, -1);
  test_experiment(&e, ROWS, SEED, 999, 1);
  const char *path = test_path(0, dir, "release.h5");
  CHECK(sm_release_write(&ctx, &e, &m, path) == SM_OK);
  test_read(&ctx, path);

  /* CSV export, parsed back serially */
  const char *csv = test_path(1, dir, "out/release.csv");
  int rc = sm_release_export_csv(&ctx, path, csv);
  if (rc != SM_OK)
    sm_report_error(&ctx);
  CHECK(rc == SM_OK);
  if (ctx.rank == 0)
    check_csv(csv, &m);

  /* inspect and h5dump */
  char rows_line[64];
  snprintf(rows_line, sizeof rows_line, "rows:%6s%d", "", ROWS);
  const char *want[] = {"synthmpi-release", rows_line,     "io_test_model", "price, usd",
                        "4 categories",     "experiment:", "    sampling:"};
  check_inspect(&ctx, path, want, 7);
  check_h5dump(&ctx, path);

  test_model_file(&ctx, dir, &e);
  test_experiment_free(&e);
  sm_model_free(&m);
  test_io_end(&ctx, dir);
  return test_finish();
}
